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

#include "probes/control.h"
#include "probes/registry.h"
#include "reflector/http_session.h"
#include "reflector/stream_conversation.h"

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

// One read_some of at most `max` bytes into `buffer`, waiting at most `wait`.
// On timeout the socket stays open (unlike beast::tcp_stream), so a reply can
// still be written after an idle gap. A parallel group rather than `||`: if
// the read completes in the same instant the timer fires, its bytes are kept.
asio::awaitable<ReadStatus> read_some_for(tcp::socket& socket, beast::flat_buffer& buffer, std::size_t max,
                                          Clock::duration wait) {
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(wait);
  auto [order, read_ec, n, timer_ec] =
      co_await asio::experimental::make_parallel_group(socket.async_read_some(buffer.prepare(max), asio::deferred),
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

// Writes the reply, then closes gracefully: FIN first, then wait (bounded) for
// the peer's FIN so unread bytes do not turn the close into a reset that could
// destroy the reply in flight.
asio::awaitable<bool> reply_and_linger(tcp::socket& socket, const probes::Bytes& reply, Services& s) {
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(s.timeouts.probe_first_bytes);
  auto written = co_await (asio::async_write(socket, asio::buffer(reply), kAwait) || timer.async_wait(kAwait));
  bool ok = written.index() == 0 && !std::get<0>(std::get<0>(written));
  boost::system::error_code ignored;
  if (ok) {
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    auto deadline = Clock::now() + s.timeouts.linger;
    beast::flat_buffer sink;
    for (int i = 0; i < 16 && left(deadline) > Clock::duration::zero(); ++i) {
      sink.clear();
      if (co_await read_some_for(socket, sink, 2048, left(deadline)) != ReadStatus::data) break;
    }
  }
  socket.close(ignored);
  co_return ok;
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One probe arrived whole: through the demux, and its answer back.
asio::awaitable<void> answer_probe(tcp::socket& socket, Arrival arrival, Services& s) {
  arrival.received_at_unix_ms = now_unix_ms();
  ArrivalOutcome outcome = s.arrivals.handle(arrival);
  if (s.log.enabled(LogLevel::debug))
    s.log.debug("tcp/" + std::to_string(arrival.local_port) + ": " + std::to_string(arrival.payload.size()) +
                " B from " + arrival.source.address + ":" + std::to_string(arrival.source.port) + " -> " +
                (outcome.dropped ? "dropped (" + std::string(to_string(*outcome.dropped)) + ")"
                                 : outcome.protocol + ", reply " + std::to_string(outcome.reply.size()) + " B"));
  if (outcome.dropped || outcome.reply.empty()) co_return;
  if (co_await reply_and_linger(socket, outcome.reply, s))
    s.arrivals.reply_sent(outcome);
  else
    s.arrivals.reply_failed(outcome, probes::reply_code::kWriteFailed, "tcp write failed");
}

// A TCP control probe has no length of its own: take what arrives until a
// short idle gap, bounded in size and time.
asio::awaitable<void> serve_control_probe(tcp::socket socket, beast::flat_buffer buffer, std::uint16_t local_port,
                                          probes::Endpoint client, Services& s) {
  Arrival arrival;
  arrival.local_port = local_port;
  arrival.source = client;
  arrival.framing = Framing::raw_stream;
  auto control_deadline = Clock::now() + s.timeouts.control_total;
  while (buffer.size() < kMaxRawStream && left(control_deadline) > Clock::duration::zero()) {
    auto wait = std::min<Clock::duration>(s.timeouts.control_idle, left(control_deadline));
    if (co_await read_some_for(socket, buffer, kMaxRawStream - buffer.size(), wait) != ReadStatus::data) break;
  }
  arrival.payload = view(buffer);
  co_await answer_probe(socket, arrival, s);
}

// A stream `framing` claimed: its first message, delimited by that framing
// (bounded by kMaxStreamMessage and the first-bytes deadline), answered in the
// same framing through the demux.
asio::awaitable<void> serve_framed_probe(tcp::socket socket, beast::flat_buffer buffer, std::uint16_t local_port,
                                         probes::Endpoint client, Clock::time_point deadline,
                                         const probes::StreamFraming& framing, Services& s) {
  const std::string where = "tcp/" + std::to_string(local_port) + " " + std::string(framing.name);
  const std::size_t limit = framing.preamble.size() + framing.header_size + kMaxStreamMessage;
  probes::MessageLength length = probes::first_message_length(framing, view(buffer));
  while (left(deadline) > Clock::duration::zero()) {
    if (length.status == probes::MessageLength::Status::invalid || length.length > limit) break;
    if (length.status == probes::MessageLength::Status::length && buffer.size() >= length.length) break;
    if (buffer.size() >= limit) break;
    const std::size_t want = length.status == probes::MessageLength::Status::length ? length.length - buffer.size()
                                                                                      : limit - buffer.size();
    if (want == 0 || co_await read_some_for(socket, buffer, want, left(deadline)) != ReadStatus::data) break;
    length = probes::first_message_length(framing, view(buffer));
  }
  if (length.status != probes::MessageLength::Status::length || length.length > limit) {
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
  arrival.payload = view(buffer).first(std::min(length.length, buffer.size()));
  co_await answer_probe(socket, arrival, s);
}

// A stream a module converses on (ProtocolModule::server_stream): messages
// in, answers out, until the conversation ends it, or the idle limit or the
// connection's lifetime does.
asio::awaitable<void> serve_conversation(tcp::socket socket, beast::flat_buffer buffer, std::uint16_t local_port,
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
    asio::steady_timer timer(socket.get_executor());
    timer.expires_after(s.timeouts.probe_first_bytes);
    auto written =
        co_await (asio::async_write(socket, asio::buffer(step.reply), kAwait) || timer.async_wait(kAwait));
    bool ok = written.index() == 0 && !std::get<0>(std::get<0>(written));
    if (step.outcome) {
      if (ok)
        s.arrivals.reply_sent(*step.outcome);
      else
        s.arrivals.reply_failed(*step.outcome, probes::reply_code::kWriteFailed, "tcp write failed");
    }
    if (!ok) break;
  }
  if (close) {
    // Like reply_and_linger: FIN first, then wait (bounded) for the peer's, so
    // the last answer is not destroyed by a reset.
    socket.shutdown(tcp::socket::shutdown_send, ec);
    auto deadline = Clock::now() + s.timeouts.linger;
    beast::flat_buffer sink;
    for (int i = 0; i < 16 && left(deadline) > Clock::duration::zero(); ++i) {
      sink.clear();
      if (co_await read_some_for(socket, sink, 2048, left(deadline)) != ReadStatus::data) break;
    }
  }
  socket.close(ec);
}

// ---- which framing claims a stream ----
// A stream the modules' framings (probes::stream_framings) recognise goes to
// the handler for that framing. serve_framed_probe answers one framed message
// and closes, which is all a probe needs; a framing whose streams need more
// than that (a handshake before the first frame) gets a handler of its own in
// claim_framed_stream, chosen by a property of the framing, never by protocol.
using StreamHandler = asio::awaitable<void> (*)(tcp::socket, beast::flat_buffer, std::uint16_t local_port,
                                                probes::Endpoint client, Clock::time_point deadline,
                                                const probes::StreamFraming& framing, Services& s);

struct FramedStreamClaim {
  probes::Sniff sniff = probes::Sniff::not_mine;
  const probes::StreamFraming* framing = nullptr;  // set when sniff == mine
  StreamHandler handler = nullptr;                 // set when sniff == mine
};

FramedStreamClaim claim_framed_stream(probes::ByteView head) {
  const auto claim = probes::claim_stream(head, probes::stream_framings());
  FramedStreamClaim out{claim.sniff, claim.framing, nullptr};
  if (claim.sniff == probes::Sniff::mine) out.handler = serve_framed_probe;
  return out;
}

asio::awaitable<void> serve_connection(tcp::socket socket, std::uint16_t local_port, TcpRole role, Services& s,
                                       [[maybe_unused]] ConnectionSlot slot) {
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) co_return;
  probes::Endpoint client = to_endpoint(remote.address(), remote.port());
  beast::flat_buffer buffer;

  if (!role.probe) {
    co_await serve_http(beast::tcp_stream(std::move(socket)), std::move(buffer), client, s);
    co_return;
  }

  // Which protocol is this stream? The generic kinds first (control probe,
  // HTTP), then the modules' server conversations, then the protocols' own framings decide, reading until one
  // claims the stream or all have refused it.
  auto deadline = Clock::now() + s.timeouts.probe_first_bytes;
  for (;;) {
    probes::ByteView head = view(buffer);
    if (!head.empty() && head[0] == probes::control::kRequestMarker) {
      co_await serve_control_probe(std::move(socket), std::move(buffer), local_port, client, s);
      co_return;
    }
    if (head.size() >= kSniffBytes && looks_like_http(head)) {
      if (!role.control) {
        s.arrivals.count_drop(DropReason::unrecognised);
        s.log.debug("tcp/" + std::to_string(local_port) + ": HTTP on a probe-only port -> dropped (unrecognised)");
        co_return;
      }
      co_await serve_http(beast::tcp_stream(std::move(socket)), std::move(buffer), client, s);
      co_return;
    }
    if (head.size() >= kSniffBytes) {
      if (const auto* module = conversation_for(head)) {
        co_await serve_conversation(std::move(socket), std::move(buffer), local_port, client, deadline, *module, s);
        co_return;
      }
    }
    const auto claim = claim_framed_stream(head);
    if (claim.sniff == probes::Sniff::mine) {
      co_await claim.handler(std::move(socket), std::move(buffer), local_port, client, deadline, *claim.framing, s);
      co_return;
    }
    // Refused by every framing, and enough bytes that HTTP and the conversations were asked too.
    if (claim.sniff == probes::Sniff::not_mine && head.size() >= kSniffBytes) break;
    if (buffer.size() >= kMaxRawStream || left(deadline) <= Clock::duration::zero()) break;
    if (co_await read_some_for(socket, buffer, kMaxRawStream - buffer.size(), left(deadline)) != ReadStatus::data)
      break;
  }
  if (buffer.size() == 0) co_return;  // connected and said nothing (or port scan)
  s.arrivals.count_drop(DropReason::unrecognised);
  if (s.log.enabled(LogLevel::debug)) {
    const auto head = view(buffer);
    s.log.debug("tcp/" + std::to_string(local_port) + ": stream starting " +
                probes::to_hex(head.first(std::min<std::size_t>(head.size(), 8))) +
                " claimed by no protocol -> dropped (unrecognised)");
  }
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
