// One probe on the wire: a fresh socket (so a fresh 5-tuple), send, wait for
// a valid answer until the deadline. Everything that can happen on the network
// comes back as an Outcome; nothing throws.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include "probes/bytes.h"
#include "probes/framing.h"
#include "src/run/result.h"

namespace vpncheck::client {

using Clock = std::chrono::steady_clock;

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
  // TCP: the framing the reply comes in (the variant's, probes/framing.h);
  // nullptr: exactly as many raw bytes as were sent (control probes).
  const probes::StreamFraming* stream_framing = nullptr;
  Clock::time_point deadline;
  // Datagrams (UDP, raw IP): send each message again on the retry schedule
  // (src/run/retry.h) until it is answered or the deadline passes, as real
  // clients retransmit; loss then does not read as blocking.
  bool retransmit = true;
  std::chrono::milliseconds retry_unit{250};  // see retry_unit() in src/run/retry.h
  // UDP only: send from this local port if it can be bound (IKE from 500, as
  // real clients do: some NATs and ALGs treat it specially); otherwise from
  // an ephemeral port, and ClientSide::detail says so. 0: ephemeral.
  std::uint16_t source_port = 0;
  // TCP only: when set, the conversation runs inside TLS and the certificate
  // must have this SHA-256 (probes/tls.h form; the reflector's, from its
  // capabilities). Another certificate ends the exchange as invalid_reply
  // with reply_fields tls_intercepted and tls_presented_sha256.
  std::string tls_pin;

  // Optional hooks, all left empty by simple one-request protocols:
  // Once the socket knows its own address: protocols that put it into the
  // probe (IKE's NAT detection, AH's ICV) rebuild `wire` and `is_reply` here.
  std::function<void(const probes::IpPort& local, Exchange&)> on_local_address;
  // After the valid answer to step `step` (0 = `wire`): the next message on
  // the same socket, or nullopt when the exchange is complete (L2TP, NAT-T).
  std::function<std::optional<ExchangeStep>(std::size_t step, probes::ByteView reply)> next_step;
  // After the final valid answer: decoded facts for the report.
  std::function<probes::Fields(probes::ByteView reply)> inspect_reply;

  // UDP only: work sharing the probe's socket, so its 5-tuple (the path
  // walk, src/run/path_walk.h). `companion` starts with the first send and
  // is cancelled when the exchange ends; it sees the socket and the message
  // being sent. `claims_error` is asked about each receive error first (with
  // the socket's descriptor): true when the error was the companion's (an
  // ICMP answer it drew), which then says nothing about the probe.
  std::function<boost::asio::awaitable<void>(boost::asio::ip::udp::socket&, const probes::Bytes& wire)> companion;
  std::function<bool(int fd, const boost::system::error_code&)> claims_error;
  // UDP and raw IP: once the exchange is answered, the protocol's data phase
  // on the same socket (run_data_phase); ClientSide::data holds what happened.
  struct DataPhaseRun {
    const probes::DataPhase* phase = nullptr;
    probes::ProbeToken token;
    probes::RandomFill random;
    // Data keyed by ids the handshake negotiated (DataPacket::flow_key):
    // the key the packets carry, and the one an echo must carry.
    std::uint32_t flow_key = 0;
    std::optional<std::uint32_t> echo_flow_key;
  };
  std::optional<DataPhaseRun> data;
};

// The data phase's schedule: a first burst of kDataBurstSmall small packets
// then kDataBurstFull full-size ones; then on each try of the retry schedule
// while a size has no echo yet, two small packets and, while full size has
// none, two full-size ones (small ones sent after full-size ones tell a box
// that stops all data after a few packets from one that drops only large
// ones). At most kDataMaxPackets.
inline constexpr std::size_t kDataBurstSmall = 2;
inline constexpr std::size_t kDataBurstFull = 2;
inline constexpr std::size_t kDataMaxPackets = 48;

// The IP protocol number of a raw exchange's replies lives in `port`.
// Raw probes need CAP_NET_RAW; without it the outcome is not_permitted
// (its detail: kRawPrivilegeHint, probes/assessment.h).

boost::asio::awaitable<ClientSide> run_exchange(Exchange exchange);

// What a socket error means for a probe (refused, reset, unreachable, timeout, else local_error).
Outcome outcome_of(const boost::system::error_code& ec);
// The wire action is injectable so callers can be tested without a network.
using ExchangeFn = std::function<boost::asio::awaitable<ClientSide>(Exchange)>;

// A TCP connection made as a client that re-dials would: a new attempt (a
// new source port) on the retry schedule while none has connected, the first
// to connect wins and the others are abandoned. A lost SYN or SYN-ACK then
// costs a quarter second, not the kernel's 1 s initial retransmission timeout
// (RFC 6298 §2.1). Ends with the first error that is an answer (refused,
// unreachable), or timed_out at the deadline.
struct TcpConnectResult {
  boost::system::error_code error;
  std::optional<boost::asio::ip::tcp::socket> socket;
  // One try per SYN sent (the kernel's own SYN retransmissions included, at
  // their RFC 6298 times), in ms from `t0`.
  StepAttempts attempts;
};
// An unanswered message on a TCP connection is retransmitted by the kernel,
// not by us: its tries are the first send plus the retransmissions TCP_INFO
// counts, stamped `now_ms` (their own times are not kept).
void add_kernel_retransmissions(boost::asio::ip::tcp::socket& socket, StepAttempts& step, double now_ms);

boost::asio::awaitable<TcpConnectResult> connect_with_retries(boost::asio::ip::tcp::endpoint remote,
                                                              Clock::time_point deadline, Clock::time_point t0,
                                                              std::chrono::milliseconds retry_unit);

}  // namespace vpncheck::client
