// Raw ESP and AH over IPv6: the IPv6 header codec, AH's ICV over the IPv6
// header with its mutable fields zeroed (RFC 4302 §3.3.3.1.2), and the ipsec
// module's raw pieces over IPv6 (whole IPv6 datagrams, probes/ip.h).
#include "probes/ip.h"

#include <gtest/gtest.h>

#include "probes/ipsec.h"
#include "probes/ipsec_esp.h"
#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::counter_fill;
using fixtures::expect_truncations_refused;
using fixtures::hex;
using fixtures::make_token;
using fixtures::seeded_fill;
using fixtures::with_byte;

ip6::Address addr(std::string_view h) {
  auto b = hex(h);
  return *ip6::address_from(b);
}

const ip6::Address kClient = addr("20010db8000100000000000000000010");     // 2001:db8:1::10
const ip6::Address kReflector = addr("20010db8000200000000000000000005");  // 2001:db8:2::5
const ip6::Address kOther = addr("20010db8000300000000000000000007");      // 2001:db8:3::7

Bytes bytes_of(const ip6::Address& a) { return {a.begin(), a.end()}; }

// ---- the IPv6 header ----------------------------------------------------------

TEST(Ipv6Header, BuildsAndParsesTheFixedHeader) {
  Bytes d = ip6::datagram(kClient, kReflector, 50, 64, 0xb8, hex("01020304"));
  EXPECT_EQ(d, hex("6b800000" "0004" "32" "40" "20010db8000100000000000000000010"
                   "20010db8000200000000000000000005" "01020304"));
  auto p = ip6::parse(d);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->traffic_class, 0xb8);
  EXPECT_EQ(p->flow_label, 0U);
  EXPECT_EQ(p->next_header, 50);
  EXPECT_EQ(p->hop_limit, 64);
  EXPECT_EQ(p->src, kClient);
  EXPECT_EQ(p->dst, kReflector);
  EXPECT_EQ(Bytes(p->payload.begin(), p->payload.end()), hex("01020304"));
}

TEST(Ipv6Header, RejectsWrongVersionLengthAndTruncation) {
  Bytes d = ip6::datagram(kClient, kReflector, 50, 64, 0, hex("0102030405"));
  expect_truncations_refused(d, [&](ByteView v) { return ip6::parse(v); });
  Bytes v4 = d;
  v4[0] = 0x45;
  EXPECT_FALSE(ip6::parse(v4));
  Bytes longer = d;
  longer.push_back(0);  // payload length field no longer matches
  EXPECT_FALSE(ip6::parse(longer));
  EXPECT_TRUE(ip6::datagram(kClient, kReflector, 50, 64, 0, Bytes(ip6::kMaxPayload + 1)).empty());
  EXPECT_FALSE(ip6::address_from(hex("c0a8010a")).has_value());
}

TEST(Ipv6Header, HeaderForIcvZeroesOnlyTheMutableFields) {
  Bytes d = ip6::datagram(kClient, kReflector, 51, 61, 0xff, hex("aabb"));
  d[1] |= 0x0a;  // some flow label bits
  d[3] = 0x77;
  Bytes h = ip6::header_for_icv(d);
  EXPECT_EQ(h, hex("60000000" "0002" "33" "00" "20010db8000100000000000000000010"
                   "20010db8000200000000000000000005"));
  EXPECT_TRUE(ip6::header_for_icv(hex("60")).empty());
}

// ---- AH over IPv6 -------------------------------------------------------------

Bytes default_ah6() { return esp::build_ah_ipv6_datagram(kClient, kReflector, 64, make_token(0x0102), counter_fill()); }

// Independently computed with Python (struct + hmac + hashlib): key =
// SHA-256("vpncheck ah" | token)[:20], ICV = HMAC-SHA1-96 over the IPv6 header
// with traffic class, flow label and hop limit zeroed, AH with ICV zeroed, rest.
TEST(Ah6Codec, BuildsGoldenDatagram) {
  Bytes expected = hex(
      "60000000" "0054" "33" "40"                                  // IPv6: payload 84, next header 51, hop 64
      "20010db8000100000000000000000010" "20010db8000200000000000000000005"
      "29040000" "f94f4079" "00000001"                             // AH: next 41 (IPv6), len 4, SPI, seq 1
      "2c1fce32ff6c2da554bebc4a"                                   // ICV
      "60000000" "0014" "3b" "40"                                  // inner IPv6: payload 20, next header 59
      "20010db8000100000000000000000010" "20010db8000200000000000000000005"
      "a1a2a3a4a5a60102" "000102030405060708090a0b");              // token, random
  ASSERT_EQ(expected.size(), esp::kAh6DatagramSize);
  EXPECT_EQ(default_ah6(), expected);
  auto icv = esp::ah_icv_ipv6(expected, make_token(0x0102));
  ASSERT_TRUE(icv.has_value());
  EXPECT_EQ(to_hex(*icv), "2c1fce32ff6c2da554bebc4a");
}

