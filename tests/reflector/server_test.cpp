// One in-process loopback run of the whole reflector: a session over HTTP, a
// WireGuard initiation over UDP and an OpenVPN framed reset over TCP, the
// in-protocol replies, then the observations over HTTP.
#include "reflector/server.h"
#include "reflector/tcp_listener.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include "probes/control.h"
#include "probes/crypto.h"
#include "probes/ipsec.h"
#include "probes/openvpn.h"
#include "probes/pptp.h"
#include "probes/wireguard.h"
#include "test_util.h"

namespace vpncheck::reflector {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using asio::ip::udp;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

const auto kLoopback = asio::ip::make_address("127.0.0.1");

// Runs `aw` on `ctx` for at most `limit`; nullopt if it did not finish.
template <typename T>
std::optional<T> run_bounded(asio::io_context& ctx, asio::awaitable<T> aw, std::chrono::milliseconds limit = 1500ms) {
  auto future = asio::co_spawn(ctx, std::move(aw), asio::use_future);
  ctx.restart();
  ctx.run_for(limit);
  if (future.wait_for(0s) != std::future_status::ready) return std::nullopt;
  return future.get();
}

asio::awaitable<HttpResponse> http_call(std::uint16_t port, http::verb verb, std::string target) {
  tcp::socket socket(co_await asio::this_coro::executor);
  auto [cec] = co_await socket.async_connect({kLoopback, port}, kAwait);
  HttpResponse res;
  if (cec) co_return res;
  HttpRequest req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(false);
  req.prepare_payload();
  co_await http::async_write(socket, req, kAwait);
  beast::flat_buffer buffer;
  co_await http::async_read(socket, buffer, res, kAwait);
  co_return res;
}

struct Exchange {
  probes::Bytes reply;
  std::uint16_t local_port = 0;
};

asio::awaitable<Exchange> udp_exchange(std::uint16_t port, probes::Bytes request) {
  udp::socket socket(co_await asio::this_coro::executor, udp::endpoint(kLoopback, 0));
  Exchange ex;
  ex.local_port = socket.local_endpoint().port();
  co_await socket.async_send_to(asio::buffer(request), udp::endpoint(kLoopback, port), kAwait);
  ex.reply.resize(2048);
  udp::endpoint from;
  auto [ec, n] = co_await socket.async_receive_from(asio::buffer(ex.reply), from, kAwait);
  ex.reply.resize(ec ? 0 : n);
  co_return ex;
}

asio::awaitable<Exchange> tcp_exchange(std::uint16_t port, probes::Bytes request) {
  tcp::socket socket(co_await asio::this_coro::executor);
  Exchange ex;
  auto [cec] = co_await socket.async_connect({kLoopback, port}, kAwait);
  if (cec) co_return ex;
  ex.local_port = socket.local_endpoint().port();
  co_await asio::async_write(socket, asio::buffer(request), kAwait);
  // The reflector answers, then closes its side: read to EOF.
  std::vector<std::uint8_t> all(2048);
  auto [ec, n] = co_await asio::async_read(socket, asio::buffer(all), kAwait);
  all.resize(n);
  ex.reply = std::move(all);
  co_return ex;
}

class ReflectorServer : public ::testing::Test {
 protected:
  void SetUp() override {
    Config config = test::loopback_config();
    config.timeouts.linger = 300ms;
    server_ = std::make_unique<Server>(config, &log_);
    auto error = server_->start();
    ASSERT_FALSE(error) << *error;
    io_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (io_.joinable()) io_.join();
    server_.reset();
  }

