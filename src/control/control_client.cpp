#include "src/control/control_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <nlohmann/json.hpp>

#include "probes/session_request.h"
#include "probes/tls.h"
#include "probes/untrusted.h"
#include "src/run/tls_client.h"
#include "src/version.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = boost::asio::ssl;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct HttpResult {
  bool transport_ok = false;
  std::string error;  // transport-level failure, phrased for people
  // Set when what came is not a usable HTTP answer (over a bound, malformed):
  // what was wrong, without the "not a vpncheck reflector" frame of `error`.
  std::string invalid;
  unsigned status = 0;
  std::string body;
  std::optional<probes::Endpoint> local;
  std::string location;      // the Location header, if any
  std::string content_type;  // the Content-Type header, if any
};

std::string describe_error(const boost::system::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  if (ec == asio::error::connection_refused) return "connection refused";
  if (ec == asio::error::host_unreachable || ec == asio::error::network_unreachable) return "unreachable";
  if (ec == http::error::end_of_stream || ec == asio::error::eof) return "connection closed without an answer";
  return ec.message();
}

// One request over a stream already connected (and, inside TLS, past its
// handshake); `timeout` bounds the whole exchange.
template <typename Stream>
asio::awaitable<HttpResult> exchange_on(Stream& stream, const asio::ip::tcp::endpoint& endpoint, http::verb verb,
                                        const std::string& target, std::chrono::milliseconds timeout,
                                        const std::string& auth_key, const std::string& idempotency_key,
                                        HttpResult result) {
  beast::get_lowest_layer(stream).expires_after(timeout);
  http::request<http::string_body> request{verb, target, 11};
  request.set(http::field::host, endpoint.address().to_string());
  request.set(http::field::user_agent, std::string("vpncheck/") + std::string(kVersion));
  request.set(http::field::accept, "application/json");
  if (!auth_key.empty()) request.set(http::field::authorization, "Bearer " + auth_key);
  if (!idempotency_key.empty()) request.set(probes::kIdempotencyKeyHeader, idempotency_key);
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
  parser.body_limit(probes::kMaxAnswerBytes);
  if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple); ec) {
    const bool cut_short = ec == http::error::end_of_stream || ec == http::error::partial_message;
    if (ec == http::error::body_limit)
      result.invalid = "larger than " + std::to_string(probes::kMaxAnswerBytes) + " bytes";
    else if (std::string_view(ec.category().name()) == "beast.http" && !cut_short)
      result.invalid = "not HTTP: " + ec.message();
    result.error = result.invalid.empty() ? describe_error(ec)
                                          : "not a vpncheck reflector (the answer is " + result.invalid + ")";
    co_return result;
  }
  result.transport_ok = true;
  result.status = parser.get().result_int();
  result.body = parser.get().body();
  result.location = std::string(parser.get()[http::field::location]);
  result.content_type = std::string(parser.get()[http::field::content_type]);
  boost::system::error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  co_return result;
}

// The client's TLS settings for the control API: TLS 1.2 or later (RFC 8996),
// and either the pin alone or the CAs with the name check.
std::unique_ptr<ssl::context> control_tls_context(const ControlAccess& access, std::string& error) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (!access.pin_sha256.empty()) {
    context->set_verify_mode(ssl::verify_none, ec);
  } else {
    context->set_verify_mode(ssl::verify_peer, ec);
    if (access.ca_file.empty())
      context->set_default_verify_paths(ec);
    else
      context->load_verify_file(access.ca_file, ec);
  }
  if (ec) {
    error = "TLS set-up failed" + (access.ca_file.empty() ? std::string() : " (" + access.ca_file + ")") + ": " +
            ec.message();
    return nullptr;
  }
  return context;
}

