#include "src/nat/port_mapping.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace vpncheck::nat {

using probes::ByteReader;
using probes::ByteWriter;

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

namespace {

Ipv4 read_ipv4(ByteView v) { return Ipv4{v[0], v[1], v[2], v[3]}; }

Ipv6 read_ipv6(ByteView v) {
  Ipv6 out{};
  std::copy(v.begin(), v.begin() + 16, out.begin());
  return out;
}

}  // namespace

// ---------------------------------------------------------------- NAT-PMP

std::string_view describe(NatPmpResult r) {
  switch (r) {
    case NatPmpResult::success: return "success";
    case NatPmpResult::unsupported_version: return "unsupported version";
    case NatPmpResult::not_authorized: return "not authorized / refused";
    case NatPmpResult::network_failure: return "network failure (gateway has no external address)";
    case NatPmpResult::out_of_resources: return "out of resources";
    case NatPmpResult::unsupported_opcode: return "unsupported opcode";
  }
  return "unknown result code";
}

Bytes natpmp_external_address_request() {
  return Bytes{kNatPmpVersion, kNatPmpOpExternalAddress};
}

Parsed<NatPmpExternalAddress> parse_natpmp_external_address_response(ByteView reply) {
  ByteReader r(reply);
  auto version = r.u8();
  auto opcode = r.u8();
  auto result = r.be16();
  auto epoch = r.be32();
  if (!version) return ParseError::truncated;
  if (*version != kNatPmpVersion) return ParseError::wrong_version;
  if (!opcode) return ParseError::truncated;
  if (*opcode == kNatPmpOpExternalAddress) return ParseError::not_a_response;
  if (*opcode != kNatPmpResponseBit + kNatPmpOpExternalAddress) return ParseError::wrong_opcode;
  if (!result || !epoch) return ParseError::truncated;
  NatPmpExternalAddress out;
  out.result_code = *result;
  out.seconds_since_epoch = *epoch;
  if (out.result_code != 0) return out;
  auto address = r.take(4);
  if (!address) return ParseError::truncated;
  out.external_address = read_ipv4(*address);
  return out;
}

namespace {

std::uint8_t natpmp_map_opcode(MappingProtocol p) {
  return p == MappingProtocol::tcp ? kNatPmpOpMapTcp : kNatPmpOpMapUdp;
}

}  // namespace

Bytes natpmp_mapping_request(const NatPmpMappingRequest& request) {
  ByteWriter w;
  w.u8(kNatPmpVersion)
      .u8(natpmp_map_opcode(request.protocol))
      .be16(0)  // reserved
      .be16(request.internal_port)
      .be16(request.suggested_external_port)
      .be32(request.lifetime_s);
  return w.take();
}

Bytes natpmp_delete_request(MappingProtocol protocol, std::uint16_t internal_port) {
  return natpmp_mapping_request({protocol, internal_port, 0, 0});
}

Parsed<NatPmpMapping> parse_natpmp_mapping_response(ByteView reply, const NatPmpMappingRequest& request) {
  ByteReader r(reply);
  auto version = r.u8();
  auto opcode = r.u8();
  auto result = r.be16();
  auto epoch = r.be32();
  if (!version) return ParseError::truncated;
  if (*version != kNatPmpVersion) return ParseError::wrong_version;
  if (!opcode) return ParseError::truncated;
  const std::uint8_t want = natpmp_map_opcode(request.protocol);
  if (*opcode == want) return ParseError::not_a_response;
  if (*opcode != kNatPmpResponseBit + want) return ParseError::wrong_opcode;
  if (!result || !epoch) return ParseError::truncated;
  NatPmpMapping out;
  out.result_code = *result;
  out.seconds_since_epoch = *epoch;
  auto internal = r.be16();
  auto external = r.be16();
  auto lifetime = r.be32();
  if (!internal || !external || !lifetime) {
    if (out.result_code != 0) return out;  // short error answer
    return ParseError::truncated;
  }
  out.internal_port = *internal;
  out.external_port = *external;
  out.lifetime_s = *lifetime;
  if (out.result_code == 0 && out.internal_port != request.internal_port) return ParseError::mismatch;
  return out;
}

// ---------------------------------------------------------------- PCP

PcpNonce make_pcp_nonce(const probes::RandomFill& rnd) {
  PcpNonce n{};
  if (rnd) rnd(n);
  return n;
}

