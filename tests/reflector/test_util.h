// Shared helpers for the reflector tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "probes/probe.h"
#include "reflector/config.h"
#include "reflector/control_api.h"

namespace vpncheck::reflector::test {

// Deterministic "random" bytes: a counter, so golden values stay stable and
// consecutive draws differ (session ids and tags stay unique).
inline probes::RandomFill counter_fill(std::uint8_t start = 1) {
  auto state = std::make_shared<std::uint32_t>(start);
  return [state](std::span<std::uint8_t> out) {
    for (auto& b : out) {
      *state = *state * 1103515245u + 12345u;  // LCG: cheap, deterministic
      b = static_cast<std::uint8_t>(*state >> 16);
    }
  };
}

// A clock the test moves by hand; copies of fn() follow it.
struct FakeClock {
  std::shared_ptr<std::chrono::steady_clock::time_point> now =
      std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::hours(1));
  std::function<std::chrono::steady_clock::time_point()> fn() const {
    return [now = now] { return *now; };
  }
  void advance(std::chrono::steady_clock::duration d) { *now += d; }
};

// A reflector for in-process use: 127.0.0.1 only, every port ephemeral (the
// Server reports what it bound), no web control ports. Tests override what
// they need.
inline Config loopback_config() {
  Config config;
  config.listen = {"127.0.0.1"};
  config.control_port = 0;
  config.web_control_ports = {};
  config.udp_ports = {0};
  config.tcp_ports = {0};
  config.raw_protocols = {};  // tests that need raw listeners ask for them
  config.nat_ports = {};  // fixed defaults would collide between parallel tests
  return config;
}

// Blocking HTTP/1.1 call to a control API on 127.0.0.1 (the server runs on its
// own thread). `from` picks the client address, e.g. 127.0.0.2 so the client
// cannot be mistaken for the listen address; an IPv6 one calls ::1 instead.
inline HttpResponse blocking_http_call(std::uint16_t port, http::verb verb, const std::string& target,
                                       const boost::asio::ip::address& from =
                                           boost::asio::ip::make_address("127.0.0.1")) {
  using boost::asio::ip::tcp;
  boost::asio::io_context ctx;
  tcp::socket socket(ctx, tcp::endpoint(from, 0));
  socket.connect({boost::asio::ip::make_address(from.is_v6() ? "::1" : "127.0.0.1"), port});
  HttpRequest req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(false);
  req.prepare_payload();
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  HttpResponse res;
  http::read(socket, buffer, res);
  return res;
}

}  // namespace vpncheck::reflector::test
