#include "src/nat/behaviour.h"

#include <algorithm>
#include <map>

#include "probes/registry.h"

namespace vpncheck::nat {

namespace {

constexpr Behaviour kEim = Behaviour::endpoint_independent;
constexpr Behaviour kAdm = Behaviour::address_dependent;
constexpr Behaviour kApdm = Behaviour::address_and_port_dependent;

Classification decided(Behaviour b, std::string explanation) {
  Classification c;
  c.behaviour = b;
  c.possible = {b};
  c.explanation = std::move(explanation);
  return c;
}

Classification open(std::vector<Behaviour> possible, std::string explanation) {
  Classification c;
  c.possible = std::move(possible);
  c.explanation = std::move(explanation);
  return c;
}

std::string join(const std::vector<Behaviour>& bs, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < bs.size(); ++i) {
    if (i != 0) out += sep;
    out += describe(bs[i]);
  }
  return out;
}

}  // namespace

std::string_view to_string(Behaviour b) {
  switch (b) {
    case Behaviour::endpoint_independent: return "endpoint_independent";
    case Behaviour::address_dependent: return "address_dependent";
    case Behaviour::address_and_port_dependent: return "address_and_port_dependent";
  }
  return "unknown";
}

std::string_view describe(Behaviour b) {
  switch (b) {
    case Behaviour::endpoint_independent: return "endpoint-independent";
    case Behaviour::address_dependent: return "address-dependent";
    case Behaviour::address_and_port_dependent: return "address-and-port-dependent";
  }
  return "unknown";
}

// ---------------------------------------------------------------- mapping

Classification classify_mapping(const MappingSamples& s) {
  std::vector<std::string> not_run;
  if (!s.to_primary) not_run.emplace_back(test_id::kMappingPrimary);
  if (!s.to_other_port) not_run.emplace_back(test_id::kMappingOtherPort);
  if (!s.to_other_address) not_run.emplace_back(test_id::kMappingOtherAddress);

  Classification c;
  if (!s.to_primary) {
    c = open({kEim, kAdm, kApdm}, "Mapping not classified: the first test (reflector primary address and port) "
                                  "gave no observed address.");
  } else {
    std::optional<bool> same_port;
    std::optional<bool> same_address;
    if (s.to_other_port) same_port = *s.to_other_port == *s.to_primary;
    if (s.to_other_address) same_address = *s.to_other_address == *s.to_primary;
    if (same_port == false) {
      c = decided(kApdm, "Sending to another port of the same reflector address got a new external port: "
                         "address-and-port-dependent mapping (a \"symmetric\" NAT).");
    } else if (same_port == true) {
      if (same_address == true)
        c = decided(kEim, "The same external address and port were used towards another port and another "
                          "address: endpoint-independent mapping.");
      else if (same_address == false)
        c = decided(kAdm, "Same external port towards another port of one address, a new one towards another "
                          "address: address-dependent mapping.");
      else
        c = open({kEim, kAdm}, "The mapping does not depend on the destination port; whether it depends on the "
                               "destination address is untested (the reflector has no second address).");
    } else {
      if (same_address == true)
        c = decided(kEim, "The same external address and port were used towards another reflector address: "
                          "endpoint-independent mapping.");
      else if (same_address == false)
        c = open({kAdm, kApdm}, "The mapping changes with the destination address; whether it also depends on "
                                "the port is untested (the reflector has no alternate port).");
      else
        c = open({kEim, kAdm, kApdm}, "Mapping not classified: the reflector offered no second port or address "
                                      "to compare with.");
    }
  }
  c.not_run = std::move(not_run);
  return c;
}

// ---------------------------------------------------------------- filtering

