#include "src/run/plan.h"

#include <algorithm>

#include "probes/registry.h"

namespace vpncheck::client {

std::string_view to_string(ProbeKind kind) { return kind == ProbeKind::genuine ? "genuine" : "control"; }

std::string PlannedProbe::name() const {
  std::string out = std::string(module->id) + "/" + std::string(probes::to_string(variant.transport)) +
                    "/" + std::to_string(variant.port);
  if (kind == ProbeKind::control) out += "/control";
  return out;
}

std::optional<std::vector<const probes::ProtocolModule*>> select_protocols(
    const std::vector<std::string>& ids, std::string& error) {
  std::vector<const probes::ProtocolModule*> out;
  for (const auto* module : probes::all_protocols()) {
    if (ids.empty() || std::find(ids.begin(), ids.end(), module->id) != ids.end()) out.push_back(module);
  }
  for (const auto& id : ids) {
    if (!probes::find_protocol(id)) {
      error = "unknown protocol '" + id + "' (see --list-probes)";
      return std::nullopt;
    }
  }
  return out;
}

std::vector<PlannedProbe> make_plan(const std::vector<const probes::ProtocolModule*>& protocols,
                                    const probes::Capabilities& reflector) {
  std::vector<PlannedProbe> plan;
  std::uint16_t next_index = 0;
  for (const auto* module : protocols) {
    for (const auto& variant : module->variants) {
      const auto& ports = variant.transport == probes::Transport::udp ? reflector.udp_ports : reflector.tcp_ports;
      bool listening = std::find(ports.begin(), ports.end(), variant.port) != ports.end();
      for (auto kind : {ProbeKind::genuine, ProbeKind::control}) {
        PlannedProbe probe{next_index++, module, variant, kind, std::nullopt};
        if (!listening)
          probe.not_run_reason = "the reflector does not listen on " +
                                 std::string(probes::to_string(variant.transport)) + " " +
                                 std::to_string(variant.port);
        plan.push_back(std::move(probe));
      }
    }
  }
  return plan;
}

}  // namespace vpncheck::client
