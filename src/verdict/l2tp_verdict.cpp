#include "src/verdict/l2tp_verdict.h"

namespace vpncheck::client {

ProtocolAssessment assess_l2tp(const probes::ProtocolModule& module, std::vector<ProbeResult> results,
                               bool observations_read) {
  auto a = assess_alternatives(module, std::move(results), observations_read);
  if (a.verdict == Verdict::inconclusive) return a;
  // Routers' "L2TP passthrough" off = drop UDP 1701 towards the WAN (PROTOCOLS.md §3.5, §8).
  if (a.verdict == Verdict::blocked)
    a.advice.push_back(
        "If this is your router, turn on its 'L2TP passthrough' (or 'VPN passthrough') setting: with it off, "
        "routers drop outgoing UDP 1701.");
  a.advice.push_back(
      "L2TP by itself is not encrypted: use it only inside IPsec (L2TP/IPsec, the 'L2TP' VPN type of the built-in "
      "Windows and macOS clients). There the L2TP messages travel inside IPsec, which behind NAT needs UDP 500 and "
      "UDP 4500 (NAT-T) to pass.");
  return a;
}

}  // namespace vpncheck::client
