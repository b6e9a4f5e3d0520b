// Where a genuine probe dies, from synthetic walks: what each TTL-limited
// copy of the genuine and the control probe drew, one network at a time.
#include "src/nat/drop_point.h"

#include <gtest/gtest.h>

namespace vpncheck::nat {
namespace {

using Kind = WalkAnswer::Kind;

const WalkAnswer kNone{};
WalkAnswer te(std::string address) { return {Kind::time_exceeded, std::move(address)}; }
WalkAnswer refused(std::string address) { return {Kind::unreachable, std::move(address)}; }
const WalkAnswer kReflector{Kind::destination, "203.0.113.5"};

const std::string kHome = "192.168.1.1";
const std::string kProvider = "100.64.0.1";
const std::string kCore = "81.2.3.4";

// Home router drops it while forwarding: it still answers at its own TTL
// (the TTL check comes first), and nothing comes back from further on.
TEST(LocateDrop, HomeRouterDrop) {
  auto d = locate_drop({{1, te(kHome), te(kHome)}, {2, kNone, te(kProvider)}, {3, kNone, kReflector}}, std::nullopt);
  EXPECT_EQ(d.result, DropResult::dropped);
  EXPECT_EQ(d.hop, 1);
  EXPECT_EQ(d.address, kHome);
  EXPECT_TRUE(d.own_router);
  EXPECT_NE(d.explanation.find("hop 1 (192.168.1.1)"), std::string::npos) << d.explanation;
}

TEST(LocateDrop, ProviderDropBeyondTheRouter) {
  auto d = locate_drop({{3, kNone, kReflector}, {1, te(kHome), te(kHome)}, {2, te(kProvider), te(kProvider)}},
                       kHome);
  EXPECT_EQ(d.result, DropResult::dropped);
  EXPECT_EQ(d.hop, 2);
  EXPECT_EQ(d.address, kProvider);
  EXPECT_FALSE(d.own_router);
  ASSERT_EQ(d.steps.size(), 3u);
  EXPECT_EQ(d.steps.front().ttl, 1);  // sorted
  EXPECT_NE(d.explanation.find("reflector answered the control"), std::string::npos) << d.explanation;
}

// The gateway the NAT tests found is the user's router even when it is not
// the first hop (a LAN router in front of it).
TEST(LocateDrop, GatewayCountsAsOwnRouter) {
  auto d = locate_drop({{1, te("10.0.0.1"), te("10.0.0.1")}, {2, te(kHome), te(kHome)}, {3, kNone, te(kCore)}}, kHome);
  EXPECT_EQ(d.result, DropResult::dropped);
  EXPECT_EQ(d.hop, 2);
  EXPECT_TRUE(d.own_router);
}

// Dropped on arrival at the first hop, before its TTL check: the first
// router is still the only place it can have died.
TEST(LocateDrop, SilentFromTheFirstHop) {
  auto d = locate_drop({{1, kNone, te(kHome)}, {2, kNone, te(kProvider)}}, std::nullopt);
  EXPECT_EQ(d.result, DropResult::dropped);
  EXPECT_EQ(d.hop, 1);
  EXPECT_EQ(d.address, kHome);
  EXPECT_TRUE(d.own_router);
}

TEST(LocateDrop, RefusedWithUnreachable) {
  auto d = locate_drop({{1, te(kHome), te(kHome)}, {2, refused(kProvider), te(kProvider)}}, std::nullopt);
  EXPECT_EQ(d.result, DropResult::dropped);
  EXPECT_EQ(d.hop, 2);
  EXPECT_EQ(d.address, kProvider);
  EXPECT_FALSE(d.own_router);
}

TEST(LocateDrop, NoIcmpAtAll) {
  auto d = locate_drop({{1, kNone, kNone}, {2, kNone, kNone}, {3, kNone, kNone}}, kHome);
  EXPECT_EQ(d.result, DropResult::unknown);
  EXPECT_EQ(d.hop, 0);
  EXPECT_TRUE(d.address.empty());
  EXPECT_FALSE(d.own_router);
  EXPECT_EQ(locate_drop({}, kHome).result, DropResult::unknown);
}

// Only the reflector answers: a silent first router and the control's
// answer from the destination leave the place open between the client and it.
TEST(LocateDrop, OnlyTheDestinationAnswers) {
  auto d = locate_drop({{1, kNone, kNone}, {2, kNone, kNone}, {3, kNone, kReflector}}, std::nullopt);
  EXPECT_EQ(d.result, DropResult::unknown);
  EXPECT_NE(d.explanation.find("no hop"), std::string::npos) << d.explanation;
}

// Hop 2 was rate-limited for both probes: the genuine one was last heard at
// hop 1 and the control got past hop 2, but hop 1 or hop 2 cannot be told.
TEST(LocateDrop, RateLimitedGapLeavesItOpen) {
  auto d = locate_drop({{1, te(kHome), te(kHome)}, {2, kNone, kNone}, {3, kNone, te(kCore)}}, std::nullopt);
  EXPECT_EQ(d.result, DropResult::unknown);
  EXPECT_EQ(d.hop, 0);
  EXPECT_NE(d.explanation.find("between"), std::string::npos) << d.explanation;
}

// The genuine copy's answer at hop 2 was lost or rate-limited while the
// control's came; hop 3 answered the genuine one: it was not dropped at 2.
TEST(LocateDrop, AnswerBeyondTheGapIsNoDrop) {
  auto d = locate_drop({{1, te(kHome), te(kHome)}, {2, kNone, te(kProvider)}, {3, te(kCore), te(kCore)}},
                       std::nullopt);
  EXPECT_EQ(d.result, DropResult::unknown);
  EXPECT_NE(d.explanation.find("rate-limited"), std::string::npos) << d.explanation;
}

// A control whose own answer was rate-limited at a hop tells nothing there;
// the genuine probe answered at that hop, so the walk goes on.
TEST(LocateDrop, ControlGapBeforeTheDrop) {
  auto d = locate_drop({{1, te(kHome), kNone}, {2, te(kProvider), te(kProvider)}, {3, kNone, kReflector}}, kHome);
  EXPECT_EQ(d.result, DropResult::dropped);
  EXPECT_EQ(d.hop, 2);
  EXPECT_EQ(d.address, kProvider);
}

TEST(LocateDrop, SameHopForBothIsNotProtocolSpecific) {
  auto d = locate_drop({{1, te(kHome), te(kHome)}, {2, te(kProvider), te(kProvider)}, {3, kNone, kNone}, {4, kNone, kNone}},
                       kHome);
  EXPECT_EQ(d.result, DropResult::not_protocol_specific);
  EXPECT_EQ(d.hop, 2);
  EXPECT_FALSE(d.own_router);
  EXPECT_NE(d.explanation.find("hop 2 (100.64.0.1)"), std::string::npos) << d.explanation;
}

TEST(LocateDrop, DestinationReached) {
  auto d = locate_drop({{1, te(kHome), te(kHome)}, {2, kReflector, kReflector}}, kHome);
  EXPECT_EQ(d.result, DropResult::reached_destination);
  EXPECT_EQ(d.hop, 0);
}

// A reflector on the client's own link: no router to blame.
TEST(LocateDrop, ReflectorIsTheFirstHop) {
  auto d = locate_drop({{1, kNone, kReflector}}, std::nullopt);
  EXPECT_EQ(d.result, DropResult::unknown);
}

TEST(LocateDrop, Names) {
  EXPECT_EQ(to_string(DropResult::dropped), "dropped");
  EXPECT_EQ(to_string(DropResult::not_protocol_specific), "not_protocol_specific");
  EXPECT_EQ(to_string(DropResult::reached_destination), "reached_destination");
  EXPECT_EQ(to_string(DropResult::unknown), "unknown");
  EXPECT_EQ(to_string(Kind::time_exceeded), "time_exceeded");
  EXPECT_EQ(to_string(Kind::destination), "destination");
}

}  // namespace
}  // namespace vpncheck::nat
