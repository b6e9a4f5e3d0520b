// The verdict engine: pure functions from probe results to one verdict per
// protocol, with a sentence a person understands and concrete advice.
// Verdict meanings are DESIGN.md's, Contract 3.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "src/run/result.h"

namespace vpncheck::client {

enum class Verdict { pass, restricted, outbound_only, blocked, modified, inconclusive };
std::string_view to_string(Verdict v);

// Stable machine-readable finding codes (part of the report schema).
namespace finding {
inline constexpr std::string_view kSignatureBlocking = "signature_blocking";
inline constexpr std::string_view kPortBlocking = "port_blocking";
inline constexpr std::string_view kReturnPathBlocked = "return_path_blocked";
inline constexpr std::string_view kPayloadModified = "payload_modified";
inline constexpr std::string_view kConnectionReset = "connection_reset";
inline constexpr std::string_view kReplyAltered = "reply_altered";
// A multi-message exchange (L2TP) was answered part way, then stopped.
inline constexpr std::string_view kExchangeIncomplete = "exchange_incomplete";
// A large, IP-fragmented message was lost while small ones of the same protocol pass.
inline constexpr std::string_view kFragmentsDropped = "fragments_dropped";
// AH arrived with a broken integrity check (a NAT rewrote the addresses it covers).
inline constexpr std::string_view kAhModified = "ah_modified";
// The handshake passes, but the protocol's default full-size packets would be
// dropped on this path (fragments dropped, or the path MTU too small).
inline constexpr std::string_view kFullSizePacketsDropped = "full_size_packets_dropped";
// The reflector limited its answers (rate limit, full tables, connection
// slots): the failures say nothing about the network (src/verdict/reflector_limits.h).
inline constexpr std::string_view kReflectorLimited = "reflector_limited";
// A TLS-wrapped probe met a certificate other than the one the reflector
// published: a middlebox terminates TLS on the path (src/run/tls_client.h).
inline constexpr std::string_view kTlsIntercepted = "tls_intercepted";
}  // namespace finding

// How a failing verdict stood up to the path's measured loss (src/verdict/evidence.h).
struct LossCheck {
  double loss = 0;    // the per-packet loss measured on the path
  double chance = 0;  // the likeliest failed probe's chance of failing so by loss alone
  std::optional<Verdict> withheld;  // the failing verdict the evidence was too weak for
};

struct ProtocolAssessment {
  const probes::ProtocolModule* module = nullptr;
  Verdict verdict = Verdict::inconclusive;
  std::string summary;
  std::vector<std::string> advice;
  std::vector<std::string> findings;
  std::optional<probes::ProbeVariant> working_variant;  // the one that passed, if any
  std::vector<ProbeResult> probes;
  // Dual stack: one assessment per tested family (ipv4 first), each with only
  // that family's probes. This assessment's own verdict is then the IPv4 one
  // when IPv4 was tested, else the IPv6 one; `probes` holds every family's.
  std::vector<ProtocolAssessment> families;
  std::optional<Family> family;  // set on the entries of `families`
  // Set on failing verdicts once checked against the path's loss.
  std::optional<LossCheck> loss_check;
};

// Assesses each family's probes on their own and combines them as described at
// ProtocolAssessment::families (one family: its assessment, families = {it}).
ProtocolAssessment assess_families(const probes::ProtocolModule& module, const std::vector<ProbeResult>& results,
                                   bool observations_read);

// Did the reflector see it? A valid reply proves it did even when the
// observations could not be read.
bool reached_reflector(const ProbeResult& r);
bool answered(const ProbeResult& r);
bool was_tested(const ProbeResult& r);  // sent at all (not skipped, not refused a privilege)
// Not run because the reflector could not bind the port (another program holds it).
bool reflector_could_not_listen(const ProbeResult& r);
inline constexpr std::string_view kFreeReflectorPortAdvice =
    "Free that port on the reflector's host (or run the reflector on another host) and test again.";
std::string describe(const probes::ProbeVariant& v);  // "UDP 51820"
// A TLS-wrapped probe that met another certificate than the reflector's (Exchange::tls_pin).
bool tls_intercepted(const ProbeResult& r);
// Multi-message exchanges: some steps were answered, then one was not.
bool stopped_midway(const ProbeResult& r);
// How many different messages of this probe the reflector saw (retransmissions count once).
std::size_t messages_arrived(const ProbeResult& r);

// `results` are this protocol's probe results (genuine and control, every variant).
// `observations_read` says whether the reflector's observations were available.
// Dispatches to the protocol's piecewise assessor when it has one, else
// assess_alternatives.
ProtocolAssessment assess(const probes::ProtocolModule& module, std::vector<ProbeResult> results,
                          bool observations_read);

// The rule for protocols whose variants are alternatives to one standard
// form (WireGuard, OpenVPN): pass on the standard one, restricted when only
// a fallback works, and so on (DESIGN.md, Contract 3).
ProtocolAssessment assess_alternatives(const probes::ProtocolModule& module, std::vector<ProbeResult> results,
                                       bool observations_read);

// Protocols made of pieces that must all work (IPsec: IKE and, behind NAT,
// NAT-T) have a rule of their own, in src/verdict/<protocol>_verdict.cpp,
// listed in src/verdict/piecewise.cpp. nullptr: none.
using PiecewiseAssessor = ProtocolAssessment (*)(const probes::ProtocolModule& module,
                                                 std::vector<ProbeResult> results, bool observations_read);
PiecewiseAssessor find_piecewise_assessor(std::string_view protocol_id);

// Adds "what works instead" advice to every protocol that did not pass.
void add_alternatives(std::vector<ProtocolAssessment>& assessments);

}  // namespace vpncheck::client
