// Garbage from the control API must end the run with exit 3 and a message
// that says the peer is not a vpncheck reflector; a reflector that is full
// (HTTP 503 / 429) is named busy instead (loopback only).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client_fixtures.h"
#include "loopback_fixtures.h"
#include "probes/session_request.h"
#include "reflector/log.h"
#include "reflector/server.h"
#include "src/app.h"
#include "src/control/control_client.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;
namespace asio = boost::asio;

// Answers every connection with `answer` after reading what the client sent, then closes.
class GarbageServer : public fixtures::FakeHttpServer {
 public:
  explicit GarbageServer(std::string answer)
      : FakeHttpServer([answer = std::move(answer)](std::string_view) { return answer; }) {}
};

std::string http_answer(const std::string& content_type, const std::string& body,
                        const std::string& status = "201 Created") {
  return "HTTP/1.1 " + status + "\r\nContent-Type: " + content_type + "\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

struct RunOutput {
  int code;
  std::string out;
  std::string err;
};

RunOutput run_against(std::uint16_t port) {
  Options o;
  o.reflector_host = "127.0.0.1";
  o.control_port = port;
  o.timeout_s = 1.0;
  o.no_color = true;
  std::ostringstream out;
  std::ostringstream err;
  int code = run_vpncheck(o, out, err);
  return {code, out.str(), err.str()};
}

TEST(ControlApiGarbage, NonHttpAnswerIsExit3NotAReflector) {
  GarbageServer server(std::string("\x16\x03\x01\x00\x05hello garbage\r\n\r\n", 22));
  auto r = run_against(server.port());
  if (contains(r.out, "PROTOCOL")) GTEST_SKIP() << "a real reflector answers on 127.0.0.1:443 or :80";
  EXPECT_GE(server.connections(), 1);
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "not a vpncheck reflector")) << r.err;
  EXPECT_TRUE(contains(r.err, "TCP " + std::to_string(server.port()))) << r.err;
  EXPECT_FALSE(contains(r.out, "blocked")) << r.out;
}

TEST(ControlApiGarbage, HttpWithNonJsonBodyIsExit3NotAReflector) {
  GarbageServer server(http_answer("text/html", "<html>captive portal</html>\n"));
  auto r = run_against(server.port());
  if (contains(r.out, "PROTOCOL")) GTEST_SKIP() << "a real reflector answers on 127.0.0.1:443 or :80";
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "not a vpncheck reflector (bad session answer")) << r.err;
}

TEST(ControlApiGarbage, JsonWithAHostileSessionIdIsRejected) {
  GarbageServer server(http_answer(
      "application/json",
      R"({"session_id":"a/../x\r\nInjected: 1","tag":"001122334455","client":{"address":"1.2.3.4","port":1},)"
      R"("capabilities":{"udp_ports":[],"tcp_ports":[]}})"));
  auto r = run_against(server.port());
  if (contains(r.out, "PROTOCOL")) GTEST_SKIP() << "a real reflector answers on 127.0.0.1:443 or :80";
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "session id")) << r.err;
}

TEST(ControlApiBusy, A503IsReflectorBusyWithItsReasonNotNotAReflector) {
  GarbageServer server(http_answer("application/json", R"({"error":"session table full, try again later"})",
                                   "503 Service Unavailable"));
  auto r = run_against(server.port());
  if (contains(r.out, "PROTOCOL")) GTEST_SKIP() << "a real reflector answers on 127.0.0.1:443 or :80";
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "reflector busy: session table full, try again later")) << r.err;
  EXPECT_TRUE(contains(r.err, "TCP " + std::to_string(server.port()) + ", HTTP 503")) << r.err;
  EXPECT_FALSE(contains(r.err, "not a vpncheck reflector")) << r.err;
  EXPECT_FALSE(contains(r.out, "blocked")) << r.out;
}

TEST(ControlApiBusy, TheReasonFromTheNetworkIsShortAndPrintable) {
  GarbageServer server(http_answer("application/json",
                                   R"({"error":"full\u001b[31m\r\nX)" + std::string(400, 'y') + R"("})",
                                   "429 Too Many Requests"));
  auto r = run_against(server.port());
  if (contains(r.out, "PROTOCOL")) GTEST_SKIP() << "a real reflector answers on 127.0.0.1:443 or :80";
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "reflector busy: full?[31m??X")) << r.err;
  EXPECT_FALSE(contains(r.err, "\x1b")) << r.err;
  EXPECT_FALSE(contains(r.err, std::string(200, 'y'))) << r.err;
  // Without a readable reason it is still busy.
  GarbageServer bare("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  r = run_against(bare.port());
  EXPECT_TRUE(contains(r.err, "reflector busy: no reason given")) << r.err;
}

// The real reflector with a full session table answers 503.
TEST(ControlApiBusy, RealReflectorWithAFullSessionTableIsBusyAndExit3) {
  reflector::Config config = fixtures::loopback_reflector_config();
  config.max_sessions = 0;  // every session open finds the table full
  std::ostringstream quiet;
  reflector::Logger log(reflector::LogLevel::error, &quiet);
  reflector::Server server(config, &log);
  ASSERT_FALSE(server.start().has_value());
  std::thread io([&] { server.run(); });
  auto r = run_against(server.ports().control);
  server.stop();
  io.join();
  if (contains(r.out, "PROTOCOL")) GTEST_SKIP() << "a real reflector answers on 127.0.0.1:443 or :80";
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "reflector busy: session table full")) << r.err;
  EXPECT_TRUE(contains(r.out, "Could not test")) << r.out;
}

