#include "probes/wireguard.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::counter_fill;
using fixtures::expect_truncations_refused;
using fixtures::hex;
using fixtures::make_token;

ServerHints with_key() {
  ServerHints hints;
  hints.wireguard_public_key = fixtures::test_public_key();
  return hints;
}

// Hand-written from PROTOCOLS.md §5.2 with counter_fill(0) (byte i of the
// random fill is i) and token a1a2a3a4a5a6|0102.
Bytes golden_initiation_before_mac1() {
  return hex(
      "01000000"                                          //   0  type = 1 (LE u32)
      "04050607"                                          //   4  sender index (random)
      "a1a2a3a4a5a60102"                                  //   8  ephemeral[0:8] = probe token
      "101112131415161718191a1b1c1d1e1f2021222324252627"  //  16  ephemeral[8:32] (random)
      "28292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"  //  40  encrypted static (48)
      "404142434445464748494a4b4c4d4e4f5051525354555657"
      "58595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f"  //  88  encrypted timestamp (28)
      "70717273");
}

TEST(WireguardCodec, BuildsGoldenInitiationWithoutKey) {
  Bytes expected = golden_initiation_before_mac1();
  auto tail = hex(
      "7475767778797a7b7c7d7e7f80818283"   // 116  mac1: left random without the responder's key
      "00000000000000000000000000000000"); // 132  mac2 = 0 (no cookie)
  expected.insert(expected.end(), tail.begin(), tail.end());
  ASSERT_EQ(expected.size(), 148U);
  EXPECT_EQ(wireguard::build_initiation(make_token(0x0102), {}, counter_fill()), expected);
}

TEST(WireguardCodec, BuildsGoldenInitiationWithMac1) {
  Bytes expected = golden_initiation_before_mac1();
  // mac1 from Python's hashlib.blake2s (see crypto_test.cpp, WireguardMac1KnownVector).
  auto tail = hex(
      "8d5a38484a0758810baf447d587e8f8d"
      "00000000000000000000000000000000");
  expected.insert(expected.end(), tail.begin(), tail.end());
  EXPECT_EQ(wireguard::build_initiation(make_token(0x0102), with_key(), counter_fill()), expected);
}

TEST(WireguardCodec, Mac2IsZeroWhateverTheRandomSource) {
  for (std::uint8_t v : std::initializer_list<std::uint8_t>{0x00, 0x5a, 0xff}) {
    Bytes msg = wireguard::build_initiation(make_token(1), {}, fixtures::constant_fill(v));
    ASSERT_EQ(msg.size(), wireguard::kInitiationSize);
    for (std::size_t i = wireguard::kMac2Offset; i < msg.size(); ++i) EXPECT_EQ(msg[i], 0) << i;
  }
}

TEST(WireguardCodec, ParseRecoversTokenAndFields) {
  Bytes msg = wireguard::build_initiation(make_token(0x0102), {}, counter_fill());
  auto parsed = wireguard::parse_initiation(msg, {});
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->token, make_token(0x0102));
  EXPECT_EQ(parsed->fields.at("sender_index"), "117835012");  // LE 04 05 06 07 = 0x07060504
  EXPECT_EQ(parsed->fields.at("mac1"), "unchecked");
  EXPECT_EQ(parsed->fields.at("mac2"), "zero");
}

TEST(WireguardCodec, ParseValidatesMac1WithTheResponderKey) {
  Bytes msg = wireguard::build_initiation(make_token(5), with_key(), counter_fill());
  auto valid = wireguard::parse_initiation(msg, with_key());
  ASSERT_TRUE(valid.has_value());
  EXPECT_EQ(valid->fields.at("mac1"), "valid");

  ServerHints other;
  other.wireguard_public_key = std::array<std::uint8_t, 32>{};
  auto wrong_key = wireguard::parse_initiation(msg, other);
  ASSERT_TRUE(wrong_key.has_value());
  EXPECT_EQ(wrong_key->fields.at("mac1"), "invalid");

  Bytes tampered = msg;
  tampered[wireguard::kMac1Offset + 15] ^= 0x80;
  auto bad = wireguard::parse_initiation(tampered, with_key());
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->fields.at("mac1"), "invalid");

  Bytes body_changed = msg;
  body_changed[wireguard::kMac1Offset - 1] ^= 0x01;  // mac1 covers [0, 116)
  EXPECT_EQ(wireguard::parse_initiation(body_changed, with_key())->fields.at("mac1"), "invalid");
}

TEST(WireguardCodec, ParseReportsMac2Set) {
  Bytes msg = wireguard::build_initiation(make_token(5), {}, counter_fill());
  msg.back() = 0x01;
  auto parsed = wireguard::parse_initiation(msg, {});
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->fields.at("mac2"), "set");
}

TEST(WireguardCodec, RoundTripsEveryBoundaryIndex) {
  for (const ServerHints& hints : {ServerHints{}, with_key()}) {
    for (std::uint16_t index : fixtures::kProbeIndices) {
      Bytes msg = wireguard::build_initiation(make_token(index), hints, fixtures::seeded_fill(index));
      auto parsed = wireguard::parse_initiation(msg, hints);
      ASSERT_TRUE(parsed.has_value()) << index;
      EXPECT_EQ(parsed->token, make_token(index));
    }
  }
}

TEST(WireguardCodec, ParseRejectsEveryTruncation) {
  Bytes msg = wireguard::build_initiation(make_token(1), {}, counter_fill());
  expect_truncations_refused(msg, [&](ByteView v) { return wireguard::parse_initiation(v, {}).has_value(); });
}

