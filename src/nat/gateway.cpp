#include "src/nat/gateway.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "src/nat/natpmp.h"
#include "src/nat/pcp.h"
#include "src/nat/upnp.h"

namespace vpncheck::nat {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::ip::tcp;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxHttpResponse = kMaxXmlSize + 4096;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

asio::ip::address_v4 to_asio(const Ipv4& a) { return asio::ip::address_v4(a); }
Ipv4 from_asio(const asio::ip::address_v4& a) { return a.to_bytes(); }

// One UDP request/answer with the gateway, retransmitted (RFC 6886 §3.1 starts at 250 ms).
asio::awaitable<std::optional<probes::Bytes>> udp_ask(udp::socket& socket, const udp::endpoint& to,
                                                      const probes::Bytes& request, Clock::time_point deadline,
                                                      const std::function<bool(probes::ByteView)>& accept) {
  std::array<std::uint8_t, 1100> buffer{};
  asio::steady_timer timer(socket.get_executor());
  auto wait = std::chrono::milliseconds(250);
  while (Clock::now() < deadline) {
    boost::system::error_code ec;
    socket.send_to(asio::buffer(request), to, 0, ec);
    const auto until = std::min(deadline, Clock::now() + wait);
    wait *= 2;
    while (Clock::now() < until) {
      timer.expires_at(until);
      udp::endpoint from;
      auto r = co_await (socket.async_receive_from(asio::buffer(buffer), from, kAwait) || timer.async_wait(kAwait));
      if (r.index() == 1) break;
      auto [rec, n] = std::get<0>(r);
      if (rec || from != to) continue;
      auto view = probes::ByteView(buffer).first(n);
      if (accept(view)) co_return probes::Bytes(view.begin(), view.end());
    }
  }
  co_return std::nullopt;
}

bool open_udp(udp::socket& socket) {
  boost::system::error_code ec;
  socket.open(udp::v4(), ec);
  if (!ec) socket.bind(udp::endpoint(udp::v4(), 0), ec);
  return !ec;
}

asio::awaitable<GatewayAnswer> ask_natpmp(Ipv4 gateway, Clock::time_point deadline) {
  GatewayAnswer a;
  udp::socket socket(co_await asio::this_coro::executor);
  if (!open_udp(socket)) co_return a;
  const udp::endpoint to(to_asio(gateway), kPortMappingServerPort);
  auto reply = co_await udp_ask(socket, to, natpmp_external_address_request(), deadline, [](probes::ByteView v) {
    auto p = parse_natpmp_external_address_response(v);
    return p.ok() || p.error() != ParseError::truncated;
  });
  if (!reply) {
    a.detail = "no answer";
    co_return a;
  }
  auto parsed = parse_natpmp_external_address_response(*reply);
  if (!parsed) {
    // A PCP-only server answers version 0 with "unsupported version": not NAT-PMP.
    a.detail = "not a NAT-PMP answer (" + std::string(to_string(parsed.error())) + ")";
    co_return a;
  }
  a.answered = true;
  a.external_address = parsed->external_address;
  a.detail = std::string(describe(static_cast<NatPmpResult>(parsed->result_code)));
  co_return a;
}

asio::awaitable<GatewayAnswer> ask_pcp(Ipv4 gateway, Clock::time_point deadline) {
  GatewayAnswer a;
  udp::socket socket(co_await asio::this_coro::executor);
  if (!open_udp(socket)) co_return a;
  const udp::endpoint to(to_asio(gateway), kPortMappingServerPort);
  // PCP carries our own address: connect first so the kernel picks it.
  boost::system::error_code ec;
  udp::socket probe(socket.get_executor());
  probe.open(udp::v4(), ec);
  if (!ec) probe.connect(to, ec);
  Ipv4 local{};
  if (!ec) local = from_asio(probe.local_endpoint(ec).address().to_v4());
  auto reply = co_await udp_ask(socket, to, pcp_announce_request(local), deadline, [](probes::ByteView v) {
    auto p = parse_pcp_announce_response(v);
    return p.ok() || p.error() == ParseError::wrong_version;
  });
  if (!reply) {
    a.detail = "no answer";
    co_return a;
  }
  auto parsed = parse_pcp_announce_response(*reply);
  if (!parsed) {
    a.detail = "answered as NAT-PMP only (" + std::string(to_string(parsed.error())) + ")";
    co_return a;
  }
  a.answered = true;
  a.detail = std::string(describe(static_cast<PcpResult>(parsed->result_code)));
  co_return a;
}

// A whole HTTP exchange with the gateway (Connection: close), bounded by `deadline`.
asio::awaitable<std::optional<HttpResponse>> http_exchange(Ipv4 gateway, const HttpUrl& url, const std::string& request,
                                                           Clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  asio::steady_timer timer(executor, deadline);
  auto connected = co_await (socket.async_connect(tcp::endpoint(to_asio(gateway), url.port), kAwait) ||
                             timer.async_wait(kAwait));
  if (connected.index() == 1 || std::get<0>(std::get<0>(connected))) co_return std::nullopt;
  auto written = co_await (asio::async_write(socket, asio::buffer(request), kAwait) || timer.async_wait(kAwait));
  if (written.index() == 1 || std::get<0>(std::get<0>(written))) co_return std::nullopt;
  std::string text;
  std::array<char, 4096> buffer{};
  while (text.size() < kMaxHttpResponse) {
    auto r = co_await (socket.async_read_some(asio::buffer(buffer), kAwait) || timer.async_wait(kAwait));
    if (r.index() == 1) co_return std::nullopt;
    auto [ec, n] = std::get<0>(r);
    text.append(buffer.data(), n);
    if (ec) break;  // EOF: the whole answer is there
  }
  co_return parse_http_response(text);
}

// SSDP discovery ends at `discovery`; the description and SOAP requests to a
// gateway that answered may go on until `deadline`.
asio::awaitable<GatewayAnswer> ask_upnp(Ipv4 gateway, Clock::time_point discovery, Clock::time_point deadline,
                                        std::string& server) {
  GatewayAnswer a;
  udp::socket socket(co_await asio::this_coro::executor);
  if (!open_udp(socket)) co_return a;
  boost::system::error_code ec;
  socket.set_option(asio::ip::multicast::hops(2), ec);  // UPnP DA: TTL 2; routers do not forward it anyway
  const udp::endpoint group(asio::ip::make_address_v4(std::string(kSsdpMulticastAddress)), kSsdpPort);
  const std::string msearch = ssdp_msearch_request();
  const probes::Bytes request(msearch.begin(), msearch.end());
  // Only the gateway's own answer counts: anything else on the LAN is ignored.
  std::array<std::uint8_t, kMaxSsdpResponseSize> buffer{};
  asio::steady_timer timer(socket.get_executor());
  std::optional<SsdpResponse> found;
  auto resend_at = Clock::now();
  auto wait = std::chrono::milliseconds(300);
  while (!found && Clock::now() < discovery) {
    if (Clock::now() >= resend_at) {
      socket.send_to(asio::buffer(request), group, 0, ec);
      resend_at = Clock::now() + wait;
      wait *= 2;
    }
    timer.expires_at(std::min(discovery, resend_at));
    udp::endpoint from;
    auto r = co_await (socket.async_receive_from(asio::buffer(buffer), from, kAwait) || timer.async_wait(kAwait));
    if (r.index() == 1) continue;
    auto [rec, n] = std::get<0>(r);
    if (rec || !from.address().is_v4() || from.address().to_v4() != to_asio(gateway)) continue;
    auto parsed = parse_ssdp_response(std::string_view(reinterpret_cast<const char*>(buffer.data()), n));
    if (parsed) found = *parsed;
  }
  if (!found) {
    a.detail = "no SSDP answer from the gateway";
    co_return a;
  }
  server = found->server;
  a.answered = true;
  auto location = parse_http_url(found->location);
  if (!location || location->host != format_ipv4(gateway)) {
    a.detail = "device description is not on the gateway (" + found->location + "); not fetched";
    co_return a;
  }
  std::string get = "GET " + location->path + " HTTP/1.1\r\nHost: " + location->host + ":" +
                    std::to_string(location->port) + "\r\nConnection: close\r\n\r\n";
  auto description = co_await http_exchange(gateway, *location, get, deadline);
  if (!description || description->status != 200) {
    a.detail = "device description could not be read";
    co_return a;
  }
  auto services = parse_igd_description(description->body, found->location);
  if (!services || services->empty()) {
    a.detail = "no WAN connection service in the device description";
    co_return a;
  }
  const auto& service = services->front();
  auto control = parse_http_url(service.control_url);
  if (!control || control->host != format_ipv4(gateway)) {
    a.detail = "control URL is not on the gateway; not used";
    co_return a;
  }
  auto soap = co_await http_exchange(gateway, *control,
                                     build_soap_http_request(*control, soap_get_external_ip_address(service.service_type)),
                                     deadline);
  if (!soap) {
    a.detail = "GetExternalIPAddress got no answer";
    co_return a;
  }
  auto external = parse_get_external_ip_address_response(soap->body);
  if (!external) {
    a.detail = "GetExternalIPAddress failed (" + std::string(to_string(external.error())) + ")";
    co_return a;
  }
  a.external_address = *external;
  a.detail = service.service_type;
  co_return a;
}

}  // namespace

