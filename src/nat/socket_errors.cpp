#include "src/nat/socket_errors.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace vpncheck::nat {
namespace {

struct RawQueuedError {
  sock_extended_err info{};
  sockaddr_storage offender{};  // ss_family AF_UNSPEC when none came with it
};

// Skips queued messages that carry no extended error of either family.
std::optional<RawQueuedError> next_raw_error(int fd) {
  for (int i = 0; i < 64; ++i) {
    std::array<std::uint8_t, 64> data{};  // the start of our own datagram: not needed
    alignas(cmsghdr) std::array<char, 512> control{};
    sockaddr_storage from{};
    iovec iov{data.data(), data.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    if (::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return std::nullopt;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      const bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
      const bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
      if (!v4 && !v6) continue;
      RawQueuedError error;
      std::memcpy(&error.info, CMSG_DATA(c), sizeof error.info);
      if (error.info.ee_origin == SO_EE_ORIGIN_ICMP || error.info.ee_origin == SO_EE_ORIGIN_ICMP6) {
        // The offender's address follows the extended error in the same control message.
        const auto room = c->cmsg_len - CMSG_LEN(sizeof(sock_extended_err));
        std::memcpy(&error.offender, CMSG_DATA(c) + sizeof(sock_extended_err),
                    std::min<std::size_t>(room, v4 ? sizeof(sockaddr_in) : sizeof(sockaddr_in6)));
      }
      return error;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<QueuedError> next_queued_error(int fd) {
  auto raw = next_raw_error(fd);
  if (!raw) return std::nullopt;
  QueuedError error;
  error.info = raw->info;
  if (raw->offender.ss_family == AF_INET) {
    sockaddr_in offender{};
    std::memcpy(&offender, &raw->offender, sizeof offender);
    Ipv4 address{};
    std::memcpy(address.data(), &offender.sin_addr, 4);
    error.offender = address;
  }
  return error;
}

std::optional<QueuedIcmpError> next_queued_icmp_error(int fd) {
  auto raw = next_raw_error(fd);
  if (!raw) return std::nullopt;
  QueuedIcmpError error;
  error.info = raw->info;
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (raw->offender.ss_family == AF_INET) {
    sockaddr_in offender{};
    std::memcpy(&offender, &raw->offender, sizeof offender);
    if (::inet_ntop(AF_INET, &offender.sin_addr, text.data(), text.size())) error.offender = text.data();
  } else if (raw->offender.ss_family == AF_INET6) {
    sockaddr_in6 offender{};
    std::memcpy(&offender, &raw->offender, sizeof offender);
    if (::inet_ntop(AF_INET6, &offender.sin6_addr, text.data(), text.size())) error.offender = text.data();
  }
  return error;
}

}  // namespace vpncheck::nat
