#include "probes/crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace vpncheck::probes {
namespace {

// Fetching an algorithm is a locked property query in OpenSSL 3, about a
// fifth of the reflector's time per WireGuard probe in a profile: each is
// fetched once and kept for the process's life (fetched algorithms are
// immutable and may be shared between threads). nullptr: not available.
const EVP_MD* fetched_digest(const char* name) {
  static const EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static const EVP_MD* blake2s = EVP_MD_fetch(nullptr, "BLAKE2S-256", nullptr);
  static const EVP_MD* sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  const std::string_view n(name);
  return n == "SHA256" ? sha256 : n == "BLAKE2S-256" ? blake2s : n == "SHA1" ? sha1 : nullptr;
}

EVP_MAC* fetched_mac(const char* name) {
  static EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  const std::string_view n(name);
  return n == "HMAC" ? hmac : nullptr;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// EVP_Digest allocates a context and the provider's state and frees both
// again on every call, several times the hashing of a probe-sized input. A
// context kept per thread and algorithm is initialised afresh for each
// digest (EVP_DigestInit_ex keeps the provider's state when the algorithm is
// the same), so nothing of one input carries over to the next.
template <std::size_t Slot>
EVP_MD_CTX* thread_digest_context() {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  return ctx.get();
}

template <std::size_t N, std::size_t Slot>
std::array<std::uint8_t, N> digest(const char* name, ByteView data) {
  std::array<std::uint8_t, N> out{};
  unsigned int len = 0;
  const EVP_MD* md = fetched_digest(name);
  EVP_MD_CTX* ctx = thread_digest_context<Slot>();
  // A missing digest is a broken OpenSSL install, not bad input.
  if (md == nullptr || ctx == nullptr || EVP_DigestInit_ex(ctx, md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 || EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 ||
      len != N)
    throw std::runtime_error(std::string("libcrypto cannot compute ") + name);
  return out;
}

}  // namespace

std::array<std::uint8_t, 32> sha256(ByteView data) { return digest<32, 0>("SHA256", data); }

std::array<std::uint8_t, 32> blake2s256(ByteView data) { return digest<32, 1>("BLAKE2S-256", data); }

std::array<std::uint8_t, 20> sha1(ByteView data) { return digest<20, 2>("SHA1", data); }

std::array<std::uint8_t, 20> hmac_sha1(ByteView key, ByteView data) {
  std::array<std::uint8_t, 20> out{};
  EVP_MAC* mac = fetched_mac("HMAC");
  EVP_MAC_CTX* ctx = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
  char digest_name[] = "SHA1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                         OSSL_PARAM_construct_end()};
  std::size_t written = 0;
  bool ok = ctx != nullptr && EVP_MAC_init(ctx, key.data(), key.size(), params) == 1 &&
            EVP_MAC_update(ctx, data.data(), data.size()) == 1 &&
            EVP_MAC_final(ctx, out.data(), &written, out.size()) == 1 && written == out.size();
  EVP_MAC_CTX_free(ctx);
  if (!ok) throw std::runtime_error("libcrypto cannot compute HMAC-SHA1");
  return out;
}

std::array<std::uint8_t, 12> hmac_sha1_96(ByteView key, ByteView data) {
  auto full = hmac_sha1(key, data);
  std::array<std::uint8_t, 12> out{};
  std::copy_n(full.begin(), out.size(), out.begin());
  return out;
}

namespace {

// Keyed BLAKE2s as RFC 7693 specifies it (§3.2, §3.3), written here because
// libcrypto's BLAKE2SMAC spends most of a WireGuard mac1 on setting up its
// context, and a key's block, compressed once, serves every message under
// that key: the reflector checks every initiation against one key.
class KeyedBlake2s {
 public:
  static constexpr std::size_t kBlock = 64;

  // `key` is 1 to 32 bytes, `out_size` 1 to 32.
  KeyedBlake2s(ByteView key, std::size_t out_size) : key_size_(key.size()), out_size_(out_size) {
    std::copy(key.begin(), key.end(), key_block_.begin());  // zero-padded to a block (§3.3)
    first_ = kIv;
    first_[0] ^= 0x01010000u ^ (static_cast<std::uint32_t>(key.size()) << 8) ^ static_cast<std::uint32_t>(out_size);
    after_key_ = first_;
    compress(after_key_, key_block_.data(), kBlock, false);
  }

  bool is_for(ByteView key, std::size_t out_size) const {
    return key.size() == key_size_ && out_size == out_size_ && std::equal(key.begin(), key.end(), key_block_.begin());
  }

  template <std::size_t N>
  std::array<std::uint8_t, N> digest(ByteView data) const {
    std::array<std::uint32_t, 8> h{};
    if (data.empty()) {  // the key block is the last block
      h = first_;
      compress(h, key_block_.data(), kBlock, true);
    } else {
      h = after_key_;
      std::uint64_t counted = kBlock;
      for (; data.size() > kBlock; data = data.subspan(kBlock)) {
        counted += kBlock;
        compress(h, data.data(), counted, false);
      }
      std::array<std::uint8_t, kBlock> last{};  // zero-padded
      std::copy(data.begin(), data.end(), last.begin());
      counted += data.size();
      compress(h, last.data(), counted, true);
    }
    std::array<std::uint8_t, N> out{};
    for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<std::uint8_t>(h[i / 4] >> (8 * (i % 4)));
    return out;
  }

 private:
  // The initialisation vector, SHA-256's (§2.6).
  static constexpr std::array<std::uint32_t, 8> kIv{0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
                                                    0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u};
  // The message schedule of the ten rounds (§2.7).
  static constexpr std::uint8_t kSigma[10][16] = {
      {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
      {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
      {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
      {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
      {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
  };

  static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  // The mixing function G with BLAKE2s's rotations 16, 12, 8, 7 (§3.1).
  static void mix(std::array<std::uint32_t, 16>& v, std::size_t a, std::size_t b, std::size_t c, std::size_t d,
                  std::uint32_t x, std::uint32_t y) {
    v[a] = v[a] + v[b] + x;
    v[d] = rotr(v[d] ^ v[a], 16);
    v[c] = v[c] + v[d];
    v[b] = rotr(v[b] ^ v[c], 12);
    v[a] = v[a] + v[b] + y;
    v[d] = rotr(v[d] ^ v[a], 8);
    v[c] = v[c] + v[d];
    v[b] = rotr(v[b] ^ v[c], 7);
  }

  // The compression function F (§3.2); `counted`: every byte so far, this block's included.
  static void compress(std::array<std::uint32_t, 8>& h, const std::uint8_t* block, std::uint64_t counted, bool last) {
    std::array<std::uint32_t, 16> m{};
    for (std::size_t i = 0; i < 16; ++i)
      m[i] = std::uint32_t{block[4 * i]} | std::uint32_t{block[4 * i + 1]} << 8 |
             std::uint32_t{block[4 * i + 2]} << 16 | std::uint32_t{block[4 * i + 3]} << 24;
    std::array<std::uint32_t, 16> v{};
    std::copy(h.begin(), h.end(), v.begin());
    std::copy(kIv.begin(), kIv.end(), v.begin() + 8);
    v[12] ^= static_cast<std::uint32_t>(counted);
    v[13] ^= static_cast<std::uint32_t>(counted >> 32);
    if (last) v[14] = ~v[14];
    for (const auto& s : kSigma) {
      mix(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
      mix(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
      mix(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
      mix(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
      mix(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
      mix(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
      mix(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
      mix(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (std::size_t i = 0; i < 8; ++i) h[i] ^= v[i] ^ v[i + 8];
  }

  std::size_t key_size_;
  std::size_t out_size_;
  std::array<std::uint8_t, kBlock> key_block_{};
  std::array<std::uint32_t, 8> first_{};      // the parameter block folded into the IV
  std::array<std::uint32_t, 8> after_key_{};  // ... and the key block compressed
};

}  // namespace

std::array<std::uint8_t, 16> blake2s_mac128(ByteView key, ByteView data) {
  if (key.empty() || key.size() > 32) throw std::invalid_argument("BLAKE2s keys are 1 to 32 bytes (RFC 7693 §2.1)");
  // The key most recently used on this thread (mac1's is public: a hash of
  // the responder's public key).
  thread_local std::optional<KeyedBlake2s> last;
  if (!last || !last->is_for(key, 16)) last.emplace(key, 16);
  return last->digest<16>(data);
}

}  // namespace vpncheck::probes
