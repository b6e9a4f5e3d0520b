// Hashes the probes need, over OpenSSL's libcrypto (pure computation, no I/O):
// SHA-256 for payload digests, BLAKE2s for WireGuard's mac1.
#pragma once

#include <array>
#include <cstdint>

#include "probes/bytes.h"

namespace vpncheck::probes {

std::array<std::uint8_t, 32> sha256(ByteView data);
std::array<std::uint8_t, 32> blake2s256(ByteView data);
// Keyed BLAKE2s with a 16-byte output, as WireGuard's MAC(key, msg).
std::array<std::uint8_t, 16> blake2s_mac128(ByteView key, ByteView data);

}  // namespace vpncheck::probes
