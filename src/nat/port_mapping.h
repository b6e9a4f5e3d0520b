// Gateway port-mapping protocols (issue #5): pure codecs for NAT-PMP
// (RFC 6886), PCP (RFC 6887) and UPnP IGD over SSDP + SOAP, and the
// classification of what the gateway says about its external address
// (CGNAT, double NAT). No sockets and no I/O: builders return bytes or text,
// parsers take bytes or text and return a value or a ParseError — nothing here
// throws on bad input.
//
// How the runner is meant to use it ("never leave a mapping behind"):
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
#include <vector>

#include "probes/bytes.h"
#include "probes/probe.h"

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
  too_long,          // longer than the protocol allows (PCP: 1100 bytes; text: size caps below)
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

enum class MappingProtocol { udp, tcp };
std::string_view to_string(MappingProtocol p);  // "UDP" / "TCP" (UPnP spelling)

// ---------------------------------------------------------------- NAT-PMP
// RFC 6886. Client sends to the default gateway, UDP 5351; all fields big-endian.
constexpr std::uint16_t kPortMappingServerPort = 5351;  // RFC 6886 §3.1, RFC 6887 §19.1 (shared)
constexpr std::uint8_t kNatPmpVersion = 0;              // RFC 6886 §3.2
constexpr std::uint8_t kNatPmpOpExternalAddress = 0;    // RFC 6886 §3.2
constexpr std::uint8_t kNatPmpOpMapUdp = 1;             // RFC 6886 §3.3
constexpr std::uint8_t kNatPmpOpMapTcp = 2;
constexpr std::uint8_t kNatPmpResponseBit = 128;        // response opcode = 128 + request opcode
// version 1 | opcode 1 | result 2 | epoch 4 | external IPv4 4
constexpr std::size_t kNatPmpExternalAddressResponseSize = 12;
// version 1 | opcode 1 | reserved 2 | internal port 2 | suggested external port 2 | lifetime 4
constexpr std::size_t kNatPmpMappingRequestSize = 12;
// version 1 | opcode 1 | result 2 | epoch 4 | internal port 2 | mapped external port 2 | lifetime 4
constexpr std::size_t kNatPmpMappingResponseSize = 16;
// version 1 | opcode 1 | result 2 | epoch 4: what every NAT-PMP response starts with; an
// error response may stop there (RFC 6886 §3.5: other fields undefined on error).
constexpr std::size_t kNatPmpMinResponseSize = 8;

// RFC 6886 §3.5 result codes.
enum class NatPmpResult : std::uint16_t {
  success = 0,
  unsupported_version = 1,
  not_authorized = 2,  // "Not Authorized/Refused" (e.g. the box has it switched off)
  network_failure = 3,  // e.g. no external address yet
  out_of_resources = 4,
  unsupported_opcode = 5,
};
std::string_view describe(NatPmpResult r);  // unknown codes: "unknown result code"

struct NatPmpExternalAddress {
  std::uint16_t result_code = 0;            // NatPmpResult; kept raw so unknown codes survive
  std::uint32_t seconds_since_epoch = 0;    // the gateway's mapping-table age
  std::optional<Ipv4> external_address;     // only when result_code == 0
  bool operator==(const NatPmpExternalAddress&) const = default;
};

struct NatPmpMappingRequest {
  MappingProtocol protocol = MappingProtocol::udp;
  std::uint16_t internal_port = 0;
  std::uint16_t suggested_external_port = 0;
  std::uint32_t lifetime_s = 0;  // RFC 6886 §3.3 recommends 7200 for a real mapping
};

struct NatPmpMapping {
  std::uint16_t result_code = 0;
  std::uint32_t seconds_since_epoch = 0;
  std::uint16_t internal_port = 0;
  std::uint16_t external_port = 0;  // 0 on error
  std::uint32_t lifetime_s = 0;     // granted; 0 after a delete
  bool operator==(const NatPmpMapping&) const = default;
};

