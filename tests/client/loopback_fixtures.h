// Loopback stand-ins for a reflector in the client tests: a fake control API
// that answers each connection as told, and the configuration of a real
// in-process reflector listening on 127.0.0.1 only.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "reflector/config.h"

namespace vpncheck::client::fixtures {

// Reads what the client sent (one read: its requests are small), writes
// `answer(request)`, then closes. Runs on a thread of its own.
class FakeHttpServer {
 public:
  // An answer of this value sends nothing and keeps the connection open, as
  // when the request or its answer is lost on the way.
  static inline const std::string kHoldConnection;

  explicit FakeHttpServer(std::function<std::string(std::string_view request)> answer)
      : answer_(std::move(answer)), acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeHttpServer() {
    io_.stop();
    thread_.join();
  }
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int connections() const { return connections_; }

 private:
  void accept() {
    namespace asio = boost::asio;
    acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
      if (ec) return;
      ++connections_;
      auto s = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
      auto buffer = std::make_shared<std::array<char, 4096>>();
      s->async_read_some(asio::buffer(*buffer), [this, s, buffer](boost::system::error_code, std::size_t n) {
        auto answer = std::make_shared<std::string>(answer_(std::string_view(buffer->data(), n)));
        if (*answer == kHoldConnection) {
          held_.push_back(s);
          return;
        }
        asio::async_write(*s, asio::buffer(*answer), [s, answer](boost::system::error_code, std::size_t) {
          boost::system::error_code ignored;
          s->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        });
      });
      accept();
    });
  }

  std::function<std::string(std::string_view)> answer_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> connections_{0};
  std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> held_;  // io_ thread only
};

// A loopback TCP port with nothing listening on it.
inline std::uint16_t closed_loopback_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();  // closed again when the acceptor goes
}

// A real reflector on 127.0.0.1, every port chosen by the kernel, no web
// control ports, NAT test service or raw listeners.
inline reflector::Config loopback_reflector_config() {
  reflector::Config config;
  config.listen = {"127.0.0.1"};
  config.control_port = 0;
  config.web_control_ports = {};
  config.udp_ports = {0};
  config.tcp_ports = {0};
  config.nat_ports = {};
  config.raw_protocols = {};
  return config;
}

}  // namespace vpncheck::client::fixtures
