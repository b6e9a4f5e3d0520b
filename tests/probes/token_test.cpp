#include "probes/token.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::hex;

// DESIGN.md contract 1: tag (6) | probe index (2, big-endian).
TEST(ProbeToken, EncodesTagThenBigEndianIndex) {
  ProbeToken token{{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6}, 0x0102};
  auto encoded = token.encode();
  EXPECT_EQ(Bytes(encoded.begin(), encoded.end()), hex("a1a2a3a4a5a60102"));
}

TEST(ProbeToken, DecodesGoldenBytes) {
  auto token = ProbeToken::decode(hex("0011223344550a0b"));
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(token->tag, (SessionTag{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}));
  EXPECT_EQ(token->probe_index, 0x0a0b);
}

TEST(ProbeToken, RoundTripsEveryBoundaryIndex) {
  for (std::uint16_t index : fixtures::kProbeIndices) {
    ProbeToken token = fixtures::make_token(index);
    auto encoded = token.encode();
    auto decoded = ProbeToken::decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << index;
    EXPECT_EQ(*decoded, token) << index;
  }
}

TEST(ProbeToken, DecodeReadsOnlyTheFirstEightBytes) {
  auto token = ProbeToken::decode(hex("a1a2a3a4a5a6ffffdeadbeef"));
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(*token, fixtures::make_token(0xffff));
}

TEST(ProbeToken, DecodeRejectsEveryTruncation) {
  const Bytes full = hex("a1a2a3a4a5a60102");
  for (std::size_t len = 0; len < full.size(); ++len)
    EXPECT_FALSE(ProbeToken::decode(ByteView(full).first(len)).has_value()) << "length " << len;
}

TEST(ProbeToken, EqualityComparesTagAndIndex) {
  ProbeToken a = fixtures::make_token(7);
  ProbeToken other_index = fixtures::make_token(8);
  ProbeToken other_tag = fixtures::make_token(7, {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0x00});
  EXPECT_EQ(a, fixtures::make_token(7));
  EXPECT_NE(a, other_index);
  EXPECT_NE(a, other_tag);
}

TEST(SessionTagHex, RoundTrips) {
  EXPECT_EQ(tag_to_hex(fixtures::kTag), "a1a2a3a4a5a6");
  EXPECT_EQ(tag_from_hex("a1a2a3a4a5a6"), fixtures::kTag);
  EXPECT_EQ(tag_from_hex("A1A2A3A4A5A6"), fixtures::kTag);
}

TEST(SessionTagHex, RejectsWrongLengthAndBadDigits) {
  EXPECT_FALSE(tag_from_hex("").has_value());
  EXPECT_FALSE(tag_from_hex("a1a2a3a4a5").has_value());      // 5 bytes
  EXPECT_FALSE(tag_from_hex("a1a2a3a4a5a6a7").has_value());  // 7 bytes
  EXPECT_FALSE(tag_from_hex("a1a2a3a4a5a").has_value());     // odd
  EXPECT_FALSE(tag_from_hex("a1a2a3a4a5zz").has_value());
}

}  // namespace
}  // namespace vpncheck::probes
