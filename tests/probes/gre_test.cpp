#include "probes/gre.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::expect_truncations_refused;
using fixtures::hex;
using fixtures::make_token;

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// PROTOCOLS.md §2.3: GRE K+S v1, PPP, then LCP Configure-Request. Token a1..a6|0102.
const Bytes kGoldenLcp = hex(
    "ff03" "c021"                // PPP address/control, protocol LCP
    "01" "01" "0023"             // Configure-Request, id 1, length 35
    "0104" "0578"                // MRU 1400
    "0206" "00000000"            // ACCM 0
    "0506" "0404a2a6"            // Magic-Number = a1a2a3a4 ^ a5a60102
    "0702" "0802"                // PFC, ACFC
    "130b" "01" "a1a2a3a4a5a60102");  // Endpoint-Discriminator, class 1, the token

const Bytes kGoldenProbe = hex("3001" "880b" "0027" "4321" "00000000") + kGoldenLcp;

// Reflector answer: K+S+A, keyed to the client's call id, acking seq 0; a smaller Configure-Request.
const Bytes kGoldenReply = hex(
    "3081" "880b" "001d" "1234" "00000007" "00000000"
    "ff03" "c021" "01" "01" "0019"
    "0104" "0578"
    "0506" "fbfb5d59"            // ~client magic
    "130b" "01" "a1a2a3a4a5a60102");

// PROTOCOLS.md §2.3, the tshark-verified frame (no token in it).
const Bytes kSpecFrame = hex("3001880b00124321000000" "00ff03c021010100" "0e01040578050611223344");

TEST(GreCodec, BuildsGoldenProbeAndReply) {
  ASSERT_EQ(kGoldenLcp.size(), 39U);
  EXPECT_EQ(gre::build_lcp_configure_request(make_token(0x0102)), kGoldenLcp);
  EXPECT_EQ(gre::build_probe(make_token(0x0102), 0x4321), kGoldenProbe);
  EXPECT_EQ(gre::build_reply(kGoldenProbe, 0x1234, 7), kGoldenReply);
  EXPECT_LE(kGoldenReply.size(), kGoldenProbe.size());
}

TEST(GreCodec, BuildsHeadersForEveryFlagCombination) {
  const Bytes payload = hex("abcd");
  EXPECT_EQ(gre::build({0x0102, std::nullopt, std::nullopt}, payload), hex("2001880b00020102abcd"));
  EXPECT_EQ(gre::build({0x0102, 5, std::nullopt}, payload), hex("3001880b0002010200000005abcd"));
  EXPECT_EQ(gre::build({0x0102, 5, 6}, payload), hex("3081880b00020102" "00000005" "00000006abcd"));
  EXPECT_EQ(gre::build({0x0102, std::nullopt, 6}, {}), hex("2081880b00000102" "00000006"));  // ack only
  EXPECT_TRUE(gre::build({}, Bytes(65536)).empty());
  EXPECT_EQ(gre::build({}, Bytes(65535)).size(), 65535U + 8);
}

TEST(GreCodec, ParsesTheSpecFrame) {
  auto packet = gre::parse(kSpecFrame);
  ASSERT_TRUE(packet.has_value());
  EXPECT_EQ(packet->header.call_id, 0x4321);
  EXPECT_EQ(packet->header.sequence, 0U);
  EXPECT_FALSE(packet->header.ack.has_value());
  EXPECT_EQ(packet->payload_length, 18);
  EXPECT_EQ(packet->header_size, 12U);
  auto lcp = gre::parse_lcp(packet->payload);
  ASSERT_TRUE(lcp.has_value());
  EXPECT_TRUE(lcp->address_control);
  EXPECT_EQ(lcp->code, gre::kLcpConfigureRequest);
  EXPECT_EQ(lcp->identifier, 1);
  EXPECT_EQ(lcp->mru, 1400);
  EXPECT_EQ(lcp->magic_number, 0x11223344U);
  EXPECT_FALSE(lcp->token.has_value());
  EXPECT_EQ(lcp->options.size(), 2U);
  EXPECT_FALSE(gre::parse_probe(kSpecFrame).has_value());  // no token: not one of ours
}

