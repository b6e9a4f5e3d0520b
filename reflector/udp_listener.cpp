#include "reflector/udp_listener.h"

#include "reflector/udp_batch.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
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

// One byte more than the demux accepts: a larger datagram is either read whole
// (and dropped by the demux as oversized) or truncated (MSG_TRUNC, dropped here
// as oversized), the same count either way, without 64 KiB per batch slot.
constexpr std::size_t kSlotBuffer = kMaxDatagram + 1;
constexpr std::size_t kMaxDatagramsPerWakeup = 64;  // one recvmmsg, then yield to other listeners

int set_int(int fd, int level, int option) {
  int on = 1;
  return ::setsockopt(fd, level, option, &on, sizeof on);
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
  out.info = read_datagram_info(msg);
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
  const int fd = socket.native_handle();
  // Bound to one address: that is every datagram's destination, asked once
  // rather than with a getsockname per datagram. (Wildcard: IP_PKTINFO says.)
  const std::optional<std::string> bound_address = destination_of(DatagramInfo{}, socket);
  ReceiveBatch batch(kMaxDatagramsPerWakeup, kSlotBuffer);
  ReplyBatch replies(kMaxDatagramsPerWakeup);
  std::vector<ArrivalOutcome> answered;  // parallel to `replies`; owns the reply bytes
  answered.reserve(kMaxDatagramsPerWakeup);
  const SendMessages send = [fd](std::span<mmsghdr> rest, int& error) {
    const int n = ::sendmmsg(fd, rest.data(), static_cast<unsigned>(rest.size()), MSG_DONTWAIT | MSG_NOSIGNAL);
    error = n < 0 ? errno : 0;
    return n;
  };
  const ReplySettled settled = [&s, &answered](std::size_t i, int error) {
    if (error == 0)
      s.arrivals.reply_sent(answered[i]);
    else
      s.arrivals.reply_failed(answered[i], probes::reply_code::kSendFailed, std::string("send failed: ") + std::strerror(error));
  };

  // Under load more datagrams arrive while a batch is handled: the next read
  // is tried before waiting, after letting the other handlers run. Waiting
  // first costs two system calls per batch (Asio re-arms the edge-triggered
  // descriptor with epoll_ctl, then epoll_wait), as many again as the batch's
  // own recvmmsg and sendmmsg.
  bool read_again = false;
  while (socket.is_open()) {
    if (read_again) {
      co_await asio::post(socket.get_executor(), asio::use_awaitable);
      if (!socket.is_open()) break;
    } else {
      auto [wec] = co_await socket.async_wait(udp::socket::wait_read, kAwait);
      if (wec == asio::error::operation_aborted || !socket.is_open()) break;
      if (wec) {
        s.log.warn(where + ": wait failed: " + wec.message());
        break;
      }
    }
    std::span<mmsghdr> headers = batch.arm();
    int received = 0;
    do {
      received = ::recvmmsg(fd, headers.data(), static_cast<unsigned>(headers.size()), MSG_DONTWAIT, nullptr);
    } while (received < 0 && errno == EINTR);
    read_again = received > 0;
    if (received < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        s.log.debug(where + ": recvmmsg: " + std::strerror(errno));  // e.g. a queued ICMP error
      continue;
    }
    // One clock reading per batch: every datagram of it was read by this one call.
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    replies.clear();
    answered.clear();
    for (std::size_t i = 0; i < static_cast<std::size_t>(received); ++i) {
      ReceivedDatagram datagram = batch.datagram(i);
      if (datagram.truncated) {
        s.arrivals.count_drop(DropReason::oversized);
        continue;
      }
      const udp::endpoint& from = datagram.from;
      const DatagramInfo& info = datagram.info;
      const std::size_t n = datagram.length;
      Arrival arrival;
      arrival.payload = batch.payload(i, n);
      arrival.framing = Framing::datagram;
      arrival.local_port = port;
      arrival.source = to_endpoint(from.address(), from.port());
      arrival.ttl = info.ttl;
      arrival.tos = info.tos;
      arrival.destination_address =
          info.pktinfo4 || info.pktinfo6 ? destination_of(info, socket) : bound_address;
      arrival.received_at_unix_ms = now_ms;
      ArrivalOutcome outcome = s.arrivals.handle(arrival);
      if (s.log.enabled(LogLevel::debug))
        s.log.debug(where + ": " + std::to_string(n) + " B from " + arrival.source.address + ":" +
                    std::to_string(arrival.source.port) + " -> " +
                    (outcome.dropped ? "dropped (" + std::string(to_string(*outcome.dropped)) + ")"
                                     : outcome.protocol + ", reply " + std::to_string(outcome.reply.size()) + " B"));
      if (outcome.dropped || outcome.reply.empty()) continue;
      answered.push_back(std::move(outcome));  // moving keeps the reply's bytes where they are
      if (!replies.add(answered.back().reply, from, info)) {  // cannot happen: a slot per datagram read
        s.arrivals.reply_failed(answered.back(), probes::reply_code::kBatchFull, "send failed: reply batch full");
        answered.pop_back();  // `answered` stays parallel to `replies`
      }
    }

    // One sendmmsg for the batch's replies, each from the address its request
    // arrived on. A full send buffer: wait until writable, then send the rest.
    std::size_t next = 0;
    while (send_replies(replies.messages(), next, send, settled) == SendProgress::would_block) {
      auto [writable] = co_await socket.async_wait(udp::socket::wait_write, kAwait);
      if (writable) {  // closed while waiting (or the wait failed): the rest are not sent
        const int error = writable == asio::error::operation_aborted ? ECANCELED : EIO;
        for (; next < replies.size(); ++next) settled(next, error);
        break;
      }
    }
  }
}

}  // namespace vpncheck::reflector
