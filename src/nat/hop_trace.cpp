#include "src/nat/hop_trace.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cstring>
#include <memory>

#include "src/nat/socket_errors.h"

namespace vpncheck::nat {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using Clock = std::chrono::steady_clock;

// ICMP types (RFC 792) the error queue reports for our datagrams.
constexpr std::uint8_t kIcmpDestinationUnreachable = 3;
constexpr std::uint8_t kIcmpTimeExceeded = 11;

struct Probe {
  int ttl = 0;
  std::unique_ptr<udp::socket> socket;
  Hop hop;
  bool answered = false;
  Clock::time_point sent;
  Clock::duration rtt{};
};

// The hop's answer among the errors queued on the socket, if one came.
std::optional<Hop> read_hop(udp::socket& socket, int ttl) {
  while (auto error = next_queued_error(socket.native_handle())) {
    if (error->info.ee_origin != SO_EE_ORIGIN_ICMP || !error->offender) continue;
    if (error->info.ee_type != kIcmpTimeExceeded && error->info.ee_type != kIcmpDestinationUnreachable) continue;
    Hop hop;
    hop.ttl = ttl;
    hop.address = error->offender;
    hop.destination = error->info.ee_type == kIcmpDestinationUnreachable;
    return hop;
  }
  return std::nullopt;
}

}  // namespace

asio::awaitable<std::vector<Hop>> trace_hops(asio::ip::address_v4 destination, std::uint16_t port,
                                             std::chrono::milliseconds window, std::shared_ptr<const bool> stop) {
  auto executor = co_await asio::this_coro::executor;
  const auto start = Clock::now();
  const auto deadline = start + window;
  const udp::endpoint to(destination, port);
  static constexpr std::array<std::uint8_t, 16> kPayload{};  // the reflector drops what it cannot parse

  std::vector<Probe> probes;
  for (int ttl = 1; ttl <= kMaxHopTtl; ++ttl) {
    Probe p;
    p.ttl = ttl;
    p.hop.ttl = ttl;
    p.socket = std::make_unique<udp::socket>(executor);
    boost::system::error_code ec;
    p.socket->open(udp::v4(), ec);
    if (ec) continue;
    int on = 1;
    if (::setsockopt(p.socket->native_handle(), SOL_IP, IP_RECVERR, &on, sizeof on) != 0 ||
        ::setsockopt(p.socket->native_handle(), SOL_IP, IP_TTL, &ttl, sizeof ttl) != 0)
      continue;
    p.socket->connect(to, ec);  // errors for this destination only
    if (ec) continue;
    probes.push_back(std::move(p));
  }
  auto send_unanswered = [&] {
    for (auto& p : probes) {
      if (p.answered) continue;
      boost::system::error_code ec;
      p.socket->send(asio::buffer(kPayload), 0, ec);  // an error now is an earlier ICMP answer; read below
      if (p.sent == Clock::time_point{}) p.sent = Clock::now();
    }
  };
  send_unanswered();
  bool resent = false;
  Clock::time_point last_answer{};
  Clock::duration slowest{};
  asio::steady_timer timer(executor);
  for (;;) {
    const auto now = Clock::now();
    for (auto& p : probes) {
      if (p.answered) continue;
      if (auto hop = read_hop(*p.socket, p.ttl)) {
        p.hop = *hop;
        p.answered = true;
        p.rtt = now - p.sent;
        slowest = std::max(slowest, p.rtt);
        last_answer = now;

      }
    }
    // Done when every TTL up to an answer from the destination answered.
    bool complete = false;
    for (const auto& p : probes) {
      if (!p.answered) break;
      if (p.hop.destination || (p.hop.address && p.hop.address == Ipv4(destination.to_bytes()))) {
        complete = true;
        break;
      }
    }
    if (complete || now >= deadline || (stop && *stop)) break;
    if (!resent && now - start >= kHopResend) {
      send_unanswered();
      resent = true;
    }
    const auto settle = std::max<Clock::duration>(4 * slowest, kHopSettleFloor);
    if (resent && last_answer != Clock::time_point{} && now - last_answer >= settle) break;
    timer.expires_after(std::chrono::milliseconds(10));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  std::vector<Hop> hops;
  for (const auto& p : probes) hops.push_back(p.hop);
  co_return hops;
}

}  // namespace vpncheck::nat