std::optional<Ipv4> parse_default_gateway(std::string_view text) {
  std::optional<Ipv4> best;
  unsigned long best_metric = ~0ul;
  std::size_t line_start = 0;
  bool header = true;
  while (line_start < text.size()) {
    auto end = text.find('\n', line_start);
    auto line = text.substr(line_start, end == std::string_view::npos ? std::string_view::npos : end - line_start);
    line_start = end == std::string_view::npos ? text.size() : end + 1;
    if (header) {
      header = false;
      continue;
    }
    std::vector<std::string_view> fields;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      auto j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
      if (j > i) fields.push_back(line.substr(i, j - i));
      i = j;
    }
    if (fields.size() < 8) continue;
    auto hex = [](std::string_view f, unsigned long& out) {
      auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), out, 16);
      return ec == std::errc{} && p == f.data() + f.size();
    };
    unsigned long destination = 0, gateway = 0, flags = 0, metric = 0, mask = 0;
    if (!hex(fields[1], destination) || !hex(fields[2], gateway) || !hex(fields[3], flags) || !hex(fields[7], mask))
      continue;
    auto [mp, mec] = std::from_chars(fields[6].data(), fields[6].data() + fields[6].size(), metric);
    if (mec != std::errc{} || mp != fields[6].data() + fields[6].size()) continue;
    constexpr unsigned long kRtfUp = 0x1, kRtfGateway = 0x2;
    if (destination != 0 || mask != 0 || (flags & kRtfUp) == 0 || (flags & kRtfGateway) == 0 || gateway == 0) continue;
    if (gateway > 0xffffffffUL || metric >= best_metric) continue;
    const auto value = static_cast<std::uint32_t>(gateway);
    Ipv4 a{};
    std::memcpy(a.data(), &value, 4);  // the kernel printed the in-memory value: host order
    best = a;
    best_metric = metric;
  }
  return best;
}

