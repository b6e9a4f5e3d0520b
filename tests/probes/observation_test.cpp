#include "probes/observation.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace vpncheck::probes {
namespace {

using nlohmann::json;

SessionInfo sample_session() {
  SessionInfo info;
  info.session_id = "s-0001";
  info.tag_hex = "a1a2a3a4a5a6";
  info.client = {"198.51.100.7", 40001};
  info.capabilities.udp_ports = {51820, 1194, 443};
  info.capabilities.tcp_ports = {1194, 443};
  info.capabilities.raw_protocols = {"esp"};
  info.capabilities.alternate_address = "203.0.113.6";
  info.capabilities.wireguard_public_key_hex = std::string(64, 'a');
  info.capabilities.portal_challenge = true;
  info.expires_in_s = 300;
  info.reflector_version = "0.1.0";
  return info;
}

ObservationList sample_observations() {
  Observation a;
  a.sequence = 1;
  a.probe_index = 65535;
  a.protocol = "wireguard";
  a.kind = "genuine";
  a.transport = Transport::udp;
  a.local_port = 51820;
  a.source = {"198.51.100.7", 40001};
  a.ttl = 57;
  a.payload_length = 148;
  a.payload_sha256 = std::string(64, 'f');
  a.fields = {{"mac1", "unchecked"}, {"sender_index", "117835012"}};
  a.received_at_unix_ms = 1700000000123;
  a.reply = {true, "wireguard/handshake-response", 92, "", ""};

  Observation b;
  b.sequence = 18446744073709551615ULL;
  b.probe_index = 0;
  b.protocol = "control";
  b.kind = "control";
  b.transport = Transport::tcp;
  b.local_port = 443;
  b.source = {"2001:db8::1", 65535};
  b.tos = 0;
  b.payload_length = 44;
  b.payload_sha256 = std::string(64, '0');
  b.received_at_unix_ms = -1;
  b.reply = {false, "", 0, "would amplify", "amplification"};
  ObservationList list{{a, b}, 3, {}, std::nullopt};
  list.limits = {{"rate_limit", 7, {51820, 443}, "answers withheld"},
                 {"connection_slots", 2, {1723}, "TCP connections refused"},
                 {"observation_limit", 3, {}, ""}};
  return list;
}

void expect_same(const Observation& got, const Observation& want) {
  EXPECT_EQ(got.sequence, want.sequence);
  EXPECT_EQ(got.probe_index, want.probe_index);
  EXPECT_EQ(got.protocol, want.protocol);
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.transport, want.transport);
  EXPECT_EQ(got.local_port, want.local_port);
  EXPECT_EQ(got.source, want.source);
  EXPECT_EQ(got.ttl, want.ttl);
  EXPECT_EQ(got.tos, want.tos);
  EXPECT_EQ(got.payload_length, want.payload_length);
  EXPECT_EQ(got.payload_sha256, want.payload_sha256);
  EXPECT_EQ(got.fields, want.fields);
  EXPECT_EQ(got.received_at_unix_ms, want.received_at_unix_ms);
  EXPECT_EQ(got.reply.sent, want.reply.sent);
  EXPECT_EQ(got.reply.kind, want.reply.kind);
  EXPECT_EQ(got.reply.length, want.reply.length);
  EXPECT_EQ(got.reply.reason, want.reply.reason);
  EXPECT_EQ(got.reply.code, want.reply.code);
}

// Runs a parser that must never throw; returns whether it accepted `body`.
template <typename Parser>
bool accepts(Parser parse, const std::string& body, std::string& error) {
  error.clear();
  bool accepted = false;
  EXPECT_NO_THROW(accepted = parse(body, error).has_value()) << body;
  return accepted;
}

void expect_rejected_session(const std::string& body) {
  std::string error;
  EXPECT_FALSE(accepts(session_info_from_json, body, error)) << "accepted: " << body;
  EXPECT_FALSE(error.empty()) << "no error for: " << body;
}

void expect_rejected_observations(const std::string& body) {
  std::string error;
  EXPECT_FALSE(accepts(observations_from_json, body, error)) << "accepted: " << body;
  EXPECT_FALSE(error.empty()) << "no error for: " << body;
}

