// Every verdict of DESIGN.md Contract 3, for the WireGuard and OpenVPN modules,
// from hand-built probe results (fixtures::scenario says what the network did
// to each probe).
#include "src/verdict/verdict.h"

#include <gtest/gtest.h>

#include "client_fixtures.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;
using fixtures::everything;
using fixtures::Fate;
using fixtures::has_finding;
using fixtures::is;
using fixtures::joined;
using fixtures::openvpn;
using fixtures::scenario;
using fixtures::wireguard;
using probes::ProbeVariant;
using probes::Transport;

// The same fate for every probe.
ProtocolAssessment assess_read(const probes::ProtocolModule& m, std::vector<ProbeResult> results) {
  return assess(m, std::move(results), true);
}

// ---- pass ---------------------------------------------------------------

TEST(AssessWireGuard, PassWhenTheStandardPortWorksBothWays) {
  auto a = assess_read(wireguard(), scenario(wireguard(), everything(Fate::answered)));
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  ASSERT_TRUE(a.working_variant.has_value());
  EXPECT_TRUE(is(*a.working_variant, Transport::udp, 51820));
  EXPECT_TRUE(contains(a.summary, "UDP 51820")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "round trip 23 ms")) << a.summary;
  EXPECT_TRUE(a.findings.empty()) << joined(a.findings);
  EXPECT_TRUE(a.advice.empty()) << joined(a.advice);
  EXPECT_EQ(a.module, &wireguard());
  EXPECT_EQ(a.probes.size(), 2 * wireguard().variants.size());
}

TEST(AssessWireGuard, PassNeedsOnlyTheStandardVariant) {
  auto a = assess_read(wireguard(), scenario(wireguard(), [](const ProbeVariant& v, ProbeKind) {
                         return is(v, Transport::udp, 51820) ? Fate::answered : Fate::dropped;
                       }));
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
}

TEST(AssessWireGuard, AReplyProvesArrivalEvenWhenObservationsAreUnread) {
  auto results = fixtures::without_arrivals(scenario(wireguard(), everything(Fate::answered)));
  auto a = assess(wireguard(), std::move(results), false);
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
}

TEST(AssessOpenVpn, PassOnUdp1194) {
  auto a = assess_read(openvpn(), scenario(openvpn(), everything(Fate::answered)));
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  ASSERT_TRUE(a.working_variant.has_value());
  EXPECT_TRUE(is(*a.working_variant, Transport::udp, 1194));
  EXPECT_TRUE(contains(a.summary, "UDP 1194")) << a.summary;
}

// ---- modified -----------------------------------------------------------

TEST(AssessWireGuard, ModifiedWhenTheStandardAnswersButTheReflectorSawOtherBytes) {
  auto a = assess_read(wireguard(), scenario(wireguard(), [](const ProbeVariant& v, ProbeKind k) {
                         return is(v, Transport::udp, 51820) && k == ProbeKind::genuine ? Fate::rewritten
                                                                                        : Fate::answered;
                       }));
  EXPECT_EQ(a.verdict, Verdict::modified) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kPayloadModified)) << joined(a.findings);
  EXPECT_FALSE(a.advice.empty());
  EXPECT_TRUE(contains(a.summary, "changed")) << a.summary;
}

TEST(AssessOpenVpn, ModifiedWhenTheStandardAnswersButTheReflectorSawOtherBytes) {
  auto a = assess_read(openvpn(), scenario(openvpn(), [](const ProbeVariant& v, ProbeKind k) {
                         return v.standard && k == ProbeKind::genuine ? Fate::rewritten : Fate::answered;
                       }));
  EXPECT_EQ(a.verdict, Verdict::modified) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kPayloadModified)) << joined(a.findings);
}

TEST(AssessWireGuard, ARewrittenControlProbeIsNotAModifiedProtocol) {
  auto a = assess_read(wireguard(), scenario(wireguard(), [](const ProbeVariant&, ProbeKind k) {
                         return k == ProbeKind::control ? Fate::rewritten : Fate::answered;
                       }));
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
}