// One request over an already connected socket, inside TLS when `access` says so.
asio::awaitable<HttpResult> http_exchange(asio::ip::tcp::socket socket, const asio::ip::tcp::endpoint& endpoint,
                                          http::verb verb, const std::string& target,
                                          std::chrono::milliseconds timeout, const ControlAccess& access,
                                          const std::string& idempotency_key = {}) {
  HttpResult result;
  boost::system::error_code local_ec;
  auto local = socket.local_endpoint(local_ec);
  if (!local_ec) result.local = probes::Endpoint{local.address().to_string(), local.port()};
  if (!access.tls) {
    beast::tcp_stream stream(std::move(socket));
    co_return co_await exchange_on(stream, endpoint, verb, target, timeout, access.auth_key, idempotency_key,
                                   std::move(result));
  }

  auto context = control_tls_context(access, result.error);
  if (!context) co_return result;
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *context);
  SSL* handle = stream.native_handle();
  boost::system::error_code not_literal;
  asio::ip::make_address(access.server_name, not_literal);
  const bool named = !access.server_name.empty(), literal = named && !not_literal;
  // SNI only for names (RFC 6066 §3); the CA check is bound to the name or
  // address the user gave, as a browser binds it to the URL's host.
  // SSL_set_tlsext_host_name is a macro with a C cast; its call, spelled out.
  if (named && !literal)
    SSL_ctrl(handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(access.server_name.c_str()));
  if (access.pin_sha256.empty() && named) {
    if (literal)
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), access.server_name.c_str());
    else
      SSL_set1_host(handle, access.server_name.c_str());
  }
  beast::get_lowest_layer(stream).expires_after(timeout);
  if (auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple); ec) {
    const long verified = SSL_get_verify_result(handle);
    if (verified != X509_V_OK)
      result.error = std::string("TLS certificate not accepted: ") + X509_verify_cert_error_string(verified);
    else if (ec == beast::error::timeout)
      result.error = "timed out in the TLS handshake";
    else
      result.error = "no TLS session (" + ec.message() +
                     "): does the reflector offer its control API inside TLS (vpncheck-reflector --tls-certificate)?";
    co_return result;
  }
  if (!access.pin_sha256.empty()) {
    const auto der = peer_certificate_der(handle);
    if (!probes::tls::matches_pin(der, access.pin_sha256)) {
      result.error = "TLS certificate not accepted: its SHA-256 is " +
                     (der.empty() ? std::string("(none)") : probes::tls::certificate_sha256(der)) +
                     ", not the pinned " + access.pin_sha256;
      co_return result;
    }
  }
  co_return co_await exchange_on(stream, endpoint, verb, target, timeout, access.auth_key, idempotency_key,
                                 std::move(result));
}

// Connects and makes one request; `timeout` bounds the whole call.
asio::awaitable<HttpResult> http_call(const asio::ip::tcp::endpoint& endpoint, http::verb verb,
                                      const std::string& target, std::chrono::milliseconds timeout,
                                      const ControlAccess& access) {
  auto executor = co_await asio::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::ip::tcp::socket socket(executor);
  asio::steady_timer timer(executor, deadline);
  auto connected = co_await (socket.async_connect(endpoint, use_tuple) || timer.async_wait(use_tuple));
  HttpResult failed;
  if (connected.index() == 1) {
    failed.error = "timed out";
    co_return failed;
  }
  if (auto [ec] = std::get<0>(connected); ec) {
    failed.error = describe_error(ec);
    co_return failed;
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  co_return co_await http_exchange(std::move(socket), endpoint, verb, target,
                                   std::max(left, std::chrono::milliseconds(1)), access);
}

// Why a reflector refused (busy, or plain HTTP): its JSON {"error": "..."}, reduced to a
// short line of printable ASCII (it comes from the network and goes to a terminal).
std::string refusal_reason(const std::string& body) {
  constexpr std::size_t kMaxReason = 160;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("error") || !j["error"].is_string()) return "no reason given";
  std::string reason;
  for (char c : j["error"].get<std::string>()) {
    if (reason.size() == kMaxReason) break;
    reason += c >= 0x20 && c < 0x7f ? c : '?';
  }
  return reason.empty() ? "no reason given" : reason;
}