std::string session_with(const std::function<void(json&)>& edit) {
  json j = to_json(sample_session());
  edit(j);
  return j.dump();
}

std::string observations_with(const std::function<void(json&)>& edit) {
  json j = to_json(sample_observations());
  edit(j);
  return j.dump();
}

const std::vector<std::string> kGarbage = {
    "", " ", "{", "}", "{\"a\":", "not json", "\xff\xfe", "{\"session_id\":\"x\"",
    "[]", "[{}]", "null", "true", "42", "-1.5e300", "\"a string\"", "{}", "{\"\":null}"};

// ---- SessionInfo ----------------------------------------------------------

TEST(SessionInfoJson, WritesTheDocumentedShape) {
  json j = to_json(sample_session());
  EXPECT_EQ(j.at("session_id"), "s-0001");
  EXPECT_EQ(j.at("tag"), "a1a2a3a4a5a6");
  EXPECT_EQ(j.at("client").at("address"), "198.51.100.7");
  EXPECT_EQ(j.at("client").at("port"), 40001);
  EXPECT_EQ(j.at("capabilities").at("udp_ports"), json({51820, 1194, 443}));
  EXPECT_EQ(j.at("capabilities").at("alternate_address"), "203.0.113.6");
  EXPECT_EQ(j.at("capabilities").at("wireguard_public_key"), std::string(64, 'a'));
  EXPECT_EQ(j.at("expires_in_s"), 300);
}

TEST(SessionInfoJson, RoundTrips) {
  std::string error;
  SessionInfo want = sample_session();
  auto got = session_info_from_json(to_json(want).dump(), error);
  ASSERT_TRUE(got.has_value()) << error;
  EXPECT_EQ(got->session_id, want.session_id);
  EXPECT_EQ(got->tag_hex, want.tag_hex);
  EXPECT_EQ(got->client, want.client);
  EXPECT_EQ(got->capabilities.udp_ports, want.capabilities.udp_ports);
  EXPECT_EQ(got->capabilities.tcp_ports, want.capabilities.tcp_ports);
  EXPECT_EQ(got->capabilities.raw_protocols, want.capabilities.raw_protocols);
  EXPECT_EQ(got->capabilities.alternate_address, want.capabilities.alternate_address);
  EXPECT_EQ(got->capabilities.wireguard_public_key_hex, want.capabilities.wireguard_public_key_hex);
  EXPECT_TRUE(got->capabilities.portal_challenge);
  EXPECT_EQ(got->expires_in_s, want.expires_in_s);
  EXPECT_EQ(got->reflector_version, want.reflector_version);
}

// The control connection's destination (the reflector's own address, which a
// NAT64's synthesized address embeds): optional, and a malformed one is ignored.
TEST(SessionInfoJson, ServerAddressRoundTripsAndIsOptional) {
  SessionInfo want = sample_session();
  std::string error;
  json j = to_json(want);
  EXPECT_TRUE(j.at("server").is_null());
  auto got = session_info_from_json(j.dump(), error);
  ASSERT_TRUE(got.has_value()) << error;
  EXPECT_FALSE(got->server.has_value());
  want.server = Endpoint{"203.0.113.5", 8780};
  j = to_json(want);
  EXPECT_EQ(j.at("server"), json({{"address", "203.0.113.5"}, {"port", 8780}}));
  got = session_info_from_json(j.dump(), error);
  ASSERT_TRUE(got.has_value()) << error;
  EXPECT_EQ(got->server, want.server);
  for (const json& bad : {json({{"address", "not an address"}, {"port", 1}}), json({{"port", 1}}), json(5)}) {
    j["server"] = bad;
    got = session_info_from_json(j.dump(), error);
    ASSERT_TRUE(got.has_value()) << error << " for " << bad;
    EXPECT_FALSE(got->server.has_value()) << bad;
  }
  j.erase("server");
  got = session_info_from_json(j.dump(), error);
  ASSERT_TRUE(got.has_value()) << error << " (an older reflector)";
}

