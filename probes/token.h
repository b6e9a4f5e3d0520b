// Contract 1 (DESIGN.md): every probe carries the session's random tag and the
// probe's index, so the reflector can attribute it after NAT has rewritten
// addresses and ports. Encoded as 8 bytes: tag (6) | probe index (2, big-endian),
// which fits every protocol's free 8-byte field (IKE SPI, OpenVPN session id, ...).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "probes/bytes.h"

namespace vpncheck::probes {

constexpr std::size_t kSessionTagSize = 6;
constexpr std::size_t kProbeTokenSize = 8;

using SessionTag = std::array<std::uint8_t, kSessionTagSize>;

struct ProbeToken {
  SessionTag tag{};
  std::uint16_t probe_index = 0;

  std::array<std::uint8_t, kProbeTokenSize> encode() const;
  static std::optional<ProbeToken> decode(ByteView bytes);  // needs at least 8 bytes
  bool operator==(const ProbeToken&) const = default;
};

std::string tag_to_hex(const SessionTag& tag);
std::optional<SessionTag> tag_from_hex(std::string_view hex);

}  // namespace vpncheck::probes
