// run_conversation (src/run/conversation.h) with a synthetic conversation and
// injected channels: what the runner delivers to a conversation, what it
// measures for each piece, and that the one deadline holds whatever the
// conversation asks. No network.
#include "src/run/conversation.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "fake_stream.h"
#include "probes/crypto.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
namespace conv = probes::conversation;
using probes::Bytes;
using probes::ByteView;
using namespace std::chrono_literals;

// The synthetic module's conversation: each step is the script's answer to
// the event; every event is logged.
std::function<conv::Action(const conv::Event&)> g_script;
std::vector<conv::Event> g_events;

class Scripted : public conv::ClientConversation {
 public:
  conv::Action step(const conv::Event& e) override {
    g_events.push_back(e);
    return g_script(e);
  }
};
std::unique_ptr<conv::ClientConversation> start_scripted(const conv::Setup&) { return std::make_unique<Scripted>(); }

const probes::ProtocolModule kSynthetic{
    .id = "synthetic",
    .title = "Synthetic",
    .description = "",
    .variants = {},
    .build_request = nullptr,
    .parse_request = nullptr,
    .build_reply = nullptr,
    .is_reply_to = nullptr,
    .advice_use_variant = nullptr,
    .advice_signature_blocked = "",
    .client_conversation = start_scripted,
};

// Messages on the synthetic stream: one length byte, then that many bytes.
conv::Framed one_byte_length(ByteView b) {
  if (b.empty() || b.size() < std::size_t{b[0]} + 1u) return {conv::FrameStatus::need_more, 0};
  if (b[0] == 0) return {conv::FrameStatus::invalid, 0};
  return {conv::FrameStatus::complete, std::size_t{b[0]} + 1};
}

Bytes framed(std::string_view text) {
  Bytes out{static_cast<std::uint8_t>(text.size())};
  out.insert(out.end(), text.begin(), text.end());
  return out;
}

class ConversationRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    g_events.clear();
    run_.module = &kSynthetic;
    run_.pieces = {{{probes::Transport::tcp, 7000, true, "a"}, {{1, 2, 3, 4, 5, 6}, 1}, std::nullopt},
                   {{probes::Transport::ip, 99, true, "b"}, {{1, 2, 3, 4, 5, 6}, 2}, std::nullopt}};
    run_.remote = asio::ip::make_address("198.51.100.20");
    run_.deadline = Clock::now() + 2s;
    run_.retry_unit = 50ms;
    run_.connect = fixtures::fake_connector(peer_);
    run_.flow = [](Exchange) -> asio::awaitable<ClientSide> {
      ADD_FAILURE() << "no flow expected";
      co_return ClientSide{};
    };
  }

  std::vector<ClientSide> run() {
    asio::io_context ctx;
    auto result = asio::co_spawn(ctx, run_conversation(run_), asio::use_future);
    ctx.run_for(10s);  // a bound for a hanging runner, not a timing assertion
    EXPECT_EQ(result.wait_for(0s), std::future_status::ready) << "run_conversation did not finish";
    return result.get();
  }

  static std::vector<conv::Event::Kind> kinds() {
    std::vector<conv::Event::Kind> out;
    for (const auto& e : g_events) out.push_back(e.kind);
    return out;
  }

  std::shared_ptr<fixtures::FakePeer> peer_ = std::make_shared<fixtures::FakePeer>();
  ConversationRun run_;
};

using K = conv::Event::Kind;

conv::Action done(probes::Outcome a, probes::Outcome b = probes::Outcome::not_run) {
  conv::Done d;
  d.pieces.resize(2);
  d.pieces[0].outcome = a;
  d.pieces[1].outcome = b;
  return d;
}

