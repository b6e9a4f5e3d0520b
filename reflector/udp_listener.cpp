#include "reflector/udp_listener.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

namespace vpncheck::reflector {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kReceiveBuffer = 65536;  // any UDP payload fits: truncation is detectable
constexpr int kMaxDatagramsPerWakeup = 64;     // then yield to other listeners

template <typename T>
T cmsg_value(const cmsghdr* c) {
  T value{};
  std::memcpy(&value, CMSG_DATA(c), std::min(sizeof(T), static_cast<std::size_t>(c->cmsg_len - CMSG_LEN(0))));
  return value;
}

DatagramInfo read_cmsgs(msghdr& msg) {
  DatagramInfo info;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
      info.ttl = cmsg_value<int>(c);
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
      info.tos = cmsg_value<std::uint8_t>(c);  // one byte for IP_TOS (ip(7))
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      info.pktinfo4 = cmsg_value<in_pktinfo>(c);
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVFRAGSIZE) {
      info.largest_fragment = cmsg_value<int>(c);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
      info.ttl = cmsg_value<int>(c);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
      info.tos = cmsg_value<int>(c);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      info.pktinfo6 = cmsg_value<in6_pktinfo>(c);
    }
  }
  return info;
}

int set_int(int fd, int level, int option) {
  int on = 1;
  return ::setsockopt(fd, level, option, &on, sizeof on);
}

// Sends `reply` to `to`. On a wildcard-bound socket the source address is
// pinned to the one the request arrived on (IP_PKTINFO / IPV6_PKTINFO), or a
// multi-homed reflector could answer from another address and the client's
// NAT would drop it. Returns 0 or an errno.
int send_reply(int fd, const probes::Bytes& reply, udp::endpoint& to, const DatagramInfo& info) {
  iovec iov{const_cast<std::uint8_t*>(reply.data()), reply.size()};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in6_pktinfo))> control{};
  msghdr msg{};
  msg.msg_name = to.data();
  msg.msg_namelen = static_cast<socklen_t>(to.size());
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (info.pktinfo4 && to.protocol() == udp::v4()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo pi{};
    pi.ipi_spec_dst = info.pktinfo4->ipi_addr;
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  } else if (info.pktinfo6 && !IN6_IS_ADDR_V4MAPPED(&info.pktinfo6->ipi6_addr)) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
    in6_pktinfo pi{};
    pi.ipi6_addr = info.pktinfo6->ipi6_addr;
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  }
  ssize_t sent = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent < 0) return errno;
  return static_cast<std::size_t>(sent) == reply.size() ? 0 : EMSGSIZE;
}

}  // namespace

std::optional<std::string> destination_of(const DatagramInfo& info, const udp::socket& socket) {
  if (info.pktinfo4) {
    asio::ip::address_v4::bytes_type b{};
    std::memcpy(b.data(), &info.pktinfo4->ipi_addr, b.size());
    return asio::ip::address_v4(b).to_string();
  }
  if (info.pktinfo6) {
    asio::ip::address_v6::bytes_type b{};
    std::memcpy(b.data(), &info.pktinfo6->ipi6_addr, b.size());
    auto v6 = asio::ip::address_v6(b);
    if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
    return v6.to_string();
  }
  boost::system::error_code ec;
  auto local = socket.local_endpoint(ec);
  if (ec || local.address().is_unspecified()) return std::nullopt;
  return local.address().to_string();
}

