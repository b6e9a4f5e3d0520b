// TCP connections the reflector refused because every connection slot was
// taken (--max-connections), per source address. A refused connection is
// closed before a byte is read, so it carries no session tag: it is matched to
// a session later, by address (the session's control connection and the
// sources its probes arrived from), and reported in the session's `limits`
// so that the client does not blame the network for it. Pure: the clock is
// injected, no I/O; bounded; used from the single I/O thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "reflector/session_table.h"

namespace vpncheck::reflector {

class ConnectionRefusals {
 public:
  static constexpr std::size_t kMaxAddresses = 4096;
  // A tally not added to for this long starts again (and may be forgotten):
  // the default session lifetime, longer than any client waits to ask.
  static constexpr std::chrono::seconds kWindow{300};

  struct Tally {
    LimitTally refused;  // connections, and the local ports they were made to
    std::chrono::steady_clock::time_point first;
    std::chrono::steady_clock::time_point last;
  };

  explicit ConnectionRefusals(SteadyClock clock = &std::chrono::steady_clock::now);

  void record(const std::string& address, std::uint16_t local_port);
  // The tally of `address`, if one of its refusals happened at or after
  // `since` (its count may include earlier refusals of the same run).
  const Tally* find(const std::string& address, std::chrono::steady_clock::time_point since) const;
  void forget(const std::string& address) { tallies_.erase(address); }
  std::size_t size() const { return tallies_.size(); }

 private:
  void make_room(std::chrono::steady_clock::time_point now);

  SteadyClock clock_;
  std::unordered_map<std::string, Tally> tallies_;
};

}  // namespace vpncheck::reflector
