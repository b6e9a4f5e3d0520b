// The wire layer on loopback: multi-message exchanges, the local-address hook
// and raw IP without privilege. A tiny UDP responder stands in for the reflector.
#include "src/run/exchange.h"
#include "src/run/retry.h"

#include "probes/ip.h"
#include "probes/wireguard.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <set>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

// Answers every datagram with 'A' + the datagram; remembers what arrived.
struct Responder {
  udp::socket socket;
  std::vector<probes::Bytes> received;
  std::size_t answer_first = 1000;  // answer only the first N datagrams
  std::set<std::size_t> lose;        // datagrams (1-based) lost on the way: recorded, never answered
  bool answer_twice = false;         // each answer sent twice, as for a retransmission that crossed it
  // WireGuard data packets are echoed as they came (the reflector's data
  // echo), unless larger than this (a path that loses them, both ways).
  std::size_t data_size_limit = 65535;
  std::set<std::uint16_t> sources;   // the source ports datagrams came from

  explicit Responder(asio::io_context& io) : socket(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    receive();
  }
  std::uint16_t port() const { return socket.local_endpoint().port(); }

  void receive() {
    auto buffer = std::make_shared<std::array<std::uint8_t, 4096>>();
    auto from = std::make_shared<udp::endpoint>();
    socket.async_receive_from(asio::buffer(*buffer), *from, [this, buffer, from](auto ec, std::size_t n) {
      if (ec) return;
      received.emplace_back(buffer->begin(), buffer->begin() + static_cast<std::ptrdiff_t>(n));
      sources.insert(from->port());
      if (probes::wireguard::parse_data(received.back())) {
        if (n <= data_size_limit) socket.send_to(asio::buffer(received.back()), *from);
      } else if (received.size() <= answer_first && !lose.count(received.size())) {
        probes::Bytes reply{'A'};
        reply.insert(reply.end(), buffer->begin(), buffer->begin() + static_cast<std::ptrdiff_t>(n));
        socket.send_to(asio::buffer(reply), *from);
        if (answer_twice) socket.send_to(asio::buffer(reply), *from);
      }
      receive();
    });
  }
};

std::function<bool(probes::ByteView)> answers(probes::Bytes request) {
  return [request](probes::ByteView reply) {
    return reply.size() == request.size() + 1 && reply[0] == 'A' &&
           std::equal(request.begin(), request.end(), reply.begin() + 1);
  };
}

Exchange udp_exchange_to(std::uint16_t port, probes::Bytes wire) {
  Exchange ex;
  ex.transport = probes::Transport::udp;
  ex.remote = asio::ip::make_address("127.0.0.1");
  ex.port = port;
  ex.is_reply = answers(wire);
  ex.wire = std::move(wire);
  ex.deadline = Clock::now() + std::chrono::milliseconds(1500);
  return ex;
}

// Runs the exchange to completion; the responder's pending receive would keep
// the context busy forever, so the context stops when the exchange ends.
ClientSide run(asio::io_context& io, Exchange ex) {
  ClientSide out;
  asio::co_spawn(io, run_exchange(std::move(ex)), [&](std::exception_ptr error, ClientSide side) {
    if (error) ADD_FAILURE() << "the exchange threw";
    out = std::move(side);
    io.stop();
  });
  io.run_for(std::chrono::seconds(5));
  return out;
}

TEST(Exchange, MultiMessageExchangeRunsEveryStepOnOneSocket) {
  asio::io_context io;
  Responder responder(io);
  Exchange ex = udp_exchange_to(responder.port(), {1, 1});
  ex.next_step = [](std::size_t step, probes::ByteView reply) -> std::optional<ExchangeStep> {
    if (step >= 2) return std::nullopt;
    // The next message depends on the answer, as L2TP's SCCCN depends on the SCCRP.
    probes::Bytes next{static_cast<std::uint8_t>(step + 2), reply[1]};
    return ExchangeStep{next, answers(next)};
  };
  ex.inspect_reply = [](probes::ByteView reply) { return probes::Fields{{"last", std::to_string(reply[1])}}; };
  ClientSide side = run(io, std::move(ex));
  EXPECT_EQ(side.outcome, Outcome::reply);
  EXPECT_EQ(side.steps_answered, 3U);
  EXPECT_EQ(side.reply_fields, (probes::Fields{{"last", "3"}}));
  ASSERT_EQ(responder.received.size(), 3U);
  EXPECT_EQ(responder.received[1], (probes::Bytes{2, 1}));
  EXPECT_EQ(responder.received[2], (probes::Bytes{3, 2}));
}