  std::ostringstream log_stream_;
  Logger log_{LogLevel::warn, &log_stream_};
  std::unique_ptr<Server> server_;
  std::thread io_;
  asio::io_context client_;
};

TEST_F(ReflectorServer, LoopbackSessionProbesAndObservations) {
  const BoundPorts& ports = server_->ports();
  ASSERT_NE(ports.control, 0);
  ASSERT_EQ(ports.udp.size(), 1u);
  ASSERT_EQ(ports.tcp.size(), 1u);
  ASSERT_NE(ports.udp[0], 0);
  ASSERT_NE(ports.tcp[0], 0);

  // Open a session.
  auto created = run_bounded(client_, http_call(ports.control, http::verb::post, "/v1/sessions"));
  ASSERT_TRUE(created);
  ASSERT_EQ(created->result(), http::status::created) << created->body();
  std::string error;
  auto info = probes::session_info_from_json(created->body(), error);
  ASSERT_TRUE(info) << error;
  EXPECT_EQ(info->client.address, "127.0.0.1");
  EXPECT_NE(info->client.port, 0);
  EXPECT_EQ(info->capabilities.udp_ports, ports.udp);
  EXPECT_EQ(info->capabilities.tcp_ports, ports.tcp);
  ASSERT_TRUE(info->capabilities.wireguard_public_key_hex);
  auto key_bytes = probes::from_hex(*info->capabilities.wireguard_public_key_hex);
  ASSERT_TRUE(key_bytes && key_bytes->size() == 32);

  probes::ServerHints hints;
  hints.wireguard_public_key.emplace();
  std::copy(key_bytes->begin(), key_bytes->end(), hints.wireguard_public_key->begin());
  probes::ProbeToken token{*probes::tag_from_hex(info->tag_hex), 3};
  auto rnd = test::counter_fill();

  // WireGuard over UDP.
  probes::Bytes init = probes::wireguard::build_initiation(token, hints, rnd);
  auto wg = run_bounded(client_, udp_exchange(ports.udp[0], init));
  ASSERT_TRUE(wg) << "no WireGuard reply within the deadline";
  EXPECT_TRUE(probes::wireguard::is_response_to(wg->reply, init));

  // OpenVPN framed reset over TCP.
  token.probe_index = 4;
  probes::Bytes frame = probes::openvpn::kTcpFraming.frame(probes::openvpn::build_client_reset(token, hints, rnd));
  auto ovpn = run_bounded(client_, tcp_exchange(ports.tcp[0], frame));
  ASSERT_TRUE(ovpn) << "no OpenVPN reply within the deadline";
  // From the session's own address: the answer in the request's (tls-auth) wrapping.
  ASSERT_EQ(ovpn->reply.size(), 2 + probes::openvpn::server_reset_size(probes::openvpn::Form::tls_auth_sha1));
  EXPECT_TRUE(probes::openvpn::is_server_reset_for(probes::ByteView(ovpn->reply).subspan(2),
                                                   probes::ByteView(frame).subspan(2)));

  // What arrived, as the reflector saw it.
  auto read = run_bounded(client_, http_call(ports.control, http::verb::get,
                                             "/v1/sessions/" + info->session_id + "/observations"));
  ASSERT_TRUE(read);
  ASSERT_EQ(read->result(), http::status::ok) << read->body();
  auto list = probes::observations_from_json(read->body(), error);
  ASSERT_TRUE(list) << error;
  ASSERT_EQ(list->observations.size(), 2u) << read->body();

  const auto& w = list->observations[0];
  EXPECT_EQ(w.protocol, "wireguard");
  EXPECT_EQ(w.probe_index, 3);
  EXPECT_EQ(w.transport, probes::Transport::udp);
  EXPECT_EQ(w.local_port, ports.udp[0]);
  EXPECT_EQ(w.source, (probes::Endpoint{"127.0.0.1", wg->local_port}));
  EXPECT_EQ(w.payload_sha256, probes::to_hex(probes::sha256(init)));
  EXPECT_EQ(w.ttl, 64);  // loopback: no hop on the way
  EXPECT_TRUE(w.tos.has_value());
  EXPECT_EQ(w.fields.at("mac1"), "valid");
  EXPECT_TRUE(w.reply.sent);

  const auto& o = list->observations[1];
  EXPECT_EQ(o.protocol, "openvpn");
  EXPECT_EQ(o.probe_index, 4);
  EXPECT_EQ(o.transport, probes::Transport::tcp);
  EXPECT_EQ(o.local_port, ports.tcp[0]);
  EXPECT_EQ(o.source, (probes::Endpoint{"127.0.0.1", ovpn->local_port}));
  EXPECT_EQ(o.payload_length, frame.size());
  EXPECT_EQ(o.payload_sha256, probes::to_hex(probes::sha256(frame)));
  EXPECT_TRUE(o.reply.sent);

  // Unknown session over HTTP.
  auto missing = run_bounded(client_, http_call(ports.control, http::verb::get,
                                                "/v1/sessions/0000000000000000/observations"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->result(), http::status::not_found);
  EXPECT_EQ(log_stream_.str().find("error"), std::string::npos) << log_stream_.str();
}

// A probe port another program holds (here: the first server's) is left out
// with a warning naming it and why; the reflector starts and serves the rest,
// and offers the port to clients as unavailable.
TEST_F(ReflectorServer, AProbePortInUseIsLeftOutNamingItAndWhy) {
  const std::uint16_t taken_udp = server_->ports().udp[0];
  const std::uint16_t taken_tcp = server_->ports().tcp[0];
  Config config = test::loopback_config();
  config.udp_ports = {taken_udp, 0};
  config.tcp_ports = {taken_tcp, 0};
  std::ostringstream warnings;
  Logger log(LogLevel::warn, &warnings);
  Server second(config, &log);
  auto error = second.start();
  ASSERT_FALSE(error) << *error;
  const auto& ports = second.ports();
  ASSERT_EQ(ports.udp.size(), 1U);
  EXPECT_NE(ports.udp[0], taken_udp);
  ASSERT_EQ(ports.tcp.size(), 1U);
  EXPECT_NE(ports.tcp[0], taken_tcp);
  ASSERT_EQ(ports.unavailable.size(), 2U);
  EXPECT_EQ(ports.unavailable[0].transport, probes::Transport::udp);
  EXPECT_EQ(ports.unavailable[0].port, taken_udp);
  EXPECT_EQ(ports.unavailable[0].reason, "address in use: another program listens there");
  EXPECT_EQ(ports.unavailable[1].transport, probes::Transport::tcp);
  EXPECT_EQ(ports.unavailable[1].port, taken_tcp);
  const std::string udp_text = "UDP " + std::to_string(taken_udp) + " probes will not run (address in use";
  const std::string tcp_text = "TCP " + std::to_string(taken_tcp) + " probes will not run (address in use";
  EXPECT_NE(warnings.str().find(udp_text), std::string::npos) << warnings.str();
  EXPECT_NE(warnings.str().find(tcp_text), std::string::npos) << warnings.str();
}

TEST_F(ReflectorServer, RefusesAControlPortInUseNamingIt) {
  Config config = test::loopback_config();
  config.control_port = server_->ports().control;
  std::ostringstream quiet;
  Logger log(LogLevel::error, &quiet);
  Server second(config, &log);
  auto error = second.start();
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("TCP 127.0.0.1:" + std::to_string(server_->ports().control)), std::string::npos) << *error;
}

TEST_F(ReflectorServer, WebControlPortInUseOnlyWarns) {
  Config config;
  config.listen = {"127.0.0.1"};
  config.control_port = 0;
  config.web_control_ports = {server_->ports().control};  // taken by the first server
  config.udp_ports = {};
  config.tcp_ports = {};
  config.nat_ports = {};  // no fixed ports: the test must not depend on what else the host runs
  std::ostringstream warnings;
  Logger log(LogLevel::warn, &warnings);
  Server second(config, &log);
  EXPECT_FALSE(second.start());
  EXPECT_TRUE(second.ports().web_control.empty());
  EXPECT_NE(warnings.str().find("web control port skipped"), std::string::npos) << warnings.str();
}

}  // namespace
}  // namespace vpncheck::reflector

