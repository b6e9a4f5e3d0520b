// NAT behaviour tests, client side: the wiring from measurements to the
// report (never a guess, not-run tests listed), and the I/O layer against the
// real reflector's NAT test service in-process on loopback (no NAT there:
// endpoint-independent both ways, ports kept), plus retransmission of a lost
// request before a "no" is believed.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <poll.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "client_fixtures.h"
#include "reflector/log.h"
#include "reflector/server.h"
#include "report_fixtures.h"
#include "probes/nat_probe.h"
#include "src/control/control_client.h"
#include "src/nat/hop_trace.h"
#include "src/nat/nat_runner.h"
#include "src/report/json_report.h"
#include "src/report/redact.h"
#include "src/report/report.h"
#include "src/report/text_report.h"

namespace vpncheck::client {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;
using fixtures::contains;
using fixtures::realistic_report;
namespace np = probes::natprobe;

probes::RandomFill counter_random() {
  auto state = std::make_shared<std::uint32_t>(7);
  return [state](std::span<std::uint8_t> out) {
    for (auto& b : out) b = static_cast<std::uint8_t>((*state = *state * 1103515245u + 12345u) >> 16);
  };
}

const probes::Endpoint kM1{"203.0.113.1", 40000};
const probes::Endpoint kM2{"203.0.113.1", 40001};

// A clean path: 40 round trips measured, none lost; each unsolicited packet
// asked for in 8 requests that reached the reflector.
nat::NatMeasurements full_rfc5780_apdf() {
  nat::NatMeasurements m;
  m.reached = true;
  m.mapping = {kM1, kM1, kM1};
  m.filtering = {true, false, false};
  m.filtering_tries = {8, 8};
  m.loss = {40, 0};
  m.ports = {{40000, 40000}, {41000, 41000}};
  return m;
}

TEST(NatAssessment, DecidedClassesGoToTheReport) {
  NatSummary nat;
  apply_nat_tests(nat, nat::assess_nat(full_rfc5780_apdf()));
  EXPECT_EQ(nat.mapping, "endpoint_independent");
  EXPECT_EQ(nat.filtering, "address_and_port_dependent");
  EXPECT_EQ(nat.port_preservation, true);
  ASSERT_TRUE(nat.tests);
  EXPECT_TRUE(nat.tests->mapping.not_run.empty());
  EXPECT_TRUE(nat.tests->filtering.not_run.empty());
}

// The control connection came from another address than the NAT tests (a NAT
// with non-paired pooling): the reflector withheld the unsolicited packets
// and the late answer, so their absence decides no filtering or lifetime.
TEST(NatAssessment, TestsTheReflectorAnswersOnlyAValidatedSourceAreNotRunFromAnother) {
  auto m = full_rfc5780_apdf();
  m.lifetime = {{3, false, 4}};
  EXPECT_FALSE(nat::discount_unvalidated(m, kM1.address));
  EXPECT_EQ(nat::assess_nat(m).filtering.behaviour, nat::Behaviour::address_and_port_dependent);
  EXPECT_TRUE(nat::discount_unvalidated(m, "198.51.100.1"));
  NatSummary nat;
  apply_nat_tests(nat, nat::assess_nat(m));
  EXPECT_EQ(nat.mapping, "endpoint_independent");  // its requests each got their one answer
  EXPECT_FALSE(nat.filtering);
  ASSERT_TRUE(nat.tests);
  EXPECT_FALSE(nat.tests->lifetime);
  EXPECT_EQ(nat.tests->filtering.not_run.size(), 2u);
}

TEST(NatAssessment, SymmetricMappingIsAddressAndPortDependent) {
  auto m = full_rfc5780_apdf();
  m.mapping = {kM1, kM2, probes::Endpoint{"203.0.113.1", 40002}};
  m.ports = {{40000, 51234}};
  NatSummary nat;
  apply_nat_tests(nat, nat::assess_nat(m));
  EXPECT_EQ(nat.mapping, "address_and_port_dependent");
  EXPECT_EQ(nat.port_preservation, false);
}

TEST(NatAssessment, WithoutAnAlternateAddressNothingIsGuessed) {
  nat::NatMeasurements m;
  m.reached = true;
  m.mapping = {kM1, kM1, std::nullopt};
  m.filtering = {true, false, std::nullopt};
  m.filtering_tries = {8, 0};
  m.loss = {40, 0};
  NatSummary nat;
  apply_nat_tests(nat, nat::assess_nat(m));
  EXPECT_FALSE(nat.mapping.has_value());  // EIM or ADM: not decided
  // Blocked from the other port of the same address already rules out EIF and ADF.
  EXPECT_EQ(nat.filtering, "address_and_port_dependent");
  ASSERT_TRUE(nat.tests);
  EXPECT_EQ(nat.tests->mapping.not_run, std::vector<std::string>{"mapping.other_address"});
  EXPECT_EQ(nat.tests->filtering.not_run, std::vector<std::string>{"filtering.other_address"});
  EXPECT_EQ(nat.tests->mapping.possible.size(), 2u);
  auto json = to_report_json([&] {
    Report r = realistic_report();
    r.nat = nat;
    return r;
  }());
  EXPECT_TRUE(json["nat"]["mapping"].is_null());
  EXPECT_EQ(json["nat"]["tests"]["mapping"]["not_run"], nlohmann::json::array({"mapping.other_address"}));
  EXPECT_EQ(json["nat"]["tests"]["mapping"]["possible"],
            nlohmann::json::array({"endpoint_independent", "address_dependent"}));
  auto lines = nat_section_lines(nat);
  bool says_not_tested = false;
  for (const auto& l : lines) says_not_tested |= contains(l, "Not tested") && contains(l, "second address");
  EXPECT_TRUE(says_not_tested);
}

TEST(NatAssessment, PortPreservationFromProbesAndNatTestsCombine) {
  NatSummary nat;
  nat.port_preservation = true;  // the probes kept their ports
  auto m = full_rfc5780_apdf();
  m.ports = {{40000, 40000}, {41000, 12345}};
  apply_nat_tests(nat, nat::assess_nat(m));
  EXPECT_EQ(nat.port_preservation, false);
}

TEST(NatAssessment, AnUnreachableServiceSaysSoAndDecidesNothing) {
  nat::NatMeasurements m;
  m.filtering.primary_reply = false;
  NatSummary nat;
  apply_nat_tests(nat, nat::assess_nat(m));
  EXPECT_FALSE(nat.mapping);
  EXPECT_FALSE(nat.filtering);
  EXPECT_FALSE(nat.port_preservation);
  auto lines = nat_section_lines(nat);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], "not measured")) << lines[0];
  Report r = realistic_report();
  r.nat = nat;
  EXPECT_EQ(to_report_json(r)["nat"]["tests"]["reached"], false);
}

