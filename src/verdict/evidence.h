// How much a failing verdict can be trusted on a lossy path.
//
// Every probe message is retried on a schedule (src/run/retry.h), so a
// working protocol fails only if every try of one message, or every answer to
// them, is lost. The run measures the path's loss from what it sent anyway:
// how many datagrams of the probes that did reach the reflector it recorded
// (outbound), and how many tries of answered messages went unanswered (round
// trip). A failing verdict (blocked, outbound_only, restricted) stands only
// when each failed probe's pattern is unlikely under that loss; otherwise it
// becomes `inconclusive` and says so. Pure: unit-tested on synthetic results.
#pragma once

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "src/nat/evidence.h"
#include "src/run/result.h"
#include "src/verdict/verdict.h"

namespace vpncheck::client {

// A failing verdict stands only if each failed probe would fail that way by
// loss alone with a chance below nat::kChanceThreshold (1e-4), the bar the
// NAT tests' "no" answers meet too. About thirty messages are tried per run,
// so this keeps a wrong failing verdict rarer than 1 run in 300 even where
// every message is retried only a few times.
using nat::kChanceThreshold;
// One-sided 95 % upper bound of a proportion (Wilson score), and "14 %".
using nat::percent;
using nat::upper_bound;
// Below this measured loss a run's loss is not worth a line of its own.
inline constexpr double kNegligibleLoss = 0.02;

struct LossEstimate {
  // Outbound: datagrams sent by probes the reflector saw at least once, and
  // how many of them it recorded.
  std::size_t datagrams_sent = 0;
  std::size_t datagrams_arrived = 0;
  // Round trips: tries of messages that were answered in the end, and how
  // many of them plainly went unanswered (a later try was answered, and the
  // earlier one had time enough for its answer to come first).
  std::size_t round_trips = 0;
  std::size_t round_trips_failed = 0;

  double outbound() const;            // point estimate, 0 without data
  double round_trip() const;          // point estimate, 0 without data
  double inbound() const;             // what the round trips lose beyond the outbound loss
  // One-sided 95 % upper bounds; 1 without data.
  double outbound_upper() const;
  double round_trip_upper() const;
  // The per-packet loss a person reads: the worse direction.
  double fraction() const { return std::max(outbound(), inbound()); }
  bool measured() const { return datagrams_sent > 0 || round_trips > 0; }
  // The NAT tests' requests are round trips over the same (IPv4) path.
  LossEstimate& operator+=(const nat::LossEstimate& nat_tests);
};

LossEstimate estimate_loss(std::span<const ProbeResult> results);

// Each answered probe's round trip, from the try its first answer most
// likely answered: the latest one sent at least the path's quickest round
// trip before it (a retry that crossed the answer on a slow path is not
// that try; an early try lost on a fast one is not either). A probe answered
// on its first try keeps the time the exchange measured.
void settle_round_trips(std::vector<ProbeResult>& results);

// The chance that this probe, had its protocol worked, would have failed as
// it did through loss alone: 0 when the network answered (refused, reset, an
// altered answer), 1 when nothing can be said (not tested, or the reflector
// sent no answer to what arrived).
double chance_by_loss(const ProbeResult& r, const LossEstimate& loss, bool observations_read);

// Checks every failing verdict (and each family's) against the loss measured
// on that family's probes: weak ones become `inconclusive` ("lossy path"),
// strong ones record how unlikely chance is; passes get a loss note when the
// loss is not negligible.
// `ipv4_extra`: round trips measured beside the probes on the IPv4 path (the NAT tests).
void apply_loss_evidence(std::vector<ProtocolAssessment>& protocols, bool observations_read,
                         const nat::LossEstimate& ipv4_extra = {});

// "about 1 in 250", "below 1 in a million".
std::string describe_chance(double chance);

// The report's line about the path's loss; nullopt when it is negligible.
std::optional<std::string> loss_line(const LossEstimate& loss);

}  // namespace vpncheck::client
