// Report::drops and their advice: where walked probes died, in words.
#include <algorithm>

#include "src/nat/port_mapping.h"
#include "src/report/redact.h"
#include "src/report/report.h"

namespace vpncheck::client {
namespace {

std::string address_space(const std::string& address) {
  if (auto v4 = nat::parse_ipv4(address)) {
    if (nat::is_cgnat_address(*v4)) return "shared";
    return nat::is_private_address(*v4) ? "private" : "public";
  }
  return is_private_address(address) ? "private" : "public";
}

// Who a hop beyond the user's router is, as far as its address tells: the
// shared address space is a carrier's (RFC 6598); a private one is a second
// NAT before the Internet, whoever's it is.
std::string beyond_label(const std::string& hop_class) {
  if (hop_class == "shared") return "your provider";
  if (hop_class == "private") return "a second router before the Internet";
  return "your provider or a network beyond it";
}

bool dropped(const DropFact& d) { return d.point.result == nat::DropResult::dropped; }

// Advice follows a verdict that says the protocol fails in that family: an
// inconclusive one (loss could explain the silence) gets the place, not advice.
bool fails(const ProtocolAssessment& a, Family family) {
  Verdict v = a.verdict;
  for (const auto& f : a.families)
    if (f.family == family) v = f.verdict;
  return v != Verdict::pass && v != Verdict::inconclusive;
}

}  // namespace

std::string drop_line(const DropFact& d) {
  const auto& p = d.point;
  switch (p.result) {
    case nat::DropResult::dropped:
      if (p.own_router) return "dropped at hop " + std::to_string(p.hop) + ", your router (" + p.address + ")";
      return "dropped beyond your router, at hop " + std::to_string(p.hop) + " (" + p.address + ", " +
             beyond_label(d.hop_class) + ")";
    case nat::DropResult::not_protocol_specific:
      return "where it is dropped is unknown: the path walk found no hop that stops only this protocol";
    case nat::DropResult::reached_destination:
      return "a copy limited in hops reached the reflector: not dropped on the way out";
    case nat::DropResult::unknown: break;
  }
  return "where it is dropped is unknown: the routers on the way did not answer enough to tell";
}

std::vector<std::string> drop_lines(const Report& report, std::string_view protocol) {
  bool both = false;
  for (const auto& d : report.drops)
    both = both || (d.protocol == protocol && d.family != report.drops.front().family);
  std::vector<std::string> lines;
  for (const auto& d : report.drops)
    if (d.protocol == protocol)
      lines.push_back(d.variant + (both ? " " + std::string(display_name(d.family)) : "") + ": " + drop_line(d));
  return lines;
}

void apply_path_walks(Report& report, const std::map<std::size_t, std::vector<nat::WalkStep>>& walks,
                      const std::optional<std::string>& gateway) {
  if (!report.observations_read) return;  // a lost answer would pass for a drop on the way out
  for (auto& a : report.protocols) {
    std::vector<DropFact> mine;
    for (const auto& r : a.probes) {
      auto walk = walks.find(r.probe.index);
      if (walk == walks.end() || r.probe.kind != ProbeKind::genuine || answered(r) || reached_reflector(r)) continue;
      DropFact d;
      d.protocol = std::string(a.id());
      d.variant = describe(r.probe.variant);
      d.family = r.probe.family;
      d.probe = r.probe.name();
      d.point = nat::locate_drop(walk->second, gateway);
      if (dropped(d)) d.hop_class = address_space(d.point.address);
      mine.push_back(std::move(d));
    }
    // One piece of advice per place that drops it, naming every variant it drops there.
    for (std::size_t i = 0; i < mine.size(); ++i) {
      const auto& d = mine[i];
      if (!dropped(d) || !fails(a, d.family)) continue;
      auto same_place = [&](const DropFact& o) {
        return dropped(o) && o.point.hop == d.point.hop && o.point.address == d.point.address;
      };
      if (std::any_of(mine.begin(), mine.begin() + static_cast<std::ptrdiff_t>(i), same_place)) continue;
      std::string variants;
      for (const auto& o : mine)
        if (same_place(o) && variants.find(o.variant) == std::string::npos)
          variants += (variants.empty() ? "" : ", ") + o.variant;
      if (d.point.own_router) {
        add_unique(a.advice, "Your router (" + d.point.address + ") drops " + std::string(a.title()) + " on " +
                                 variants +
                                 ": look in its settings for a VPN passthrough option, an application or DPI "
                                 "filter, or a firewall rule that blocks it.");
        continue;
      }
      const auto instead = working_alternatives(report.protocols, a);
      add_unique(a.advice, std::string(a.title()) + " on " + variants + " is dropped beyond your router, at hop " +
                               std::to_string(d.point.hop) + " (" + d.point.address +
                               "): no setting at home changes that. Work around it " +
                               (instead.empty() ? "with another port or protocol, or ask your provider."
                                                : "with what works on this network: " + instead + "."));
    }
    report.drops.insert(report.drops.end(), std::make_move_iterator(mine.begin()), std::make_move_iterator(mine.end()));
  }
}

}  // namespace vpncheck::client