// ---- restricted ---------------------------------------------------------

TEST(AssessWireGuard, RestrictedWhenOnlyUdp53Works) {
  auto a = assess_read(wireguard(), scenario(wireguard(), [](const ProbeVariant& v, ProbeKind) {
                         return is(v, Transport::udp, 53) ? Fate::answered : Fate::dropped;
                       }));
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  ASSERT_TRUE(a.working_variant.has_value());
  EXPECT_TRUE(is(*a.working_variant, Transport::udp, 53));
  EXPECT_TRUE(contains(a.summary, "UDP 51820")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "UDP 53")) << a.summary;
  // The advice is the module's own, naming the port in WireGuard's configuration terms.
  const std::string expected = wireguard().advice_use_variant(*a.working_variant);
  EXPECT_TRUE(contains(expected, "ListenPort = 53")) << expected;
  ASSERT_FALSE(a.advice.empty());
  EXPECT_EQ(a.advice.front(), expected);
  EXPECT_TRUE(has_finding(a, finding::kPortBlocking)) << joined(a.findings);
  EXPECT_FALSE(has_finding(a, finding::kSignatureBlocking)) << joined(a.findings);
}

TEST(AssessWireGuard, RestrictedPrefersTheFirstWorkingVariantInModuleOrder) {
  auto a = assess_read(wireguard(), scenario(wireguard(), [](const ProbeVariant& v, ProbeKind) {
                         return v.standard ? Fate::dropped : Fate::answered;
                       }));
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  ASSERT_TRUE(a.working_variant.has_value());
  EXPECT_TRUE(is(*a.working_variant, Transport::udp, 443));
}

TEST(AssessWireGuard, RestrictedBySignatureAddsTheSignatureAdvice) {
  // UDP 51820 genuine dropped while its same-size control passes: DPI on the
  // standard port; UDP 443 gets through.
  auto a = assess_read(wireguard(), scenario(wireguard(), [](const ProbeVariant& v, ProbeKind k) {
                         if (is(v, Transport::udp, 51820)) return k == ProbeKind::control ? Fate::answered : Fate::dropped;
                         return Fate::answered;
                       }));
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kSignatureBlocking)) << joined(a.findings);
  EXPECT_TRUE(contains(joined(a.advice), wireguard().advice_signature_blocked)) << joined(a.advice);
}

TEST(AssessOpenVpn, RestrictedToTcp443WithTcpAdvice) {
  auto a = assess_read(openvpn(), scenario(openvpn(), [](const ProbeVariant& v, ProbeKind) {
                         return is(v, Transport::tcp, 443) ? Fate::answered : Fate::dropped;
                       }));
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  ASSERT_TRUE(a.working_variant.has_value());
  EXPECT_TRUE(is(*a.working_variant, Transport::tcp, 443));
  EXPECT_TRUE(contains(a.summary, "TCP 443")) << a.summary;
  ASSERT_FALSE(a.advice.empty());
  EXPECT_TRUE(contains(a.advice.front(), "OpenVPN over TCP on port 443")) << a.advice.front();
}

// When the reflector does not listen on the standard port, nothing is known
// about it; the summary must not tell the user this network blocks it.
TEST(AssessWireGuard, RestrictedDoesNotClaimAnUntestedStandardPortIsBlocked) {
  auto caps = fixtures::listening_on({443, 53}, {});
  auto a = assess_read(wireguard(), scenario(wireguard(), caps, everything(Fate::answered)));
  EXPECT_NE(a.verdict, Verdict::pass) << a.summary;
  EXPECT_NE(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_FALSE(contains(a.summary, "blocked on UDP 51820")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "UDP 443")) << a.summary;
}

// ---- outbound_only ------------------------------------------------------

TEST(AssessWireGuard, OutboundOnlyWhenProbesArriveButAnswersNeverComeBack) {
  auto a = assess_read(wireguard(), scenario(wireguard(), everything(Fate::arrived_only)));
  EXPECT_EQ(a.verdict, Verdict::outbound_only) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kReturnPathBlocked)) << joined(a.findings);
  EXPECT_FALSE(has_finding(a, finding::kPortBlocking)) << joined(a.findings);
  EXPECT_FALSE(a.working_variant.has_value());
  EXPECT_FALSE(a.advice.empty());
}

