// The registry: one line per protocol module. Client plan, reflector demux and
// --list-probes are all driven from here.
#pragma once

#include <span>
#include <string_view>

#include "probes/probe.h"

namespace vpncheck::probes {

std::span<const ProtocolModule* const> all_protocols();
const ProtocolModule* find_protocol(std::string_view id);

}  // namespace vpncheck::probes
