#include "src/run/exchange.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/basic_raw_socket.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/generic/raw_protocol.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "probes/crypto.h"
#include "probes/ip.h"
#include "src/run/ip_port.h"
#include "src/run/retry.h"
#include "src/run/tls_client.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxReply = 4096;  // an IKE_AUTH-sized answer fits


double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

template <typename Socket>
void record_local(const Socket& socket, ClientSide& side) {
  boost::system::error_code ec;
  auto local = socket.local_endpoint(ec);
  if (!ec) side.local = probes::Endpoint{local.address().to_string(), local.port()};
}

// Moves an exchange on after a valid answer: the next step's bytes, or
// nullopt when done (then the answer's facts are recorded).
std::optional<ExchangeStep> advance(Exchange& ex, ClientSide& side, probes::ByteView reply) {
  ++side.steps_answered;
  if (ex.next_step) {
    if (auto step = ex.next_step(side.steps_answered - 1, reply)) {
      side.later_sent_sha256.push_back(probes::to_hex(probes::sha256(step->wire)));
      return step;
    }
  }
  if (ex.inspect_reply) side.reply_fields = ex.inspect_reply(reply);
  return std::nullopt;
}

void record_sent(probes::ByteView wire, ClientSide& side) {
  side.sent_sha256 = probes::to_hex(probes::sha256(wire));
  side.sent_length = wire.size();
}

// How a raw IPv6 socket differs from the others: the kernel writes the IPv6
// header on send and strips it on receive, while the probe modules build and
// check whole datagrams (probes/ip.h). `header` is the header the reflector's
// replies carry as far as the socket can tell (source = the reflector,
// destination = our bound address); its payload length is set per reply.
struct Ipv6RawFraming {
  probes::ip6::Address reflector{};
  probes::ip6::Address local{};
  std::uint8_t protocol = 0;
};

