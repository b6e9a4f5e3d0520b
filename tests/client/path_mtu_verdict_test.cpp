// The path test's consequence for verdicts (src/verdict/path_mtu.cpp): a
// protocol that passes over UDP but whose default full-size packets would be
// dropped becomes restricted, with the fix, on IPv4 only, and only on strong
// evidence: what loss could explain leaves the verdict, with a note.
#include <gtest/gtest.h>

#include "client_fixtures.h"
#include "src/nat/behaviour.h"
#include "probes/ipsec.h"
#include "probes/pptp_module.h"
#include "src/verdict/path_mtu.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;
using fixtures::everything;
using fixtures::Fate;
using fixtures::has_finding;
using fixtures::joined;
using fixtures::openvpn;
using fixtures::wireguard;
using probes::ProbeVariant;
using probes::Transport;

// Path facts as the path test would state them (certain: no loss in play).
nat::PathFacts facts(std::optional<bool> fragments_pass, std::optional<int> path_mtu) {
  nat::PathFacts f;
  f.fragments_pass = fragments_pass;
  f.path_mtu = path_mtu;
  return f;
}

// What the path test says for a 1500-byte path that drops fragments.
std::vector<nat::ProtocolMtuAdvice> fragments_dropped() { return nat::mtu_advice(facts(false, 1500)); }

TEST(PathMtuVerdict, OpenVpnOverUdpThatNeedsFragmentsIsRestrictedWithTheFix) {
  std::vector<ProtocolAssessment> all{assess_families(openvpn(), fixtures::scenario(openvpn(), everything(Fate::answered)), true),
                                      assess_families(wireguard(), fixtures::scenario(wireguard(), everything(Fate::answered)), true)};
  ASSERT_EQ(all[0].verdict, Verdict::pass);
  apply_path_mtu(all, fragments_dropped());
  EXPECT_EQ(all[0].verdict, Verdict::restricted);
  EXPECT_TRUE(has_finding(all[0], finding::kFullSizePacketsDropped));
  EXPECT_TRUE(contains(joined(all[0].advice), "tun-mtu")) << joined(all[0].advice);
  EXPECT_TRUE(contains(joined(all[0].advice), "mssfix"));
  EXPECT_TRUE(contains(all[0].summary, "drops IP fragments")) << all[0].summary;
  ASSERT_FALSE(all[0].families.empty());
  EXPECT_EQ(all[0].families.front().verdict, Verdict::restricted);
  // WireGuard's 1480-byte packets fit a 1500-byte path: unchanged.
  EXPECT_EQ(all[1].verdict, Verdict::pass);
  EXPECT_FALSE(has_finding(all[1], finding::kFullSizePacketsDropped));
}

TEST(PathMtuVerdict, SmallPathWithoutFragmentsRestrictsWireGuardToo) {
  std::vector<ProtocolAssessment> all{assess_families(wireguard(), fixtures::scenario(wireguard(), everything(Fate::answered)), true)};
  apply_path_mtu(all, nat::mtu_advice(facts(false, 1400)));
  EXPECT_EQ(all[0].verdict, Verdict::restricted);
  EXPECT_TRUE(contains(joined(all[0].advice), "MTU = 1340")) << joined(all[0].advice);
}

const probes::ProtocolModule& ipsec() { return probes::ipsec::kModule; }

std::vector<ProtocolAssessment> all_passing() {
  std::vector<ProtocolAssessment> all;
  for (const auto* m : {&wireguard(), &openvpn(), &ipsec()})
    all.push_back(assess_families(*m, fixtures::scenario(*m, everything(Fate::answered)), true));
  return all;
}

// What the path test measures through a router with a 1280-byte uplink, on a
// clean path: every DF size above 1280 lost in 8 tries, fragments pass.
nat::PathAssessment through_1280(bool router_reports) {
  nat::PathSamples s;
  for (int size : {1500, 1492, 1480, 1472, 1460, 1440, 1420, 1400, 1380, 1360, 1320, 1280})
    s.dont_fragment.push_back({size, size <= 1280, size <= 1280 ? 0u : 8u});
  s.fragments_arrived = s.fragments_returned = true;
  if (router_reports) {
    s.reported_mtu = 1280;
    s.reported_by = "192.168.1.1";
  }
  return nat::assess_path(s, nat::LossEstimate{40, 0});
}

