// PPTP control connection codec (TCP 1723, RFC 2637; PROTOCOLS.md §2.2, §2.4).
//
// Pure: builders return bytes, parsers take a span; nothing does I/O and
// nothing throws on bad input. Every message is built at its full RFC length
// with PPTP message type 1, magic cookie 0x1A2B3C4D and all reserved fields
// zero, because that is what the Linux nf_conntrack_pptp helper (and router
// ALGs modelled on it) check before they track a connection.
//
// Where the probe token sits (DESIGN.md Contract 1):
//  * SCCRQ Host Name (64-byte field): "vpncheck-" + 16 hex digits of the
//    8-byte token (see tagged_host_name). The SCCRP built here echoes it.
//  * OCRQ Subaddress (64-byte field): "vpncheck-<16 hex token>-<4 hex call id>",
//    i.e. the token and the Call ID the client really put in the OCRQ. A PPTP
//    ALG (nf_nat_pptp) rewrites the Call ID field but not the Subaddress, so
//    the reflector compares Message::call_id with Message::original_call_id to
//    detect call-id rewriting (PROTOCOLS.md §2.4 "Reflector test").
//
// The exchange a probe runs: C->R SCCRQ, R->C SCCRP, C->R OCRQ(call id X),
// R->C OCRP(call id Y, peer X'), [C->R Set-Link-Info], GRE both ways (gre.h),
// C->R StopCCRQ, R->C StopCCRP. Reply builders take the request they answer
// and never return more bytes than it (no amplification).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "probes/bytes.h"
#include "probes/token.h"

namespace vpncheck::probes::pptp {

constexpr std::uint16_t kControlPort = 1723;
constexpr std::uint16_t kPptpControlMessage = 1;  // PPTP Message Type (2 = management, unused)
constexpr std::uint32_t kMagicCookie = 0x1A2B3C4D;
constexpr std::uint16_t kProtocolVersion = 0x0100;  // version 1, revision 0
constexpr std::size_t kHeaderSize = 12;             // length, type, cookie, control type, reserved0
constexpr std::size_t kHostNameSize = 64;           // also Vendor, Phone Number, Subaddress
constexpr std::size_t kMaxMessageSize = 220;        // Incoming-Call-Request, the largest

// Control Message Types (RFC 2637 §2; nf_conntrack_pptp.h).
enum class MessageType : std::uint16_t {
  start_control_connection_request = 1,
  start_control_connection_reply = 2,
  stop_control_connection_request = 3,
  stop_control_connection_reply = 4,
  echo_request = 5,
  echo_reply = 6,
  outgoing_call_request = 7,
  outgoing_call_reply = 8,
  incoming_call_request = 9,
  incoming_call_reply = 10,
  incoming_call_connected = 11,
  call_clear_request = 12,
  call_disconnect_notify = 13,
  wan_error_notify = 14,
  set_link_info = 15,
};

// Total sizes (header included) of the messages this module builds.
constexpr std::size_t kSccrqSize = 156;
constexpr std::size_t kSccrpSize = 156;
constexpr std::size_t kStopCcrqSize = 16;
constexpr std::size_t kStopCcrpSize = 16;
constexpr std::size_t kOcrqSize = 168;
constexpr std::size_t kOcrpSize = 32;
constexpr std::size_t kSetLinkInfoSize = 24;

// Result codes used in replies (RFC 2637: 1 = OK / Connected / general request).
constexpr std::uint8_t kResultOk = 1;
// StopCCRQ Reason 1 = "General request to clear control connection".
constexpr std::uint8_t kStopReasonGeneral = 1;

// The exact total length RFC 2637 gives control message type `type` (1..15);
// nullopt for an unknown type.
std::optional<std::size_t> expected_length(std::uint16_t type);

// Human-readable name of a control message type ("SCCRQ", "OCRP", ...; "unknown").
std::string_view type_name(std::uint16_t type);

// "vpncheck-" + lower-case hex of token.encode() (25 characters).
std::string tagged_host_name(const ProbeToken& token);
// The token back from a tagged host name; nullopt unless it is exactly that form
// (hex digits of either case accepted).
std::optional<ProbeToken> token_from_host_name(std::string_view host_name);

// One decoded control message. Only the fields of `type` are filled in; the
// rest stay zero/empty. Strings are the field's bytes up to the first NUL (or
// all 64); they come from the network, so escape them before printing.
struct Message {
  std::uint16_t length = 0;  // == expected_length(type)
  std::uint16_t type = 0;    // MessageType value

