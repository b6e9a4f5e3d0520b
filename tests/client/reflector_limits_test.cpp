// A reflector that limited its answers must turn the verdicts it explains into
// `inconclusive` (finding reflector_limited), never blocked or outbound_only;
// a failure it does not explain keeps its verdict.
#include "src/verdict/reflector_limits.h"

#include <gtest/gtest.h>

#include "client_fixtures.h"

namespace vpncheck::client {
namespace {

using namespace fixtures;
using probes::ProbeVariant;
using probes::Transport;

// The reflector recorded every arrival of the probes `which` selects but held its answer back (`code`).
std::vector<ProbeResult> withheld(std::vector<ProbeResult> results, std::string_view code,
                                  const std::function<bool(const ProbeResult&)>& which = nullptr) {
  for (auto& r : results) {
    if (which && !which(r)) continue;
    for (auto& a : r.arrivals) {
      a.reply = {};
      a.reply.code = code;
      a.reply.reason = "rate limited";
    }
  }
  return results;
}

probes::ReflectorLimit limit(std::string_view kind, std::uint64_t count, std::vector<std::uint16_t> ports = {}) {
  return {std::string(kind), count, std::move(ports), "detail"};
}

ProtocolAssessment limited(ProtocolAssessment a, const ReflectorLimits& limits) {
  std::vector<ProtocolAssessment> all{std::move(a)};
  apply_reflector_limits(all, limits);
  return all.front();
}

void expect_reflector_limited(const ProtocolAssessment& a, std::string_view phrase) {
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kReflectorLimited)) << joined(a.findings);
  EXPECT_TRUE(contains(a.summary, "the reflector limited its answers")) << a.summary;
  EXPECT_TRUE(contains(a.summary, phrase)) << a.summary;
  EXPECT_TRUE(contains(joined(a.advice), "again")) << joined(a.advice);
  EXPECT_TRUE(contains(joined(a.advice), "reflector of your own")) << joined(a.advice);
}

TEST(ReflectorLimits, RateLimitedAnswersTurnOutboundOnlyIntoInconclusive) {
  auto results = scenario(wireguard(), everything(Fate::arrived_only));
  ASSERT_EQ(assess(wireguard(), results, true).verdict, Verdict::outbound_only);  // what it was before

  auto a = limited(assess(wireguard(), withheld(results, probes::reply_code::kRateLimited), true),
                   {limit(probes::limit_kind::kRateLimit, 6, {51820, 443, 53})});
  // Three genuine probes, each recorded once and held back.
  expect_reflector_limited(a, "rate limit: 3 answers withheld");
  EXPECT_FALSE(has_finding(a, finding::kReturnPathBlocked)) << "the network did not drop the replies";
  EXPECT_TRUE(contains(joined(a.advice), "--rate-limit")) << joined(a.advice);
}

TEST(ReflectorLimits, EveryReflectorReasonForWithholdingCounts) {
  for (auto code : {probes::reply_code::kBatchFull, probes::reply_code::kSendFailed,
                    probes::reply_code::kAmplification}) {
    auto a = limited(assess(wireguard(), withheld(scenario(wireguard(), everything(Fate::arrived_only)), code), true),
                     {});
    EXPECT_EQ(a.verdict, Verdict::inconclusive) << code;
  }
}

TEST(ReflectorLimits, AnAnswerTheReflectorSentAndTheNetworkLostStaysOutboundOnly) {
  // Arrived, answered, nothing came back: the network's doing, whatever else the reflector limited.
  auto a = limited(assess(wireguard(), scenario(wireguard(), everything(Fate::arrived_only)), true),
                   {limit(probes::limit_kind::kRateLimit, 40), limit(probes::limit_kind::kConnectionSlots, 3)});
  EXPECT_EQ(a.verdict, Verdict::outbound_only) << a.summary;
  EXPECT_FALSE(has_finding(a, finding::kReflectorLimited));
}

