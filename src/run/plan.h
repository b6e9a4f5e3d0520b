// The probe plan: for every selected protocol and every variant (transport,
// port), one genuine probe and one same-size random control probe, each with
// its own index (and, at run time, its own socket, hence its own 5-tuple).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probes/assessment.h"
#include "probes/observation.h"
#include "probes/probe.h"

namespace vpncheck::client {

// The plan's unit and its vocabulary live with the verdict vocabulary (probes/assessment.h).
using probes::display_name;
using probes::Family;
using probes::PlannedProbe;
using probes::ProbeKind;
using probes::to_string;

// Whether a raw IP variant runs over IPv6 (ESP, AH and PPTP's GRE).
// Over IPv6 it then also needs the reflector to offer it in raw_protocols_v6.
bool raw_runs_over_ipv6(const probes::ProbeVariant& variant);

// Protocol ids in registry order; nullopt + error when an id is unknown.
std::optional<std::vector<const probes::ProtocolModule*>> select_protocols(
    const std::vector<std::string>& ids, std::string& error);

// Indices start at `first_index`, so plans for several families can run in one
// session with every probe index unique (the reflector attributes by tag + index).
std::vector<PlannedProbe> make_plan(const std::vector<const probes::ProtocolModule*>& protocols,
                                    const probes::Capabilities& reflector, Family family = Family::ipv4,
                                    std::uint16_t first_index = 0);

// One plan per family, in the order given, indices unique across all of them.
std::vector<PlannedProbe> make_plan(const std::vector<const probes::ProtocolModule*>& protocols,
                                    const probes::Capabilities& reflector, const std::vector<Family>& families);

}  // namespace vpncheck::client
