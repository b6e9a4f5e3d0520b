// UDP listeners: one coroutine per bound (address, port). Each wakeup reads
// up to 64 waiting datagrams with one recvmmsg (reflector/udp_batch.h), with
// the IP header fields the kernel hands over (TTL/hop limit, TOS/traffic
// class, destination address) for each; each goes through the arrival demux,
// and the replies go back with one sendmmsg, each to its observed source from
// the address its datagram arrived on.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>

#include "reflector/services.h"

namespace vpncheck::reflector {

// The kernel's per-datagram facts, from the control messages of recvmsg.
struct DatagramInfo {
  std::optional<int> ttl;
  std::optional<int> tos;
  std::optional<in_pktinfo> pktinfo4;
  std::optional<in6_pktinfo> pktinfo6;
  // IP_RECVFRAGSIZE (sockets that enable it): the largest IP fragment a
  // reassembled datagram arrived in; unset when it arrived whole.
  std::optional<int> largest_fragment;
};

// One datagram read by receive_datagram: its length in the caller's buffer
// (the bytes beyond the buffer are lost when `truncated`), its source, its facts.
struct ReceivedDatagram {
  std::size_t length = 0;
  bool truncated = false;
  boost::asio::ip::udp::endpoint from;
  DatagramInfo info;
};

// Reads one waiting datagram with recvmsg without blocking, for every UDP
// receiver of the reflector (probe listeners, NAT test service). nullopt when
// none is waiting or the read failed; `error` is then the errno (EAGAIN when
// simply nothing was waiting).
std::optional<ReceivedDatagram> receive_datagram(boost::asio::ip::udp::socket& socket, std::span<std::uint8_t> buffer,
                                                 std::span<char> control, int& error);

// The address the datagram was sent to: from IP_PKTINFO / IPV6_PKTINFO on a
// wildcard socket, else the socket's own address; nullopt when unknown.
std::optional<std::string> destination_of(const DatagramInfo& info, const boost::asio::ip::udp::socket& socket);

// Asks the kernel for TTL, TOS and the destination address of each datagram.
// Returns an error message, or empty on success.
std::string enable_arrival_info(boost::asio::ip::udp::socket& socket);

// Receives until the socket is closed.
boost::asio::awaitable<void> run_udp_listener(boost::asio::ip::udp::socket& socket, Services& services);

}  // namespace vpncheck::reflector
