// The control API inside TLS: a reflector started with the operator's
// certificate (vpncheck-reflector --tls-certificate/--tls-key) and vpncheck
// checking it by pin (--reflector-pin) or by CA and name (--reflector-ca).
// The real reflector runs in-process on loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "client_fixtures.h"
#include "loopback_fixtures.h"
#include "reflector/log.h"
#include "reflector/server.h"
#include "src/app.h"
#include "src/cli/options.h"
#include "test_certificate.h"
#include "tests/reflector/test_util.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;

class ControlTls : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vpncheck-control-tls-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    reflector_cert_ = fixtures::write_test_certificate(dir_, "reflector", "IP:127.0.0.1");
    other_cert_ = fixtures::write_test_certificate(dir_, "other", "IP:127.0.0.1");
    wrong_name_cert_ = fixtures::write_test_certificate(dir_, "wrong-name", "IP:127.0.0.2");
    ASSERT_FALSE(reflector_cert_.sha256.empty());
    ASSERT_FALSE(other_cert_.sha256.empty());
    ASSERT_FALSE(wrong_name_cert_.sha256.empty());
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
      if (io_.joinable()) io_.join();
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // `shared_port`: the control API on the port probes use too (as on 80 and
  // 443), else on a port of its own (as on 8780).
  // `tls_only`: vpncheck-reflector --control-tls-only.
  void start(const fixtures::TestCertificate* cert, bool shared_port = false, bool private_reflector = true,
             bool tls_only = false) {
    reflector::Config config = fixtures::loopback_reflector_config();
    config.control_tls_only = tls_only;
    if (private_reflector) config.auth_key = "correct horse";
    if (shared_port) {
      // Equal port numbers merge into one listener; port 0 would not (each
      // bind picks its own), so take a port the kernel has just found free.
      boost::asio::io_context io;
      boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
      const auto port = probe.local_endpoint().port();
      probe.close();
      config.control_port = port;
      config.tcp_ports = {port};
    }
    if (cert != nullptr) {
      config.tls_certificate_file = cert->certificate_file;
      config.tls_key_file = cert->key_file;
    }
    server_ = std::make_unique<reflector::Server>(config, &log_);
    auto error = server_->start();
    ASSERT_FALSE(error.has_value()) << *error;
    io_ = std::thread([this] { server_->run(); });
  }

  struct Run {
    int code;
    std::string out;
    std::string err;
  };
  Run run(Options o) {
    o.reflector_host = "127.0.0.1";
    o.control_port = server_->ports().control;
    o.timeout_s = 1.0;
    o.no_color = true;
    o.auth_key = "correct horse";
    std::ostringstream out;
    std::ostringstream err;
    int code = run_vpncheck(o, out, err);
    return {code, out.str(), err.str()};
  }
  static Options pinned(const std::string& sha256) {
    Options o;
    o.control_tls = true;
    o.reflector_pin = sha256;
    return o;
  }
  static Options trusting(const std::string& ca_file) {
    Options o;
    o.control_tls = true;
    o.reflector_ca = ca_file;
    return o;
  }

  void expect_tls_only(bool shared_port) {
    start(&reflector_cert_, shared_port, /*private_reflector=*/true, /*tls_only=*/true);
    auto r = run(Options{});
    EXPECT_EQ(r.code, 3) << r.out << r.err;
    EXPECT_TRUE(contains(r.err, "serves its control API inside TLS only: add --control-tls")) << r.err;
    r = run(pinned(reflector_cert_.sha256));
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_FALSE(contains(r.out, "could not be read")) << r.out;
  }

  std::filesystem::path dir_;
  fixtures::TestCertificate reflector_cert_, other_cert_, wrong_name_cert_;
  std::ostringstream quiet_;
  reflector::Logger log_{reflector::LogLevel::error, &quiet_};
  std::unique_ptr<reflector::Server> server_;
  std::thread io_;
};

// The whole run (session, observations, close) goes through TLS: the run
// completes and reads its observations with the key inside TLS.
TEST_F(ControlTls, PinnedCertificateOpensTheSessionAndReadsObservations) {
  start(&reflector_cert_);
  auto r = run(pinned(reflector_cert_.sha256));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "PROTOCOL")) << r.out;
  EXPECT_FALSE(contains(r.out, "could not be read")) << r.out;
}

