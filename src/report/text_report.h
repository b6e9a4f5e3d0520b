#pragma once

#include <cstddef>
#include <ostream>

#include "src/report/report.h"

namespace vpncheck::client {

struct TextStyle {
  bool color = false;
  bool verbose = false;
  // Columns to wrap at; 0: no wrapping (one line per sentence, for pipes and files).
  std::size_t width = 0;
};

// The report's width when no terminal says otherwise.
inline constexpr std::size_t kDefaultTerminalWidth = 80;

// Colour: a terminal (TERM not "dumb"), no non-empty NO_COLOR, no --no-color.
bool use_colour(bool no_color_flag, const char* no_color_env, const char* term_env, bool is_terminal);
// A terminal's width from its window size, kDefaultTerminalWidth when it reports none.
std::size_t terminal_width(int fd);
// For output to `fd`: colour as use_colour decides from the environment, and
// wrapping at the terminal's width on a terminal; no wrapping elsewhere, so
// piped and saved reports stay one line per sentence whoever produced them.
TextStyle detect_text_style(bool no_color_flag, bool verbose, int fd);

void write_text_report(std::ostream& out, const Report& report, const TextStyle& style);

}  // namespace vpncheck::client
