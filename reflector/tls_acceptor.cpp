#include "reflector/tls_acceptor.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probes/tls.h"

namespace vpncheck::reflector {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using namespace asio::experimental::awaitable_operators;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

struct FreeKey {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct FreeCert {
  void operator()(X509* c) const { X509_free(c); }
};
struct FreeBn {
  void operator()(BIGNUM* b) const { BN_free(b); }
};

std::string openssl_error(std::string_view what) {
  unsigned long code = ERR_get_error();
  char text[256] = {};
  if (code != 0) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return std::string(what) + (code != 0 ? ": " + std::string(text) : std::string());
}

}  // namespace

std::optional<TlsIdentity> TlsIdentity::generate(std::string& error) {
  // P-256: what every TLS stack accepts and the cheapest to make at start.
  std::unique_ptr<EVP_PKEY, FreeKey> key;
  if (EVP_PKEY_CTX* kctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)) {
    EVP_PKEY* made = nullptr;
    if (EVP_PKEY_keygen_init(kctx) == 1 && EVP_PKEY_CTX_set_group_name(kctx, "P-256") == 1 &&
        EVP_PKEY_generate(kctx, &made) == 1)
      key.reset(made);
    EVP_PKEY_CTX_free(kctx);
  }
  std::unique_ptr<X509, FreeCert> cert(X509_new());
  std::unique_ptr<BIGNUM, FreeBn> serial(BN_new());
  if (!key || !cert || !serial) {
    error = openssl_error("cannot create a TLS key");
    return std::nullopt;
  }
  // RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; random, so two
  // starts never present the same (issuer, serial) with different keys.
  bool ok = BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) != nullptr &&
            X509_set_version(cert.get(), 2) == 1 &&  // v3
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -24L * 3600) != nullptr &&
            // Valid for as long as a reflector may run; the client pins the
            // certificate itself, so its dates are not what makes it trusted.
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600) != nullptr &&
            X509_set_pubkey(cert.get(), key.get()) == 1;
  X509_NAME* name = ok ? X509_get_subject_name(cert.get()) : nullptr;
  ok = ok && name != nullptr &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                  reinterpret_cast<const unsigned char*>("vpncheck-reflector"), -1, -1, 0) == 1 &&
       X509_set_issuer_name(cert.get(), name) == 1 && X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
  if (!ok) {
    error = openssl_error("cannot make the TLS certificate");
    return std::nullopt;
  }

  TlsIdentity identity;
  int size = i2d_X509(cert.get(), nullptr);
  if (size <= 0) {
    error = openssl_error("cannot encode the TLS certificate");
    return std::nullopt;
  }
  identity.der_.resize(static_cast<std::size_t>(size));
  unsigned char* out = identity.der_.data();
  i2d_X509(cert.get(), &out);
  identity.sha256_ = probes::tls::certificate_sha256(identity.der_);

  identity.context_ = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = identity.context_->native_handle();
  // TLS 1.2 and 1.3: what current VPN clients over TLS speak (RFC 8996 retires the older ones).
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 || SSL_CTX_use_certificate(ctx, cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    error = openssl_error("cannot set up the TLS server");
    return std::nullopt;
  }
  return identity;
}

std::optional<TlsIdentity> TlsIdentity::load(const std::string& certificate_file, const std::string& key_file,
                                              std::string& error) {
  TlsIdentity identity;
  identity.context_ = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = identity.context_->native_handle();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    error = openssl_error("cannot set up the TLS server");
    return std::nullopt;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, certificate_file.c_str()) != 1) {
    error = openssl_error(certificate_file + ": not a PEM certificate");
    return std::nullopt;
  }
  std::unique_ptr<EVP_PKEY, FreeKey> key;
  if (FILE* file = std::fopen(key_file.c_str(), "r")) {
    key.reset(PEM_read_PrivateKey(file, nullptr, nullptr, nullptr));
    std::fclose(file);
  }
  if (!key) {
    error = openssl_error(key_file + ": not a PEM private key");
    return std::nullopt;
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    error = openssl_error(key_file + ": not the key of " + certificate_file);
    return std::nullopt;
  }
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  int size = leaf != nullptr ? i2d_X509(leaf, nullptr) : 0;
  if (size <= 0) {
    error = openssl_error("cannot encode " + certificate_file);
    return std::nullopt;
  }
  identity.der_.resize(static_cast<std::size_t>(size));
  unsigned char* out = identity.der_.data();
  i2d_X509(leaf, &out);
  identity.sha256_ = probes::tls::certificate_sha256(identity.der_);
  return identity;
}

asio::awaitable<std::unique_ptr<TlsStream>> accept_tls(asio::ip::tcp::socket socket, probes::ByteView already_read,
                                                       TlsIdentity& identity,
                                                       std::chrono::steady_clock::duration timeout,
                                                       std::string& error) {
  auto stream = std::make_unique<TlsStream>(std::move(socket), identity.context());
  asio::steady_timer timer(stream->get_executor());
  timer.expires_after(timeout);
  // The buffered form: OpenSSL reads `already_read` before the socket.
  auto result = co_await (stream->async_handshake(ssl::stream_base::server,
                                                  asio::buffer(already_read.data(), already_read.size()), kAwait) ||
                          timer.async_wait(kAwait));
  if (result.index() == 1) {
    error = "TLS handshake not finished in time";
    co_return nullptr;
  }
  const auto ec = std::get<0>(std::get<0>(result));
  if (ec) {
    error = "TLS handshake failed: " + ec.message();
    co_return nullptr;
  }
  co_return stream;
}

}  // namespace vpncheck::reflector
