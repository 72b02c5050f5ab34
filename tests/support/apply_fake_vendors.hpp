// expbridge tests — four fake vendor APIs on 127.0.0.1 for `apply` tests.
//
// One LoopbackServer per backend of the config this helper writes:
//   aws (appconfig), ld (launchdarkly), a0 (auth0, also serving POST /oauth/token), ev (evidently).
// Every API answers `200 {}` until a test installs its own handler; the Auth0 server
// issues a fresh, distinct access token per token request. Handlers run on the
// servers' threads: they must not block (use ServerReply::delay).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/test_resources.hpp"

namespace expbridge::test {

// Test credentials: distinctive strings, so a leak into logs or reports is easy to spot.
inline constexpr std::string_view kApplyAwsAccessKeyId = "AKIDEXAMPLE";
inline constexpr std::string_view kApplyAwsSecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
inline constexpr std::string_view kApplyAwsSessionToken = "FQoGZXIvYXdzEXAMPLE-session-token-q7Rz";
inline constexpr std::string_view kApplyLdToken = "api-5f0c-ld-test-token-8d1e9b";
inline constexpr std::string_view kApplyAuth0ClientId = "a0ClientIdTest42";
// Characters that form encoding must escape (`+`, `/`, `=`, `&`), none a shell quote.
inline constexpr std::string_view kApplyAuth0ClientSecret = "a0-s3cr3t+/=&value~Zq";
inline constexpr std::string_view kApplyAuth0Domain = "example.us.auth0.com";
/// Every Auth0 access token the fake issues starts with this (then the fetch number).
inline constexpr std::string_view kApplyAuth0TokenPrefix = "a0-access-token-eyJhbGciOi-";

/// The variables a complete run needs, by name.
std::map<std::string, std::string> apply_test_environment();

/// The four backends' config names, in config order.
inline const std::vector<std::string> kApplyBackends = {"aws", "ld", "a0", "ev"};

/// What the written config says besides the endpoints.
struct ApplyConfigOptions {
  /// Settings added to every backend (`retry_base_ms: 5`, ...); values are YAML scalars.
  std::map<std::string, std::string> common = {
      {"retry_base_ms", "5"}, {"retry_cap_ms", "3000"}, {"timeout_ms", "3000"}, {"deadline_ms", "8000"}};
  /// Per backend name: settings added to (or replacing) `common` for that backend.
  std::map<std::string, std::map<std::string, std::string>> per_backend;
  /// Extra experiments bound at all four backends with minimal bindings, named `exp-1` ...
  /// `exp-N` (N ≤ 9); `checkout-redesign` (the sample's bindings) is always there.
  int extra_experiments = 0;
};

class FakeVendors {
 public:
  using Handler = LoopbackServer::Handler;

  FakeVendors();
  ~FakeVendors();
  FakeVendors(const FakeVendors&) = delete;
  FakeVendors& operator=(const FakeVendors&) = delete;

  /// The server behind a backend name (`aws`, `ld`, `a0`, `ev`).
  LoopbackServer& server(std::string_view backend);
  /// Replaces the API handler of a backend. For `a0` the token endpoint keeps being
  /// served by the token handler.
  void set_api_handler(std::string_view backend, Handler handler);
  /// Replaces the Auth0 token endpoint's handler (default: issue a token, 24 h).
  void set_token_handler(Handler handler);

  /// The changes the API of a backend received: not the GETs `apply` sends to read the
  /// current state first, nor (for `a0`) token requests.
  std::vector<ServerRequest> api_requests(std::string_view backend) const;
  /// The state reads (GETs) a backend received.
  std::vector<ServerRequest> state_reads(std::string_view backend) const;
  /// Requests the Auth0 token endpoint received.
  std::vector<ServerRequest> token_requests() const;
  /// Every access token the default token handler issued, in order.
  std::vector<std::string> issued_tokens() const;
  /// Requests received by all four servers together (token requests included).
  std::size_t total_requests() const;

  /// A config whose four backends point `endpoint:` at these servers.
  std::string config(const ApplyConfigOptions& options = {}) const;

  /// The default API answer: `200 {}` as JSON.
  static ServerReply ok_json(std::string body = "{}");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace expbridge::test
