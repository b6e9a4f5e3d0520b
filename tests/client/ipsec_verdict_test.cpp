// The IPsec verdict rule (probes/ipsec_assess.cpp): one test per
// outcome, on results built with the real plan (client_fixtures.h).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "client_fixtures.h"
#include "probes/ipsec.h"
#include "probes/l2tp_ipsec.h"

namespace vpncheck::client {
namespace {

using namespace fixtures;

const probes::ProtocolModule& ipsec_module() { return probes::ipsec::kModule; }

// A reflector with every UDP port and raw ESP/AH listeners.
probes::Capabilities full_reflector() {
  probes::Capabilities caps;
  for (const auto* module : probes::all_protocols())
    for (const auto& v : module->variants)
      if (v.transport == probes::Transport::udp) caps.udp_ports.push_back(v.port);
  caps.raw_protocols = {"esp", "ah"};
  return caps;
}

struct Network {
  std::map<std::string, Fate> genuine;  // by piece; missing: answered
  std::map<std::string, Fate> control;  // by piece; missing: answered
  bool nat = true;
  bool raw_permitted = true;
  probes::Capabilities caps = full_reflector();
};

std::vector<ProbeResult> run(const Network& net) {
  auto results = scenario(ipsec_module(), net.caps, [&](const probes::ProbeVariant& v, ProbeKind kind) {
    const auto& table = kind == ProbeKind::genuine ? net.genuine : net.control;
    auto it = table.find(std::string(v.piece));
    return it == table.end() ? Fate::answered : it->second;
  });
  for (auto& r : results) {
    if (r.probe.kind != ProbeKind::genuine) continue;
    const auto piece = r.probe.variant.piece;
    if (!net.raw_permitted && r.probe.variant.transport == probes::Transport::ip && !r.probe.not_run_reason) {
      r.client.outcome = Outcome::not_permitted;
      r.client.detail = "raw IP probes need CAP_NET_RAW";
      r.arrivals.clear();
      continue;
    }
    for (auto& a : r.arrivals) {
      if (!net.nat) a.source.address = std::string(kLocalAddress);
      if (piece == "ah") a.fields["icv_valid"] = net.nat ? "no" : "yes";
      if (piece == "ikev2") a.fields["nat_d_source_translated"] = net.nat ? "yes" : "no";
    }
    if (piece == "ikev2" && r.client.outcome == Outcome::reply) r.client.reply_fields["behind_nat"] = net.nat ? "yes" : "no";
  }
  return results;
}

ProtocolAssessment judge(const Network& net, bool observations_read = true) {
  auto results = run(net);
  if (!observations_read) results = without_arrivals(std::move(results));
  return assess(ipsec_module(), std::move(results), observations_read);
}

TEST(IpsecVerdict, IsTheModulesOwnRule) {
  EXPECT_EQ(ipsec_module().assess, &probes::ipsec::assess);
}

TEST(IpsecVerdict, EverythingWorksBehindNatPasses) {
  Network net;
  net.genuine["ah"] = Fate::answered;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  EXPECT_TRUE(contains(a.summary, "NAT detection sees a NAT")) << a.summary;
  ASSERT_TRUE(a.working_variant.has_value());
  EXPECT_EQ(a.working_variant->piece, "ikev2");
}

TEST(IpsecVerdict, BehindNatPassesViaNatTWhenRawEspIsBlocked) {
  Network net;
  net.genuine["esp"] = Fate::dropped;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  EXPECT_TRUE(contains(a.summary, "raw ESP is not needed")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "Raw ESP (IP protocol 50) is blocked")) << a.summary;
}

TEST(IpsecVerdict, BehindNatWithoutNatTIsBlockedAndNamesUdp4500) {
  Network net;
  net.genuine["nat-t"] = Fate::dropped;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(contains(a.summary, "UDP 4500 is blocked: IPsec behind NAT needs NAT-T")) << a.summary;
  EXPECT_TRUE(contains(joined(a.advice), "UDP 4500")) << joined(a.advice);
}

TEST(IpsecVerdict, BehindNatNatTWithoutAnswersIsOutboundOnly) {
  Network net;
  net.genuine["nat-t"] = Fate::arrived_only;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::outbound_only) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kReturnPathBlocked));
  EXPECT_TRUE(contains(joined(a.advice), "UDP 4500"));
}

TEST(IpsecVerdict, IkeAndNatTBlockedIsBlockedByPort) {
  Network net;
  for (auto p : {"ikev2", "ikev1", "nat-t", "ike-large"}) net.genuine[p] = net.control[p] = Fate::dropped;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kPortBlocking));
  EXPECT_FALSE(has_finding(a, finding::kSignatureBlocking));
  EXPECT_TRUE(contains(joined(a.advice), "UDP 500")) << joined(a.advice);
  EXPECT_FALSE(has_finding(a, finding::kFragmentsDropped)) << "no small IKE worked either";
}

