// The I/O half of src/nat/path_hops.h: one UDP socket per TTL towards the
// reflector, each sending a small datagram with that TTL, and the ICMP
// "time exceeded" answers read from the socket's error queue (IP_RECVERR,
// ip(7)), as tracepath does: no privilege needed, no raw socket.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address_v4.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "src/nat/path_hops.h"

namespace vpncheck::nat {

// Each TTL's datagram is sent, and sent again after kHopResend if no answer
// came (a lost one is the rule on busy paths). Only that: routers allow a
// client a handful of ICMP errors a second (Linux: a burst of 6, then one a
// second), and the path-MTU test needs them for "fragmentation needed". The
// trace ends when the hops up to the destination answered, when no new answer
// came for a few round trips of the slowest one (never sooner than 300 ms),
// at `window`, or once `*stop` is set (the run's other work is done: the
// trace never makes a run longer).
inline constexpr std::chrono::milliseconds kHopResend{100};
inline constexpr std::chrono::milliseconds kHopSettleFloor{300};

// `port`: a UDP port the reflector listens on, so the datagram that reaches
// it is taken and dropped, not answered with an ICMP error by its host.
boost::asio::awaitable<std::vector<Hop>> trace_hops(boost::asio::ip::address_v4 destination, std::uint16_t port,
                                                    std::chrono::milliseconds window,
                                                    std::shared_ptr<const bool> stop = nullptr);

}  // namespace vpncheck::nat
