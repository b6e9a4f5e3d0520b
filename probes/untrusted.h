// Handling bytes from the network that will be shown to people or parsed as
// JSON: the client's view of whatever a reflector (or a network pretending
// to be one) sends.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vpncheck::probes {

// Bounds on a control API answer, checked before and while it is parsed
// (observations_from_json, session_info_from_json), so a hostile reflector
// costs the client a few MB at most. Honest answers are far inside them: the
// default --max-observations 512 is about 30,000 values, nested 4 deep.
constexpr std::size_t kMaxAnswerBytes = 4 * 1024 * 1024;
constexpr std::size_t kMaxAnswerDepth = 32;
constexpr std::size_t kMaxAnswerValues = 200'000;
// A paged observations answer (next_after): at most this many pages and
// observations in all. A run sends a few hundred probes.
constexpr std::size_t kMaxObservationPages = 256;
constexpr std::size_t kMaxObservations = 16'384;

// Printable ASCII kept, every other byte as \xNN (the backslash too unless
// `keep_backslash`): text from the network made safe for a terminal,
// Markdown, XML and JSON alike, and still readable.
std::string escape_bytes(std::string_view raw, bool keep_backslash = false);

}  // namespace vpncheck::probes