TEST(AssessWireGuard, OutboundOnlyWhenOnlyOneVariantArrivedAndTheRestWasDropped) {
  auto a = assess_read(wireguard(), scenario(wireguard(), [](const ProbeVariant& v, ProbeKind) {
                         return is(v, Transport::udp, 443) ? Fate::arrived_only : Fate::dropped;
                       }));
  EXPECT_EQ(a.verdict, Verdict::outbound_only) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kReturnPathBlocked));
}

TEST(AssessOpenVpn, OutboundOnlyWhenProbesArriveButAnswersNeverComeBack) {
  auto a = assess_read(openvpn(), scenario(openvpn(), everything(Fate::arrived_only)));
  EXPECT_EQ(a.verdict, Verdict::outbound_only) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kReturnPathBlocked)) << joined(a.findings);
}

TEST(AssessOpenVpn, AlteredReplyIsReportedAsAFinding) {
  auto a = assess_read(openvpn(), scenario(openvpn(), [](const ProbeVariant&, ProbeKind k) {
                         return k == ProbeKind::genuine ? Fate::altered_reply : Fate::answered;
                       }));
  EXPECT_NE(a.verdict, Verdict::pass) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kReplyAltered)) << joined(a.findings);
}

// The handshake of a TLS-wrapped probe met another certificate than the
// reflector's (src/run/tls_client.h): interception, said as such, never a pass,
// and not mistaken for a rewritten answer.
TEST(AssessOpenVpn, TlsInterceptionIsItsOwnFindingWithTheCertificateAsEvidence) {
  auto results = scenario(openvpn(), [](const ProbeVariant& v, ProbeKind) {
    return is(v, Transport::udp, 1194) ? Fate::dropped : Fate::answered;
  });
  for (auto& r : results) {
    if (r.probe.kind != ProbeKind::genuine || !is(r.probe.variant, Transport::tcp, 443)) continue;
    r.client.outcome = Outcome::invalid_reply;
    r.client.reply_fields["tls_intercepted"] = "true";
    r.client.reply_fields["tls_presented_sha256"] = std::string(64, 'c');
    r.arrivals.clear();
  }
  // TCP 1194 must fail too, or it would be the working alternative.
  for (auto& r : results)
    if (is(r.probe.variant, Transport::tcp, 1194)) {
      r.client.outcome = Outcome::timeout;
      r.arrivals.clear();
    }
  auto a = assess_read(openvpn(), std::move(results));
  EXPECT_EQ(a.verdict, Verdict::modified) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kTlsIntercepted)) << joined(a.findings);
  EXPECT_FALSE(has_finding(a, finding::kReplyAltered)) << joined(a.findings);
  EXPECT_TRUE(contains(a.summary, "TLS on TCP 443 is intercepted")) << a.summary;
  EXPECT_TRUE(contains(a.summary, std::string(64, 'c'))) << a.summary;
  EXPECT_FALSE(a.advice.empty());
}

// ---- blocked ------------------------------------------------------------

TEST(AssessWireGuard, BlockedByPortWhenControlsDieToo) {
  auto a = assess_read(wireguard(), scenario(wireguard(), everything(Fate::dropped)));
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kPortBlocking)) << joined(a.findings);
  EXPECT_FALSE(has_finding(a, finding::kSignatureBlocking)) << joined(a.findings);
  EXPECT_FALSE(has_finding(a, finding::kReturnPathBlocked)) << joined(a.findings);
  EXPECT_FALSE(a.working_variant.has_value());
  for (std::string_view port : {"UDP 51820", "UDP 443", "UDP 53"})
    EXPECT_TRUE(contains(a.summary, port)) << a.summary;
  ASSERT_FALSE(a.advice.empty());
  EXPECT_FALSE(contains(joined(a.advice), wireguard().advice_signature_blocked));
}

