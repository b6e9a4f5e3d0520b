// --redact: public addresses leave no trace in any report form (structured
// fields, evidence and modification strings, free text), equal addresses stay
// equal, private ones stay as they are, and translation facts do not change.
#include "src/report/redact.h"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "client_fixtures.h"
#include "report_fixtures.h"
#include "src/report/json_report.h"
#include "src/report/junit_report.h"
#include "src/report/markdown_report.h"
#include "src/report/text_report.h"
#include "probes/translation.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;
using fixtures::realistic_report;

const std::string kPublic(fixtures::kPublicAddress);  // 203.0.113.7, the client's public address
const std::string kReflector = "198.51.100.20";
const std::string kPublicV6 = "2001:db8::7";

// Every report form, concatenated.
std::string render_all(const Report& r) {
  std::ostringstream out;
  write_text_report(out, r, TextStyle{false, true});  // verbose: per-probe evidence too
  out << to_report_json(r).dump(2);
  write_junit_report(out, r);
  write_markdown_report(out, r);
  return out.str();
}

// The realistic run, with the reflector given as an IP literal and public
// addresses planted in every kind of free text a report carries.
Report report_with_addresses_everywhere() {
  Report r = realistic_report();
  r.reflector_host = kReflector;
  r.control_attempts = {{8780, "ok"}, {443, "answered from " + kReflector + ":443"}};
  r.observations_error = "partial read from [" + kPublicV6 + "]:8780";
  r.reflector_limits = {{"connection_slots", 1, {1723}, "refused from " + kPublic}};
  auto& wg = r.protocols.at(0);
  wg.summary = "Blocked between " + kPublic + " and " + kReflector + ".";
  wg.advice.push_back("Ask the admin of " + kPublic + " to open UDP 51820.");
  auto& probe = wg.probes.at(0);
  probe.client.detail = "sendto " + kReflector + ":51820 via " + kPublicV6 + " failed";
  auto& ovpn = r.protocols.at(1);
  for (auto& p : ovpn.probes)
    for (auto& arrival : p.arrivals) arrival.fields["peer"] = kPublic + ":50000";
  return r;
}

TEST(RedactAddress, TokenIsStableAcrossRunsAndBuilds) {
  // Golden values: SHA-256("vpncheck.redact/1|<address>"), first 8 hex digits.
  // If these change, reports made before and after can no longer be compared.
  EXPECT_EQ(redact_address("203.0.113.7"), "redacted-4321b78c");
  EXPECT_EQ(redact_address("198.51.100.20"), "redacted-ac570f5e");
  EXPECT_EQ(redact_address("2001:db8::7"), "redacted-32bf3fc3");
}

TEST(RedactAddress, SameAddressSameTokenDifferentAddressDifferentToken) {
  EXPECT_EQ(redact_address(kPublic), redact_address(kPublic));
  EXPECT_NE(redact_address(kPublic), redact_address(kReflector));
  // One address, two spellings: one token.
  EXPECT_EQ(redact_address("2001:DB8:0::7"), redact_address(kPublicV6));
  EXPECT_TRUE(std::regex_match(redact_address(kPublic), std::regex("redacted-[0-9a-f]{8}")));
}

TEST(RedactAddress, PrivateLocalAndNonAddressesStay) {
  for (std::string keep : {"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.10", "100.64.0.1",
                           "100.127.255.254", "127.0.0.1", "169.254.10.20", "0.0.0.0", "::", "::1", "fe80::1",
                           "fd12:3456::1", "fc00::1", "::ffff:192.168.1.1", "reflector.example.net", "", "not an ip"}) {
    EXPECT_EQ(redact_address(keep), keep) << keep;
  }
  for (std::string go : {"8.8.8.8", "172.32.0.1", "172.15.255.255", "100.128.0.1", "100.63.255.255", "192.169.0.1",
                         "11.0.0.1", "2001:db8::1", "2a00:1450::1", "::ffff:8.8.8.8", "fec0::1"}) {
    EXPECT_NE(redact_address(go), go) << go;
    EXPECT_FALSE(is_private_address(go)) << go;
  }
  EXPECT_TRUE(is_private_address("192.168.1.10"));
  EXPECT_FALSE(is_private_address("reflector.example.net"));
}

