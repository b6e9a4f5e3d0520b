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

}  // namespace vpncheck::client::fixtures
