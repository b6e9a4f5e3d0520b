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

#include <sstream>
#include <thread>

#include "probes/control.h"
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

// A whole client visit: session, a WireGuard probe, a control probe, an
// unknown-session probe and garbage over UDP, observations, close.
std::string visit_and_log(LogLevel level) {
  std::ostringstream log_stream;
  Logger log(level, &log_stream);
  Config config = test::loopback_config();
  config.tcp_ports = {};
  Server server(config, &log);
  if (auto error = server.start()) {
    ADD_FAILURE() << *error;
    return {};
  }
  std::thread io([&] { server.run(); });

  auto created = test::blocking_http_call(server.ports().control, http::verb::post, "/v1/sessions", kClient);
  std::string parse_error;
  auto info = probes::session_info_from_json(created.body(), parse_error);
  if (!info) {
    ADD_FAILURE() << parse_error;
  } else {
    EXPECT_EQ(info->client.address, "127.0.0.2");  // the test really sends from there
    probes::ProbeToken token{*probes::tag_from_hex(info->tag_hex), 1};
    auto rnd = test::counter_fill();
    asio::io_context ctx;
    udp::socket socket(ctx, udp::endpoint(kClient, 0));
    udp::endpoint reflector(kServer, server.ports().udp[0]);
    probes::Bytes control = probes::control::build_request(token, 64, rnd);
    socket.send_to(asio::buffer(probes::wireguard::build_initiation(token, {}, rnd)), reflector);
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
    test::blocking_http_call(server.ports().control, http::verb::delete_, "/v1/sessions/" + info->session_id, kClient);
  }
  server.stop();
  io.join();
  return log_stream.str();
}

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

}  // namespace
}  // namespace vpncheck::reflector
