#include "reflector/control_api.h"

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "probes/crypto.h"
#include "probes/session_request.h"

namespace vpncheck::reflector {
namespace {

using nlohmann::json;

// Never throws: bytes from the network (a request target) may be invalid UTF-8.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

HttpResponse json_response(http::status status, const json& body, const HttpRequest& request) {
  HttpResponse res{status, request.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(request.keep_alive());
  res.body() = dump(body);
  res.prepare_payload();
  return res;
}

HttpResponse error_for(http::status status, std::string_view message, const HttpRequest& request) {
  return error_response(status, message, request.version(), request.keep_alive());
}

HttpResponse method_not_allowed(const HttpRequest& request, std::string_view allow) {
  auto res = error_for(http::status::method_not_allowed,
                       "method " + std::string(request.method_string()) + " not allowed here", request);
  res.set(http::field::allow, allow);
  return res;
}

bool is_session_id(std::string_view id) {
  return id.size() == 2 * kSessionIdBytes &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The client's one-time token, echoed so that only this reflector can answer
// it: an interception (a captive portal) cannot know it. Bounded, so the
// answer is never much larger than the request.
constexpr std::string_view kChallengePrefix = "/v1/challenge/";
bool is_challenge_token(std::string_view token) {
  return token.size() >= 16 && token.size() <= 64 &&
         std::all_of(token.begin(), token.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The `after` parameter of a query ("after=12"): nullopt when absent, 0 with
// `valid` false when not a number. Other parameters are ignored.
std::optional<std::uint64_t> after_parameter(std::string_view query, bool& valid) {
  valid = true;
  constexpr std::string_view kAfter = "after=";
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    if (item.starts_with(kAfter)) {
      const std::string_view digits = item.substr(kAfter.size());
      std::uint64_t value = 0;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      valid = ec == std::errc{} && end == digits.data() + digits.size() && !digits.empty();
      return valid ? value : 0;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

}  // namespace

bool bearer_matches(std::string_view header, std::string_view key) {
  constexpr std::string_view kScheme = "Bearer ";  // RFC 6750 §2.1; the scheme is case-insensitive
  std::string_view token;
  if (header.size() > kScheme.size() && iequals(header.substr(0, kScheme.size()), kScheme))
    token = header.substr(kScheme.size());
  // Digests of both, compared with CRYPTO_memcmp: neither the position of the
  // first differing byte nor the key's length shows in the time taken.
  auto got = probes::sha256(probes::as_bytes(token));
  auto want = probes::sha256(probes::as_bytes(key));
  const bool same = CRYPTO_memcmp(got.data(), want.data(), got.size()) == 0;
  return same && !token.empty();
}

HttpResponse error_response(http::status status, std::string_view message, unsigned version,
                            bool keep_alive) {
  HttpResponse res{status, version};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
  res.body() = dump(json{{"error", std::string(message)}});
  res.prepare_payload();
  return res;
}

ControlApi::ControlApi(SessionTable& sessions, ControlApiOptions options)
    : sessions_(sessions),
      options_(std::move(options)),
      metrics_(options_.metrics != nullptr ? options_.metrics : &own_metrics_) {}

bool ControlApi::authorized(const HttpRequest& request) const {
  if (!options_.auth_key) return true;
  auto field = request[http::field::authorization];
  return bearer_matches(std::string_view(field.data(), field.size()), *options_.auth_key);
}

HttpResponse ControlApi::handle(const HttpRequest& request, const probes::Endpoint& client,
                               const std::optional<probes::Endpoint>& server, bool inside_tls) {
  if (request.body().size() > kMaxRequestBody)
    return error_for(http::status::payload_too_large, "request body over 64 KiB", request);

  std::string_view target(request.target().data(), request.target().size());
  const auto question = target.find('?');
  const std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);
  target = target.substr(0, question);
  const http::verb method = request.method();

  if (target == "/v1/health") {
    if (method != http::verb::get) return method_not_allowed(request, "GET");
    return json_response(http::status::ok, {{"status", "ok"}, {"version", options_.version}}, request);
  }
  if (target.starts_with(kChallengePrefix)) {
    if (method != http::verb::get) return method_not_allowed(request, "GET");
    const std::string_view token = target.substr(kChallengePrefix.size());
    if (!is_challenge_token(token))
      return error_for(http::status::bad_request, "the challenge is 16 to 64 lowercase hex digits", request);
    return json_response(http::status::ok, {{"challenge", std::string(token)}}, request);
  }
  // Health and the challenge stay open (load balancers, systemd watchdogs, a
  // client that has not opened a session yet); the rest needs the key, and
  // TLS where the operator asked for it.
  if (options_.tls_only && !inside_tls)
    return error_for(http::status::forbidden, kTlsOnlyError, request);
  if (!authorized(request)) {
    auto res = error_for(http::status::unauthorized, "missing or wrong bearer token", request);
    res.set(http::field::www_authenticate, "Bearer realm=\"vpncheck-reflector\"");
    return res;
  }
  if (target == "/metrics") {
    if (method != http::verb::get) return method_not_allowed(request, "GET");
    sessions_.purge_expired();  // so sessions_open and sessions_expired_total are current
    HttpResponse res{http::status::ok, request.version()};
    res.set(http::field::content_type, kPrometheusContentType);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(request.keep_alive());
    res.body() = render_prometheus(*metrics_, sessions_.size());
    res.prepare_payload();
    return res;
  }
  if (target == "/v1/sessions") {
    if (method != http::verb::post) return method_not_allowed(request, "POST");
    return create_session(request, client, server);
  }
  if (target.starts_with(kSessionsPrefix)) {
    std::string_view rest = target.substr(kSessionsPrefix.size());
    auto slash = rest.find('/');
    std::string_view id = rest.substr(0, slash);
    std::string_view sub = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (sub == "/observations") {
      if (method != http::verb::get) return method_not_allowed(request, "GET");
      const Session* session = is_session_id(id) ? sessions_.find(id) : nullptr;
      if (session == nullptr) return error_for(http::status::not_found, "unknown session", request);
      bool valid = true;
      const auto after = after_parameter(query, valid);
      if (!valid) return error_for(http::status::bad_request, "after: not a sequence number", request);
      auto list = observations(*session, after.value_or(0));
      // A client from before pages asks without `after` and reads one answer:
      // what is not in it must read as unrecorded (its verdicts then say
      // inconclusive), never as lost on the way.
      if (!after && list.next_after) {
        const std::uint64_t unsent = session->observations.size() - *list.next_after;
        auto limit = std::find_if(list.limits.begin(), list.limits.end(), [](const probes::ReflectorLimit& l) {
          return l.limit == probes::limit_kind::kObservationLimit;
        });
        if (limit == list.limits.end())
          limit = list.limits.insert(list.limits.begin(), {std::string(probes::limit_kind::kObservationLimit), 0, {}, {}});
        limit->count += unsent;
        limit->detail += (limit->detail.empty() ? "" : "; ") + std::to_string(unsent) +
                         " observations not in this answer: the reflector answers in pages (?after=N)";
      }
      return json_response(http::status::ok, probes::to_json(list), request);
    }
    if (sub == "/addresses") {
      // The client proves another address of its own (its IPv6 one, say) by
      // asking from it: the TCP handshake shows the address is the asker's.
      if (method != http::verb::post) return method_not_allowed(request, "POST");
      auto result = is_session_id(id) ? sessions_.validate(id, client.address)
                                      : SessionTable::ValidateResult::unknown_session;
      if (result == SessionTable::ValidateResult::unknown_session)
        return error_for(http::status::not_found, "unknown session", request);
      if (result == SessionTable::ValidateResult::full)
        return error_for(http::status::too_many_requests,
                         "this session has validated " + std::to_string(Session::kMaxValidated) +
                             " addresses already",
                         request);
      return json_response(http::status::ok, {{"validated", client.address}}, request);
    }
    if (sub.empty()) {
      if (method != http::verb::delete_) return method_not_allowed(request, "DELETE");
      if (!is_session_id(id) || !sessions_.remove(id))
        return error_for(http::status::not_found, "unknown session", request);
      HttpResponse res{http::status::no_content, request.version()};
      res.keep_alive(request.keep_alive());  // 204: no body, no Content-Length (RFC 9110 §8.6)
      return res;
    }
  }
  return error_for(http::status::not_found, "no such resource: " + std::string(target), request);
}

// One page of the session's record plus the TCP connections refused for
// want of a slot from its addresses since it began: the control connection's
// source and every source its probes arrived from (another family, another
// NAT address).
probes::ObservationList ControlApi::observations(const Session& session, std::uint64_t after) const {
  probes::ObservationList list = sessions_.page(session, after, probes::kObservationPageBytes);
  if (options_.refusals == nullptr) return list;
  std::set<std::string> addresses{session.client.address};
  addresses.insert(session.sources.begin(), session.sources.end());
  for (std::size_t i = 0; i < session.observations.size(); ++i)
    addresses.emplace(session.observations.record(i).source_address());
  LimitTally refused;
  for (const auto& address : addresses) {
    const auto* tally = options_.refusals->find(address, session.created_at);
    if (tally == nullptr) continue;
    refused.count += tally->refused.count;
    for (auto port : tally->refused.port_list()) refused.note_port(port);
  }
  if (refused.count > 0)
    list.limits.push_back({std::string(probes::limit_kind::kConnectionSlots), refused.count, refused.port_list(),
                           "TCP connections refused: all " + std::to_string(options_.max_connections) +
                               " of the reflector's connection slots were in use (--max-connections)"});
  return list;
}

HttpResponse ControlApi::create_session(const HttpRequest& request, const probes::Endpoint& client,
                                        const std::optional<probes::Endpoint>& server) {
  const auto key_field = request.find(probes::kIdempotencyKeyHeader);
  std::string_view key;
  if (key_field != request.end()) key = std::string_view(key_field->value().data(), key_field->value().size());
  if (key_field != request.end() && !probes::valid_idempotency_key(key))
    return error_for(http::status::bad_request,
                     std::string(probes::kIdempotencyKeyHeader) + ": 16 to 64 characters of A-Z, a-z, 0-9, _ and -",
                     request);
  auto created = sessions_.create(client, options_.rnd, key);
  if (created.error == CreateError::table_full)
    return error_for(http::status::service_unavailable, "session table full, try again later", request);
  if (created.error == CreateError::client_limit)
    return error_for(http::status::too_many_requests, "too many open sessions from this address (or its IPv6 /64)",
                     request);

  const Session& session = *created.session;
  probes::SessionInfo info;
  info.session_id = session.id;
  info.tag_hex = probes::tag_to_hex(session.tag);
  info.client = client;
  info.server = server;
  info.capabilities = options_.capabilities;
  info.expires_in_s = static_cast<int>(sessions_.limits().ttl.count());
  info.reflector_version = options_.version;
  // A copy of a request already answered gets the same session (RFC 9110 §9.2.2:
  // the effect of repeating it is that of sending it once).
  auto res = json_response(created.reused ? http::status::ok : http::status::created, probes::to_json(info), request);
  res.set(http::field::location, std::string(kSessionsPrefix) + session.id);
  return res;
}

}  // namespace vpncheck::reflector
