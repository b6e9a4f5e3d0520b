// How far a missing answer of the NAT and path tests can be believed.
//
// A "no" of these tests is an answer that never came: a DF packet of some
// size (the path MTU is below it), a fragmented datagram (fragments are
// dropped), an unsolicited packet from another port or address (filtering),
// a packet from a sibling socket (hairpinning), a packet after an idle gap
// (the binding expired). On a lossy path every one of them can also be
// chance. So every such request is tried several times on a backoff schedule,
// the tests measure the path's loss from the requests that were answered in
// the end (how many of their tries went unanswered), and a "no" stands only
// when all its tries failing by loss alone is unlikely: chance < 1e-4, with
// the loss taken at its one-sided 95 % upper bound (Wilson score interval,
// z = 1.645). Otherwise the fact is "not determined", never guessed.
//
// Loss is counted in round trips: the fraction q of tries of answered
// requests whose answer did not come. It bounds the loss of either direction
// (q = 1 - (1 - out)(1 - in) >= out, in), so it also bounds a one-way event
// such as an unsolicited packet whose request is known to have arrived; a
// try that needs k such round trips' worth of packets (IP fragments: several
// packets each way) fails by loss with chance at most 1 - (1 - q)^k.
// Pure: no sockets, no clocks read.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string>

#include "src/run/retry.h"

namespace vpncheck::nat {

// A "no" stands only when loss alone would explain it less often than this.
inline constexpr double kChanceThreshold = 1e-4;
// One-sided 95 % (standard normal quantile).
inline constexpr double kConfidenceZ = 1.645;

// Requests are sent again on the probe runner's schedule (src/run/retry.h).
using client::retry_offset;

// One-sided upper confidence bound (Wilson score, z = kConfidenceZ) of a
// proportion seen `hits` times in `n`; 1 when n is 0.
double upper_bound(std::size_t hits, std::size_t n);

struct LossEstimate {
  std::size_t round_trips = 0;  // tries of requests answered in the end, whose outcome is known
  std::size_t lost = 0;         // of them, unanswered
  LossEstimate& operator+=(const LossEstimate& other);
  bool measured() const { return round_trips > 0; }
  double fraction() const;  // lost / round_trips; 0 without data
  double upper() const;     // upper_bound(lost, round_trips); 1 without data
  // Per packet, each way, if both directions lose alike: 1 - sqrt(1 - fraction).
  double per_packet() const;
};

// The chance that `tries` tries, each needing `weight` round trips' worth of
// packets, all failed by loss alone, with the loss at its upper bound.
double chance_by_loss(const LossEstimate& loss, std::size_t tries, int weight = 1);

// One "no" and how strongly the tries support it.
struct Evidence {
  std::string test;        // e.g. "filtering.other_port", "path.size.1420", "path.fragments.out", "lifetime.10"
  std::size_t tries = 0;   // tries that count against it
  double chance = 1;       // of the same outcome by loss alone, had the answer been "yes"
  bool concluded = false;  // chance < kChanceThreshold: the "no" stands
  bool operator==(const Evidence&) const = default;
};
Evidence weigh(std::string test, std::size_t tries, const LossEstimate& loss, int weight = 1);
// A "no" that needs no statistics (a router or this host reported it).
Evidence certain(std::string test, std::size_t tries);

// ---------------------------------------------------------------- tries

// One send of a request and what came back for it.
struct TryRecord {
  std::chrono::steady_clock::time_point sent;
  bool direct = false;  // the answer that shows the request arrived (and the way back works) came
  bool wanted = false;  // the answer the test is about came
};

struct TryTally {
  // Set only when some try's direct answer came (the request is answered in
  // the end): its tries whose outcome is known, and those without a direct answer.
  LossEstimate loss;
  bool arrived = false;  // some direct answer came
  bool wanted = false;   // the wanted answer came
  // The tries that count against the wanted answer when it never came:
  // when it is the direct answer (or no direct answer came at all), every
  // try whose outcome is known; otherwise only the tries whose direct answer
  // came (they are known to have reached the far end). 0 when it came.
  std::size_t missing = 0;
};
// A try's outcome is known once an answer to it came or `wait` has passed since it was sent.
TryTally tally(std::span<const TryRecord> tries, bool want_is_direct, std::chrono::steady_clock::time_point now,
               std::chrono::steady_clock::duration wait);

// "14 %" (whole percent; one decimal below 10 %).
std::string percent(double fraction);
// Why a "no" was not believed, in plain words, from the per-packet loss:
// "15 % of packets were lost" (or, where nothing was lost, that too few
// tries were made to rule out chance).
std::string lost_words(double per_packet);

}  // namespace vpncheck::nat
