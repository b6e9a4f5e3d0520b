// The captive-portal decision on synthetic HTTP answers: the reflector's
// token echo is the only "no portal"; redirects, pages and faked successes
// are a portal; silence and the reflector's own errors decide nothing.
#include <gtest/gtest.h>

#include "src/verdict/captive_portal.h"

namespace vpncheck::client {
namespace {

constexpr std::string_view kToken = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
constexpr std::string_view kUrl = "http://198.51.100.7/v1/challenge/9f8e7d6c5b4a39281706f5e4d3c2b1a0";

WebAnswer answer(unsigned status, std::string body, std::string content_type = "text/html", std::string location = {}) {
  WebAnswer a;
  a.answered = true;
  a.status = status;
  a.body = std::move(body);
  a.content_type = std::move(content_type);
  a.location = std::move(location);
  return a;
}

CaptivePortal classify(const WebAnswer& a, ChallengeSupport support = ChallengeSupport::unknown) {
  return classify_web_answer(a, kToken, kUrl, support);
}

TEST(CaptivePortal, TheReflectorsTokenEchoMeansNoPortal) {
  auto p = classify(answer(200, R"({"challenge":"9f8e7d6c5b4a39281706f5e4d3c2b1a0"})", "application/json"));
  ASSERT_TRUE(p.detected.has_value());
  EXPECT_FALSE(*p.detected);
  EXPECT_FALSE(p.login_url);
}

TEST(CaptivePortal, AWrongTokenIsAPortalNotTheReflector) {
  auto p = classify(answer(200, R"({"challenge":"00000000000000000000000000000000"})", "application/json"));
  ASSERT_TRUE(p.detected.has_value());
  EXPECT_TRUE(*p.detected);
}

TEST(CaptivePortal, ARedirectNamesItsTargetAsTheLoginPage) {
  auto p = classify(answer(302, "", "text/html", "http://192.168.1.1:8081/login?orig=x"));
  ASSERT_EQ(p.detected, std::optional<bool>(true));
  EXPECT_EQ(p.login_url, std::optional<std::string>("http://192.168.1.1:8081/login?orig=x"));
  EXPECT_NE(p.evidence.find("redirected (HTTP 302) to http://192.168.1.1:8081/login"), std::string::npos) << p.evidence;
}

TEST(CaptivePortal, ARelativeRedirectIsResolvedAgainstTheRequestedHost) {
  auto p = classify(answer(307, "", "", "/portal/login"));
  EXPECT_EQ(p.login_url, std::optional<std::string>("http://198.51.100.7/portal/login"));
  p = classify(answer(302, "", "", "login?next=http://198.51.100.7/"));
  EXPECT_EQ(p.login_url, std::optional<std::string>("http://198.51.100.7/login?next=http://198.51.100.7/"))
      << "a colon in the query is no scheme";
  p = classify(answer(301, "", "", "//portal.example/x"));
  EXPECT_EQ(p.login_url, std::optional<std::string>("http://portal.example/x"));
}

TEST(CaptivePortal, ARedirectWithoutLocationIsStillAPortal) {
  auto p = classify(answer(302, "", ""));
  EXPECT_EQ(p.detected, std::optional<bool>(true));
  EXPECT_FALSE(p.login_url);
}

TEST(CaptivePortal, ALocationWithControlCharactersIsCutAtThem) {
  auto p = classify(answer(302, "", "", "http://portal.example/login\x1b]0;owned\x07"));
  EXPECT_EQ(p.login_url, std::optional<std::string>("http://portal.example/login"));
  p = classify(answer(302, "", "", "javascript:alert(1)"));
  EXPECT_FALSE(p.login_url);
  EXPECT_EQ(p.detected, std::optional<bool>(true));
  p = classify(answer(302, "", "", "http://portal.example/" + std::string(600, 'a')));
  EXPECT_FALSE(p.login_url) << "an overlong URL is not shown";
}

TEST(CaptivePortal, APageInPlaceOfTheAnswerIsAPortalWithItsLinkFound) {
  auto p = classify(answer(200, R"(<html><head><META HTTP-EQUIV="Refresh" CONTENT="0; URL=https://wifi.hotel.example/login?a=1&amp;b=2"></head></html>)"));
  EXPECT_EQ(p.detected, std::optional<bool>(true));
  EXPECT_EQ(p.login_url, std::optional<std::string>("https://wifi.hotel.example/login?a=1&b=2"));
  EXPECT_NE(p.evidence.find("a web page (HTTP 200"), std::string::npos) << p.evidence;
}

TEST(CaptivePortal, AFormActionOrAnAbsoluteLinkIsTheLoginPage) {
  EXPECT_EQ(login_url_from_html(R"(<body><form method="post" action="/auth">)", kUrl), "http://198.51.100.7/auth");
  EXPECT_EQ(login_url_from_html(R"(<p><a class=x href='#top'>top</a> <a href="https://login.example/">log in</a>)", kUrl),
            "https://login.example/");
  EXPECT_EQ(login_url_from_html("<html><body>Welcome</body></html>", kUrl), "");
  EXPECT_EQ(login_url_from_html("<meta http-equiv=refresh content=\"5;url=", kUrl), "") << "truncated page";
  EXPECT_EQ(login_url_from_html("<formx action=\"/no\">", kUrl), "") << "not a form tag";
}

TEST(CaptivePortal, NetworkAuthenticationRequiredIsAPortal) {
  auto p = classify(answer(511, R"(<html><a href="http://portal.example/login">Log in</a></html>)"));
  EXPECT_EQ(p.detected, std::optional<bool>(true));
  EXPECT_EQ(p.login_url, std::optional<std::string>("http://portal.example/login"));
  EXPECT_NE(p.evidence.find("511"), std::string::npos);
}

TEST(CaptivePortal, AFaked204WithoutTheTokenIsAPortal) {
  auto p = classify(answer(204, "", ""));
  EXPECT_EQ(p.detected, std::optional<bool>(true));
  EXPECT_NE(p.evidence.find("204"), std::string::npos);
}

TEST(CaptivePortal, TheReflectorsOwnErrorDecidesNothing) {
  // An older reflector without the challenge, or a busy one.
  auto p = classify(answer(404, R"({"error":"no such resource: /v1/challenge/x"})", "application/json"));
  EXPECT_FALSE(p.detected.has_value());
  EXPECT_NE(p.evidence.find("older reflector"), std::string::npos) << p.evidence;
  p = classify(answer(503, R"({"error":"session table full"})", "application/json"), ChallengeSupport::yes);
  EXPECT_FALSE(p.detected.has_value());
}

TEST(CaptivePortal, AnErrorPageIsAPortalButABareErrorIsNot) {
  EXPECT_EQ(classify(answer(403, "<!DOCTYPE html><title>Blocked</title>", "")).detected, std::optional<bool>(true));
  EXPECT_FALSE(classify(answer(400, "bad request", "text/plain")).detected.has_value());
}

TEST(CaptivePortal, SilenceDecidesNothingAndARefusalMeansNoPortal) {
  WebAnswer timed_out;
  timed_out.failure = "timed out";
  auto p = classify(timed_out);
  EXPECT_FALSE(p.detected.has_value());
  EXPECT_NE(p.evidence.find("timed out"), std::string::npos);
  WebAnswer refused;
  refused.failure = "connection refused";
  EXPECT_EQ(classify(refused).detected, std::optional<bool>(false));
}

TEST(CaptivePortal, TheErrorNamesTheLoginPageOrSaysHowToFindIt) {
  CaptivePortal p;
  p.detected = true;
  p.login_url = "http://192.168.1.1:8081/login";
  EXPECT_EQ(captive_portal_error(p),
            "A captive portal intercepts this network's web traffic (login page: http://192.168.1.1:8081/login). "
            "Log in, then run vpncheck again.");
  p.login_url.reset();
  EXPECT_NE(captive_portal_error(p).find("open any http:// address in a browser"), std::string::npos);
}

}  // namespace
}  // namespace vpncheck::client