  // SCCRQ / SCCRP
  std::uint16_t protocol_version = 0;
  std::uint32_t framing_capabilities = 0;
  std::uint32_t bearer_capabilities = 0;
  std::uint16_t maximum_channels = 0;
  std::uint16_t firmware_revision = 0;
  std::string host_name;
  std::string vendor;
  // SCCRP, StopCCRP, Echo-Reply, OCRP, Call-Disconnect-Notify
  std::uint8_t result_code = 0;
  std::uint8_t error_code = 0;
  // StopCCRQ
  std::uint8_t reason = 0;
  // Echo-Request / Echo-Reply
  std::uint32_t identifier = 0;
  // OCRQ: call_id; OCRP: call_id + peer_call_id; Set-Link-Info: peer_call_id;
  // Call-Clear-Request / Call-Disconnect-Notify: call_id.
  std::uint16_t call_id = 0;
  std::uint16_t peer_call_id = 0;
  // OCRQ
  std::uint16_t call_serial_number = 0;
  std::uint32_t minimum_bps = 0;
  std::uint32_t maximum_bps = 0;
  std::uint32_t bearer_type = 0;
  std::uint32_t framing_type = 0;
  std::uint16_t phone_number_length = 0;
  std::string phone_number;
  std::string subaddress;
  // OCRQ and OCRP
  std::uint16_t receive_window = 0;
  std::uint16_t processing_delay = 0;
  // OCRP
  std::uint16_t cause_code = 0;
  std::uint32_t connect_speed = 0;
  std::uint32_t physical_channel_id = 0;
  // Set-Link-Info
  std::uint32_t send_accm = 0;
  std::uint32_t receive_accm = 0;

  // SCCRQ/SCCRP: from host_name; OCRQ: from subaddress. nullopt when absent.
  std::optional<ProbeToken> token;
  // OCRQ: the Call ID the client wrote into the subaddress tag (see top comment).
  std::optional<std::uint16_t> original_call_id;
};

// The message as observation fields (name -> text, the shape of probe.h's
// Fields): "message_type" ("SCCRQ", ...), "length", and the type's decoded
// fields with the names used in Message (numbers in decimal, call ids too;
// strings with bytes outside printable ASCII escaped as \xNN, so the map is
// always valid UTF-8 for JSON).
std::map<std::string, std::string> describe(const Message& message);
// Printable ASCII kept, every other byte (and the backslash) as \xNN.
std::string escape_text(std::string_view raw);

enum class ParseStatus {
  complete,   // a valid message; ParseResult::size bytes were consumed
  need_more,  // a valid prefix: read more bytes and try again
  invalid,    // not PPTP (bad length, type, cookie, reserved field): drop the connection
};

struct ParseResult {
  ParseStatus status = ParseStatus::invalid;
  std::size_t size = 0;  // complete: message length; need_more: total needed if known, else 0
  Message message;       // only meaningful when complete
};

// Stream framing: how long is the first message in `buffered`? PPTP frames
// itself: the Length field (first two bytes) counts the whole message. Checks
// everything the bytes present allow (length in range, message type 1, cookie,
// a known control type whose RFC length equals Length, Reserved0 == 0), so
// garbage is reported invalid as early as possible. `message` stays empty.
ParseResult frame(ByteView buffered);

// Parse the control message at the start of `buffered` (trailing bytes are the
// next message and are ignored). Same checks as frame(), then decodes the body.
ParseResult parse(ByteView buffered);

// Client (PNS) side.
Bytes build_sccrq(const ProbeToken& token);  // 156 bytes, host name = tagged_host_name(token)
// Call ID = `call_id`, Call Serial Number = `call_serial`; subaddress carries
// token and call id. 168 bytes.
Bytes build_ocrq(const ProbeToken& token, std::uint16_t call_id, std::uint16_t call_serial);
// Sent by real clients after OCRP: ACCMs for the call `peer_call_id` (the
// PAC's Call ID from the OCRP). 24 bytes.
Bytes build_set_link_info(std::uint16_t peer_call_id, std::uint32_t send_accm = 0xffffffff,
                          std::uint32_t receive_accm = 0xffffffff);
Bytes build_stop_ccrq(std::uint8_t reason = kStopReasonGeneral);  // 16 bytes

// Reflector (PAC) side: each takes the request it answers, exactly one whole
// message (the bytes parse()/frame() delimited), and returns an empty vector
// when that is not a valid request of the right type. The reply is never
// larger than the request.
// SCCRP, result 1, echoing the request's host name (so the token comes back).
Bytes build_sccrp(ByteView sccrq);
// OCRP: Call ID = own_call_id, Peer's Call ID = the OCRQ's Call ID as it
// arrived (possibly rewritten by an ALG), result 1 (Connected).
Bytes build_ocrp(ByteView ocrq, std::uint16_t own_call_id);
Bytes build_stop_ccrp(ByteView stop_ccrq);  // result 1

// Client checks: is `reply` a successful answer to the `request` we sent?
// SCCRP: result 1 and the same host name. OCRP: result 1 and Peer's Call ID ==
// the OCRQ's Call ID. StopCCRP: any well-formed StopCCRP.
bool is_sccrp_reply_to(ByteView reply, ByteView sccrq);
bool is_ocrp_reply_to(ByteView reply, ByteView ocrq);
bool is_stop_ccrp_reply_to(ByteView reply, ByteView stop_ccrq);

}  // namespace vpncheck::probes::pptp
