#include "src/report/text_report.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "client_fixtures.h"
#include "report_fixtures.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;
using fixtures::error_report;
using fixtures::realistic_report;

std::string render(const Report& report, TextStyle style) {
  std::ostringstream out;
  write_text_report(out, report, style);
  return out.str();
}

// A report with every verdict colour: pass, restricted, blocked, inconclusive.
Report colourful_report() {
  Report r = realistic_report();
  r.protocols.push_back(r.protocols[0]);
  r.protocols.back().verdict = Verdict::pass;
  r.protocols.push_back(r.protocols[0]);
  r.protocols.back().verdict = Verdict::inconclusive;
  return r;
}

TEST(TextReport, OneLineNamesTheReflectorsLimits) {
  auto text = render(fixtures::rate_limited_report(), {false, false});
  EXPECT_TRUE(contains(text, "The reflector limited its answers: rate limit: 6 answers withheld (ports 51820, 443); "
                             "connection slots full: 2 TCP connections refused (port 1723).\n"))
      << text;
  EXPECT_TRUE(contains(text, "could not be judged: the reflector limited its answers")) << text;
  EXPECT_FALSE(contains(text, "outbound_only")) << text;
  EXPECT_FALSE(contains(render(realistic_report(), {false, false}), "limited its answers"));
}

TEST(TextReport, NoEscapesWithoutColour) {
  for (bool verbose : {false, true}) {
    auto text = render(colourful_report(), {false, verbose});
    EXPECT_FALSE(contains(text, "\033")) << text;
  }
  EXPECT_FALSE(contains(render(error_report(), {false, false}), "\033"));
}

TEST(TextReport, VerdictsAreColouredWithColour) {
  auto text = render(colourful_report(), {true, false});
  EXPECT_TRUE(contains(text, "\033[31mblocked")) << text;      // red
  EXPECT_TRUE(contains(text, "\033[33mrestricted")) << text;   // yellow
  EXPECT_TRUE(contains(text, "\033[32mpass")) << text;         // green
  EXPECT_TRUE(contains(text, "\033[90minconclusive")) << text; // grey
  EXPECT_TRUE(contains(text, "\033[0m")) << text;              // and reset
}

TEST(TextReport, TableHasEveryProtocolVerdictAndSummary) {
  Report r = realistic_report();
  auto text = render(r, {false, false});
  EXPECT_TRUE(contains(text, "PROTOCOL")) << text;
  for (const auto& a : r.protocols) {
    EXPECT_TRUE(contains(text, a.module->title)) << text;
    EXPECT_TRUE(contains(text, to_string(a.verdict))) << text;
    EXPECT_TRUE(contains(text, a.summary)) << text;
  }
  EXPECT_TRUE(contains(text, "reflector.example.net (198.51.100.20)")) << text;
  EXPECT_TRUE(contains(text, "control API on TCP 8780")) << text;
}

TEST(TextReport, EveryAdviceLineIsPrinted) {
  Report r = realistic_report();
  auto text = render(r, {false, false});
  std::size_t lines = 0;
  for (const auto& a : r.protocols)
    for (const auto& advice : a.advice) {
      ++lines;
      EXPECT_TRUE(contains(text, "→ " + advice)) << advice << "\nnot in:\n" << text;
    }
  EXPECT_GE(lines, 3U);  // signature advice + alternative for WireGuard, TCP advice for OpenVPN
  EXPECT_TRUE(contains(text, "Works on this network instead: OpenVPN (TCP 443).")) << text;
}

TEST(TextReport, NatLine) {
  auto text = render(realistic_report(), {false, false});
  EXPECT_TRUE(contains(text, "This machine: 192.168.1.10, seen by the reflector as 203.0.113.7 (behind NAT, "
                             "source ports kept)"))
      << text;
}

TEST(TextReport, VerboseShowsEveryProbeByName) {
  Report r = realistic_report();
  auto verbose = render(r, {false, true});
  auto terse = render(r, {false, false});
  for (const auto& a : r.protocols)
    for (const auto& p : a.probes) {
      EXPECT_TRUE(contains(verbose, p.probe.name())) << p.probe.name();
      EXPECT_FALSE(contains(terse, p.probe.name())) << p.probe.name();
    }
  EXPECT_TRUE(contains(verbose, "reflector saw nothing")) << verbose;
  EXPECT_TRUE(contains(verbose, "reflector saw it from 203.0.113.7")) << verbose;
  EXPECT_TRUE(contains(verbose, "does not listen on udp 53")) << verbose;  // why a probe did not run
  EXPECT_TRUE(contains(verbose, "source address 192.168.1.10 -> 203.0.113.7")) << verbose;
}