std::string_view describe(PcpResult r) {
  switch (r) {
    case PcpResult::success: return "success";
    case PcpResult::unsupp_version: return "unsupported version";
    case PcpResult::not_authorized: return "not authorized";
    case PcpResult::malformed_request: return "malformed request";
    case PcpResult::unsupp_opcode: return "unsupported opcode";
    case PcpResult::unsupp_option: return "unsupported option";
    case PcpResult::malformed_option: return "malformed option";
    case PcpResult::network_failure: return "network failure";
    case PcpResult::no_resources: return "no resources";
    case PcpResult::unsupp_protocol: return "unsupported protocol";
    case PcpResult::user_ex_quota: return "user exceeded quota";
    case PcpResult::cannot_provide_external: return "cannot provide external address/port";
    case PcpResult::address_mismatch: return "address mismatch (another NAT between client and server)";
    case PcpResult::excessive_remote_peers: return "excessive remote peers";
  }
  return "unknown result code";
}

namespace {

void write_pcp_header(ByteWriter& w, std::uint8_t opcode, std::uint32_t lifetime, const Ipv4& client) {
  const Ipv6 mapped = ipv4_mapped(client);
  w.u8(kPcpVersion).u8(opcode).be16(0).be32(lifetime).bytes(mapped);
}

std::uint8_t ip_proto(MappingProtocol p) { return p == MappingProtocol::tcp ? kIpProtoTcp : kIpProtoUdp; }

// RFC 6887 §8.3: drop answers shorter than 4, longer than 1100 or not a multiple of 4.
Parsed<PcpResponseHeader> parse_pcp_header(ByteReader& r, std::size_t total, std::uint8_t want_opcode) {
  auto version = r.u8();
  auto opcode = r.u8();
  if (!version) return ParseError::truncated;
  if (*version != kPcpVersion) return ParseError::wrong_version;
  if (!opcode) return ParseError::truncated;
  if ((*opcode & kPcpResponseBit) == 0) return ParseError::not_a_response;
  if ((*opcode & 0x7f) != want_opcode) return ParseError::wrong_opcode;
  if (total > kPcpMaxMessageSize) return ParseError::too_long;
  if (total % 4 != 0) return ParseError::malformed;
  r.skip(1);  // reserved
  auto result = r.u8();
  auto lifetime = r.be32();
  auto epoch = r.be32();
  if (!result || !lifetime || !epoch || !r.skip(12)) return ParseError::truncated;
  return PcpResponseHeader{want_opcode, *result, *lifetime, *epoch};
}

}  // namespace

Bytes pcp_announce_request(const Ipv4& client_address) {
  ByteWriter w;
  write_pcp_header(w, kPcpOpAnnounce, 0, client_address);
  return w.take();
}

Parsed<PcpResponseHeader> parse_pcp_announce_response(ByteView reply) {
  ByteReader r(reply);
  return parse_pcp_header(r, reply.size(), kPcpOpAnnounce);
}

Bytes pcp_map_request(const PcpMapRequest& q) {
  ByteWriter w;
  write_pcp_header(w, kPcpOpMap, q.lifetime_s, q.client_address);
  const Ipv6 suggested = ipv4_mapped(q.suggested_external_address.value_or(Ipv4{0, 0, 0, 0}));
  w.bytes(q.nonce)
      .u8(ip_proto(q.protocol))
      .zeros(3)
      .be16(q.internal_port)
      .be16(q.suggested_external_port)
      .bytes(suggested);
  return w.take();
}

Bytes pcp_delete_request(const PcpMapRequest& original) {
  PcpMapRequest q = original;
  q.lifetime_s = 0;
  return pcp_map_request(q);
}

Parsed<PcpMapResponse> parse_pcp_map_response(ByteView reply, const PcpMapRequest& request) {
  ByteReader r(reply);
  auto header = parse_pcp_header(r, reply.size(), kPcpOpMap);
  if (!header) return header.error();
  PcpMapResponse out;
  out.header = *header;
  if (r.remaining() < kPcpMapDataSize) {
    // Error answers may stop after the header (e.g. UNSUPP_VERSION); success may not.
    if (out.header.result_code != 0 && r.remaining() == 0) return out;
    return ParseError::truncated;
  }
  auto nonce = r.take(kPcpNonceSize);
  auto proto = r.u8();
  r.skip(3);
  auto internal = r.be16();
  auto external = r.be16();
  auto address = r.take(16);
  if (!nonce || !proto || !internal || !external || !address) return ParseError::truncated;
  if (!std::equal(nonce->begin(), nonce->end(), request.nonce.begin())) return ParseError::nonce_mismatch;
  if (*proto != ip_proto(request.protocol) || *internal != request.internal_port) return ParseError::mismatch;
  out.internal_port = *internal;
  out.external_port = *external;
  out.external_address = read_ipv6(*address);
  return out;
}

