// When a probe message is sent again. Real clients retransmit on a backoff
// (OpenVPN: 2 s doubling, ssl.c/reliable.c; WireGuard: REKEY_TIMEOUT 5 s,
// wireguard-go device/timers.go; strongSwan: 4 s times 1.8^n; RFC 7296 §2.1
// leaves the schedule to the implementation). A diagnostic run has one
// deadline of a few seconds, so it keeps their shape (early retries close
// together, then wider) at a scale that fits several tries into the deadline:
// with the default 3 s, sends at 0, 0.25, 0.5, 1, 1.5, 2, 2.5 s. The number
// of tries is what lets the verdict tell a lost packet from a blocked
// protocol: seven lost sends in a row are unlikely by chance even on a quite
// lossy path.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace vpncheck::client {

// The schedule's unit for a deadline `timeout` away: a twelfth of it, so
// that seven tries fit, kept between 50 ms and 250 ms.
constexpr std::chrono::milliseconds retry_unit(std::chrono::milliseconds timeout) {
  return std::clamp(timeout / 12, std::chrono::milliseconds(50), std::chrono::milliseconds(250));
}

// Offset from the first send of a message to its try number `attempt`
// (0 = the first send): the gap doubles from one unit and stays at two.
constexpr std::chrono::milliseconds retry_offset(std::size_t attempt,
                                                 std::chrono::milliseconds unit = std::chrono::milliseconds(250)) {
  if (attempt <= 2) return unit * static_cast<long>(attempt);
  return unit * static_cast<long>(2 * (attempt - 1));
}

}  // namespace vpncheck::client
