// The verdict engine: pure functions from probe results to one verdict per
// protocol, with a sentence a person understands and concrete advice.
// Verdict meanings are DESIGN.md's, Contract 3.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probes/assessment.h"
#include "probes/translation.h"
#include "src/run/result.h"

namespace vpncheck::client {

// The vocabulary (verdicts, findings, assessments, what a result shows) is
// shared with the protocols' own rules: probes/assessment.h.
using probes::add_unique;
using probes::answered;
using probes::describe;
using probes::format_ms;
using probes::kFreeReflectorPortAdvice;
using probes::LossCheck;
using probes::messages_arrived;
using probes::ProtocolAssessment;
using probes::reached_reflector;
using probes::reflector_could_not_listen;
using probes::stopped_midway;
using probes::tls_intercepted;
using probes::translate;
using probes::Verdict;
using probes::was_tested;
namespace finding = probes::finding;

// Assesses each family's probes on their own and combines them as described at
// ProtocolAssessment::families (one family: its assessment, families = {it}).
ProtocolAssessment assess_families(const probes::ProtocolModule& module, const std::vector<ProbeResult>& results,
                                   bool observations_read);

// `results` are this protocol's probe results (genuine and control, every variant).
// `observations_read` says whether the reflector's observations were available.
// Dispatches to the protocol's own rule (ProtocolModule::assess) when it has
// one, else assess_alternatives.
ProtocolAssessment assess(const probes::ProtocolModule& module, std::vector<ProbeResult> results,
                          bool observations_read);

// The rule for protocols whose variants are alternatives to one standard
// form (WireGuard, OpenVPN): pass on the standard one, restricted when only
// a fallback works, and so on (DESIGN.md, Contract 3).
ProtocolAssessment assess_alternatives(const probes::ProtocolModule& module, std::vector<ProbeResult> results,
                                       bool observations_read);

// Adds "what works instead" advice to every protocol that did not pass.
void add_alternatives(std::vector<ProtocolAssessment>& assessments);
// What works instead of `to`: "OpenVPN (UDP 1194), SSTP (TCP 443)", or ""
// (the other protocols that pass or are restricted, with where they work).
std::string working_alternatives(const std::vector<ProtocolAssessment>& assessments, const ProtocolAssessment& to);

// Appends the entry of each derived protocol (probes/registry.h) whose
// protocols are all among `assessments`, combined from theirs, unless it is
// there already. `behind_nat`: Report::behind_nat (nullopt when unknown).
void add_derived(std::vector<ProtocolAssessment>& assessments, std::optional<bool> behind_nat);

}  // namespace vpncheck::client