TEST(IpsecVerdict, IkeBlockedByContentIsSignatureBlocking) {
  Network net;
  for (auto p : {"ikev2", "ikev1", "nat-t", "ike-large"}) net.genuine[p] = Fate::dropped;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kSignatureBlocking));
  EXPECT_TRUE(contains(joined(a.advice), "DPI"));
}

TEST(IpsecVerdict, Udp500BlockedButNatTWorksIsRestricted) {
  Network net;
  for (auto p : {"ikev2", "ikev1", "ike-large"}) net.genuine[p] = net.control[p] = Fate::dropped;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  ASSERT_TRUE(a.working_variant.has_value());
  EXPECT_EQ(a.working_variant->port, 4500);
  EXPECT_TRUE(contains(joined(a.advice), "UDP 4500"));
}

TEST(IpsecVerdict, IkeAnswersDroppedIsOutboundOnly) {
  Network net;
  for (auto p : {"ikev2", "ikev1", "nat-t", "ike-large"}) net.genuine[p] = Fate::arrived_only;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::outbound_only) << a.summary;
}

TEST(IpsecVerdict, IkeAnswersAlteredIsModified) {
  Network net;
  for (auto p : {"ikev2", "ikev1", "nat-t"}) net.genuine[p] = Fate::altered_reply;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::modified) << a.summary;
}

TEST(IpsecVerdict, NoNatRawEspIsEnough) {
  Network net;
  net.nat = false;
  net.genuine["nat-t"] = Fate::dropped;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  EXPECT_TRUE(contains(a.summary, "no NAT")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "raw ESP")) << a.summary;
}

TEST(IpsecVerdict, NoNatNatTAloneIsRestrictedAndNamesTheFirewall) {
  // Without NAT IKE stays on UDP 500 and clients send raw ESP, which is dropped.
  Network net;
  net.nat = false;
  net.genuine["esp"] = Fate::dropped;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  EXPECT_TRUE(contains(a.summary, "firewall on this routed path drops")) << a.summary;
  EXPECT_FALSE(contains(a.summary, "the NAT")) << a.summary;
  EXPECT_TRUE(contains(joined(a.advice), "encap = yes")) << joined(a.advice);
  EXPECT_TRUE(contains(joined(a.advice), "Windows, macOS and iOS")) << joined(a.advice);
  EXPECT_FALSE(has_finding(a, finding::kReturnPathBlocked));
  ASSERT_TRUE(a.working_variant);
  EXPECT_EQ(a.working_variant->piece, "nat-t");
}

TEST(IpsecVerdict, NoNatEspWhoseAnswersDoNotComeBackIsRestrictedToo) {
  Network net;
  net.nat = false;
  net.genuine["esp"] = Fate::arrived_only;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  EXPECT_TRUE(contains(a.summary, "stateful firewall")) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kReturnPathBlocked));
}

TEST(IpsecVerdict, NoNatNatTWorksButRawEspUntestedIsInconclusive) {
  Network net;
  net.nat = false;
  net.raw_permitted = false;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
  EXPECT_TRUE(contains(a.summary, "could not be tested")) << a.summary;
  EXPECT_TRUE(contains(joined(a.advice), "CAP_NET_RAW")) << joined(a.advice);
}

TEST(IpsecVerdict, BehindNatRawEspDoesNotMatter) {
  Network net;
  net.genuine["esp"] = Fate::dropped;
  EXPECT_EQ(judge(net).verdict, Verdict::pass);
}

TEST(IpsecVerdict, NoNatWithoutEspOrNatTIsBlocked) {
  Network net;
  net.nat = false;
  net.genuine["nat-t"] = net.genuine["esp"] = Fate::dropped;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(contains(joined(a.advice), "IP protocol 50")) << joined(a.advice);
}

TEST(IpsecVerdict, RawWithoutPrivilegeIsInconclusiveButTheRestDecides) {
  Network net;
  net.raw_permitted = false;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  EXPECT_TRUE(contains(a.summary, "Not tested, so inconclusive")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "CAP_NET_RAW")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "ESP (IP protocol 50)")) << a.summary;
}

TEST(IpsecVerdict, RawWithoutTheReflectorsListenerIsSaid) {
  Network net;
  net.caps.raw_protocols.clear();
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  EXPECT_TRUE(contains(a.summary, "no raw")) << a.summary;
}

TEST(IpsecVerdict, NoNatNoRawAndNoNatTIsInconclusive) {
  Network net;
  net.nat = false;
  net.raw_permitted = false;
  net.genuine["nat-t"] = Fate::dropped;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
}

