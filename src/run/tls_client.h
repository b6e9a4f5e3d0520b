// The client side of a TLS-wrapped probe: the handshake, then the pin. The
// reflector's certificate is self-signed and its SHA-256 came over the
// control session, so no CA is consulted: the certificate presented either is
// the reflector's or belongs to something in between that terminates TLS (a
// TLS-intercepting middlebox). No probe byte is sent to the latter.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

namespace vpncheck::client {

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

struct TlsHandshake {
  enum class Status {
    pinned,       // the reflector's own certificate: `stream` is ready
    intercepted,  // a complete handshake, but with another certificate
    failed,       // no TLS session (reset, alert, not TLS at all)
    timed_out,
  };
  Status status = Status::failed;
  std::unique_ptr<TlsStream> stream;  // set when pinned
  std::string presented_sha256;       // what the other end presented (probes/tls.h form); empty if nothing
  std::string detail;                 // plain words for the report
  boost::system::error_code error;    // when failed: how
};

// The DER encoding of the certificate the other end presented; empty if none.
std::vector<std::uint8_t> peer_certificate_der(SSL* handle);

boost::asio::awaitable<TlsHandshake> tls_handshake(boost::asio::ip::tcp::socket socket, std::string pinned_sha256,
                                                   std::chrono::steady_clock::time_point deadline);

}  // namespace vpncheck::client
