// Test-only resources: a throw-away certificate authority, temp files, a free loopback port.

#include "support/test_resources.hpp"

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace expbridge::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// ---------------------------------------------------------------------------
// Test PKI

namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Deleter {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

[[noreturn]] void openssl_failure(const char* what) { throw std::runtime_error(std::string("test PKI: ") + what); }

PkeyPtr generate_key() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) openssl_failure("EC key generation failed");
  return key;
}

void add_extension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) openssl_failure("bad certificate extension");
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (added != 1) openssl_failure("cannot add certificate extension");
}

/// Self-signed when `issuer` is null.
X509Ptr make_certificate(EVP_PKEY* subject_key, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key,
                         bool is_ca, const std::vector<std::string>& names) {
  X509Ptr cert(X509_new());
  if (!cert) openssl_failure("X509_new failed");
  X509_set_version(cert.get(), 2);

  // Distinct serials per issuer keep verifiers from conflating certificates.
  static std::mt19937_64 serials{std::random_device{}()};
  ASN1_INTEGER_set_int64(X509_get_serialNumber(cert.get()), static_cast<std::int64_t>(serials() >> 2));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), subject_key);

  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : subject);

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), &ctx, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_extension(cert.get(), &ctx, NID_key_usage,
                is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
  add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  if (!is_ca) {
    add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
    add_extension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth");
    std::string san;
    for (const auto& name : names) {
      error_code ec;
      (void)asio::ip::make_address(name, ec);
      san += (san.empty() ? "" : ",") + std::string(ec ? "DNS:" : "IP:") + name;
    }
    if (!san.empty()) add_extension(cert.get(), &ctx, NID_subject_alt_name, san);
  }

  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) openssl_failure("signing failed");
  return cert;
}

std::string drain(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) openssl_failure("PEM encoding of a certificate failed");
  return drain(bio.get());
}

std::string to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    openssl_failure("PEM encoding of a key failed");
  return drain(bio.get());
}

}  // namespace

struct TestCertificateAuthority::Impl {
  PkeyPtr key;
  X509Ptr cert;
  std::string pem;
};

TestCertificateAuthority::TestCertificateAuthority(std::string common_name) : impl_(std::make_unique<Impl>()) {
  impl_->key = generate_key();
  impl_->cert = make_certificate(impl_->key.get(), common_name, nullptr, impl_->key.get(), true, {});
  impl_->pem = to_pem(impl_->cert.get());
}

TestCertificateAuthority::~TestCertificateAuthority() = default;

const std::string& TestCertificateAuthority::certificate_pem() const noexcept { return impl_->pem; }

TlsIdentity TestCertificateAuthority::issue(const std::vector<std::string>& names) const {
  auto key = generate_key();
  auto cert = make_certificate(key.get(), names.empty() ? "server" : names.front(), impl_->cert.get(),
                               impl_->key.get(), false, names);
  return TlsIdentity{to_pem(cert.get()), to_pem(key.get())};
}

// ---------------------------------------------------------------------------
// Helpers

TempFile::TempFile(std::string_view contents, std::string_view suffix) {
  static std::mt19937_64 names{std::random_device{}()};
  char token[17];
  std::snprintf(token, sizeof token, "%016llx", static_cast<unsigned long long>(names()));
  path_ = std::filesystem::temp_directory_path() / ("expbridge-test-" + std::string(token) + std::string(suffix));
  std::ofstream out(path_, std::ios::binary);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!out) throw std::runtime_error("TempFile: cannot write " + path_.string());
}

TempFile::~TempFile() {
  std::error_code ignored;  // a leftover temp file is harmless
  std::filesystem::remove(path_, ignored);
}

std::uint16_t unused_loopback_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  // Once closed, nothing listens there: connects are refused (until some other
  // socket happens to take the port, which the kernel makes unlikely soon).
  acceptor.close();
  return port;
}

}  // namespace expbridge::test
