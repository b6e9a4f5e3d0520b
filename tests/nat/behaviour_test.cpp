// RFC 4787 classification tables (every outcome, every missing test), the
// binding-lifetime estimate, and the advice derived from them.
#include <gtest/gtest.h>

#include <algorithm>

#include "src/nat/behaviour.h"

namespace vpncheck::nat {
namespace {

const Endpoint kM1{"203.0.113.5", 40000};
const Endpoint kM2{"203.0.113.5", 40001};
const Endpoint kM3{"203.0.113.6", 40000};  // other pooled address, same port
constexpr auto kEim = Behaviour::endpoint_independent;
constexpr auto kAdm = Behaviour::address_dependent;
constexpr auto kApdm = Behaviour::address_and_port_dependent;
const std::vector<Behaviour> kAll{kEim, kAdm, kApdm};

using Strings = std::vector<std::string>;

struct MappingCase {
  const char* name;
  MappingSamples samples;
  std::optional<Behaviour> behaviour;
  std::vector<Behaviour> possible;
  Strings not_run;
};

TEST(MappingBehaviour, EveryOutcome) {
  const std::string P(test_id::kMappingPrimary), OP(test_id::kMappingOtherPort), OA(test_id::kMappingOtherAddress);
  const MappingCase cases[] = {
      {"all equal", {kM1, kM1, kM1}, kEim, {kEim}, {}},
      {"address changes only", {kM1, kM1, kM2}, kAdm, {kAdm}, {}},
      {"address changes pooled ip", {kM1, kM1, kM3}, kAdm, {kAdm}, {}},
      {"port changes", {kM1, kM2, kM2}, kApdm, {kApdm}, {}},
      {"port changes, address same", {kM1, kM2, kM1}, kApdm, {kApdm}, {}},
      {"port changes, no alt address", {kM1, kM2, std::nullopt}, kApdm, {kApdm}, {OA}},
      {"port same, no alt address", {kM1, kM1, std::nullopt}, std::nullopt, {kEim, kAdm}, {OA}},
      {"no alt port, address same", {kM1, std::nullopt, kM1}, kEim, {kEim}, {OP}},
      {"no alt port, address changes", {kM1, std::nullopt, kM2}, std::nullopt, {kAdm, kApdm}, {OP}},
      {"only primary", {kM1, std::nullopt, std::nullopt}, std::nullopt, kAll, {OP, OA}},
      {"no primary", {std::nullopt, kM1, kM1}, std::nullopt, kAll, {P}},
      {"nothing", {}, std::nullopt, kAll, {P, OP, OA}},
  };
  for (const auto& c : cases) {
    auto r = classify_mapping(c.samples);
    EXPECT_EQ(r.behaviour, c.behaviour) << c.name;
    EXPECT_EQ(r.possible, c.possible) << c.name;
    EXPECT_EQ(r.not_run, c.not_run) << c.name;
    EXPECT_FALSE(r.explanation.empty()) << c.name;
  }
}

struct FilteringCase {
  const char* name;
  FilteringSamples samples;
  std::optional<Behaviour> behaviour;
  std::vector<Behaviour> possible;
  Strings not_run;
};

TEST(FilteringBehaviour, EveryOutcome) {
  const std::string P(test_id::kFilteringPrimary), OP(test_id::kFilteringOtherPort),
      OA(test_id::kFilteringOtherAddress);
  const auto no = std::nullopt;
  const FilteringCase cases[] = {
      {"all in", {true, true, true}, kEim, {kEim}, {}},
      {"other port in, other address out", {true, true, false}, kAdm, {kAdm}, {}},
      {"both out", {true, false, false}, kApdm, {kApdm}, {}},
      {"contradiction", {true, false, true}, no, {}, {}},
      {"other address in, port untested", {true, no, true}, kEim, {kEim}, {OP}},
      {"other address out, port untested", {true, no, false}, no, {kAdm, kApdm}, {OP}},
      {"port in, address untested", {true, true, no}, no, {kEim, kAdm}, {OA}},
      {"port out, address untested", {true, false, no}, kApdm, {kApdm}, {OA}},
      {"baseline only", {true, no, no}, no, kAll, {OP, OA}},
      {"baseline failed", {false, true, true}, no, kAll, {}},
      {"baseline not run", {no, false, false}, no, kAll, {P}},
      {"nothing", {}, no, kAll, {P, OP, OA}},
  };
  for (const auto& c : cases) {
    auto r = classify_filtering(c.samples);
    EXPECT_EQ(r.behaviour, c.behaviour) << c.name;
    EXPECT_EQ(r.possible, c.possible) << c.name;
    EXPECT_EQ(r.not_run, c.not_run) << c.name;
    EXPECT_FALSE(r.explanation.empty()) << c.name;
  }
}

TEST(BehaviourNames, MatchTheReportSchema) {
  EXPECT_EQ(to_string(kEim), "endpoint_independent");
  EXPECT_EQ(to_string(kAdm), "address_dependent");
  EXPECT_EQ(to_string(kApdm), "address_and_port_dependent");
  EXPECT_EQ(describe(kApdm), "address-and-port-dependent");
}

TEST(PortPreservation, AllOrNothing) {
  EXPECT_EQ(port_preservation({}), std::nullopt);
  const PortSample kept[] = {{500, 500}, {4500, 4500}, {51820, 51820}};
  EXPECT_EQ(port_preservation(kept), true);
  const PortSample one_changed[] = {{500, 500}, {4500, 1024}, {51820, 51820}};
  EXPECT_EQ(port_preservation(one_changed), false);
}

// ---------------------------------------------------------------- lifetime

std::vector<LifetimeTrial> trials(std::initializer_list<std::pair<int, std::optional<bool>>> list) {
  std::vector<LifetimeTrial> out;
  for (const auto& [gap, reached] : list) out.push_back({gap, reached});
  return out;
}

TEST(BindingLifetime, MonotonicGivesBothBounds) {
  auto e = estimate_lifetime(trials({{5, true}, {10, true}, {20, true}, {30, true}, {45, false}, {60, false}}));
  EXPECT_TRUE(e.measured);
  EXPECT_TRUE(e.consistent);
  EXPECT_EQ(e.longest_working_s, 30);
  EXPECT_EQ(e.shortest_failed_s, 45);
  EXPECT_EQ(e.reliable_s, 30);
  EXPECT_EQ(e.report_value(), 30);
  EXPECT_FALSE(e.all_reached);
  EXPECT_FALSE(e.none_reached);
  EXPECT_NE(e.explanation.find("between 30 s and 45 s"), std::string::npos) << e.explanation;
}

TEST(BindingLifetime, AllReachedIsALowerBound) {
  auto e = estimate_lifetime(trials({{120, true}, {5, true}, {60, true}}));  // any order
  EXPECT_TRUE(e.all_reached);
  EXPECT_EQ(e.longest_working_s, 120);
  EXPECT_EQ(e.shortest_failed_s, std::nullopt);
  EXPECT_EQ(e.report_value(), 120);
  EXPECT_NE(e.explanation.find("at least"), std::string::npos);
}

TEST(BindingLifetime, NoneReachedHasNoValue) {
  auto e = estimate_lifetime(trials({{5, false}, {10, false}}));
  EXPECT_TRUE(e.none_reached);
  EXPECT_EQ(e.shortest_failed_s, 5);
  EXPECT_EQ(e.report_value(), std::nullopt);
  EXPECT_FALSE(keepalive_advice(e));
}

TEST(BindingLifetime, NonMonotonicIsConservative) {
  auto e = estimate_lifetime(trials({{5, true}, {10, true}, {20, false}, {30, true}, {45, false}}));
  EXPECT_FALSE(e.consistent);
  EXPECT_EQ(e.longest_working_s, 30);
  EXPECT_EQ(e.shortest_failed_s, 20);
  EXPECT_EQ(e.reliable_s, 10);
  EXPECT_EQ(e.report_value(), 10);
  EXPECT_NE(e.explanation.find("not monotonic"), std::string::npos);

  auto first_failed = estimate_lifetime(trials({{5, false}, {10, true}}));
  EXPECT_FALSE(first_failed.consistent);
  EXPECT_EQ(first_failed.reliable_s, std::nullopt);
  EXPECT_NE(first_failed.explanation.find("no safe lower bound"), std::string::npos);
}

TEST(BindingLifetime, DuplicatesAndIncompleteTrials) {
  // one of two 30 s trials failed: 30 counts as failed
  auto e = estimate_lifetime(trials({{20, true}, {30, true}, {30, false}, {60, std::nullopt}, {-1, true}}));
  EXPECT_EQ(e.longest_working_s, 20);
  EXPECT_EQ(e.shortest_failed_s, 30);
  EXPECT_TRUE(e.consistent);
  auto none = estimate_lifetime(trials({{30, std::nullopt}}));
  EXPECT_FALSE(none.measured);
  EXPECT_EQ(none.report_value(), std::nullopt);
  EXPECT_FALSE(keepalive_advice(none));
  EXPECT_FALSE(estimate_lifetime({}).measured);
}

TEST(KeepaliveAdvice, SafelyBelowTheLifetime) {
  EXPECT_EQ(safe_keepalive_s(30), 25);
  EXPECT_EQ(safe_keepalive_s(60), 50);
  EXPECT_EQ(safe_keepalive_s(120), 100);
  EXPECT_EQ(safe_keepalive_s(10), 5);
  EXPECT_EQ(safe_keepalive_s(5), 3);
  EXPECT_EQ(safe_keepalive_s(2), 1);
  EXPECT_EQ(safe_keepalive_s(1), 1);
  EXPECT_EQ(safe_keepalive_s(0), 1);
  for (int l = 2; l <= 600; ++l) {
    EXPECT_LT(safe_keepalive_s(l), l) << l;
    EXPECT_GE(safe_keepalive_s(l), 1) << l;
  }
}

TEST(KeepaliveAdvice, ValuesPerImplementation) {
  auto thirty = keepalive_advice(estimate_lifetime(trials({{20, true}, {30, true}, {45, false}})));
  ASSERT_TRUE(thirty);
  EXPECT_EQ(thirty->basis_s, 30);
  EXPECT_TRUE(thirty->needed);
  EXPECT_EQ(thirty->wireguard_persistent_keepalive_s, 25);
  EXPECT_EQ(thirty->ipsec_keepalive_s, 20);
  EXPECT_EQ(thirty->openvpn_ping_s, 10);
  EXPECT_EQ(thirty->openvpn_restart_s, 60);
  EXPECT_EQ(thirty->lines, (Strings{"WireGuard: PersistentKeepalive = 25 (in the [Peer] section)",
                                    "strongSwan (IKE NAT-T keepalive): charon.keep_alive = 20s (strongswan.conf)",
                                    "OpenVPN: keepalive 10 60"}));

  auto short_timeout = keepalive_advice(estimate_lifetime(trials({{2, true}, {4, true}, {6, false}})));
  ASSERT_TRUE(short_timeout);
  EXPECT_EQ(short_timeout->wireguard_persistent_keepalive_s, 2);
  EXPECT_EQ(short_timeout->ipsec_keepalive_s, 2);
  EXPECT_EQ(short_timeout->openvpn_ping_s, 2);

  auto long_lived = keepalive_advice(estimate_lifetime(trials({{60, true}, {120, true}})));
  ASSERT_TRUE(long_lived);
  EXPECT_FALSE(long_lived->needed);
  EXPECT_EQ(long_lived->wireguard_persistent_keepalive_s, 25);
}

// ---------------------------------------------------------------- MTU

// Path facts as the path test would state them (certain: no loss in play).
PathFacts facts(std::optional<bool> fragments_pass, std::optional<int> path_mtu) {
  PathFacts f;
  f.fragments_pass = fragments_pass;
  f.path_mtu = path_mtu;
  return f;
}

const ProtocolMtuAdvice& find(const std::vector<ProtocolMtuAdvice>& all, std::string_view id) {
  auto it = std::find_if(all.begin(), all.end(), [id](const auto& a) { return a.protocol == id; });
  EXPECT_NE(it, all.end()) << id;
  return *it;
}

TEST(MtuAdvice, FragmentsDroppedOn1500Path) {
  auto all = mtu_advice(facts(false, 1500));
  ASSERT_EQ(all.size(), 5U);  // every module with a data phase
  const auto& ovpn = find(all, "openvpn");
  EXPECT_EQ(ovpn.breaks, true);
  ASSERT_FALSE(ovpn.advice.empty());
  EXPECT_EQ(ovpn.advice.front(), "OpenVPN: tun-mtu 1400 and mssfix 1360 (both ends), or use OpenVPN over TCP");
  EXPECT_EQ(find(all, "wireguard").breaks, false);
  EXPECT_TRUE(find(all, "wireguard").advice.empty());
  const auto& ike = find(all, "ipsec");
  EXPECT_EQ(ike.breaks, true);
  EXPECT_NE(ike.reason.find("RFC 7383"), std::string::npos);
  EXPECT_NE(ike.advice.front().find("fragmentation = yes"), std::string::npos);
}

TEST(MtuAdvice, FragmentsPass) {
  for (const auto& a : mtu_advice(facts(true, 1400))) {
    EXPECT_EQ(a.breaks, false) << a.protocol;
    EXPECT_TRUE(a.advice.empty()) << a.protocol;
  }
}

TEST(MtuAdvice, SmallMtuWithoutFragmentsBreaksWireGuardToo) {
  auto all = mtu_advice(facts(false, 1400));
  EXPECT_EQ(find(all, "openvpn").breaks, true);
  EXPECT_EQ(find(all, "openvpn").advice.front().substr(0, 30), "OpenVPN: tun-mtu 1300 and mssf");
  EXPECT_EQ(find(all, "wireguard").breaks, true);
  EXPECT_EQ(find(all, "wireguard").advice,
            (Strings{"WireGuard: MTU = 1340 (in [Interface]: the path MTU 1400 less 60 bytes of IPv4, UDP and "
                     "WireGuard headers)"}));
}

// A path-MTU black hole as the path test states it: sizes above `mtu` lost
// for certain enough, no "fragmentation needed" from anyone.
PathFacts black_hole(int mtu, std::optional<bool> fragments_pass) {
  PathFacts f = facts(fragments_pass, mtu);
  f.black_hole = true;
  f.mtu_chance = 1e-6;
  return f;
}

TEST(MtuAdvice, ABlackHoleBreaksTheSendersThatSetDf) {
  auto all = mtu_advice(black_hole(1280, true));
  const auto& wg = find(all, "wireguard");
  EXPECT_EQ(wg.breaks, true);
  EXPECT_TRUE(wg.restricts);
  EXPECT_EQ(wg.chance_by_loss, 1e-6);
  EXPECT_NE(wg.reason.find("black hole"), std::string::npos) << wg.reason;
  EXPECT_NE(wg.reason.find("DF"), std::string::npos) << wg.reason;
  ASSERT_EQ(wg.advice.size(), 1u);
  EXPECT_EQ(wg.advice.front().substr(0, 22), "WireGuard: MTU = 1220 ");  // 1280 - 60 (IPv4 + UDP + WireGuard)
  // OpenVPN's full-size packets are fragmented by the sending host (DF clear),
  // but TCP sized by its default mssfix fits the host's MTU and carries DF.
  const auto& ovpn = find(all, "openvpn");
  EXPECT_EQ(ovpn.breaks, true);
  EXPECT_TRUE(ovpn.restricts);
  EXPECT_NE(ovpn.reason.find("mssfix"), std::string::npos) << ovpn.reason;
  EXPECT_EQ(ovpn.advice, (Strings{"OpenVPN: tun-mtu 1180 and mssfix 1140 (both ends)",
                                  "or OpenVPN: mtu-disc no (never DF: routers then fragment, and fragments pass here)"}));
  const auto& ipsec = find(all, "ipsec");
  EXPECT_EQ(ipsec.breaks, true);
  EXPECT_TRUE(ipsec.restricts);
  ASSERT_EQ(ipsec.advice.size(), 2u);
  EXPECT_NE(ipsec.advice[0].find("inner MTU of 1192"), std::string::npos) << ipsec.advice[0];
  EXPECT_NE(ipsec.advice[1].find("copy_df = no"), std::string::npos) << ipsec.advice[1];
}

TEST(MtuAdvice, ABlackHoleWithoutFragmentsOffersNoFragmentingFix) {
  auto all = mtu_advice(black_hole(1280, false));
  EXPECT_EQ(find(all, "openvpn").advice, (Strings{"OpenVPN: tun-mtu 1180 and mssfix 1140 (both ends)"}));
  EXPECT_EQ(find(all, "ipsec").advice.size(), 1u);
  EXPECT_TRUE(find(all, "wireguard").restricts);
}

TEST(MtuAdvice, ABlackHoleOnlyBreaksWhatIsLargerThanThePathMtu) {
  // 1492 (PPPoE): WireGuard's 1480 bytes and OpenVPN's mssfix 1492 fit; IPsec fills 1500.
  auto all = mtu_advice(black_hole(1492, true));
  EXPECT_EQ(find(all, "wireguard").breaks, false);
  EXPECT_EQ(find(all, "openvpn").breaks, false);
  EXPECT_EQ(find(all, "ipsec").breaks, true);
  EXPECT_TRUE(find(all, "ipsec").restricts);
}

// Linux's kernel L2TP leaves DF clear (probes/l2tp_module.cpp): its 1538-byte
// full-size data messages leave as fragments, so only whether fragments pass
// decides, black hole or not.
TEST(MtuAdvice, ASenderThatLeavesDfClearIsJudgedByFragmentsAlone) {
  const auto black_hole_passing_fragments = mtu_advice(black_hole(1280, true));
  const auto& through_black_hole = find(black_hole_passing_fragments, "l2tp");
  EXPECT_EQ(through_black_hole.breaks, false);
  EXPECT_FALSE(through_black_hole.restricts);
  EXPECT_TRUE(through_black_hole.advice.empty());
  EXPECT_NE(through_black_hole.reason.find("without DF"), std::string::npos) << through_black_hole.reason;

  const auto no_fragments = mtu_advice(facts(false, 1500));
  const auto& l2tp = find(no_fragments, "l2tp");
  EXPECT_EQ(l2tp.breaks, true);
  EXPECT_TRUE(l2tp.restricts);
  EXPECT_NE(l2tp.reason.find("drops IP fragments"), std::string::npos) << l2tp.reason;
  ASSERT_EQ(l2tp.advice.size(), 1u);
  EXPECT_EQ(l2tp.advice.front().substr(0, 29), "L2TP: mtu 1456 and mru 1456 i");  // 1500 - 44

  const auto black_hole_without_fragments = mtu_advice(black_hole(1280, false));
  const auto& small = find(black_hole_without_fragments, "l2tp");
  EXPECT_TRUE(small.restricts);
  EXPECT_EQ(small.advice.front().substr(0, 29), "L2TP: mtu 1236 and mru 1236 i");  // 1280 - 44

  EXPECT_EQ(find(mtu_advice(facts(std::nullopt, 1500)), "l2tp").breaks, std::nullopt);
  PathFacts lossy;
  lossy.lossy = 0.15;
  const auto through_loss = mtu_advice(lossy);
  EXPECT_EQ(find(through_loss, "l2tp").breaks, std::nullopt);
  EXPECT_FALSE(find(through_loss, "l2tp").lossy_note.empty());
}

// PPTP's data (MPPE in GRE, 1440 bytes over IPv4 at MTU 1400) carries DF
// as Linux's PPTP sends it (probes/pptp_module.cpp): its entry comes from its
// module's data-phase facts alone, with no UDP place to size it by.
TEST(MtuAdvice, PptpsDfDataIsLostInABlackHoleBelowItsSizeOnly) {
  const auto through_black_hole = mtu_advice(black_hole(1280, true));
  const auto& pptp = find(through_black_hole, "pptp");
  EXPECT_EQ(pptp.breaks, true);
  EXPECT_TRUE(pptp.restricts);
  EXPECT_EQ(pptp.chance_by_loss, 1e-6);
  EXPECT_NE(pptp.reason.find("black hole"), std::string::npos) << pptp.reason;
  EXPECT_NE(pptp.reason.find("DF set"), std::string::npos) << pptp.reason;
  ASSERT_EQ(pptp.advice.size(), 1u);
  EXPECT_EQ(pptp.advice.front().substr(0, 29), "PPTP: mtu 1236 and mru 1236 i");  // 1280 - 44

  EXPECT_EQ(find(mtu_advice(black_hole(1440, true)), "pptp").breaks, false) << "1440 bytes fit";
  EXPECT_EQ(find(mtu_advice(black_hole(1439, true)), "pptp").breaks, true);
  EXPECT_EQ(find(mtu_advice(facts(false, 1400)), "pptp").breaks, true) << "too large, and no fragments";
  EXPECT_EQ(find(mtu_advice(facts(std::nullopt, std::nullopt)), "pptp").breaks, std::nullopt);
}

TEST(MtuAdvice, WorkingIcmpPenalisesNoOne) {
  PathFacts f = facts(true, 1280);
  f.black_hole = false;  // a router reported the MTU: senders learn it and fragment
  for (const auto& a : mtu_advice(f)) {
    EXPECT_EQ(a.breaks, false) << a.protocol;
    EXPECT_FALSE(a.restricts) << a.protocol;
  }
  EXPECT_NE(find(mtu_advice(f), "wireguard").reason.find("a router reports it"), std::string::npos);
}

TEST(MtuAdvice, IkeNeedingFragmentsIsNotARestriction) {
  // IPsec's own large-IKE probe weighs that; only the data packets restrict.
  auto all = mtu_advice(facts(false, 1500));
  EXPECT_EQ(find(all, "ipsec").breaks, true);
  EXPECT_FALSE(find(all, "ipsec").restricts);
  EXPECT_TRUE(find(all, "openvpn").restricts);
}

TEST(MtuAdvice, AnUnmeasuredPathMtuInventsNoBlackHole) {
  // Fragments pass, but the sizes above 1280 got no answer on a lossy path:
  // nothing breaks, and the DF senders say they could not be checked.
  PathFacts f;
  f.fragments_pass = true;
  f.mtu_at_least = 1280;
  f.lossy = 0.15;
  for (const auto& a : mtu_advice(f)) {
    EXPECT_NE(a.breaks, true) << a.protocol;
    // L2TP leaves DF clear: passing fragments are all it needs.
    if (a.protocol == "l2tp") continue;
    EXPECT_EQ(a.lossy_note, "Full-size packets could not be checked: 15 % of packets were lost.") << a.protocol;
  }
  EXPECT_EQ(find(mtu_advice(f), "l2tp").breaks, false);
  // 1492 came back: WireGuard and OpenVPN's DF packets are known to fit, IPsec's 1500 not.
  f.mtu_at_least = 1492;
  auto all = mtu_advice(f);
  EXPECT_TRUE(find(all, "wireguard").lossy_note.empty());
  EXPECT_TRUE(find(all, "openvpn").lossy_note.empty());
  EXPECT_FALSE(find(all, "ipsec").lossy_note.empty());
}

TEST(MtuAdvice, UnknownStaysUnknown) {
  for (const auto& a : mtu_advice({})) EXPECT_EQ(a.breaks, std::nullopt) << a.protocol;
  // jumbo path, fragments untested: OpenVPN and WireGuard fit, IKE unknown
  auto jumbo = mtu_advice(facts(std::nullopt, 9000));
  EXPECT_EQ(find(jumbo, "openvpn").breaks, false);
  EXPECT_EQ(find(jumbo, "wireguard").breaks, false);
  EXPECT_EQ(find(jumbo, "ipsec").breaks, std::nullopt);
  // fragments dropped, path MTU unknown: WireGuard cannot be judged
  EXPECT_EQ(find(mtu_advice(facts(false, std::nullopt)), "wireguard").breaks, std::nullopt);
}

// ---------------------------------------------------------------- summary

// 40 round trips, none lost: the loss is at most 6.3 % (95 %).
const LossEstimate kClean{40, 0};

// What the path test measured on a path of MTU `mtu`: every size that did
// not pass and the fragmented datagram (when not returned) tried `tries` times.
PathSamples path_samples(int mtu, std::optional<bool> arrived, std::optional<bool> returned, std::size_t tries = 8) {
  PathSamples s;
  for (int size : {1500, 1492, 1480, 1472, 1460, 1440, 1420, 1400, 1380, 1360, 1320, 1280})
    s.dont_fragment.push_back({size, size <= mtu, size <= mtu ? 0 : tries});
  s.fragments_arrived = arrived;
  s.fragments_returned = returned;
  if (returned != true) s.fragment_tries = tries;
  return s;
}

TEST(PathAssessment, CleanPath) {
  auto a = assess_path(path_samples(1500, true, true), kClean);
  EXPECT_EQ(a.facts.path_mtu, 1500);
  EXPECT_EQ(a.facts.fragments_pass, true);
  EXPECT_FALSE(a.smallest_failed);
  ASSERT_EQ(a.lines.size(), 2u);
  EXPECT_NE(a.lines[0].find("Full-size packets (1500 bytes) pass"), std::string::npos);
  EXPECT_EQ(a.lines[1], "IP fragments pass both ways.");
}

TEST(PathAssessment, SmallMtuNamesTheRouterOrTheBlackHole) {
  auto s = path_samples(1400, true, true);
  s.reported_mtu = 1400;
  s.reported_by = "192.168.1.1";
  auto a = assess_path(s, kClean);
  EXPECT_EQ(a.facts.path_mtu, 1400);
  EXPECT_EQ(a.smallest_failed, 1420);
  EXPECT_NE(a.lines[0].find("1400 bytes passed unfragmented, 1420 bytes did not; the router 192.168.1.1 reports an MTU of 1400"),
            std::string::npos) << a.lines[0];
  s.reported_by.reset();
  EXPECT_NE(assess_path(s, kClean).lines[0].find("this host's own interface has an MTU of 1400"), std::string::npos);
  EXPECT_EQ(assess_path(s, kClean).facts.black_hole, false);
  s.reported_mtu.reset();
  EXPECT_NE(assess_path(s, kClean).lines[0].find("no router said why"), std::string::npos);
  EXPECT_EQ(assess_path(s, kClean).facts.black_hole, true);
  // A report of a larger MTU does not explain the loss of 1420 bytes.
  s.reported_mtu = 1450;
  EXPECT_EQ(assess_path(s, kClean).facts.black_hole, true);
  // Nothing failed: no black hole to speak of.
  EXPECT_EQ(assess_path(path_samples(1500, true, true), kClean).facts.black_hole, std::nullopt);
}

TEST(PathAssessment, WhichWayFragmentsAreLost) {
  auto out = assess_path(path_samples(1500, false, false), kClean);
  EXPECT_EQ(out.facts.fragments_pass, false);
  EXPECT_EQ(out.fragments_lost, "out");
  EXPECT_NE(out.lines.back().find("dropped on the way out"), std::string::npos);
  auto back = assess_path(path_samples(1500, true, false), kClean);
  EXPECT_EQ(back.facts.fragments_pass, false);
  EXPECT_EQ(back.fragments_lost, "back");
  EXPECT_NE(back.lines.back().find("on the way back to you"), std::string::npos);
  // The ack was lost but the echo came: they pass.
  EXPECT_EQ(assess_path(path_samples(1500, false, true), kClean).facts.fragments_pass, true);
}

TEST(PathAssessment, NothingCameBackNothingDecided) {
  auto a = assess_path(path_samples(0, false, false), kClean);
  EXPECT_FALSE(a.facts.path_mtu);
  EXPECT_FALSE(a.facts.fragments_pass);  // not "dropped": nothing at all came back
  EXPECT_TRUE(a.lines.empty());
  EXPECT_TRUE(assess_path(PathSamples{}, kClean).lines.empty());
}

TEST(PathAssessment, FeedsTheMtuAdvice) {
  auto facts = assess_path(path_samples(1500, false, false), kClean).facts;
  auto advice = mtu_advice(facts);
  EXPECT_EQ(find(advice, "openvpn").breaks, true);
  EXPECT_EQ(find(advice, "wireguard").breaks, false);
}

// ---------------------------------------------------------------- evidence under loss

// 15 % lost at random each way: about 28 % of round trips fail; measured on 60.
const LossEstimate kLossy{60, 17};

TEST(PathUnderLoss, ALostByChancePatternStaysUndetermined) {
  // 1500-byte path; every 1500-byte DF probe and every fragmented datagram
  // happened to be lost in 8 tries (chance ~5e-4 at this loss).
  auto s = path_samples(1492, false, false, 8);
  auto a = assess_path(s, kLossy);
  EXPECT_FALSE(a.facts.path_mtu);               // not "below 1500"
  EXPECT_EQ(a.facts.mtu_at_least, 1492);        // but 1492 is known to pass
  EXPECT_FALSE(a.smallest_failed);
  EXPECT_FALSE(a.facts.fragments_pass);         // not "dropped"
  EXPECT_TRUE(a.fragments_lost.empty());
  ASSERT_TRUE(a.facts.lossy);
  EXPECT_NEAR(*a.facts.lossy, kLossy.per_packet(), 1e-12);
  ASSERT_EQ(a.evidence.size(), 2u);
  EXPECT_EQ(a.evidence[0].test, "path.size.1500");
  EXPECT_EQ(a.evidence[0].tries, 8u);
  EXPECT_FALSE(a.evidence[0].concluded);
  EXPECT_EQ(a.evidence[1].test, "path.fragments.out");
  EXPECT_FALSE(a.evidence[1].concluded);
  ASSERT_EQ(a.lines.size(), 2u);
  EXPECT_NE(a.lines[0].find("The path MTU could not be measured: 15 % of packets were lost"), std::string::npos)
      << a.lines[0];
  EXPECT_NE(a.lines[1].find("Whether IP fragments pass could not be measured: 15 % of packets were lost"),
            std::string::npos) << a.lines[1];
  // Nothing breaks, so no verdict changes; the protocols say they could not be checked.
  for (const auto& m : mtu_advice(a.facts)) EXPECT_NE(m.breaks, true) << m.protocol;
  EXPECT_EQ(find(mtu_advice(a.facts), "openvpn").lossy_note,
            "Full-size packets could not be checked: 15 % of packets were lost.");
  EXPECT_EQ(find(mtu_advice(a.facts), "wireguard").breaks, false);  // 1492 >= 1480: it fits, loss or not
}

TEST(PathUnderLoss, ABlackHoleOnACleanPathIsStillConcluded) {
  // Every try above 1400 lost (no ICMP), while everything small came back.
  auto s = path_samples(1400, false, false, 4);
  auto a = assess_path(s, kClean);
  EXPECT_EQ(a.facts.path_mtu, 1400);
  EXPECT_EQ(a.smallest_failed, 1420);
  EXPECT_LT(a.facts.mtu_chance, kChanceThreshold);
  // Four tries of a fragmented datagram (three packets' worth each) are not enough ...
  EXPECT_FALSE(a.facts.fragments_pass);
  EXPECT_NE(a.lines.back().find("too few tries were made to rule out chance"), std::string::npos) << a.lines.back();
  // ... six are.
  s.fragment_tries = 6;
  a = assess_path(s, kClean);
  EXPECT_FALSE(a.facts.lossy);
  EXPECT_EQ(a.facts.fragments_pass, false);
  EXPECT_EQ(a.fragments_lost, "out");
  auto advice = mtu_advice(a.facts);
  EXPECT_EQ(find(advice, "wireguard").breaks, true);
  EXPECT_LT(find(advice, "wireguard").chance_by_loss, kChanceThreshold);
  EXPECT_EQ(find(advice, "openvpn").breaks, true);
}

TEST(PathUnderLoss, ARoutersReportNeedsNoStatistics) {
  auto s = path_samples(1400, true, true, 1);
  s.reported_mtu = 1400;
  s.reported_by = "192.168.1.1";
  auto a = assess_path(s, kLossy);
  EXPECT_EQ(a.facts.path_mtu, 1400);
  EXPECT_EQ(a.smallest_failed, 1420);
  EXPECT_EQ(a.facts.mtu_chance, 0.0);
}

TEST(PathUnderLoss, EnoughTriesConvinceEvenOnALossyPath) {
  auto a = assess_path(path_samples(1400, true, true, 16), kLossy);
  EXPECT_EQ(a.facts.path_mtu, 1400);
  EXPECT_EQ(a.facts.fragments_pass, true);
}

TEST(PathUnderLoss, AFragmentedTryNeedsTwoPacketsOutWhereNoLinkSplitsItAgain) {
  // 20 tries of the fragmented datagram, none acknowledged, on a 1500-byte path.
  auto s = path_samples(1500, false, false, 20);
  // This host's MTU unknown: up to three fragments each try, too likely by chance.
  EXPECT_FALSE(assess_path(s, kLossy).facts.fragments_pass);
  // It fragments at 1500 and every link carries 1500: two fragments, and 20 tries suffice.
  s.local_mtu = 1500;
  auto a = assess_path(s, kLossy);
  EXPECT_EQ(a.facts.fragments_pass, false);
  EXPECT_EQ(a.fragments_lost, "out");
  // A host MTU above what the path carries (a smaller link splits its fragments again): three.
  s = path_samples(1400, false, false, 20);
  s.local_mtu = 1500;
  EXPECT_FALSE(assess_path(s, kLossy).facts.fragments_pass);
  s.local_mtu = 9000;  // sent whole, split once where it first does not fit
  EXPECT_EQ(assess_path(s, kLossy).facts.fragments_pass, false);
}

TEST(FilteringUnderLoss, AnUnsolicitedPacketLostByChanceIsNotBelieved) {
  std::vector<Evidence> evidence;
  // Six requests reached the reflector; none of the unsolicited packets came.
  auto s = weigh_filtering({true, false, false}, {6, 6}, kLossy, evidence);
  EXPECT_FALSE(s.from_other_port);
  EXPECT_FALSE(s.from_other_address);
  EXPECT_TRUE(s.other_port_lossy && s.other_address_lossy);
  auto c = classify_filtering(s);
  EXPECT_FALSE(c.behaviour);  // not "address-and-port-dependent"
  EXPECT_EQ(c.lossy, (Strings{"filtering.other_port", "filtering.other_address"}));
  EXPECT_TRUE(c.not_run.empty());
  ASSERT_EQ(evidence.size(), 2u);
  EXPECT_FALSE(evidence[0].concluded);
  NatFacts f;
  f.filtering = c;
  f.loss = kLossy;
  f.evidence = evidence;
  auto lines = nat_summary_lines(f);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "NAT filtering could not be measured: 15 % of packets were lost.");
}

TEST(FilteringUnderLoss, OnACleanPathFourTriesDecide) {
  std::vector<Evidence> evidence;
  auto c = classify_filtering(weigh_filtering({true, false, false}, {4, 4}, kClean, evidence));
  EXPECT_EQ(c.behaviour, kApdm);
  ASSERT_EQ(evidence.size(), 2u);
  EXPECT_TRUE(evidence[0].concluded && evidence[1].concluded);
  // What came is never in doubt; one side weak narrows without deciding.
  evidence.clear();
  c = classify_filtering(weigh_filtering({true, true, false}, {0, 2}, kClean, evidence));
  EXPECT_FALSE(c.behaviour);
  EXPECT_EQ(c.possible, (std::vector<Behaviour>{kEim, kAdm}));
  EXPECT_EQ(c.lossy, (Strings{"filtering.other_address"}));
  EXPECT_NE(c.explanation.find("not determined"), std::string::npos) << c.explanation;
  // Without the direct answer nothing is weighed (nothing is classified anyway).
  evidence.clear();
  weigh_filtering({false, false, false}, {0, 0}, kClean, evidence);
  EXPECT_TRUE(evidence.empty());
}

TEST(LifetimeUnderLoss, AGapCountsAsExpiredOnlyOnStrongEvidence) {
  std::vector<Evidence> evidence;
  // Each gap tried on four sockets: the packets after 2..4 s arrived, after
  // 6 s none of four (clean path: expired), after 5 s none of one (weak).
  std::vector<LifetimeTrial> trials{{2, true, 1}, {4, true, 1}, {5, false, 1}, {6, false, 4}, {8, false, 4}};
  auto e = assess_lifetime(trials, kClean, evidence);
  EXPECT_EQ(e.longest_working_s, 4);
  EXPECT_EQ(e.shortest_failed_s, 6);
  EXPECT_EQ(e.lossy_gaps_s, std::vector<int>{5});
  EXPECT_NE(e.explanation.find("Not counted"), std::string::npos) << e.explanation;
  // Under loss none of the failures is believed: only a lower bound is left.
  evidence.clear();
  e = assess_lifetime(trials, kLossy, evidence);
  EXPECT_EQ(e.report_value(), 4);
  EXPECT_FALSE(e.shortest_failed_s);
  EXPECT_EQ(e.lossy_gaps_s, (std::vector<int>{5, 6, 8}));
  NatFacts f;
  f.lifetime = e;
  f.loss = kLossy;
  auto lines = nat_summary_lines(f);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("at least 4 s"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1], "Whether idle UDP mappings last 5 s, 6 s, 8 s could not be measured: 15 % of packets were lost.");
  // One arrival among the sockets of a gap: alive, whatever the others did.
  evidence.clear();
  std::vector<LifetimeTrial> mixed{{10, false, 3}, {10, true, 1}};
  EXPECT_EQ(assess_lifetime(mixed, kClean, evidence).longest_working_s, 10);
}