TEST(Exchange, AMessageIsRetriedOnTheScheduleUntilItIsAnswered) {
  asio::io_context io;
  Responder responder(io);
  responder.lose = {1, 2, 3};
  ClientSide side = run(io, udp_exchange_to(responder.port(), {7}));
  EXPECT_EQ(side.outcome, Outcome::reply);
  EXPECT_EQ(side.sends, 4U);
  EXPECT_EQ(responder.received.size(), 4U);
  ASSERT_EQ(side.attempts.size(), 1U);
  const auto& tries = side.attempts[0].sent_ms;
  ASSERT_EQ(tries.size(), 4U);
  // Sent at 0, 250, 500 and 1000 ms (timers fire late, never early).
  for (std::size_t i = 0; i < tries.size(); ++i) {
    EXPECT_GE(tries[i], static_cast<double>(retry_offset(i).count()) - 1) << i;
    EXPECT_LT(tries[i], static_cast<double>(retry_offset(i).count()) + 150) << i;
  }
  ASSERT_TRUE(side.attempts[0].answered_ms.has_value());
  EXPECT_GE(*side.attempts[0].answered_ms, tries.back());
}

TEST(Exchange, EachMessageOfAnExchangeIsRetriedOnItsOwn) {
  asio::io_context io;
  Responder responder(io);
  responder.lose = {2, 3};  // the second message's first two tries
  Exchange ex = udp_exchange_to(responder.port(), {1});
  ex.next_step = [](std::size_t step, probes::ByteView) -> std::optional<ExchangeStep> {
    if (step >= 1) return std::nullopt;
    probes::Bytes next{2};
    return ExchangeStep{next, answers(next)};
  };
  ClientSide side = run(io, std::move(ex));
  EXPECT_EQ(side.outcome, Outcome::reply);
  EXPECT_EQ(side.steps_answered, 2U);
  ASSERT_EQ(side.attempts.size(), 2U);
  EXPECT_EQ(side.attempts[0].sent_ms.size(), 1U);
  EXPECT_EQ(side.attempts[1].sent_ms.size(), 3U);
  // The second message's schedule starts when it is first sent, not with the exchange.
  EXPECT_LT(side.attempts[1].sent_ms[1] - side.attempts[1].sent_ms[0], 400);
}

TEST(Exchange, ALateCopyOfAnEarlierAnswerIsNotAnInvalidAnswer) {
  asio::io_context io;
  Responder responder(io);
  responder.answer_first = 1;
  responder.answer_twice = true;
  Exchange ex = udp_exchange_to(responder.port(), {1});
  ex.deadline = Clock::now() + std::chrono::milliseconds(400);
  ex.next_step = [](std::size_t, probes::ByteView) -> std::optional<ExchangeStep> {
    probes::Bytes next{9};
    return ExchangeStep{next, answers(next)};
  };
  ClientSide side = run(io, std::move(ex));
  EXPECT_EQ(side.outcome, Outcome::timeout) << to_string(side.outcome);
  EXPECT_EQ(side.steps_answered, 1U);
}

TEST(Exchange, AStepWithoutAnswerTimesOutAndSaysHowFarItGot) {
  asio::io_context io;
  Responder responder(io);
  responder.answer_first = 1;
  Exchange ex = udp_exchange_to(responder.port(), {1});
  ex.deadline = Clock::now() + std::chrono::milliseconds(400);
  ex.next_step = [](std::size_t, probes::ByteView) -> std::optional<ExchangeStep> {
    probes::Bytes next{9};
    return ExchangeStep{next, answers(next)};
  };
  ClientSide side = run(io, std::move(ex));
  EXPECT_EQ(side.outcome, Outcome::timeout);
  EXPECT_EQ(side.steps_answered, 1U);
  EXPECT_TRUE(side.reply_fields.empty());
}

TEST(Exchange, LocalAddressHookRebuildsTheProbeBeforeItIsSent) {
  asio::io_context io;
  Responder responder(io);
  Exchange ex = udp_exchange_to(responder.port(), {0});
  std::uint16_t seen_port = 0;
  ex.on_local_address = [&seen_port](const probes::IpPort& local, Exchange& e) {
    seen_port = local.port;
    e.wire = {static_cast<std::uint8_t>(local.port >> 8), static_cast<std::uint8_t>(local.port & 0xff)};
    e.wire.insert(e.wire.end(), local.address.begin(), local.address.end());
    e.is_reply = answers(e.wire);
  };
  ClientSide side = run(io, std::move(ex));
  EXPECT_EQ(side.outcome, Outcome::reply);
  ASSERT_TRUE(side.local);
  EXPECT_EQ(seen_port, side.local->port);
  ASSERT_EQ(responder.received.size(), 1U);
  EXPECT_EQ(responder.received[0], (probes::Bytes{static_cast<std::uint8_t>(seen_port >> 8),
                                                  static_cast<std::uint8_t>(seen_port & 0xff), 127, 0, 0, 1}));
  EXPECT_EQ(side.sent_length, 6U);  // what was really sent, not the placeholder
}

