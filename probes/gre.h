// PPTP data channel: enhanced GRE (IP protocol 47, GRE version 1; RFC 2637
// §4.1, PROTOCOLS.md §2.3) carrying PPP, and the PPP LCP Configure-Request a
// real PPTP client sends first.
//
// Pure: builders return bytes, parsers take a span; nothing does I/O and
// nothing throws on bad input. The GRE functions work on the GRE header and
// payload only (what a raw IPPROTO_GRE socket delivers after the IP header).
//
// Where the probe token sits (DESIGN.md Contract 1): in the LCP
// Configure-Request's Endpoint-Discriminator option (type 19, class 1
// "locally assigned address", 8 bytes = token.encode()), an option Windows
// and pppd clients genuinely send. The Magic-Number option is derived from the
// token too (first four token bytes XOR the last four, never zero), so
// it looks random. The reflector's answer is an LCP Configure-Request of its
// own carrying the same Endpoint-Discriminator (the token comes back), a
// different Magic-Number, and fewer options, in a GRE packet keyed to the
// client's Call ID that acknowledges the client's sequence number; it is
// never larger than the packet it answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "probes/bytes.h"
#include "probes/ip.h"
#include "probes/probe.h"
#include "probes/token.h"

namespace vpncheck::probes::gre {

constexpr std::uint8_t kIpProtocol = ip::kGre;
constexpr std::uint16_t kProtocolPpp = 0x880B;

// First 16 bits of the GRE header.
constexpr std::uint16_t kFlagChecksum = 0x8000;     // C: must be 0
constexpr std::uint16_t kFlagRouting = 0x4000;      // R: must be 0
constexpr std::uint16_t kFlagKey = 0x2000;          // K: must be 1
constexpr std::uint16_t kFlagSequence = 0x1000;     // S: sequence number present
constexpr std::uint16_t kFlagStrictRoute = 0x0800;  // s: must be 0
constexpr std::uint16_t kRecursionMask = 0x0700;    // must be 0
constexpr std::uint16_t kFlagAck = 0x0080;          // A: acknowledgment number present
constexpr std::uint16_t kReservedMask = 0x0078;     // must be 0
constexpr std::uint16_t kVersionMask = 0x0007;
constexpr std::uint16_t kVersionEnhanced = 1;

constexpr std::size_t kMinHeaderSize = 8;   // flags, protocol, payload length, call id
constexpr std::size_t kMaxHeaderSize = 16;  // + sequence + acknowledgment

struct Header {
  std::uint16_t call_id = 0;             // the RECEIVER's (peer's) Call ID
  std::optional<std::uint32_t> sequence;  // S bit
  std::optional<std::uint32_t> ack;       // A bit
};

// GRE header (flags K, S if sequence, A if ack; version 1; protocol 0x880B;
// payload length = payload.size()) followed by `payload`. Returns empty when
// the payload does not fit the 16-bit length field.
Bytes build(const Header& header, ByteView payload);

struct Packet {
  Header header;
  std::uint16_t payload_length = 0;  // the Key's high half
  std::size_t header_size = 0;       // 8, 12 or 16
  ByteView payload;                  // payload_length bytes, a view into the parsed buffer
  std::size_t trailing = 0;          // bytes after the payload (padding), ignored
};

// Validates version 1, protocol 0x880B, K set, C/R/s/recursion/reserved
// flags zero, and payload length <= the bytes after the header.
std::optional<Packet> parse(ByteView datagram);

// ---- PPP inside GRE ---------------------------------------------------------

constexpr std::uint16_t kPppLcp = 0xC021;
constexpr std::uint8_t kLcpConfigureRequest = 1;
constexpr std::uint8_t kLcpConfigureAck = 2;
constexpr std::uint8_t kLcpOptionMru = 1;
constexpr std::uint8_t kLcpOptionAccm = 2;
constexpr std::uint8_t kLcpOptionMagicNumber = 5;
constexpr std::uint8_t kLcpOptionPfc = 7;
constexpr std::uint8_t kLcpOptionAcfc = 8;
constexpr std::uint8_t kLcpOptionEndpointDiscriminator = 19;
constexpr std::uint8_t kEndpointClassLocal = 1;
constexpr std::uint16_t kDefaultMru = 1400;

struct LcpOption {
  std::uint8_t type = 0;
  ByteView data;  // option value (after type and length), a view into the parsed buffer
};

struct LcpPacket {
  bool address_control = false;  // frame started with FF 03
  std::uint8_t code = 0;
  std::uint8_t identifier = 0;
  std::vector<LcpOption> options;  // only for Configure-Request/-Ack/-Nak/-Reject (codes 1-4)
  std::optional<std::uint16_t> mru;
  std::optional<std::uint32_t> magic_number;
  std::optional<ProbeToken> token;  // Endpoint-Discriminator class 1 with exactly 8 bytes
};

// The Magic-Number a probe with `token` uses (never zero).
std::uint32_t magic_number_for(const ProbeToken& token);

// Client: FF 03 | C0 21 | Configure-Request(identifier) with MRU, ACCM 0,
// Magic-Number, PFC, ACFC, Endpoint-Discriminator(token). 39 bytes.
Bytes build_lcp_configure_request(const ProbeToken& token, std::uint8_t identifier = 1,
                                  std::uint16_t mru = kDefaultMru);

// A PPP frame carrying LCP (FF 03 optional), strictly checked: LCP length
// >= 4 and <= the bytes present (the rest is PPP padding), options well-formed
// for codes 1-4 and covering the LCP length exactly.
std::optional<LcpPacket> parse_lcp(ByteView ppp_frame);

// Client: the whole first GRE data packet, keyed to the PAC's Call ID from the
// OCRP (`peer_call_id`), sequence number `sequence`, no ack. 12 + 39 bytes.
Bytes build_probe(const ProbeToken& token, std::uint16_t peer_call_id, std::uint32_t sequence = 0);

// Reflector: recognise a probe: a valid GRE packet with a sequence number and
// no acknowledgment (a client's first data packet has nothing to acknowledge)
// whose payload is an LCP Configure-Request carrying a token. The reflector's
// own answers carry an acknowledgment, so they never parse as probes (two
// reflectors cannot ping-pong).
struct ParsedProbe {
  Packet gre;
  LcpPacket lcp;
  ProbeToken token;
};
std::optional<ParsedProbe> parse_probe(ByteView datagram);
// Observation fields: "call_id" (the GRE key's Call ID as it arrived: compare
// with the OCRP's Call ID to see GRE key rewriting), "sequence",
// "payload_length", "lcp_code", "lcp_identifier", "mru", "magic_number" (hex).
std::map<std::string, std::string> describe(const ParsedProbe& probe);

// Reflector: the answer to `request` (a datagram parse_probe accepts): GRE to
// `client_call_id` (the Call ID from the client's OCRQ as it arrived at the
// reflector), sequence `sequence`, acknowledging the request's sequence
// number; payload FF 03 C0 21 Configure-Request(identifier 1) with MRU,
// Magic-Number = ~client's, Endpoint-Discriminator(token). Empty when
// `request` is not a probe or the answer would be larger than it.
Bytes build_reply(ByteView request, std::uint16_t client_call_id, std::uint32_t sequence = 0);

// Client: is `reply` the reflector's answer to our `request`? Valid GRE keyed
// to `own_call_id`, acknowledging the request's sequence number, carrying an
// LCP Configure-Request or Configure-Ack with the request's token.
bool is_reply_to(ByteView reply, ByteView request, std::uint16_t own_call_id);

// ---- Data packets (the data phase, ProtocolModule::data_phase) --------------
//
// What a PPTP tunnel carries once PPP is up: PPP frames encrypted with MPPE
// (RFC 3078), which Windows and pppd's PPTP set-ups require by default. The
// GRE header is the one Linux's PPTP driver sends (drivers/net/ppp/pptp.c,
// pptp_xmit): K and S, version 1, the receiver's Call ID; the PPP frame is
// FF 03 | 00 FD (a compressed datagram, RFC 1962 §4) | the MPPE header (RFC
// 3078 §3: flags A "flushed" and D "encrypted", as every stateless-mode
// packet has, and the 12-bit coherency count) | the encrypted bytes, which
// begin with the token (random to any observer) and whose length is what
// the inner packet's would be.
//
// The GRE sequence number counts on from the LCP probe's 0: data packet n
// carries n + 1, and its coherency count is n mod 4096. Both ends send the
// same form, without an acknowledgment, so an echo is the same size as its
// packet.
constexpr std::uint16_t kPppCompressedDatagram = 0x00FD;
constexpr std::uint8_t kMppeFlushedEncrypted = 0x90;  // A and D set, B and C clear
constexpr std::size_t kDataPppHeaderSize = 4 + 2;     // FF 03 00 FD, MPPE header
constexpr std::size_t kDataHeaderSize = 12;           // GRE with key and sequence
constexpr std::size_t kDataMinSize = kDataHeaderSize + kDataPppHeaderSize + kProbeTokenSize;  // 26
// Inside, the encrypted PPP protocol field (2) and the inner IPv4 packet: a
// default ping (84 bytes), and a full packet at PPTP's usual MTU of 1400
// (kDefaultMru: Windows' PPTP default, and the MTU pppd's PPTP set-ups give).
constexpr std::size_t kDataSmallSize = kDataHeaderSize + kDataPppHeaderSize + 2 + 84;             // 104
constexpr std::size_t kDataFullSize = kDataHeaderSize + kDataPppHeaderSize + 2 + kDefaultMru;     // 1420
// IPv4 20 + GRE with key, sequence and acknowledgment 16 + PPP 4 + MPPE 2 +
// the encrypted protocol field 2: the path MTU less this is the PPP MTU that fits.
constexpr int kDataOverheadV4 = 20 + 16 + 4 + 2 + 2;

// A data packet of `size` bytes to the peer whose Call ID is `call_id`
// (DataPhase::build's flow key; the upper 16 bits are ignored). Empty when
// `size` is below kDataMinSize or above what GRE's length field carries, or
// the sequence would wrap GRE's.
Bytes build_data(const ProbeToken& token, std::uint32_t sequence, std::size_t size, std::uint32_t call_id,
                 const RandomFill& rnd);
// nullopt unless a GRE version 1 packet with key and sequence from 1 and no
// acknowledgment, payload length covering the rest exactly, carrying FF 03
// 00 FD, an MPPE header with A and D alone set and the coherency count its
// sequence implies, and a token. DataPacket::flow_key: the Call ID it is keyed to.
std::optional<DataPacket> parse_data(ByteView packet);

}  // namespace vpncheck::probes::gre
