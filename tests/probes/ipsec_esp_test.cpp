#include "probes/ipsec_esp.h"

#include "probes/ike.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::cat;
using fixtures::counter_bytes;
using fixtures::counter_fill;
using fixtures::expect_truncations_refused;
using fixtures::hex;
using fixtures::make_token;

const ip::Ipv4Address kClient{192, 168, 1, 10};
const ip::Ipv4Address kReflector{203, 0, 113, 5};
const ip::Ipv4Address kPublic{198, 51, 100, 7};

// ---- SPI derivation ------------------------------------------------------------

// Expected values from Python: sha256(label + token)[:4] for token a1a2a3a4a5a60102.
TEST(EspCodec, DerivesSpisFromTheToken) {
  auto t = make_token(0x0102);
  EXPECT_EQ(esp::request_spi(t, false), 0x9e8fffb0U);
  EXPECT_EQ(esp::reply_spi(t, false), 0x59b2695eU);
  EXPECT_EQ(esp::request_spi(t, true), 0xf94f4079U);
  EXPECT_EQ(esp::reply_spi(t, true), 0xea207399U);
  for (std::uint16_t i = 0; i < 2000; ++i) {
    auto ti = make_token(i);
    EXPECT_GE(esp::request_spi(ti, false), esp::kMinSpi);
    EXPECT_GE(esp::reply_spi(ti, true), esp::kMinSpi);
  }
  EXPECT_NE(esp::request_spi(make_token(1), false), esp::request_spi(make_token(2), false));
}

// ---- ESP ---------------------------------------------------------------------

TEST(EspCodec, BuildsGoldenPacketAndReply) {
  Bytes msg = esp::build_esp(make_token(0x0102), counter_fill());
  EXPECT_EQ(msg, cat({hex("9e8fffb0" "00000001"), counter_bytes(8, 8), hex("a1a2a3a4a5a60102"),
                      counter_bytes(24, 40)}));
  ASSERT_EQ(msg.size(), esp::kEspDefaultSize);
  Bytes reply = esp::build_esp_reply(msg, counter_fill(0x80));
  EXPECT_EQ(reply, cat({hex("59b2695e" "00000001"), counter_bytes(0x88, 8), hex("a1a2a3a4a5a60102"),
                        counter_bytes(0x98, 40)}));
  EXPECT_TRUE(esp::is_esp_reply_to(reply, msg));
  EXPECT_FALSE(esp::is_esp_reply_to(msg, msg));
  EXPECT_FALSE(esp::is_esp_reply_to(reply, reply));
  EXPECT_TRUE(esp::build_esp_reply(reply, counter_fill()).empty());
  EXPECT_FALSE(esp::is_esp_reply_to(reply, esp::build_esp(make_token(0x0103), counter_fill())));
}

// In UDP 4500 (RFC 3948) the probe must demux as ESP, its SPI being non-zero.
TEST(EspCodec, ClassifiesAsEspOnUdp4500) {
  for (std::uint16_t index : fixtures::kProbeIndices) {
    Bytes msg = esp::build_esp(make_token(index), counter_fill());
    EXPECT_EQ(ike::classify_udp4500(msg), ike::Udp4500Kind::esp) << index;
    EXPECT_EQ(ike::classify_udp4500(esp::build_esp_reply(msg, counter_fill())), ike::Udp4500Kind::esp);
  }
}

TEST(EspCodec, ParsesAndRoundTrips) {
  for (std::uint16_t index : fixtures::kProbeIndices) {
    Bytes msg = esp::build_esp(make_token(index), fixtures::seeded_fill(index));
    auto p = esp::parse_esp(msg);
    ASSERT_TRUE(p.has_value()) << index;
    EXPECT_EQ(p->token, make_token(index));
    EXPECT_EQ(p->sequence, 1U);
    EXPECT_EQ(p->spi, esp::request_spi(make_token(index), false));
    EXPECT_EQ(p->role, esp::Role::request);
    auto r = esp::parse_esp(esp::build_esp_reply(msg, counter_fill()));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->role, esp::Role::reply);
  }
}

