#include "reflector/control_api.h"
#include "probes/session_request.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace vpncheck::reflector {
namespace {

using nlohmann::json;

class ReflectorControlApi : public ::testing::Test {
 protected:
  ReflectorControlApi() : table_(limits(), test::FakeClock{}.fn()), api_(table_, options()) {}

  static SessionLimits limits() {
    SessionLimits l;
    l.max_sessions = 3;
    l.ttl = std::chrono::seconds(120);
    return l;
  }
  static ControlApiOptions options() {
    ControlApiOptions o;
    o.capabilities.udp_ports = {51820, 1194};
    o.capabilities.tcp_ports = {443};
    o.capabilities.wireguard_public_key_hex = std::string(64, 'a');
    o.capabilities.portal_challenge = true;
    o.version = "9.9.9";
    o.rnd = test::counter_fill();
    return o;
  }

  HttpResponse call(http::verb verb, std::string target, std::string body = {}, std::string idempotency_key = {}) {
    HttpRequest req{verb, target, 11};
    if (!idempotency_key.empty()) req.set(probes::kIdempotencyKeyHeader, idempotency_key);
    req.body() = std::move(body);
    req.prepare_payload();
    return api_.handle(req, client_);
  }

  probes::SessionInfo open_session() {
    auto res = call(http::verb::post, "/v1/sessions");
    EXPECT_EQ(res.result(), http::status::created);
    std::string error;
    auto info = probes::session_info_from_json(res.body(), error);
    EXPECT_TRUE(info) << error << ": " << res.body();
    return info.value_or(probes::SessionInfo{});
  }

  static std::string error_of(const HttpResponse& res) {
    auto j = json::parse(res.body(), nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].get<std::string>() : "<no error field>";
  }

