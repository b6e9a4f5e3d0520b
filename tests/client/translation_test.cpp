#include "probes/translation.h"

#include <gtest/gtest.h>

#include "client_fixtures.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;

// A WireGuard probe sent from 10.0.0.5:40000 that arrived unchanged from the same endpoint.
ProbeResult untouched() {
  auto plan = make_plan({&fixtures::wireguard()}, fixtures::listening_everywhere());
  ProbeResult r{plan.front(), {}, {}, {}};
  r.client.outcome = Outcome::reply;
  r.client.local = probes::Endpoint{"10.0.0.5", 40000};
  r.client.sent_sha256 = fixtures::digest_for(0);
  r.client.sent_length = 148;
  probes::Observation o;
  o.probe_index = 0;
  o.source = probes::Endpoint{"10.0.0.5", 40000};
  o.payload_length = 148;
  o.payload_sha256 = r.client.sent_sha256;
  o.ttl = 63;
  o.tos = 0;
  r.arrivals.push_back(o);
  return r;
}

TEST(Translate, NothingArrivedMeansNoTranslation) {
  auto r = untouched();
  r.arrivals.clear();
  EXPECT_FALSE(translate(r).has_value());
}

TEST(Translate, IdenticalEndpointsAndPayloadAreNoChange) {
  auto t = translate(untouched());
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->address_translated);
  EXPECT_FALSE(t->port_translated);
  EXPECT_FALSE(t->payload_modified);
  EXPECT_TRUE(t->modifications.empty());
  EXPECT_EQ(t->sent_from, (probes::Endpoint{"10.0.0.5", 40000}));
  EXPECT_EQ(t->observed_as, (probes::Endpoint{"10.0.0.5", 40000}));
  EXPECT_EQ(t->ttl_at_reflector, 63);
  EXPECT_EQ(t->tos_at_reflector, 0);
}

TEST(Translate, DetectsNatAddressRewriteWithPortPreserved) {
  auto r = untouched();
  r.arrivals.front().source = probes::Endpoint{"203.0.113.7", 40000};
  auto t = translate(r);
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->address_translated);
  EXPECT_FALSE(t->port_translated);
  ASSERT_EQ(t->modifications.size(), 1U);
  EXPECT_EQ(t->modifications.front(), "source address 10.0.0.5 -> 203.0.113.7");
}

TEST(Translate, DetectsNatPortRewrite) {
  auto r = untouched();
  r.arrivals.front().source = probes::Endpoint{"203.0.113.7", 61234};
  auto t = translate(r);
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->address_translated);
  EXPECT_TRUE(t->port_translated);
  EXPECT_FALSE(t->payload_modified);
  ASSERT_EQ(t->modifications.size(), 2U);
  EXPECT_EQ(t->modifications[1], "source port 40000 -> 61234");
}

TEST(Translate, DetectsPayloadDigestMismatch) {
  auto r = untouched();
  r.arrivals.front().payload_sha256 = fixtures::digest_for(0, 'f');
  r.arrivals.front().payload_length = 150;
  auto t = translate(r);
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->payload_modified);
  EXPECT_FALSE(t->address_translated);
  ASSERT_EQ(t->modifications.size(), 1U);
  EXPECT_TRUE(contains(t->modifications.front(), "payload changed")) << t->modifications.front();
  EXPECT_TRUE(contains(t->modifications.front(), "148 bytes sent, 150 arrived")) << t->modifications.front();
}

TEST(Translate, AnyRewrittenArrivalCountsEvenIfTheFirstWasIntact) {
  // UDP probes are retransmitted once; the second copy can be the one a middlebox rewrote.
  auto r = untouched();
  auto second = r.arrivals.front();
  second.payload_sha256 = fixtures::digest_for(0, 'f');
  r.arrivals.push_back(second);
  auto t = translate(r);
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->payload_modified);
  EXPECT_EQ(t->modifications.size(), 1U);  // reported once
}

TEST(Translate, UnknownLocalEndpointClaimsNoRewrite) {
  auto r = untouched();
  r.client.local.reset();
  r.arrivals.front().source = probes::Endpoint{"203.0.113.7", 61234};
  auto t = translate(r);
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->sent_from.has_value());
  EXPECT_FALSE(t->address_translated);
  EXPECT_FALSE(t->port_translated);
  EXPECT_EQ(t->observed_as, (probes::Endpoint{"203.0.113.7", 61234}));
}

TEST(Translate, UnknownSentDigestClaimsNoPayloadChange) {
  auto r = untouched();
  r.client.sent_sha256.clear();
  EXPECT_FALSE(translate(r)->payload_modified);
}

}  // namespace
}  // namespace vpncheck::client
