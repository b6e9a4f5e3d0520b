#include "src/report/report.h"

#include <algorithm>

#include "probes/ip.h"
#include "probes/translation.h"

namespace vpncheck::client {

ExitCode exit_code_for(const Report& report) {
  if (report.error) return ExitCode::could_not_test;
  for (const auto& id : report.required) {
    auto it = std::find_if(report.protocols.begin(), report.protocols.end(),
                           [&](const ProtocolAssessment& a) { return a.id() == id; });
    if (it == report.protocols.end() || it->verdict != Verdict::pass) return ExitCode::requirement_failed;
  }
  return ExitCode::ok;
}

void summarise_client(Report& report, const std::optional<probes::Endpoint>& control_local,
                      const probes::Endpoint& control_seen_as) {
  if (control_local) report.local_address = control_local->address;
  report.public_address = control_seen_as.address;
  bool any_translated = control_local && control_local->address != control_seen_as.address;
  std::size_t udp_seen = 0;
  std::size_t udp_port_kept = 0;
  // NAT facts are about the control session's family (IPv6 normally has no NAT).
  const auto control_family =
      control_seen_as.address.find(':') == std::string::npos ? Family::ipv4 : Family::ipv6;
  for (const auto& protocol : report.protocols) {
    for (const auto& result : protocol.probes) {
      if (result.probe.family != control_family) continue;
      auto t = translate(result);
      if (!t) continue;
      any_translated = any_translated || t->address_translated;
      if (result.probe.variant.transport == probes::Transport::udp) {
        ++udp_seen;
        if (!t->port_translated) ++udp_port_kept;
      }
    }
  }
  if (control_local) report.behind_nat = any_translated;
  if (udp_seen > 0) report.nat.port_preservation = udp_port_kept == udp_seen;
}

void apply_nat_tests(NatSummary& nat, const nat::NatAssessment& tests) {
  nat.tests = tests;
  if (tests.mapping.behaviour) nat.mapping = std::string(nat::to_string(*tests.mapping.behaviour));
  if (tests.filtering.behaviour) nat.filtering = std::string(nat::to_string(*tests.filtering.behaviour));
  if (tests.port_preservation)
    nat.port_preservation = nat.port_preservation.value_or(true) && *tests.port_preservation;
}

void apply_gateway_facts(NatSummary& nat, const nat::GatewayFacts& facts,
                         const std::optional<std::string>& public_address) {
  nat.gateway = facts;
  if (!facts.gateway) return;  // no IPv4 default route: nothing was asked
  std::optional<nat::Ipv4> seen;
  if (public_address) seen = nat::parse_ipv4(*public_address);
  nat.topology = nat::classify_topology(facts.external_address(), seen);
  if (facts.any_answered() && !facts.external_address())
    nat.topology->explanation =
        "Your router speaks " + std::string(facts.upnp.answered ? "UPnP" : facts.natpmp.answered ? "NAT-PMP" : "PCP") +
        " but reports no public address of its own (routers do this when their uplink address is private or "
        "reserved): there may be another NAT in front of it; a second NAT cannot be confirmed from here.";
}

void apply_hops(NatSummary& nat, nat::HopFinding hops) { nat.hops = std::move(hops); }

namespace {

std::string_view test_words(std::string_view id) {
  if (id == nat::test_id::kMappingPrimary) return "mapping seen from the primary port";
  if (id == nat::test_id::kMappingOtherPort) return "mapping towards a second port";
  if (id == nat::test_id::kMappingOtherAddress) return "mapping towards a second address";
  if (id == nat::test_id::kFilteringPrimary) return "direct answer";
  if (id == nat::test_id::kFilteringOtherPort) return "unsolicited packet from a second port";
  if (id == nat::test_id::kFilteringOtherAddress) return "unsolicited packet from a second address";
  return id;
}

}  // namespace

std::string gateway_line(const nat::GatewayFacts& g) {
  std::vector<std::string> spoken;
  if (g.upnp.answered) spoken.emplace_back("UPnP IGD");
  if (g.natpmp.answered) spoken.emplace_back("NAT-PMP");
  if (g.pcp.answered) spoken.emplace_back("PCP");
  if (spoken.empty()) return "Your router (" + nat::format_ipv4(*g.gateway) + ") answers no port-mapping protocol (UPnP, NAT-PMP, PCP).";
  std::string l = "Your router (" + nat::format_ipv4(*g.gateway) + ") speaks ";
  for (std::size_t i = 0; i < spoken.size(); ++i) l += (i ? ", " : "") + spoken[i];
  if (auto e = g.external_address()) l += " and reports the external address " + nat::format_ipv4(*e);
  return l + "; vpncheck created no mapping.";
}

std::optional<std::string> captive_portal_line(const Report& report) {
  const auto& portal = report.captive_portal;
  if (!portal || !portal->detected.value_or(false)) return std::nullopt;
  std::string line = "Captive portal: " + portal->evidence;
  if (report.error) return line;
  line += portal->login_url ? " Its login page is " + *portal->login_url + "." : "";
  return line + " The verdicts below were measured through it; after logging in the network may let more through,"
                " so run vpncheck again then.";
}

std::vector<std::string> nat64_lines(const Report& report) {
  if (!report.nat64 || !report.nat64->detected) return {};
  const auto& n = *report.nat64;
  std::string fact = "This network is IPv6-only behind NAT64: the reflector was reached at " + report.reflector_address +
                     (n.reflector_ipv4 ? ", which a translator turned into its IPv4 address " + *n.reflector_ipv4
                                       : ", yet it saw this machine come from IPv4");
  if (n.prefix) {
    fact += ", under the prefix " + *n.prefix + " (" +
            (n.source == "dns64"                         ? "from DNS64's answer for ipv4only.arpa"
             : n.source == "reflector_address_and_dns64" ? "from the reflector's address; DNS64 agrees"
                                                         : "from the reflector's address") +
            ")";
  } else {
    fact += " (its prefix is unknown: the address embeds none of the reflector's IPv4 addresses and DNS64 gave none)";
  }
  std::vector<std::string> lines{fact + "."};
  lines.push_back(
      "VPN servers written as IPv4 literals (Endpoint = 198.51.100.7:51820, remote 198.51.100.7) cannot be reached "
      "from here: configure a host name, which DNS64 answers with a translated address, or the server's IPv6 address.");
  // The raw protocols tried through the translator: which it carried.
  std::vector<std::string> carried, lost;
  for (const auto& protocol : report.protocols) {
    for (const auto& r : protocol.probes) {
      if (r.probe.family != Family::ipv6 || r.probe.variant.transport != probes::Transport::ip || !was_tested(r))
        continue;
      const auto* raw = probes::ip::raw_protocol(r.probe.variant.port);
      if (!raw) continue;
      const std::string name = std::string(raw->display) + " (IP protocol " + std::to_string(raw->number) + ")";
      auto& list = reached_reflector(r) ? carried : lost;
      if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
    }
  }
  auto join = [](const std::vector<std::string>& items) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i)
      out += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
    return out;
  };
  if (!lost.empty())
    lines.push_back(join(lost) + " did not get through the translator: NAT64s that follow RFC 6146 translate only "
                    "TCP, UDP and ICMP. Use a VPN over UDP or TCP here (WireGuard, OpenVPN, IKEv2 with NAT-T on UDP 4500).");
  if (!carried.empty())
    lines.push_back("This translator carried " + join(carried) +
                    " to the reflector's IPv4 address; many NAT64s (RFC 6146) translate only TCP, UDP and ICMP, so on "
                    "other IPv6-only networks prefer a VPN over UDP or TCP.");
  return lines;
}

