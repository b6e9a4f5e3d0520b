// L2TPv2 control messages over UDP 1701 (RFC 2661; PROTOCOLS.md §3).
//
// Pure: builders return bytes, parsers take a span; nothing does I/O and
// nothing throws on bad input. Control messages (T=1), and the data messages
// (T=0) of the data phase.
//
// Where the probe token sits (DESIGN.md Contract 1): the SCCRQ's Host Name AVP
// is "vpncheck-" + 16 hex digits of the 8-byte token (same form as PPTP,
// tagged_host_name). The Assigned Tunnel ID is the caller's choice (any
// non-zero value; e.g. random). The SCCRP built here echoes the Host Name, so
// the token comes back to the client; its header Tunnel ID is the client's
// Assigned Tunnel ID.
//
// The exchange: C->R SCCRQ (Ns 0, Nr 0), R->C SCCRP (Ns 0, Nr 1), C->R SCCCN
// (Ns 1, Nr 1), R->C ZLB (Ns 1, Nr 2), then a call (ICRQ, ICRP, ICCN, ZLB);
// a client may end with StopCCN. Reply builders never return more bytes than
// the request they answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probes/bytes.h"
#include "probes/probe.h"
#include "probes/token.h"

namespace vpncheck::probes::l2tp {

constexpr std::uint16_t kPort = 1701;
constexpr std::size_t kHeaderSize = 12;  // flags, length, tunnel id, session id, Ns, Nr
// T=1 L=1 S=1, O=0 P=0, reserved 0, version 2: the only header word a v2 control message has.
constexpr std::uint16_t kControlFlags = 0xC802;
constexpr std::size_t kAvpHeaderSize = 6;
constexpr std::uint16_t kAvpMandatory = 0x8000;
constexpr std::uint16_t kAvpHidden = 0x4000;
constexpr std::uint16_t kAvpReservedMask = 0x3C00;
constexpr std::uint16_t kAvpLengthMask = 0x03FF;
constexpr std::uint16_t kProtocolVersion = 0x0100;  // version 1 revision 0

enum class MessageType : std::uint16_t {
  sccrq = 1,
  sccrp = 2,
  scccn = 3,
  stop_ccn = 4,
  hello = 6,
  ocrq = 7,
  ocrp = 8,
  occn = 9,
  icrq = 10,
  icrp = 11,
  iccn = 12,
  cdn = 14,
  wen = 15,
  sli = 16,
};

enum class AvpType : std::uint16_t {
  message_type = 0,
  result_code = 1,
  protocol_version = 2,
  framing_capabilities = 3,
  bearer_capabilities = 4,
  tie_breaker = 5,
  firmware_revision = 6,
  host_name = 7,
  vendor_name = 8,
  assigned_tunnel_id = 9,
  receive_window_size = 10,
  assigned_session_id = 14,
  call_serial_number = 15,
  framing_type = 19,
  tx_connect_speed = 24,
};

// StopCCN Result Code 1: "General request to clear control connection".
constexpr std::uint16_t kResultGeneralClear = 1;

struct Avp {
  bool mandatory = false;
  bool hidden = false;  // value is encrypted: not decoded into Message fields
  std::uint16_t vendor_id = 0;
  std::uint16_t type = 0;
  ByteView value;  // a view into the parsed datagram
};

struct Message {
  std::uint16_t length = 0;  // == datagram size
  std::uint16_t tunnel_id = 0;
  std::uint16_t session_id = 0;
  std::uint16_t ns = 0;
  std::uint16_t nr = 0;
  std::vector<Avp> avps;  // in order; empty for a ZLB
  bool zlb = false;        // no AVPs: a Zero-Length Body acknowledgement

