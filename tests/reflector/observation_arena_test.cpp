#include "reflector/observation_arena.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "probes/observation.h"
#include "reflector/session_table.h"
#include "test_util.h"

namespace vpncheck::reflector {
namespace {

using test::counter_fill;
using test::FakeClock;

constexpr std::size_t kNoCap = std::numeric_limits<std::size_t>::max();

TEST(ReflectorObservationArena, HoldsNothingUntilAskedAndNothingForAnEmptyText) {
  ObservationArena arena;
  EXPECT_EQ(arena.held(), 0u);
  EXPECT_TRUE(arena.allocate(0, kNoCap).empty());
  EXPECT_EQ(arena.held(), 0u);
  EXPECT_EQ(arena.blocks(), 0u);
  EXPECT_EQ(arena.growth_for(0, kNoCap), 0u);
}

TEST(ReflectorObservationArena, TextsNeverMoveAndStayIntactAcrossBlocks) {
  ObservationArena arena;
  std::vector<std::pair<char*, std::string>> written;
  for (int i = 0; i < 2000; ++i) {
    const std::string text(static_cast<std::size_t>(1 + i % 300), static_cast<char>('a' + i % 26));
    auto place = arena.allocate(text.size(), kNoCap);
    ASSERT_EQ(place.size(), text.size());
    std::memcpy(place.data(), text.data(), text.size());
    written.emplace_back(place.data(), text);
  }
  EXPECT_GT(arena.blocks(), 5u);
  for (const auto& [at, text] : written) ASSERT_EQ(std::string(at, text.size()), text);
  std::size_t used = 0;
  for (const auto& w : written) used += w.second.size();
  EXPECT_EQ(arena.used(), used);
  EXPECT_LE(arena.used(), arena.held());
}

// Blocks double from the first size to the largest, then stay there.
TEST(ReflectorObservationArena, BlocksDoubleUpToTheLargest) {
  ObservationArena arena;
  std::vector<std::size_t> sizes;
  std::size_t held = 0;
  for (int i = 0; i < 100'000 && sizes.size() < 8; ++i) {
    arena.allocate(100, kNoCap);
    if (arena.held() != held) {
      sizes.push_back(arena.held() - held);
      held = arena.held();
    }
  }
  const std::size_t first = ObservationArena::kFirstBlock, most = ObservationArena::kMaxBlock;
  ASSERT_EQ(sizes.size(), 8u);
  std::size_t expect = first;
  for (std::size_t s : sizes) {
    EXPECT_EQ(s, expect);
    expect = std::min(most, expect * 2);
  }
}

// What growth_for says is exactly what the next allocate adds: the admission
// check of the byte budgets relies on it.
TEST(ReflectorObservationArena, GrowthForSaysWhatTheNextAllocationAdds) {
  ObservationArena arena;
  for (int i = 0; i < 3000; ++i) {
    const std::size_t size = static_cast<std::size_t>(i * 37 % 640 + 1);
    const std::size_t cap = (i % 3 == 0) ? 700 : kNoCap;
    const std::size_t before = arena.held();
    const std::size_t growth = arena.growth_for(size, cap);
    arena.allocate(size, cap);
    ASSERT_EQ(arena.held() - before, growth) << i;
  }
}

TEST(ReflectorObservationArena, ACapKeepsANewBlockSmallButNeverBelowTheText) {
  ObservationArena arena;
  EXPECT_EQ(arena.growth_for(100, 300), 300u);  // not the first block's 1024
  arena.allocate(100, 300);
  EXPECT_EQ(arena.held(), 300u);
  EXPECT_EQ(arena.growth_for(200, 0), 0u);  // still room: the cap does not matter
  arena.allocate(200, 0);
  EXPECT_EQ(arena.held(), 300u);
  // No room, and a cap smaller than the text: a block of the text's size.
  EXPECT_EQ(arena.growth_for(640, 10), 640u);
  arena.allocate(640, 10);
  EXPECT_EQ(arena.held(), 940u);
}

// Largest blocks go back to the pool when an arena ends and serve the next
// arena; pooled blocks count for no arena until one takes them.
TEST(ReflectorObservationArena, EndedArenasLargestBlocksServeTheNextArena) {
  ObservationBlockPool pool;
  std::set<const char*> largest;
  {
    ObservationArena first;
    first.recycle_into(&pool);
    std::size_t held = 0;
    while (largest.size() < 3) {
      const char* at = first.allocate(600, kNoCap).data();
      if (first.held() - held == ObservationArena::kMaxBlock) largest.insert(at);
      held = first.held();
    }
    EXPECT_EQ(pool.size(), 0u);
  }
  EXPECT_EQ(pool.size(), 3u);  // the smaller blocks went back to malloc
  ObservationArena next;
  next.recycle_into(&pool);
  EXPECT_EQ(next.held(), 0u);
  std::size_t reused = 0;
  std::size_t held = 0;
  while (next.blocks() < 8) {
    const char* at = next.allocate(600, kNoCap).data();
    if (next.held() - held == ObservationArena::kMaxBlock && largest.contains(at)) ++reused;
    held = next.held();
  }
  EXPECT_EQ(reused, 3u);
  EXPECT_EQ(pool.size(), 0u);
}

// A pooled block holds nothing of the session that ended: its texts are wiped.
TEST(ReflectorObservationArena, APooledBlockKeepsNothingOfTheEndedSession) {
  ObservationBlockPool pool;
  {
    ObservationArena ended;
    ended.recycle_into(&pool);
    while (pool.size() == 0 && ended.held() < 4 * ObservationArena::kMaxBlock) {
      auto text = ended.allocate(700, kNoCap);
      std::fill(text.begin(), text.end(), 'x');
      if (ended.blocks() >= 6) break;
    }
  }
  ASSERT_GE(pool.size(), 1u);
  while (pool.size() > 0) {
    auto block = pool.take();
    ASSERT_NE(block, nullptr);
    const std::span<const char> bytes(block.get(), ObservationArena::kMaxBlock);
    EXPECT_TRUE(std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; }));
  }
}

