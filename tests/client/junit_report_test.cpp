// The JUnit XML report: rendered from the fixture reports and parsed back with
// Python's xml.etree (no XML parser in the C++ dependencies), so what is
// checked is what a CI system's parser sees, not the bytes we meant to write.
#include "src/report/junit_report.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "client_fixtures.h"
#include "report_fixtures.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;
using fixtures::error_report;
using fixtures::realistic_report;
using nlohmann::json;

// Parses argv[1] as XML and writes the element tree as JSON to argv[2]:
// {tag, attrib, text, children}. Exit 1 with the parser's message if the XML
// is not well-formed. No single quotes: it is passed to the shell quoted.
constexpr const char* kXmlToJson =
    "import json, sys\n"
    "import xml.etree.ElementTree as ET\n"
    "try:\n"
    "    root = ET.parse(sys.argv[1]).getroot()\n"
    "except ET.ParseError as e:\n"
    "    print(\"not well-formed: \" + str(e))\n"
    "    sys.exit(1)\n"
    "def tree(e):\n"
    "    return {\"tag\": e.tag, \"attrib\": dict(e.attrib), \"text\": e.text or \"\",\n"
    "            \"children\": [tree(c) for c in e]}\n"
    "json.dump(tree(root), open(sys.argv[2], \"w\"))\n";

struct Parsed {
  enum class Status { ok, malformed, unavailable } status = Status::unavailable;
  json tree;
  std::string output;
};

std::filesystem::path temp_path(const std::string& suffix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string("vpncheck_junit_") + std::to_string(::getpid()) + "_" +
                     (info ? std::string(info->name()) : std::string("x")) + suffix;
  return std::filesystem::temp_directory_path() / name;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Parsed parse_xml(const std::string& xml) {
  Parsed p;
  const auto xml_path = temp_path(".xml");
  const auto json_path = temp_path(".json");
  const auto out_path = temp_path(".out");
  {
    std::ofstream out(xml_path, std::ios::binary);
    out << xml;
  }
  const std::string command = std::string("python3 -c '") + kXmlToJson + "' '" + xml_path.string() + "' '" +
                              json_path.string() + "' >'" + out_path.string() + "' 2>&1";
  const int raw = std::system(command.c_str());
  const int code = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  p.output = slurp(out_path);
  if (code == 0) {
    p.tree = json::parse(slurp(json_path), nullptr, false);
    p.status = p.tree.is_discarded() ? Parsed::Status::unavailable : Parsed::Status::ok;
  } else if (code == 1) {
    p.status = Parsed::Status::malformed;
  } else {
    p.output = code == 127 ? "python3 is not installed" : "parser failed (exit " + std::to_string(code) + "): " + p.output;
  }
  for (const auto& path : {xml_path, json_path, out_path}) std::filesystem::remove(path);
  return p;
}

std::string render(const Report& r) {
  std::ostringstream out;
  write_junit_report(out, r);
  return out.str();
}

// Declares `var`: `report` rendered and parsed back; skips the test without python3.
#define PARSE_JUNIT(var, report)                                                            \
  json var;                                                                                  \
  do {                                                                                       \
    auto parsed_ = parse_xml(render(report));                                                \
    if (parsed_.status == Parsed::Status::unavailable) GTEST_SKIP() << parsed_.output;       \
    ASSERT_EQ(parsed_.status, Parsed::Status::ok) << parsed_.output << "\n" << render(report); \
    var = parsed_.tree;                                                                      \
  } while (false)

std::vector<json> children_tagged(const json& element, std::string_view tag) {
  std::vector<json> out;
  for (const auto& c : element.at("children"))
    if (c.at("tag") == tag) out.push_back(c);
  return out;
}

// ---- xml_escape -----------------------------------------------------------

TEST(JunitXmlEscape, EscapesMarkupCharacters) {
  EXPECT_EQ(xml_escape(R"(<a href="x" title='y'>&amp;</a>)"),
            "&lt;a href=&quot;x&quot; title=&apos;y&apos;&gt;&amp;amp;&lt;/a&gt;");
  EXPECT_EQ(xml_escape("plain text, 42 ms"), "plain text, 42 ms");
}

TEST(JunitXmlEscape, ControlCharactersNeverAppearRaw) {
  // XML 1.0 allows no C0 control but tab, LF and CR, not even as &#1;.
  constexpr char kRaw[] = "a\x01" "b\x1b[31mc\x7f" "d\0e";  // NUL inside
  const std::string escaped = xml_escape(std::string(kRaw, sizeof kRaw - 1));
  EXPECT_EQ(escaped, "a\uFFFDb\uFFFD[31mc\x7f" "d\uFFFDe");
  for (char c : escaped) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20) << int(c);
  EXPECT_FALSE(contains(escaped, "&#1;"));
}

