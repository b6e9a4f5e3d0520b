// TCP connections refused for want of a slot are counted per source address,
// so the sessions from that address can be told; the table is bounded.
#include "reflector/refusals.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace vpncheck::reflector {
namespace {

using namespace std::chrono_literals;

TEST(ConnectionRefusals, CountsPerAddressWithPorts) {
  test::FakeClock clock;
  ConnectionRefusals refusals(clock.fn());
  const auto start = *clock.now;
  refusals.record("198.51.100.7", 1723);
  refusals.record("198.51.100.7", 443);
  refusals.record("198.51.100.7", 1723);
  refusals.record("198.51.100.8", 1194);
  const auto* tally = refusals.find("198.51.100.7", start);
  ASSERT_NE(tally, nullptr);
  EXPECT_EQ(tally->refused.count, 3u);
  EXPECT_EQ(tally->refused.port_list(), (std::vector<std::uint16_t>{1723, 443}));
  EXPECT_EQ(refusals.find("198.51.100.8", start)->refused.count, 1u);
  EXPECT_EQ(refusals.find("198.51.100.9", start), nullptr);
}

TEST(ConnectionRefusals, OnlyRefusalsSinceASessionBeganConcernIt) {
  test::FakeClock clock;
  ConnectionRefusals refusals(clock.fn());
  refusals.record("198.51.100.7", 1723);
  clock.advance(10s);
  const auto session_began = *clock.now;
  EXPECT_EQ(refusals.find("198.51.100.7", session_began), nullptr) << "refused before the session began";
  clock.advance(1s);
  refusals.record("198.51.100.7", 1723);
  ASSERT_NE(refusals.find("198.51.100.7", session_began), nullptr);
}

TEST(ConnectionRefusals, AnOldRunOfRefusalsStartsAgain) {
  test::FakeClock clock;
  ConnectionRefusals refusals(clock.fn());
  refusals.record("198.51.100.7", 1723);
  refusals.record("198.51.100.7", 1723);
  clock.advance(ConnectionRefusals::kWindow + 1s);
  refusals.record("198.51.100.7", 443);
  const auto* tally = refusals.find("198.51.100.7", {});
  ASSERT_NE(tally, nullptr);
  EXPECT_EQ(tally->refused.count, 1u);
  EXPECT_EQ(tally->refused.port_list(), std::vector<std::uint16_t>{443});
}

TEST(ConnectionRefusals, IsBoundedForgettingStaleThenOldest) {
  test::FakeClock clock;
  ConnectionRefusals refusals(clock.fn());
  refusals.record("stale", 1);
  clock.advance(ConnectionRefusals::kWindow + 1s);
  for (std::size_t i = 0; i < ConnectionRefusals::kMaxAddresses + 5; ++i) {
    clock.advance(1ms);
    refusals.record("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), 443);
  }
  EXPECT_EQ(refusals.size(), ConnectionRefusals::kMaxAddresses);
  EXPECT_EQ(refusals.find("stale", {}), nullptr);
  EXPECT_EQ(refusals.find("10.0.0.0", {}), nullptr) << "the oldest went first";
  EXPECT_NE(refusals.find("10.0.16.4", {}), nullptr) << "the newest stays";
}

}  // namespace
}  // namespace vpncheck::reflector