TEST(IpsecVerdict, LargeIkeLostIsAFragmentFinding) {
  Network net;
  net.genuine["ike-large"] = net.control["ike-large"] = Fate::dropped;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::pass) << "IKEv2 fragmentation (on by default in strongSwan) avoids it";
  EXPECT_TRUE(has_finding(a, finding::kFragmentsDropped));
  EXPECT_TRUE(contains(joined(a.advice), "RFC 7383")) << joined(a.advice);
  EXPECT_TRUE(contains(joined(a.advice), "fragmentation=yes")) << joined(a.advice);
  EXPECT_TRUE(contains(a.summary, "drops IP fragments")) << a.summary;
}

TEST(IpsecVerdict, AhThroughNatIsAPieceFindingNotAFailure) {
  Network net;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::pass);
  EXPECT_TRUE(has_finding(a, finding::kAhModified));
  EXPECT_TRUE(contains(a.summary, "AH (IP protocol 51) is modified")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "does not decide the verdict")) << a.summary;
  EXPECT_TRUE(contains(joined(a.advice), "AH cannot cross NAT")) << joined(a.advice);
  EXPECT_TRUE(contains(joined(a.advice), "ESP with NAT-T")) << joined(a.advice);
  Network direct;
  direct.nat = false;
  EXPECT_FALSE(has_finding(judge(direct), finding::kAhModified));
}

TEST(IpsecVerdict, ReportsWhatHappenedToSourcePort500) {
  auto with_ports = [](std::uint16_t local, std::uint16_t observed) {
    auto results = run(Network{});
    for (auto& r : results)
      if (r.probe.variant.piece == "ikev2" && r.probe.kind == ProbeKind::genuine) {
        r.client.local->port = local;
        r.arrivals.front().source.port = observed;
      }
    return assess(ipsec_module(), std::move(results), true).summary;
  };
  EXPECT_TRUE(contains(with_ports(500, 500), "UDP source port 500 was kept")) << with_ports(500, 500);
  EXPECT_TRUE(contains(with_ports(500, 1024), "UDP source port 500 was rewritten to 1024"));
  EXPECT_TRUE(contains(with_ports(40000, 40000), "could not be sent from UDP source port 500"));
}

TEST(IpsecVerdict, ReflectorWithoutIkePortsIsInconclusive) {
  Network net;
  net.caps.udp_ports = {51820};
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
  EXPECT_TRUE(contains(joined(a.advice), "UDP 500"));
}

TEST(IpsecVerdict, NothingAnsweredAndNoObservationsIsInconclusive) {
  Network net;
  for (auto p : {"ikev2", "ikev1", "nat-t", "ike-large", "esp", "ah"}) net.genuine[p] = net.control[p] = Fate::dropped;
  auto a = judge(net, false);
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
}

// ---- L2TP/IPsec without NAT: the built-in clients send raw ESP ---------------

ProtocolAssessment l2tp_passing() { return assess(l2tp(), scenario(l2tp(), everything(Fate::answered)), true); }

TEST(L2tpIpsecWithoutNat, RawEspAnsweredPasses) {
  Network net;
  net.nat = false;
  auto ipsec = judge(net);
  ASSERT_EQ(ipsec.verdict, Verdict::pass) << ipsec.summary;
  auto a = probes::l2tp_ipsec::combine(l2tp_passing(), ipsec, false);
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  EXPECT_TRUE(contains(a.summary, "ESP then carries")) << a.summary;
}

TEST(L2tpIpsecWithoutNat, RawEspLostIsRestrictedLikeIpsec) {
  Network net;
  net.nat = false;
  net.genuine["esp"] = Fate::dropped;
  auto ipsec = judge(net);
  ASSERT_EQ(ipsec.verdict, Verdict::restricted) << ipsec.summary;  // only a client forced to NAT-T works
  auto a = probes::l2tp_ipsec::combine(l2tp_passing(), ipsec, false);
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  EXPECT_TRUE(contains(a.summary, "ESP (IP protocol 50)")) << a.summary;
  EXPECT_TRUE(contains(joined(a.advice), "encap = yes")) << joined(a.advice);
  // Behind NAT the clients use NAT-T: raw ESP does not matter.
  net.nat = true;
  EXPECT_EQ(probes::l2tp_ipsec::combine(l2tp_passing(), judge(net), true).verdict, Verdict::pass);
}

TEST(L2tpIpsecWithoutNat, RawEspNotTestedIsInconclusiveAndSaysWhy) {
  Network net;
  net.nat = false;
  net.raw_permitted = false;
  auto ipsec = judge(net);
  ASSERT_EQ(ipsec.verdict, Verdict::inconclusive) << ipsec.summary;
  auto a = probes::l2tp_ipsec::combine(l2tp_passing(), ipsec, false);
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
  EXPECT_TRUE(contains(a.summary, "CAP_NET_RAW")) << a.summary;
}