  probes::Endpoint client_{"198.51.100.7", 40123};
  SessionTable table_;
  ControlApi api_;
};

TEST_F(ReflectorControlApi, CreatesSession) {
  auto res = call(http::verb::post, "/v1/sessions", "{}");
  ASSERT_EQ(res.result(), http::status::created);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  std::string error;
  auto info = probes::session_info_from_json(res.body(), error);
  ASSERT_TRUE(info) << error;
  EXPECT_EQ(info->session_id.size(), 16u);
  EXPECT_EQ(info->tag_hex.size(), 12u);
  EXPECT_EQ(info->client, client_);
  EXPECT_EQ(info->capabilities.udp_ports, (std::vector<std::uint16_t>{51820, 1194}));
  EXPECT_EQ(info->capabilities.tcp_ports, std::vector<std::uint16_t>{443});
  EXPECT_TRUE(info->capabilities.raw_protocols.empty());
  EXPECT_FALSE(info->capabilities.alternate_address);
  EXPECT_EQ(info->capabilities.wireguard_public_key_hex, std::string(64, 'a'));
  EXPECT_EQ(info->expires_in_s, 120);
  EXPECT_EQ(info->reflector_version, "9.9.9");
  EXPECT_EQ(res[http::field::location], "/v1/sessions/" + info->session_id);
  // The tag in the answer is the one arrivals are attributed by.
  auto tag = probes::tag_from_hex(info->tag_hex);
  ASSERT_TRUE(tag);
  EXPECT_TRUE(table_.find_by_tag(*tag));
}

// The address the control connection reached: a NAT64 client finds the
// reflector's IPv4 address in it (and in its own IPv6 one, RFC 6052).
TEST_F(ReflectorControlApi, NewSessionNamesTheAddressItsConnectionReached) {
  HttpRequest req{http::verb::post, "/v1/sessions", 11};
  req.prepare_payload();
  std::string error;
  auto info = probes::session_info_from_json(api_.handle(req, client_, probes::Endpoint{"203.0.113.5", 8780}).body(),
                                             error);
  ASSERT_TRUE(info) << error;
  EXPECT_EQ(info->server, (probes::Endpoint{"203.0.113.5", 8780}));
  EXPECT_FALSE(open_session().server.has_value()) << "not known: not published";
}

// A client on a lossy path sends its opening request again on new
// connections, each copy with the same Idempotency-Key: all get one session.
// The key opens nothing for another address, and a malformed one is refused.
TEST_F(ReflectorControlApi, CopiesOfAnOpeningRequestGetOneSession) {
  const std::string key = "6f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5";
  auto first = call(http::verb::post, "/v1/sessions", "{}", key);
  ASSERT_EQ(first.result(), http::status::created) << first.body();
  client_.port = 40999;  // another connection of the same host
  auto again = call(http::verb::post, "/v1/sessions", "{}", key);
  ASSERT_EQ(again.result(), http::status::ok) << again.body();
  std::string error;
  auto a = probes::session_info_from_json(first.body(), error);
  auto b = probes::session_info_from_json(again.body(), error);
  ASSERT_TRUE(a && b) << error;
  EXPECT_EQ(a->session_id, b->session_id);
  EXPECT_EQ(a->tag_hex, b->tag_hex);
  EXPECT_EQ(b->client, client_) << "each answer names the connection it came on";
  EXPECT_EQ(table_.size(), 1u);

  client_ = {"198.51.100.8", 40123};  // someone who saw the key on the way
  auto other = call(http::verb::post, "/v1/sessions", "{}", key);
  ASSERT_EQ(other.result(), http::status::created);
  auto c = probes::session_info_from_json(other.body(), error);
  ASSERT_TRUE(c) << error;
  EXPECT_NE(c->session_id, a->session_id);

  // Without a key every request is a session of its own.
  EXPECT_EQ(call(http::verb::post, "/v1/sessions", "{}").result(), http::status::created);
  EXPECT_EQ(table_.size(), 3u);
  for (const std::string& bad : std::vector<std::string>{"short", std::string(65, 'a'), "0123456789abcdef\x1b[2J"}) {
    auto res = call(http::verb::post, "/v1/sessions", "{}", bad);
    EXPECT_EQ(res.result(), http::status::bad_request) << bad;
    EXPECT_TRUE(error_of(res).find("Idempotency-Key") != std::string::npos) << error_of(res);
  }
  EXPECT_EQ(table_.size(), 3u);

  // A closed session is not handed out again.
  client_ = {"198.51.100.7", 40123};
  ASSERT_EQ(call(http::verb::delete_, "/v1/sessions/" + a->session_id).result(), http::status::no_content);
  auto after_close = call(http::verb::post, "/v1/sessions", "{}", key);
  EXPECT_EQ(after_close.result(), http::status::created);
}

TEST_F(ReflectorControlApi, ReadsObservations) {
  auto info = open_session();
  auto res = call(http::verb::get, "/v1/sessions/" + info.session_id + "/observations");
  ASSERT_EQ(res.result(), http::status::ok);
  std::string error;
  auto list = probes::observations_from_json(res.body(), error);
  ASSERT_TRUE(list) << error;
  EXPECT_TRUE(list->observations.empty());

  Session* s = table_.find_by_tag(*probes::tag_from_hex(info.tag_hex));
  probes::Observation o;
  o.protocol = "wireguard";
  o.kind = "genuine";
  o.source = {"203.0.113.1", 1024};
  o.ttl = 61;
  o.payload_sha256 = std::string(64, '0');
  table_.record(*s, o);
  res = call(http::verb::get, "/v1/sessions/" + info.session_id + "/observations?since=0");
  list = probes::observations_from_json(res.body(), error);
  ASSERT_TRUE(list) << error;
  ASSERT_EQ(list->observations.size(), 1u);
  EXPECT_EQ(list->observations[0].source, o.source);
  EXPECT_EQ(list->observations[0].ttl, 61);
  EXPECT_EQ(list->observations[0].sequence, 1u);
}

// An answer is a page of bounded size, whatever the session holds: a client
// that asks and never reads costs the reflector one page. A client follows
// next_after; one from before pages (no `after`) is told that what is not in
// its answer was not recorded for it, so it says inconclusive, not blocked.
TEST_F(ReflectorControlApi, ObservationsComeInPagesOfBoundedSize) {
  auto info = open_session();
  Session* s = table_.find_by_tag(*probes::tag_from_hex(info.tag_hex));
  constexpr std::size_t kRecorded = 300;
  for (std::size_t i = 0; i < kRecorded; ++i) {
    probes::Observation o;
    o.protocol = "l2tp";
    o.kind = "genuine";
    o.probe_index = static_cast<std::uint16_t>(i);
    o.source = {"203.0.113.1", 1701};
    o.payload_sha256 = std::string(64, '0');
    o.fields["vendor_name"] = std::string(500, 'v');
    o.fields["host_name"] = std::string(500, 'h');
    table_.record(*s, o);
  }
  const std::string path = "/v1/sessions/" + info.session_id + "/observations";
  std::vector<probes::Observation> all;
  std::uint64_t after = 0;
  std::size_t pages = 0;
  for (;;) {
    auto res = call(http::verb::get, path + "?after=" + std::to_string(after));
    ASSERT_EQ(res.result(), http::status::ok);
    EXPECT_LE(res.body().size(), probes::kObservationPageBytes + 1024);
    std::string error;
    auto page = probes::observations_from_json(res.body(), error);
    ASSERT_TRUE(page) << error;
    EXPECT_TRUE(page->limits.empty()) << "a paging client is told of no limit";
    ++pages;
    all.insert(all.end(), page->observations.begin(), page->observations.end());
    if (!page->next_after) break;
    EXPECT_EQ(*page->next_after, all.size());
    after = *page->next_after;
  }
  EXPECT_GT(pages, 2u);
  ASSERT_EQ(all.size(), kRecorded);
  for (std::size_t i = 0; i < kRecorded; ++i) EXPECT_EQ(all[i].sequence, i + 1);

  auto legacy = call(http::verb::get, path);
  std::string error;
  auto first = probes::observations_from_json(legacy.body(), error);
  ASSERT_TRUE(first) << error;
  ASSERT_TRUE(first->next_after);
  ASSERT_EQ(first->limits.size(), 1u);
  EXPECT_EQ(first->limits[0].limit, probes::limit_kind::kObservationLimit);
  EXPECT_EQ(first->limits[0].count, kRecorded - first->observations.size());

  EXPECT_EQ(call(http::verb::get, path + "?after=x").result(), http::status::bad_request);
  auto past = call(http::verb::get, path + "?after=99999");
  ASSERT_EQ(past.result(), http::status::ok);
  auto none = probes::observations_from_json(past.body(), error);
  ASSERT_TRUE(none) << error;
  EXPECT_TRUE(none->observations.empty());
  EXPECT_FALSE(none->next_after);
}

TEST_F(ReflectorControlApi, UnknownSessionIs404WithJsonError) {
  for (std::string id : {"0123456789abcdef", "nothex", "../../etc/passwd", ""}) {
    auto res = call(http::verb::get, "/v1/sessions/" + id + "/observations");
    EXPECT_EQ(res.result(), http::status::not_found) << id;
    EXPECT_EQ(res[http::field::content_type], "application/json");
    EXPECT_FALSE(error_of(res).empty());
  }
}

TEST_F(ReflectorControlApi, DeletesSession) {
  auto info = open_session();
  auto res = call(http::verb::delete_, "/v1/sessions/" + info.session_id);
  EXPECT_EQ(res.result(), http::status::no_content);
  EXPECT_TRUE(res.body().empty());
  EXPECT_EQ(call(http::verb::get, "/v1/sessions/" + info.session_id + "/observations").result(),
            http::status::not_found);
  EXPECT_EQ(call(http::verb::delete_, "/v1/sessions/" + info.session_id).result(), http::status::not_found);
}

// The client proves another address its own by asking from it: the TCP
// handshake shows the asker holds it. The session then validates it.
TEST_F(ReflectorControlApi, ValidatesTheAddressThatAsks) {
  auto info = open_session();
  const Session* session = table_.find(info.session_id);
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(session->validated, std::vector<std::string>{"198.51.100.7"});  // the control connection's

  client_ = {"2001:db8::7", 50000};
  auto res = call(http::verb::post, "/v1/sessions/" + info.session_id + "/addresses");
  ASSERT_EQ(res.result(), http::status::ok) << res.body();
  EXPECT_EQ(json::parse(res.body()).at("validated"), "2001:db8::7");
  EXPECT_TRUE(table_.find(info.session_id)->validates("2001:db8::7"));

  EXPECT_EQ(call(http::verb::get, "/v1/sessions/" + info.session_id + "/addresses").result(),
            http::status::method_not_allowed);
  EXPECT_EQ(call(http::verb::post, "/v1/sessions/0123456789abcdef/addresses").result(), http::status::not_found);
  EXPECT_EQ(call(http::verb::post, "/v1/sessions/NOT-AN-ID/addresses").result(), http::status::not_found);
  // Bounded: a session validates a few addresses at most.
  for (const char* more : {"192.0.2.1", "192.0.2.2"}) {
    client_ = {more, 1};
    EXPECT_EQ(call(http::verb::post, "/v1/sessions/" + info.session_id + "/addresses").result(), http::status::ok);
  }
  client_ = {"192.0.2.3", 1};
  auto full = call(http::verb::post, "/v1/sessions/" + info.session_id + "/addresses");
  EXPECT_EQ(full.result(), http::status::too_many_requests);
  EXPECT_FALSE(table_.find(info.session_id)->validates("192.0.2.3"));
}

TEST_F(ReflectorControlApi, Health) {
  auto res = call(http::verb::get, "/v1/health");
  ASSERT_EQ(res.result(), http::status::ok);
  auto j = json::parse(res.body());
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["version"], "9.9.9");
}

