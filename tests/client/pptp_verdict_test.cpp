// The PPTP verdict rule (probes/pptp_assess.cpp): every outcome, from
// hand-built probe results of the pptp module's two pieces.
#include <gtest/gtest.h>

#include "client_fixtures.h"
#include "probes/pptp_module.h"
#include "src/run/exchange.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;
using fixtures::Fate;
using fixtures::has_finding;
using fixtures::joined;
using probes::ProbeVariant;
using probes::Transport;

const probes::ProtocolModule& pptp_module() { return probes::pptp::kModule; }

// Fates for the control connection (genuine and random control probe on TCP 1723) and GRE.
std::vector<ProbeResult> run(Fate control, Fate gre, Fate random = Fate::answered) {
  return fixtures::scenario(pptp_module(), [=](const ProbeVariant& v, ProbeKind k) {
    if (v.transport == Transport::ip) return gre;
    return k == ProbeKind::control ? random : control;
  });
}

ProbeResult& piece(std::vector<ProbeResult>& results, std::string_view name, ProbeKind kind = ProbeKind::genuine) {
  for (auto& r : results)
    if (r.probe.variant.piece == name && r.probe.kind == kind) return r;
  throw std::runtime_error("no such probe");
}

// What the reflector records for an OCRQ whose Call ID an ALG (or nothing) rewrote.
void add_ocrq(std::vector<ProbeResult>& results, std::string seen, std::string original, bool linux_helper) {
  auto& control = piece(results, "control");
  probes::Observation o = control.arrivals.empty() ? probes::Observation{} : control.arrivals.front();
  o.fields = {{"message_type", "OCRQ"},
              {"call_id", seen},
              {"original_call_id", original},
              {"call_id_rewritten", seen == original ? "false" : "true"},
              {"linux_pptp_helper", linux_helper ? "true" : "false"}};
  control.arrivals.push_back(o);
}

bool mentions_security(const ProtocolAssessment& a) {
  return std::find(a.advice.begin(), a.advice.end(), probes::pptp::kSecurityAdvice) != a.advice.end();
}
bool advises_passthrough(const ProtocolAssessment& a) { return contains(joined(a.advice), "PPTP passthrough"); }

ProtocolAssessment assess_pptp_read(std::vector<ProbeResult> results) {
  return assess(pptp_module(), std::move(results), true);
}

TEST(AssessPptp, IsTheRegisteredRuleForPptp) { EXPECT_EQ(pptp_module().assess, &probes::pptp::assess); }

TEST(AssessPptp, PassWhenControlAndGreWorkBothWays) {
  auto a = assess_pptp_read(run(Fate::answered, Fate::answered));
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  EXPECT_TRUE(contains(a.summary, "TCP 1723")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "GRE")) << a.summary;
  EXPECT_TRUE(mentions_security(a)) << joined(a.advice);
  EXPECT_FALSE(advises_passthrough(a)) << joined(a.advice);
  ASSERT_TRUE(a.working_variant.has_value());
  EXPECT_EQ(a.working_variant->port, 1723);
}

TEST(AssessPptp, PassSaysWhenTheLinuxHelperRewroteTheCallId) {
  auto results = run(Fate::answered, Fate::answered);
  add_ocrq(results, "40001", "4660", true);
  auto a = assess_pptp_read(std::move(results));
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  EXPECT_TRUE(contains(a.summary, "rewrote the OCRQ's Call ID (4660 -> 40001)")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "Linux PPTP conntrack helper")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "IPv4 only")) << a.summary;
}

TEST(AssessPptp, ARewriteByAnotherAlgIsNotCalledTheLinuxHelper) {
  auto results = run(Fate::answered, Fate::answered);
  add_ocrq(results, "21845", "4660", false);
  auto a = assess_pptp_read(std::move(results));
  EXPECT_TRUE(contains(a.summary, "rewrote the OCRQ's Call ID")) << a.summary;
  EXPECT_FALSE(contains(a.summary, "Linux")) << a.summary;
}

