// The reflector's side of PPTP on byte vectors: the control connection's
// server conversation (which messages go to the demux, when the stream ends),
// the call table that is the module's server state, and the module's replies
// that use it.
#include "probes/pptp_server.h"

#include <gtest/gtest.h>

#include "probes/observation.h"
#include "probes/pptp.h"
#include "probes/pptp_module.h"
#include "test_support.h"

namespace vpncheck::probes::pptp {
namespace {

using fixtures::make_token;
using fixtures::seeded_fill;
using conversation::ServerAction;
using conversation::ServerEvent;
using Kind = ServerAction::Kind;
using State = ServerConversation::State;

const Bytes kClient{198, 51, 100, 7};
const Bytes kReflector{203, 0, 113, 5};

ServerAction bytes(ServerConversation& c, ByteView data) { return c.step({ServerEvent::Kind::bytes, data}); }
ServerAction answered(ServerConversation& c, ByteView reply, bool recorded = true) {
  return c.step({ServerEvent::Kind::answered, reply, recorded});
}

// Submits `message` and has the demux answer it with `reply`.
ServerAction exchange(ServerConversation& c, const Bytes& message, const Bytes& reply) {
  auto action = bytes(c, message);
  EXPECT_EQ(action.kind, Kind::submit);
  EXPECT_EQ(action.size, message.size());
  return answered(c, reply);
}

TEST(PptpServerConversation, SubmitsTheTaggedMessagesInOrderAndEndsAfterStop) {
  ServerConversation c;
  EXPECT_EQ(c.state(), State::wait_sccrq);
  Bytes sccrq = build_sccrq(make_token(3));
  EXPECT_EQ(exchange(c, sccrq, build_sccrp(sccrq)).kind, Kind::need_more);
  EXPECT_EQ(c.state(), State::connected);
  Bytes ocrq = build_ocrq(make_token(3), 0x1234, 7);
  EXPECT_EQ(exchange(c, ocrq, build_ocrp(ocrq, 9)).kind, Kind::need_more);
  EXPECT_EQ(c.state(), State::in_call);
  // Set-Link-Info needs neither record nor answer.
  Bytes sli = build_set_link_info(9);
  auto skip = bytes(c, sli);
  EXPECT_EQ(skip.kind, Kind::skip);
  EXPECT_EQ(skip.size, sli.size());
  Bytes stop = build_stop_ccrq();
  EXPECT_EQ(exchange(c, stop, build_stop_ccrp(stop)).kind, Kind::close);
  EXPECT_EQ(c.state(), State::closed);
  EXPECT_EQ(bytes(c, sccrq).kind, Kind::close) << "a closed connection stays closed";
}

TEST(PptpServerConversation, WaitsForTheRestOfASplitMessageAndTakesOneAtATime) {
  ServerConversation c;
  Bytes sccrq = build_sccrq(make_token(3));
  for (std::size_t len : {0U, 1U, 8U, 100U, 155U})
    EXPECT_EQ(bytes(c, ByteView(sccrq).first(len)).kind, Kind::need_more) << len;
  Bytes both = sccrq;
  Bytes ocrq = build_ocrq(make_token(3), 9, 1);
  both.insert(both.end(), ocrq.begin(), ocrq.end());
  auto first = bytes(c, both);
  EXPECT_EQ(first.kind, Kind::submit);
  EXPECT_EQ(first.size, sccrq.size());
}

TEST(PptpServerConversation, ClosesOnProtocolViolations) {
  {  // OCRQ before SCCRQ
    ServerConversation c;
    EXPECT_EQ(bytes(c, build_ocrq(make_token(3), 9, 1)).kind, Kind::close);
    EXPECT_EQ(c.state(), State::closed);
  }
  {  // not PPTP
    ServerConversation c;
    EXPECT_EQ(bytes(c, Bytes(156, 0x41)).kind, Kind::close);
  }
  {  // an SCCRQ the demux did not record (unknown session): not answered, closed
    ServerConversation c;
    ASSERT_EQ(bytes(c, build_sccrq(make_token(3))).kind, Kind::submit);
    EXPECT_EQ(answered(c, {}, false).kind, Kind::close);
  }
  {  // recorded but unanswered (e.g. rate limited)
    ServerConversation c;
    ASSERT_EQ(bytes(c, build_sccrq(make_token(3))).kind, Kind::submit);
    EXPECT_EQ(answered(c, {}, true).kind, Kind::close);
  }
  {  // a second OCRQ: one call per connection
    ServerConversation c;
    Bytes sccrq = build_sccrq(make_token(3));
    exchange(c, sccrq, build_sccrp(sccrq));
    Bytes ocrq = build_ocrq(make_token(3), 9, 1);
    exchange(c, ocrq, build_ocrp(ocrq, 9));
    EXPECT_EQ(bytes(c, build_ocrq(make_token(3), 10, 2)).kind, Kind::close);
  }
  {  // a second SCCRQ
    ServerConversation c;
    Bytes sccrq = build_sccrq(make_token(3));
    exchange(c, sccrq, build_sccrp(sccrq));
    EXPECT_EQ(bytes(c, sccrq).kind, Kind::close);
  }
}

TEST(PptpServerConversation, BoundsTheMessagesPerConnection) {
  ServerConversation c;
  Bytes sccrq = build_sccrq(make_token(3));
  exchange(c, sccrq, build_sccrp(sccrq));
  Bytes sli = build_set_link_info(1);
  bool closed = false;
  for (std::size_t i = 0; i < ServerConversation::kMaxMessages + 2 && !closed; ++i)
    closed = bytes(c, sli).kind == Kind::close;
  EXPECT_TRUE(closed);
}

TEST(PptpSniff, TellsPptpFromOpenVpnAndHttp) {
  Bytes sccrq = build_sccrq(make_token(1));
  EXPECT_TRUE(looks_like_pptp(ByteView(sccrq).first(4)));
  EXPECT_TRUE(looks_like_pptp(sccrq));
  EXPECT_FALSE(looks_like_pptp(ByteView(sccrq).first(3)));
  Bytes bad_cookie = sccrq;
  bad_cookie[5] ^= 0xff;
  EXPECT_FALSE(looks_like_pptp(bad_cookie));
  EXPECT_FALSE(looks_like_pptp(as_bytes("GET / HTTP/1.1")));
  EXPECT_FALSE(looks_like_pptp(Bytes{0x00, 0x0e, 0x38, 0x01}));  // OpenVPN: length, then opcode 7 << 3
  ASSERT_NE(kModule.server_stream, nullptr);
  EXPECT_EQ(kModule.server_stream->sniff, &looks_like_pptp);
}

ProbeToken token_of_session(std::size_t n) {
  return make_token(1, SessionTag{5, 5, 5, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
                                  static_cast<std::uint8_t>(n)});
}

TEST(PptpCallTable, IsBoundedAndExpires) {
  CallTable calls;
  std::size_t forgotten = 0;
  // A call per session: the table, not a quota, is what fills.
  for (std::size_t i = 0; i < CallTable::kMaxCalls + 10; ++i)
    if (calls.add(kClient, static_cast<std::uint16_t>(i + 1),
                  CallTable::Call{token_of_session(i), 1, static_cast<std::int64_t>(i), 1}, static_cast<std::int64_t>(i)))
      ++forgotten;
  EXPECT_EQ(forgotten, 10u) << "every live call forgotten is named (its session is told)";
  EXPECT_EQ(calls.size(), CallTable::kMaxCalls);
  EXPECT_FALSE(calls.find(kClient, 1, 100).has_value()) << "the oldest went first";
  const auto newest = static_cast<std::uint16_t>(CallTable::kMaxCalls + 10);
  EXPECT_TRUE(calls.find(kClient, newest, 100).has_value());
  EXPECT_FALSE(calls.find(kClient, newest, CallTable::kCallLifetimeMs + 10000).has_value());
  EXPECT_FALSE(calls.find(Bytes{198, 51, 100, 8}, newest, 100).has_value()) << "another client's";
}

// One session opening calls without end forgets its own oldest at its quota;
// another session's live call survives (and its GRE is still answered).
TEST(PptpCallTable, ASessionAtItsQuotaForgetsItsOwnCallsNotAnothers) {
  CallTable calls;
  const ProbeToken honest = token_of_session(1);
  const ProbeToken flood = token_of_session(2);
  calls.add(kClient, 7, {honest, 5, 0, 40001}, 0);
  for (std::size_t i = 0; i < 2 * CallTable::kMaxCalls; ++i) {
    auto forgotten = calls.add(Bytes{203, 0, 113, 9}, static_cast<std::uint16_t>(100 + i),
                               {flood, 1, static_cast<std::int64_t>(1 + i), 1}, static_cast<std::int64_t>(1 + i));
    if (forgotten) {
      EXPECT_EQ(forgotten->token, flood) << "only the flooding session's own calls go";
    }
  }
  EXPECT_EQ(calls.size(), CallTable::kCallsPerSession + 1);
  auto kept = calls.find(kClient, 7, 10'000);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->token, honest);
}

TEST(PptpCallTable, ForgetsASessionsCallsAndAControlConnectionsCalls) {
  const SessionTag a{1, 1, 1, 1, 1, 1};
  const SessionTag b{2, 2, 2, 2, 2, 2};
  CallTable calls;
  calls.add(kClient, 10, {{a, 1}, 5, 0, 40001}, 0);
  calls.add(kClient, 11, {{b, 1}, 6, 0, 40002}, 0);
  calls.add(Bytes{192, 0, 2, 1}, 12, {{b, 1}, 7, 0, 40001}, 0);
  calls.forget(a);
  EXPECT_EQ(calls.size(), 2u);
  EXPECT_FALSE(calls.find(kClient, 10, 1));
  calls.end_control(kClient, 40002);
  EXPECT_FALSE(calls.find(kClient, 11, 1));
  EXPECT_TRUE(calls.find(Bytes{192, 0, 2, 1}, 12, 1)) << "same port, another client";
}

ArrivalContext control_arrival(CallTable& calls, std::uint16_t source_port, std::vector<ProbeToken>* evicted = nullptr) {
  ArrivalContext a;
  a.transport = Transport::tcp;
  a.source = IpPort{kClient, source_port};
  a.destination = IpPort{kReflector, kControlPort};
  a.state = &calls;
  a.now_ms = 1000;
  a.evicted = evicted;
  return a;
}

TEST(PptpModuleServerState, AnOcrpEntersTheCallWithAFreshCallIdAndStopEndsIt) {
  CallTable calls;
  // A random source that always gives the same Call ID: the second call must still get its own.
  auto same = fixtures::constant_fill(0x42);
  Bytes ocrq1 = build_ocrq(make_token(3), 0x1111, 1);
  Bytes ocrq2 = build_ocrq(make_token(4), 0x2222, 2);
  auto p1 = kModule.parse_request(ocrq1, control_arrival(calls, 40001));
  auto p2 = kModule.parse_request(ocrq2, control_arrival(calls, 40002));
  ASSERT_TRUE(p1 && p2);
  auto ocrp1 = parse(kModule.build_reply(ocrq1, *p1, control_arrival(calls, 40001), same)).message;
  auto ocrp2 = parse(kModule.build_reply(ocrq2, *p2, control_arrival(calls, 40002), same)).message;
  EXPECT_EQ(ocrp1.call_id, 0x4242);
  EXPECT_NE(ocrp2.call_id, ocrp1.call_id);
  EXPECT_EQ(ocrp2.peer_call_id, 0x2222);
  ASSERT_EQ(calls.size(), 2u);
  auto call = calls.find(kClient, ocrp2.call_id, 1000);
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->client_call_id, 0x2222);
  EXPECT_EQ(call->token, make_token(4));

  // The StopCCRQ on the first connection ends its call only.
  Bytes stop = build_stop_ccrq();
  auto arrival = control_arrival(calls, 40001);
  arrival.flow_token = make_token(3);
  auto parsed = kModule.parse_request(stop, arrival);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(is_stop_ccrp_reply_to(kModule.build_reply(stop, *parsed, arrival, same), stop));
  EXPECT_FALSE(calls.find(kClient, ocrp1.call_id, 1000));
  EXPECT_TRUE(calls.find(kClient, ocrp2.call_id, 1000));
}

TEST(PptpModuleServerState, AFullTableNamesTheSessionWhoseCallWasForgotten) {
  constexpr std::size_t kCapacity = 64;
  CallTable calls(kCapacity, kCapacity);
  for (std::size_t i = 0; i < kCapacity; ++i)
    calls.add(Bytes{192, 0, 2, 1}, static_cast<std::uint16_t>(i + 1), {make_token(9), 1, 999, 1}, 999);
  std::vector<ProbeToken> evicted;
  Bytes ocrq = build_ocrq(make_token(3), 0x1111, 1);
  auto arrival = control_arrival(calls, 40001, &evicted);
  auto parsed = kModule.parse_request(ocrq, arrival);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_FALSE(kModule.build_reply(ocrq, *parsed, arrival, seeded_fill(1)).empty());
  ASSERT_EQ(evicted.size(), 1u);
  EXPECT_EQ(evicted.front(), make_token(9));
  EXPECT_EQ(calls.size(), kCapacity);
  EXPECT_EQ(kModule.state_limit, limit_kind::kPptpCalls);
  ASSERT_NE(kModule.make_server_state, nullptr);
  EXPECT_NE(dynamic_cast<CallTable*>(kModule.make_server_state().get()), nullptr);
}

}  // namespace
}  // namespace vpncheck::probes::pptp
