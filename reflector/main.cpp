// vpncheck-reflector: the cooperating server (DESIGN.md, Contract 2).
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "reflector/config.h"
#include "reflector/privilege.h"
#include "reflector/server.h"

int main(int argc, char** argv) {
  using namespace vpncheck::reflector;
  std::vector<std::string> args(argv + 1, argv + argc);
  ParseOutcome parsed = parse_args(args);
  if (!parsed.config) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message;
    return parsed.exit_code;
  }

  Server server(*parsed.config);
  if (auto error = server.start()) {
    std::cerr << "vpncheck-reflector: error: " << *error << '\n';
    return 1;
  }
  if (parsed.config->user) {
    // Every socket is bound; no raw listeners exist yet, so no capability is kept.
    if (auto error = drop_privileges({*parsed.config->user, /*keep_net_raw=*/false})) {
      std::cerr << "vpncheck-reflector: error: cannot drop privileges: " << *error
                << "; refusing to keep running with them\n";
      return 1;
    }
    std::cerr << "vpncheck-reflector: info: running as user " << *parsed.config->user << '\n';
  }
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
