// TCP listeners: one accept loop per bound (address, port), one coroutine per
// connection. A port can carry probes, the control API, or both (443 by
// default): then the first bytes decide, as OpenVPN's port-share does: the
// control probe's marker, a TLS ClientHello (when the reflector offers TLS,
// Services::tls: it is terminated and the same questions asked inside), HTTP,
// a module's server conversation (ProtocolModule::server_stream), then the
// modules' stream framings (probes/framing.h), each asked whether the stream
// is its own.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "reflector/services.h"

namespace vpncheck::reflector {

struct TcpRole {
  bool probe = false;    // probes in a module's stream framing, and TCP control probes
  bool control = false;  // the HTTP control API
};

// Accepts until the acceptor is closed.
boost::asio::awaitable<void> run_tcp_listener(boost::asio::ip::tcp::acceptor& acceptor, TcpRole role,
                                              Services& services);

// Does `head` (at least 4 bytes) start like an HTTP request line?
bool looks_like_http(probes::ByteView head);

}  // namespace vpncheck::reflector
