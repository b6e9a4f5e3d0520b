#include "src/nat/upnp.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace vpncheck::nat {

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

}  // namespace vpncheck::nat