namespace vpncheck::reflector {
namespace {

std::uint16_t free_tcp_port() {
  asio::io_context ctx;
  tcp::acceptor probe(ctx, tcp::endpoint(kLoopback, 0));
  return probe.local_endpoint().port();
}

// Port sharing as on 443: the first bytes tell the control API, framed
// probes and control probes apart on one listener.
TEST(ReflectorServerShared, OnePortServesHttpFramedProbesAndControlProbes) {
  const std::uint16_t shared = free_tcp_port();
  Config config = test::loopback_config();
  config.web_control_ports = {shared};
  config.udp_ports = {};
  config.tcp_ports = {shared};
  config.timeouts.control_idle = 20ms;
  config.timeouts.linger = 300ms;
  config.timeouts.probe_first_bytes = 500ms;  // the torn frame below waits this long
  std::ostringstream quiet;
  Logger log(LogLevel::error, &quiet);
  Server server(config, &log);
  auto error = server.start();
  ASSERT_FALSE(error) << *error;  // (a race for the port with another process is possible, not likely)
  EXPECT_EQ(server.ports().web_control, std::vector<std::uint16_t>{shared});
  EXPECT_EQ(server.ports().tcp, std::vector<std::uint16_t>{shared});
  std::thread io([&] { server.run(); });
  asio::io_context client;

  auto created = run_bounded(client, http_call(shared, http::verb::post, "/v1/sessions"));
  ASSERT_TRUE(created);
  ASSERT_EQ(created->result(), http::status::created);
  std::string parse_error;
  auto info = probes::session_info_from_json(created->body(), parse_error);
  ASSERT_TRUE(info) << parse_error;
  probes::ProbeToken token{*probes::tag_from_hex(info->tag_hex), 1};
  auto rnd = test::counter_fill();

  probes::Bytes control = probes::control::build_request(token, 44, rnd);
  auto control_reply = run_bounded(client, tcp_exchange(shared, control));
  ASSERT_TRUE(control_reply);
  EXPECT_TRUE(probes::control::is_reply_to(control_reply->reply, control));

  token.probe_index = 2;
  probes::Bytes frame = probes::openvpn::kTcpFraming.frame(probes::openvpn::build_client_reset(token, {}, rnd));
  auto ovpn = run_bounded(client, tcp_exchange(shared, frame));
  ASSERT_TRUE(ovpn);
  EXPECT_EQ(ovpn->reply.size(), 2 + probes::openvpn::server_reset_size(probes::openvpn::Form::tls_auth_sha1));

  // IKEv2 over TCP on the same port: its stream prefix "IKETCP" claims the
  // stream (it was once read as an OpenVPN length of 0x494b and dropped), and
  // the answer comes in its framing, without the prefix.
  token.probe_index = 3;
  probes::ProbeContext ike_context = probes::default_context(probes::ipsec::kModule, token);
  for (const auto& v : probes::ipsec::kModule.variants)
    if (v.framing != nullptr) ike_context.variant = v;
  ASSERT_NE(ike_context.variant.framing, nullptr);
  const probes::StreamFraming& ike_framing = *ike_context.variant.framing;
  probes::Bytes ike_request = probes::ipsec::kModule.build_request(ike_context, rnd);
  auto ike = run_bounded(client, tcp_exchange(shared, probes::frame_first(ike_framing, ike_request)));
  ASSERT_TRUE(ike);
  auto ike_reply = probes::unframe(ike_framing, ike->reply);
  ASSERT_TRUE(ike_reply.has_value()) << ike->reply.size() << " B back";
  EXPECT_TRUE(probes::ipsec::kModule.is_reply_to(*ike_reply, ike_request));

  // A TLS ClientHello (a browser) is claimed by no protocol's framing (it was
  // once read as an OpenVPN length of 5633): closed, no answer, unrecognised.
  auto tls = run_bounded(client, tcp_exchange(shared, {0x16, 0x03, 0x01, 0x02, 0x00, 0x01}));
  ASSERT_TRUE(tls);
  EXPECT_TRUE(tls->reply.empty());
  // An OpenVPN-looking stream whose frame never completes is a bad frame.
  auto torn = run_bounded(client, tcp_exchange(shared, probes::Bytes(frame.begin(), frame.begin() + 10)));
  ASSERT_TRUE(torn);
  EXPECT_TRUE(torn->reply.empty());

  auto read = run_bounded(client, http_call(server.ports().control, http::verb::get,
                                            "/v1/sessions/" + info->session_id + "/observations"));
  ASSERT_TRUE(read);
  auto list = probes::observations_from_json(read->body(), parse_error);
  ASSERT_TRUE(list) << parse_error;
  ASSERT_EQ(list->observations.size(), 3u);
  EXPECT_EQ(list->observations[0].kind, "control");
  EXPECT_EQ(list->observations[0].transport, probes::Transport::tcp);
  EXPECT_EQ(list->observations[0].payload_length, 44u);
  EXPECT_FALSE(list->observations[0].ttl);  // not observable on TCP
  EXPECT_EQ(list->observations[1].protocol, "openvpn");
  EXPECT_EQ(list->observations[2].protocol, "ipsec");
  EXPECT_EQ(list->observations[2].fields.at("piece"), "ike-tcp");

  server.stop();
  io.join();
  EXPECT_EQ(server.drops().get(DropReason::unrecognised), 1u);
  EXPECT_EQ(server.drops().get(DropReason::bad_frame), 1u);
}

TEST(ReflectorServerShared, SniffsHttpMethods) {
  auto is_http = [](std::string_view s) { return looks_like_http(probes::as_bytes(s)); };
  EXPECT_TRUE(is_http("GET / HTTP/1.1"));
  EXPECT_TRUE(is_http("POST /v1/sessions"));
  EXPECT_TRUE(is_http("DELETE /v1/sessions/x"));
  EXPECT_TRUE(is_http("OPTIONS *"));
  EXPECT_FALSE(is_http("GE"));
  EXPECT_FALSE(is_http(std::string_view("\x00\x2a\x38\x01", 4)));
  EXPECT_FALSE(is_http("get / HTTP/1.1"));
}

// The default --listen is both families: 0.0.0.0 and :: on the same ports,
// the IPv6 sockets IPV6_V6ONLY so the two do not clash.
TEST(ReflectorServerDefaults, DefaultListensOnBothFamiliesOnTheSamePorts) {
  {
    asio::io_context io;
    asio::ip::udp::socket v6(io);
    boost::system::error_code ec;
    v6.open(asio::ip::udp::v6(), ec);
    if (!ec) v6.bind({asio::ip::make_address("::1"), 0}, ec);
    if (ec) GTEST_SKIP() << "no IPv6 on this host: " << ec.message();
  }
  Config config;  // listen stays the default
  ASSERT_EQ(config.listen, (std::vector<std::string>{"0.0.0.0", "::"}));
  config.control_port = 0;
  config.web_control_ports = {};
  config.udp_ports = {0};
  config.tcp_ports = {0};
  config.nat_ports = {0, 0};  // the NAT test service on the wildcard address too
  std::ostringstream log_stream;
  Logger log(LogLevel::warn, &log_stream);
  Server server(config, &log);
  auto error = server.start();
  ASSERT_FALSE(error) << *error;
  const auto udp_port = server.ports().udp.at(0);
  const auto tcp_port = server.ports().control;
  asio::io_context io;
  for (const char* address : {"127.0.0.1", "::1"}) {
    // Taken on both families: binding it again fails.
    asio::ip::udp::socket udp(io);
    boost::system::error_code ec;
    asio::ip::udp::endpoint endpoint(asio::ip::make_address(address), udp_port);
    udp.open(endpoint.protocol(), ec);
    ASSERT_FALSE(ec) << ec.message();
    udp.bind(endpoint, ec);
    EXPECT_EQ(ec, asio::error::address_in_use) << "UDP " << address << ":" << udp_port;
    // And the control API accepts on both.
    asio::ip::tcp::socket tcp(io);
    tcp.connect({asio::ip::make_address(address), tcp_port}, ec);
    EXPECT_FALSE(ec) << "TCP " << address << ":" << tcp_port << ": " << ec.message();
  }
  EXPECT_EQ(log_stream.str().find("IPv6 unavailable"), std::string::npos) << log_stream.str();
}

}  // namespace
}  // namespace vpncheck::reflector

