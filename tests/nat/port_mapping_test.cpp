// NAT-PMP (RFC 6886) and PCP (RFC 6887) codecs: golden bytes written out from
// the RFC layouts field by field, and every way an answer can be wrong.
#include <gtest/gtest.h>

#include "src/nat/natpmp.h"
#include "src/nat/pcp.h"
#include "src/nat/port_mapping.h"
#include "tests/probes/test_support.h"

namespace vpncheck::nat {
namespace {

using probes::fixtures::counter_fill;
using probes::fixtures::hex;

constexpr Ipv4 kLan{192, 168, 1, 10};
constexpr Ipv4 kWan{203, 0, 113, 5};

ByteView view(const Bytes& b) { return ByteView(b); }

// ---------------------------------------------------------------- addresses

TEST(Ipv4Text, ParsesAndFormatsDottedQuads) {
  EXPECT_EQ(parse_ipv4("203.0.113.5"), kWan);
  EXPECT_EQ(parse_ipv4("0.0.0.0"), (Ipv4{0, 0, 0, 0}));
  EXPECT_EQ(parse_ipv4("255.255.255.255"), (Ipv4{255, 255, 255, 255}));
  EXPECT_EQ(format_ipv4(kWan), "203.0.113.5");
  for (std::string_view bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4",
                               "1..3.4", "1.2.3.", "a.b.c.d", "1.2.3.4x", "1234.1.1.1", "::1"})
    EXPECT_FALSE(parse_ipv4(bad)) << bad;
}

TEST(Ipv4Text, MappedIpv6RoundTrip) {
  Ipv6 mapped = ipv4_mapped(kWan);
  EXPECT_EQ(probes::to_hex(mapped), "00000000000000000000ffffcb007105");
  EXPECT_EQ(from_ipv4_mapped(mapped), kWan);
  EXPECT_EQ(format_ip(mapped), "203.0.113.5");
  Ipv6 v6{0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 1;
  EXPECT_FALSE(from_ipv4_mapped(v6));
  EXPECT_EQ(format_ip(v6), "2001:db8::1");
}

// ---------------------------------------------------------------- NAT-PMP

TEST(NatPmpCodec, ExternalAddressRequestIsTwoZeroBytes) {
  EXPECT_EQ(probes::to_hex(natpmp_external_address_request()), "0000");
}

TEST(NatPmpCodec, ParsesExternalAddressResponse) {
  // version 0 | opcode 128 | result 0 | epoch 0x1234 | 203.0.113.5
  auto r = parse_natpmp_external_address_response(hex("00800000" "00001234" "cb007105"));
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->result_code, 0);
  EXPECT_EQ(r->seconds_since_epoch, 0x1234U);
  EXPECT_EQ(r->external_address, kWan);
}

TEST(NatPmpCodec, ErrorAnswerMayStopAfterEpoch) {
  auto r = parse_natpmp_external_address_response(hex("00800003" "00000010"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_code, 3);
  EXPECT_FALSE(r->external_address);
  EXPECT_EQ(describe(static_cast<NatPmpResult>(r->result_code)), "network failure (gateway has no external address)");
}

TEST(NatPmpCodec, RejectsBadExternalAddressResponses) {
  EXPECT_EQ(parse_natpmp_external_address_response({}).error(), ParseError::truncated);
  EXPECT_EQ(parse_natpmp_external_address_response(hex("00")).error(), ParseError::truncated);
  EXPECT_EQ(parse_natpmp_external_address_response(hex("008000000000")).error(), ParseError::truncated);
  // success needs the address
  EXPECT_EQ(parse_natpmp_external_address_response(hex("00800000" "00001234" "cb0071")).error(),
            ParseError::truncated);
  // a PCP answer (version 2)
  EXPECT_EQ(parse_natpmp_external_address_response(hex("02800000" "00001234" "cb007105")).error(),
            ParseError::wrong_version);
  // our own request echoed back, and a mapping answer
  EXPECT_EQ(parse_natpmp_external_address_response(hex("0000")).error(), ParseError::not_a_response);
  EXPECT_EQ(parse_natpmp_external_address_response(hex("00810000" "00001234" "cb007105")).error(),
            ParseError::wrong_opcode);
}

TEST(NatPmpCodec, MappingRequestGoldenBytes) {
  // version 0 | opcode 1 (UDP) | reserved 0 | internal 51820 | suggested 51820 | lifetime 7200
  EXPECT_EQ(probes::to_hex(natpmp_mapping_request({MappingProtocol::udp, 51820, 51820, 7200})),
            "00010000ca6cca6c00001c20");
  // opcode 2 (TCP), internal 1723, suggested 0, lifetime 60
  EXPECT_EQ(probes::to_hex(natpmp_mapping_request({MappingProtocol::tcp, 1723, 0, 60})),
            "0002000006bb00000000003c");
  EXPECT_EQ(natpmp_mapping_request({}).size(), kNatPmpMappingRequestSize);
}

TEST(NatPmpCodec, DeleteIsLifetimeZeroAndExternalPortZero) {
  EXPECT_EQ(probes::to_hex(natpmp_delete_request(MappingProtocol::udp, 51820)), "00010000ca6c000000000000");
  EXPECT_EQ(probes::to_hex(natpmp_delete_request(MappingProtocol::tcp, 443)), "0002000001bb000000000000");
}

TEST(NatPmpCodec, ParsesMappingResponse) {
  const NatPmpMappingRequest q{MappingProtocol::udp, 51820, 51820, 7200};
  // version 0 | opcode 129 | result 0 | epoch 0x100 | internal 51820 | external 54321 | lifetime 3600
  auto r = parse_natpmp_mapping_response(hex("00810000" "00000100" "ca6c" "d431" "00000e10"), q);
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(*r, (NatPmpMapping{0, 0x100, 51820, 54321, 3600}));
  // a delete's answer: lifetime 0, external 0
  auto d = parse_natpmp_mapping_response(hex("00810000" "00000100" "ca6c" "0000" "00000000"), q);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->lifetime_s, 0U);
}

TEST(NatPmpCodec, RejectsBadMappingResponses) {
  const NatPmpMappingRequest q{MappingProtocol::udp, 51820, 51820, 7200};
  const Bytes good = hex("00810000" "00000100" "ca6c" "d431" "00000e10");
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(parse_natpmp_mapping_response(view(good).first(n), q)) << n;
  EXPECT_EQ(parse_natpmp_mapping_response(hex("00820000" "00000100" "ca6c" "d431" "00000e10"), q).error(),
            ParseError::wrong_opcode);  // TCP answer to a UDP request
  EXPECT_EQ(parse_natpmp_mapping_response(hex("00810000" "00000100" "0050" "d431" "00000e10"), q).error(),
            ParseError::mismatch);  // another internal port
  EXPECT_EQ(parse_natpmp_mapping_response(natpmp_mapping_request(q), q).error(), ParseError::not_a_response);
  EXPECT_EQ(parse_natpmp_mapping_response(hex("01810000" "00000100" "ca6c" "d431" "00000e10"), q).error(),
            ParseError::wrong_version);
  // a short error answer is accepted with its code
  auto refused = parse_natpmp_mapping_response(hex("00810002" "00000100"), q);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->result_code, 2);
}