// Ports the reflector could not bind travel with their reason; what is not
// well-formed is skipped, and the reason (shown to the user) is bounded and printable.
TEST(SessionInfoJson, UnavailablePortsRoundTripAndAreSanitised) {
  SessionInfo want = sample_session();
  want.capabilities.unavailable_ports = {{Transport::udp, 53, "address in use: another program listens there"},
                                         {Transport::tcp, 443, ""}};
  json j = to_json(want);
  EXPECT_EQ(j.at("capabilities").at("unavailable_ports").at(0),
            json({{"transport", "udp"}, {"port", 53}, {"reason", "address in use: another program listens there"}}));
  std::string error;
  auto got = session_info_from_json(j.dump(), error);
  ASSERT_TRUE(got.has_value()) << error;
  EXPECT_EQ(got->capabilities.unavailable_ports, want.capabilities.unavailable_ports);

  j["capabilities"]["unavailable_ports"] = json::array(
      {json({{"transport", "udp"}, {"port", 0}}), json({{"transport", "ip"}, {"port", 50}}),
       json({{"transport", "udp"}, {"port", 70000}}), json({{"transport", "tcp"}, {"port", "443"}}), json(5),
       json({{"transport", "udp"}, {"port", 1701}, {"reason", "in\x1b[31m use" + std::string(300, 'x')}})});
  got = session_info_from_json(j.dump(), error);
  ASSERT_TRUE(got.has_value()) << error;
  ASSERT_EQ(got->capabilities.unavailable_ports.size(), 1U);
  EXPECT_EQ(got->capabilities.unavailable_ports[0].port, 1701);
  EXPECT_EQ(got->capabilities.unavailable_ports[0].reason.substr(0, 10), "in?[31m us");
  EXPECT_EQ(got->capabilities.unavailable_ports[0].reason.size(), 160U);
}

// The certificate fingerprint the client pins: carried in canonical form;
// one that is not a SHA-256 fingerprint is dropped, never pinned to.
TEST(SessionInfoJson, TlsCertificateFingerprintRoundTripsAndMalformedOnesAreDropped) {
  SessionInfo want = sample_session();
  std::string error;
  auto absent = session_info_from_json(to_json(want).dump(), error);
  ASSERT_TRUE(absent.has_value()) << error;
  EXPECT_FALSE(absent->capabilities.tls_certificate_sha256.has_value()) << "an older reflector offers no TLS";

  want.capabilities.tls_certificate_sha256 = std::string(64, 'b');
  json j = to_json(want);
  EXPECT_EQ(j.at("capabilities").at("tls_certificate_sha256"), std::string(64, 'b'));
  auto got = session_info_from_json(j.dump(), error);
  ASSERT_TRUE(got.has_value()) << error;
  EXPECT_EQ(got->capabilities.tls_certificate_sha256, want.capabilities.tls_certificate_sha256);

  j["capabilities"]["tls_certificate_sha256"] = std::string(64, 'B');
  got = session_info_from_json(j.dump(), error);
  ASSERT_TRUE(got.has_value()) << error;
  EXPECT_EQ(got->capabilities.tls_certificate_sha256, std::string(64, 'b'));
  for (const json& bad : {json(std::string(63, 'b')), json(std::string(64, 'x')), json(5), json(nullptr)}) {
    j["capabilities"]["tls_certificate_sha256"] = bad;
    got = session_info_from_json(j.dump(), error);
    ASSERT_TRUE(got.has_value()) << error;
    EXPECT_FALSE(got->capabilities.tls_certificate_sha256.has_value()) << bad.dump();
  }
}

TEST(SessionInfoJson, NullOptionalCapabilitiesStayAbsent) {
  SessionInfo want = sample_session();
  want.capabilities.alternate_address.reset();
  want.capabilities.wireguard_public_key_hex.reset();
  json j = to_json(want);
  EXPECT_TRUE(j.at("capabilities").at("alternate_address").is_null());
  std::string error;
  auto got = session_info_from_json(j.dump(), error);
  ASSERT_TRUE(got.has_value()) << error;
  EXPECT_FALSE(got->capabilities.alternate_address.has_value());
  EXPECT_FALSE(got->capabilities.wireguard_public_key_hex.has_value());
}

