// The loss evidence rules on synthetic outcome sets: how loss is measured
// from tries and arrivals, how likely a failure pattern is under it, and
// which failing verdicts stand.
#include "src/verdict/evidence.h"

#include <gtest/gtest.h>

#include <cmath>

#include "client_fixtures.h"
#include "probes/ipsec.h"
#include "src/run/retry.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;
using fixtures::everything;
using fixtures::Fate;
using fixtures::is;
using fixtures::openvpn;
using fixtures::scenario;
using fixtures::wireguard;
using probes::Transport;

constexpr double kRttMs = 5;

// Rewrites a scenario's probe as `tries` sends on the retry schedule, of
// which `arrived` reached the reflector; `answered_on` is the try whose
// answer came back (none: no answer came back).
void tried(ProbeResult& r, std::size_t tries, std::size_t arrived, std::optional<std::size_t> answered_on) {
  StepAttempts step;
  for (std::size_t i = 0; i < tries; ++i) step.sent_ms.push_back(static_cast<double>(retry_offset(i).count()));
  if (answered_on) step.answered_ms = step.sent_ms.at(*answered_on) + kRttMs;
  r.client.attempts = {step};
  r.client.sends = tries;
  r.client.outcome = answered_on ? Outcome::reply : Outcome::timeout;
  probes::Observation model = r.arrivals.empty() ? fixtures::arrival_for(r, r.client.sent_sha256) : r.arrivals.front();
  r.arrivals.assign(arrived, model);
}

// A background of other protocols' probes that all worked in the end:
// `retried` of every 4 needed a second try (the first was lost on the way out).
std::vector<ProbeResult> background(std::size_t count, std::size_t retried_of_4) {
  std::vector<ProbeResult> out;
  while (out.size() < count)
    for (auto r : scenario(openvpn(), everything(Fate::answered))) {
      if (r.probe.variant.transport == Transport::tcp || out.size() >= count) continue;
      const bool retry = out.size() % 4 < retried_of_4;
      tried(r, retry ? 2 : 1, 1, retry ? 1 : 0);
      out.push_back(std::move(r));
    }
  return out;
}

ProtocolAssessment assessed(const probes::ProtocolModule& m, std::vector<ProbeResult> results) {
  return assess(m, std::move(results), true);
}

// ---- measuring the loss --------------------------------------------------

TEST(UpperBound, NoDataBoundsNothingAndMoreDataTightens) {
  EXPECT_EQ(upper_bound(0, 0), 1.0);
  EXPECT_NEAR(upper_bound(0, 100), 0.026, 0.002);
  EXPECT_GT(upper_bound(15, 100), 0.15);
  EXPECT_LT(upper_bound(15, 100), 0.23);
  EXPECT_LT(upper_bound(150, 1000), upper_bound(15, 100));
}

TEST(EstimateLoss, ACleanRunLosesNothing) {
  auto results = background(30, 0);
  auto loss = estimate_loss(results);
  EXPECT_EQ(loss.datagrams_sent, 30U);
  EXPECT_EQ(loss.datagrams_arrived, 30U);
  EXPECT_EQ(loss.round_trips, 30U);
  EXPECT_EQ(loss.round_trips_failed, 0U);
  EXPECT_EQ(loss.fraction(), 0.0);
  EXPECT_FALSE(loss_line(loss).has_value());
}

TEST(EstimateLoss, RetriesAndMissingArrivalsAreLoss) {
  auto results = background(40, 1);  // 10 of 40 first tries lost outbound
  auto loss = estimate_loss(results);
  EXPECT_EQ(loss.datagrams_sent, 50U);
  EXPECT_EQ(loss.datagrams_arrived, 40U);
  EXPECT_NEAR(loss.outbound(), 0.2, 1e-9);
  EXPECT_EQ(loss.round_trips, 50U);
  EXPECT_EQ(loss.round_trips_failed, 10U);
  EXPECT_NEAR(loss.fraction(), 0.2, 1e-9);
  ASSERT_TRUE(loss_line(loss).has_value());
  EXPECT_TRUE(contains(*loss_line(loss), "20 %")) << *loss_line(loss);
}

TEST(EstimateLoss, TriesSentWhileTheAnswerWasOnItsWayAreNotLoss) {
  // A 600 ms path: the second and third tries go out before the first one's answer.
  auto results = background(10, 0);
  for (auto& r : results) {
    r.client.attempts[0].sent_ms = {0, 250, 500};
    r.client.attempts[0].answered_ms = 600;
    r.arrivals.resize(3, r.arrivals.front());
  }
  auto loss = estimate_loss(results);
  EXPECT_EQ(loss.round_trips_failed, 0U);
  EXPECT_EQ(loss.fraction(), 0.0);
}