TEST(GreCodec, ParsesGoldenProbe) {
  auto probe = gre::parse_probe(kGoldenProbe);
  ASSERT_TRUE(probe.has_value());
  EXPECT_EQ(probe->token, make_token(0x0102));
  EXPECT_EQ(probe->gre.header.call_id, 0x4321);
  EXPECT_EQ(probe->lcp.magic_number, 0x0404a2a6U);
  EXPECT_EQ(probe->lcp.options.size(), 6U);
  EXPECT_EQ(probe->gre.trailing, 0U);
}

TEST(GreCodec, DescribesProbesAsObservationFields) {
  auto f = gre::describe(*gre::parse_probe(kGoldenProbe));
  EXPECT_EQ(f.at("call_id"), "17185");
  EXPECT_EQ(f.at("sequence"), "0");
  EXPECT_EQ(f.at("payload_length"), "39");
  EXPECT_EQ(f.at("lcp_code"), "1");
  EXPECT_EQ(f.at("mru"), "1400");
  EXPECT_EQ(f.at("magic_number"), "0404a2a6");
}

TEST(GreCodec, AcceptsLcpWithoutAddressControlAndPadding) {
  Bytes bare(kGoldenLcp.begin() + 2, kGoldenLcp.end());
  bare.push_back(0);  // PPP padding after the LCP length
  auto lcp = gre::parse_lcp(bare);
  ASSERT_TRUE(lcp.has_value());
  EXPECT_FALSE(lcp->address_control);
  EXPECT_EQ(lcp->token, make_token(0x0102));
}

TEST(GreCodec, RoundTripsEveryBoundaryIndex) {
  for (std::uint16_t index : fixtures::kProbeIndices) {
    for (std::uint32_t seq : {0U, 1U, 0xffffffffU}) {
      Bytes probe = gre::build_probe(make_token(index), index, seq);
      auto parsed = gre::parse_probe(probe);
      ASSERT_TRUE(parsed.has_value()) << index;
      EXPECT_EQ(parsed->token, make_token(index));
      EXPECT_EQ(parsed->gre.header.sequence, seq);
      Bytes reply = gre::build_reply(probe, 0xbeef, seq + 1);
      ASSERT_FALSE(reply.empty());
      EXPECT_LE(reply.size(), probe.size());
      EXPECT_TRUE(gre::is_reply_to(reply, probe, 0xbeef));
      EXPECT_FALSE(gre::is_reply_to(reply, probe, 0xbeee));  // keyed to another call
      EXPECT_FALSE(gre::parse_probe(reply).has_value());  // no reflector ping-pong
    }
  }
}

TEST(GreCodec, MagicNumberIsNeverZero) {
  EXPECT_EQ(gre::magic_number_for(ProbeToken{{1, 2, 3, 4, 1, 2}, 0x0304}), 1U);
  EXPECT_EQ(gre::magic_number_for(make_token(0x0102)), 0x0404a2a6U);
  // And the reflector's answer to a client whose magic is all ones still has a non-zero one.
  ProbeToken all_ones{{0xff, 0xff, 0xff, 0xff, 0, 0}, 0};
  const Bytes reply_bytes = gre::build_reply(gre::build_probe(all_ones, 1), 2);  // parse() views into it
  auto reply = gre::parse(reply_bytes);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(gre::parse_lcp(reply->payload)->magic_number, 1U);
}

TEST(GreCodec, ClientRejectsForeignReplies) {
  Bytes other = gre::build_reply(gre::build_probe(make_token(9), 0x4321), 0x1234);
  EXPECT_FALSE(gre::is_reply_to(other, kGoldenProbe, 0x1234));  // another token
  Bytes wrong_ack = kGoldenReply;
  wrong_ack[15] = 1;
  EXPECT_FALSE(gre::is_reply_to(wrong_ack, kGoldenProbe, 0x1234));
  EXPECT_TRUE(gre::is_reply_to(kGoldenReply, kGoldenProbe, 0x1234));
  EXPECT_FALSE(gre::is_reply_to(kGoldenProbe, kGoldenProbe, 0x4321));  // our own probe has no ack
  EXPECT_FALSE(gre::is_reply_to(kGoldenReply, kSpecFrame, 0x1234));
}

