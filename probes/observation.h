// Contract 2 (DESIGN.md): what the reflector reports. These types and their
// JSON form are shared by the reflector (which writes them) and the client
// (which reads them and must survive any garbage a network hands it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "probes/probe.h"

namespace vpncheck::probes {

constexpr std::string_view kControlApiVersion = "v1";

struct Endpoint {
  std::string address;
  std::uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

// A probe port the reflector was configured for but could not listen on (e.g.
// UDP 53 held by a local DNS resolver): its probes cannot run, which says
// nothing about the network.
struct UnavailablePort {
  Transport transport = Transport::udp;
  std::uint16_t port = 0;
  std::string reason;  // e.g. "address in use (another program listens there)"
  bool operator==(const UnavailablePort&) const = default;
};

struct Capabilities {
  std::vector<std::uint16_t> udp_ports;
  std::vector<std::uint16_t> tcp_ports;
  std::vector<std::string> raw_protocols;        // e.g. "esp", "gre" once raw listeners exist (IPv4)
  // Raw protocols the reflector answers over IPv6 ("esp", "ah", "gre"). Absent from an
  // older reflector's answer: then no raw probe runs over IPv6.
  std::vector<std::string> raw_protocols_v6;
  std::optional<std::string> alternate_address;  // RFC 5780-style second address
  std::vector<std::uint16_t> nat_ports;          // NAT test service: primary[, alternate] (IPv4)
  std::optional<std::string> wireguard_public_key_hex;
  // GET /v1/challenge/{token} is served (captive-portal detection); false from an older reflector.
  bool portal_challenge = false;
  // Absent from an older reflector's answer (its probes on missing ports are
  // then "does not listen there").
  std::vector<UnavailablePort> unavailable_ports;
  // The SHA-256 of the certificate the reflector presents on its TLS-wrapped
  // probe ports (probes/tls.h form), which the client pins instead of trusting
  // a CA. Absent from an older reflector, or one that offers no TLS.
  std::optional<std::string> tls_certificate_sha256;
  // "module/piece" for every piece the reflector recognises that older
  // reflectors did not (ProbeVariant::reflector_must_list). Absent from an
  // older reflector's answer: then those pieces are not run.
  std::vector<std::string> pieces;
};

// POST /v1/sessions
struct SessionInfo {
  std::string session_id;
  std::string tag_hex;
  Endpoint client;  // the control connection's source as the reflector saw it
  // Its destination as the reflector saw it: one of the reflector's own
  // addresses. Behind a NAT64 the client reached it at an IPv6 address that
  // embeds this IPv4 one (RFC 6052). Absent from an older reflector.
  std::optional<Endpoint> server;
  Capabilities capabilities;
  int expires_in_s = 0;
  std::string reflector_version;
};

// Why the reflector sent no answer (ReplyRecord::code): stable machine codes.
// Kept under 16 characters so they fit std::string's small buffer (no
// allocation per arrival on the UDP path).
namespace reply_code {
inline constexpr std::string_view kRateLimited = "rate_limited";  // over --rate-limit for its source address
inline constexpr std::string_view kBatchFull = "batch_full";      // the reflector's reply queue was full
inline constexpr std::string_view kSendFailed = "send_failed";    // the reflector's own UDP/raw send failed
inline constexpr std::string_view kAmplification = "amplification";  // the answer would be larger than the request
inline constexpr std::string_view kTooSmall = "too_small";        // the protocol has no answer that fits
inline constexpr std::string_view kWriteFailed = "write_failed";  // a TCP write failed (often the path, not the reflector)
// A data packet keyed to a flow the reflector does not know for its source (PPTP: no such call): not echoed.
inline constexpr std::string_view kNoFlow = "no_flow";
}  // namespace reply_code

// Was the answer withheld for a reason of the reflector's own (a limit, a
// full queue, its own send failing), rather than lost on the way or not due
// at all? Then a missing answer says nothing about the network.
bool withheld_by_reflector(std::string_view code);

struct ReplyRecord {
  bool sent = false;
  std::string kind;  // e.g. "wireguard/handshake-response", "control/echo"
  std::size_t length = 0;
  std::string reason;  // why nothing was sent, when sent == false (plain words)
  std::string code;    // the same as a reply_code (empty: an older reflector, or sent)
};

// A limit of the reflector's that hit a session (Contract 2: what the
// reflector refused or limited is part of its observations). Session-level,
// for what no single observation can carry: connections refused before any
// byte was read, arrivals not recorded, table entries forgotten.
namespace limit_kind {
inline constexpr std::string_view kRateLimit = "rate_limit";                // answers withheld (probes and NAT tests)
inline constexpr std::string_view kConnectionSlots = "connection_slots";    // TCP connections refused: --max-connections
inline constexpr std::string_view kObservationLimit = "observation_limit";  // arrivals not recorded: --max-observations
inline constexpr std::string_view kFlowTable = "flow_table";    // flows forgotten: follow-ups may go unattributed
inline constexpr std::string_view kPptpCalls = "pptp_calls";    // PPTP calls forgotten: their GRE goes unanswered
inline constexpr std::string_view kNatPending = "nat_pending";  // NAT lifetime answers not scheduled
}  // namespace limit_kind

struct ReflectorLimit {
  std::string limit;  // a limit_kind; a newer reflector may send others
  std::uint64_t count = 0;
  std::vector<std::uint16_t> ports;  // the reflector's local ports it hit, when known
  std::string detail;                // plain words
  bool operator==(const ReflectorLimit&) const = default;
};

// Bounds on what a client keeps of a reflector's `limits` (more is truncated).
constexpr std::size_t kMaxReflectorLimits = 16;
constexpr std::size_t kMaxLimitPorts = 16;

// The kind of a data-phase packet's record (ProtocolModule::data_phase): its
// probe_index is the probe whose handshake it followed, its field "sequence"
// the packet's number; reply.sent says whether it was echoed.
inline constexpr std::string_view kDataObservation = "data";
// Capabilities::pieces lists "<module>/data" for every module whose data
// packets the reflector recognises; an older one drops them as unknown, so
// the client sends none.
inline constexpr std::string_view kDataPiece = "data";
// And "<module>/data-ip" for every module whose data packets it recognises
// and echoes over raw IP (DataPhase::ip_piece); an older one would take them
// for handshake probes, so the client sends none there.
inline constexpr std::string_view kDataIpPiece = "data-ip";

// One record per arrival (GET /v1/sessions/{id}/observations).
struct Observation {
  std::uint64_t sequence = 0;
  std::uint16_t probe_index = 0;
  std::string protocol;  // module id, or "control"
  std::string kind;      // "genuine" | "control" | "data" (kDataObservation)
  Transport transport = Transport::udp;
  std::uint16_t local_port = 0;
  Endpoint source;  // after NAT
  std::optional<int> ttl;
  std::optional<int> tos;
  std::size_t payload_length = 0;
  std::string payload_sha256;
  Fields fields;
  std::int64_t received_at_unix_ms = 0;
  ReplyRecord reply;
};

struct ObservationList {
  std::vector<Observation> observations;
  std::uint64_t dropped = 0;  // records the reflector could not keep (buffer bound)
  // The reflector's limits that hit this session; absent from an older
  // reflector's answer (then empty).
  std::vector<ReflectorLimit> limits;
  // Set: this is one page, and the rest begins after this sequence number
  // (GET .../observations?after=N). Unset: the last or only page.
  std::optional<std::uint64_t> next_after;
};

// A page of a reflector's answer holds the observations after `after` up to
// about this many bytes of JSON; a client follows `next_after`.
constexpr std::size_t kObservationPageBytes = 64 * 1024;

nlohmann::json to_json(const SessionInfo& info);
nlohmann::json to_json(const Observation& obs);
nlohmann::json to_json(const ObservationList& list);

// Parsers of what came over the network: never throw; on failure return
// nullopt and say what was wrong in `error`.
std::optional<SessionInfo> session_info_from_json(const std::string& body, std::string& error);
std::optional<ObservationList> observations_from_json(const std::string& body, std::string& error);

}  // namespace vpncheck::probes
