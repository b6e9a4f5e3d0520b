// The report's view of the NAT behaviour tests: plain data, no I/O. The tests
// themselves and assess_nat(), which fills this in, are nat_runner.h.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/nat/behaviour.h"

namespace vpncheck::nat {

struct NatAssessment {
  bool ran = false;
  Classification mapping;
  Classification filtering;
  std::optional<bool> port_preservation;
  std::optional<LifetimeEstimate> lifetime;  // set when the lifetime test ran
  std::optional<KeepaliveAdvice> keepalive;
  std::optional<bool> hairpinning;
  std::optional<PathAssessment> path;   // set when the path test ran
  std::vector<ProtocolMtuAdvice> mtu;   // what the path means for each protocol's default packet size
  LossEstimate loss;                    // what the tests measured
  std::vector<Evidence> evidence;       // every "no" weighed against it, concluded or not
  std::string note;  // why nothing could be measured, when !ran or !reached
};

}  // namespace vpncheck::nat
