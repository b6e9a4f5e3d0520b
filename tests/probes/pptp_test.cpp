#include "probes/pptp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::hex;
using fixtures::make_token;
using pptp::ParseStatus;

// `text` as hex, NUL-padded to `size` bytes: the fixed-size PPTP string fields.
std::string padded(std::string_view text, std::size_t size = 64) {
  std::string out = to_hex(as_bytes(text));
  out.append(2 * (size - text.size()), '0');
  return out;
}

// Token a1a2a3a4a5a6|0102 -> "vpncheck-a1a2a3a4a5a60102".
constexpr std::string_view kTaggedHost = "vpncheck-a1a2a3a4a5a60102";

// PROTOCOLS.md §2.2 layout, written out field by field.
const Bytes kGoldenSccrq = hex(
    "009c" "0001" "1a2b3c4d" "0001" "0000"  // length 156, control msg, cookie, SCCRQ, reserved0
    "0100" "0000"                            // protocol version 1.0, reserved1
    "00000001" "00000001"                    // framing async, bearer analog
    "0000" "0000"                            // max channels, firmware revision
    + padded(kTaggedHost) + padded("vpncheck"));

const Bytes kGoldenSccrp = hex(
    "009c" "0001" "1a2b3c4d" "0002" "0000"
    "0100" "01" "00"                         // version, result 1 (OK), error 0
    "00000001" "00000001" "0001" "0000"      // framing, bearer, max channels 1, firmware
    + padded(kTaggedHost) + padded("vpncheck"));

// Call ID 0x1234, serial 1, as the PROTOCOLS.md §2.2 verified OCRQ, plus the subaddress tag.
const Bytes kGoldenOcrq = hex(
    "00a8" "0001" "1a2b3c4d" "0007" "0000"
    "1234" "0001" "0000012c" "05f5e100"      // call id, serial, min 300 bps, max 100 Mbit/s
    "00000003" "00000003" "0040" "0000"      // bearer either, framing either, window 64, delay 0
    "0000" "0000"                            // phone number length, reserved
    + padded("") + padded("vpncheck-a1a2a3a4a5a60102-1234"));

// PROTOCOLS.md §2.2 verified OCRP (Call ID 0x4321, peer 0x1234), byte for byte.
const Bytes kSpecOcrp = hex("00200001" "1a2b3c4d" "00080000" "43211234" "01000000" "05f5e100" "00400000" "00000000");

const Bytes kGoldenStopCcrq = hex("0010" "0001" "1a2b3c4d" "0003" "0000" "01" "00" "0000");
const Bytes kGoldenStopCcrp = hex("0010" "0001" "1a2b3c4d" "0004" "0000" "01" "00" "0000");
const Bytes kGoldenSetLinkInfo = hex("0018" "0001" "1a2b3c4d" "000f" "0000" "4321" "0000" "ffffffff" "ffffffff");

TEST(PptpCodec, BuildsGoldenMessages) {
  ASSERT_EQ(kGoldenSccrq.size(), pptp::kSccrqSize);
  ASSERT_EQ(kGoldenOcrq.size(), pptp::kOcrqSize);
  EXPECT_EQ(pptp::build_sccrq(make_token(0x0102)), kGoldenSccrq);
  EXPECT_EQ(pptp::build_sccrp(kGoldenSccrq), kGoldenSccrp);
  EXPECT_EQ(pptp::build_ocrq(make_token(0x0102), 0x1234, 1), kGoldenOcrq);
  EXPECT_EQ(pptp::build_ocrp(kGoldenOcrq, 0x4321), kSpecOcrp);
  EXPECT_EQ(pptp::build_stop_ccrq(), kGoldenStopCcrq);
  EXPECT_EQ(pptp::build_stop_ccrp(kGoldenStopCcrq), kGoldenStopCcrp);
  EXPECT_EQ(pptp::build_set_link_info(0x4321), kGoldenSetLinkInfo);
}

