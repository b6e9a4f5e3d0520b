#include "src/control/control_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "src/version.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxResponseBody = 4 * 1024 * 1024;

struct HttpResult {
  bool transport_ok = false;
  std::string error;  // transport-level failure, phrased for people
  unsigned status = 0;
  std::string body;
  std::optional<probes::Endpoint> local;
};

std::string describe_error(const boost::system::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  if (ec == asio::error::connection_refused) return "connection refused";
  if (ec == asio::error::host_unreachable || ec == asio::error::network_unreachable) return "unreachable";
  if (ec == http::error::end_of_stream || ec == asio::error::eof) return "connection closed without an answer";
  return ec.message();
}

asio::awaitable<HttpResult> http_call(const asio::ip::tcp::endpoint& endpoint, http::verb verb,
                                      const std::string& target, std::chrono::milliseconds timeout) {
  HttpResult result;
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);
  if (auto [ec] = co_await stream.async_connect(endpoint, use_tuple); ec) {
    result.error = describe_error(ec);
    co_return result;
  }
  boost::system::error_code local_ec;
  auto local = stream.socket().local_endpoint(local_ec);
  if (!local_ec) result.local = probes::Endpoint{local.address().to_string(), local.port()};

  http::request<http::string_body> request{verb, target, 11};
  request.set(http::field::host, endpoint.address().to_string());
  request.set(http::field::user_agent, std::string("vpncheck/") + std::string(kVersion));
  request.set(http::field::accept, "application/json");
  if (verb == http::verb::post) {
    request.set(http::field::content_type, "application/json");
    request.body() = "{}";
  }
  request.prepare_payload();
  if (auto [ec, n] = co_await http::async_write(stream, request, use_tuple); ec) {
    result.error = describe_error(ec);
    co_return result;
  }

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBody);
  if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple); ec) {
    result.error = std::string_view(ec.category().name()) == "beast.http"
                       ? "not a vpncheck reflector (the answer is not HTTP: " + ec.message() + ")"
                       : describe_error(ec);
    co_return result;
  }
  result.transport_ok = true;
  result.status = parser.get().result_int();
  result.body = parser.get().body();
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  co_return result;
}

}  // namespace

asio::awaitable<OpenSessionResult> open_session(const std::string& host_for_messages, const asio::ip::address& address,
                                                std::vector<std::uint16_t> ports,
                                                std::chrono::steady_clock::time_point deadline) {
  OpenSessionResult out;
  for (std::size_t i = 0; i < ports.size(); ++i) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) {
      out.attempts.push_back({ports[i], "not tried (out of time)"});
      continue;
    }
    // Share what is left fairly among the ports not yet tried, so a silently
    // dropping first port cannot eat the whole budget.
    auto budget = remaining / static_cast<long>(ports.size() - i);
    asio::ip::tcp::endpoint endpoint(address, ports[i]);
    auto http = co_await http_call(endpoint, http::verb::post, "/v1/sessions", budget);
    if (!http.transport_ok) {
      out.attempts.push_back({ports[i], http.error});
      continue;
    }
    if (http.status != 201 && http.status != 200) {
      out.attempts.push_back({ports[i], "not a vpncheck reflector (HTTP " + std::to_string(http.status) + ")"});
      continue;
    }
    std::string parse_error;
    auto info = probes::session_info_from_json(http.body, parse_error);
    if (!info) {
      out.attempts.push_back({ports[i], "not a vpncheck reflector (bad session answer: " + parse_error + ")"});
      continue;
    }
    out.attempts.push_back({ports[i], "ok"});
    out.session = OpenedSession{endpoint, std::move(*info), http.local};
    co_return out;
  }
  out.error = "could not open a session with the reflector at " + host_for_messages + ":";
  for (const auto& a : out.attempts) out.error += " TCP " + std::to_string(a.port) + " " + a.result + ";";
  out.error.back() = '.';
  co_return out;
}

asio::awaitable<ObservationsResult> fetch_observations(const asio::ip::tcp::endpoint& control,
                                                       const std::string& session_id,
                                                       std::chrono::milliseconds timeout) {
  ObservationsResult out;
  auto http = co_await http_call(control, http::verb::get, "/v1/sessions/" + session_id + "/observations", timeout);
  if (!http.transport_ok) {
    out.error = http.error;
    co_return out;
  }
  if (http.status != 200) {
    out.error = "reflector answered HTTP " + std::to_string(http.status);
    co_return out;
  }
  out.list = probes::observations_from_json(http.body, out.error);
  co_return out;
}

asio::awaitable<void> close_session(const asio::ip::tcp::endpoint& control, const std::string& session_id,
                                    std::chrono::milliseconds timeout) {
  co_await http_call(control, http::verb::delete_, "/v1/sessions/" + session_id, timeout);
}

}  // namespace vpncheck::client
