// probes/ip: the raw-protocol table, IPv4 header codec and checksum, datagrams
// of either family, and the digest scope both programs hash, on byte vectors
// including malformed ones.
#include "probes/ip.h"
#include "probes/registry.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "probes/crypto.h"
#include "probes/probe.h"
#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::cat;
using fixtures::expect_truncations_refused;
using fixtures::hex;

const ip::Ipv4Address kSrc4{198, 51, 100, 7};
const ip::Ipv4Address kDst4{203, 0, 113, 5};

Bytes v6_address(std::uint8_t last) {
  Bytes a(16, 0);
  a[0] = 0x20;
  a[1] = 0x01;
  a[2] = 0x0d;
  a[3] = 0xb8;
  a[15] = last;
  return a;
}

// ---- The raw-protocol table --------------------------------------------------

TEST(RawProtocols, EachNumberAndNameOnceAndFoundBothWays) {
  std::set<int> numbers;
  std::set<std::string> names;
  for (const auto& p : ip::kRawProtocols) {
    EXPECT_TRUE(numbers.insert(p.number).second) << int{p.number};
    EXPECT_TRUE(names.insert(std::string(p.name)).second) << p.name;
    EXPECT_EQ(ip::raw_protocol(p.number), &p);
    EXPECT_EQ(ip::raw_protocol(p.name), &p);
  }
  EXPECT_EQ(ip::raw_protocol_names(), (std::vector<std::string>{"esp", "ah", "gre"}));
}

TEST(RawProtocols, IanaNumbersAndNames) {
  EXPECT_EQ(ip::raw_protocol(std::uint16_t{50})->name, "esp");
  EXPECT_EQ(ip::raw_protocol(std::uint16_t{51})->display, "AH");
  EXPECT_EQ(ip::raw_protocol("gre")->number, 47);
  EXPECT_EQ(ip::raw_protocol(std::uint16_t{17}), nullptr);
  EXPECT_EQ(ip::raw_protocol(std::uint16_t{50 + 256}), nullptr) << "not truncated to 8 bits";
  EXPECT_EQ(ip::raw_protocol("ESP"), nullptr) << "names are lower case";
  EXPECT_EQ(ip::raw_protocol(""), nullptr);
}

// A TLS-wrapped place is told apart from a plain one on the same port.
TEST(PlaceNames, TlsWrappedVariantsSaySo) {
  EXPECT_EQ(describe_place(ProbeVariant{.transport = Transport::tcp, .port = 443, .standard = true, .tls = true}),
            "TLS over TCP 443");
  EXPECT_EQ(describe_place(ProbeVariant{.transport = Transport::tcp, .port = 443, .standard = false}), "TCP 443");
  EXPECT_EQ(describe_place(ProbeVariant{.transport = Transport::udp, .port = 51820, .standard = false}), "UDP 51820");
  const auto* sstp = find_protocol("sstp");
  ASSERT_NE(sstp, nullptr);
  EXPECT_EQ(describe_place(sstp->variants.front()), "TLS over TCP 443");
}

TEST(RawProtocols, ReportNamesComeFromTheTable) {
  EXPECT_EQ(describe_place(ProbeVariant{Transport::ip, ip::kEsp, true}), "ESP (IP protocol 50)");
  EXPECT_EQ(describe_place(ProbeVariant{Transport::ip, ip::kGre, true}), "GRE (IP protocol 47)");
  EXPECT_EQ(describe_place(ProbeVariant{Transport::ip, 4, true}), "IP (IP protocol 4)");
  EXPECT_EQ(ip_protocol_name(ip::kAh), "ah");
  EXPECT_EQ(ip_protocol_name(4), "ip");
}

// ---- IPv4 ----------------------------------------------------------------------

// RFC 1071-style example header (Wikipedia "IPv4 header checksum"): checksum b861.
TEST(Ipv4Codec, ChecksumKnownVector) {
  Bytes h = hex("450000730000400040110000c0a80001c0a800c7");
  EXPECT_EQ(ip::ipv4_checksum(h), 0xb861);
  h[10] = 0xb8;
  h[11] = 0x61;
  EXPECT_EQ(ip::ipv4_checksum(h), 0);
}

