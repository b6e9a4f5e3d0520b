// How each report form names a captive portal: the line for a run that went
// on through one, the evidence under an error a portal caused, and nothing
// when there was none.
#include <gtest/gtest.h>

#include <sstream>

#include "report_fixtures.h"
#include "src/report/junit_report.h"
#include "src/report/markdown_report.h"
#include "src/report/text_report.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;

constexpr std::string_view kLogin = "http://192.168.1.1:8081/login";

CaptivePortal portal() {
  return {true, std::string(kLogin), "plain web traffic (TCP 80) to the reflector was redirected (HTTP 302) to " +
                                         std::string(kLogin) + " instead of reaching it."};
}

// A run a portal stopped: the error is the portal's, the evidence follows.
Report stopped_by_portal() {
  Report r = fixtures::error_report();
  r.captive_portal = portal();
  r.error = captive_portal_error(*r.captive_portal);
  return r;
}

// A run that went on through a portal intercepting only the web.
Report through_portal() {
  Report r = fixtures::realistic_report();
  r.captive_portal = portal();
  return r;
}

std::string text(const Report& r) {
  std::ostringstream out;
  write_text_report(out, r, {false, false});
  return out.str();
}
std::string markdown(const Report& r) {
  std::ostringstream out;
  write_markdown_report(out, r);
  return out.str();
}
std::string junit(const Report& r) {
  std::ostringstream out;
  write_junit_report(out, r);
  return out.str();
}

TEST(CaptivePortalReport, APortalThatStoppedTheRunIsTheErrorWithItsEvidence) {
  auto t = text(stopped_by_portal());
  EXPECT_TRUE(contains(t, "Could not test: A captive portal intercepts this network's web traffic (login page: " +
                              std::string(kLogin) + ")"))
      << t;
  EXPECT_TRUE(contains(t, "Captive portal: plain web traffic (TCP 80) to the reflector was redirected")) << t;
  EXPECT_FALSE(contains(t, "The verdicts below")) << "there are no verdicts below";
  auto md = markdown(stopped_by_portal());
  EXPECT_TRUE(contains(md, "**Could not test:** A captive portal intercepts")) << md;
  EXPECT_TRUE(contains(md, "Captive portal: plain web traffic")) << md;
  auto xml = junit(stopped_by_portal());
  EXPECT_TRUE(contains(xml, "<property name=\"captive_portal.detected\" value=\"true\"/>")) << xml;
  EXPECT_TRUE(contains(xml, "<property name=\"captive_portal.login_url\" value=\"" + std::string(kLogin) + "\"/>"));
  EXPECT_TRUE(contains(xml, "could not test: A captive portal intercepts")) << xml;
}

TEST(CaptivePortalReport, ARunThroughAPortalNamesItAndItsLoginPage) {
  auto t = text(through_portal());
  EXPECT_TRUE(contains(t, "Captive portal: ")) << t;
  EXPECT_TRUE(contains(t, "Its login page is " + std::string(kLogin) + ".")) << t;
  EXPECT_TRUE(contains(t, "measured through it")) << t;
  EXPECT_TRUE(contains(t, "PROTOCOL")) << "the verdicts carry on";
  EXPECT_TRUE(contains(markdown(through_portal()), "> **Note:** Captive portal: "));
}

TEST(CaptivePortalReport, NoPortalOrAnUnknownOneGetsNoLine) {
  for (std::optional<bool> detected : {std::optional<bool>(false), std::optional<bool>()}) {
    Report r = fixtures::realistic_report();
    r.captive_portal = CaptivePortal{detected, std::nullopt, "the reflector's own answer came back."};
    EXPECT_FALSE(contains(text(r), "aptive portal"));
    EXPECT_FALSE(contains(markdown(r), "aptive portal"));
    EXPECT_EQ(captive_portal_line(r), std::nullopt);
    EXPECT_TRUE(contains(junit(r), std::string("<property name=\"captive_portal.detected\" value=\"") +
                                       (detected ? "false" : "unknown") + "\"/>"));
  }
}

}  // namespace
}  // namespace vpncheck::client