TEST(AssessPptp, OutboundOnlyWhenGreArrivesButTheAnswerNeverComesBack) {
  auto results = run(Fate::answered, Fate::arrived_only);
  add_ocrq(results, "4660", "4660", false);
  auto a = assess_pptp_read(std::move(results));
  EXPECT_EQ(a.verdict, Verdict::outbound_only) << a.summary;
  EXPECT_TRUE(contains(a.summary, "no PPTP passthrough")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "Call ID arrived unchanged")) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kReturnPathBlocked)) << joined(a.findings);
  EXPECT_TRUE(advises_passthrough(a)) << joined(a.advice);
  EXPECT_TRUE(contains(joined(a.advice), "IPv4 only")) << joined(a.advice);
  EXPECT_TRUE(mentions_security(a)) << joined(a.advice);
}

TEST(AssessPptp, OutboundOnlyOnARoutedPathNamesTheFirewallNotANat) {
  auto results = run(Fate::answered, Fate::arrived_only);
  // The reflector saw the control connection from this host's own address and port: no NAT.
  auto& control = piece(results, "control");
  for (auto& o : control.arrivals) o.source = *control.client.local;
  auto a = assess_pptp_read(std::move(results));
  EXPECT_EQ(a.verdict, Verdict::outbound_only) << a.summary;
  EXPECT_TRUE(contains(a.summary, "stateful firewall on this routed path")) << a.summary;
  EXPECT_FALSE(contains(a.summary, "NAT has")) << a.summary;
  EXPECT_TRUE(contains(joined(a.advice), "GRE (IP protocol 47) from the VPN server")) << joined(a.advice);
  EXPECT_FALSE(advises_passthrough(a)) << joined(a.advice);
  EXPECT_TRUE(has_finding(a, finding::kReturnPathBlocked));
}

TEST(AssessPptp, BlockedWhenTcp1723Fails) {
  auto a = assess_pptp_read(run(Fate::dropped, Fate::dropped, Fate::dropped));
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(contains(a.summary, "TCP 1723")) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kPortBlocking)) << joined(a.findings);
  EXPECT_TRUE(advises_passthrough(a)) << joined(a.advice);
  EXPECT_TRUE(mentions_security(a)) << joined(a.advice);
}

TEST(AssessPptp, BlockedByContentWhenRandomBytesOnTcp1723GetThrough) {
  auto a = assess_pptp_read(run(Fate::dropped, Fate::dropped, Fate::answered));
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kSignatureBlocking)) << joined(a.findings);
}

TEST(AssessPptp, BlockedWhenControlWorksButGreDoesNotGetOut) {
  auto a = assess_pptp_read(run(Fate::answered, Fate::dropped));
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(contains(a.summary, "control connection works")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "GRE (IP protocol 47) does not get out")) << a.summary;
  EXPECT_TRUE(contains(joined(a.advice), "Allow GRE")) << joined(a.advice);
}

TEST(AssessPptp, InconclusiveWithoutRawPrivilege) {
  auto results = run(Fate::answered, Fate::answered);
  auto& gre = piece(results, "gre");
  gre.client = ClientSide{};
  gre.client.outcome = Outcome::not_permitted;
  gre.client.detail = std::string(kRawPrivilegeHint);
  gre.arrivals.clear();
  auto a = assess_pptp_read(std::move(results));
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
  EXPECT_TRUE(contains(a.summary, "control connection works")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "GRE (IP protocol 47) could not be tested")) << a.summary;
  EXPECT_TRUE(contains(joined(a.advice), "setcap")) << joined(a.advice);
  EXPECT_TRUE(mentions_security(a)) << joined(a.advice);
}

