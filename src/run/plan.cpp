#include "src/run/plan.h"

#include <algorithm>

#include "probes/ip.h"
#include "probes/registry.h"

namespace vpncheck::client {

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

bool raw_runs_over_ipv6(const probes::ProbeVariant& variant) {
  if (variant.transport != probes::Transport::ip) return false;
  const auto* raw = probes::ip::raw_protocol(variant.port);
  return raw && raw->over_ipv6;
}

std::vector<PlannedProbe> make_plan(const std::vector<const probes::ProtocolModule*>& protocols,
                                    const probes::Capabilities& reflector, Family family,
                                    std::uint16_t first_index) {
  std::vector<PlannedProbe> plan;
  std::uint16_t next_index = first_index;
  for (const auto* module : protocols) {
    for (const auto& variant : module->variants) {
      std::optional<std::string> not_run;
      if (variant.transport == probes::Transport::ip) {
        auto name = probes::ip_protocol_name(variant.port);
        const auto& raw = family == Family::ipv6 ? reflector.raw_protocols_v6 : reflector.raw_protocols;
        if (family == Family::ipv6 && !raw_runs_over_ipv6(variant))
          not_run = probes::describe_place(variant) + " is not yet tested over IPv6 (IPv4 only)";
        else if (std::find(raw.begin(), raw.end(), name) == raw.end())
          not_run = "the reflector has no raw " + probes::describe_place(variant) +
                    (family == Family::ipv6 ? " listener over IPv6" : " listener") + " (it needs CAP_NET_RAW)";
      } else {
        const auto& ports = variant.transport == probes::Transport::udp ? reflector.udp_ports : reflector.tcp_ports;
        if (std::find(ports.begin(), ports.end(), variant.port) == ports.end()) {
          auto unavailable = std::find_if(reflector.unavailable_ports.begin(), reflector.unavailable_ports.end(),
                                          [&](const probes::UnavailablePort& u) {
                                            return u.transport == variant.transport && u.port == variant.port;
                                          });
          if (unavailable != reflector.unavailable_ports.end())
            not_run = "the reflector could not listen on " + probes::describe_place(variant) +
                      (unavailable->reason.empty() ? "" : ": " + unavailable->reason);
          else
            not_run = "the reflector does not listen on " + std::string(probes::to_string(variant.transport)) + " " +
                      std::to_string(variant.port);
        } else if (variant.tls && !reflector.tls_certificate_sha256) {
          // Nothing to pin: a handshake could not tell the reflector from an interceptor.
          not_run = "the reflector offers no TLS on TCP " + std::to_string(variant.port) +
                    " (it publishes no certificate fingerprint; an older reflector?)";
        }
      }
      if (!not_run && variant.reflector_must_list) {
        const std::string listed = std::string(module->id) + "/" + std::string(variant.piece);
        if (std::find(reflector.pieces.begin(), reflector.pieces.end(), listed) == reflector.pieces.end())
          not_run = "the reflector does not recognise this " + std::string(module->title) +
                    " probe (an older vpncheck-reflector)";
      }
      // Raw IP protocols are told apart by their protocol number alone, so a
      // same-size random control probe would prove nothing there.
      const bool with_control = variant.transport != probes::Transport::ip;
      for (auto kind : {ProbeKind::genuine, ProbeKind::control}) {
        if (kind == ProbeKind::control && !with_control) continue;
        PlannedProbe probe{next_index++, module, variant, kind, not_run, family};
        plan.push_back(std::move(probe));
      }
    }
  }
  return plan;
}

std::vector<PlannedProbe> make_plan(const std::vector<const probes::ProtocolModule*>& protocols,
                                    const probes::Capabilities& reflector, const std::vector<Family>& families) {
  std::vector<PlannedProbe> plan;
  for (auto family : families) {
    auto part = make_plan(protocols, reflector, family, static_cast<std::uint16_t>(plan.size()));
    plan.insert(plan.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  return plan;
}

}  // namespace vpncheck::client
