// What the routers on the way say about NATs: synthetic hop lists, one per
// kind of network, and the agreement rule with the gateway's answer.
#include "src/nat/path_hops.h"

#include <gtest/gtest.h>

namespace vpncheck::nat {
namespace {

const Ipv4 kReflector{203, 0, 113, 5};

Hop hop(int ttl, std::optional<Ipv4> address = std::nullopt) { return Hop{ttl, address, false}; }

TEST(ClassifyHop, ByAddressSpace) {
  EXPECT_EQ(classify_hop(hop(1)), HopClass::silent);
  EXPECT_EQ(classify_hop(hop(1, Ipv4{192, 168, 1, 1})), HopClass::private_space);
  EXPECT_EQ(classify_hop(hop(1, Ipv4{10, 0, 0, 1})), HopClass::private_space);
  EXPECT_EQ(classify_hop(hop(1, Ipv4{172, 16, 0, 1})), HopClass::private_space);
  EXPECT_EQ(classify_hop(hop(1, Ipv4{100, 64, 0, 1})), HopClass::shared_space);
  EXPECT_EQ(classify_hop(hop(1, Ipv4{100, 127, 255, 254})), HopClass::shared_space);
  EXPECT_EQ(classify_hop(hop(1, Ipv4{100, 128, 0, 1})), HopClass::public_space);
  EXPECT_EQ(classify_hop(hop(1, Ipv4{81, 2, 3, 4})), HopClass::public_space);
  Hop redacted = hop(2);
  redacted.address_redacted = true;
  EXPECT_EQ(classify_hop(redacted), HopClass::public_space);
}

TEST(ClassifyHops, HomeRouterThenPublicIsOneNat) {
  auto f = classify_hops({hop(1, Ipv4{192, 168, 1, 1}), hop(2, Ipv4{81, 2, 3, 1}), hop(3, Ipv4{81, 2, 9, 9}), hop(4)},
                         kReflector);
  EXPECT_EQ(f.double_nat, false);
  EXPECT_EQ(f.cgnat, false);
  EXPECT_NE(f.explanation.find("81.2.3.1"), std::string::npos) << f.explanation;
  ASSERT_EQ(f.hops.size(), 3u);  // the silent tail is no hop
}

// The lab's home network: the reflector is the second hop, silent because its
// port takes the datagram; the router's answer alone says nothing upstream.
TEST(ClassifyHops, OnlyTheRouterAnsweringTellsNothing) {
  auto f = classify_hops({hop(1, Ipv4{192, 168, 1, 1}), hop(2), hop(3), hop(4), hop(5), hop(6)}, kReflector);
  EXPECT_FALSE(f.double_nat);
  EXPECT_FALSE(f.cgnat);
  EXPECT_EQ(f.hops.size(), 1u);
}

TEST(ClassifyHops, TheDestinationAnsweringAfterTheRouterIsOneNat) {
  Hop reflector = hop(2, kReflector);
  reflector.destination = true;
  auto f = classify_hops({hop(1, Ipv4{192, 168, 1, 1}), reflector, hop(3, kReflector)}, kReflector);
  EXPECT_EQ(f.double_nat, false);
  EXPECT_EQ(f.hops.size(), 2u);  // nothing beyond the destination
}

TEST(ClassifyHops, SharedAddressSpaceUpstreamIsCarrierGradeNat) {
  auto f = classify_hops({hop(3, Ipv4{100, 64, 0, 1}), hop(1, Ipv4{192, 168, 1, 1}), hop(2),
                          hop(4, Ipv4{198, 51, 100, 1})},
                         kReflector);
  EXPECT_EQ(f.double_nat, true);
  EXPECT_EQ(f.cgnat, true);
  EXPECT_NE(f.explanation.find("hop 3 (100.64.0.1)"), std::string::npos) << f.explanation;
  EXPECT_EQ(f.hops.front().ttl, 1);  // sorted
}

TEST(ClassifyHops, PrivateUpstreamIsDoubleNatButNotNamedCarrier) {
  auto f = classify_hops({hop(1, Ipv4{10, 10, 0, 1}), hop(2, Ipv4{192, 168, 1, 1}), hop(3, kReflector)}, kReflector);
  EXPECT_EQ(f.double_nat, true);
  EXPECT_FALSE(f.cgnat);
  EXPECT_NE(f.explanation.find("192.168.1.1"), std::string::npos);
}

TEST(ClassifyHops, PrivateThenSharedIsCarrierGradeNat) {
  auto f = classify_hops({hop(1, Ipv4{192, 168, 0, 1}), hop(2, Ipv4{192, 168, 100, 1}), hop(3, Ipv4{100, 72, 0, 1})},
                         kReflector);
  EXPECT_EQ(f.double_nat, true);
  EXPECT_EQ(f.cgnat, true);
}

// A provider numbering its links privately behind a public hop is no NAT of yours.
TEST(ClassifyHops, PrivateHopsBeyondThePublicOneAreIgnored) {
  auto f = classify_hops({hop(1, Ipv4{192, 168, 1, 1}), hop(2, Ipv4{81, 2, 3, 1}), hop(3, Ipv4{10, 1, 1, 1})},
                         kReflector);
  EXPECT_EQ(f.double_nat, false);
}

TEST(ClassifyHops, ASilentHopBeforeThePublicOneLeavesItOpen) {
  auto f = classify_hops({hop(1, Ipv4{192, 168, 1, 1}), hop(2), hop(3, Ipv4{81, 2, 3, 1})}, kReflector);
  EXPECT_FALSE(f.double_nat);
  EXPECT_NE(f.explanation.find("did not answer"), std::string::npos);
}

TEST(ClassifyHops, SilentOrPublicFirstRouterTellsNothing) {
  EXPECT_FALSE(classify_hops({hop(1), hop(2, Ipv4{100, 64, 0, 1})}, kReflector).double_nat);
  EXPECT_FALSE(classify_hops({}, kReflector).double_nat);
  EXPECT_FALSE(classify_hops({hop(1, Ipv4{81, 2, 3, 1}), hop(2, Ipv4{10, 0, 0, 1})}, kReflector).double_nat);
}

TopologyFinding gateway(NatTopology t) {
  TopologyFinding f;
  f.topology = t;
  if (t == NatTopology::single_nat) f.double_nat = false;
  if (t == NatTopology::double_nat || t == NatTopology::cgnat) f.double_nat = true;
  return f;
}

HopFinding hops_saying(std::optional<bool> double_nat, std::optional<bool> cgnat) {
  HopFinding f;
  f.double_nat = double_nat;
  f.cgnat = cgnat;
  return f;
}

TEST(CombineTopology, OneSilentSourceDefersToTheOther) {
  auto c = combine_topology(gateway(NatTopology::unknown), hops_saying(true, true));
  EXPECT_EQ(c.double_nat, true);
  EXPECT_EQ(c.cgnat, true);
  c = combine_topology(gateway(NatTopology::single_nat), std::nullopt);
  EXPECT_EQ(c.double_nat, false);
  EXPECT_EQ(c.cgnat, false);
  c = combine_topology(std::nullopt, std::nullopt);
  EXPECT_FALSE(c.double_nat);
  EXPECT_FALSE(c.cgnat);
  EXPECT_TRUE(c.explanation.empty());
}

TEST(CombineTopology, AgreementStands) {
  auto c = combine_topology(gateway(NatTopology::double_nat), hops_saying(true, std::nullopt));
  EXPECT_EQ(c.double_nat, true);
  EXPECT_FALSE(c.cgnat);  // a private upstream address says nothing about who runs it
  c = combine_topology(gateway(NatTopology::double_nat), hops_saying(true, true));
  EXPECT_EQ(c.cgnat, true);
  EXPECT_TRUE(c.explanation.empty());
}

TEST(CombineTopology, DisagreementClaimsNothingAndSaysSo) {
  auto c = combine_topology(gateway(NatTopology::single_nat), hops_saying(true, true));
  EXPECT_FALSE(c.double_nat);
  EXPECT_FALSE(c.cgnat);
  EXPECT_NE(c.explanation.find("disagree"), std::string::npos);
  c = combine_topology(gateway(NatTopology::cgnat), hops_saying(false, false));
  EXPECT_FALSE(c.double_nat);
  EXPECT_NE(c.explanation.find("disagree"), std::string::npos);
}

}  // namespace
}  // namespace vpncheck::nat