TEST_F(ReflectorControlApi, ChallengeEchoesTheTokenAndNothingElse) {
  const std::string token = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
  auto res = call(http::verb::get, "/v1/challenge/" + token);
  ASSERT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::cache_control], "no-store") << "a cache must not answer a later challenge";
  EXPECT_EQ(json::parse(res.body()), (json{{"challenge", token}}));
  EXPECT_LT(res.body().size(), 32 + token.size()) << "the answer stays about as small as the request";
  EXPECT_EQ(table_.size(), 0u) << "a challenge opens no session";
  for (const std::string& bad : std::vector<std::string>{"", "abc", "9F8E7D6C5B4A39281706F5E4D3C2B1A0", std::string(65, 'a'),
                          "9f8e7d6c5b4a3928/1706f5e4d3c2b1a0", "9f8e7d6c5b4a39281706f5e4d3c2b1a0%00"}) {
    auto r = call(http::verb::get, "/v1/challenge/" + bad);
    EXPECT_EQ(r.result(), http::status::bad_request) << bad;
    EXPECT_EQ(r.body().find(bad.empty() ? "\x01" : bad), std::string::npos) << "a refused token is not echoed";
  }
  EXPECT_EQ(call(http::verb::post, "/v1/challenge/" + token).result(), http::status::method_not_allowed);
}