// Every control port is asked at once. On each, the same request goes out
// again on a new connection every kRetryEvery while none has answered: a
// lost SYN, SYN-ACK or request would otherwise cost TCP's initial 1 s
// retransmission timeout, or 3 s once the handshake itself needed one
// (RFC 6298 §2.1, §5.7), and the run has about 3 s in all. Every copy carries
// one Idempotency-Key, so the reflector opens one session for all of them.
constexpr auto kRetryEvery = std::chrono::milliseconds(250);
constexpr std::size_t kMaxTriesPerPort = 5;

struct PortTries {
  std::uint16_t port = 0;
  std::size_t started = 0;
  std::size_t pending = 0;
  std::optional<HttpResult> answer;  // the first whole HTTP answer
  bool judged = false;               // `answer` has been read into `session` or `result`
  std::optional<OpenedSession> session;
  std::string result;       // why not, when no session: the answer's meaning, or the last failure
  bool gave_up = false;     // a failure another try would only repeat (refused, unreachable, TLS, not HTTP)

  bool failed() const {
    if (judged) return !session;
    return !answer && pending == 0 && (gave_up || started == kMaxTriesPerPort);
  }
  bool trying() const { return !session && !failed(); }
};

struct SessionRace {
  std::vector<PortTries> ports;
  asio::steady_timer changed;  // cancelled whenever a try ends
  // Fires at the deadline, or is cancelled once a session is chosen: every
  // try still in flight then ends.
  asio::steady_timer stop;
  SessionRace(asio::any_io_executor ex, std::chrono::steady_clock::time_point deadline)
      : changed(ex), stop(ex, deadline) {}
};

asio::awaitable<void> try_port(std::shared_ptr<SessionRace> race, std::size_t i, asio::ip::tcp::endpoint endpoint,
                               std::chrono::milliseconds timeout, ControlAccess access, std::string key) {
  const std::string target = "/v1/sessions";
  HttpResult http;
  http.error = "timed out";
  asio::ip::tcp::socket socket(co_await asio::this_coro::executor);
  auto connected = co_await (socket.async_connect(endpoint, use_tuple) || race->stop.async_wait(use_tuple));
  if (connected.index() == 0) {
    if (auto [ec] = std::get<0>(connected); ec) {
      http.error = describe_error(ec);
    } else {
      // A try given up is closed with a reset, not a FIN: the kernel would
      // otherwise go on retransmitting its request after the run, and a copy
      // arriving once the session is closed would open another.
      boost::system::error_code ignored;
      socket.set_option(asio::socket_base::linger(true, 0), ignored);
      auto answered = co_await (http_exchange(std::move(socket), endpoint, http::verb::post, target, timeout, access,
                                              key) ||
                                race->stop.async_wait(use_tuple));
      if (answered.index() == 0) http = std::move(std::get<0>(answered));
    }
  }
  PortTries& p = race->ports[i];
  --p.pending;
  if (http.transport_ok) {
    if (!p.answer) p.answer = std::move(http);
  } else if (!p.answer) {
    p.result = http.error.empty() ? "timed out" : http.error;
    if (http.error != "timed out") p.gave_up = true;
  }
  race->changed.cancel();
}

std::string idempotency_key() {
  std::array<std::uint8_t, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) throw std::runtime_error("no randomness available");
  return probes::to_hex(bytes);
}

}  // namespace

