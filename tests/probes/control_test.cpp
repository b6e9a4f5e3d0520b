#include "probes/control.h"

#include <gtest/gtest.h>

#include "probes/openvpn.h"
#include "probes/wireguard.h"
#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::counter_fill;
using fixtures::hex;
using fixtures::make_token;

TEST(ControlCodec, BuildsGoldenRequest) {
  // 0xFF marker | token (8) | random filler to the requested size.
  Bytes request = control::build_request(make_token(0x0102), 20, counter_fill(0x10));
  EXPECT_EQ(request, hex("ff"
                         "a1a2a3a4a5a60102"
                         "191a1b1c1d1e1f20212223"));
}

TEST(ControlCodec, BuildsRequestsOfExactlyTheAskedSize) {
  for (std::size_t size : {control::kMinSize, std::size_t{14}, std::size_t{42}, std::size_t{148}, std::size_t{1400}})
    EXPECT_EQ(control::build_request(make_token(1), size, counter_fill()).size(), size);
}

TEST(ControlCodec, BuildsGoldenReplyOfTheRequestSize) {
  Bytes request = control::build_request(make_token(0x0102), 12, counter_fill(0x10));
  Bytes reply = control::build_reply(request, counter_fill(0x80));
  // 0xFE marker | the request's token | random.
  EXPECT_EQ(reply, hex("fe"
                       "a1a2a3a4a5a60102"
                       "898a8b"));
}

TEST(ControlCodec, RoundTripsTheTokenForEveryBoundaryIndex) {
  for (std::uint16_t index : fixtures::kProbeIndices) {
    Bytes request = control::build_request(make_token(index), 148, fixtures::seeded_fill(index));
    auto token = control::parse_request(request);
    ASSERT_TRUE(token.has_value()) << index;
    EXPECT_EQ(*token, make_token(index));
  }
}

TEST(ControlCodec, ParseRejectsEveryTruncation) {
  Bytes request = control::build_request(make_token(3), 20, counter_fill());
  for (std::size_t len = 0; len < control::kMinSize; ++len)
    EXPECT_FALSE(control::parse_request(ByteView(request).first(len)).has_value()) << len;
  EXPECT_TRUE(control::parse_request(ByteView(request).first(control::kMinSize)).has_value());
}

TEST(ControlCodec, ParseRejectsWrongMarker) {
  Bytes request = control::build_request(make_token(3), 20, counter_fill());
  for (int marker = 0; marker < 0xff; ++marker) {
    request[0] = static_cast<std::uint8_t>(marker);
    EXPECT_FALSE(control::parse_request(request).has_value()) << marker;
  }
}

TEST(ControlCodec, ReplyIsNeverLargerThanRequest) {
  for (std::size_t size = 0; size <= 64; ++size) {
    Bytes request(size, 0xff);
    EXPECT_LE(control::build_reply(request, counter_fill()).size(), size) << size;
  }
}

TEST(ControlCodec, IsReplyToAcceptsItsOwnReply) {
  Bytes request = control::build_request(make_token(9), 42, counter_fill());
  EXPECT_TRUE(control::is_reply_to(control::build_reply(request, counter_fill(0x55)), request));
}

TEST(ControlCodec, IsReplyToRejectsAnotherTokenEachByte) {
  Bytes request = control::build_request(make_token(9), 42, counter_fill());
  Bytes reply = control::build_reply(request, counter_fill(0x55));
  for (std::size_t i = 1; i < control::kMinSize; ++i) {
    Bytes wrong = reply;
    wrong[i] ^= 0x01;
    EXPECT_FALSE(control::is_reply_to(wrong, request)) << "token byte " << i - 1;
  }
}

TEST(ControlCodec, IsReplyToRejectsTruncatedReply) {
  Bytes request = control::build_request(make_token(9), 42, counter_fill());
  Bytes reply = control::build_reply(request, counter_fill(0x55));
  for (std::size_t len = 0; len < control::kMinSize; ++len)
    EXPECT_FALSE(control::is_reply_to(ByteView(reply).first(len), request)) << len;
}

TEST(ControlCodec, IsReplyToRejectsTheEchoedRequestAndTruncatedRequest) {
  Bytes request = control::build_request(make_token(9), 42, counter_fill());
  Bytes reply = control::build_reply(request, counter_fill(0x55));
  EXPECT_FALSE(control::is_reply_to(request, request));  // a reflected request is not an answer
  for (std::size_t len = 0; len < control::kMinSize; ++len)
    EXPECT_FALSE(control::is_reply_to(reply, ByteView(request).first(len))) << len;
}

// PROTOCOLS.md §9.6: the markers must not be mistaken for a VPN signature.
TEST(ControlCodec, MarkersMatchNoVpnSignature) {
  for (std::uint8_t marker : {control::kRequestMarker, control::kReplyMarker}) {
    EXPECT_FALSE(marker >= 1 && marker <= 4) << "WireGuard message type";
    const int opcode = marker >> 3;
    EXPECT_FALSE(opcode >= 1 && opcode <= 11) << "OpenVPN opcode " << opcode;
    EXPECT_NE(marker, 0xC8) << "L2TP control header";
  }
}

// control.h: on TCP the first two bytes read as a length OpenVPN's port-share rejects (14..255).
TEST(ControlCodec, TcpLengthPrefixReadsAbove255) {
  Bytes request = control::build_request(make_token(0), 16, fixtures::constant_fill(0x00));
  ByteReader r(request);
  auto length = r.be16();
  ASSERT_TRUE(length.has_value());
  EXPECT_GT(*length, 255);
}

TEST(ControlCodec, ControlOfGenuineSizeIsNotAGenuineProbe) {
  ServerHints hints;
  for (std::uint32_t seed = 0; seed < 64; ++seed) {
    auto fill = fixtures::seeded_fill(seed);
    Bytes wg = control::build_request(make_token(1), wireguard::kInitiationSize, fill);
    Bytes ovpn = control::build_request(make_token(1), openvpn::kClientResetSize, fill);
    EXPECT_FALSE(wireguard::parse_initiation(wg, hints).has_value()) << seed;
    EXPECT_FALSE(openvpn::parse_client_reset(ovpn, hints).has_value()) << seed;
  }
}

}  // namespace
}  // namespace vpncheck::probes