TEST(Ipv4Codec, ParsesHeaderFieldsAndRejectsBadOnes) {
  Bytes d = cat({hex("46b8001c" "abcd" "4000" "3f32" "0000" "0a000001" "0a000002" "01020304"),
                 hex("deadbeef")});
  std::uint16_t c = ip::ipv4_checksum(ByteView(d).first(24));
  d[10] = static_cast<std::uint8_t>(c >> 8);
  d[11] = static_cast<std::uint8_t>(c);
  auto p = ip::parse_ipv4(d);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->header_length, 24);
  EXPECT_EQ(p->tos, 0xb8);
  EXPECT_EQ(p->total_length, 28);
  EXPECT_EQ(p->id, 0xabcd);
  EXPECT_EQ(p->flags_fragment, 0x4000);
  EXPECT_EQ(p->ttl, 0x3f);
  EXPECT_EQ(p->protocol, ip::kEsp);
  EXPECT_TRUE(p->checksum_valid);
  EXPECT_EQ((ip::Ipv4Address{10, 0, 0, 1}), p->src);
  EXPECT_EQ((ip::Ipv4Address{10, 0, 0, 2}), p->dst);
  EXPECT_EQ(Bytes(p->options.begin(), p->options.end()), hex("01020304"));
  EXPECT_EQ(Bytes(p->payload.begin(), p->payload.end()), hex("deadbeef"));

  expect_truncations_refused(d, [&](ByteView v) { return ip::parse_ipv4(v).has_value(); });
  Bytes v6 = d;
  v6[0] = 0x66;
  EXPECT_FALSE(ip::parse_ipv4(v6).has_value());
  Bytes ihl4 = d;
  ihl4[0] = 0x44;
  EXPECT_FALSE(ip::parse_ipv4(ihl4).has_value());
  Bytes ihl_too_big = d;
  ihl_too_big[0] = 0x4f;
  EXPECT_FALSE(ip::parse_ipv4(ihl_too_big).has_value());
  Bytes bad_checksum = d;
  bad_checksum[11] ^= 1;
  ASSERT_TRUE(ip::parse_ipv4(bad_checksum).has_value());
  EXPECT_FALSE(ip::parse_ipv4(bad_checksum)->checksum_valid);
}

TEST(Ipv4Codec, HeaderLength) {
  Bytes d = ip::ipv4_datagram(kSrc4, kDst4, ip::kEsp, Bytes{1, 2, 3});
  EXPECT_EQ(ip::ipv4_header_length(d), 20U);
  expect_truncations_refused(ByteView(d).first(20), [](ByteView v) { return ip::ipv4_header_length(v); });
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl)
    EXPECT_FALSE(ip::ipv4_header_length(fixtures::with_byte(d, 0, 0x40 | ihl))) << "IHL " << int{ihl};
  EXPECT_FALSE(ip::ipv4_header_length(fixtures::with_byte(d, 0, 0x46))) << "IHL 6 = 24 bytes > 23";
  EXPECT_FALSE(ip::ipv4_header_length(fixtures::with_byte(d, 0, 0x65))) << "version 6";
  Bytes options = cat({d, Bytes(20, 0)});
  options[0] = 0x4a;
  EXPECT_EQ(ip::ipv4_header_length(options), 40U);
}

TEST(Ipv4Codec, DatagramGoldenHeader) {
  Bytes d = ip::ipv4_datagram(kSrc4, kDst4, ip::kGre, Bytes{1, 2, 3});
  // 45 00 | total 23 | id 0 (the kernel fills it in) | flags 0 | ttl 64 | proto 47 | checksum | src | dst
  EXPECT_EQ(Bytes(d.begin(), d.begin() + 10), (Bytes{0x45, 0, 0, 23, 0, 0, 0, 0, 64, 47}));
  EXPECT_EQ(Bytes(d.begin() + 12, d.end()), (Bytes{198, 51, 100, 7, 203, 0, 113, 5, 1, 2, 3}));
  EXPECT_EQ(ip::ipv4_checksum(ByteView(d).first(20)), 0);
  Bytes with_id = ip::ipv4_datagram(kSrc4, kDst4, ip::kEsp, Bytes{}, 0xabcd, 3);
  EXPECT_EQ(with_id[4], 0xab);
  EXPECT_EQ(with_id[5], 0xcd);
  EXPECT_EQ(with_id[8], 3);
  EXPECT_EQ(ip::ipv4_checksum(with_id), 0);
  EXPECT_EQ(ip::ipv4_datagram(kSrc4, kDst4, ip::kEsp, Bytes(0xffff - 20)).size(), 0xffffU);
  EXPECT_TRUE(ip::ipv4_datagram(kSrc4, kDst4, ip::kEsp, Bytes(0xffff - 19)).empty()) << "over 65535 bytes";
}

