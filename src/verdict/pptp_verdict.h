// The verdict rule for PPTP (registered in piecewise.cpp): both pieces, the
// control connection on TCP 1723 and GRE both ways, must work.
#pragma once

#include "src/verdict/verdict.h"

namespace vpncheck::client {

ProtocolAssessment assess_pptp(const probes::ProtocolModule& module, std::vector<ProbeResult> results,
                               bool observations_read);

// Always part of PPTP's advice, whatever the verdict.
inline constexpr std::string_view kPptpSecurityAdvice =
    "PPTP's security is broken (MS-CHAPv2 logins can be cracked offline and its MPPE encryption is weak): "
    "even where PPTP works, prefer WireGuard, OpenVPN or IKEv2.";

}  // namespace vpncheck::client