// Send, retransmit on the retry schedule, and wait for valid answers (step
// after step) on a connected datagram socket: UDP, or raw IP (whose replies
// include the IP header over IPv4; over IPv6 `v6` rebuilds it).
template <typename Socket>
asio::awaitable<ClientSide> datagram_conversation(Socket& socket, Exchange& ex, ClientSide side,
                                                  std::optional<Ipv6RawFraming> v6 = std::nullopt) {
  auto executor = co_await asio::this_coro::executor;
  const auto t0 = Clock::now();
  const std::size_t header = v6 ? probes::ip6::kHeaderSize : 0;
  side.attempts.emplace_back();
  auto send = [&]() -> asio::awaitable<boost::system::error_code> {
    if (ex.wire.size() < header) co_return asio::error::invalid_argument;
    auto [send_ec, n] = co_await socket.async_send(asio::buffer(ex.wire.data() + header, ex.wire.size() - header),
                                                   use_tuple);
    ++side.sends;
    side.attempts.back().sent_ms.push_back(ms_since(t0));
    co_return send_ec;
  };
  if (auto send_ec = co_await send()) {
    side.outcome = outcome_of(send_ec);
    side.detail = send_ec.message();
    co_return side;
  }

  asio::steady_timer timer(executor);
  std::array<std::uint8_t, kMaxReply> buffer{};
  side.outcome = Outcome::timeout;
  auto step_start = t0;
  std::size_t tries = 1;
  bool answer_waiting = false;
  // Answers to earlier messages still arrive once the exchange has moved on
  // (their retransmissions were answered too): duplicates, not invalid answers.
  std::vector<std::function<bool(probes::ByteView)>> earlier_checks;
  while (Clock::now() < ex.deadline) {
    timer.expires_at(ex.retransmit && !answer_waiting
                         ? std::min(step_start + retry_offset(tries, ex.retry_unit), ex.deadline)
                         : ex.deadline);
    answer_waiting = false;
    auto result = co_await (socket.async_receive(asio::buffer(buffer.data() + header, buffer.size() - header),
                                                 use_tuple) ||
                            timer.async_wait(use_tuple));
    if (result.index() == 1) {
      // An answer already waiting was only read late (a busy machine): read
      // it rather than send a try it has answered.
      boost::system::error_code available_ec;
      answer_waiting = socket.available(available_ec) > 0 && !available_ec;
      if (answer_waiting) continue;
      if (ex.retransmit && Clock::now() < ex.deadline) {
        ++tries;
        if (auto send_ec = co_await send()) side.detail = send_ec.message();
      }
      continue;
    }
    auto [recv_ec, n] = std::get<0>(result);
    if (recv_ec && ex.claims_error && ex.claims_error(static_cast<int>(socket.native_handle()), recv_ec)) continue;
    if (recv_ec) {
      side.outcome = outcome_of(recv_ec);
      side.detail = recv_ec.message();
      // ICMP errors can be transient (a retransmission may still pass); keep
      // listening unless the socket itself is broken.
      if (side.outcome == Outcome::local_error) break;
      continue;
    }
    if (v6) {
      // Hop limit and traffic class are not asked for: AH's ICV zeroes them
      // and nothing else on the client compares them.
      auto rebuilt = probes::ip6::datagram(v6->reflector, v6->local, v6->protocol, 0, 0,
                                           probes::ByteView(buffer.data() + header, n));
      std::copy_n(rebuilt.begin(), header, buffer.begin());
    }
    probes::ByteView reply(buffer.data(), n + header);
    if (ex.is_reply(reply)) {
      if (!side.rtt_ms) side.rtt_ms = ms_since(t0);
      side.attempts.back().answered_ms = ms_since(t0);
      auto next = advance(ex, side, reply);
      if (!next) {
        side.outcome = Outcome::reply;
        break;
      }
      // The next message of the exchange, on a retry schedule of its own.
      earlier_checks.push_back(std::move(ex.is_reply));
      ex.wire = std::move(next->wire);
      ex.is_reply = std::move(next->is_reply);
      side.outcome = Outcome::timeout;
      side.attempts.emplace_back();
      step_start = Clock::now();
      tries = 1;
      if (auto send_ec = co_await send()) {
        side.outcome = outcome_of(send_ec);
        side.detail = send_ec.message();
        break;
      }
      continue;
    }
    if (std::any_of(earlier_checks.begin(), earlier_checks.end(), [&](const auto& check) { return check(reply); }))
      continue;
    side.outcome = Outcome::invalid_reply;
  }
  if (side.outcome == Outcome::timeout && side.steps_answered > 0 && side.detail.empty())
    side.detail = "no answer to message " + std::to_string(side.steps_answered + 1) + " of the exchange";
  co_return side;
}

// The socket's DF behaviour as the protocol's real software has it on Linux
// (UDP and raw sockets alike: a raw socket that leaves the header to the
// kernel follows IP_MTU_DISCOVER too).
void set_dont_fragment(int fd, bool v6, probes::DontFragment df) {
  const bool clear = df == probes::DontFragment::clear;
  if (v6) {
    const int value = clear ? IPV6_PMTUDISC_DONT : IPV6_PMTUDISC_WANT;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &value, sizeof value);
  } else {
    const int value = clear ? IP_PMTUDISC_DONT : IP_PMTUDISC_WANT;
    ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &value, sizeof value);
  }
}

