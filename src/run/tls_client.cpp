#include "src/run/tls_client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probes/tls.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using namespace asio::experimental::awaitable_operators;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// One context for every probe: it holds no per-connection state. No CA
// verification (verify_none): the pin below is the whole check.
ssl::context& client_context() {
  static ssl::context context = [] {
    ssl::context c(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(c.native_handle(), TLS1_2_VERSION);
    c.set_verify_mode(ssl::verify_none);
    return c;
  }();
  return context;
}

}  // namespace

std::vector<std::uint8_t> peer_certificate_der(SSL* handle) {
  std::vector<std::uint8_t> der;
  X509* cert = SSL_get1_peer_certificate(handle);
  if (cert == nullptr) return der;
  int size = i2d_X509(cert, nullptr);
  if (size > 0) {
    der.resize(static_cast<std::size_t>(size));
    unsigned char* out = der.data();
    i2d_X509(cert, &out);
  }
  X509_free(cert);
  return der;
}

asio::awaitable<TlsHandshake> tls_handshake(asio::ip::tcp::socket socket, std::string pinned_sha256,
                                            std::chrono::steady_clock::time_point deadline) {
  TlsHandshake out;
  auto stream = std::make_unique<TlsStream>(std::move(socket), client_context());
  asio::steady_timer timer(stream->get_executor());
  timer.expires_at(deadline);
  auto result = co_await (stream->async_handshake(ssl::stream_base::client, kAwait) || timer.async_wait(kAwait));
  if (result.index() == 1) {
    out.status = TlsHandshake::Status::timed_out;
    out.detail = "connected, but the TLS handshake did not finish";
    co_return out;
  }
  auto [ec] = std::get<0>(result);
  if (ec) {
    out.status = TlsHandshake::Status::failed;
    out.error = ec;
    out.detail = "TLS handshake failed: " + ec.message();
    co_return out;
  }
  auto der = peer_certificate_der(stream->native_handle());
  if (!der.empty()) out.presented_sha256 = probes::tls::certificate_sha256(der);
  if (!probes::tls::matches_pin(der, pinned_sha256)) {
    out.status = TlsHandshake::Status::intercepted;
    out.detail = "TLS interception: the certificate presented on this port (SHA-256 " +
                 (out.presented_sha256.empty() ? std::string("none") : out.presented_sha256) +
                 ") is not the reflector's (" + pinned_sha256 +
                 "), so a middlebox terminates TLS here and opens its own connection onward";
    co_return out;
  }
  out.status = TlsHandshake::Status::pinned;
  out.stream = std::move(stream);
  co_return out;
}

}  // namespace vpncheck::client