TEST(NatAssessment, LifetimeGoesToTheReportWithKeepaliveAdvice) {
  auto m = full_rfc5780_apdf();
  m.lifetime = {{3, true, 4}, {4, true, 4}, {6, false, 4}, {8, false, 4}};
  NatSummary nat;
  apply_nat_tests(nat, nat::assess_nat(m));
  Report r = realistic_report();
  r.nat = nat;
  auto json = to_report_json(r);
  EXPECT_EQ(json["nat"]["udp_binding_lifetime_s"], 4);
  EXPECT_EQ(json["nat"]["tests"]["lifetime"]["shortest_failed_s"], 6);
  ASSERT_TRUE(json["nat"]["tests"]["keepalive"].is_object());
  EXPECT_LT(json["nat"]["tests"]["keepalive"]["wireguard_persistent_keepalive_s"].get<int>(), 4);
  std::ostringstream text;
  write_text_report(text, r, TextStyle{});
  EXPECT_TRUE(contains(text.str(), "NAT:")) << text.str();
  EXPECT_TRUE(contains(text.str(), "PersistentKeepalive")) << text.str();
}

TEST(NatAssessment, UnderLossTheReportShowsTheLossAndTheEvidence) {
  auto m = full_rfc5780_apdf();
  m.loss = {60, 17};  // about 15 % per packet
  m.filtering_tries = {6, 6};
  NatSummary nat;
  apply_nat_tests(nat, nat::assess_nat(m));
  EXPECT_FALSE(nat.filtering.has_value());  // never guessed
  Report r = realistic_report();
  r.nat = nat;
  auto json = to_report_json(r);
  EXPECT_TRUE(json["nat"]["filtering"].is_null());
  EXPECT_EQ(json["nat"]["tests"]["filtering"]["lossy"],
            nlohmann::json::array({"filtering.other_port", "filtering.other_address"}));
  EXPECT_EQ(json["nat"]["tests"]["loss"]["round_trips"], 60);
  EXPECT_EQ(json["nat"]["tests"]["loss"]["round_trips_lost"], 17);
  ASSERT_EQ(json["nat"]["tests"]["evidence"].size(), 2u);
  EXPECT_EQ(json["nat"]["tests"]["evidence"][0]["test"], "filtering.other_port");
  EXPECT_EQ(json["nat"]["tests"]["evidence"][0]["tries"], 6);
  EXPECT_EQ(json["nat"]["tests"]["evidence"][0]["concluded"], false);
  std::ostringstream text;
  write_text_report(text, r, TextStyle{});
  EXPECT_TRUE(contains(text.str(), "NAT filtering could not be measured: 15 % of packets were lost.")) << text.str();
  EXPECT_FALSE(contains(text.str(), "Not tested")) << text.str();  // they ran
}