TEST_F(ConversationRunner, AStreamStepIsSentAnsweredAndMeasured) {
  peer_->answer = [](ByteView) { return std::vector<Bytes>{framed("olleh")}; };
  g_script = [](const conv::Event& e) -> conv::Action {
    switch (e.kind) {
      case K::started: return conv::OpenStream{7000, 0, one_byte_length};
      case K::opened: return conv::Send{e.channel, framed("hello"), true};
      case K::sent: return conv::WaitUntil{5000};
      case K::message: {
        conv::Done d = std::get<conv::Done>(done(probes::Outcome::reply));
        d.pieces[0].steps_answered = 1;
        d.pieces[0].reply_fields["said"] = std::string(e.message.begin() + 1, e.message.end());
        return d;
      }
      default: return done(probes::Outcome::local_error);
    }
  };
  auto sides = run();
  EXPECT_EQ(kinds(), (std::vector<K>{K::started, K::opened, K::sent, K::message}));
  EXPECT_EQ(g_events[1].local, (probes::IpPort{{192, 0, 2, 10}, 40001}));
  ASSERT_EQ(sides.size(), 2u);
  const auto& a = sides[0];
  EXPECT_EQ(a.outcome, probes::Outcome::reply);
  EXPECT_EQ(a.reply_fields.at("said"), "olleh");
  EXPECT_EQ(a.steps_answered, 1u);
  EXPECT_EQ(a.sends, 1u);
  EXPECT_EQ(a.sent_length, 6u);
  EXPECT_EQ(a.sent_sha256, probes::to_hex(probes::sha256(framed("hello"))));
  ASSERT_TRUE(a.local.has_value());
  EXPECT_EQ(a.local->address, "192.0.2.10");
  ASSERT_EQ(a.attempts.size(), 2u) << "the connection, then the step";
  EXPECT_TRUE(a.attempts[1].answered_ms.has_value());
  EXPECT_TRUE(a.rtt_ms.has_value());
  EXPECT_EQ(peer_->written, (std::vector<Bytes>{framed("hello")}));
  EXPECT_TRUE(peer_->closed) << "the stream is closed at the end";
  EXPECT_EQ(sides[1].outcome, probes::Outcome::not_run);
}

TEST_F(ConversationRunner, TheFramingCutsTheStreamIntoMessages) {
  // Two messages in one chunk, then one split across two chunks.
  peer_->answer = [](ByteView) {
    Bytes two = framed("one");
    Bytes second = framed("two");
    two.insert(two.end(), second.begin(), second.end());
    Bytes third = framed("three");
    return std::vector<Bytes>{two, Bytes(third.begin(), third.begin() + 2), Bytes(third.begin() + 2, third.end())};
  };
  int messages = 0;
  g_script = [&messages](const conv::Event& e) -> conv::Action {
    if (e.kind == K::started) return conv::OpenStream{7000, 0, one_byte_length};
    if (e.kind == K::opened) return conv::Send{e.channel, framed("go"), false};
    if (e.kind == K::message && ++messages == 3) return done(probes::Outcome::reply);
    return conv::WaitUntil{5000};
  };
  run();
  std::vector<std::string> got;
  for (const auto& e : g_events)
    if (e.kind == K::message) got.emplace_back(e.message.begin() + 1, e.message.end());
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two", "three"}));
}

TEST_F(ConversationRunner, BytesTheFramingRejectsArriveAsOneMessage) {
  peer_->answer = [](ByteView) { return std::vector<Bytes>{Bytes{0, 7, 7}}; };
  g_script = [](const conv::Event& e) -> conv::Action {
    if (e.kind == K::started) return conv::OpenStream{7000, 0, one_byte_length};
    if (e.kind == K::opened) return conv::Send{e.channel, framed("go"), true};
    if (e.kind == K::message) return done(probes::Outcome::invalid_reply);
    return conv::WaitUntil{5000};
  };
  auto sides = run();
  ASSERT_EQ(g_events.back().kind, K::message);
  EXPECT_EQ(g_events.back().message, (Bytes{0, 7, 7}));
  EXPECT_EQ(sides[0].outcome, probes::Outcome::invalid_reply);
}