Classification classify_filtering(const FilteringSamples& s) {
  std::vector<std::string> not_run;
  std::vector<std::string> lossy;
  if (!s.primary_reply) not_run.emplace_back(test_id::kFilteringPrimary);
  if (!s.from_other_port) (s.other_port_lossy ? lossy : not_run).emplace_back(test_id::kFilteringOtherPort);
  if (!s.from_other_address) (s.other_address_lossy ? lossy : not_run).emplace_back(test_id::kFilteringOtherAddress);
  // Why an unsolicited packet's test says nothing.
  const std::string port_unknown = s.other_port_lossy
                                       ? "not determined (no packet came, but on this lossy path that may be chance)"
                                       : "untested (the reflector has no alternate port)";
  const std::string addr_unknown = s.other_address_lossy
                                       ? "not determined (no packet came, but on this lossy path that may be chance)"
                                       : "untested (the reflector has no second address)";

  Classification c;
  const auto& port = s.from_other_port;
  const auto& addr = s.from_other_address;
  if (s.primary_reply != true) {
    c = open({kEim, kAdm, kApdm},
             s.primary_reply == false
                 ? "Filtering not classified: even the reflector's direct answer did not come back, so "
                   "unsolicited packets say nothing."
                 : "Filtering not classified: the baseline test (the reflector's direct answer) was not run.");
  } else if (addr == true) {
    if (port == false)
      c = open({}, "Filtering results contradict each other (a packet from another address got in, one from "
                   "another port of the same address did not, although it was sent again and again).");
    else
      c = decided(kEim, "Packets from an address the client never contacted got in: endpoint-independent "
                        "filtering.");
  } else if (addr == false) {
    if (port == true)
      c = decided(kAdm, "Packets from another port of a contacted address got in, packets from another address "
                        "did not: address-dependent filtering.");
    else if (port == false)
      c = decided(kApdm, "Only the exact address and port the client sent to can answer: "
                         "address-and-port-dependent filtering.");
    else
      c = open({kAdm, kApdm}, "Packets from another address were dropped; whether another port of the same "
                              "address gets in is " + port_unknown + ".");
  } else {
    if (port == true)
      c = open({kEim, kAdm}, "Packets from another port of a contacted address got in; whether other addresses "
                             "can reach the client is " + addr_unknown + ".");
    else if (port == false)
      c = decided(kApdm, "Packets from another port of the contacted address were dropped: "
                         "address-and-port-dependent filtering.");
    else if (!lossy.empty())
      c = open({kEim, kAdm, kApdm}, "Filtering not classified: no unsolicited packet came, but on this lossy "
                                    "path that may be chance.");
    else
      c = open({kEim, kAdm, kApdm}, "Filtering not classified: the reflector offered no second port or address "
                                    "to send from.");
  }
  c.not_run = std::move(not_run);
  c.lossy = std::move(lossy);
  return c;
}

FilteringSamples weigh_filtering(FilteringSamples s, const FilteringTries& tries, const LossEstimate& loss,
                                 std::vector<Evidence>& evidence) {
  // Only with the direct answer do the unsolicited packets say anything (classify_filtering).
  if (s.primary_reply != true) return s;
  auto weigh_one = [&](std::optional<bool>& value, bool& lossy, std::string_view id, std::size_t n) {
    if (value != false) return;
    evidence.push_back(weigh(std::string(id), n, loss));
    if (evidence.back().concluded) return;
    value.reset();
    lossy = true;
  };
  weigh_one(s.from_other_port, s.other_port_lossy, test_id::kFilteringOtherPort, tries.other_port);
  weigh_one(s.from_other_address, s.other_address_lossy, test_id::kFilteringOtherAddress, tries.other_address);
  return s;
}

std::optional<bool> port_preservation(std::span<const PortSample> samples) {
  if (samples.empty()) return std::nullopt;
  return std::all_of(samples.begin(), samples.end(),
                     [](const PortSample& p) { return p.local_port == p.observed_port; });
}

// ---------------------------------------------------------------- lifetime

LifetimeEstimate estimate_lifetime(std::span<const LifetimeTrial> trials) {
  std::map<int, bool> by_gap;  // gap -> reached (false if any trial of that gap failed)
  for (const auto& t : trials) {
    if (!t.reached || t.gap_s < 0) continue;
    auto [it, inserted] = by_gap.emplace(t.gap_s, *t.reached);
    if (!inserted) it->second = it->second && *t.reached;
  }
  LifetimeEstimate e;
  if (by_gap.empty()) {
    e.explanation = "The UDP binding lifetime was not measured.";
    return e;
  }
  e.measured = true;
  bool before_failure = true;
  for (const auto& [gap, reached] : by_gap) {
    if (reached) {
      e.longest_working_s = gap;
      if (before_failure) e.reliable_s = gap;
    } else {
      if (!e.shortest_failed_s) e.shortest_failed_s = gap;
      before_failure = false;
    }
  }
  e.all_reached = !e.shortest_failed_s;
  e.none_reached = !e.longest_working_s;
  e.consistent = !(e.longest_working_s && e.shortest_failed_s) || *e.longest_working_s < *e.shortest_failed_s;
  const auto s = [](int v) { return std::to_string(v) + " s"; };
  if (e.all_reached) {
    e.explanation = "Idle UDP mappings survived every gap tried, up to " + s(*e.longest_working_s) +
                    ": the lifetime is at least that.";
  } else if (e.none_reached) {
    e.explanation = "Nothing arrived even after the shortest idle gap (" + s(*e.shortest_failed_s) +
                    "): idle UDP mappings last less than that, or unsolicited packets do not get in at all.";
  } else if (e.consistent) {
    e.explanation = "Idle UDP mappings last between " + s(*e.longest_working_s) + " and " +
                    s(*e.shortest_failed_s) + " (" + s(*e.longest_working_s) + " survived, " +
                    s(*e.shortest_failed_s) + " did not).";
  } else {
    e.explanation = "The results are not monotonic (" + s(*e.shortest_failed_s) + " failed but " +
                    s(*e.longest_working_s) +
                    " survived: packet loss, or a NAT that does not use one idle timer); ";
    e.explanation += e.reliable_s ? "counting only the gaps before the first failure, mappings survive at least " +
                                        s(*e.reliable_s) + "."
                                  : "there is no safe lower bound.";
  }
  return e;
}