// 2 bytes: 00 00.
Bytes natpmp_external_address_request();
// Accepts a 12-byte success answer or an error answer of >= 8 bytes; trailing bytes ignored.
Parsed<NatPmpExternalAddress> parse_natpmp_external_address_response(ByteView reply);
Bytes natpmp_mapping_request(const NatPmpMappingRequest& request);
// RFC 6886 §3.4: same opcode and internal port, suggested external port 0, lifetime 0.
Bytes natpmp_delete_request(MappingProtocol protocol, std::uint16_t internal_port);
// Checks the opcode against request.protocol and, on success, the internal port.
Parsed<NatPmpMapping> parse_natpmp_mapping_response(ByteView reply, const NatPmpMappingRequest& request);

// ---------------------------------------------------------------- PCP
// RFC 6887. Same server port as NAT-PMP (5351).
constexpr std::uint8_t kPcpVersion = 2;            // RFC 6887 §7 / §9
constexpr std::uint8_t kPcpOpAnnounce = 0;         // RFC 6887 §14.1
constexpr std::uint8_t kPcpOpMap = 1;              // RFC 6887 §11
constexpr std::uint8_t kPcpResponseBit = 0x80;     // R bit in the opcode byte
constexpr std::size_t kPcpHeaderSize = 24;         // common request / response header
constexpr std::size_t kPcpMapDataSize = 36;        // nonce 12 | proto 1 | reserved 3 | ports 2+2 | address 16
constexpr std::size_t kPcpMapMessageSize = kPcpHeaderSize + kPcpMapDataSize;  // 60
constexpr std::size_t kPcpMaxMessageSize = 1100;   // RFC 6887 §7
constexpr std::size_t kPcpNonceSize = 12;
constexpr std::uint8_t kIpProtoTcp = 6;
constexpr std::uint8_t kIpProtoUdp = 17;

using PcpNonce = std::array<std::uint8_t, kPcpNonceSize>;
PcpNonce make_pcp_nonce(const probes::RandomFill& rnd);

// RFC 6887 §7.4 result codes.
enum class PcpResult : std::uint8_t {
  success = 0,
  unsupp_version = 1,
  not_authorized = 2,
  malformed_request = 3,
  unsupp_opcode = 4,
  unsupp_option = 5,
  malformed_option = 6,
  network_failure = 7,
  no_resources = 8,
  unsupp_protocol = 9,
  user_ex_quota = 10,
  cannot_provide_external = 11,
  address_mismatch = 12,  // the client address in the request is not what the server saw: a NAT in between
  excessive_remote_peers = 13,
};
std::string_view describe(PcpResult r);

struct PcpMapRequest {
  PcpNonce nonce{};
  MappingProtocol protocol = MappingProtocol::udp;
  Ipv4 client_address{};  // our LAN address (the source address of the request)
  std::uint16_t internal_port = 0;
  std::uint16_t suggested_external_port = 0;
  std::optional<Ipv4> suggested_external_address;  // none: ::ffff:0.0.0.0 (RFC 6887 §11.1)
  std::uint32_t lifetime_s = 0;
};

struct PcpResponseHeader {
  std::uint8_t opcode = 0;  // without the R bit
  std::uint8_t result_code = 0;
  std::uint32_t lifetime_s = 0;
  std::uint32_t epoch_s = 0;
  bool operator==(const PcpResponseHeader&) const = default;
};

struct PcpMapResponse {
  PcpResponseHeader header;
  // Present on success (and on errors whose reply carries the MAP data).
  std::uint16_t internal_port = 0;
  std::uint16_t external_port = 0;
  Ipv6 external_address{};  // IPv4-mapped for an IPv4 NAT; see from_ipv4_mapped()
  bool operator==(const PcpMapResponse&) const = default;
};

// 24 bytes, lifetime 0, no opcode data: cheapest "is there a PCP server" probe.
Bytes pcp_announce_request(const Ipv4& client_address);
Parsed<PcpResponseHeader> parse_pcp_announce_response(ByteView reply);
Bytes pcp_map_request(const PcpMapRequest& request);
// RFC 6887 §15: the same MAP (same nonce, protocol, internal port) with lifetime 0.
Bytes pcp_delete_request(const PcpMapRequest& original);
// Verifies version, R bit, opcode, the nonce (always, when MAP data is present),
// protocol and internal port; a success answer must carry the MAP data.
// Options after the MAP data are ignored. A NAT-PMP answer (version 0) is wrong_version.
Parsed<PcpMapResponse> parse_pcp_map_response(ByteView reply, const PcpMapRequest& request);

