#include "src/nat/evidence.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace vpncheck::nat {

double upper_bound(std::size_t hits, std::size_t n) {
  if (n == 0) return 1.0;
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(std::min(hits, n)) / nn;
  const double z2 = kConfidenceZ * kConfidenceZ;
  const double centre = p + z2 / (2 * nn);
  const double spread = kConfidenceZ * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return std::clamp((centre + spread) / (1 + z2 / nn), 0.0, 1.0);
}

LossEstimate& LossEstimate::operator+=(const LossEstimate& other) {
  round_trips += other.round_trips;
  lost += other.lost;
  return *this;
}

double LossEstimate::fraction() const {
  return round_trips == 0 ? 0.0 : static_cast<double>(std::min(lost, round_trips)) / static_cast<double>(round_trips);
}

double LossEstimate::upper() const { return upper_bound(lost, round_trips); }

double LossEstimate::per_packet() const { return 1.0 - std::sqrt(1.0 - fraction()); }

double chance_by_loss(const LossEstimate& loss, std::size_t tries, int weight) {
  const double per_try = 1.0 - std::pow(1.0 - loss.upper(), std::max(weight, 1));
  return std::pow(per_try, static_cast<double>(tries));
}

Evidence weigh(std::string test, std::size_t tries, const LossEstimate& loss, int weight) {
  Evidence e;
  e.test = std::move(test);
  e.tries = tries;
  e.chance = chance_by_loss(loss, tries, weight);
  e.concluded = e.chance < kChanceThreshold;
  return e;
}

Evidence certain(std::string test, std::size_t tries) {
  return Evidence{std::move(test), tries, 0.0, true};
}

TryTally tally(std::span<const TryRecord> tries, bool want_is_direct, std::chrono::steady_clock::time_point now,
               std::chrono::steady_clock::duration wait) {
  TryTally t;
  auto known = [&](const TryRecord& r) { return r.direct || r.wanted || now - r.sent >= wait; };
  for (const auto& r : tries) {
    t.arrived = t.arrived || r.direct;
    t.wanted = t.wanted || r.wanted;
  }
  for (const auto& r : tries) {
    if (!known(r)) continue;
    if (t.arrived) {
      ++t.loss.round_trips;
      if (!r.direct) ++t.loss.lost;
    }
    if (t.wanted) continue;
    // A try whose direct answer came is known to have reached the far end;
    // its wanted answer left at the same moment, so it had `wait` to come too.
    if (want_is_direct || !t.arrived) ++t.missing;
    else if (r.direct && now - r.sent >= wait) ++t.missing;
  }
  return t;
}

std::string percent(double fraction) {
  const double pc = std::clamp(fraction, 0.0, 1.0) * 100.0;
  char buffer[32];
  if (pc < 9.95 && std::lround(pc * 10) % 10 != 0)
    std::snprintf(buffer, sizeof buffer, "%.1f %%", pc);
  else
    std::snprintf(buffer, sizeof buffer, "%.0f %%", pc);
  return buffer;
}

std::string lost_words(double per_packet) {
  if (per_packet <= 0) return "too few tries were made to rule out chance";
  return percent(per_packet) + " of packets were lost";
}

}  // namespace vpncheck::nat