TEST(PptpCodec, SccrqStartsAsTheSpecAndNdpiExpect) {
  // PROTOCOLS.md §2.2 first 24 bytes; §2.7 nDPI: length, type 1, cookie, SCCRQ.
  EXPECT_EQ(to_hex(ByteView(kGoldenSccrq).first(24)), "009c00011a2b3c4d00010000" "01000000" "00000001" "00000001");
}

TEST(PptpCodec, ParsesSccrqFieldsAndToken) {
  auto r = pptp::parse(kGoldenSccrq);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.size, 156U);
  const auto& m = r.message;
  EXPECT_EQ(m.type, 1);
  EXPECT_EQ(pptp::type_name(m.type), "SCCRQ");
  EXPECT_EQ(m.length, 156);
  EXPECT_EQ(m.protocol_version, 0x0100);
  EXPECT_EQ(m.framing_capabilities, 1U);
  EXPECT_EQ(m.bearer_capabilities, 1U);
  EXPECT_EQ(m.host_name, kTaggedHost);
  EXPECT_EQ(m.vendor, "vpncheck");
  ASSERT_TRUE(m.token.has_value());
  EXPECT_EQ(*m.token, make_token(0x0102));
}

TEST(PptpCodec, ParsesOcrqAndOcrpFields) {
  auto rq = pptp::parse(kGoldenOcrq);
  ASSERT_EQ(rq.status, ParseStatus::complete);
  EXPECT_EQ(rq.message.call_id, 0x1234);
  EXPECT_EQ(rq.message.call_serial_number, 1);
  EXPECT_EQ(rq.message.minimum_bps, 300U);
  EXPECT_EQ(rq.message.maximum_bps, 100000000U);
  EXPECT_EQ(rq.message.bearer_type, 3U);
  EXPECT_EQ(rq.message.framing_type, 3U);
  EXPECT_EQ(rq.message.receive_window, 64);
  EXPECT_EQ(rq.message.phone_number, "");
  EXPECT_EQ(rq.message.token, make_token(0x0102));
  EXPECT_EQ(rq.message.original_call_id, 0x1234);

  auto rp = pptp::parse(kSpecOcrp);
  ASSERT_EQ(rp.status, ParseStatus::complete);
  EXPECT_EQ(rp.message.call_id, 0x4321);
  EXPECT_EQ(rp.message.peer_call_id, 0x1234);
  EXPECT_EQ(rp.message.result_code, 1);
  EXPECT_EQ(rp.message.connect_speed, 100000000U);
  EXPECT_FALSE(rp.message.token.has_value());
}

// An ALG rewrites the OCRQ Call ID field only: the subaddress keeps the original.
TEST(PptpCodec, OcrqRevealsCallIdRewriting) {
  Bytes rewritten = kGoldenOcrq;
  rewritten[12] = 0x9c;  // Call ID 0x1234 -> 0x9c40 (e.g. the NATed TCP source port 40000)
  rewritten[13] = 0x40;
  auto r = pptp::parse(rewritten);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.message.call_id, 0x9c40);
  EXPECT_EQ(r.message.original_call_id, 0x1234);
  // The reflector answers the call id as it arrived; the ALG maps it back on the way in.
  Bytes ocrp = pptp::build_ocrp(rewritten, 0x4321);
  EXPECT_EQ(pptp::parse(ocrp).message.peer_call_id, 0x9c40);
  EXPECT_FALSE(pptp::is_ocrp_reply_to(ocrp, kGoldenOcrq));
  ocrp[14] = 0x12;
  ocrp[15] = 0x34;
  EXPECT_TRUE(pptp::is_ocrp_reply_to(ocrp, kGoldenOcrq));
}

TEST(PptpCodec, ParsesStopAndSetLinkInfo) {
  auto stop = pptp::parse(kGoldenStopCcrq);
  ASSERT_EQ(stop.status, ParseStatus::complete);
  EXPECT_EQ(stop.message.reason, 1);
  auto stop_reply = pptp::parse(kGoldenStopCcrp);
  ASSERT_EQ(stop_reply.status, ParseStatus::complete);
  EXPECT_EQ(stop_reply.message.result_code, 1);
  auto sli = pptp::parse(kGoldenSetLinkInfo);
  ASSERT_EQ(sli.status, ParseStatus::complete);
  EXPECT_EQ(sli.message.peer_call_id, 0x4321);
  EXPECT_EQ(sli.message.send_accm, 0xffffffffU);
  EXPECT_EQ(sli.message.receive_accm, 0xffffffffU);
}