std::optional<ReceivedDatagram> receive_datagram(udp::socket& socket, std::span<std::uint8_t> buffer,
                                                 std::span<char> control, int& error) {
  ReceivedDatagram out;
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_name = out.from.data();
  msg.msg_namelen = static_cast<socklen_t>(out.from.capacity());
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n = 0;
  do {
    n = ::recvmsg(socket.native_handle(), &msg, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    error = errno;
    return std::nullopt;
  }
  error = 0;
  out.from.resize(msg.msg_namelen);
  out.length = static_cast<std::size_t>(n);
  out.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  out.info = read_cmsgs(msg);
  return out;
}

std::string enable_arrival_info(udp::socket& socket) {
  const int fd = socket.native_handle();
  boost::system::error_code ec;
  const bool wildcard = socket.local_endpoint(ec).address().is_unspecified();
  if (socket.local_endpoint(ec).protocol() == udp::v4()) {
    if (set_int(fd, IPPROTO_IP, IP_RECVTTL) != 0 || set_int(fd, IPPROTO_IP, IP_RECVTOS) != 0)
      return std::string("cannot enable IP_RECVTTL/IP_RECVTOS: ") + std::strerror(errno);
    if (wildcard && set_int(fd, IPPROTO_IP, IP_PKTINFO) != 0)
      return std::string("cannot enable IP_PKTINFO: ") + std::strerror(errno);
    return {};
  }
  if (set_int(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT) != 0 || set_int(fd, IPPROTO_IPV6, IPV6_RECVTCLASS) != 0)
    return std::string("cannot enable IPV6_RECVHOPLIMIT/IPV6_RECVTCLASS: ") + std::strerror(errno);
  if (wildcard && set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO) != 0)
    return std::string("cannot enable IPV6_RECVPKTINFO: ") + std::strerror(errno);
  // IPv4 arriving on a dual-stack socket: Linux reports its TTL/TOS when asked at the IP level.
  set_int(fd, IPPROTO_IP, IP_RECVTTL);
  set_int(fd, IPPROTO_IP, IP_RECVTOS);
  return {};
}

asio::awaitable<void> run_udp_listener(udp::socket& socket, Services& s) {
  boost::system::error_code ec;
  const std::uint16_t port = socket.local_endpoint(ec).port();
  const std::string where = "udp/" + std::to_string(port);
  std::vector<std::uint8_t> buffer(kReceiveBuffer);
  alignas(cmsghdr) std::array<char, 512> control{};

  while (socket.is_open()) {
    auto [wec] = co_await socket.async_wait(udp::socket::wait_read, kAwait);
    if (wec == asio::error::operation_aborted || !socket.is_open()) break;
    if (wec) {
      s.log.warn(where + ": wait failed: " + wec.message());
      break;
    }
    for (int i = 0; i < kMaxDatagramsPerWakeup; ++i) {
      int error = 0;
      auto received = receive_datagram(socket, buffer, control, error);
      if (!received) {
        if (error != EAGAIN && error != EWOULDBLOCK)
          s.log.debug(where + ": recvmsg: " + std::strerror(error));  // e.g. a queued ICMP error
        break;
      }
      if (received->truncated) {
        s.arrivals.count_drop(DropReason::oversized);
        continue;
      }
      udp::endpoint& from = received->from;
      const DatagramInfo& info = received->info;
      const std::size_t n = received->length;
      Arrival arrival;
      arrival.payload = probes::ByteView(buffer).first(n);
      arrival.framing = Framing::datagram;
      arrival.local_port = port;
      arrival.source = to_endpoint(from.address(), from.port());
      arrival.ttl = info.ttl;
      arrival.tos = info.tos;
      arrival.destination_address = destination_of(info, socket);
      arrival.received_at_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count();
      ArrivalOutcome outcome = s.arrivals.handle(arrival);
      if (s.log.enabled(LogLevel::debug))
        s.log.debug(where + ": " + std::to_string(n) + " B from " + arrival.source.address + ":" +
                    std::to_string(arrival.source.port) + " -> " +
                    (outcome.dropped ? "dropped (" + std::string(to_string(*outcome.dropped)) + ")"
                                     : outcome.protocol + ", reply " + std::to_string(outcome.reply.size()) + " B"));
      if (outcome.dropped || outcome.reply.empty()) continue;
      if (int err = send_reply(socket.native_handle(), outcome.reply, from, info); err != 0)
        s.arrivals.reply_failed(outcome, std::string("send failed: ") + std::strerror(err));
      else
        s.arrivals.reply_sent(outcome);
    }
  }
}

}  // namespace vpncheck::reflector
