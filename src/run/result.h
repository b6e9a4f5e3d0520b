// What happened to one probe, from both ends: what the client saw (reply or
// not, and how it failed) and what the reflector observed arriving.
#pragma once

#include "probes/assessment.h"
#include "src/run/plan.h"

namespace vpncheck::client {

// Pure data shared with the protocols' verdict rules (probes/assessment.h).
using probes::ClientSide;
using probes::kRawPrivilegeHint;
using probes::Outcome;
using probes::ProbeResult;
using probes::StepAttempts;

}  // namespace vpncheck::client