TEST(PptpCodec, ParsesMessagesItDoesNotBuild) {
  Bytes echo = hex("0014" "0001" "1a2b3c4d" "0006" "0000" "deadbeef" "01" "00" "0000");
  auto r = pptp::parse(echo);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(pptp::type_name(r.message.type), "Echo-Reply");
  EXPECT_EQ(r.message.identifier, 0xdeadbeefU);
  EXPECT_EQ(r.message.result_code, 1);
  Bytes wan_error(40, 0);
  std::copy_n(hex("0028" "0001" "1a2b3c4d" "000e" "0000").begin(), 12, wan_error.begin());
  EXPECT_EQ(pptp::parse(wan_error).status, ParseStatus::complete);
}

TEST(PptpCodec, ExpectedLengthsMatchRfc2637) {
  const std::size_t lengths[] = {156, 156, 16, 16, 16, 20, 168, 32, 220, 24, 28, 16, 148, 40, 24};
  for (std::uint16_t type = 1; type <= 15; ++type) EXPECT_EQ(pptp::expected_length(type), lengths[type - 1]) << type;
  EXPECT_FALSE(pptp::expected_length(0).has_value());
  EXPECT_FALSE(pptp::expected_length(16).has_value());
}

TEST(PptpCodec, RoundTripsEveryBoundaryIndexAndCallId) {
  for (std::uint16_t index : fixtures::kProbeIndices) {
    for (std::uint16_t call_id : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{0xffff}}) {
      auto sccrq = pptp::parse(pptp::build_sccrq(make_token(index)));
      ASSERT_EQ(sccrq.status, ParseStatus::complete);
      EXPECT_EQ(sccrq.message.token, make_token(index));
      auto ocrq = pptp::parse(pptp::build_ocrq(make_token(index), call_id, index));
      ASSERT_EQ(ocrq.status, ParseStatus::complete);
      EXPECT_EQ(ocrq.message.token, make_token(index));
      EXPECT_EQ(ocrq.message.call_id, call_id);
      EXPECT_EQ(ocrq.message.original_call_id, call_id);
      EXPECT_EQ(ocrq.message.call_serial_number, index);
    }
  }
}

TEST(PptpCodec, DescribesMessagesAsObservationFields) {
  auto sccrq = pptp::describe(pptp::parse(kGoldenSccrq).message);
  EXPECT_EQ(sccrq.at("message_type"), "SCCRQ");
  EXPECT_EQ(sccrq.at("length"), "156");
  EXPECT_EQ(sccrq.at("host_name"), kTaggedHost);
  EXPECT_EQ(sccrq.at("protocol_version"), "256");
  auto ocrq = pptp::describe(pptp::parse(kGoldenOcrq).message);
  EXPECT_EQ(ocrq.at("call_id"), "4660");
  EXPECT_EQ(ocrq.at("original_call_id"), "4660");
  auto ocrp = pptp::describe(pptp::parse(kSpecOcrp).message);
  EXPECT_EQ(ocrp.at("peer_call_id"), "4660");
  EXPECT_EQ(ocrp.at("result_code"), "1");
  Bytes odd = kGoldenSccrq;
  odd[28] = 0xff;   // first host name byte
  odd[29] = '\\';
  EXPECT_EQ(pptp::describe(pptp::parse(odd).message).at("host_name"),
            "\\xff\\x5cncheck-a1a2a3a4a5a60102");
}

TEST(PptpCodec, EscapesNonPrintableBytes) {
  EXPECT_EQ(pptp::escape_text("ok ~"), "ok ~");
  EXPECT_EQ(pptp::escape_text(std::string_view("a\0\n\x7f\\", 5)), "a\\x00\\x0a\\x7f\\x5c");
}