TEST(WireguardCodec, ParseRejectsOversized) {
  Bytes msg = wireguard::build_initiation(make_token(1), {}, counter_fill());
  for (std::size_t extra : {1U, 56U /* 204 B, the TunnelBear size */, 1352U}) {
    Bytes bigger = msg;
    bigger.resize(msg.size() + extra, 0);
    EXPECT_FALSE(wireguard::parse_initiation(bigger, {}).has_value()) << bigger.size();
  }
}

TEST(WireguardCodec, ParseRejectsWrongTypeBytes) {
  Bytes msg = wireguard::build_initiation(make_token(1), {}, counter_fill());
  for (int type = 0; type < 256; ++type) {
    if (type == wireguard::kTypeInitiation) continue;
    Bytes wrong = msg;
    wrong[0] = static_cast<std::uint8_t>(type);
    EXPECT_FALSE(wireguard::parse_initiation(wrong, {}).has_value()) << "type " << type;
  }
  for (std::size_t i = 1; i < 4; ++i) {
    Bytes wrong = msg;
    wrong[i] = 0x01;  // the reserved bytes of the LE u32 type must be zero
    EXPECT_FALSE(wireguard::parse_initiation(wrong, {}).has_value()) << "reserved byte " << i;
  }
}

TEST(WireguardCodec, BuildsGoldenResponse) {
  Bytes initiation = wireguard::build_initiation(make_token(1), {}, counter_fill());
  auto parsed = wireguard::parse_initiation(initiation, {});
  ASSERT_TRUE(parsed.has_value());
  Bytes expected = hex(
      "02000000"                                          //  0  type = 2
      "84858687"                                          //  4  sender index (random)
      "04050607"                                          //  8  receiver = initiator's sender
      "8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3"  // 12  ephemeral (32) +
      "a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babb"  //     encrypted empty (16)
      "bcbdbebfc0c1c2c3c4c5c6c7c8c9cacb"                  // 60  mac1 (random)
      "00000000000000000000000000000000");                // 76  mac2 = 0
  ASSERT_EQ(expected.size(), 92U);
  EXPECT_EQ(wireguard::build_response(initiation, *parsed, counter_fill(0x80)), expected);
}

TEST(WireguardCodec, ResponseIsSmallerThanInitiation) {
  Bytes initiation = wireguard::build_initiation(make_token(1), {}, counter_fill());
  auto parsed = wireguard::parse_initiation(initiation, {});
  ASSERT_TRUE(parsed.has_value());
  EXPECT_LE(wireguard::build_response(initiation, *parsed, counter_fill()).size(), initiation.size());
  for (std::size_t len = 0; len < wireguard::kResponseSize; ++len)
    EXPECT_TRUE(wireguard::build_response(ByteView(initiation).first(len), *parsed, counter_fill()).empty())
        << len;
}

class WireguardReply : public ::testing::Test {
 protected:
  void SetUp() override {
    initiation = wireguard::build_initiation(make_token(7), {}, counter_fill());
    auto parsed = wireguard::parse_initiation(initiation, {});
    ASSERT_TRUE(parsed.has_value());
    response = wireguard::build_response(initiation, *parsed, counter_fill(0x80));
  }
  Bytes initiation;
  Bytes response;
};

TEST_F(WireguardReply, AcceptsItsOwnResponse) {
  EXPECT_TRUE(wireguard::is_response_to(response, initiation));
}

TEST_F(WireguardReply, RejectsWrongReceiverIndex) {
  for (std::size_t i = 8; i < 12; ++i) {
    Bytes wrong = response;
    wrong[i] ^= 0x01;
    EXPECT_FALSE(wireguard::is_response_to(wrong, initiation)) << "receiver byte " << i - 8;
  }
}

TEST_F(WireguardReply, RejectsResponseToAnotherInitiation) {
  Bytes other = wireguard::build_initiation(make_token(7), {}, counter_fill(0x40));  // other sender index
  EXPECT_FALSE(wireguard::is_response_to(response, other));
}

TEST_F(WireguardReply, RejectsTruncatedAndOversizedReplies) {
  expect_truncations_refused(response, [&](ByteView v) { return wireguard::is_response_to(v, initiation); });
  Bytes bigger = response;
  bigger.push_back(0);
  EXPECT_FALSE(wireguard::is_response_to(bigger, initiation));
}

TEST_F(WireguardReply, RejectsWrongTypeBytes) {
  for (std::uint8_t type : std::initializer_list<std::uint8_t>{0, 1, 3, 4, 0xfe}) {
    Bytes wrong = response;
    wrong[0] = type;
    EXPECT_FALSE(wireguard::is_response_to(wrong, initiation)) << int{type};
  }
  for (std::size_t i = 1; i < 4; ++i) {
    Bytes wrong = response;
    wrong[i] = 0x01;
    EXPECT_FALSE(wireguard::is_response_to(wrong, initiation)) << i;
  }
}

TEST_F(WireguardReply, RejectsTheEchoedInitiationAndTruncatedInitiation) {
  EXPECT_FALSE(wireguard::is_response_to(initiation, initiation));
  expect_truncations_refused(initiation, [&](ByteView v) { return wireguard::is_response_to(response, v); });
}

TEST(WireguardModule, DescribesTheStandardVariant) {
  const auto& m = wireguard::kModule;
  EXPECT_EQ(m.id, "wireguard");
  for (const auto& v : m.variants) EXPECT_EQ(v.transport, Transport::udp);  // WireGuard has no TCP form
  ASSERT_FALSE(m.variants.empty());
  EXPECT_EQ(m.variants[0].transport, Transport::udp);
  EXPECT_EQ(m.variants[0].port, 51820);  // PROTOCOLS.md §5.1
  EXPECT_TRUE(m.variants[0].standard);
  for (const auto& v : m.variants) EXPECT_EQ(v.transport, Transport::udp);
}

}  // namespace
}  // namespace vpncheck::probes
