#include "probes/crypto.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "probes/wireguard.h"
#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::hex;

template <std::size_t N>
Bytes to_bytes(const std::array<std::uint8_t, N>& a) {
  return Bytes(a.begin(), a.end());
}

// FIPS 180-2 appendix B.1.
TEST(Crypto, Sha256KnownVectorAbc) {
  EXPECT_EQ(to_bytes(sha256(as_bytes("abc"))),
            hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

TEST(Crypto, Sha256KnownVectorEmpty) {
  EXPECT_EQ(to_bytes(sha256(ByteView{})),
            hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

// RFC 7693 appendix B.
TEST(Crypto, Blake2s256KnownVectorAbc) {
  EXPECT_EQ(to_bytes(blake2s256(as_bytes("abc"))),
            hex("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"));
}

TEST(Crypto, Blake2s256KnownVectorEmpty) {
  EXPECT_EQ(to_bytes(blake2s256(ByteView{})),
            hex("69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9"));
}

// Keyed BLAKE2s with a 16-byte digest is not a truncated 32-byte digest (the
// output length is in the parameter block). Expected value from Python's
// hashlib.blake2s(b"abc", key=bytes(range(32)), digest_size=16).
TEST(Crypto, Blake2sMac128KnownVector) {
  Bytes key(32);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(to_bytes(blake2s_mac128(key, as_bytes("abc"))), hex("61ba5f165c194692e09d12520cc4c74a"));
}

TEST(Crypto, Blake2sMac128DependsOnKeyAndMessage) {
  Bytes key(32, 0x01);
  Bytes other_key(32, 0x02);
  auto base = blake2s_mac128(key, as_bytes("abc"));
  EXPECT_NE(base, blake2s_mac128(other_key, as_bytes("abc")));
  EXPECT_NE(base, blake2s_mac128(key, as_bytes("abd")));
}

// The MAC context is kept per thread with its last key: one MAC after another,
// under the same key, a different one, a key that is the first half of the
// last, and after a key libcrypto refuses, each is what a fresh context gives.
// Expected values from Python's hashlib.blake2s(..., digest_size=16).
TEST(Crypto, Blake2sMac128OneAfterAnotherUnderChangingKeys) {
  Bytes key(32);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  const Bytes half(key.begin(), key.begin() + 16);
  const Bytes zeros(200, 0);
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(to_bytes(blake2s_mac128(key, as_bytes("abc"))), hex("61ba5f165c194692e09d12520cc4c74a"));
    EXPECT_EQ(to_bytes(blake2s_mac128(key, zeros)), hex("a5e60c5a2c100f6358a695d00fdf9bc2"));
    EXPECT_EQ(to_bytes(blake2s_mac128(key, ByteView{})), hex("9536f9b267655743dee97b8a670f9f53"));
    EXPECT_EQ(to_bytes(blake2s_mac128(half, as_bytes("abc"))), hex("75296c2d2c0f51210b383f386bc8b1ff"));
    EXPECT_EQ(to_bytes(blake2s_mac128(half, as_bytes("abc"))), hex("75296c2d2c0f51210b383f386bc8b1ff"));
    EXPECT_THROW(blake2s_mac128(Bytes(33, 1), as_bytes("abc")), std::runtime_error);  // longer than BLAKE2s allows
  }
}

// PROTOCOLS.md §5.2: mac1 = BLAKE2s-128(key = BLAKE2s-256("mac1----" || responder_pub), msg[0:116]).
TEST(Crypto, WireguardMac1IsKeyedWithHashOfLabelAndPublicKey) {
  auto pub = fixtures::test_public_key();
  Bytes msg(wireguard::kMac1Offset, 0x5a);
  ByteWriter key_input;
  key_input.bytes(as_bytes("mac1----")).bytes(pub);
  auto key = blake2s256(key_input.view());
  EXPECT_EQ(wireguard::compute_mac1(pub, msg), blake2s_mac128(key, msg));
}

// Independent vector: Python's hashlib over the initiation the golden test in
// wireguard_test.cpp builds (key = bytes 0x40..0x5f).
TEST(Crypto, WireguardMac1KnownVector) {
  Bytes msg = hex("01000000" "04050607" "a1a2a3a4a5a60102");
  for (std::uint8_t b = 16; b < 116; ++b) msg.push_back(b);
  ASSERT_EQ(msg.size(), wireguard::kMac1Offset);
  auto pub = fixtures::test_public_key();
  ByteWriter key_input;
  key_input.bytes(as_bytes("mac1----")).bytes(pub);
  EXPECT_EQ(to_bytes(blake2s256(key_input.view())),
            hex("81dd06eaa8afd940140a94adcb9fc15b2c030af1cc66c5f962b074d6583bf16f"));
  EXPECT_EQ(to_bytes(wireguard::compute_mac1(pub, msg)), hex("8d5a38484a0758810baf447d587e8f8d"));
}

}  // namespace
}  // namespace vpncheck::probes

namespace vpncheck::probes {
namespace {

using fixtures::hex;

// FIPS 180-1 appendix A.
TEST(Crypto, Sha1KnownVectorAbc) {
  auto d = sha1(as_bytes("abc"));
  EXPECT_EQ(Bytes(d.begin(), d.end()), hex("a9993e364706816aba3e25717850c26c9cd0d89d"));
}

TEST(Crypto, Sha1KnownVectorEmpty) {
  auto d = sha1(ByteView{});
  EXPECT_EQ(Bytes(d.begin(), d.end()), hex("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
}

// RFC 2202 §3, test cases 1 and 2 (HMAC-SHA-1).
TEST(Crypto, HmacSha1Rfc2202Vectors) {
  Bytes key1(20, 0x0b);
  auto d1 = hmac_sha1(key1, as_bytes("Hi There"));
  EXPECT_EQ(Bytes(d1.begin(), d1.end()), hex("b617318655057264e28bc0b6fb378c8ef146be00"));
  auto d2 = hmac_sha1(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"));
  EXPECT_EQ(Bytes(d2.begin(), d2.end()), hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"));
}

// RFC 2202 §3 test case 5 lists HMAC-SHA-1-96 explicitly.
TEST(Crypto, HmacSha1_96IsTheTruncatedHmac) {
  Bytes key(20, 0x0c);
  auto d = hmac_sha1_96(key, as_bytes("Test With Truncation"));
  EXPECT_EQ(Bytes(d.begin(), d.end()), hex("4c1a03424b55e07fe7f27be1"));
}

}  // namespace
}  // namespace vpncheck::probes
