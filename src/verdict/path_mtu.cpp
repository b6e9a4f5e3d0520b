#include "src/verdict/path_mtu.h"

#include <algorithm>

namespace vpncheck::client {
namespace {

void restrict(ProtocolAssessment& a, const nat::ProtocolMtuAdvice& m) {
  a.verdict = Verdict::restricted;
  a.summary += (a.summary.empty() ? "" : " ") + std::string("However: ") + m.reason;
  a.advice.insert(a.advice.begin(), m.advice.begin(), m.advice.end());
  a.findings.emplace_back(finding::kFullSizePacketsDropped);
}

void note(ProtocolAssessment& a, const nat::ProtocolMtuAdvice& m) {
  a.summary += (a.summary.empty() ? "" : " ") + m.lossy_note;
}

// The path test's facts are about datagrams: they apply where the protocol
// passes over UDP (not OpenVPN over TCP), and wherever a protocol passes
// whose data travels as raw IP alone (PPTP's GRE).
bool passes_by_datagrams(const ProtocolAssessment& a, const probes::ProtocolModule& module) {
  if (a.verdict != Verdict::pass) return false;
  if (a.working_variant && a.working_variant->transport == probes::Transport::udp) return true;
  const auto* phase = module.data_phase;
  return phase != nullptr && phase->full_payload_v4 == 0 && !phase->ip_piece.empty();
}

}  // namespace

void apply_path_mtu(std::vector<ProtocolAssessment>& assessments, const std::vector<nat::ProtocolMtuAdvice>& advice) {
  for (auto& a : assessments) {
    if (a.module == nullptr) continue;
    auto m = std::find_if(advice.begin(), advice.end(),
                          [&](const nat::ProtocolMtuAdvice& x) { return x.protocol == a.module->id; });
    if (m == advice.end()) continue;
    // Only strong evidence changes a verdict: a "no" that loss could explain leaves it, with a note.
    const bool breaks = m->restricts && m->breaks == true && m->chance_by_loss < nat::kChanceThreshold;
    if (!breaks && m->lossy_note.empty()) continue;
    auto change = breaks ? restrict : note;
    auto v4 = std::find_if(a.families.begin(), a.families.end(),
                           [](const ProtocolAssessment& f) { return f.family == Family::ipv4; });
    // Without families (one family tested) the entry itself is that family's.
    const bool overall_is_v4 = a.families.empty() || v4 != a.families.end();
    if (v4 != a.families.end() && passes_by_datagrams(*v4, *a.module)) change(*v4, *m);
    if (overall_is_v4 && passes_by_datagrams(a, *a.module)) change(a, *m);
  }
}

}  // namespace vpncheck::client
