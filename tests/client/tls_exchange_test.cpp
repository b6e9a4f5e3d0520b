// TLS-wrapped TCP probes on loopback, both ends real: the reflector's
// certificate (reflector/tls_acceptor.h) and its handshake after the
// listener's sniff, the client's handshake and pin (src/run/tls_client.h)
// through run_exchange. A second identity stands in for a TLS-intercepting
// middlebox: its certificate is not the one the reflector published.
#include "reflector/tls_acceptor.h"
#include "src/run/exchange.h"
#include "src/run/plan.h"
#include "src/run/runner.h"
#include "src/run/tls_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <span>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "probes/openvpn.h"
#include "probes/tls.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

reflector::TlsIdentity make_identity() {
  std::string error;
  auto identity = reflector::TlsIdentity::generate(error);
  EXPECT_TRUE(identity.has_value()) << error;
  return std::move(*identity);
}

// One connection: read the first bytes as the listener's sniff does, hand
// them to accept_tls, then answer one message with 'A' + the message.
struct TlsEcho {
  tcp::acceptor acceptor;
  reflector::TlsIdentity& identity;
  std::optional<bool> sniffed_tls;
  std::string handshake_error;
  std::optional<probes::Bytes> received;  // the decrypted message, if one arrived

  TlsEcho(asio::io_context& io, reflector::TlsIdentity& id)
      : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), identity(id) {
    asio::co_spawn(io, serve(), asio::detached);
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  asio::awaitable<void> serve() {
    auto [aec, socket] = co_await acceptor.async_accept(kAwait);
    if (aec) co_return;
    std::array<std::uint8_t, probes::tls::kSniffBytes> head{};
    auto [rec, n] = co_await asio::async_read(socket, asio::buffer(head), kAwait);
    if (rec) co_return;
    sniffed_tls = probes::tls::looks_like_tls(head);
    auto stream = co_await reflector::accept_tls(std::move(socket), head, identity, std::chrono::seconds(2),
                                                 handshake_error);
    if (!stream) co_return;
    probes::Bytes message(5);
    auto [mec, m] = co_await asio::async_read(*stream, asio::buffer(message), kAwait);
    if (mec) co_return;
    received = message;
    probes::Bytes reply{'A'};
    reply.insert(reply.end(), message.begin(), message.end());
    reply.resize(message.size());  // same_size_raw: as many bytes as were sent
    co_await asio::async_write(*stream, asio::buffer(reply), kAwait);
    co_await stream->async_shutdown(kAwait);
  }
};

Exchange tls_exchange_to(std::uint16_t port, std::string pin) {
  Exchange ex;
  ex.transport = probes::Transport::tcp;
  ex.remote = asio::ip::make_address("127.0.0.1");
  ex.port = port;
  ex.wire = {'h', 'e', 'l', 'l', 'o'};
  ex.is_reply = [](probes::ByteView reply) {
    return reply.size() == 5 && reply[0] == 'A' && reply[1] == 'h' && reply[4] == 'l';
  };
  ex.tls_pin = std::move(pin);
  ex.deadline = Clock::now() + std::chrono::seconds(3);
  return ex;
}

ClientSide run(asio::io_context& io, Exchange ex) {
  std::optional<ClientSide> side;
  asio::co_spawn(io, run_exchange(std::move(ex)), [&](std::exception_ptr e, ClientSide s) {
    EXPECT_FALSE(e);
    side = std::move(s);
    io.stop();
  });
  io.run();
  EXPECT_TRUE(side.has_value());
  return side.value_or(ClientSide{});
}

TEST(TlsIdentity, IsAFreshSelfSignedCertificateWithItsFingerprint) {
  auto a = make_identity();
  auto b = make_identity();
  EXPECT_EQ(a.certificate_sha256(), probes::tls::certificate_sha256(a.certificate_der()));
  EXPECT_TRUE(probes::tls::normalise_fingerprint(a.certificate_sha256()).has_value());
  EXPECT_NE(a.certificate_sha256(), b.certificate_sha256()) << "each start makes its own key and certificate";
}

TEST(TlsExchange, PinnedCertificateCarriesTheConversation) {
  auto identity = make_identity();
  asio::io_context io;
  TlsEcho server(io, identity);
  auto side = run(io, tls_exchange_to(server.port(), identity.certificate_sha256()));
  EXPECT_EQ(side.outcome, Outcome::reply) << side.detail;
  EXPECT_EQ(server.sniffed_tls, true);
  EXPECT_TRUE(server.handshake_error.empty()) << server.handshake_error;
  EXPECT_EQ(server.received, (probes::Bytes{'h', 'e', 'l', 'l', 'o'}));
  EXPECT_TRUE(side.reply_fields.empty());
}

