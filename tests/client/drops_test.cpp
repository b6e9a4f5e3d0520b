// Where walked probes died, in the report: which probes get a drop fact,
// the advice it adds, and how every report form says it.
#include <gtest/gtest.h>

#include <sstream>

#include "client_fixtures.h"
#include "report_fixtures.h"
#include "src/report/json_report.h"
#include "src/report/junit_report.h"
#include "src/report/markdown_report.h"
#include "src/report/redact.h"
#include "src/report/text_report.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;
using fixtures::genuine_position;
using fixtures::realistic_run;
using fixtures::walked_report;
using Kind = nat::WalkAnswer::Kind;

const ProtocolAssessment& protocol(const Report& r, std::string_view id) {
  for (const auto& a : r.protocols)
    if (a.id() == id) return a;
  static const ProtocolAssessment none;
  ADD_FAILURE() << "no protocol " << id;
  return none;
}

bool has_advice(const ProtocolAssessment& a, std::string_view text) {
  return std::any_of(a.advice.begin(), a.advice.end(), [&](const std::string& line) { return contains(line, text); });
}

std::vector<nat::WalkStep> silent_walk() { return {{1, {}, {}}, {2, {}, {}}}; }

TEST(PathWalkReport, ProviderDropIsBeyondTheRouterWithTheAlternatives) {
  auto r = walked_report();
  ASSERT_EQ(r.drops.size(), 1u);
  const auto& d = r.drops.front();
  EXPECT_EQ(d.protocol, "wireguard");
  EXPECT_EQ(d.variant, "UDP 51820");
  EXPECT_EQ(d.point.result, nat::DropResult::dropped);
  EXPECT_EQ(d.point.hop, 2);
  EXPECT_FALSE(d.point.own_router);
  EXPECT_EQ(d.hop_class, "shared");
  EXPECT_EQ(drop_line(d), "dropped beyond your router, at hop 2 (100.64.0.1, your provider)");
  const auto& wg = protocol(r, "wireguard");
  EXPECT_TRUE(has_advice(wg, "WireGuard on UDP 51820 is dropped beyond your router, at hop 2 (100.64.0.1): no setting "
                             "at home changes that. Work around it with what works on this network: OpenVPN (TCP 443)."));
  EXPECT_FALSE(has_advice(wg, "Your router"));
}

TEST(PathWalkReport, HomeRouterDropIsASettingOfTheUsersRouter) {
  auto r = walked_report("100.64.0.1", 1);
  ASSERT_EQ(r.drops.size(), 1u);
  EXPECT_TRUE(r.drops.front().point.own_router);
  EXPECT_EQ(drop_line(r.drops.front()), "dropped at hop 1, your router (192.168.1.1)");
  const auto& wg = protocol(r, "wireguard");
  EXPECT_TRUE(has_advice(wg, "Your router (192.168.1.1) drops WireGuard on UDP 51820: look in its settings"));
  EXPECT_FALSE(has_advice(wg, "beyond your router"));
}

TEST(PathWalkReport, HopBeyondLabelledByItsAddressSpace) {
  EXPECT_EQ(drop_line(walked_report("192.168.0.254").drops.at(0)),
            "dropped beyond your router, at hop 2 (192.168.0.254, a second router before the Internet)");
  EXPECT_EQ(drop_line(walked_report("81.2.3.4").drops.at(0)),
            "dropped beyond your router, at hop 2 (81.2.3.4, your provider or a network beyond it)");
}

// Only a probe that stayed unanswered and never reached the reflector gets
// a place: OpenVPN's UDP 1194 probe arrived (its answer was what got lost),
// and nothing is placed when the reflector's record could not be read.
TEST(PathWalkReport, OnlyProbesThatNeverArrived) {
  Report r = realistic_run();
  std::map<std::size_t, std::vector<nat::WalkStep>> walks{
      {genuine_position(r, "openvpn", probes::Transport::udp, 1194), silent_walk()},
      {genuine_position(r, "openvpn", probes::Transport::tcp, 443), silent_walk()}};
  auto advice_before = protocol(r, "openvpn").advice;
  apply_path_walks(r, walks, std::nullopt);
  EXPECT_TRUE(r.drops.empty());
  EXPECT_EQ(protocol(r, "openvpn").advice, advice_before);

  Report unread = realistic_run();
  unread.observations_read = false;
  apply_path_walks(unread, {{genuine_position(unread, "wireguard", probes::Transport::udp, 51820), silent_walk()}},
                   std::nullopt);
  EXPECT_TRUE(unread.drops.empty());
}