TEST(NatAssessment, NoNatTestsNoNatSection) {
  Report r = realistic_report();
  std::ostringstream text;
  write_text_report(text, r, TextStyle{});
  EXPECT_FALSE(contains(text.str(), "NAT:")) << text.str();
  EXPECT_TRUE(to_report_json(r)["nat"]["tests"].is_null());
}

// ---- port mapping on the gateway: wiring to nat.double_nat / nat.port_mapping ----

nat::GatewayFacts upnp_gateway(std::optional<nat::Ipv4> external) {
  nat::GatewayFacts g;
  g.gateway = nat::Ipv4{192, 168, 1, 1};
  g.upnp = {true, external, "urn:schemas-upnp-org:service:WANIPConnection:2"};
  g.upnp_server = "Debian/12 UPnP/1.1 MiniUPnPd/2.3.1";
  g.natpmp.detail = "no answer";
  g.pcp.detail = "no answer";
  return g;
}

nlohmann::json report_with_gateway(const nat::GatewayFacts& g, const std::string& public_address, bool redacted = false) {
  Report r = realistic_report();
  r.public_address = public_address;
  apply_gateway_facts(r.nat, g, r.public_address);
  return to_report_json(redacted ? redact(r) : r);
}

TEST(GatewayWiring, PrivateExternalAddressIsDoubleNat) {
  auto j = report_with_gateway(upnp_gateway(nat::Ipv4{10, 0, 0, 2}), "198.51.100.7");
  EXPECT_EQ(j["nat"]["double_nat"], true);
  EXPECT_EQ(j["nat"]["port_mapping"]["topology"], "double_nat");
  EXPECT_EQ(j["nat"]["port_mapping"]["external_address"], "10.0.0.2");
  EXPECT_EQ(j["nat"]["port_mapping"]["upnp"]["answered"], true);
  EXPECT_EQ(j["nat"]["port_mapping"]["nat_pmp"]["answered"], false);
  EXPECT_EQ(j["nat"]["port_mapping"]["mappings_created"], 0);
}

TEST(GatewayWiring, CgnatAndSingleNat) {
  auto j = report_with_gateway(upnp_gateway(nat::Ipv4{100, 64, 3, 4}), "198.51.100.7");
  EXPECT_EQ(j["nat"]["double_nat"], true);
  EXPECT_EQ(j["nat"]["port_mapping"]["topology"], "cgnat");
  j = report_with_gateway(upnp_gateway(nat::Ipv4{198, 51, 100, 7}), "198.51.100.7");
  EXPECT_EQ(j["nat"]["double_nat"], false);
  EXPECT_EQ(j["nat"]["port_mapping"]["topology"], "single_nat");
}

TEST(GatewayWiring, AGatewayWithoutPublicAddressDecidesNothing) {
  auto j = report_with_gateway(upnp_gateway(std::nullopt), "198.51.100.7");
  EXPECT_TRUE(j["nat"]["double_nat"].is_null());
  EXPECT_TRUE(j["nat"]["port_mapping"]["external_address"].is_null());
  EXPECT_TRUE(contains(j["nat"]["port_mapping"]["explanation"].get<std::string>(), "no public address"));
  bool line = false;
  for (const auto& l : j["nat"]["summary"]) line |= contains(l.get<std::string>(), "speaks UPnP IGD");
  EXPECT_TRUE(line) << j["nat"]["summary"].dump();
}

TEST(GatewayWiring, NoDefaultRouteNoPortMapping) {
  auto j = report_with_gateway(nat::GatewayFacts{}, "198.51.100.7");
  EXPECT_TRUE(j["nat"]["port_mapping"].is_null());
  EXPECT_TRUE(j["nat"]["double_nat"].is_null());
}