// ---- IKEv2 over TCP 4500 (RFC 8229): the fallback when UDP fails ----

// A reflector that also listens on TCP 4500, as vpncheck-reflector does by default.
Network with_tcp() {
  Network net;
  net.caps.tcp_ports = {4500};
  return net;
}

void block_udp_ike(Network& net, Fate fate = Fate::dropped) {
  for (auto p : {"ikev2", "ikev1", "nat-t", "ike-large"}) net.genuine[p] = net.control[p] = fate;
}

TEST(IpsecVerdict, IkeOverTcpPassingChangesNothingOnACleanPath) {
  Network net = with_tcp();
  auto a = judge(net);
  auto before = judge(Network{});
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  EXPECT_EQ(a.summary, before.summary);
  EXPECT_EQ(a.advice, before.advice);
  ASSERT_TRUE(a.working_variant.has_value());
  EXPECT_EQ(a.working_variant->piece, "ikev2");
  bool tcp_planned_and_answered = false;
  for (const auto& r : a.probes)
    if (r.probe.variant.piece == "ike-tcp" && r.probe.kind == ProbeKind::genuine)
      tcp_planned_and_answered = r.client.outcome == Outcome::reply;
  EXPECT_TRUE(tcp_planned_and_answered);
}

TEST(IpsecVerdict, OnlyIkeOverTcpGettingThroughIsRestrictedWithItsSettings) {
  Network net = with_tcp();
  block_udp_ike(net);
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  ASSERT_TRUE(a.working_variant.has_value());
  EXPECT_EQ(a.working_variant->piece, "ike-tcp");
  EXPECT_EQ(a.working_variant->transport, probes::Transport::tcp);
  EXPECT_EQ(a.working_variant->port, 4500);
  EXPECT_TRUE(contains(a.summary, "IKEv2 over TCP 4500 (RFC 8229) works")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "over UDP.")) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kPortBlocking)) << "why UDP failed is still reported";
  const std::string advice = joined(a.advice);
  ASSERT_FALSE(a.advice.empty());
  EXPECT_TRUE(contains(a.advice.front(), "enable-tcp=fallback")) << advice;
  EXPECT_TRUE(contains(a.advice.front(), "tcp-remoteport=4500")) << advice;
  EXPECT_TRUE(contains(a.advice.front(), "listen-tcp=yes")) << advice;
  EXPECT_TRUE(contains(advice, "strongSwan does not support")) << advice;
  EXPECT_TRUE(contains(advice, "UDP 500")) << "allowing UDP still helps every other client: " << advice;
}

TEST(IpsecVerdict, IkeOverTcpBlockedTooIsBlockedAndSaysSo) {
  Network net = with_tcp();
  block_udp_ike(net);
  net.genuine["ike-tcp"] = net.control["ike-tcp"] = Fate::dropped;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(contains(a.summary, "IKEv2 over TCP 4500 (RFC 8229), the fallback, is blocked too")) << a.summary;
  EXPECT_FALSE(contains(joined(a.advice), "enable-tcp")) << joined(a.advice);
}

TEST(IpsecVerdict, IkeOverTcpRescuesOutboundOnlyAndModifiedUdp) {
  for (Fate fate : {Fate::arrived_only, Fate::altered_reply}) {
    Network net = with_tcp();
    block_udp_ike(net, fate);
    auto a = judge(net);
    EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
    ASSERT_TRUE(a.working_variant.has_value());
    EXPECT_EQ(a.working_variant->piece, "ike-tcp");
  }
}

TEST(IpsecVerdict, IkeOverTcpCarriesEspWhereNatTIsBlocked) {
  // IKE on UDP 500 works, but behind NAT UDP 4500 is blocked: over UDP no
  // tunnel comes up; over TCP IKE and ESP share the connection.
  Network net = with_tcp();
  net.genuine["nat-t"] = net.control["nat-t"] = Fate::dropped;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  EXPECT_TRUE(contains(a.summary, "UDP 4500 is blocked")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "no tunnel can come up over UDP.")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "carries ESP in the same connection")) << a.summary;
}

TEST(IpsecVerdict, IkeOverTcpOnlyArrivingRescuesNothing) {
  Network net = with_tcp();
  block_udp_ike(net);
  net.genuine["ike-tcp"] = Fate::arrived_only;
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(contains(a.summary, "gets no answer too")) << a.summary;
}

TEST(IpsecVerdict, IkeOverTcpUntestedLeavesTheUdpVerdict) {
  Network net;  // a reflector without TCP 4500 (an older one)
  block_udp_ike(net);
  auto a = judge(net);
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_FALSE(contains(a.summary, "TCP")) << a.summary;
}

}  // namespace
}  // namespace vpncheck::client