// -v shows the decoded evidence: what the client read from the answer (e.g.
// IKE's NAT decision and hashes) and what the reflector decoded on arrival.
TEST(TextReport, VerboseShowsDecodedAnswerAndReflectorFields) {
  Report r = realistic_report();
  ProbeResult* probe = nullptr;
  for (auto& a : r.protocols)
    for (auto& p : a.probes)
      if (!probe && !p.arrivals.empty()) probe = &p;
  ASSERT_NE(probe, nullptr);
  probe->client.reply_fields = {{"behind_nat", "yes"}, {"nat_d_destination_expected", "aa11"}};
  probe->arrivals.front().fields = {{"nat_d_source_translated", "yes"}, {"nat_d_source_expected", "bb22"}};
  auto verbose = render(r, {false, true});
  EXPECT_TRUE(contains(verbose, "answer: behind_nat=yes nat_d_destination_expected=aa11")) << verbose;
  EXPECT_TRUE(contains(verbose, "reflector decoded: nat_d_source_expected=bb22 nat_d_source_translated=yes"))
      << verbose;
  EXPECT_FALSE(contains(render(r, {false, false}), "behind_nat=yes"));
}

TEST(TextReport, UnreadObservationsAreExplained) {
  Report r = realistic_report();
  r.observations_read = false;
  r.observations_error = "timed out";
  auto text = render(r, {false, false});
  EXPECT_TRUE(contains(text, "could not be read (timed out)")) << text;
}

TEST(TextReport, RequiredLineSaysWhetherAllPassed) {
  Report r = realistic_report();
  EXPECT_TRUE(contains(render(r, {false, false}), "Required: wireguard — not all passed (exit 1)"));
  r.required = {"openvpn"};
  r.protocols[1].verdict = Verdict::pass;
  r.exit_code = exit_code_for(r);
  EXPECT_TRUE(contains(render(r, {false, false}), "Required: openvpn — all passed."));
}

TEST(TextReport, ErrorReportSaysCouldNotTestAndNeverBlocked) {
  for (bool colour : {false, true})
    for (bool verbose : {false, true}) {
      auto text = render(error_report(), {colour, verbose});
      EXPECT_TRUE(contains(text, "Could not test")) << text;
      EXPECT_TRUE(contains(text, *error_report().error)) << text;
      std::string lower = text;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_FALSE(contains(lower, "blocked")) << text;
      EXPECT_FALSE(contains(text, "PROTOCOL")) << text;  // no table of verdicts
    }
}

TEST(TextReport, ErrorReportWinsOverProtocolResults) {
  // An internal error after probing (report.error set late) must not print verdicts.
  Report r = realistic_report();
  r.error = "internal error: boom";
  auto text = render(r, {false, true});
  EXPECT_TRUE(contains(text, "Could not test: internal error: boom")) << text;
  EXPECT_FALSE(contains(text, "blocked")) << text;
}

// ---- detect_text_style --------------------------------------------------

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) saved_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (saved_)
      ::setenv(name_, saved_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> saved_;
};

class ScopedNoColor : public ScopedEnv {
 public:
  explicit ScopedNoColor(const char* value) : ScopedEnv("NO_COLOR", value) {}
};

// A pseudo-terminal's follower side: isatty() is true for it.
class PseudoTerminal {
 public:
  PseudoTerminal() {
    leader_ = ::posix_openpt(O_RDWR | O_NOCTTY);
    if (leader_ < 0 || ::grantpt(leader_) != 0 || ::unlockpt(leader_) != 0) return;
    const char* name = ::ptsname(leader_);
    if (name) follower_ = ::open(name, O_RDWR | O_NOCTTY);
  }
  ~PseudoTerminal() {
    if (follower_ >= 0) ::close(follower_);
    if (leader_ >= 0) ::close(leader_);
  }
  PseudoTerminal(const PseudoTerminal&) = delete;
  PseudoTerminal& operator=(const PseudoTerminal&) = delete;
  int fd() const { return follower_; }
  void set_columns(unsigned short columns) {
    winsize size{};
    size.ws_row = 24;
    size.ws_col = columns;
    ::ioctl(follower_, TIOCSWINSZ, &size);
  }

 private:
  int leader_ = -1;
  int follower_ = -1;
};

TEST(DetectTextStyle, NoColourWhenNotATerminal) {
  ScopedNoColor env(nullptr);
  int fd = ::open("/dev/null", O_WRONLY);
  ASSERT_GE(fd, 0);
  auto style = detect_text_style(false, true, fd);
  ::close(fd);
  EXPECT_FALSE(style.color);
  EXPECT_TRUE(style.verbose);
}

