// The control API (Contract 2) as a pure request -> response function over
// Beast's message types; the HTTP connection handling is http_session.h.
//
//   POST   /v1/sessions                    201 SessionInfo
//   GET    /v1/sessions/{id}/observations  200 ObservationList, one page: ?after=N for the
//                                          observations after sequence N (next_after names the next)
//   DELETE /v1/sessions/{id}               204
//   GET    /v1/health                      200 {"status":"ok","version":...}
//   GET    /v1/challenge/{token}           200 {"challenge":"<token>"} (captive-portal check)
//   GET    /metrics                        200 Prometheus text format
//
// Errors are JSON {"error": "..."} with a 4xx/5xx status. With an auth key,
// everything but /v1/health and the challenge needs "Authorization: Bearer <key>" (else 401).
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "probes/observation.h"
#include "reflector/metrics.h"
#include "reflector/refusals.h"
#include "reflector/session_table.h"

namespace vpncheck::reflector {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

constexpr std::string_view kSessionsPrefix = "/v1/sessions/";
constexpr std::size_t kMaxRequestBody = 64 * 1024;
constexpr std::size_t kMaxRequestHeader = 8 * 1024;
// What a plain HTTP request gets from a reflector that serves its control
// API inside TLS only (ControlApiOptions::tls_only), with status 403.
constexpr std::string_view kTlsOnlyError = "this reflector serves its control API inside TLS only";

struct ControlApiOptions {
  probes::Capabilities capabilities;  // ports actually listening, WireGuard key
  std::string version;
  probes::RandomFill rnd;  // CSPRNG: session ids and tags
  // Set: every resource but /v1/health requires "Authorization: Bearer <key>"
  // (compared in constant time); otherwise 401 with a JSON error.
  std::optional<std::string> auth_key;
  // The server's counters, read by GET /metrics; nullptr: a Metrics of its own.
  Metrics* metrics = nullptr;
  // TCP connections refused for want of a slot; nullptr: none are reported.
  const ConnectionRefusals* refusals = nullptr;
  std::size_t max_connections = 0;  // named in what the refusals' report says
  // Set: a request that did not come inside TLS gets 403 for everything but
  // /v1/health and /v1/challenge/, which carry no secret (a client's
  // captive-portal check asks for the challenge in plain HTTP on purpose).
  bool tls_only = false;
};

class ControlApi {
 public:
  ControlApi(SessionTable& sessions, ControlApiOptions options);

  // `client` is the control connection's remote endpoint as seen here,
  // `server` its local one (published in a new session's answer);
  // `inside_tls`: the request came inside TLS.
  HttpResponse handle(const HttpRequest& request, const probes::Endpoint& client,
                      const std::optional<probes::Endpoint>& server = std::nullopt, bool inside_tls = false);

  ControlApi(const ControlApi&) = delete;
  ControlApi& operator=(const ControlApi&) = delete;

 private:
  HttpResponse create_session(const HttpRequest& request, const probes::Endpoint& client,
                              const std::optional<probes::Endpoint>& server);
  probes::ObservationList observations(const Session& session, std::uint64_t after) const;
  bool authorized(const HttpRequest& request) const;

  SessionTable& sessions_;
  ControlApiOptions options_;
  Metrics own_metrics_;
  Metrics* metrics_;
};

// Does `header` (an Authorization field value) carry `key` as a Bearer token?
// The comparison takes the same time whatever the header holds.
bool bearer_matches(std::string_view header, std::string_view key);

// A JSON error response (also used by the connection code for parse errors).
HttpResponse error_response(http::status status, std::string_view message, unsigned version = 11,
                            bool keep_alive = false);

}  // namespace vpncheck::reflector
