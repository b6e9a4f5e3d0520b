// The path test's consequence for verdicts: a protocol whose handshake
// passes over UDP but whose default full-size packets would be dropped on
// this path is not `pass` but `restricted`, with the setting that fixes it
// (OpenVPN tun-mtu/mssfix, WireGuard MTU, IPsec's inner MTU). Dropped means:
// they need IP fragments, which the path drops, or they exceed the path MTU
// of a path-MTU black hole (no ICMP "fragmentation needed") and their sender
// sets DF (nat::mtu_advice says which do). A path whose routers report its
// MTU penalises no one for its size. The path test runs over IPv4, so only
// IPv4 verdicts change. IKE_AUTH needing fragments is left to IPsec's own
// rule (its large-IKE piece measures that).
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
