// The L2TP/IPsec combination rule; see l2tp_ipsec.h.
#include "probes/l2tp_ipsec.h"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace vpncheck::probes::l2tp_ipsec {

namespace {

constexpr std::string_view kClientsNeed =
    "The built-in Windows and macOS L2TP/IPsec clients need IKE on UDP 500 and, behind NAT, UDP 4500 (NAT-T) to "
    "pass; they cannot use another port or TCP.";

std::string ipsec_path(std::optional<bool> behind_nat) {
  if (behind_nat == true) return "IPsec passes, behind this NAT as NAT-T on UDP 4500, which then carries the L2TP traffic";
  if (behind_nat == false) return "IPsec passes (no NAT on the way), and ESP then carries the L2TP traffic";
  return "IPsec passes, and carries the L2TP traffic";
}

// Without NAT the built-in clients send ESP itself (IP protocol 50); they use
// NAT-T only when IKE detects a NAT. What did the raw ESP probe show?
enum class RawEsp { answered, not_tested, lost };
RawEsp raw_esp(const ProtocolAssessment& ipsec, std::string& why_not_tested) {
  // The top-level verdict is the first family's (IPv4 when tested): judge ESP there too.
  const auto& results = ipsec.families.empty() ? ipsec.probes : ipsec.families.front().probes;
  bool tested = false;
  for (const auto& r : results) {
    if (r.probe.kind != ProbeKind::genuine || r.probe.variant.piece != "esp") continue;
    if (!was_tested(r)) {
      if (why_not_tested.empty()) why_not_tested = r.probe.not_run_reason.value_or(r.client.detail);
      continue;
    }
    tested = true;
    if (answered(r)) return RawEsp::answered;
  }
  return tested ? RawEsp::lost : RawEsp::not_tested;
}

void append(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const auto& line : from)
    if (std::find(to.begin(), to.end(), line) == to.end()) to.push_back(line);
}

}  // namespace

ProtocolAssessment combine(const ProtocolAssessment& l2tp, const ProtocolAssessment& ipsec,
                           std::optional<bool> behind_nat) {
  ProtocolAssessment a;
  a.derived = &kDerived;
  const std::string l2tp_verdict(to_string(l2tp.verdict));

  if (ipsec.verdict == Verdict::inconclusive) {
    a.verdict = Verdict::inconclusive;
    a.summary = "L2TP/IPsec could not be judged, because IPsec could not be tested: " + ipsec.summary;
    append(a.advice, ipsec.advice);
    return a;
  }
  if (ipsec.verdict != Verdict::pass) {
    // Without IPsec there is no L2TP/IPsec, whatever bare L2TP does.
    a.verdict = ipsec.verdict;
    a.summary = "L2TP/IPsec will not work here: it runs inside IPsec, and IPsec does not pass (" +
                std::string(to_string(ipsec.verdict)) + "): " + ipsec.summary;
    a.advice.emplace_back(kClientsNeed);
    append(a.advice, ipsec.advice);
    return a;
  }
  if (behind_nat == false) {
    std::string why;
    const auto esp = raw_esp(ipsec, why);
    if (esp == RawEsp::not_tested) {
      a.verdict = Verdict::inconclusive;
      a.summary = "L2TP/IPsec could not be judged: with no NAT on the way the built-in clients send ESP (IP "
                  "protocol 50) itself, not NAT-T, and raw ESP was not tested" +
                  (why.empty() ? std::string(".") : " (" + why + ").");
      append(a.advice, ipsec.advice);
      return a;
    }
    if (esp == RawEsp::lost) {
      a.verdict = Verdict::restricted;
      a.summary = "L2TP/IPsec will likely fail with the built-in clients: IPsec passes only as NAT-T on UDP 4500, "
                  "but with no NAT on the way they send ESP (IP protocol 50) itself, which does not pass here.";
      a.advice.emplace_back(
          "Allow ESP (IP protocol 50) to the VPN server, or use a client that can force UDP encapsulation "
          "(strongSwan: encap = yes).");
      return a;
    }
  }
  if (l2tp.verdict == Verdict::pass) {
    a.verdict = Verdict::pass;
    a.summary = "L2TP/IPsec should work: " + ipsec_path(behind_nat) +
                ", and an L2TP server answered the whole control exchange on UDP 1701.";
    return a;
  }
  a.verdict = Verdict::inconclusive;
  if (l2tp.verdict == Verdict::inconclusive) {
    a.summary = "L2TP/IPsec could not be judged: " + ipsec_path(behind_nat) + ", but L2TP could not be tested: " +
                l2tp.summary;
    append(a.advice, l2tp.advice);
    return a;
  }
  a.summary = "L2TP/IPsec may still work: " + ipsec_path(behind_nat) + ". Bare L2TP on UDP 1701 did not pass (" +
              l2tp_verdict + "), but inside IPsec those messages are encrypted and the network does not see them; "
              "this run could not confirm L2TP inside IPsec.";
  a.advice.push_back(
      "Try the built-in L2TP/IPsec client: its L2TP messages travel inside IPsec, which passes here. Bare L2TP "
      "without IPsec will not work on this network.");
  return a;
}

namespace {

constexpr std::array<std::string_view, 2> kFrom{"l2tp", "ipsec"};

ProtocolAssessment combine_from(std::span<const ProtocolAssessment* const> from, std::optional<bool> behind_nat) {
  return combine(*from[0], *from[1], behind_nat);
}

}  // namespace

const DerivedProtocol kDerived{
    .id = "l2tp-ipsec",
    .title = "L2TP/IPsec",
    .description = "L2TP inside IPsec (built-in Windows/macOS clients): combined from the l2tp and ipsec results",
    .from = kFrom,
    .combine = combine_from,
};

}  // namespace vpncheck::probes::l2tp_ipsec
