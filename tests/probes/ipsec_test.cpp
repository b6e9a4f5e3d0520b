// The IPsec module (probes/ipsec.h): which message each piece builds, how the
// reflector side tells the pieces apart and what it reports, the NAT-T
// conversation, and the NAT evidence (IKE NAT detection, AH's ICV).
#include "probes/ipsec.h"

#include <gtest/gtest.h>

#include "probes/ike.h"
#include "probes/ip.h"
#include "probes/ipsec_esp.h"
#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::make_token;
using fixtures::seeded_fill;

const IpPort kLocal{{192, 168, 1, 10}, 500};
const IpPort kRemote{{203, 0, 113, 5}, 500};
const IpPort kPublic{{203, 0, 113, 1}, 1024};  // the NAT's mapping of kLocal

const ProbeVariant& variant(std::string_view piece) {
  for (const auto& v : ipsec::kModule.variants)
    if (v.piece == piece) return v;
  ADD_FAILURE() << "no piece " << piece;
  return ipsec::kModule.variants.front();
}

ProbeContext context_for(std::string_view piece, IpPort local = kLocal) {
  ProbeContext c;
  c.token = make_token(7);
  c.variant = variant(piece);
  c.local = local;
  c.remote = kRemote;
  if (c.variant.transport == Transport::ip) c.local.port = c.remote.port = 0;
  else c.remote.port = c.variant.port;
  return c;
}

ArrivalContext arrival_from(const IpPort& source, Transport transport = Transport::udp, std::uint16_t port = 500) {
  ArrivalContext a;
  a.transport = transport;
  a.source = source;
  a.destination = IpPort{kRemote.address, port};
  return a;
}

Bytes build(std::string_view piece, IpPort local = kLocal, std::uint32_t seed = 1) {
  return ipsec::kModule.build_request(context_for(piece, local), seeded_fill(seed));
}

TEST(IpsecModule, PiecesAndPlaces) {
  const auto& m = ipsec::kModule;
  EXPECT_EQ(m.id, "ipsec");
  EXPECT_EQ(m.title, "IPsec");
  ASSERT_EQ(m.variants.size(), 7U);
  EXPECT_EQ(m.variants.front().piece, "ikev2") << "the first variant is what piece-less callers build";
  for (const auto& v : m.variants) EXPECT_EQ(v.standard, v.piece != "ike-tcp") << v.piece;
  EXPECT_EQ(variant("ike-tcp").transport, Transport::tcp);
  EXPECT_EQ(variant("ike-tcp").port, 4500);
  EXPECT_EQ(variant("ike-tcp").framing, &ike::kTcpFraming);
  EXPECT_EQ(variant("ikev2").source_port, 500) << "real IKE clients send from UDP 500";
  EXPECT_EQ(variant("ikev1").port, 500);
  EXPECT_EQ(variant("nat-t").port, 4500);
  EXPECT_EQ(variant("esp").transport, Transport::ip);
  EXPECT_EQ(variant("esp").port, 50);
  EXPECT_EQ(variant("ah").port, 51);
  EXPECT_EQ(variant("ike-large").port, 500);
}

TEST(IpsecModule, EachPieceBuildsItsMessage) {
  auto v2 = build("ikev2");
  ASSERT_EQ(v2.size(), ike::kSaInitRequestSize);
  EXPECT_TRUE(ike::parse_sa_init(v2).has_value());
  EXPECT_EQ(build("ikev1"), ike::build_main_mode_1(make_token(7)));
  auto natt = build("nat-t");
  ASSERT_EQ(natt.size(), ike::kSaInitRequestSize + 4);
  EXPECT_EQ(ike::classify_udp4500(natt), ike::Udp4500Kind::ike);
  auto large = build("ike-large");
  EXPECT_EQ(large.size(), ike::kIkeAuthDefaultSize);
  EXPECT_TRUE(ike::parse_ike_auth(large).has_value());
  auto esp_datagram = build("esp");
  auto ip = ip::parse_ipv4(esp_datagram);
  ASSERT_TRUE(ip.has_value());
  EXPECT_EQ(ip->protocol, 50);
  EXPECT_TRUE(ip->checksum_valid);
  EXPECT_EQ(Bytes(ip->src.begin(), ip->src.end()), kLocal.address);
  EXPECT_EQ(Bytes(ip->dst.begin(), ip->dst.end()), kRemote.address);
  EXPECT_EQ(esp::parse_esp(ip->payload)->role, esp::Role::request);
  auto ah = esp::parse_ah_ipv4_datagram(build("ah"));
  ASSERT_TRUE(ah.has_value());
  EXPECT_TRUE(ah->icv_valid);
}

