#include "reflector/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>

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
// from a block drawn at once; each byte is handed out once, then wiped. 64 KiB
// is the most one DRBG request gives (OpenSSL's CTR-DRBG max_request); a
// 4 KiB block still cost a WireGuard answer about 60 ns of RAND_bytes, this
// one about 20.
class BulkRandom {
 public:
  static constexpr std::size_t kBlock = 64 * 1024;
  static constexpr std::size_t kLargest = 256;  // larger draws go to RAND_bytes directly

  void fill(std::span<std::uint8_t> out) {
    if (out.size() > kLargest) return csprng_fill(out);
    if (!block_) block_ = std::make_unique<std::uint8_t[]>(kBlock);  // on the heap: not in every thread's TLS
    if (kBlock - used_ < out.size()) {
      csprng_fill({block_.get(), kBlock});
      used_ = 0;
    }
    std::copy_n(block_.get() + used_, out.size(), out.begin());
    std::fill_n(block_.get() + used_, out.size(), std::uint8_t{0});
    used_ += out.size();
  }

 private:
  std::unique_ptr<std::uint8_t[]> block_;
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