LifetimeEstimate assess_lifetime(std::span<const LifetimeTrial> trials, const LossEstimate& loss,
                                 std::vector<Evidence>& evidence) {
  struct Gap {
    bool completed = false;
    bool reached = false;
    std::size_t tries = 0;
  };
  std::map<int, Gap> by_gap;
  for (const auto& t : trials) {
    if (!t.reached || t.gap_s < 0) continue;
    auto& g = by_gap[t.gap_s];
    g.completed = true;
    // One packet after the gap that arrived shows the mapping was still there.
    g.reached = g.reached || *t.reached;
    if (!*t.reached) g.tries += t.tries;
  }
  std::vector<LifetimeTrial> weighed;
  std::vector<int> lossy;
  for (const auto& [gap, g] : by_gap) {
    if (g.reached) {
      weighed.push_back({gap, true, 0});
      continue;
    }
    evidence.push_back(weigh("lifetime." + std::to_string(gap), g.tries, loss));
    if (evidence.back().concluded)
      weighed.push_back({gap, false, g.tries});
    else
      lossy.push_back(gap);
  }
  auto e = estimate_lifetime(weighed);
  e.lossy_gaps_s = lossy;
  if (!lossy.empty()) {
    std::string gaps;
    for (std::size_t i = 0; i < lossy.size(); ++i) gaps += (i ? ", " : "") + std::to_string(lossy[i]) + " s";
    const std::string why = "no packet came after " + std::string(lossy.size() == 1 ? "the gap " : "the gaps ") +
                            gaps + ", but " + lost_words(loss.per_packet()) + ", so that may be chance";
    e.explanation = e.measured ? e.explanation + " Not counted: " + why + "."
                               : "The UDP binding lifetime could not be measured: " + why + ".";
  }
  return e;
}

int safe_keepalive_s(int lifetime_s) {
  const int margin = std::max(lifetime_s / 6, std::min(5, lifetime_s / 2));
  return std::max(1, lifetime_s - margin);
}

std::optional<KeepaliveAdvice> keepalive_advice(const LifetimeEstimate& e) {
  if (!e.reliable_s) return std::nullopt;
  KeepaliveAdvice a;
  a.basis_s = *e.reliable_s;
  const int safe = safe_keepalive_s(a.basis_s);
  a.needed = !(e.all_reached && a.basis_s >= 120);
  a.wireguard_persistent_keepalive_s = std::min(25, safe);
  a.ipsec_keepalive_s = std::min(20, safe);
  a.openvpn_ping_s = std::min(10, safe);
  a.openvpn_restart_s = 60;
  a.lines = {
      "WireGuard: PersistentKeepalive = " + std::to_string(a.wireguard_persistent_keepalive_s) +
          " (in the [Peer] section)",
      "strongSwan (IKE NAT-T keepalive): charon.keep_alive = " + std::to_string(a.ipsec_keepalive_s) +
          "s (strongswan.conf)",
      "OpenVPN: keepalive " + std::to_string(a.openvpn_ping_s) + " " + std::to_string(a.openvpn_restart_s),
  };
  return a;
}

// ---------------------------------------------------------------- MTU

