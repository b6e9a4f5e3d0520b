#include "src/verdict/verdict.h"

#include <algorithm>

#include "probes/registry.h"
#include "probes/translation.h"

namespace vpncheck::client {
namespace {

struct VariantView {
  probes::ProbeVariant variant;
  const ProbeResult* genuine = nullptr;
  const ProbeResult* control = nullptr;

  bool tested() const { return genuine && was_tested(*genuine); }
  bool works() const { return tested() && answered(*genuine); }
  bool modified() const {
    auto t = genuine ? translate(*genuine) : std::nullopt;
    return t && t->payload_modified;
  }
};

std::vector<VariantView> by_variant(const probes::ProtocolModule& module, const std::vector<ProbeResult>& results) {
  std::vector<VariantView> views;
  for (const auto& variant : module.variants) {
    VariantView view{variant};
    for (const auto& r : results) {
      if (!r.probe.variant.same_place(variant)) continue;
      (r.probe.kind == ProbeKind::genuine ? view.genuine : view.control) = &r;
    }
    views.push_back(view);
  }
  return views;
}

std::string join_variants(const std::vector<VariantView>& views) {
  std::string out;
  for (std::size_t i = 0; i < views.size(); ++i) {
    if (i > 0) out += i + 1 == views.size() ? " or " : ", ";
    out += describe(views[i].variant);
  }
  return out;
}

}  // namespace

ProtocolAssessment assess(const probes::ProtocolModule& module, std::vector<ProbeResult> results,
                          bool observations_read) {
  if (module.assess) return module.assess(module, std::move(results), observations_read, assess_alternatives);
  return assess_alternatives(module, std::move(results), observations_read);
}

ProtocolAssessment assess_alternatives(const probes::ProtocolModule& module, std::vector<ProbeResult> results,
                                       bool observations_read) {
  ProtocolAssessment a;
  a.module = &module;
  a.probes = std::move(results);
  auto views = by_variant(module, a.probes);
  const std::string title(module.title);

  std::vector<VariantView> tested;
  std::copy_if(views.begin(), views.end(), std::back_inserter(tested), [](const auto& v) { return v.tested(); });
  auto standard = std::find_if(views.begin(), views.end(), [](const auto& v) { return v.variant.standard; });

  // Findings first: they explain whichever verdict follows.
  bool signature = false;
  for (const auto& v : tested) {
    const ProbeResult& g = *v.genuine;
    bool g_out = reached_reflector(g);
    bool c_out = v.control && reached_reflector(*v.control);
    if (observations_read && !g_out && c_out) signature = true;
    if (observations_read && !g_out && v.control && !c_out) add_unique(a.findings, finding::kPortBlocking);
    if (stopped_midway(g)) {
      add_unique(a.findings, finding::kExchangeIncomplete);
      // The unanswered message arrived: it is its answer that was lost.
      if (observations_read && messages_arrived(g) > g.client.steps_answered)
        add_unique(a.findings, finding::kReturnPathBlocked);
    } else if (g_out && !answered(g)) {
      add_unique(a.findings, finding::kReturnPathBlocked);
    }
    if (v.modified()) add_unique(a.findings, finding::kPayloadModified);
    if (g.client.outcome == Outcome::reset) add_unique(a.findings, finding::kConnectionReset);
    if (tls_intercepted(g))
      add_unique(a.findings, finding::kTlsIntercepted);
    else if (g.client.outcome == Outcome::invalid_reply)
      add_unique(a.findings, finding::kReplyAltered);
  }
  if (signature) add_unique(a.findings, finding::kSignatureBlocking);
  const std::string signature_note =
      signature ? " Random packets of the same size on the same ports did get through, so a middlebox is "
                  "blocking " + title + " by its content (signature/DPI), not by port."
                : "";

  if (tested.empty()) {
    a.verdict = Verdict::inconclusive;
    // A port the reflector could not bind has its own reason (another program holds it).
    std::vector<std::string> could_not_listen;
    for (const auto& v : views)
      if (v.genuine && reflector_could_not_listen(*v.genuine))
        could_not_listen.push_back(v.genuine->client.detail);
    if (!could_not_listen.empty()) {
      std::string why;
      for (const auto& d : could_not_listen) why += (why.empty() ? "" : "; ") + d;
      a.summary = title + " could not be tested: " + why + ".";
      a.advice.emplace_back(kFreeReflectorPortAdvice);
      return a;
    }
    a.summary = title + " could not be tested: the reflector does not listen on " + join_variants(views) + ".";
    a.advice.push_back("Run a reflector that listens on " + join_variants(views) + " (vpncheck-reflector's defaults).");
    return a;
  }

  if (standard != views.end() && standard->works()) {
    a.working_variant = standard->variant;
    const auto& g = *standard->genuine;
    if (standard->modified()) {
      a.verdict = Verdict::modified;
      a.summary = title + " gets through on " + describe(standard->variant) +
                  ", but a middlebox changed the packets on the way, which breaks the protocol.";
      a.advice.push_back("Find the device that rewrites traffic (a 'security' gateway or ALG) and exempt " + title +
                         " from it, or use a variant whose content it cannot see.");
    } else {
      a.verdict = Verdict::pass;
      a.summary = title + " works both ways on " + describe(standard->variant) +
                  (g.client.rtt_ms ? " (round trip " + format_ms(*g.client.rtt_ms) + ")." : ".");
    }
    return a;
  }

  auto alternative = std::find_if(tested.begin(), tested.end(),
                                  [](const auto& v) { return !v.variant.standard && v.works(); });
  const std::string standard_text = standard != views.end() ? describe(standard->variant) : "its standard port";
  const bool standard_tested = standard != views.end() && standard->tested();
  if (alternative != tested.end()) {
    a.verdict = Verdict::restricted;
    a.working_variant = alternative->variant;
    a.summary = title + (standard_tested ? " is blocked on " + standard_text
                                         : " could not be tested on " + standard_text +
                                               " (the reflector does not listen there)") +
                " but works on " + describe(alternative->variant) + "." + signature_note;
    a.advice.push_back(module.advice_use_variant(alternative->variant));
    if (signature) a.advice.emplace_back(module.advice_signature_blocked);
    return a;
  }

  auto intercepted = std::find_if(tested.begin(), tested.end(), [](const auto& v) { return tls_intercepted(*v.genuine); });
  if (intercepted != tested.end()) {
    // The handshake completed, with someone else: whatever the protocol
    // inside does, it is not reaching the server unexamined.
    const auto& fields = intercepted->genuine->client.reply_fields;
    auto presented = fields.find("tls_presented_sha256");
    a.verdict = Verdict::modified;
    a.summary = "TLS on " + describe(intercepted->variant) + " is intercepted: a middlebox answered with its own "
                "certificate (SHA-256 " + (presented != fields.end() && !presented->second.empty() ? presented->second
                                                                                                 : std::string("unknown")) +
                ") instead of the reflector's, so " + title + " would talk to the middlebox, not to the server.";
    a.advice.push_back("Ask the network's administrator to exempt the VPN server's address from TLS inspection; "
                       "otherwise use a protocol that works here.");
    return a;
  }

  auto altered = std::find_if(tested.begin(), tested.end(), [](const auto& v) {
    return v.genuine->client.outcome == Outcome::invalid_reply;
  });
  if (altered != tested.end()) {
    // Something came back, but not a valid answer: the return path rewrites it.
    a.verdict = Verdict::modified;
    a.summary = title + " packets reach the server and answers come back on " + describe(altered->variant) +
                ", but changed on the way: they are no longer valid " + title + " answers.";
    a.advice.push_back("Find the device that rewrites traffic (a 'security' gateway or ALG) and exempt " + title +
                       " from it, or use a protocol that works here.");
    return a;
  }

  auto midway = std::find_if(tested.begin(), tested.end(), [](const auto& v) { return stopped_midway(*v.genuine); });
  if (midway != tested.end()) {
    // Answered part way: say how far it got and where the next message was lost.
    const ProbeResult& g = *midway->genuine;
    const std::size_t n = g.client.steps_answered;
    const std::string next = "message " + std::to_string(n + 1);
    a.verdict = Verdict::outbound_only;
    a.summary = title + " gets only part way on " + describe(midway->variant) + ": the exchange stopped after " +
                std::to_string(n) + (n == 1 ? " step was" : " steps were") + " answered; " + next +
                " got no answer";
    if (!observations_read) {
      a.summary += " (the reflector's record could not be read, so whether it arrived is unknown).";
      a.advice.push_back("Run vpncheck again; if this persists, check that the reflector's control port is reachable.");
    } else if (messages_arrived(g) > n) {
      a.summary += " although it reached the server: the answer was dropped on the way back.";
      a.advice.push_back("If you manage this network, let replies to outgoing " + title +
                         " traffic back in for the whole exchange (stateful 'established/related' rule); otherwise "
                         "use a protocol that works here.");
    } else {
      a.summary += " and never reached the server, so something on the way lets the first " + title +
                   " messages through and drops the later ones.";
      a.advice.push_back("If you manage this network, allow the whole " + title + " flow on " +
                         describe(midway->variant) + " (not only its first packets; check rate limits and DPI "
                         "rules); otherwise use a protocol that works here.");
    }
    return a;
  }

  bool any_arrived = std::any_of(tested.begin(), tested.end(), [](const auto& v) { return reached_reflector(*v.genuine); });
  if (any_arrived) {
    a.verdict = Verdict::outbound_only;
    a.summary = title + " packets reach the server, but its answers never come back: a firewall or NAT on the way "
                        "drops the replies.";
    a.advice.push_back("If you manage this network, let replies to outgoing " + title +
                       " traffic back in (stateful 'established/related' rule); otherwise use a protocol that "
                       "works here.");
    return a;
  }

  if (!observations_read) {
    a.verdict = Verdict::inconclusive;
    a.summary = title + " got no answer on " + join_variants(tested) +
                ", and the reflector's record of what arrived could not be read, so blocked and "
                "outbound-only cannot be told apart.";
    a.advice.push_back("Run vpncheck again; if this persists, check that the reflector's control port is reachable.");
    return a;
  }

  a.verdict = Verdict::blocked;
  a.summary = "No " + title + " packet reached the server on " + join_variants(tested) + "." + signature_note;
  if (signature)
    a.advice.emplace_back(module.advice_signature_blocked);
  else
    a.advice.push_back("This network blocks " + title + " on every port tried; ask its administrator to allow " +
                       standard_text + ", or use a protocol that works here.");
  return a;
}

std::string working_alternatives(const std::vector<ProtocolAssessment>& assessments, const ProtocolAssessment& to) {
  std::string list;
  for (const auto& a : assessments) {
    if ((a.verdict != Verdict::pass && a.verdict != Verdict::restricted) || !a.working_variant || a.title() == to.title())
      continue;
    // Its handshake works, its data does not: no use to anyone as a tunnel.
    if (std::find(a.findings.begin(), a.findings.end(), finding::kDataDroppedAfterHandshake) != a.findings.end())
      continue;
    list += (list.empty() ? "" : ", ") + std::string(a.title()) + " (" + describe(*a.working_variant) + ")";
  }
  return list;
}

void add_alternatives(std::vector<ProtocolAssessment>& assessments) {
  std::vector<std::string> lists;
  for (const auto& a : assessments) lists.push_back(working_alternatives(assessments, a));
  for (std::size_t i = 0; i < assessments.size(); ++i) {
    auto& a = assessments[i];
    if (a.verdict == Verdict::pass || a.verdict == Verdict::inconclusive) continue;
    if (!lists[i].empty()) a.advice.push_back("Works on this network instead: " + lists[i] + ".");
  }
}

void add_derived(std::vector<ProtocolAssessment>& assessments, std::optional<bool> behind_nat) {
  auto find = [&](std::string_view id) -> const ProtocolAssessment* {
    for (const auto& a : assessments)
      if (a.id() == id) return &a;
    return nullptr;
  };
  for (const auto* derived : probes::derived_protocols()) {
    if (find(derived->id)) continue;
    std::vector<const ProtocolAssessment*> from;
    for (auto id : derived->from)
      if (const auto* a = find(id)) from.push_back(a);
    if (from.size() != derived->from.size()) continue;
    auto combined = derived->combine(from, behind_nat);
    combined.module = nullptr;
    combined.derived = derived;
    assessments.push_back(std::move(combined));
  }
}

ProtocolAssessment assess_families(const probes::ProtocolModule& module, const std::vector<ProbeResult>& results,
                                   bool observations_read) {
  std::vector<ProtocolAssessment> per_family;
  for (auto family : {Family::ipv4, Family::ipv6}) {
    std::vector<ProbeResult> mine;
    for (const auto& r : results)
      if (r.probe.family == family) mine.push_back(r);
    if (mine.empty()) continue;
    auto a = assess(module, std::move(mine), observations_read);
    a.family = family;
    per_family.push_back(std::move(a));
  }
  if (per_family.empty()) return assess(module, results, observations_read);
  ProtocolAssessment top = per_family.front();  // IPv4 when tested (ipv4 is assessed first)
  top.family.reset();
  top.probes = results;
  top.families = std::move(per_family);
  return top;
}

}  // namespace vpncheck::client
