// What happened to one probe, from both ends: what the client saw (reply or
// not, and how it failed) and what the reflector observed arriving.
#pragma once

#include <optional>
#include <string>
#include <string_view>
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

// Raw probes need CAP_NET_RAW; without it the outcome is not_permitted and
// this is the detail (and the verdicts' advice).
inline constexpr std::string_view kRawPrivilegeHint =
    "raw IP probes need CAP_NET_RAW: run as root, or grant it once with "
    "'sudo setcap cap_net_raw+ep \"$(command -v vpncheck)\"'";

// What happened to one message of an exchange (a datagram, or a TCP
// connection attempt): when each try went out and when a valid answer came
// back, in ms from the exchange's start. The loss evidence
// (src/verdict/evidence.h) is computed from these.
struct StepAttempts {
  std::vector<double> sent_ms;
  std::optional<double> answered_ms;
  bool operator==(const StepAttempts&) const = default;
};

struct ClientSide {
  Outcome outcome = Outcome::not_run;
  std::optional<probes::Endpoint> local;  // our socket's address and port
  std::string sent_sha256;
  std::size_t sent_length = 0;
  std::optional<double> rtt_ms;
  std::size_t sends = 0;  // every message on the wire, retransmissions included
  std::string detail;     // error text for local_error etc.
  std::size_t steps_answered = 0;  // multi-message exchanges: how many steps got a valid answer
  // Multi-message exchanges: digests of the messages sent after the first
  // (whose digest is sent_sha256), in order; an arrival matching any of them
  // arrived unchanged.
  std::vector<std::string> later_sent_sha256;
  probes::Fields reply_fields;     // facts decoded from the answer (ProtocolModule::inspect_reply)
  // Datagram exchanges: one entry per message of the exchange, in order (the
  // unanswered one last). TCP: the connection attempts as entry 0, then one
  // entry per message whose tries count the kernel's retransmissions.
  std::vector<StepAttempts> attempts;
};

struct ProbeResult {
  PlannedProbe probe;
  ClientSide client;
  std::vector<probes::Observation> arrivals;  // reflector records for this probe index
};

}  // namespace vpncheck::client
