#include "reflector/tcp_listener.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <array>
#include <chrono>
#include <string_view>
#include <type_traits>

#include "probes/control.h"
#include "probes/tls.h"
#include "probes/registry.h"
#include "reflector/http_session.h"
#include "reflector/stream_conversation.h"
#include "reflector/tls_acceptor.h"

namespace vpncheck::reflector {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kSniffBytes = 4;  // enough for "GET " / "POST" / a conversation's sniff

enum class ReadStatus { data, timeout, closed };

// The handlers below are templates over the stream: they serve a plain one
// (the socket) and one inside TLS (TlsStream, reflector/tls_acceptor.h) alike.
//
// One read_some of at most `max` bytes into `buffer`, waiting at most `wait`.
// On timeout the socket stays open (unlike beast::tcp_stream), so a reply can
// still be written after an idle gap. A parallel group rather than `||`: if
// the read completes in the same instant the timer fires, its bytes are kept.
template <typename Stream>
asio::awaitable<ReadStatus> read_some_for(Stream& stream, beast::flat_buffer& buffer, std::size_t max,
                                          Clock::duration wait) {
  asio::steady_timer timer(stream.get_executor());
  timer.expires_after(wait);
  auto [order, read_ec, n, timer_ec] =
      co_await asio::experimental::make_parallel_group(stream.async_read_some(buffer.prepare(max), asio::deferred),
                                                       timer.async_wait(asio::deferred))
          .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
  buffer.commit(n);
  if (n > 0) co_return ReadStatus::data;
  if (order[0] == 1) co_return ReadStatus::timeout;
  co_return read_ec ? ReadStatus::closed : ReadStatus::data;
}

probes::ByteView view(const beast::flat_buffer& buffer) {
  auto data = buffer.data();
  return {static_cast<const std::uint8_t*>(data.data()), data.size()};
}

Clock::duration left(Clock::time_point deadline) {
  auto now = Clock::now();
  return deadline > now ? deadline - now : Clock::duration::zero();
}

// Ends a stream gracefully: FIN first, then wait (bounded) for the peer's FIN
// so unread bytes do not turn the close into a reset that could destroy the
// reply in flight.
asio::awaitable<void> close_gracefully(tcp::socket& socket, Services& s) {
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  auto deadline = Clock::now() + s.timeouts.linger;
  beast::flat_buffer sink;
  for (int i = 0; i < 16 && left(deadline) > Clock::duration::zero(); ++i) {
    sink.clear();
    if (co_await read_some_for(socket, sink, 2048, left(deadline)) != ReadStatus::data) break;
  }
  socket.close(ignored);
}

// Inside TLS: close_notify first (RFC 8446 §6.1), then the same for TCP.
// async_shutdown also waits for the peer's close_notify, which clients that
// simply close never send: bounded by the same linger.
asio::awaitable<void> close_gracefully(TlsStream& stream, Services& s) {
  asio::steady_timer timer(stream.get_executor());
  timer.expires_after(s.timeouts.linger);
  co_await (stream.async_shutdown(kAwait) || timer.async_wait(kAwait));
  boost::system::error_code ignored;
  stream.next_layer().shutdown(tcp::socket::shutdown_send, ignored);
  stream.next_layer().close(ignored);
}

// Writes `reply`, bounded by the first-bytes timeout; true when it went out whole.
template <typename Stream>
asio::awaitable<bool> write_reply(Stream& stream, const probes::Bytes& reply, Services& s) {
  asio::steady_timer timer(stream.get_executor());
  timer.expires_after(s.timeouts.probe_first_bytes);
  auto written = co_await (asio::async_write(stream, asio::buffer(reply), kAwait) || timer.async_wait(kAwait));
  co_return written.index() == 0 && !std::get<0>(std::get<0>(written));
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One probe message arrived whole: through the demux, and its answer back;
// after the answer the stream ends unless `more` (another message of the
// same stream is to come). True when the stream goes on.
template <typename Stream>
asio::awaitable<bool> answer_probe(Stream& stream, Arrival arrival, Services& s, bool more = false) {
  arrival.received_at_unix_ms = now_unix_ms();
  ArrivalOutcome outcome = s.arrivals.handle(arrival);
  if (s.log.enabled(LogLevel::debug))
    s.log.debug("tcp/" + std::to_string(arrival.local_port) + ": " + std::to_string(arrival.payload.size()) +
                " B from " + arrival.source.address + ":" + std::to_string(arrival.source.port) + " -> " +
                (outcome.dropped ? "dropped (" + std::string(to_string(*outcome.dropped)) + ")"
                                 : outcome.protocol + ", reply " + std::to_string(outcome.reply.size()) + " B"));
  if (outcome.dropped || outcome.reply.empty()) co_return false;
  const bool ok = co_await write_reply(stream, outcome.reply, s);
  if (ok)
    s.arrivals.reply_sent(outcome);
  else
    s.arrivals.reply_failed(outcome, probes::reply_code::kWriteFailed, "tcp write failed");
  if (ok && more) co_return true;
  if (ok) co_await close_gracefully(stream, s);
  co_return false;
}

// A TCP control probe has no length of its own: take what arrives until a
// short idle gap, bounded in size and time.
template <typename Stream>
asio::awaitable<void> serve_control_probe(Stream& stream, beast::flat_buffer buffer, std::uint16_t local_port,
                                          probes::Endpoint client, Services& s) {
  Arrival arrival;
  arrival.local_port = local_port;
  arrival.source = client;
  arrival.framing = Framing::raw_stream;
  auto control_deadline = Clock::now() + s.timeouts.control_total;
  while (buffer.size() < kMaxRawStream && left(control_deadline) > Clock::duration::zero()) {
    auto wait = std::min<Clock::duration>(s.timeouts.control_idle, left(control_deadline));
    if (co_await read_some_for(stream, buffer, kMaxRawStream - buffer.size(), wait) != ReadStatus::data) break;
  }
  arrival.payload = view(buffer);
  co_await answer_probe(stream, arrival, s);
}

// A stream `framing` claimed: its messages, delimited by that framing
// (each bounded by kMaxStreamMessage and the first-bytes deadline), answered
// in the same framing through the demux, up to the framing's
// messages_per_stream; after the last answer (or the first message that is
// not answered) the stream ends.
template <typename Stream>
asio::awaitable<void> serve_framed_probe(Stream& stream, beast::flat_buffer buffer, std::uint16_t local_port,
                                         probes::Endpoint client, Clock::time_point deadline,
                                         const probes::StreamFraming& framing, Services& s) {
  const std::string where = "tcp/" + std::to_string(local_port) + " " + std::string(framing.name);
  const std::size_t messages = std::max<std::size_t>(framing.messages_per_stream, 1);
  for (std::size_t i = 0; i < messages; ++i) {
    const bool first = i == 0;
    auto measure = [&] {
      return first ? probes::first_message_length(framing, view(buffer)) : framing.message_length(view(buffer));
    };
    const std::size_t limit = (first ? framing.preamble.size() : 0) + framing.header_size + kMaxStreamMessage;
    probes::MessageLength length = measure();
    while (left(deadline) > Clock::duration::zero()) {
      if (length.status == probes::MessageLength::Status::invalid || length.length > limit) break;
      if (length.status == probes::MessageLength::Status::length && buffer.size() >= length.length) break;
      if (buffer.size() >= limit) break;
      const std::size_t want = length.status == probes::MessageLength::Status::length ? length.length - buffer.size()
                                                                                        : limit - buffer.size();
      if (want == 0 || co_await read_some_for(stream, buffer, want, left(deadline)) != ReadStatus::data) break;
      length = measure();
    }
    if (length.status != probes::MessageLength::Status::length || length.length > limit) {
      // A later message that never came: the client went away, nothing to count.
      if (!first && buffer.size() == 0) co_return;
      s.arrivals.count_drop(DropReason::bad_frame);
      s.log.debug(where + ": " + (length.status == probes::MessageLength::Status::need_more
                                      ? std::string("frame incomplete")
                                      : "frame of " + std::to_string(length.length) + " B") +
                  " -> dropped (bad_frame)");
      co_return;
    }
    Arrival arrival;
    arrival.local_port = local_port;
    arrival.source = client;
    arrival.framing = Framing::framed_stream;
    arrival.stream_framing = &framing;
    arrival.later_in_stream = !first;
    arrival.payload = view(buffer).first(std::min(length.length, buffer.size()));
    if (!co_await answer_probe(stream, arrival, s, i + 1 < messages)) co_return;
    buffer.consume(length.length);
    deadline = Clock::now() + s.timeouts.probe_first_bytes;
  }
}

// A stream a module converses on (ProtocolModule::server_stream): messages
// in, answers out, until the conversation ends it, or the idle limit or the
// connection's lifetime does.
asio::awaitable<void> serve_conversation(tcp::socket& socket, beast::flat_buffer buffer, std::uint16_t local_port,
                                         probes::Endpoint client, Clock::time_point first_message_deadline,
                                         const probes::ProtocolModule& module, Services& s) {
  boost::system::error_code ec;
  auto local = socket.local_endpoint(ec);
  StreamConversation conversation(
      module, [&s](const Arrival& arrival) { return s.arrivals.handle(arrival); }, local_port, client,
      ec ? std::nullopt : std::optional<std::string>(to_endpoint(local.address(), 0).address));
  const auto end = Clock::now() + s.timeouts.conversation_total;
  const std::string where = "tcp/" + std::to_string(local_port) + " " + std::string(module.id) + " " +
                            client.address + ":" + std::to_string(client.port);
  bool close = false;
  while (!close && left(end) > Clock::duration::zero()) {
    auto step = conversation.on_bytes(view(buffer), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                        std::chrono::system_clock::now().time_since_epoch())
                                                        .count());
    close = step.close;
    if (step.consumed == 0 && !step.close) {
      // Until a message names a session the peer is nobody: it gets what any
      // probe gets for its first bytes, not the idle allowance of a
      // conversation in progress.
      const auto limit = conversation.named() ? end : std::min(first_message_deadline, end);
      auto wait = std::min<Clock::duration>(s.timeouts.conversation_idle, left(limit));
      if (wait <= Clock::duration::zero()) break;
      if (co_await read_some_for(socket, buffer, 512, wait) != ReadStatus::data) break;
      continue;
    }
    buffer.consume(step.consumed);
    if (s.log.enabled(LogLevel::debug))
      s.log.debug(where + ": " + std::to_string(step.consumed) + " B, reply " + std::to_string(step.reply.size()) +
                  " B" + (step.close ? ", closing" : ""));
    if (step.reply.empty()) continue;
    const bool ok = co_await write_reply(socket, step.reply, s);
    if (step.outcome) {
      if (ok)
        s.arrivals.reply_sent(*step.outcome);
      else
        s.arrivals.reply_failed(*step.outcome, probes::reply_code::kWriteFailed, "tcp write failed");
    }
    if (!ok) break;
  }
  // The last answer must not be destroyed by a reset.
  if (close) co_await close_gracefully(socket, s);
  socket.close(ec);
}

// ---- which protocol a stream is ----
// A stream the modules' framings (probes::stream_framings) recognise goes to
// serve_framed_probe, which answers as many messages as the framing says
// (StreamFraming::messages_per_stream): a property of the framing, never a
// protocol's name. When the reflector offers TLS (Services::tls), a stream
// that opens with a TLS ClientHello is first taken out of TLS with the
// reflector's certificate; inside, the same questions are asked of the
// framings of TLS-wrapped variants only (probes::stream_framings(true)).
template <typename Stream>
asio::awaitable<void> serve_stream(Stream& stream, beast::flat_buffer buffer, std::uint16_t local_port,
                                   probes::Endpoint client, TcpRole role, Services& s);

// The TLS handshake on a stream whose first bytes (`head`, already read) are
// a ClientHello, then the stream inside it.
asio::awaitable<void> serve_tls(tcp::socket socket, beast::flat_buffer head, std::uint16_t local_port,
                                probes::Endpoint client, TcpRole role, Services& s) {
  std::string error;
  auto tls = co_await accept_tls(std::move(socket), view(head), *s.tls, s.timeouts.probe_first_bytes, error);
  if (!tls) {
    s.arrivals.count_drop(DropReason::unrecognised);
    s.log.debug("tcp/" + std::to_string(local_port) + ": " + error + " -> dropped (unrecognised)");
    co_return;
  }
  co_await serve_stream(*tls, beast::flat_buffer{}, local_port, client, role, s);
}

template <typename Stream>
asio::awaitable<void> serve_stream(Stream& stream, beast::flat_buffer buffer, std::uint16_t local_port,
                                   probes::Endpoint client, TcpRole role, Services& s) {
  constexpr bool inside_tls = std::is_same_v<Stream, TlsStream>;
  const auto framings = probes::stream_framings(inside_tls);
  // Which protocol is this stream? The generic kinds first (control probe,
  // TLS, HTTP), then the modules' server conversations, then the protocols'
  // own framings decide, reading until one claims the stream or all have
  // refused it. Inside TLS only the control probe, the control API when the
  // operator's certificate is offered for it (Services::control_tls), and the
  // framings of TLS-wrapped variants: conversations are plain TCP.
  auto deadline = Clock::now() + s.timeouts.probe_first_bytes;
  for (;;) {
    probes::ByteView head = view(buffer);
    if (!head.empty() && head[0] == probes::control::kRequestMarker) {
      co_await serve_control_probe(stream, std::move(buffer), local_port, client, s);
      co_return;
    }
    if constexpr (!inside_tls) {
      if (s.tls != nullptr && head.size() >= probes::tls::kSniffBytes && probes::tls::looks_like_tls(head)) {
        co_await serve_tls(std::move(stream), std::move(buffer), local_port, client, role, s);
        co_return;
      }
      if (head.size() >= kSniffBytes && looks_like_http(head)) {
        if (!role.control) {
          s.arrivals.count_drop(DropReason::unrecognised);
          s.log.debug("tcp/" + std::to_string(local_port) + ": HTTP on a probe-only port -> dropped (unrecognised)");
          co_return;
        }
        co_await serve_http(beast::tcp_stream(std::move(stream)), std::move(buffer), client, s);
        co_return;
      }
      if (head.size() >= kSniffBytes) {
        if (const auto* module = conversation_for(head)) {
          co_await serve_conversation(stream, std::move(buffer), local_port, client, deadline, *module, s);
          co_return;
        }
      }
    }
    if constexpr (inside_tls) {
      if (s.control_tls && role.control && head.size() >= kSniffBytes && looks_like_http(head)) {
        co_await serve_http(stream, std::move(buffer), client, s);
        co_return;
      }
    }
    const auto claim = probes::claim_stream(head, framings);
    if (claim.sniff == probes::Sniff::mine) {
      co_await serve_framed_probe(stream, std::move(buffer), local_port, client, deadline, *claim.framing, s);
      co_return;
    }
    // Refused by every framing, and enough bytes that the generic kinds and the conversations were asked too.
    if (claim.sniff == probes::Sniff::not_mine && head.size() >= kSniffBytes) break;
    if (buffer.size() >= kMaxRawStream || left(deadline) <= Clock::duration::zero()) break;
    if (co_await read_some_for(stream, buffer, kMaxRawStream - buffer.size(), left(deadline)) != ReadStatus::data)
      break;
  }
  if (buffer.size() == 0) co_return;  // connected and said nothing (or port scan)
  s.arrivals.count_drop(DropReason::unrecognised);
  if (s.log.enabled(LogLevel::debug)) {
    const auto head = view(buffer);
    s.log.debug("tcp/" + std::to_string(local_port) + (inside_tls ? " (inside TLS)" : "") + ": stream starting " +
                probes::to_hex(head.first(std::min<std::size_t>(head.size(), 8))) +
                " claimed by no protocol -> dropped (unrecognised)");
  }
}

asio::awaitable<void> serve_connection(tcp::socket socket, std::uint16_t local_port, TcpRole role, Services& s,
                                       [[maybe_unused]] ConnectionSlot slot) {
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) co_return;
  probes::Endpoint client = to_endpoint(remote.address(), remote.port());
  beast::flat_buffer buffer;

