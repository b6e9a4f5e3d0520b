#include "probes/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <memory>
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
  static EVP_MAC* blake2s = EVP_MAC_fetch(nullptr, "BLAKE2SMAC", nullptr);
  const std::string_view n(name);
  return n == "HMAC" ? hmac : n == "BLAKE2SMAC" ? blake2s : nullptr;
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

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

constexpr std::size_t kBlake2sMaxKey = 32;  // BLAKE2s keys are 1-32 bytes (RFC 7693 §2.5)

// Setting a BLAKE2s MAC up (a context, its size parameter, the key) costs
// about a fifth of MACing a WireGuard initiation, and WireGuard's mac1 key is
// fixed per responder. Each thread keeps one context holding the last key it
// was given; EVP_MAC_init without a key starts a new MAC under that key.
// What it keeps is that one key (mac1's is derived from a public key): the
// state of a message does not outlive its MAC (init overwrites it, and
// libcrypto's BLAKE2 final wipes it).
struct KeyedBlake2s {
  KeyedBlake2s() = default;
  KeyedBlake2s(const KeyedBlake2s&) = delete;
  KeyedBlake2s& operator=(const KeyedBlake2s&) = delete;
  ~KeyedBlake2s() { OPENSSL_cleanse(key.data(), key.size()); }  // the context wipes its own copy when freed

  std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx;
  std::array<std::uint8_t, kBlake2sMaxKey> key{};
  std::size_t key_size = 0;  // 0: no key set yet
};

}  // namespace

std::array<std::uint8_t, 16> blake2s_mac128(ByteView key, ByteView data) {
  std::array<std::uint8_t, 16> out{};
  thread_local KeyedBlake2s keyed;
  if (!keyed.ctx) {
    EVP_MAC* mac = fetched_mac("BLAKE2SMAC");
    if (mac != nullptr) keyed.ctx.reset(EVP_MAC_CTX_new(mac));
  }
  const bool same_key = keyed.key_size != 0 && key.size() == keyed.key_size &&
                        std::equal(key.begin(), key.end(), keyed.key.begin());
  bool ok = keyed.ctx != nullptr;
  if (ok && same_key) {
    ok = EVP_MAC_init(keyed.ctx.get(), nullptr, 0, nullptr) == 1;
  } else if (ok) {
    std::size_t size = out.size();
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
    keyed.key_size = 0;  // until the new key is in
    ok = EVP_MAC_init(keyed.ctx.get(), key.data(), key.size(), params) == 1;
    if (ok && key.size() <= keyed.key.size()) {
      std::copy(key.begin(), key.end(), keyed.key.begin());
      keyed.key_size = key.size();
    }
  }
  std::size_t written = 0;
  ok = ok && EVP_MAC_update(keyed.ctx.get(), data.data(), data.size()) == 1 &&
       EVP_MAC_final(keyed.ctx.get(), out.data(), &written, out.size()) == 1 && written == out.size();
  if (!ok) throw std::runtime_error("libcrypto cannot compute BLAKE2SMAC");
  return out;
}

}  // namespace vpncheck::probes