std::vector<std::string> nat_section_lines(const NatSummary& nat) {
  std::vector<std::string> lines;
  if (nat.gateway && nat.gateway->gateway) lines.push_back(gateway_line(*nat.gateway));
  const bool gateway_spoke =
      nat.topology && (nat.topology->topology != nat::NatTopology::unknown || nat.gateway->any_answered());
  if (gateway_spoke) lines.push_back(nat.topology->explanation);
  if (nat.hops && (nat.hops->double_nat || !gateway_spoke)) lines.push_back(nat.hops->explanation);
  if (auto combined = nat.combined(); !combined.explanation.empty()) lines.push_back(combined.explanation);
  if (!nat.tests) return lines;
  const auto& t = *nat.tests;
  if (!t.note.empty()) {
    lines.push_back("NAT behaviour not measured: " + t.note + ".");
    return lines;
  }
  nat::NatFacts facts;
  facts.mapping = t.mapping;
  facts.filtering = t.filtering;
  facts.port_preservation = nat.port_preservation;
  facts.lifetime = t.lifetime;
  facts.hairpinning = t.hairpinning;
  facts.path = t.path;
  facts.mtu = t.mtu;
  facts.loss = t.loss;
  facts.evidence = t.evidence;
  auto more = nat::nat_summary_lines(facts);
  lines.insert(lines.end(), more.begin(), more.end());
  std::vector<std::string> not_run = t.mapping.not_run;
  not_run.insert(not_run.end(), t.filtering.not_run.begin(), t.filtering.not_run.end());
  if (!not_run.empty()) {
    std::string l = "Not tested (the reflector has no second address or port, or no answer came): ";
    for (std::size_t i = 0; i < not_run.size(); ++i) l += (i ? ", " : "") + std::string(test_words(not_run[i]));
    lines.push_back(l + ".");
  }
  if (t.keepalive && t.keepalive->needed)
    for (const auto& k : t.keepalive->lines) lines.push_back("  " + k);
  return lines;
}

}  // namespace vpncheck::client