TEST(Ah6Codec, ParsesDatagram) {
  auto p = esp::parse_ah_ipv6_datagram(default_ah6());
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->src, kClient);
  EXPECT_EQ(p->dst, kReflector);
  EXPECT_EQ(p->hop_limit, 64);
  EXPECT_EQ(p->spi, 0xf94f4079U);
  EXPECT_EQ(p->sequence, 1U);
  EXPECT_EQ(p->token, make_token(0x0102));
  EXPECT_EQ(p->role, esp::Role::request);
  EXPECT_TRUE(p->icv_valid);
  EXPECT_FALSE(esp::parse_ah_ipv4_datagram(default_ah6()).has_value());
}

TEST(Ah6Codec, IcvSurvivesMutableFieldsButNotAddressOrPayloadChanges) {
  Bytes d = default_ah6();
  // What a receiver rebuilds from a raw socket: other hop limit and traffic
  // class, flow label 0 (the sender's may differ): still valid.
  Bytes routed = d;
  routed[0] = 0x6b;
  routed[1] = 0x8f;
  routed[2] = 0x12;
  routed[3] = 0x34;
  routed[7] = 57;
  auto ok = esp::parse_ah_ipv6_datagram(routed);
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(ok->icv_valid);
  EXPECT_EQ(ok->hop_limit, 57);

  Bytes moved = d;  // a rewritten source address (NPTv6 or similar)
  std::copy(kOther.begin(), kOther.end(), moved.begin() + 8);
  auto broken = esp::parse_ah_ipv6_datagram(moved);
  ASSERT_TRUE(broken.has_value());
  EXPECT_FALSE(broken->icv_valid);
  EXPECT_EQ(broken->token, make_token(0x0102)) << "still attributed";

  Bytes dst_changed = d;
  dst_changed[39] ^= 1;
  EXPECT_FALSE(esp::parse_ah_ipv6_datagram(dst_changed)->icv_valid);
  Bytes payload_changed = d;
  payload_changed.back() ^= 1;
  EXPECT_FALSE(esp::parse_ah_ipv6_datagram(payload_changed)->icv_valid);
}

TEST(Ah6Codec, RejectsTruncatedAndMalformedDatagrams) {
  Bytes d = default_ah6();
  expect_truncations_refused(d, [&](ByteView v) { return esp::parse_ah_ipv6_datagram(v).has_value(); });
  Bytes longer = d;
  longer.push_back(0);
  longer[5] = static_cast<std::uint8_t>(longer.size() - 40);
  EXPECT_FALSE(esp::parse_ah_ipv6_datagram(longer).has_value());
  auto reject = [&](std::size_t offset, std::uint8_t value, const char* what) {
    EXPECT_FALSE(esp::parse_ah_ipv6_datagram(with_byte(d, offset, value)).has_value()) << what;
  };
  reject(0, 0x45, "version 4");
  reject(5, 0x53, "payload length");
  reject(6, 50, "next header ESP");
  reject(40, 4, "AH next header IPIP");
  reject(41, 5, "AH payload length");
  Bytes low_spi = d;
  low_spi[44] = low_spi[45] = low_spi[46] = 0;
  EXPECT_FALSE(esp::parse_ah_ipv6_datagram(low_spi).has_value());
  reject(51, 0, "sequence 0");
  reject(64, 0x45, "inner not IPv6");
  reject(69, 0x15, "inner payload length");
}

TEST(Ah6Codec, ReplyFromReflectorToObservedAddress) {
  Bytes request = default_ah6();
  Bytes reply = esp::build_ah_ipv6_reply(request, kReflector, kOther, 64, counter_fill(0x80));
  EXPECT_EQ(reply, hex("600000000054334020010db800020000000000000000000520010db8000300000000000000000007"
                       "29040000ea20739900000001466477986781f3a74a632595"
                       "6000000000143b4020010db800020000000000000000000520010db8000300000000000000000007"
                       "a1a2a3a4a5a60102808182838485868788898a8b"));  // Python
  EXPECT_LE(reply.size(), request.size());
  auto p = esp::parse_ah_ipv6_datagram(reply);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->icv_valid);
  EXPECT_EQ(p->role, esp::Role::reply);
  EXPECT_TRUE(esp::is_ah_reply_to(reply, request));
  EXPECT_FALSE(esp::is_ah_reply_to(request, request));
  EXPECT_FALSE(esp::is_ah_reply_to(reply, reply));
  EXPECT_TRUE(esp::build_ah_ipv6_reply(reply, kReflector, kOther, 64, counter_fill()).empty()) << "never answers a reply";
  Bytes v4_request = esp::build_ah_ipv4_datagram({192, 168, 1, 10}, {203, 0, 113, 5}, 1, 64, make_token(0x0102),
                                                 counter_fill());
  EXPECT_FALSE(esp::is_ah_reply_to(reply, v4_request)) << "an IPv6 answer does not answer an IPv4 request";
  EXPECT_FALSE(esp::is_ah_reply_to(
      esp::build_ah_ipv4_reply(v4_request, {203, 0, 113, 5}, {192, 168, 1, 10}, 1, 64, counter_fill()), request));
}