TEST(SessionInfoJson, ParsesAHandWrittenMinimalBody) {
  std::string error;
  auto got = session_info_from_json(R"({"session_id":"x","tag":"0011223344ff",
      "client":{"address":"192.0.2.1","port":1},"capabilities":{"udp_ports":[],"tcp_ports":[443]}})",
                                    error);
  ASSERT_TRUE(got.has_value()) << error;
  EXPECT_FALSE(got->capabilities.portal_challenge) << "an older reflector offers no challenge";
  EXPECT_EQ(got->tag_hex, "0011223344ff");
  EXPECT_EQ(got->client.port, 1);
  EXPECT_EQ(got->capabilities.tcp_ports, std::vector<std::uint16_t>{443});
  EXPECT_TRUE(got->capabilities.raw_protocols.empty());
  EXPECT_EQ(got->expires_in_s, 0);
}

TEST(SessionInfoJson, RejectsGarbageAndNonObjects) {
  for (const auto& body : kGarbage) expect_rejected_session(body);
}

TEST(SessionInfoJson, RejectsMissingFields) {
  for (const char* key : {"session_id", "tag", "client", "capabilities"})
    expect_rejected_session(session_with([&](json& j) { j.erase(key); }));
  for (const char* key : {"address", "port"})
    expect_rejected_session(session_with([&](json& j) { j["client"].erase(key); }));
  for (const char* key : {"udp_ports", "tcp_ports"})
    expect_rejected_session(session_with([&](json& j) { j["capabilities"].erase(key); }));
}

TEST(SessionInfoJson, RejectsWrongTypes) {
  expect_rejected_session(session_with([](json& j) { j["session_id"] = 5; }));
  expect_rejected_session(session_with([](json& j) { j["tag"] = 5; }));
  expect_rejected_session(session_with([](json& j) { j["client"] = "198.51.100.7:40001"; }));
  expect_rejected_session(session_with([](json& j) { j["client"]["address"] = json::array(); }));
  expect_rejected_session(session_with([](json& j) { j["client"]["port"] = "40001"; }));
  expect_rejected_session(session_with([](json& j) { j["capabilities"] = json::array(); }));
  expect_rejected_session(session_with([](json& j) { j["capabilities"]["udp_ports"] = "51820"; }));
  expect_rejected_session(session_with([](json& j) { j["capabilities"]["udp_ports"] = {"51820"}; }));
  expect_rejected_session(session_with([](json& j) { j["capabilities"]["raw_protocols"] = 50; }));
  expect_rejected_session(session_with([](json& j) { j["expires_in_s"] = "300"; }));
  expect_rejected_session(session_with([](json& j) { j["reflector_version"] = 1; }));
}

// The session id goes into request paths (observation.cpp).
TEST(SessionInfoJson, RejectsUnsafeSessionIds) {
  for (const std::string& id : {std::string(""), std::string("../admin"), std::string("a b"),
                                std::string("s/1"), std::string("s?x=1"), std::string("caf\u00e9"),
                                std::string(65, 'a')}) {
    SCOPED_TRACE(id);
    expect_rejected_session(session_with([&](json& j) { j["session_id"] = id; }));
  }
}

TEST(SessionInfoJson, AcceptsSafeSessionIds) {
  for (const std::string& id : {std::string("a"), std::string("A-z_09"), std::string(64, 'a')}) {
    std::string error;
    auto info = session_info_from_json(session_with([&](json& j) { j["session_id"] = id; }), error);
    ASSERT_TRUE(info.has_value()) << id << ": " << error;
    EXPECT_EQ(info->session_id, id);
  }
}

TEST(SessionInfoJson, RejectsBadTagHex) {
  for (const char* tag : {"", "a1a2a3a4a5", "a1a2a3a4a5a6a7", "a1a2a3a4a5a", "a1a2a3a4a5zz", "0xa1a2a3a4a5"})
    expect_rejected_session(session_with([&](json& j) { j["tag"] = tag; }));
}

