#include "src/verdict/evidence.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace vpncheck::client {
namespace {

// An answer may come this much later than the quickest round trip seen and
// still be the answer to that try: scheduling and queueing jitter.
constexpr double kJitterMs = 20;
// Round trips a family must have measured to be judged on its own loss.
constexpr std::size_t kFamilySample = 20;
// TCP retransmits an unacknowledged segment after at least 200 ms, doubling
// (RFC 6298 §2.4 allows 1 s; Linux uses TCP_RTO_MIN = 200 ms).
constexpr double kTcpMinRtoMs = 200;

bool datagram(const ProbeResult& r) { return r.probe.variant.transport != probes::Transport::tcp; }

double ratio(std::size_t part, std::size_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

// The path's round trip: the quickest answer to a message counted from its
// first try. Where a first try was answered (on any path but a very lossy
// one, some are) that is the round trip itself; tries sent while that answer
// was on its way do not shorten it. An answer later than about twice this
// after a try was not that try's.
std::optional<double> quickest_round_trip(std::span<const ProbeResult> results) {
  std::optional<double> best;
  for (const auto& r : results)
    for (const auto& step : r.client.attempts) {
      if (!step.answered_ms || step.sent_ms.empty()) continue;
      const double rtt = *step.answered_ms - step.sent_ms.front();
      if (!best || rtt < *best) best = rtt;
    }
  return best;
}

// Which message of its exchange a probe stopped at, and that message's tries.
struct FailedStep {
  std::size_t index = 0;
  const StepAttempts* attempts = nullptr;
};

FailedStep failed_step(const ProbeResult& r) {
  FailedStep out;
  out.index = r.client.steps_answered;
  // TCP: entry 0 is the connection; its messages follow.
  const std::size_t entry = datagram(r) ? out.index : (r.client.attempts.size() > 1 ? out.index + 1 : 0);
  if (entry < r.client.attempts.size()) out.attempts = &r.client.attempts[entry];
  return out;
}

std::size_t tries(const FailedStep& step) { return step.attempts ? std::max<std::size_t>(1, step.attempts->sent_ms.size()) : 1; }

// What the reflector recorded of the failed message, and how many answers it
// sent to it; nullopt when its arrivals cannot be told from the earlier
// messages' (their digests are unknown).
struct StepArrivals {
  std::size_t arrived = 0;
  std::size_t answered = 0;
};

std::optional<StepArrivals> arrivals_of(const ProbeResult& r, std::size_t step) {
  std::set<std::string> earlier;
  if (step > 0) {
    if (r.client.sent_sha256.empty() || r.client.later_sent_sha256.size() + 1 < step) return std::nullopt;
    earlier.insert(r.client.sent_sha256);
    for (std::size_t i = 0; i + 1 < step; ++i) earlier.insert(r.client.later_sent_sha256[i]);
  }
  StepArrivals out;
  for (const auto& a : r.arrivals) {
    if (earlier.count(a.payload_sha256)) continue;
    ++out.arrived;
    if (a.reply.sent) ++out.answered;
  }
  return out;
}

bool failing(Verdict v) { return v == Verdict::blocked || v == Verdict::outbound_only || v == Verdict::restricted; }

}  // namespace

std::string describe_chance(double chance) {
  if (chance <= 0) return "none";
  if (chance < 1e-6) return "below 1 in a million";
  char buf[48];
  std::snprintf(buf, sizeof buf, "about 1 in %.0f", std::max(1.0, 1.0 / chance));
  return buf;
}

namespace {

// The chance that loss alone fails some place of an assessment as badly as
// its worst (likeliest by chance) failed genuine probe. A protocol that
// worked on a port would have let its same-size control probe through too, so
// where that failed as well, both had to fail by chance. Every genuine probe
// tested was a chance for loss to fail one: a protocol tried in many places
// (OpenVPN's forms on three ports) is that much likelier to lose one by chance,
// so the worst probe's chance is taken over all of them, 1 - (1 - p)^n.
double worst_chance(const ProtocolAssessment& a, const LossEstimate& loss, bool observations_read) {
  double worst = 0;
  std::size_t tested = 0;
  for (const auto& r : a.probes)
    if (r.probe.kind == ProbeKind::genuine && was_tested(r)) ++tested;
  for (const auto& r : a.probes) {
    if (r.probe.kind != ProbeKind::genuine || !was_tested(r) || answered(r)) continue;
    double chance = chance_by_loss(r, loss, observations_read);
    for (const auto& c : a.probes)
      if (c.probe.kind == ProbeKind::control && c.probe.family == r.probe.family &&
          c.probe.variant.same_place(r.probe.variant) && was_tested(c) && !answered(c))
        chance *= chance_by_loss(c, loss, observations_read);
    worst = std::max(worst, chance);
  }
  if (worst <= 0 || tested <= 1) return worst;
  return 1 - std::pow(1 - worst, static_cast<double>(tested));
}

void check(ProtocolAssessment& a, const LossEstimate& loss, bool observations_read) {
  const std::string title(a.title().empty() ? std::string_view("This protocol") : a.title());
  if (failing(a.verdict)) {
    const double chance = worst_chance(a, loss, observations_read);
    LossCheck lc;
    lc.chance = chance;
    lc.loss = loss.fraction();
    if (chance >= kChanceThreshold) {
      lc.withheld = a.verdict;
      a.verdict = Verdict::inconclusive;
      const std::string why = loss.fraction() > 0
                                  ? "lossy path: " + percent(loss.fraction()) + " of packets lost"
                                  : "too few answers came back to measure the path's loss";
      a.summary = title + " could not be judged: " + why +
                  ", run again or use a longer --timeout. What came back would read as " +
                  std::string(to_string(*lc.withheld)) + ", but loss alone explains it (" + describe_chance(chance) +
                  "): " + a.summary;
      a.advice.clear();
      a.advice.push_back("Run vpncheck again, with a longer --timeout (e.g. --timeout 8) so more tries fit in, "
                         "preferably from a less lossy connection.");
      a.working_variant.reset();
    }
    a.loss_check = lc;
  } else if (a.verdict == Verdict::pass && loss.fraction() >= kNegligibleLoss) {
    a.summary += " (" + percent(loss.fraction()) + " of packets were lost on this path; it passed anyway.)";
  }
}

}  // namespace

double LossEstimate::outbound() const { return ratio(datagrams_sent - datagrams_arrived, datagrams_sent); }
double LossEstimate::round_trip() const { return ratio(round_trips_failed, round_trips); }
double LossEstimate::inbound() const {
  const double out = outbound();
  if (out >= 1) return 0;
  return std::clamp(1 - (1 - round_trip()) / (1 - out), 0.0, 1.0);
}
// A round trip is lost at least as often as its outbound half, so its bound
// bounds the outbound loss too (the only bound when no datagram arrived).
double LossEstimate::outbound_upper() const {
  return std::min(upper_bound(datagrams_sent - datagrams_arrived, datagrams_sent), round_trip_upper());
}
double LossEstimate::round_trip_upper() const { return upper_bound(round_trips_failed, round_trips); }

LossEstimate estimate_loss(std::span<const ProbeResult> results) {
  LossEstimate out;
  const auto quickest = quickest_round_trip(results);
  for (const auto& r : results) {
    if (datagram(r) && !r.arrivals.empty()) {
      std::size_t sent = 0;
      for (const auto& step : r.client.attempts) sent += step.sent_ms.size();
      out.datagrams_sent += sent;
      out.datagrams_arrived += std::min(sent, r.arrivals.size());
    }
    if (!quickest) continue;
    // Only tries the client itself timed: datagrams, and TCP connection attempts (entry 0).
    const std::size_t steps = datagram(r) ? r.client.attempts.size() : std::min<std::size_t>(1, r.client.attempts.size());
    for (std::size_t i = 0; i < steps; ++i) {
      const auto& step = r.client.attempts[i];
      if (!step.answered_ms) continue;  // unanswered messages are what the verdicts judge
      const double too_late = *step.answered_ms - 2 * *quickest - kJitterMs;
      // The answer came to one of the tries, however late (a slow or loaded
      // path delays, it does not lose): only the others can have been lost.
      const auto failed = std::min(
          step.sent_ms.size() - 1,
          static_cast<std::size_t>(
              std::count_if(step.sent_ms.begin(), step.sent_ms.end(), [&](double t) { return t < too_late; })));
      out.round_trips += failed + 1;
      out.round_trips_failed += failed;
    }
  }
  return out;
}

void settle_round_trips(std::vector<ProbeResult>& results) {
  const auto quickest = quickest_round_trip(results);
  if (!quickest) return;
  for (auto& r : results) {
    if (!r.client.rtt_ms || r.client.attempts.empty()) continue;
    // The first answered message, as the exchange's own rtt_ms is measured.
    const auto first = std::find_if(r.client.attempts.begin(), r.client.attempts.end(),
                                    [](const StepAttempts& s) { return s.answered_ms.has_value(); });
    if (first == r.client.attempts.end() || first->sent_ms.size() < 2) continue;
    const double answered = *first->answered_ms;
    auto answered_try = std::find_if(first->sent_ms.rbegin(), first->sent_ms.rend(),
                                     [&](double t) { return answered - t >= *quickest; });
    if (answered_try != first->sent_ms.rend()) r.client.rtt_ms = answered - *answered_try;
  }
}

double chance_by_loss(const ProbeResult& r, const LossEstimate& loss, bool observations_read) {
  switch (r.client.outcome) {
    case Outcome::reply: return 0;
    case Outcome::refused:
    case Outcome::reset:
    case Outcome::unreachable:
    case Outcome::invalid_reply: return 0;  // the network answered
    case Outcome::not_run:
    case Outcome::not_permitted:
    case Outcome::local_error: return 1;
    case Outcome::timeout: break;
  }
  const FailedStep step = failed_step(r);
  double n = static_cast<double>(tries(step));
  const bool connecting = !datagram(r) && r.client.attempts.size() <= 1;
  if (!datagram(r) && !connecting && step.attempts && !step.attempts->sent_ms.empty()) {
    // On a connection both ends' kernels retransmit, about every doubled RTO:
    // count the tries that fitted into the time the message had.
    const double waited = step.attempts->sent_ms.back() - step.attempts->sent_ms.front();
    n = std::max(n, 1 + std::floor(std::log2(waited / kTcpMinRtoMs + 1)));
  }
  // The quickest path to an answer: a try (or its answer) lost on the way.
  const double round_trip = loss.round_trip_upper();
  if (!observations_read || connecting) return std::pow(round_trip, n);
  const auto arrived = arrivals_of(r, step.index);
  if (!arrived) return std::pow(round_trip, n);
  if (arrived->arrived == 0) return std::pow(loss.outbound_upper(), n);
  if (arrived->answered == 0) return 1;  // the reflector sent nothing back: nothing to lose
  // Answers the reflector sent that never came back; each answer is lost at
  // most as often as a whole round trip is.
  return std::pow(round_trip, datagram(r) ? static_cast<double>(arrived->answered) : n);
}

LossEstimate& LossEstimate::operator+=(const nat::LossEstimate& nat_tests) {
  round_trips += nat_tests.round_trips;
  round_trips_failed += nat_tests.lost;
  return *this;
}

void apply_loss_evidence(std::vector<ProtocolAssessment>& protocols, bool observations_read,
                         const nat::LossEstimate& ipv4_extra) {
  std::vector<ProbeResult> all, v4, v6;
  for (const auto& a : protocols)
    for (const auto& r : a.probes) {
      all.push_back(r);
      (r.probe.family == Family::ipv6 ? v6 : v4).push_back(r);
    }
  LossEstimate loss_all = estimate_loss(all), loss_v4 = estimate_loss(v4);
  const LossEstimate loss_v6 = estimate_loss(v6);
  loss_all += ipv4_extra;
  loss_v4 += ipv4_extra;
  for (auto& a : protocols) {
    if (a.families.empty()) {
      check(a, loss_all, observations_read);
      continue;
    }
    for (auto& f : a.families) {
      // A family that measured little on its own (an IPv6 firewall that lets
      // one port through) is judged on the whole run's loss: both families
      // cross the same access link, where loss mostly happens.
      const LossEstimate& own = f.family == Family::ipv6 ? loss_v6 : loss_v4;
      check(f, own.round_trips < kFamilySample ? loss_all : own, observations_read);
    }
    // The top-level verdict is the first family's (see assess_families).
    const auto& first = a.families.front();
    a.verdict = first.verdict;
    a.summary = first.summary;
    a.advice = first.advice;
    a.working_variant = first.working_variant;
    a.loss_check = first.loss_check;
  }
}

std::optional<std::string> loss_line(const LossEstimate& loss) {
  if (loss.fraction() < kNegligibleLoss) return std::nullopt;
  return "Lossy path: " + percent(loss.fraction()) + " of packets lost (outbound " + percent(loss.outbound()) +
         ", return " + percent(loss.inbound()) +
         "); failing verdicts were checked against this loss, and those it could explain are inconclusive.";
}

}  // namespace vpncheck::client
