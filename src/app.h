// The client's top level: options in, report out, exit code back. main() is a
// thin shell around this so the whole flow can be driven from tests.
#pragma once

#include <ostream>

#include "src/cli/options.h"

namespace vpncheck::client {

int run_vpncheck(const Options& options, std::ostream& out, std::ostream& err);
void list_probes(std::ostream& out);

}  // namespace vpncheck::client