// A port is an integer 0..65535. nlohmann's get<std::uint16_t>() converts
// anything numeric (and booleans) with a plain static_cast, so these would be
// silently wrapped, and a float outside the target range is undefined behaviour.
TEST(SessionInfoJson, RejectsOutOfRangeNumbers) {
  for (json bad : {json(70000), json(-1), json(1.5), json(true), json(1e300)}) {
    SCOPED_TRACE("client.port = " + bad.dump());
    expect_rejected_session(session_with([&](json& j) { j["client"]["port"] = bad; }));
  }
  for (json bad : {json(65536), json(-443)}) {
    SCOPED_TRACE("capabilities.udp_ports[0] = " + bad.dump());
    expect_rejected_session(session_with([&](json& j) { j["capabilities"]["udp_ports"][0] = bad; }));
  }
  for (json bad : {json(1e300), json(4294967296LL), json(true)}) {
    SCOPED_TRACE("expires_in_s = " + bad.dump());
    expect_rejected_session(session_with([&](json& j) { j["expires_in_s"] = bad; }));
  }
}

// ---- Observations ----------------------------------------------------------

TEST(ObservationsJson, WritesTheDocumentedShape) {
  json j = to_json(sample_observations());
  const json& first = j.at("observations").at(0);
  EXPECT_EQ(first.at("transport"), "udp");
  EXPECT_EQ(first.at("ip").at("ttl"), 57);
  EXPECT_TRUE(first.at("ip").at("tos").is_null());
  EXPECT_EQ(first.at("payload").at("length"), 148);
  EXPECT_EQ(first.at("reply").at("kind"), "wireguard/handshake-response");
  EXPECT_EQ(j.at("observations").at(1).at("transport"), "tcp");
  EXPECT_EQ(j.at("dropped"), 3);
}

TEST(ObservationsJson, RoundTrips) {
  ObservationList want = sample_observations();
  std::string error;
  auto got = observations_from_json(to_json(want).dump(), error);
  ASSERT_TRUE(got.has_value()) << error;
  EXPECT_EQ(got->dropped, want.dropped);
  ASSERT_EQ(got->observations.size(), want.observations.size());
  for (std::size_t i = 0; i < want.observations.size(); ++i) {
    SCOPED_TRACE(i);
    expect_same(got->observations[i], want.observations[i]);
  }
  EXPECT_EQ(got->limits, want.limits);
}

TEST(ObservationsJson, ParsesAHandWrittenBody) {
  std::string error;
  auto got = observations_from_json(R"({"observations":[{"sequence":3,"probe_index":1,
      "protocol":"openvpn","kind":"genuine","transport":"tcp","local_port":443,
      "source":{"address":"203.0.113.9","port":50000},"ip":{"ttl":null,"tos":32},
      "payload":{"length":44,"sha256":"00"},"reply":{"sent":false}}]})",
                                    error);
  ASSERT_TRUE(got.has_value()) << error;
  EXPECT_EQ(got->dropped, 0U);
  ASSERT_EQ(got->observations.size(), 1U);
  const Observation& o = got->observations[0];
  EXPECT_EQ(o.transport, Transport::tcp);
  EXPECT_EQ(o.source, (Endpoint{"203.0.113.9", 50000}));
  EXPECT_FALSE(o.ttl.has_value());
  EXPECT_EQ(o.tos, 32);
  EXPECT_TRUE(o.fields.empty());
  EXPECT_FALSE(o.reply.sent);
  EXPECT_EQ(o.reply.reason, "");
  EXPECT_EQ(o.reply.code, "");
  EXPECT_TRUE(got->limits.empty()) << "an older reflector's answer has no limits";
}

TEST(ObservationsJson, AcceptsAnEmptyList) {
  std::string error;
  auto got = observations_from_json(R"({"observations":[],"dropped":0})", error);
  ASSERT_TRUE(got.has_value()) << error;
  EXPECT_TRUE(got->observations.empty());
}

TEST(ObservationsJson, RejectsGarbageAndNonObjects) {
  for (const auto& body : kGarbage) expect_rejected_observations(body);
}

TEST(ObservationsJson, RejectsMissingFields) {
  expect_rejected_observations(observations_with([](json& j) { j.erase("observations"); }));
  for (const char* key : {"sequence", "probe_index", "protocol", "kind", "transport", "local_port", "source",
                          "ip", "payload", "reply"}) {
    SCOPED_TRACE(key);
    expect_rejected_observations(observations_with([&](json& j) { j["observations"][0].erase(key); }));
  }
  expect_rejected_observations(observations_with([](json& j) { j["observations"][1]["source"].erase("port"); }));
  expect_rejected_observations(observations_with([](json& j) { j["observations"][0]["payload"].erase("length"); }));
  expect_rejected_observations(observations_with([](json& j) { j["observations"][0]["payload"].erase("sha256"); }));
  expect_rejected_observations(observations_with([](json& j) { j["observations"][0]["reply"].erase("sent"); }));
}