// ---------------------------------------------------------------- UPnP IGD
constexpr std::string_view kSsdpMulticastAddress = "239.255.255.250";  // UPnP DA 1.1 §1.1.2
constexpr std::uint16_t kSsdpPort = 1900;
constexpr std::string_view kIgdDeviceType = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";
constexpr std::size_t kMaxSsdpResponseSize = 8192;
constexpr std::size_t kMaxXmlSize = 256 * 1024;  // device descriptions and SOAP answers

// The M-SEARCH datagram (ssdp:discover, MX 1, ST InternetGatewayDevice:1).
std::string ssdp_msearch_request();

struct SsdpResponse {
  std::string location;  // absolute http:// URL of the device description
  std::string st;        // search target echoed (may be empty if the device omitted it)
  std::string server;    // e.g. "Debian/12 UPnP/1.1 MiniUPnPd/2.3.1"
  std::string usn;
  bool operator==(const SsdpResponse&) const = default;
};
// "HTTP/1.x 200" then headers (names case-insensitive, CRLF or LF); LOCATION
// must be an http:// URL. Any other status is http_status.
Parsed<SsdpResponse> parse_ssdp_response(std::string_view datagram);

struct HttpUrl {
  std::string host;  // as written, without brackets for IPv6 literals
  std::uint16_t port = 80;
  std::string path;  // "/" at least; includes any query
  bool operator==(const HttpUrl&) const = default;
};
std::optional<HttpUrl> parse_http_url(std::string_view url);

struct IgdService {
  std::string service_type;  // e.g. urn:schemas-upnp-org:service:WANIPConnection:2
  std::string control_url;   // absolute http:// URL (resolved against URLBase / LOCATION)
  bool operator==(const IgdService&) const = default;
};
// Scans a device description for WANIPConnection:2, WANIPConnection:1 and
// WANPPPConnection:1 services (in that order of preference; document order
// within one type). String scanning, not an XML parser: tags are matched by
// local name so "<ns:serviceType>" works too; the five predefined entities are
// decoded. `location` is the SSDP LOCATION the description came from.
Parsed<std::vector<IgdService>> parse_igd_description(std::string_view xml, std::string_view location);
// RFC 3986-lite: absolute http:// URLs as they are, "/path" against the base's
// host:port, "path" against the base's directory. Other schemes, "//host"
// references and anything whose result parse_http_url would refuse: nullopt.
std::optional<std::string> resolve_url(std::string_view base, std::string_view reference);

struct SoapRequest {
  std::string service_type;
  std::string action;       // "GetExternalIPAddress"
  std::string soap_action;  // the SOAPAction header value, quotes included
  std::string body;         // the XML envelope
};
SoapRequest soap_get_external_ip_address(std::string_view service_type);
struct UpnpPortMapping {
  std::uint16_t external_port = 0;
  MappingProtocol protocol = MappingProtocol::udp;
  std::uint16_t internal_port = 0;
  std::string internal_client;  // our LAN address, dotted quad
  std::string description = "vpncheck";
  std::uint32_t lease_duration_s = 60;  // short lease: expires on its own should the delete be lost
};
SoapRequest soap_add_port_mapping(std::string_view service_type, const UpnpPortMapping& mapping);
SoapRequest soap_delete_port_mapping(std::string_view service_type, std::uint16_t external_port,
                                     MappingProtocol protocol);
// The whole HTTP/1.1 POST (Connection: close) for a control URL.
std::string build_soap_http_request(const HttpUrl& control_url, const SoapRequest& request);

// A SOAP answer body (after the HTTP headers). A UPnP fault yields ok == false
// with its errorCode / errorDescription when present.
struct SoapStatus {
  bool ok = false;
  std::optional<int> upnp_error_code;  // e.g. 718 ConflictInMappingEntry, 714 NoSuchEntryInArray
  std::string error_description;
  bool operator==(const SoapStatus&) const = default;
};
SoapStatus parse_soap_status(std::string_view body, std::string_view action);
// NewExternalIPAddress from a GetExternalIPAddressResponse. A fault is
// http_status-free: it is not_found; an empty or non-IPv4 value is malformed.
Parsed<Ipv4> parse_get_external_ip_address_response(std::string_view body);

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