TEST(AssessPptp, InconclusiveWhenTheReflectorHasNoRawGre) {
  probes::Capabilities caps = fixtures::listening_everywhere();
  caps.raw_protocols.clear();
  auto a = assess_pptp_read(fixtures::scenario(pptp_module(), caps, [](const ProbeVariant&, ProbeKind) {
    return Fate::answered;
  }));
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
  EXPECT_TRUE(contains(a.summary, "no raw GRE")) << a.summary;
}

TEST(AssessPptp, InconclusiveWhenTheReflectorDoesNotListenOn1723) {
  probes::Capabilities caps = fixtures::listening_everywhere();
  caps.tcp_ports.clear();
  auto a = assess_pptp_read(fixtures::scenario(pptp_module(), caps, [](const ProbeVariant&, ProbeKind) {
    return Fate::answered;
  }));
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
  EXPECT_TRUE(contains(a.summary, "1723")) << a.summary;
}

TEST(AssessPptp, InconclusiveWhenGreIsUnansweredAndObservationsUnread) {
  auto results = fixtures::without_arrivals(run(Fate::answered, Fate::arrived_only));
  auto a = assess(pptp_module(), std::move(results), false);
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
}

TEST(AssessPptp, ModifiedWhenTheGreAnswerIsNotValid) {
  auto a = assess_pptp_read(run(Fate::answered, Fate::altered_reply));
  EXPECT_EQ(a.verdict, Verdict::modified) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kReplyAltered)) << joined(a.findings);
}

TEST(AssessPptp, OutboundOnlyWhenTheControlConversationBreaksAfterArriving) {
  auto a = assess_pptp_read(run(Fate::arrived_only, Fate::dropped));
  EXPECT_EQ(a.verdict, Verdict::outbound_only) << a.summary;
}

TEST(AssessPptp, Ipv6NotesThatTheHelperIsIpv4Only) {
  auto caps = fixtures::listening_everywhere();
  auto results = fixtures::dual_stack_scenario(
      pptp_module(), caps, [](const ProbeVariant&, ProbeKind) { return Fate::answered; },
      [](const ProbeVariant&, ProbeKind) { return Fate::answered; });
  // Routed IPv6 (no NAT66, no NAT64): its probes arrive from the client's own address.
  for (auto& r : results)
    if (r.probe.family == Family::ipv6)
      for (auto& o : r.arrivals) o.source.address = "2001:db8:1::10";
  auto a = assess_families(pptp_module(), results, true);
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  ASSERT_EQ(a.families.size(), 2u);
  const auto& v6 = a.families[1];
  EXPECT_EQ(v6.verdict, Verdict::inconclusive) << v6.summary;  // raw GRE runs over IPv4 only
  EXPECT_TRUE(contains(joined(v6.advice), "IPv4-only")) << joined(v6.advice);
}

// An IPv6 control connection that arrived over IPv4 crossed a NAT64: the
// advice is about the translator, not about IPv6 routers.
TEST(AssessPptp, BehindNat64TheAdviceNamesTheTranslator) {
  auto results = run(Fate::answered, Fate::dropped);
  for (auto& r : results) {
    r.probe.family = Family::ipv6;
    for (auto& o : r.arrivals) o.source.address = "203.0.113.1";
  }
  ASSERT_FALSE(piece(results, "control").arrivals.empty());
  auto a = assess_pptp_read(results);
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(contains(joined(a.advice), "Behind a NAT64 GRE must cross the translator")) << joined(a.advice);
  EXPECT_FALSE(contains(joined(a.advice), "gets no help from routers")) << joined(a.advice);
  for (auto& r : results)
    for (auto& o : r.arrivals) o.source.address = "2001:db8:1::10";
  a = assess_pptp_read(results);
  EXPECT_TRUE(contains(joined(a.advice), "gets no help from routers")) << joined(a.advice);
  EXPECT_FALSE(contains(joined(a.advice), "NAT64")) << joined(a.advice);
}

}  // namespace
}  // namespace vpncheck::client
