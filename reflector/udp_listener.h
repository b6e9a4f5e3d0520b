// UDP listeners: one coroutine per bound (address, port). Each datagram is
// read with recvmsg so the IP header fields the kernel hands over (TTL/hop
// limit, TOS/traffic class, destination address) are observed, then goes
// through the arrival demux; the reply goes back to the observed source from
// the address the datagram arrived on.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>

#include "reflector/services.h"

namespace vpncheck::reflector {

// Asks the kernel for TTL, TOS and the destination address of each datagram.
// Returns an error message, or empty on success.
std::string enable_arrival_info(boost::asio::ip::udp::socket& socket);

// Receives until the socket is closed.
boost::asio::awaitable<void> run_udp_listener(boost::asio::ip::udp::socket& socket, Services& services);

}  // namespace vpncheck::reflector
