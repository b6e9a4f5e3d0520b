#include "probes/token.h"

#include <algorithm>

namespace vpncheck::probes {

std::array<std::uint8_t, kProbeTokenSize> ProbeToken::encode() const {
  std::array<std::uint8_t, kProbeTokenSize> out{};
  std::copy(tag.begin(), tag.end(), out.begin());
  out[6] = static_cast<std::uint8_t>(probe_index >> 8);
  out[7] = static_cast<std::uint8_t>(probe_index);
  return out;
}

std::optional<ProbeToken> ProbeToken::decode(ByteView bytes) {
  if (bytes.size() < kProbeTokenSize) return std::nullopt;
  ProbeToken token;
  std::copy_n(bytes.begin(), kSessionTagSize, token.tag.begin());
  token.probe_index = static_cast<std::uint16_t>((bytes[6] << 8) | bytes[7]);
  return token;
}

std::string tag_to_hex(const SessionTag& tag) { return to_hex(tag); }

std::optional<SessionTag> tag_from_hex(std::string_view hex) {
  auto bytes = from_hex(hex);
  if (!bytes || bytes->size() != kSessionTagSize) return std::nullopt;
  SessionTag tag{};
  std::copy(bytes->begin(), bytes->end(), tag.begin());
  return tag;
}

}  // namespace vpncheck::probes
