#include "src/progress.h"

#include <gtest/gtest.h>

#include <sstream>

#include "client_fixtures.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;

// Two protocols: WireGuard with two probes (one cannot run), OpenVPN with one.
std::vector<PlannedProbe> two_protocol_plan() {
  std::vector<PlannedProbe> plan(3);
  plan[0].module = &fixtures::wireguard();
  plan[1].module = &fixtures::wireguard();
  plan[1].not_run_reason = "the reflector does not listen on udp 53";
  plan[2].module = &fixtures::openvpn();
  return plan;
}

TEST(ProgressBoard, OneLinePerProtocolRedrawnInPlace) {
  std::ostringstream err;
  ProgressBoard board(err, true, 80);
  board.start(two_protocol_plan());
  auto first = err.str();
  EXPECT_TRUE(contains(first, "WireGuard   probing: 1 of 2 probes finished\n")) << first;  // not run counts
  EXPECT_TRUE(contains(first, "OpenVPN     probing: 0 of 1 probe finished\n")) << first;
  EXPECT_FALSE(contains(first, "\033[2A")) << first;  // nothing to move over yet
  board.probe_finished(2);
  auto second = err.str().substr(first.size());
  EXPECT_EQ(second.rfind("\033[2A", 0), 0U) << second;  // back to the board's first line
  EXPECT_TRUE(contains(second, "OpenVPN     done: 1 of 1 probe finished\n")) << second;
  board.clear();
  auto erased = err.str().substr(first.size() + second.size());
  EXPECT_EQ(erased, "\033[2A\r\033[J");  // up over both lines, erase to the end of the screen
  board.clear();                        // once erased, nothing more
  EXPECT_EQ(err.str().size(), first.size() + second.size() + erased.size());
}

TEST(ProgressBoard, NotesStayAboveTheBoard) {
  std::ostringstream err;
  ProgressBoard board(err, true, 80);
  board.start(two_protocol_plan());
  const auto before = err.str().size();
  board.note("measuring the UDP binding lifetime: up to 120 s");
  auto after = err.str().substr(before);
  EXPECT_EQ(after.rfind("\033[2A\r\033[Jmeasuring the UDP binding lifetime: up to 120 s\n", 0), 0U) << after;
  EXPECT_TRUE(contains(after, "WireGuard   probing")) << after;  // the board again, below the note
}

TEST(ProgressBoard, LinesStayNarrowerThanTheTerminal) {
  std::ostringstream err;
  ProgressBoard board(err, true, 20);
  board.start(two_protocol_plan());
  std::istringstream lines(err.str());
  for (std::string line; std::getline(lines, line);) {
    auto text = line.substr(line.rfind('\033') == std::string::npos ? 0 : line.find('K') + 1);
    EXPECT_LT(text.size(), 20U) << text;
  }
}

TEST(ProgressBoard, DisabledWritesNothing) {
  std::ostringstream err;
  ProgressBoard board(err, false, 80);
  board.start(two_protocol_plan());
  board.probe_finished(0);
  board.note("a note");
  board.clear();
  EXPECT_EQ(err.str(), "");
}

}  // namespace
}  // namespace vpncheck::client
