#include "reflector/rate_limit.h"

#include <algorithm>

namespace vpncheck::reflector {

RateLimiter::RateLimiter(RateLimit limit, SteadyClock clock) : limit_(limit), clock_(std::move(clock)) {
  limit_.burst = std::max(limit_.burst, 1.0);
}

void RateLimiter::refill(Bucket& b, std::chrono::steady_clock::time_point now) const {
  if (now <= b.updated) return;
  const double elapsed = std::chrono::duration<double>(now - b.updated).count();
  b.tokens = std::min(limit_.burst, b.tokens + elapsed * limit_.per_second);
  b.updated = now;
}

// A full bucket carries no state a fresh one would not: drop it.
void RateLimiter::forget_full_buckets(std::chrono::steady_clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now);
    it = it->second.tokens >= limit_.burst ? buckets_.erase(it) : std::next(it);
  }
}

void RateLimiter::forget(const std::string& source) {
  auto it = buckets_.find(source);
  if (it == buckets_.end()) return;
  refill(it->second, clock_());
  if (it->second.tokens >= limit_.burst) buckets_.erase(it);
}

bool RateLimiter::allow(const std::string& source) {
  if (!enabled()) return true;
  const auto now = clock_();
  auto it = buckets_.find(source);
  if (it == buckets_.end()) {
    if (buckets_.size() >= limit_.max_sources) forget_full_buckets(now);
    // Still full: every kept source is busy. Refusing the newcomer keeps memory
    // bounded; it only costs answers, never observations.
    if (buckets_.size() >= limit_.max_sources) return false;
    it = buckets_.emplace(source, Bucket{limit_.burst, now}).first;
  } else {
    refill(it->second, now);
  }
  if (it->second.tokens < 1.0) return false;
  it->second.tokens -= 1.0;
  return true;
}

}  // namespace vpncheck::reflector