// Small and full-size data packets on the handshake's socket (the same
// 5-tuple a tunnel uses), until each size has had an echo or the deadline
// passes. Errors the network reports (an ICMP "fragmentation needed" shows
// as EMSGSIZE on a connected socket, after which the kernel fragments for
// the learnt MTU, as it would for the real software) do not end it.
// On a raw socket the packets are the IP payload: the kernel writes the
// header, an IPv4 socket hands it over with each datagram (stripped here),
// and a host that hears its own raw IP (loopback) reads its own packets
// too, which are not echoes.
template <typename Socket>
asio::awaitable<probes::DataPhaseResult> run_data_phase(Socket& socket, const Exchange& ex) {
  const auto& run = *ex.data;
  const auto& phase = *run.phase;
  const bool v6 = !ex.remote.is_v4();
  const bool raw = ex.transport == probes::Transport::ip;
  probes::DataPhaseResult r;
  r.small_size = phase.small_payload;
  r.full_size = phase.full_payload(ex.transport, v6);
  set_dont_fragment(static_cast<int>(socket.native_handle()), v6, phase.df);
  auto executor = co_await asio::this_coro::executor;
  const auto t0 = Clock::now();
  std::vector<std::array<std::uint8_t, 32>> own;  // raw: digests of what was sent
  auto send = [&](std::size_t size) -> asio::awaitable<void> {
    if (r.sent.size() >= kDataMaxPackets) co_return;
    const auto sequence = static_cast<std::uint32_t>(r.sent.size());
    auto wire = phase.build(run.token, sequence, size, run.flow_key, run.random);
    if (wire.empty()) co_return;
    if (raw) own.push_back(probes::sha256(wire));
    r.sent.push_back({sequence, size, ms_since(t0), false});
    auto [ec, n] = co_await socket.async_send(asio::buffer(wire), use_tuple);
    if (ec && r.detail.empty()) r.detail = "sending a " + std::to_string(size) + "-byte data packet: " + ec.message();
  };
  auto echoed = [&](std::size_t size) {
    return std::any_of(r.sent.begin(), r.sent.end(), [&](const auto& d) { return d.size == size && d.echoed; });
  };
  for (std::size_t i = 0; i < kDataBurstSmall; ++i) co_await send(r.small_size);
  for (std::size_t i = 0; i < kDataBurstFull; ++i) co_await send(r.full_size);

  asio::steady_timer timer(executor);
  std::array<std::uint8_t, kMaxReply> buffer{};
  std::size_t tries = 1;
  bool answer_waiting = false;
  while (Clock::now() < ex.deadline && !(echoed(r.small_size) && echoed(r.full_size))) {
    timer.expires_at(answer_waiting ? ex.deadline : std::min(t0 + retry_offset(tries, ex.retry_unit), ex.deadline));
    answer_waiting = false;
    auto result = co_await (socket.async_receive(asio::buffer(buffer), use_tuple) || timer.async_wait(use_tuple));
    if (result.index() == 1) {
      // An echo already waiting was only read late (a busy machine): read it first.
      boost::system::error_code available_ec;
      answer_waiting = socket.available(available_ec) > 0 && !available_ec;
      if (answer_waiting) continue;
      if (Clock::now() >= ex.deadline) break;
      ++tries;
      // Two of each missing size; while full size is missing, two small ones
      // as well: whether they still pass after the full-size ones decides
      // between "full size is dropped" and "the data stopped".
      const bool full = echoed(r.full_size);
      for (int i = 0; i < 2; ++i) co_await send(r.small_size);
      if (!full)
        for (int i = 0; i < 2; ++i) co_await send(r.full_size);
      continue;
    }
    auto [recv_ec, n] = std::get<0>(result);
    if (recv_ec) {
      // A broken socket ends it; what the network reported (ICMP) does not.
      if (outcome_of(recv_ec) == Outcome::local_error && recv_ec != asio::error::message_size) {
        r.detail = recv_ec.message();
        break;
      }
      continue;
    }
    probes::ByteView got(buffer.data(), n);
    if (raw && !v6) {
      auto payload = probes::ip::payload(got, static_cast<std::uint8_t>(ex.port));
      if (!payload) continue;
      got = *payload;
    }
    if (raw && std::find(own.begin(), own.end(), probes::sha256(got)) != own.end()) continue;
    auto packet = phase.parse(got);
    if (!packet || !(packet->token == run.token) || packet->sequence >= r.sent.size()) continue;
    if (run.echo_flow_key && packet->flow_key != *run.echo_flow_key) continue;
    auto& sent = r.sent[packet->sequence];
    if (sent.size == got.size()) sent.echoed = true;
  }
  co_return r;
}