TEST(PathMtuVerdict, ABlackHoleRestrictsEveryDfSenderWithTheMtuToSet) {
  auto all = all_passing();
  for (const auto& a : all) ASSERT_EQ(a.verdict, Verdict::pass) << a.module->id << ": " << a.summary;
  auto path = through_1280(false);
  ASSERT_EQ(path.facts.black_hole, true);
  apply_path_mtu(all, nat::mtu_advice(path.facts));
  for (const auto& a : all) {
    EXPECT_EQ(a.verdict, Verdict::restricted) << a.module->id << ": " << a.summary;
    EXPECT_TRUE(has_finding(a, finding::kFullSizePacketsDropped)) << a.module->id;
    EXPECT_TRUE(contains(a.summary, "black hole")) << a.summary;
  }
  EXPECT_TRUE(contains(joined(all[0].advice), "WireGuard: MTU = 1220")) << joined(all[0].advice);
  EXPECT_TRUE(contains(joined(all[1].advice), "tun-mtu 1180")) << joined(all[1].advice);
  EXPECT_TRUE(contains(joined(all[2].advice), "inner MTU of 1192")) << joined(all[2].advice);
}

// PPTP passes by its control connection and GRE, with no UDP place: its
// data is GRE alone, which a black hole below 1440 bytes loses (DF set), so
// the path test restricts it too; a router that reports the MTU does not.
TEST(PathMtuVerdict, ABlackHoleRestrictsPptpWhoseDataIsGreAlone) {
  const auto& pptp = probes::pptp::kModule;
  for (bool reports : {false, true}) {
    SCOPED_TRACE(reports ? "ICMP works" : "black hole");
    std::vector<ProtocolAssessment> all{
        assess_families(pptp, fixtures::scenario(pptp, everything(Fate::answered)), true)};
    ASSERT_EQ(all[0].verdict, Verdict::pass) << all[0].summary;
    apply_path_mtu(all, nat::mtu_advice(through_1280(reports).facts));
    if (reports) {
      EXPECT_EQ(all[0].verdict, Verdict::pass) << all[0].summary;
      continue;
    }
    EXPECT_EQ(all[0].verdict, Verdict::restricted) << all[0].summary;
    EXPECT_TRUE(has_finding(all[0], finding::kFullSizePacketsDropped));
    EXPECT_TRUE(contains(all[0].summary, "black hole")) << all[0].summary;
    EXPECT_TRUE(contains(joined(all[0].advice), "PPTP: mtu 1236 and mru 1236")) << joined(all[0].advice);
  }
}

TEST(PathMtuVerdict, TheSamePathWithWorkingIcmpRestrictsNoOne) {
  auto all = all_passing();
  auto path = through_1280(true);
  ASSERT_EQ(path.facts.path_mtu, 1280);
  ASSERT_EQ(path.facts.black_hole, false);
  apply_path_mtu(all, nat::mtu_advice(path.facts));
  for (const auto& a : all) {
    EXPECT_EQ(a.verdict, Verdict::pass) << a.module->id << ": " << a.summary;
    EXPECT_TRUE(a.findings.empty()) << a.module->id;
  }
}

TEST(PathMtuVerdict, IkeNeedingFragmentsLeavesIpsecToItsOwnRule) {
  auto all = all_passing();
  apply_path_mtu(all, fragments_dropped());
  EXPECT_EQ(all[2].verdict, Verdict::pass) << all[2].summary;
  EXPECT_FALSE(has_finding(all[2], finding::kFullSizePacketsDropped));
}

TEST(PathMtuVerdict, ABlackHoleSeenOnALossyPathIsANoteNotARestriction) {
  // 15 % loss: 8 lost tries of each larger size could be chance, so the path MTU stays unknown.
  nat::PathSamples s;
  for (int size : {1500, 1492, 1480, 1472, 1460, 1440, 1420, 1400, 1380, 1360, 1320, 1280})
    s.dont_fragment.push_back({size, size <= 1280, size <= 1280 ? 0u : 8u});
  s.fragments_arrived = s.fragments_returned = true;
  auto path = nat::assess_path(s, nat::LossEstimate{60, 17});
  ASSERT_FALSE(path.facts.path_mtu);
  auto all = all_passing();
  apply_path_mtu(all, nat::mtu_advice(path.facts));
  for (const auto& a : all) {
    EXPECT_EQ(a.verdict, Verdict::pass) << a.module->id << ": " << a.summary;
    EXPECT_TRUE(contains(a.summary, "Full-size packets could not be checked")) << a.summary;
  }
}

TEST(PathMtuVerdict, NothingChangesWhenFragmentsPassOrNothingWasMeasured) {
  for (const auto& advice : {nat::mtu_advice(facts(true, 1400)), nat::mtu_advice({}), std::vector<nat::ProtocolMtuAdvice>{}}) {
    std::vector<ProtocolAssessment> all{assess_families(openvpn(), fixtures::scenario(openvpn(), everything(Fate::answered)), true)};
    apply_path_mtu(all, advice);
    EXPECT_EQ(all[0].verdict, Verdict::pass);
    EXPECT_TRUE(all[0].findings.empty());
  }
}

