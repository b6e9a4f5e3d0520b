#include "probes/control.h"

#include <algorithm>

namespace vpncheck::probes::control {

Bytes build_request(const ProbeToken& token, std::size_t size, const RandomFill& rnd) {
  Bytes out(std::max(size, kMinSize));
  rnd(out);
  out[0] = kRequestMarker;
  auto encoded = token.encode();
  std::copy(encoded.begin(), encoded.end(), out.begin() + 1);
  return out;
}

std::optional<ProbeToken> parse_request(ByteView payload) {
  if (payload.size() < kMinSize || payload[0] != kRequestMarker) return std::nullopt;
  return ProbeToken::decode(payload.subspan(1));
}

Bytes build_reply(ByteView request, const RandomFill& rnd) {
  Bytes out(std::max(request.size(), kMinSize));
  rnd(out);
  out[0] = kReplyMarker;
  if (request.size() >= kMinSize) std::copy_n(request.begin() + 1, kProbeTokenSize, out.begin() + 1);
  out.resize(std::min(out.size(), request.size()));
  return out;
}

bool is_reply_to(ByteView reply, ByteView request) {
  return reply.size() >= kMinSize && request.size() >= kMinSize && reply[0] == kReplyMarker &&
         std::equal(reply.begin() + 1, reply.begin() + 1 + kProbeTokenSize, request.begin() + 1);
}

}  // namespace vpncheck::probes::control
