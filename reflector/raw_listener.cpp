#include "reflector/raw_listener.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <span>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probes/ip.h"
#include "reflector/udp_batch.h"

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

std::string v6_text(const probes::ip6::Address& a) {
  asio::ip::address_v6::bytes_type b{};
  std::copy(a.begin(), a.end(), b.begin());
  return asio::ip::address_v6(b).to_string();
}

// What recvmsg tells about one IPv6 raw datagram.
struct Raw6Info {
  probes::ip6::Address source{};
  std::optional<probes::ip6::Address> destination;
  int hop_limit = 0;
  int traffic_class = 0;
};

// Reads one payload (after the IPv6 header) into `buffer`; -1 with errno set
// when nothing could be read.
ssize_t receive6(int fd, std::span<std::uint8_t> buffer, Raw6Info& info) {
  sockaddr_in6 from{};
  iovec iov{buffer.data(), buffer.size()};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in6_pktinfo)) + 2 * CMSG_SPACE(sizeof(int))> control{};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
  if (n < 0) return n;
  std::memcpy(info.source.data(), &from.sin6_addr, 16);
  // The same control messages as a UDP socket's: one reader for both.
  const auto facts = read_datagram_info(msg);
  if (facts.pktinfo6) {
    probes::ip6::Address d{};
    std::memcpy(d.data(), &facts.pktinfo6->ipi6_addr, 16);
    info.destination = d;
  }
  if (facts.ttl) info.hop_limit = *facts.ttl;
  if (facts.tos) info.traffic_class = *facts.tos;
  return n;
}

// Sends a whole IPv6 datagram the module built: its payload, from its source
// address (IPV6_PKTINFO) to its destination, with its hop limit.
int send_datagram6(int fd, probes::ByteView datagram) {
  auto ip = probes::ip6::parse(datagram);
  if (!ip) return EINVAL;
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  std::memcpy(&to.sin6_addr, ip->dst.data(), 16);
  iovec iov{const_cast<std::uint8_t*>(ip->payload.data()), ip->payload.size()};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int))> control{};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo pi{};
  std::memcpy(&pi.ipi6_addr, ip->src.data(), 16);
  std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  c = CMSG_NXTHDR(&msg, c);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_HOPLIMIT;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int hop_limit = ip->hop_limit;
  std::memcpy(CMSG_DATA(c), &hop_limit, sizeof hop_limit);
  ssize_t sent = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent < 0) return errno;
  return static_cast<std::size_t>(sent) == ip->payload.size() ? 0 : EMSGSIZE;
}

