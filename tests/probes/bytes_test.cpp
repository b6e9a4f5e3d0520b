#include "probes/bytes.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::hex;

TEST(ByteReader, ReadsBigAndLittleEndian) {
  const Bytes data = hex("0102030405060708090a0b");
  ByteReader r(data);
  EXPECT_EQ(r.u8(), 0x01);
  EXPECT_EQ(r.be16(), 0x0203);
  EXPECT_EQ(r.be32(), 0x04050607U);
  EXPECT_EQ(r.le32(), 0x0b0a0908U);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0U);
  EXPECT_EQ(r.position(), 11U);
}

TEST(ByteReader, TakeReturnsTheRequestedSlice) {
  const Bytes data = hex("aabbccdd");
  ByteReader r(data);
  ASSERT_TRUE(r.skip(1));
  auto slice = r.take(2);
  ASSERT_TRUE(slice.has_value());
  EXPECT_EQ(Bytes(slice->begin(), slice->end()), hex("bbcc"));
  EXPECT_EQ(r.remaining(), 1U);
  auto empty = r.take(0);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

TEST(ByteReader, ShortReadFailsAndStaysFailed) {
  const Bytes data = hex("010203");
  ByteReader r(data);
  EXPECT_FALSE(r.be32().has_value());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.remaining(), 0U);
  // Sticky: even reads that would have fitted now fail.
  EXPECT_FALSE(r.u8().has_value());
  EXPECT_FALSE(r.take(0).has_value());
  EXPECT_FALSE(r.skip(0));
}

TEST(ByteReader, EveryReadRejectsTruncatedInput) {
  const Bytes data = hex("010203");
  for (std::size_t len = 0; len < 4; ++len) {
    ByteView prefix = ByteView(data).first(std::min(len, data.size()));
    if (len < 2) {
      EXPECT_FALSE(ByteReader(prefix).be16().has_value()) << len;
    }
    EXPECT_FALSE(ByteReader(prefix).be32().has_value()) << len;
    EXPECT_FALSE(ByteReader(prefix).le32().has_value()) << len;
  }
  EXPECT_FALSE(ByteReader(ByteView{}).u8().has_value());
}

TEST(ByteReader, HugeLengthDoesNotWrap) {
  const Bytes data = hex("0102");
  ByteReader r(data);
  ASSERT_TRUE(r.skip(1));
  EXPECT_FALSE(r.take(SIZE_MAX).has_value());
  EXPECT_FALSE(r.ok());
}

TEST(ByteWriter, WritesEveryWidthInItsByteOrder) {
  ByteWriter w;
  w.u8(0x01).be16(0x0203).be32(0x04050607).le32(0x0b0a0908).bytes(hex("cafe")).zeros(3);
  EXPECT_EQ(w.size(), 16U);
  EXPECT_EQ(w.view(), hex("0102030405060708090a0bcafe000000"));
  Bytes taken = w.take();
  EXPECT_EQ(taken, hex("0102030405060708090a0bcafe000000"));
}

TEST(Hex, EncodesLowercase) {
  EXPECT_EQ(to_hex(hex("00ff10ab")), "00ff10ab");
  EXPECT_EQ(to_hex(ByteView{}), "");
}

TEST(Hex, DecodesBothCases) {
  EXPECT_EQ(from_hex("00FFaB"), hex("00ffab"));
  EXPECT_EQ(from_hex(""), Bytes{});
}

TEST(Hex, RejectsOddLengthAndNonHexDigits) {
  EXPECT_FALSE(from_hex("abc").has_value());
  EXPECT_FALSE(from_hex("0g").has_value());
  EXPECT_FALSE(from_hex("g0").has_value());
  EXPECT_FALSE(from_hex(" 0").has_value());
  EXPECT_FALSE(from_hex("0x00").has_value());
  EXPECT_FALSE(from_hex(std::string_view("\0\0", 2)).has_value());
}

TEST(Hex, RoundTripsEveryByteValue) {
  Bytes all(256);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(from_hex(to_hex(all)), all);
}

TEST(AsBytes, ViewsTheStringWithoutCopying) {
  std::string_view s = "mac1----";
  ByteView v = as_bytes(s);
  EXPECT_EQ(v.size(), 8U);
  EXPECT_EQ(static_cast<const void*>(v.data()), static_cast<const void*>(s.data()));
  EXPECT_EQ(v[0], 'm');
}

}  // namespace
}  // namespace vpncheck::probes
