// TLS for probes whose protocol runs inside it (a module variant with
// ProbeVariant::tls), and for the control API when the operator gives a
// certificate. Without one the reflector makes its own at start (EC P-256,
// self-signed, in memory only). Either way it publishes the certificate's
// SHA-256 in the session capabilities; clients pin that for their probes
// instead of trusting a CA, so a certificate from anyone else shows a
// TLS-intercepting middlebox.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "probes/probe.h"

namespace vpncheck::reflector {

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

class TlsIdentity {
 public:
  // A fresh key and certificate; nullopt (with `error`) only if OpenSSL fails.
  static std::optional<TlsIdentity> generate(std::string& error);
  // The operator's certificate chain (PEM, leaf first) and its key (PEM);
  // nullopt (with `error` naming the file and what is wrong) if either cannot
  // be read or they do not belong together.
  static std::optional<TlsIdentity> load(const std::string& certificate_file, const std::string& key_file,
                                         std::string& error);

  boost::asio::ssl::context& context() { return *context_; }
  // probes/tls.h form: 64 lower-case hex digits.
  const std::string& certificate_sha256() const { return sha256_; }
  const std::vector<std::uint8_t>& certificate_der() const { return der_; }

 private:
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::string sha256_;
  std::vector<std::uint8_t> der_;
};

// The server side of the TLS handshake on an accepted connection whose first
// bytes the listener has already read to tell TLS apart (`already_read`,
// handed to OpenSSL as the start of the ClientHello). nullptr when the
// handshake failed or took longer than `timeout`; `error` says why.
boost::asio::awaitable<std::unique_ptr<TlsStream>> accept_tls(boost::asio::ip::tcp::socket socket,
                                                              probes::ByteView already_read, TlsIdentity& identity,
                                                              std::chrono::steady_clock::duration timeout,
                                                              std::string& error);

}  // namespace vpncheck::reflector