TEST(ReflectorObservationArena, ThePoolKeepsAtMostItsBound) {
  ObservationBlockPool pool;
  for (std::size_t i = 0; i < ObservationBlockPool::kMaxBlocks + 5; ++i)
    pool.give(std::make_unique<char[]>(ObservationArena::kMaxBlock));
  EXPECT_EQ(pool.size(), ObservationBlockPool::kMaxBlocks);
}

// ---- the byte budgets, counted with the arena

probes::Observation small_observation(int i) {
  probes::Observation o;
  o.protocol = "wireguard";
  o.kind = "genuine";
  o.source = {"203.0.113.9", static_cast<std::uint16_t>(1000 + i)};
  o.payload_length = 148;
  o.payload_sha256 = std::string(64, 'a');
  o.fields = {{"sender_index", std::to_string(i)}, {"mac1", "valid"}, {"mac2", "zero"}};
  o.reply = {true, "wireguard/reply", 92, "", ""};
  return o;
}

const probes::Endpoint kClient{"198.51.100.7", 40000};

// One record of the largest size fits exactly: admitted once, then refused.
// A byte less: never admitted.
TEST(ReflectorObservationArena, ASessionBudgetOfExactlyOneLargestRecordAdmitsOne) {
  const std::size_t one = sizeof(StoredObservation) + StoredObservation::kMaxTextBytes;
  for (const std::size_t budget : {one, one - 1}) {
    SCOPED_TRACE(budget);
    SessionLimits limits;
    limits.max_observation_bytes = budget;
    SessionTable table(limits, FakeClock{}.fn());
    auto created = table.create(kClient, counter_fill());
    Session* s = table.find_by_tag(created.session->tag);
    std::size_t recorded = 0;
    for (int i = 0; i < 10; ++i)
      if (table.admit(*s)) {
        table.record(*s, small_observation(i));
        ++recorded;
      }
    EXPECT_EQ(recorded, budget == one ? 1u : 0u);
    EXPECT_EQ(s->dropped_bytes, 10 - recorded);
    EXPECT_LE(s->observations.bytes(), budget);
    EXPECT_EQ(table.observation_bytes(), s->observations.bytes());
  }
}

TEST(ReflectorObservationArena, TheGlobalBudgetCountsEverySessionsBlocks) {
  const std::size_t one = sizeof(StoredObservation) + StoredObservation::kMaxTextBytes;
  SessionLimits limits;
  limits.max_total_observation_bytes = one;
  SessionTable table(limits, FakeClock{}.fn());
  auto rnd = counter_fill();
  auto a = table.create(kClient, rnd);
  auto b = table.create(kClient, rnd);
  Session* sa = table.find_by_tag(a.session->tag);
  Session* sb = table.find_by_tag(b.session->tag);
  ASSERT_TRUE(table.admit(*sa));
  table.record(*sa, small_observation(1));
  // The block `a` took is the whole budget, used or not: `b` gets nothing.
  EXPECT_EQ(sa->observations.arena().held(), StoredObservation::kMaxTextBytes);
  EXPECT_FALSE(table.admit(*sb));
  EXPECT_EQ(sb->dropped_total, 1u);
  EXPECT_LE(table.observation_bytes(), limits.max_total_observation_bytes);
  EXPECT_TRUE(table.remove(a.session->id));
  EXPECT_EQ(table.observation_bytes(), 0u);
  EXPECT_TRUE(table.admit(*sb));
}