asio::awaitable<OpenSessionResult> open_session(std::string host_for_messages, asio::ip::address address,
                                                std::vector<std::uint16_t> ports,
                                                std::chrono::steady_clock::time_point deadline,
                                                ControlAccess access) {
  using Clock = std::chrono::steady_clock;
  // How long a preferred port may lag behind a later one that already answered:
  // as long again as the later one took, but at least this.
  constexpr auto kMinimumGrace = std::chrono::milliseconds(200);
  auto executor = co_await asio::this_coro::executor;
  const auto start = Clock::now();
  const std::string key = idempotency_key();
  auto race = std::make_shared<SessionRace>(executor, deadline);
  for (auto port : ports) {
    race->ports.emplace_back();
    race->ports.back().port = port;
  }

  std::string busy;  // the first "reflector busy" answer, which then is the error
  // What an answer means: a session, or why not.
  auto judge = [&](PortTries& p) {
    p.judged = true;
    const HttpResult& http = *p.answer;
    if (http.status == 401) {
      p.result = access.auth_key.empty() ? "refused: this reflector requires an auth key (--auth-key or VPNCHECK_AUTH_KEY)"
                                         : "refused: wrong auth key";
    } else if (http.status == 503 || http.status == 429) {
      // A reflector, but full (session table, sessions per address): not a
      // reason to doubt it is one, and nothing about the network.
      const std::string reason = refusal_reason(http.body);
      p.result = "reflector busy: " + reason + " (HTTP " + std::to_string(http.status) + ")";
      if (busy.empty())
        busy = "reflector busy: " + reason + " (" + host_for_messages + " TCP " + std::to_string(p.port) + ", HTTP " +
               std::to_string(http.status) + ")";
    } else if (http.status == 403) {
      // A reflector that takes the control API inside TLS only
      // (vpncheck-reflector --control-tls-only) says so in plain HTTP.
      p.result = access.tls ? "refused: " + refusal_reason(http.body) + " (HTTP 403)"
                            : "refused: this reflector serves its control API inside TLS only: add --control-tls "
                              "(or --reflector-ca FILE, or --reflector-pin SHA256)";
    } else if (http.status != 201 && http.status != 200) {
      p.result = "not a vpncheck reflector (HTTP " + std::to_string(http.status) + ")";
    } else {
      std::string parse_error;
      auto info = probes::session_info_from_json(http.body, parse_error);
      if (info)
        p.session = OpenedSession{asio::ip::tcp::endpoint(address, p.port), std::move(*info), http.local};
      else
        p.result = "not a vpncheck reflector (bad session answer: " + parse_error + ")";
    }
  };

  std::optional<Clock::time_point> grace_until;
  PortTries* chosen = nullptr;
  while (!chosen) {
    const auto now = Clock::now();
    for (auto& p : race->ports)
      if (p.answer && !p.judged) judge(p);
    auto& ps = race->ports;
    auto first_open = std::find_if(ps.begin(), ps.end(), [](const PortTries& p) { return !p.failed(); });
    if (first_open == ps.end()) break;  // every port failed
    if (first_open->session) {
      chosen = &*first_open;
      break;
    }
    auto later = std::find_if(first_open, ps.end(), [](const PortTries& p) { return p.session.has_value(); });
    if (later != ps.end()) {
      if (!grace_until) grace_until = now + std::max<Clock::duration>(kMinimumGrace, now - start);
      if (now >= *grace_until) {
        chosen = &*later;
        break;
      }
    }
    if (now >= deadline) break;

    auto wake = grace_until ? std::min(*grace_until, deadline) : deadline;
    for (std::size_t i = 0; i < ps.size(); ++i) {
      PortTries& p = ps[i];
      if (!p.trying() || p.answer || p.gave_up || p.started == kMaxTriesPerPort) continue;
      const auto due = start + kRetryEvery * static_cast<long>(p.started);
      if (now >= due) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        ++p.started;
        ++p.pending;
        asio::co_spawn(executor,
                       try_port(race, i, {address, p.port}, std::max(left, std::chrono::milliseconds(1)), access, key),
                       asio::detached);
      }
      if (p.started < kMaxTriesPerPort) wake = std::min(wake, start + kRetryEvery * static_cast<long>(p.started));
    }
    race->changed.expires_at(wake);
    co_await race->changed.async_wait(use_tuple);
  }

  race->stop.cancel();
  OpenSessionResult out;
  for (auto& p : race->ports) {
    std::string result = p.result;
    if (p.session)
      result = &p == chosen ? "ok" : "also reachable";
    else if (p.trying())
      result = chosen ? "no answer" : "timed out";
    out.attempts.push_back({p.port, result});
    // A reflector that saw this host from another address on another port
    // (or one from before idempotency keys) opened another session: it is
    // closed, not left to hold a slot until it expires.
    if (chosen && p.session && &p != chosen && p.session->info.session_id != chosen->session->info.session_id)
      asio::co_spawn(executor, close_session(p.session->control, p.session->info.session_id, kRetryEvery * 4, access),
                     asio::detached);
  }
  if (chosen) {
    out.session = std::move(chosen->session);
    co_return out;
  }
  if (!busy.empty()) {
    out.error = busy;
    co_return out;
  }
  out.error = "could not open a session with the reflector at " + host_for_messages + ":";
  for (const auto& a : out.attempts) out.error += " TCP " + std::to_string(a.port) + " " + a.result + ";";
  out.error.back() = '.';
  co_return out;
}