std::optional<HttpResponse> parse_http_response(std::string_view text) {
  auto header_end = text.find("\r\n\r\n");
  std::size_t body_start = header_end == std::string_view::npos ? std::string_view::npos : header_end + 4;
  if (header_end == std::string_view::npos) {
    header_end = text.find("\n\n");
    if (header_end == std::string_view::npos) return std::nullopt;
    body_start = header_end + 2;
  }
  std::string_view head = text.substr(0, header_end);
  auto status_end = head.find('\n');
  std::string_view status_line = trim(head.substr(0, status_end));
  if (!status_line.starts_with("HTTP/1.")) return std::nullopt;
  auto sp = status_line.find(' ');
  if (sp == std::string_view::npos || status_line.size() < sp + 4) return std::nullopt;
  HttpResponse r;
  auto [p, ec] = std::from_chars(status_line.data() + sp + 1, status_line.data() + sp + 4, r.status);
  if (ec != std::errc{} || p != status_line.data() + sp + 4) return std::nullopt;
  bool chunked = false;
  std::optional<std::size_t> length;
  std::size_t pos = status_end == std::string_view::npos ? head.size() : status_end + 1;
  while (pos < head.size()) {
    auto e = head.find('\n', pos);
    auto line = trim(head.substr(pos, e == std::string_view::npos ? std::string_view::npos : e - pos));
    pos = e == std::string_view::npos ? head.size() : e + 1;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto name = lower(trim(line.substr(0, colon)));
    auto value = trim(line.substr(colon + 1));
    if (name == "transfer-encoding" && lower(value).find("chunked") != std::string::npos) chunked = true;
    if (name == "content-length") {
      std::size_t n = 0;
      auto [lp, lec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (lec != std::errc{} || lp != value.data() + value.size()) return std::nullopt;
      length = n;
    }
  }
  std::string_view body = text.substr(body_start);
  if (chunked) {
    std::string out;
    while (true) {
      auto e = body.find("\r\n");
      if (e == std::string_view::npos) return std::nullopt;
      auto size_text = body.substr(0, e);
      if (auto semi = size_text.find(';'); semi != std::string_view::npos) size_text = size_text.substr(0, semi);
      size_text = trim(size_text);
      std::size_t n = 0;
      auto [cp, cec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), n, 16);
      if (size_text.empty() || cec != std::errc{} || cp != size_text.data() + size_text.size()) return std::nullopt;
      body.remove_prefix(e + 2);
      if (n == 0) break;
      if (body.size() < n + 2 || body.substr(n, 2) != "\r\n") return std::nullopt;
      out.append(body.substr(0, n));
      body.remove_prefix(n + 2);
    }
    r.body = std::move(out);
    return r;
  }
  if (length) {
    if (body.size() < *length) return std::nullopt;
    body = body.substr(0, *length);
  }
  r.body = std::string(body);
  return r;
}

asio::awaitable<GatewayFacts> query_gateway_at(Ipv4 gateway, std::chrono::milliseconds timeout) {
  GatewayFacts facts;
  facts.gateway = gateway;
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  const auto discovery = start + std::min(timeout, kGatewayDiscoveryWindow);
  std::string server;
  auto [natpmp, pcp, upnp] = co_await (ask_natpmp(gateway, discovery) && ask_pcp(gateway, discovery) &&
                                       ask_upnp(gateway, discovery, deadline, server));
  facts.natpmp = std::move(natpmp);
  facts.pcp = std::move(pcp);
  facts.upnp = std::move(upnp);
  facts.upnp_server = server;
  co_return facts;
}

asio::awaitable<GatewayFacts> query_gateway(std::chrono::milliseconds timeout, std::string route_file) {
  std::ifstream in(route_file);
  std::stringstream text;
  text << in.rdbuf();
  auto gateway = parse_default_gateway(text.str());
  if (!gateway) co_return GatewayFacts{};
  co_return co_await query_gateway_at(*gateway, timeout);
}

}  // namespace vpncheck::nat
