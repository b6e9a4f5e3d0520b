#include "reflector/http_session.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <type_traits>

namespace vpncheck::reflector {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr int kMaxRequestsPerConnection = 100;

// The requests of one connection, whatever carries them; `expire_after(d)`
// bounds what follows (the next request, or an answer's write) to `d`.
// `server` is the connection's local end, published in a new session's answer.
template <typename Stream, typename ExpireAfter>
asio::awaitable<void> serve_requests(Stream& stream, beast::flat_buffer& buffer, const probes::Endpoint& client,
                                     const std::optional<probes::Endpoint>& server, Services& services,
                                     ExpireAfter expire_after) {
  for (int served = 0; served < kMaxRequestsPerConnection; ++served) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxRequestHeader);
    parser.body_limit(kMaxRequestBody);
    // One deadline for the whole request: a slow client cannot trickle it in.
    expire_after(services.timeouts.http);

    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kAwait);
    if (!ec && !parser.is_done()) {
      if (parser.get()[http::field::expect] == "100-continue") {
        http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
        auto [wec, wn] = co_await http::async_write(stream, cont, kAwait);
        if (wec) break;
      }
      std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kAwait);
    }
    if (ec) {
      // Closed or timed out between requests: nothing to answer.
      if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
          ec == asio::error::bad_descriptor || ec == asio::ssl::error::stream_truncated)
        break;
      http::status status = ec == http::error::body_limit     ? http::status::payload_too_large
                            : ec == http::error::header_limit ? http::status::request_header_fields_too_large
                                                              : http::status::bad_request;
      services.log.debug("control: malformed request (" + ec.message() + ")");
      auto res = error_response(status, "malformed request: " + ec.message());
      expire_after(services.timeouts.http);
      co_await http::async_write(stream, res, kAwait);
      break;
    }

    const HttpRequest& request = parser.get();
    HttpResponse res = services.control.handle(request, client, server, std::is_same_v<Stream, TlsStream>);
    if (services.log.enabled(LogLevel::debug))
      services.log.debug("control: " + std::string(request.method_string()) + " " +
                         std::string(request.target()) + " -> " + std::to_string(res.result_int()) +
                         " from " + client.address + ":" + std::to_string(client.port));
    // Session ids only at debug: with the log, an id ties a client's requests together.
    const bool debug = services.log.enabled(LogLevel::debug);
    auto id_from = [&](const std::string& path) { return debug ? path.substr(kSessionsPrefix.size()) + " " : ""; };
    if (res.result() == http::status::created)
      services.log.info("session " + id_from(std::string(res[http::field::location])) + "opened (" +
                        std::to_string(services.sessions.size()) + " live)");
    else if (res.result() == http::status::no_content)
      services.log.info("session " + id_from(std::string(request.target())) + "closed by client");

    expire_after(services.timeouts.http);
    auto [wec, wn] = co_await http::async_write(stream, res, kAwait);
    if (wec || !res.keep_alive()) break;
  }
}

std::optional<probes::Endpoint> local_end(const asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  const auto local = socket.local_endpoint(ec);
  if (ec) return std::nullopt;
  return to_endpoint(local.address(), local.port());
}

}  // namespace

asio::awaitable<void> serve_http(beast::tcp_stream stream, beast::flat_buffer buffer, probes::Endpoint client,
                                 Services& services) {
  const auto server = local_end(stream.socket());  // named: see the TLS serve_http below
  co_await serve_requests(stream, buffer, client, server, services,
                          [&stream](std::chrono::steady_clock::duration d) { stream.expires_after(d); });
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream.close();
}

asio::awaitable<void> serve_http(TlsStream& stream, beast::flat_buffer buffer, probes::Endpoint client,
                                 Services& services) {
  // TLS over a bare socket has no expiry of its own: a timer closes the
  // socket when the time is up, which ends whatever operation waits on it.
  auto& socket = stream.next_layer();
  asio::steady_timer expiry(stream.get_executor());
  auto expire_after = [&](std::chrono::steady_clock::duration d) {
    expiry.expires_after(d);
    expiry.async_wait([&socket](const boost::system::error_code& ec) {
      if (ec) return;  // re-armed, or the connection ended first
      boost::system::error_code ignored;
      socket.close(ignored);
    });
  };
  // Named, not a temporary in the co_await expression: GCC 12 can destroy
  // such a temporary twice.
  const auto server = local_end(socket);
  co_await serve_requests(stream, buffer, client, server, services, expire_after);
  // close_notify (RFC 8446 §6.1), bounded like everything else here.
  if (socket.is_open()) {
    expire_after(services.timeouts.linger);
    co_await stream.async_shutdown(kAwait);
  }
  expiry.cancel();
  boost::system::error_code ignored;
  socket.close(ignored);
}

}  // namespace vpncheck::reflector