namespace {

constexpr int kAssumedMtu = 1500;
// The path test's fragmented datagram (IPv4 packet size, nat_runner's kFragmentedPacketSize).
constexpr int kFragmentedPacketBytes = 2000;
// OpenVPN over UDP, tun-mtu 1500: IPv4 20 + UDP 8 + opcode/peer-id 4 + packet id 4 + AEAD tag 16.
constexpr int kOpenVpnDefaultPacket = 1500 + 52;
// The protocols' full-size packets, the MTU advice in their own words and
// who sets DF on Linux (with the upstream sources) are their modules' data
// phase facts (probes/probe.h DataPhase; probes/wireguard.cpp,
// probes/openvpn.cpp, probes/ipsec.cpp): the data phase sends exactly those
// packets, so the path test's reasoning and the data phase agree.
const probes::DataPhase& data_phase(std::string_view protocol) {
  return *probes::find_protocol(protocol)->data_phase;
}
// The full-size data packet on the wire over IPv4 (IP 20 + UDP 8 + payload).
int full_packet_v4(std::string_view protocol) { return static_cast<int>(data_phase(protocol).full_payload_v4) + 28; }
std::string mtu_advice_line(std::string_view protocol, int pmtu) {
  return data_phase(protocol).advice_mtu(pmtu).front();
}

std::string black_hole_words(int pmtu) {
  return "this path-MTU black hole (" + std::to_string(pmtu) +
         " bytes pass; larger DF packets vanish without an ICMP \"fragmentation needed\")";
}

// The protocol's full-size data packets are lost: a passing verdict becomes restricted.
void data_lost(ProtocolMtuAdvice& m, double chance, std::string reason, std::vector<std::string> advice) {
  m.breaks = true;
  m.restricts = true;
  m.chance_by_loss = chance;
  m.reason = std::move(reason);
  m.advice = std::move(advice);
}

}  // namespace