Exchange raw_exchange_to_loopback() {
  Exchange ex;
  ex.transport = probes::Transport::ip;
  ex.remote = asio::ip::make_address("127.0.0.1");
  ex.port = 50;
  ex.wire = probes::Bytes(28, 0);
  ex.is_reply = [](probes::ByteView) { return false; };
  ex.deadline = Clock::now() + std::chrono::milliseconds(100);
  return ex;
}

TEST(Exchange, RawProbeWithoutCapNetRawIsNotPermittedAndSaysHowToGrantIt) {
  // As root, drop the effective capabilities for the duration (a non-zero
  // effective uid clears them); otherwise we already lack CAP_NET_RAW.
  const bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::seteuid(65534), 0);
  }
  asio::io_context io;
  ClientSide side = run(io, raw_exchange_to_loopback());
  if (root) {
    ASSERT_EQ(::seteuid(0), 0);
  }
  EXPECT_EQ(side.outcome, Outcome::not_permitted);
  EXPECT_NE(side.detail.find("CAP_NET_RAW"), std::string::npos) << side.detail;
  EXPECT_NE(side.detail.find("setcap"), std::string::npos) << side.detail;
}

TEST(Exchange, RawProbeOverIpv6WithoutCapNetRawIsNotPermitted) {
  const bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::seteuid(65534), 0);
  }
  asio::io_context io;
  Exchange ex = raw_exchange_to_loopback();
  ex.remote = asio::ip::make_address("::1");
  ex.wire = probes::ip6::datagram({}, {}, 50, 64, 0, probes::Bytes(28, 0));
  ClientSide side = run(io, std::move(ex));
  if (root) {
    ASSERT_EQ(::seteuid(0), 0);
  }
  EXPECT_EQ(side.outcome, Outcome::not_permitted) << "never 'blocked' or 'not run'";
  EXPECT_NE(side.detail.find("CAP_NET_RAW"), std::string::npos) << side.detail;
}

// Over IPv6 the kernel writes the header: the client sends what follows the
// module's IPv6 header from the address the module was told (on_local_address),
// and hands is_reply the answer with its header rebuilt. A raw IPv6 responder
// on ::1 (IP protocol 253, reserved for experiments by RFC 3692) checks the
// first half, the reply check the second.
TEST(Exchange, RawProbeOverIpv6SendsThePayloadAndRebuildsTheAnswersHeader) {
  if (::geteuid() != 0) GTEST_SKIP() << "raw IPv6 sockets need CAP_NET_RAW (run as root)";
  constexpr std::uint8_t kProto = 253;
  int responder = ::socket(AF_INET6, SOCK_RAW, kProto);
  ASSERT_GE(responder, 0) << std::strerror(errno);
  const probes::Bytes request_payload{'p', 'r', 'o', 'b', 'e', 0, 1, 2};
  const probes::Bytes answer_payload{'a', 'n', 's', 'w', 'e', 'r'};
  probes::Bytes responder_got;
  std::thread peer([&] {
    std::array<std::uint8_t, 512> buf{};
    pollfd p{responder, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) return;
    sockaddr_in6 from{};
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(responder, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return;
    responder_got.assign(buf.begin(), buf.begin() + n);
    ::sendto(responder, answer_payload.data(), answer_payload.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
  });
  probes::ip6::Address loopback{};
  loopback[15] = 1;
  std::optional<probes::IpPort> told;
  Exchange ex = raw_exchange_to_loopback();
  ex.remote = asio::ip::make_address("::1");
  ex.port = kProto;
  ex.deadline = Clock::now() + std::chrono::seconds(2);
  ex.wire = probes::ip6::datagram({}, loopback, kProto, 64, 0, request_payload);  // source not yet known
  ex.on_local_address = [&](const probes::IpPort& local, Exchange& e) {
    told = local;
    e.wire = probes::ip6::datagram(*probes::ip6::address_from(local.address), loopback, kProto, 64, 0,
                                   request_payload);
    e.is_reply = [&](probes::ByteView reply) {
      auto ip = probes::ip6::parse(reply);
      return ip && ip->src == loopback && ip->dst == loopback && ip->next_header == kProto &&
             probes::Bytes(ip->payload.begin(), ip->payload.end()) == answer_payload;
    };
  };
  asio::io_context io;
  ClientSide side = run(io, std::move(ex));
  peer.join();
  ::close(responder);
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(told->address, probes::Bytes(loopback.begin(), loopback.end()));
  EXPECT_EQ(responder_got, request_payload) << "only the payload goes on the socket; the kernel adds the header";
  EXPECT_EQ(side.outcome, Outcome::reply) << side.detail;
  EXPECT_EQ(side.sent_length, request_payload.size()) << "digest and length cover what follows the IPv6 header";
}

}  // namespace
}  // namespace vpncheck::client

