// What the client records of its tries to reach the control API, as the report
// shows them. Plain data, no I/O (the control client itself is control_client.h).
#pragma once

#include <cstdint>
#include <string>

namespace vpncheck::client {

constexpr std::uint16_t kDefaultControlPort = 8780;

struct ControlAttempt {
  std::uint16_t port = 0;
  std::string result;  // "ok", "timed out", "connection refused", "not a vpncheck reflector: ...", "reflector busy: ..."
};

}  // namespace vpncheck::client