// ---- Either family -------------------------------------------------------------

TEST(IpDatagram, FamilyFollowsTheAddresses) {
  Bytes four = ip::datagram(Bytes(kSrc4.begin(), kSrc4.end()), Bytes(kDst4.begin(), kDst4.end()), ip::kGre,
                            Bytes{9});
  auto v4 = ip::parse_ipv4(four);
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->protocol, ip::kGre);
  EXPECT_EQ(v4->ttl, 64);
  EXPECT_EQ(v4->src, kSrc4);
  Bytes six = ip::datagram(v6_address(1), v6_address(2), ip::kGre, Bytes{9});
  auto v6 = ip6::parse(six);
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->next_header, ip::kGre);
  EXPECT_EQ(v6->hop_limit, 64);
  EXPECT_TRUE(ip::datagram(Bytes(kSrc4.begin(), kSrc4.end()), v6_address(2), ip::kGre, {}).empty()) << "mixed";
  EXPECT_TRUE(ip::datagram(Bytes{1, 2, 3}, Bytes(kDst4.begin(), kDst4.end()), ip::kGre, {}).empty());
  EXPECT_TRUE(ip::datagram({}, {}, ip::kGre, {}).empty());
}

TEST(IpPayload, OnlyAWholeUnfragmentedDatagramOfTheProtocol) {
  Bytes d = ip::ipv4_datagram(kSrc4, kDst4, ip::kGre, Bytes{1, 2, 3});
  auto payload = ip::payload(d, ip::kGre);
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(Bytes(payload->begin(), payload->end()), (Bytes{1, 2, 3}));
  EXPECT_FALSE(ip::payload(d, ip::kEsp)) << "another protocol";
  expect_truncations_refused(d, [](ByteView v) { return ip::payload(v, ip::kGre); });
  EXPECT_FALSE(ip::payload(cat({d, Bytes{0}}), ip::kGre)) << "longer than the total length";
  EXPECT_FALSE(ip::payload(fixtures::with_byte(d, 6, 0x20), ip::kGre)) << "more fragments";
  EXPECT_FALSE(ip::payload(fixtures::with_byte(d, 7, 0x01), ip::kGre)) << "a fragment offset";
  EXPECT_TRUE(ip::payload(fixtures::with_byte(d, 6, 0x40), ip::kGre)) << "DF is not a fragment";
  EXPECT_FALSE(ip::payload(fixtures::with_byte(d, 0, 0x44), ip::kGre)) << "IHL < 5";

  Bytes six = ip::datagram(v6_address(1), v6_address(2), ip::kGre, Bytes{1, 2, 3});
  ASSERT_TRUE(ip::payload(six, ip::kGre).has_value());
  EXPECT_EQ(ip::payload(six, ip::kGre)->size(), 3U);
  EXPECT_FALSE(ip::payload(six, ip::kAh));
  expect_truncations_refused(six, [](ByteView v) { return ip::payload(v, ip::kGre); });
}

TEST(SetDontFragment, SetsDfAndKeepsTheChecksumRightOnIpv4Only) {
  Bytes d = ip::ipv4_datagram(kSrc4, kDst4, ip::kEsp, Bytes{1, 2, 3}, 0x1234, 64);
  Bytes before = d;
  ip::set_dont_fragment(d);
  EXPECT_EQ(d[6], 0x40);
  EXPECT_EQ(d[7], 0x00);
  EXPECT_EQ(ip::ipv4_checksum(ByteView(d).first(20)), 0);
  auto parsed = ip::parse_ipv4(d);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->flags_fragment, 0x4000);
  EXPECT_TRUE(parsed->checksum_valid);
  // Everything but the flags and the checksum as it was.
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i != 6 && i != 10 && i != 11) {
      EXPECT_EQ(d[i], before[i]) << i;
    }
  }
  // Twice is once.
  Bytes again = d;
  ip::set_dont_fragment(again);
  EXPECT_EQ(again, d);

  // IPv6 (no DF), a header with options, and what is not a datagram: unchanged.
  Bytes six = ip::datagram(v6_address(1), v6_address(2), ip::kEsp, Bytes{9});
  Bytes six_before = six;
  ip::set_dont_fragment(six);
  EXPECT_EQ(six, six_before);
  Bytes options = fixtures::with_byte(cat({Bytes(d.begin(), d.begin() + 20), Bytes(4, 1), Bytes{1, 2, 3}}), 0, 0x46);
  options[6] = 0;
  Bytes options_before = options;
  ip::set_dont_fragment(options);
  EXPECT_EQ(options, options_before);
  for (Bytes junk : {Bytes{}, Bytes{0x45}, Bytes(19, 0x45), Bytes(20, 0x65)}) {
    Bytes junk_before = junk;
    ip::set_dont_fragment(junk);
    EXPECT_EQ(junk, junk_before);
  }
}