TEST(HairpinningUnderLoss, NotMeasuredIsSaidInPlainWords) {
  NatFacts f;
  f.loss = kLossy;
  f.evidence = {weigh("hairpinning", 6, kLossy)};
  auto lines = nat_summary_lines(f);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "Hairpinning could not be measured: 15 % of packets were lost.");
}

TEST(NatSummaryText, PlainWordsFromMeasuredFacts) {
  NatFacts f;
  f.lifetime = estimate_lifetime(trials({{20, true}, {30, true}, {45, false}}));
  auto lines = nat_summary_lines(f);
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0], "Your router keeps idle UDP mappings about 30 s (45 s was too long); set PersistentKeepalive = 25.");

  f.mapping = classify_mapping({kM1, kM2, std::nullopt});
  f.filtering = classify_filtering({true, false, false});
  f.port_preservation = false;
  f.topology = classify_topology(Ipv4{100, 72, 3, 4}, Ipv4{203, 0, 113, 5});
  f.mtu = mtu_advice(facts(false, 1500));
  lines = nat_summary_lines(f);
  ASSERT_EQ(lines.size(), 8U);
  EXPECT_NE(lines[0].find("carrier-grade NAT"), std::string::npos);
  EXPECT_NE(lines[1].find("address-and-port-dependent mapping"), std::string::npos);
  EXPECT_NE(lines[2].find("address-and-port-dependent filtering"), std::string::npos);
  EXPECT_EQ(lines[3], "Your NAT rewrites source ports.");
  EXPECT_NE(lines[5].find("tun-mtu 1400"), std::string::npos);
  EXPECT_NE(lines[6].find("IKEv2 fragmentation"), std::string::npos);
  EXPECT_NE(lines[7].find("Fix: L2TP: mtu 1456 and mru 1456"), std::string::npos) << lines[7];
  for (const auto& l : lines) EXPECT_EQ(l.find('\n'), std::string::npos) << l;
}

