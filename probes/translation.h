// The translation report: a pure diff between what the client sent and what
// the reflector saw arrive (as tracebox does for header fields).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probes/assessment.h"

namespace vpncheck::probes {

struct Translation {
  std::optional<Endpoint> sent_from;    // local socket
  std::optional<Endpoint> observed_as;  // source at the reflector
  bool address_translated = false;
  bool port_translated = false;
  bool payload_modified = false;
  std::optional<int> ttl_at_reflector;
  std::optional<int> tos_at_reflector;
  std::vector<std::string> modifications;  // human-readable, e.g. "source port 40000 -> 61234"
};

// nullopt when the reflector saw nothing for this probe.
std::optional<Translation> translate(const ProbeResult& result);

}  // namespace vpncheck::probes