TEST(ObservationsJson, RejectsWrongTypes) {
  auto edit_first = [](const std::function<void(json&)>& edit) {
    return observations_with([&](json& j) { edit(j["observations"][0]); });
  };
  expect_rejected_observations(observations_with([](json& j) { j["observations"] = 5; }));
  expect_rejected_observations(observations_with([](json& j) { j["observations"] = "[]"; }));
  expect_rejected_observations(observations_with([](json& j) { j["observations"][0] = json::array(); }));
  expect_rejected_observations(observations_with([](json& j) { j["dropped"] = "3"; }));
  expect_rejected_observations(edit_first([](json& o) { o["sequence"] = "1"; }));
  expect_rejected_observations(edit_first([](json& o) { o["protocol"] = 1; }));
  expect_rejected_observations(edit_first([](json& o) { o["transport"] = "sctp"; }));
  expect_rejected_observations(edit_first([](json& o) { o["transport"] = "UDP"; }));
  expect_rejected_observations(edit_first([](json& o) { o["transport"] = 17; }));
  expect_rejected_observations(edit_first([](json& o) { o["source"] = "198.51.100.7"; }));
  expect_rejected_observations(edit_first([](json& o) { o["payload"] = 148; }));
  expect_rejected_observations(edit_first([](json& o) { o["fields"] = {{"mac1", 1}}; }));
  expect_rejected_observations(edit_first([](json& o) { o["fields"] = json::array({"mac1"}); }));
  expect_rejected_observations(edit_first([](json& o) { o["reply"]["sent"] = "yes"; }));
  expect_rejected_observations(edit_first([](json& o) { o["reply"]["length"] = "92"; }));
}

// "observations" must be an array: iterating a null gives zero items and
// iterating an object gives its values, so both would pass as a valid list.
TEST(ObservationsJson, RejectsNonArrayObservations) {
  expect_rejected_observations(R"({"observations":null})");
  expect_rejected_observations(R"({"observations":{}})");
  expect_rejected_observations(observations_with([](json& j) {
    json items = j["observations"];
    j["observations"] = {{"first", items[0]}};
  }));
}

// `ip.contains("ttl")` is false for a non-object, so a number, string or array
// in place of the "ip" object passes as "no TTL/TOS known".
TEST(ObservationsJson, RejectsNonObjectIp) {
  for (json bad : {json(64), json("ttl=64"), json::array({64, 0})}) {
    SCOPED_TRACE("ip = " + bad.dump());
    expect_rejected_observations(observations_with([&](json& j) { j["observations"][0]["ip"] = bad; }));
  }
}

// Same as SessionInfoJson.RejectsOutOfRangeNumbers for the observation record.
TEST(ObservationsJson, RejectsOutOfRangeNumbers) {
  const std::vector<std::pair<std::string, json>> cases = {
      {"/observations/0/probe_index", 65536},    {"/observations/0/probe_index", true},
      {"/observations/0/local_port", 70000},     {"/observations/0/local_port", -1},
      {"/observations/0/source/port", 1e300},    {"/observations/0/sequence", -1},
      {"/observations/0/sequence", 1e300},       {"/observations/0/payload/length", -148},
      {"/observations/0/received_at_unix_ms", 1e300}, {"/dropped", -1},
  };
  for (const auto& edit : cases) {
    SCOPED_TRACE(edit.first + " = " + edit.second.dump());
    expect_rejected_observations(observations_with([&](json& j) { j[json::json_pointer(edit.first)] = edit.second; }));
  }
}

// ---- The reflector's limits ---------------------------------------------

TEST(ObservationsJson, WritesLimitsAndReplyCodes) {
  json j = to_json(sample_observations());
  EXPECT_EQ(j.at("limits").at(0), json({{"limit", "rate_limit"}, {"count", 7}, {"ports", {51820, 443}},
                                        {"detail", "answers withheld"}}));
  EXPECT_EQ(j.at("observations").at(1).at("reply").at("code"), "amplification");
}

