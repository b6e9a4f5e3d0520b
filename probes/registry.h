// The registry: one line per protocol module. Client plan, reflector demux and
// --list-probes are all driven from here. Protocols derived from others'
// results (no probes of their own) are listed apart.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "probes/probe.h"

namespace vpncheck::probes {

std::span<const ProtocolModule* const> all_protocols();
const ProtocolModule* find_protocol(std::string_view id);

// Every distinct stream framing the modules' TCP variants name, in registry
// order: what the reflector's TCP listener asks which protocol a stream is.
// Those of plain TCP variants, or (inside_tls) of TLS-wrapped ones, which
// claim only what arrives inside a TLS session the reflector terminated.
std::span<const StreamFraming* const> stream_framings(bool inside_tls = false);

// Every port some module's variant of `transport` uses (UDP/TCP), ascending:
// the reflector listens on these by default, so a module's new variant is
// served without naming its port anywhere else.
std::vector<std::uint16_t> variant_ports(Transport transport);

struct ProtocolAssessment;  // probes/assessment.h

// A protocol vpncheck sends nothing for, judged from the assessments of
// probed ones (L2TP/IPsec, from l2tp and ipsec). Not a ProtocolModule: it has
// no variants and no codec; selecting what it is derived from selects it.
struct DerivedProtocol {
  std::string_view id;           // stable report name: "l2tp-ipsec"
  std::string_view title;        // "L2TP/IPsec"
  std::string_view description;  // one line
  std::span<const std::string_view> from;  // ids of the probed protocols, in the order `combine` takes them
  // Client: its assessment from theirs (in the order of `from`). `behind_nat`:
  // whether a NAT was on the way (nullopt when unknown).
  ProtocolAssessment (*combine)(std::span<const ProtocolAssessment* const> from, std::optional<bool> behind_nat);
};

std::span<const DerivedProtocol* const> derived_protocols();
const DerivedProtocol* find_derived_protocol(std::string_view id);

}  // namespace vpncheck::probes
