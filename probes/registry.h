// The registry: one line per protocol module. Client plan, reflector demux and
// --list-probes are all driven from here.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "probes/probe.h"

namespace vpncheck::probes {

std::span<const ProtocolModule* const> all_protocols();
const ProtocolModule* find_protocol(std::string_view id);

// Every distinct stream framing the modules' TCP variants name, in registry
// order: what the reflector's TCP listener asks which protocol a stream is.
std::span<const StreamFraming* const> stream_framings();

// Every port some module's variant of `transport` uses (UDP/TCP), ascending:
// the reflector listens on these by default, so a module's new variant is
// served without naming its port anywhere else.
std::vector<std::uint16_t> variant_ports(Transport transport);

}  // namespace vpncheck::probes
