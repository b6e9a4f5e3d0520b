// The path test's consequence for verdicts (issue #5): a protocol whose
// handshake passes over UDP but whose default full-size packets would be
// dropped on this path (they need IP fragments, which the path drops, or
// exceed its MTU) is not `pass` but `restricted`, with the setting that fixes
// it (OpenVPN tun-mtu/mssfix, WireGuard MTU). The path test runs over IPv4,
// so only IPv4 verdicts change. IPsec is left to its own rule: its large-IKE
// piece already measures fragments for what IKE needs, and ESP tunnels pass
// full-size packets in the agreement tests here (strongSwan), so a global
// downgrade would contradict the real software.
// Only strong evidence changes a verdict (the advice's chance_by_loss below
// nat::kChanceThreshold); when the path test could not decide because the
// path lost too much, a passing verdict stays and its summary says that
// full-size packets could not be checked.
// Pure; unit-tested with hand-built assessments.
#pragma once

#include <vector>

#include "src/nat/behaviour.h"
#include "src/verdict/verdict.h"

namespace vpncheck::client {

void apply_path_mtu(std::vector<ProtocolAssessment>& assessments, const std::vector<nat::ProtocolMtuAdvice>& advice);

}  // namespace vpncheck::client