// A slow answer is not a lost one: on a loaded machine or a bufferbloated
// link some answers take many times the quickest round trip. With one try
// answered, nothing was lost; with two, both older than the answer allows,
// one of them was still answered.
TEST(EstimateLoss, ALateAnswerIsNotLoss) {
  auto results = background(10, 0);
  ASSERT_GE(results.size(), 10U);
  for (std::size_t i = 0; i < 5; ++i) results[i].client.attempts[0].answered_ms = 60;  // quickest: 5 ms
  auto loss = estimate_loss(results);
  EXPECT_EQ(loss.round_trips, 10U);
  EXPECT_EQ(loss.round_trips_failed, 0U);

  results[0].client.attempts[0].sent_ms = {0, 250};
  results[0].client.attempts[0].answered_ms = 600;
  results[0].arrivals.resize(2, results[0].arrivals.front());
  loss = estimate_loss(results);
  EXPECT_EQ(loss.round_trips, 11U);
  EXPECT_EQ(loss.round_trips_failed, 1U);
}

TEST(EstimateLoss, UnansweredProbesAreLeftOut) {
  // Blocked protocols are what the verdicts judge; their silence is not the path's loss.
  auto results = background(20, 0);
  for (auto r : scenario(wireguard(), everything(Fate::dropped))) {
    tried(r, 7, 0, std::nullopt);
    results.push_back(r);
  }
  auto loss = estimate_loss(results);
  EXPECT_EQ(loss.round_trips, 20U);
  EXPECT_EQ(loss.round_trips_failed, 0U);
  EXPECT_EQ(loss.datagrams_sent, 20U);
}

// ---- the chance of a failure pattern -------------------------------------

TEST(ChanceByLoss, AnswersFromTheNetworkAreNeverChance) {
  auto results = scenario(openvpn(), everything(Fate::reset));
  auto loss = estimate_loss(background(30, 1));
  for (const auto& r : results)
    if (r.client.outcome == Outcome::reset) {
      EXPECT_EQ(chance_by_loss(r, loss, true), 0.0);
    }
}

TEST(ChanceByLoss, SevenLostTriesAreUnlikelyOnACleanPathButNotOnALossyOne) {
  auto r = scenario(wireguard(), everything(Fate::dropped)).front();
  tried(r, 7, 0, std::nullopt);
  EXPECT_LT(chance_by_loss(r, estimate_loss(background(40, 0)), true), kChanceThreshold);
  EXPECT_GE(chance_by_loss(r, estimate_loss(background(40, 1)), true), kChanceThreshold);
  // Two tries prove little even on a clean path.
  tried(r, 2, 0, std::nullopt);
  EXPECT_GE(chance_by_loss(r, estimate_loss(background(40, 0)), true), kChanceThreshold);
}

TEST(ChanceByLoss, LostAnswersCountTheAnswersTheReflectorSent) {
  auto r = scenario(wireguard(), everything(Fate::arrived_only)).front();
  auto clean = estimate_loss(background(40, 0));
  tried(r, 7, 7, std::nullopt);
  EXPECT_LT(chance_by_loss(r, clean, true), kChanceThreshold);
  tried(r, 7, 1, std::nullopt);  // one answer sent, one lost: could be chance
  EXPECT_GE(chance_by_loss(r, clean, true), kChanceThreshold);
  // The reflector withheld every answer: the path is not to blame.
  tried(r, 7, 7, std::nullopt);
  for (auto& a : r.arrivals) a.reply.sent = false;
  EXPECT_EQ(chance_by_loss(r, clean, true), 1.0);
}

// ---- verdicts -------------------------------------------------------------

std::vector<ProtocolAssessment> run_evidence(std::vector<ProbeResult> wg, std::vector<ProbeResult> others) {
  std::vector<ProtocolAssessment> out;
  out.push_back(assessed(wireguard(), std::move(wg)));
  ProtocolAssessment bg;
  bg.module = &openvpn();
  bg.verdict = Verdict::pass;
  bg.summary = "OpenVPN works.";
  bg.probes = std::move(others);
  out.push_back(std::move(bg));
  apply_loss_evidence(out, true);
  return out;
}

