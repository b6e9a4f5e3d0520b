// NAT64 prefixes (RFC 6052 section 2.2 embedding, RFC 7050 discovery) and the
// DNS bytes of the ipv4only.arpa lookup, on address and byte vectors.
#include "src/nat/nat64.h"

#include <gtest/gtest.h>

namespace vpncheck::nat {
namespace {

Ipv6 v6(const char* text) {
  auto a = parse_ipv6(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(Ipv6{});
}

Nat64Prefix prefix(const char* text, int length) { return Nat64Prefix{v6(text), length}; }

const Ipv4 kExample{192, 0, 2, 33};

// RFC 6052 section 2.4, the table of 192.0.2.33 under each prefix length.
struct Row {
  const char* prefix;
  int length;
  const char* address;
};
const Row kRfc6052Table[] = {
    {"2001:db8::", 32, "2001:db8:c000:221::"},
    {"2001:db8:100::", 40, "2001:db8:1c0:2:21::"},
    {"2001:db8:122::", 48, "2001:db8:122:c000:2:2100::"},
    {"2001:db8:122:300::", 56, "2001:db8:122:3c0:0:221::"},
    {"2001:db8:122:344::", 64, "2001:db8:122:344:c0:2:2100:0"},
    {"2001:db8:122:344::", 96, "2001:db8:122:344::192.0.2.33"},
};

TEST(Nat64Prefix, SynthesizesEveryLengthOfRfc6052) {
  for (const auto& row : kRfc6052Table) {
    auto out = synthesize_ipv6(prefix(row.prefix, row.length), kExample);
    ASSERT_TRUE(out) << row.length;
    EXPECT_EQ(*out, v6(row.address)) << row.length;
  }
  EXPECT_EQ(*synthesize_ipv6(prefix("64:ff9b::", 96), kExample), v6("64:ff9b::c000:221"));
}

TEST(Nat64Prefix, FindsThePrefixOfEveryLength) {
  for (const auto& row : kRfc6052Table) {
    auto found = prefix_embedding(v6(row.address), kExample);
    ASSERT_TRUE(found) << row.length;
    EXPECT_EQ(found->length, row.length);
    EXPECT_EQ(found->bits, v6(row.prefix)) << row.length;
    EXPECT_EQ(embedded_ipv4(v6(row.address), row.length), kExample);
  }
  EXPECT_EQ(to_string(*prefix_embedding(v6("2001:db8:64::cb00:7105"), Ipv4{203, 0, 113, 5})), "2001:db8:64::/96");
}

TEST(Nat64Prefix, RefusesAddressesThatEmbedSomethingElse) {
  // Another IPv4 address in the last 32 bits: not a translation of this one.
  EXPECT_FALSE(prefix_embedding(v6("2001:db8:64::cb00:7106"), Ipv4{203, 0, 113, 5}));
  // A native address (the reflector reached without a translator).
  EXPECT_FALSE(prefix_embedding(v6("2001:db8:2::5"), Ipv4{203, 0, 113, 5}));
  EXPECT_FALSE(prefix_embedding(Ipv6{}, Ipv4{203, 0, 113, 5}));
  // The /64 form with a non-zero "u" octet is no RFC 6052 address.
  auto bad_u = v6("2001:db8:122:344:c0:2:2100:0");
  bad_u[8] = 0x01;
  EXPECT_FALSE(prefix_embedding(bad_u, kExample));
  EXPECT_FALSE(embedded_ipv4(bad_u, 64));
  // The /64 form with a non-zero suffix.
  auto bad_suffix = v6("2001:db8:122:344:c0:2:2100:0");
  bad_suffix[15] = 0x01;
  EXPECT_FALSE(prefix_embedding(bad_suffix, kExample));
}

TEST(Nat64Prefix, InvalidLengthsAreRefused) {
  for (int length : {0, 8, 33, 72, 80, 95, 97, 128, -1}) {
    EXPECT_FALSE(valid_nat64_prefix_length(length)) << length;
    EXPECT_FALSE(synthesize_ipv6(prefix("2001:db8::", length), kExample)) << length;
    EXPECT_FALSE(embedded_ipv4(v6("2001:db8::c000:221"), length)) << length;
  }
}

TEST(Nat64Prefix, FromIpv4OnlyArpa) {
  // RFC 7050: the well-known addresses 192.0.0.170 and .171 in the answers.
  auto p = prefix_from_ipv4only({v6("64:ff9b::c000:aa"), v6("64:ff9b::c000:ab")});
  ASSERT_TRUE(p);
  EXPECT_EQ(to_string(*p), "64:ff9b::/96");
  p = prefix_from_ipv4only({v6("2001:db8:122:344:c0:0:aa00:0")});
  ASSERT_TRUE(p);
  EXPECT_EQ(to_string(*p), "2001:db8:122:344::/64");
  // A real AAAA (no DNS64 synthesis) embeds neither.
  EXPECT_FALSE(prefix_from_ipv4only({v6("2001:db8::1")}));
  EXPECT_FALSE(prefix_from_ipv4only({}));
}

TEST(Nat64Prefix, ParsesOnlyIpv6Text) {
  EXPECT_TRUE(parse_ipv6("::1"));
  EXPECT_FALSE(parse_ipv6("203.0.113.5"));
  EXPECT_FALSE(parse_ipv6(""));
  EXPECT_FALSE(parse_ipv6("2001:db8::g"));
  EXPECT_FALSE(parse_ipv6(std::string(100, ':')));
}

// ---- the ipv4only.arpa lookup ----

TEST(Dns64Query, BuildsAStandardAaaaQuery) {
  const std::vector<std::uint8_t> expected{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                           8, 'i', 'p', 'v', '4', 'o', 'n', 'l', 'y', 4, 'a', 'r', 'p', 'a', 0,
                                           0, 28, 0, 1};
  EXPECT_EQ(build_aaaa_query(0x1234, kIpv4OnlyName), expected);
  EXPECT_TRUE(build_aaaa_query(1, "").empty());
  EXPECT_TRUE(build_aaaa_query(1, "a..b").empty());
  EXPECT_TRUE(build_aaaa_query(1, "trailing.").empty());
  EXPECT_TRUE(build_aaaa_query(1, std::string(64, 'x')).empty());
}

std::vector<std::uint8_t> answer_to(std::uint16_t id, std::vector<Ipv6> addresses, std::uint16_t flags = 0x8180) {
  auto m = build_aaaa_query(id, kIpv4OnlyName);
  m[2] = static_cast<std::uint8_t>(flags >> 8);
  m[3] = static_cast<std::uint8_t>(flags & 0xff);
  m[7] = static_cast<std::uint8_t>(addresses.size());
  for (const auto& a : addresses) {
    // A pointer to the question's name, AAAA, IN, TTL 60, 16 bytes.
    m.insert(m.end(), {0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16});
    m.insert(m.end(), a.begin(), a.end());
  }
  return m;
}

TEST(Dns64Answer, ReadsTheSynthesizedAddresses) {
  auto m = answer_to(7, {v6("64:ff9b::c000:aa"), v6("64:ff9b::c000:ab")});
  auto out = parse_aaaa_answer(m, 7);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ(to_string(*prefix_from_ipv4only(*out)), "64:ff9b::/96");
}

TEST(Dns64Answer, SkipsOtherRecordsAndUncompressedNames) {
  auto m = build_aaaa_query(9, kIpv4OnlyName);
  m[2] = 0x81;
  m[3] = 0x80;
  m[7] = 2;
  // A CNAME-like record of another type with an uncompressed owner name, then the AAAA.
  m.insert(m.end(), {1, 'x', 0, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 0x0c});
  m.insert(m.end(), {0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16});
  const auto a = v6("2001:db8:64::c000:aa");
  m.insert(m.end(), a.begin(), a.end());
  auto out = parse_aaaa_answer(m, 9);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0], a);
}

TEST(Dns64Answer, NoDns64IsAnEmptyAnswer) {
  auto nxdomain = answer_to(7, {}, 0x8183);
  auto out = parse_aaaa_answer(nxdomain, 7);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->empty());
  auto nodata = answer_to(7, {});
  ASSERT_TRUE(parse_aaaa_answer(nodata, 7));
  EXPECT_TRUE(parse_aaaa_answer(nodata, 7)->empty());
}