asio::awaitable<ClientSide> udp_exchange(Exchange ex) {
  ClientSide side;
  auto executor = co_await asio::this_coro::executor;
  asio::ip::udp::socket socket(executor);
  asio::ip::udp::endpoint remote(ex.remote, ex.port);
  boost::system::error_code ec;
  // connect(): replies from anyone else are filtered by the kernel, and ICMP
  // errors surface as receive errors instead of being lost.
  socket.open(remote.protocol(), ec);
  if (!ec && ex.source_port != 0) {
    boost::system::error_code bind_ec;
    // IPv6 only on an IPv6 socket, so an IPv4 probe may hold the same port at once.
    if (remote.protocol() == asio::ip::udp::v6()) socket.set_option(asio::ip::v6_only(true), bind_ec);
    if (!bind_ec) socket.bind(asio::ip::udp::endpoint(remote.protocol(), ex.source_port), bind_ec);
    if (bind_ec) {
      side.detail = "could not send from UDP " + std::to_string(ex.source_port) + " (" + bind_ec.message() +
                    "), used an ephemeral port";
      socket.close(bind_ec);
      socket.open(remote.protocol(), ec);
    }
  }
  if (!ec) socket.connect(remote, ec);
  if (ec) {
    side.outcome = Outcome::local_error;
    side.detail = ec.message();
    co_return side;
  }
  record_local(socket, side);
  if (ex.on_local_address) {
    auto local = socket.local_endpoint(ec);
    if (!ec) ex.on_local_address(ip_port(local.address(), local.port()), ex);
  }
  record_sent(ex.wire, side);

  if (!ex.companion) {
    side = co_await datagram_conversation(socket, ex, std::move(side));
  } else {
    // The companion never ends on its own (it waits to be cancelled), so the
    // conversation's result is always the one that comes back.
    auto companion = ex.companion;
    auto both = co_await (datagram_conversation(socket, ex, std::move(side)) || companion(socket, ex.wire));
    if (both.index() != 0) {
      ClientSide lost;
      lost.outcome = Outcome::local_error;
      lost.detail = "internal error while probing";
      co_return lost;
    }
    side = std::get<0>(std::move(both));
  }
  if (side.outcome == Outcome::reply && ex.data && ex.data->phase != nullptr) side.data = co_await run_data_phase(socket, ex);
  co_return side;
}

// Which source address the kernel picks towards the reflector: a connected
// UDP socket tells without sending anything. The raw probe is then built
// for it (on_local_address) and recorded as sent; nullopt, with the outcome
// set, when there is no route.
std::optional<asio::ip::address> raw_source_address(const asio::any_io_executor& executor, Exchange& ex,
                                                    ClientSide& side) {
  boost::system::error_code ec;
  asio::ip::udp::socket route(executor);
  route.open(ex.remote.is_v4() ? asio::ip::udp::v4() : asio::ip::udp::v6(), ec);
  if (!ec) route.connect({ex.remote, 9}, ec);
  asio::ip::udp::endpoint local;
  if (!ec) local = route.local_endpoint(ec);
  if (ec) {
    side.outcome = outcome_of(ec) == Outcome::unreachable ? Outcome::unreachable : Outcome::local_error;
    side.detail = ec.message();
    return std::nullopt;
  }
  side.local = probes::Endpoint{local.address().to_string(), 0};
  if (ex.on_local_address) ex.on_local_address(ip_port(local.address(), 0), ex);
  record_sent(probes::ip::digest_scope(ex.wire), side);
  return local.address();
}

