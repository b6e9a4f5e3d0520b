// One probe on the wire: a fresh socket (so a fresh 5-tuple), send, wait for
// a valid answer until the deadline. Everything that can happen on the network
// comes back as an Outcome; nothing throws.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "probes/bytes.h"
#include "src/run/result.h"

namespace vpncheck::client {

using Clock = std::chrono::steady_clock;

enum class StreamReply {
  length_prefixed,  // 2-byte big-endian length then the message (OpenVPN over TCP)
  same_size_raw,    // exactly as many bytes as were sent (control probes)
};

struct Exchange {
  probes::Transport transport = probes::Transport::udp;
  boost::asio::ip::address remote;
  std::uint16_t port = 0;
  probes::Bytes wire;  // exactly what goes on the socket (framed on TCP)
  std::function<bool(probes::ByteView)> is_reply;  // sees the unframed reply
  StreamReply stream_reply = StreamReply::length_prefixed;
  Clock::time_point deadline;
  // UDP only: send once more at this time if no valid answer has come yet,
  // as real clients retransmit; loss then does not read as blocking.
  std::optional<Clock::time_point> retransmit_at;
};

boost::asio::awaitable<ClientSide> run_exchange(Exchange exchange);

}  // namespace vpncheck::client