TEST(ApplyLossEvidence, ABlockOnACleanPathStandsWithItsChance) {
  auto wg = scenario(wireguard(), everything(Fate::dropped));
  for (auto& r : wg) tried(r, 7, 0, std::nullopt);
  auto out = run_evidence(wg, background(40, 0));
  EXPECT_EQ(out[0].verdict, Verdict::blocked) << out[0].summary;
  ASSERT_TRUE(out[0].loss_check.has_value());
  EXPECT_LT(out[0].loss_check->chance, kChanceThreshold);
  EXPECT_FALSE(out[0].loss_check->withheld.has_value());
}

TEST(ApplyLossEvidence, AFailureLossExplainsIsInconclusive) {
  // The standard port's genuine probe failed after 7 tries (its control
  // probe passed), the others worked: restricted, unless loss explains it.
  auto wg = scenario(wireguard(), [](const probes::ProbeVariant& v, ProbeKind k) {
    return v.standard && k == ProbeKind::genuine ? Fate::dropped : Fate::answered;
  });
  for (auto& r : wg) {
    if (r.probe.variant.standard && r.probe.kind == ProbeKind::genuine) {
      tried(r, 7, 0, std::nullopt);
    } else {
      tried(r, 1, 1, 0);
    }
  }
  auto clean = run_evidence(wg, background(40, 0));
  EXPECT_EQ(clean[0].verdict, Verdict::restricted) << clean[0].summary;

  auto lossy = run_evidence(wg, background(40, 2));  // half the first tries lost
  EXPECT_EQ(lossy[0].verdict, Verdict::inconclusive) << lossy[0].summary;
  ASSERT_TRUE(lossy[0].loss_check.has_value());
  EXPECT_EQ(lossy[0].loss_check->withheld, Verdict::restricted);
  EXPECT_TRUE(contains(lossy[0].summary, "lossy path: ")) << lossy[0].summary;
  EXPECT_TRUE(contains(lossy[0].summary, "run again or use a longer --timeout")) << lossy[0].summary;
  EXPECT_FALSE(lossy[0].working_variant.has_value());
}

// One failed place among many: loss had as many chances to fail one as there
// were places tried, so the chance is taken over all of them, and a failure
// one place alone would make unlikely can be loss among many.
TEST(ApplyLossEvidence, TheChanceGrowsWithThePlacesTried) {
  auto wg = scenario(wireguard(), [](const probes::ProbeVariant& v, ProbeKind k) {
    return v.standard && k == ProbeKind::genuine ? Fate::dropped : Fate::answered;
  });
  for (auto& r : wg) {
    if (r.probe.variant.standard && r.probe.kind == ProbeKind::genuine) {
      tried(r, 4, 0, std::nullopt);
    } else {
      tried(r, 1, 1, 0);
    }
  }
  const auto bg = background(40, 1);
  std::vector<ProbeResult> all = wg;  // the loss is measured over every probe of the run
  all.insert(all.end(), bg.begin(), bg.end());
  const LossEstimate loss = estimate_loss(all);
  double single = 0;
  std::size_t genuine = 0;
  for (const auto& r : wg) {
    if (r.probe.kind != ProbeKind::genuine) continue;
    ++genuine;
    if (r.client.outcome == Outcome::timeout) single = chance_by_loss(r, loss, true);
  }
  ASSERT_GT(single, 0.0);
  ASSERT_GT(genuine, 1u);
  auto out = run_evidence(wg, bg);
  ASSERT_TRUE(out[0].loss_check.has_value());
  EXPECT_NEAR(out[0].loss_check->chance, 1 - std::pow(1 - single, static_cast<double>(genuine)), 1e-12);

  // The same failure among three times the passing places: likelier by chance.
  auto many = wg;
  for (int copy = 0; copy < 2; ++copy)
    for (const auto& r : wg)
      if (r.probe.kind == ProbeKind::genuine && r.client.outcome == Outcome::reply) many.push_back(r);
  auto wider = run_evidence(many, bg);
  ASSERT_TRUE(wider[0].loss_check.has_value());
  EXPECT_GT(wider[0].loss_check->chance, out[0].loss_check->chance);
}

TEST(ApplyLossEvidence, APassOnALossyPathSaysSo) {
  auto wg = scenario(wireguard(), everything(Fate::answered));
  for (auto& r : wg) tried(r, 3, 1, 2);
  auto out = run_evidence(wg, background(40, 1));
  EXPECT_EQ(out[0].verdict, Verdict::pass);
  EXPECT_TRUE(contains(out[0].summary, "of packets were lost on this path; it passed anyway")) << out[0].summary;
  EXPECT_FALSE(out[0].loss_check.has_value());
}

