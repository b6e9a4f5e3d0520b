#pragma once

#include <nlohmann/json.hpp>

#include "src/report/report.h"

namespace vpncheck::client {

// The vpncheck.report/1 document. Field names are stable (see the schema file
// src/report/vpncheck.report.schema.json); additions are fine, renames need /2.
nlohmann::json to_report_json(const Report& report);

}  // namespace vpncheck::client