TEST(AssessWireGuard, BlockedBySignatureWhenSameSizeControlsArrive) {
  auto a = assess_read(wireguard(), scenario(wireguard(), [](const ProbeVariant&, ProbeKind k) {
                         return k == ProbeKind::control ? Fate::answered : Fate::dropped;
                       }));
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kSignatureBlocking)) << joined(a.findings);
  EXPECT_FALSE(has_finding(a, finding::kPortBlocking)) << joined(a.findings);
  EXPECT_TRUE(contains(a.summary, "signature")) << a.summary;
  EXPECT_TRUE(contains(joined(a.advice), wireguard().advice_signature_blocked)) << joined(a.advice);
}

TEST(AssessWireGuard, ControlsThatArriveUnansweredStillShowSignatureBlocking) {
  auto a = assess_read(wireguard(), scenario(wireguard(), [](const ProbeVariant&, ProbeKind k) {
                         return k == ProbeKind::control ? Fate::arrived_only : Fate::dropped;
                       }));
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kSignatureBlocking)) << joined(a.findings);
}

TEST(AssessOpenVpn, BlockedEverywhere) {
  auto a = assess_read(openvpn(), scenario(openvpn(), everything(Fate::dropped)));
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kPortBlocking)) << joined(a.findings);
  EXPECT_TRUE(contains(a.summary, "TCP 443")) << a.summary;
}

TEST(AssessOpenVpn, BlockedBySignatureWithResetsOnTcp) {
  // A DPI box that drops OpenVPN on UDP and injects RSTs on TCP, while random
  // bytes of the same size pass on every port.
  auto a = assess_read(openvpn(), scenario(openvpn(), [](const ProbeVariant& v, ProbeKind k) {
                         if (k == ProbeKind::control) return Fate::answered;
                         return v.transport == Transport::tcp ? Fate::reset : Fate::dropped;
                       }));
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kSignatureBlocking)) << joined(a.findings);
  EXPECT_TRUE(has_finding(a, finding::kConnectionReset)) << joined(a.findings);
  EXPECT_TRUE(contains(joined(a.advice), openvpn().advice_signature_blocked)) << joined(a.advice);
}

TEST(AssessWireGuard, BlockedSummaryNamesOnlyTheVariantsThatWereTried) {
  auto caps = fixtures::listening_on({51820, 443}, {});
  auto a = assess_read(wireguard(), scenario(wireguard(), caps, everything(Fate::dropped)));
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(contains(a.summary, "UDP 443")) << a.summary;
  EXPECT_FALSE(contains(a.summary, "UDP 53")) << a.summary;
}

// ---- inconclusive -------------------------------------------------------

TEST(AssessWireGuard, InconclusiveWhenNoVariantCouldRun) {
  auto a = assess_read(wireguard(), scenario(wireguard(), probes::Capabilities{}, everything(Fate::answered)));
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
  EXPECT_TRUE(contains(a.summary, "could not be tested")) << a.summary;
  EXPECT_FALSE(a.advice.empty());
  EXPECT_TRUE(a.findings.empty()) << joined(a.findings);
}

TEST(AssessOpenVpn, InconclusiveWhenNoVariantCouldRun) {
  auto a = assess_read(openvpn(), scenario(openvpn(), probes::Capabilities{}, everything(Fate::answered)));
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
}

TEST(AssessWireGuard, InconclusiveWhenObservationsUnreadAndNothingAnswered) {
  // Without the reflector's record a silent network cannot be called blocked:
  // the probes may have arrived and only the answers been lost.
  auto results = fixtures::without_arrivals(scenario(wireguard(), everything(Fate::arrived_only)));
  auto a = assess(wireguard(), std::move(results), false);
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
  EXPECT_FALSE(has_finding(a, finding::kPortBlocking)) << joined(a.findings);
  EXPECT_FALSE(has_finding(a, finding::kSignatureBlocking)) << joined(a.findings);
  EXPECT_TRUE(contains(a.summary, "could not be read")) << a.summary;
}

