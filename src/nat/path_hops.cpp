#include "src/nat/path_hops.h"

#include <algorithm>

namespace vpncheck::nat {

std::string_view to_string(HopClass c) {
  switch (c) {
    case HopClass::silent: return "silent";
    case HopClass::private_space: return "private";
    case HopClass::shared_space: return "shared";
    case HopClass::public_space: return "public";
  }
  return "silent";
}

HopClass classify_hop(const Hop& hop) {
  if (hop.address_redacted) return HopClass::public_space;
  if (!hop.address) return HopClass::silent;
  if (is_cgnat_address(*hop.address)) return HopClass::shared_space;
  if (is_private_address(*hop.address)) return HopClass::private_space;
  return HopClass::public_space;
}

namespace {

std::string hop_text(const Hop& hop) { return "hop " + std::to_string(hop.ttl) + " (" + format_ipv4(*hop.address) + ")"; }

}  // namespace

HopFinding classify_hops(std::vector<Hop> hops, const std::optional<Ipv4>& destination) {
  std::sort(hops.begin(), hops.end(), [](const Hop& a, const Hop& b) { return a.ttl < b.ttl; });
  for (auto& hop : hops)
    if (hop.address && destination && *hop.address == *destination) hop.destination = true;
  // Nothing beyond the destination or the last answer is a hop.
  auto end = std::find_if(hops.begin(), hops.end(), [](const Hop& h) { return h.destination; });
  if (end != hops.end()) ++end;
  while (end != hops.begin() && !std::prev(end)->address) --end;
  hops.erase(end, hops.end());

  HopFinding f;
  f.hops = hops;
  if (hops.empty() || hops.front().ttl != 1 || !hops.front().address) {
    f.explanation = "Your router did not answer a TTL-limited probe, so the hops cannot tell how many NATs there are.";
    return f;
  }
  const Hop& first = hops.front();
  if (classify_hop(first) == HopClass::public_space || first.destination) {
    f.explanation = "The first hop, " + hop_text(first) +
                    ", is public: the hops cannot tell whether a NAT is in the way (this computer may have a "
                    "public address).";
    return f;
  }
  // Upstream of your router, up to the first public hop: the inside of any further NAT.
  const Hop* nat_hop = nullptr;
  const Hop* public_hop = nullptr;
  bool silent_before = false;
  for (auto it = std::next(hops.begin()); it != hops.end(); ++it) {
    const HopClass c = classify_hop(*it);
    if (c == HopClass::silent) {
      silent_before = true;
      continue;
    }
    if (c == HopClass::public_space) {
      public_hop = &*it;
      break;
    }
    if (!nat_hop || c == HopClass::shared_space) nat_hop = &*it;
    if (c == HopClass::shared_space) break;
  }
  if (nat_hop && classify_hop(*nat_hop) == HopClass::shared_space) {
    f.double_nat = true;
    f.cgnat = true;
    f.explanation = "Beyond your router, " + hop_text(*nat_hop) +
                    " answers from 100.64.0.0/10, the range set aside for carrier-grade NAT (RFC 6598): your "
                    "provider shares one public address among many customers, so a VPN server at home cannot be "
                    "reached from the Internet and port forwarding will not help.";
    return f;
  }
  if (nat_hop) {
    f.double_nat = true;
    f.explanation = "Beyond your router, " + hop_text(*nat_hop) +
                    " answers from private address space: another NAT (often the provider's modem-router) "
                    "translates again, so an inbound VPN server needs a port forward on both devices, or the "
                    "modem in bridge mode.";
    return f;
  }
  if (public_hop && !silent_before) {
    f.double_nat = false;
    f.cgnat = false;
    f.explanation = "The hop after your router, " + hop_text(*public_hop) + ", is public: no second NAT.";
    return f;
  }
  f.explanation = public_hop ? "A hop between your router and the first public one, " + hop_text(*public_hop) +
                                   ", did not answer, so a second NAT cannot be ruled out from the hops."
                             : "No router beyond yours answered a TTL-limited probe, so the hops cannot tell "
                               "whether another NAT is in the way.";
  return f;
}

CombinedTopology combine_topology(const std::optional<TopologyFinding>& gateway, const std::optional<HopFinding>& hops) {
  CombinedTopology c;
  const std::optional<bool> g = gateway ? gateway->double_nat : std::nullopt;
  const std::optional<bool> h = hops ? hops->double_nat : std::nullopt;
  std::optional<bool> g_cgnat;
  if (gateway && gateway->topology == NatTopology::cgnat) g_cgnat = true;
  if (gateway && gateway->topology == NatTopology::single_nat) g_cgnat = false;
  const std::optional<bool> h_cgnat = hops ? hops->cgnat : std::nullopt;
  if (g && h && *g != *h) {
    c.explanation = "The two sources disagree: your router's port-mapping answer says " +
                    std::string(*g ? "there is" : "there is no") + " second NAT, the hops say " +
                    std::string(*h ? "there is" : "there is not") +
                    "; double NAT is left undetermined.";
    return c;
  }
  c.double_nat = g ? g : h;
  // A private upstream NAT from the gateway and shared space in the hops are
  // not a contradiction: the carrier's NAT may be the second of three.
  if (g_cgnat && h_cgnat && *g_cgnat != *h_cgnat) {
    c.cgnat = true;
    return c;
  }
  c.cgnat = g_cgnat ? g_cgnat : h_cgnat;
  return c;
}

}  // namespace vpncheck::nat
