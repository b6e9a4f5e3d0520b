#include "probes/crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>

namespace vpncheck::probes {
namespace {

template <std::size_t N>
std::array<std::uint8_t, N> digest(const char* name, ByteView data) {
  std::array<std::uint8_t, N> out{};
  unsigned int len = 0;
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  // A missing digest is a broken OpenSSL install, not bad input.
  if (md == nullptr || EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 ||
      len != N) {
    EVP_MD_free(md);
    throw std::runtime_error(std::string("libcrypto cannot compute ") + name);
  }
  EVP_MD_free(md);
  return out;
}

}  // namespace

std::array<std::uint8_t, 32> sha256(ByteView data) { return digest<32>("SHA256", data); }

std::array<std::uint8_t, 32> blake2s256(ByteView data) { return digest<32>("BLAKE2S-256", data); }

std::array<std::uint8_t, 20> sha1(ByteView data) { return digest<20>("SHA1", data); }

std::array<std::uint8_t, 20> hmac_sha1(ByteView key, ByteView data) {
  std::array<std::uint8_t, 20> out{};
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
  char digest_name[] = "SHA1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                         OSSL_PARAM_construct_end()};
  std::size_t written = 0;
  bool ok = ctx != nullptr && EVP_MAC_init(ctx, key.data(), key.size(), params) == 1 &&
            EVP_MAC_update(ctx, data.data(), data.size()) == 1 &&
            EVP_MAC_final(ctx, out.data(), &written, out.size()) == 1 && written == out.size();
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  if (!ok) throw std::runtime_error("libcrypto cannot compute HMAC-SHA1");
  return out;
}

std::array<std::uint8_t, 12> hmac_sha1_96(ByteView key, ByteView data) {
  auto full = hmac_sha1(key, data);
  std::array<std::uint8_t, 12> out{};
  std::copy_n(full.begin(), out.size(), out.begin());
  return out;
}

std::array<std::uint8_t, 16> blake2s_mac128(ByteView key, ByteView data) {
  std::array<std::uint8_t, 16> out{};
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "BLAKE2SMAC", nullptr);
  EVP_MAC_CTX* ctx = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
  std::size_t size = out.size();
  OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                         OSSL_PARAM_construct_end()};
  std::size_t written = 0;
  bool ok = ctx != nullptr && EVP_MAC_init(ctx, key.data(), key.size(), params) == 1 &&
            EVP_MAC_update(ctx, data.data(), data.size()) == 1 &&
            EVP_MAC_final(ctx, out.data(), &written, out.size()) == 1 && written == out.size();
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  if (!ok) throw std::runtime_error("libcrypto cannot compute BLAKE2SMAC");
  return out;
}

}  // namespace vpncheck::probes
