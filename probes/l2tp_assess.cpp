// L2TP's verdict: the alternatives rule (one standard form, UDP 1701; a
// multi-step exchange answered only part way is said so by that rule), plus
// the advice only L2TP needs: the router's 'L2TP passthrough' toggle, and that
// bare L2TP is unencrypted and normally runs inside IPsec.
#include "probes/assessment.h"
#include "probes/l2tp.h"

namespace vpncheck::probes::l2tp {

ProtocolAssessment assess(const ProtocolModule& module, std::vector<ProbeResult> results, bool observations_read,
                          AlternativesRule alternatives) {
  auto a = alternatives(module, std::move(results), observations_read);
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

}  // namespace vpncheck::probes::l2tp