TEST(GreCodec, ReplyIsEmptyForNonProbes) {
  EXPECT_TRUE(gre::build_reply(kSpecFrame, 1).empty());
  EXPECT_TRUE(gre::build_reply({}, 1).empty());
  Bytes ack_only = gre::build({0x4321, std::nullopt, 3}, {});
  EXPECT_TRUE(gre::build_reply(ack_only, 1).empty());
  // A probe without a sequence number is not what a PPTP client sends.
  Bytes no_seq = gre::build({0x4321, std::nullopt, std::nullopt}, kGoldenLcp);
  EXPECT_FALSE(gre::parse_probe(no_seq).has_value());
}

TEST(GreCodec, ParseRejectsEveryTruncation) {
  for (std::size_t len = 0; len < kGoldenProbe.size(); ++len) {
    EXPECT_FALSE(gre::parse(ByteView(kGoldenProbe).first(len)).has_value()) << len;
    EXPECT_FALSE(gre::parse_probe(ByteView(kGoldenProbe).first(len)).has_value()) << len;
    EXPECT_TRUE(gre::build_reply(ByteView(kGoldenProbe).first(len), 1).empty()) << len;
  }
  expect_truncations_refused(kGoldenReply, [&](ByteView v) { return gre::parse(v).has_value(); });
  expect_truncations_refused(kGoldenLcp, [&](ByteView v) { return gre::parse_lcp(v).has_value(); });
}

TEST(GreCodec, ParseRejectsBadHeaders) {
  auto with = [](std::size_t offset, std::uint8_t value) {
    Bytes b = kGoldenProbe;
    b[offset] = value;
    return b;
  };
  EXPECT_FALSE(gre::parse(with(0, 0xb0)).has_value());  // C (checksum)
  EXPECT_FALSE(gre::parse(with(0, 0x70)).has_value());  // R (routing)
  EXPECT_FALSE(gre::parse(with(0, 0x10)).has_value());  // K clear
  EXPECT_FALSE(gre::parse(with(0, 0x38)).has_value());  // s (strict source route)
  EXPECT_FALSE(gre::parse(with(0, 0x31)).has_value());  // recursion control
  EXPECT_FALSE(gre::parse(with(1, 0x00)).has_value());  // version 0 (plain GRE)
  EXPECT_FALSE(gre::parse(with(1, 0x09)).has_value());  // reserved flag bits
  EXPECT_FALSE(gre::parse(with(1, 0x02)).has_value());  // version 2
  EXPECT_FALSE(gre::parse(with(2, 0x08)).has_value());  // protocol 0x080b
  EXPECT_FALSE(gre::parse(with(5, 0x28)).has_value());  // payload length 40 > 39 present
  EXPECT_FALSE(gre::parse(with(4, 0x01)).has_value());  // payload length 295
  auto shorter = gre::parse(with(5, 0x26));             // length 38: one trailing byte, allowed
  ASSERT_TRUE(shorter.has_value());
  EXPECT_EQ(shorter->trailing, 1U);
  EXPECT_FALSE(gre::parse_probe(with(5, 0x26)).has_value());  // but the LCP no longer fits
}

TEST(GreCodec, ParseLcpRejectsMalformedPackets) {
  auto with = [](std::size_t offset, std::uint8_t value) {
    Bytes b = kGoldenLcp;
    b[offset] = value;
    return b;
  };
  EXPECT_FALSE(gre::parse_lcp(with(3, 0x23)).has_value());  // protocol 0xc023 (PAP)
  EXPECT_FALSE(gre::parse_lcp(with(4, 0x00)).has_value());  // code 0
  EXPECT_FALSE(gre::parse_lcp(with(4, 0x20)).has_value());  // unknown code
  EXPECT_FALSE(gre::parse_lcp(with(7, 0x24)).has_value());  // LCP length past the end
  EXPECT_FALSE(gre::parse_lcp(with(7, 0x03)).has_value());  // LCP length < 4
  EXPECT_FALSE(gre::parse_lcp(with(9, 0x01)).has_value());  // option length 1
  EXPECT_FALSE(gre::parse_lcp(with(9, 0x30)).has_value());  // option runs past the packet
  EXPECT_FALSE(gre::parse_lcp(with(7, 0x22)).has_value());  // last option cut by the LCP length
  // An Endpoint-Discriminator of another class or size carries no token.
  auto other_class = gre::parse_lcp(with(30, 0x03));
  ASSERT_TRUE(other_class.has_value());
  EXPECT_FALSE(other_class->token.has_value());
}

}  // namespace
}  // namespace vpncheck::probes
