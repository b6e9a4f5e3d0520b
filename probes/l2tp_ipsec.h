// L2TP/IPsec, a derived protocol (probes/registry.h): what the built-in
// Windows and macOS "L2TP" VPN clients need. Their L2TP control and data
// messages travel inside IPsec (ESP transport mode; behind NAT, ESP in UDP
// 4500 = NAT-T), so the network sees IPsec, not UDP 1701. vpncheck cannot run
// L2TP inside a real IPsec SA, so this is a combination of the two measured
// verdicts, not a probe of its own:
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

#include "probes/assessment.h"
#include "probes/registry.h"

namespace vpncheck::probes::l2tp_ipsec {

// id "l2tp-ipsec", title "L2TP/IPsec", judged from "l2tp" and "ipsec".
extern const DerivedProtocol kDerived;

// `behind_nat`: whether a NAT was on the way (nullopt when unknown); it
// decides whether the summary speaks of NAT-T on UDP 4500 or of ESP.
ProtocolAssessment combine(const ProtocolAssessment& l2tp, const ProtocolAssessment& ipsec,
                           std::optional<bool> behind_nat);

}  // namespace vpncheck::probes::l2tp_ipsec
