#include "probes/tls.h"

#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::hex;

TEST(TlsSniff, RecognisesClientHelloRecordsAndNothingElse) {
  EXPECT_TRUE(tls::looks_like_tls(hex("160301")));    // TLS 1.3/1.2 ClientHello as most clients send it
  EXPECT_TRUE(tls::looks_like_tls(hex("16030300")));  // RFC 8446 §5.1 legacy_record_version 0x0303
  EXPECT_TRUE(tls::looks_like_tls(hex("1603")));      // could still be one
  EXPECT_FALSE(tls::looks_like_tls(hex("160305")));   // no such version
  EXPECT_FALSE(tls::looks_like_tls(hex("170303")));   // application data: not how a connection opens
  EXPECT_FALSE(tls::looks_like_tls(hex("1602")));
  EXPECT_FALSE(tls::looks_like_tls(as_bytes("GET ")));   // the control API's web port
  EXPECT_FALSE(tls::looks_like_tls(hex("002a38a1")));    // OpenVPN over TCP: a 2-byte length first
  EXPECT_FALSE(tls::looks_like_tls(hex("ff")));          // a control probe's marker
  EXPECT_FALSE(tls::looks_like_tls({}));
}

// The vector of FIPS 180-2 appendix B.1: SHA-256("abc").
constexpr std::string_view kAbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(TlsFingerprint, IsTheSha256OfTheDerInLowerCaseHex) {
  EXPECT_EQ(tls::certificate_sha256(as_bytes("abc")), kAbcSha256);
}

TEST(TlsFingerprint, NormalisesCaseAndColonPairs) {
  std::string colons;
  for (std::size_t i = 0; i < kAbcSha256.size(); i += 2)
    colons += (i ? ":" : "") + std::string(kAbcSha256.substr(i, 2));
  for (auto& c : colons) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(tls::normalise_fingerprint(colons), std::string(kAbcSha256));
  EXPECT_EQ(tls::normalise_fingerprint(kAbcSha256), std::string(kAbcSha256));
}

TEST(TlsFingerprint, RefusesWhatIsNotASha256Fingerprint) {
  const std::string good(kAbcSha256);
  for (const std::string& bad : {good.substr(1), good + "0", good.substr(0, 63) + "g", ":" + good, good + ":",
                                 good.substr(0, 1) + ":" + good.substr(1), good.substr(0, 2) + "::" + good.substr(2),
                                 std::string(), std::string(64, ' ')})
    EXPECT_FALSE(tls::normalise_fingerprint(bad)) << bad;
}

TEST(TlsFingerprint, MatchesOnlyThePinnedCertificate) {
  EXPECT_TRUE(tls::matches_pin(as_bytes("abc"), kAbcSha256));
  EXPECT_FALSE(tls::matches_pin(as_bytes("abd"), kAbcSha256));
  EXPECT_FALSE(tls::matches_pin(as_bytes("abc"), "not a fingerprint"));
  EXPECT_FALSE(tls::matches_pin({}, tls::certificate_sha256({})));  // no certificate presented
}

}  // namespace
}  // namespace vpncheck::probes