TEST_F(ReflectorControlApi, SessionsOfferTheChallenge) {
  EXPECT_TRUE(open_session().capabilities.portal_challenge);
}

TEST_F(ReflectorControlApi, WrongMethodIs405WithAllow) {
  auto res = call(http::verb::get, "/v1/sessions");
  EXPECT_EQ(res.result(), http::status::method_not_allowed);
  EXPECT_EQ(res[http::field::allow], "POST");
  EXPECT_FALSE(error_of(res).empty());
  EXPECT_EQ(call(http::verb::put, "/v1/health").result(), http::status::method_not_allowed);
  EXPECT_EQ(call(http::verb::post, "/v1/sessions/0123456789abcdef/observations").result(),
            http::status::method_not_allowed);
}

TEST_F(ReflectorControlApi, UnknownPathIs404EvenWithInvalidUtf8) {
  auto res = call(http::verb::get, "/\xff\xfe/x");
  EXPECT_EQ(res.result(), http::status::not_found);
  EXPECT_FALSE(error_of(res).empty());
}

TEST_F(ReflectorControlApi, OversizedBodyIs413) {
  auto res = call(http::verb::post, "/v1/sessions", std::string(kMaxRequestBody + 1, 'x'));
  EXPECT_EQ(res.result(), http::status::payload_too_large);
  EXPECT_EQ(table_.size(), 0u);
}

