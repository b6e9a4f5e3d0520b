// Per-source rate limit for answers: one token bucket per source address
// (not port: a NAT or a spoofer can use any number of ports). Pure: the clock
// is injected, no I/O; used from the single I/O thread only.
//
// A reflector that answers without limit can be used to aim traffic at a
// victim (even replies no larger than requests multiply a spoofer's reach
// across reflectors). Over the limit, arrivals are still recorded, but not
// answered.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

#include "reflector/session_table.h"

namespace vpncheck::reflector {

struct RateLimit {
  double per_second = 200;  // refill rate; 0 = no limit
  double burst = 200;       // bucket size: replies a quiet source may get at once
  std::size_t max_sources = 65536;  // buckets kept; beyond, new sources are limited
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimit limit, SteadyClock clock = &std::chrono::steady_clock::now);

  // Takes one token from `source`'s bucket; false if it is empty (or no
  // bucket could be kept for it). Always true when the limit is off.
  bool allow(const std::string& source);

  // The session that `source` belonged to ended: its bucket goes now if it
  // holds nothing a fresh one would not (it refilled), else once it has
  // refilled, at the next forget_refilled(). Dropping a depleted bucket at
  // once would let anyone who can close a session reset a source's limit.
  void forget(const std::string& source);
  // Drops every bucket that has refilled (the server calls it periodically),
  // so no address outlives its last answer by more than burst / per_second
  // seconds plus that period.
  void forget_refilled() { forget_full_buckets(clock_()); }

  bool enabled() const { return limit_.per_second > 0; }
  std::size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point updated;
  };
  void refill(Bucket& b, std::chrono::steady_clock::time_point now) const;
  void forget_full_buckets(std::chrono::steady_clock::time_point now);

  RateLimit limit_;
  SteadyClock clock_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace vpncheck::reflector
