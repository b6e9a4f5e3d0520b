// The L2TP exchange end to end on loopback: the real client exchange
// (make_exchange + run_exchange, next_request steps on one UDP socket) against
// the real reflector in-process (stateless answers, follow-ups attributed
// through its flow memory), then the verdict from what both ends saw. A small
// UDP relay in between can lose the follow-up messages.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "client_fixtures.h"
#include "in_process_reflector.h"
#include "probes/crypto.h"
#include "reflector/log.h"
#include "reflector/server.h"
#include "src/run/runner.h"
#include "tests/reflector/test_util.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;
using fixtures::contains;
using namespace std::chrono_literals;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
const auto kLoopback = asio::ip::make_address("127.0.0.1");

// Forwards client datagrams to `target` only while `pass` says so (replies
// always go back): a middlebox that lets the first message of a flow through.
struct LossyRelay {
  udp::socket front;
  udp::socket back;
  std::function<bool(probes::ByteView)> pass;
  udp::endpoint client;
  std::size_t forwarded = 0;
  std::size_t dropped = 0;

  LossyRelay(asio::io_context& io, std::uint16_t target, std::function<bool(probes::ByteView)> p)
      : front(io, udp::endpoint(kLoopback, 0)), back(io, udp::endpoint(kLoopback, 0)), pass(std::move(p)) {
    back.connect(udp::endpoint(kLoopback, target));
  }
  std::uint16_t port() const { return front.local_endpoint().port(); }

  asio::awaitable<void> outward() {
    std::array<std::uint8_t, 4096> buf{};
    for (;;) {
      auto [ec, n] = co_await front.async_receive_from(asio::buffer(buf), client, kAwait);
      if (ec) co_return;
      probes::ByteView message(buf.data(), n);
      if (!pass(message)) {
        ++dropped;
        continue;
      }
      ++forwarded;
      co_await back.async_send(asio::buffer(message), kAwait);
    }
  }
  asio::awaitable<void> inward() {
    std::array<std::uint8_t, 4096> buf{};
    for (;;) {
      auto [ec, n] = co_await back.async_receive(asio::buffer(buf), kAwait);
      if (ec) co_return;
      co_await front.async_send_to(asio::buffer(buf.data(), n), client, kAwait);
    }
  }
};

class L2tpLoopback : public fixtures::InProcessReflector {
 protected:
  // The genuine L2TP probe, sent to `port` (the reflector's, or a relay's).
  ProbeResult run_probe(std::uint16_t port, LossyRelay* relay = nullptr) {
    PlannedProbe probe;
    probe.index = 5;
    probe.module = &fixtures::l2tp();
    probe.variant = probes::ProbeVariant{probes::Transport::udp, port, true};
    RunSettings settings;
    settings.reflector = kLoopback;
    settings.tag = *probes::tag_from_hex(session_.tag_hex);
    settings.random = reflector::test::counter_fill();
    Exchange exchange = make_exchange(probe, settings);
    exchange.deadline = Clock::now() + 800ms;
    if (relay) {
      asio::co_spawn(client_io_, relay->outward(), asio::detached);
      asio::co_spawn(client_io_, relay->inward(), asio::detached);
    }
    ProbeResult result{probe, run_to_end(std::move(exchange), 3000ms), {}, {}};
    // What the reflector saw for this probe.
    result.arrivals = observations_of(probe.index);
    // Judged as the standard UDP 1701 probe it stands for.
    result.probe.variant = fixtures::l2tp().variants[0];
    return result;
  }
};

TEST_F(L2tpLoopback, WholeExchangeBothWaysPasses) {
  auto r = run_probe(server_->ports().udp.at(0));
  EXPECT_EQ(r.client.outcome, Outcome::reply) << r.client.detail;
  EXPECT_EQ(r.client.steps_answered, 4U) << "SCCRQ->SCCRP, SCCCN->ZLB, ICRQ->ICRP, ICCN->ZLB";
  ASSERT_EQ(r.client.later_sent_sha256.size(), 3U);
  // The reflector attributed all four messages to this probe, the follow-ups through the flow.
  ASSERT_EQ(r.arrivals.size(), 4U);
  std::vector<std::string> types;
  for (const auto& a : r.arrivals) {
    EXPECT_EQ(a.protocol, "l2tp");
    EXPECT_TRUE(a.reply.sent) << a.reply.reason;
    types.push_back(a.fields.at("message_type"));
  }
  EXPECT_EQ(types, (std::vector<std::string>{"SCCRQ", "SCCCN", "ICRQ", "ICCN"}));
  EXPECT_EQ(r.arrivals[0].payload_sha256, r.client.sent_sha256);
  EXPECT_EQ(r.arrivals[1].payload_sha256, r.client.later_sent_sha256[0]);
  EXPECT_EQ(r.arrivals[2].payload_sha256, r.client.later_sent_sha256[1]);
  EXPECT_EQ(r.arrivals[3].payload_sha256, r.client.later_sent_sha256[2]);
  probes::ProbeToken token{*probes::tag_from_hex(session_.tag_hex), 5};
  EXPECT_EQ(r.arrivals[0].fields.at("assigned_tunnel_id"), std::to_string(probes::l2tp::client_tunnel_id(token)));
  EXPECT_EQ(r.arrivals[0].fields.at("host_name"), probes::l2tp::tagged_host_name(token));

  auto a = assess(fixtures::l2tp(), {r}, true);
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  EXPECT_TRUE(a.findings.empty()) << fixtures::joined(a.findings);
}

TEST_F(L2tpLoopback, FollowUpLostAfterTheSccrpIsReportedAsStoppedMidway) {
  // Only the first message (the SCCRQ, and its retransmissions) gets through.
  std::optional<probes::Bytes> first;
  LossyRelay relay(client_io_, server_->ports().udp.at(0), [&first](probes::ByteView m) {
    if (!first) first = probes::Bytes(m.begin(), m.end());
    return std::equal(m.begin(), m.end(), first->begin(), first->end());
  });
  auto r = run_probe(relay.port(), &relay);
  EXPECT_EQ(r.client.outcome, Outcome::timeout);
  EXPECT_EQ(r.client.steps_answered, 1U);
  EXPECT_EQ(r.client.detail, "no answer to message 2 of the exchange");
  ASSERT_EQ(r.client.attempts.size(), 2U);
  EXPECT_EQ(relay.dropped, r.client.attempts[1].sent_ms.size()) << "the SCCCN and each of its retransmissions";
  EXPECT_GE(relay.dropped, 3U) << "retried at 0.25 and 0.5 s within the 0.8 s deadline";
  ASSERT_FALSE(r.arrivals.empty());
  for (const auto& a : r.arrivals) EXPECT_EQ(a.fields.at("message_type"), "SCCRQ");

  auto a = assess(fixtures::l2tp(), {r}, true);
  EXPECT_EQ(a.verdict, Verdict::outbound_only) << a.summary;
  EXPECT_TRUE(contains(a.summary, "stopped after 1 step was answered")) << a.summary;
  EXPECT_TRUE(contains(a.summary, "never reached the server")) << a.summary;
  EXPECT_TRUE(fixtures::has_finding(a, finding::kExchangeIncomplete));
}

}  // namespace
}  // namespace vpncheck::client