// Raw IP over IPv6. The module's datagram carries the IPv6 header the kernel
// will write (AH signs it); the socket is bound to that source address and
// connected to the reflector, so the header on the wire matches it in every
// field AH protects, and replies come only from the reflector to us.
asio::awaitable<ClientSide> raw6_exchange(Exchange ex) {
  using raw = asio::generic::raw_protocol;
  ClientSide side;
  auto executor = co_await asio::this_coro::executor;
  boost::system::error_code ec;
  auto local = raw_source_address(executor, ex, side);
  if (!local) co_return side;
  const auto local_v6 = local->to_v6();

  asio::basic_raw_socket<raw> socket(executor);
  socket.open(raw(AF_INET6, ex.port), ec);
  if (ec == asio::error::access_denied || ec == boost::system::errc::operation_not_permitted) {
    side.outcome = Outcome::not_permitted;
    side.detail = std::string(kRawPrivilegeHint);
    co_return side;
  }
  auto sockaddr6 = [](const asio::ip::address_v6& a) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    auto b = a.to_bytes();
    std::memcpy(&sa.sin6_addr, b.data(), b.size());
    sa.sin6_scope_id = a.scope_id();
    return sa;
  };
  sockaddr_in6 from = sockaddr6(local_v6);
  sockaddr_in6 to = sockaddr6(ex.remote.to_v6());
  if (!ec) socket.bind(raw::endpoint(&from, sizeof from, ex.port), ec);
  if (!ec) socket.connect(raw::endpoint(&to, sizeof to, ex.port), ec);
  if (ec) {
    side.outcome = Outcome::local_error;
    side.detail = ec.message();
    co_return side;
  }
  Ipv6RawFraming framing;
  auto remote_bytes = ex.remote.to_v6().to_bytes();
  auto local_bytes = local_v6.to_bytes();
  std::copy(remote_bytes.begin(), remote_bytes.end(), framing.reflector.begin());
  std::copy(local_bytes.begin(), local_bytes.end(), framing.local.begin());
  framing.protocol = static_cast<std::uint8_t>(ex.port);
  side = co_await datagram_conversation(socket, ex, std::move(side), framing);
  if (side.outcome == Outcome::reply && ex.data && ex.data->phase != nullptr) side.data = co_await run_data_phase(socket, ex);
  co_return side;
}

asio::awaitable<ClientSide> raw_exchange(Exchange ex) {
  using raw = asio::generic::raw_protocol;
  ClientSide side;
  auto executor = co_await asio::this_coro::executor;
  if (!ex.remote.is_v4()) co_return co_await raw6_exchange(std::move(ex));
  boost::system::error_code ec;
  if (!raw_source_address(executor, ex, side)) co_return side;

  asio::basic_raw_socket<raw> socket(executor);
  socket.open(raw(AF_INET, ex.port), ec);
  if (ec == asio::error::access_denied || ec == boost::system::errc::operation_not_permitted) {
    side.outcome = Outcome::not_permitted;
    side.detail = std::string(kRawPrivilegeHint);
    co_return side;
  }
  // We write the IP header ourselves: AH's integrity check covers it.
  int one = 1;
  if (!ec && ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_HDRINCL, &one, sizeof one) != 0)
    ec = boost::system::error_code(errno, boost::system::system_category());
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  auto remote_bytes = ex.remote.to_v4().to_bytes();
  std::memcpy(&remote.sin_addr, remote_bytes.data(), remote_bytes.size());
  // connect(): the kernel then hands this socket only datagrams from the reflector.
  if (!ec) socket.connect(raw::endpoint(&remote, sizeof remote, ex.port), ec);
  if (ec) {
    side.outcome = Outcome::local_error;
    side.detail = ec.message();
    co_return side;
  }
  side = co_await datagram_conversation(socket, ex, std::move(side));
  if (side.outcome == Outcome::reply && ex.data && ex.data->phase != nullptr) {
    // The data as real software sends it: the kernel writes the header, so DF
    // follows IP_MTU_DISCOVER and the kernel fragments what DF leaves it to
    // (it never fragments an IP_HDRINCL datagram: EMSGSIZE above the route MTU).
    int off = 0;
    if (::setsockopt(socket.native_handle(), IPPROTO_IP, IP_HDRINCL, &off, sizeof off) == 0)
      side.data = co_await run_data_phase(socket, ex);
  }
  co_return side;
}

