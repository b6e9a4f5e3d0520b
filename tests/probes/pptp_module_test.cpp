// The pptp protocol module (probes/pptp_module.h): its two pieces as the
// reflector's demux and the client see them, on byte vectors.
#include "probes/pptp_module.h"

#include <gtest/gtest.h>

#include "probes/gre.h"
#include "probes/ip.h"
#include "probes/pptp.h"
#include "probes/pptp_server.h"
#include "probes/registry.h"
#include "test_support.h"

namespace vpncheck::probes::pptp {
namespace {

using fixtures::make_token;
using fixtures::seeded_fill;

const Bytes kClient{198, 51, 100, 7};
const Bytes kReflector{203, 0, 113, 5};

ArrivalContext tcp_arrival(std::uint16_t source_port) {
  ArrivalContext a;
  a.transport = Transport::tcp;
  a.source = IpPort{kClient, source_port};
  a.destination = IpPort{kReflector, kControlPort};
  return a;
}

// GRE keyed 0x4321 from kClient: the reflector's call table knows that call
// (with the client's Call ID `client_call_id`) or, for nullopt, none.
ArrivalContext gre_arrival(std::optional<std::uint16_t> client_call_id) {
  static CallTable calls;
  calls = CallTable{};
  if (client_call_id) calls.add(kClient, 0x4321, CallTable::Call{make_token(3), *client_call_id, 0, 40001}, 0);
  ArrivalContext a;
  a.transport = Transport::ip;
  a.source = IpPort{kClient, 0};
  a.destination = IpPort{kReflector, 47};
  a.state = &calls;
  return a;
}

TEST(PptpModule, IsRegisteredWithTwoPieces) {
  EXPECT_EQ(find_protocol("pptp"), &kModule);
  EXPECT_EQ(kModule.title, "PPTP");
  ASSERT_EQ(kModule.variants.size(), 2u);
  EXPECT_EQ(kModule.variants[0].piece, "control");
  EXPECT_EQ(kModule.variants[0].transport, Transport::tcp);
  EXPECT_EQ(kModule.variants[0].port, 1723);
  EXPECT_EQ(kModule.variants[1].piece, "gre");
  EXPECT_EQ(kModule.variants[1].transport, Transport::ip);
  EXPECT_EQ(kModule.variants[1].port, 47);
  EXPECT_EQ(kModule.variants[0].framing, nullptr) << "PPTP frames itself by its Length field";
}

TEST(PptpModule, OcrqFieldsSayWhetherTheCallIdWasRewritten) {
  ProbeToken token = make_token(3);
  Bytes ocrq = build_ocrq(token, 0x1234, 1);
  auto same = kModule.parse_request(ocrq, tcp_arrival(40001));
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->token, token);
  EXPECT_EQ(same->piece, "control");
  EXPECT_EQ(same->fields.at("call_id_rewritten"), "false");
  EXPECT_EQ(same->fields.at("linux_pptp_helper"), "false");

  ocrq[12] = 0x9c;  // Call ID := 40001 (0x9c41), the NATed TCP source port
  ocrq[13] = 0x41;
  auto helper = kModule.parse_request(ocrq, tcp_arrival(40001));
  ASSERT_TRUE(helper.has_value());
  EXPECT_EQ(helper->fields.at("call_id"), "40001");
  EXPECT_EQ(helper->fields.at("original_call_id"), "4660");
  EXPECT_EQ(helper->fields.at("call_id_rewritten"), "true");
  EXPECT_EQ(helper->fields.at("linux_pptp_helper"), "true");
  auto other = kModule.parse_request(ocrq, tcp_arrival(50000));
  EXPECT_EQ(other->fields.at("linux_pptp_helper"), "false");

  Bytes ocrp = kModule.build_reply(ocrq, *helper, tcp_arrival(40001), seeded_fill(1));
  auto reply = parse(ocrp);
  ASSERT_EQ(reply.status, ParseStatus::complete);
  EXPECT_EQ(reply.message.peer_call_id, 40001) << "answers the Call ID as it arrived";
  EXPECT_NE(reply.message.call_id, 0);
}

TEST(PptpModule, UntaggedMessagesNeedTheirConnectionsToken) {
  Bytes stop = build_stop_ccrq();
  EXPECT_FALSE(kModule.parse_request(stop, tcp_arrival(1)).has_value());
  auto arrival = tcp_arrival(1);
  arrival.flow_token = make_token(9);
  auto parsed = kModule.parse_request(stop, arrival);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->token, make_token(9));
  EXPECT_TRUE(is_stop_ccrp_reply_to(kModule.build_reply(stop, *parsed, arrival, seeded_fill(1)), stop));
  EXPECT_TRUE(kModule.parse_request(build_sccrq(make_token(9)), arrival)->opens_flow);
}

