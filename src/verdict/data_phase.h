// The data phase's consequence for verdicts. After a protocol's handshake
// passed on UDP the client sent a few small and a few full-size data packets
// on the same socket (src/run/exchange.cpp), with the DF behaviour of the real
// software (probes::DataPhase); the reflector recorded each arrival and echoed
// it. A protocol whose handshake passes but whose data does not is not `pass`
// but `restricted`:
//   data_dropped_after_handshake  no data packet of any size passed (or the
//                                 first few did, then none, small ones included);
//   full_size_packets_dropped     small ones pass both ways, full-size ones do not;
// each with upload_lost (they never reached the reflector) or download_lost
// (they did, their echoes never came back).
// Both ends are needed to say which way: without the reflector's complete
// records nothing is concluded. Like every failing verdict, only strong
// evidence counts: the chance that loss alone lost every packet that would
// show otherwise (each count taken against the path's measured loss, over
// every place the data phase ran for the protocol; a full-size packet its
// sender fragments is lost when any of its fragments is) must be below
// nat::kChanceThreshold; otherwise the verdict stands and its summary says
// the data packets could not be checked.
// Pure; unit-tested on synthetic results.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/verdict/evidence.h"
#include "src/verdict/verdict.h"

namespace vpncheck::client {

struct DataPhaseJudgement {
  enum class Kind { passed, data_dropped, full_size_dropped, not_judged };
  Kind kind = Kind::not_judged;
  // data_dropped / full_size_dropped: which way they were lost (true: on the
  // way to the reflector, false: on the way back).
  bool upload = true;
  double chance = 1;  // that loss alone made it look so
  std::size_t packets = 0;  // the packets that count against it (sent, or echoes the reflector sent)
  std::size_t passed_first = 0;  // data_dropped upload: how many passed before none did
  std::string summary;  // one sentence for the protocol's summary
};

// One probe's data phase. `complete`: the reflector's records were read and
// none were dropped (its limits). not_judged when the probe ran no data
// phase, or without complete records; `passed` when nothing failed or the
// failure is weak evidence (chance at or above the threshold: see `chance`).
DataPhaseJudgement judge_data_phase(const ProbeResult& r, const LossEstimate& loss, bool complete);

// Applies the judgements to every protocol's passing (and restricted)
// verdicts, per family. `path_mtu`: the IPv4 path MTU the path test measured,
// for the advice (nullopt: 1280, which every IPv6 path carries, is advised).
void apply_data_phase(std::vector<ProtocolAssessment>& assessments, bool complete, std::optional<int> path_mtu);

}  // namespace vpncheck::client