std::vector<ProtocolMtuAdvice> mtu_advice(const PathFacts& f) {
  std::vector<ProtocolMtuAdvice> out;
  // Known to pass: the path MTU when determined, else the largest size that passed.
  const std::optional<int> at_least =
      f.path_mtu && f.mtu_at_least ? std::max(*f.path_mtu, *f.mtu_at_least) : f.path_mtu ? f.path_mtu : f.mtu_at_least;
  // The size the advice is built on: one that is known to pass.
  const int pmtu = f.path_mtu.value_or(f.mtu_at_least.value_or(kAssumedMtu));
  const std::string lost = f.lossy ? lost_words(*f.lossy) : "";
  const std::string lossy_note = f.lossy ? "Full-size packets could not be checked: " + lost + "." : "";
  // A black hole below `size`: DF packets of that size are lost for certain enough.
  const auto black_hole_below = [&](int size) { return f.black_hole == true && f.path_mtu && *f.path_mtu < size; };
  const std::string fragments_fate = f.fragments_pass == true    ? ", which pass here"
                                     : f.fragments_pass == false ? ", which are dropped here"
                                                                 : "";
  // The path MTU could not be measured for loss, and the largest size known
  // to pass is below `df_size`, what the protocol sends with DF: a black hole
  // may be hiding, so it is not "fine" but "could not be checked" (never a
  // verdict change).
  const auto add = [&](ProtocolMtuAdvice m, int df_size) {
    if (m.breaks != true && m.lossy_note.empty() && f.lossy && !f.path_mtu && !(at_least && *at_least >= df_size))
      m.lossy_note = lossy_note;
    out.push_back(std::move(m));
  };

  ProtocolMtuAdvice ovpn;
  ovpn.protocol = "openvpn";
  if (at_least && *at_least >= kOpenVpnDefaultPacket) {
    ovpn.breaks = false;
    ovpn.reason = "OpenVPN's default full-size packets fit the path MTU.";
  } else if (black_hole_below(full_packet_v4("openvpn"))) {
    data_lost(ovpn, f.mtu_chance,
              "OpenVPN over UDP sends its tunnel packets up to 1500 bytes with DF set on Linux (without mtu-disc "
              "it keeps the system's path MTU discovery), among them all full-size TCP (up to 1492 bytes with its "
              "default mssfix): through " + black_hole_words(pmtu) + " they are lost while the handshake works.",
              {mtu_advice_line("openvpn", pmtu)});
    if (f.fragments_pass == true)
      ovpn.advice.push_back("or OpenVPN: mtu-disc no (never DF: routers then fragment, and fragments pass here)");
  } else if (f.fragments_pass == true) {
    ovpn.breaks = false;
    ovpn.reason = "OpenVPN over UDP with its default tun-mtu 1500 needs IP fragments; they pass here.";
  } else if (f.fragments_pass == false) {
    data_lost(ovpn, f.fragments_chance,
              "OpenVPN over UDP with its default tun-mtu 1500 sends packets larger than the path MTU (" +
                  std::to_string(pmtu) + "), and this network drops IP fragments: full-size packets are lost.",
              {mtu_advice_line("openvpn", pmtu) + ", or use OpenVPN over TCP"});
  } else if (f.lossy) {
    ovpn.reason = "Whether OpenVPN's default full-size packets pass could not be checked: " + lost + ".";
    ovpn.lossy_note = lossy_note;
  } else {
    ovpn.reason = "Whether OpenVPN's default full-size packets pass is unknown (fragments not tested).";
  }
  add(std::move(ovpn), full_packet_v4("openvpn"));

  ProtocolMtuAdvice wg;
  wg.protocol = "wireguard";
  if (at_least && *at_least >= full_packet_v4("wireguard")) {
    wg.breaks = false;
    wg.reason = "WireGuard's default MTU 1420 fits the path MTU (" + std::to_string(*at_least) + ").";
  } else if (black_hole_below(full_packet_v4("wireguard"))) {
    data_lost(wg, f.mtu_chance,
              "WireGuard's full-size packets (1480 bytes at its default MTU 1420) exceed " + black_hole_words(pmtu) +
                  ", and wireguard-go sends them with DF set on Linux, so nothing fragments them: they are lost "
                  "while the handshake works (the Linux kernel module leaves DF clear and relies on fragments" +
                  fragments_fate + ").",
              {mtu_advice_line("wireguard", pmtu)});
  } else if (f.fragments_pass == true && f.black_hole == false) {
    wg.breaks = false;
    wg.reason = "WireGuard's 1480-byte packets exceed the path MTU (" + std::to_string(pmtu) +
                "), but a router reports it (ICMP \"fragmentation needed\"), so senders fragment them; the "
                "fragments pass here.";
  } else if (f.path_mtu && f.fragments_pass == false) {
    // Either "no" could be the chance one (union bound).
    data_lost(wg, std::min(1.0, f.fragments_chance + f.mtu_chance),
              "The path MTU (" + std::to_string(*f.path_mtu) +
                  ") is below WireGuard's 1480-byte packets and fragments are dropped.",
              {mtu_advice_line("wireguard", *f.path_mtu)});
  } else if (f.fragments_pass == true) {
    wg.breaks = false;
    wg.reason = "WireGuard's packets may need fragments on this path; they pass here.";
  } else if (f.lossy) {
    wg.reason = "Whether WireGuard's full-size packets pass could not be checked: " + lost + ".";
    wg.lossy_note = lossy_note;
  } else {
    wg.reason = "Whether WireGuard's full-size packets pass is unknown (path MTU not measured).";
  }
  add(std::move(wg), full_packet_v4("wireguard"));

  ProtocolMtuAdvice ike;
  ike.protocol = "ipsec";
  if (black_hole_below(full_packet_v4("ipsec"))) {
    data_lost(ike, f.mtu_chance,
              "IPsec's full-size ESP packets exceed " + black_hole_words(pmtu) +
                  " and carry DF on Linux (strongSwan's kernel IPsec copies it from the inner packet; its userspace "
                  "ESP keeps the system default), so they are lost while IKE works.",
              {mtu_advice_line("ipsec", pmtu)});
    if (f.fragments_pass == true)
      ike.advice.push_back("or strongSwan: copy_df = no in the CHILD_SA (swanctl.conf): ESP then leaves DF clear "
                           "and routers fragment it (fragments pass here)");
  } else if (f.fragments_pass == true) {
    ike.breaks = false;
    ike.reason = "IKE_AUTH with certificates is larger than one packet; the IP fragments pass here.";
  } else if (f.fragments_pass == false) {
    ike.breaks = true;
    ike.chance_by_loss = f.fragments_chance;
    ike.reason = "IKE_AUTH with certificates is larger than one packet and this network drops IP fragments: "
                 "the handshake stalls unless IKEv2 fragmentation (RFC 7383) is on.";
    ike.advice = {"strongSwan: fragmentation = yes in swanctl.conf (ipsec.conf: fragmentation=yes) on both ends",
                  "or use smaller (ECDSA) certificates"};
  } else if (f.lossy) {
    ike.reason = "Whether IKE_AUTH with certificates passes could not be checked: " + lost + ".";
  } else {
    ike.reason = "Whether IKE_AUTH with certificates passes is unknown (fragments not tested).";
  }
  add(std::move(ike), kAssumedMtu);

  // Every other module with a data phase, from its own facts: the size of
  // its full packets on the wire and whether its software sends them with DF.
  for (const auto* module : probes::all_protocols()) {
    const auto* phase = module->data_phase;
    if (phase == nullptr || std::any_of(out.begin(), out.end(), [&](const ProtocolMtuAdvice& m) {
          return m.protocol == module->id;
        }))
      continue;
    ProtocolMtuAdvice m;
    m.protocol = std::string(module->id);
    // Over UDP (IP 20 + UDP 8 + payload), or, for a protocol with no UDP
    // place (PPTP's GRE), as raw IP (IP 20 + payload).
    const int size = phase->full_payload_v4 > 0 ? static_cast<int>(phase->full_payload_v4) + 28
                                                : static_cast<int>(phase->full_ip_payload_v4) + 20;
    const std::string words(phase->full_size_words);
    if (phase->df == probes::DontFragment::clear) {
      // Senders that leave DF clear: no black hole can touch them, since the
      // sending host and routers fragment whatever does not fit; whether IP
      // fragments pass is all that decides, for packets larger than the path
      // (or this host's link) carries whole.
      if (size <= kAssumedMtu && at_least && *at_least >= size) {
        m.breaks = false;
        m.reason = words + " fit the path MTU (" + std::to_string(*at_least) + ").";
      } else if (f.fragments_pass == true) {
        m.breaks = false;
        m.reason = words + " are sent without DF, so they are fragmented where they do not fit, and the "
                           "fragments pass here.";
      } else if (f.fragments_pass == false) {
        data_lost(m, f.fragments_chance,
                  words + " are sent without DF and travel as IP fragments where they do not fit, and this "
                          "network drops IP fragments: they are lost while the handshake works.",
                  phase->advice_mtu(pmtu));
      } else if (f.lossy) {
        m.reason = words + " need IP fragments; whether they pass could not be checked: " + lost + ".";
        m.lossy_note = "Full-size packets could not be checked: " + lost + ".";
      } else {
        m.reason = "Whether " + words + " pass is unknown (fragments not tested).";
      }
      out.push_back(std::move(m));
      continue;
    }
    // Senders that set DF by the system's path-MTU discovery: a black hole
    // below their size loses them; where a router reports the path MTU, the
    // sender fragments for it, and fragments decide.
    if (at_least && *at_least >= size) {
      m.breaks = false;
      m.reason = words + " fit the path MTU (" + std::to_string(*at_least) + ").";
    } else if (black_hole_below(size)) {
      data_lost(m, f.mtu_chance,
                words + " exceed " + black_hole_words(pmtu) +
                    ", and the real software sends them with DF set on Linux, so nothing fragments them: they are "
                    "lost while the handshake works.",
                phase->advice_mtu(pmtu));
    } else if (f.fragments_pass == true && f.black_hole == false) {
      m.breaks = false;
      m.reason = words + " exceed the path MTU (" + std::to_string(pmtu) +
                 "), but a router reports it (ICMP \"fragmentation needed\"), so the sender fragments them; "
                 "the fragments pass here.";
    } else if (f.path_mtu && f.fragments_pass == false) {
      data_lost(m, std::min(1.0, f.fragments_chance + f.mtu_chance),
                "The path MTU (" + std::to_string(*f.path_mtu) + ") is below " + words +
                    ", and fragments are dropped.",
                phase->advice_mtu(*f.path_mtu));
    } else if (f.fragments_pass == true) {
      m.breaks = false;
      m.reason = words + " may need fragments on this path; they pass here.";
    } else if (f.lossy) {
      m.reason = "Whether " + words + " pass could not be checked: " + lost + ".";
      m.lossy_note = lossy_note;
    } else {
      m.reason = "Whether " + words + " pass is unknown (path MTU not measured).";
    }
    add(std::move(m), size);
  }

  return out;
}