TEST(PptpCodec, TaggedHostNameRoundTrips) {
  EXPECT_EQ(pptp::tagged_host_name(make_token(0x0102)), kTaggedHost);
  EXPECT_EQ(pptp::token_from_host_name(kTaggedHost), make_token(0x0102));
  EXPECT_EQ(pptp::token_from_host_name("vpncheck-A1A2A3A4A5A60102"), make_token(0x0102));
  EXPECT_FALSE(pptp::token_from_host_name("vpncheck-a1a2a3a4a5a6010").has_value());
  EXPECT_FALSE(pptp::token_from_host_name("vpncheck-a1a2a3a4a5a601020").has_value());
  EXPECT_FALSE(pptp::token_from_host_name("vpncheck_a1a2a3a4a5a60102").has_value());
  EXPECT_FALSE(pptp::token_from_host_name("vpncheck-a1a2a3a4a5a6010g").has_value());
  EXPECT_FALSE(pptp::token_from_host_name("").has_value());
}

TEST(PptpCodec, RepliesAreNeverLargerThanRequests) {
  Bytes sccrq = pptp::build_sccrq(make_token(7));
  Bytes ocrq = pptp::build_ocrq(make_token(7), 0x1111, 2);
  Bytes stop = pptp::build_stop_ccrq();
  EXPECT_EQ(pptp::build_sccrp(sccrq).size(), sccrq.size());
  EXPECT_LT(pptp::build_ocrp(ocrq, 0x2222).size(), ocrq.size());
  EXPECT_EQ(pptp::build_stop_ccrp(stop).size(), stop.size());
}

TEST(PptpCodec, ClientRecognisesReplies) {
  Bytes sccrq = pptp::build_sccrq(make_token(7));
  Bytes ocrq = pptp::build_ocrq(make_token(7), 0x1111, 2);
  Bytes stop = pptp::build_stop_ccrq();
  EXPECT_TRUE(pptp::is_sccrp_reply_to(pptp::build_sccrp(sccrq), sccrq));
  EXPECT_TRUE(pptp::is_ocrp_reply_to(pptp::build_ocrp(ocrq, 0x2222), ocrq));
  EXPECT_TRUE(pptp::is_stop_ccrp_reply_to(pptp::build_stop_ccrp(stop), stop));
  // Another probe's SCCRP, a failed result, a request in place of a reply.
  EXPECT_FALSE(pptp::is_sccrp_reply_to(pptp::build_sccrp(pptp::build_sccrq(make_token(8))), sccrq));
  Bytes failed = pptp::build_sccrp(sccrq);
  failed[14] = 2;
  EXPECT_FALSE(pptp::is_sccrp_reply_to(failed, sccrq));
  EXPECT_FALSE(pptp::is_sccrp_reply_to(sccrq, sccrq));
  EXPECT_FALSE(pptp::is_ocrp_reply_to(pptp::build_ocrp(pptp::build_ocrq(make_token(7), 0x1112, 2), 1), ocrq));
  EXPECT_FALSE(pptp::is_stop_ccrp_reply_to(stop, stop));
}

TEST(PptpCodec, ReplyBuildersRejectTheWrongRequest) {
  EXPECT_TRUE(pptp::build_sccrp(kGoldenOcrq).empty());
  EXPECT_TRUE(pptp::build_sccrp(kGoldenSccrp).empty());
  EXPECT_TRUE(pptp::build_ocrp(kGoldenSccrq, 1).empty());
  EXPECT_TRUE(pptp::build_stop_ccrp(kGoldenStopCcrp).empty());
  EXPECT_TRUE(pptp::build_sccrp({}).empty());
  Bytes two = kGoldenSccrq;  // two messages back to back are not one request
  two.insert(two.end(), kGoldenSccrq.begin(), kGoldenSccrq.end());
  EXPECT_TRUE(pptp::build_sccrp(two).empty());
}

