#include "src/progress.h"

#include <algorithm>

#include "probes/registry.h"
#include "src/report/wrap.h"

namespace vpncheck::client {

ProgressBoard::ProgressBoard(std::ostream& err, bool enabled, std::size_t width)
    : err_(err), enabled_(enabled), width_(width) {}

void ProgressBoard::start(const std::vector<PlannedProbe>& plan) {
  rows_.clear();
  row_of_.assign(plan.size(), 0);
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const std::string title(plan[i].module ? plan[i].module->title : "probes");
    auto row = std::find_if(rows_.begin(), rows_.end(), [&](const Row& r) { return r.title == title; });
    if (row == rows_.end()) row = rows_.insert(rows_.end(), Row{title, 0, 0});
    row_of_[i] = static_cast<std::size_t>(row - rows_.begin());
    ++row->total;
    if (plan[i].not_run_reason) ++row->done;
  }
  draw();
}

void ProgressBoard::probe_finished(std::size_t position) {
  if (position >= row_of_.size()) return;
  auto& row = rows_[row_of_[position]];
  if (row.done < row.total) ++row.done;
  draw();
}

void ProgressBoard::note(const std::string& text) {
  if (!enabled_) return;
  const bool had_board = drawn_ > 0;
  clear();
  err_ << text << "\n";
  if (had_board) draw();
  err_ << std::flush;
}

void ProgressBoard::clear() {
  if (!enabled_ || drawn_ == 0) return;
  // Up to the board's first line, then erase to the end of the screen.
  err_ << "\033[" << drawn_ << "A\r\033[J" << std::flush;
  drawn_ = 0;
}

std::string ProgressBoard::line(const Row& row) const {
  std::string title = row.title;
  title.resize(std::max<std::size_t>(title.size() + 1, 12), ' ');
  std::string text = title + (row.done == row.total ? "done: " : "probing: ") + std::to_string(row.done) + " of " +
                     std::to_string(row.total) + (row.total == 1 ? " probe finished" : " probes finished");
  // Shorter than the terminal, cut between code points: progress may be cut, the report never is.
  if (width_ > 1 && display_width(text) >= width_) text = wrap_words(text, width_ - 1, width_ - 1).front();
  return text;
}

void ProgressBoard::draw() {
  if (!enabled_ || rows_.empty()) return;
  if (drawn_ > 0) err_ << "\033[" << drawn_ << "A";
  for (const auto& row : rows_) err_ << "\r\033[K" << line(row) << "\n";
  drawn_ = rows_.size();
  err_ << std::flush;
}

}  // namespace vpncheck::client
