#include "probes/l2tp.h"

#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::hex;
using fixtures::make_token;

const std::string kHostHex = to_hex(as_bytes("vpncheck-a1a2a3a4a5a60102"));  // 25 bytes

// PROTOCOLS.md §3.2/3.3 layout, xl2tpd's AVP order; token a1..a6|0102, tunnel 0x2222.
const Bytes kGoldenSccrq = hex(
    "c802" "0075" "0000" "0000" "0000" "0000"   // T L S ver 2, length 117, tunnel 0, session 0, Ns 0, Nr 0
    "8008" "0000" "0000" "0001"                 // Message Type SCCRQ
    "8008" "0000" "0002" "0100"                 // Protocol Version 1.0
    "800a" "0000" "0003" "00000003"             // Framing async+sync
    "800a" "0000" "0004" "00000000"             // Bearer none
    "0008" "0000" "0006" "0690"                 // Firmware Revision (not mandatory)
    "801f" "0000" "0007" + kHostHex +           // Host Name = the tag
    "000e" "0000" "0008" "76706e636865636b"     // Vendor Name "vpncheck"
    "8008" "0000" "0009" "2222"                 // Assigned Tunnel ID
    "8008" "0000" "000a" "0004");               // Receive Window Size 4

const Bytes kGoldenSccrp = hex(
    "c802" "004d" "2222" "0000" "0000" "0001"   // to the client's tunnel, Ns 0, Nr 1
    "8008" "0000" "0000" "0002"
    "8008" "0000" "0002" "0100"
    "800a" "0000" "0003" "00000003"
    "801f" "0000" "0007" + kHostHex +
    "8008" "0000" "0009" "3333");

const Bytes kGoldenScccn = hex("c802" "0014" "3333" "0000" "0001" "0001" "8008" "0000" "0000" "0003");
const Bytes kGoldenZlbAck = hex("c802" "000c" "2222" "0000" "0001" "0002");
const Bytes kGoldenStopCcn = hex(
    "c802" "0026" "3333" "0000" "0002" "0001"
    "8008" "0000" "0000" "0004"
    "8008" "0000" "0009" "2222"
    "800a" "0000" "0001" "0001" "0000");        // Result Code 1, error 0

// A call (RFC 2661 §6.10-6.12): the client's session 0x4444, the reflector's 0x5555.
const Bytes kGoldenIcrq = hex(
    "c802" "0026" "3333" "0000" "0002" "0001"   // to the reflector's tunnel, session 0, Ns 2, Nr 1
    "8008" "0000" "0000" "000a"                 // Message Type ICRQ
    "8008" "0000" "000e" "4444"                 // Assigned Session ID
    "800a" "0000" "000f" "00000001");           // Call Serial Number 1
const Bytes kGoldenIcrp = hex(
    "c802" "001c" "2222" "4444" "0001" "0003"   // to the client's tunnel and session, Ns 1, Nr 3
    "8008" "0000" "0000" "000b"                 // Message Type ICRP
    "8008" "0000" "000e" "5555");               // Assigned Session ID
const Bytes kGoldenIccn = hex(
    "c802" "0028" "3333" "5555" "0003" "0002"   // in the reflector's session, Ns 3, Nr 2
    "8008" "0000" "0000" "000c"                 // Message Type ICCN
    "800a" "0000" "0018" "05f5e100"             // (Tx) Connect Speed 100,000,000
    "800a" "0000" "0013" "00000001");           // Framing Type synchronous

// PROTOCOLS.md §3.3: the tshark-verified 97-byte SCCRQ (host "probe").
const Bytes kSpecSccrq = hex(
    "c80200610000000000000000" "8008000000000001" "8008000000020100" "800a00000003" "00000003"
    "800a00000004" "00000000" "0008000000060690" "800b00000007" "70726f6265"
    "000e00000008" "76706e636865636b" "8008000000092222" "80080000000a0004");

