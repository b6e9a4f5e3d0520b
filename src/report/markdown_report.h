// The GitHub-flavoured Markdown form of the report (--markdown), written for a
// pipeline's job summary ($GITHUB_STEP_SUMMARY) or a merge-request comment: a
// heading, one line about the reflector and NAT, a table
// | Protocol | Verdict | Summary |, then the advice for every protocol that
// did not pass.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "src/report/report.h"

namespace vpncheck::client {

// Text safe inside one table cell or list item: '|' escaped (it would end the
// cell), '\' escaped so a trailing one cannot swallow it, '<' as &lt; (no raw
// HTML), line breaks folded into spaces (a row is one line).
std::string markdown_escape(std::string_view text);

void write_markdown_report(std::ostream& out, const Report& report);

}  // namespace vpncheck::client