TEST(EspCodec, RejectsShortInputLowSpiAndZeroSequence) {
  Bytes msg = esp::build_esp(make_token(1), counter_fill());
  for (std::size_t len = 0; len < esp::kEspMinSize; ++len)
    EXPECT_FALSE(esp::parse_esp(ByteView(msg).first(len)).has_value()) << len;
  EXPECT_TRUE(esp::parse_esp(ByteView(msg).first(esp::kEspMinSize)).has_value());
  for (std::uint32_t spi : {0U, 1U, 255U}) {
    Bytes wrong = msg;
    wrong[0] = wrong[1] = wrong[2] = 0;
    wrong[3] = static_cast<std::uint8_t>(spi);
    EXPECT_FALSE(esp::parse_esp(wrong).has_value()) << spi;
  }
  Bytes zero_seq = msg;
  zero_seq[7] = 0;
  EXPECT_FALSE(esp::parse_esp(zero_seq).has_value());
  // A rewritten SPI still attributes by token, as role unknown.
  Bytes rewritten = msg;
  rewritten[0] ^= 0x01;
  auto p = esp::parse_esp(rewritten);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->role, esp::Role::unknown);
  EXPECT_EQ(p->token, make_token(1));
  EXPECT_TRUE(esp::build_esp_reply(rewritten, counter_fill()).empty());
}

TEST(EspCodec, SizesAndTruncatedReplies) {
  EXPECT_TRUE(esp::build_esp(make_token(1), counter_fill(), esp::kEspMinSize - 1).empty());
  EXPECT_TRUE(esp::build_esp(make_token(1), counter_fill(), esp::kEspMaxSize + 1).empty());
  Bytes big = esp::build_esp(make_token(1), counter_fill(), 1400);
  Bytes reply = esp::build_esp_reply(big, counter_fill());
  EXPECT_EQ(reply.size(), 1400U);
  EXPECT_TRUE(esp::is_esp_reply_to(reply, big));
  for (std::size_t len = 0; len < reply.size(); len += 7)
    EXPECT_FALSE(esp::is_esp_reply_to(ByteView(reply).first(len), big)) << len;
}

// ---- AH ------------------------------------------------------------------------

Bytes default_ah() {
  return esp::build_ah_ipv4_datagram(kClient, kReflector, 0x1234, 64, make_token(0x0102), counter_fill());
}

// Recomputes the header checksum after a test edits the IPv4 header.
void fix_ip_checksum(Bytes& d) {
  d[10] = d[11] = 0;
  std::uint16_t c = ip::ipv4_checksum(ByteView(d).first(20));
  d[10] = static_cast<std::uint8_t>(c >> 8);
  d[11] = static_cast<std::uint8_t>(c);
}

// Independently computed with Python (struct + hmac + hashlib), see the layout in ipsec_esp.h.
TEST(AhCodec, BuildsGoldenDatagram) {
  Bytes expected = hex(
      "45000054" "12340000" "40336a8b" "c0a8010a" "cb007105"   // IPv4: 84 B, id 0x1234, TTL 64, proto 51
      "04040000" "f94f4079" "00000001"                         // AH: next IPIP, len 4, SPI, seq 1
      "20f968530d6023f39d34d1ef"                               // ICV = HMAC-SHA1-96
      "45000028" "12340000" "403b6aaf" "c0a8010a" "cb007105"   // inner IPv4: 40 B, proto 59
      "a1a2a3a4a5a60102"                                       // token
      "000102030405060708090a0b");                             // random
  ASSERT_EQ(expected.size(), esp::kAhDatagramSize);
  EXPECT_EQ(default_ah(), expected);
  EXPECT_EQ(to_hex(esp::ah_key(make_token(0x0102))), "7e8f2ed06164d9c9675783594da88afe848cf769");
}

TEST(AhCodec, ParsesDatagram) {
  Bytes d = default_ah();
  auto p = esp::parse_ah_ipv4_datagram(d);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->src, kClient);
  EXPECT_EQ(p->dst, kReflector);
  EXPECT_EQ(p->ttl, 64);
  EXPECT_EQ(p->ip_id, 0x1234);
  EXPECT_EQ(p->next_header, esp::kAhNextHeaderIpip);
  EXPECT_EQ(p->spi, 0xf94f4079U);
  EXPECT_EQ(p->sequence, 1U);
  EXPECT_EQ(p->token, make_token(0x0102));
  EXPECT_EQ(p->role, esp::Role::request);
  EXPECT_TRUE(p->icv_valid);
}

