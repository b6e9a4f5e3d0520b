// The client's PPTP conversation (probes/pptp_client.h) on byte vectors: the
// events a runner would deliver go in, the actions and the pieces' results
// come out. No sockets.
#include "probes/pptp_client.h"

#include <gtest/gtest.h>

#include "probes/gre.h"
#include "probes/ip.h"
#include "probes/pptp.h"
#include "probes/pptp_module.h"
#include "test_support.h"

namespace vpncheck::probes::pptp {
namespace {

using namespace conversation;
using fixtures::make_token;
using fixtures::seeded_fill;

const Bytes kLocal{198, 51, 100, 7};
const Bytes kReflector{203, 0, 113, 5};
constexpr std::int64_t kDeadline = 3000;

Setup setup(bool gre = true, std::optional<std::string> gre_not_run = std::nullopt) {
  Setup s;
  s.pieces.push_back({kModule.variants[0], make_token(1), std::nullopt});
  if (gre) s.pieces.push_back({kModule.variants[1], make_token(2), gre_not_run});
  s.remote = IpPort{kReflector, 0};
  s.deadline_ms = kDeadline;
  s.random = seeded_fill(7);
  return s;
}

Event event(Event::Kind kind, Channel channel = 0, std::int64_t now = 10) {
  Event e;
  e.kind = kind;
  e.channel = channel;
  e.now_ms = now;
  return e;
}
Event message(Channel channel, Bytes bytes) {
  Event e = event(Event::Kind::message, channel);
  e.message = std::move(bytes);
  return e;
}
Event failure(Channel channel, Outcome outcome, std::string detail) {
  Event e = event(Event::Kind::failed, channel);
  e.outcome = outcome;
  e.detail = std::move(detail);
  return e;
}

template <typename T>
const T& as(const Action& a) {
  EXPECT_TRUE(std::holds_alternative<T>(a)) << "action index " << a.index();
  static const T empty{};
  return std::holds_alternative<T>(a) ? std::get<T>(a) : empty;
}

// Drives the conversation to the point where the call is up (OCRP answered)
// and the Set-Link-Info was asked for; returns the OCRQ's Call ID and the
// reflector's.
struct Connected {
  std::uint16_t own = 0;
  std::uint16_t reflector = 0x5678;
};
Connected connect(ClientConversation& c) {
  auto open = as<OpenStream>(c.step(event(Event::Kind::started)));
  EXPECT_EQ(open.port, 1723);
  EXPECT_EQ(open.piece, 0u);
  EXPECT_NE(open.framing, nullptr);
  auto sccrq = as<Send>(c.step(event(Event::Kind::opened, 0)));
  EXPECT_TRUE(sccrq.awaits_answer);
  EXPECT_EQ(parse(sccrq.bytes).message.token, make_token(1));
  EXPECT_EQ(as<WaitUntil>(c.step(event(Event::Kind::sent, 0))).at_ms, kDeadline);
  auto ocrq = as<Send>(c.step(message(0, build_sccrp(sccrq.bytes))));
  EXPECT_TRUE(ocrq.awaits_answer);
  Connected out;
  out.own = parse(ocrq.bytes).message.call_id;
  as<WaitUntil>(c.step(event(Event::Kind::sent, 0)));
  auto sli = as<Send>(c.step(message(0, build_ocrp(ocrq.bytes, out.reflector))));
  EXPECT_FALSE(sli.awaits_answer);
  EXPECT_EQ(parse(sli.bytes).message.peer_call_id, out.reflector);
  return out;
}

TEST(PptpClientConversation, RunsControlThenGreKeyedToTheReflectorsCallIdThenStops) {
  auto c = start_client(setup());
  auto ids = connect(*c);
  auto flow = as<OpenFlow>(c->step(event(Event::Kind::sent, 0, 100)));
  EXPECT_EQ(flow.transport, Transport::ip);
  EXPECT_EQ(flow.port, 47);
  EXPECT_EQ(flow.piece, 1u);
  EXPECT_EQ(flow.deadline_ms, kDeadline - kStopReserveMs) << "time kept back for the clean stop";
  // The call's data follows GRE on the same socket, keyed as GRE is both ways.
  ASSERT_TRUE(flow.data.has_value());
  EXPECT_EQ(flow.data->sent, ids.reflector);
  EXPECT_EQ(flow.data->echoed, ids.own);
  Bytes gre = flow.request(IpPort{kLocal, 0});
  auto payload = ip::payload(gre, 47);
  ASSERT_TRUE(payload.has_value());
  auto probe = gre::parse_probe(*payload);
  ASSERT_TRUE(probe.has_value());
  EXPECT_EQ(probe->gre.header.call_id, ids.reflector);
  EXPECT_EQ(probe->token, make_token(2));
  Bytes answer = ip::datagram(kReflector, kLocal, 47, gre::build_reply(*payload, ids.own));
  EXPECT_TRUE(flow.answers(answer, gre));
  EXPECT_FALSE(flow.answers(ip::datagram(kReflector, kLocal, 47, gre::build_reply(*payload, ids.own + 1)), gre));

  as<WaitUntil>(c->step(event(Event::Kind::opened, 1)));
  // The control connection's peer saying something meanwhile changes nothing.
  as<WaitUntil>(c->step(message(0, Bytes{1, 2, 3})));
  auto stop = as<Send>(c->step(message(1, answer)));
  EXPECT_EQ(parse(stop.bytes).message.type, static_cast<std::uint16_t>(MessageType::stop_control_connection_request));
  as<WaitUntil>(c->step(event(Event::Kind::sent, 0)));
  auto done = as<Done>(c->step(message(0, build_stop_ccrp(stop.bytes))));
  ASSERT_EQ(done.pieces.size(), 2u);
  const auto& control = done.pieces[0];
  EXPECT_EQ(control.outcome, Outcome::reply);
  EXPECT_EQ(control.steps_answered, 3u) << "SCCRP, OCRP and StopCCRP";
  EXPECT_EQ(control.reply_fields.at("client_call_id"), std::to_string(ids.own));
  EXPECT_EQ(control.reply_fields.at("reflector_call_id"), std::to_string(ids.reflector));
  EXPECT_EQ(control.reply_fields.at("stop_answered"), "true");
  EXPECT_FALSE(control.digests) << "an ALG rewrites the OCRQ's Call ID by design";
  const auto& g = done.pieces[1];
  EXPECT_EQ(g.outcome, Outcome::reply);
  EXPECT_EQ(g.reply_fields.at("gre_key"), std::to_string(ids.reflector));
  EXPECT_EQ(g.reply_fields.at("expected_call_id"), std::to_string(ids.own));
  EXPECT_FALSE(g.digests) << "routers change the IP header: no digest comparison";
}

TEST(PptpClientConversation, WithoutRawPrivilegeTheGreFailsAndTheControlPartStillEndsCleanly) {
  auto c = start_client(setup());
  connect(*c);
  as<OpenFlow>(c->step(event(Event::Kind::sent, 0)));
  as<WaitUntil>(c->step(event(Event::Kind::opened, 1)));
  auto stop = as<Send>(c->step(failure(1, Outcome::not_permitted, "raw IP probes need CAP_NET_RAW")));
  as<WaitUntil>(c->step(event(Event::Kind::sent, 0)));
  auto done = as<Done>(c->step(message(0, build_stop_ccrp(stop.bytes))));
  EXPECT_EQ(done.pieces[0].outcome, Outcome::reply);
  EXPECT_EQ(done.pieces[0].reply_fields.at("stop_answered"), "true");
  EXPECT_EQ(done.pieces[1].outcome, Outcome::not_permitted);
  EXPECT_EQ(done.pieces[1].detail, "raw IP probes need CAP_NET_RAW");
}

TEST(PptpClientConversation, ARefusedControlConnectionLeavesGreUntested) {
  auto c = start_client(setup());
  as<OpenStream>(c->step(event(Event::Kind::started)));
  auto done = as<Done>(c->step(failure(0, Outcome::refused, "Connection refused")));
  EXPECT_EQ(done.pieces[0].outcome, Outcome::refused);
  EXPECT_EQ(done.pieces[0].detail, "Connection refused");
  EXPECT_EQ(done.pieces[1].outcome, Outcome::not_run);
  EXPECT_NE(done.pieces[1].detail.find("control connection on TCP 1723, which failed"), std::string::npos)
      << done.pieces[1].detail;
}

TEST(PptpClientConversation, AConnectTimeoutSaysTheConnectionWasNotEstablished) {
  auto c = start_client(setup(false));
  as<OpenStream>(c->step(event(Event::Kind::started)));
  auto done = as<Done>(c->step(failure(0, Outcome::timeout, "Connection timed out")));
  ASSERT_EQ(done.pieces.size(), 1u);
  EXPECT_EQ(done.pieces[0].outcome, Outcome::timeout);
  EXPECT_EQ(done.pieces[0].detail, "TCP connection not established");
}

TEST(PptpClientConversation, NoAnswerBeforeTheDeadlineIsATimeoutOfThatStep) {
  auto c = start_client(setup());
  as<OpenStream>(c->step(event(Event::Kind::started)));
  as<Send>(c->step(event(Event::Kind::opened, 0)));
  as<WaitUntil>(c->step(event(Event::Kind::sent, 0)));
  auto done = as<Done>(c->step(event(Event::Kind::timer, 0, kDeadline)));
  EXPECT_EQ(done.pieces[0].outcome, Outcome::timeout);
  EXPECT_EQ(done.pieces[0].detail, "connected, but no answer to the SCCRQ");
  EXPECT_EQ(done.pieces[1].outcome, Outcome::not_run);
}

TEST(PptpClientConversation, AnInvalidAnswerOrAResetEndsTheConversation) {
  {
    auto c = start_client(setup());
    as<OpenStream>(c->step(event(Event::Kind::started)));
    auto sccrq = as<Send>(c->step(event(Event::Kind::opened, 0)));
    as<WaitUntil>(c->step(event(Event::Kind::sent, 0)));
    auto ocrq = as<Send>(c->step(message(0, build_sccrp(sccrq.bytes))));
    as<WaitUntil>(c->step(event(Event::Kind::sent, 0)));
    Bytes wrong = build_ocrp(ocrq.bytes, 9);
    wrong[15] ^= 0xff;  // Peer's Call ID no longer ours
    auto done = as<Done>(c->step(message(0, wrong)));
    EXPECT_EQ(done.pieces[0].outcome, Outcome::invalid_reply);
    EXPECT_EQ(done.pieces[0].detail, "the answer to the OCRQ was not a valid PPTP reply");
    EXPECT_EQ(done.pieces[0].steps_answered, 1u);
  }
  {
    auto c = start_client(setup());
    as<OpenStream>(c->step(event(Event::Kind::started)));
    as<Send>(c->step(event(Event::Kind::opened, 0)));
    as<WaitUntil>(c->step(event(Event::Kind::sent, 0)));
    auto done = as<Done>(c->step(failure(0, Outcome::reset, "Connection reset by peer")));
    EXPECT_EQ(done.pieces[0].outcome, Outcome::reset);
    EXPECT_EQ(done.pieces[0].detail, "SCCRQ: Connection reset by peer");
  }
}

TEST(PptpClientConversation, AConnectionBrokenAfterTheOcrpLeavesGreUnsent) {
  auto c = start_client(setup());
  connect(*c);
  auto done = as<Done>(c->step(failure(0, Outcome::reset, "Broken pipe")));
  EXPECT_EQ(done.pieces[0].outcome, Outcome::reset);
  EXPECT_EQ(done.pieces[0].detail, "the connection broke after the OCRP");
  EXPECT_EQ(done.pieces[1].outcome, Outcome::not_run);
  EXPECT_NE(done.pieces[1].detail.find("broke before GRE could be sent"), std::string::npos);
}

TEST(PptpClientConversation, AControlConnectionClosedDuringGreIsNotStopped) {
  auto c = start_client(setup());
  connect(*c);
  auto flow = as<OpenFlow>(c->step(event(Event::Kind::sent, 0)));
  as<WaitUntil>(c->step(event(Event::Kind::opened, 1)));
  as<WaitUntil>(c->step(failure(0, Outcome::reset, "end of file")));
  auto done = as<Done>(c->step(failure(1, Outcome::timeout, "")));
  EXPECT_EQ(done.pieces[0].outcome, Outcome::reply) << "the call was up";
  EXPECT_EQ(done.pieces[0].reply_fields.at("stop_answered"), "false");
  EXPECT_EQ(done.pieces[1].outcome, Outcome::timeout);
}

TEST(PptpClientConversation, AnUnansweredStopIsReportedButTheControlPieceStillWorked) {
  auto c = start_client(setup(false));
  connect(*c);
  auto stop = as<Send>(c->step(event(Event::Kind::sent, 0)));
  EXPECT_EQ(parse(stop.bytes).message.type, static_cast<std::uint16_t>(MessageType::stop_control_connection_request));
  as<WaitUntil>(c->step(event(Event::Kind::sent, 0)));
  auto done = as<Done>(c->step(event(Event::Kind::timer, 0, kDeadline)));
  EXPECT_EQ(done.pieces[0].outcome, Outcome::reply);
  EXPECT_EQ(done.pieces[0].steps_answered, 2u);
  EXPECT_EQ(done.pieces[0].reply_fields.at("stop_answered"), "false");
}

TEST(PptpClientConversation, GreThatTheReflectorCannotReceiveIsNotOpened) {
  auto c = start_client(setup(true, "the reflector has no raw GRE listener"));
  connect(*c);
  as<Send>(c->step(event(Event::Kind::sent, 0)));  // straight to the StopCCRQ
}

TEST(PptpClientConversation, AControlPieceThatCannotRunExplainsTheGrePiece) {
  conversation::Setup s = setup();
  s.pieces[0].not_run = "TCP 1723 is not open at the reflector";
  auto c = start_client(s);
  auto done = as<Done>(c->step(event(Event::Kind::started)));
  EXPECT_EQ(done.pieces[1].outcome, Outcome::not_run);
  EXPECT_EQ(done.pieces[1].detail,
            "needs the PPTP control connection, which could not be tested: TCP 1723 is not open at the reflector");
}

}  // namespace
}  // namespace vpncheck::probes::pptp
