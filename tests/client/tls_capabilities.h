// Capabilities of a current reflector for plan and runner tests: the
// fixtures' ports, and the certificate fingerprint it publishes, without
// which TLS-wrapped variants are not run (src/run/plan.cpp).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "client_fixtures.h"

namespace vpncheck::client::fixtures {

inline probes::Capabilities with_tls(probes::Capabilities caps) {
  caps.tls_certificate_sha256 = std::string(64, 'd');
  return caps;
}
inline probes::Capabilities listening_everywhere_with_tls() { return with_tls(listening_everywhere()); }
inline probes::Capabilities listening_on_with_tls(std::vector<std::uint16_t> udp, std::vector<std::uint16_t> tcp) {
  return with_tls(listening_on(std::move(udp), std::move(tcp)));
}

}  // namespace vpncheck::client::fixtures
