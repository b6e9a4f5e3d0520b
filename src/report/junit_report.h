// The JUnit XML form of the report (--junit), for CI systems that show test
// results (GitLab artifacts:reports:junit, Jenkins, GitHub test reporters).
// One <testsuite name="vpncheck">, one <testcase> per protocol
// (classname "vpncheck.<protocol>"): pass passes; inconclusive is <skipped>;
// every other verdict is a <failure type="<verdict>"> whose message is
// "<verdict>: <summary>" and whose text holds the summary, the advice and the
// findings. A run that could not test at all is one testcase "reflector" with
// an <error>, never a row of failures.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "src/report/report.h"

namespace vpncheck::client {

enum class XmlContext { text, attribute };

// Text made safe for XML 1.0 element content or a quoted attribute value:
// & < > " ' escaped; tab and newline kept (literally in text, as character
// references in attributes, where a parser would otherwise turn them into
// spaces); carriage return always as &#13;; other control characters,
// U+FFFE/U+FFFF and invalid UTF-8 (which XML 1.0 cannot carry at all, not
// even as character references) become U+FFFD.
std::string xml_escape(std::string_view text, XmlContext context = XmlContext::attribute);

void write_junit_report(std::ostream& out, const Report& report);

}  // namespace vpncheck::client