std::string open_error(const boost::system::error_code& ec) {
  return ec == boost::system::errc::operation_not_permitted || ec == asio::error::access_denied
             ? "needs CAP_NET_RAW (" + ec.message() + ")"
             : ec.message();
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::optional<Ipv4Facts> read_ipv4_header(probes::ByteView d) {
  auto packet = probes::ip::parse_ipv4(d);
  if (!packet) return std::nullopt;
  Ipv4Facts facts;
  facts.tos = packet->tos;
  facts.ttl = packet->ttl;
  facts.protocol = packet->protocol;
  facts.source = v4_text(packet->src);
  facts.destination = v4_text(packet->dst);
  return facts;
}

namespace {

// Binds a raw socket to one local address (the port is meaningless for raw IP).
bool bind_raw(RawSocket& socket, const std::string& local, std::string& error) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(local, ec);
  if (ec) {
    error = "not an IP address: " + local;
    return false;
  }
  int rc = 0;
  if (address.is_v4()) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    const auto bytes = address.to_v4().to_bytes();
    std::memcpy(&sa.sin_addr, bytes.data(), bytes.size());
    rc = ::bind(socket.native_handle(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    const auto v6 = address.to_v6();
    const auto bytes = v6.to_bytes();
    std::memcpy(&sa.sin6_addr, bytes.data(), bytes.size());
    sa.sin6_scope_id = static_cast<std::uint32_t>(v6.scope_id());
    rc = ::bind(socket.native_handle(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  }
  if (rc != 0) {
    error = "cannot bind to " + local + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

std::optional<RawSocket> open_raw_socket(asio::io_context& io, std::uint8_t ip_protocol, std::string& error,
                                         const std::optional<std::string>& local) {
  RawSocket socket(io);
  boost::system::error_code ec;
  socket.open(raw(AF_INET, ip_protocol), ec);
  if (ec) {
    error = open_error(ec);
    return std::nullopt;
  }
  int on = 1;
  if (::setsockopt(socket.native_handle(), IPPROTO_IP, IP_HDRINCL, &on, sizeof on) != 0) {
    error = std::string("cannot set IP_HDRINCL: ") + std::strerror(errno);
    return std::nullopt;
  }
  if (local && !bind_raw(socket, *local, error)) return std::nullopt;
  socket.non_blocking(true, ec);
  return socket;
}

std::optional<RawSocket> open_raw6_socket(asio::io_context& io, std::uint8_t ip_protocol, std::string& error,
                                          const std::optional<std::string>& local) {
  RawSocket socket(io);
  boost::system::error_code ec;
  socket.open(raw(AF_INET6, ip_protocol), ec);
  if (ec) {
    error = open_error(ec);
    return std::nullopt;
  }
  int on = 1;
  for (int option : {IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS}) {
    if (::setsockopt(socket.native_handle(), IPPROTO_IPV6, option, &on, sizeof on) != 0) {
      error = std::string("cannot ask for IPv6 arrival facts: ") + std::strerror(errno);
      return std::nullopt;
    }
  }
  if (local && !bind_raw(socket, *local, error)) return std::nullopt;
  socket.non_blocking(true, ec);
  return socket;
}

bool raw_protocol_over_ipv6(std::string_view name) {
  const auto* raw = probes::ip::raw_protocol(name);
  return raw && raw->over_ipv6;
}

// One raw datagram through the demux, logged, and its reply sent with
// `send` (returns 0 or an errno); shared by both families.
template <typename Send>
void answer(Services& s, const std::string& where, Arrival& arrival, std::size_t size, Send send) {
  arrival.framing = Framing::ip_datagram;
  arrival.received_at_unix_ms = now_unix_ms();
  ArrivalOutcome outcome = s.arrivals.handle(arrival);
  if (s.log.enabled(LogLevel::debug))
    s.log.debug(where + ": " + std::to_string(size) + " B from " + arrival.source.address + " -> " +
                (outcome.dropped ? "dropped (" + std::string(to_string(*outcome.dropped)) + ")"
                                 : outcome.protocol + ", reply " + std::to_string(outcome.reply.size()) + " B"));
  if (outcome.dropped || outcome.reply.empty()) return;
  if (int err = send(outcome.reply); err != 0)
    s.arrivals.reply_failed(outcome, probes::reply_code::kSendFailed, std::string("send failed: ") + std::strerror(err));
  else
    s.arrivals.reply_sent(outcome);
}

// The loop both families share: wait until readable, then take up to
// kMaxDatagramsPerWakeup datagrams (then yield to other listeners). `one`
// reads and handles one datagram; false when nothing is left to read.
// (A named std::function by reference: GCC 12 mishandles lambdas passed by
// value into a coroutine.)
asio::awaitable<void> raw_loop(RawSocket& socket, const std::string& where, Services& s,
                               const std::function<bool()>& one) {
  while (socket.is_open()) {
    auto [wec] = co_await socket.async_wait(RawSocket::wait_read, kAwait);
    if (wec == asio::error::operation_aborted || !socket.is_open()) break;
    if (wec) {
      s.log.warn(where + ": wait failed: " + wec.message());
      break;
    }
    for (int i = 0; i < kMaxDatagramsPerWakeup; ++i)
      if (!one()) break;
  }
}

asio::awaitable<void> run_raw6_listener(RawSocket& socket, std::uint8_t ip_protocol, Services& s) {
  const std::string where = "raw6/" + probes::ip_protocol_name(ip_protocol);
  auto buffer = std::make_shared<std::vector<std::uint8_t>>(kReceiveBuffer);
  const std::function<bool()> one = [&socket, &s, where, ip_protocol, buffer]() {
    Raw6Info info;
    ssize_t n = receive6(socket.native_handle(), *buffer, info);
    if (n < 0) return errno == EINTR;
    if (static_cast<std::size_t>(n) > buffer->size() || static_cast<std::size_t>(n) > probes::ip6::kMaxPayload) {
      s.arrivals.count_drop(DropReason::oversized);
      return true;
    }
    if (!info.destination) {  // asked for on open; without it no AH check and no reply source
      s.arrivals.count_drop(DropReason::unrecognised);
      return true;
    }
    // The whole datagram as it was on the wire (flow label aside), for the modules.
    probes::Bytes datagram = probes::ip6::datagram(
        info.source, *info.destination, ip_protocol, static_cast<std::uint8_t>(info.hop_limit),
        static_cast<std::uint8_t>(info.traffic_class), probes::ByteView(*buffer).first(static_cast<std::size_t>(n)));
    Arrival arrival;
    arrival.payload = datagram;
    arrival.local_port = ip_protocol;
    arrival.source = probes::Endpoint{v6_text(info.source), 0};
    arrival.destination_address = v6_text(*info.destination);
    arrival.ttl = info.hop_limit;
    arrival.tos = info.traffic_class;
    answer(s, where, arrival, static_cast<std::size_t>(n),
           [&](const probes::Bytes& reply) { return send_datagram6(socket.native_handle(), reply); });
    return true;
  };
  co_await raw_loop(socket, where, s, one);
}

asio::awaitable<void> run_raw_listener(RawSocket& socket, std::uint8_t ip_protocol, Services& s) {
  const std::string where = "raw/" + probes::ip_protocol_name(ip_protocol);
  auto buffer = std::make_shared<std::vector<std::uint8_t>>(kReceiveBuffer);
  const std::function<bool()> one = [&socket, &s, where, ip_protocol, buffer]() {
    ssize_t n = ::recv(socket.native_handle(), buffer->data(), buffer->size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) return errno == EINTR;
    if (static_cast<std::size_t>(n) > buffer->size()) {
      s.arrivals.count_drop(DropReason::oversized);
      return true;
    }
    probes::ByteView datagram = probes::ByteView(*buffer).first(static_cast<std::size_t>(n));
    auto facts = read_ipv4_header(datagram);
    if (!facts || facts->protocol != ip_protocol) {
      s.arrivals.count_drop(DropReason::unrecognised);
      return true;
    }
    Arrival arrival;
    arrival.payload = datagram;
    arrival.local_port = ip_protocol;
    arrival.source = probes::Endpoint{facts->source, 0};
    arrival.destination_address = facts->destination;
    arrival.ttl = facts->ttl;
    arrival.tos = facts->tos;
    answer(s, where, arrival, static_cast<std::size_t>(n),
           [&](const probes::Bytes& reply) { return send_datagram(socket.native_handle(), reply, facts->source); });
    return true;
  };
  co_await raw_loop(socket, where, s, one);
}

}  // namespace vpncheck::reflector