TEST(ApplyLossEvidence, EachFamilyIsJudgedOnItsOwnLoss) {
  probes::Capabilities caps = fixtures::listening_everywhere();
  // Genuine probes dropped everywhere, their control probes answered (a signature block).
  auto wg = fixtures::dual_stack_scenario(wireguard(), caps, everything(Fate::dropped), everything(Fate::dropped));
  for (auto& r : wg) {
    if (r.probe.kind == ProbeKind::genuine) {
      tried(r, 7, 0, std::nullopt);
    } else {
      tried(r, 1, 1, 0);
    }
  }
  auto v4 = background(40, 0);
  auto v6 = background(40, 2);
  for (auto& r : v6) r.probe.family = Family::ipv6;
  v4.insert(v4.end(), v6.begin(), v6.end());
  std::vector<ProtocolAssessment> out;
  out.push_back(assess_families(wireguard(), wg, true));
  ProtocolAssessment bg;
  bg.module = &openvpn();
  bg.verdict = Verdict::pass;
  bg.probes = v4;
  out.push_back(bg);
  apply_loss_evidence(out, true);
  ASSERT_EQ(out[0].families.size(), 2U);
  EXPECT_EQ(out[0].families[0].verdict, Verdict::blocked) << out[0].families[0].summary;
  EXPECT_EQ(out[0].families[1].verdict, Verdict::inconclusive) << out[0].families[1].summary;
  EXPECT_EQ(out[0].verdict, Verdict::blocked);  // the top level is IPv4's
}

TEST(ApplyLossEvidence, WithoutObservationsOnlyRoundTripsCount) {
  auto wg = scenario(wireguard(), everything(Fate::dropped));
  for (auto& r : wg) {
    tried(r, 7, 0, std::nullopt);
    r.arrivals.clear();
  }
  std::vector<ProtocolAssessment> out;
  out.push_back(assess(wireguard(), wg, false));
  ASSERT_EQ(out[0].verdict, Verdict::inconclusive);  // unreadable observations: already inconclusive
  apply_loss_evidence(out, false);
  EXPECT_EQ(out[0].verdict, Verdict::inconclusive);
  EXPECT_FALSE(out[0].loss_check.has_value());
}

// ---- the schedule -----------------------------------------------------------

TEST(RetrySchedule, EarlyTriesCloseTogetherThenEveryHalfSecond) {
  using std::chrono::milliseconds;
  EXPECT_EQ(retry_offset(0), milliseconds(0));
  EXPECT_EQ(retry_offset(1), milliseconds(250));
  EXPECT_EQ(retry_offset(2), milliseconds(500));
  EXPECT_EQ(retry_offset(3), milliseconds(1000));
  EXPECT_EQ(retry_offset(4), milliseconds(1500));
  EXPECT_EQ(retry_offset(6), milliseconds(2500));
}

TEST(RetrySchedule, SevenTriesFitIntoAnyDeadlineFromOneToThreeSeconds) {
  using std::chrono::milliseconds;
  for (auto timeout : {milliseconds(1000), milliseconds(1500), milliseconds(3000)}) {
    const auto unit = retry_unit(timeout);
    std::size_t tries = 0;
    while (retry_offset(tries, unit) < timeout) ++tries;
    EXPECT_GE(tries, 7U) << timeout.count();
    EXPECT_LE(tries, 8U) << timeout.count();
  }
  EXPECT_EQ(retry_unit(milliseconds(3000)), milliseconds(250));
  EXPECT_EQ(retry_unit(milliseconds(10000)), milliseconds(250));  // longer deadlines: more tries, not wider gaps
  EXPECT_EQ(retry_unit(milliseconds(200)), milliseconds(50));
}

}  // namespace
}  // namespace vpncheck::client

namespace vpncheck::client {
namespace {

TEST(SettleRoundTrips, ARetriedProbeIsTimedFromTheTryItsAnswerAnswered) {
  // Fast lossy path: the first try was lost, the answer is the second try's.
  auto results = background(10, 0);
  tried(results[0], 2, 1, 1);
  results[0].client.rtt_ms = *results[0].client.attempts[0].answered_ms;  // as the exchange measured it
  settle_round_trips(results);
  EXPECT_NEAR(*results[0].client.rtt_ms, kRttMs, 1e-9);
  EXPECT_NEAR(*results[1].client.rtt_ms, 23.0, 1e-9);  // answered at once: untouched
}

TEST(SettleRoundTrips, RetriesThatCrossedASlowAnswerDoNotShortenIt) {
  auto results = background(10, 0);
  for (auto& r : results) {
    r.client.attempts[0].sent_ms = {0, 250, 500};
    r.client.attempts[0].answered_ms = 600;
    r.client.rtt_ms = 600;
  }
  settle_round_trips(results);
  for (const auto& r : results) EXPECT_NEAR(*r.client.rtt_ms, 600, 1e-9);
}

}  // namespace
}  // namespace vpncheck::client

