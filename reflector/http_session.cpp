#include "reflector/http_session.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace vpncheck::reflector {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr int kMaxRequestsPerConnection = 100;

}  // namespace

asio::awaitable<void> serve_http(beast::tcp_stream stream, beast::flat_buffer buffer, probes::Endpoint client,
                                 Services& services) {
  std::optional<probes::Endpoint> server;
  boost::system::error_code local_ec;
  const auto local = stream.socket().local_endpoint(local_ec);
  if (!local_ec) server = to_endpoint(local.address(), local.port());
  for (int served = 0; served < kMaxRequestsPerConnection; ++served) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxRequestHeader);
    parser.body_limit(kMaxRequestBody);
    // One deadline for the whole request: a slow client cannot trickle it in.
    stream.expires_after(services.timeouts.http);

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
          ec == asio::error::connection_reset || ec == asio::error::operation_aborted)
        break;
      http::status status = ec == http::error::body_limit     ? http::status::payload_too_large
                            : ec == http::error::header_limit ? http::status::request_header_fields_too_large
                                                              : http::status::bad_request;
      services.log.debug("control: malformed request (" + ec.message() + ")");
      auto res = error_response(status, "malformed request: " + ec.message());
      stream.expires_after(services.timeouts.http);
      co_await http::async_write(stream, res, kAwait);
      break;
    }

    const HttpRequest& request = parser.get();
    HttpResponse res = services.control.handle(request, client, server);
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

    stream.expires_after(services.timeouts.http);
    auto [wec, wn] = co_await http::async_write(stream, res, kAwait);
    if (wec || !res.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream.close();
}

}  // namespace vpncheck::reflector
