// Stream framing: how a protocol delimits its messages on a TCP byte stream.
// TCP has no message boundaries, so every protocol carried over it frames its
// messages its own way (OpenVPN: a 16-bit length; IKE over TCP: the stream
// prefix "IKETCP", then a 16-bit length that counts itself). One object per way
// of framing, owned by the protocol's module and named by its TCP variants;
// the client frames and reads replies with it, the reflector recognises and
// delimits streams with the very same object, so both agree on every byte.
// Pure: no I/O, nothing throws on bad input.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "probes/bytes.h"

namespace vpncheck::probes {

// Whether a stream belongs to a framing, from its first bytes.
enum class Sniff {
  mine,
  not_mine,
  need_more,  // too few bytes to tell yet
};

std::string_view to_string(Sniff s);

// The length of the framed message at the head of a buffer.
struct MessageLength {
  enum class Status { need_more, length, invalid };
  Status status = Status::need_more;
  std::size_t length = 0;  // Status::length: the whole frame, header included

  static constexpr MessageLength more() { return {Status::need_more, 0}; }
  static constexpr MessageLength of(std::size_t n) { return {Status::length, n}; }
  static constexpr MessageLength bad() { return {Status::invalid, 0}; }
  bool operator==(const MessageLength&) const = default;
};

struct StreamFraming {
  std::string_view name;  // for logs: "openvpn-tcp", "ike-tcp"
  // Sent once, by the initiator only, before its first message (RFC 8229 §4's
  // "IKETCP"); empty when the protocol has none. Answers never carry it.
  ByteView preamble;
  // Bytes of a frame before the message (the length field).
  std::size_t header_size = 0;
  // One message as it goes on the wire (without the preamble). Empty when the
  // message cannot be framed (too long for the length field).
  Bytes (*frame)(ByteView message);
  // The framed message at the head of `head` (after any preamble): its whole
  // length, more bytes needed, or not a valid frame.
  MessageLength (*message_length)(ByteView head);
  // Is a stream that begins with `head` (preamble included) this protocol's?
  Sniff (*sniff)(ByteView head);
  // How many of the initiator's messages the reflector answers on one stream,
  // in order, before it closes: 1 when a probe is one request and its answer;
  // more when a protocol's opening is several request/answer steps on the
  // same stream (an HTTP upgrade, then the protocol's first message).
  // Messages after the first carry no tag: the demux gives them the token of
  // the stream's first (ParsedRequest::opens_flow, ArrivalContext::flow_token).
  std::size_t messages_per_stream = 1;
};

// The first message of a stream as its initiator sends it: preamble, then the frame.
Bytes frame_first(const StreamFraming& framing, ByteView message);

// The length of the first framed message of a stream, the preamble included.
MessageLength first_message_length(const StreamFraming& framing, ByteView stream_head);

// The message inside `frame`, which must be exactly one whole frame (with the
// preamble when `first` is set); nullopt otherwise.
std::optional<ByteView> unframe(const StreamFraming& framing, ByteView frame, bool first = false);

// Which of `framings` claims a stream beginning with `head`: the first that
// says mine; else need_more while any still needs bytes; else not_mine.
struct StreamClaim {
  Sniff sniff = Sniff::not_mine;
  const StreamFraming* framing = nullptr;  // set when sniff == mine
};
StreamClaim claim_stream(ByteView head, std::span<const StreamFraming* const> framings);

// Building blocks for framings whose header is a 16-bit big-endian length.
// `counts_itself`: the length includes the 2-byte field (RFC 8229 §3) rather
// than only the message after it (OpenVPN).
Bytes frame_be16(ByteView message, bool counts_itself);
MessageLength be16_message_length(ByteView head, bool counts_itself);

}  // namespace vpncheck::probes
