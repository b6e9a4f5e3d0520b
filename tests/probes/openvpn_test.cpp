#include "probes/openvpn.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::counter_fill;
using fixtures::hex;
using fixtures::make_token;

// PROTOCOLS.md §6.1/6.2, tls-auth (HMAC-SHA1) form, counter_fill(0), token a1..a6|0102.
const Bytes kGoldenClientReset = hex(
    "38"                                        //  0  opcode 7 << 3 | key_id 0
    "a1a2a3a4a5a60102"                          //  1  session id = probe token
    "000102030405060708090a0b0c0d0e0f10111213"  //  9  HMAC-SHA1 (random: the key is secret)
    "00000001"                                  // 29  replay packet-id, starts at 1
    "65000000"                                  // 33  net time
    "00"                                        // 37  ack array length 0
    "00000000");                                // 38  message packet-id 0

// PROTOCOLS.md §6.2, the plain 14-byte reset exactly as tshark verified it.
const Bytes kSpecPlainReset = hex("38" "a1a2a3a4a5a6a7a8" "00" "00000000");

TEST(OpenvpnCodec, BuildsGoldenTlsAuthClientReset) {
  ASSERT_EQ(kGoldenClientReset.size(), 42U);
  EXPECT_EQ(openvpn::build_client_reset(make_token(0x0102), {}, counter_fill()), kGoldenClientReset);
}

TEST(OpenvpnCodec, ParsesGoldenClientResetFields) {
  auto parsed = openvpn::parse_client_reset(kGoldenClientReset, {});
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->token, make_token(0x0102));
  EXPECT_EQ(parsed->fields.at("opcode"), "P_CONTROL_HARD_RESET_CLIENT_V2");
  EXPECT_EQ(parsed->fields.at("key_id"), "0");
  EXPECT_EQ(parsed->fields.at("session_id"), "a1a2a3a4a5a60102");
  EXPECT_EQ(parsed->fields.at("wrapping"), "tls-auth-sha1");
}

TEST(OpenvpnCodec, ParsesThePlainResetFromTheSpec) {
  auto parsed = openvpn::parse_client_reset(kSpecPlainReset, {});
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->token, make_token(0xa7a8));
  EXPECT_EQ(parsed->fields.at("session_id"), "a1a2a3a4a5a6a7a8");
  EXPECT_EQ(parsed->fields.at("wrapping"), "none");
}

TEST(OpenvpnCodec, RoundTripsEveryBoundaryIndex) {
  for (std::uint16_t index : fixtures::kProbeIndices) {
    Bytes msg = openvpn::build_client_reset(make_token(index), {}, fixtures::seeded_fill(index));
    auto parsed = openvpn::parse_client_reset(msg, {});
    ASSERT_TRUE(parsed.has_value()) << index;
    EXPECT_EQ(parsed->token, make_token(index));
  }
}

TEST(OpenvpnCodec, ParseRejectsEveryTruncationOfTheSmallestReset) {
  for (std::size_t len = 0; len < kSpecPlainReset.size(); ++len) {
    EXPECT_FALSE(openvpn::parse_client_reset(ByteView(kSpecPlainReset).first(len), {}).has_value()) << len;
    EXPECT_FALSE(openvpn::parse_client_reset(ByteView(kGoldenClientReset).first(len), {}).has_value()) << len;
  }
}

// The parser accepts any wrapped size up to the control-packet limit (it cannot
// tell a wrapper it does not know from a truncated one) and says so.
TEST(OpenvpnCodec, LabelsUnknownWrappingSizes) {
  auto parsed = openvpn::parse_client_reset(ByteView(kGoldenClientReset).first(41), {});
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->fields.at("wrapping"), "unknown");
}

TEST(OpenvpnCodec, ParseRejectsOversized) {
  for (std::size_t size : {openvpn::kMaxControlPacket + 1, std::size_t{1500}, std::size_t{65535}}) {
    Bytes big = kGoldenClientReset;
    big.resize(size, 0);
    EXPECT_FALSE(openvpn::parse_client_reset(big, {}).has_value()) << size;
  }
}

TEST(OpenvpnCodec, ParseRejectsEveryOtherOpcodeAndKeyId) {
  for (int first = 0; first < 256; ++first) {
    if (first == 0x38) continue;
    Bytes wrong = kGoldenClientReset;
    wrong[0] = static_cast<std::uint8_t>(first);
    EXPECT_FALSE(openvpn::parse_client_reset(wrong, {}).has_value()) << "first byte " << first;
  }
}

TEST(OpenvpnCodec, OpcodeByteMatchesTheSpec) {
  EXPECT_EQ(openvpn::opcode_byte(openvpn::kOpHardResetClientV2), 0x38);
  EXPECT_EQ(openvpn::opcode_byte(openvpn::kOpHardResetServerV2), 0x40);
  EXPECT_EQ(openvpn::opcode_byte(openvpn::kOpHardResetServerV2, 3), 0x43);
  EXPECT_EQ(openvpn::opcode_byte(openvpn::kOpHardResetServerV2, 9), 0x41);  // key_id is 3 bits
}