TEST(GatewayWiring, RedactionDropsAPublicExternalAddress) {
  auto j = report_with_gateway(upnp_gateway(nat::Ipv4{198, 51, 100, 7}), "198.51.100.7", true);
  EXPECT_EQ(j.dump().find("198.51.100.7"), std::string::npos) << j["nat"].dump();
  j = report_with_gateway(upnp_gateway(nat::Ipv4{10, 0, 0, 2}), "198.51.100.7", true);
  EXPECT_EQ(j["nat"]["port_mapping"]["external_address"], "10.0.0.2");  // private: kept
}

// ---- the path's hops: wiring to nat.path_hops, nat.double_nat, nat.cgnat ----

nat::HopFinding cgnat_hops() {
  return nat::classify_hops({{1, nat::Ipv4{192, 168, 1, 1}}, {2, nat::Ipv4{100, 64, 0, 1}}, {3, nat::Ipv4{198, 51, 100, 9}}},
                            nat::Ipv4{198, 51, 100, 200});
}

TEST(HopWiring, HopsAloneNameACarrierNat) {
  Report r = realistic_report();
  apply_gateway_facts(r.nat, upnp_gateway(std::nullopt), r.public_address);  // the gateway tells nothing
  apply_hops(r.nat, cgnat_hops());
  auto j = to_report_json(r);
  EXPECT_EQ(j["nat"]["double_nat"], true);
  EXPECT_EQ(j["nat"]["cgnat"], true);
  ASSERT_EQ(j["nat"]["path_hops"]["hops"].size(), 3u);
  EXPECT_EQ(j["nat"]["path_hops"]["hops"][1]["address"], "100.64.0.1");
  EXPECT_EQ(j["nat"]["path_hops"]["hops"][1]["class"], "shared");
  std::ostringstream text;
  write_text_report(text, r, TextStyle{});
  EXPECT_TRUE(contains(text.str(), "hop 2 (100.64.0.1)")) << text.str();
}

TEST(HopWiring, DisagreeingSourcesLeaveDoubleNatOpenAndSaySo) {
  Report r = realistic_report();
  apply_gateway_facts(r.nat, upnp_gateway(nat::Ipv4{198, 51, 100, 7}), std::string("198.51.100.7"));  // single NAT
  apply_hops(r.nat, cgnat_hops());
  auto j = to_report_json(r);
  EXPECT_TRUE(j["nat"]["double_nat"].is_null());
  EXPECT_TRUE(j["nat"]["cgnat"].is_null());
  bool said = false;
  for (const auto& l : j["nat"]["summary"]) said |= contains(l.get<std::string>(), "disagree");
  EXPECT_TRUE(said) << j["nat"]["summary"].dump();
}

TEST(HopWiring, NotTracedIsNull) {
  auto j = to_report_json(realistic_report());
  EXPECT_TRUE(j["nat"]["path_hops"].is_null());
  EXPECT_TRUE(j["nat"]["cgnat"].is_null());
}

TEST(HopWiring, RedactionDropsPublicHopsButKeepsTheirClass) {
  Report r = realistic_report();
  apply_hops(r.nat, cgnat_hops());
  auto j = to_report_json(redact(r));
  EXPECT_EQ(j.dump().find("198.51.100.9"), std::string::npos) << j["nat"].dump();
  EXPECT_TRUE(j["nat"]["path_hops"]["hops"][2]["address"].is_null());
  EXPECT_EQ(j["nat"]["path_hops"]["hops"][2]["class"], "public");
  EXPECT_EQ(j["nat"]["path_hops"]["hops"][1]["address"], "100.64.0.1");  // shared space: kept
}

// ---- the hop trace's I/O on loopback (no router: the host itself answers) ----

std::vector<nat::Hop> run_trace(std::uint16_t port, std::chrono::milliseconds window,
                                std::optional<std::chrono::milliseconds> stop_after = std::nullopt) {
  asio::io_context ctx;
  std::vector<nat::Hop> hops;
  auto stop = std::make_shared<bool>(false);
  asio::steady_timer stopper(ctx);
  if (stop_after) {
    stopper.expires_after(*stop_after);
    stopper.async_wait([stop](const boost::system::error_code&) { *stop = true; });
  }
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        hops = co_await nat::trace_hops(asio::ip::make_address_v4("127.0.0.1"), port, window, stop);
        stopper.cancel();
      },
      asio::detached);
  ctx.run();
  return hops;
}