  if (!role.probe) {
    // The control API's own port: plain HTTP, or inside TLS when the operator
    // gave a certificate; the first bytes tell which.
    if (s.control_tls && s.tls != nullptr) {
      auto deadline = Clock::now() + s.timeouts.http;
      while (buffer.size() < probes::tls::kSniffBytes && left(deadline) > Clock::duration::zero())
        if (co_await read_some_for(socket, buffer, probes::tls::kSniffBytes - buffer.size(), left(deadline)) !=
            ReadStatus::data)
          co_return;
      if (probes::tls::looks_like_tls(view(buffer))) {
        std::string error;
        auto tls = co_await accept_tls(std::move(socket), view(buffer), *s.tls, s.timeouts.http, error);
        if (!tls) {
          s.log.debug("tcp/" + std::to_string(local_port) + ": control API " + error);
          co_return;
        }
        co_await serve_http(*tls, beast::flat_buffer{}, client, s);
        co_return;
      }
    }
    co_await serve_http(beast::tcp_stream(std::move(socket)), std::move(buffer), client, s);
    co_return;
  }
  co_await serve_stream(socket, std::move(buffer), local_port, client, role, s);
}

}  // namespace

// What a control API connection refused for want of a slot gets (a fixed
// 503 with the API's {"error": ...} body).
constexpr std::string_view kBusyAnswer =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 40\r\n"
    "Connection: close\r\n\r\n{\"error\":\"all connection slots in use\"}\n";