TEST(OpenvpnCodec, BuildsGoldenServerReset) {
  auto parsed = openvpn::parse_client_reset(kGoldenClientReset, {});
  ASSERT_TRUE(parsed.has_value());
  Bytes expected = hex(
      "40"                  //  0  opcode 8 << 3 | key_id 0
      "b1b2b3b4b5b6b7b8"    //  1  server session id (random)
      "01"                  //  9  one ACK
      "00000000"            // 10  ... of packet-id 0
      "a1a2a3a4a5a60102"    // 14  remote session id = the client's
      "00000000");          // 22  message packet-id 0
  ASSERT_EQ(expected.size(), openvpn::kServerResetSize);
  EXPECT_EQ(openvpn::build_server_reset(kGoldenClientReset, *parsed, counter_fill(0xb1)), expected);
}

// A plain 14-byte reset would be answered by 26 bytes: the reflector must stay silent.
TEST(OpenvpnCodec, NoServerResetForRequestsSmallerThanIt) {
  for (std::size_t len = 14; len < openvpn::kServerResetSize; ++len) {
    ByteView request = ByteView(kGoldenClientReset).first(len);
    auto parsed = openvpn::parse_client_reset(request, {});
    ASSERT_TRUE(parsed.has_value()) << len;
    EXPECT_TRUE(openvpn::build_server_reset(request, *parsed, counter_fill()).empty()) << len;
  }
}

TEST(OpenvpnFraming, FramesWithBigEndianLength) {
  const auto& f = openvpn::kTcpFraming;
  EXPECT_EQ(f.frame(kSpecPlainReset), hex("000e" "38a1a2a3a4a5a6a7a800" "00000000"));  // §6.2 TCP, 16 B
  Bytes framed = f.frame(kGoldenClientReset);
  ASSERT_EQ(framed.size(), 44U);
  EXPECT_EQ(framed[0], 0x00);
  EXPECT_EQ(framed[1], 0x2a);
  EXPECT_TRUE(std::equal(kGoldenClientReset.begin(), kGoldenClientReset.end(), framed.begin() + 2));
  Bytes big(0x1234, 0x38);
  Bytes framed_big = f.frame(big);
  EXPECT_EQ(framed_big[0], 0x12);
  EXPECT_EQ(framed_big[1], 0x34);
  EXPECT_TRUE(f.preamble.empty()) << "OpenVPN over TCP has no stream prefix";
  EXPECT_EQ(frame_first(f, kGoldenClientReset), framed);
  EXPECT_TRUE(f.frame(Bytes{}).empty()) << "nothing to frame";
  EXPECT_TRUE(f.frame(Bytes(0x10000, 0x38)).empty()) << "too long for the length field";
}

TEST(OpenvpnFraming, MessageLengthCountsTheFieldOnlyOnce) {
  const auto& f = openvpn::kTcpFraming;
  EXPECT_EQ(f.message_length(Bytes{}), MessageLength::more());
  EXPECT_EQ(f.message_length(Bytes{0x00}), MessageLength::more());
  EXPECT_EQ(f.message_length(Bytes{0x00, 0x2a}), MessageLength::of(44));
  EXPECT_EQ(f.message_length(hex("002a38")), MessageLength::of(44));
  EXPECT_EQ(f.message_length(Bytes{0x00, 0x00}), MessageLength::bad()) << "an empty packet";
  EXPECT_EQ(f.message_length(Bytes{0xff, 0xff}), MessageLength::of(0x10001));  // the listener bounds it
}

TEST(OpenvpnFraming, SniffsAClientResetStreamAsPortShareDoes) {
  const auto& f = openvpn::kTcpFraming;
  const Bytes framed = f.frame(kGoldenClientReset);
  EXPECT_EQ(f.sniff(framed), Sniff::mine);
  EXPECT_EQ(f.sniff(ByteView(framed).first(3)), Sniff::mine);
  EXPECT_EQ(f.sniff(ByteView(framed).first(2)), Sniff::need_more);
  EXPECT_EQ(f.sniff(ByteView(framed).first(1)), Sniff::need_more);
  EXPECT_EQ(f.sniff(Bytes{}), Sniff::need_more);
  EXPECT_EQ(f.sniff(f.frame(kSpecPlainReset)), Sniff::mine);
  // tls-crypt-v2's first packet, P_CONTROL_HARD_RESET_CLIENT_V3.
  EXPECT_EQ(f.sniff(hex("0150" "50")), Sniff::mine);
  // Another opcode (the server's reset, data), key id not 0, implausible lengths.
  EXPECT_EQ(f.sniff(hex("001a" "40")), Sniff::not_mine);
  EXPECT_EQ(f.sniff(hex("002a" "48")), Sniff::not_mine);
  EXPECT_EQ(f.sniff(hex("002a" "39")), Sniff::not_mine);
  EXPECT_EQ(f.sniff(hex("000d" "38")), Sniff::not_mine);
  EXPECT_EQ(f.sniff(hex("04b1" "38")), Sniff::not_mine);
  // Streams of other kinds are refused from their first two bytes.
  EXPECT_EQ(f.sniff(hex("1603")), Sniff::not_mine) << "a TLS record";
  EXPECT_EQ(f.sniff(as_bytes("IKETCP")), Sniff::not_mine) << "RFC 8229's stream prefix";
  EXPECT_EQ(f.sniff(as_bytes("GET ")), Sniff::not_mine);
  EXPECT_EQ(f.sniff(Bytes{0xff, 0x00, 0x2a}), Sniff::not_mine) << "a control probe";
}

