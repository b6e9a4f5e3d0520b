#include "probes/registry.h"

#include <array>

#include "probes/openvpn.h"
#include "probes/wireguard.h"

namespace vpncheck::probes {
namespace {

constexpr std::array<const ProtocolModule*, 2> kProtocols{
    &wireguard::kModule,
    &openvpn::kModule,
};

}  // namespace

std::span<const ProtocolModule* const> all_protocols() { return kProtocols; }

const ProtocolModule* find_protocol(std::string_view id) {
  for (const auto* module : kProtocols)
    if (module->id == id) return module;
  return nullptr;
}

std::string_view to_string(Transport t) { return t == Transport::udp ? "udp" : "tcp"; }

std::optional<Transport> transport_from_string(std::string_view s) {
  if (s == "udp") return Transport::udp;
  if (s == "tcp") return Transport::tcp;
  return std::nullopt;
}

}  // namespace vpncheck::probes
