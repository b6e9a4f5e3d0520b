#include "src/nat/port_mapping.h"

#include <arpa/inet.h>

namespace vpncheck::nat {

// ---------------------------------------------------------------- addresses

std::optional<Ipv4> parse_ipv4(std::string_view text) {
  Ipv4 out{};
  std::size_t part = 0;
  std::size_t i = 0;
  while (part < 4) {
    std::size_t start = i;
    unsigned value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 3) {
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
    }
    const std::size_t digits = i - start;
    if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) return std::nullopt;
    out[part++] = static_cast<std::uint8_t>(value);
    if (part < 4) {
      if (i >= text.size() || text[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i != text.size()) return std::nullopt;
  return out;
}

std::string format_ipv4(const Ipv4& a) {
  return std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." +
         std::to_string(a[3]);
}

Ipv6 ipv4_mapped(const Ipv4& a) {
  Ipv6 out{};
  out[10] = 0xff;
  out[11] = 0xff;
  std::copy(a.begin(), a.end(), out.begin() + 12);
  return out;
}

std::optional<Ipv4> from_ipv4_mapped(const Ipv6& a) {
  for (std::size_t i = 0; i < 10; ++i)
    if (a[i] != 0) return std::nullopt;
  if (a[10] != 0xff || a[11] != 0xff) return std::nullopt;
  return Ipv4{a[12], a[13], a[14], a[15]};
}

std::string format_ip(const Ipv6& a) {
  if (auto v4 = from_ipv4_mapped(a)) return format_ipv4(*v4);
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(AF_INET6, a.data(), buf, sizeof buf) == nullptr) return {};
  return buf;
}

std::string_view to_string(ParseError e) {
  switch (e) {
    case ParseError::truncated: return "truncated";
    case ParseError::too_long: return "too long";
    case ParseError::malformed: return "malformed";
    case ParseError::wrong_version: return "wrong version";
    case ParseError::wrong_opcode: return "wrong opcode";
    case ParseError::not_a_response: return "not a response";
    case ParseError::nonce_mismatch: return "nonce mismatch";
    case ParseError::mismatch: return "does not match the request";
    case ParseError::http_status: return "HTTP status not 200";
    case ParseError::not_found: return "field not found";
  }
  return "unknown";
}

std::string_view to_string(MappingProtocol p) { return p == MappingProtocol::tcp ? "TCP" : "UDP"; }

// ---------------------------------------------------------------- classification

bool is_cgnat_address(const Ipv4& a) { return a[0] == 100 && (a[1] & 0xc0) == 64; }

bool is_private_address(const Ipv4& a) {
  return a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
         (a[0] == 169 && a[1] == 254);
}

bool is_cgnat_address(std::string_view s) {
  auto a = parse_ipv4(s);
  return a && is_cgnat_address(*a);
}

bool is_private_address(std::string_view s) {
  auto a = parse_ipv4(s);
  return a && is_private_address(*a);
}

std::string_view to_string(NatTopology t) {
  switch (t) {
    case NatTopology::unknown: return "unknown";
    case NatTopology::single_nat: return "single_nat";
    case NatTopology::double_nat: return "double_nat";
    case NatTopology::cgnat: return "cgnat";
  }
  return "unknown";
}

TopologyFinding classify_topology(const std::optional<Ipv4>& gateway, const std::optional<Ipv4>& seen) {
  TopologyFinding f;
  if (!gateway) {
    f.explanation =
        "No port-mapping protocol (NAT-PMP, PCP, UPnP) answered on the gateway, so a second NAT "
        "cannot be ruled out or confirmed.";
    return f;
  }
  const std::string g = format_ipv4(*gateway);
  if (*gateway == Ipv4{0, 0, 0, 0}) {
    f.explanation = "The gateway answered but reports no external address (0.0.0.0): its uplink may be down.";
    return f;
  }
  if (is_cgnat_address(*gateway)) {
    f.topology = NatTopology::cgnat;
    f.double_nat = true;
    f.explanation = "Your router's external address " + g +
                    " is in the carrier-grade NAT range 100.64.0.0/10: your provider shares one public "
                    "address among many customers, so a VPN server at home cannot be reached from the "
                    "Internet and port forwarding will not help; ask the provider for a public IPv4 "
                    "address, use IPv6, or connect out to a relay/VPS.";
    return f;
  }
  if (is_private_address(*gateway)) {
    f.topology = NatTopology::double_nat;
    f.double_nat = true;
    f.explanation = "Your router's external address " + g +
                    " is private: it sits behind another NAT (often the provider's modem), so an inbound "
                    "VPN server needs a port forward on both devices, or the modem in bridge mode.";
    return f;
  }
  if (!seen) {
    f.explanation = "The gateway reports " + g +
                    " but the public address is unknown, so a second NAT cannot be ruled out.";
    return f;
  }
  if (*seen == *gateway) {
    f.topology = NatTopology::single_nat;
    f.double_nat = false;
    f.explanation = "Your router holds the public address " + g +
                    ": one NAT, so a port forward on it makes an inbound VPN server reachable.";
    return f;
  }
  f.topology = NatTopology::double_nat;
  f.double_nat = true;
  f.explanation = "Your router reports " + g + " but the Internet sees " + format_ipv4(*seen) +
                  ": another NAT translates again upstream (or traffic leaves by another address), so a "
                  "port forward on your router alone will not make an inbound VPN server reachable.";
  return f;
}

}  // namespace vpncheck::nat
