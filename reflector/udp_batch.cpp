#include "reflector/udp_batch.h"

#include <netinet/ip.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vpncheck::reflector {
namespace {

using boost::asio::ip::udp;

template <typename T>
T cmsg_value(const cmsghdr* c) {
  T value{};
  std::memcpy(&value, CMSG_DATA(c), std::min(sizeof(T), static_cast<std::size_t>(c->cmsg_len - CMSG_LEN(0))));
  return value;
}

}  // namespace

DatagramInfo read_datagram_info(msghdr& msg) {
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

namespace {

// Writes one control message carrying `value` at the start of `control`;
// returns its msg_controllen.
template <typename T>
std::size_t write_one_cmsg(std::span<char> control, int level, int type, const T& value) {
  msghdr msg{};
  msg.msg_control = control.data();
  msg.msg_controllen = CMSG_SPACE(sizeof(T));
  std::fill_n(control.begin(), msg.msg_controllen, '\0');
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(sizeof(T));
  std::memcpy(CMSG_DATA(c), &value, sizeof value);
  return msg.msg_controllen;
}

}  // namespace

std::size_t write_source_pin(const DatagramInfo& info, bool reply_is_v4, std::span<char> control) {
  if (control.size() < kReplyControlSize) return 0;
  if (info.pktinfo4 && reply_is_v4) {
    in_pktinfo pi{};
    pi.ipi_spec_dst = info.pktinfo4->ipi_addr;
    return write_one_cmsg(control, IPPROTO_IP, IP_PKTINFO, pi);
  }
  if (info.pktinfo6 && !IN6_IS_ADDR_V4MAPPED(&info.pktinfo6->ipi6_addr)) {
    in6_pktinfo pi{};
    pi.ipi6_addr = info.pktinfo6->ipi6_addr;
    return write_one_cmsg(control, IPPROTO_IPV6, IPV6_PKTINFO, pi);
  }
  return 0;
}

// --- ReceiveBatch -------------------------------------------------------------

ReceiveBatch::ReceiveBatch(std::size_t slots, std::size_t payload_capacity)
    : capacity_(payload_capacity),
      payload_(std::make_unique_for_overwrite<std::uint8_t[]>(slots * payload_capacity)),
      control_(std::make_unique_for_overwrite<Control[]>(slots)),
      from_(slots),
      iov_(slots),
      headers_(slots) {
  for (std::size_t i = 0; i < slots; ++i) {
    iov_[i] = iovec{payload_.get() + i * capacity_, capacity_};
    msghdr& m = headers_[i].msg_hdr;
    m.msg_name = from_[i].data();
    m.msg_iov = &iov_[i];
    m.msg_iovlen = 1;
    m.msg_control = control_[i].bytes.data();
  }
  arm();
}

std::span<mmsghdr> ReceiveBatch::arm() {
  for (std::size_t i = 0; i < headers_.size(); ++i) {
    msghdr& m = headers_[i].msg_hdr;
    m.msg_namelen = static_cast<socklen_t>(from_[i].capacity());
    m.msg_controllen = kControlSize;
    m.msg_flags = 0;
    headers_[i].msg_len = 0;
  }
  return headers_;
}

ReceivedDatagram ReceiveBatch::datagram(std::size_t i) {
  ReceivedDatagram out;
  msghdr& m = headers_[i].msg_hdr;
  out.from = from_[i];
  out.from.resize(std::min<std::size_t>(m.msg_namelen, from_[i].capacity()));
  out.length = std::min<std::size_t>(headers_[i].msg_len, capacity_);
  out.truncated = (m.msg_flags & MSG_TRUNC) != 0;
  out.info = read_datagram_info(m);
  return out;
}

probes::ByteView ReceiveBatch::payload(std::size_t i, std::size_t length) const {
  return probes::ByteView(payload_.get() + i * capacity_, std::min(length, capacity_));
}

// --- ReplyBatch ---------------------------------------------------------------

ReplyBatch::ReplyBatch(std::size_t capacity)
    : control_(capacity), to_(capacity), iov_(capacity), headers_(capacity) {}

bool ReplyBatch::add(probes::ByteView reply, const udp::endpoint& to, const DatagramInfo& info) {
  if (size_ == headers_.size()) return false;
  const std::size_t i = size_++;
  to_[i] = to;
  iov_[i] = iovec{const_cast<std::uint8_t*>(reply.data()), reply.size()};
  mmsghdr& h = headers_[i];
  h = mmsghdr{};
  h.msg_hdr.msg_name = to_[i].data();
  h.msg_hdr.msg_namelen = static_cast<socklen_t>(to_[i].size());
  h.msg_hdr.msg_iov = &iov_[i];
  h.msg_hdr.msg_iovlen = 1;
  const std::size_t controllen = write_source_pin(info, to.protocol() == udp::v4(), control_[i].bytes);
  h.msg_hdr.msg_control = controllen != 0 ? control_[i].bytes.data() : nullptr;
  h.msg_hdr.msg_controllen = controllen;
  return true;
}

// --- sendmmsg accounting ------------------------------------------------------

SendProgress send_replies(std::span<mmsghdr> messages, std::size_t& next, const SendMessages& send,
                          const ReplySettled& settled) {
  while (next < messages.size()) {
    int error = 0;
    const int sent = send(messages.subspan(next), error);
    if (sent > 0) {
      const std::size_t count = std::min(static_cast<std::size_t>(sent), messages.size() - next);
      for (std::size_t k = 0; k < count; ++k) {
        const mmsghdr& h = messages[next + k];
        std::size_t want = 0;
        for (std::size_t v = 0; v < h.msg_hdr.msg_iovlen; ++v) want += h.msg_hdr.msg_iov[v].iov_len;
        settled(next + k, h.msg_len == want ? 0 : EMSGSIZE);
      }
      next += count;
      continue;
    }
    if (sent < 0 && error == EINTR) continue;
    if (sent < 0 && (error == EAGAIN || error == EWOULDBLOCK)) return SendProgress::would_block;
    // sendmmsg reports an error only when the first message failed: it is
    // that message's; settle it and go on with the others. (0 sent without an
    // error cannot happen; settling keeps the loop finite regardless.)
    settled(next, sent < 0 && error != 0 ? error : EIO);
    ++next;
  }
  return SendProgress::finished;
}

}  // namespace vpncheck::reflector