TEST_F(ConversationRunner, TheDeadlineHoldsWhateverTheConversationAsks) {
  run_.deadline = Clock::now() + 200ms;
  g_script = [](const conv::Event& e) -> conv::Action {
    if (e.kind == K::started) return conv::OpenStream{7000, 0, one_byte_length};
    if (e.kind == K::opened) return conv::Send{e.channel, framed("anyone?"), true};
    if (e.kind == K::timer) return done(probes::Outcome::timeout);
    return conv::WaitUntil{3'600'000};  // an hour
  };
  const auto start = Clock::now();
  auto sides = run();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(g_events.back().kind, K::timer);
  EXPECT_GE(g_events.back().now_ms, 150);
  EXPECT_EQ(sides[0].outcome, probes::Outcome::timeout);
  // The unanswered step's tries include the kernel's retransmissions.
  EXPECT_EQ(peer_->retransmissions_asked, 1u);
  ASSERT_EQ(sides[0].attempts.size(), 2u);
  EXPECT_FALSE(sides[0].attempts[1].answered_ms.has_value());
  EXPECT_EQ(sides[0].attempts[1].sent_ms.size(), 2u);
}

TEST_F(ConversationRunner, AFailedConnectAndAPeerHangingUpAreFailedEvents) {
  {
    run_.connect = fixtures::fake_connector(peer_, asio::error::connection_refused);
    g_script = [](const conv::Event& e) -> conv::Action {
      if (e.kind == K::started) return conv::OpenStream{7000, 0, one_byte_length};
      return done(e.kind == K::failed ? e.outcome : probes::Outcome::local_error);
    };
    auto sides = run();
    EXPECT_EQ(g_events.back().kind, K::failed);
    EXPECT_EQ(sides[0].outcome, probes::Outcome::refused);
    ASSERT_EQ(sides[0].attempts.size(), 1u) << "the connection attempts are still reported";
  }
  g_events.clear();
  {
    run_.connect = fixtures::fake_connector(peer_);
    peer_->hang_up_after_answer = true;
    g_script = [](const conv::Event& e) -> conv::Action {
      if (e.kind == K::started) return conv::OpenStream{7000, 0, one_byte_length};
      if (e.kind == K::opened) return conv::Send{e.channel, framed("bye"), true};
      if (e.kind == K::failed) return done(e.outcome);
      return conv::WaitUntil{5000};
    };
    auto sides = run();
    EXPECT_EQ(sides[0].outcome, probes::Outcome::reset) << "eof: the peer closed";
  }
}

