// What happened to one probe, from both ends: what the client saw (reply or
// not, and how it failed) and what the reflector observed arriving.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probes/observation.h"
#include "src/run/plan.h"

namespace vpncheck::client {

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

struct ClientSide {
  Outcome outcome = Outcome::not_run;
  std::optional<probes::Endpoint> local;  // our socket's address and port
  std::string sent_sha256;
  std::size_t sent_length = 0;
  std::optional<double> rtt_ms;
  std::size_t sends = 0;  // including the one retransmission on UDP
  std::string detail;     // error text for local_error etc.
  std::size_t steps_answered = 0;  // multi-message exchanges: how many steps got a valid answer
  probes::Fields reply_fields;     // facts decoded from the answer (ProtocolModule::inspect_reply)
};

struct ProbeResult {
  PlannedProbe probe;
  ClientSide client;
  std::vector<probes::Observation> arrivals;  // reflector records for this probe index
};

}  // namespace vpncheck::client
