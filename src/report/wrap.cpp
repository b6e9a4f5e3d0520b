#include "src/report/wrap.h"

namespace vpncheck::client {
namespace {

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Byte length of the longest prefix of `word` that is at most `columns` wide,
// ending on a code point boundary (at least one code point, so progress is made).
std::size_t prefix_bytes(std::string_view word, std::size_t columns) {
  std::size_t bytes = 0;
  std::size_t taken = 0;
  while (bytes < word.size()) {
    std::size_t next = bytes + 1;
    while (next < word.size() && is_continuation(word[next])) ++next;
    if (taken == columns && taken > 0) break;
    bytes = next;
    ++taken;
  }
  return bytes;
}

}  // namespace

std::size_t display_width(std::string_view text) {
  std::size_t columns = 0;
  for (char c : text)
    if (!is_continuation(c)) ++columns;
  return columns;
}

std::vector<std::string> wrap_words(std::string_view text, std::size_t first_width, std::size_t rest_width) {
  std::vector<std::string> lines;
  if (first_width == 0 || rest_width == 0) {
    lines.emplace_back(text);
    return lines;
  }
  std::string line;
  std::size_t line_columns = 0;
  auto width = [&] { return lines.empty() ? first_width : rest_width; };
  auto flush = [&] {
    lines.push_back(std::move(line));
    line.clear();
    line_columns = 0;
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == ' ') {
      ++pos;
      continue;
    }
    auto end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(pos, end - pos);
    pos = end;
    std::size_t columns = display_width(word);
    if (line_columns > 0 && line_columns + 1 + columns <= width()) {
      line += ' ';
      line += word;
      line_columns += 1 + columns;
      continue;
    }
    if (line_columns > 0) flush();
    // A word wider than a whole line: as much as fits, then the rest on the next.
    while (columns > width()) {
      auto bytes = prefix_bytes(word, width());
      lines.emplace_back(word.substr(0, bytes));
      word.remove_prefix(bytes);
      columns = display_width(word);
    }
    line = std::string(word);
    line_columns = columns;
  }
  if (line_columns > 0 || lines.empty()) flush();
  return lines;
}

}  // namespace vpncheck::client
