// A key and a self-signed certificate written to PEM files, for tests of the
// control API inside TLS: the certificate names `subject_alt_name` (e.g.
// "IP:127.0.0.1") and, self-signed, is its own trust anchor in a CA file.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "probes/tls.h"

namespace vpncheck::client::fixtures {

struct TestCertificate {
  std::string certificate_file;
  std::string key_file;
  std::string sha256;  // probes/tls.h canonical form
};

// Empty `sha256` when OpenSSL failed (tests assert on it).
inline TestCertificate write_test_certificate(const std::filesystem::path& dir, const std::string& name,
                                              const std::string& subject_alt_name) {
  TestCertificate out;
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  if (key == nullptr || cert == nullptr) return out;
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert, subject);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  bool ok = true;
  for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, subject_alt_name},
                                   std::pair{NID_basic_constraints, std::string("critical,CA:TRUE")}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    ok = ok && ext != nullptr && X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
  }
  ok = ok && X509_sign(cert, key, EVP_sha256()) > 0;
  out.certificate_file = (dir / (name + ".crt")).string();
  out.key_file = (dir / (name + ".key")).string();
  FILE* c = std::fopen(out.certificate_file.c_str(), "w");
  FILE* k = std::fopen(out.key_file.c_str(), "w");
  ok = ok && c != nullptr && k != nullptr && PEM_write_X509(c, cert) == 1 &&
       PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (c != nullptr) std::fclose(c);
  if (k != nullptr) std::fclose(k);
  int size = ok ? i2d_X509(cert, nullptr) : 0;
  if (size > 0) {
    std::vector<std::uint8_t> der(static_cast<std::size_t>(size));
    unsigned char* p = der.data();
    i2d_X509(cert, &p);
    out.sha256 = probes::tls::certificate_sha256(der);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace vpncheck::client::fixtures