TEST(IpsecModule, RequestBeforeTheLocalAddressIsKnownHasTheFinalSize) {
  // The runner builds once before connecting (control probe size) and again after.
  IpPort unknown{{}, 0};
  for (auto piece : {"ikev2", "nat-t", "ike-tcp", "esp", "ah"})
    EXPECT_EQ(build(piece, unknown).size(), build(piece).size()) << piece;
}

TEST(IpsecModule, ReflectorNamesThePieceThatArrived) {
  const auto& m = ipsec::kModule;
  auto udp = arrival_from(kPublic);
  EXPECT_EQ(m.parse_request(build("ikev2"), udp)->piece, "ikev2");
  EXPECT_EQ(m.parse_request(build("ikev1"), udp)->piece, "ikev1");
  EXPECT_EQ(m.parse_request(build("ike-large"), udp)->piece, "ike-large");
  auto natt = m.parse_request(build("nat-t"), arrival_from(kPublic, Transport::udp, 4500));
  ASSERT_TRUE(natt.has_value());
  EXPECT_EQ(natt->piece, "nat-t");
  EXPECT_TRUE(natt->opens_flow) << "the keepalive that follows is attributed through this flow";
  auto raw = arrival_from(kPublic, Transport::ip, 0);
  EXPECT_EQ(m.parse_request(build("esp"), raw)->piece, "esp");
  EXPECT_EQ(m.parse_request(build("ah"), raw)->piece, "ah");
  // Raw datagrams are not UDP payloads and vice versa.
  EXPECT_FALSE(m.parse_request(build("esp"), udp).has_value());
  EXPECT_FALSE(m.parse_request(build("ikev2"), raw).has_value());
}

// IKEv2 over TCP: the message inside the RFC 8229 frame is the IKE_SA_INIT
// behind the non-ESP marker, answered in kind; only on TCP, only IKE_SA_INIT.
TEST(IpsecModule, IkeOverTcpIsAnIkeSaInitBehindTheMarker) {
  const auto& m = ipsec::kModule;
  const Bytes request = build("ike-tcp");
  ASSERT_EQ(request.size(), ike::kNonEspMarkerSize + ike::kSaInitRequestSize);
  EXPECT_EQ(Bytes(request.begin(), request.begin() + 4), Bytes(4, 0)) << "RFC 8229 §3 non-ESP marker";
  auto tcp = arrival_from(kPublic, Transport::tcp, 4500);
  auto parsed = m.parse_request(request, tcp);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->piece, "ike-tcp");
  EXPECT_EQ(parsed->token, make_token(7));
  EXPECT_EQ(parsed->fields.at("message"), "ike_sa_init");
  EXPECT_EQ(parsed->fields.at("nat_d_source_translated"), "yes") << "sent from kLocal, seen from kPublic";
  EXPECT_FALSE(parsed->opens_flow);
  const Bytes reply = m.build_reply(request, *parsed, tcp, seeded_fill(2));
  ASSERT_FALSE(reply.empty());
  EXPECT_LE(reply.size(), request.size());
  EXPECT_EQ(Bytes(reply.begin(), reply.begin() + 4), Bytes(4, 0)) << "the answer carries the marker too";
  EXPECT_TRUE(m.is_reply_to(reply, request));
  EXPECT_FALSE(m.parse_request(reply, tcp).has_value());
  // Over TCP nothing but a marked IKE_SA_INIT is taken: not a bare one, not
  // another piece's message; and the TCP piece's message is no UDP 500 probe.
  EXPECT_FALSE(m.parse_request(build("ikev2"), tcp).has_value());
  EXPECT_FALSE(m.parse_request(build("ikev1"), tcp).has_value());
  EXPECT_FALSE(m.parse_request(build("ike-large"), tcp).has_value());
  EXPECT_FALSE(m.parse_request(Bytes{0xff}, tcp).has_value()) << "no keepalive on TCP";
  EXPECT_TRUE(m.build_reply(build("ikev2"), *parsed, tcp, seeded_fill(2)).empty());
  EXPECT_EQ(m.parse_request(request, arrival_from(kPublic, Transport::udp, 4500))->piece, "nat-t")
      << "the same bytes on UDP 4500 are NAT-T's";
}