namespace {

// The same request on several connections, the first whole answer winning.
struct RequestRace {
  std::optional<HttpResult> answer;
  HttpResult last_failure;
  std::size_t pending = 0;
  asio::steady_timer changed;
  explicit RequestRace(asio::any_io_executor ex) : changed(ex) {}
};

asio::awaitable<void> race_one(std::shared_ptr<RequestRace> race, asio::ip::tcp::endpoint endpoint, http::verb verb,
                               std::string target, std::chrono::milliseconds timeout, ControlAccess access) {
  auto http = co_await http_call(endpoint, verb, target, timeout, access);
  if (http.transport_ok) {
    if (!race->answer) race->answer = std::move(http);
  } else {
    race->last_failure = std::move(http);
  }
  --race->pending;
  race->changed.cancel();
}

// An idempotent request (RFC 9110 §9.2.2) made late in the run, with little
// time left: a lost SYN would cost the kernel's 1 s initial retransmission
// timeout (RFC 6298 §2.1), so the same request goes out again on a new
// connection every 150 ms while none has answered. The first whole answer,
// else the last failure.
asio::awaitable<HttpResult> hedged_call(asio::ip::tcp::endpoint endpoint, http::verb verb, std::string target,
                                        std::chrono::milliseconds timeout, ControlAccess access) {
  constexpr auto kStagger = std::chrono::milliseconds(150);
  constexpr std::size_t kMaxRequests = 4;
  using Clock = std::chrono::steady_clock;
  auto executor = co_await asio::this_coro::executor;
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  auto race = std::make_shared<RequestRace>(executor);
  std::size_t started = 0;
  while (!race->answer && Clock::now() < deadline && (started == 0 || race->pending > 0 || started < kMaxRequests)) {
    if (started < kMaxRequests && Clock::now() >= start + kStagger * static_cast<long>(started)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      ++race->pending;
      asio::co_spawn(executor,
                     race_one(race, endpoint, verb, target, std::max(left, std::chrono::milliseconds(1)), access),
                     asio::detached);
      ++started;
    }
    const Clock::time_point next = started < kMaxRequests ? start + kStagger * static_cast<long>(started) : deadline;
    race->changed.expires_at(std::min(next, deadline));
    co_await race->changed.async_wait(use_tuple);
  }
  if (race->answer) co_return std::move(*race->answer);
  co_return std::move(race->last_failure);
}

}  // namespace