TEST(HopTrace, AClosedPortAnswersAsTheDestinationAtHopOne) {
  std::uint16_t closed = 0;
  {
    asio::io_context ctx;
    udp::socket s(ctx, udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
    closed = s.local_endpoint().port();
  }  // closed again: the host answers "port unreachable"
  const auto start = std::chrono::steady_clock::now();
  auto hops = run_trace(closed, std::chrono::milliseconds(3000));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000))
      << "the destination answered: no reason to wait the window";
  ASSERT_FALSE(hops.empty());
  ASSERT_TRUE(hops.front().address);
  EXPECT_EQ(nat::format_ipv4(*hops.front().address), "127.0.0.1");
  EXPECT_TRUE(hops.front().destination);
  // A path that ends at hop 1 has no router to judge: nothing claimed.
  EXPECT_FALSE(nat::classify_hops(hops, nat::Ipv4{127, 0, 0, 1}).double_nat);
}

// An open port takes the datagram silently, as the reflector does: only the
// run's end (the stop flag) or the window ends the trace.
TEST(HopTrace, ASilentPathEndsWhenTheRunIsDone) {
  asio::io_context ctx;
  udp::socket open(ctx, udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
  const auto start = std::chrono::steady_clock::now();
  auto hops = run_trace(open.local_endpoint().port(), std::chrono::milliseconds(20000), std::chrono::milliseconds(150));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(5000));
  for (const auto& hop : hops) EXPECT_FALSE(hop.address);
  EXPECT_FALSE(nat::classify_hops(hops, nat::Ipv4{127, 0, 0, 1}).double_nat);
}

// ---- I/O against the real NAT test service on loopback ----

class NatTestsOnLoopback : public ::testing::Test {
 protected:
  void SetUp() override {
    reflector::Config config;
    config.listen = {"127.0.0.1"};
    config.control_port = 0;
    config.web_control_ports = {};
    config.udp_ports = {};
    config.tcp_ports = {};
    config.raw_protocols = {};
    config.nat_ports = {0, 0};
    config.alternate_address = "127.0.0.2";
    server_ = std::make_unique<reflector::Server>(config, &log_);
    auto error = server_->start();
    ASSERT_FALSE(error.has_value()) << *error;
    io_ = std::thread([this] { server_->run(); });
    // A session, so the service answers our tag.
    asio::io_context ctx;
    probes::Endpoint seen;
    std::optional<probes::SessionInfo> info;
    // open_session keeps a reference to the address across its suspensions: it must outlive the run.
    const auto loopback = asio::ip::make_address("127.0.0.1");
    asio::co_spawn(ctx, open_session("127.0.0.1", loopback, {server_->ports().control},
                                     std::chrono::steady_clock::now() + std::chrono::seconds(2)),
                   [&](std::exception_ptr, OpenSessionResult r) {
                     if (r.session) info = r.session->info;
                   });
    ctx.run();
    ASSERT_TRUE(info.has_value());
    info_ = *info;
  }
  void TearDown() override {
    if (!server_) return;
    server_->stop();
    if (io_.joinable()) io_.join();
  }
  nat::NatTestPlan plan() const {
    nat::NatTestPlan p;
    p.primary = asio::ip::make_address_v4("127.0.0.1");
    p.port = info_.capabilities.nat_ports.at(0);
    p.other_port = info_.capabilities.nat_ports.at(1);
    p.alternate = asio::ip::make_address_v4(*info_.capabilities.alternate_address);
    p.tag = *probes::tag_from_hex(info_.tag_hex);
    p.timeout = std::chrono::milliseconds(1500);
    p.random = counter_random();
    return p;
  }
  static nat::NatMeasurements run(nat::NatTestPlan p) {
    asio::io_context ctx;
    nat::NatMeasurements out;
    asio::co_spawn(ctx, nat::run_nat_tests(std::move(p)), [&](std::exception_ptr e, nat::NatMeasurements m) {
      EXPECT_FALSE(e);
      out = std::move(m);
    });
    ctx.run();
    return out;
  }

  std::ostringstream quiet_;
  reflector::Logger log_{reflector::LogLevel::error, &quiet_};
  std::unique_ptr<reflector::Server> server_;
  std::thread io_;
  probes::SessionInfo info_;
};

