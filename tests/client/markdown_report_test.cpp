// The Markdown job summary: heading, reflector/NAT line, one table row per
// protocol, advice for every protocol that did not pass, and cells that stay
// one cell whatever text they hold.
#include "src/report/markdown_report.h"

#include <gtest/gtest.h>

#include <sstream>

#include "client_fixtures.h"
#include "report_fixtures.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;
using fixtures::error_report;
using fixtures::realistic_report;

std::string render(const Report& r) {
  std::ostringstream out;
  write_markdown_report(out, r);
  return out.str();
}

std::vector<std::string> lines_of(const std::string& text);

TEST(MarkdownReport, NotesTheReflectorsLimits) {
  auto md = render(fixtures::rate_limited_report());
  EXPECT_TRUE(contains(md, "> **Note:** the reflector limited its answers (rate limit: 6 answers withheld (ports "
                           "51820, 443); connection slots full: 2 TCP connections refused (port 1723)); verdicts "
                           "that depend on them are inconclusive."))
      << md;
  EXPECT_TRUE(contains(md, "`inconclusive`")) << md;
  EXPECT_FALSE(contains(render(realistic_report()), "limited its answers"));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Table rows (lines starting with '|') after the header and the delimiter row.
std::vector<std::string> table_rows(const std::string& text) {
  std::vector<std::string> rows;
  for (const auto& line : lines_of(text))
    if (!line.empty() && line.front() == '|') rows.push_back(line);
  if (rows.size() >= 2) rows.erase(rows.begin(), rows.begin() + 2);
  return rows;
}

// Cell separators: '|' not preceded by a backslash escape.
std::size_t unescaped_pipes(const std::string& row) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (row[i] == '\\') {
      ++i;
      continue;
    }
    if (row[i] == '|') ++n;
  }
  return n;
}

TEST(MarkdownEscape, EscapesCellBreakersAndHtml) {
  EXPECT_EQ(markdown_escape("a | b"), "a \\| b");
  EXPECT_EQ(markdown_escape("x\\"), "x\\\\");
  EXPECT_EQ(markdown_escape("<script>alert(1)</script>"), "&lt;script>alert(1)&lt;/script>");
  EXPECT_EQ(markdown_escape("one\ntwo\r\nthree\rfour"), "one two three four");
  EXPECT_EQ(markdown_escape("UDP 51820 → TCP 443"), "UDP 51820 → TCP 443");
}

TEST(MarkdownReport, HeadingThenReflectorAndNatLine) {
  const std::string md = render(realistic_report());
  auto lines = lines_of(md);
  ASSERT_GE(lines.size(), 3U);
  EXPECT_EQ(lines[0].rfind("## ", 0), 0U) << lines[0];
  EXPECT_TRUE(contains(md, "Reflector reflector.example.net (198.51.100.20), control API on TCP 8780")) << md;
  EXPECT_TRUE(contains(md, std::string("This machine: ") + std::string(fixtures::kLocalAddress) + ", seen as " +
                               std::string(fixtures::kPublicAddress) + " — behind NAT, source ports kept"))
      << md;
  EXPECT_FALSE(contains(md, "redacted")) << md;
}

TEST(MarkdownReport, TableHasOneRowPerProtocolWithVerdictAndSummary) {
  const Report r = realistic_report();
  const std::string md = render(r);
  EXPECT_TRUE(contains(md, "| Protocol | Verdict | Summary |\n|---|---|---|\n")) << md;
  auto rows = table_rows(md);
  ASSERT_EQ(rows.size(), r.protocols.size()) << md;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& a = r.protocols[i];
    EXPECT_EQ(rows[i].rfind("| " + std::string(a.module->title) + " | ", 0), 0U) << rows[i];
    EXPECT_TRUE(contains(rows[i], "`" + std::string(to_string(a.verdict)) + "`")) << rows[i];
    EXPECT_TRUE(contains(rows[i], markdown_escape(a.summary))) << rows[i];
    EXPECT_EQ(unescaped_pipes(rows[i]), 4U) << rows[i];
  }
  EXPECT_TRUE(contains(rows[0], "❌")) << rows[0];  // blocked
}