// ---- the ipsec module's raw pieces over IPv6 ----------------------------------

ProbeContext context6(std::string_view piece, bool local_known = true) {
  ProbeContext c;
  c.token = make_token(9);
  for (const auto& v : ipsec::kModule.variants)
    if (v.piece == piece) c.variant = v;
  if (local_known) c.local = IpPort{bytes_of(kClient), 0};
  c.remote = IpPort{bytes_of(kReflector), 0};
  return c;
}

ArrivalContext raw_arrival6(const ip6::Address& source) {
  ArrivalContext a;
  a.transport = Transport::ip;
  a.source = IpPort{bytes_of(source), 0};
  a.destination = IpPort{bytes_of(kReflector), 0};
  return a;
}

TEST(IpsecModuleOverIpv6, EspIsAWholeIpv6DatagramAnsweredToTheObservedSource) {
  const auto& m = ipsec::kModule;
  Bytes request = m.build_request(context6("esp"), seeded_fill(1));
  auto ip = ip6::parse(request);
  ASSERT_TRUE(ip.has_value());
  EXPECT_EQ(ip->next_header, ip::kEsp);
  EXPECT_EQ(ip->src, kClient);
  EXPECT_EQ(ip->dst, kReflector);
  EXPECT_EQ(esp::parse_esp(ip->payload)->role, esp::Role::request);
  EXPECT_EQ(m.build_request(context6("esp", false), seeded_fill(1)).size(), request.size())
      << "built before the local address is known: same size";

  auto parsed = m.parse_request(request, raw_arrival6(kClient));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->piece, "esp");
  EXPECT_EQ(parsed->token, make_token(9));
  Bytes reply = m.build_reply(request, *parsed, raw_arrival6(kClient), seeded_fill(2));
  ASSERT_EQ(reply.size(), request.size());
  auto rip = ip6::parse(reply);
  ASSERT_TRUE(rip.has_value());
  EXPECT_EQ(rip->src, kReflector);
  EXPECT_EQ(rip->dst, kClient);
  EXPECT_EQ(rip->next_header, ip::kEsp);
  EXPECT_TRUE(m.is_reply_to(reply, request));
  EXPECT_FALSE(m.is_reply_to(request, request));
  EXPECT_FALSE(m.parse_request(reply, raw_arrival6(kReflector)).has_value()) << "a reply is never a request";

  // The same ESP bytes behind another next header are not ESP.
  Bytes relabelled = request;
  relabelled[6] = ip::kAh;
  EXPECT_FALSE(m.parse_request(relabelled, raw_arrival6(kClient)).has_value());
  Bytes reply_relabelled = reply;
  reply_relabelled[6] = 47;
  EXPECT_FALSE(m.is_reply_to(reply_relabelled, request));
}

TEST(IpsecModuleOverIpv6, AhIcvValidWithoutTranslationAndReplySigned) {
  const auto& m = ipsec::kModule;
  Bytes request = m.build_request(context6("ah"), seeded_fill(1));
  ASSERT_EQ(request.size(), esp::kAh6DatagramSize);
  auto parsed = m.parse_request(request, raw_arrival6(kClient));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->piece, "ah");
  EXPECT_EQ(parsed->fields.at("icv_valid"), "yes") << "no NAT66: the ICV over the IPv6 header holds";
  Bytes reply = m.build_reply(request, *parsed, raw_arrival6(kClient), seeded_fill(2));
  EXPECT_LE(reply.size(), request.size());
  auto ah = esp::parse_ah_ipv6_datagram(reply);
  ASSERT_TRUE(ah.has_value());
  EXPECT_TRUE(ah->icv_valid);
  EXPECT_EQ(ah->src, kReflector);
  EXPECT_EQ(ah->dst, kClient);
  EXPECT_TRUE(m.is_reply_to(reply, request));

  // Sent before the local address was known (zeros), then rebuilt: the
  // first form's ICV does not hold for the real source.
  Bytes early = m.build_request(context6("ah", false), seeded_fill(1));
  ASSERT_EQ(early.size(), request.size());
  std::copy(kClient.begin(), kClient.end(), early.begin() + 8);
  EXPECT_EQ(m.parse_request(early, raw_arrival6(kClient))->fields.at("icv_valid"), "no");
}

