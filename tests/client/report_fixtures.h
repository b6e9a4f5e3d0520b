// Whole reports for the reporter tests (JSON and text): one realistic run and
// one run that could not test anything.
#pragma once

#include "client_fixtures.h"
#include "src/report/report.h"
#include "src/verdict/reflector_limits.h"

namespace vpncheck::client::fixtures {

// A run on a hotel network with a DPI box: WireGuard blocked by signature,
// OpenVPN reaching the server on UDP 1194 without answers coming back and
// working only on TCP 443; the reflector does not listen on UDP 53. Run with
// --require wireguard, so the exit code is 1.
inline Report realistic_report() {
  using probes::ProbeVariant;
  using probes::Transport;
  Report r;
  r.started_at = "2024-05-01T12:00:00Z";
  r.duration_ms = 3012;
  r.reflector_host = "reflector.example.net";
  r.reflector_address = "198.51.100.20";
  r.control_port = 8780;
  r.control_attempts = {{8780, "ok"}};
  r.reflector_version = "0.1.0";
  r.observations_read = true;
  r.observations_dropped = 0;
  auto caps = listening_on({51820, 443, 1194}, {1194, 443});
  r.protocols.push_back(assess(wireguard(), scenario(wireguard(), caps, [](const ProbeVariant&, ProbeKind k) {
                                 return k == ProbeKind::control ? Fate::answered : Fate::dropped;
                               }),
                               true));
  r.protocols.push_back(assess(openvpn(), scenario(openvpn(), caps, [](const ProbeVariant& v, ProbeKind k) {
                                 if (is(v, Transport::tcp, 443)) return Fate::answered;
                                 if (is(v, Transport::udp, 1194) && k == ProbeKind::genuine) return Fate::arrived_only;
                                 return Fate::dropped;
                               }),
                               true));
  add_alternatives(r.protocols);
  summarise_client(r, probes::Endpoint{std::string(kLocalAddress), 50000},
                   probes::Endpoint{std::string(kPublicAddress), 50000});
  r.required = {"wireguard"};
  r.exit_code = exit_code_for(r);
  return r;
}

// The reflector could not be reached at all (exit 3).
inline Report error_report() {
  Report r;
  r.started_at = "2024-05-01T12:00:00Z";
  r.duration_ms = 3001;
  r.reflector_host = "reflector.example.net";
  r.reflector_address = "198.51.100.20";
  r.control_attempts = {{8780, "timed out"}, {443, "connection refused"}, {80, "not tried (out of time)"}};
  r.required = {"wireguard"};
  r.error = "could not open a session with the reflector at reflector.example.net: TCP 8780 timed out; "
            "TCP 443 connection refused; TCP 80 not tried (out of time).";
  r.exit_code = exit_code_for(r);
  return r;
}

// A dual-stack home router with an IPv6 firewall (lab profile v6-firewall):
// over IPv4 everything passes; over IPv6 only UDP 443 gets out, so WireGuard
// is restricted (UDP 443) and OpenVPN blocked.
inline Report dual_stack_report() {
  using probes::ProbeVariant;
  using probes::Transport;
  Report r;
  r.started_at = "2024-05-01T12:00:00Z";
  r.duration_ms = 3010;
  r.reflector_host = "reflector.example.net";
  r.reflector_address = "198.51.100.20";
  r.reflector_address_v6 = "2001:db8:2::5";
  r.control_port = 8780;
  r.control_attempts = {{8780, "ok"}};
  r.reflector_version = "0.1.0";
  r.observations_read = true;
  auto caps = listening_on({51820, 443, 53, 1194}, {1194, 443});
  auto v6_firewall = [](const ProbeVariant& v, ProbeKind) {
    return is(v, Transport::udp, 443) ? Fate::answered : Fate::dropped;
  };
  for (const auto* module : {&wireguard(), &openvpn()})
    r.protocols.push_back(
        assess_families(*module, dual_stack_scenario(*module, caps, everything(Fate::answered), v6_firewall), true));
  add_alternatives(r.protocols);
  summarise_client(r, probes::Endpoint{std::string(kLocalAddress), 50000},
                   probes::Endpoint{std::string(kPublicAddress), 50000});
  r.exit_code = exit_code_for(r);
  return r;
}

// A neighbour behind the same NAT had drained the reflector's rate limit:
// WireGuard's probes all arrived, their answers were held back (reply code
// rate_limited); OpenVPN on UDP 1194 was answered and works.
inline Report rate_limited_report() {
  Report r;
  r.started_at = "2024-05-01T12:00:00Z";
  r.duration_ms = 1500;
  r.reflector_host = "reflector.example.net";
  r.reflector_address = "198.51.100.20";
  r.control_port = 8780;
  r.control_attempts = {{8780, "ok"}};
  r.observations_read = true;
  r.reflector_limits = {{"rate_limit", 6, {51820, 443}, "answers withheld: over --rate-limit"},
                        {"connection_slots", 2, {1723}, "TCP connections refused"}};
  auto caps = listening_on({51820, 443, 53, 1194}, {});
  auto wg = scenario(wireguard(), caps, everything(Fate::arrived_only));
  for (auto& p : wg)
    for (auto& a : p.arrivals) a.reply = {false, "", 0, "rate limited", std::string(probes::reply_code::kRateLimited)};
  r.protocols.push_back(assess(wireguard(), wg, true));
  r.protocols.push_back(assess(openvpn(), scenario(openvpn(), caps, everything(Fate::answered)), true));
  add_alternatives(r.protocols);
  apply_reflector_limits(r.protocols, r.reflector_limits);
  summarise_client(r, probes::Endpoint{std::string(kLocalAddress), 50000},
                   probes::Endpoint{std::string(kPublicAddress), 50000});
  r.required = {"wireguard"};
  r.exit_code = exit_code_for(r);
  return r;
}

// The realistic run with one index per probe across protocols, as one plan
// numbers them (each scenario's plan starts at 0).
inline Report realistic_run() {
  Report r = realistic_report();
  std::uint16_t next = 0;
  for (auto& a : r.protocols) {
    for (auto& p : a.probes) p.probe.index = next++;
    for (auto& f : a.families)
      for (std::size_t i = 0; i < f.probes.size() && i < a.probes.size(); ++i) f.probes[i].probe.index = a.probes[i].probe.index;
  }
  return r;
}

// The plan position of `protocol`'s genuine probe on `transport` `port` in `r`.
inline std::size_t genuine_position(const Report& r, std::string_view protocol, probes::Transport transport,
                                    std::uint16_t port) {
  for (const auto& a : r.protocols)
    for (const auto& p : a.probes)
      if (a.id() == protocol && p.probe.kind == ProbeKind::genuine && is(p.probe.variant, transport, port))
        return p.probe.index;
  return std::size_t(-1);
}

// The realistic run, with WireGuard's UDP 51820 probe walked: the home router
// (192.168.1.1, the gateway) forwards it, `dropper` at hop 2 does not, the
// reflector answers the control one hop further.
inline Report walked_report(const std::string& dropper = "100.64.0.1", int drop_hop = 2) {
  using Kind = nat::WalkAnswer::Kind;
  Report r = realistic_run();
  std::vector<nat::WalkStep> steps;
  const std::vector<std::string> hops{"192.168.1.1", dropper};
  for (int ttl = 1; ttl <= 3; ++ttl) {
    nat::WalkStep s{ttl, {}, {}};
    if (ttl <= 2) s.control = {Kind::time_exceeded, hops[static_cast<std::size_t>(ttl - 1)]};
    else s.control = {Kind::destination, r.reflector_address};
    if (ttl <= drop_hop) s.genuine = s.control;
    steps.push_back(s);
  }
  std::map<std::size_t, std::vector<nat::WalkStep>> walks{
      {genuine_position(r, "wireguard", probes::Transport::udp, 51820), steps}};
  apply_path_walks(r, walks, std::string("192.168.1.1"));
  return r;
}

}  // namespace vpncheck::client::fixtures