TEST(RedactText, ReplacesAddressesInsideSentences) {
  const std::string t = redact_address(kPublic);
  EXPECT_EQ(redact_text("from " + kPublic + ":50000, answered"), "from " + t + ":50000, answered");
  EXPECT_EQ(redact_text("seen as " + kPublic + "."), "seen as " + t + ".");
  EXPECT_EQ(redact_text("(" + kPublic + ")"), "(" + t + ")");
  EXPECT_EQ(redact_text("[" + kPublicV6 + "]:443"), "[" + redact_address(kPublicV6) + "]:443");
  EXPECT_EQ(redact_text("source address 192.168.1.10 -> " + kPublic),
            "source address 192.168.1.10 -> " + t);
}

TEST(RedactText, LeavesThingsThatAreNotAddresses) {
  for (std::string keep : {"at 12:00:00Z", "version 0.1.0", "TCP 443, UDP 51820", "deadbeef", "cafe:babe",
                           "1.2.3.4.5 is no address", "v1.2.3.4", "sha 203.0.113.7abc", "ratio 1:2"}) {
    EXPECT_EQ(redact_text(keep), keep) << keep;
  }
}

TEST(RedactText, IsIdempotent) {
  const std::string once = redact_text("a " + kPublic + " b [" + kPublicV6 + "]:1 c " + kReflector);
  EXPECT_EQ(redact_text(once), once);
}

TEST(Redact, PublicAddressesAreGoneFromEveryForm) {
  const Report original = report_with_addresses_everywhere();
  // The planted addresses really are in the unredacted output ...
  const std::string before = render_all(original);
  for (const auto& a : {kPublic, kReflector, kPublicV6}) ASSERT_TRUE(contains(before, a)) << a;
  // ... and nowhere after redaction, in any form.
  const Report redacted = redact(original);
  const std::string after = render_all(redacted);
  for (const auto& a : {kPublic, kReflector, kPublicV6, std::string("2001:db8")})
    EXPECT_FALSE(contains(after, a)) << a << " still in:\n" << after;
  for (const auto& a : {kPublic, kReflector, kPublicV6})
    EXPECT_TRUE(contains(after, redact_address(a))) << redact_address(a) << " not in:\n" << after;
}

TEST(Redact, EvidenceAndModificationsCarryTheSameToken) {
  const Report redacted = redact(realistic_report());
  const auto doc = to_report_json(redacted);
  const std::string token = redact_address(kPublic);
  EXPECT_EQ(doc.at("client").at("public_address"), token);
  EXPECT_EQ(doc.at("redacted"), true);
  std::size_t checked = 0;
  for (const auto& protocol : doc.at("protocols"))
    for (const auto& probe : protocol.at("probes")) {
      if (probe.at("translation").is_null()) continue;
      ++checked;
      EXPECT_EQ(probe.at("translation").at("observed_as").at("address"), token);
      EXPECT_TRUE(contains(probe.at("evidence").get<std::string>(), "from " + token + ":")) << probe.at("evidence");
      bool in_modifications = false;
      for (const auto& m : probe.at("modifications"))
        in_modifications = in_modifications || m.get<std::string>() == "source address 192.168.1.10 -> " + token;
      EXPECT_TRUE(in_modifications) << probe.at("modifications");
    }
  EXPECT_GT(checked, 0U);
}