TEST(L2tpCodec, BuildsGoldenMessages) {
  ASSERT_EQ(kGoldenSccrq.size(), 117U);
  EXPECT_EQ(l2tp::build_sccrq(make_token(0x0102), 0x2222), kGoldenSccrq);
  EXPECT_EQ(l2tp::build_sccrp(kGoldenSccrq, 0x3333), kGoldenSccrp);
  EXPECT_EQ(l2tp::build_scccn(kGoldenSccrp), kGoldenScccn);
  EXPECT_EQ(l2tp::build_zlb_ack(kGoldenScccn, 0x2222), kGoldenZlbAck);
  EXPECT_EQ(l2tp::build_zlb(0x2222, 1, 2), kGoldenZlbAck);
  EXPECT_EQ(l2tp::build_stop_ccn(0x3333, 0x2222, 2, 1), kGoldenStopCcn);
}

TEST(L2tpCodec, BuildsAndParsesAGoldenCall) {
  EXPECT_EQ(l2tp::build_icrq(0x3333, 0x4444, 1, 2, 1), kGoldenIcrq);
  EXPECT_EQ(l2tp::build_icrp(kGoldenIcrq, 0x2222, 0x5555), kGoldenIcrp);
  EXPECT_EQ(l2tp::build_iccn(kGoldenIcrp, 0x3333), kGoldenIccn);
  EXPECT_LE(kGoldenIcrp.size(), kGoldenIcrq.size()) << "never an amplifier";
  EXPECT_TRUE(l2tp::is_icrp_reply_to(kGoldenIcrp, kGoldenIcrq));
  auto icrq = l2tp::parse(kGoldenIcrq);
  ASSERT_TRUE(icrq);
  EXPECT_EQ(l2tp::type_name(*icrq->message_type), "ICRQ");
  EXPECT_EQ(icrq->assigned_session_id, 0x4444);
  EXPECT_EQ(icrq->call_serial_number, 1U);
  auto iccn = l2tp::parse(kGoldenIccn);
  ASSERT_TRUE(iccn);
  EXPECT_EQ(iccn->session_id, 0x5555);
  EXPECT_EQ(iccn->tx_connect_speed, 100'000'000U);
  EXPECT_EQ(iccn->framing_type, 1U);
  const auto fields = l2tp::describe(*iccn);
  EXPECT_EQ(fields.at("message_type"), "ICCN");
  EXPECT_EQ(fields.at("tx_connect_speed"), "100000000");
}

TEST(L2tpCodec, CallBuildersAndChecksRejectTheWrongMessage) {
  EXPECT_TRUE(l2tp::build_icrq(0x3333, 0, 1, 2, 1).empty());
  EXPECT_TRUE(l2tp::build_icrp(kGoldenIcrq, 0x2222, 0).empty());
  EXPECT_TRUE(l2tp::build_icrp(kGoldenSccrq, 0x2222, 0x5555).empty());
  EXPECT_TRUE(l2tp::build_iccn(kGoldenIcrq, 0x3333).empty());
  EXPECT_TRUE(l2tp::build_iccn(kGoldenSccrp, 0x3333).empty());
  EXPECT_FALSE(l2tp::is_icrp_reply_to(kGoldenIcrq, kGoldenIcrq));
  EXPECT_FALSE(l2tp::is_icrp_reply_to(kGoldenIcrp, kGoldenIccn));
  // Another call's ICRP: a different session of ours.
  EXPECT_FALSE(l2tp::is_icrp_reply_to(l2tp::build_icrp(l2tp::build_icrq(0x3333, 0x4445, 1, 2, 1), 0x2222, 0x5555),
                                      kGoldenIcrq));
  // An Assigned Session ID AVP of the wrong size is a malformed message.
  Bytes wrong_size = hex("c802" "0018" "3333" "0000" "0002" "0001" "8008" "0000" "0000" "000a"
                         "8007" "0000" "000e" "44");
  EXPECT_FALSE(l2tp::parse(wrong_size).has_value());
}

