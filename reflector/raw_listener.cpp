#include "reflector/raw_listener.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace vpncheck::reflector {
namespace {

namespace asio = boost::asio;
using raw = asio::generic::raw_protocol;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReceiveBuffer = 65536;
constexpr int kMaxDatagramsPerWakeup = 64;

std::string v4_text(probes::ByteView four) {
  asio::ip::address_v4::bytes_type b{};
  std::copy_n(four.begin(), 4, b.begin());
  return asio::ip::address_v4(b).to_string();
}

int send_datagram(int fd, const probes::Bytes& datagram, const std::string& to) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  auto bytes = asio::ip::make_address_v4(to).to_bytes();
  std::memcpy(&sa.sin_addr, bytes.data(), bytes.size());
  ssize_t sent = ::sendto(fd, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                          reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  if (sent < 0) return errno;
  return static_cast<std::size_t>(sent) == datagram.size() ? 0 : EMSGSIZE;
}

}  // namespace

std::optional<Ipv4Facts> read_ipv4_header(probes::ByteView d) {
  if (d.size() < 20 || (d[0] >> 4) != 4) return std::nullopt;
  const std::size_t header = std::size_t{d[0] & 0x0fU} * 4;
  const std::size_t total = std::size_t{d[2]} << 8 | d[3];
  if (header < 20 || header > d.size() || total != d.size()) return std::nullopt;
  Ipv4Facts facts;
  facts.tos = d[1];
  facts.ttl = d[8];
  facts.protocol = d[9];
  facts.source = v4_text(d.subspan(12, 4));
  facts.destination = v4_text(d.subspan(16, 4));
  return facts;
}

std::optional<RawSocket> open_raw_socket(asio::io_context& io, std::uint8_t ip_protocol, std::string& error) {
  RawSocket socket(io);
  boost::system::error_code ec;
  socket.open(raw(AF_INET, ip_protocol), ec);
  if (ec) {
    error = ec == boost::system::errc::operation_not_permitted || ec == asio::error::access_denied
                ? "needs CAP_NET_RAW (" + ec.message() + ")"
                : ec.message();
    return std::nullopt;
  }
  int on = 1;
  if (::setsockopt(socket.native_handle(), IPPROTO_IP, IP_HDRINCL, &on, sizeof on) != 0) {
    error = std::string("cannot set IP_HDRINCL: ") + std::strerror(errno);
    return std::nullopt;
  }
  socket.non_blocking(true, ec);
  return socket;
}

asio::awaitable<void> run_raw_listener(RawSocket& socket, std::uint8_t ip_protocol, Services& s) {
  const std::string where = "raw/" + probes::ip_protocol_name(ip_protocol);
  std::vector<std::uint8_t> buffer(kReceiveBuffer);
  while (socket.is_open()) {
    auto [wec] = co_await socket.async_wait(RawSocket::wait_read, kAwait);
    if (wec == asio::error::operation_aborted || !socket.is_open()) break;
    if (wec) {
      s.log.warn(where + ": wait failed: " + wec.message());
      break;
    }
    for (int i = 0; i < kMaxDatagramsPerWakeup; ++i) {
      ssize_t n = ::recv(socket.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (static_cast<std::size_t>(n) > buffer.size()) {
        s.arrivals.count_drop(DropReason::oversized);
        continue;
      }
      probes::ByteView datagram = probes::ByteView(buffer).first(static_cast<std::size_t>(n));
      auto facts = read_ipv4_header(datagram);
      if (!facts || facts->protocol != ip_protocol) {
        s.arrivals.count_drop(DropReason::unrecognised);
        continue;
      }
      Arrival arrival;
      arrival.payload = datagram;
      arrival.framing = Framing::ip_datagram;
      arrival.local_port = ip_protocol;
      arrival.source = probes::Endpoint{facts->source, 0};
      arrival.destination_address = facts->destination;
      arrival.ttl = facts->ttl;
      arrival.tos = facts->tos;
      arrival.received_at_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count();
      ArrivalOutcome outcome = s.arrivals.handle(arrival);
      if (s.log.enabled(LogLevel::debug))
        s.log.debug(where + ": " + std::to_string(n) + " B from " + facts->source + " -> " +
                    (outcome.dropped ? "dropped (" + std::string(to_string(*outcome.dropped)) + ")"
                                     : outcome.protocol + ", reply " + std::to_string(outcome.reply.size()) + " B"));
      if (outcome.dropped || outcome.reply.empty()) continue;
      if (int err = send_datagram(socket.native_handle(), outcome.reply, facts->source); err != 0)
        s.arrivals.reply_failed(outcome, std::string("send failed: ") + std::strerror(err));
      else
        s.arrivals.reply_sent(outcome);
    }
  }
}

}  // namespace vpncheck::reflector
