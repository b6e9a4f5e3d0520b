// The request that opens a session (POST /v1/sessions, Contract 2) may go out
// more than once: on a lossy path the client sends it again on new
// connections rather than wait out TCP's retransmission timeouts. Every copy
// carries one key of the client's choosing, and the reflector opens one
// session per key and client address, answering the copies with it (the
// Idempotency-Key header field, draft-ietf-httpapi-idempotency-key-header).
#pragma once

#include <cstddef>
#include <string_view>

namespace vpncheck::probes {

constexpr std::string_view kIdempotencyKeyHeader = "Idempotency-Key";
constexpr std::size_t kIdempotencyKeyMinSize = 16;
constexpr std::size_t kIdempotencyKeyMaxSize = 64;

// 16 to 64 characters of [A-Za-z0-9_-]: enough to be unguessable, bounded
// in what the reflector keeps, and nothing a log or a terminal could misread.
constexpr bool valid_idempotency_key(std::string_view key) {
  if (key.size() < kIdempotencyKeyMinSize || key.size() > kIdempotencyKeyMaxSize) return false;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace vpncheck::probes
