#include "reflector/session_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "probes/untrusted.h"
#include "test_util.h"

namespace vpncheck::reflector {
namespace {

using test::counter_fill;
using test::FakeClock;

const probes::Endpoint kClient{"198.51.100.7", 40000};

TEST(ReflectorSessionTable, ClientKeyIsTheIpv4AddressOrTheIpv6Slash64) {
  EXPECT_EQ(client_key("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_key("2001:db8:1:2::5"), client_key("2001:db8:1:2:ffff::9"));
  EXPECT_NE(client_key("2001:db8:1:2::5"), client_key("2001:db8:1:3::5"));
  EXPECT_EQ(client_key("fe80::1%eth0"), "fe80::/64");
}

// One party holding a /64 has as many sessions as one IPv4 address, not one per /128.
TEST(ReflectorSessionTable, SessionsPerClientCountAnIpv6Slash64AsOne) {
  FakeClock clock;
  SessionTable table({std::chrono::seconds(300), 4096, 512, 3}, clock.fn());
  auto rnd = counter_fill();
  for (const char* a : {"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:dead::3"})
    EXPECT_TRUE(table.create({a, 1}, rnd).session) << a;
  EXPECT_EQ(table.create({"2001:db8:1:2::4", 1}, rnd).error, CreateError::client_limit);
  EXPECT_TRUE(table.create({"2001:db8:1:3::1", 1}, rnd).session);  // the next /64 is somebody else
}

TEST(ReflectorSessionTable, CreatesUniqueSessionsFoundByIdAndTag) {
  FakeClock clock;
  SessionTable table({}, clock.fn());
  auto rnd = counter_fill();
  std::set<std::string> ids;
  std::set<probes::SessionTag> tags;
  for (int i = 0; i < 100; ++i) {
    auto created = table.create({"192.0.2." + std::to_string(i), 1}, rnd);
    ASSERT_TRUE(created.session);
    EXPECT_EQ(created.session->id.size(), 16u);
    ids.insert(created.session->id);
    tags.insert(created.session->tag);
  }
  EXPECT_EQ(ids.size(), 100u);
  EXPECT_EQ(tags.size(), 100u);
  for (const auto& id : ids) {
    const Session* s = table.find(id);
    ASSERT_TRUE(s);
    EXPECT_EQ(table.find_by_tag(s->tag), s);
  }
  EXPECT_EQ(table.find("0000000000000000"), nullptr);
}

TEST(ReflectorSessionTable, DrawsAgainOnCollision) {
  SessionTable table({}, FakeClock{}.fn());
  auto constant = [](std::span<std::uint8_t> out) { std::fill(out.begin(), out.end(), std::uint8_t{7}); };
  int calls = 0;
  auto first_constant = [&](std::span<std::uint8_t> out) {
    if (calls++ < 4) constant(out);
    else counter_fill()(out);
  };
  auto a = table.create(kClient, first_constant);  // calls 1-2: constant
  auto b = table.create(kClient, first_constant);  // calls 3-4 collide, then redraw
  ASSERT_TRUE(a.session && b.session);
  EXPECT_NE(a.session->id, b.session->id);
  EXPECT_NE(a.session->tag, b.session->tag);
}

TEST(ReflectorSessionTable, SessionsExpire) {
  FakeClock clock;
  SessionLimits limits;
  limits.ttl = std::chrono::seconds(300);
  SessionTable table(limits, clock.fn());
  auto created = table.create(kClient, counter_fill());
  ASSERT_TRUE(created.session);
  const std::string id = created.session->id;
  const auto tag = created.session->tag;

  clock.advance(std::chrono::seconds(299));
  EXPECT_TRUE(table.find(id));
  EXPECT_TRUE(table.find_by_tag(tag));
  clock.advance(std::chrono::seconds(1));
  EXPECT_FALSE(table.find_by_tag(tag));
  EXPECT_FALSE(table.find(id));
  EXPECT_EQ(table.size(), 0u);
}

TEST(ReflectorSessionTable, PurgeRemovesOnlyExpired) {
  FakeClock clock;
  SessionTable table({}, clock.fn());
  auto rnd = counter_fill();
  table.create(kClient, rnd);
  clock.advance(std::chrono::seconds(200));
  auto young = table.create(kClient, rnd);
  clock.advance(std::chrono::seconds(200));
  EXPECT_EQ(table.purge_expired(), 1u);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_TRUE(table.find(young.session->id));
}

TEST(ReflectorSessionTable, BoundedInSessions) {
  FakeClock clock;
  SessionLimits limits;
  limits.max_sessions = 3;
  SessionTable table(limits, clock.fn());
  auto rnd = counter_fill();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(table.create({"192.0.2." + std::to_string(i), 1}, rnd).session);
  auto full = table.create(kClient, rnd);
  EXPECT_FALSE(full.session);
  EXPECT_EQ(full.error, CreateError::table_full);
  clock.advance(limits.ttl);  // all expire: room again
  EXPECT_TRUE(table.create(kClient, rnd).session);
}

TEST(ReflectorSessionTable, BoundedPerClientAddress) {
  SessionLimits limits;
  limits.max_sessions_per_client = 2;
  SessionTable table(limits, FakeClock{}.fn());
  auto rnd = counter_fill();
  EXPECT_TRUE(table.create({"192.0.2.1", 1}, rnd).session);
  EXPECT_TRUE(table.create({"192.0.2.1", 2}, rnd).session);
  EXPECT_EQ(table.create({"192.0.2.1", 3}, rnd).error, CreateError::client_limit);
  EXPECT_TRUE(table.create({"192.0.2.2", 1}, rnd).session);
}

TEST(ReflectorSessionTable, BoundedInObservationsCountingDrops) {
  SessionLimits limits;
  limits.max_observations = 2;
  SessionTable table(limits, FakeClock{}.fn());
  auto created = table.create(kClient, counter_fill());
  Session* s = table.find_by_tag(created.session->tag);
  ASSERT_TRUE(s);
  for (int i = 0; i < 5; ++i)
    if (table.admit(*s)) table.record(*s, probes::Observation{});
  auto list = table.observations(*s);
  ASSERT_EQ(list.observations.size(), 2u);
  EXPECT_EQ(list.observations[0].sequence, 1u);
  EXPECT_EQ(list.observations[1].sequence, 2u);
  EXPECT_EQ(list.dropped, 3u);
  // The client learns it as a limit, not only as a number it may not look at.
  ASSERT_EQ(list.limits.size(), 1u);
  EXPECT_EQ(list.limits[0].limit, "observation_limit");
  EXPECT_EQ(list.limits[0].count, 3u);
  EXPECT_NE(list.limits[0].detail.find("--max-observations"), std::string::npos) << list.limits[0].detail;
}

TEST(ReflectorSessionTable, CountsLimitsPerSessionWithTheirPorts) {
  SessionTable table({}, FakeClock{}.fn());
  auto a = table.create(kClient, counter_fill(1));
  auto tag_a = a.session->tag;
  auto b = table.create(kClient, counter_fill(2));
  EXPECT_TRUE(table.observations(*b.session).limits.empty());
  // A module's own state limit, named and explained by the module.
  const probes::ProtocolModule with_state{.id = "synthetic",
                                          .state_limit = "synthetic_entries",
                                          .state_limit_detail = "synthetic entries forgotten"};
  const probes::ProtocolModule without_detail{.id = "terse", .state_limit = "terse_entries"};
  table.count_limit(tag_a, SessionLimit::flow_table, 4500);
  table.count_limit(tag_a, SessionLimit::flow_table, 4500);
  table.count_limit(tag_a, with_state, 1723);
  table.count_limit(tag_a, without_detail, 9);
  table.count_limit(tag_a, with_state, 1723);
  table.count_limit(tag_a, SessionLimit::nat_pending, 0);  // no port: counted, none listed
  table.count_limit(probes::SessionTag{7, 7, 7, 7, 7, 7}, SessionLimit::flow_table, 1);  // no such session
  table.count_limit(probes::SessionTag{7, 7, 7, 7, 7, 7}, with_state, 1);
  auto limits = table.observations(*table.find_by_tag(tag_a)).limits;
  ASSERT_EQ(limits.size(), 4u);
  EXPECT_EQ(limits[0], (probes::ReflectorLimit{"flow_table", 2, {4500}, limits[0].detail}));
  EXPECT_EQ(limits[1], (probes::ReflectorLimit{"nat_pending", 1, {}, limits[1].detail}));
  EXPECT_EQ(limits[2], (probes::ReflectorLimit{"synthetic_entries", 2, {1723}, "synthetic entries forgotten"}));
  EXPECT_EQ(limits[3].limit, "terse_entries");
  EXPECT_NE(limits[3].detail.find("terse"), std::string::npos) << limits[3].detail;
  for (const auto& l : limits) EXPECT_FALSE(l.detail.empty()) << l.limit;
  EXPECT_TRUE(table.observations(*b.session).limits.empty()) << "one session's limits are not another's";
}

TEST(ReflectorSessionTable, ALimitTallyKeepsAFewPortsAndCountsEveryHit) {
  LimitTally tally;
  for (std::uint16_t port = 1; port <= 20; ++port) tally.add(port);
  tally.add(1);
  EXPECT_EQ(tally.count, 21u);
  EXPECT_EQ(tally.port_list().size(), LimitTally::kMaxPorts);
  EXPECT_EQ(tally.port_list().front(), 1);
}

TEST(ReflectorSessionTable, RemoveAndUpdateReply) {
  SessionTable table({}, FakeClock{}.fn());
  auto created = table.create(kClient, counter_fill());
  const std::string id = created.session->id;
  Session* s = table.find_by_tag(created.session->tag);
  auto seq = table.record(*s, probes::Observation{});
  table.update_reply(s->tag, seq, probes::ReplyRecord{false, "", 0, "send failed", "send_failed"});
  EXPECT_EQ(s->observations[0].reply.reason, "send failed");
  table.update_reply(s->tag, 99, {});  // unknown sequence: ignored
  EXPECT_TRUE(table.remove(id));
  EXPECT_FALSE(table.remove(id));
  EXPECT_FALSE(table.find(id));
}

// Privacy: what a session observed (client addresses and ports after NAT) is
// gone once the session expires or is closed, and nothing else keeps it.
TEST(ReflectorSessionTable, ObservationsGoWithTheSession) {
  FakeClock clock;
  SessionLimits limits;
  limits.ttl = std::chrono::seconds(60);
  SessionTable table(limits, clock.fn());
  Metrics metrics;
  table.count_into(&metrics);
  auto rnd = counter_fill();
  auto record_one = [&](const Session* created) {
    Session* s = table.find_by_tag(created->tag);
    probes::Observation o;
    o.source = {"203.0.113.77", 40404};
    table.record(*s, o);
    return std::pair{created->id, created->tag};
  };
  auto [expiring_id, expiring_tag] = record_one(table.create(kClient, rnd).session);
  auto [closed_id, closed_tag] = record_one(table.create(kClient, rnd).session);
  ASSERT_EQ(table.find(expiring_id)->observations.size(), 1u);

  EXPECT_TRUE(table.remove(closed_id));
  EXPECT_FALSE(table.find(closed_id));
  EXPECT_FALSE(table.find_by_tag(closed_tag));
  EXPECT_EQ(metrics.sessions_closed, 1u);

  clock.advance(std::chrono::seconds(60));
  EXPECT_EQ(table.purge_expired(), 1u);
  EXPECT_FALSE(table.find(expiring_id));
  EXPECT_FALSE(table.find_by_tag(expiring_tag));
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(metrics.sessions_expired, 1u);
  EXPECT_EQ(metrics.sessions_created, 2u);

  // A later session never sees an earlier one's records.
  auto fresh = table.create(kClient, rnd);
  ASSERT_TRUE(fresh.session);
  EXPECT_TRUE(fresh.session->observations.empty());
  EXPECT_EQ(fresh.session->dropped, 0u);
}

}  // namespace
}  // namespace vpncheck::reflector

namespace vpncheck::reflector {
namespace {

// An L2TP SCCRQ's Vendor Name as probes::l2tp::describe reports it: 1,017
// attacker-chosen bytes, escaped to about 4 KB.
probes::Observation large_observation() {
  probes::Observation o;
  o.protocol = "l2tp";
  o.kind = "genuine";
  o.source = {"203.0.113.9", 1701};
  o.payload_length = 1100;
  o.payload_sha256 = std::string(64, 'c');
  o.ttl = 60;
  o.fields["message_type"] = "SCCRQ";
  o.fields["vendor_name"] = probes::escape_bytes(std::string(1017, '\x01'));
  o.fields["host_name"] = std::string(200, 'h');
  o.reply = {true, "l2tp/reply", 20, "", ""};
  return o;
}

TEST(ReflectorObservationStore, KeepsAnObservationAsReportedAndCompact) {
  probes::Observation o;
  o.sequence = 3;
  o.probe_index = 17;
  o.protocol = "wireguard";
  o.kind = "genuine";
  o.transport = probes::Transport::udp;
  o.local_port = 51820;
  o.source = {"2001:db8::7", 40404};
  o.ttl = 61;
  o.tos = 0;
  o.payload_length = 148;
  o.payload_sha256 = std::string(64, 'a');
  o.fields = {{"sender_index", "123456"}, {"mac1", "valid"}, {"mac2", "zero"}};
  o.received_at_unix_ms = 1'700'000'000'123;
  o.reply = {true, "wireguard/reply", 92, "", ""};
  const StoredObservation stored(o);
  EXPECT_EQ(probes::to_json(stored.expand(3)), probes::to_json(o));
  // About a fifth of what the strings and map of a probes::Observation take.
  EXPECT_LT(stored.bytes(), 220u) << stored.bytes();
}

TEST(ReflectorObservationStore, AttackerChosenTextIsKeptBoundedAndNeverCutInsideAnEscape) {
  const StoredObservation stored(large_observation());
  EXPECT_LE(stored.bytes(), sizeof(StoredObservation) + StoredObservation::kMaxTextBytes);
  const probes::Observation back = stored.expand(1);
  const std::string& vendor = back.fields.at("vendor_name");
  EXPECT_LE(vendor.size(), StoredObservation::kMaxFieldValue);
  EXPECT_GE(vendor.size(), StoredObservation::kMaxFieldValue - 4);
  EXPECT_TRUE(vendor.ends_with("\\x01...")) << vendor;  // whole escapes only, then the mark
  EXPECT_EQ(back.fields.at("host_name"), std::string(StoredObservation::kMaxFieldValue - 3, 'h') + "...");
  EXPECT_EQ(back.fields.at("message_type"), "SCCRQ");
  EXPECT_EQ(back.payload_sha256, std::string(64, 'c'));  // what arrived stays checkable by its digest
  EXPECT_EQ(back.reply.kind, "l2tp/reply");
}

TEST(ReflectorObservationStore, FieldsBeyondTheRecordsBoundAreLeftOutAndSaidSo) {
  probes::Observation o = large_observation();
  for (int i = 0; i < 20; ++i) o.fields["field_" + std::to_string(i)] = std::string(90, 'x');
  const StoredObservation stored(o);
  EXPECT_LE(stored.bytes(), sizeof(StoredObservation) + StoredObservation::kMaxTextBytes);
  EXPECT_EQ(stored.expand(1).fields.at("fields_truncated"), "yes");
}

// A session's observations stop at its byte budget; the client is told why,
// as the limit its verdicts already read (observation_limit: inconclusive).
TEST(ReflectorSessionTable, ASessionsObservationsStopAtItsByteBudget) {
  SessionLimits limits;
  limits.max_observation_bytes = 8 * 1024;
  SessionTable table(limits, FakeClock{}.fn());
  auto created = table.create(kClient, counter_fill());
  Session* s = table.find_by_tag(created.session->tag);
  std::size_t recorded = 0;
  for (int i = 0; i < 100; ++i)
    if (table.admit(*s)) {
      table.record(*s, large_observation());
      ++recorded;
    }
  EXPECT_LE(s->observations.bytes(), limits.max_observation_bytes);
  EXPECT_GT(recorded, 5u);
  EXPECT_LT(recorded, 100u);
  EXPECT_EQ(s->dropped, 100 - recorded);
  EXPECT_EQ(s->dropped_bytes, 100 - recorded);
  EXPECT_EQ(table.observation_bytes(), s->observations.bytes());
  auto list = table.observations(*s);
  ASSERT_EQ(list.limits.size(), 1u);
  EXPECT_EQ(list.limits[0].limit, probes::limit_kind::kObservationLimit);
  EXPECT_EQ(list.limits[0].count, 100 - recorded);
  EXPECT_NE(list.limits[0].detail.find("--max-observation-bytes"), std::string::npos) << list.limits[0].detail;
}

// All sessions together stop at the global budget; a session's end gives its
// bytes back.
TEST(ReflectorSessionTable, AllSessionsObservationsStopAtTheGlobalBudget) {
  SessionLimits limits;
  limits.max_total_observation_bytes = 16 * 1024;
  SessionTable table(limits, FakeClock{}.fn());
  auto rnd = counter_fill();
  auto a = table.create(kClient, rnd);
  auto b = table.create(kClient, rnd);
  const std::string a_id = a.session->id;
  Session* sa = table.find_by_tag(a.session->tag);
  Session* sb = table.find_by_tag(b.session->tag);
  while (table.admit(*sa)) table.record(*sa, large_observation());
  EXPECT_LE(table.observation_bytes(), limits.max_total_observation_bytes);
  EXPECT_EQ(sa->dropped_total, 1u);
  EXPECT_FALSE(table.admit(*sb)) << "the other session too: the reflector's memory is full";
  auto list = table.observations(*sb);
  ASSERT_EQ(list.limits.size(), 1u);
  EXPECT_NE(list.limits[0].detail.find("--max-total-observation-bytes"), std::string::npos) << list.limits[0].detail;
  EXPECT_TRUE(table.remove(a_id));
  EXPECT_EQ(table.observation_bytes(), 0u);
  EXPECT_TRUE(table.admit(*sb));
}

}  // namespace
}  // namespace vpncheck::reflector