TEST_F(ReflectorControlApi, FullTableIs503) {
  for (int i = 0; i < 3; ++i) open_session();
  auto res = call(http::verb::post, "/v1/sessions");
  EXPECT_EQ(res.result(), http::status::service_unavailable);
  EXPECT_FALSE(error_of(res).empty());
}

// Connections refused for want of a slot carry no tag: the session hears of
// those from its own addresses (the control connection's, its probes' sources)
// made since it began, and of no one else's.
TEST(ReflectorControlApiLimits, ObservationsNameConnectionsRefusedFromTheSessionsAddresses) {
  test::FakeClock clock;
  SessionTable table({}, clock.fn());
  ConnectionRefusals refusals(clock.fn());
  ControlApiOptions options;
  options.rnd = test::counter_fill();
  options.refusals = &refusals;
  options.max_connections = 8;
  ControlApi api(table, options);
  auto call = [&](http::verb verb, const std::string& target) {
    HttpRequest req{verb, target, 11};
    req.prepare_payload();
    return api.handle(req, {"198.51.100.7", 40000});
  };
  std::string error;
  auto info = probes::session_info_from_json(call(http::verb::post, "/v1/sessions").body(), error);
  ASSERT_TRUE(info) << error;
  auto read_limits = [&] {
    auto list = probes::observations_from_json(call(http::verb::get, "/v1/sessions/" + info->session_id +
                                                                         "/observations")
                                                   .body(),
                                               error);
    EXPECT_TRUE(list) << error;
    return list ? list->limits : std::vector<probes::ReflectorLimit>{};
  };
  EXPECT_TRUE(read_limits().empty());

  // A probe of this session arrived from a second address (IPv6 here).
  probes::Observation from_v6;
  from_v6.source = {"2001:db8::7", 5000};
  table.record(*table.find_by_tag(*probes::tag_from_hex(info->tag_hex)), from_v6);
  clock.advance(std::chrono::seconds(1));
  refusals.record("198.51.100.7", 1723);
  refusals.record("198.51.100.7", 1723);
  refusals.record("2001:db8::7", 443);
  refusals.record("203.0.113.99", 1194);  // somebody else
  auto limits = read_limits();
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_EQ(limits[0].limit, "connection_slots");
  EXPECT_EQ(limits[0].count, 3u);
  EXPECT_EQ(limits[0].ports, (std::vector<std::uint16_t>{1723, 443}));
  EXPECT_NE(limits[0].detail.find("all 8 "), std::string::npos) << limits[0].detail;
}