TEST(PptpCodec, EveryTruncationNeedsMoreBytes) {
  for (const Bytes* msg : {&kGoldenSccrq, &kGoldenSccrp, &kGoldenOcrq, &kSpecOcrp, &kGoldenStopCcrq,
                           &kGoldenStopCcrp, &kGoldenSetLinkInfo}) {
    for (std::size_t len = 0; len < msg->size(); ++len) {
      auto r = pptp::parse(ByteView(*msg).first(len));
      EXPECT_EQ(r.status, ParseStatus::need_more) << len;
      EXPECT_EQ(r.size, len < 2 ? 0 : msg->size()) << len;
      EXPECT_EQ(pptp::frame(ByteView(*msg).first(len)).status, ParseStatus::need_more) << len;
    }
  }
}

TEST(PptpCodec, FramesAStreamOfMessages) {
  Bytes stream = kGoldenSccrq;
  stream.insert(stream.end(), kGoldenOcrq.begin(), kGoldenOcrq.end());
  stream.insert(stream.end(), kGoldenStopCcrq.begin(), kGoldenStopCcrq.begin() + 5);
  ByteView rest(stream);
  auto first = pptp::frame(rest);
  ASSERT_EQ(first.status, ParseStatus::complete);
  EXPECT_EQ(first.size, 156U);
  rest = rest.subspan(first.size);
  auto second = pptp::parse(rest);
  ASSERT_EQ(second.status, ParseStatus::complete);
  EXPECT_EQ(second.size, 168U);
  EXPECT_EQ(second.message.type, 7);
  rest = rest.subspan(second.size);
  auto third = pptp::frame(rest);
  EXPECT_EQ(third.status, ParseStatus::need_more);
  EXPECT_EQ(third.size, 16U);
}

TEST(PptpCodec, RejectsCorruptedHeaders) {
  auto corrupt = [](std::size_t offset, std::uint8_t value) {
    Bytes b = kGoldenSccrq;
    b[offset] = value;
    return b;
  };
  const std::pair<std::size_t, std::uint8_t> cases[] = {
      {0, 0x01},  // length 412: above any message
      {1, 0x9b},  // length 155 != SCCRQ's 156
      {1, 0x0b},  // length 11 < header
      {2, 0x01},  // PPTP message type 257
      {3, 0x02},  // management message
      {4, 0x1b},  // cookie
      {7, 0x4e},  // cookie
      {9, 0x02},  // SCCRP with SCCRQ's length is still 156: ok, see below
      {9, 0x07},  // OCRQ needs 168
      {9, 0x00},  // control type 0
      {9, 0x10},  // control type 16
      {8, 0x01},  // control type 257
      {10, 0x01}, // reserved0
      {11, 0x01}, // reserved0
  };
  // The prefix that shows the damage: the byte itself, the whole length field,
  // or (a length/type mismatch) the control type.
  auto revealed_at = [](std::size_t offset, const Bytes& b) -> std::size_t {
    bool length_in_range = ((b[0] << 8) | b[1]) >= 12 && ((b[0] << 8) | b[1]) <= 220;
    if ((offset < 2 && length_in_range) || offset == 8) return 10;
    return std::max<std::size_t>(offset + 1, 2);
  };
  for (auto [offset, value] : cases) {
    Bytes b = corrupt(offset, value);
    auto r = pptp::parse(b);
    if (offset == 9 && value == 0x02) {
      EXPECT_EQ(r.status, ParseStatus::complete);
      continue;
    }
    EXPECT_EQ(r.status, ParseStatus::invalid) << offset << " " << int{value};
    EXPECT_EQ(pptp::frame(b).status, ParseStatus::invalid) << offset;
    // Garbage is recognised as soon as the bad byte has arrived.
    EXPECT_EQ(pptp::frame(ByteView(b).first(revealed_at(offset, b))).status, ParseStatus::invalid) << offset;
    EXPECT_TRUE(pptp::build_sccrp(b).empty());
  }
}

TEST(PptpCodec, RejectsRandomBytesOfTheRightSize) {
  // The control probe of §2.7: 156 random bytes never pass as PPTP.
  for (std::uint32_t seed = 0; seed < 64; ++seed) {
    Bytes b(156);
    fixtures::seeded_fill(seed)(b);
    EXPECT_EQ(pptp::parse(b).status, ParseStatus::invalid) << seed;
  }
}

}  // namespace
}  // namespace vpncheck::probes