TEST(AhCodec, IcvSurvivesMutableFieldsButNotNat) {
  Bytes d = default_ah();
  // Routers may change TTL, DSCP/ECN and flags: the ICV does not cover them.
  Bytes hop = d;
  hop[8] = 61;
  hop[1] = 0x04;
  hop[6] = 0x40;
  fix_ip_checksum(hop);
  auto ok = esp::parse_ah_ipv4_datagram(hop);
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(ok->icv_valid);
  EXPECT_EQ(ok->ttl, 61);

  // A NAT rewrites the source address (and fixes the IP checksum): the ICV breaks.
  Bytes natted = d;
  std::copy(kPublic.begin(), kPublic.end(), natted.begin() + 12);
  fix_ip_checksum(natted);
  auto broken = esp::parse_ah_ipv4_datagram(natted);
  ASSERT_TRUE(broken.has_value());
  EXPECT_FALSE(broken->icv_valid);
  EXPECT_EQ(broken->src, kPublic);
  EXPECT_EQ(broken->token, make_token(0x0102));  // still attributed

  Bytes payload_changed = d;
  payload_changed.back() ^= 1;
  EXPECT_FALSE(esp::parse_ah_ipv4_datagram(payload_changed)->icv_valid);
  Bytes id_changed = d;
  id_changed[5] ^= 1;  // the IP ID is immutable for AH
  fix_ip_checksum(id_changed);
  EXPECT_FALSE(esp::parse_ah_ipv4_datagram(id_changed)->icv_valid);
}

TEST(AhCodec, RejectsTruncatedAndMalformedDatagrams) {
  Bytes d = default_ah();
  expect_truncations_refused(d, [&](ByteView v) { return esp::parse_ah_ipv4_datagram(v).has_value(); });
  Bytes longer = d;
  longer.push_back(0);
  longer[3] = static_cast<std::uint8_t>(longer.size());
  fix_ip_checksum(longer);
  EXPECT_FALSE(esp::parse_ah_ipv4_datagram(longer).has_value());
  auto reject = [&](std::size_t offset, std::uint8_t value, const char* what) {
    Bytes wrong = d;
    wrong[offset] = value;
    if (offset < 20) fix_ip_checksum(wrong);
    EXPECT_FALSE(esp::parse_ah_ipv4_datagram(wrong).has_value()) << what;
  };
  reject(3, 0x53, "total length");
  reject(9, 50, "protocol ESP");
  reject(6, 0x20, "more fragments");
  reject(7, 0x01, "fragment offset");
  reject(20, 59, "next header");
  reject(21, 5, "AH payload length");
  Bytes low_spi = d;
  low_spi[24] = low_spi[25] = low_spi[26] = 0;  // SPI 0x79 < 256
  EXPECT_FALSE(esp::parse_ah_ipv4_datagram(low_spi).has_value());
  reject(31, 0, "sequence 0");
  reject(44, 0x65, "inner not IPv4/20");
  reject(47, 0x29, "inner total length");
}

TEST(AhCodec, ReplyFromReflectorToObservedAddress) {
  Bytes request = default_ah();
  Bytes reply = esp::build_ah_ipv4_reply(request, kReflector, kPublic, 0x4321, 64, counter_fill(0x80));
  EXPECT_EQ(reply, hex("45000054" "43210000" "4033d115" "cb007105" "c6336407"
                       "04040000" "ea207399" "00000001" "40dee3b3523288f3e5cebb2e"
                       "45000028" "43210000" "403bd139" "cb007105" "c6336407"
                       "a1a2a3a4a5a60102" "808182838485868788898a8b"));  // Python
  EXPECT_LE(reply.size(), request.size());
  auto p = esp::parse_ah_ipv4_datagram(reply);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->icv_valid);
  EXPECT_EQ(p->role, esp::Role::reply);
  EXPECT_TRUE(esp::is_ah_reply_to(reply, request));
  EXPECT_FALSE(esp::is_ah_reply_to(request, request));
  EXPECT_FALSE(esp::is_ah_reply_to(reply, reply));
  EXPECT_TRUE(esp::build_ah_ipv4_reply(reply, kReflector, kPublic, 1, 64, counter_fill()).empty());

  // Un-NATed on the way back: still the answer, but the ICV shows the rewrite.
  Bytes back = reply;
  std::copy(kClient.begin(), kClient.end(), back.begin() + 16);
  fix_ip_checksum(back);
  EXPECT_TRUE(esp::is_ah_reply_to(back, request));
  EXPECT_FALSE(esp::parse_ah_ipv4_datagram(back)->icv_valid);

  Bytes other = esp::build_ah_ipv4_datagram(kClient, kReflector, 1, 64, make_token(0x0103), counter_fill());
  EXPECT_FALSE(esp::is_ah_reply_to(reply, other));
}

}  // namespace
}  // namespace vpncheck::probes
