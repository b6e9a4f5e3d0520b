#include <iostream>

#include "src/app.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = vpncheck::client::parse_args(args);
  if (!parsed.options) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message << "\n";
    return parsed.exit_code;
  }
  return vpncheck::client::run_vpncheck(*parsed.options, std::cout, std::cerr);
}
