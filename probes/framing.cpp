#include "probes/framing.h"

#include <algorithm>
#include <limits>

namespace vpncheck::probes {
namespace {

constexpr std::size_t kBe16Size = 2;

bool starts_with(ByteView bytes, ByteView prefix) {
  return bytes.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), bytes.begin());
}

}  // namespace

std::string_view to_string(Sniff s) {
  switch (s) {
    case Sniff::mine: return "mine";
    case Sniff::not_mine: return "not_mine";
    case Sniff::need_more: return "need_more";
  }
  return "not_mine";
}

Bytes frame_first(const StreamFraming& framing, ByteView message) {
  Bytes framed = framing.frame(message);
  if (framed.empty()) return framed;
  Bytes out(framing.preamble.begin(), framing.preamble.end());
  out.insert(out.end(), framed.begin(), framed.end());
  return out;
}

MessageLength first_message_length(const StreamFraming& framing, ByteView stream_head) {
  const auto& pre = framing.preamble;
  const std::size_t seen = std::min(stream_head.size(), pre.size());
  if (!std::equal(pre.begin(), pre.begin() + static_cast<std::ptrdiff_t>(seen), stream_head.begin()))
    return MessageLength::bad();
  if (stream_head.size() < pre.size()) return MessageLength::more();
  auto rest = framing.message_length(stream_head.subspan(pre.size()));
  if (rest.status == MessageLength::Status::length) rest.length += pre.size();
  return rest;
}

std::optional<ByteView> unframe(const StreamFraming& framing, ByteView frame, bool first) {
  if (first) {
    if (!starts_with(frame, framing.preamble)) return std::nullopt;
    frame = frame.subspan(framing.preamble.size());
  }
  auto length = framing.message_length(frame);
  if (length.status != MessageLength::Status::length || length.length != frame.size() ||
      length.length <= framing.header_size)
    return std::nullopt;
  return frame.subspan(framing.header_size);
}

StreamClaim claim_stream(ByteView head, std::span<const StreamFraming* const> framings) {
  bool undecided = false;
  for (const auto* framing : framings) {
    switch (framing->sniff(head)) {
      case Sniff::mine: return StreamClaim{Sniff::mine, framing};
      case Sniff::need_more: undecided = true; break;
      case Sniff::not_mine: break;
    }
  }
  return StreamClaim{undecided ? Sniff::need_more : Sniff::not_mine, nullptr};
}

Bytes frame_be16(ByteView message, bool counts_itself) {
  const std::size_t length = message.size() + (counts_itself ? kBe16Size : 0);
  if (message.empty() || length > std::numeric_limits<std::uint16_t>::max()) return {};
  ByteWriter w;
  w.be16(static_cast<std::uint16_t>(length)).bytes(message);
  return w.take();
}

MessageLength be16_message_length(ByteView head, bool counts_itself) {
  if (head.size() < kBe16Size) return MessageLength::more();
  const std::size_t field = std::size_t{head[0]} << 8 | head[1];
  const std::size_t total = counts_itself ? field : kBe16Size + field;
  // A frame carries a message of at least one byte.
  if (total <= kBe16Size) return MessageLength::bad();
  return MessageLength::of(total);
}

}  // namespace vpncheck::probes