// The messages of a TCP exchange on a connected stream (the socket, or TLS
// over it): write, read the answer in the variant's framing, check it, next step.
template <typename Stream>
asio::awaitable<void> stream_conversation(Stream& stream, asio::ip::tcp::socket& socket, Exchange& ex,
                                          ClientSide& side, Clock::time_point t0, asio::steady_timer& timer) {
  auto fail = [&](const boost::system::error_code& ec) {
    side.outcome = outcome_of(ec);
    side.detail = ec.message();
  };
  probes::Bytes stream_buffer;  // bytes read past the last whole message
  auto read_reply = [&]() -> asio::awaitable<std::pair<boost::system::error_code, probes::Bytes>> {
    probes::Bytes reply;
    if (ex.stream_framing == nullptr) {
      reply.resize(ex.wire.size());
      auto [ec, n] = co_await asio::async_read(stream, asio::buffer(reply), use_tuple);
      co_return std::pair{ec, reply};
    }
    // Read until the framing knows the whole message's length, then the rest
    // of it. Bytes the framing calls invalid (or too long) are an invalid
    // reply, reported as such (a single 0xff fails every reply check).
    const probes::StreamFraming& framing = *ex.stream_framing;
    const probes::Bytes invalid{0xff};
    for (;;) {
      auto length = framing.message_length(stream_buffer);
      if (length.status == probes::MessageLength::Status::invalid || length.length > kMaxReply)
        co_return std::pair{boost::system::error_code{}, invalid};
      if (length.status == probes::MessageLength::Status::length && stream_buffer.size() >= length.length) {
        auto message = probes::unframe(framing, probes::ByteView(stream_buffer).first(length.length));
        if (!message) co_return std::pair{boost::system::error_code{}, invalid};
        reply.assign(message->begin(), message->end());
        stream_buffer.erase(stream_buffer.begin(), stream_buffer.begin() + static_cast<std::ptrdiff_t>(length.length));
        co_return std::pair{boost::system::error_code{}, reply};
      }
      const std::size_t want = length.status == probes::MessageLength::Status::length
                                   ? length.length - stream_buffer.size()
                                   : std::size_t{1};
      const std::size_t had = stream_buffer.size();
      stream_buffer.resize(had + want);
      auto [ec, n] = co_await asio::async_read(stream, asio::buffer(stream_buffer.data() + had, want), use_tuple);
      stream_buffer.resize(had + n);
      if (ec) co_return std::pair{ec, reply};
    }
  };

  for (;;) {
    side.attempts.push_back(StepAttempts{{ms_since(t0)}, std::nullopt});
    auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(ex.wire), use_tuple);
    ++side.sends;
    if (write_ec) {
      fail(write_ec);
      co_return;
    }
    auto read = co_await (read_reply() || timer.async_wait(use_tuple));
    if (read.index() == 1) {
      add_kernel_retransmissions(socket, side.attempts.back(), ms_since(t0));
      side.outcome = Outcome::timeout;
      side.detail = side.steps_answered == 0 ? "connected, but no answer to the probe"
                                             : "connected, but no answer to message " +
                                                   std::to_string(side.steps_answered + 1) + " of the exchange";
      co_return;
    }
    auto [read_ec, reply] = std::get<0>(read);
    if (read_ec) {
      fail(read_ec);
      co_return;
    }
    if (!ex.is_reply(reply)) {
      side.outcome = Outcome::invalid_reply;
      co_return;
    }
    if (!side.rtt_ms) side.rtt_ms = ms_since(t0);
    side.attempts.back().answered_ms = ms_since(t0);
    auto next = advance(ex, side, reply);
    if (!next) break;
    ex.wire = std::move(next->wire);
    ex.is_reply = std::move(next->is_reply);
  }
  side.outcome = Outcome::reply;
}