TEST(JunitXmlEscape, WhitespaceKeptLiterallyInTextAndAsReferencesInAttributes) {
  EXPECT_EQ(xml_escape("a\tb\nc\rd", XmlContext::attribute), "a&#9;b&#10;c&#13;d");
  EXPECT_EQ(xml_escape("a\tb\nc\rd", XmlContext::text), "a\tb\nc&#13;d");
}

TEST(JunitXmlEscape, InvalidUtf8AndNonCharactersBecomeReplacementCharacters) {
  EXPECT_EQ(xml_escape("ok \xC3\xA9 \xE2\x86\x92"), "ok \xC3\xA9 \xE2\x86\x92");  // é → kept
  EXPECT_EQ(xml_escape("x\xFFy"), "x\uFFFDy");                                  // stray byte
  EXPECT_EQ(xml_escape("x\xC3"), "x\uFFFD");                                    // truncated sequence
  EXPECT_EQ(xml_escape("x\xC0\xAFy"), "x\uFFFD\uFFFDy");                        // overlong '/'
  EXPECT_EQ(xml_escape("x\xED\xA0\x80y"), "x\uFFFD\uFFFD\uFFFDy");              // UTF-16 surrogate
  EXPECT_EQ(xml_escape("x\xEF\xBF\xBFy"), "x\uFFFDy");                          // U+FFFF
}

// ---- the document, parsed back ----------------------------------------------

TEST(JunitReport, ParserRejectsMalformedXml) {
  // Proves the parsing below is not vacuous.
  auto parsed = parse_xml("<testsuite><testcase></testsuite>");
  if (parsed.status == Parsed::Status::unavailable) GTEST_SKIP() << parsed.output;
  EXPECT_EQ(parsed.status, Parsed::Status::malformed) << parsed.output;
}

TEST(JunitReport, OneTestsuiteWithOneTestcasePerProtocol) {
  const Report r = realistic_report();
  PARSE_JUNIT(suite, r);
  EXPECT_EQ(suite.at("tag"), "testsuite");
  const json& a = suite.at("attrib");
  EXPECT_EQ(a.at("name"), "vpncheck");
  EXPECT_EQ(a.at("tests"), "2");
  EXPECT_EQ(a.at("failures"), "2");  // wireguard blocked, openvpn restricted
  EXPECT_EQ(a.at("errors"), "0");
  EXPECT_EQ(a.at("skipped"), "0");
  EXPECT_EQ(a.at("time"), "3.012");
  auto cases = children_tagged(suite, "testcase");
  ASSERT_EQ(cases.size(), 2U);
  EXPECT_EQ(cases[0].at("attrib").at("classname"), "vpncheck.wireguard");
  EXPECT_EQ(cases[0].at("attrib").at("name"), "wireguard");
  EXPECT_EQ(cases[1].at("attrib").at("classname"), "vpncheck.openvpn");
  EXPECT_EQ(cases[1].at("attrib").at("name"), "openvpn");
}

