#include "src/report/report.h"

#include <algorithm>

#include "src/verdict/translation.h"

namespace vpncheck::client {

ExitCode exit_code_for(const Report& report) {
  if (report.error) return ExitCode::could_not_test;
  for (const auto& id : report.required) {
    auto it = std::find_if(report.protocols.begin(), report.protocols.end(),
                           [&](const ProtocolAssessment& a) { return a.module->id == id; });
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

}  // namespace vpncheck::client
