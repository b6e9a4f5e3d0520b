// The vpncheck.report/1 document: validated against the published JSON Schema
// (src/report/vpncheck.report.schema.json) with Python's jsonschema, since no
// C++ validator is installed, plus checks of the fields CI consumers read.
#include "src/report/json_report.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "client_fixtures.h"
#include "report_fixtures.h"
#include "probes/pptp_module.h"
#include "src/nat/nat_runner.h"
#include "src/report/redact.h"
#include "probes/l2tp_ipsec.h"
#include "src/version.h"

namespace vpncheck::client {
namespace {

using fixtures::error_report;
using fixtures::realistic_report;
using nlohmann::json;

// ---- schema validation --------------------------------------------------

// Validates with the schema's own draft (2020-12), checking formats such as
// date-time; prints one line per error. Exit 77: jsonschema is not installed.
constexpr const char* kValidator =
    "import json, sys\n"
    "try:\n"
    "    import jsonschema\n"
    "except ImportError:\n"
    "    sys.exit(77)\n"
    "schema = json.load(open(sys.argv[1]))\n"
    "doc = json.load(open(sys.argv[2]))\n"
    "cls = jsonschema.validators.validator_for(schema)\n"
    "cls.check_schema(schema)\n"
    "validator = cls(schema, format_checker=getattr(cls, \"FORMAT_CHECKER\", None))\n"
    "errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))\n"
    "for e in errors:\n"
    "    print(\"/\".join(map(str, e.absolute_path)) + \": \" + e.message)\n"
    "sys.exit(1 if errors else 0)\n";

struct Validation {
  enum class Status { valid, invalid, unavailable } status = Status::unavailable;
  std::string output;
};

std::filesystem::path temp_path(const std::string& suffix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string("vpncheck_client_") + std::to_string(::getpid()) + "_" +
                     (info ? std::string(info->name()) : std::string("x")) + suffix;
  return std::filesystem::temp_directory_path() / name;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Validation validate(const json& document) {
  Validation v;
  const auto doc_path = temp_path(".json");
  const auto out_path = temp_path(".out");
  {
    std::ofstream out(doc_path);
    out << document.dump(2);
  }
  // The script has no single quotes, so it can be passed to the shell quoted as is.
  const std::string command = std::string("python3 -c '") + kValidator + "' '" VPNCHECK_SCHEMA_PATH "' '" +
                              doc_path.string() + "' >'" + out_path.string() + "' 2>&1";
  const int raw = std::system(command.c_str());
  v.output = read_file(out_path);
  std::filesystem::remove(doc_path);
  std::filesystem::remove(out_path);
  const int code = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  if (code == 0)
    v.status = Validation::Status::valid;
  else if (code == 1)
    v.status = Validation::Status::invalid;
  else
    v.output = code == 77 ? "the python3 jsonschema module is not installed"
               : code == 127 ? "python3 is not installed"
                             : "validator failed (exit " + std::to_string(code) + "): " + v.output;
  return v;
}

#define EXPECT_VALID_REPORT(document)                                                      \
  do {                                                                                     \
    auto validation_ = validate(document);                                                 \
    if (validation_.status == Validation::Status::unavailable) GTEST_SKIP() << validation_.output; \
    EXPECT_EQ(validation_.status, Validation::Status::valid) << validation_.output;        \
  } while (false)

const json& probe_named(const json& doc, std::string_view name) {
  for (const auto& protocol : doc.at("protocols"))
    for (const auto& probe : protocol.at("probes"))
      if (probe.at("name") == name) return probe;
  ADD_FAILURE() << "no probe " << name;
  static const json none = json::object();
  return none;
}

TEST(JsonReportSchema, RealisticFullReportValidates) { EXPECT_VALID_REPORT(to_report_json(realistic_report())); }

TEST(JsonReportSchema, ErrorOnlyReportValidates) { EXPECT_VALID_REPORT(to_report_json(error_report())); }

TEST(JsonReportSchema, ReportsWithAPathWalkValidate) {
  EXPECT_VALID_REPORT(to_report_json(fixtures::walked_report()));
  EXPECT_VALID_REPORT(to_report_json(fixtures::walked_report("192.168.1.1", 0)));  // silent from the first hop
  Report unknown = fixtures::realistic_run();  // no hop answered: the place is unknown, its fields null
  apply_path_walks(unknown,
                   {{fixtures::genuine_position(unknown, "wireguard", probes::Transport::udp, 51820), {{1, {}, {}}}}},
                   std::nullopt);
  ASSERT_EQ(unknown.drops.size(), 1u);
  EXPECT_VALID_REPORT(to_report_json(unknown));
}

TEST(JsonReportSchema, ReportsWithACaptivePortalValidate) {
  Report stopped = error_report();
  stopped.captive_portal = CaptivePortal{true, "http://192.168.1.1:8081/login", "redirected."};
  EXPECT_VALID_REPORT(to_report_json(stopped));
  Report unknown = realistic_report();
  unknown.captive_portal = CaptivePortal{std::nullopt, std::nullopt, "no answer on TCP 80."};
  EXPECT_VALID_REPORT(to_report_json(unknown));
}

TEST(JsonReport, CaptivePortalIsNullUntilChecked) {
  EXPECT_TRUE(to_report_json(realistic_report()).at("captive_portal").is_null());
  Report r = realistic_report();
  r.captive_portal = CaptivePortal{true, "http://192.168.1.1:8081/login", "redirected."};
  EXPECT_EQ(to_report_json(r).at("captive_portal"),
            (json{{"detected", true}, {"login_url", "http://192.168.1.1:8081/login"}, {"evidence", "redirected."}}));
  r.captive_portal = CaptivePortal{false, std::nullopt, "echoed."};
  EXPECT_EQ(to_report_json(r).at("captive_portal").at("login_url"), nullptr);
  EXPECT_EQ(to_report_json(r).at("captive_portal").at("detected"), false);
}

TEST(JsonReportSchema, ReportWithReflectorLimitsValidates) {
  EXPECT_VALID_REPORT(to_report_json(fixtures::rate_limited_report()));
}

TEST(JsonReport, ReflectorLimitsAndTheVerdictsTheyExplain) {
  json doc = to_report_json(fixtures::rate_limited_report());
  const json& limits = doc.at("reflector").at("limits");
  ASSERT_EQ(limits.size(), 2U) << limits;
  EXPECT_EQ(limits[0], json({{"limit", "rate_limit"}, {"count", 6}, {"ports", {51820, 443}},
                             {"detail", "answers withheld: over --rate-limit"}}));
  EXPECT_EQ(limits[1].at("limit"), "connection_slots");
  const json& wireguard = doc.at("protocols").at(0);
  EXPECT_EQ(wireguard.at("verdict"), "inconclusive");
  EXPECT_EQ(wireguard.at("findings"), json::array({"reflector_limited"}));
  EXPECT_NE(wireguard.at("summary").get<std::string>().find("rate limit: 3 answers withheld"), std::string::npos);
  EXPECT_EQ(doc.at("protocols").at(1).at("verdict"), "pass");
  // Without limits the field is there, empty.
  EXPECT_EQ(to_report_json(realistic_report()).at("reflector").at("limits"), json::array());
}

// A WireGuard probe whose data phase lost every full-size packet on the way
// out: its counts per size, and the protocol's findings, in a valid report.
Report data_phase_report() {
  Report r = realistic_report();
  auto& wg = r.protocols.at(0);
  auto& probe = wg.probes.at(0);
  probes::DataPhaseResult d;
  d.small_size = 128;
  d.full_size = 1452;
  d.sent = {{0, 128, 0, true}, {1, 128, 0.1, true}, {2, 1452, 0.2, false}, {3, 1452, 0.3, false}};
  probe.client.data = d;
  for (std::uint32_t seq : {0U, 1U}) {
    probes::Observation o;
    o.kind = std::string(probes::kDataObservation);
    o.payload_length = 128;
    o.fields = {{"sequence", std::to_string(seq)}};
    o.reply.sent = true;
    probe.data_arrivals.push_back(o);
  }
  wg.verdict = Verdict::restricted;
  wg.findings = {std::string(finding::kFullSizePacketsDropped), std::string(finding::kUploadLost)};
  return r;
}

TEST(JsonReportSchema, ReportWithADataPhaseValidates) { EXPECT_VALID_REPORT(to_report_json(data_phase_report())); }

TEST(JsonReport, DataPhaseCountsPerSize) {
  json doc = to_report_json(data_phase_report());
  const json& wireguard = doc.at("protocols").at(0);
  EXPECT_EQ(wireguard.at("findings"), json::array({"full_size_packets_dropped", "upload_lost"}));
  const json& data = wireguard.at("probes").at(0).at("data_phase");
  EXPECT_EQ(data.at("small"), json({{"bytes", 128}, {"sent", 2}, {"arrived", 2}, {"echoed", 2}}));
  EXPECT_EQ(data.at("full"), json({{"bytes", 1452}, {"sent", 2}, {"arrived", 0}, {"echoed", 0}}));
  // Probes without a data phase carry none.
  EXPECT_FALSE(wireguard.at("probes").at(1).contains("data_phase"));
}

TEST(JsonReportSchema, EveryVerdictValidates) {
  Report r = realistic_report();
  for (auto v : {Verdict::pass, Verdict::restricted, Verdict::outbound_only, Verdict::blocked, Verdict::modified,
                 Verdict::inconclusive}) {
    r.protocols[0].verdict = v;
    SCOPED_TRACE(std::string(to_string(v)));
    EXPECT_VALID_REPORT(to_report_json(r));
  }
}

// L2TP's multi-step probe (steps_answered, exchange_incomplete) and the derived
// l2tp-ipsec entry (no probes of its own) are valid vpncheck.report/1.
TEST(JsonReportSchema, L2tpStoppedMidwayAndTheL2tpIpsecEntryValidate) {
  Report r = realistic_report();
  auto results = fixtures::scenario(fixtures::l2tp(), fixtures::everything(fixtures::Fate::answered));
  for (auto& p : results)
    if (p.probe.kind == ProbeKind::genuine) {
      p.client.outcome = Outcome::timeout;
      p.client.steps_answered = 1;
    }
  r.protocols.push_back(assess(fixtures::l2tp(), std::move(results), true));
  static const probes::ProtocolModule ipsec{.id = "ipsec", .title = "IPsec", .description = "stand-in",
                                            .variants = {}, .build_request = nullptr, .parse_request = nullptr,
                                            .build_reply = nullptr, .is_reply_to = nullptr,
                                            .advice_use_variant = nullptr, .advice_signature_blocked = ""};
  ProtocolAssessment ipsec_pass;
  ipsec_pass.module = &ipsec;
  ipsec_pass.verdict = Verdict::pass;
  ipsec_pass.summary = "IPsec works.";
  r.protocols.push_back(ipsec_pass);
  add_derived(r.protocols, r.behind_nat);
  auto doc = to_report_json(r);
  ASSERT_EQ(doc["protocols"].back()["protocol"], "l2tp-ipsec");
  EXPECT_EQ(doc["protocols"][2]["findings"], json({"exchange_incomplete"}));
  EXPECT_VALID_REPORT(doc);
}

TEST(JsonReportSchema, ReportWithUnreadObservationsValidates) {
  Report r = realistic_report();
  r.observations_read = false;
  r.observations_error = "timed out";
  for (auto& a : r.protocols) a = assess(*a.module, fixtures::without_arrivals(a.probes), false);
  EXPECT_VALID_REPORT(to_report_json(r));
}

TEST(JsonReportSchema, RedactedReportValidates) {
  EXPECT_VALID_REPORT(to_report_json(redact(realistic_report())));
  EXPECT_VALID_REPORT(to_report_json(redact(error_report())));
}

TEST(JsonReportSchema, ReportWithNatFactsValidates) {
  Report r = realistic_report();
  nat::NatMeasurements m;
  m.reached = true;
  m.mapping = {probes::Endpoint{"203.0.113.1", 40000}, probes::Endpoint{"203.0.113.1", 40000}, std::nullopt};
  m.filtering = {true, false, std::nullopt};
  m.filtering_tries = {8, 0};
  m.loss = {40, 0};
  m.ports = {{40000, 40000}};
  m.lifetime = {{5, true}, {10, false, 4}};
  apply_nat_tests(r.nat, nat::assess_nat(m));
  nat::GatewayFacts g;
  g.gateway = nat::Ipv4{192, 168, 1, 1};
  g.natpmp = {true, nat::Ipv4{10, 0, 0, 2}, "success"};
  g.upnp = {true, std::nullopt, "no WAN connection service in the device description"};
  g.upnp_server = "MiniUPnPd/2.3.1";
  apply_gateway_facts(r.nat, g, r.public_address);
  auto doc = to_report_json(r);
  EXPECT_FALSE(doc["nat"]["tests"].is_null());
  EXPECT_FALSE(doc["nat"]["port_mapping"].is_null());
  EXPECT_TRUE(doc["nat"]["path_mtu"].is_null());  // the path test did not run
  EXPECT_VALID_REPORT(doc);
  // With the path test: a 1400-byte path that drops fragments on the way out.
  m.path = nat::PathSamples{};
  for (int size : {1500, 1420, 1400, 1280}) m.path->dont_fragment.push_back({size, size <= 1400, size <= 1400 ? 0u : 8u});
  m.path->fragments_arrived = false;
  m.path->fragments_returned = false;
  m.path->fragment_tries = 8;
  m.path->reported_mtu = 1400;
  m.path->reported_by = "192.168.1.1";
  apply_nat_tests(r.nat, nat::assess_nat(m));
  doc = to_report_json(r);
  EXPECT_EQ(doc["nat"]["path_mtu"], 1400);
  EXPECT_EQ(doc["nat"]["fragments_pass"], false);
  EXPECT_EQ(doc["nat"]["tests"]["path"]["smallest_failed"], 1420);
  EXPECT_EQ(doc["nat"]["tests"]["path"]["fragments_lost"], "out");
  EXPECT_EQ(doc["nat"]["tests"]["path"]["black_hole"], false);  // the router reported its MTU
  bool openvpn_breaks = false;
  for (const auto& p : doc["nat"]["tests"]["path"]["protocols"])
    if (p["protocol"] == "openvpn") openvpn_breaks = p["breaks"] == true;
  EXPECT_TRUE(openvpn_breaks);
  EXPECT_VALID_REPORT(doc);
  // Nobody reports it, and 8 tries each on a clean path: a black hole.
  m.path->reported_mtu.reset();
  m.path->reported_by.reset();
  m.loss = {40, 0};
  apply_nat_tests(r.nat, nat::assess_nat(m));
  doc = to_report_json(r);
  EXPECT_EQ(doc["nat"]["tests"]["path"]["black_hole"], true);
  EXPECT_VALID_REPORT(doc);
  m.path->reported_mtu = 1400;
  m.path->reported_by = "192.168.1.1";
  // Under loss the same samples decide nothing about fragments, and say so.
  m.loss = {60, 17};
  apply_nat_tests(r.nat, nat::assess_nat(m));
  doc = to_report_json(r);
  EXPECT_TRUE(doc["nat"]["fragments_pass"].is_null());
  EXPECT_EQ(doc["nat"]["path_mtu"], 1400);  // the router reported it: no statistics needed
  EXPECT_EQ(doc["nat"]["tests"]["path"]["undetermined_by_loss"], true);
  EXPECT_FALSE(doc["nat"]["tests"]["evidence"].empty());
  EXPECT_VALID_REPORT(doc);
  nat::NatMeasurements none;
  r.nat = {};
  apply_nat_tests(r.nat, nat::assess_nat(none));
  EXPECT_VALID_REPORT(to_report_json(r));
}

TEST(JsonReportSchema, Nat64FindingValidatesAndIsNullForAnIpv4Session) {
  Report r = realistic_report();
  EXPECT_TRUE(to_report_json(r).at("client").at("nat64").is_null());
  r.nat64 = Nat64Finding{true, "2001:db8:64::/96", "reflector_address_and_dns64", "203.0.113.5"};
  json doc = to_report_json(r);
  const json& n = doc.at("client").at("nat64");
  EXPECT_EQ(n.at("detected"), true);
  EXPECT_EQ(n.at("prefix"), "2001:db8:64::/96");
  EXPECT_EQ(n.at("source"), "reflector_address_and_dns64");
  EXPECT_EQ(n.at("reflector_ipv4"), "203.0.113.5");
  EXPECT_EQ(n.at("summary"), json(nat64_lines(r)));
  EXPECT_VALID_REPORT(doc);
  r.nat64 = Nat64Finding{};
  EXPECT_VALID_REPORT(to_report_json(r));
  doc["client"]["nat64"]["source"] = "guess";
  auto validation = validate(doc);
  if (validation.status == Validation::Status::unavailable) GTEST_SKIP() << validation.output;
  EXPECT_EQ(validation.status, Validation::Status::invalid) << validation.output;
}

TEST(JsonReportSchema, RedactedMustBeABoolean) {
  json doc = to_report_json(redact(realistic_report()));
  EXPECT_EQ(doc.at("redacted"), true);
  doc["redacted"] = "yes";
  auto validation = validate(doc);
  if (validation.status == Validation::Status::unavailable) GTEST_SKIP() << validation.output;
  EXPECT_EQ(validation.status, Validation::Status::invalid) << validation.output;
  EXPECT_TRUE(fixtures::contains(validation.output, "redacted")) << validation.output;
}

TEST(JsonReportSchema, ValidatorRejectsABrokenDocument) {
  // Proves the validation above is not vacuous.
  json doc = to_report_json(realistic_report());
  doc["protocols"][0]["verdict"] = "fine";
  doc["started_at"] = "yesterday";
  doc.erase("exit_code");
  auto validation = validate(doc);
  if (validation.status == Validation::Status::unavailable) GTEST_SKIP() << validation.output;
  EXPECT_EQ(validation.status, Validation::Status::invalid) << validation.output;
  for (std::string_view expected : {"verdict", "started_at", "exit_code"})
    EXPECT_TRUE(fixtures::contains(validation.output, expected)) << expected << " not in:\n" << validation.output;
}

// ---- field checks -------------------------------------------------------

// PPTP: the control piece's conversation facts (reply_fields) and every
// message the reflector recorded (observed_messages), validated.
Report pptp_report() {
  Report r = realistic_report();
  auto results = fixtures::scenario(probes::pptp::kModule, fixtures::everything(fixtures::Fate::answered));
  for (auto& p : results) {
    if (p.probe.variant.piece != "control" || p.probe.kind != ProbeKind::genuine) continue;
    p.client.reply_fields = {{"client_call_id", "4660"}, {"reflector_call_id", "17185"}, {"stop_answered", "true"}};
    p.arrivals.front().fields = {{"message_type", "SCCRQ"}};
    auto ocrq = p.arrivals.front();
    ocrq.fields = {{"message_type", "OCRQ"}, {"call_id", "40001"}, {"original_call_id", "4660"},
                   {"call_id_rewritten", "true"}, {"linux_pptp_helper", "true"}};
    p.arrivals.push_back(ocrq);
  }
  r.protocols.push_back(assess(probes::pptp::kModule, std::move(results), true));
  return r;
}

TEST(JsonReportSchema, PptpReportValidates) { EXPECT_VALID_REPORT(to_report_json(pptp_report())); }

TEST(JsonReport, PptpProbesCarryTheCallIdFacts) {
  json doc = to_report_json(pptp_report());
  const json* pptp = nullptr;
  for (const auto& p : doc.at("protocols"))
    if (p.at("protocol") == "pptp") pptp = &p;
  ASSERT_NE(pptp, nullptr);
  EXPECT_EQ(pptp->at("verdict"), "pass");
  const json* control = nullptr;
  const json* gre = nullptr;
  for (const auto& probe : pptp->at("probes")) {
    if (probe.at("kind") != "genuine") continue;
    (probe.at("piece") == "control" ? control : gre) = &probe;
  }
  ASSERT_NE(control, nullptr);
  ASSERT_NE(gre, nullptr);
  EXPECT_EQ(control->at("name"), "pptp/control/tcp/1723");
  EXPECT_EQ(gre->at("name"), "pptp/gre/ip/47");
  EXPECT_EQ(control->at("reply_fields").at("reflector_call_id"), "17185");
  ASSERT_EQ(control->at("observed_messages").size(), 2u);
  EXPECT_EQ(control->at("observed_messages")[1].at("call_id_rewritten"), "true");
  EXPECT_EQ(control->at("observed_messages")[1].at("linux_pptp_helper"), "true");
  EXPECT_FALSE(gre->contains("observed_messages")) << "only for probes with several arrivals";
}

TEST(JsonReport, TopLevelFields) {
  json doc = to_report_json(realistic_report());
  EXPECT_EQ(doc.at("schema"), "vpncheck.report/1");
  EXPECT_EQ(doc.at("tool").at("name"), "vpncheck");
  EXPECT_EQ(doc.at("tool").at("version"), std::string(kVersion));
  EXPECT_EQ(doc.at("started_at"), "2024-05-01T12:00:00Z");
  EXPECT_EQ(doc.at("duration_ms"), 3012);
  EXPECT_EQ(doc.at("reflector").at("host"), "reflector.example.net");
  EXPECT_EQ(doc.at("reflector").at("address"), "198.51.100.20");
  EXPECT_EQ(doc.at("reflector").at("control_port"), 8780);
  EXPECT_EQ(doc.at("client").at("local_address"), std::string(fixtures::kLocalAddress));
  EXPECT_EQ(doc.at("client").at("public_address"), std::string(fixtures::kPublicAddress));
  EXPECT_EQ(doc.at("client").at("behind_nat"), true);
  EXPECT_EQ(doc.at("nat").at("port_preservation"), true);
  EXPECT_TRUE(doc.at("nat").at("mapping").is_null());  // not measured: null, never guessed
  EXPECT_EQ(doc.at("required"), json::array({"wireguard"}));
  EXPECT_TRUE(doc.at("error").is_null());
}

TEST(JsonReport, ExitCodeIsTheReportsExitCode) {
  EXPECT_EQ(to_report_json(realistic_report()).at("exit_code"), 1);  // wireguard required, blocked
  EXPECT_EQ(to_report_json(error_report()).at("exit_code"), 3);
  Report ok = realistic_report();
  ok.required.clear();
  ok.exit_code = exit_code_for(ok);
  EXPECT_EQ(to_report_json(ok).at("exit_code"), 0);
}

TEST(JsonReport, VerdictStringsAndFindings) {
  json doc = to_report_json(realistic_report());
  ASSERT_EQ(doc.at("protocols").size(), 2U);
  const json& wg = doc["protocols"][0];
  const json& ovpn = doc["protocols"][1];
  EXPECT_EQ(wg.at("protocol"), "wireguard");
  EXPECT_EQ(wg.at("title"), "WireGuard");
  EXPECT_EQ(wg.at("verdict"), "blocked");
  EXPECT_TRUE(wg.at("working_variant").is_null());
  EXPECT_NE(std::find(wg.at("findings").begin(), wg.at("findings").end(), "signature_blocking"),
            wg.at("findings").end())
      << wg.at("findings");
  EXPECT_EQ(ovpn.at("protocol"), "openvpn");
  EXPECT_EQ(ovpn.at("verdict"), "restricted");
  EXPECT_EQ(ovpn.at("working_variant"), "TCP 443");
  bool alternative = false;
  for (const auto& line : wg.at("advice"))
    alternative = alternative || fixtures::contains(line.get<std::string>(), "OpenVPN (TCP 443)");
  EXPECT_TRUE(alternative) << wg.at("advice");
  EXPECT_FALSE(wg.at("summary").get<std::string>().empty());
}

TEST(JsonReport, ProbeFieldsForAnAnsweredProbe) {
  json doc = to_report_json(realistic_report());
  const json& p = probe_named(doc, "openvpn/tls-auth/tcp/443");
  EXPECT_EQ(p.at("kind"), "genuine");
  EXPECT_EQ(p.at("transport"), "tcp");
  EXPECT_EQ(p.at("port"), 443);
  EXPECT_EQ(p.at("standard"), false);
  EXPECT_EQ(p.at("outbound"), true);
  EXPECT_EQ(p.at("inbound"), true);
  EXPECT_EQ(p.at("outcome"), "reply");
  EXPECT_DOUBLE_EQ(p.at("rtt_ms").get<double>(), 23.0);
  EXPECT_EQ(p.at("arrivals"), 1);
  ASSERT_TRUE(p.at("translation").is_object());
  EXPECT_EQ(p.at("translation").at("address_translated"), true);
  EXPECT_EQ(p.at("translation").at("port_translated"), false);
  EXPECT_EQ(p.at("translation").at("observed_as").at("address"), std::string(fixtures::kPublicAddress));
  EXPECT_EQ(p.at("observed_fields").at("probe"), "openvpn");
  EXPECT_TRUE(fixtures::contains(p.at("evidence").get<std::string>(), "reflector: 1 arrival(s) on tcp 443"))
      << p.at("evidence");
}

TEST(JsonReport, ProbeFieldsForAnOutboundOnlyProbe) {
  json doc = to_report_json(realistic_report());
  const json& p = probe_named(doc, "openvpn/tls-auth/udp/1194");
  EXPECT_EQ(p.at("outbound"), true);
  EXPECT_EQ(p.at("inbound"), false);
  EXPECT_EQ(p.at("outcome"), "timeout");
  EXPECT_TRUE(p.at("rtt_ms").is_null());
}

TEST(JsonReport, ProbeFieldsForADroppedProbe) {
  json doc = to_report_json(realistic_report());
  const json& p = probe_named(doc, "wireguard/udp/51820");
  EXPECT_EQ(p.at("outbound"), false);
  EXPECT_EQ(p.at("inbound"), false);
  EXPECT_TRUE(p.at("translation").is_null());
  EXPECT_EQ(p.at("modifications"), json::array());
  EXPECT_TRUE(fixtures::contains(p.at("evidence").get<std::string>(), "nothing arrived")) << p.at("evidence");
}

TEST(JsonReport, NotRunProbeHasNullDirections) {
  json doc = to_report_json(realistic_report());
  const json& p = probe_named(doc, "wireguard/udp/53");
  EXPECT_EQ(p.at("outcome"), "not_run");
  EXPECT_TRUE(p.at("outbound").is_null());
  EXPECT_TRUE(p.at("inbound").is_null());
  EXPECT_TRUE(fixtures::contains(p.at("evidence").get<std::string>(), "does not listen")) << p.at("evidence");
}

TEST(JsonReport, OutboundIsNullWhenObservationsWereNotRead) {
  Report r = realistic_report();
  r.observations_read = false;
  r.observations_error = "timed out";
  for (auto& a : r.protocols) a = assess(*a.module, fixtures::without_arrivals(a.probes), false);
  json doc = to_report_json(r);
  EXPECT_EQ(doc.at("observations").at("read"), false);
  EXPECT_EQ(doc.at("observations").at("error"), "timed out");
  // Not answered and no record: whether it got out is unknown, not false.
  const json& silent = probe_named(doc, "wireguard/udp/51820");
  EXPECT_TRUE(silent.at("outbound").is_null()) << silent.at("outbound");
  EXPECT_EQ(silent.at("inbound"), false);
  EXPECT_TRUE(fixtures::contains(silent.at("evidence").get<std::string>(), "observations unavailable"));
  // Answered: the reply proves it got out.
  const json& answered_probe = probe_named(doc, "openvpn/tls-auth/tcp/443");
  EXPECT_EQ(answered_probe.at("outbound"), true);
}

TEST(JsonReport, ErrorReportHasTheErrorAndNoProtocols) {
  json doc = to_report_json(error_report());
  EXPECT_TRUE(fixtures::contains(doc.at("error").get<std::string>(), "could not open a session"));
  EXPECT_EQ(doc.at("protocols"), json::array());  // never "everything blocked"
  EXPECT_TRUE(doc.at("reflector").at("control_port").is_null());
  EXPECT_EQ(doc.at("reflector").at("control_attempts").size(), 3U);
  EXPECT_TRUE(doc.at("client").at("behind_nat").is_null());
  EXPECT_TRUE(doc.at("observations").at("error").is_null());
}

// ---- dual stack -------------------------------------------------------------

TEST(JsonReportSchema, TwoFamilyReportValidates) { EXPECT_VALID_REPORT(to_report_json(fixtures::dual_stack_report())); }

TEST(JsonReportSchema, RedactedTwoFamilyReportValidates) {
  EXPECT_VALID_REPORT(to_report_json(redact(fixtures::dual_stack_report())));
}

TEST(JsonReportSchema, AFamilyOutsideIpv4AndIpv6IsRejected) {
  auto doc = to_report_json(fixtures::dual_stack_report());
  doc["protocols"][0]["families"]["ipv5"] = {{"verdict", "pass"}, {"summary", "x"}};
  auto validation = validate(doc);
  if (validation.status == Validation::Status::unavailable) GTEST_SKIP() << validation.output;
  EXPECT_EQ(validation.status, Validation::Status::invalid) << validation.output;
  auto probe_doc = to_report_json(fixtures::dual_stack_report());
  probe_doc["protocols"][0]["probes"][0]["family"] = "inet6";
  auto probe_validation = validate(probe_doc);
  EXPECT_EQ(probe_validation.status, Validation::Status::invalid) << probe_validation.output;
}

TEST(JsonReport, PerFamilyVerdictsAndProbeFamilies) {
  auto doc = to_report_json(fixtures::dual_stack_report());
  EXPECT_EQ(doc["reflector"]["address_v6"], "2001:db8:2::5");
  const auto& wg = doc["protocols"][0];
  ASSERT_EQ(wg["protocol"], "wireguard");
  EXPECT_EQ(wg["verdict"], "pass");  // the IPv4 verdict on top
  EXPECT_EQ(wg["families"]["ipv4"]["verdict"], "pass");
  EXPECT_EQ(wg["families"]["ipv6"]["verdict"], "restricted");
  EXPECT_FALSE(wg["families"]["ipv6"]["summary"].get<std::string>().empty());
  const auto& ovpn = doc["protocols"][1];
  EXPECT_EQ(ovpn["verdict"], "pass");
  EXPECT_EQ(ovpn["families"]["ipv6"]["verdict"], "blocked");
  std::size_t v4 = 0, v6 = 0;
  for (const auto& p : wg["probes"]) (p["family"] == "ipv4" ? v4 : v6) += 1;
  EXPECT_EQ(v4, 6u);
  EXPECT_EQ(v6, 6u);
}

TEST(JsonReport, SingleFamilyReportHasOnlyThatFamily) {
  auto doc = to_report_json(realistic_report());
  EXPECT_TRUE(doc["reflector"]["address_v6"].is_null());
  for (const auto& p : doc["protocols"])
    for (const auto& probe : p["probes"]) EXPECT_EQ(probe["family"], "ipv4");
}

}  // namespace
}  // namespace vpncheck::client

namespace vpncheck::client {
namespace {

// A lossy run: the path's loss and a verdict the loss was too likely to explain.
Report lossy_report() {
  Report r = fixtures::realistic_report();
  r.path_loss.datagrams_sent = 100;
  r.path_loss.datagrams_arrived = 85;
  r.path_loss.round_trips = 100;
  r.path_loss.round_trips_failed = 28;
  auto& a = r.protocols.front();
  a.verdict = Verdict::inconclusive;
  a.loss_check = LossCheck{r.path_loss.fraction(), 0.02, Verdict::blocked};
  return r;
}

TEST(JsonReportSchema, LossyReportValidates) { EXPECT_VALID_REPORT(to_report_json(lossy_report())); }

TEST(JsonReport, PathLossAndTheLossCheck) {
  auto doc = to_report_json(lossy_report());
  const auto& loss = doc.at("path").at("loss");
  EXPECT_NEAR(loss.at("outbound").get<double>(), 0.15, 1e-9);
  EXPECT_NEAR(loss.at("fraction").get<double>(), loss.at("inbound").get<double>(), 1e-9);  // the worse direction
  EXPECT_GT(loss.at("inbound").get<double>(), 0.15);
  EXPECT_EQ(loss.at("datagrams_sent"), 100);
  const auto& check = doc.at("protocols").at(0).at("loss_check");
  EXPECT_EQ(check.at("withheld_verdict"), "blocked");
  EXPECT_DOUBLE_EQ(check.at("chance").get<double>(), 0.02);
  EXPECT_DOUBLE_EQ(check.at("threshold").get<double>(), kChanceThreshold);
  // Nothing measured: null, never a made-up 0.
  EXPECT_TRUE(to_report_json(fixtures::realistic_report()).at("path").at("loss").is_null());
}

}  // namespace
}  // namespace vpncheck::client