// ---------------------------------------------------------------- PCP

const PcpNonce kNonce{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

PcpMapRequest map_request() {
  PcpMapRequest q;
  q.nonce = kNonce;
  q.protocol = MappingProtocol::udp;
  q.client_address = kLan;
  q.internal_port = 51820;
  q.suggested_external_port = 51820;
  q.lifetime_s = 7200;
  return q;
}

// version 2 | R=1 opcode 1 | reserved | result | lifetime | epoch | 12 reserved
std::string pcp_response_header(std::string_view result, std::string_view lifetime) {
  return "0281" "00" + std::string(result) + std::string(lifetime) + "00000100" + std::string(24, '0');
}
const std::string kMapData = "000102030405060708090a0b" "11000000" "ca6c" "d431" "00000000000000000000ffffcb007105";

TEST(PcpCodec, NonceComesFromTheRandomSource) {
  EXPECT_EQ(make_pcp_nonce(counter_fill()), kNonce);
}

TEST(PcpCodec, AnnounceGoldenBytes) {
  // version 2 | opcode 0 | reserved 2 | lifetime 0 | client ::ffff:192.168.1.10
  EXPECT_EQ(probes::to_hex(pcp_announce_request(kLan)),
            "02000000" "00000000" "00000000000000000000ffffc0a8010a");
}

TEST(PcpCodec, ParsesAnnounceResponse) {
  auto r = parse_pcp_announce_response(hex("02800000" "00000000" "00000e10" + std::string(24, '0')));
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(*r, (PcpResponseHeader{0, 0, 0, 3600}));
}

TEST(PcpCodec, MapRequestGoldenBytes) {
  EXPECT_EQ(probes::to_hex(pcp_map_request(map_request())),
            "02010000" "00001c20" "00000000000000000000ffffc0a8010a"  // header: lifetime 7200, client
            "000102030405060708090a0b"                                // nonce
            "11000000"                                                // UDP, reserved
            "ca6cca6c"                                                // internal, suggested external
            "00000000000000000000ffff00000000");                      // no suggested address
  PcpMapRequest tcp = map_request();
  tcp.protocol = MappingProtocol::tcp;
  tcp.suggested_external_address = kWan;
  Bytes b = pcp_map_request(tcp);
  ASSERT_EQ(b.size(), kPcpMapMessageSize);
  EXPECT_EQ(b[36], kIpProtoTcp);
  EXPECT_EQ(probes::to_hex(view(b).subspan(44)), "00000000000000000000ffffcb007105");
}

TEST(PcpCodec, DeleteIsTheSameMapWithLifetimeZero) {
  Bytes map = pcp_map_request(map_request());
  Bytes del = pcp_delete_request(map_request());
  ASSERT_EQ(del.size(), map.size());
  EXPECT_EQ(probes::to_hex(view(del).first(8)), "0201000000000000");
  EXPECT_TRUE(std::equal(del.begin() + 8, del.end(), map.begin() + 8));
}

TEST(PcpCodec, ParsesMapResponse) {
  auto r = parse_pcp_map_response(hex(pcp_response_header("00", "00000e10") + kMapData), map_request());
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->header, (PcpResponseHeader{kPcpOpMap, 0, 3600, 0x100}));
  EXPECT_EQ(r->internal_port, 51820);
  EXPECT_EQ(r->external_port, 54321);
  EXPECT_EQ(from_ipv4_mapped(r->external_address), kWan);
  // options after the MAP data are ignored (THIRD_PARTY-like option, 4-aligned)
  EXPECT_TRUE(parse_pcp_map_response(hex(pcp_response_header("00", "00000e10") + kMapData + "01000000"),
                                     map_request()));
}