// ---- The digest scope -------------------------------------------------------

TEST(DigestScope, EverythingAfterTheHeaderOfEitherFamily) {
  Bytes d = ip::ipv4_datagram(kSrc4, kDst4, ip::kEsp, Bytes{1, 2, 3});
  EXPECT_EQ(Bytes(ip::digest_scope(d).begin(), ip::digest_scope(d).end()), (Bytes{1, 2, 3}));
  Bytes options = cat({hex("46000018000000004032000001020304050607080a0b0c0d"), Bytes{7}});
  EXPECT_EQ(ip::digest_scope(options).size(), 1U) << "options are header";
  Bytes six = ip::datagram(v6_address(1), v6_address(2), ip::kEsp, Bytes{4, 5});
  EXPECT_EQ(Bytes(ip::digest_scope(six).begin(), ip::digest_scope(six).end()), (Bytes{4, 5}));
}

// What a NAT does to a datagram on the way must not look like a modification,
// and a changed byte after the header must: the client hashes what it sent,
// the reflector what arrived, and the report compares the two.
TEST(DigestScope, AddressTtlAndChecksumRewritesDoNotChangeTheDigestButThePayloadDoes) {
  Bytes sent = ip::ipv4_datagram({192, 168, 1, 10}, kDst4, ip::kEsp, Bytes{1, 2, 3, 4}, 7, 64);
  Bytes natted = ip::ipv4_datagram(kSrc4, kDst4, ip::kEsp, Bytes{1, 2, 3, 4}, 0x5555, 61);
  EXPECT_EQ(sha256(ip::digest_scope(sent)), sha256(ip::digest_scope(natted)));
  Bytes modified = natted;
  modified.back() ^= 1;
  EXPECT_NE(sha256(ip::digest_scope(sent)), sha256(ip::digest_scope(modified)));
  Bytes sent6 = ip::datagram(v6_address(1), v6_address(2), ip::kAh, Bytes{1, 2});
  Bytes hop6 = sent6;
  hop6[7] = 1;  // hop limit
  EXPECT_EQ(sha256(ip::digest_scope(sent6)), sha256(ip::digest_scope(hop6)));
}

TEST(DigestScope, MalformedInputIsDigestedWhole) {
  EXPECT_TRUE(ip::digest_scope({}).empty());
  Bytes d = ip::ipv4_datagram(kSrc4, kDst4, ip::kEsp, Bytes{1, 2, 3});
  const auto whole = [](const Bytes& b) { return ip::digest_scope(b).size() == b.size(); };
  EXPECT_TRUE(whole(fixtures::with_byte(d, 0, 0x44))) << "IHL < 5";
  EXPECT_TRUE(whole(fixtures::with_byte(d, 0, 0x4f))) << "IHL beyond the datagram";
  EXPECT_TRUE(whole(fixtures::with_byte(d, 0, 0x55))) << "version 5";
  EXPECT_TRUE(whole(Bytes(d.begin(), d.begin() + 19))) << "shorter than a header";
  Bytes short6(39, 0);
  short6[0] = 0x60;
  EXPECT_TRUE(whole(short6)) << "IPv6 shorter than its header";
  // A datagram cut after its header is still hashed after the header, so a
  // truncation on the way shows up as a different digest, not as a match.
  EXPECT_EQ(ip::digest_scope(ByteView(d).first(21)).size(), 1U);
}

}  // namespace
}  // namespace vpncheck::probes