TEST_F(NatTestsOnLoopback, NoNatMeansEndpointIndependentEverywhere) {
  auto m = run(plan());
  EXPECT_TRUE(m.reached);
  ASSERT_TRUE(m.mapping.to_primary && m.mapping.to_other_port && m.mapping.to_other_address);
  EXPECT_EQ(m.mapping.to_primary->address, "127.0.0.1");
  EXPECT_EQ(m.filtering.primary_reply, true);
  EXPECT_EQ(m.filtering.from_other_port, true);
  EXPECT_EQ(m.filtering.from_other_address, true);
  auto a = nat::assess_nat(m);
  EXPECT_EQ(a.mapping.behaviour, nat::Behaviour::endpoint_independent);
  EXPECT_EQ(a.filtering.behaviour, nat::Behaviour::endpoint_independent);
  EXPECT_EQ(a.port_preservation, true);
  EXPECT_GE(m.ports.size(), 3u);  // mapping socket and both filtering sockets
}

TEST_F(NatTestsOnLoopback, PathTestGetsEveryEchoAtItsOwnSize) {
  auto m = run(plan());
  ASSERT_TRUE(m.path.has_value());
  ASSERT_EQ(m.path->dont_fragment.size(), std::size(nat::kPathProbeSizes));
  for (const auto& p : m.path->dont_fragment) EXPECT_TRUE(p.echoed) << p.ip_size;
  EXPECT_EQ(m.path->fragments_arrived, true);
  EXPECT_EQ(m.path->fragments_returned, true);
  EXPECT_FALSE(m.path->largest_fragment);  // loopback's MTU is 64 KiB: it arrived whole
  auto a = nat::assess_nat(m);
  ASSERT_TRUE(a.path);
  EXPECT_EQ(a.path->facts.path_mtu, 1500);
  EXPECT_EQ(a.path->facts.fragments_pass, true);
  EXPECT_EQ(a.mtu.size(), 5u);  // advice for openvpn, wireguard, ipsec, l2tp, pptp
  auto p = plan();
  p.path = false;
  EXPECT_FALSE(run(p).path.has_value());
}

TEST_F(NatTestsOnLoopback, WithoutTheAlternateAddressThoseTestsAreNotRun) {
  auto p = plan();
  p.alternate.reset();
  auto m = run(p);
  EXPECT_FALSE(m.mapping.to_other_address);
  EXPECT_FALSE(m.filtering.from_other_address);
  auto a = nat::assess_nat(m);
  EXPECT_FALSE(a.mapping.behaviour);
  EXPECT_EQ(a.mapping.not_run, std::vector<std::string>{"mapping.other_address"});
}

TEST_F(NatTestsOnLoopback, LifetimeTrialsGetTheirAnswerAfterTheGap) {
  auto p = plan();
  p.lifetime_gaps = {1, 2};
  const auto t0 = std::chrono::steady_clock::now();
  auto m = run(p);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  ASSERT_EQ(m.lifetime.size(), 2u);
  EXPECT_EQ(m.lifetime[0].gap_s, 1);
  EXPECT_EQ(m.lifetime[0].reached, true);
  EXPECT_EQ(m.lifetime[1].reached, true);
}

TEST_F(NatTestsOnLoopback, HairpinningIsOptInAndSeesTheOtherSocket) {
  auto m = run(plan());
  EXPECT_FALSE(m.hairpinning.has_value());  // not asked for
  auto p = plan();
  p.hairpin = true;
  m = run(p);
  // No NAT on loopback: the "external" endpoint is the socket itself, so it arrives, from the sender's.
  EXPECT_EQ(m.hairpinning, true);
  EXPECT_EQ(m.hairpin_source_external, true);
  NatSummary nat;
  apply_nat_tests(nat, nat::assess_nat(m));
  Report r = realistic_report();
  r.nat = nat;
  EXPECT_EQ(to_report_json(r)["nat"]["hairpinning"], true);
}

TEST_F(NatTestsOnLoopback, AnotherSessionsTagGetsNoAnswer) {
  auto p = plan();
  p.tag[0] ^= 0xff;
  p.timeout = std::chrono::milliseconds(600);
  auto m = run(p);
  EXPECT_FALSE(m.reached);
  EXPECT_EQ(m.filtering.primary_reply, false);
  EXPECT_FALSE(m.mapping.to_primary);
}

