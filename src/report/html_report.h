// The HTML report (--html FILE): one self-contained page (inline CSS and SVG,
// nothing fetched) drawing, per protocol, the path this run saw.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace vpncheck::client {

// `report` is the vpncheck.report/1 document (to_report_json): the page shows
// exactly what the JSON report says. Every string in it is escaped.
std::string render_html_report(const nlohmann::json& report);

// Text for HTML element content and quoted attribute values.
std::string html_escape(std::string_view text);

}  // namespace vpncheck::client