// Reflectors from before reply codes said only "rate limited": still a rate limit.
TEST(ObservationsJson, AnOlderReflectorsRateLimitedReasonReadsAsTheCode) {
  std::string error;
  auto got = observations_from_json(observations_with([](json& j) {
                                      json& reply = j["observations"][1]["reply"];
                                      reply.erase("code");
                                      reply["reason"] = "rate limited";
                                    }),
                                    error);
  ASSERT_TRUE(got) << error;
  EXPECT_EQ(got->observations[1].reply.code, reply_code::kRateLimited);
  EXPECT_TRUE(withheld_by_reflector(got->observations[1].reply.code));
}

TEST(ObservationsJson, WhatCountsAsWithheldByTheReflector) {
  for (auto code : {reply_code::kRateLimited, reply_code::kBatchFull, reply_code::kSendFailed,
                    reply_code::kAmplification})
    EXPECT_TRUE(withheld_by_reflector(code)) << code;
  // No answer is due (too small), or the path may have broken the connection (write failed).
  for (std::string_view code :
       std::initializer_list<std::string_view>{reply_code::kTooSmall, reply_code::kWriteFailed, "", "other"})
    EXPECT_FALSE(withheld_by_reflector(code)) << code;
}

// Reply codes are stored per arrival on the UDP path: they must fit std::string's small buffer.
TEST(ObservationsJson, ReplyCodesAreShortStrings) {
  for (auto code : {reply_code::kRateLimited, reply_code::kBatchFull, reply_code::kSendFailed,
                    reply_code::kAmplification, reply_code::kTooSmall, reply_code::kWriteFailed})
    EXPECT_LE(code.size(), 15u) << code;
}

// A malformed `limits` rejects the answer: ignoring it could blame the network for the reflector's limits.
TEST(ObservationsJson, RejectsMalformedLimits) {
  const std::vector<std::pair<std::string, json>> cases = {
      {"/limits", json::object()},      {"/limits", "rate_limit"},   {"/limits", 3},
      {"/limits/0", "rate_limit"},      {"/limits/0", json::array()}, {"/limits/0/count", -1},
      {"/limits/0/count", "7"},         {"/limits/0/count", 1e300},  {"/limits/0/limit", 5},
      {"/limits/0/ports", 51820},       {"/limits/0/ports/0", 70000}, {"/limits/0/ports/0", "443"},
      {"/limits/0/detail", json::array()},
  };
  for (const auto& edit : cases) {
    SCOPED_TRACE(edit.first + " = " + edit.second.dump());
    expect_rejected_observations(observations_with([&](json& j) { j[json::json_pointer(edit.first)] = edit.second; }));
  }
  expect_rejected_observations(observations_with([](json& j) { j["limits"][0].erase("limit"); }));
  expect_rejected_observations(observations_with([](json& j) { j["limits"][0].erase("count"); }));
}

TEST(ObservationsJson, LimitsMayLackPortsAndDetailAndNameNewKinds) {
  std::string error;
  auto got = observations_from_json(R"({"observations":[],"limits":[{"limit":"future_table","count":2}]})", error);
  ASSERT_TRUE(got) << error;
  ASSERT_EQ(got->limits.size(), 1u);
  EXPECT_EQ(got->limits[0], (ReflectorLimit{"future_table", 2, {}, ""}));
}

TEST(ObservationsJson, KeepsABoundedNumberOfLimitsAndPorts) {
  ObservationList many;
  for (std::size_t i = 0; i < kMaxReflectorLimits + 5; ++i) {
    ReflectorLimit l{"rate_limit", i, {}, ""};
    for (std::uint16_t p = 1; p <= kMaxLimitPorts + 5; ++p) l.ports.push_back(p);
    many.limits.push_back(l);
  }
  std::string error;
  auto got = observations_from_json(to_json(many).dump(), error);
  ASSERT_TRUE(got) << error;
  EXPECT_EQ(got->limits.size(), kMaxReflectorLimits);
  EXPECT_EQ(got->limits.front().ports.size(), kMaxLimitPorts);
}

}  // namespace
}  // namespace vpncheck::probes