// A stand-in for the NAT test service on loopback, on a thread of its own:
// `answer` sees every well-formed request and its source, and says whether to
// send the direct (primary) answer; nothing else is ever sent.
class FakeNatService {
 public:
  using Answer = std::function<bool(const np::Request&, const udp::endpoint&)>;
  explicit FakeNatService(Answer answer)
      : socket_(ctx_, udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0)), thread_([this, answer] {
          std::array<std::uint8_t, 2048> buf{};
          while (!stop_) {
            pollfd pfd{socket_.native_handle(), POLLIN, 0};
            if (::poll(&pfd, 1, 100) <= 0) continue;  // wake up now and then to see `stop_`
            udp::endpoint from;
            boost::system::error_code ec;
            auto n = socket_.receive_from(asio::buffer(buf), from, 0, ec);
            if (ec) continue;
            auto q = np::parse_request(probes::ByteView(buf).first(n));
            if (!q || !answer(*q, from)) continue;
            np::Reply r{q->type, np::Origin::primary, q->token, q->nonce, {from.address().to_string(), from.port()}};
            socket_.send_to(asio::buffer(np::build_reply(r)), from, 0, ec);
          }
        }) {}
  ~FakeNatService() {
    stop_ = true;
    thread_.join();
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }

 private:
  asio::io_context ctx_;
  udp::socket socket_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

nat::NatTestPlan plan_for(const FakeNatService& fake) {
  nat::NatTestPlan p;
  p.primary = asio::ip::make_address_v4("127.0.0.1");
  p.port = fake.port();
  p.random = counter_random();
  return p;
}

nat::NatMeasurements run_against(const nat::NatTestPlan& p) {
  asio::io_context ctx;
  nat::NatMeasurements m;
  asio::co_spawn(ctx, nat::run_nat_tests(p), [&](std::exception_ptr, nat::NatMeasurements got) { m = std::move(got); });
  ctx.run();
  return m;
}

// The first request seen on each socket is "lost": the client must
// retransmit and still get its answers.
TEST(NatTestsRetransmit, ALostRequestIsSentAgainBeforeANoIsBelieved) {
  std::mutex mutex;
  std::set<std::uint16_t> seen;
  int received = 0;
  nat::NatMeasurements m;
  {
    FakeNatService fake([&](const np::Request&, const udp::endpoint& from) {
      std::lock_guard lock(mutex);
      ++received;
      return !seen.insert(from.port()).second;
    });
    auto p = plan_for(fake);
    p.timeout = std::chrono::milliseconds(900);
    m = run_against(p);
  }
  EXPECT_TRUE(m.reached);
  ASSERT_TRUE(m.mapping.to_primary);
  EXPECT_EQ(m.filtering.primary_reply, true);
  EXPECT_GE(received, 4);  // two sockets, each sent at least twice
}