TEST(AssessOpenVpn, InconclusiveWhenObservationsUnreadAndNothingAnswered) {
  auto results = fixtures::without_arrivals(scenario(openvpn(), everything(Fate::dropped)));
  auto a = assess(openvpn(), std::move(results), false);
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
}

TEST(AssessWireGuard, ObservationsUnreadAndOnlyControlsAnsweredClaimsNoSignatureBlocking) {
  // The controls came back, the genuine probes did not; without the record of
  // arrivals the genuine ones may have arrived (outbound only) or not (DPI).
  auto results = fixtures::without_arrivals(scenario(wireguard(), [](const ProbeVariant&, ProbeKind k) {
    return k == ProbeKind::control ? Fate::answered : Fate::arrived_only;
  }));
  auto a = assess(wireguard(), std::move(results), false);
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
  EXPECT_FALSE(has_finding(a, finding::kSignatureBlocking)) << joined(a.findings);
  EXPECT_FALSE(contains(a.summary, "signature")) << a.summary;
}

TEST(AssessWireGuard, ObservationsUnreadButAnAlternativeAnsweredIsStillRestricted) {
  auto results = fixtures::without_arrivals(scenario(wireguard(), [](const ProbeVariant& v, ProbeKind) {
    return is(v, Transport::udp, 53) ? Fate::answered : Fate::dropped;
  }));
  auto a = assess(wireguard(), std::move(results), false);
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  EXPECT_FALSE(has_finding(a, finding::kPortBlocking)) << joined(a.findings);
}

// ---- helpers ------------------------------------------------------------

TEST(Verdict, StringsAreTheSchemaNames) {
  EXPECT_EQ(to_string(Verdict::pass), "pass");
  EXPECT_EQ(to_string(Verdict::restricted), "restricted");
  EXPECT_EQ(to_string(Verdict::outbound_only), "outbound_only");
  EXPECT_EQ(to_string(Verdict::blocked), "blocked");
  EXPECT_EQ(to_string(Verdict::modified), "modified");
  EXPECT_EQ(to_string(Verdict::inconclusive), "inconclusive");
}

TEST(Verdict, DescribeNamesTransportAndPort) {
  EXPECT_EQ(describe(ProbeVariant{Transport::udp, 51820, true}), "UDP 51820");
  EXPECT_EQ(describe(ProbeVariant{Transport::tcp, 443, false}), "TCP 443");
}

TEST(Verdict, ReachedReflectorAndAnswered) {
  auto results = scenario(wireguard(), [](const ProbeVariant& v, ProbeKind) {
    if (is(v, Transport::udp, 51820)) return Fate::answered;
    if (is(v, Transport::udp, 443)) return Fate::arrived_only;
    return Fate::dropped;
  });
  for (const auto& r : results) {
    const bool standard = is(r.probe.variant, Transport::udp, 51820);
    const bool v443 = is(r.probe.variant, Transport::udp, 443);
    EXPECT_EQ(answered(r), standard) << r.probe.name();
    EXPECT_EQ(reached_reflector(r), standard || v443) << r.probe.name();
  }
  auto unread = fixtures::without_arrivals(results);
  for (const auto& r : unread)
    EXPECT_EQ(reached_reflector(r), is(r.probe.variant, Transport::udp, 51820)) << r.probe.name();
}

// ---- add_alternatives ---------------------------------------------------

TEST(AddAlternatives, BlockedWireGuardIsToldOpenVpnOnTcp443Works) {
  std::vector<ProtocolAssessment> all;
  all.push_back(assess_read(wireguard(), scenario(wireguard(), everything(Fate::dropped))));
  all.push_back(assess_read(openvpn(), scenario(openvpn(), [](const ProbeVariant& v, ProbeKind) {
                              return is(v, Transport::tcp, 443) ? Fate::answered : Fate::dropped;
                            })));
  ASSERT_EQ(all[0].verdict, Verdict::blocked);
  ASSERT_EQ(all[1].verdict, Verdict::restricted);
  const auto openvpn_advice_before = all[1].advice;
  add_alternatives(all);
  EXPECT_TRUE(contains(joined(all[0].advice), "Works on this network instead: OpenVPN (TCP 443)."))
      << joined(all[0].advice);
  // OpenVPN is not offered itself, and WireGuard does not work anywhere: nothing to add.
  EXPECT_EQ(all[1].advice, openvpn_advice_before);
}

