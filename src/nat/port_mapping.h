// Gateway port-mapping protocols (issue #5), the parts they share: IPv4 and
// IPv6 address text, the parse result type, the mapping protocol, the server
// port of NAT-PMP and PCP, and the classification of what the gateway says
// about its external address (CGNAT, double NAT). The codecs themselves are
// one file per protocol: natpmp.h (RFC 6886), pcp.h (RFC 6887) and upnp.h
// (UPnP IGD over SSDP + SOAP). No sockets and no I/O: builders return bytes
// or text, parsers take bytes or text and return a value or a ParseError —
// nothing here throws on bad input.
//
// How the runner is meant to use them ("never leave a mapping behind"):
//   1. NAT-PMP: send natpmp_external_address_request() to gateway:5351, parse
//      with parse_natpmp_external_address_response().
//   2. PCP: send pcp_announce_request() or a MAP to gateway:5351; a gateway
//      that only speaks NAT-PMP answers a PCP request with a NAT-PMP
//      "unsupported version" reply (ParseError::wrong_version here).
//   3. UPnP: multicast ssdp_msearch_request() to 239.255.255.250:1900, parse
//      each datagram with parse_ssdp_response(), fetch LOCATION over HTTP, find
//      the control URL with parse_igd_description(), POST
//      build_soap_http_request(... soap_get_external_ip_address(...)).
//   Any mapping created (NAT-PMP / PCP MAP, UPnP AddPortMapping) must be
//   followed by its delete (natpmp_delete_request, pcp_delete_request,
//   soap_delete_port_mapping) whatever happened in between, and only the
//   external address matters for the report, so creating one is optional.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "probes/bytes.h"

namespace vpncheck::nat {

using probes::Bytes;
using probes::ByteView;

using Ipv4 = std::array<std::uint8_t, 4>;
using Ipv6 = std::array<std::uint8_t, 16>;

// Strict dotted quad ("192.0.2.1"; no leading zeros, no spaces, exactly 4 parts).
std::optional<Ipv4> parse_ipv4(std::string_view text);
std::string format_ipv4(const Ipv4& address);
// ::ffff:a.b.c.d, as PCP carries IPv4 addresses (RFC 6887 §5).
Ipv6 ipv4_mapped(const Ipv4& address);
// The IPv4 address inside an IPv4-mapped IPv6 address, nullopt otherwise.
std::optional<Ipv4> from_ipv4_mapped(const Ipv6& address);
// IPv4-mapped addresses as dotted quad, anything else as RFC 5952 text.
std::string format_ip(const Ipv6& address);

// Why a parser refused its input.
enum class ParseError {
  truncated,         // shorter than the fixed layout
  too_long,          // longer than the protocol allows (PCP: 1100 bytes; text: the caps in upnp.h)
  malformed,         // wrong alignment, bad text, missing mandatory field
  wrong_version,     // another protocol version (NAT-PMP answer to PCP, or the reverse)
  wrong_opcode,      // not the response to the request we sent
  not_a_response,    // a request (R bit clear / opcode < 128)
  nonce_mismatch,    // PCP: mapping nonce differs from ours (RFC 6887 §11.3)
  mismatch,          // internal port / protocol differ from the request
  http_status,       // SSDP / SOAP: not "200"
  not_found,         // the field we look for is absent (SOAP / description XML)
};
std::string_view to_string(ParseError error);

// A value or the reason there is none. Deliberately tiny: ok(), value(), error().
template <class T>
class Parsed {
 public:
  Parsed(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose
  Parsed(ParseError error) : v_(error) {}    // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const T& value() const { return std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }
  const T& operator*() const { return std::get<T>(v_); }
  // Only meaningful when !ok().
  ParseError error() const { return ok() ? ParseError::malformed : std::get<ParseError>(v_); }

 private:
  std::variant<T, ParseError> v_;
};

// NAT-PMP and PCP share the gateway's UDP port.
constexpr std::uint16_t kPortMappingServerPort = 5351;  // RFC 6886 §3.1, RFC 6887 §19.1

enum class MappingProtocol { udp, tcp };
std::string_view to_string(MappingProtocol p);  // "UDP" / "TCP" (UPnP spelling)

// ---------------------------------------------------------------- classification
bool is_cgnat_address(const Ipv4& a);    // 100.64.0.0/10 (RFC 6598)
// RFC 1918 (10/8, 172.16/12, 192.168/16) and link-local 169.254/16 (RFC 3927).
bool is_private_address(const Ipv4& a);
bool is_cgnat_address(std::string_view dotted_quad);    // false for anything unparsable
bool is_private_address(std::string_view dotted_quad);  // false for anything unparsable

enum class NatTopology {
  unknown,     // no gateway answer, no public address, or a gateway without an address
  single_nat,  // the gateway holds the address the reflector saw
  double_nat,  // the gateway's external address is private or differs from the public one
  cgnat,       // the gateway's external address is in 100.64.0.0/10
};
std::string_view to_string(NatTopology t);  // "unknown", "single_nat", "double_nat", "cgnat"

struct TopologyFinding {
  NatTopology topology = NatTopology::unknown;
  // For the report's nat.double_nat: true for double_nat and cgnat, false for
  // single_nat, nullopt for unknown.
  std::optional<bool> double_nat;
  // One line: what it is and what it means for running an inbound VPN server.
  std::string explanation;
};
// gateway_external: what NAT-PMP / PCP / UPnP reported (nullopt: none answered).
// public_address: the client address as the reflector saw it (nullopt: unknown).
TopologyFinding classify_topology(const std::optional<Ipv4>& gateway_external,
                                  const std::optional<Ipv4>& public_address);

}  // namespace vpncheck::nat