TEST(L2tpCodec, ParsesTheSpecSccrqAndAnswersIt) {
  ASSERT_EQ(kSpecSccrq.size(), 97U);
  auto m = l2tp::parse(kSpecSccrq);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->message_type, 1);
  EXPECT_EQ(m->host_name, "probe");
  EXPECT_EQ(m->vendor_name, "vpncheck");
  EXPECT_EQ(m->assigned_tunnel_id, 0x2222);
  EXPECT_FALSE(m->token.has_value());
  // The spec's SCCRP shape (§3.3 / Appendix A), with the host name echoed.
  EXPECT_EQ(l2tp::build_sccrp(kSpecSccrq, 0x3333),
            hex("c802" "0039" "2222" "0000" "0000" "0001" "8008000000000002" "8008000000020100"
                "800a00000003" "00000003" "800b00000007" "70726f6265" "8008000000093333"));
}

TEST(L2tpCodec, ParsesGoldenSccrqFields) {
  auto m = l2tp::parse(kGoldenSccrq);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(l2tp::type_name(*m->message_type), "SCCRQ");
  EXPECT_EQ(m->length, 117);
  EXPECT_EQ(m->tunnel_id, 0);
  EXPECT_EQ(m->ns, 0);
  EXPECT_EQ(m->nr, 0);
  EXPECT_FALSE(m->zlb);
  EXPECT_EQ(m->avps.size(), 9U);
  EXPECT_TRUE(m->avps[0].mandatory);
  EXPECT_FALSE(m->avps[4].mandatory);  // firmware revision
  EXPECT_EQ(m->protocol_version, 0x0100);
  EXPECT_EQ(m->framing_capabilities, 3U);
  EXPECT_EQ(m->bearer_capabilities, 0U);
  EXPECT_EQ(m->firmware_revision, 0x0690);
  EXPECT_EQ(m->host_name, "vpncheck-a1a2a3a4a5a60102");
  EXPECT_EQ(m->vendor_name, "vpncheck");
  EXPECT_EQ(m->assigned_tunnel_id, 0x2222);
  EXPECT_EQ(m->receive_window_size, 4);
  EXPECT_EQ(m->token, make_token(0x0102));
}

TEST(L2tpCodec, ParsesZlbAndStopCcn) {
  auto zlb = l2tp::parse(kGoldenZlbAck);
  ASSERT_TRUE(zlb.has_value());
  EXPECT_TRUE(zlb->zlb);
  EXPECT_FALSE(zlb->message_type.has_value());
  auto stop = l2tp::parse(kGoldenStopCcn);
  ASSERT_TRUE(stop.has_value());
  EXPECT_EQ(l2tp::type_name(*stop->message_type), "StopCCN");
  EXPECT_EQ(stop->assigned_tunnel_id, 0x2222);
  EXPECT_EQ(stop->result_code, 1);
  EXPECT_EQ(stop->error_code, 0);
}

TEST(L2tpCodec, DescribesMessagesAsObservationFields) {
  auto f = l2tp::describe(*l2tp::parse(kGoldenSccrq));
  EXPECT_EQ(f.at("message_type"), "SCCRQ");
  EXPECT_EQ(f.at("host_name"), "vpncheck-a1a2a3a4a5a60102");
  EXPECT_EQ(f.at("assigned_tunnel_id"), "8738");
  EXPECT_EQ(f.at("avp_count"), "9");
  EXPECT_EQ(f.count("result_code"), 0U);
  EXPECT_EQ(l2tp::describe(*l2tp::parse(kGoldenZlbAck)).at("message_type"), "ZLB");
  EXPECT_EQ(l2tp::describe(*l2tp::parse(kGoldenStopCcn)).at("result_code"), "1");
}

