// Test-only resources: a throw-away certificate authority (in memory, with the OpenSSL API),
// temp files and a free loopback port; and the loopback server's names as the tests use them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/loopback_server.hpp"

namespace expbridge::test {

using emulator::LoopbackServer;
using emulator::ServerReply;
using emulator::ServerRequest;
using emulator::TlsIdentity;

/// A throw-away certificate authority for TLS tests (EC P-256, valid for a day).
class TestCertificateAuthority {
 public:
  explicit TestCertificateAuthority(std::string common_name = "expbridge test CA");
  ~TestCertificateAuthority();
  TestCertificateAuthority(const TestCertificateAuthority&) = delete;
  TestCertificateAuthority& operator=(const TestCertificateAuthority&) = delete;

  /// The CA certificate, PEM.
  const std::string& certificate_pem() const noexcept;

  /// Issues a server certificate with these subjectAltNames: entries that
  /// parse as IP addresses become `IP:`, the rest `DNS:`.
  TlsIdentity issue(const std::vector<std::string>& names) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A file in the system temp dir, removed on destruction.
class TempFile {
 public:
  explicit TempFile(std::string_view contents, std::string_view suffix = ".pem");
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// A 127.0.0.1 TCP port on which nothing listens right now (bound then released),
/// for "connection refused" tests.
std::uint16_t unused_loopback_port();

}  // namespace expbridge::test