PathAssessment assess_path(const PathSamples& samples, const LossEstimate& loss) {
  PathAssessment a;
  const auto& probes = samples.dont_fragment;
  const bool any_echo = std::any_of(probes.begin(), probes.end(), [](const auto& p) { return p.echoed; });
  if (!any_echo && samples.fragments_arrived != true && samples.fragments_returned != true) return a;
  std::optional<int> largest_echoed;
  for (const auto& p : probes)
    if (p.echoed && (!largest_echoed || p.ip_size > *largest_echoed)) largest_echoed = p.ip_size;
  a.facts.mtu_at_least = largest_echoed;
  const auto bytes = [](int v) { return std::to_string(v) + " bytes"; };
  const auto tries = [](std::size_t n) { return std::to_string(n) + (n == 1 ? " try" : " tries"); };
  bool lossy = false;
  std::string mtu_unknown;  // why the path MTU is not determined

  // The sizes above the largest echo that never came back, smallest first:
  // each bounds the path MTU if it is no chance; the smallest decides it.
  if (largest_echoed) {
    std::vector<PathSamples::DontFragmentProbe> failed;
    for (const auto& p : probes)
      if (!p.echoed && p.ip_size > *largest_echoed) failed.push_back(p);
    std::sort(failed.begin(), failed.end(), [](const auto& x, const auto& y) { return x.ip_size < y.ip_size; });
    for (const auto& p : failed) {
      const std::string id = "path.size." + std::to_string(p.ip_size);
      // A "fragmentation needed" report (a router's ICMP, or this host's own interface) is certain.
      a.evidence.push_back(samples.reported_mtu && p.ip_size > *samples.reported_mtu ? certain(id, p.tries)
                                                                                     : weigh(id, p.tries, loss));
    }
    if (failed.empty()) {
      a.facts.path_mtu = largest_echoed;
    } else if (a.evidence.front().concluded) {
      a.facts.path_mtu = largest_echoed;
      a.smallest_failed = failed.front().ip_size;
      a.facts.mtu_chance = a.evidence.front().chance;
      // Reported or not: whether senders can learn the path MTU.
      a.facts.black_hole = !(samples.reported_mtu && failed.front().ip_size > *samples.reported_mtu);
    } else {
      lossy = true;
      mtu_unknown = bytes(*largest_echoed) + " passed unfragmented; " + bytes(failed.front().ip_size) +
                    " got no answer in " + tries(failed.front().tries) + ", which may be chance";
    }
  }

  // How many packets one try needs each way. The 2000-byte datagram crosses
  // links of at least 1280 bytes (the baseline passed) as at most three
  // fragments: two where it is first fragmented, one more where a smaller
  // link splits the first again. Two on the way out when that cannot happen:
  // this host sends it whole (MTU >= 2000), or its fragments are no larger
  // than what every link carries (its MTU <= the largest DF size that
  // passed). A try fails by loss alone at most as often as that many round
  // trips do (its answer, one packet or fragments, is bounded the same way).
  constexpr int kAnyFragments = 3;
  const bool split_once =
      samples.local_mtu && largest_echoed &&
      (*samples.local_mtu >= kFragmentedPacketBytes || *samples.local_mtu <= *largest_echoed);
  std::string fragments_unknown;
  if (samples.fragments_returned == true) {
    a.facts.fragments_pass = true;
  } else if (samples.fragments_arrived == true || (samples.fragments_arrived == false && largest_echoed)) {
    // Acknowledged: its echo came back as fragments from the reflector, whose MTU is not known here.
    const bool back = samples.fragments_arrived == true;
    a.evidence.push_back(weigh(back ? "path.fragments.back" : "path.fragments.out", samples.fragment_tries, loss,
                               !back && split_once ? 2 : kAnyFragments));
    if (a.evidence.back().concluded) {
      a.facts.fragments_pass = false;
      a.facts.fragments_chance = a.evidence.back().chance;
      a.fragments_lost = back ? "back" : "out";
    } else {
      lossy = true;
      fragments_unknown = back ? "the fragmented datagram arrived, but its fragmented answer did not come back in " +
                                     tries(samples.fragment_tries) + ", which may be chance"
                               : "the fragmented datagram got no answer in " + tries(samples.fragment_tries) +
                                     ", which may be chance";
    }
  }
  if (lossy) a.facts.lossy = loss.per_packet();
  const std::string lost = lost_words(loss.per_packet());

  if (a.facts.path_mtu && !a.smallest_failed && *a.facts.path_mtu >= kAssumedMtu) {
    a.lines.push_back("Full-size packets (" + bytes(*a.facts.path_mtu) + ") pass both ways without fragmentation.");
  } else if (a.facts.path_mtu && a.smallest_failed) {
    std::string l = "The path MTU is below " + bytes(kAssumedMtu) + ": " + bytes(*a.facts.path_mtu) +
                    " passed unfragmented, " + bytes(*a.smallest_failed) + " did not";
    if (samples.reported_mtu && samples.reported_by)
      l += "; the router " + *samples.reported_by + " reports an MTU of " + std::to_string(*samples.reported_mtu);
    else if (samples.reported_mtu)
      l += "; this host's own interface has an MTU of " + std::to_string(*samples.reported_mtu);
    else
      l += ", and no router said why (no ICMP \"fragmentation needed\": path MTU discovery cannot work here, "
           "so tunnels must be configured with a smaller MTU)";
    a.lines.push_back(l + ".");
  } else if (!mtu_unknown.empty()) {
    a.lines.push_back("The path MTU could not be measured: " + lost + " (" + mtu_unknown + ").");
  }
  if (a.facts.fragments_pass == true) {
    a.lines.push_back("IP fragments pass both ways.");
  } else if (a.facts.fragments_pass == false) {
    a.lines.push_back(std::string("IP fragments are dropped ") +
                      (a.fragments_lost == "back" ? "on the way back to you" : "on the way out") +
                      ": anything larger than the path MTU is lost, not fragmented.");
  } else if (!fragments_unknown.empty()) {
    a.lines.push_back("Whether IP fragments pass could not be measured: " + lost + " (" + fragments_unknown + ").");
  }
  return a;
}