bool looks_like_http(probes::ByteView head) {
  static constexpr std::array<std::string_view, 6> kMethods{"GET ", "POST", "HEAD", "PUT ", "DELE", "OPTI"};
  if (head.size() < kSniffBytes) return false;
  std::string_view start(reinterpret_cast<const char*>(head.data()), kSniffBytes);
  for (auto m : kMethods)
    if (start == m) return true;
  return false;
}

asio::awaitable<void> run_tcp_listener(tcp::acceptor& acceptor, TcpRole role, Services& s) {
  auto executor = co_await asio::this_coro::executor;
  boost::system::error_code ec;
  const std::uint16_t port = acceptor.local_endpoint(ec).port();
  while (acceptor.is_open()) {
    auto [aec, socket] = co_await acceptor.async_accept(kAwait);
    if (aec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (aec) {
      // e.g. EMFILE: back off briefly instead of spinning.
      s.log.warn("tcp/" + std::to_string(port) + ": accept failed: " + aec.message());
      asio::steady_timer pause(executor, std::chrono::milliseconds(100));
      co_await pause.async_wait(kAwait);
      continue;
    }
    auto remote = socket.remote_endpoint(ec);
    if (ec) continue;  // gone already
    const std::string address = to_endpoint(remote.address(), 0).address;
    std::string client = client_key(address);
    const bool control_only = role.control && !role.probe;
    const std::size_t pool =
        control_only ? s.max_connections : s.max_connections - std::min(s.control_reserve, s.max_connections);
    auto mine = s.connections_by_client.find(client);
    const bool client_full = mine != s.connections_by_client.end() && mine->second >= s.max_connections_per_client;
    if (s.active_connections >= pool || client_full) {
      s.log.debug("tcp/" + std::to_string(port) + ": " + (client_full ? "per-client" : "connection") +
                  " limit reached, refusing");
      // Nothing is read, so no session is known: the source address is, and
      // the sessions from it are told (their observations' `limits`).
      if (s.refusals != nullptr) s.refusals->record(address, port);
      // A control API client is told in words it understands (vpncheck:
      // "reflector busy"); best effort, the socket's buffer is empty. Not on
      // a port shared with probes: a probe must not take HTTP for an answer.
      if (control_only) {
        socket.non_blocking(true, ec);
        socket.write_some(asio::buffer(kBusyAnswer), ec);
      }
      socket.close(ec);
      continue;
    }
    asio::co_spawn(executor, serve_connection(std::move(socket), port, role, s, ConnectionSlot(s, std::move(client))),
                   asio::detached);
  }
}

}  // namespace vpncheck::reflector