namespace vpncheck::client {
namespace {

// The data phase (run_data_phase) after an answered UDP exchange.
Exchange with_data_phase(std::uint16_t port, std::chrono::milliseconds deadline) {
  Exchange ex = udp_exchange_to(port, {9, 9});
  ex.deadline = Clock::now() + deadline;
  ex.data = Exchange::DataPhaseRun{probes::wireguard::kModule.data_phase, probes::ProbeToken{{1, 2, 3, 4, 5, 6}, 3},
                                   [](std::span<std::uint8_t> out) { std::fill(out.begin(), out.end(), 0x5a); },
                                   0, std::nullopt};
  return ex;
}

std::size_t count(const probes::DataPhaseResult& d, std::size_t size, bool echoed) {
  return static_cast<std::size_t>(std::count_if(d.sent.begin(), d.sent.end(), [&](const probes::DataSent& s) {
    return s.size == size && s.echoed == echoed;
  }));
}

TEST(ExchangeDataPhase, RunsOnTheHandshakesSocketAndEndsOnceBothSizesAreEchoed) {
  asio::io_context io;
  Responder responder(io);
  const auto start = Clock::now();
  ClientSide side = run(io, with_data_phase(responder.port(), std::chrono::milliseconds(1500)));
  const auto took = Clock::now() - start;
  EXPECT_EQ(side.outcome, Outcome::reply);
  ASSERT_TRUE(side.data);
  const auto& d = *side.data;
  EXPECT_EQ(d.small_size, probes::wireguard::kDataSmallSize);
  EXPECT_EQ(d.full_size, probes::wireguard::kDataFullSize);
  // The first burst: two small, two full; an echo of each size ends it (the
  // second one's echo may come after), nothing more was needed.
  ASSERT_EQ(d.sent.size(), 4U);
  EXPECT_GE(count(d, d.small_size, true), 1U);
  EXPECT_GE(count(d, d.full_size, true), 1U);
  for (std::size_t i = 0; i < d.sent.size(); ++i) EXPECT_EQ(d.sent[i].sequence, i);
  // The same 5-tuple as the handshake.
  EXPECT_EQ(responder.sources.size(), 1U);
  EXPECT_EQ(responder.received.size(), 5U);
  EXPECT_LT(took, std::chrono::milliseconds(500)) << "a clean data phase ends with its echoes, not at the deadline";
}

TEST(ExchangeDataPhase, FullSizeLostKeepsSendingBothSizesUntilTheDeadline) {
  asio::io_context io;
  Responder responder(io);
  responder.data_size_limit = 1000;
  ClientSide side = run(io, with_data_phase(responder.port(), std::chrono::milliseconds(1100)));
  ASSERT_TRUE(side.data);
  const auto& d = *side.data;
  EXPECT_EQ(count(d, d.full_size, true), 0U);
  EXPECT_GE(count(d, d.full_size, false), 6U);  // the burst, then two a try (250, 500, 1000 ms)
  // Small ones went out after the first full-size one, and came back.
  const auto first_full = std::find_if(d.sent.begin(), d.sent.end(), [&](const auto& s) { return s.size == d.full_size; });
  EXPECT_TRUE(std::any_of(first_full, d.sent.end(), [&](const auto& s) { return s.size == d.small_size && s.echoed; }));
  EXPECT_LE(d.sent.size(), kDataMaxPackets);
}

TEST(ExchangeDataPhase, NoneWithoutAnAnswerOrWithoutADataPhase) {
  {
    asio::io_context io;
    Responder responder(io);
    responder.answer_first = 0;
    ClientSide side = run(io, with_data_phase(responder.port(), std::chrono::milliseconds(300)));
    EXPECT_EQ(side.outcome, Outcome::timeout);
    EXPECT_FALSE(side.data);
  }
  asio::io_context io;
  Responder responder(io);
  ClientSide side = run(io, udp_exchange_to(responder.port(), {9}));
  EXPECT_EQ(side.outcome, Outcome::reply);
  EXPECT_FALSE(side.data);
  EXPECT_EQ(responder.received.size(), 1U);
}

}  // namespace
}  // namespace vpncheck::client