// TLS first (Exchange::tls_pin): the exchange runs only with the reflector's
// own certificate; with anything else nothing of the probe is sent, and what
// was met is reported.
asio::awaitable<void> tls_conversation(asio::ip::tcp::socket socket, Exchange& ex, ClientSide& side,
                                       Clock::time_point t0, asio::steady_timer& timer) {
  auto handshake = co_await tls_handshake(std::move(socket), ex.tls_pin, ex.deadline);
  side.detail = handshake.detail;
  switch (handshake.status) {
    case TlsHandshake::Status::pinned: break;
    case TlsHandshake::Status::intercepted:
      side.outcome = Outcome::invalid_reply;
      side.reply_fields["tls_intercepted"] = "true";
      side.reply_fields["tls_presented_sha256"] = handshake.presented_sha256;
      co_return;
    case TlsHandshake::Status::timed_out: side.outcome = Outcome::timeout; co_return;
    case TlsHandshake::Status::failed:
      // Reset or closed: something cut TLS off. Anything else (an alert,
      // bytes that are not TLS) is an answer that is not the reflector's.
      side.outcome = outcome_of(handshake.error) == Outcome::reset ? Outcome::reset : Outcome::invalid_reply;
      co_return;
  }
  side.detail.clear();
  co_await stream_conversation(*handshake.stream, handshake.stream->next_layer(), ex, side, t0, timer);
}

asio::awaitable<ClientSide> tcp_exchange(Exchange ex) {
  ClientSide side;
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  timer.expires_at(ex.deadline);

  const auto t0 = Clock::now();
  auto connected = co_await connect_with_retries({ex.remote, ex.port}, ex.deadline, t0, ex.retry_unit);
  side.attempts.push_back(std::move(connected.attempts));
  if (connected.error == asio::error::timed_out) {
    side.outcome = Outcome::timeout;
    side.detail = "TCP connection not established";
    co_return side;
  }
  if (connected.error) {
    side.outcome = outcome_of(connected.error);
    side.detail = connected.error.message();
    co_return side;
  }
  asio::ip::tcp::socket socket = std::move(*connected.socket);
  record_local(socket, side);
  socket.set_option(asio::ip::tcp::no_delay(true));
  if (ex.on_local_address) {
    boost::system::error_code ec;
    auto local = socket.local_endpoint(ec);
    if (!ec) ex.on_local_address(ip_port(local.address(), local.port()), ex);
  }
  record_sent(ex.wire, side);
  if (!ex.tls_pin.empty())
    co_await tls_conversation(std::move(socket), ex, side, t0, timer);
  else
    co_await stream_conversation(socket, socket, ex, side, t0, timer);
  co_return side;
}

}  // namespace

Outcome outcome_of(const boost::system::error_code& ec) {
  namespace err = asio::error;
  if (ec == err::connection_refused) return Outcome::refused;
  if (ec == err::connection_reset || ec == err::eof || ec == err::broken_pipe) return Outcome::reset;
  if (ec == err::host_unreachable || ec == err::network_unreachable) return Outcome::unreachable;
  if (ec == err::timed_out || ec == err::operation_aborted) return Outcome::timeout;
  return Outcome::local_error;
}

