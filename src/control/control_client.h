// The client side of Contract 2: the reflector's HTTP/1.1 + JSON control API.
// The control endpoint is tried on the configured port, then TCP 443 and 80
// (connected to all at once, preferring that order),
// so a network that lets only the web out can still be tested.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "probes/observation.h"
#include "src/control/control_attempt.h"
#include "src/verdict/captive_portal.h"

namespace vpncheck::client {

// How the control API is reached: the key of a private reflector, and
// whether (and how checked) it is reached inside TLS. Over TLS the key and
// the session id are not readable on the way; the certificate is checked
// against `pin_sha256` when set (no CA consulted), else against the CAs in
// `ca_file` (the system's when empty) and `server_name`.
struct ControlAccess {
  std::string auth_key;  // empty: send none
  bool tls = false;
  std::string server_name;  // the reflector as the user named it: a host name or an IP literal
  std::string ca_file;
  std::string pin_sha256;  // probes/tls.h canonical form
};

struct OpenedSession {
  boost::asio::ip::tcp::endpoint control;  // the endpoint that worked
  probes::SessionInfo info;
  std::optional<probes::Endpoint> local;  // our side of the control connection
};

struct OpenSessionResult {
  std::optional<OpenedSession> session;
  std::vector<ControlAttempt> attempts;
  std::string error;  // set when no session: names host and every port tried
};

// Tries each port in order; the whole search ends by `deadline`. (Coroutines:
// every parameter is taken by value, so callers may pass temporaries.)
boost::asio::awaitable<OpenSessionResult> open_session(std::string host_for_messages,
                                                       boost::asio::ip::address address,
                                                       std::vector<std::uint16_t> ports,
                                                       std::chrono::steady_clock::time_point deadline,
                                                       ControlAccess access = {});

struct ObservationsResult {
  std::optional<probes::ObservationList> list;
  std::string error;
  // An answer came but is not valid (not JSON, over the parser's bounds, a
  // wrong type or value): the reflector, not the network, failed.
  bool invalid = false;
};

boost::asio::awaitable<ObservationsResult> fetch_observations(boost::asio::ip::tcp::endpoint control,
                                                              std::string session_id,
                                                              std::chrono::milliseconds timeout,
                                                              ControlAccess access = {});

// One plain GET of `target` (the captive-portal challenge) on `web`, without
// credentials: what a portal intercepting port 80 would answer comes back as is.
boost::asio::awaitable<WebAnswer> ask_challenge(boost::asio::ip::tcp::endpoint web, std::string target,
                                                std::chrono::milliseconds timeout);

// Proves the address this host reaches `control` from (over another family
// than the session's, typically) to be its own: the reflector then answers
// probes from it at their protocol's genuine size, as it does those from the
// session's own address. True when the reflector took it; an older reflector
// does not know the request.
boost::asio::awaitable<bool> prove_address(boost::asio::ip::tcp::endpoint control, std::string session_id,
                                           std::chrono::milliseconds timeout, ControlAccess access = {});
// Best effort: the reflector expires sessions on its own anyway.
boost::asio::awaitable<void> close_session(boost::asio::ip::tcp::endpoint control,
                                           std::string session_id, std::chrono::milliseconds timeout,
                                           ControlAccess access = {});

}  // namespace vpncheck::client
