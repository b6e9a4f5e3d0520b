#include "reflector/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
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

namespace {

// RAND_bytes costs a system call (getpid, for fork detection) and a lock per
// call, about 2 us: more than the rest of answering a probe. Small draws come
// from a block drawn at once; each byte is handed out once, then wiped.
class BulkRandom {
 public:
  static constexpr std::size_t kBlock = 4096;
  static constexpr std::size_t kLargest = 256;  // larger draws go to RAND_bytes directly

  void fill(std::span<std::uint8_t> out) {
    if (out.size() > kLargest) return csprng_fill(out);
    if (kBlock - used_ < out.size()) {
      csprng_fill(block_);
      used_ = 0;
    }
    std::copy_n(block_.begin() + static_cast<std::ptrdiff_t>(used_), out.size(), out.begin());
    std::fill_n(block_.begin() + static_cast<std::ptrdiff_t>(used_), out.size(), std::uint8_t{0});
    used_ += out.size();
  }

 private:
  std::array<std::uint8_t, kBlock> block_{};
  std::size_t used_ = kBlock;  // empty: drawn on first use
};

}  // namespace

probes::RandomFill csprng() {
  return [](std::span<std::uint8_t> out) {
    thread_local BulkRandom bulk;  // the server's threads draw from blocks of their own
    bulk.fill(out);
  };
}

}  // namespace vpncheck::reflector