TEST(TlsExchange, AnotherCertificateIsReportedAsInterceptionAndGetsNoProbe) {
  auto published = make_identity();   // what the reflector told the client
  auto middlebox = make_identity();   // what answers on the path
  asio::io_context io;
  TlsEcho server(io, middlebox);
  auto side = run(io, tls_exchange_to(server.port(), published.certificate_sha256()));
  EXPECT_EQ(side.outcome, Outcome::invalid_reply);
  EXPECT_EQ(side.reply_fields["tls_intercepted"], "true");
  EXPECT_EQ(side.reply_fields["tls_presented_sha256"], middlebox.certificate_sha256());
  EXPECT_NE(side.detail.find("TLS interception"), std::string::npos) << side.detail;
  EXPECT_NE(side.detail.find(middlebox.certificate_sha256()), std::string::npos) << side.detail;
  EXPECT_FALSE(server.received.has_value()) << "no probe byte goes to an interceptor";
}

TEST(TlsExchange, APlainServerIsNoTlsPeer) {
  // Something on the port that answers in plain text (an HTTP server, a proxy's error page).
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto [aec, socket] = co_await acceptor.async_accept(kAwait);
        if (aec) co_return;
        std::array<std::uint8_t, 3> head{};
        co_await asio::async_read(socket, asio::buffer(head), kAwait);
        static constexpr std::string_view kAnswer = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        co_await asio::async_write(socket, asio::buffer(kAnswer), kAwait);
        boost::system::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_send, ignored);
        std::array<std::uint8_t, 512> sink{};
        co_await socket.async_read_some(asio::buffer(sink), kAwait);
      },
      asio::detached);
  auto side = run(io, tls_exchange_to(acceptor.local_endpoint().port(), std::string(64, 'a')));
  EXPECT_EQ(side.outcome, Outcome::invalid_reply) << side.detail;
  EXPECT_EQ(side.reply_fields.count("tls_intercepted"), 0U);
  EXPECT_NE(side.detail.find("TLS handshake failed"), std::string::npos) << side.detail;
}

// A module with one TLS-wrapped variant on TCP 443 (OpenVPN's codec stands
// in for the protocol inside).
const probes::ProtocolModule& tls_wrapped_module() {
  static constexpr std::array kVariants{
      probes::ProbeVariant{.transport = probes::Transport::tcp, .port = 443, .standard = true, .framing = &probes::openvpn::kTcpFraming, .tls = true}};
  static const probes::ProtocolModule module = [] {
    probes::ProtocolModule m = probes::openvpn::kModule;
    m.variants = kVariants;
    return m;
  }();
  return module;
}

TEST(TlsPlan, ATlsWrappedVariantRunsOnlyWithACertificateToPin) {
  auto caps = probes::Capabilities{};
  caps.tcp_ports = {443};
  auto without = make_plan({&tls_wrapped_module()}, caps);
  ASSERT_EQ(without.size(), 2U);
  for (const auto& p : without) {
    ASSERT_TRUE(p.not_run_reason.has_value()) << p.name();
    EXPECT_NE(p.not_run_reason->find("offers no TLS on TCP 443"), std::string::npos) << *p.not_run_reason;
  }
  caps.tls_certificate_sha256 = std::string(64, 'd');
  for (const auto& p : make_plan({&tls_wrapped_module()}, caps)) EXPECT_FALSE(p.not_run_reason) << p.name();
}

TEST(TlsPlan, GenuineAndControlProbesOfATlsVariantPinTheCertificate) {
  auto caps = probes::Capabilities{};
  caps.tcp_ports = {443};
  caps.tls_certificate_sha256 = std::string(64, 'd');
  auto plan = make_plan({&tls_wrapped_module(), &probes::openvpn::kModule}, caps);
  RunSettings settings;
  settings.reflector = asio::ip::make_address("127.0.0.1");
  settings.random = [](std::span<std::uint8_t> out) { std::fill(out.begin(), out.end(), std::uint8_t{7}); };
  settings.tls_certificate_sha256 = std::string(64, 'd');
  std::size_t pinned = 0;
  for (const auto& p : plan) {
    if (p.not_run_reason) continue;
    auto ex = make_exchange(p, settings);
    // The control goes inside the same pinned TLS: it stands for the same connection.
    const bool want = p.variant.tls;
    EXPECT_EQ(ex.tls_pin, want ? std::string(64, 'd') : std::string()) << p.name();
    pinned += want ? 1 : 0;
  }
  EXPECT_EQ(pinned, 2U);
}

}  // namespace
}  // namespace vpncheck::client
