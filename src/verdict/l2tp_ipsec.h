// The L2TP/IPsec verdict: what the built-in Windows and macOS "L2TP" VPN
// clients need. Their L2TP control and data messages travel inside IPsec
// (ESP transport mode; behind NAT, ESP in UDP 4500 = NAT-T), so the network
// sees IPsec, not UDP 1701. vpncheck cannot run L2TP inside a real IPsec SA,
// so this is a combination of the two measured verdicts, not a probe of its own:
//   - IPsec inconclusive                -> inconclusive (says why);
//   - IPsec not passing                 -> IPsec's verdict (L2TP/IPsec cannot work);
//   - no NAT on the way, raw ESP lost   -> restricted: without NAT the built-in
//     clients send ESP itself, never NAT-T (raw ESP untested -> inconclusive);
//   - both pass                         -> pass;
//   - IPsec passes, bare L2TP does not  -> inconclusive: inside IPsec the UDP 1701
//     messages are invisible to the network, so a router dropping bare L2TP
//     need not stop L2TP/IPsec, but this run cannot confirm it.
// Pure; unit-tested with hand-built assessments.
#pragma once

#include <optional>
#include <vector>

#include "src/verdict/verdict.h"

namespace vpncheck::client {

// The report entry's descriptor: id "l2tp-ipsec", title "L2TP/IPsec". Not in
// the probe registry (nothing is sent for it): no variants, no codec.
extern const probes::ProtocolModule kL2tpIpsecEntry;

inline constexpr std::string_view kL2tpId = "l2tp";
inline constexpr std::string_view kIpsecId = "ipsec";

// `behind_nat`: Report::behind_nat (nullopt when unknown); it decides whether
// the summary speaks of NAT-T on UDP 4500 or of ESP.
ProtocolAssessment assess_l2tp_ipsec(const ProtocolAssessment& l2tp, const ProtocolAssessment& ipsec,
                                     std::optional<bool> behind_nat);

// Appends the l2tp-ipsec entry when `assessments` hold both "l2tp" and
// "ipsec" (and no l2tp-ipsec entry yet); leaves them unchanged otherwise.
void add_l2tp_ipsec(std::vector<ProtocolAssessment>& assessments, std::optional<bool> behind_nat);

}  // namespace vpncheck::client
