// The NAT test service's own tiny UDP protocol (issue #5, PROTOCOLS.md §10.2):
// "nat probe" messages the client sends to the reflector's NAT test ports and
// the answers the reflector sends back — the observed (post-NAT) source, from
// the address/port the request went to and, on request, from the other port
// or the other address (RFC 5780 CHANGE-REQUEST, without STUN). Pure: no
// sockets; parsers never throw and refuse anything that is not exactly this.
//
// Request (kMinRequestSize..kMaxRequestSize bytes, zero padded):
//   "VCNT" | version 1 | type | flags | 0 | token 8 (session tag + index) |
//   nonce 4 | gap_s 2 | zero padding
// Reply (kReplySize bytes):
//   "VCNT" | version 1 | type|0x80 | origin | family 4/6 | token 8 | nonce 4 |
//   observed port 2 | 0 0 | observed address 16 (IPv4: 4 bytes, then zeros)
//
// Echo (path MTU and fragments, type `size`): the request may be as large as
// kMaxSizeRequest and is answered by one padded echo of the same size, or,
// with kFlagAck, by a plain reply at once plus an echo that much shorter:
//   reply header (as above, origin echo) | received size 2 |
//   largest fragment 2 (0: arrived whole) | zero padding
//
// No amplification: a request may cause at most three replies (primary, other
// port, other address), two (lifetime: at once, and after the gap; size: the
// ack and the echo), and kMinRequestSize is large enough that all replies
// together are never larger than the request (plan_replies enforces it for
// any size). Those extra replies go only to a validated source: the address
// of the session's control connection, which a TCP handshake proved is
// really there. Any other source (a spoofed one, or a NAT that gives UDP
// another address than TCP) gets one reply per request, no larger than the
// request, so not more packets nor more wire bytes than it sent.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "probes/bytes.h"
#include "probes/observation.h"
#include "probes/token.h"

namespace vpncheck::probes::natprobe {

constexpr std::uint8_t kMagic[4] = {'V', 'C', 'N', 'T'};
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kReplySize = 40;
constexpr std::size_t kMinRequestSize = 128;  // >= 3 * kReplySize
constexpr std::size_t kMaxRequestSize = 512;
// Echo requests: up to a 2000-byte datagram, so that one IPv4 packet of it
// (2028 bytes) needs fragments on any path.
constexpr std::size_t kMaxSizeRequest = 2000;
constexpr std::size_t kEchoHeaderSize = kReplySize + 4;
constexpr std::uint8_t kReplyBit = 0x80;
// The longest idle gap the reflector accepts for a lifetime trial.
constexpr std::uint16_t kMaxGapS = 600;

enum class Type : std::uint8_t {
  bind = 1,      // "what do you see?" answered at once
  lifetime = 2,  // answered at once, and again after gap_s seconds of silence
  size = 3,      // "send this size back": path MTU and IP fragments
};

// Request flags (bind only): also answer from ...
constexpr std::uint8_t kFlagOtherPort = 0x01;     // (same address, other port)
constexpr std::uint8_t kFlagOtherAddress = 0x02;  // (other address, other port): RFC 5780 "change IP and port"
constexpr std::uint8_t kKnownFlags = kFlagOtherPort | kFlagOtherAddress;
// Request flags (size only):
constexpr std::uint8_t kFlagEchoDontFragment = 0x04;  // send the echo with DF (a path MTU probe)
constexpr std::uint8_t kFlagAck = 0x08;               // also confirm arrival at once (which way was lost?)
constexpr std::uint8_t kKnownSizeFlags = kFlagEchoDontFragment | kFlagAck;

// Where a reply came from, as the reflector says (the client also checks the
// datagram's real source address and port).
enum class Origin : std::uint8_t { primary = 0, other_port = 1, other_address = 2, after_gap = 3, echo = 4 };

struct Request {
  Type type = Type::bind;
  std::uint8_t flags = 0;
  probes::ProbeToken token;
  std::uint32_t nonce = 0;
  std::uint16_t gap_s = 0;  // lifetime only: 1..kMaxGapS
  bool operator==(const Request&) const = default;
};

struct Reply {
  Type type = Type::bind;  // of the request it answers
  Origin origin = Origin::primary;
  probes::ProbeToken token;
  std::uint32_t nonce = 0;
  probes::Endpoint observed;  // the request's source as the reflector saw it
  // Echo only (all 0 otherwise): the datagram's whole size, the request's
  // size as received, and the largest IP fragment it was reassembled from
  // (0: it arrived in one piece, or the reflector cannot tell).
  std::uint16_t echo_size = 0;
  std::uint16_t received_size = 0;
  std::uint16_t largest_fragment = 0;
  bool operator==(const Reply&) const = default;
};

// `size` is clamped to [kMinRequestSize, kMaxRequestSize], or to
// [kMinRequestSize, kMaxSizeRequest] for a size request.
Bytes build_request(const Request& request, std::size_t size = kMinRequestSize);
// nullopt for anything else: wrong magic/version/type, flags not of the
// request's type, flags on a lifetime request, a lifetime gap of 0 or above
// kMaxGapS, a bind or size request with a gap, non-zero reserved byte or
// padding, size out of bounds.
std::optional<Request> parse_request(ByteView datagram);

// Empty if observed.address is not an IPv4/IPv6 literal. An echo is padded
// to echo_size, clamped to [kEchoHeaderSize, kMaxSizeRequest].
Bytes build_reply(const Reply& reply);
std::optional<Reply> parse_reply(ByteView datagram);
// Same type, token and nonce as `request`.
bool answers(const Reply& reply, const Request& request);

// What the reflector sends for one request: which origins, and for the
// lifetime trial the delay. Only origins the reflector can serve
// (have_other_port / have_other_address) are planned, and the total size of
// the planned replies never exceeds request_size (the rest are left out).
// Not `validated_source`: only the first reply (primary; for a size request
// the echo, as large as the request).
struct PlannedReply {
  Origin origin = Origin::primary;
  std::uint16_t delay_s = 0;
  std::size_t size = kReplySize;  // bytes of this reply (an echo's padded size)
  bool operator==(const PlannedReply&) const = default;
};
std::vector<PlannedReply> plan_replies(const Request& request, std::size_t request_size, bool have_other_port,
                                       bool have_other_address, bool validated_source);

}  // namespace vpncheck::probes::natprobe
