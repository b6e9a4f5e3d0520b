// Shared helpers for the reflector tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "probes/probe.h"

namespace vpncheck::reflector::test {

// Deterministic "random" bytes: a counter, so golden values stay stable and
// consecutive draws differ (session ids and tags stay unique).
inline probes::RandomFill counter_fill(std::uint8_t start = 1) {
  auto state = std::make_shared<std::uint32_t>(start);
  return [state](std::span<std::uint8_t> out) {
    for (auto& b : out) {
      *state = *state * 1103515245u + 12345u;  // LCG: cheap, deterministic
      b = static_cast<std::uint8_t>(*state >> 16);
    }
  };
}

// A clock the test moves by hand; copies of fn() follow it.
struct FakeClock {
  std::shared_ptr<std::chrono::steady_clock::time_point> now =
      std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::hours(1));
  std::function<std::chrono::steady_clock::time_point()> fn() const {
    return [now = now] { return *now; };
  }
  void advance(std::chrono::steady_clock::duration d) { *now += d; }
};

}  // namespace vpncheck::reflector::test