void add_kernel_retransmissions(asio::ip::tcp::socket& socket, StepAttempts& step, double now_ms) {
  tcp_info info{};
  socklen_t size = sizeof info;
  if (::getsockopt(socket.native_handle(), IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return;
  for (std::uint32_t i = 0; i < info.tcpi_total_retrans && i < 64; ++i) step.sent_ms.push_back(now_ms);
}

namespace {

// The attempts of one connect_with_retries call, shared with each attempt's coroutine.
struct ConnectRace {
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> sockets;
  std::vector<Clock::time_point> started;
  std::optional<asio::ip::tcp::socket> winner;
  std::optional<Clock::time_point> won_at;
  boost::system::error_code answer;  // an error the network answered with (refused, unreachable)
  asio::steady_timer changed;
  explicit ConnectRace(asio::any_io_executor ex) : changed(ex) {}
};

// Whether an attempt has already connected (or failed) and only its handler
// has not run yet, as on a busy machine: then no new attempt is due.
bool settled_unread(const ConnectRace& race) {
  for (const auto& socket : race.sockets) {
    if (!socket->is_open()) continue;
    pollfd pfd{socket->native_handle(), POLLOUT, 0};
    if (::poll(&pfd, 1, 0) > 0) return true;
  }
  return false;
}

asio::awaitable<void> connect_attempt(std::shared_ptr<ConnectRace> race, std::size_t i,
                                      asio::ip::tcp::endpoint remote) {
  auto socket = race->sockets[i];
  auto [ec] = co_await socket->async_connect(remote, use_tuple);
  if (!ec && !race->winner) {
    race->winner.emplace(std::move(*socket));
    race->won_at = Clock::now();
  } else if (ec && ec != asio::error::operation_aborted && !race->answer) {
    race->answer = ec;
  }
  race->changed.cancel();
}

}  // namespace

asio::awaitable<TcpConnectResult> connect_with_retries(asio::ip::tcp::endpoint remote, Clock::time_point deadline,
                                                       Clock::time_point t0, std::chrono::milliseconds retry_unit) {
  auto executor = co_await asio::this_coro::executor;
  auto race = std::make_shared<ConnectRace>(executor);
  const auto start = Clock::now();
  TcpConnectResult out;
  for (;;) {
    const auto now = Clock::now();
    if (race->winner || race->answer || now >= deadline) break;
    if (start + retry_offset(race->sockets.size(), retry_unit) <= now && !settled_unread(*race)) {
      race->sockets.push_back(std::make_shared<asio::ip::tcp::socket>(executor));
      race->started.push_back(now);
      asio::co_spawn(executor, connect_attempt(race, race->sockets.size() - 1, remote), asio::detached);
    }
    // (When an attempt settled unread, a short wait lets its handler run.)
    const auto next_attempt = settled_unread(*race) ? Clock::now() + std::chrono::milliseconds(1)
                                                    : start + retry_offset(race->sockets.size(), retry_unit);
    race->changed.expires_at(std::min(next_attempt, deadline));
    co_await race->changed.async_wait(use_tuple);
  }
  // The losers are abandoned (closing cancels their connects).
  for (auto& socket : race->sockets) {
    boost::system::error_code ignored;
    if (socket->is_open()) socket->close(ignored);
  }
  // One SYN per attempt, plus the kernel's retransmissions of each at 1, 3,
  // 7 s (initial RTO 1 s, doubled: RFC 6298 §2.1, §5.5) while it was pending.
  const auto end = race->won_at.value_or(std::min(Clock::now(), deadline));
  for (auto started : race->started) {
    for (auto offset : {0, 1000, 3000, 7000}) {
      const auto at = started + std::chrono::milliseconds(offset);
      if (offset == 0 || at < end)
        out.attempts.sent_ms.push_back(std::chrono::duration<double, std::milli>(at - t0).count());
    }
  }
  std::sort(out.attempts.sent_ms.begin(), out.attempts.sent_ms.end());
  if (race->winner) {
    out.socket = std::move(race->winner);
    out.attempts.answered_ms = std::chrono::duration<double, std::milli>(*race->won_at - t0).count();
  } else {
    out.error = race->answer ? race->answer : boost::system::error_code(asio::error::timed_out);
  }
  co_return out;
}

asio::awaitable<ClientSide> run_exchange(Exchange exchange) {
  if (exchange.transport == probes::Transport::udp) co_return co_await udp_exchange(std::move(exchange));
  if (exchange.transport == probes::Transport::ip) co_return co_await raw_exchange(std::move(exchange));
  co_return co_await tcp_exchange(std::move(exchange));
}

}  // namespace vpncheck::client