// ---------------------------------------------------------------- summary

namespace {

std::string mapping_line(const Classification& c) {
  if (c.behaviour == kEim)
    return "Your NAT keeps one external port per socket whoever you talk to (endpoint-independent mapping): "
           "peer-to-peer VPNs and NAT traversal work well.";
  if (c.behaviour)
    return "Your NAT picks a new external port per destination (" + std::string(describe(*c.behaviour)) +
           " mapping): client-to-server VPNs are fine, peer-to-peer links (e.g. a WireGuard mesh) need a relay.";
  if (c.possible.size() == 3 || c.possible.empty()) return {};
  return "NAT mapping: " + join(c.possible, " or ") + " (" + c.explanation + ")";
}

std::string filtering_line(const Classification& c, const LossEstimate& loss) {
  if (c.behaviour == kEim)
    return "Your NAT lets anyone reach an open mapping (endpoint-independent filtering).";
  if (c.behaviour)
    return "Your NAT only lets in answers from " +
           std::string(c.behaviour == kAdm ? "addresses" : "the exact address and port") + " you sent to (" +
           std::string(describe(*c.behaviour)) + " filtering): a VPN server behind it needs a port forward.";
  if (!c.lossy.empty()) {
    std::string l = "NAT filtering could not be measured: " + lost_words(loss.per_packet());
    if (c.possible.size() == 2) l += " (it is " + join(c.possible, " or ") + ")";
    return l + ".";
  }
  if (c.possible.empty()) return "NAT filtering: " + c.explanation;
  if (c.possible.size() == 3) return {};
  return "NAT filtering: " + join(c.possible, " or ") + " (" + c.explanation + ")";
}

}  // namespace

