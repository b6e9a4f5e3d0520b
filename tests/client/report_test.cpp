#include "src/report/report.h"

#include <gtest/gtest.h>

#include "client_fixtures.h"
#include "probes/l2tp_ipsec.h"

namespace vpncheck::client {
namespace {

using fixtures::everything;
using fixtures::Fate;
using fixtures::is;
using fixtures::openvpn;
using fixtures::scenario;
using fixtures::wireguard;
using probes::ProbeVariant;
using probes::Transport;

// WireGuard passes; OpenVPN only works on TCP 443 (restricted).
Report two_protocols() {
  Report r;
  r.observations_read = true;
  r.protocols.push_back(assess(wireguard(), scenario(wireguard(), everything(Fate::answered)), true));
  r.protocols.push_back(assess(openvpn(), scenario(openvpn(), [](const ProbeVariant& v, ProbeKind) {
                                 return is(v, Transport::tcp, 443) ? Fate::answered : Fate::dropped;
                               }),
                               true));
  return r;
}

TEST(ExitCodeFor, OkWithoutRequirements) {
  EXPECT_EQ(exit_code_for(two_protocols()), ExitCode::ok);
}

TEST(ExitCodeFor, OkWhenEveryRequiredProtocolPasses) {
  auto r = two_protocols();
  r.required = {"wireguard"};
  EXPECT_EQ(exit_code_for(r), ExitCode::ok);
}

TEST(ExitCodeFor, TheDerivedL2tpIpsecEntryCanBeRequired) {
  auto r = two_protocols();
  r.required = {"l2tp-ipsec"};
  EXPECT_EQ(exit_code_for(r), ExitCode::requirement_failed);  // not assessed
  ProtocolAssessment entry;
  entry.derived = &probes::l2tp_ipsec::kDerived;
  entry.verdict = Verdict::inconclusive;
  r.protocols.push_back(entry);
  EXPECT_EQ(exit_code_for(r), ExitCode::requirement_failed);
  r.protocols.back().verdict = Verdict::pass;
  EXPECT_EQ(exit_code_for(r), ExitCode::ok);
}

TEST(ExitCodeFor, RequiredProtocolThatDoesNotPassFails) {
  auto r = two_protocols();
  ASSERT_EQ(r.protocols[1].verdict, Verdict::restricted);
  r.required = {"openvpn"};
  EXPECT_EQ(exit_code_for(r), ExitCode::requirement_failed);
  r.required = {"wireguard", "openvpn"};
  EXPECT_EQ(exit_code_for(r), ExitCode::requirement_failed);
}

TEST(ExitCodeFor, EveryVerdictButPassFailsARequirement) {
  for (auto v : {Verdict::restricted, Verdict::outbound_only, Verdict::blocked, Verdict::modified,
                 Verdict::inconclusive}) {
    auto r = two_protocols();
    r.protocols[0].verdict = v;
    r.required = {"wireguard"};
    EXPECT_EQ(exit_code_for(r), ExitCode::requirement_failed) << to_string(v);
  }
}

TEST(ExitCodeFor, RequiredProtocolMissingFromTheReportFails) {
  auto r = two_protocols();
  r.protocols.pop_back();
  r.required = {"openvpn"};
  EXPECT_EQ(exit_code_for(r), ExitCode::requirement_failed);
}

TEST(ExitCodeFor, ErrorMeansCouldNotTestWhateverWasRequired) {
  Report r;
  r.error = "could not open a session with the reflector at example.net: TCP 8780 timed out.";
  EXPECT_EQ(exit_code_for(r), ExitCode::could_not_test);
  r.required = {"wireguard"};
  EXPECT_EQ(exit_code_for(r), ExitCode::could_not_test);
  auto passing = two_protocols();
  passing.error = "internal error: boom";
  passing.required = {"wireguard"};
  EXPECT_EQ(exit_code_for(passing), ExitCode::could_not_test);
}

TEST(ExitCode, ValuesAreContract3) {
  EXPECT_EQ(static_cast<int>(ExitCode::ok), 0);
  EXPECT_EQ(static_cast<int>(ExitCode::requirement_failed), 1);
  EXPECT_EQ(static_cast<int>(ExitCode::usage), 2);
  EXPECT_EQ(static_cast<int>(ExitCode::could_not_test), 3);
}

const probes::Endpoint kLocal{std::string(fixtures::kLocalAddress), 50000};
const probes::Endpoint kSeenAs{std::string(fixtures::kPublicAddress), 50000};

TEST(SummariseClient, BehindNatWhenTheControlConnectionIsTranslated) {
  auto r = two_protocols();
  summarise_client(r, kLocal, kSeenAs);
  EXPECT_EQ(r.local_address, std::string(fixtures::kLocalAddress));
  EXPECT_EQ(r.public_address, std::string(fixtures::kPublicAddress));
  EXPECT_EQ(r.behind_nat, true);
}

TEST(SummariseClient, NoNatWhenNothingIsTranslated) {
  Report r;
  r.protocols.push_back(assess(wireguard(), scenario(wireguard(), everything(Fate::dropped)), true));
  summarise_client(r, kLocal, kLocal);
  EXPECT_EQ(r.behind_nat, false);
  EXPECT_FALSE(r.nat.port_preservation.has_value());  // no UDP probe arrived: unknown, not guessed
}

TEST(SummariseClient, BehindNatWhenOnlyAProbeShowsAddressTranslation) {
  // The control connection may bypass a NAT that the probes go through (e.g. a
  // policy-routed port); any translated probe means NAT.
  auto r = two_protocols();
  summarise_client(r, kLocal, kLocal);
  EXPECT_EQ(r.behind_nat, true);
}

TEST(SummariseClient, UnknownLocalEndpointLeavesBehindNatUnknown) {
  auto r = two_protocols();
  summarise_client(r, std::nullopt, kSeenAs);
  EXPECT_FALSE(r.behind_nat.has_value());
  EXPECT_FALSE(r.local_address.has_value());
  EXPECT_EQ(r.public_address, std::string(fixtures::kPublicAddress));
}

TEST(SummariseClient, PortPreservationWhenEveryUdpSourcePortIsKept) {
  auto r = two_protocols();
  summarise_client(r, kLocal, kSeenAs);
  EXPECT_EQ(r.nat.port_preservation, true);
}

TEST(SummariseClient, NoPortPreservationWhenAnyUdpSourcePortIsRewritten) {
  auto r = two_protocols();
  auto& probe = r.protocols[0].probes.back();
  ASSERT_EQ(probe.probe.variant.transport, Transport::udp);
  ASSERT_FALSE(probe.arrivals.empty());
  probe.arrivals.front().source.port = 61234;
  summarise_client(r, kLocal, kSeenAs);
  EXPECT_EQ(r.nat.port_preservation, false);
}

TEST(SummariseClient, TcpPortRewritesDoNotDecideUdpPortPreservation) {
  auto r = two_protocols();
  for (auto& probe : r.protocols[1].probes)
    if (probe.probe.variant.transport == Transport::tcp)
      for (auto& arrival : probe.arrivals) arrival.source.port = 61234;
  summarise_client(r, kLocal, kSeenAs);
  EXPECT_EQ(r.nat.port_preservation, true);
}

}  // namespace
}  // namespace vpncheck::client