// ---------------------------------------------------------------- text helpers

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// Next line (without CR/LF), advancing `rest`; nullopt when rest is empty.
std::optional<std::string_view> next_line(std::string_view& rest) {
  if (rest.empty()) return std::nullopt;
  std::size_t nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string xml_unescape(std::string_view s) {
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    bool replaced = false;
    if (s[i] == '&') {
      for (const auto& [entity, ch] : kEntities) {
        if (s.substr(i, entity.size()) == entity) {
          out += ch;
          i += entity.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += s[i++];
  }
  return out;
}

// An element found by local name: where its content starts and ends.
struct Element {
  std::size_t content_begin = 0;
  std::size_t content_end = 0;
  std::size_t after = 0;  // first position after the closing tag
};

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.' || c == ':';
}

// Finds the next <[prefix:]name ...> ... </[prefix:]name> at or after `from`
// (local name compared case-sensitively, as XML is). Self-closing elements
// have empty content.
std::optional<Element> find_element(std::string_view xml, std::string_view name, std::size_t from) {
  std::size_t pos = from;
  while (pos < xml.size()) {
    std::size_t lt = xml.find('<', pos);
    if (lt == std::string_view::npos) return std::nullopt;
    std::size_t n = lt + 1;
    std::size_t name_end = n;
    while (name_end < xml.size() && is_name_char(xml[name_end])) ++name_end;
    std::string_view tag = xml.substr(n, name_end - n);
    std::size_t colon = tag.rfind(':');
    std::string_view local = colon == std::string_view::npos ? tag : tag.substr(colon + 1);
    if (local != name || tag.empty()) {
      pos = lt + 1;
      continue;
    }
    std::size_t gt = xml.find('>', name_end);
    if (gt == std::string_view::npos) return std::nullopt;
    if (gt > lt && xml[gt - 1] == '/') return Element{gt + 1, gt + 1, gt + 1};
    std::string close = "</" + std::string(tag);
    std::size_t end = xml.find(close, gt + 1);
    while (end != std::string_view::npos) {
      std::size_t after_name = end + close.size();
      std::size_t k = after_name;
      while (k < xml.size() && (xml[k] == ' ' || xml[k] == '\t' || xml[k] == '\r' || xml[k] == '\n')) ++k;
      if (k < xml.size() && xml[k] == '>') return Element{gt + 1, end, k + 1};
      end = xml.find(close, after_name);
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> element_text(std::string_view xml, std::string_view name, std::size_t from = 0,
                                        std::size_t until = std::string_view::npos) {
  std::string_view scope = xml.substr(0, std::min(until, xml.size()));
  auto e = find_element(scope, name, from);
  if (!e) return std::nullopt;
  return xml_unescape(trim(scope.substr(e->content_begin, e->content_end - e->content_begin)));
}

}  // namespace

// ---------------------------------------------------------------- SSDP

std::string ssdp_msearch_request() {
  std::string s;
  s += "M-SEARCH * HTTP/1.1\r\n";
  s += "HOST: 239.255.255.250:1900\r\n";
  s += "MAN: \"ssdp:discover\"\r\n";
  s += "MX: 1\r\n";
  s += "ST: ";
  s += kIgdDeviceType;
  s += "\r\n\r\n";
  return s;
}

Parsed<SsdpResponse> parse_ssdp_response(std::string_view datagram) {
  if (datagram.size() > kMaxSsdpResponseSize) return ParseError::too_long;
  std::string_view rest = datagram;
  auto status = next_line(rest);
  if (!status) return ParseError::truncated;
  if (!istarts_with(*status, "HTTP/1.")) return ParseError::malformed;
  std::string_view after_version = status->substr(std::min<std::size_t>(status->size(), 8));
  if (after_version.empty() || after_version.front() != ' ') return ParseError::malformed;
  after_version = trim(after_version);
  if (after_version.substr(0, 3) != "200" || (after_version.size() > 3 && after_version[3] != ' '))
    return ParseError::http_status;
  SsdpResponse out;
  bool have_location = false;
  while (auto line = next_line(rest)) {
    if (line->empty()) break;
    std::size_t colon = line->find(':');
    if (colon == std::string_view::npos) return ParseError::malformed;
    std::string_view name = trim(line->substr(0, colon));
    std::string_view value = trim(line->substr(colon + 1));
    if (has_control_chars(value)) return ParseError::malformed;
    if (iequals(name, "LOCATION")) {
      out.location = std::string(value);
      have_location = true;
    } else if (iequals(name, "ST")) {
      out.st = std::string(value);
    } else if (iequals(name, "SERVER")) {
      out.server = std::string(value);
    } else if (iequals(name, "USN")) {
      out.usn = std::string(value);
    }
  }
  if (!have_location) return ParseError::not_found;
  if (!parse_http_url(out.location)) return ParseError::malformed;
  return out;
}

std::optional<HttpUrl> parse_http_url(std::string_view url) {
  if (!istarts_with(url, "http://") || has_control_chars(url) || url.find(' ') != std::string_view::npos)
    return std::nullopt;
  std::string_view rest = url.substr(7);
  std::size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!path.empty() && path.front() != '/') path.insert(path.begin(), '/');
  if (auto hash = path.find('#'); hash != std::string::npos) path.erase(hash);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;  // no userinfo
  HttpUrl out;
  out.path = path.empty() ? "/" : path;
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else {
    std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  out.host = std::string(host);
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      return std::nullopt;
    out.port = static_cast<std::uint16_t>(value);
  }
  return out;
}

std::optional<std::string> resolve_url(std::string_view base, std::string_view reference) {
  reference = trim(reference);
  if (istarts_with(reference, "http://")) {
    if (!parse_http_url(reference)) return std::nullopt;
    return std::string(reference);
  }
  if (reference.find("://") != std::string_view::npos || has_control_chars(reference)) return std::nullopt;
  if (reference.substr(0, 2) == "//") return std::nullopt;  // network-path references: not from an IGD
  auto b = parse_http_url(base);
  if (!b) return std::nullopt;
  // Scheme and authority of the base, exactly as written.
  std::string_view after_scheme = base.substr(7);
  std::size_t slash = after_scheme.find_first_of("/?#");
  std::string origin = "http://" + std::string(after_scheme.substr(0, slash));
  std::string out;
  if (!reference.empty() && reference.front() == '/') {
    out = origin + std::string(reference);
  } else {
    std::string dir = b->path.substr(0, b->path.find('?'));
    dir = dir.substr(0, dir.rfind('/') + 1);
    out = origin + dir + std::string(reference);
  }
  // Whatever we hand out must itself be a URL we accept (no spaces, no "//x" authority tricks).
  if (!parse_http_url(out)) return std::nullopt;
  return out;
}

// ---------------------------------------------------------------- device description

Parsed<std::vector<IgdService>> parse_igd_description(std::string_view xml, std::string_view location) {
  if (xml.size() > kMaxXmlSize) return ParseError::too_long;
  if (!parse_http_url(location)) return ParseError::malformed;
  std::string base(location);
  if (auto url_base = element_text(xml, "URLBase")) {
    if (!url_base->empty() && parse_http_url(*url_base)) base = *url_base;
  }
  static constexpr std::string_view kPreferred[] = {
      "urn:schemas-upnp-org:service:WANIPConnection:2",
      "urn:schemas-upnp-org:service:WANIPConnection:1",
      "urn:schemas-upnp-org:service:WANPPPConnection:1",
  };
  std::vector<std::pair<std::size_t, IgdService>> found;
  std::size_t pos = 0;
  while (auto service = find_element(xml, "service", pos)) {
    pos = service->after;
    auto type = element_text(xml, "serviceType", service->content_begin, service->content_end);
    auto control = element_text(xml, "controlURL", service->content_begin, service->content_end);
    if (!type || !control || control->empty()) continue;
    auto rank = std::find(std::begin(kPreferred), std::end(kPreferred), *type);
    if (rank == std::end(kPreferred)) continue;
    auto url = resolve_url(base, *control);
    if (!url) continue;
    found.emplace_back(static_cast<std::size_t>(rank - std::begin(kPreferred)), IgdService{*type, *url});
  }
  if (found.empty()) return ParseError::not_found;
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<IgdService> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

// ---------------------------------------------------------------- SOAP

namespace {

SoapRequest soap_request(std::string_view service_type, std::string_view action,
                         const std::vector<std::pair<std::string_view, std::string>>& args) {
  SoapRequest q;
  q.service_type = std::string(service_type);
  q.action = std::string(action);
  q.soap_action = "\"" + q.service_type + "#" + q.action + "\"";
  std::string& b = q.body;
  b += "<?xml version=\"1.0\"?>\r\n";
  b += "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
       "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">";
  b += "<s:Body><u:" + q.action + " xmlns:u=\"" + xml_escape(service_type) + "\">";
  for (const auto& [name, value] : args) {
    b += "<";
    b += name;
    b += ">" + xml_escape(value) + "</";
    b += name;
    b += ">";
  }
  b += "</u:" + q.action + "></s:Body></s:Envelope>\r\n";
  return q;
}

}  // namespace

SoapRequest soap_get_external_ip_address(std::string_view service_type) {
  return soap_request(service_type, "GetExternalIPAddress", {});
}

SoapRequest soap_add_port_mapping(std::string_view service_type, const UpnpPortMapping& m) {
  // Argument order as in the WANIPConnection service description; some IGDs insist.
  return soap_request(service_type, "AddPortMapping",
                      {{"NewRemoteHost", ""},
                       {"NewExternalPort", std::to_string(m.external_port)},
                       {"NewProtocol", std::string(to_string(m.protocol))},
                       {"NewInternalPort", std::to_string(m.internal_port)},
                       {"NewInternalClient", m.internal_client},
                       {"NewEnabled", "1"},
                       {"NewPortMappingDescription", m.description},
                       {"NewLeaseDuration", std::to_string(m.lease_duration_s)}});
}

SoapRequest soap_delete_port_mapping(std::string_view service_type, std::uint16_t external_port,
                                     MappingProtocol protocol) {
  return soap_request(service_type, "DeletePortMapping",
                      {{"NewRemoteHost", ""},
                       {"NewExternalPort", std::to_string(external_port)},
                       {"NewProtocol", std::string(to_string(protocol))}});
}

std::string build_soap_http_request(const HttpUrl& url, const SoapRequest& q) {
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  std::string s;
  s += "POST " + url.path + " HTTP/1.1\r\n";
  s += "Host: " + host + ":" + std::to_string(url.port) + "\r\n";
  s += "Content-Type: text/xml; charset=\"utf-8\"\r\n";
  s += "SOAPAction: " + q.soap_action + "\r\n";
  s += "Content-Length: " + std::to_string(q.body.size()) + "\r\n";
  s += "Connection: close\r\n\r\n";
  s += q.body;
  return s;
}

SoapStatus parse_soap_status(std::string_view body, std::string_view action) {
  SoapStatus out;
  if (body.size() > kMaxXmlSize) {
    out.error_description = "answer too long";
    return out;
  }
  if (find_element(body, "Fault", 0)) {
    if (auto code = element_text(body, "errorCode")) {
      int value = 0;
      auto [end, ec] = std::from_chars(code->data(), code->data() + code->size(), value);
      if (ec == std::errc{} && end == code->data() + code->size()) out.upnp_error_code = value;
    }
    if (auto text = element_text(body, "errorDescription")) out.error_description = *text;
    else if (auto fault = element_text(body, "faultstring")) out.error_description = *fault;
    else out.error_description = "SOAP fault";
    return out;
  }
  if (!action.empty() && find_element(body, std::string(action) + "Response", 0)) {
    out.ok = true;
    return out;
  }
  out.error_description = "no " + std::string(action) + "Response in the answer";
  return out;
}

Parsed<Ipv4> parse_get_external_ip_address_response(std::string_view body) {
  if (body.size() > kMaxXmlSize) return ParseError::too_long;
  auto status = parse_soap_status(body, "GetExternalIPAddress");
  if (!status.ok) return ParseError::not_found;
  auto text = element_text(body, "NewExternalIPAddress");
  if (!text) return ParseError::not_found;
  auto address = parse_ipv4(*text);
  if (!address) return ParseError::malformed;
  return *address;
}

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
