// Contract 1 (DESIGN.md): every probe carries the session's random tag and the
// probe's index, so the reflector can attribute it after NAT has rewritten
// addresses and ports. Encoded as 8 bytes: tag (6) | probe index (2, big-endian),
// which fits every protocol's free 8-byte field (IKE SPI, OpenVPN session id, ...).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <optional>
#include <string>
#include <string_view>

#include "probes/bytes.h"

namespace vpncheck::probes {

constexpr std::size_t kSessionTagSize = 6;
constexpr std::size_t kProbeTokenSize = 8;

using SessionTag = std::array<std::uint8_t, kSessionTagSize>;
using RandomFill = std::function<void(std::span<std::uint8_t>)>;

struct ProbeToken {
  SessionTag tag{};
  std::uint16_t probe_index = 0;

  std::array<std::uint8_t, kProbeTokenSize> encode() const;
  static std::optional<ProbeToken> decode(ByteView bytes);  // needs at least 8 bytes
  bool operator==(const ProbeToken&) const = default;
};

std::string tag_to_hex(const SessionTag& tag);

// Protocols whose only client-chosen bytes are a random GUID (RFC 9562 §5.4,
// version 4) carry the token in bits such a GUID leaves random: the tag in
// bytes 0-5, the probe index in bytes 10-11; the version and variant bits
// stay those of a random GUID, so the field looks like any client's.
using Guid = std::array<std::uint8_t, 16>;
Guid token_guid(const ProbeToken& token, const RandomFill& rnd);
ProbeToken token_of_guid(const Guid& guid);
// "{0A1B2C3D-4E5F-...}": the registry form Windows writes (upper-case, braces).
std::string format_guid(const Guid& guid);
// The same form in either case; nullopt for anything else.
std::optional<Guid> parse_guid(std::string_view text);
std::optional<SessionTag> tag_from_hex(std::string_view hex);

}  // namespace vpncheck::probes
