// Helpers shared by the probes unit tests: deterministic RandomFill sources so
// builder output is golden, and hex literals for hand-written expected bytes.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <random>
#include <span>
#include <string_view>

#include "probes/bytes.h"
#include "probes/probe.h"
#include "probes/token.h"

namespace vpncheck::probes::fixtures {

// Writes start, start+1, ... (mod 256); the counter carries over between calls,
// so two calls on the same source never return the same bytes.
inline RandomFill counter_fill(std::uint8_t start = 0) {
  auto next = std::make_shared<std::uint8_t>(start);
  return [next](std::span<std::uint8_t> out) {
    for (auto& b : out) b = (*next)++;
  };
}

// counter_fill's output as bytes: start, start+1, ... mod 256 (for expected golden bytes).
inline Bytes counter_bytes(std::uint8_t start, std::size_t n) {
  Bytes out(n);
  for (auto& b : out) b = start++;
  return out;
}

// Expected messages written as their parts, in order.
inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Every proper prefix of `good` is refused: `parse` returns something false
// (nullopt, false) for it. A truncated datagram is never a message.
template <typename Parse>
void expect_truncations_refused(ByteView good, Parse parse) {
  for (std::size_t len = 0; len < good.size(); ++len)
    EXPECT_FALSE(parse(good.first(len))) << "truncated to " << len << " of " << good.size() << " bytes";
}

// A copy of `good` with the byte at `offset` set to `value` (one broken field).
inline Bytes with_byte(const Bytes& good, std::size_t offset, std::uint8_t value) {
  Bytes wrong = good;
  wrong[offset] = value;
  return wrong;
}

inline RandomFill constant_fill(std::uint8_t value) {
  return [value](std::span<std::uint8_t> out) {
    for (auto& b : out) b = value;
  };
}

// Pseudo-random but reproducible (std::mt19937 is fully specified by the standard).
inline RandomFill seeded_fill(std::uint32_t seed) {
  auto engine = std::make_shared<std::mt19937>(seed);
  return [engine](std::span<std::uint8_t> out) {
    for (auto& b : out) b = static_cast<std::uint8_t>((*engine)() & 0xffU);
  };
}

// Hex literal to bytes; an invalid literal is a bug in the test itself.
inline Bytes hex(std::string_view text) {
  auto bytes = from_hex(text);
  if (!bytes) {
    ADD_FAILURE() << "invalid hex literal in test: " << text;
    return {};
  }
  return *bytes;
}

constexpr SessionTag kTag{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6};

inline ProbeToken make_token(std::uint16_t index, SessionTag tag = kTag) { return {tag, index}; }

// The probe indices every round trip covers: first, second, last.
constexpr std::uint16_t kProbeIndices[] = {0, 1, 65535};

inline std::array<std::uint8_t, 32> test_public_key() {
  std::array<std::uint8_t, 32> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0x40 + i);
  return key;
}

}  // namespace vpncheck::probes::fixtures
