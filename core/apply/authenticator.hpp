// Authenticating vendor requests: SigV4, a token header, or an OAuth client-credentials
// bearer token. Built once per backend from its typed AuthSpec; used before every attempt.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "credentials.hpp"
#include "expbridge/adapter.hpp"
#include "http/http_client.hpp"

namespace expbridge::apply {

/// OAuth access tokens shared by every backend of one run, keyed by (token URL,
/// client id, audience): fetched once, reused until shortly before they expire.
class TokenCache {
 public:
  struct Entry {
    std::string access_token;  // a secret
    std::chrono::steady_clock::time_point refresh_at;
  };
  /// Counts fetches (for tests and reports).
  int fetches = 0;
  std::map<std::string, Entry> entries;
  /// Fetches under way, by key, so a second backend of the same tenant waits for it
  /// instead of fetching again. Opaque: defined in authenticator.cpp.
  struct PendingFetch;
  std::map<std::string, std::shared_ptr<PendingFetch>> in_progress;
};

/// What authenticators need from the run.
struct AuthContext {
  http::HttpClient* client = nullptr;  ///< for token requests
  TokenCache* tokens = nullptr;
  EnvironmentLookup env;
  std::chrono::milliseconds token_timeout{10000};
  /// The SigV4 clock; tests fix it.
  std::function<std::chrono::system_clock::time_point()> now = [] { return std::chrono::system_clock::now(); };
};

/// Adds credentials to requests of one backend.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  /// Adds the auth headers (and the spec's fixed headers) to `request`, fetching a
  /// token first when none is cached. Called before EVERY attempt (SigV4 signs the
  /// attempt's time). Errors are `unauthorized` (or, from a token endpoint, `unavailable`
  /// when unreachable/5xx, `rate_limited` on 429, `internal` for an unusable answer)
  /// and never contain a secret.
  virtual boost::asio::awaitable<Status> authorize(http::Request& request) = 0;
  /// The vendor answered 401: drop cached credentials. True when trying again with
  /// fresh ones makes sense (a cached OAuth token); the caller does so once.
  virtual bool forget_credentials() { return false; }
};

/// Builds the authenticator for `spec` (SigV4, a header token, OAuth client credentials, or
/// none). Missing credentials fail here, before any request; a spec that fails `check_auth`
/// is `internal` (the adapter's spec was already checked when the config was loaded).
Result<std::unique_ptr<Authenticator>> make_authenticator(const AuthSpec& spec, AuthContext& context);

}  // namespace expbridge::apply