namespace vpncheck::reflector {
namespace {

// A Server running on its own thread for the length of a test, its log discarded.
struct QuietServer {
  std::ostringstream quiet;
  Logger log{LogLevel::error, &quiet};
  Server server;
  std::optional<std::string> error;
  bool started = false;
  std::thread io;
  explicit QuietServer(const Config& config) : server(config, &log), error(server.start()), started(!error) {
    if (started) io = std::thread([this] { server.run(); });
  }
  ~QuietServer() {
    server.stop();
    if (io.joinable()) io.join();
  }
};

// Every TCP slot held by another party: a probe connection the reflector
// closes unread is counted for its source address and shows in the
// observations of that address's session, so its client does not blame the
// network. Somebody else's refusals are not this session's.
TEST(ReflectorServerLimits, ConnectionsRefusedForWantOfASlotReachTheSessionsLimits) {
  Config config = test::loopback_config();
  config.max_connections = 2;
  config.timeouts.probe_first_bytes = 3s;  // how long a silent connection holds its slot
  QuietServer running(config);
  ASSERT_TRUE(running.started) << running.error.value_or("");
  const BoundPorts ports = running.server.ports();
  // A connection takes its slot once its coroutine runs, a moment after the accept.
  auto settle = [] { std::this_thread::sleep_for(200ms); };

  auto created = test::blocking_http_call(ports.control, http::verb::post, "/v1/sessions");
  std::string error;
  auto info = probes::session_info_from_json(created.body(), error);
  ASSERT_TRUE(info) << error << created.body();
  settle();

  asio::io_context ctx;
  std::vector<tcp::socket> held;  // connected and silent: the reflector waits for their first bytes
  for (int i = 0; i < 2; ++i) {
    held.emplace_back(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.3"), 0));
    held.back().connect({kLoopback, ports.tcp[0]});
  }
  settle();
  auto closed_unread = [&](const char* from) {
    tcp::socket s(ctx, tcp::endpoint(asio::ip::make_address(from), 0));
    s.connect({kLoopback, ports.tcp[0]});
    std::array<char, 16> buffer{};
    boost::system::error_code ec;
    const auto start = std::chrono::steady_clock::now();
    s.read_some(asio::buffer(buffer), ec);
    // Served, a silent connection would be closed only after probe_first_bytes.
    return (ec == asio::error::eof || ec == asio::error::connection_reset) &&
           std::chrono::steady_clock::now() - start < 1s;
  };
  EXPECT_TRUE(closed_unread("127.0.0.1"));  // this session's address
  EXPECT_TRUE(closed_unread("127.0.0.4"));  // somebody else's
  for (auto& s : held) s.close();
  settle();

  auto read = test::blocking_http_call(ports.control, http::verb::get,
                                       "/v1/sessions/" + info->session_id + "/observations");
  ASSERT_EQ(read.result(), http::status::ok) << read.body();
  auto list = probes::observations_from_json(read.body(), error);
  ASSERT_TRUE(list) << error;
  ASSERT_EQ(list->limits.size(), 1u) << read.body();
  EXPECT_EQ(list->limits[0].limit, "connection_slots");
  EXPECT_EQ(list->limits[0].count, 1u) << read.body();
  EXPECT_EQ(list->limits[0].ports, std::vector<std::uint16_t>{ports.tcp[0]});
}

// Probe connections held open take at most max_connections less the control
// reserve (an eighth): the control API still opens sessions for others. One
// client (address) holds at most --max-connections-per-client.
TEST(ReflectorServerLimits, HeldProbeConnectionsLeaveTheControlApiItsReservedSlots) {
  Config config = test::loopback_config();
  config.max_connections = 16;  // 2 reserved for the control API
  config.max_connections_per_client = 10;
  config.timeouts.probe_first_bytes = 5s;
  QuietServer running(config);
  ASSERT_TRUE(running.started) << running.error.value_or("");
  const BoundPorts ports = running.server.ports();
  asio::io_context ctx;
  // Served: waits for its first bytes; refused: closed at once.
  auto refused = [&](tcp::socket& s) {
    pollfd p{s.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, 500) <= 0) return false;  // still open: served
    std::array<char, 16> buffer{};
    return ::recv(s.native_handle(), buffer.data(), buffer.size(), 0) <= 0;
  };
  std::vector<tcp::socket> held;
  auto hold = [&](const char* from) {
    held.emplace_back(ctx, tcp::endpoint(asio::ip::make_address(from), 0));
    held.back().connect({kLoopback, ports.tcp[0]});
    std::this_thread::sleep_for(20ms);  // its slot is taken at the accept
  };
  for (int i = 0; i < 10; ++i) hold("127.0.0.3");
  hold("127.0.0.3");
  EXPECT_TRUE(refused(held.back())) << "an 11th connection from one client";
  held.pop_back();
  for (int i = 0; i < 4; ++i) hold("127.0.0.4");
  hold("127.0.0.5");
  EXPECT_TRUE(refused(held.back())) << "a 15th probe connection (14 = 16 - 2 reserved)";
  held.pop_back();
  auto created = test::blocking_http_call(ports.control, http::verb::post, "/v1/sessions",
                                          asio::ip::make_address("127.0.0.6"));
  EXPECT_EQ(created.result(), http::status::created) << created.body();
}

// The UDP listener reads again before it waits while datagrams keep coming,
// and lets the other handlers run between batches: a flood that never leaves
// its socket empty must not keep the control API (same I/O thread) from
// answering, while the flood is still being read.
TEST(ReflectorServerLimits, AUdpFloodLeavesTheControlApiAnswering) {
  Config config = test::loopback_config();
  config.tcp_ports = {};
  // Every initiation recorded and answered, the costliest path: the reflector
  // reads more slowly than two senders write, so its socket is seldom empty.
  config.rate_limit = 0;
  config.max_observations = std::size_t{1} << 24;
  config.max_observation_bytes = std::size_t{1} << 30;
  config.max_total_observation_bytes = std::size_t{1} << 30;
  QuietServer running(config);
  ASSERT_TRUE(running.started) << running.error.value_or("");
  const BoundPorts ports = running.server.ports();
  auto flooding = test::blocking_http_call(ports.control, http::verb::post, "/v1/sessions");
  std::string error;
  auto session = probes::session_info_from_json(flooding.body(), error);
  ASSERT_TRUE(session) << error;
  probes::ServerHints hints;
  hints.wireguard_public_key.emplace();
  auto key = probes::from_hex(running.server.wireguard_public_key_hex());
  ASSERT_TRUE(key && key->size() == 32);
  std::copy(key->begin(), key->end(), hints.wireguard_public_key->begin());
  const probes::Bytes initiation = probes::wireguard::build_initiation(
      {*probes::tag_from_hex(session->tag_hex), 1}, hints, [](std::span<std::uint8_t> b) {
        std::fill(b.begin(), b.end(), std::uint8_t{0x42});
      });
  auto answered_probes = [&] {
    asio::io_context ctx;
    auto res = run_bounded(ctx, http_call(ports.control, http::verb::get, "/metrics"), 3000ms);
    if (!res) return std::optional<std::uint64_t>{};
    const std::string line = "\nvpncheck_reflector_replies_sent_total ";  // the sample, not its # HELP
    const std::string body = res->body();
    const auto at = body.find(line);
    if (at == std::string::npos) return std::optional<std::uint64_t>{};
    return std::optional<std::uint64_t>{std::stoull(body.substr(at + line.size()))};
  };
  const auto before = answered_probes();
  ASSERT_TRUE(before.has_value());

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> sent{0};
  auto flood = [&] {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(ports.udp.at(0));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
    std::array<iovec, 64> iov{};
    std::array<mmsghdr, 64> h{};
    for (std::size_t i = 0; i < h.size(); ++i) {
      iov[i] = iovec{const_cast<std::uint8_t*>(initiation.data()), initiation.size()};
      h[i].msg_hdr.msg_iov = &iov[i];
      h[i].msg_hdr.msg_iovlen = 1;
    }
    while (!stop) {
      const int n = ::sendmmsg(fd, h.data(), h.size(), 0);
      if (n > 0) sent += static_cast<std::uint64_t>(n);
    }
    ::close(fd);
  };
  // Two senders keep the socket's queue full most of the time. Not always on
  // two cores: a listener that never yields still waits at EAGAIN now and
  // then, so this catches one only in some runs (about half, tried).
  std::thread flood_a(flood), flood_b(flood);
  std::this_thread::sleep_for(200ms);

  int answered = 0;
  for (int i = 0; i < 5; ++i) {
    asio::io_context ctx;
    // Answered in milliseconds; a listener that read on while datagrams
    // wait, never yielding, left calls waiting for seconds.
    auto created = run_bounded(ctx, http_call(ports.control, http::verb::post, "/v1/sessions"), 1000ms);
    if (created && created->result() == http::status::created) ++answered;
  }
  const auto during = answered_probes();
  const std::uint64_t flooded = sent.load();
  stop = true;
  flood_a.join();
  flood_b.join();

  EXPECT_EQ(answered, 5) << "control API calls answered during the flood";
  ASSERT_TRUE(during.has_value()) << "/metrics during the flood";
  // The flood was read while the control API answered, not left waiting.
  EXPECT_GT(*during - *before, 10'000u) << flooded << " datagrams sent";
}

// Until its SCCRQ a PPTP peer is nobody: it gets probe_first_bytes to send
// one, not the 30 s a call in progress may idle.
TEST(ReflectorServerLimits, APptpPeerThatNeverSendsItsSccrqIsClosedSoon) {
  Config config = test::loopback_config();
  config.timeouts.probe_first_bytes = 500ms;
  QuietServer running(config);
  ASSERT_TRUE(running.started) << running.error.value_or("");
  asio::io_context ctx;
  tcp::socket s(ctx);
  s.connect({kLoopback, running.server.ports().tcp[0]});
  // The start of a PPTP control message (length 156, type 1, the magic cookie), then nothing.
  const std::array<std::uint8_t, 8> head{0x00, 0x9c, 0x00, 0x01, 0x1a, 0x2b, 0x3c, 0x4d};
  asio::write(s, asio::buffer(head));
  const auto start = std::chrono::steady_clock::now();
  std::array<char, 16> buffer{};
  boost::system::error_code ec;
  s.read_some(asio::buffer(buffer), ec);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  EXPECT_LT(took, 3s);
}

// The stream loop a module's conversation runs in: once a message named a
// session, the peer may idle up to conversation_idle (not probe_first_bytes),
// and the whole connection lasts at most conversation_total.
struct NamedConversation {
  asio::io_context ctx;
  tcp::socket socket{ctx};
  bool answered = false;

  NamedConversation(QuietServer& running) {
    const BoundPorts ports = running.server.ports();
    auto created = test::blocking_http_call(ports.control, http::verb::post, "/v1/sessions");
    std::string error;
    auto info = probes::session_info_from_json(created.body(), error);
    if (!info) {
      ADD_FAILURE() << error;
      return;
    }
    socket.connect({kLoopback, ports.tcp[0]});
    probes::Bytes sccrq = probes::pptp::build_sccrq({*probes::tag_from_hex(info->tag_hex), 1});
    asio::write(socket, asio::buffer(sccrq));
    probes::Bytes sccrp(probes::pptp::kSccrpSize);
    boost::system::error_code ec;
    asio::read(socket, asio::buffer(sccrp), ec);
    answered = !ec && probes::pptp::is_sccrp_reply_to(sccrp, sccrq);
  }
  // How long until the reflector ends the connection (eof or reset), at most `bound`.
  std::chrono::steady_clock::duration time_to_close(std::chrono::steady_clock::duration bound,
                                                    const std::function<void()>& meanwhile = {}) {
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < bound) {
      pollfd pfd{socket.native_handle(), POLLIN, 0};
      if (::poll(&pfd, 1, 50) > 0) {
        std::array<char, 64> buffer{};
        boost::system::error_code ec;
        socket.read_some(asio::buffer(buffer), ec);
        if (ec) return std::chrono::steady_clock::now() - start;
      }
      if (meanwhile) meanwhile();
    }
    return bound;
  }
};

TEST(ReflectorServerLimits, ANamedConversationIdlesUntilItsIdleLimit) {
  Config config = test::loopback_config();
  config.timeouts.probe_first_bytes = 200ms;  // not what applies once a session is named
  config.timeouts.conversation_idle = 1500ms;
  QuietServer running(config);
  ASSERT_TRUE(running.started) << running.error.value_or("");
  NamedConversation c(running);
  ASSERT_TRUE(c.answered);
  const auto took = c.time_to_close(10s);
  EXPECT_GE(took, 1s) << "kept beyond probe_first_bytes";
  EXPECT_LT(took, 8s) << "closed at the idle limit";
}

TEST(ReflectorServerLimits, AConversationEndsAtItsLifetimeEvenWhenBusy) {
  Config config = test::loopback_config();
  config.timeouts.conversation_idle = 10s;
  config.timeouts.conversation_total = 1s;
  QuietServer running(config);
  ASSERT_TRUE(running.started) << running.error.value_or("");
  NamedConversation c(running);
  ASSERT_TRUE(c.answered);
  // A Set-Link-Info (no answer) every poll keeps the connection busy.
  probes::Bytes sli = probes::pptp::build_set_link_info(1);
  std::size_t sent = 0;
  const auto took = c.time_to_close(10s, [&] {
    boost::system::error_code ec;
    if (sent++ < 10) asio::write(c.socket, asio::buffer(sli), ec);
  });
  EXPECT_LT(took, 8s) << "closed at conversation_total, though never idle for conversation_idle";
}

}  // namespace
}  // namespace vpncheck::reflector
