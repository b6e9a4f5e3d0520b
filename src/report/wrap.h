// Word wrapping for the terminal report: pure functions over UTF-8 text.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vpncheck::client {

// Terminal columns `text` takes: one per code point (the report's text is
// Latin script, arrows and dashes: no double-width or combining characters).
std::size_t display_width(std::string_view text);

// `text` split into lines of at most `first_width` columns (the first line)
// and `rest_width` columns (the others), breaking at spaces. A word longer than
// a line is split between code points, never inside one, so nothing is cut
// and no line is wider than asked. Runs of spaces at a break are dropped.
// A width of 0 means unlimited: the whole text on one line.
std::vector<std::string> wrap_words(std::string_view text, std::size_t first_width, std::size_t rest_width);

}  // namespace vpncheck::client
