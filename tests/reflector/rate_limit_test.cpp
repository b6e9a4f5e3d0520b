#include "reflector/rate_limit.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace vpncheck::reflector {
namespace {

using namespace std::chrono_literals;
using test::FakeClock;

TEST(ReflectorRateLimit, BurstThenEmpty) {
  FakeClock clock;
  RateLimiter limiter({10, 5}, clock.fn());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.allow("192.0.2.1")) << i;
  EXPECT_FALSE(limiter.allow("192.0.2.1"));
  EXPECT_FALSE(limiter.allow("192.0.2.1"));
}

TEST(ReflectorRateLimit, RefillsAtTheRate) {
  FakeClock clock;
  RateLimiter limiter({10, 5}, clock.fn());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter.allow("192.0.2.1"));
  ASSERT_FALSE(limiter.allow("192.0.2.1"));
  clock.advance(99ms);  // 0.99 token
  EXPECT_FALSE(limiter.allow("192.0.2.1"));
  clock.advance(1ms);  // 1 token
  EXPECT_TRUE(limiter.allow("192.0.2.1"));
  EXPECT_FALSE(limiter.allow("192.0.2.1"));
  clock.advance(1h);  // never more than the burst
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.allow("192.0.2.1")) << i;
  EXPECT_FALSE(limiter.allow("192.0.2.1"));
}

TEST(ReflectorRateLimit, SourcesHaveTheirOwnBuckets) {
  FakeClock clock;
  RateLimiter limiter({1, 2}, clock.fn());
  EXPECT_TRUE(limiter.allow("192.0.2.1"));
  EXPECT_TRUE(limiter.allow("192.0.2.1"));
  EXPECT_FALSE(limiter.allow("192.0.2.1"));
  EXPECT_TRUE(limiter.allow("192.0.2.2"));
  EXPECT_TRUE(limiter.allow("2001:db8::1"));
  EXPECT_EQ(limiter.tracked(), 3u);
}

TEST(ReflectorRateLimit, ZeroIsOff) {
  FakeClock clock;
  RateLimiter limiter({0, 0}, clock.fn());
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(limiter.allow("192.0.2.1"));
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(ReflectorRateLimit, BoundedInSourcesForgettingIdleOnes) {
  FakeClock clock;
  RateLimit limit{1, 2, 3};
  RateLimiter limiter(limit, clock.fn());
  for (std::string s : {"a", "b", "c"}) ASSERT_TRUE(limiter.allow(s));
  // Every kept bucket is in use: a fourth source gets no bucket, no answer.
  EXPECT_FALSE(limiter.allow("d"));
  EXPECT_EQ(limiter.tracked(), 3u);
  // Once they are full again they carry no state and make room.
  clock.advance(1s);
  EXPECT_TRUE(limiter.allow("d"));
  EXPECT_LE(limiter.tracked(), 3u);
}

}  // namespace
}  // namespace vpncheck::reflector