// A session that ends gives its blocks back to the table's pool; the budgets
// count them again only in the session that takes them.
TEST(ReflectorObservationArena, AnEndedSessionsBlocksCountAgainOnlyWhenTaken) {
  SessionLimits limits;
  limits.max_observations = 5000;
  limits.max_observation_bytes = std::size_t{1} << 30;
  SessionTable table(limits, FakeClock{}.fn());
  auto rnd = counter_fill();
  auto a = table.create(kClient, rnd);
  Session* sa = table.find_by_tag(a.session->tag);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(table.admit(*sa));
    table.record(*sa, small_observation(i));
  }
  EXPECT_GT(sa->observations.arena().held(), 4 * ObservationArena::kMaxBlock);
  EXPECT_TRUE(table.remove(a.session->id));
  EXPECT_EQ(table.observation_bytes(), 0u);
  auto b = table.create(kClient, rnd);
  Session* sb = table.find_by_tag(b.session->tag);
  EXPECT_EQ(sb->observations.bytes(), 0u);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(table.admit(*sb));
    table.record(*sb, small_observation(i));
  }
  EXPECT_EQ(table.observation_bytes(), sb->observations.bytes());
  EXPECT_EQ(probes::to_json(sb->observations[1999]),
            probes::to_json(StoredObservation(small_observation(1999)).expand(2000)));
}

// bytes() is the records and the blocks held, and every record reads back as
// it would have without the arena, across many blocks.
TEST(ReflectorObservationArena, ALogsRecordsReadBackAsStoredAndCountTheirBlocks) {
  SessionLimits limits;
  limits.max_observations = 5000;
  limits.max_observation_bytes = std::size_t{1} << 30;
  SessionTable table(limits, FakeClock{}.fn());
  auto created = table.create(kClient, counter_fill());
  Session* s = table.find_by_tag(created.session->tag);
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(table.admit(*s));
    table.record(*s, small_observation(i));
  }
  const ObservationLog& log = s->observations;
  EXPECT_GT(log.arena().blocks(), 5u);
  EXPECT_EQ(log.bytes(), log.size() * sizeof(StoredObservation) + log.arena().held());
  EXPECT_EQ(table.observation_bytes(), log.bytes());
  for (int i = 0; i < 3000; ++i) {
    probes::Observation expected = StoredObservation(small_observation(i)).expand(static_cast<std::uint64_t>(i) + 1);
    ASSERT_EQ(probes::to_json(log[static_cast<std::size_t>(i)]), probes::to_json(expected)) << i;
  }
}

// A new reply record that fits where the old text was takes no arena bytes;
// a longer one goes into the arena and is counted.
TEST(ReflectorObservationArena, ARewrittenReplyIsKeptInPlaceWhenItFitsAndCountedWhenNot) {
  SessionTable table({}, FakeClock{}.fn());
  auto created = table.create(kClient, counter_fill());
  Session* s = table.find_by_tag(created.session->tag);
  ASSERT_TRUE(table.admit(*s));
  const std::uint64_t first = table.record(*s, small_observation(1));
  ASSERT_TRUE(table.admit(*s));
  const std::uint64_t second = table.record(*s, small_observation(2));
  const std::size_t used = s->observations.arena().used();

  probes::ReplyRecord shorter;  // no kind, no reason: shorter than "wireguard/reply"
  shorter.code = "x";
  table.update_reply(created.session->tag, first, shorter);
  EXPECT_EQ(s->observations.arena().used(), used);
  EXPECT_EQ(s->observations[0].reply.code, "x");
  EXPECT_FALSE(s->observations[0].reply.sent);
  EXPECT_EQ(s->observations[0].reply.kind, "");

  probes::ReplyRecord longer;
  longer.code = probes::reply_code::kSendFailed;
  longer.reason = "send failed: " + std::string(100, 'e');
  table.update_reply(created.session->tag, second, longer);
  EXPECT_GT(s->observations.arena().used(), used);
  EXPECT_EQ(s->observations[1].reply.reason, longer.reason);
  EXPECT_EQ(s->observations[1].fields.at("sender_index"), "2");
  EXPECT_EQ(s->observations[0].reply.code, "x");  // the other record untouched
  EXPECT_EQ(table.observation_bytes(), s->observations.bytes());
  EXPECT_EQ(s->observations.bytes(), 2 * sizeof(StoredObservation) + s->observations.arena().held());
}

}  // namespace
}  // namespace vpncheck::reflector
