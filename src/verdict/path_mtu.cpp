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

bool passes_over_udp(const ProtocolAssessment& a) {
  return a.verdict == Verdict::pass && a.working_variant && a.working_variant->transport == probes::Transport::udp;
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
    if (v4 != a.families.end() && passes_over_udp(*v4)) change(*v4, *m);
    if (overall_is_v4 && passes_over_udp(a)) change(a, *m);
  }
}

}  // namespace vpncheck::client