TEST(DetectTextStyle, ColourOnATerminalUnlessNoColor) {
  PseudoTerminal tty;
  if (tty.fd() < 0) GTEST_SKIP() << "no pseudo-terminal available here";
  ScopedEnv term("TERM", "xterm-256color");
  {
    ScopedNoColor env(nullptr);
    EXPECT_TRUE(detect_text_style(false, false, tty.fd()).color);
    EXPECT_FALSE(detect_text_style(true, false, tty.fd()).color);  // --no-color
  }
  {
    ScopedNoColor env("1");
    EXPECT_FALSE(detect_text_style(false, false, tty.fd()).color);
  }
  {
    ScopedNoColor env("");  // no-color.org: an empty NO_COLOR does not count
    EXPECT_TRUE(detect_text_style(false, false, tty.fd()).color);
  }
}

// The colour decision itself: every input that turns it off.
TEST(UseColour, OnlyOnAColourCapableTerminalNotOptedOut) {
  EXPECT_TRUE(use_colour(false, nullptr, "xterm", true));
  EXPECT_TRUE(use_colour(false, nullptr, nullptr, true));
  EXPECT_TRUE(use_colour(false, "", "xterm", true));     // an empty NO_COLOR does not count
  EXPECT_FALSE(use_colour(false, nullptr, "xterm", false));  // piped or a file: never
  EXPECT_FALSE(use_colour(true, nullptr, "xterm", true));    // --no-color
  EXPECT_FALSE(use_colour(false, "1", "xterm", true));       // NO_COLOR
  EXPECT_FALSE(use_colour(false, "0", "xterm", true));       // any non-empty value
  EXPECT_FALSE(use_colour(false, nullptr, "dumb", true));    // a terminal without escapes
}

TEST(DetectTextStyle, WrapsAtTheTerminalsWidthAndNotWhenPiped) {
  ScopedNoColor env(nullptr);
  int fd = ::open("/dev/null", O_WRONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(detect_text_style(false, false, fd).width, 0U);  // a file: one line per sentence
  ::close(fd);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  EXPECT_EQ(detect_text_style(false, false, fds[1]).width, 0U);
  ::close(fds[0]);
  ::close(fds[1]);
  PseudoTerminal tty;
  if (tty.fd() < 0) GTEST_SKIP() << "no pseudo-terminal available here";
  tty.set_columns(120);
  EXPECT_EQ(detect_text_style(false, false, tty.fd()).width, 120U);
  tty.set_columns(0);  // a terminal that reports no size
  EXPECT_EQ(detect_text_style(false, false, tty.fd()).width, kDefaultTerminalWidth);
}

// Columns a rendered line takes on screen: escapes take none.
std::size_t screen_columns(const std::string& line) {
  std::size_t columns = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\033') {
      while (i < line.size() && line[i] != 'm') ++i;
      continue;
    }
    columns += (static_cast<unsigned char>(line[i]) & 0xC0) != 0x80;
  }
  return columns;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Whitespace runs (line breaks and the indents after them) as one space.
std::string collapsed(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n';
    if (space && !out.empty() && out.back() == ' ') continue;
    out += space ? ' ' : c;
  }
  return out;
}

Report report_with_long_texts() {
  Report r = fixtures::dual_stack_report();
  r.protocols[0].summary =
      "WireGuard's handshake initiation reached the reflector on UDP 51820 but its answer never came back, while a "
      "random packet of the same size on the same port went through both ways: something on the path recognises "
      "WireGuard by its signature (deep packet inspection) and drops the replies.";
  r.protocols[0].advice.push_back(
      "Try a transport that looks like web traffic: https://example.invalid/a-very-long-address-that-cannot-be-broken-"
      "at-any-space-because-it-has-none-at-all-and-runs-past-the-column");
  r.protocols[0].advice.push_back("Käse über Brücken → überall — Grüße " + std::string(30, 'x'));
  return r;
}

