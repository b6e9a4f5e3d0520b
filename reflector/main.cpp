// vpncheck-reflector: the cooperating server (DESIGN.md, Contract 2).
#include <boost/asio/signal_set.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "reflector/config.h"
#include "reflector/privilege.h"
#include "reflector/server.h"

int main(int argc, char** argv) {
  using namespace vpncheck::reflector;
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* credentials = std::getenv("CREDENTIALS_DIRECTORY");  // systemd.exec(5)
  ParseOutcome parsed = parse_args(args, credentials ? std::optional<std::string>(credentials) : std::nullopt);
  if (!parsed.config) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message;
    return parsed.exit_code;
  }

  for (const auto& warning : parsed.config->warnings) std::cerr << "vpncheck-reflector: warn: " << warning << '\n';
  if (parsed.config->user && ::geteuid() != 0) {
    // Checked before binding: failing after would leave ports bound for nothing.
    std::cerr << "vpncheck-reflector: error: " << *switch_user(*parsed.config->user) << '\n';
    return 1;
  }

  Server server(*parsed.config);
  if (auto error = server.start()) {
    std::cerr << "vpncheck-reflector: error: " << *error << '\n';
    return 1;
  }
  // Every socket, raw listeners included, is open: nothing needs privilege now.
  if (parsed.config->user) {
    if (auto error = switch_user(*parsed.config->user)) {
      std::cerr << "vpncheck-reflector: error: cannot drop privileges: " << *error
                << "; refusing to keep running with them\n";
      return 1;
    }
    std::cerr << "vpncheck-reflector: info: running as user " << *parsed.config->user << '\n';
  }
  if (auto error = drop_all_capabilities()) {
    std::cerr << "vpncheck-reflector: error: cannot drop capabilities: " << *error
              << "; refusing to keep running with them\n";
    return 1;
  }
  std::cerr << "vpncheck-reflector: info: every socket open; no capability kept"
            << (parsed.config->auth_key ? "; control API key from " + parsed.config->auth_key_source : "") << '\n';
  boost::asio::signal_set signals(server.context(), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    std::cerr << "vpncheck-reflector: info: " << (signal == SIGINT ? "SIGINT" : "SIGTERM")
              << ", stopping\n";
    server.stop();
  });
  server.run();
  return 0;
}
