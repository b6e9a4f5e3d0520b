#include "src/report/html_report.h"

#include <gtest/gtest.h>

#include <regex>

#include "client_fixtures.h"
#include "report_fixtures.h"
#include "src/report/json_report.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;

std::string page(const Report& r) { return render_html_report(to_report_json(r)); }

TEST(HtmlEscape, EveryMarkupCharacter) {
  EXPECT_EQ(html_escape("<a href=\"x\">Tom & 'Jerry'</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;");
  EXPECT_EQ(html_escape("→ plain — text"), "→ plain — text");
  EXPECT_EQ(html_escape("bad \xff byte"), "bad \xEF\xBF\xBD byte");  // U+FFFD, never a broken sequence
}

TEST(HtmlReport, EveryProtocolWithVerdictSummaryAdviceAndEvidence) {
  const Report r = fixtures::realistic_report();
  const auto html = page(r);
  for (const auto& a : r.protocols) {
    EXPECT_TRUE(contains(html, html_escape(a.module->title))) << a.module->title;
    EXPECT_TRUE(contains(html, "<span class=\"badge " + std::string(to_string(a.verdict)) + "\">")) << html;
    EXPECT_TRUE(contains(html, html_escape(a.summary))) << a.summary;
    for (const auto& advice : a.advice) EXPECT_TRUE(contains(html, "<li>" + html_escape(advice) + "</li>")) << advice;
    for (const auto& p : a.probes) EXPECT_TRUE(contains(html, html_escape(p.probe.name()))) << p.probe.name();
  }
}

TEST(HtmlReport, DrawsThePathWithAddressesAndWhereItStopped) {
  const auto html = page(fixtures::realistic_report());
  EXPECT_TRUE(contains(html, "<svg")) << html;
  EXPECT_TRUE(contains(html, ">This computer</text>")) << html;
  EXPECT_TRUE(contains(html, ">192.168.1.10</text>")) << html;
  EXPECT_TRUE(contains(html, ">Router (NAT)</text>")) << html;
  EXPECT_TRUE(contains(html, ">public 203.0.113.7</text>")) << html;
  EXPECT_TRUE(contains(html, ">Reflector</text>")) << html;
  EXPECT_TRUE(contains(html, ">reflector.example.net</text>")) << html;
  // WireGuard never arrived; OpenVPN's UDP 1194 arrived and its answer was lost; TCP 443 worked.
  EXPECT_TRUE(contains(html, "did not reach the reflector")) << html;
  EXPECT_TRUE(contains(html, "answer lost on the way back")) << html;
  EXPECT_TRUE(contains(html, "the answer came back")) << html;
  EXPECT_TRUE(contains(html, ">not run</text>")) << html;  // the reflector does not listen on UDP 53
  EXPECT_TRUE(contains(html, ">UDP 51820 · IPv4</text>")) << html;
}

TEST(HtmlReport, NetworkStringsAreEscapedEverywhere) {
  Report r = fixtures::realistic_report();
  const std::string hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&";
  r.reflector_host = hostile;
  r.reflector_version = hostile;
  r.protocols[0].summary = hostile;
  r.protocols[0].advice.push_back(hostile);
  r.protocols[0].probes[0].client.detail = hostile;
  r.public_address = hostile;
  const auto html = page(r);
  EXPECT_FALSE(contains(html, "<script")) << html;
  EXPECT_FALSE(contains(html, "<img")) << html;
  EXPECT_TRUE(contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&apos;&amp;"))
      << html;
}

TEST(HtmlReport, FetchesNothing) {
  for (const auto& html : {page(fixtures::realistic_report()), page(fixtures::dual_stack_report()),
                           page(fixtures::error_report())}) {
    EXPECT_FALSE(contains(html, "src=")) << html;
    EXPECT_FALSE(contains(html, "href=")) << html;
    EXPECT_FALSE(contains(html, "@import")) << html;
    EXPECT_FALSE(contains(html, "<link")) << html;
    EXPECT_FALSE(contains(html, "<script")) << html;
    // The only URL is the SVG namespace name (an identifier, never fetched); url() only to #ids in the page.
    const std::regex url(R"((https?:)?//[^\s"'<>]+)");
    for (auto it = std::sregex_iterator(html.begin(), html.end(), url); it != std::sregex_iterator(); ++it)
      EXPECT_EQ(it->str(), "http://www.w3.org/2000/svg") << html;
    const std::regex css_url(R"(url\(([^)]*)\))");
    for (auto it = std::sregex_iterator(html.begin(), html.end(), css_url); it != std::sregex_iterator(); ++it)
      EXPECT_EQ((*it)[1].str().front(), '#') << it->str();
    EXPECT_TRUE(contains(html, "Content-Security-Policy\" content=\"default-src 'none'")) << html;
  }
}

TEST(HtmlReport, AFamilyThatDisagreesIsShown) {
  const auto r = fixtures::dual_stack_report();
  const auto html = page(r);
  EXPECT_TRUE(contains(html, "IPv6: <span class=\"badge blocked\">blocked</span>")) << html;
  EXPECT_TRUE(contains(html, "· IPv6</text>")) << html;
}

TEST(HtmlReport, CouldNotTestSaysSoAndShowsNoVerdicts) {
  const auto html = page(fixtures::error_report());
  EXPECT_TRUE(contains(html, "Could not test")) << html;
  EXPECT_TRUE(contains(html, html_escape(*fixtures::error_report().error))) << html;
  EXPECT_FALSE(contains(html, "<section")) << html;
  EXPECT_FALSE(contains(html, "<span class=\"badge")) << html;  // no verdict at all
}

}  // namespace
}  // namespace vpncheck::client
