// libFuzzer target: every parser in src/nat that reads what a gateway (or
// anything on the LAN pretending to be one) sends — NAT-PMP and PCP answers,
// SSDP answers, device descriptions, SOAP answers, URLs and addresses — plus
// the behaviour functions fed with input-derived measurements.
// Invariants: nothing crashes or throws; whatever a parser accepts satisfies
// the layout rules it promises (sizes, nonce, canonical addresses, parseable
// URLs); classifications are self-consistent; text is one line.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "probes/nat_probe.h"
#include "src/nat/behaviour.h"
#include "src/nat/natpmp.h"
#include "src/nat/pcp.h"
#include "src/nat/port_mapping.h"
#include "src/nat/upnp.h"

namespace {

using namespace vpncheck::nat;
namespace natprobe = vpncheck::probes::natprobe;

void check_binary(ByteView input) {
  // The NAT test service's messages (what reaches the reflector, and what a
  // network hands the client): whatever parses is canonical, i.e. rebuilds
  // to exactly the same bytes, and a reply plan never outweighs the request.
  if (auto q = natprobe::parse_request(input)) {
    FUZZ_CHECK(natprobe::build_request(*q, input.size()) == vpncheck::probes::Bytes(input.begin(), input.end()));
    // No amplification: all the planned replies together are never larger than the request.
    std::size_t planned = 0;
    for (const auto& p : natprobe::plan_replies(*q, input.size(), true, true, true)) planned += p.size;
    FUZZ_CHECK(planned <= input.size());
    // An unvalidated source: one reply at most, no larger than the request.
    const auto single = natprobe::plan_replies(*q, input.size(), true, true, false);
    FUZZ_CHECK(single.size() <= 1 && (single.empty() || single.front().size <= input.size()));
  }
  if (auto r = natprobe::parse_reply(input))
    FUZZ_CHECK(natprobe::build_reply(*r) == vpncheck::probes::Bytes(input.begin(), input.end()));
  if (auto r = parse_natpmp_external_address_response(input)) {
    FUZZ_CHECK(input.size() >= kNatPmpMinResponseSize);
    FUZZ_CHECK(r->external_address.has_value() == (r->result_code == 0));
  }
  const NatPmpMappingRequest pmp{MappingProtocol::udp, 51820, 51820, 7200};
  if (auto r = parse_natpmp_mapping_response(input, pmp)) {
    FUZZ_CHECK(input.size() >= kNatPmpMinResponseSize);
    if (r->result_code == 0) {
      FUZZ_CHECK(input.size() >= kNatPmpMappingResponseSize);
      FUZZ_CHECK(r->internal_port == pmp.internal_port);
    }
  }
  if (auto r = parse_pcp_announce_response(input)) {
    FUZZ_CHECK(input.size() >= kPcpHeaderSize && input.size() <= kPcpMaxMessageSize && input.size() % 4 == 0);
  }
  PcpMapRequest pcp;
  for (std::size_t i = 0; i < pcp.nonce.size(); ++i) pcp.nonce[i] = static_cast<std::uint8_t>(i);  // as the seeds
  pcp.client_address = {192, 168, 1, 10};
  pcp.internal_port = 51820;
  if (auto r = parse_pcp_map_response(input, pcp)) {
    FUZZ_CHECK(input.size() >= kPcpHeaderSize && input.size() <= kPcpMaxMessageSize && input.size() % 4 == 0);
    if (r->header.result_code == 0) {
      FUZZ_CHECK(input.size() >= kPcpMapMessageSize);
      FUZZ_CHECK(std::equal(pcp.nonce.begin(), pcp.nonce.end(), input.begin() + kPcpHeaderSize));
      FUZZ_CHECK(r->internal_port == pcp.internal_port);
    }
    (void)format_ip(r->external_address);
  }
}

void check_text(std::string_view text, std::string_view first, std::string_view second) {
  if (auto a = parse_ipv4(text)) FUZZ_CHECK(format_ipv4(*a) == text);  // strict: only canonical text parses
  (void)is_cgnat_address(text);
  (void)is_private_address(text);
  if (auto u = parse_http_url(text)) FUZZ_CHECK(!u->host.empty() && !u->path.empty() && u->path[0] == '/');
  if (auto resolved = resolve_url(first, second)) FUZZ_CHECK(parse_http_url(*resolved).has_value());
  if (auto r = parse_ssdp_response(text)) FUZZ_CHECK(parse_http_url(r->location).has_value());
  for (std::string_view location : {std::string_view("http://192.168.1.1:5000/rootDesc.xml"), first}) {
    if (auto r = parse_igd_description(text, location)) {
      FUZZ_CHECK(!r->empty());
      for (const auto& s : *r) FUZZ_CHECK(parse_http_url(s.control_url).has_value());
    }
  }
  (void)parse_get_external_ip_address_response(text);
  auto status = parse_soap_status(text, "AddPortMapping");
  FUZZ_CHECK(status.ok || !status.error_description.empty());
  (void)parse_soap_status(text, "");
}

std::optional<Endpoint> endpoint(std::uint8_t b) {
  if (b % 4 == 0) return std::nullopt;
  return Endpoint{b & 0x80 ? "203.0.113.6" : "203.0.113.5", static_cast<std::uint16_t>(40000 + (b & 0x03))};
}

std::optional<bool> tri(std::uint8_t b) {
  if (b % 3 == 0) return std::nullopt;
  return b % 3 == 1;
}

void check_classification(const Classification& c) {
  if (c.behaviour) FUZZ_CHECK(c.possible.size() == 1 && c.possible[0] == *c.behaviour);
  FUZZ_CHECK(c.possible.size() <= 3);
  FUZZ_CHECK(!c.explanation.empty());
}

void check_behaviour(ByteView in) {
  auto at = [&in](std::size_t i) -> std::uint8_t { return i < in.size() ? in[i] : 0; };
  check_classification(classify_mapping({endpoint(at(0)), endpoint(at(1)), endpoint(at(2))}));
  check_classification(classify_filtering({tri(at(3)), tri(at(4)), tri(at(5))}));

  std::vector<LifetimeTrial> trials;
  std::vector<PortSample> ports;
  for (std::size_t i = 6; i + 1 < in.size(); i += 2) {
    trials.push_back({static_cast<int>(static_cast<std::int8_t>(in[i])), tri(in[i + 1])});
    ports.push_back({in[i], in[i + 1]});
  }
  (void)port_preservation(ports);
  auto e = estimate_lifetime(trials);
  if (e.longest_working_s && e.shortest_failed_s && e.consistent) FUZZ_CHECK(*e.longest_working_s < *e.shortest_failed_s);
  if (e.reliable_s) FUZZ_CHECK(e.longest_working_s && *e.reliable_s <= *e.longest_working_s);
  if (auto k = keepalive_advice(e)) {
    if (k->basis_s >= 2) FUZZ_CHECK(k->wireguard_persistent_keepalive_s < k->basis_s);
    FUZZ_CHECK(k->wireguard_persistent_keepalive_s >= 1 && k->openvpn_ping_s >= 1 && k->ipsec_keepalive_s >= 1);
  }
  PathFacts path;
  path.fragments_pass = tri(at(6));
  path.path_mtu = at(7) % 2 ? std::optional<int>(576 + at(8) * 40) : std::nullopt;
  NatFacts facts;
  facts.mapping = classify_mapping({endpoint(at(0)), endpoint(at(1)), endpoint(at(2))});
  facts.filtering = classify_filtering({tri(at(3)), tri(at(4)), tri(at(5))});
  facts.lifetime = e;
  facts.mtu = mtu_advice(path);
  facts.port_preservation = tri(at(9));
  facts.hairpinning = tri(at(10));
  Ipv4 gw{at(11), at(12), at(13), at(14)};
  Ipv4 seen{at(15), at(16), at(17), at(18)};
  facts.topology = classify_topology(at(19) % 2 ? std::optional<Ipv4>(gw) : std::nullopt,
                                     at(19) & 2 ? std::optional<Ipv4>(seen) : std::nullopt);
  for (const auto& line : nat_summary_lines(facts)) {
    FUZZ_CHECK(!line.empty());
    FUZZ_CHECK(line.find('\n') == std::string::npos);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Split point for (base, reference) pairs, taken from the input itself.
  const std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  check_binary(input);
  check_text(text, text.substr(0, cut), text.substr(cut));
  check_behaviour(input);
  return 0;
}