namespace vpncheck::client {
namespace {

TEST(ApplyLossEvidence, TheNatTestsRoundTripsCountForIpv4) {
  // Too few probes to judge on their own; the NAT tests' clean round trips settle it.
  auto wg = scenario(wireguard(), everything(Fate::dropped));
  for (auto& r : wg) tried(r, 7, 0, std::nullopt);
  std::vector<ProtocolAssessment> alone{assessed(wireguard(), wg)};
  apply_loss_evidence(alone, true);
  EXPECT_EQ(alone[0].verdict, Verdict::inconclusive) << alone[0].summary;  // nothing measured the loss
  std::vector<ProtocolAssessment> with_nat{assessed(wireguard(), wg)};
  apply_loss_evidence(with_nat, true, nat::LossEstimate{60, 0});
  EXPECT_EQ(with_nat[0].verdict, Verdict::blocked) << with_nat[0].summary;
}

}  // namespace
}  // namespace vpncheck::client

namespace vpncheck::client {
namespace {

TEST(ApplyLossEvidence, APortWhoseControlProbeFailedTooNeedsBothLostByChance) {
  // A web-only network: few round trips measure the loss, but the standard
  // port lost its genuine and its control probe, seven tries each.
  auto wg = scenario(wireguard(), [](const probes::ProbeVariant& v, ProbeKind) {
    return v.standard ? Fate::dropped : Fate::answered;
  });
  for (auto& r : wg) {
    if (r.probe.variant.standard) {
      tried(r, 7, 0, std::nullopt);
    } else {
      tried(r, 1, 1, 0);
    }
  }
  std::vector<ProtocolAssessment> out{assessed(wireguard(), wg)};
  apply_loss_evidence(out, true);
  EXPECT_EQ(out[0].verdict, Verdict::restricted) << out[0].summary;
  // The same with the control probe answered (signature blocking): seven tries are not enough here.
  for (auto& r : wg)
    if (r.probe.variant.standard && r.probe.kind == ProbeKind::control) tried(r, 1, 1, 0);
  std::vector<ProtocolAssessment> signature{assessed(wireguard(), wg)};
  apply_loss_evidence(signature, true);
  EXPECT_EQ(signature[0].verdict, Verdict::inconclusive) << signature[0].summary;
}

// IPsec on a routed path (no NAT) whose raw ESP got no answer in `esp_tries`
// tries: NAT-T alone is restricted only if loss cannot explain the lost ESP.
std::vector<ProtocolAssessment> ipsec_without_nat_esp_lost(std::size_t esp_tries, std::vector<ProbeResult> others) {
  const auto& ipsec = probes::ipsec::kModule;
  auto results = scenario(ipsec, [](const probes::ProbeVariant& v, ProbeKind k) {
    return v.piece == "esp" && k == ProbeKind::genuine ? Fate::dropped : Fate::answered;
  });
  for (auto& r : results) {
    for (auto& a : r.arrivals) a.source.address = std::string(fixtures::kLocalAddress);
    if (r.probe.kind != ProbeKind::genuine) continue;
    if (r.probe.variant.piece == "ikev2") r.client.reply_fields["behind_nat"] = "no";
    if (r.probe.variant.piece == "esp") tried(r, esp_tries, 0, std::nullopt);
  }
  std::vector<ProtocolAssessment> out;
  out.push_back(assessed(ipsec, std::move(results)));
  ProtocolAssessment bg;
  bg.module = &openvpn();
  bg.verdict = Verdict::pass;
  bg.probes = std::move(others);
  out.push_back(std::move(bg));
  apply_loss_evidence(out, true);
  return out;
}

TEST(ApplyLossEvidence, IpsecWithoutNatRestrictedOnlyWhenLossCannotExplainTheLostEsp) {
  auto clean = ipsec_without_nat_esp_lost(7, background(40, 0));
  EXPECT_EQ(clean[0].verdict, Verdict::restricted) << clean[0].summary;
  auto lossy = ipsec_without_nat_esp_lost(2, background(40, 1));
  EXPECT_EQ(lossy[0].verdict, Verdict::inconclusive) << lossy[0].summary;
  ASSERT_TRUE(lossy[0].loss_check.has_value());
  EXPECT_EQ(lossy[0].loss_check->withheld, Verdict::restricted);
}

}  // namespace
}  // namespace vpncheck::client