TEST(PathWalkReport, UnknownPlaceGivesNoAdvice) {
  Report r = realistic_run();
  auto advice_before = protocol(r, "wireguard").advice;
  apply_path_walks(r, {{genuine_position(r, "wireguard", probes::Transport::udp, 51820), silent_walk()}}, std::nullopt);
  ASSERT_EQ(r.drops.size(), 1u);
  EXPECT_EQ(r.drops.front().point.result, nat::DropResult::unknown);
  EXPECT_TRUE(contains(drop_line(r.drops.front()), "unknown"));
  EXPECT_EQ(protocol(r, "wireguard").advice, advice_before);
}

// Loss could explain the silence (the verdict was withheld): the walk's
// place is reported, but no advice is built on it.
TEST(PathWalkReport, InconclusiveVerdictGetsThePlaceNotAdvice) {
  Report r = fixtures::realistic_run();
  for (auto& a : r.protocols)
    if (a.id() == "wireguard") {
      a.verdict = Verdict::inconclusive;
      for (auto& f : a.families) f.verdict = Verdict::inconclusive;
    }
  auto advice_before = protocol(r, "wireguard").advice;
  const auto walked = fixtures::walked_report();
  std::map<std::size_t, std::vector<nat::WalkStep>> walks{
      {genuine_position(r, "wireguard", probes::Transport::udp, 51820), walked.drops.at(0).point.steps}};
  apply_path_walks(r, walks, std::string("192.168.1.1"));
  ASSERT_EQ(r.drops.size(), 1u);
  EXPECT_EQ(r.drops.front().point.result, nat::DropResult::dropped);
  EXPECT_EQ(protocol(r, "wireguard").advice, advice_before);
}

TEST(PathWalkReport, EveryFormSaysWhere) {
  auto r = walked_report();
  const std::string line = "UDP 51820: dropped beyond your router, at hop 2 (100.64.0.1, your provider)";
  std::ostringstream text, markdown, junit;
  write_text_report(text, r, {false, false});
  write_markdown_report(markdown, r);
  write_junit_report(junit, r);
  EXPECT_TRUE(contains(text.str(), line)) << text.str();
  EXPECT_TRUE(contains(markdown.str(), "- Where: " + line)) << markdown.str();
  EXPECT_TRUE(contains(junit.str(), "where: " + line)) << junit.str();
  auto json = to_report_json(r);
  const auto* wg = &json.at("protocols").at(0);
  ASSERT_EQ(wg->at("protocol"), "wireguard");
  const auto& d = wg->at("dropped_at").at(0);
  EXPECT_EQ(d.at("hop"), 2);
  EXPECT_EQ(d.at("address"), "100.64.0.1");
  EXPECT_EQ(d.at("own_router"), false);
  EXPECT_EQ(d.at("where"), "beyond_your_router");
  EXPECT_EQ(d.at("steps").size(), 3u);
  EXPECT_EQ(d.at("steps").at(2).at("control").at("answer"), "destination");
  EXPECT_FALSE(json.at("protocols").at(1).contains("dropped_at"));
  EXPECT_FALSE(to_report_json(realistic_run()).at("protocols").at(0).contains("dropped_at"));
}

TEST(PathWalkReport, RedactHidesAPublicDropper) {
  auto r = redact(walked_report("81.2.3.4"));
  const auto& d = r.drops.at(0);
  EXPECT_EQ(d.point.address.rfind("redacted-", 0), 0u) << d.point.address;
  EXPECT_EQ(d.hop_class, "public");
  for (const auto& s : d.point.steps) EXPECT_FALSE(contains(s.genuine.address + s.control.address, "81.2.3.4"));
  EXPECT_FALSE(contains(d.point.explanation, "81.2.3.4")) << d.point.explanation;
  for (const auto& a : r.protocols)
    for (const auto& line : a.advice) EXPECT_FALSE(contains(line, "81.2.3.4")) << line;
}

}  // namespace
}  // namespace vpncheck::client
