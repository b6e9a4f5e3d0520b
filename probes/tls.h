// What client and reflector share about TLS-wrapped probes, all pure: how a
// TLS connection starts on the wire (so a port shared with plain protocols
// can tell it apart), and the certificate fingerprint the reflector publishes
// and the client pins instead of trusting a CA.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "probes/bytes.h"

namespace vpncheck::probes::tls {

// A TLS connection opens with a handshake record: content type 22, then the
// legacy record version 3.x (RFC 8446 §5.1: 0x0301 or 0x0303 for a
// ClientHello; RFC 5246 §6.2.1 for older ones). Needs the first 3 bytes; with
// fewer, whether what is there could start one.
inline constexpr std::uint8_t kHandshakeRecord = 0x16;
inline constexpr std::size_t kSniffBytes = 3;
bool looks_like_tls(ByteView head);

// The SHA-256 of a certificate's DER encoding as 64 lower-case hex digits,
// the form the control API carries and the report shows.
std::string certificate_sha256(ByteView der);
// Accepts 64 hex digits in either case, optionally in colon-separated pairs
// (as `openssl x509 -fingerprint -sha256` prints it); the canonical form, or
// nullopt. A reflector's capabilities are untrusted input.
std::optional<std::string> normalise_fingerprint(std::string_view text);
// Does the certificate presented (DER) have the pinned fingerprint? False for
// an unparseable pin: pinning never passes on a malformed pin.
bool matches_pin(ByteView der, std::string_view pinned);

}  // namespace vpncheck::probes::tls