TEST(L2tpCodec, RoundTripsEveryBoundaryIndexAndTunnelId) {
  for (std::uint16_t index : fixtures::kProbeIndices) {
    for (std::uint16_t tunnel : {std::uint16_t{1}, std::uint16_t{0x8000}, std::uint16_t{0xffff}}) {
      Bytes sccrq = l2tp::build_sccrq(make_token(index), tunnel);
      auto m = l2tp::parse(sccrq);
      ASSERT_TRUE(m.has_value());
      EXPECT_EQ(m->token, make_token(index));
      EXPECT_EQ(m->assigned_tunnel_id, tunnel);
      Bytes sccrp = l2tp::build_sccrp(sccrq, static_cast<std::uint16_t>(tunnel ^ 0x5a5a));
      ASSERT_FALSE(sccrp.empty());
      EXPECT_LT(sccrp.size(), sccrq.size());
      EXPECT_TRUE(l2tp::is_sccrp_reply_to(sccrp, sccrq));
      auto rep = l2tp::parse(sccrp);
      ASSERT_TRUE(rep.has_value());
      EXPECT_EQ(rep->token, make_token(index));
      EXPECT_EQ(rep->tunnel_id, tunnel);
      Bytes scccn = l2tp::build_scccn(sccrp);
      EXPECT_EQ(l2tp::parse(scccn)->tunnel_id, tunnel ^ 0x5a5a);
      Bytes zlb = l2tp::build_zlb_ack(scccn, tunnel);
      EXPECT_TRUE(l2tp::is_zlb_ack_for(zlb, scccn));
      EXPECT_LT(zlb.size(), scccn.size());
    }
  }
}

TEST(L2tpCodec, BuildersRefuseTunnelIdZero) {
  EXPECT_TRUE(l2tp::build_sccrq(make_token(1), 0).empty());
  EXPECT_TRUE(l2tp::build_sccrp(kGoldenSccrq, 0).empty());
}

TEST(L2tpCodec, ReplyBuildersRejectTheWrongRequest) {
  EXPECT_TRUE(l2tp::build_sccrp(kGoldenSccrp, 1).empty());
  EXPECT_TRUE(l2tp::build_sccrp(kGoldenZlbAck, 1).empty());
  EXPECT_TRUE(l2tp::build_sccrp({}, 1).empty());
  EXPECT_TRUE(l2tp::build_scccn(kGoldenSccrq).empty());
  EXPECT_TRUE(l2tp::build_zlb_ack(kGoldenZlbAck, 1).empty());  // a ZLB is not acknowledged
  // An SCCRQ with a 1-byte host name and no optional AVPs: the SCCRP is exactly as large.
  Bytes tiny = hex("c802" "0035" "0000" "0000" "0000" "0000" "8008000000000001" "8008000000020100"
                   "800a00000003" "00000003" "800700000007" "70" "8008000000092222");
  ASSERT_TRUE(l2tp::parse(tiny).has_value());
  EXPECT_EQ(l2tp::build_sccrp(tiny, 0x3333).size(), tiny.size());
}

TEST(L2tpCodec, ClientRejectsForeignReplies) {
  EXPECT_TRUE(l2tp::is_sccrp_reply_to(kGoldenSccrp, kGoldenSccrq));
  EXPECT_FALSE(l2tp::is_sccrp_reply_to(kGoldenSccrq, kGoldenSccrq));
  EXPECT_FALSE(l2tp::is_sccrp_reply_to(l2tp::build_sccrp(l2tp::build_sccrq(make_token(9), 0x2222), 1), kGoldenSccrq));
  EXPECT_FALSE(l2tp::is_sccrp_reply_to(kGoldenSccrp, l2tp::build_sccrq(make_token(0x0102), 0x2223)));
  Bytes bad_nr = kGoldenSccrp;
  bad_nr[11] = 2;
  EXPECT_FALSE(l2tp::is_sccrp_reply_to(bad_nr, kGoldenSccrq));
  EXPECT_FALSE(l2tp::is_zlb_ack_for(kGoldenZlbAck, kGoldenSccrq));  // Nr 2 != 0 + 1
  EXPECT_FALSE(l2tp::is_zlb_ack_for(kGoldenScccn, kGoldenScccn));
}

