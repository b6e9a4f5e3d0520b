// Port-mapping protocols on the default gateway (issue #5): asks the gateway
// read from /proc/net/route for its external address with NAT-PMP (RFC 6886),
// PCP ANNOUNCE (RFC 6887: presence only) and UPnP IGD (SSDP M-SEARCH, then
// the device description and GetExternalIPAddress over HTTP), all with short
// timeouts and all at once. It never creates a mapping, so none can be left
// behind. Traffic goes only to the gateway: SSDP answers from any other
// address are ignored, and description / control URLs must point at the
// gateway itself.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "src/nat/gateway_facts.h"
#include "src/nat/port_mapping.h"

namespace vpncheck::nat {

// The IPv4 default gateway from /proc/net/route text: the route with
// destination 0.0.0.0/0 and RTF_GATEWAY set, lowest metric first. The kernel
// prints addresses as the in-memory 32-bit value in hex (host byte order).
std::optional<Ipv4> parse_default_gateway(std::string_view proc_net_route);

struct HttpResponse {
  int status = 0;
  std::string body;  // de-chunked when Transfer-Encoding: chunked
};
// A whole HTTP/1.x response as read until the server closed; nullopt when it
// is not one (no status line, bad chunking, body shorter than Content-Length).
std::optional<HttpResponse> parse_http_response(std::string_view text);

// How long the three queries wait for a gateway's first answer. A gateway
// that speaks any of them answers within a round trip on the LAN (SSDP
// devices may delay up to MX = 1 s, but routers answer at once; Tailscale's
// port-mapping probe waits 250 ms), and a network without one should not
// hold up the whole run.
inline constexpr std::chrono::milliseconds kGatewayDiscoveryWindow{500};

// Runs the three queries concurrently: discovery within
// kGatewayDiscoveryWindow (or `timeout` if shorter), and UPnP's description
// and SOAP requests to a gateway that answered within `timeout`.
// `route_file` is /proc/net/route except in tests.
boost::asio::awaitable<GatewayFacts> query_gateway(std::chrono::milliseconds timeout,
                                                   std::string route_file = "/proc/net/route");
// The same against a given gateway (tests; query_gateway reads the route first).
boost::asio::awaitable<GatewayFacts> query_gateway_at(Ipv4 gateway, std::chrono::milliseconds timeout);

}  // namespace vpncheck::nat