TEST(PathMtuVerdict, OpenVpnOverTcpAndVerdictsOtherThanPassAreLeftAlone) {
  // Only OpenVPN over TCP gets through: restricted already, and TCP carries full-size packets anyway.
  auto tcp_only = [](const ProbeVariant& v, ProbeKind) {
    return v.transport == Transport::tcp ? Fate::answered : Fate::dropped;
  };
  std::vector<ProtocolAssessment> all{assess_families(openvpn(), fixtures::scenario(openvpn(), tcp_only), true),
                                      assess_families(wireguard(), fixtures::scenario(wireguard(), everything(Fate::dropped)), true)};
  const auto before_ovpn = all[0].verdict;
  apply_path_mtu(all, nat::mtu_advice(facts(false, 1400)));
  EXPECT_EQ(all[0].verdict, before_ovpn);
  EXPECT_FALSE(has_finding(all[0], finding::kFullSizePacketsDropped));
  EXPECT_EQ(all[1].verdict, Verdict::blocked);
  EXPECT_FALSE(has_finding(all[1], finding::kFullSizePacketsDropped));
}

TEST(PathMtuVerdict, OnlyTheIPv4VerdictChanges) {
  auto results = fixtures::dual_stack_scenario(openvpn(), fixtures::listening_everywhere(), everything(Fate::answered),
                                               everything(Fate::answered));
  std::vector<ProtocolAssessment> all{assess_families(openvpn(), results, true)};
  apply_path_mtu(all, fragments_dropped());
  ASSERT_EQ(all[0].families.size(), 2u);
  EXPECT_EQ(all[0].families[0].verdict, Verdict::restricted);
  EXPECT_EQ(all[0].families[1].verdict, Verdict::pass);
  EXPECT_EQ(all[0].verdict, Verdict::restricted);  // the top level is the IPv4 one
}

TEST(PathMtuVerdict, AWeakNoChangesNoVerdict) {
  auto advice = fragments_dropped();
  for (auto& m : advice) m.chance_by_loss = 0.01;  // loss alone would do this once in a hundred runs
  std::vector<ProtocolAssessment> all{assess_families(openvpn(), fixtures::scenario(openvpn(), everything(Fate::answered)), true)};
  apply_path_mtu(all, advice);
  EXPECT_EQ(all[0].verdict, Verdict::pass);
  EXPECT_FALSE(has_finding(all[0], finding::kFullSizePacketsDropped));
}

// What the path test measures through a router that drops 15 % of packets
// each way on a 1500-byte path that passes fragments: the 1500-byte probe
// and the fragmented datagram happened to get no answer in all their tries.
nat::PathSamples lost_by_chance() {
  nat::PathSamples s;
  for (int size : {1500, 1492, 1480, 1472, 1460, 1440, 1420, 1400, 1380, 1360, 1320, 1280})
    s.dont_fragment.push_back({size, size < 1500, size < 1500 ? 0u : 8u});
  s.fragments_arrived = false;
  s.fragments_returned = false;
  s.fragment_tries = 12;
  return s;
}

TEST(PathMtuVerdict, UnderLossPassStaysPassWithANote) {
  const nat::LossEstimate lossy{60, 17};  // about 15 % per packet
  auto path = nat::assess_path(lost_by_chance(), lossy);
  ASSERT_FALSE(path.facts.fragments_pass.has_value());
  std::vector<ProtocolAssessment> all{assess_families(openvpn(), fixtures::scenario(openvpn(), everything(Fate::answered)), true),
                                      assess_families(wireguard(), fixtures::scenario(wireguard(), everything(Fate::answered)), true)};
  apply_path_mtu(all, nat::mtu_advice(path.facts));
  for (const auto& a : all) {
    EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
    EXPECT_FALSE(has_finding(a, finding::kFullSizePacketsDropped));
  }
  EXPECT_TRUE(contains(all[0].summary, "Full-size packets could not be checked: 15 % of packets were lost."))
      << all[0].summary;
  // WireGuard's 1480-byte packets are known to pass (1492 came back): nothing to note.
  EXPECT_FALSE(contains(all[1].summary, "could not be checked")) << all[1].summary;
}

TEST(PathMtuVerdict, TheSamePatternOnACleanPathRestricts) {
  const nat::LossEstimate clean{40, 0};
  auto path = nat::assess_path(lost_by_chance(), clean);  // every try lost while everything small passed: real
  ASSERT_EQ(path.facts.fragments_pass, false);
  std::vector<ProtocolAssessment> all{assess_families(openvpn(), fixtures::scenario(openvpn(), everything(Fate::answered)), true)};
  apply_path_mtu(all, nat::mtu_advice(path.facts));
  EXPECT_EQ(all[0].verdict, Verdict::restricted);
  EXPECT_TRUE(has_finding(all[0], finding::kFullSizePacketsDropped));
}

}  // namespace
}  // namespace vpncheck::client