TEST_F(ControlTls, WorksOnAPortSharedWithProbes) {
  start(&reflector_cert_, /*shared_port=*/true);
  ASSERT_EQ(server_->ports().control, server_->ports().tcp.at(0)) << "the fixture should share one port";
  auto r = run(pinned(reflector_cert_.sha256));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_FALSE(contains(r.out, "could not be read")) << r.out;
  r = run(pinned(other_cert_.sha256));
  EXPECT_EQ(r.code, 3) << r.out << r.err;
}

TEST_F(ControlTls, AnotherCertificateThanThePinnedOneIsRefused) {
  start(&reflector_cert_);
  auto r = run(pinned(other_cert_.sha256));
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "its SHA-256 is " + reflector_cert_.sha256)) << r.err;
  EXPECT_TRUE(contains(r.err, "not the pinned " + other_cert_.sha256)) << r.err;
}

TEST_F(ControlTls, CertificateFromTheGivenCaWithTheReflectorsAddressIsAccepted) {
  start(&reflector_cert_);
  auto r = run(trusting(reflector_cert_.certificate_file));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_FALSE(contains(r.out, "could not be read")) << r.out;
}

TEST_F(ControlTls, CertificateNotFromTheGivenCaIsRefused) {
  start(&reflector_cert_);
  auto r = run(trusting(other_cert_.certificate_file));
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "TLS certificate not accepted")) << r.err;
}

TEST_F(ControlTls, CertificateForAnotherAddressIsRefused) {
  start(&wrong_name_cert_);
  auto r = run(trusting(wrong_name_cert_.certificate_file));
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "TLS certificate not accepted")) << r.err;
  EXPECT_TRUE(contains(r.err, "IP address mismatch")) << r.err;
}

// A reflector without the operator's certificate offers no control API in
// TLS: a client that asked for TLS says so and never falls back to plain HTTP.
TEST_F(ControlTls, ReflectorWithoutCertificateIsExit3WithAHint) {
  start(nullptr);
  auto r = run(pinned(reflector_cert_.sha256));
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "--tls-certificate")) << r.err;
}

TEST_F(ControlTls, PlainClientsAreStillServed) {
  start(&reflector_cert_);
  auto r = run(Options{});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_FALSE(contains(r.out, "could not be read")) << r.out;
}

// A reflector that takes its control API inside TLS only (--control-tls-only):
// a plain client is told what to add, exit 3; a client in TLS runs as before.
TEST_F(ControlTls, TlsOnlyReflectorTellsAPlainClientToUseTls) { expect_tls_only(/*shared_port=*/false); }
TEST_F(ControlTls, TlsOnlyHoldsOnAPortSharedWithProbes) { expect_tls_only(/*shared_port=*/true); }

// A key that is not the certificate's stops the start with both files named,
// rather than a reflector whose TLS never completes.
TEST_F(ControlTls, MismatchedKeyStopsTheStart) {
  reflector::Config config = fixtures::loopback_reflector_config();
  config.tls_certificate_file = reflector_cert_.certificate_file;
  config.tls_key_file = other_cert_.key_file;
  reflector::Server server(config, &log_);
  auto error = server.start();
  ASSERT_TRUE(error.has_value());
  EXPECT_TRUE(contains(*error, "not the key of " + reflector_cert_.certificate_file)) << *error;
}

// TLS-wrapped probes present the operator's certificate too, and the
// capabilities publish its fingerprint for them to be pinned.
TEST_F(ControlTls, CapabilitiesPublishTheOperatorsCertificate) {
  start(&reflector_cert_, false, /*private_reflector=*/false);
  auto created = reflector::test::blocking_http_call(server_->ports().control, reflector::http::verb::post,
                                                     "/v1/sessions");
  std::string error;
  auto info = probes::session_info_from_json(created.body(), error);
  ASSERT_TRUE(info) << error << created.body();
  ASSERT_TRUE(info->capabilities.tls_certificate_sha256);
  EXPECT_EQ(*info->capabilities.tls_certificate_sha256, reflector_cert_.sha256);
}

}  // namespace
}  // namespace vpncheck::client
