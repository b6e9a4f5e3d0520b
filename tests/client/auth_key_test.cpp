// A private reflector (vpncheck-reflector --auth-key) answers only clients
// holding the key. The real reflector runs in-process on loopback.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <thread>

#include "client_fixtures.h"
#include "loopback_fixtures.h"
#include "reflector/log.h"
#include "reflector/server.h"
#include "src/app.h"
#include "src/cli/options.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;

class PrivateReflector : public ::testing::Test {
 protected:
  void SetUp() override {
    reflector::Config config = fixtures::loopback_reflector_config();
    config.auth_key = "correct horse";
    server_ = std::make_unique<reflector::Server>(config, &log_);
    auto error = server_->start();
    ASSERT_FALSE(error.has_value()) << *error;
    io_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    if (!server_) return;
    server_->stop();
    if (io_.joinable()) io_.join();
  }

  struct Run {
    int code;
    std::string out;
    std::string err;
  };
  Run run_with_key(const std::string& key) {
    Options o;
    o.reflector_host = "127.0.0.1";
    o.control_port = server_->ports().control;
    o.timeout_s = 1.0;
    o.no_color = true;
    o.auth_key = key;
    std::ostringstream out;
    std::ostringstream err;
    int code = run_vpncheck(o, out, err);
    return {code, out.str(), err.str()};
  }

  std::ostringstream quiet_;
  reflector::Logger log_{reflector::LogLevel::error, &quiet_};
  std::unique_ptr<reflector::Server> server_;
  std::thread io_;
};

TEST_F(PrivateReflector, WithoutKeyIsExit3AndSaysAKeyIsNeeded) {
  auto r = run_with_key("");
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "requires an auth key")) << r.err;
}

TEST_F(PrivateReflector, WrongKeyIsExit3AndSaysSo) {
  auto r = run_with_key("wrong");
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "wrong auth key")) << r.err;
}

TEST_F(PrivateReflector, RightKeyOpensTheSessionAndReadsObservations) {
  auto r = run_with_key("correct horse");
  // The in-process reflector listens on ephemeral ports only, so no probe can
  // run: the run completes (exit 0) with every protocol inconclusive.
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "PROTOCOL")) << r.out;
  EXPECT_TRUE(contains(r.out, "inconclusive")) << r.out;
  EXPECT_FALSE(contains(r.out, "could not be read")) << r.out;  // observations fetched with the key
}

TEST(AuthKeyOption, ComesFromTheEnvironmentWhenNotGiven) {
  ::setenv("VPNCHECK_AUTH_KEY", "from-env", 1);
  auto from_env = parse_args({"--reflector", "192.0.2.1"});
  auto from_flag = parse_args({"--reflector", "192.0.2.1", "--auth-key", "from-flag"});
  ::unsetenv("VPNCHECK_AUTH_KEY");
  auto none = parse_args({"--reflector", "192.0.2.1"});
  ASSERT_TRUE(from_env.options && from_flag.options && none.options);
  EXPECT_EQ(from_env.options->auth_key, "from-env");
  EXPECT_EQ(from_flag.options->auth_key, "from-flag");
  EXPECT_EQ(none.options->auth_key, "");
}

}  // namespace
}  // namespace vpncheck::client
