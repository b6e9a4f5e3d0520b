// SSTP end to end on loopback: the real client exchange (make_exchange +
// run_exchange: TLS pinned to the fingerprint from the session, then the HTTP
// request and the Call Connect Request on one stream) against the real
// reflector in-process (its certificate, the TCP listener's TLS sniff, the
// SSTP framing's two messages per stream); then the verdict from both ends.
// The same port keeps serving OpenVPN over TCP in the clear.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <sys/socket.h>
#include <sys/time.h>
#include <array>
#include <sstream>
#include <thread>

#include "client_fixtures.h"
#include "in_process_reflector.h"
#include "probes/openvpn.h"
#include "probes/sstp.h"
#include "reflector/log.h"
#include "reflector/server.h"
#include "src/run/runner.h"
#include "tests/reflector/test_util.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
const auto kLoopback = asio::ip::make_address("127.0.0.1");

class SstpLoopback : public fixtures::InProcessReflector {
 protected:
  // One probe of `module`'s first TCP variant, sent to the reflector's TCP
  // probe port (kernel-chosen), with `pin` as the certificate to expect.
  ProbeResult run_probe(const probes::ProtocolModule& module, ProbeKind kind, std::uint16_t index, std::string pin) {
    PlannedProbe probe;
    probe.index = index;
    probe.kind = kind;
    probe.module = &module;
    for (const auto& v : module.variants)
      if (v.transport == probes::Transport::tcp) {
        probe.variant = v;
        break;
      }
    probe.variant.port = server_->ports().tcp.at(0);
    RunSettings settings;
    settings.reflector = kLoopback;
    settings.tag = *probes::tag_from_hex(session_.tag_hex);
    settings.random = reflector::test::counter_fill();
    settings.tls_certificate_sha256 = std::move(pin);
    Exchange exchange = make_exchange(probe, settings);
    exchange.deadline = Clock::now() + 2s;
    ProbeResult result{probe, run_to_end(std::move(exchange), 4000ms), {}, {}};
    // What the reflector saw for this probe (its answers are written before
    // it records their fate, so wait briefly for the last one).
    std::this_thread::sleep_for(50ms);
    result.arrivals = observations_of(probe.index);
    result.probe.variant.port = 443;  // judged as the variant it stands for
    return result;
  }
  std::string pin() const { return session_.capabilities.tls_certificate_sha256.value_or(""); }
};

TEST_F(SstpLoopback, TheReflectorPublishesTheCertificateItPresents) {
  ASSERT_TRUE(session_.capabilities.tls_certificate_sha256.has_value());
  EXPECT_EQ(session_.capabilities.tls_certificate_sha256->size(), 64U);
}

TEST_F(SstpLoopback, RequestAndCallConnectAreAnsweredInsidePinnedTls) {
  auto genuine = run_probe(probes::sstp::kModule, ProbeKind::genuine, 7, pin());
  EXPECT_EQ(genuine.client.outcome, Outcome::reply) << genuine.client.detail;
  EXPECT_EQ(genuine.client.steps_answered, 2U) << "HTTP 200, then the Call Connect Ack";
  EXPECT_EQ(genuine.client.reply_fields["crypto_binding_hashes"], "sha256");
  ASSERT_EQ(genuine.arrivals.size(), 2U);
  EXPECT_EQ(genuine.arrivals[0].protocol, "sstp");
  EXPECT_EQ(genuine.arrivals[0].fields.at("message"), "SSTP_DUPLEX_POST");
  EXPECT_EQ(genuine.arrivals[1].fields.at("message"), "CALL_CONNECT_REQUEST");
  for (const auto& a : genuine.arrivals) EXPECT_TRUE(a.reply.sent) << a.reply.reason;
  // The Ack (48 B) outgrows the request (14 B): streams are not under the datagram rule.
  EXPECT_GT(genuine.arrivals[1].reply.length, genuine.arrivals[1].payload_length);
  EXPECT_EQ(genuine.arrivals[0].payload_sha256, genuine.client.sent_sha256);

  auto control = run_probe(probes::sstp::kModule, ProbeKind::control, 8, pin());
  EXPECT_EQ(control.client.outcome, Outcome::reply) << control.client.detail;
  ASSERT_EQ(control.arrivals.size(), 1U);
  EXPECT_EQ(control.arrivals[0].kind, "control");
  EXPECT_EQ(control.arrivals[0].payload_length, genuine.client.sent_length) << "same size inside the same TLS";

  auto a = assess(probes::sstp::kModule, {genuine, control}, true);
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  EXPECT_TRUE(a.findings.empty()) << fixtures::joined(a.findings);
}

TEST_F(SstpLoopback, AnotherCertificateThanThePublishedOneIsInterceptionAndNothingIsSent) {
  const std::string other(64, 'e');  // what a client that learnt another fingerprint would pin
  auto genuine = run_probe(probes::sstp::kModule, ProbeKind::genuine, 9, other);
  EXPECT_EQ(genuine.client.outcome, Outcome::invalid_reply);
  EXPECT_EQ(genuine.client.reply_fields["tls_intercepted"], "true");
  EXPECT_EQ(genuine.client.reply_fields["tls_presented_sha256"], pin());
  EXPECT_TRUE(genuine.arrivals.empty()) << "no probe byte goes to a certificate that is not the pinned one";
  auto a = assess(probes::sstp::kModule, {genuine}, true);
  EXPECT_NE(a.verdict, Verdict::pass);
  EXPECT_TRUE(fixtures::contains(fixtures::joined(a.findings), "tls_intercepted")) << fixtures::joined(a.findings);
  EXPECT_NE(fixtures::joined(a.advice).find("TLS inspection"), std::string::npos) << fixtures::joined(a.advice);
}

TEST_F(SstpLoopback, OpenVpnOverTcpOnTheSamePortStillPasses) {
  auto r = run_probe(probes::openvpn::kModule, ProbeKind::genuine, 10, pin());
  EXPECT_EQ(r.client.outcome, Outcome::reply) << r.client.detail;
  ASSERT_EQ(r.arrivals.size(), 1U);
  EXPECT_EQ(r.arrivals[0].protocol, "openvpn");
}

// SSTP is only answered inside the TLS the reflector terminated: the same
// request in the clear is claimed by no plain framing and gets no byte back.
TEST_F(SstpLoopback, SstpInTheClearIsNotAnswered) {
  asio::ip::tcp::socket socket(client_io_);
  socket.connect({kLoopback, server_->ports().tcp.at(0)});
  const auto request = probes::sstp::kModule.build_request(
      probes::default_context(probes::sstp::kModule, probes::ProbeToken{*probes::tag_from_hex(session_.tag_hex), 11}),
      reflector::test::counter_fill());
  asio::write(socket, asio::buffer(request));
  // The reflector closes the stream unanswered (a read on a closed stream ends at once).
  socket.non_blocking(false);
  ::timeval wait{3, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  std::array<std::uint8_t, 64> answer{};
  boost::system::error_code ec;
  const std::size_t n = socket.read_some(asio::buffer(answer), ec);
  EXPECT_EQ(n, 0U);
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
}

}  // namespace
}  // namespace vpncheck::client
