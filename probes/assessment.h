// The vocabulary of verdicts, shared by the generic verdict engine
// (src/verdict) and the rules of protocols made of pieces (ProtocolModule::
// assess): what happened to one planned probe at both ends, the verdict and
// finding codes, and the predicates every rule asks of a result. Pure data and
// pure functions; no I/O.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probes/observation.h"
#include "probes/outcome.h"
#include "probes/probe.h"

namespace vpncheck::probes {

struct DerivedProtocol;  // probes/registry.h

// ---------------------------------------------------------------- the plan's unit

enum class ProbeKind { genuine, control };
std::string_view to_string(ProbeKind kind);

// The IP family a probe travels over; the plan runs once per tested family.
enum class Family { ipv4, ipv6 };
std::string_view to_string(Family f);     // "ipv4" / "ipv6" (report field values)
std::string_view display_name(Family f);  // "IPv4" / "IPv6"

// One probe of the plan: for every variant, one genuine probe and one
// same-size random control probe, each with its own index.
struct PlannedProbe {
  std::uint16_t index = 0;
  const ProtocolModule* module = nullptr;
  ProbeVariant variant{};
  ProbeKind kind = ProbeKind::genuine;
  // Set when the probe cannot run (e.g. the reflector does not listen there).
  std::optional<std::string> not_run_reason;
  Family family = Family::ipv4;

  std::string name() const;  // "wireguard/udp/51820" or ".../control"
};

// ---------------------------------------------------------------- what happened to it


// Raw probes need CAP_NET_RAW; without it the outcome is not_permitted and
// this is its detail.
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

// The data phase as the client saw it (ProtocolModule::data_phase): every
// data packet it sent after the handshake was answered, in send order.
struct DataSent {
  std::uint32_t sequence = 0;
  std::size_t size = 0;  // UDP payload, or IP payload at a raw IP place
  double sent_ms = 0;    // from the data phase's start
  bool echoed = false;   // the reflector's echo of it came back
  bool operator==(const DataSent&) const = default;
};
struct DataPhaseResult {
  std::size_t small_size = 0;  // the two sizes sent (as DataSent::size)
  std::size_t full_size = 0;
  std::vector<DataSent> sent;
  std::string detail;  // a local problem that cut it short (e.g. a socket error)
  bool operator==(const DataPhaseResult&) const = default;
};

struct ClientSide {
  Outcome outcome = Outcome::not_run;
  std::optional<Endpoint> local;  // our socket's address and port
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
  Fields reply_fields;  // facts decoded from the answer (ProtocolModule::inspect_reply)
  // Datagram exchanges: one entry per message of the exchange, in order (the
  // unanswered one last). TCP: the connection attempts as entry 0, then one
  // entry per message whose tries count the kernel's retransmissions.
  std::vector<StepAttempts> attempts;
  // Set when the data phase ran after this probe's handshake.
  std::optional<DataPhaseResult> data;
};

// What happened to one probe, from both ends: what the client saw (reply or
// not, and how it failed) and what the reflector observed arriving.
struct ProbeResult {
  PlannedProbe probe;
  ClientSide client;
  std::vector<Observation> arrivals;  // reflector records for this probe index
  // The reflector's records of this probe's data packets (Observation kind
  // "data", its `sequence` field), kept apart: they are not the probe's messages.
  std::vector<Observation> data_arrivals;
};

// ---------------------------------------------------------------- verdicts

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
// The handshake was answered, but no data packet of any size passed after it
// (or the first few did, then none): a box acting after the handshake.
inline constexpr std::string_view kDataDroppedAfterHandshake = "data_dropped_after_handshake";
// Which way the data packets of the failing data-phase finding were lost:
// towards the reflector, or on the way back.
inline constexpr std::string_view kUploadLost = "upload_lost";
inline constexpr std::string_view kDownloadLost = "download_lost";
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

// A protocol people configure in several wire forms that look different on
// the wire (OpenVPN: plain, tls-auth, tls-crypt, ...), tried in each: the
// verdict of one form over all its places.
struct FormAssessment {
  std::string form;  // the form's name in reports: "plain", "tls-crypt"
  Verdict verdict = Verdict::inconclusive;
  std::string summary;
  std::optional<ProbeVariant> working_variant;  // the place it passed, if any
};

struct ProtocolAssessment {
  // The protocol judged: a probed module, or (module == nullptr) a protocol
  // derived from others' assessments.
  const ProtocolModule* module = nullptr;
  const DerivedProtocol* derived = nullptr;
  Verdict verdict = Verdict::inconclusive;
  std::string summary;
  std::vector<std::string> advice;
  std::vector<std::string> findings;
  std::optional<ProbeVariant> working_variant;  // the one that passed, if any
  // The places whose data phase counts (ProtocolModule::data_phase), set by a
  // rule that knows which one the real software uses (IPsec: raw ESP without
  // a NAT, NAT-T behind one); where none of them ran one, nothing is judged.
  // Empty: the working variant's, else every place's.
  std::vector<ProbeVariant> data_variants;
  std::vector<ProbeResult> probes;
  // Dual stack: one assessment per tested family (ipv4 first), each with only
  // that family's probes. This assessment's own verdict is then the IPv4 one
  // when IPv4 was tested, else the IPv6 one; `probes` holds every family's.
  std::vector<ProtocolAssessment> families;
  std::optional<Family> family;  // set on the entries of `families`
  // Set on failing verdicts once checked against the path's loss.
  std::optional<LossCheck> loss_check;
  // Protocols tried in several forms: one entry per form, in the module's
  // order; the verdict above combines them. Empty otherwise.
  std::vector<FormAssessment> forms;

  // The report's name and title, from the module or the derived protocol ("" for neither).
  std::string_view id() const;
  std::string_view title() const;
};

// ---------------------------------------------------------------- what rules ask of a result

// Did the reflector see it? A valid reply proves it did even when the
// observations could not be read.
bool reached_reflector(const ProbeResult& r);
bool answered(const ProbeResult& r);
bool was_tested(const ProbeResult& r);  // sent at all (not skipped, not refused a privilege)
// Not run because the reflector could not bind the port (another program holds it).
bool reflector_could_not_listen(const ProbeResult& r);
inline constexpr std::string_view kFreeReflectorPortAdvice =
    "Free that port on the reflector's host (or run the reflector on another host) and test again.";
std::string describe(const ProbeVariant& v);  // "UDP 51820"
// A TLS-wrapped probe that met another certificate than the reflector's
// (its client side's reply_fields say tls_intercepted).
bool tls_intercepted(const ProbeResult& r);
// Multi-message exchanges: some steps were answered, then one was not.
bool stopped_midway(const ProbeResult& r);
// How many different messages of this probe the reflector saw (retransmissions count once).
std::size_t messages_arrived(const ProbeResult& r);

// "0.4 ms", "23 ms": round trips in summaries.
std::string format_ms(double ms);
// Findings and advice are lists without repeats.
inline void add_unique(std::vector<std::string>& list, std::string_view item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.emplace_back(item);
}

}  // namespace vpncheck::probes
