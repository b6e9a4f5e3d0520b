#include "src/report/wrap.h"

#include <gtest/gtest.h>

#include <string>

namespace vpncheck::client {
namespace {

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : " ") + l;
  return out;
}

TEST(DisplayWidth, CountsCodePointsNotBytes) {
  EXPECT_EQ(display_width(""), 0U);
  EXPECT_EQ(display_width("abc"), 3U);
  EXPECT_EQ(display_width("→ a — b"), 7U);  // → and — are three bytes each
  EXPECT_EQ(display_width("über"), 4U);
}

TEST(WrapWords, EightyColumnsAtWordBoundaries) {
  const std::string text =
      "IKE works on UDP 500 and IKE's NAT detection sees a NAT; NAT-T on UDP 4500 (IKE, ESP-in-UDP and keepalive) "
      "works both ways, so raw ESP is not needed. UDP source port 500 was kept on the way.";
  auto lines = wrap_words(text, 80, 80);
  ASSERT_EQ(lines.size(), 3U);
  EXPECT_EQ(lines[0], "IKE works on UDP 500 and IKE's NAT detection sees a NAT; NAT-T on UDP 4500 (IKE,");
  for (const auto& l : lines) {
    EXPECT_LE(display_width(l), 80U) << l;
    EXPECT_NE(l.front(), ' ');
    EXPECT_NE(l.back(), ' ');
  }
  EXPECT_EQ(joined(lines), text);  // nothing cut, no word split
}

TEST(WrapWords, FirstLineHasItsOwnWidth) {
  auto lines = wrap_words("aa bb cc dd", 5, 8);
  EXPECT_EQ(lines, (std::vector<std::string>{"aa bb", "cc dd"}));
  lines = wrap_words("aa bb cc dd ee", 2, 5);
  EXPECT_EQ(lines, (std::vector<std::string>{"aa", "bb cc", "dd ee"}));
}

TEST(WrapWords, ZeroWidthMeansOneUnchangedLine) {
  const std::string text = "a  sentence   with odd  spacing, kept as it is";
  EXPECT_EQ(wrap_words(text, 0, 0), (std::vector<std::string>{text}));
}

TEST(WrapWords, ALongWordIsSplitWithNothingLost) {
  const std::string word(25, 'x');
  auto lines = wrap_words("see " + word + " here", 10, 10);
  EXPECT_EQ(lines, (std::vector<std::string>{"see", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx here"}));
}

TEST(WrapWords, NeverSplitsInsideAUtf8Sequence) {
  // Twelve arrows (3 bytes each) in a 5-column line: split on code points.
  std::string arrows;
  for (int i = 0; i < 12; ++i) arrows += "→";
  auto lines = wrap_words(arrows, 5, 5);
  ASSERT_EQ(lines.size(), 3U);
  EXPECT_EQ(lines[0], "→→→→→");
  EXPECT_EQ(lines[2], "→→");
  std::string all;
  for (const auto& l : lines) {
    EXPECT_LE(display_width(l), 5U);
    all += l;
  }
  EXPECT_EQ(all, arrows);
  // A wrapped accented sentence keeps its characters whole.
  auto words = wrap_words("übergroße Päckchen müssen geteilt werden", 10, 10);
  for (const auto& l : words) EXPECT_LE(display_width(l), 10U) << l;
  EXPECT_EQ(joined(words), "übergroße Päckchen müssen geteilt werden");
}

TEST(WrapWords, EmptyAndBlankText) {
  EXPECT_EQ(wrap_words("", 10, 10), (std::vector<std::string>{""}));
  EXPECT_EQ(wrap_words("   ", 10, 10), (std::vector<std::string>{""}));
}

}  // namespace
}  // namespace vpncheck::client
