// OpenVPN's verdict over its wire forms. Each form (plain, tls-auth, ...,
// tls-crypt-v2) is judged on its own by the alternatives rule over its places
// (UDP 1194, TCP 1194, TCP 443), because a middlebox may match one form's
// bytes and not another's. The protocol passes when every form tried passes;
// it is restricted when some forms (or only some places) get through, and the
// advice names what does; a form the reflector could not answer (it withheld
// a reply larger than the request from an address it had not validated) is
// not judged, and keeps the protocol from passing.
#include <algorithm>
#include <set>

#include "probes/assessment.h"
#include "probes/openvpn.h"

namespace vpncheck::probes::openvpn {
namespace {

struct Judged {
  Form form;
  ProtocolAssessment a;
  bool tried = false;     // some genuine probe of the form went out
  bool withheld = false;  // failing only because the reflector withheld its answer
};

// The reflector recorded the arrival and chose not to answer: a limit, its
// own failure, or no answer within the no-amplification rule.
bool answer_withheld(const ProbeResult& r) {
  if (answered(r)) return false;
  return std::any_of(r.arrivals.begin(), r.arrivals.end(), [](const Observation& o) {
    return !o.reply.sent && (withheld_by_reflector(o.reply.code) || o.reply.code == reply_code::kTooSmall);
  });
}

std::string label(Form form) {
  return form == Form::plain ? "the plain form (no tls-auth or tls-crypt)" : std::string(form_name(form));
}

std::string list(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
  return out;
}

Judged judge(const ProtocolModule& module, Form form, const std::vector<ProbeResult>& results, bool observations_read,
             AlternativesRule alternatives) {
  // The alternatives rule over this form's places only.
  std::vector<ProbeVariant> places;
  for (const auto& v : module.variants)
    if (v.piece == form_name(form)) places.push_back(v);
  ProtocolModule one_form = module;
  one_form.variants = places;
  std::vector<ProbeResult> mine;
  for (const auto& r : results)
    if (r.probe.variant.piece == form_name(form)) mine.push_back(r);
  Judged j{form, alternatives(one_form, mine, observations_read)};
  j.a.module = &module;
  j.tried = std::any_of(mine.begin(), mine.end(),
                        [](const ProbeResult& r) { return r.probe.kind == ProbeKind::genuine && was_tested(r); });
  const Verdict v = j.a.verdict;
  if (v != Verdict::blocked && v != Verdict::outbound_only && v != Verdict::restricted) return j;
  // Which failures the verdict rests on: every place, or (restricted) the standard one.
  std::vector<const ProbeResult*> failed;
  for (const auto& r : mine)
    if (r.probe.kind == ProbeKind::genuine && was_tested(r) && !answered(r) &&
        (v != Verdict::restricted || r.probe.variant.standard))
      failed.push_back(&r);
  if (failed.empty() || !std::all_of(failed.begin(), failed.end(), [](const auto* r) { return answer_withheld(*r); }))
    return j;
  j.withheld = true;
  std::string why;
  for (const auto& o : failed.front()->arrivals)
    if (!o.reply.sent && !o.reply.reason.empty()) why = o.reply.reason;
  j.a.verdict = Verdict::inconclusive;
  j.a.summary = std::string(module.title) + " with " + label(form) + " could not be judged: it reached the "
                "reflector, which did not answer" + (why.empty() ? "" : " (" + why + ")") + ".";
  j.a.findings = {std::string(finding::kReflectorLimited)};
  j.a.advice = {"Run vpncheck so that its probes leave from the address of its control session (the reflector "
                "answers in full only there), or against a reflector of your own."};
  return j;
}

// The form to recommend when it passes: control-channel encryption first.
constexpr std::array kPreference{Form::tls_crypt, Form::tls_crypt_v2, Form::tls_auth_sha1, Form::tls_auth_sha256,
                                 Form::plain};

bool works(Verdict v) { return v == Verdict::pass || v == Verdict::restricted; }

}  // namespace

ProtocolAssessment assess(const ProtocolModule& module, std::vector<ProbeResult> results, bool observations_read,
                          AlternativesRule alternatives) {
  std::vector<Judged> judged;
  for (auto form : kForms) {
    const bool planned = std::any_of(results.begin(), results.end(),
                                     [&](const ProbeResult& r) { return r.probe.variant.piece == form_name(form); });
    if (planned) judged.push_back(judge(module, form, results, observations_read, alternatives));
  }
  if (judged.empty()) return alternatives(module, std::move(results), observations_read);

  std::vector<const Judged*> tried;
  std::vector<std::string> untried;
  std::set<std::string> untried_why;
  ProtocolAssessment first_as_judged = judged.front().a;
  for (auto& j : judged) {
    if (j.tried) {
      tried.push_back(&j);
      continue;
    }
    std::string why;
    for (const auto& r : results)
      if (r.probe.variant.piece == form_name(j.form) && r.probe.not_run_reason) why = *r.probe.not_run_reason;
    untried.push_back(std::string(form_name(j.form)));
    if (!why.empty()) untried_why.insert(why);
    j.a.verdict = Verdict::inconclusive;
    j.a.summary = std::string(module.title) + " with " + label(j.form) + " was not tried" +
                  (why.empty() ? "." : ": " + why + ".");
  }
  auto attach = [&](ProtocolAssessment top) {
    top.module = &module;
    top.probes = std::move(results);
    for (const auto& j : judged)
      top.forms.push_back({std::string(form_name(j.form)), j.a.verdict, j.a.summary, j.a.working_variant});
    // One reason for all (usually: an older reflector), else see each form.
    if (!untried.empty())
      top.summary += " Not tried: " + list(untried) +
                     (untried_why.size() == 1 ? " (" + *untried_why.begin() + ")." : ".");
    return top;
  };
  if (tried.empty()) {
    // Nothing could be sent: the reason the first form gives (the reflector
    // does not listen there, or could not bind the port) stands for all.
    untried.clear();
    return attach(std::move(first_as_judged));
  }

  // The form whose verdict stands for the protocol when all agree: tls-auth,
  // the form vpncheck always tried, else the first one tried.
  const Judged* reference = tried.front();
  for (const auto* j : tried)
    if (j->form == Form::tls_auth_sha1) reference = j;
  std::vector<std::string> names;
  for (const auto* j : tried) names.push_back(std::string(form_name(j->form)));

  // Forms agree when they pass or fail alike, at the same place.
  const bool agree = std::all_of(tried.begin(), tried.end(), [&](const Judged* j) {
    const auto& mine = j->a.working_variant;
    const auto& theirs = reference->a.working_variant;
    return j->a.verdict == reference->a.verdict && mine.has_value() == theirs.has_value() &&
           (!mine || (mine->transport == theirs->transport && mine->port == theirs->port));
  });
  if (agree) {
    ProtocolAssessment top = reference->a;
    if (tried.size() > 1) top.summary += " The same holds for every form tried (" + list(names) + ").";
    return attach(std::move(top));
  }

  std::vector<const Judged*> working, failing, unjudged;
  for (const auto* j : tried) {
    if (works(j->a.verdict)) working.push_back(j);
    else if (j->a.verdict == Verdict::inconclusive) unjudged.push_back(j);
    else failing.push_back(j);
  }
  ProtocolAssessment top;
  const std::string title(module.title);
  auto describe_form = [](const Judged* j) {
    return label(j->form) + (j->a.working_variant ? " (on " + describe(*j->a.working_variant) + ")" : "");
  };

  if (working.empty()) {
    // Nothing gets through in any form: the reference form's failure, or the
    // first failing one's, with the others named.
    const Judged* lead = reference;
    if (lead->a.verdict == Verdict::inconclusive && !failing.empty()) lead = failing.front();
    top = lead->a;
    std::vector<std::string> others;
    for (const auto* j : tried)
      if (j != lead) others.push_back(label(j->form) + ": " + std::string(to_string(j->a.verdict)));
    if (!others.empty()) top.summary += " Other forms: " + list(others) + ".";
    for (const auto* j : tried)
      for (const auto& f : j->a.findings)
        if (f != finding::kReflectorLimited || lead->a.verdict == Verdict::inconclusive) add_unique(top.findings, f);
    return attach(std::move(top));
  }

  // Some forms get through: recommend the best of them.
  const Judged* best = nullptr;
  for (auto want : {Verdict::pass, Verdict::restricted}) {
    for (auto form : kPreference) {
      auto it = std::find_if(working.begin(), working.end(),
                             [&](const Judged* j) { return j->form == form && j->a.verdict == want; });
      if (it != working.end()) {
        best = *it;
        break;
      }
    }
    if (best) break;
  }
  std::vector<std::string> pass_names, fail_names, unjudged_names;
  for (const auto* j : working) pass_names.push_back(describe_form(j));
  for (const auto* j : failing) fail_names.push_back(label(j->form) + " (" + std::string(to_string(j->a.verdict)) + ")");
  for (const auto* j : unjudged) unjudged_names.push_back(label(j->form));
  top.working_variant = best->a.working_variant;

  if (failing.empty() && !unjudged.empty()) {
    // The forms that were judged get through; the rest could not be judged,
    // and one of them may well be the form the user runs.
    top.verdict = Verdict::inconclusive;
    top.summary = title + " gets through with " + list(pass_names) + "; " + list(unjudged_names) +
                  " could not be judged (the reflector did not answer it).";
    top.findings = {std::string(finding::kReflectorLimited)};
    top.advice = unjudged.front()->a.advice;
    return attach(std::move(top));
  }

  top.verdict = Verdict::restricted;
  // Failing forms, or forms that get through only on some places.
  top.summary = title + " gets through only in some forms or places: with " + list(pass_names) +
                (fail_names.empty() ? "" : ", but not with " + list(fail_names)) + "." +
                (unjudged_names.empty() ? "" : " Not judged: " + list(unjudged_names) + ".");
  for (const auto* j : failing) {
    for (const auto& f : j->a.findings) add_unique(top.findings, f);
    top.summary += " " + j->a.summary;
  }
  const std::string setting(form_setting(best->form));
  if (best->a.verdict == Verdict::pass) {
    top.advice.push_back(best->form == Form::plain
                             ? "Run OpenVPN without `tls-auth`/`tls-crypt`: only that form passes here."
                             : "Add " + setting + " to the OpenVPN configuration (server and client): " +
                                   title + " with " + std::string(form_name(best->form)) + " passes here.");
  } else {
    for (const auto& advice : best->a.advice) add_unique(top.advice, advice);
    top.advice.push_back("Configure OpenVPN with " + setting + ": that form gets through here.");
  }
  const bool signature = std::any_of(failing.begin(), failing.end(), [](const Judged* j) {
    return std::find(j->a.findings.begin(), j->a.findings.end(), finding::kSignatureBlocking) != j->a.findings.end();
  });
  if (signature && best->form != Form::tls_crypt && best->form != Form::tls_crypt_v2)
    top.advice.emplace_back(module.advice_signature_blocked);
  return attach(std::move(top));
}

}  // namespace vpncheck::probes::openvpn
