#include "src/nat/socket_errors.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace vpncheck::nat {

std::optional<QueuedError> next_queued_error(int fd) {
  // Skips queued messages that carry no IPv4 extended error.
  for (int i = 0; i < 64; ++i) {
    std::array<std::uint8_t, 64> data{};  // the start of our own datagram: not needed
    alignas(cmsghdr) std::array<char, 512> control{};
    sockaddr_in from{};
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
      if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_RECVERR) continue;
      QueuedError error;
      std::memcpy(&error.info, CMSG_DATA(c), sizeof error.info);
      if (error.info.ee_origin == SO_EE_ORIGIN_ICMP) {
        // The offender's address follows the extended error in the same control message.
        sockaddr_in offender{};
        std::memcpy(&offender, CMSG_DATA(c) + sizeof(sock_extended_err), sizeof offender);
        if (offender.sin_family == AF_INET) {
          Ipv4 address{};
          std::memcpy(address.data(), &offender.sin_addr, 4);
          error.offender = address;
        }
      }
      return error;
    }
  }
  return std::nullopt;
}

}  // namespace vpncheck::nat
