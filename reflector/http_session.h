// One control API connection: HTTP/1.1 over Beast, bounded in header size,
// body size (64 KiB) and time (Timeouts::http per request), keep-alive up to
// a fixed number of requests.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "reflector/services.h"
#include "reflector/tls_acceptor.h"

namespace vpncheck::reflector {

// `buffer` may already hold the first bytes (read while sniffing a shared port).
boost::asio::awaitable<void> serve_http(boost::beast::tcp_stream stream, boost::beast::flat_buffer buffer,
                                        probes::Endpoint client, Services& services);
// The same inside TLS the listener has already taken the stream out of
// (Services::control_tls); it ends the TLS session and the connection.
boost::asio::awaitable<void> serve_http(TlsStream& stream, boost::beast::flat_buffer buffer, probes::Endpoint client,
                                        Services& services);

}  // namespace vpncheck::reflector
