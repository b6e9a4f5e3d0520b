// The progress shown on a terminal while probes run: one line per protocol,
// redrawn in place and erased before the report is printed.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "src/run/plan.h"

namespace vpncheck::client {

class ProgressBoard {
 public:
  // Disabled: writes nothing (stderr not a terminal, or a report on stdout).
  // `width`: the terminal's columns; lines are kept shorter, since a line the
  // terminal wraps would break moving the cursor back over the board.
  ProgressBoard(std::ostream& err, bool enabled, std::size_t width);
  // One line per protocol of `plan`, in plan order; probes that cannot run count as finished.
  void start(const std::vector<PlannedProbe>& plan);
  // The probe at `position` in the plan has finished.
  void probe_finished(std::size_t position);
  // A line that stays, printed above the board.
  void note(const std::string& text);
  // Erases the board (the cursor ends where it began).
  void clear();
  bool enabled() const { return enabled_; }

 private:
  struct Row {
    std::string title;
    std::size_t done = 0;
    std::size_t total = 0;
  };
  void draw();
  std::string line(const Row& row) const;

  std::ostream& err_;
  bool enabled_;
  std::size_t width_;
  std::vector<Row> rows_;
  std::vector<std::size_t> row_of_;  // plan position -> row
  std::size_t drawn_ = 0;            // board lines on the screen now
};

}  // namespace vpncheck::client
