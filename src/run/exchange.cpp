#include "src/run/exchange.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "probes/crypto.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxReply = 2048;

Outcome outcome_of(const boost::system::error_code& ec) {
  namespace err = asio::error;
  if (ec == err::connection_refused) return Outcome::refused;
  if (ec == err::connection_reset || ec == err::eof || ec == err::broken_pipe) return Outcome::reset;
  if (ec == err::host_unreachable || ec == err::network_unreachable) return Outcome::unreachable;
  if (ec == err::timed_out || ec == err::operation_aborted) return Outcome::timeout;
  return Outcome::local_error;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

template <typename Socket>
void record_local(const Socket& socket, ClientSide& side) {
  boost::system::error_code ec;
  auto local = socket.local_endpoint(ec);
  if (!ec) side.local = probes::Endpoint{local.address().to_string(), local.port()};
}

void record_sent(const probes::Bytes& wire, ClientSide& side) {
  side.sent_sha256 = probes::to_hex(probes::sha256(wire));
  side.sent_length = wire.size();
}

asio::awaitable<ClientSide> udp_exchange(Exchange ex) {
  ClientSide side;
  record_sent(ex.wire, side);
  auto executor = co_await asio::this_coro::executor;
  asio::ip::udp::socket socket(executor);
  asio::ip::udp::endpoint remote(ex.remote, ex.port);
  boost::system::error_code ec;
  // connect(): replies from anyone else are filtered by the kernel, and ICMP
  // errors surface as receive errors instead of being lost.
  socket.open(remote.protocol(), ec);
  if (!ec) socket.connect(remote, ec);
  if (ec) {
    side.outcome = Outcome::local_error;
    side.detail = ec.message();
    co_return side;
  }
  record_local(socket, side);

  auto t0 = Clock::now();
  auto send = [&]() -> asio::awaitable<boost::system::error_code> {
    auto [send_ec, n] = co_await socket.async_send(asio::buffer(ex.wire), use_tuple);
    ++side.sends;
    co_return send_ec;
  };
  if (auto send_ec = co_await send()) {
    side.outcome = outcome_of(send_ec);
    side.detail = send_ec.message();
    co_return side;
  }

  asio::steady_timer timer(executor);
  std::array<std::uint8_t, kMaxReply> buffer{};
  side.outcome = Outcome::timeout;
  bool retransmitted = !ex.retransmit_at.has_value();
  while (Clock::now() < ex.deadline) {
    timer.expires_at(retransmitted ? ex.deadline : std::min(*ex.retransmit_at, ex.deadline));
    auto result = co_await (socket.async_receive(asio::buffer(buffer), use_tuple) || timer.async_wait(use_tuple));
    if (result.index() == 1) {
      if (!retransmitted && Clock::now() < ex.deadline) {
        retransmitted = true;
        if (auto send_ec = co_await send()) side.detail = send_ec.message();
      }
      continue;
    }
    auto [recv_ec, n] = std::get<0>(result);
    if (recv_ec) {
      side.outcome = outcome_of(recv_ec);
      side.detail = recv_ec.message();
      // ICMP errors can be transient (a retransmission may still pass); keep
      // listening unless the socket itself is broken.
      if (side.outcome == Outcome::local_error) break;
      continue;
    }
    if (ex.is_reply(probes::ByteView(buffer.data(), n))) {
      side.outcome = Outcome::reply;
      side.rtt_ms = ms_since(t0);
      break;
    }
    side.outcome = Outcome::invalid_reply;
  }
  co_return side;
}

asio::awaitable<ClientSide> tcp_exchange(Exchange ex) {
  ClientSide side;
  record_sent(ex.wire, side);
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(executor);
  asio::steady_timer timer(executor);
  timer.expires_at(ex.deadline);

  auto fail = [&](const boost::system::error_code& ec) {
    side.outcome = outcome_of(ec);
    side.detail = ec.message();
  };

  auto t0 = Clock::now();
  auto connected = co_await (socket.async_connect({ex.remote, ex.port}, use_tuple) || timer.async_wait(use_tuple));
  if (connected.index() == 1) {
    side.outcome = Outcome::timeout;
    side.detail = "TCP connection not established";
    co_return side;
  }
  if (auto [ec] = std::get<0>(connected); ec) {
    fail(ec);
    co_return side;
  }
  record_local(socket, side);
  socket.set_option(asio::ip::tcp::no_delay(true));

  auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(ex.wire), use_tuple);
  ++side.sends;
  if (write_ec) {
    fail(write_ec);
    co_return side;
  }

  auto read_reply = [&]() -> asio::awaitable<std::pair<boost::system::error_code, probes::Bytes>> {
    probes::Bytes reply;
    if (ex.stream_reply == StreamReply::same_size_raw) {
      reply.resize(ex.wire.size());
      auto [ec, n] = co_await asio::async_read(socket, asio::buffer(reply), use_tuple);
      co_return std::pair{ec, reply};
    }
    std::array<std::uint8_t, 2> length{};
    auto [ec, n] = co_await asio::async_read(socket, asio::buffer(length), use_tuple);
    if (ec) co_return std::pair{ec, reply};
    std::size_t size = (std::size_t{length[0]} << 8) | length[1];
    if (size == 0 || size > kMaxReply) co_return std::pair{boost::system::error_code{}, probes::Bytes{0xff}};
    reply.resize(size);
    auto [body_ec, m] = co_await asio::async_read(socket, asio::buffer(reply), use_tuple);
    co_return std::pair{body_ec, reply};
  };

  auto read = co_await (read_reply() || timer.async_wait(use_tuple));
  if (read.index() == 1) {
    side.outcome = Outcome::timeout;
    side.detail = "connected, but no answer to the probe";
    co_return side;
  }
  auto [read_ec, reply] = std::get<0>(read);
  if (read_ec) {
    fail(read_ec);
    co_return side;
  }
  if (ex.is_reply(reply)) {
    side.outcome = Outcome::reply;
    side.rtt_ms = ms_since(t0);
  } else {
    side.outcome = Outcome::invalid_reply;
  }
  co_return side;
}

}  // namespace

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::reply: return "reply";
    case Outcome::invalid_reply: return "invalid_reply";
    case Outcome::timeout: return "timeout";
    case Outcome::refused: return "refused";
    case Outcome::reset: return "reset";
    case Outcome::unreachable: return "unreachable";
    case Outcome::not_run: return "not_run";
    case Outcome::local_error: return "local_error";
  }
  return "local_error";
}

asio::awaitable<ClientSide> run_exchange(Exchange exchange) {
  if (exchange.transport == probes::Transport::udp) co_return co_await udp_exchange(std::move(exchange));
  co_return co_await tcp_exchange(std::move(exchange));
}

}  // namespace vpncheck::client