TEST(NatSettleGrace, FourRoundTripsWithinFloorAndBound) {
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  EXPECT_EQ(nat::settle_grace(microseconds(100), milliseconds(1500)), nat::kSettleFloor);
  EXPECT_EQ(nat::settle_grace(microseconds(80'000), milliseconds(1500)), milliseconds(320));
  EXPECT_EQ(nat::settle_grace(microseconds(900'000), milliseconds(1500)), milliseconds(1500));
  EXPECT_EQ(nat::settle_grace(microseconds(100), milliseconds(50)), milliseconds(50));
}

// Every request is answered directly and never from the other port, like a
// NAT that drops unsolicited packets. The client must ask again on its
// schedule until the missing answer is a strong "no" (the direct answers
// measured no loss), and then stop, long before its window ends.
TEST(NatTestsSettle, AMissingUnsolicitedAnswerIsAskedForUntilTheNoIsStrongNotTheWholeWindow) {
  std::mutex mutex;
  std::map<std::uint16_t, int> requests_with_extra;  // per client socket, requests asking for the other port
  nat::NatMeasurements m;
  nat::NatTestPlan p;
  std::chrono::steady_clock::duration took{};
  {
    FakeNatService fake([&](const np::Request& q, const udp::endpoint& from) {
      std::lock_guard lock(mutex);
      if (q.flags & np::kFlagOtherPort) ++requests_with_extra[from.port()];
      return true;
    });
    p = plan_for(fake);
    p.other_port = static_cast<std::uint16_t>(fake.port() == 65535 ? 1 : fake.port() + 1);  // never answers
    p.timeout = std::chrono::seconds(20);
    p.path = false;  // the fake has no echo
    const auto t0 = std::chrono::steady_clock::now();
    m = run_against(p);
    took = std::chrono::steady_clock::now() - t0;
  }
  EXPECT_EQ(m.filtering.primary_reply, true);
  EXPECT_EQ(m.filtering.from_other_port, false);
  EXPECT_FALSE(m.mapping.to_other_port);
  // Not a speed measurement: the window is 20 s, so anything near it means the wait was not cut short.
  EXPECT_LT(took, p.timeout / 4);
  ASSERT_EQ(requests_with_extra.size(), 1u);  // the filtering test's socket
  EXPECT_GE(requests_with_extra.begin()->second, nat::kUnsolicitedCopiesPerRound);
  // And the "no" it stopped on is strong.
  auto a = nat::assess_nat(m);
  EXPECT_EQ(a.filtering.behaviour, nat::Behaviour::address_and_port_dependent);
  EXPECT_EQ(m.loss.lost, 0u);
  EXPECT_GT(m.loss.round_trips, 0u);
}

// A NAT test service on loopback behind a lossy link: every request and every
// reply is dropped at random with probability `loss` (a fixed seed), and a
// bind request asking for it is also answered from a second port, the way
// an endpoint-independent NAT lets it in.
class LossyNatService {
 public:
  LossyNatService(double loss, std::uint32_t seed)
      : loss_(loss),
        state_(seed),
        primary_(ctx_, udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0)),
        other_(ctx_, udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0)),
        thread_([this] { serve(); }) {}
  ~LossyNatService() {
    stop_ = true;
    thread_.join();
  }
  std::uint16_t port() const { return primary_.local_endpoint().port(); }
  std::uint16_t other_port() const { return other_.local_endpoint().port(); }

 private:
  bool lost() {
    state_ = state_ * 1664525u + 1013904223u;
    return (state_ >> 8) % 10000 < static_cast<std::uint32_t>(loss_ * 10000);
  }
  void serve() {
    std::array<std::uint8_t, 2048> buf{};
    while (!stop_) {
      pollfd pfd{primary_.native_handle(), POLLIN, 0};
      if (::poll(&pfd, 1, 100) <= 0) continue;
      udp::endpoint from;
      boost::system::error_code ec;
      auto n = primary_.receive_from(asio::buffer(buf), from, 0, ec);
      if (ec || lost()) continue;
      auto q = np::parse_request(probes::ByteView(buf).first(n));
      if (!q || q->type != np::Type::bind) continue;
      np::Reply r{q->type, np::Origin::primary, q->token, q->nonce, {from.address().to_string(), from.port()}};
      if (!lost()) primary_.send_to(asio::buffer(np::build_reply(r)), from, 0, ec);
      r.origin = np::Origin::other_port;
      if ((q->flags & np::kFlagOtherPort) != 0 && !lost()) other_.send_to(asio::buffer(np::build_reply(r)), from, 0, ec);
    }
  }
  double loss_;
  std::uint32_t state_;
  asio::io_context ctx_;
  udp::socket primary_;
  udp::socket other_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Through 20 % loss each way the unsolicited packets that do get in may all
// happen to be lost; whatever happens, the client must never call the
// filtering address-and-port-dependent.
TEST(NatTestsUnderLoss, ALostUnsolicitedPacketIsNeverBelievedAsFiltering) {
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    nat::NatMeasurements m;
    {
      LossyNatService lossy(0.2, seed);
      nat::NatTestPlan p;
      p.primary = asio::ip::make_address_v4("127.0.0.1");
      p.port = lossy.port();
      p.other_port = lossy.other_port();
      p.random = counter_random();
      p.timeout = std::chrono::milliseconds(1500);
      p.path = false;
      m = run_against(p);
    }
    auto a = nat::assess_nat(m);
    EXPECT_NE(a.filtering.behaviour, nat::Behaviour::address_and_port_dependent) << "seed " << seed;
    // Where every unsolicited packet that was sent happened to be lost, it is "not determined".
    if (m.filtering.from_other_port == false) {
      EXPECT_EQ(a.filtering.lossy, std::vector<std::string>{"filtering.other_port"}) << "seed " << seed;
    }
    EXPECT_GT(m.loss.round_trips, 0u) << "seed " << seed;
  }
}

}  // namespace
}  // namespace vpncheck::client