TEST(PptpModule, GreIsAnsweredToTheCallsClientCallIdAsAWholeDatagram) {
  ProbeToken token = make_token(5);
  Bytes probe = build_gre_datagram(token, 0x4321, IpPort{kClient, 0}, IpPort{kReflector, 0});
  auto parsed = kModule.parse_request(probe, gre_arrival(40001));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->token, token);
  EXPECT_EQ(parsed->piece, "gre");
  EXPECT_EQ(parsed->fields.at("call_id"), std::to_string(0x4321));
  EXPECT_EQ(parsed->fields.at("call_known"), "true");
  EXPECT_EQ(parsed->fields.at("answered_call_id"), "40001");

  Bytes reply = kModule.build_reply(probe, *parsed, gre_arrival(40001), seeded_fill(1));
  ASSERT_FALSE(reply.empty());
  EXPECT_LE(reply.size(), probe.size());
  EXPECT_EQ(Bytes(reply.begin() + 12, reply.begin() + 16), kReflector);
  EXPECT_EQ(Bytes(reply.begin() + 16, reply.begin() + 20), kClient);
  EXPECT_TRUE(is_gre_reply_datagram(reply, probe, 40001));
  EXPECT_FALSE(is_gre_reply_datagram(reply, probe, 40002));
  EXPECT_TRUE(kModule.is_reply_to(reply, probe));
  EXPECT_FALSE(kModule.parse_request(reply, gre_arrival(40001)).has_value()) << "no ping-pong";
}

TEST(PptpModule, GreWithoutAKnownCallIsRecordedButNotAnswered) {
  Bytes probe = build_gre_datagram(make_token(5), 0x4321, IpPort{kClient, 0}, IpPort{kReflector, 0});
  auto parsed = kModule.parse_request(probe, gre_arrival(std::nullopt));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->fields.at("call_known"), "false");
  EXPECT_TRUE(kModule.build_reply(probe, *parsed, gre_arrival(std::nullopt), seeded_fill(1)).empty());
}

TEST(PptpModule, TheGreVariantBuildsAWholeIpv4Datagram) {
  ProbeContext context = default_context(kModule, make_token(5));
  context.variant = kModule.variants[1];
  context.local = IpPort{kClient, 0};
  context.remote = IpPort{kReflector, 0};
  Bytes d = kModule.build_request(context, seeded_fill(1));
  auto v4 = ip::parse_ipv4(d);
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->protocol, 47);
  auto probe = gre::parse_probe(v4->payload);
  ASSERT_TRUE(probe.has_value());
  EXPECT_EQ(probe->token, make_token(5));
}

TEST(PptpModule, AdviceNamesEachPiece) {
  EXPECT_NE(kModule.advice_use_variant(kModule.variants[0]).find("TCP 1723"), std::string::npos);
  EXPECT_NE(kModule.advice_use_variant(kModule.variants[1]).find("GRE (IP protocol 47)"), std::string::npos);
}


// Over IPv6 the GRE piece is a whole IPv6 datagram (probes/ip.h), answered
// the same way to the observed source from the address it was sent to.
TEST(PptpModule, GreOverIpv6IsAWholeIpv6DatagramAnsweredToTheCallsClientCallId) {
  Bytes client6(16, 0), reflector6(16, 0);
  client6[0] = reflector6[0] = 0x20;
  client6[1] = reflector6[1] = 0x01;
  client6[15] = 0x10;
  reflector6[15] = 0x05;
  ProbeToken token = make_token(6);
  Bytes probe = build_gre_datagram(token, 0x4321, IpPort{client6, 0}, IpPort{reflector6, 0});
  auto v6 = ip6::parse(probe);
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->next_header, 47);
  EXPECT_EQ(Bytes(v6->src.begin(), v6->src.end()), client6);
  EXPECT_EQ(Bytes(v6->dst.begin(), v6->dst.end()), reflector6);
  ASSERT_TRUE(ip::payload(probe, 47).has_value());
  EXPECT_EQ(gre::parse_probe(*ip::payload(probe, 47))->token, token);
  EXPECT_FALSE(ip::payload(probe, 50).has_value()) << "another next header";
  EXPECT_FALSE(ip::payload(ByteView(probe).first(probe.size() - 1), 47).has_value()) << "truncated";
  EXPECT_FALSE(ip::parse_ipv4(probe).has_value());
  EXPECT_TRUE(ip::datagram(kClient, reflector6, 47, Bytes{1}).empty()) << "mixed families";

  ArrivalContext arrival;
  arrival.transport = Transport::ip;
  arrival.source = IpPort{client6, 0};
  arrival.destination = IpPort{reflector6, 47};
  CallTable calls;
  calls.add(client6, 0x4321, CallTable::Call{make_token(3), 40001, 0, 40001}, 0);
  arrival.state = &calls;
  auto parsed = kModule.parse_request(probe, arrival);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->piece, "gre");
  EXPECT_EQ(parsed->fields.at("answered_call_id"), "40001");
  Bytes reply = kModule.build_reply(probe, *parsed, arrival, seeded_fill(1));
  ASSERT_FALSE(reply.empty());
  EXPECT_LE(reply.size(), probe.size());
  auto rip = ip6::parse(reply);
  ASSERT_TRUE(rip.has_value());
  EXPECT_EQ(Bytes(rip->src.begin(), rip->src.end()), reflector6);
  EXPECT_EQ(Bytes(rip->dst.begin(), rip->dst.end()), client6);
  EXPECT_TRUE(is_gre_reply_datagram(reply, probe, 40001));
  EXPECT_FALSE(is_gre_reply_datagram(reply, probe, 40002));
  EXPECT_TRUE(kModule.is_reply_to(reply, probe));
  EXPECT_FALSE(kModule.parse_request(reply, arrival).has_value()) << "no ping-pong";
}

}  // namespace
}  // namespace vpncheck::probes::pptp
