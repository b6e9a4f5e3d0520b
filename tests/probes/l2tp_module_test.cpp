// The L2TP probe module (probes/l2tp_module.cpp): the control-connection
// exchange as the client drives it (next_request, is_reply_to) and as the
// stateless reflector answers it (parse_request with the flow's token,
// build_reply). The codec itself is covered in l2tp_test.cpp.
#include <gtest/gtest.h>

#include <set>

#include "probes/l2tp.h"
#include "probes/registry.h"
#include "test_support.h"

namespace vpncheck::probes {
namespace {

using fixtures::hex;
using fixtures::make_token;
using fixtures::seeded_fill;

const ProtocolModule& module() { return l2tp::kModule; }

// Tunnel ids pinned for token a1a2a3a4a5a6|0102: the first two bytes of
// SHA-256("vpncheck l2tp client" | token) and of SHA-256("vpncheck l2tp reflector" | token).
constexpr std::uint16_t kClientId = 0xd9dd;
constexpr std::uint16_t kReflectorId = 0xa593;
const std::string kHostHex = to_hex(as_bytes("vpncheck-a1a2a3a4a5a60102"));
// The sessions, likewise: SHA-256("vpncheck l2tp client session" | token) and
// SHA-256("vpncheck l2tp session" | token), l2tp::data_session_id.
constexpr std::string_view kClientSessionHex = "04a4";
constexpr std::string_view kReflectorSessionHex = "b2f9";

ArrivalContext follow_up_of(const ProbeToken& token) {
  ArrivalContext arrival = default_arrival();
  arrival.flow_token = token;
  return arrival;
}

// The whole exchange, each message answered by the module's own reflector side.
struct Walk {
  std::vector<Bytes> requests;
  std::vector<Bytes> replies;
  std::vector<ParsedRequest> parsed;
};

Walk walk(const ProbeToken& token) {
  Walk w;
  const ProbeContext context = default_context(module(), token);
  auto rnd = seeded_fill(1);
  std::optional<Bytes> request = module().build_request(context, rnd);
  for (std::size_t step = 0; request && step < 8; ++step) {
    auto arrival = step == 0 ? default_arrival() : follow_up_of(token);
    auto parsed = module().parse_request(*request, arrival);
    if (!parsed) {
      ADD_FAILURE() << "step " << step << " not recognised by the reflector";
      break;
    }
    Bytes reply = module().build_reply(*request, *parsed, arrival, rnd);
    w.requests.push_back(*request);
    w.replies.push_back(reply);
    w.parsed.push_back(*parsed);
    if (!module().is_reply_to(reply, *request)) {
      ADD_FAILURE() << "step " << step << ": the reflector's answer is not accepted";
      break;
    }
    request = module().next_request(context, step, *request, reply, rnd);
  }
  return w;
}

TEST(L2tpModule, IsRegisteredOnUdp1701) {
  EXPECT_EQ(find_protocol("l2tp"), &module());
  EXPECT_EQ(module().title, "L2TP");
  ASSERT_EQ(module().variants.size(), 1U);
  EXPECT_EQ(module().variants[0].transport, Transport::udp);
  EXPECT_EQ(module().variants[0].port, 1701);
  EXPECT_TRUE(module().variants[0].standard);
  EXPECT_NE(module().next_request, nullptr);
}

TEST(L2tpModule, TunnelIdsAreDerivedNonZeroAndDistinct) {
  EXPECT_EQ(l2tp::client_tunnel_id(make_token(0x0102)), kClientId);
  EXPECT_EQ(l2tp::reflector_tunnel_id(make_token(0x0102)), kReflectorId);
  std::set<std::uint16_t> client_ids;
  for (std::uint16_t index = 0; index < 2000; ++index) {
    auto token = make_token(index);
    auto client = l2tp::client_tunnel_id(token);
    auto reflector = l2tp::reflector_tunnel_id(token);
    EXPECT_NE(client, 0);
    EXPECT_NE(reflector, 0);
    EXPECT_NE(client, reflector) << index;
    EXPECT_EQ(client, l2tp::client_tunnel_id(token)) << "stable";
    client_ids.insert(client);
  }
  EXPECT_GT(client_ids.size(), 1900U) << "ids should differ between probes";
}

TEST(L2tpModule, GoldenExchange) {
  const auto token = make_token(0x0102);
  Walk w = walk(token);
  ASSERT_EQ(w.requests.size(), 4U);
  // SCCRQ with the tag in Host Name and the derived Assigned Tunnel ID.
  EXPECT_EQ(w.requests[0], l2tp::build_sccrq(token, kClientId));
  // SCCRP to the client's tunnel, assigning the reflector's.
  EXPECT_EQ(w.replies[0], hex("c802" "004d" "d9dd" "0000" "0000" "0001"
                              "8008" "0000" "0000" "0002"
                              "8008" "0000" "0002" "0100"
                              "800a" "0000" "0003" "00000003"
                              "801f" "0000" "0007" + kHostHex +
                              "8008" "0000" "0009" "a593"));
  // SCCCN (Ns 1, Nr 1) to the reflector's tunnel; ZLB (Ns 1, Nr 2) back to the client's.
  EXPECT_EQ(w.requests[1], hex("c802" "0014" "a593" "0000" "0001" "0001" "8008" "0000" "0000" "0003"));
  EXPECT_EQ(w.replies[1], hex("c802" "000c" "d9dd" "0000" "0001" "0002"));
  // ICRQ (Ns 2, Nr 1: ZLBs take no sequence number), session 0, assigning
  // the client's session and call serial 1.
  EXPECT_EQ(w.requests[2], hex("c802" "0026" "a593" "0000" "0002" "0001"
                               "8008" "0000" "0000" "000a"
                               "8008" "0000" "000e" + std::string(kClientSessionHex) +
                               "800a" "0000" "000f" "00000001"));
  // ICRP (Ns 1, Nr 3) to the client's session, assigning the reflector's,
  // which the data messages carry.
  EXPECT_EQ(w.replies[2], hex("c802" "001c" "d9dd" + std::string(kClientSessionHex) + "0001" "0003"
                              "8008" "0000" "0000" "000b"
                              "8008" "0000" "000e" + std::string(kReflectorSessionHex)));
  // ICCN (Ns 3, Nr 2) in the reflector's session: Tx Connect Speed 100 Mbit/s,
  // synchronous framing; ZLB (Ns 2, Nr 4).
  EXPECT_EQ(w.requests[3], hex("c802" "0028" "a593" + std::string(kReflectorSessionHex) + "0003" "0002"
                               "8008" "0000" "0000" "000c"
                               "800a" "0000" "0018" "05f5e100"
                               "800a" "0000" "0013" "00000001"));
  EXPECT_EQ(w.replies[3], hex("c802" "000c" "d9dd" "0000" "0002" "0004"));
  for (std::size_t i = 0; i < w.requests.size(); ++i) EXPECT_LE(w.replies[i].size(), w.requests[i].size()) << i;
}

TEST(L2tpModule, TheDataMessagesTravelInTheSessionTheIcrpAssigned) {
  const auto token = make_token(0x0102);
  Walk w = walk(token);
  ASSERT_EQ(w.replies.size(), 4U);
  auto icrp = l2tp::parse(w.replies[2]);
  ASSERT_TRUE(icrp);
  ASSERT_TRUE(icrp->assigned_session_id);
  EXPECT_EQ(*icrp->assigned_session_id, l2tp::data_session_id(token));
  auto rnd = seeded_fill(3);
  const Bytes data = l2tp::build_data(token, 0, l2tp::kDataSmallSize, rnd);
  ASSERT_GE(data.size(), 6U);
  EXPECT_EQ((data[2] << 8) | data[3], kReflectorId);
  EXPECT_EQ((data[4] << 8) | data[5], *icrp->assigned_session_id);
}

TEST(L2tpModule, EveryStepIsAttributedToTheProbeWithItsFields) {
  const auto token = make_token(7);
  Walk w = walk(token);
  ASSERT_EQ(w.parsed.size(), 4U);
  EXPECT_TRUE(w.parsed[0].opens_flow) << "the SCCRQ opens the flow its follow-ups belong to";
  const char* types[] = {"SCCRQ", "SCCCN", "ICRQ", "ICCN"};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(w.parsed[i].token, token) << i;
    EXPECT_EQ(w.parsed[i].fields.at("message_type"), types[i]);
    EXPECT_EQ(w.parsed[i].opens_flow, i == 0) << i;
    // Tunnel-level messages carry session 0; the ICCN the session the reflector assigned.
    EXPECT_EQ(w.parsed[i].fields.at("session_id"), i == 3 ? std::to_string(l2tp::data_session_id(token)) : "0");
  }
  const auto& sccrq = w.parsed[0].fields;
  EXPECT_EQ(sccrq.at("assigned_tunnel_id"), std::to_string(l2tp::client_tunnel_id(token)));
  EXPECT_EQ(sccrq.at("host_name"), l2tp::tagged_host_name(token));
  EXPECT_EQ(sccrq.at("ns"), "0");
  EXPECT_EQ(sccrq.at("nr"), "0");
  EXPECT_EQ(w.parsed[1].fields.at("tunnel_id"), std::to_string(l2tp::reflector_tunnel_id(token)));
  EXPECT_EQ(w.parsed[1].fields.at("ns"), "1");
  EXPECT_EQ(w.parsed[2].fields.at("ns"), "2");
  EXPECT_EQ(w.parsed[2].fields.at("call_serial_number"), "1");
  EXPECT_EQ(w.parsed[3].fields.at("ns"), "3");
  EXPECT_EQ(w.parsed[3].fields.at("framing_type"), "1");
}

TEST(L2tpModule, ExchangeEndsAfterTheIccnAck) {
  const auto token = make_token(3);
  Walk w = walk(token);
  ASSERT_EQ(w.requests.size(), 4U);
  auto rnd = seeded_fill(2);
  EXPECT_FALSE(module().next_request(default_context(module(), token), 3, w.requests[3], w.replies[3], rnd));
}

TEST(L2tpModule, FollowUpsNeedTheFlowOfTheirSccrq) {
  const auto token = make_token(9);
  Walk w = walk(token);
  ASSERT_EQ(w.requests.size(), 4U);
  for (std::size_t i : {1U, 2U, 3U}) {
    // No flow: an untagged SCCCN/ICRQ/ICCN is nobody's.
    EXPECT_FALSE(module().parse_request(w.requests[i], default_arrival())) << i;
    // Another probe's flow: addressed to a tunnel the reflector did not assign to it.
    EXPECT_FALSE(module().parse_request(w.requests[i], follow_up_of(make_token(10)))) << i;
  }
}

// A client of the earlier exchange ended with StopCCN: still answered.
TEST(L2tpModule, AStopCcnOfTheFlowIsStillAcknowledged) {
  const auto token = make_token(13);
  const auto client = l2tp::client_tunnel_id(token);
  const Bytes stop = l2tp::build_stop_ccn(l2tp::reflector_tunnel_id(token), client, 2, 1);
  auto parsed = module().parse_request(stop, follow_up_of(token));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->fields.at("message_type"), "StopCCN");
  auto rnd = seeded_fill(4);
  const Bytes ack = module().build_reply(stop, *parsed, follow_up_of(token), rnd);
  EXPECT_TRUE(module().is_reply_to(ack, stop));
  EXPECT_FALSE(module().is_reply_to(l2tp::build_zlb(static_cast<std::uint16_t>(client + 1), 1, 3), stop))
      << "the StopCCN names our tunnel";
}

