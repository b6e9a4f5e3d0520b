// Batched UDP I/O for the probe listeners: one recvmmsg reads up to a
// wakeup's worth of datagrams, one sendmmsg sends their replies. The syscall
// itself stays in reflector/udp_listener.cpp; here are the parts that can be
// checked without sockets: the per-datagram slots (own payload buffer, own
// control buffer, own source address), the reply headers (each reply pinned to
// the address its request arrived on) and the accounting of sendmmsg results
// (partial sends, would-block, per-message errors).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include <boost/asio/ip/udp.hpp>

#include "probes/bytes.h"
#include "reflector/udp_listener.h"

namespace vpncheck::reflector {

// The facts in a received message's control messages (TTL/hop limit,
// TOS/traffic class, destination address).
DatagramInfo read_datagram_info(msghdr& msg);

// Writes the control message that makes a reply leave from the address its
// request arrived on (IP_PKTINFO for IPv4 replies, IPV6_PKTINFO for native
// IPv6; nothing for IPv4-mapped arrivals on a dual-stack socket or when the
// socket reported no destination). Returns the msg_controllen to use, 0 for
// none. `control` must be cmsghdr-aligned and at least kReplyControlSize.
std::size_t write_source_pin(const DatagramInfo& info, bool reply_is_v4, std::span<char> control);
inline constexpr std::size_t kReplyControlSize = CMSG_SPACE(sizeof(in6_pktinfo));

// Slots for one recvmmsg.
class ReceiveBatch {
 public:
  static constexpr std::size_t kControlSize = 512;  // TTL, TOS, PKTINFO of both families fit

  ReceiveBatch(std::size_t slots, std::size_t payload_capacity);
  ReceiveBatch(const ReceiveBatch&) = delete;
  ReceiveBatch& operator=(const ReceiveBatch&) = delete;

  std::size_t slots() const { return headers_.size(); }
  // The headers for recvmmsg, with the in/out lengths and flags reset.
  std::span<mmsghdr> arm();
  // Slot `i` as recvmmsg left it (length, truncation, source, kernel facts).
  ReceivedDatagram datagram(std::size_t i);
  // Its bytes: the first `length` of the slot's buffer (capped at the capacity).
  probes::ByteView payload(std::size_t i, std::size_t length) const;

 private:
  struct alignas(cmsghdr) Control {
    std::array<char, kControlSize> bytes;
  };
  std::size_t capacity_;
  // Not zeroed: a page becomes resident when the kernel first writes a datagram to it.
  std::unique_ptr<std::uint8_t[]> payload_;
  std::unique_ptr<Control[]> control_;
  std::vector<boost::asio::ip::udp::endpoint> from_;
  std::vector<iovec> iov_;
  std::vector<mmsghdr> headers_;
};

// The replies of one wakeup, for sendmmsg. Each message has its own
// destination, its own iovec over the reply bytes (which the caller keeps alive
// and unmoved until sent) and its own source-address pin.
class ReplyBatch {
 public:
  explicit ReplyBatch(std::size_t capacity);
  ReplyBatch(const ReplyBatch&) = delete;
  ReplyBatch& operator=(const ReplyBatch&) = delete;

  // false when full.
  bool add(probes::ByteView reply, const boost::asio::ip::udp::endpoint& to, const DatagramInfo& info);
  void clear() { size_ = 0; }
  std::size_t size() const { return size_; }
  std::span<mmsghdr> messages() { return std::span(headers_).first(size_); }

 private:
  struct alignas(cmsghdr) Control {
    std::array<char, kReplyControlSize> bytes;
  };
  std::size_t size_ = 0;
  std::vector<Control> control_;
  std::vector<boost::asio::ip::udp::endpoint> to_;
  std::vector<iovec> iov_;
  std::vector<mmsghdr> headers_;
};

// sendmmsg's contract: sends a prefix of `rest`, returns how many messages
// went (their msg_len set), or -1 with the errno in `error` when the first
// one failed.
using SendMessages = std::function<int(std::span<mmsghdr> rest, int& error)>;
// Called once per message, in order: error 0 when sent in full, else the errno
// (EMSGSIZE when the kernel took fewer bytes than the reply has).
using ReplySettled = std::function<void(std::size_t index, int error)>;

enum class SendProgress { finished, would_block };

// Sends messages[next...] until each one is settled (sent or failed), or the
// socket would block: then `next` is the first unsent message and the caller
// waits for writability and calls again. A failing message is settled and
// skipped, so the rest still go; EINTR is retried.
SendProgress send_replies(std::span<mmsghdr> messages, std::size_t& next, const SendMessages& send,
                          const ReplySettled& settled);

}  // namespace vpncheck::reflector