TEST(OpenvpnFraming, UnframesExactlyOneWholeFrame) {
  const auto& f = openvpn::kTcpFraming;
  Bytes framed = f.frame(kGoldenClientReset);
  auto inner = unframe(f, framed);
  ASSERT_TRUE(inner.has_value());
  EXPECT_TRUE(std::equal(inner->begin(), inner->end(), kGoldenClientReset.begin(), kGoldenClientReset.end()));
  EXPECT_FALSE(unframe(f, ByteView(framed).first(framed.size() - 1)).has_value()) << "torn";
  Bytes longer = framed;
  longer.push_back(0);
  EXPECT_FALSE(unframe(f, longer).has_value()) << "a byte past the frame";
}

class OpenvpnReply : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parsed = openvpn::parse_client_reset(kGoldenClientReset, {});
    ASSERT_TRUE(parsed.has_value());
    reply = openvpn::build_server_reset(kGoldenClientReset, *parsed, counter_fill(0xb1));
  }
  Bytes reply;
};

TEST_F(OpenvpnReply, AcceptsItsOwnServerReset) {
  EXPECT_TRUE(openvpn::is_server_reset_for(reply, kGoldenClientReset));
}

TEST_F(OpenvpnReply, AcceptsTheSpecServerResetForThePlainReset) {
  // §6.2: 40 | server sid | 01 | 00000000 | client sid | 00000000
  Bytes spec_reply = hex("40" "b1b2b3b4b5b6b7b8" "01" "00000000" "a1a2a3a4a5a6a7a8" "00000000");
  EXPECT_TRUE(openvpn::is_server_reset_for(spec_reply, kSpecPlainReset));
  EXPECT_FALSE(openvpn::is_server_reset_for(spec_reply, kGoldenClientReset));  // other session id
}

TEST_F(OpenvpnReply, RejectsWrongEchoedSessionId) {
  for (std::size_t i = 14; i < 22; ++i) {
    Bytes wrong = reply;
    wrong[i] ^= 0x01;
    EXPECT_FALSE(openvpn::is_server_reset_for(wrong, kGoldenClientReset)) << "remote sid byte " << i - 14;
  }
}

// A server reset ends with its own 4-byte message packet-id; a reply cut
// anywhere before that is not a server reset.
TEST_F(OpenvpnReply, RejectsEveryTruncatedReply) {
  for (std::size_t len = 0; len < reply.size(); ++len)
    EXPECT_FALSE(openvpn::is_server_reset_for(ByteView(reply).first(len), kGoldenClientReset))
        << "reply truncated to " << len << " of " << reply.size() << " bytes";
}

TEST_F(OpenvpnReply, RejectsOtherOpcodes) {
  for (std::uint8_t first : std::initializer_list<std::uint8_t>{0x38, 0x41, 0x28, 0x20, 0x00, 0xfe}) {
    Bytes wrong = reply;
    wrong[0] = first;
    EXPECT_FALSE(openvpn::is_server_reset_for(wrong, kGoldenClientReset)) << int{first};
  }
}

TEST_F(OpenvpnReply, RejectsMissingOrOverlongAckArray) {
  // Without ACKs there is no remote session id (§6.1): bytes that happen to
  // equal the client's session id after a zero ack count are not an echo.
  Bytes no_ack = hex("40" "b1b2b3b4b5b6b7b8" "00" "a1a2a3a4a5a60102" "00000000");
  EXPECT_FALSE(openvpn::is_server_reset_for(no_ack, kGoldenClientReset));
  Bytes overlong = reply;
  overlong[9] = 0xff;  // claims more ACKs than the packet holds
  EXPECT_FALSE(openvpn::is_server_reset_for(overlong, kGoldenClientReset));
}

TEST_F(OpenvpnReply, RejectsTheEchoedRequestAndATruncatedRequest) {
  EXPECT_FALSE(openvpn::is_server_reset_for(kGoldenClientReset, kGoldenClientReset));
  for (std::size_t len = 0; len < 1 + openvpn::kSessionIdSize; ++len)
    EXPECT_FALSE(openvpn::is_server_reset_for(reply, ByteView(kGoldenClientReset).first(len))) << len;
}

TEST(OpenvpnModule, DescribesTheStandardVariant) {
  const auto& m = openvpn::kModule;
  EXPECT_EQ(m.id, "openvpn");
  ASSERT_FALSE(m.variants.empty());
  EXPECT_EQ(m.variants[0].transport, Transport::udp);
  EXPECT_EQ(m.variants[0].port, 1194);  // PROTOCOLS.md §6.1
  EXPECT_TRUE(m.variants[0].standard);
}

}  // namespace
}  // namespace vpncheck::probes