TEST(JunitReport, FailureCarriesVerdictSummaryAdviceAndFindings) {
  const Report r = realistic_report();
  PARSE_JUNIT(suite, r);
  auto cases = children_tagged(suite, "testcase");
  ASSERT_EQ(cases.size(), 2U);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const ProtocolAssessment& a = r.protocols[i];
    const std::string verdict(to_string(a.verdict));
    SCOPED_TRACE(verdict);
    auto failures = children_tagged(cases[i], "failure");
    ASSERT_EQ(failures.size(), 1U) << cases[i];
    EXPECT_EQ(failures[0].at("attrib").at("type"), verdict);
    EXPECT_EQ(failures[0].at("attrib").at("message"), verdict + ": " + a.summary);
    const std::string text = failures[0].at("text");
    EXPECT_TRUE(contains(text, a.summary)) << text;
    ASSERT_FALSE(a.advice.empty());
    for (const auto& line : a.advice) EXPECT_TRUE(contains(text, line)) << line << "\nnot in:\n" << text;
    for (const auto& f : a.findings) EXPECT_TRUE(contains(text, f)) << f << "\nnot in:\n" << text;
  }
  EXPECT_TRUE(contains(children_tagged(cases[0], "failure")[0].at("text").get<std::string>(), "signature_blocking"));
  // wireguard is --require'd in the fixture, openvpn is not.
  EXPECT_TRUE(contains(children_tagged(cases[0], "failure")[0].at("text").get<std::string>(), "--require"));
  EXPECT_FALSE(contains(children_tagged(cases[1], "failure")[0].at("text").get<std::string>(), "--require"));
}

TEST(JunitReport, PassIsATestcaseWithoutFailure) {
  Report r = realistic_report();
  r.protocols[1].verdict = Verdict::pass;
  PARSE_JUNIT(suite, r);
  EXPECT_EQ(suite.at("attrib").at("failures"), "1");
  auto cases = children_tagged(suite, "testcase");
  ASSERT_EQ(cases.size(), 2U);
  EXPECT_EQ(cases[1].at("attrib").at("name"), "openvpn");
  EXPECT_TRUE(cases[1].at("children").empty()) << cases[1];
}

TEST(JunitReport, InconclusiveIsSkipped) {
  Report r = realistic_report();
  r.protocols[1].verdict = Verdict::inconclusive;
  r.protocols[1].summary = "Not tested: the reflector has no OpenVPN listener.";
  PARSE_JUNIT(suite, r);
  EXPECT_EQ(suite.at("attrib").at("tests"), "2");
  EXPECT_EQ(suite.at("attrib").at("failures"), "1");
  EXPECT_EQ(suite.at("attrib").at("skipped"), "1");
  auto cases = children_tagged(suite, "testcase");
  ASSERT_EQ(cases.size(), 2U);
  EXPECT_TRUE(children_tagged(cases[1], "failure").empty());
  auto skipped = children_tagged(cases[1], "skipped");
  ASSERT_EQ(skipped.size(), 1U) << cases[1];
  EXPECT_EQ(skipped[0].at("attrib").at("message"), "inconclusive: Not tested: the reflector has no OpenVPN listener.");
}

TEST(JunitReport, EveryNonPassVerdictIsAFailureOfItsType) {
  Report r = realistic_report();
  for (auto v : {Verdict::restricted, Verdict::outbound_only, Verdict::blocked, Verdict::modified}) {
    r.protocols[0].verdict = v;
    SCOPED_TRACE(std::string(to_string(v)));
    PARSE_JUNIT(suite, r);
    auto failures = children_tagged(children_tagged(suite, "testcase").at(0), "failure");
    ASSERT_EQ(failures.size(), 1U);
    EXPECT_EQ(failures[0].at("attrib").at("type"), std::string(to_string(v)));
  }
}

TEST(JunitReport, CouldNotTestIsOneReflectorError) {
  const Report r = error_report();
  PARSE_JUNIT(suite, r);
  const json& a = suite.at("attrib");
  EXPECT_EQ(a.at("tests"), "1");
  EXPECT_EQ(a.at("errors"), "1");
  EXPECT_EQ(a.at("failures"), "0");  // never "everything blocked"
  EXPECT_EQ(a.at("skipped"), "0");
  auto cases = children_tagged(suite, "testcase");
  ASSERT_EQ(cases.size(), 1U);
  EXPECT_EQ(cases[0].at("attrib").at("name"), "reflector");
  EXPECT_EQ(cases[0].at("attrib").at("classname"), "vpncheck.reflector");
  auto errors = children_tagged(cases[0], "error");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].at("attrib").at("type"), "could_not_test");
  EXPECT_TRUE(contains(errors[0].at("attrib").at("message").get<std::string>(), "could not open a session"));
  EXPECT_TRUE(contains(errors[0].at("text").get<std::string>(), "TCP 443: connection refused"));
}