// The session a message names must be the one its kind carries: an ICRQ opens
// none yet (0), an ICCN is in the reflector's.
TEST(L2tpModule, CallMessagesInTheWrongSessionAreNobodys) {
  const auto token = make_token(14);
  Walk w = walk(token);
  ASSERT_EQ(w.requests.size(), 4U);
  Bytes icrq = w.requests[2];
  icrq[7] = static_cast<std::uint8_t>(icrq[7] ^ 1);  // header Session ID no longer 0
  EXPECT_FALSE(module().parse_request(icrq, follow_up_of(token)));
  Bytes iccn = w.requests[3];
  iccn[7] = static_cast<std::uint8_t>(iccn[7] ^ 1);  // not the reflector's session
  EXPECT_FALSE(module().parse_request(iccn, follow_up_of(token)));
  // An ICRQ that assigns no session cannot be answered.
  EXPECT_TRUE(l2tp::build_icrq(l2tp::reflector_tunnel_id(token), 0, 1, 2, 1).empty());
}

TEST(L2tpModule, SccrqMustBeTaggedAndToTunnelZero) {
  const auto token = make_token(0x0102);
  Bytes sccrq = l2tp::build_sccrq(token, kClientId);
  ASSERT_TRUE(module().parse_request(sccrq, default_arrival()));
  Bytes to_tunnel = sccrq;
  to_tunnel[5] = 0x01;  // header Tunnel ID 1
  EXPECT_FALSE(module().parse_request(to_tunnel, default_arrival()));
  Bytes untagged = sccrq;
  untagged[62] = 'X';  // Host Name "Xpncheck-...": no longer our tag
  ASSERT_EQ(untagged.size(), sccrq.size());
  EXPECT_FALSE(module().parse_request(untagged, default_arrival()));
  // The codec's spec example (Host Name "probe") is a real SCCRQ, but carries no token.
  EXPECT_FALSE(module().parse_request(hex("c80200610000000000000000" "8008000000000001" "8008000000020100"
                                          "800a0000000300000003" "800a0000000400000000" "0008000000060690"
                                          "800b0000000770726f6265" "000e0000000876706e636865636b"
                                          "8008000000092222" "80080000000a0004"),
                                      default_arrival()));
}