TEST(ReflectorLimits, ARealBlockWithoutLimitsStaysBlocked) {
  auto a = limited(assess(wireguard(), scenario(wireguard(), everything(Fate::dropped)), true), {});
  EXPECT_EQ(a.verdict, Verdict::blocked);
  EXPECT_FALSE(has_finding(a, finding::kReflectorLimited));
  // A rate limit withholds answers to what arrived; it explains nothing that never arrived.
  a = limited(assess(wireguard(), scenario(wireguard(), everything(Fate::dropped)), true),
              {limit(probes::limit_kind::kRateLimit, 9, {51820})});
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
}

TEST(ReflectorLimits, APassStaysAPass) {
  auto a = limited(assess(wireguard(), scenario(wireguard(), everything(Fate::answered)), true),
                   {limit(probes::limit_kind::kRateLimit, 9), limit(probes::limit_kind::kObservationLimit, 4),
                    limit(probes::limit_kind::kConnectionSlots, 2)});
  EXPECT_EQ(a.verdict, Verdict::pass);
  EXPECT_FALSE(has_finding(a, finding::kReflectorLimited));
}

// OpenVPN with every probe failing: UDP dropped on the way, TCP reset.
std::vector<ProbeResult> openvpn_udp_dropped_tcp_reset() {
  return scenario(openvpn(), [](const ProbeVariant& v, ProbeKind) {
    return v.transport == Transport::tcp ? Fate::reset : Fate::dropped;
  });
}

TEST(ReflectorLimits, TcpResetWhileConnectionSlotsWereFullIsInconclusive) {
  ASSERT_EQ(assess(openvpn(), openvpn_udp_dropped_tcp_reset(), true).verdict, Verdict::blocked);
  auto a = limited(assess(openvpn(), openvpn_udp_dropped_tcp_reset(), true),
                   {limit(probes::limit_kind::kConnectionSlots, 5, {1194, 443})});
  // The TCP forms might have worked: restricted or blocked cannot be told.
  expect_reflector_limited(a, "connection slots full: 5 TCP connections refused");
  EXPECT_TRUE(contains(joined(a.advice), "--max-connections")) << joined(a.advice);
  EXPECT_FALSE(has_finding(a, finding::kConnectionReset));
}

TEST(ReflectorLimits, ConnectionSlotsOnOtherPortsExplainNothing) {
  auto a = limited(assess(openvpn(), openvpn_udp_dropped_tcp_reset(), true),
                   {limit(probes::limit_kind::kConnectionSlots, 5, {8780})});
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
}

TEST(ReflectorLimits, ConnectionSlotsDoNotExplainUdp) {
  auto a = limited(assess(wireguard(), scenario(wireguard(), everything(Fate::dropped)), true),
                   {limit(probes::limit_kind::kConnectionSlots, 5)});
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
}

TEST(ReflectorLimits, ArrivalsTheReflectorCouldNotRecordOrAttributeAreInconclusive) {
  for (auto kind : {probes::limit_kind::kObservationLimit, probes::limit_kind::kFlowTable,
                    probes::limit_kind::kPptpCalls}) {
    auto a = limited(assess(wireguard(), scenario(wireguard(), everything(Fate::dropped)), true), {limit(kind, 7)});
    EXPECT_EQ(a.verdict, Verdict::inconclusive) << kind;
    EXPECT_TRUE(has_finding(a, finding::kReflectorLimited)) << kind;
  }
  auto a = limited(assess(wireguard(), scenario(wireguard(), everything(Fate::dropped)), true),
                   {limit(probes::limit_kind::kObservationLimit, 7)});
  expect_reflector_limited(a, "record full: 7 arrivals not recorded");
  EXPECT_TRUE(contains(joined(a.advice), "--max-observations")) << joined(a.advice);
}

