#include "reflector/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace vpncheck::reflector {

void csprng_fill(std::span<std::uint8_t> out) {
  while (!out.empty()) {
    std::size_t chunk = std::min<std::size_t>(out.size(), INT_MAX);
    if (RAND_bytes(out.data(), static_cast<int>(chunk)) != 1) {
      std::fputs("vpncheck-reflector: error: OpenSSL RAND_bytes failed; no CSPRNG, aborting\n", stderr);
      std::abort();
    }
    out = out.subspan(chunk);
  }
}

probes::RandomFill csprng() { return [](std::span<std::uint8_t> out) { csprng_fill(out); }; }

}  // namespace vpncheck::reflector
