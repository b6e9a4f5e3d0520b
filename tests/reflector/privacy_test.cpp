// Privacy by default: at the default log level (info) the reflector logs no
// client address; only --log-level debug does. The client here sends from
// 127.0.0.2 (all of 127/8 is loopback) so its address cannot be confused
// with the listen address, which the start-up lines name.
#include "reflector/server.h"

#include <gtest/gtest.h>

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <boost/asio/post.hpp>

#include <future>
#include <sstream>
#include <thread>

#include "probes/control.h"
#include "probes/l2tp.h"
#include "probes/pptp.h"
#include "probes/pptp_module.h"
#include "probes/wireguard.h"
#include "test_util.h"

namespace vpncheck::reflector {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using asio::ip::udp;
using namespace std::chrono_literals;

const auto kServer = asio::ip::make_address("127.0.0.1");
const auto kClient = asio::ip::make_address("127.0.0.2");

struct StateSizes {
  std::size_t flows = 0;
  std::size_t buckets = 0;
  std::size_t sessions = 0;
};

// Reads the server's tables on its I/O thread (they are not thread-safe).
StateSizes sizes_of(Server& server) {
  std::promise<StateSizes> done;
  asio::post(server.context(), [&] {
    done.set_value({server.arrivals().flows().size(), server.limiter().tracked(), server.sessions().size()});
  });
  return done.get_future().get();
}

struct Visit {
  std::string log;
  std::string session_id;
  StateSizes during;  // before the session was closed
  StateSizes after;
};

// A whole client visit: session, a WireGuard probe, an L2TP SCCRQ (which
// opens a flow), a control probe, an unknown-session probe and garbage over
// UDP, observations, close.
Visit visit(LogLevel level) {
  Visit v;
  std::ostringstream log_stream;
  Logger log(level, &log_stream);
  Config config = test::loopback_config();
  config.tcp_ports = {};
  Server server(config, &log);
  if (auto error = server.start()) {
    ADD_FAILURE() << *error;
    return v;
  }
  std::thread io([&] { server.run(); });

  auto created = test::blocking_http_call(server.ports().control, http::verb::post, "/v1/sessions", kClient);
  std::string parse_error;
  auto info = probes::session_info_from_json(created.body(), parse_error);
  if (!info) {
    ADD_FAILURE() << parse_error;
  } else {
    v.session_id = info->session_id;
    EXPECT_EQ(info->client.address, "127.0.0.2");  // the test really sends from there
    probes::ProbeToken token{*probes::tag_from_hex(info->tag_hex), 1};
    auto rnd = test::counter_fill();
    asio::io_context ctx;
    udp::socket socket(ctx, udp::endpoint(kClient, 0));
    udp::endpoint reflector(kServer, server.ports().udp[0]);
    probes::Bytes control = probes::control::build_request(token, 64, rnd);
    socket.send_to(asio::buffer(probes::wireguard::build_initiation(token, {}, rnd)), reflector);
    socket.send_to(asio::buffer(probes::l2tp::build_sccrq({token.tag, 2}, 7)), reflector);
    socket.send_to(asio::buffer(probes::control::build_request({{1, 2, 3, 4, 5, 6}, 1}, 64, rnd)), reflector);
    socket.send_to(asio::buffer(probes::Bytes(40, 0x42)), reflector);
    socket.send_to(asio::buffer(control), reflector);
    // The control echo comes last (one server thread): everything was handled.
    probes::Bytes reply(2048);
    while (true) {
      udp::endpoint from;
      std::size_t n = socket.receive_from(asio::buffer(reply), from);
      if (probes::control::is_reply_to(probes::ByteView(reply).first(n), control)) break;
    }
    test::blocking_http_call(server.ports().control, http::verb::get,
                             "/v1/sessions/" + info->session_id + "/observations", kClient);
    v.during = sizes_of(server);
    // The few answers taken from 127.0.0.2's bucket (200/s) are back by now:
    // the bucket holds nothing but the address, and goes with the session.
    std::this_thread::sleep_for(100ms);
    test::blocking_http_call(server.ports().control, http::verb::delete_, "/v1/sessions/" + info->session_id, kClient);
    v.after = sizes_of(server);
  }
  server.stop();
  io.join();
  v.log = log_stream.str();
  return v;
}

std::string visit_and_log(LogLevel level) { return visit(level).log; }

TEST(ReflectorPrivacy, NoClientAddressInTheLogByDefault) {
  std::string info_log = visit_and_log(LogLevel::info);
  EXPECT_NE(info_log.find("session"), std::string::npos) << info_log;  // it did log the visit
  EXPECT_EQ(info_log.find("127.0.0.2"), std::string::npos) << info_log;
}

TEST(ReflectorPrivacy, DebugLogNamesClients) {
  // The positive control for the test above: the address does reach the log
  // when asked for, so its absence at info is not an accident of the setup.
  std::string debug_log = visit_and_log(LogLevel::debug);
  EXPECT_NE(debug_log.find("127.0.0.2"), std::string::npos) << debug_log;
}

TEST(ReflectorPrivacy, NoSessionIdInTheLogByDefault) {
  Visit info = visit(LogLevel::info);
  ASSERT_FALSE(info.session_id.empty());
  EXPECT_NE(info.log.find("opened"), std::string::npos) << info.log;
  EXPECT_EQ(info.log.find(info.session_id), std::string::npos) << info.log;
  Visit debug = visit(LogLevel::debug);
  EXPECT_NE(debug.log.find(debug.session_id), std::string::npos) << debug.log;
}

// The flow the SCCRQ opened and the rate-limit bucket of the client's address
// live exactly as long as the session.
TEST(ReflectorPrivacy, NothingTiedToASessionOutlivesIt) {
  Visit v = visit(LogLevel::error);
  EXPECT_EQ(v.during.sessions, 1u);
  EXPECT_GE(v.during.flows, 1u);
  EXPECT_GE(v.during.buckets, 1u);
  EXPECT_EQ(v.after.sessions, 0u);
  EXPECT_EQ(v.after.flows, 0u);
  EXPECT_EQ(v.after.buckets, 0u);
}

const probes::SessionTag kTagA{1, 1, 1, 1, 1, 1};
const probes::SessionTag kTagB{2, 2, 2, 2, 2, 2};

TEST(ReflectorPrivacy, FlowsAndCallsAreForgottenPerSession) {
  FlowMemory flows;
  flows.remember(probes::Transport::udp, 1701, {"192.0.2.1", 1}, {kTagA, 1}, 0);
  flows.remember(probes::Transport::udp, 1701, {"192.0.2.2", 1}, {kTagB, 1}, 0);
  flows.forget(kTagA);
  EXPECT_EQ(flows.size(), 1u);
  EXPECT_TRUE(flows.find(probes::Transport::udp, 1701, {"192.0.2.2", 1}, 1));

  // Each module's server state (PPTP's calls) goes with the session too.
  SessionTable table(SessionLimits{}, test::FakeClock{}.fn());
  ArrivalHandler handler(table, {}, test::counter_fill());
  auto rnd = test::counter_fill();
  std::vector<std::string> ids;
  for (const std::string address : {"192.0.2.1", "192.0.2.2"}) {
    auto* session = table.create({address, 1}, rnd).session;
    ids.push_back(session->id);
    probes::Bytes ocrq = probes::pptp::build_ocrq({session->tag, 1}, 5, 1);
    Arrival arrival;
    arrival.payload = ocrq;
    arrival.framing = Framing::self_delimited;
    arrival.local_port = 1723;
    arrival.source = {address, 40001};
    arrival.received_at_unix_ms = 1000;
    EXPECT_FALSE(handler.handle(arrival).dropped);
  }
  const auto* calls = handler.server_state(probes::pptp::kModule);
  ASSERT_NE(calls, nullptr);
  EXPECT_EQ(calls->size(), 2u);
  handler.forget_session(*table.find(ids[0]));
  EXPECT_EQ(calls->size(), 1u);
}

// A bucket still limiting its source outlives the session only until it has
// refilled: dropping it at once would let anyone reset a source's limit by
// closing a session.
TEST(ReflectorPrivacy, ABucketGoesWithItsSessionOnceItHoldsNothing) {
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  RateLimiter limiter({10, 10}, [&] { return now; });
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.allow("192.0.2.1"));
  EXPECT_FALSE(limiter.allow("192.0.2.1"));
  limiter.forget("192.0.2.1");
  EXPECT_EQ(limiter.tracked(), 1u);
  EXPECT_FALSE(limiter.allow("192.0.2.1"));  // still limited
  now += std::chrono::milliseconds(999);
  limiter.forget_refilled();
  EXPECT_EQ(limiter.tracked(), 1u);
  now += std::chrono::milliseconds(2);
  limiter.forget_refilled();
  EXPECT_EQ(limiter.tracked(), 0u);
  EXPECT_TRUE(limiter.allow("192.0.2.2"));
  now += std::chrono::seconds(1);
  limiter.forget("192.0.2.2");  // refilled: gone at once
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(ReflectorPrivacy, TheEraseHookSeesClosedAndExpiredSessions) {
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  SessionTable table(SessionLimits{std::chrono::seconds(10), 16, 16, 16}, [&] { return now; });
  std::vector<std::string> erased;
  table.on_erase([&](const Session& s) { erased.push_back(s.id); });
  auto rnd = test::counter_fill();
  const std::string a = table.create({"192.0.2.1", 1}, rnd).session->id;
  const std::string b = table.create({"192.0.2.1", 2}, rnd).session->id;
  EXPECT_TRUE(table.remove(a));
  now += std::chrono::seconds(11);
  table.purge_expired();
  EXPECT_EQ(erased, (std::vector<std::string>{a, b}));
}

}  // namespace
}  // namespace vpncheck::reflector