TEST(ReflectorLimits, LimitsOnlyForNatTestsOrOfUnknownKindsExplainNoProbe) {
  auto a = limited(assess(wireguard(), scenario(wireguard(), everything(Fate::dropped)), true),
                   {limit(probes::limit_kind::kNatPending, 3), limit("future_table", 3)});
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
}

// WireGuard restricted: UDP 53 works, the standard UDP 51820 does not.
TEST(ReflectorLimits, RestrictedBecomesInconclusiveOnlyWhenTheStandardFormWasLimited) {
  auto fate = [](Fate standard) {
    return [standard](const ProbeVariant& v, ProbeKind) {
      if (is(v, Transport::udp, 53)) return Fate::answered;
      if (is(v, Transport::udp, 51820)) return standard;
      return Fate::arrived_only;  // UDP 443
    };
  };
  auto standard_withheld = [](const ProbeResult& r) { return r.probe.variant.port == 51820; };
  auto results = withheld(scenario(wireguard(), fate(Fate::arrived_only)), probes::reply_code::kRateLimited,
                          standard_withheld);
  ASSERT_EQ(assess(wireguard(), results, true).verdict, Verdict::restricted);
  auto a = limited(assess(wireguard(), results, true), {});
  expect_reflector_limited(a, "rate limit: 1 answer withheld");

  // The standard form really is blocked; only the other fallback (UDP 443) was held back.
  auto other_withheld = [](const ProbeResult& r) { return r.probe.variant.port == 443; };
  results = withheld(scenario(wireguard(), fate(Fate::dropped)), probes::reply_code::kRateLimited, other_withheld);
  a = limited(assess(wireguard(), results, true), {limit(probes::limit_kind::kRateLimit, 1, {443})});
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  EXPECT_FALSE(has_finding(a, finding::kReflectorLimited));
}

TEST(ReflectorLimits, EachFamilyIsJudgedOnItsOwnProbes) {
  auto caps = listening_on({51820, 443, 53}, {});
  // IPv4 passes; over IPv6 every answer was held back.
  auto results = dual_stack_scenario(wireguard(), caps, everything(Fate::answered), everything(Fate::arrived_only));
  results = withheld(std::move(results), probes::reply_code::kRateLimited,
                     [](const ProbeResult& r) { return r.probe.family == Family::ipv6; });
  auto a = limited(assess_families(wireguard(), results, true), {});
  EXPECT_EQ(a.verdict, Verdict::pass);
  ASSERT_EQ(a.families.size(), 2u);
  EXPECT_EQ(a.families[0].verdict, Verdict::pass);
  EXPECT_EQ(a.families[1].verdict, Verdict::inconclusive) << a.families[1].summary;

  // The first family's verdict is the assessment's: when it changes, so does the assessment.
  results = dual_stack_scenario(wireguard(), caps, everything(Fate::arrived_only), everything(Fate::answered));
  results = withheld(std::move(results), probes::reply_code::kRateLimited);
  a = limited(assess_families(wireguard(), results, true), {});
  EXPECT_EQ(a.families[0].verdict, Verdict::inconclusive);
  EXPECT_EQ(a.families[1].verdict, Verdict::pass);
  EXPECT_EQ(a.verdict, Verdict::inconclusive);
  EXPECT_TRUE(has_finding(a, finding::kReflectorLimited));
  EXPECT_EQ(a.summary, a.families[0].summary);
}

TEST(ReflectorLimits, DescribesTheSessionLimitsInOneLine) {
  EXPECT_EQ(describe_reflector_limits({}), "");
  EXPECT_EQ(describe_reflector_limits({limit(probes::limit_kind::kRateLimit, 12, {51820, 53}),
                                       limit(probes::limit_kind::kConnectionSlots, 1, {1723})}),
            "rate limit: 12 answers withheld (ports 51820, 53); connection slots full: 1 TCP connection refused "
            "(port 1723)");
  EXPECT_EQ(describe_reflector_limits({limit("future_table", 2)}), "future_table: 2");
}

}  // namespace
}  // namespace vpncheck::client
