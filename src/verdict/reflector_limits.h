// A reflector that limited its answers (rate limit, connection slots, full
// tables) must not be mistaken for a network that drops them: the reflector
// reports what it refused or limited with its observations (probes/observation.h),
// and a verdict resting on that is `inconclusive`. Pure: applied to the
// verdicts once they are built, from what the reflector reported.
#pragma once

#include <string>
#include <vector>

#include "probes/observation.h"
#include "src/verdict/verdict.h"

namespace vpncheck::client {

// The session-level limits of the reflector's observations answer.
using ReflectorLimits = std::vector<probes::ReflectorLimit>;

// For every assessment, and each entry of its `families`, whose verdict is
// blocked, outbound_only or restricted: when a reflector limit explains a
// failing probe the verdict rests on (for restricted, the standard form's;
// otherwise any genuine probe's), the verdict becomes inconclusive, the
// summary names the limit, finding::kReflectorLimited replaces the findings
// that blamed the network, and the advice says what to do instead.
//
// A failing probe is explained when
//  - the reflector recorded it and withheld its answer for a reason of its
//    own (probes::withheld_by_reflector: rate limit, full reply queue, ...);
//  - it left no record and it is a TCP probe that failed to connect or was
//    reset while the reflector refused connections for want of a slot on its port;
//  - it left no record while the reflector could not record or attribute
//    every arrival (observation limit, flow or PPTP call table full).
void apply_reflector_limits(std::vector<ProtocolAssessment>& protocols, const ReflectorLimits& limits);

// The session-level limits in one line of plain words, e.g. "rate limit: 12
// answers withheld (ports 51820, 53); connection slots full: 3 TCP connections
// refused (port 1723)"; empty when there are none.
std::string describe_reflector_limits(const ReflectorLimits& limits);

}  // namespace vpncheck::client
