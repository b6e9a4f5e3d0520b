// UPnP IGD: SSDP discovery, the device description, and SOAP actions on the
// WAN connection service, as text. Pure codec (see port_mapping.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/nat/port_mapping.h"

namespace vpncheck::nat {

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

}  // namespace vpncheck::nat