TEST(IpsecModule, ReflectorReportsTheNatDetectionResult) {
  const auto& m = ipsec::kModule;
  Bytes request = build("ikev2");
  auto direct = m.parse_request(request, arrival_from(kLocal));
  ASSERT_TRUE(direct.has_value());
  EXPECT_EQ(direct->fields.at("nat_d_source_translated"), "no");
  EXPECT_EQ(direct->fields.at("nat_d_source_expected"), direct->fields.at("nat_d_source_received"));
  EXPECT_EQ(direct->fields.at("observed_source_port"), "500");
  auto nat = m.parse_request(request, arrival_from(kPublic));
  ASSERT_TRUE(nat.has_value());
  EXPECT_EQ(nat->fields.at("nat_d_source_translated"), "yes");
  EXPECT_NE(nat->fields.at("nat_d_source_expected"), nat->fields.at("nat_d_source_received"));
  EXPECT_EQ(nat->fields.at("nat_d_source_expected").size(), 40U) << "SHA-1 as hex";
  EXPECT_EQ(nat->fields.at("observed_source_port"), "1024");
  EXPECT_EQ(nat->fields.at("spi_i"), to_hex(make_token(7).encode()));
}

// The client decides "behind NAT" exactly as an IKE initiator: the
// responder's NAT_DETECTION_DESTINATION_IP against its own address and port.
TEST(IpsecModule, ClientDecidesBehindNatFromTheResponse) {
  const auto& m = ipsec::kModule;
  ProbeContext context = context_for("ikev2");
  Bytes request = m.build_request(context, seeded_fill(1));
  for (const auto& [observed, behind] : {std::pair{kLocal, "no"}, std::pair{kPublic, "yes"}}) {
    auto arrival = arrival_from(observed);
    auto parsed = m.parse_request(request, arrival);
    ASSERT_TRUE(parsed.has_value());
    Bytes reply = m.build_reply(request, *parsed, arrival, seeded_fill(2));
    ASSERT_TRUE(m.is_reply_to(reply, request));
    Fields f = m.inspect_reply(reply, request, context);
    EXPECT_EQ(f.at("behind_nat"), behind);
    EXPECT_EQ(f.at("nat_d_destination_expected").size(), 40U);
    EXPECT_EQ(f.at("nat_d_destination_expected") == f.at("nat_d_destination_received"), std::string(behind) == "no");
    EXPECT_EQ(f.at("source_port"), "500");
    EXPECT_EQ(f.at("source_port_500"), "bound");
  }
  ProbeContext ephemeral = context_for("ikev2", IpPort{kLocal.address, 40000});
  Bytes request2 = m.build_request(ephemeral, seeded_fill(1));
  auto arrival = arrival_from(IpPort{kLocal.address, 40000});
  Bytes reply2 = m.build_reply(request2, *m.parse_request(request2, arrival), arrival, seeded_fill(2));
  Fields f2 = m.inspect_reply(reply2, request2, ephemeral);
  EXPECT_EQ(f2.at("source_port_500"), "unavailable");
  EXPECT_EQ(f2.at("behind_nat"), "no");
  // Other pieces report nothing of that kind.
  EXPECT_TRUE(m.inspect_reply(reply2, request2, context_for("ikev1")).empty());
}

