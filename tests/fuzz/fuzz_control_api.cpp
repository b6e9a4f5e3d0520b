// libFuzzer target: the reflector's control API request handling, as the
// connection code runs it (http_session.cpp): Beast's request parser with the
// reflector's header and body limits, then ControlApi::handle over a real
// SessionTable, for every request pipelined in the input (keep-alive), once
// on an open reflector and once on one with an auth key.
//
// Invariants: nothing throws or crashes; every response is 2xx/4xx/5xx and
// serialises; a 2xx JSON body parses as JSON; the session table never holds
// more than its cap; with the auth key, a request whose Authorization header
// does not hold the key gets 401 everywhere but /v1/health.
//
// The literal "SID" in a request target is replaced by the id of a session
// created (with one observation) before the input runs, so seeds and mutations
// reach the observations and DELETE paths of a live session.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include "fuzz_check.h"
#include "reflector/control_api.h"
#include "reflector/session_table.h"

namespace {

using namespace vpncheck;
using namespace vpncheck::reflector;

constexpr std::string_view kKey = "fuzz-key-0123456789";
constexpr std::size_t kMaxSessions = 8;
constexpr int kMaxRequestsPerInput = 8;

probes::RandomFill lcg_fill() {
  auto state = std::make_shared<std::uint32_t>(1);
  return [state](std::span<std::uint8_t> out) {
    for (auto& b : out) {
      *state = *state * 1103515245u + 12345u;
      b = static_cast<std::uint8_t>(*state >> 16);
    }
  };
}

struct Reflector {
  explicit Reflector(std::optional<std::string> key)
      : table(limits(), [] { return std::chrono::steady_clock::time_point(std::chrono::hours(1)); }) {
    ControlApiOptions options;
    options.capabilities.udp_ports = {51820, 1194};
    options.capabilities.tcp_ports = {1194};
    options.capabilities.wireguard_public_key_hex = std::string(64, 'a');
    options.version = "fuzz";
    options.rnd = rnd;
    options.auth_key = std::move(key);
    table.count_into(&metrics);
    options.metrics = &metrics;
    api = std::make_unique<ControlApi>(table, options);
    auto created = table.create({"198.51.100.7", 40001}, rnd);
    session_id = created.session->id;
    probes::Observation obs;
    obs.protocol = "wireguard";
    obs.kind = "genuine";
    obs.local_port = 51820;
    obs.source = {"198.51.100.7", 40002};
    obs.payload_length = 148;
    obs.fields["sender_index"] = "\"quoted\\\n";
    Session* s = table.find_by_tag(created.session->tag);
    if (table.admit(*s)) table.record(*s, obs);
  }
  static SessionLimits limits() {
    SessionLimits l;
    l.max_sessions = kMaxSessions;
    l.max_sessions_per_client = 4;
    l.max_observations = 4;
    return l;
  }

  probes::RandomFill rnd = lcg_fill();
  Metrics metrics;
  SessionTable table;
  std::unique_ptr<ControlApi> api;
  std::string session_id;
};

void check_response(const HttpResponse& res, const Reflector& r) {
  const unsigned status = res.result_int();
  FUZZ_CHECK((status >= 200 && status < 300) || (status >= 400 && status < 600));
  FUZZ_CHECK(r.table.size() <= kMaxSessions);
  std::ostringstream wire;
  wire << res;  // serialises without throwing
  FUZZ_CHECK(!wire.str().empty());
  if (status < 300 && res[http::field::content_type].starts_with("application/json"))
    FUZZ_CHECK(nlohmann::json::accept(res.body()));
}

void run(const std::uint8_t* data, std::size_t size, bool with_key) {
  Reflector r(with_key ? std::optional<std::string>(kKey) : std::nullopt);
  std::string input(reinterpret_cast<const char*>(data), size);
  for (std::size_t at = 0; (at = input.find("SID", at)) != std::string::npos;) {
    input.replace(at, 3, r.session_id);
    at += r.session_id.size();
  }
  std::string_view rest(input);
  for (int n = 0; n < kMaxRequestsPerInput && !rest.empty(); ++n) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxRequestHeader);
    parser.body_limit(kMaxRequestBody);
    parser.eager(true);
    boost::beast::error_code ec;
    std::size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    rest.remove_prefix(used);
    if (!ec && !parser.is_done() && parser.need_eof()) parser.put_eof(ec);
    if (ec || !parser.is_done()) {
      // What the connection does: a parse error ends it with a JSON error.
      auto res = error_response(http::status::bad_request, ec ? ec.message() : "incomplete request");
      FUZZ_CHECK(res.result_int() == 400);
      return;
    }
    const HttpRequest& request = parser.get();
    HttpResponse res = r.api->handle(request, {"198.51.100.7", 40001});
    check_response(res, r);

    if (with_key) {
      std::string_view target(request.target().data(), request.target().size());
      target = target.substr(0, target.find('?'));
      auto auth = request[http::field::authorization];
      const bool holds_key = std::string_view(auth.data(), auth.size()).find(kKey) != std::string_view::npos;
      if (target != "/v1/health" && !holds_key) FUZZ_CHECK(res.result_int() == 401);
    }
    if (used == 0) return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  run(data, size, false);
  run(data, size, true);
  return 0;
}
