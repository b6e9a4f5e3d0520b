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

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string format_guid(const Guid& guid) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out = "{";
  for (std::size_t i = 0; i < guid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kDigits[guid[i] >> 4];
    out += kDigits[guid[i] & 0x0f];
  }
  out += '}';
  return out;
}

std::optional<Guid> parse_guid(std::string_view text) {
  // {8-4-4-4-12}: 38 characters with the braces.
  if (text.size() != 38 || text.front() != '{' || text.back() != '}') return std::nullopt;
  text = text.substr(1, 36);
  Guid guid{};
  std::size_t byte = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    int hi = hex_value(text[i]);
    int lo = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
    if (hi < 0 || lo < 0) return std::nullopt;
    guid[byte++] = static_cast<std::uint8_t>((hi << 4) | lo);
    i += 2;
  }
  return byte == guid.size() ? std::optional<Guid>(guid) : std::nullopt;
}

Guid token_guid(const ProbeToken& token, const RandomFill& rnd) {
  Guid guid{};
  rnd(guid);
  auto encoded = token.encode();
  std::copy_n(encoded.begin(), kSessionTagSize, guid.begin());
  guid[10] = encoded[6];
  guid[11] = encoded[7];
  // RFC 9562 §5.4: version 4 in the high nibble of byte 6, variant 10 in the top bits of byte 8.
  guid[6] = static_cast<std::uint8_t>(0x40 | (guid[6] & 0x0f));
  guid[8] = static_cast<std::uint8_t>(0x80 | (guid[8] & 0x3f));
  return guid;
}

ProbeToken token_of_guid(const Guid& guid) {
  std::array<std::uint8_t, kProbeTokenSize> encoded{};
  std::copy_n(guid.begin(), kSessionTagSize, encoded.begin());
  encoded[6] = guid[10];
  encoded[7] = guid[11];
  return *ProbeToken::decode(encoded);
}

}  // namespace vpncheck::probes