TEST(L2tpModule, RepliesNeverParseAsRequestsEvenInsideAFlow) {
  const auto token = make_token(11);
  Walk w = walk(token);
  ASSERT_EQ(w.replies.size(), 4U);
  for (const auto& reply : w.replies) {
    EXPECT_FALSE(module().parse_request(reply, default_arrival()));
    EXPECT_FALSE(module().parse_request(reply, follow_up_of(token))) << "two reflectors must not ping-pong";
  }
}

TEST(L2tpModule, AckCheckRejectsWrongSequenceAndWrongSession) {
  const auto token = make_token(12);
  Walk w = walk(token);
  ASSERT_EQ(w.requests.size(), 4U);
  const auto client = l2tp::client_tunnel_id(token);
  // To the SCCCN (Ns 1, Nr 1): the ZLB must carry Nr 2 and Ns 1.
  EXPECT_TRUE(module().is_reply_to(l2tp::build_zlb(client, 1, 2), w.requests[1]));
  EXPECT_FALSE(module().is_reply_to(l2tp::build_zlb(client, 1, 1), w.requests[1]));
  EXPECT_FALSE(module().is_reply_to(l2tp::build_zlb(client, 0, 2), w.requests[1]));
  // The SCCCN's ack is not the ICCN's.
  EXPECT_FALSE(module().is_reply_to(w.replies[1], w.requests[3]));
  // The ICRP must answer our ICRQ's session and sequence.
  auto icrp = l2tp::parse(w.replies[2]);
  ASSERT_TRUE(icrp);
  Bytes other_session = w.replies[2];
  other_session[7] = static_cast<std::uint8_t>(other_session[7] ^ 1);
  EXPECT_FALSE(module().is_reply_to(other_session, w.requests[2]));
  Bytes other_nr = w.replies[2];
  other_nr[11] = static_cast<std::uint8_t>(other_nr[11] + 1);
  EXPECT_FALSE(module().is_reply_to(other_nr, w.requests[2]));
  // A ZLB is no answer to the SCCRQ or the ICRQ, nor the SCCRP to the SCCCN.
  EXPECT_FALSE(module().is_reply_to(w.replies[1], w.requests[0]));
  EXPECT_FALSE(module().is_reply_to(w.replies[1], w.requests[2]));
  EXPECT_FALSE(module().is_reply_to(w.replies[0], w.requests[1]));
  // Our own messages are not answers to each other.
  EXPECT_FALSE(module().is_reply_to(w.requests[2], w.requests[1]));
  EXPECT_FALSE(module().is_reply_to(w.requests[3], w.requests[2]));
}

TEST(L2tpModule, AdviceNamesThePort) {
  std::string advice = module().advice_use_variant({Transport::udp, 1702, false});
  EXPECT_NE(advice.find("UDP 1702"), std::string::npos) << advice;
  EXPECT_NE(std::string(module().advice_signature_blocked).find("IPsec"), std::string::npos);
}

}  // namespace
}  // namespace vpncheck::probes