TEST(Dns64Answer, RefusesGarbage) {
  auto good = answer_to(7, {v6("64:ff9b::c000:aa")});
  EXPECT_FALSE(parse_aaaa_answer(good, 8));                         // another query's answer
  EXPECT_FALSE(parse_aaaa_answer(build_aaaa_query(7, kIpv4OnlyName), 7));  // a query, not an answer
  EXPECT_FALSE(parse_aaaa_answer(answer_to(7, {v6("64:ff9b::c000:aa")}, 0x8380), 7));  // truncated (TC)
  EXPECT_FALSE(parse_aaaa_answer(answer_to(7, {v6("64:ff9b::c000:aa")}, 0x8980), 7));  // opcode 1
  for (std::size_t n = 0; n < good.size(); ++n) {
    std::vector<std::uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(parse_aaaa_answer(cut, 7)) << n;
  }
  // A label type RFC 1035 reserves, and a name that never ends.
  auto reserved = good;
  reserved[12] = 0x48;
  EXPECT_FALSE(parse_aaaa_answer(reserved, 7));
  std::vector<std::uint8_t> endless{0, 7, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 200; ++i) endless.insert(endless.end(), {1, 'a'});
  EXPECT_FALSE(parse_aaaa_answer(endless, 7));
  // More records announced than present.
  auto short_count = good;
  short_count[7] = 3;
  EXPECT_FALSE(parse_aaaa_answer(short_count, 7));
  // A record whose length runs past the end.
  auto long_rdata = good;
  long_rdata[long_rdata.size() - 17] = 200;
  EXPECT_FALSE(parse_aaaa_answer(long_rdata, 7));
}

TEST(ResolvConf, NameserversInOrder) {
  EXPECT_EQ(nameservers_from_resolv_conf("# comment\nsearch lab\nnameserver 2001:db8:1::1\n"
                                         "nameserver\t192.0.2.53  \noptions timeout:1\n"
                                         "nameserver fe80::1%eth0\nnameserver 192.0.2.54\n"),
            (std::vector<std::string>{"2001:db8:1::1", "192.0.2.53", "fe80::1"}));
  EXPECT_TRUE(nameservers_from_resolv_conf("").empty());
  EXPECT_TRUE(nameservers_from_resolv_conf("nameserver\n;nameserver 1.2.3.4\n nameservers 1.2.3.4").empty());
}

}  // namespace
}  // namespace vpncheck::nat
