// A real reflector in-process on 127.0.0.1 (every port kernel-chosen) with
// one session open, for loopback tests that run the real client exchange
// against it and read back what it observed.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "probes/observation.h"
#include "reflector/log.h"
#include "reflector/server.h"
#include "src/run/exchange.h"
#include "tests/reflector/test_util.h"

namespace vpncheck::client::fixtures {

class InProcessReflector : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<reflector::Server>(reflector::test::loopback_config(), &log_);
    auto error = server_->start();
    ASSERT_FALSE(error.has_value()) << *error;
    io_ = std::thread([this] { server_->run(); });
    auto created = reflector::test::blocking_http_call(server_->ports().control, reflector::http::verb::post,
                                                       "/v1/sessions");
    std::string parse_error;
    auto info = probes::session_info_from_json(created.body(), parse_error);
    ASSERT_TRUE(info) << parse_error << created.body();
    session_ = *info;
  }
  void TearDown() override {
    if (!server_) return;
    server_->stop();
    if (io_.joinable()) io_.join();
  }

  // What the reflector observed in the session for probe `index`.
  std::vector<probes::Observation> observations_of(std::uint16_t index) {
    auto read = reflector::test::blocking_http_call(server_->ports().control, reflector::http::verb::get,
                                                    "/v1/sessions/" + session_.session_id + "/observations");
    std::string parse_error;
    auto list = probes::observations_from_json(read.body(), parse_error);
    EXPECT_TRUE(list) << parse_error;
    std::vector<probes::Observation> out;
    if (list)
      for (auto& o : list->observations)
        if (o.probe_index == index) out.push_back(std::move(o));
    return out;
  }

  // Runs `exchange` on client_io_ until it ends; `bound` only stops a hang
  // (other coroutines on client_io_, e.g. a relay's, may never end).
  ClientSide run_to_end(Exchange exchange, std::chrono::milliseconds bound) {
    using namespace std::chrono_literals;
    client_io_.restart();  // an earlier exchange may have run it out of work, which stops it
    auto future = boost::asio::co_spawn(client_io_, run_exchange(std::move(exchange)), boost::asio::use_future);
    for (auto end = Clock::now() + bound; future.wait_for(0s) != std::future_status::ready && Clock::now() < end;)
      client_io_.run_one_for(100ms);
    EXPECT_EQ(future.wait_for(0s), std::future_status::ready) << "the exchange did not end by its deadline";
    return future.wait_for(0s) == std::future_status::ready ? future.get() : ClientSide{};
  }

  std::ostringstream quiet_;
  reflector::Logger log_{reflector::LogLevel::error, &quiet_};
  std::unique_ptr<reflector::Server> server_;
  std::thread io_;
  probes::SessionInfo session_;
  boost::asio::io_context client_io_;
};

}  // namespace vpncheck::client::fixtures