TEST(ReflectorControlApiAuth, BearerMatching) {
  EXPECT_TRUE(bearer_matches("Bearer s3cret", "s3cret"));
  EXPECT_TRUE(bearer_matches("bearer s3cret", "s3cret"));  // the scheme is case-insensitive
  EXPECT_FALSE(bearer_matches("Bearer S3cret", "s3cret"));  // the token is not
  EXPECT_FALSE(bearer_matches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer s3cret2", "s3cret"));
  EXPECT_FALSE(bearer_matches("s3cret", "s3cret"));
  EXPECT_FALSE(bearer_matches("Basic s3cret", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer ", ""));
  EXPECT_FALSE(bearer_matches("", "s3cret"));
}

TEST(ReflectorControlApiAuth, KeyRequiredEverywhereButHealth) {
  SessionTable table({}, test::FakeClock{}.fn());
  ControlApiOptions options;
  options.rnd = test::counter_fill();
  options.auth_key = "k3y-with-enough-entropy";
  ControlApi api(table, options);
  auto call = [&](http::verb verb, std::string target, std::optional<std::string> authorization) {
    HttpRequest req{verb, target, 11};
    if (authorization) req.set(http::field::authorization, *authorization);
    req.prepare_payload();
    return api.handle(req, {"198.51.100.7", 1});
  };

  for (auto auth : {std::optional<std::string>{}, std::optional<std::string>{"Bearer wrong"},
                    std::optional<std::string>{"Bearer k3y-with-enough-entropyX"}}) {
    for (auto [verb, target] : std::vector<std::pair<http::verb, std::string>>{
             {http::verb::post, "/v1/sessions"},
             {http::verb::get, "/v1/sessions/0123456789abcdef/observations"},
             {http::verb::delete_, "/v1/sessions/0123456789abcdef"},
             {http::verb::get, "/metrics"},
             {http::verb::get, "/no/such/thing"}}) {
      auto res = call(verb, target, auth);
      EXPECT_EQ(res.result(), http::status::unauthorized) << target << " " << auth.value_or("<none>");
      EXPECT_EQ(res[http::field::content_type], "application/json");
      EXPECT_TRUE(json::parse(res.body(), nullptr, false).contains("error")) << res.body();
      EXPECT_TRUE(std::string(res[http::field::www_authenticate]).starts_with("Bearer"));
    }
  }
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(call(http::verb::get, "/v1/health", std::nullopt).result(), http::status::ok);
  EXPECT_EQ(call(http::verb::get, "/v1/challenge/0123456789abcdef", std::nullopt).result(), http::status::ok)
      << "a portal check comes before any session, so it needs no key";

  const std::string good = "Bearer k3y-with-enough-entropy";
  auto created = call(http::verb::post, "/v1/sessions", good);
  ASSERT_EQ(created.result(), http::status::created) << created.body();
  const std::string id = std::string(created[http::field::location]).substr(kSessionsPrefix.size());
  EXPECT_EQ(call(http::verb::get, "/v1/sessions/" + id + "/observations", good).result(), http::status::ok);
  EXPECT_EQ(call(http::verb::get, "/v1/sessions/" + id + "/observations", std::nullopt).result(),
            http::status::unauthorized);
  EXPECT_EQ(call(http::verb::get, "/metrics", good).result(), http::status::ok);
  EXPECT_EQ(call(http::verb::delete_, "/v1/sessions/" + id, good).result(), http::status::no_content);
}

// TLS only (vpncheck-reflector --control-tls-only): in plain HTTP, 403 with
// the reason for everything but the health check and the challenge, even
// with the right key; inside TLS, the API as ever.
TEST(ReflectorControlApiAuth, TlsOnlyRefusesPlainHttpButHealthAndChallenge) {
  SessionTable table({}, test::FakeClock{}.fn());
  ControlApiOptions options;
  options.rnd = test::counter_fill();
  options.auth_key = "k3y-with-enough-entropy";
  options.tls_only = true;
  ControlApi api(table, options);
  auto call = [&](http::verb verb, const std::string& target, bool inside_tls) {
    HttpRequest req{verb, target, 11};
    req.set(http::field::authorization, "Bearer k3y-with-enough-entropy");
    req.prepare_payload();
    return api.handle(req, {"198.51.100.7", 1}, std::nullopt, inside_tls);
  };
  for (const std::string target : {"/v1/sessions", "/metrics", "/no/such/thing"}) {
    auto res = call(target == "/v1/sessions" ? http::verb::post : http::verb::get, target, false);
    EXPECT_EQ(res.result(), http::status::forbidden) << target;
    EXPECT_EQ(json::parse(res.body(), nullptr, false).value("error", ""), kTlsOnlyError) << res.body();
  }
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(call(http::verb::get, "/v1/health", false).result(), http::status::ok);
  EXPECT_EQ(call(http::verb::get, "/v1/challenge/0123456789abcdef", false).result(), http::status::ok)
      << "a captive-portal check asks for the challenge in plain HTTP";
  EXPECT_EQ(call(http::verb::post, "/v1/sessions", true).result(), http::status::created);
  EXPECT_EQ(call(http::verb::get, "/metrics", true).result(), http::status::ok);
}

TEST(ReflectorControlApiAuth, NoKeyMeansOpen) {
  SessionTable table({}, test::FakeClock{}.fn());
  ControlApiOptions options;
  options.rnd = test::counter_fill();
  ControlApi api(table, options);
  HttpRequest req{http::verb::post, "/v1/sessions", 11};
  req.set(http::field::authorization, "Bearer anything");
  req.prepare_payload();
  EXPECT_EQ(api.handle(req, {"198.51.100.7", 1}).result(), http::status::created);
}

}  // namespace
}  // namespace vpncheck::reflector
