#include "probes/tls.h"

#include <cctype>

#include "probes/crypto.h"

namespace vpncheck::probes::tls {

bool looks_like_tls(ByteView head) {
  if (head.empty() || head[0] != kHandshakeRecord) return false;
  if (head.size() >= 2 && head[1] != 0x03) return false;
  // SSL 3.0 (0x0300) to TLS 1.3's legacy 0x0303; 0x0304 is what a TLS 1.3
  // record would say if it ever stopped lying (RFC 8446 §5.1).
  return head.size() < 3 || head[2] <= 0x04;
}

std::string certificate_sha256(ByteView der) { return to_hex(sha256(der)); }

std::optional<std::string> normalise_fingerprint(std::string_view text) {
  std::string out;
  out.reserve(64);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ':') {
      // Only between pairs: "ab:cd", not "a:bcd" or a leading/trailing colon.
      if (out.empty() || out.size() % 2 != 0 || i + 1 == text.size() || text[i + 1] == ':') return std::nullopt;
      continue;
    }
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (out.size() > 64) return std::nullopt;
  }
  if (out.size() != 64) return std::nullopt;
  return out;
}

bool matches_pin(ByteView der, std::string_view pinned) {
  auto pin = normalise_fingerprint(pinned);
  return pin && !der.empty() && *pin == certificate_sha256(der);
}

}  // namespace vpncheck::probes::tls
