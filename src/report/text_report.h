#pragma once

#include <ostream>

#include "src/report/report.h"

namespace vpncheck::client {

struct TextStyle {
  bool color = false;
  bool verbose = false;
};

// Colour only on a terminal without NO_COLOR and without --no-color.
TextStyle detect_text_style(bool no_color_flag, bool verbose, int fd);

void write_text_report(std::ostream& out, const Report& report, const TextStyle& style);

}  // namespace vpncheck::client