TEST(AddAlternatives, ListsEveryWorkingProtocolForEachFailingOne) {
  std::vector<ProtocolAssessment> all;
  all.push_back(assess_read(wireguard(), scenario(wireguard(), everything(Fate::arrived_only))));
  all.push_back(assess_read(openvpn(), scenario(openvpn(), everything(Fate::answered))));
  add_alternatives(all);
  EXPECT_EQ(all[0].verdict, Verdict::outbound_only);
  EXPECT_TRUE(contains(joined(all[0].advice), "Works on this network instead: OpenVPN (UDP 1194)."))
      << joined(all[0].advice);
  EXPECT_TRUE(all[1].advice.empty()) << joined(all[1].advice);  // pass gets no alternatives
}

TEST(AddAlternatives, InconclusiveAndPassingProtocolsGetNoAlternatives) {
  std::vector<ProtocolAssessment> all;
  all.push_back(assess_read(wireguard(), scenario(wireguard(), probes::Capabilities{}, everything(Fate::answered))));
  all.push_back(assess_read(openvpn(), scenario(openvpn(), everything(Fate::answered))));
  ASSERT_EQ(all[0].verdict, Verdict::inconclusive);
  add_alternatives(all);
  EXPECT_FALSE(contains(joined(all[0].advice), "instead")) << joined(all[0].advice);
  EXPECT_FALSE(contains(joined(all[1].advice), "instead")) << joined(all[1].advice);
}

TEST(AddAlternatives, NothingWorksMeansNoAlternativeLine) {
  std::vector<ProtocolAssessment> all;
  all.push_back(assess_read(wireguard(), scenario(wireguard(), everything(Fate::dropped))));
  all.push_back(assess_read(openvpn(), scenario(openvpn(), everything(Fate::dropped))));
  add_alternatives(all);
  for (const auto& a : all) EXPECT_FALSE(contains(joined(a.advice), "instead")) << joined(a.advice);
}

// ---- dual stack: one verdict per family -------------------------------------

namespace dual {
using fixtures::dual_stack_scenario;
using fixtures::listening_everywhere;

auto only_udp_443() {
  return [](const ProbeVariant& v, ProbeKind) { return is(v, Transport::udp, 443) ? Fate::answered : Fate::dropped; };
}
}  // namespace dual

TEST(AssessFamilies, EachFamilyIsAssessedOnItsOwnProbes) {
  auto results = dual::dual_stack_scenario(wireguard(), dual::listening_everywhere(),
                                           everything(Fate::answered), dual::only_udp_443());
  auto a = assess_families(wireguard(), results, true);
  ASSERT_EQ(a.families.size(), 2u);
  EXPECT_EQ(a.families[0].family, Family::ipv4);
  EXPECT_EQ(a.families[1].family, Family::ipv6);
  EXPECT_EQ(a.families[0].verdict, Verdict::pass);
  EXPECT_EQ(a.families[1].verdict, Verdict::restricted);
  ASSERT_TRUE(a.families[1].working_variant);
  EXPECT_EQ(describe(*a.families[1].working_variant), "UDP 443");
  for (const auto& f : a.families)
    for (const auto& p : f.probes) EXPECT_EQ(p.probe.family, *f.family);
  // Every family's probes stay listed at the top, for the reporters.
  EXPECT_EQ(a.probes.size(), results.size());
}

TEST(AssessFamilies, TopLevelVerdictIsTheIPv4One) {
  // IPv4 blocked, IPv6 open: the top level must still say what IPv4 does.
  auto results = dual::dual_stack_scenario(openvpn(), dual::listening_everywhere(), everything(Fate::dropped),
                                           everything(Fate::answered));
  auto a = assess_families(openvpn(), results, true);
  EXPECT_EQ(a.verdict, Verdict::blocked);
  EXPECT_EQ(a.summary, a.families[0].summary);
  EXPECT_FALSE(a.family.has_value());
  ASSERT_EQ(a.families.size(), 2u);
  EXPECT_EQ(a.families[1].verdict, Verdict::pass);
}

