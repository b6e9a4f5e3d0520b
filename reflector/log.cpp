#include "reflector/log.h"

#include <iostream>

namespace vpncheck::reflector {

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

std::optional<LogLevel> log_level_from_string(std::string_view s) {
  if (s == "debug") return LogLevel::debug;
  if (s == "info") return LogLevel::info;
  if (s == "warn" || s == "warning") return LogLevel::warn;
  if (s == "error") return LogLevel::error;
  return std::nullopt;
}

Logger::Logger(LogLevel level, std::ostream* out) : level_(level), out_(out ? out : &std::cerr) {}

void Logger::log(LogLevel level, std::string_view message) {
  if (!enabled(level)) return;
  std::lock_guard lock(mutex_);
  *out_ << "vpncheck-reflector: " << to_string(level) << ": " << message << '\n' << std::flush;
}

}  // namespace vpncheck::reflector
