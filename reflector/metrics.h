// The reflector's counters, kept in one place (Server owns one Metrics; the
// session table, the arrival demux and the control API count into it) and
// rendered for GET /metrics in the Prometheus text exposition format 0.0.4.
// Pure: no I/O, no clock; used from the single I/O thread only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace vpncheck::reflector {

// Why an arrival was not answered. All but rate_limited mean "nothing was
// recorded"; rate_limited arrivals are recorded but their answer is withheld.
enum class DropReason : std::size_t {
  empty,              // zero-length payload
  oversized,          // above the bound for its framing (or truncated by the kernel)
  bad_frame,          // TCP: a frame its framing calls invalid, > kMaxStreamMessage, or not what arrived
  unrecognised,       // no protocol module and no control probe claims the bytes
  unknown_session,    // a well-formed probe whose tag matches no live session
  observation_limit,  // the session already holds max_observations, or its or all sessions' observation bytes
  rate_limited,       // recorded, not answered: the source is over --rate-limit
  count_,
};

std::string_view to_string(DropReason reason);

class DropCounters {
 public:
  void add(DropReason r) { ++counts_[static_cast<std::size_t>(r)]; }
  std::uint64_t get(DropReason r) const { return counts_[static_cast<std::size_t>(r)]; }
  std::uint64_t total() const;
  std::string summary() const;  // "unrecognised=3 unknown_session=1" (non-zero only)

 private:
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::count_)> counts_{};
};

struct Metrics {
  std::uint64_t sessions_created = 0;
  std::uint64_t sessions_expired = 0;
  std::uint64_t sessions_closed = 0;  // DELETE by the client
  // (protocol, kind) -> observations recorded, e.g. ("wireguard", "genuine").
  std::map<std::pair<std::string, std::string>, std::uint64_t> probes_recorded;
  std::uint64_t replies_sent = 0;    // handed to the kernel in full
  std::uint64_t replies_failed = 0;  // the send or write failed
  DropCounters drops;
  std::size_t observation_bytes = 0;  // what all sessions' stored observations take now
};

// Prometheus label value escaping: backslash, double quote and line feed.
std::string prometheus_escape_label(std::string_view value);

// The whole exposition: HELP and TYPE lines for every family, every drop
// reason (zeros included, so rates work from the first scrape).
std::string render_prometheus(const Metrics& metrics, std::size_t sessions_open);

constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace vpncheck::reflector