TEST(IpsecModule, NatTConversationIkeThenEspThenKeepalive) {
  const auto& m = ipsec::kModule;
  ProbeContext context = context_for("nat-t");
  auto arrival = arrival_from(kPublic, Transport::udp, 4500);
  Bytes ike_request = m.build_request(context, seeded_fill(1));
  auto p0 = m.parse_request(ike_request, arrival);
  ASSERT_TRUE(p0.has_value());
  EXPECT_EQ(p0->fields.at("message"), "ike_sa_init");
  Bytes r0 = m.build_reply(ike_request, *p0, arrival, seeded_fill(2));
  EXPECT_EQ(ike::classify_udp4500(r0), ike::Udp4500Kind::ike) << "the answer keeps the non-ESP marker";
  ASSERT_TRUE(m.is_reply_to(r0, ike_request));

  auto esp_request = m.next_request(context, 0, ike_request, r0, seeded_fill(3));
  ASSERT_TRUE(esp_request.has_value());
  EXPECT_EQ(ike::classify_udp4500(*esp_request), ike::Udp4500Kind::esp) << "ESP-in-UDP, RFC 3948";
  auto p1 = m.parse_request(*esp_request, arrival);
  ASSERT_TRUE(p1.has_value());
  EXPECT_EQ(p1->piece, "nat-t");
  EXPECT_EQ(p1->fields.at("message"), "esp_in_udp");
  EXPECT_EQ(p1->fields.at("sequence"), "1");
  Bytes r1 = m.build_reply(*esp_request, *p1, arrival, seeded_fill(4));
  EXPECT_EQ(ike::classify_udp4500(r1), ike::Udp4500Kind::esp);
  ASSERT_TRUE(m.is_reply_to(r1, *esp_request));
  EXPECT_FALSE(m.is_reply_to(r1, ike_request));

  auto keepalive = m.next_request(context, 1, *esp_request, r1, seeded_fill(5));
  ASSERT_TRUE(keepalive.has_value());
  EXPECT_EQ(*keepalive, Bytes{0xff});
  EXPECT_FALSE(m.parse_request(*keepalive, arrival).has_value()) << "untagged: only attributable through its flow";
  arrival.flow_token = p0->token;
  auto p2 = m.parse_request(*keepalive, arrival);
  ASSERT_TRUE(p2.has_value());
  EXPECT_EQ(p2->token, make_token(7));
  EXPECT_EQ(p2->piece, "nat-t");
  EXPECT_EQ(p2->fields.at("message"), "keepalive");
  Bytes r2 = m.build_reply(*keepalive, *p2, arrival, seeded_fill(6));
  EXPECT_EQ(r2, Bytes{0xff});
  EXPECT_TRUE(m.is_reply_to(r2, *keepalive));
  EXPECT_FALSE(m.next_request(context, 2, *keepalive, r2, seeded_fill(7)).has_value());
  // Single-message pieces end after their first answer.
  EXPECT_FALSE(m.next_request(context_for("ikev2"), 0, ike_request, r0, seeded_fill(7)).has_value());
}

// Rewrites the source address of a whole IPv4 datagram as a NAT does
// (header checksum fixed up, nothing else touched).
Bytes nat_rewrite(Bytes datagram, const IpPort& public_address) {
  std::copy(public_address.address.begin(), public_address.address.end(), datagram.begin() + 12);
  datagram[10] = datagram[11] = 0;
  auto sum = ip::ipv4_checksum(ByteView(datagram).first(20));
  datagram[10] = static_cast<std::uint8_t>(sum >> 8);
  datagram[11] = static_cast<std::uint8_t>(sum & 0xff);
  return datagram;
}

