// Hashes the probes need, over OpenSSL's libcrypto (pure computation, no I/O):
// SHA-256 for payload digests, BLAKE2s for WireGuard's mac1, SHA-1 for IKEv2
// NAT detection (RFC 7296 §2.23) and HMAC-SHA1-96 for the AH ICV (RFC 2404).
#pragma once

#include <array>
#include <cstdint>

#include "probes/bytes.h"

namespace vpncheck::probes {

std::array<std::uint8_t, 32> sha256(ByteView data);
std::array<std::uint8_t, 32> blake2s256(ByteView data);
std::array<std::uint8_t, 20> sha1(ByteView data);
// HMAC-SHA1 (RFC 2104) and its 96-bit truncation HMAC-SHA1-96 (RFC 2404 §2):
// the first 12 bytes of the HMAC.
std::array<std::uint8_t, 20> hmac_sha1(ByteView key, ByteView data);
std::array<std::uint8_t, 12> hmac_sha1_96(ByteView key, ByteView data);
// Keyed BLAKE2s with a 16-byte output, as WireGuard's MAC(key, msg).
std::array<std::uint8_t, 16> blake2s_mac128(ByteView key, ByteView data);

}  // namespace vpncheck::probes
