#include "probes/session_lru.h"

#include <gtest/gtest.h>

#include <string>

namespace vpncheck::probes {
namespace {

SessionTag tag(std::uint8_t n) { return {n, n, n, n, n, n}; }
using Lru = SessionLru<int, std::string>;

TEST(SessionLru, ASessionAtItsQuotaGivesUpItsOwnOldest) {
  Lru lru(8, 3);
  lru.put(100, tag(1), "honest");
  for (int i = 0; i < 10; ++i) {
    auto evicted = lru.put(i, tag(2), "flood");
    if (i < 3) {
      EXPECT_FALSE(evicted);
    } else {
      ASSERT_TRUE(evicted);
      EXPECT_EQ(evicted->key, i - 3);
      EXPECT_EQ(evicted->tag, tag(2));
    }
  }
  EXPECT_EQ(lru.count(tag(2)), 3u);
  ASSERT_NE(lru.find(100), nullptr);
  EXPECT_EQ(*lru.find(100), "honest");
}

// Many sessions filling the table: the one holding the most loses its oldest,
// a stale entry goes first, and a small session keeps its entries.
TEST(SessionLru, AFullTableTakesAStaleEntryOrFromTheLargestSession) {
  Lru lru(6, 4);
  lru.put(1, tag(1), "honest");
  lru.put(10, tag(2), "a");
  lru.put(11, tag(2), "b");
  lru.put(12, tag(2), "c");
  lru.put(20, tag(3), "x");
  lru.put(21, tag(3), "y");
  auto evicted = lru.put(30, tag(4), "new");
  ASSERT_TRUE(evicted);
  EXPECT_EQ(evicted->key, 10) << "the largest session's oldest";
  evicted = lru.put(31, tag(4), "new", [](const std::string& v) { return v == "honest"; });
  ASSERT_TRUE(evicted);
  EXPECT_EQ(evicted->key, 1) << "a stale entry goes before any live one";
  EXPECT_EQ(lru.size(), 6u);
}

TEST(SessionLru, ForgetsASessionAndReplacesAKeyInPlace) {
  Lru lru(8, 8);
  lru.put(1, tag(1), "a");
  lru.put(2, tag(1), "b");
  lru.put(3, tag(2), "c");
  lru.put(1, tag(1), "a2");  // refreshed: now the session's newest
  EXPECT_EQ(lru.count(tag(1)), 2u);
  std::vector<int> order;
  lru.for_each([&](int key, const std::string&, const SessionTag&) { order.push_back(key); });
  EXPECT_EQ(order, (std::vector<int>{2, 3, 1}));
  lru.put(3, tag(1), "moved");  // another session's key: it changes hands
  EXPECT_EQ(lru.count(tag(2)), 0u);
  int forgotten = 0;
  lru.forget(tag(1), [&](const std::string&) { ++forgotten; });
  EXPECT_EQ(forgotten, 3);
  EXPECT_EQ(lru.size(), 0u);
  lru.put(4, tag(3), "d");
  lru.erase_if([](int key, const std::string&) { return key == 4; });
  EXPECT_EQ(lru.size(), 0u);
}

}  // namespace
}  // namespace vpncheck::probes