  // Decoded from IETF (vendor 0), non-hidden AVPs when present:
  std::optional<std::uint16_t> message_type;  // first AVP; absent only for a ZLB
  std::optional<std::uint16_t> protocol_version;
  std::optional<std::uint32_t> framing_capabilities;
  std::optional<std::uint32_t> bearer_capabilities;
  std::optional<std::uint16_t> firmware_revision;
  std::optional<std::string> host_name;  // raw bytes: escape before printing
  std::optional<std::string> vendor_name;
  std::optional<std::uint16_t> assigned_tunnel_id;
  std::optional<std::uint16_t> receive_window_size;
  std::optional<std::uint16_t> assigned_session_id;
  std::optional<std::uint32_t> call_serial_number;
  std::optional<std::uint32_t> framing_type;
  std::optional<std::uint32_t> tx_connect_speed;
  std::optional<std::uint16_t> result_code;
  std::optional<std::uint16_t> error_code;
  std::optional<ProbeToken> token;  // from host_name
};

// Observation fields: "message_type" ("SCCRQ", "ZLB", ...), "tunnel_id",
// "session_id", "ns", "nr", "avp_count" and each decoded AVP under its
// Message field name (strings escaped as pptp::describe does).
std::map<std::string, std::string> describe(const Message& message);

// Human-readable name of a message type ("SCCRQ", ...; "unknown").
std::string_view type_name(std::uint16_t type);

// "vpncheck-" + lower-case hex of token.encode(); the same text PPTP uses.
std::string tagged_host_name(const ProbeToken& token);
std::optional<ProbeToken> token_from_host_name(std::string_view host_name);

// One control message = one UDP payload. Strict: header word 0xC802, Length ==
// datagram size, every AVP length >= 6 and within the message, AVP reserved
// bits zero, the first AVP is an IETF, non-hidden, mandatory Message Type of
// 2 bytes and the only one; known single-value AVPs must have their RFC size. A 12-byte
// message is a ZLB. Data messages (T=0) and L2TPv3 are rejected.
std::optional<Message> parse(ByteView datagram);

// Client: SCCRQ with Message Type, Protocol Version 1.0, Framing (async+sync),
// Bearer (none), Firmware Revision, Host Name = tagged_host_name(token),
// Vendor Name, Assigned Tunnel ID = `assigned_tunnel_id` (must be non-zero;
// returns empty for 0), Receive Window Size 4 — xl2tpd's order. Header tunnel
// id 0, Ns 0, Nr 0. 117 bytes.
Bytes build_sccrq(const ProbeToken& token, std::uint16_t assigned_tunnel_id);

// Reflector: SCCRP answering `sccrq`: header Tunnel ID = the SCCRQ's Assigned
// Tunnel ID, Ns 0, Nr 1; AVPs Message Type 2, Protocol Version, Framing,
// Host Name (echoed from the SCCRQ), Assigned Tunnel ID = `assigned_tunnel_id`
// (non-zero). Empty when `sccrq` is not a valid SCCRQ or the reply would be
// larger than it.
Bytes build_sccrp(ByteView sccrq, std::uint16_t assigned_tunnel_id);

// Client: SCCCN answering `sccrp`: header Tunnel ID = the SCCRP's Assigned
// Tunnel ID, Ns 1, Nr 1, AVP Message Type 3. Empty when `sccrp` is not an SCCRP.
Bytes build_scccn(ByteView sccrp);

// A ZLB: the 12-byte header alone.
Bytes build_zlb(std::uint16_t tunnel_id, std::uint16_t ns, std::uint16_t nr);
// The ZLB acknowledging `message` (e.g. the SCCCN): Ns = its Nr, Nr = its Ns + 1,
// to `peer_tunnel_id` (the receiver's Assigned Tunnel ID, which the acked
// message does not carry). Empty when `message` is not a valid non-ZLB message.
Bytes build_zlb_ack(ByteView message, std::uint16_t peer_tunnel_id);

// StopCCN: Message Type 4, Assigned Tunnel ID = own id, Result Code `result`
// (error code 0), to `peer_tunnel_id`, with the given Ns/Nr.
Bytes build_stop_ccn(std::uint16_t peer_tunnel_id, std::uint16_t own_tunnel_id, std::uint16_t ns,
                     std::uint16_t nr, std::uint16_t result = kResultGeneralClear);

// A session for the data (RFC 2661 §5.2, incoming call): C->R ICRQ (Ns 2,
// Nr 1), R->C ICRP (Ns 1, Nr 3), C->R ICCN (Ns 3, Nr 2), R->C ZLB (Ns 2, Nr 4).
//
// Client: ICRQ to the reflector's tunnel `peer_tunnel_id`, header Session ID 0
// (RFC 2661 §6.10: the peer has assigned none yet), AVPs Message Type 10,
// Assigned Session ID = `assigned_session_id` (non-zero; empty for 0), Call
// Serial Number `serial`.
Bytes build_icrq(std::uint16_t peer_tunnel_id, std::uint16_t assigned_session_id, std::uint32_t serial,
                 std::uint16_t ns, std::uint16_t nr);
// Reflector: ICRP answering `icrq` (§6.11): to `peer_tunnel_id` (the client's,
// which an ICRQ does not carry), header Session ID = the ICRQ's Assigned
// Session ID, Ns = its Nr, Nr = its Ns + 1, AVPs Message Type 11 and Assigned
// Session ID = `assigned_session_id` (non-zero). Empty when `icrq` is not a
// valid ICRQ or the answer would be larger than it.
Bytes build_icrp(ByteView icrq, std::uint16_t peer_tunnel_id, std::uint16_t assigned_session_id);
// Client: ICCN completing the call `icrp` answered (§6.12): to `peer_tunnel_id`,
// header Session ID = the ICRP's Assigned Session ID, Ns = its Nr, Nr = its Ns
// + 1, AVPs Message Type 12, (Tx) Connect Speed and Framing Type (synchronous,
// as PPP over Linux's kernel L2TP frames). Empty when `icrp` is not an ICRP.
Bytes build_iccn(ByteView icrp, std::uint16_t peer_tunnel_id);
// ICRP to our ICRQ: header Session ID == its Assigned Session ID, Ns == its
// Nr, Nr == its Ns + 1, and a non-zero Assigned Session ID.
bool is_icrp_reply_to(ByteView reply, ByteView icrq);

// Client checks.
// SCCRP to our SCCRQ: Tunnel ID == our Assigned Tunnel ID, Ns 0, Nr 1, a
// non-zero Assigned Tunnel ID, and the SCCRQ's Host Name echoed.
bool is_sccrp_reply_to(ByteView reply, ByteView sccrq);
// ZLB acknowledging `message`: Nr == its Ns + 1.
bool is_zlb_ack_for(ByteView reply, ByteView message);

// ---- Data messages (the data phase, ProtocolModule::data_phase) --------------
//
// RFC 2661 §3.1 with T=0: flags and version | [Length] | Tunnel ID | Session
// ID | [Ns | Nr] | [Offset Size | padding] | a PPP frame. Linux sends the
// shortest form: its kernel data path (net/l2tp/l2tp_core.c,
// l2tp_build_l2tpv2_header) sets S only when sequencing was configured, and
// xl2tpd's userspace one (call.c, add_payload_hdr) sets L and S only when
// "length bit" or sequencing is on, both off by default: flags 0x0002, then
// the two ids. The PPP frame starts with address and control FF 03
// (net/l2tp/l2tp_ppp.c, pppol2tp_xmit) and protocol 0x0021, IPv4.
//
// What the data phase sends inside is a ping over the tunnel: an IPv4 ICMP
// echo request (10.0.0.2 to 10.0.0.1) whose ICMP sequence is the data
// phase's sequence + 1 (ping counts from 1) and whose echo data begins with
// the token. The ids are those of the reflector's end for the token (its
// tunnel, reflector_tunnel_id, and data_session_id): a NAT rewrites neither.
constexpr std::uint16_t kDataFlags = 0x0002;                // T=0, no L/S/O/P, version 2
constexpr std::uint16_t kDataFlagLength = 0x4000;           // L: Length present
constexpr std::uint16_t kDataFlagSequence = 0x0800;         // S: Ns and Nr present
constexpr std::uint16_t kDataFlagOffset = 0x0200;           // O: Offset Size present
constexpr std::uint16_t kDataReservedMask = 0x34F0;         // the x bits, which must be 0
constexpr std::size_t kDataHeaderSize = 6;                  // flags, tunnel id, session id
constexpr std::size_t kPppHeaderSize = 4;                   // FF 03 00 21
constexpr std::size_t kPingHeaderSize = 20 + 8;             // IPv4 and ICMP echo headers
constexpr std::size_t kDataMinSize = kDataHeaderSize + kPppHeaderSize + kPingHeaderSize + kProbeTokenSize;  // 46
// A default ping inside: 84 bytes of IPv4.
constexpr std::size_t kDataSmallSize = kDataHeaderSize + kPppHeaderSize + 84;
// PPP's default MRU is 1500 (RFC 1661 §6.1; pppd lcp.h DEFAULT_MRU) and
// pppd's interface MTU follows it unless the options say otherwise (xl2tpd's
// examples/ppp-options.xl2tpd sets 1410; without it, 1500): a full packet
// carries 1500 bytes of IPv4, 1538 bytes on the wire over IPv4, so the
// sender's own kernel sends it as two fragments.
constexpr std::size_t kPppDefaultMtu = 1500;
constexpr std::size_t kDataFullSize = kDataHeaderSize + kPppHeaderSize + kPppDefaultMtu;  // 1510
// IPv4 20 + UDP 8 + the longest data header without an offset (12: flags,
// Length, ids, Ns, Nr) + PPP 4: the path MTU less this is the PPP MTU that fits.
constexpr int kDataOverheadV4 = 20 + 8 + 12 + 4;

// The Session ID the reflector's ICRP assigns to `token`'s call, which its
// data messages carry; never 0.
std::uint16_t data_session_id(const ProbeToken& token);
// Empty when `size` is below kDataMinSize or above a UDP payload, or the
// sequence does not fit ICMP's (sequence + 1 above 0xffff).
Bytes build_data(const ProbeToken& token, std::uint32_t sequence, std::size_t size, const RandomFill& rnd);
// nullopt unless a version-2 data message (T=0, reserved bits 0, Length if
// present == the datagram size, Offset padding within it) carrying FF 03
// 00 21 and a whole, unfragmented IPv4 ICMP echo request with valid
// checksums, the token in its echo data, an ICMP sequence from 1, and the
// token's tunnel and session ids.
std::optional<DataPacket> parse_data(ByteView datagram);
// {"L2TP: mtu 1236 and mru 1236 in the pppd options of both ends (...)"}
std::vector<std::string> advice_mtu(int path_mtu);

// ---- The probe module (probes/l2tp_module.cpp) -------------------------------
//
// Client, on one UDP socket to port 1701: SCCRQ -> SCCRP, SCCCN -> ZLB,
// ICRQ -> ICRP, ICCN -> ZLB: a tunnel and a call's session, which the data
// phase's messages then use; next_request drives the steps, is_reply_to
// checks each step's answer.
// Reflector: stateless. The SCCRQ carries the token (Host Name) and opens a
// flow; SCCCN, ICRQ, ICCN (and StopCCN) of that flow are attributed through
// ArrivalContext::flow_token and must be addressed to the reflector's tunnel.
// Both tunnel ids and the reflector's session id are derived from the token,
// so the reflector can address its answers to the client's tunnel without
// keeping state.
extern const ProtocolModule kModule;
// Its verdict rule (ProtocolModule::assess, l2tp_assess.cpp): the alternatives
// rule plus the advice only L2TP needs.
ProtocolAssessment assess(const ProtocolModule& module, std::vector<ProbeResult> results, bool observations_read,
                          AlternativesRule alternatives);

// The Assigned Tunnel ID our SCCRQ carries for `token`; never 0.
std::uint16_t client_tunnel_id(const ProbeToken& token);
// The Assigned Tunnel ID the reflector's SCCRP carries for `token`; never 0,
// and different from client_tunnel_id(token).
std::uint16_t reflector_tunnel_id(const ProbeToken& token);

}  // namespace vpncheck::probes::l2tp
