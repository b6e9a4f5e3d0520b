// The reflector's log: one line per event on stderr, filtered by level.
// Client addresses are only ever logged at debug (privacy by default).
#pragma once

#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace vpncheck::reflector {

enum class LogLevel { debug, info, warn, error };

std::string_view to_string(LogLevel level);
std::optional<LogLevel> log_level_from_string(std::string_view s);

class Logger {
 public:
  explicit Logger(LogLevel level, std::ostream* out = nullptr);  // nullptr: std::cerr

  bool enabled(LogLevel level) const { return level >= level_; }
  void log(LogLevel level, std::string_view message);

  void debug(std::string_view m) { log(LogLevel::debug, m); }
  void info(std::string_view m) { log(LogLevel::info, m); }
  void warn(std::string_view m) { log(LogLevel::warn, m); }
  void error(std::string_view m) { log(LogLevel::error, m); }

 private:
  LogLevel level_;
  std::ostream* out_;
  std::mutex mutex_;  // stop() and the tests may log from another thread
};

}  // namespace vpncheck::reflector
