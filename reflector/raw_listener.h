// Raw IP listeners (ESP, AH, GRE): one IPv4 raw socket per IP protocol. Each
// datagram arrives whole (IPv4 header included), because some protocols'
// checks cover the header (AH's ICV) and the header says where it came from;
// replies are whole datagrams too (IP_HDRINCL), addressed to the observed source.
// Opening them needs CAP_NET_RAW; without it the reflector says so and does
// not offer raw tests.
//
// Over IPv6 (ESP, AH and GRE) the kernel never hands over the header and
// always writes it itself: the listener rebuilds the whole datagram the probe
// modules expect (probes/ip.h) from the source (recvfrom), the destination
// (IPV6_PKTINFO), hop limit and traffic class (IPV6_HOPLIMIT / IPV6_TCLASS),
// and sends a reply's payload from its source address (IPV6_PKTINFO) to its
// destination, so the header the kernel writes is the one the module signed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_raw_socket.hpp>
#include <boost/asio/generic/raw_protocol.hpp>
#include <boost/asio/io_context.hpp>

#include "probes/bytes.h"
#include "reflector/services.h"

namespace vpncheck::reflector {

using RawSocket = boost::asio::basic_raw_socket<boost::asio::generic::raw_protocol>;

// What a raw receiver needs from an IPv4 header. nullopt: not a well-formed
// IPv4 datagram of the length that arrived.
struct Ipv4Facts {
  std::string source;
  std::string destination;
  int ttl = 0;
  int tos = 0;
  std::uint8_t protocol = 0;
};
std::optional<Ipv4Facts> read_ipv4_header(probes::ByteView datagram);

// Opens an IPv4 raw socket for `ip_protocol` with IP_HDRINCL, bound to
// `local` when given (then the kernel hands it only datagrams to that
// address: --listen). On failure returns nullopt and says why in `error`
// (EPERM: no CAP_NET_RAW).
std::optional<RawSocket> open_raw_socket(boost::asio::io_context& io, std::uint8_t ip_protocol, std::string& error,
                                         const std::optional<std::string>& local = std::nullopt);

// Opens an IPv6 raw socket for `ip_protocol` that reports destination, hop
// limit and traffic class of each datagram. Same binding and failure contract.
std::optional<RawSocket> open_raw6_socket(boost::asio::io_context& io, std::uint8_t ip_protocol, std::string& error,
                                          const std::optional<std::string>& local = std::nullopt);

// Whether the modules behind the raw protocol `name` ("esp", ...) speak IPv6
// (the raw-protocol table, probes/ip.h).
bool raw_protocol_over_ipv6(std::string_view name);

// Receives until the socket is closed.
boost::asio::awaitable<void> run_raw_listener(RawSocket& socket, std::uint8_t ip_protocol, Services& services);
boost::asio::awaitable<void> run_raw6_listener(RawSocket& socket, std::uint8_t ip_protocol, Services& services);

}  // namespace vpncheck::reflector