TEST(IpsecModule, AhThroughNatArrivesWithABrokenIcv) {
  const auto& m = ipsec::kModule;
  auto raw = arrival_from(kPublic, Transport::ip, 0);
  Bytes request = build("ah");
  auto direct = m.parse_request(request, arrival_from(kLocal, Transport::ip, 0));
  ASSERT_TRUE(direct.has_value());
  EXPECT_EQ(direct->fields.at("icv_valid"), "yes");
  Bytes translated = nat_rewrite(request, kPublic);
  auto nat = m.parse_request(translated, raw);
  ASSERT_TRUE(nat.has_value());
  EXPECT_EQ(nat->fields.at("icv_valid"), "no") << "AH's ICV covers the source address a NAT rewrites";
  EXPECT_EQ(nat->token, make_token(7));
  // Still answered, to the observed address, from the reflector's address.
  Bytes reply = m.build_reply(translated, *nat, raw, seeded_fill(3));
  auto ah = esp::parse_ah_ipv4_datagram(reply);
  ASSERT_TRUE(ah.has_value());
  EXPECT_EQ(Bytes(ah->dst.begin(), ah->dst.end()), kPublic.address);
  EXPECT_EQ(Bytes(ah->src.begin(), ah->src.end()), kRemote.address);
  EXPECT_TRUE(m.is_reply_to(reply, request));
}

TEST(IpsecModule, RawEspAnsweredToTheObservedAddress) {
  const auto& m = ipsec::kModule;
  auto raw = arrival_from(kPublic, Transport::ip, 0);
  Bytes request = build("esp");
  Bytes translated = nat_rewrite(request, kPublic);
  auto parsed = m.parse_request(translated, raw);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->fields.at("sequence"), "1");
  EXPECT_EQ(parsed->fields.at("spi").size(), 8U);
  Bytes reply = m.build_reply(translated, *parsed, raw, seeded_fill(3));
  ASSERT_EQ(reply.size(), request.size());
  auto ip = ip::parse_ipv4(reply);
  ASSERT_TRUE(ip.has_value());
  EXPECT_TRUE(ip->checksum_valid);
  EXPECT_EQ(ip->protocol, 50);
  EXPECT_EQ(Bytes(ip->dst.begin(), ip->dst.end()), kPublic.address);
  EXPECT_EQ(Bytes(ip->src.begin(), ip->src.end()), kRemote.address);
  EXPECT_TRUE(m.is_reply_to(reply, request));
  EXPECT_FALSE(m.is_reply_to(request, request));
  EXPECT_FALSE(m.parse_request(reply, raw).has_value()) << "a reply is never a request";
}

TEST(IpsecModule, LargeIkeGetsASameSizeAnswer) {
  const auto& m = ipsec::kModule;
  Bytes request = build("ike-large");
  auto arrival = arrival_from(kPublic);
  auto parsed = m.parse_request(request, arrival);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->fields.at("size"), "2600");
  Bytes reply = m.build_reply(request, *parsed, arrival, seeded_fill(2));
  EXPECT_EQ(reply.size(), request.size());
  EXPECT_TRUE(m.is_reply_to(reply, request));
  EXPECT_FALSE(m.is_reply_to(ByteView(reply).first(1400), request)) << "a lost fragment is no answer";
}

TEST(IpsecModule, AdviceNamesTheMissingPiece) {
  const auto& m = ipsec::kModule;
  EXPECT_NE(m.advice_use_variant(variant("nat-t")).find("UDP 4500"), std::string::npos);
  EXPECT_NE(m.advice_use_variant(variant("ike-large")).find("RFC 7383"), std::string::npos);
  EXPECT_NE(m.advice_use_variant(variant("ah")).find("NAT"), std::string::npos);
}

}  // namespace
}  // namespace vpncheck::probes