// ---- AH over IPv6 through a NAT64 -------------------------------------------

// What an IP/ICMP translator (RFC 7915) does to a datagram whose payload it
// does not know: a new header of the other family, the payload as it was.
Bytes translate_to_ipv4(ByteView v6, const ip::Ipv4Address& src, const ip::Ipv4Address& dst) {
  auto p = ip6::parse(v6);
  return p ? ip::ipv4_datagram(src, dst, p->next_header, p->payload, 0x1234, p->hop_limit - 1) : Bytes{};
}
Bytes translate_to_ipv6(ByteView v4, const ip6::Address& src, const ip6::Address& dst) {
  auto p = ip::parse_ipv4(v4);
  return p ? ip6::datagram(src, dst, p->protocol, p->ttl - 1, 0, p->payload) : Bytes{};
}

const ip::Ipv4Address kNatPublic{203, 0, 113, 1};
const ip::Ipv4Address kReflector4{203, 0, 113, 5};

ArrivalContext raw_arrival4(const ip::Ipv4Address& source) {
  ArrivalContext a;
  a.transport = Transport::ip;
  a.source = IpPort{Bytes(source.begin(), source.end()), 0};
  a.destination = IpPort{Bytes(kReflector4.begin(), kReflector4.end()), 0};
  return a;
}

TEST(IpsecModuleThroughNat64, TranslatedAhIsRecognisedWithItsIcvBrokenAndAnsweredInKind) {
  const auto& m = ipsec::kModule;
  Bytes request6 = m.build_request(context6("ah"), seeded_fill(1));
  Bytes request4 = translate_to_ipv4(request6, kNatPublic, kReflector4);
  ASSERT_EQ(request4.size(), esp::kAh64DatagramSize);
  EXPECT_FALSE(esp::parse_ah_ipv4_datagram(request4)) << "its inner datagram is IPv6, not IPv4";
  auto parsed = m.parse_request(request4, raw_arrival4(kNatPublic));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->piece, "ah");
  EXPECT_EQ(parsed->fields.at("icv_valid"), "no") << "the ICV covered the IPv6 header the translator replaced";
  EXPECT_EQ(parsed->token, esp::parse_ah_ipv6_datagram(request6)->token);

  Bytes reply4 = m.build_reply(request4, *parsed, raw_arrival4(kNatPublic), seeded_fill(2));
  ASSERT_FALSE(reply4.empty());
  EXPECT_LE(reply4.size(), request4.size());
  auto out = ip::parse_ipv4(reply4);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->src, kReflector4);
  EXPECT_EQ(out->dst, kNatPublic);
  // Back through the translator it is the AH-over-IPv6 answer the client waits for.
  Bytes reply6 = translate_to_ipv6(reply4, kReflector, kClient);
  EXPECT_TRUE(m.is_reply_to(reply6, request6));
  auto ah = esp::parse_ah_ipv6_datagram(reply6);
  ASSERT_TRUE(ah.has_value());
  EXPECT_FALSE(ah->icv_valid);
}

TEST(IpsecModuleThroughNat64, TranslatedAhRejectsMalformedDatagrams) {
  Bytes request4 = translate_to_ipv4(esp::build_ah_ipv6_datagram(kClient, kReflector, 64, make_token(0x0102),
                                                                  counter_fill()),
                                     kNatPublic, kReflector4);
  ASSERT_TRUE(esp::parse_ah_translated_datagram(request4));
  expect_truncations_refused(request4, [](ByteView v) { return esp::parse_ah_translated_datagram(v); });
  const std::size_t ah = ip::kIpv4HeaderSize;
  EXPECT_FALSE(esp::parse_ah_translated_datagram(with_byte(request4, ah, 4))) << "next header IPv4: the other form";
  EXPECT_FALSE(esp::parse_ah_translated_datagram(with_byte(request4, ah + 1, 5))) << "AH length";
  EXPECT_FALSE(esp::parse_ah_translated_datagram(with_byte(request4, ah + esp::kAhSize, 0x45))) << "inner not IPv6";
  EXPECT_FALSE(esp::parse_ah_translated_datagram(with_byte(request4, 9, 50))) << "not AH";
  Bytes longer = request4;
  longer.push_back(0);
  EXPECT_FALSE(esp::parse_ah_translated_datagram(longer));
  // An IPv4 AH request is no translated one, and gets no translated answer.
  Bytes native = esp::build_ah_ipv4_datagram(kNatPublic, kReflector4, 1, 64, make_token(0x0102), counter_fill());
  EXPECT_FALSE(esp::parse_ah_translated_datagram(native));
  EXPECT_TRUE(esp::build_ah_translated_reply(native, kReflector4, kNatPublic, 1, 64, counter_fill()).empty());
}

}  // namespace
}  // namespace vpncheck::probes
