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

// The server's session id is derived from the client's (first 8 bytes of
// SHA-256("vpncheck openvpn server session" | client session id)), so that a
// client can tie a tls-crypt answer, whose echo is encrypted, to its request.
const Bytes kServerSidForGolden = hex("c40ebba71b168a2c");

TEST(OpenvpnCodec, BuildsGoldenServerReset) {
  auto parsed = openvpn::parse_client_reset(kGoldenClientReset, {});
  ASSERT_TRUE(parsed.has_value());
  // Within the request's own 42 bytes the tls-auth answer (54) does not fit: the plain one does.
  Bytes expected = fixtures::cat({hex("40"),            //  0  opcode 8 << 3 | key_id 0
                                  kServerSidForGolden,  //  1  server session id
                                  hex("01"              //  9  one ACK
                                      "00000000"        // 10  ... of packet-id 0
                                      "a1a2a3a4a5a60102"  // 14  remote session id = the client's
                                      "00000000")});    // 22  message packet-id 0
  ASSERT_EQ(expected.size(), openvpn::kServerResetSize);
  EXPECT_EQ(openvpn::build_server_reset(kGoldenClientReset, *parsed, counter_fill(0xb1)), expected);
}

// A plain 14-byte reset (or a short reset of no known form) has no answer
// that fits in it: the module returns the genuine 26-byte reset, and the
// demux withholds it from any source the session has not validated
// (ReflectorArrival tests).
TEST(OpenvpnCodec, RequestsSmallerThanTheServerResetGetTheGenuineOne) {
  for (std::size_t len = 14; len < openvpn::kServerResetSize; ++len) {
    ByteView request = ByteView(kGoldenClientReset).first(len);
    auto parsed = openvpn::parse_client_reset(request, {});
    ASSERT_TRUE(parsed.has_value()) << len;
    Bytes reply = openvpn::build_server_reset(request, *parsed, counter_fill());
    EXPECT_EQ(reply.size(), openvpn::kServerResetSize) << len;
    EXPECT_TRUE(openvpn::is_server_reset_for(reply, request)) << len;
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
  ASSERT_EQ(reply.size(), openvpn::kServerResetSize);
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


// ---------------------------------------------------------------- the forms

using openvpn::Form;

// Each form as OpenVPN 2.6 sends its first packet, counter_fill(0), token a1..a6|0102.
const Bytes kGoldenPlain = hex("38" "a1a2a3a4a5a60102" "00" "00000000");
const Bytes kGoldenTlsAuthSha256 = fixtures::cat({
    hex("38" "a1a2a3a4a5a60102"),   //  0  opcode, session id
    fixtures::counter_bytes(0, 32),  //  9  HMAC-SHA256
    hex("00000001" "65000000"        // 41  replay packet-id 1, net time
        "00" "00000000")});          // 49  no ACKs, message packet-id 0
const Bytes kGoldenTlsCrypt = fixtures::cat({
    hex("38" "a1a2a3a4a5a60102"),   //  0  opcode, session id
    hex("00000001" "65000000"),      //  9  packet-id 1, net time (before the tag, tls_crypt.h TLS_CRYPT_OFF_PID)
    fixtures::counter_bytes(0, 37)});  // 17  tag 32 | AES-256-CTR(ack count, message packet-id) 5
const Bytes kGoldenTlsCryptV2 = fixtures::cat({
    hex("50" "a1a2a3a4a5a60102"),   //  0  opcode 10 << 3 (P_CONTROL_HARD_RESET_CLIENT_V3), session id
    hex("0f000001" "65000000"),      //  9  packet-id EARLY_NEG_START + 1 (announces early negotiation), net time
    fixtures::counter_bytes(0, 37),  // 17  tag | ciphertext
    fixtures::counter_bytes(37, 297),  // 54  WKc: tag 32 | encrypted client key 256 + timestamp metadata 9
    hex("012b")});                   // 351  WKc length 299, itself included

TEST(OpenvpnForms, BuildsEachFormAsOpenVpnSendsIt) {
  const std::pair<Form, const Bytes*> cases[] = {{Form::plain, &kGoldenPlain},
                                                 {Form::tls_auth_sha1, &kGoldenClientReset},
                                                 {Form::tls_auth_sha256, &kGoldenTlsAuthSha256},
                                                 {Form::tls_crypt, &kGoldenTlsCrypt},
                                                 {Form::tls_crypt_v2, &kGoldenTlsCryptV2}};
  for (const auto& [form, golden] : cases) {
    SCOPED_TRACE(std::string(openvpn::form_name(form)));
    Bytes built = openvpn::build_client_reset(form, make_token(0x0102), counter_fill());
    EXPECT_EQ(built, *golden);
    EXPECT_EQ(built.size(), openvpn::client_reset_size(form));
  }
  EXPECT_EQ(openvpn::client_reset_size(Form::plain), 14U);
  EXPECT_EQ(openvpn::client_reset_size(Form::tls_auth_sha1), 42U);
  EXPECT_EQ(openvpn::client_reset_size(Form::tls_auth_sha256), 54U);
  EXPECT_EQ(openvpn::client_reset_size(Form::tls_crypt), 54U);
  EXPECT_EQ(openvpn::client_reset_size(Form::tls_crypt_v2), 353U);
}

TEST(OpenvpnForms, ParserTellsEachFormApart) {
  const std::tuple<const Bytes*, std::string_view, std::string_view, std::string_view> cases[] = {
      {&kGoldenPlain, "plain", "none", "P_CONTROL_HARD_RESET_CLIENT_V2"},
      {&kGoldenClientReset, "tls-auth", "tls-auth-sha1", "P_CONTROL_HARD_RESET_CLIENT_V2"},
      {&kGoldenTlsAuthSha256, "tls-auth-sha256", "tls-auth-sha256", "P_CONTROL_HARD_RESET_CLIENT_V2"},
      {&kGoldenTlsCrypt, "tls-crypt", "tls-crypt", "P_CONTROL_HARD_RESET_CLIENT_V2"},
      {&kGoldenTlsCryptV2, "tls-crypt-v2", "tls-crypt-v2", "P_CONTROL_HARD_RESET_CLIENT_V3"}};
  for (const auto& [bytes, piece, wrapping, opcode] : cases) {
    SCOPED_TRACE(std::string(piece));
    auto parsed = openvpn::parse_client_reset(*bytes, {});
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->token, make_token(0x0102));
    EXPECT_EQ(parsed->piece, piece);
    EXPECT_EQ(parsed->fields.at("wrapping"), wrapping);
    EXPECT_EQ(parsed->fields.at("opcode"), opcode);
  }
}

// tls-auth with SHA-256 and tls-crypt are both 54 bytes: tls-auth's last five
// bytes are its clear ack count and packet-id (zero), tls-crypt's ciphertext.
TEST(OpenvpnForms, FiftyFourBytesAreTlsCryptUnlessTheTailIsClear) {
  for (std::size_t i = kGoldenTlsCrypt.size() - 5; i < kGoldenTlsCrypt.size(); ++i) {
    Bytes one_nonzero(kGoldenTlsAuthSha256);
    one_nonzero[i] = 1;
    EXPECT_EQ(openvpn::parse_client_reset(one_nonzero, {})->piece, "tls-crypt") << i;
  }
  Bytes zero_tail(kGoldenTlsCrypt);
  std::fill(zero_tail.end() - 5, zero_tail.end(), 0);
  EXPECT_EQ(openvpn::parse_client_reset(zero_tail, {})->piece, "tls-auth-sha256");
}

TEST(OpenvpnForms, RejectsMalformedTlsCryptV2) {
  // Every truncation: the WKc length (the last two bytes) no longer fits.
  for (std::size_t len = 0; len < kGoldenTlsCryptV2.size(); ++len)
    EXPECT_FALSE(openvpn::parse_client_reset(ByteView(kGoldenTlsCryptV2).first(len), {}).has_value()) << len;
  auto with_length = [](std::size_t wkc) {
    Bytes b = kGoldenTlsCryptV2;
    b[b.size() - 2] = static_cast<std::uint8_t>(wkc >> 8);
    b[b.size() - 1] = static_cast<std::uint8_t>(wkc);
    return b;
  };
  EXPECT_TRUE(openvpn::parse_client_reset(with_length(299), {}).has_value());
  EXPECT_TRUE(openvpn::parse_client_reset(with_length(openvpn::kMinWrappedClientKeySize), {}).has_value());
  EXPECT_FALSE(openvpn::parse_client_reset(with_length(openvpn::kMinWrappedClientKeySize - 1), {}).has_value());
  EXPECT_FALSE(openvpn::parse_client_reset(with_length(300), {}).has_value()) << "longer than the packet leaves";
  EXPECT_FALSE(openvpn::parse_client_reset(with_length(0), {}).has_value());
  EXPECT_FALSE(openvpn::parse_client_reset(with_length(0xffff), {}).has_value());
  // A WKc over the upstream maximum, in a packet long enough to hold it.
  Bytes huge(54 + 1025 + 2, 0x11);
  huge[0] = 0x50;
  huge[huge.size() - 2] = 0x04;
  huge[huge.size() - 1] = 0x01;  // 1025
  EXPECT_FALSE(openvpn::parse_client_reset(huge, {}).has_value());
  // The V3 opcode on the other forms' layouts.
  for (const Bytes* other : {&kGoldenPlain, &kGoldenClientReset, &kGoldenTlsCrypt}) {
    Bytes v3 = *other;
    v3[0] = 0x50;
    EXPECT_FALSE(openvpn::parse_client_reset(v3, {}).has_value()) << v3.size();
  }
}

struct FormReply {
  Form form;
  const Bytes* request;
  Bytes expected_genuine;  // counter_fill(0xb1)
};

std::vector<FormReply> form_replies() {
  const Bytes ack = hex("01" "00000000" "a1a2a3a4a5a60102" "00000000");
  return {
      {Form::plain, &kGoldenPlain, fixtures::cat({hex("40"), kServerSidForGolden, ack})},
      {Form::tls_auth_sha1, &kGoldenClientReset,
       fixtures::cat({hex("40"), kServerSidForGolden, fixtures::counter_bytes(0xb1, 20), hex("00000001" "65000000"), ack})},
      {Form::tls_auth_sha256, &kGoldenTlsAuthSha256,
       fixtures::cat({hex("40"), kServerSidForGolden, fixtures::counter_bytes(0xb1, 32), hex("00000001" "65000000"), ack})},
      // tag 32 | AES-256-CTR(ack 1, acked 0, remote session id, packet-id 0): 17
      {Form::tls_crypt, &kGoldenTlsCrypt,
       fixtures::cat({hex("40"), kServerSidForGolden, hex("00000001" "65000000"), fixtures::counter_bytes(0xb1, 49)})},
      // ... and the EARLY_NEG_FLAGS TLV (6) a 2.6 server adds for a client that announced early negotiation
      {Form::tls_crypt_v2, &kGoldenTlsCryptV2,
       fixtures::cat({hex("40"), kServerSidForGolden, hex("00000001" "65000000"), fixtures::counter_bytes(0xb1, 55)})},
  };
}

TEST(OpenvpnForms, AnswersInTheRequestsWrappingWhenAllowed) {
  for (const auto& c : form_replies()) {
    SCOPED_TRACE(std::string(openvpn::form_name(c.form)));
    auto parsed = openvpn::parse_client_reset(*c.request, {});
    ASSERT_TRUE(parsed.has_value());
    Bytes reply = openvpn::build_server_reset(*c.request, *parsed, counter_fill(0xb1), 1500);
    EXPECT_EQ(reply, c.expected_genuine);
    EXPECT_EQ(reply.size(), openvpn::server_reset_size(c.form));
    EXPECT_TRUE(openvpn::is_server_reset_for(reply, *c.request));
  }
  EXPECT_EQ(openvpn::server_reset_size(Form::tls_auth_sha1), 54U);
  EXPECT_EQ(openvpn::server_reset_size(Form::tls_crypt), 66U);
  EXPECT_EQ(openvpn::server_reset_size(Form::tls_crypt_v2), 72U);
}

// Within the request's own size: the plain reset for the wrapped forms whose
// answer would not fit (as before), the genuine one where it fits
// (tls-crypt-v2's request is far larger), the genuine one for the plain form
// (nothing smaller exists; the demux withholds it).
TEST(OpenvpnForms, WithinTheRequestsSizeFallsBackToThePlainReset) {
  for (const auto& c : form_replies()) {
    SCOPED_TRACE(std::string(openvpn::form_name(c.form)));
    auto parsed = openvpn::parse_client_reset(*c.request, {});
    Bytes reply = openvpn::build_server_reset(*c.request, *parsed, counter_fill(0xb1));
    const std::size_t expected = c.form == Form::tls_crypt_v2 ? 72U : openvpn::kServerResetSize;
    EXPECT_EQ(reply.size(), expected);
    EXPECT_TRUE(openvpn::is_server_reset_for(reply, *c.request));
  }
}

TEST(OpenvpnForms, RejectsWrappedAnswersThatDoNotFitTheRequest) {
  for (const auto& c : form_replies()) {
    SCOPED_TRACE(std::string(openvpn::form_name(c.form)));
    const Bytes& reply = c.expected_genuine;
    for (std::size_t len = 0; len < reply.size(); ++len)
      EXPECT_FALSE(openvpn::is_server_reset_for(ByteView(reply).first(len), *c.request)) << "truncated to " << len;
    Bytes longer = reply;
    longer.push_back(0);
    if (c.form != Form::plain) {
      EXPECT_FALSE(openvpn::is_server_reset_for(longer, *c.request)) << "one byte more";
    }
    // The server session id ties tls-crypt answers to the request; the echo does the others.
    for (std::size_t i = 1; i < 9; ++i) {
      Bytes wrong = reply;
      wrong[i] ^= 0x80;
      const bool encrypted_echo = c.form == Form::tls_crypt || c.form == Form::tls_crypt_v2;
      EXPECT_EQ(openvpn::is_server_reset_for(wrong, *c.request), !encrypted_echo) << "server sid byte " << i;
    }
    // Another form's request: a different session id, or another size.
    for (const auto& other : form_replies()) {
      if (other.form == c.form) continue;
      Bytes other_request = *other.request;
      other_request[8] ^= 0xff;  // another session
      EXPECT_FALSE(openvpn::is_server_reset_for(reply, other_request)) << openvpn::form_name(other.form);
    }
  }
  // A tls-crypt answer of tls-crypt-v2's size (and the reverse) does not answer.
  EXPECT_FALSE(openvpn::is_server_reset_for(form_replies()[4].expected_genuine, kGoldenTlsCrypt));
  EXPECT_FALSE(openvpn::is_server_reset_for(form_replies()[3].expected_genuine, kGoldenTlsCryptV2));
}

TEST(OpenvpnForms, EveryFormIsAPieceOnEveryPlace) {
  const auto& m = openvpn::kModule;
  for (auto form : openvpn::kForms) {
    SCOPED_TRACE(std::string(openvpn::form_name(form)));
    std::vector<std::string> places;
    for (const auto& v : m.variants) {
      if (v.piece != openvpn::form_name(form)) continue;
      places.push_back(describe_place(v) + (v.standard ? " standard" : ""));
      // Older reflectors drop every form but tls-auth, the one vpncheck always sent.
      EXPECT_EQ(v.reflector_must_list, form != Form::tls_auth_sha1);
      ProbeContext context = default_context(m, make_token(7));
      context.variant = v;
      EXPECT_EQ(m.build_request(context, counter_fill()).size(), openvpn::client_reset_size(form));
    }
    EXPECT_EQ(places, (std::vector<std::string>{"UDP 1194 standard", "TCP 1194", "TCP 443"}));
  }
}

TEST(OpenvpnForms, EveryFormIsSniffedOnTcp) {
  for (auto form : openvpn::kForms) {
    Bytes framed = openvpn::kTcpFraming.frame(openvpn::build_client_reset(form, make_token(3), counter_fill()));
    EXPECT_EQ(openvpn::kTcpFraming.sniff(framed), Sniff::mine) << openvpn::form_name(form);
  }
}

}  // namespace
}  // namespace vpncheck::probes