asio::awaitable<ObservationsResult> fetch_observations(asio::ip::tcp::endpoint control,
                                                       std::string session_id,
                                                       std::chrono::milliseconds timeout, ControlAccess access) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  const std::string path = "/v1/sessions/" + session_id + "/observations";
  // `after` asks for pages; a reflector from before pages ignores it and answers whole.
  auto first = co_await hedged_call(control, http::verb::get, path + "?after=0", timeout, access);
  ObservationsResult out;
  if (!first.transport_ok) {
    out.invalid = !first.invalid.empty();
    out.error = out.invalid ? "the reflector's answer is not valid: " + first.invalid
                : first.error.empty() ? "timed out" : first.error;
    co_return out;
  }
  const HttpResult& http = first;
  if (http.status != 200) {
    out.error = "reflector answered HTTP " + std::to_string(http.status);
    co_return out;
  }
  std::string why;
  out.list = probes::observations_from_json(http.body, why);
  if (!out.list) {
    out.invalid = true;
    out.error = "the reflector's answer is not valid: " + why;
    co_return out;
  }
  // The rest of a paged answer, a page at a time, within the same deadline.
  // Each page must move on, and all of them together stay within the bounds
  // a whole answer has (probes/untrusted.h).
  std::uint64_t after = 0;
  std::size_t pages = 1;
  while (out.list->next_after) {
    const std::uint64_t next = *out.list->next_after;
    const auto invalid = [&](const std::string& what) {
      out.list.reset();
      out.invalid = true;
      out.error = "the reflector's answer is not valid: " + what;
    };
    if (next <= after || next < out.list->observations.size()) {
      invalid("its pages do not move on (next_after " + std::to_string(next) + ")");
      co_return out;
    }
    if (++pages > probes::kMaxObservationPages) {
      invalid("more than " + std::to_string(probes::kMaxObservationPages) + " pages");
      co_return out;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= std::chrono::milliseconds(0)) {
      out.list.reset();
      out.error = "timed out after " + std::to_string(pages - 1) + " pages of observations";
      co_return out;
    }
    after = next;
    auto page_http = co_await http_call(control, http::verb::get, path + "?after=" + std::to_string(after), left,
                                        access);
    if (!page_http.transport_ok || page_http.status != 200) {
      out.list.reset();
      out.invalid = !page_http.invalid.empty();
      out.error = out.invalid                     ? "the reflector's answer is not valid: " + page_http.invalid
                  : !page_http.transport_ok       ? (page_http.error.empty() ? "timed out" : page_http.error)
                                                  : "reflector answered HTTP " + std::to_string(page_http.status);
      co_return out;
    }
    auto page = probes::observations_from_json(page_http.body, why);
    if (!page) {
      invalid(why);
      co_return out;
    }
    if (out.list->observations.size() + page->observations.size() > probes::kMaxObservations) {
      invalid("more than " + std::to_string(probes::kMaxObservations) + " observations");
      co_return out;
    }
    for (auto& o : page->observations) out.list->observations.push_back(std::move(o));
    // The session's counts as of the last page: the most recent.
    out.list->dropped = page->dropped;
    out.list->limits = std::move(page->limits);
    out.list->next_after = page->next_after;
  }
  co_return out;
}

asio::awaitable<WebAnswer> ask_challenge(asio::ip::tcp::endpoint web, std::string target,
                                         std::chrono::milliseconds timeout) {
  // Named, not a temporary in the co_await expression: GCC 12 destroys such a
  // temporary with a destructor twice, which corrupts the heap.
  const ControlAccess plain_http;
  auto http = co_await http_call(web, http::verb::get, target, timeout, plain_http);
  WebAnswer out;
  out.answered = http.transport_ok;
  out.failure = http.error;
  out.status = http.status;
  out.location = std::move(http.location);
  out.content_type = std::move(http.content_type);
  out.body = std::move(http.body);
  co_return out;
}

asio::awaitable<bool> prove_address(asio::ip::tcp::endpoint control, std::string session_id,
                                    std::chrono::milliseconds timeout, ControlAccess access) {
  // Proving an address again changes nothing more: a copy that arrives late is harmless.
  auto http = co_await hedged_call(control, http::verb::post, "/v1/sessions/" + session_id + "/addresses", timeout,
                                   access);
  co_return http.transport_ok && http.status == 200;
}

asio::awaitable<void> close_session(asio::ip::tcp::endpoint control, std::string session_id,
                                    std::chrono::milliseconds timeout, ControlAccess access) {
  co_await http_call(control, http::verb::delete_, "/v1/sessions/" + session_id, timeout, access);
}

}  // namespace vpncheck::client