TEST_F(ConversationRunner, AFlowRunsAsADatagramExchangeWhileTheStreamStaysOpen) {
  peer_->answer = [](ByteView) { return std::vector<Bytes>{}; };
  auto seen = std::make_shared<std::optional<Exchange>>();
  run_.flow = [seen](Exchange ex) -> asio::awaitable<ClientSide> {
    ex.on_local_address(probes::IpPort{{10, 0, 0, 1}, 0}, ex);
    *seen = ex;
    ClientSide side;
    side.local = probes::Endpoint{"10.0.0.1", 0};
    side.sent_sha256 = "abc";
    side.sends = 3;
    side.attempts = {StepAttempts{{0, 50, 100}, 120}};
    const Bytes reply{'p', 'o', 'n', 'g'};
    side.outcome = ex.is_reply(reply) ? probes::Outcome::reply : probes::Outcome::invalid_reply;
    if (side.outcome == probes::Outcome::reply) ex.inspect_reply(reply);
    co_return side;
  };
  g_script = [](const conv::Event& e) -> conv::Action {
    if (e.kind == K::started) return conv::OpenStream{7000, 0, one_byte_length};
    if (e.kind == K::opened && e.channel == 0) {
      conv::OpenFlow flow;
      flow.transport = probes::Transport::ip;
      flow.port = 99;
      flow.piece = 1;
      flow.deadline_ms = 1000;
      flow.request = [](const probes::IpPort& local) {
        Bytes out = local.address;
        out.push_back('?');
        return out;
      };
      flow.answers = [](ByteView reply, ByteView request) { return request.size() == 5 && reply.size() == 4; };
      return flow;
    }
    if (e.kind == K::message && e.channel == 1) {
      conv::Done d = std::get<conv::Done>(done(probes::Outcome::reply, probes::Outcome::reply));
      d.pieces[1].steps_answered = 1;
      d.pieces[1].digests = false;
      return d;
    }
    return conv::WaitUntil{5000};
  };
  auto sides = run();
  ASSERT_TRUE(seen->has_value());
  const Exchange& ex = **seen;
  EXPECT_EQ(ex.transport, probes::Transport::ip);
  EXPECT_EQ(ex.port, 99);
  EXPECT_EQ(ex.wire, (Bytes{10, 0, 0, 1, '?'})) << "built for the flow's own address";
  EXPECT_LE(ex.deadline, run_.deadline);
  EXPECT_EQ(ex.retry_unit, 50ms) << "retransmitted on the run's schedule";
  EXPECT_EQ(g_events.back().kind, K::message);
  EXPECT_EQ(g_events.back().message, (Bytes{'p', 'o', 'n', 'g'}));
  const auto& b = sides[1];
  EXPECT_EQ(b.outcome, probes::Outcome::reply);
  EXPECT_EQ(b.sends, 3u);
  EXPECT_EQ(b.attempts.size(), 1u);
  ASSERT_TRUE(b.local.has_value());
  EXPECT_EQ(b.local->address, "10.0.0.1");
  EXPECT_TRUE(b.sent_sha256.empty()) << "the conversation asked for no digests";
  EXPECT_TRUE(peer_->closed);
}

TEST_F(ConversationRunner, AFailedFlowIsAFailedEventWithItsOutcome) {
  run_.flow = [](Exchange) -> asio::awaitable<ClientSide> {
    ClientSide side;
    side.outcome = probes::Outcome::not_permitted;
    side.detail = std::string(kRawPrivilegeHint);
    co_return side;
  };
  g_script = [](const conv::Event& e) -> conv::Action {
    if (e.kind == K::started) {
      conv::OpenFlow flow;
      flow.piece = 1;
      flow.deadline_ms = 1000;
      flow.request = [](const probes::IpPort&) { return Bytes{1}; };
      flow.answers = [](ByteView, ByteView) { return true; };
      return flow;
    }
    if (e.kind == K::failed) {
      conv::Done d = std::get<conv::Done>(done(probes::Outcome::not_run, e.outcome));
      d.pieces[1].detail = e.detail;
      return d;
    }
    return conv::WaitUntil{5000};
  };
  auto sides = run();
  EXPECT_EQ(sides[1].outcome, probes::Outcome::not_permitted);
  EXPECT_EQ(sides[1].detail, kRawPrivilegeHint);
}

TEST_F(ConversationRunner, APieceThePlanCouldNotRunKeepsItsReason) {
  run_.pieces[1].not_run = "the reflector has no raw listener";
  g_script = [](const conv::Event&) -> conv::Action { return done(probes::Outcome::reply, probes::Outcome::reply); };
  auto sides = run();
  EXPECT_EQ(sides[0].outcome, probes::Outcome::reply);
  EXPECT_EQ(sides[1].outcome, probes::Outcome::not_run);
  EXPECT_EQ(sides[1].detail, "the reflector has no raw listener");
}

TEST_F(ConversationRunner, SendingOnAChannelThatIsNotAStreamFails) {
  g_script = [](const conv::Event& e) -> conv::Action {
    if (e.kind == K::started) return conv::Send{4, Bytes{1}, false};
    return done(e.kind == K::failed ? e.outcome : probes::Outcome::reply);
  };
  auto sides = run();
  EXPECT_EQ(g_events.back().kind, K::failed);
  EXPECT_EQ(sides[0].outcome, probes::Outcome::local_error);
}

}  // namespace
}  // namespace vpncheck::client