TEST(MarkdownReport, PipesAndNewlinesInCellsDoNotBreakTheTable) {
  Report r = realistic_report();
  r.protocols[0].summary = "works on A | B only\nsecond line";
  auto rows = table_rows(render(r));
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_TRUE(contains(rows[0], "works on A \\| B only second line")) << rows[0];
  EXPECT_EQ(unescaped_pipes(rows[0]), 4U) << rows[0];
}

TEST(MarkdownReport, AdviceBulletsForEveryProtocolThatDidNotPass) {
  Report r = realistic_report();
  const std::string md = render(r);
  EXPECT_TRUE(contains(md, "### What to do")) << md;
  for (const auto& a : r.protocols) {
    ASSERT_FALSE(a.advice.empty());
    EXPECT_TRUE(contains(md, "**" + std::string(a.module->title) + "** (" + std::string(to_string(a.verdict)) + ")"))
        << md;
    for (const auto& line : a.advice) EXPECT_TRUE(contains(md, "\n- " + markdown_escape(line) + "\n")) << line << "\n" << md;
  }
}

TEST(MarkdownReport, NoAdviceForAPassingProtocol) {
  Report r = realistic_report();
  r.protocols[1].verdict = Verdict::pass;
  r.protocols[1].advice = {"advice that must not be shown"};
  const std::string md = render(r);
  EXPECT_FALSE(contains(md, "advice that must not be shown")) << md;
  EXPECT_FALSE(contains(md, "**OpenVPN**")) << md;
  EXPECT_TRUE(contains(md, "**WireGuard** (blocked)")) << md;
}

TEST(MarkdownReport, RequiredLineSaysWhetherTheyPassed) {
  EXPECT_TRUE(contains(render(realistic_report()), "Required: `wireguard` — not all passed (exit 1).\n"));
  Report r = realistic_report();
  r.protocols[0].verdict = Verdict::pass;
  r.exit_code = exit_code_for(r);
  EXPECT_TRUE(contains(render(r), "Required: `wireguard` — all passed.\n"));
}

TEST(MarkdownReport, CouldNotTestHasNoTable) {
  const std::string md = render(error_report());
  EXPECT_TRUE(contains(md, "**Could not test:** could not open a session")) << md;
  EXPECT_FALSE(contains(md, "| Protocol |")) << md;
  EXPECT_FALSE(contains(md, "blocked")) << md;  // never "everything blocked"
}

TEST(MarkdownReport, SaysWhenAddressesAreRedacted) {
  Report r = realistic_report();
  r.redacted = true;
  EXPECT_TRUE(contains(render(r), "Public addresses are redacted.")) << render(r);
}

TEST(MarkdownReport, DualStackShowsAVerdictColumnPerFamily) {
  // The v6-firewall scenario: everything passes over IPv4; over IPv6 only UDP 443 gets through.
  auto text = render(fixtures::dual_stack_report());
  EXPECT_TRUE(contains(text, "| Protocol | IPv4 | IPv6 | Summary |")) << text;
  auto rows = table_rows(text);
  ASSERT_EQ(rows.size(), 2U) << text;
  EXPECT_TRUE(contains(rows[0], "| WireGuard | ✅ `pass` | ")) << rows[0];
  EXPECT_TRUE(contains(rows[0], "`restricted` |")) << rows[0];
  // The families disagree, so the row says what each one found.
  EXPECT_TRUE(contains(rows[0], "IPv4: ")) << rows[0];
  EXPECT_TRUE(contains(rows[0], "IPv6: ")) << rows[0];
}

TEST(MarkdownReport, SingleFamilyKeepsTheOneVerdictColumn) {
  auto text = render(realistic_report());
  EXPECT_TRUE(contains(text, "| Protocol | Verdict | Summary |")) << text;
  EXPECT_FALSE(contains(text, "| IPv6 |")) << text;
}

}  // namespace
}  // namespace vpncheck::client
