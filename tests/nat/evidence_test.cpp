// The evidence rules for a "no" on a lossy path (src/nat/evidence.h): the
// retry schedule, the Wilson upper bound, the chance of a failure pattern by
// loss alone, and which tries count.
#include <gtest/gtest.h>

#include <cmath>

#include "src/nat/evidence.h"

namespace vpncheck::nat {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

TEST(RetrySchedule, GapDoublesFrom250MsAndStaysAt500Ms) {
  const long expected[] = {0, 250, 500, 1000, 1500, 2000, 2500};
  for (std::size_t i = 0; i < std::size(expected); ++i) EXPECT_EQ(retry_offset(i), milliseconds(expected[i])) << i;
}

TEST(WilsonUpperBound, KnownValues) {
  EXPECT_EQ(upper_bound(0, 0), 1.0);
  // No failure in n: z^2 / (n + z^2).
  EXPECT_NEAR(upper_bound(0, 40), 1.645 * 1.645 / (40 + 1.645 * 1.645), 1e-12);
  EXPECT_NEAR(upper_bound(15, 100), 0.2179, 1e-4);
  EXPECT_NEAR(upper_bound(17, 60), 0.3868, 1e-4);
  EXPECT_EQ(upper_bound(10, 10), 1.0);
  EXPECT_GT(upper_bound(1, 10), 0.1);  // above the point estimate
}

TEST(LossEstimate, FractionUpperAndPerPacket) {
  LossEstimate none;
  EXPECT_FALSE(none.measured());
  EXPECT_EQ(none.fraction(), 0.0);
  EXPECT_EQ(none.upper(), 1.0);  // nothing measured: anything could be loss
  // 15 % each way: a round trip is lost 1 - 0.85^2 = 27.75 % of the time.
  LossEstimate l{400, 111};
  EXPECT_NEAR(l.fraction(), 0.2775, 1e-9);
  EXPECT_NEAR(l.per_packet(), 0.15, 1e-3);
  l += LossEstimate{100, 0};
  EXPECT_EQ(l.round_trips, 500u);
  EXPECT_EQ(l.lost, 111u);
}

TEST(ChanceByLoss, PowerOfThePerTryUpperBound) {
  const LossEstimate clean{40, 0};
  const double u = clean.upper();
  EXPECT_NEAR(chance_by_loss(clean, 4), std::pow(u, 4), 1e-15);
  // A try that needs three round trips' worth of packets (IP fragments) fails more easily.
  EXPECT_NEAR(chance_by_loss(clean, 6, 3), std::pow(1 - std::pow(1 - u, 3), 6), 1e-15);
  EXPECT_EQ(chance_by_loss(clean, 0), 1.0);  // no try: no evidence
  EXPECT_EQ(chance_by_loss(LossEstimate{}, 50), 1.0);  // no loss measured: no evidence either
}

TEST(Weigh, ConcludedOnlyBelowTheThreshold) {
  const LossEstimate clean{40, 0};
  auto strong = weigh("path.size.1420", 4, clean);
  EXPECT_TRUE(strong.concluded);
  EXPECT_LT(strong.chance, kChanceThreshold);
  EXPECT_EQ(strong.tries, 4u);
  EXPECT_FALSE(weigh("path.size.1420", 2, clean).concluded);
  // 15 % loss each way: eight lost tries are no evidence.
  EXPECT_FALSE(weigh("path.size.1500", 8, LossEstimate{60, 17}).concluded);
  // ... but many more would be.
  EXPECT_TRUE(weigh("path.size.1500", 14, LossEstimate{60, 17}).concluded);
  auto sure = certain("path.size.1500", 1);
  EXPECT_TRUE(sure.concluded);
  EXPECT_EQ(sure.chance, 0.0);
}

TEST(Tally, OnlyTriesWhoseAnswerHadTimeCount) {
  const auto t0 = Clock::time_point{} + std::chrono::hours(1);
  const auto wait = milliseconds(200);
  // Sent at 0, 250 and 500 ms; none answered; judged at 600 ms: the last one may still come.
  std::vector<TryRecord> tries{{t0}, {t0 + milliseconds(250)}, {t0 + milliseconds(500)}};
  auto t = tally(tries, true, t0 + milliseconds(600), wait);
  EXPECT_FALSE(t.arrived);
  EXPECT_FALSE(t.wanted);
  EXPECT_EQ(t.missing, 2u);
  EXPECT_FALSE(t.loss.measured());  // never answered: says nothing about loss
  // The third one's answer came: the first two were lost; the request is answered.
  tries[2].direct = tries[2].wanted = true;
  t = tally(tries, true, t0 + milliseconds(600), wait);
  EXPECT_TRUE(t.wanted);
  EXPECT_EQ(t.missing, 0u);
  EXPECT_EQ(t.loss.round_trips, 3u);
  EXPECT_EQ(t.loss.lost, 2u);
}

TEST(Tally, AnUnsolicitedAnswerCountsOnlyTriesKnownToHaveArrived) {
  const auto t0 = Clock::time_point{} + std::chrono::hours(1);
  const auto wait = milliseconds(200);
  // Four tries; the direct answer came for three; the wanted (unsolicited) never.
  std::vector<TryRecord> tries{{t0, true}, {t0, false}, {t0 + milliseconds(250), true}, {t0 + milliseconds(250), true}};
  auto t = tally(tries, false, t0 + milliseconds(500), wait);
  EXPECT_TRUE(t.arrived);
  EXPECT_FALSE(t.wanted);
  EXPECT_EQ(t.missing, 3u);
  EXPECT_EQ(t.loss.round_trips, 4u);
  EXPECT_EQ(t.loss.lost, 1u);
  // Just after the second round was answered, its unsolicited packets may still be on the way.
  t = tally(tries, false, t0 + milliseconds(300), wait);
  EXPECT_EQ(t.missing, 1u);
}

TEST(Percent, PlainWords) {
  EXPECT_EQ(percent(0.15), "15 %");
  EXPECT_EQ(percent(0.0), "0 %");
  EXPECT_EQ(percent(0.042), "4.2 %");
  EXPECT_EQ(percent(1.0), "100 %");
}

}  // namespace
}  // namespace vpncheck::nat