TEST(PcpCodec, ErrorAnswersKeepTheirResultCode) {
  auto mismatch = parse_pcp_map_response(hex(pcp_response_header("0c", "00000000") + kMapData), map_request());
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(mismatch->header.result_code, static_cast<std::uint8_t>(PcpResult::address_mismatch));
  auto bare = parse_pcp_map_response(hex(pcp_response_header("02", "00000000")), map_request());
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->header.result_code, 2);
  // success without the MAP data is not an answer
  EXPECT_EQ(parse_pcp_map_response(hex(pcp_response_header("00", "00000e10")), map_request()).error(),
            ParseError::truncated);
}

TEST(PcpCodec, RejectsBadMapResponses) {
  const PcpMapRequest q = map_request();
  const Bytes good = hex(pcp_response_header("00", "00000e10") + kMapData);
  for (std::size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(parse_pcp_map_response(view(good).first(n), q)) << n;

  PcpMapRequest other = q;
  other.nonce[11] ^= 1;
  EXPECT_EQ(parse_pcp_map_response(good, other).error(), ParseError::nonce_mismatch);
  other = q;
  other.protocol = MappingProtocol::tcp;
  EXPECT_EQ(parse_pcp_map_response(good, other).error(), ParseError::mismatch);
  other = q;
  other.internal_port = 1194;
  EXPECT_EQ(parse_pcp_map_response(good, other).error(), ParseError::mismatch);

  EXPECT_EQ(parse_pcp_map_response(pcp_map_request(q), q).error(), ParseError::not_a_response);
  Bytes announce_answer = good;
  announce_answer[1] = 0x80;
  EXPECT_EQ(parse_pcp_map_response(announce_answer, q).error(), ParseError::wrong_opcode);
  Bytes v1 = good;
  v1[0] = 1;
  EXPECT_EQ(parse_pcp_map_response(v1, q).error(), ParseError::wrong_version);
  // a NAT-PMP-only gateway's "unsupported version" answer
  EXPECT_EQ(parse_pcp_map_response(hex("00810001" "00000100"), q).error(), ParseError::wrong_version);
  Bytes unaligned = good;
  unaligned.push_back(0);
  EXPECT_EQ(parse_pcp_map_response(unaligned, q).error(), ParseError::malformed);
  Bytes huge = good;
  huge.resize(kPcpMaxMessageSize + 4);
  EXPECT_EQ(parse_pcp_map_response(huge, q).error(), ParseError::too_long);
}

// ---------------------------------------------------------------- classification

TEST(AddressClass, CgnatRange) {
  EXPECT_TRUE(is_cgnat_address("100.64.0.0"));
  EXPECT_TRUE(is_cgnat_address("100.127.255.255"));
  EXPECT_TRUE(is_cgnat_address("100.100.1.1"));
  EXPECT_FALSE(is_cgnat_address("100.63.255.255"));
  EXPECT_FALSE(is_cgnat_address("100.128.0.0"));
  EXPECT_FALSE(is_cgnat_address("10.0.0.1"));
  EXPECT_FALSE(is_cgnat_address("not an address"));
}

TEST(AddressClass, PrivateRanges) {
  for (std::string_view a : {"10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.0.1",
                             "169.254.1.1"})
    EXPECT_TRUE(is_private_address(a)) << a;
  for (std::string_view a : {"9.255.255.255", "11.0.0.0", "172.15.255.255", "172.32.0.0", "192.167.1.1",
                             "192.169.0.1", "100.64.0.1", "203.0.113.5", "169.253.1.1", "", "300.1.1.1"})
    EXPECT_FALSE(is_private_address(a)) << a;
}

TEST(Topology, EveryOutcome) {
  struct Case {
    std::optional<Ipv4> gateway;
    std::optional<Ipv4> seen;
    NatTopology topology;
    std::optional<bool> double_nat;
  };
  const Case cases[] = {
      {std::nullopt, kWan, NatTopology::unknown, std::nullopt},
      {std::nullopt, std::nullopt, NatTopology::unknown, std::nullopt},
      {Ipv4{0, 0, 0, 0}, kWan, NatTopology::unknown, std::nullopt},
      {kWan, std::nullopt, NatTopology::unknown, std::nullopt},
      {kWan, kWan, NatTopology::single_nat, false},
      {Ipv4{100, 72, 3, 4}, kWan, NatTopology::cgnat, true},
      {Ipv4{100, 72, 3, 4}, std::nullopt, NatTopology::cgnat, true},
      {Ipv4{192, 168, 0, 2}, kWan, NatTopology::double_nat, true},
      {Ipv4{10, 0, 0, 2}, std::nullopt, NatTopology::double_nat, true},
      {Ipv4{198, 51, 100, 7}, kWan, NatTopology::double_nat, true},
  };
  for (const auto& c : cases) {
    auto f = classify_topology(c.gateway, c.seen);
    const std::string label = (c.gateway ? format_ipv4(*c.gateway) : "-") + " / " + (c.seen ? format_ipv4(*c.seen) : "-");
    EXPECT_EQ(f.topology, c.topology) << label;
    EXPECT_EQ(f.double_nat, c.double_nat) << label;
    EXPECT_FALSE(f.explanation.empty()) << label;
    EXPECT_EQ(f.explanation.find('\n'), std::string::npos) << label;
  }
  EXPECT_NE(classify_topology(Ipv4{100, 72, 3, 4}, kWan).explanation.find("VPN server"), std::string::npos);
  EXPECT_EQ(to_string(NatTopology::cgnat), "cgnat");
}

}  // namespace
}  // namespace vpncheck::nat