std::vector<std::string> nat_summary_lines(const NatFacts& f) {
  std::vector<std::string> lines;
  auto add = [&lines](std::string s) {
    if (!s.empty()) lines.push_back(std::move(s));
  };
  if (f.topology && f.topology->topology != NatTopology::unknown) add(f.topology->explanation);
  if (f.mapping) add(mapping_line(*f.mapping));
  if (f.filtering) add(filtering_line(*f.filtering, f.loss));
  if (f.port_preservation == true) add("Your NAT keeps source ports unchanged (port preservation).");
  if (f.port_preservation == false) add("Your NAT rewrites source ports.");
  if (f.hairpinning == true) add("Your NAT supports hairpinning (LAN hosts reach each other via the public address).");
  if (f.hairpinning == false)
    add("Your NAT does not hairpin: LAN hosts cannot reach a local VPN server via its public address.");
  const auto lossy = [&f](std::string_view test) {
    return std::any_of(f.evidence.begin(), f.evidence.end(),
                       [&](const Evidence& e) { return e.test == test && !e.concluded; });
  };
  const std::string lost = lost_words(f.loss.per_packet());
  if (!f.hairpinning && lossy("hairpinning")) add("Hairpinning could not be measured: " + lost + ".");
  if (f.lifetime && f.lifetime->measured) {
    const auto& e = *f.lifetime;
    auto advice = keepalive_advice(e);
    const auto s = [](int v) { return std::to_string(v) + " s"; };
    if (e.none_reached) {
      add("Your router dropped idle UDP mappings within " + s(*e.shortest_failed_s) +
          " (or lets nothing back in); a keepalive cannot be derived from this.");
    } else if (e.all_reached && advice && !advice->needed) {
      add("Your router keeps idle UDP mappings at least " + s(*e.longest_working_s) +
          "; the usual keepalives (PersistentKeepalive = 25) are well below it.");
    } else if (advice) {
      std::string l = "Your router keeps idle UDP mappings ";
      if (e.all_reached) l += "at least " + s(advice->basis_s);
      else if (e.consistent) l += "about " + s(advice->basis_s) + " (" + s(*e.shortest_failed_s) + " was too long)";
      else l += "at least " + s(advice->basis_s) + " (results were uneven)";
      l += "; set PersistentKeepalive = " + std::to_string(advice->wireguard_persistent_keepalive_s) + ".";
      add(l);
    } else {
      add(e.explanation);
    }
  }
  if (f.lifetime && !f.lifetime->lossy_gaps_s.empty()) {
    std::string gaps;
    for (std::size_t i = 0; i < f.lifetime->lossy_gaps_s.size(); ++i)
      gaps += (i ? ", " : "") + std::to_string(f.lifetime->lossy_gaps_s[i]) + " s";
    add("Whether idle UDP mappings last " + gaps + " could not be measured: " + lost + ".");
  }
  if (f.path)
    for (const auto& l : f.path->lines) add(l);
  for (const auto& m : f.mtu) {
    if (m.breaks != true) continue;
    std::string l = m.reason;
    if (!m.advice.empty()) l += " Fix: " + m.advice.front() + ".";
    add(l);
  }
  return lines;
}

}  // namespace vpncheck::nat