TEST(NatSummaryText, NothingMeasuredNothingSaid) {
  EXPECT_TRUE(nat_summary_lines({}).empty());
  NatFacts f;
  f.mapping = classify_mapping({kM1, std::nullopt, std::nullopt});     // all three possible
  f.filtering = classify_filtering({true, std::nullopt, std::nullopt});  // all three possible
  f.topology = classify_topology(std::nullopt, Ipv4{203, 0, 113, 5});
  f.lifetime = estimate_lifetime({});
  f.mtu = mtu_advice({});
  EXPECT_TRUE(nat_summary_lines(f).empty());
}

TEST(NatSummaryText, PartialAndEdgeResults) {
  NatFacts f;
  f.mapping = classify_mapping({kM1, kM1, std::nullopt});
  f.lifetime = estimate_lifetime(trials({{5, false}, {10, false}}));
  auto lines = nat_summary_lines(f);
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_NE(lines[0].find("endpoint-independent or address-dependent"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("within 5 s"), std::string::npos) << lines[1];

  f = {};
  f.lifetime = estimate_lifetime(trials({{60, true}, {120, true}}));
  lines = nat_summary_lines(f);
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_NE(lines[0].find("at least 120 s"), std::string::npos) << lines[0];

  f.lifetime = estimate_lifetime(trials({{5, false}, {10, true}}));
  lines = nat_summary_lines(f);
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_NE(lines[0].find("not monotonic"), std::string::npos) << lines[0];
}

}  // namespace
}  // namespace vpncheck::nat