TEST(JunitReport, HostileTextStaysWellFormedAndRoundTrips) {
  Report r = realistic_report();
  r.protocols[0].summary = "a<b>&\"c\" 'd'\tTAB\x01\x1b" "end";
  r.protocols[0].advice = {"line one\nline two", "]]> <!-- & -->"};
  r.reflector_host = "ref\xFFlector";
  PARSE_JUNIT(suite, r);
  auto failures = children_tagged(children_tagged(suite, "testcase").at(0), "failure");
  ASSERT_EQ(failures.size(), 1U);
  EXPECT_EQ(failures[0].at("attrib").at("message"), "blocked: a<b>&\"c\" 'd'\tTAB\uFFFD\uFFFDend");
  const std::string text = failures[0].at("text");
  EXPECT_TRUE(contains(text, "line one\nline two")) << text;
  EXPECT_TRUE(contains(text, "]]> <!-- & -->")) << text;
}

TEST(JunitReport, PropertiesNameTheReflectorAndNat) {
  const Report r = realistic_report();
  PARSE_JUNIT(suite, r);
  auto properties = children_tagged(suite, "properties");
  ASSERT_EQ(properties.size(), 1U);
  std::map<std::string, std::string> values;
  for (const auto& p : children_tagged(properties[0], "property"))
    values[p.at("attrib").at("name")] = p.at("attrib").at("value");
  EXPECT_EQ(values["reflector.host"], "reflector.example.net");
  EXPECT_EQ(values["client.public_address"], std::string(fixtures::kPublicAddress));
  EXPECT_EQ(values["client.behind_nat"], "true");
  EXPECT_EQ(values["exit_code"], "1");
  EXPECT_EQ(values["redacted"], "false");
}

TEST(JunitReport, ReflectorLimitsAreAPropertyAndInTheTestcasesText) {
  const Report r = fixtures::rate_limited_report();
  PARSE_JUNIT(suite, r);
  std::map<std::string, std::string> values;
  for (const auto& p : children_tagged(children_tagged(suite, "properties").at(0), "property"))
    values[p.at("attrib").at("name")] = p.at("attrib").at("value");
  EXPECT_TRUE(values["reflector.limits"].starts_with("rate limit: 6 answers withheld")) << values["reflector.limits"];
  auto cases = children_tagged(suite, "testcase");
  ASSERT_EQ(cases.size(), 2U);
  auto skipped = children_tagged(cases[0], "skipped");
  ASSERT_EQ(skipped.size(), 1U) << cases[0];
  const std::string message = skipped[0].at("attrib").at("message");
  EXPECT_TRUE(message.starts_with("inconclusive: ")) << message;
  EXPECT_TRUE(fixtures::contains(message, "the reflector limited its answers (rate limit: 3 answers withheld)"))
      << message;
  const std::string text = skipped[0].at("text");
  EXPECT_TRUE(fixtures::contains(text, "finding: reflector_limited")) << text;
  EXPECT_TRUE(fixtures::contains(text, "reflector limited its answers: rate limit: 6 answers withheld")) << text;
}

TEST(JunitReport, DualStackNamesEachFamilysVerdict) {
  // IPv4 passes (the testcase passes, as the exit code does) but IPv6 is
  // restricted: the testcase's output says so instead of hiding it.
  std::ostringstream out;
  write_junit_report(out, fixtures::dual_stack_report());
  const std::string xml = out.str();
  auto wg = xml.find("name=\"wireguard\"");
  ASSERT_NE(wg, std::string::npos) << xml;
  auto end = xml.find("</testcase>", wg);
  ASSERT_NE(end, std::string::npos) << xml;
  const std::string testcase = xml.substr(wg, end - wg);
  EXPECT_NE(testcase.find("<system-out>"), std::string::npos) << testcase;
  EXPECT_NE(testcase.find("IPv4: pass - "), std::string::npos) << testcase;
  EXPECT_NE(testcase.find("IPv6: restricted - "), std::string::npos) << testcase;
  EXPECT_EQ(testcase.find("<failure"), std::string::npos) << testcase;
}

}  // namespace
}  // namespace vpncheck::client
