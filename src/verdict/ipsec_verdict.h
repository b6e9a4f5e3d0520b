// The piecewise verdict rule for IPsec; see ipsec_verdict.cpp.
#pragma once

#include <vector>

#include "src/verdict/verdict.h"

namespace vpncheck::client {

ProtocolAssessment assess_ipsec(const probes::ProtocolModule& module, std::vector<ProbeResult> results,
                                bool observations_read);

}  // namespace vpncheck::client