TEST(TextReport, FitsEightyColumnsWithNothingCut) {
  const Report r = report_with_long_texts();
  for (bool verbose : {false, true})
    for (bool colour : {false, true}) {
      auto text = render(r, {colour, verbose, 80});
      for (const auto& line : lines_of(text)) EXPECT_LE(screen_columns(line), 80U) << line << "\n" << text;
      const auto flat = collapsed(text);
      for (const auto& a : r.protocols) {
        for (const auto& advice : a.advice) {
          if (advice.find("https://") == std::string::npos) {  // the unbreakable word is checked below
            EXPECT_TRUE(contains(flat, "→ " + advice)) << advice << "\n" << text;
          }
        }
        EXPECT_TRUE(contains(flat, a.summary)) << a.summary << "\n" << text;
      }
      // The word too long for its column is split, every character kept, in order.
      std::string no_spaces;
      for (char c : text)
        if (c != ' ' && c != '\n') no_spaces += c;
      EXPECT_TRUE(contains(no_spaces, "https://example.invalid/a-very-long-address-that-cannot-be-broken-at-any-space-"
                                      "because-it-has-none-at-all-and-runs-past-the-column"))
          << text;
    }
}

TEST(TextReport, SummariesAndAdviceStayInsideTheirColumn) {
  const Report r = report_with_long_texts();
  auto text = render(r, {false, false, 80});
  std::size_t title_width = 9;
  for (const auto& a : r.protocols) title_width = std::max(title_width, a.module->title.size() + 2);
  const std::size_t summary_column = title_width + 15;
  auto lines = lines_of(text);
  auto header = std::find_if(lines.begin(), lines.end(), [](const auto& l) { return l.rfind("PROTOCOL", 0) == 0; });
  ASSERT_NE(header, lines.end()) << text;
  std::size_t continuation = 0;
  for (auto it = header + 1; it != lines.end(); ++it) {
    const auto& line = *it;
    if (line.empty() || line.rfind("Required:", 0) == 0) continue;
    const bool starts_row = std::any_of(r.protocols.begin(), r.protocols.end(),
                                        [&](const auto& a) { return line.rfind(a.module->title, 0) == 0; });
    const bool family_line = line.find("IPv6: ") == title_width;
    if (starts_row || family_line) continue;
    // Every other line continues a summary or an advice: it starts in the summary column.
    ++continuation;
    EXPECT_GE(line.find_first_not_of(' '), summary_column) << line << "\n" << text;
  }
  EXPECT_GE(continuation, 4U) << text;
}

TEST(TextReport, UnwrappedWithoutAWidth) {
  const Report r = report_with_long_texts();
  auto text = render(r, {false, false, 0});
  EXPECT_TRUE(contains(text, r.protocols[0].summary + "\n")) << text;
  for (const auto& advice : r.protocols[0].advice) EXPECT_TRUE(contains(text, "→ " + advice + "\n")) << text;
}

TEST(TextReport, SaysWhereIPv6Disagrees) {
  auto text = render(fixtures::dual_stack_report(), {false, false});
  EXPECT_TRUE(contains(text, "IPv6: restricted — ")) << text;
  EXPECT_TRUE(contains(text, "IPv6: blocked — ")) << text;
  EXPECT_TRUE(contains(text, "2001:db8:2::5")) << text;
}

TEST(TextReport, NoFamilyLineWhenTheFamiliesAgree) {
  auto r = fixtures::dual_stack_report();
  for (auto& p : r.protocols) p.families[1].verdict = p.families[0].verdict;
  auto text = render(r, {false, false});
  EXPECT_FALSE(contains(text, "IPv6:")) << text;
}

TEST(TextReport, VerboseNamesTheFamilyOfEachProbe) {
  auto text = render(fixtures::dual_stack_report(), {false, true});
  EXPECT_TRUE(contains(text, "wireguard/udp/51820 IPv6")) << text;
  EXPECT_TRUE(contains(text, "wireguard/udp/51820 IPv4")) << text;
}

}  // namespace
}  // namespace vpncheck::client

namespace vpncheck::client {
namespace {

TEST(TextReport, ALossyPathGetsOneLineAndACleanOneNone) {
  Report r = fixtures::realistic_report();
  EXPECT_EQ(render(r, {false, false}).find("Lossy path"), std::string::npos);
  r.path_loss.datagrams_sent = 100;
  r.path_loss.datagrams_arrived = 86;
  auto text = render(r, {false, false});
  EXPECT_NE(text.find("Lossy path: 14 % of packets lost (outbound 14 %, return 0 %)"), std::string::npos) << text;
}

TEST(TextReport, VerboseSaysHowUnlikelyChanceIs) {
  Report r = fixtures::realistic_report();
  r.protocols.front().loss_check = LossCheck{0.01, 3e-9, std::nullopt};
  auto text = render(r, {false, true});
  EXPECT_NE(text.find("chance alone would fail a probe this way below 1 in a million"), std::string::npos) << text;
}

}  // namespace
}  // namespace vpncheck::client