TEST(L2tpCodec, ParseRejectsEveryTruncation) {
  for (const Bytes* msg : {&kGoldenSccrq, &kGoldenSccrp, &kGoldenScccn, &kGoldenZlbAck, &kGoldenStopCcn,
                           &kGoldenIcrq, &kGoldenIcrp, &kGoldenIccn}) {
    for (std::size_t len = 0; len < msg->size(); ++len) {
      EXPECT_FALSE(l2tp::parse(ByteView(*msg).first(len)).has_value()) << len;
      // Even with the Length field fixed up, a message cut inside its first AVP is rejected.
      if (len > l2tp::kHeaderSize && len < l2tp::kHeaderSize + 8) {
        Bytes cut(msg->begin(), msg->begin() + static_cast<std::ptrdiff_t>(len));
        cut[3] = static_cast<std::uint8_t>(len);
        EXPECT_FALSE(l2tp::parse(cut).has_value()) << len;
      }
    }
    EXPECT_TRUE(l2tp::build_sccrp(ByteView(kGoldenSccrq).first(msg->size() - 1), 1).empty());
  }
}

TEST(L2tpCodec, ParseRejectsCorruptedMessages) {
  auto with = [](std::size_t offset, std::uint8_t value) {
    Bytes b = kGoldenSccrq;
    b[offset] = value;
    return b;
  };
  const std::pair<std::size_t, std::uint8_t> cases[] = {
      {0, 0x48},  // T=0: data message
      {0, 0x88},  // L=0
      {0, 0xc0},  // S=0
      {0, 0xca},  // O=1
      {0, 0xc9},  // P=1
      {0, 0xe8},  // reserved bit
      {1, 0x03},  // version 3
      {1, 0x01},  // version 1 (L2F)
      {3, 0x74},  // length 116 != 117
      {3, 0x76},  // length 118 != 117
      {12, 0x00}, // first AVP not mandatory
      {12, 0xc0}, // first AVP hidden
      {12, 0x84}, // AVP reserved bits
      {13, 0x05}, // AVP length 5 < 6
      {13, 0x09}, // message type AVP of 3 bytes
      {15, 0x01}, // first AVP vendor-specific
      {17, 0x07}, // first AVP is not Message Type
      {29, 0x09}, // framing AVP of 3 bytes: wrong size
      {110, 0x30}, // last AVP runs past the message
      {110, 0x06}, // receive window AVP of 0 bytes
  };
  for (auto [offset, value] : cases) {
    Bytes b = with(offset, value);
    EXPECT_FALSE(l2tp::parse(b).has_value()) << offset << " " << int{value};
    EXPECT_TRUE(l2tp::build_sccrp(b, 1).empty()) << offset;
  }
  Bytes twice = kGoldenSccrq;  // a second Message Type AVP (SCCRP) in place of Protocol Version
  twice[25] = 0x00;
  twice[26] = 0x00;
  twice[27] = 0x02;
  EXPECT_FALSE(l2tp::parse(twice).has_value());
  Bytes longer = kGoldenSccrq;
  longer.push_back(0);  // a trailing byte the Length field does not cover
  EXPECT_FALSE(l2tp::parse(longer).has_value());
}

TEST(L2tpCodec, HiddenAndVendorAvpsAreKeptButNotDecoded) {
  Bytes b = kGoldenSccrq;
  b[111] = 0x01;  // receive window AVP: vendor 0x0100
  auto m = l2tp::parse(b);
  ASSERT_TRUE(m.has_value());
  EXPECT_FALSE(m->receive_window_size.has_value());
  EXPECT_EQ(m->avps.back().vendor_id, 0x0100);
  b = kGoldenSccrq;
  b[101] = 0xc0;  // Assigned Tunnel ID hidden
  m = l2tp::parse(b);
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->avps[7].hidden);
  EXPECT_FALSE(m->assigned_tunnel_id.has_value());
  EXPECT_TRUE(l2tp::build_sccrp(b, 1).empty());  // no tunnel id to answer to
}

TEST(L2tpCodec, RejectsRandomBytesOfTheRightSize) {
  for (std::uint32_t seed = 0; seed < 64; ++seed) {
    Bytes b(97);
    fixtures::seeded_fill(seed)(b);
    EXPECT_FALSE(l2tp::parse(b).has_value()) << seed;
  }
}

}  // namespace
}  // namespace vpncheck::probes