TEST(AssessFamilies, IPv6OnlyRunHasTheIPv6VerdictOnTop) {
  std::vector<ProbeResult> results;
  for (const auto& probe : make_plan({&openvpn()}, dual::listening_everywhere(), std::vector<Family>{Family::ipv6}))
    results.push_back(fixtures::make_result(probe, is(probe.variant, Transport::tcp, 443) ? Fate::answered
                                                                                          : Fate::dropped));
  auto a = assess_families(openvpn(), results, true);
  ASSERT_EQ(a.families.size(), 1u);
  EXPECT_EQ(a.families[0].family, Family::ipv6);
  EXPECT_EQ(a.verdict, Verdict::restricted);
  EXPECT_EQ(a.verdict, a.families[0].verdict);
}

TEST(AssessFamilies, OneFamilyIsTheSameAsAssess) {
  auto results = scenario(wireguard(), [](const ProbeVariant& v, ProbeKind) {
    return is(v, Transport::udp, 51820) ? Fate::arrived_only : Fate::dropped;
  });
  auto plain = assess(wireguard(), results, true);
  auto by_family = assess_families(wireguard(), results, true);
  EXPECT_EQ(by_family.verdict, plain.verdict);
  EXPECT_EQ(by_family.summary, plain.summary);
  EXPECT_EQ(by_family.advice, plain.advice);
  ASSERT_EQ(by_family.families.size(), 1u);
  EXPECT_EQ(by_family.families[0].family, Family::ipv4);
}

// ---- dispatch to a protocol's own rule (ProtocolModule::assess) ------------

probes::AlternativesRule handed_rule = nullptr;

ProtocolAssessment own_rule(const probes::ProtocolModule& module, std::vector<ProbeResult> results, bool,
                            probes::AlternativesRule alternatives) {
  handed_rule = alternatives;
  ProtocolAssessment a;
  a.module = &module;
  a.verdict = Verdict::modified;
  a.summary = "judged by the module's own rule";
  a.probes = std::move(results);
  return a;
}

TEST(AssessDispatch, AModuleWithItsOwnRuleIsAssessedByIt) {
  probes::ProtocolModule module = wireguard();
  module.assess = own_rule;
  handed_rule = nullptr;
  auto a = assess_read(module, scenario(module, everything(Fate::answered)));
  // The alternatives rule would say pass here.
  EXPECT_EQ(a.verdict, Verdict::modified);
  EXPECT_EQ(a.summary, "judged by the module's own rule");
  EXPECT_EQ(handed_rule, &assess_alternatives);
  EXPECT_EQ(a.probes.size(), 2 * module.variants.size());
}

TEST(AssessDispatch, AModuleWithoutARuleGetsTheAlternativesRule) {
  ASSERT_EQ(wireguard().assess, nullptr);
  for (auto fate : {Fate::answered, Fate::dropped, Fate::arrived_only}) {
    auto results = scenario(wireguard(), everything(fate));
    auto dispatched = assess_read(wireguard(), results);
    auto alternatives = assess_alternatives(wireguard(), results, true);
    EXPECT_EQ(dispatched.verdict, alternatives.verdict);
    EXPECT_EQ(dispatched.summary, alternatives.summary);
    EXPECT_EQ(dispatched.advice, alternatives.advice);
  }
}

TEST(AssessDispatch, EachFamilyIsAssessedByTheModulesOwnRule) {
  probes::ProtocolModule module = wireguard();
  module.assess = own_rule;
  auto results = fixtures::dual_stack_scenario(module, fixtures::listening_everywhere(), everything(Fate::answered),
                                               everything(Fate::answered));
  auto a = assess_families(module, results, true);
  ASSERT_EQ(a.families.size(), 2u);
  for (const auto& f : a.families) EXPECT_EQ(f.summary, "judged by the module's own rule");
}

}  // namespace
}  // namespace vpncheck::client
