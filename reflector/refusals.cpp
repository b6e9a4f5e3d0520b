#include "reflector/refusals.h"

#include <algorithm>

namespace vpncheck::reflector {

ConnectionRefusals::ConnectionRefusals(SteadyClock clock) : clock_(std::move(clock)) {}

// Stale tallies first; if every one is recent, the one refused longest ago
// goes (a flood from many addresses must not grow the table).
void ConnectionRefusals::make_room(std::chrono::steady_clock::time_point now) {
  std::erase_if(tallies_, [&](const auto& kv) { return now - kv.second.last > kWindow; });
  if (tallies_.size() < kMaxAddresses) return;
  auto oldest = std::min_element(tallies_.begin(), tallies_.end(),
                                 [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
  tallies_.erase(oldest);
}

void ConnectionRefusals::record(const std::string& address, std::uint16_t local_port) {
  const auto now = clock_();
  auto it = tallies_.find(address);
  if (it == tallies_.end()) {
    if (tallies_.size() >= kMaxAddresses) make_room(now);
    it = tallies_.emplace(address, Tally{{}, now, now}).first;
  } else if (now - it->second.last > kWindow) {
    it->second = Tally{{}, now, now};  // an old run of refusals says nothing about today's sessions
  }
  it->second.refused.add(local_port);
  it->second.last = now;
}

const ConnectionRefusals::Tally* ConnectionRefusals::find(const std::string& address,
                                                          std::chrono::steady_clock::time_point since) const {
  auto it = tallies_.find(address);
  if (it == tallies_.end() || it->second.last < since) return nullptr;
  return &it->second;
}

}  // namespace vpncheck::reflector
