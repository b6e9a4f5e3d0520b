// How one probe (or one piece of a protocol) ended, as the client saw it:
// shared by the conversations that produce it (probes/conversation.h) and the
// verdict rules that judge it (probes/assessment.h).
#pragma once

#include <string_view>

namespace vpncheck::probes {

// Network results are data, not exceptions (a closed set of outcomes).
enum class Outcome {
  reply,            // a valid in-protocol answer came back
  invalid_reply,    // something came back, but not a valid answer to this probe
  timeout,          // nothing came back before the deadline
  refused,          // TCP RST to our SYN / ICMP port unreachable
  reset,            // TCP connection reset after we sent the probe
  unreachable,      // ICMP host/network unreachable, no route
  not_run,          // never sent (see PlannedProbe::not_run_reason)
  local_error,      // could not even send (socket error)
  not_permitted,    // needs a privilege this process lacks (CAP_NET_RAW for raw IP)
};
std::string_view to_string(Outcome o);

}  // namespace vpncheck::probes