TEST(Redact, PrivateAndHostNamesStay) {
  const Report redacted = redact(realistic_report());
  EXPECT_EQ(redacted.local_address, std::string(fixtures::kLocalAddress));
  EXPECT_EQ(redacted.reflector_host, "reflector.example.net");
  EXPECT_EQ(redacted.reflector_address, redact_address(kReflector));
  const auto doc = to_report_json(redacted);
  for (const auto& protocol : doc.at("protocols"))
    for (const auto& probe : protocol.at("probes")) {
      if (!probe.at("translation").is_object()) continue;
      EXPECT_EQ(probe.at("translation").at("sent_from").at("address"), std::string(fixtures::kLocalAddress));
    }
}

// Translation facts of every probe in `a` and `b`, side by side.
void expect_same_translation_facts(const Report& a, const Report& b) {
  ASSERT_EQ(a.protocols.size(), b.protocols.size());
  for (std::size_t i = 0; i < a.protocols.size(); ++i) {
    ASSERT_EQ(a.protocols[i].probes.size(), b.protocols[i].probes.size());
    EXPECT_EQ(a.protocols[i].verdict, b.protocols[i].verdict);
    EXPECT_EQ(a.protocols[i].findings, b.protocols[i].findings);
    for (std::size_t j = 0; j < a.protocols[i].probes.size(); ++j) {
      auto ta = translate(a.protocols[i].probes[j]);
      auto tb = translate(b.protocols[i].probes[j]);
      ASSERT_EQ(ta.has_value(), tb.has_value());
      if (!ta) continue;
      SCOPED_TRACE(a.protocols[i].probes[j].probe.name());
      EXPECT_EQ(ta->address_translated, tb->address_translated);
      EXPECT_EQ(ta->port_translated, tb->port_translated);
      EXPECT_EQ(ta->payload_modified, tb->payload_modified);
      EXPECT_EQ(ta->ttl_at_reflector, tb->ttl_at_reflector);
      EXPECT_EQ(ta->modifications.size(), tb->modifications.size());
    }
  }
  const auto ja = to_report_json(a);
  const auto jb = to_report_json(b);
  EXPECT_EQ(ja.at("client").at("behind_nat"), jb.at("client").at("behind_nat"));
  EXPECT_EQ(ja.at("nat"), jb.at("nat"));
  EXPECT_EQ(ja.at("exit_code"), jb.at("exit_code"));
}

TEST(Redact, TranslationFactsUnchangedBehindNat) {
  const Report original = realistic_report();
  ASSERT_EQ(original.behind_nat, true);
  expect_same_translation_facts(original, redact(original));
}

TEST(Redact, TranslationFactsUnchangedWithoutNat) {
  // A machine with a public address of its own: sent from and observed as are
  // the same public address, so both must get the same token.
  Report r = realistic_report();
  for (auto& protocol : r.protocols)
    for (auto& p : protocol.probes)
      if (p.client.local) p.client.local->address = kPublic;
  bool any_untranslated = false;
  for (auto& protocol : r.protocols)
    for (auto& p : protocol.probes)
      if (auto t = translate(p)) any_untranslated = any_untranslated || !t->address_translated;
  ASSERT_TRUE(any_untranslated);
  const Report redacted = redact(r);
  expect_same_translation_facts(r, redacted);
  EXPECT_FALSE(contains(render_all(redacted), kPublic));
}

TEST(Redact, ErrorReportIsRedactedToo) {
  Report r = fixtures::error_report();
  r.reflector_host = kReflector;
  r.error = "could not open a session with the reflector at " + kReflector + ": TCP 8780 timed out";
  const Report redacted = redact(r);
  EXPECT_FALSE(contains(render_all(redacted), kReflector));
  EXPECT_EQ(redacted.exit_code, ExitCode::could_not_test);
  EXPECT_TRUE(redacted.redacted);
}

TEST(Redact, UnredactedReportSaysSo) {
  EXPECT_FALSE(realistic_report().redacted);
  EXPECT_EQ(to_report_json(realistic_report()).at("redacted"), false);
}

}  // namespace
}  // namespace vpncheck::client
