// L2TP's verdict: the alternatives rule (one standard form, UDP 1701; a
// multi-step exchange answered only part way is said so by that rule), plus
// the advice only L2TP needs: the router's 'L2TP passthrough' toggle, and that
// bare L2TP is unencrypted and normally runs inside IPsec.
#pragma once

#include "src/verdict/verdict.h"

namespace vpncheck::client {

ProtocolAssessment assess_l2tp(const probes::ProtocolModule& module, std::vector<ProbeResult> results,
                               bool observations_read);

}  // namespace vpncheck::client