// Every connection slot taken: the control port still answers, with a 503
// the client reads as "reflector busy", not as a network failure.
TEST(ControlApiBusy, ARealReflectorWithEveryConnectionSlotTakenIsBusy) {
  reflector::Config config = fixtures::loopback_reflector_config();
  config.max_connections = 4;
  std::ostringstream quiet;
  reflector::Logger log(reflector::LogLevel::error, &quiet);
  reflector::Server server(config, &log);
  ASSERT_FALSE(server.start().has_value());
  std::thread io([&] { server.run(); });
  asio::io_context ctx;
  std::vector<asio::ip::tcp::socket> held;
  for (int i = 0; i < 4; ++i) {
    held.emplace_back(ctx, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.3"), 0));
    held.back().connect({asio::ip::make_address("127.0.0.1"), server.ports().control});
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto r = run_against(server.ports().control);
  for (auto& s : held) s.close();
  server.stop();
  io.join();
  if (contains(r.out, "PROTOCOL")) GTEST_SKIP() << "a real reflector answers on 127.0.0.1:443 or :80";
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "reflector busy: all connection slots in use")) << r.err;
}

// The value of `name` in an HTTP request's head ("" when absent).
std::string header_value(std::string_view request, std::string_view name) {
  const std::string needle = "\r\n" + std::string(name) + ": ";
  const auto at = request.find(needle);
  if (at == std::string_view::npos) return {};
  const auto from = at + needle.size();
  return std::string(request.substr(from, request.find("\r\n", from) - from));
}

OpenSessionResult open_on_loopback(std::vector<std::uint16_t> ports, std::chrono::milliseconds within) {
  asio::io_context io;
  OpenSessionResult result;
  asio::co_spawn(io,
                 open_session("127.0.0.1", asio::ip::make_address("127.0.0.1"), std::move(ports),
                              std::chrono::steady_clock::now() + within),
                 [&](std::exception_ptr e, OpenSessionResult r) {
                   if (e) std::rethrow_exception(e);
                   result = std::move(r);
                   io.stop();  // as the client does: tries still in flight end with it
                 });
  io.run();
  return result;
}

const std::string kSessionAnswer = http_answer(
    "application/json", R"({"session_id":"0123456789abcdef","tag":"0102030405ab","client":{"address":"127.0.0.1",)"
                        R"("port":40000},"capabilities":{"udp_ports":[],"tcp_ports":[]},"expires_in_s":60})");

// A request (or its answer) lost on the way costs TCP a retransmission
// timeout of 1 s or more; the client asks again on a new connection instead,
// every copy with one Idempotency-Key, so the reflector opens one session.
// The first copy here is never answered: waiting on it alone would use up
// the whole deadline.
TEST(ControlApiOpen, ALostRequestIsAskedAgainOnANewConnectionWithTheSameKey) {
  auto keys = std::make_shared<std::vector<std::string>>();
  auto keys_mutex = std::make_shared<std::mutex>();
  fixtures::FakeHttpServer server([keys, keys_mutex](std::string_view request) -> std::string {
    if (!request.starts_with("POST /v1/sessions ")) return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    std::lock_guard lock(*keys_mutex);
    keys->push_back(header_value(request, probes::kIdempotencyKeyHeader));
    return keys->size() == 1 ? fixtures::FakeHttpServer::kHoldConnection : kSessionAnswer;
  });
  auto result = open_on_loopback({server.port()}, std::chrono::seconds(3));
  ASSERT_TRUE(result.session.has_value()) << result.error;
  EXPECT_EQ(result.session->info.session_id, "0123456789abcdef");
  ASSERT_EQ(result.attempts.size(), 1u);
  EXPECT_EQ(result.attempts[0].result, "ok");
  std::lock_guard lock(*keys_mutex);
  ASSERT_GE(keys->size(), 2u);
  EXPECT_TRUE(probes::valid_idempotency_key(keys->front())) << keys->front();
  for (const auto& key : *keys) EXPECT_EQ(key, keys->front());
}

// A port that refuses is not asked again, and does not hold the run up: the
// next port's answer is taken at once.
TEST(ControlApiOpen, ARefusedPortIsNotRetriedAndTheNextPortAnswers) {
  fixtures::FakeHttpServer server([](std::string_view) { return kSessionAnswer; });
  const auto closed = fixtures::closed_loopback_port();
  const auto start = std::chrono::steady_clock::now();
  auto result = open_on_loopback({closed, server.port()}, std::chrono::seconds(3));
  ASSERT_TRUE(result.session.has_value()) << result.error;
  EXPECT_EQ(result.session->control.port(), server.port());
  ASSERT_EQ(result.attempts.size(), 2u);
  EXPECT_EQ(result.attempts[0].result, "connection refused");
  EXPECT_EQ(result.attempts[1].result, "ok");
  EXPECT_EQ(server.connections(), 1) << "one connection answered at once needs no second";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << "waited for the deadline";
}

// No answer on any port within the deadline: each port was asked a bounded
// number of times, and the error names every port.
TEST(ControlApiOpen, SilentPortsAreAskedABoundedNumberOfTimesThenTimeOut) {
  fixtures::FakeHttpServer server([](std::string_view) { return fixtures::FakeHttpServer::kHoldConnection; });
  auto result = open_on_loopback({server.port()}, std::chrono::milliseconds(2500));
  EXPECT_FALSE(result.session.has_value());
  ASSERT_EQ(result.attempts.size(), 1u);
  EXPECT_EQ(result.attempts[0].result, "timed out");
  EXPECT_TRUE(contains(result.error, "TCP " + std::to_string(server.port()) + " timed out")) << result.error;
  EXPECT_GE(server.connections(), 2);
  EXPECT_LE(server.connections(), 5);
}

}  // namespace
}  // namespace vpncheck::client
