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

// One message of a multi-message exchange and the check its answer must pass.
struct ExchangeStep {
  probes::Bytes wire;
  std::function<bool(probes::ByteView)> is_reply;
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
  // UDP only: send from this local port if it can be bound (IKE from 500, as
  // real clients do: some NATs and ALGs treat it specially); otherwise from
  // an ephemeral port, and ClientSide::detail says so. 0: ephemeral.
  std::uint16_t source_port = 0;

  // Optional hooks, all left empty by simple one-request protocols:
  // Once the socket knows its own address: protocols that put it into the
  // probe (IKE's NAT detection, AH's ICV) rebuild `wire` and `is_reply` here.
  std::function<void(const probes::IpPort& local, Exchange&)> on_local_address;
  // After the valid answer to step `step` (0 = `wire`): the next message on
  // the same socket, or nullopt when the exchange is complete (L2TP, NAT-T).
  std::function<std::optional<ExchangeStep>(std::size_t step, probes::ByteView reply)> next_step;
  // After the final valid answer: decoded facts for the report.
  std::function<probes::Fields(probes::ByteView reply)> inspect_reply;
};

// The IP protocol number of a raw exchange's replies lives in `port`.
// Raw probes need CAP_NET_RAW; without it the outcome is not_permitted.
inline constexpr std::string_view kRawPrivilegeHint =
    "raw IP probes need CAP_NET_RAW: run as root, or grant it once with "
    "'sudo setcap cap_net_raw+ep \"$(command -v vpncheck)\"'";

boost::asio::awaitable<ClientSide> run_exchange(Exchange exchange);

}  // namespace vpncheck::client
