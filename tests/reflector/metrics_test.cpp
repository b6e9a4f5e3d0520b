#include "reflector/metrics.h"

#include <gtest/gtest.h>

#include <sstream>

#include "reflector/control_api.h"
#include "test_util.h"

namespace vpncheck::reflector {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  auto lines = lines_of(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

TEST(ReflectorMetrics, EscapesLabelValues) {
  EXPECT_EQ(prometheus_escape_label("wireguard"), "wireguard");
  EXPECT_EQ(prometheus_escape_label("a\\b"), "a\\\\b");
  EXPECT_EQ(prometheus_escape_label("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(prometheus_escape_label("two\nlines"), "two\\nlines");
}

TEST(ReflectorMetrics, RendersEveryFamilyWithHelpAndType) {
  Metrics m;
  m.sessions_created = 7;
  m.sessions_expired = 2;
  m.sessions_closed = 3;
  m.probes_recorded[{"wireguard", "genuine"}] = 5;
  m.probes_recorded[{"control", "control"}] = 4;
  m.probes_recorded[{"we\"ird\\", "x\ny"}] = 1;
  m.replies_sent = 8;
  m.replies_failed = 1;
  m.drops.add(DropReason::unknown_session);
  m.drops.add(DropReason::rate_limited);
  m.drops.add(DropReason::rate_limited);
  const std::string text = render_prometheus(m, 2);

  EXPECT_TRUE(has_line(text, "# TYPE vpncheck_reflector_sessions_open gauge")) << text;
  EXPECT_TRUE(has_line(text, "vpncheck_reflector_sessions_open 2"));
  EXPECT_TRUE(has_line(text, "# TYPE vpncheck_reflector_sessions_created_total counter"));
  EXPECT_TRUE(has_line(text, "vpncheck_reflector_sessions_created_total 7"));
  EXPECT_TRUE(has_line(text, "vpncheck_reflector_sessions_expired_total 2"));
  EXPECT_TRUE(has_line(text, "vpncheck_reflector_sessions_closed_total 3"));
  EXPECT_TRUE(has_line(text, "vpncheck_reflector_probes_recorded_total{protocol=\"wireguard\",kind=\"genuine\"} 5"));
  EXPECT_TRUE(has_line(text, "vpncheck_reflector_probes_recorded_total{protocol=\"control\",kind=\"control\"} 4"));
  EXPECT_TRUE(has_line(text, "vpncheck_reflector_probes_recorded_total{protocol=\"we\\\"ird\\\\\",kind=\"x\\ny\"} 1"))
      << text;
  EXPECT_TRUE(has_line(text, "vpncheck_reflector_replies_sent_total 8"));
  EXPECT_TRUE(has_line(text, "vpncheck_reflector_replies_failed_total 1"));
  EXPECT_TRUE(has_line(text, "vpncheck_reflector_drops_total{reason=\"unknown_session\"} 1"));
  EXPECT_TRUE(has_line(text, "vpncheck_reflector_drops_total{reason=\"rate_limited\"} 2"));
  EXPECT_TRUE(has_line(text, "vpncheck_reflector_drops_total{reason=\"empty\"} 0"));  // zeros are shown

  // Structure: every sample belongs to the family announced just before it,
  // every family has HELP then TYPE, and the text ends with a newline.
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::string family;
  std::size_t families = 0;
  auto lines = lines_of(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    ASSERT_FALSE(line.empty()) << "blank line " << i;
    if (line.starts_with("# HELP ")) {
      family = line.substr(7, line.find(' ', 7) - 7);
      ASSERT_LT(i + 1, lines.size());
      EXPECT_TRUE(lines[i + 1].starts_with("# TYPE " + family + " ")) << lines[i + 1];
      ++families;
      continue;
    }
    if (line.starts_with("# TYPE ")) continue;
    ASSERT_FALSE(family.empty()) << line;
    EXPECT_TRUE(line.starts_with(family + " ") || line.starts_with(family + "{")) << line << " outside " << family;
    EXPECT_TRUE(line.starts_with("vpncheck_reflector_")) << line;
  }
  EXPECT_EQ(families, 9u);
}

TEST(ReflectorMetrics, ControlApiServesTheServerCounters) {
  test::FakeClock clock;
  SessionLimits limits;
  limits.ttl = std::chrono::seconds(60);
  SessionTable table(limits, clock.fn());
  Metrics metrics;
  table.count_into(&metrics);
  ControlApiOptions options;
  options.rnd = test::counter_fill();
  options.metrics = &metrics;
  ControlApi api(table, options);
  const probes::Endpoint client{"198.51.100.7", 1};
  auto call = [&](http::verb verb, std::string target) {
    HttpRequest req{verb, target, 11};
    req.prepare_payload();
    return api.handle(req, client);
  };

  std::string first_id;
  for (int i = 0; i < 3; ++i) {
    auto res = call(http::verb::post, "/v1/sessions");
    ASSERT_EQ(res.result(), http::status::created);
    if (i == 0) first_id = std::string(res[http::field::location]).substr(kSessionsPrefix.size());
  }
  ASSERT_EQ(call(http::verb::delete_, "/v1/sessions/" + first_id).result(), http::status::no_content);
  clock.advance(std::chrono::seconds(60));  // the other two expire

  auto res = call(http::verb::get, "/metrics");
  ASSERT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], kPrometheusContentType);
  EXPECT_TRUE(has_line(res.body(), "vpncheck_reflector_sessions_created_total 3")) << res.body();
  EXPECT_TRUE(has_line(res.body(), "vpncheck_reflector_sessions_closed_total 1"));
  EXPECT_TRUE(has_line(res.body(), "vpncheck_reflector_sessions_expired_total 2"));
  EXPECT_TRUE(has_line(res.body(), "vpncheck_reflector_sessions_open 0"));
  EXPECT_EQ(call(http::verb::post, "/metrics").result(), http::status::method_not_allowed);
}

}  // namespace
}  // namespace vpncheck::reflector
