// expbridge — AWS Signature Version 4 (header-based) request signing.
//
// Used for AWS AppConfig and CloudWatch Evidently. Verified byte for byte against the
// official AWS SigV4 test suite (shared/testdata/sigv4, 31 vectors).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "expbridge/error.hpp"

namespace expbridge::auth {

/// Long-term or temporary AWS credentials.
/// Never log or print an instance: it holds the secret key and the session token.
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  ///< empty = long-term credentials, no token
};

/// One HTTP request to sign, as it will be sent.
struct SigningRequest {
  std::string method;  ///< e.g. `GET`, used verbatim
  /// Path as sent on the wire, already percent-encoded once, e.g.
  /// `/applications/abc/experimentdefinitions/x%2Fy`. Empty means `/`.
  std::string path;
  /// Raw query string without the leading `?`; may be empty. Percent-escapes in it are
  /// decoded and re-encoded, so both `a%20b` and a raw `a b` canonicalise to `a%20b`;
  /// a literal `+` is taken as a plus sign (send spaces as `%20`).
  std::string query;
  /// Request headers in send order; names are case-insensitive. Must contain `host`.
  /// Every header is signed except `user-agent`, `authorization`, `connection`,
  /// `transfer-encoding`, `expect`, `x-amzn-trace-id` (proxies and SDKs may change them)
  /// and, when `SigV4Options::sign_session_token` is false, `x-amz-security-token`.
  /// `x-amz-date` may be present (it must then equal the signing time) or absent (it is
  /// returned in `SigV4Parts::headers_to_add`).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  ///< exact payload bytes; empty for no body
};

/// What differs between services.
struct SigV4Options {
  std::string region;   ///< signing region, e.g. `us-east-1`
  std::string service;  ///< signing name, e.g. `appconfig`, `evidently`
  /// URI-encode every path segment again for the canonical URI (`%2F` -> `%252F`).
  /// Every service except S3 expects this; S3 signs the wire path verbatim.
  bool double_encode_path = true;
  /// Drop empty, `.` and `..` path segments before encoding. Every service except S3.
  bool normalize_path = true;
  /// Send and sign `x-amz-content-sha256` (hex SHA-256 of the body). Optional for
  /// AppConfig/Evidently, required by S3.
  bool add_content_sha256 = false;
  /// Sign `x-amz-security-token` (when a session token is set). Most services want it
  /// signed; a few expect it added after signing — then set this to false.
  bool sign_session_token = true;
};

/// The result of signing: the intermediate strings (for debugging and tests) and what
/// the caller must add to the outgoing request.
struct SigV4Parts {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;      ///< lowercase hex
  std::string authorization;  ///< value of the `authorization` header
  /// Headers (lowercase names) the caller must add to the request, in this order:
  /// `x-amz-date` if the request lacked it, `x-amz-security-token` if a session token is
  /// set and the request lacked it, `x-amz-content-sha256` if asked for and the request
  /// lacked it, and always `authorization` last. Contains the session token: don't log.
  std::vector<std::pair<std::string, std::string>> headers_to_add;
};

/// Signs `request` at time `amz_date` (`YYYYMMDDTHHMMSSZ`, UTC; see `format_amz_date`).
/// Deterministic: the same inputs give the same signature.
/// Fails with `invalid_input` when the time is malformed, `host` is missing, a present
/// `x-amz-date` header differs from `amz_date`, or the credentials, region, service or
/// method are empty; with `internal` if OpenSSL fails. Error messages never contain the
/// secret key, the session token or the signature.
Result<SigV4Parts> sign_v4(const SigningRequest& request, const AwsCredentials& credentials,
                           const SigV4Options& options, std::string_view amz_date);

/// Formats a time as `YYYYMMDDTHHMMSSZ` (UTC, seconds truncated) for `sign_v4`.
std::string format_amz_date(std::chrono::system_clock::time_point time);

/// Lowercase hex SHA-256 of `data`. Returns an empty string only if OpenSSL fails.
std::string sha256_hex(std::string_view data);

/// HMAC-SHA256 of `data` under `key`, as 32 raw bytes. Returns an empty string only if
/// OpenSSL fails.
std::string hmac_sha256(std::string_view key, std::string_view data);

/// RFC 3986 percent-encoding as SigV4 wants it: `A-Z a-z 0-9 - . _ ~` are kept, every
/// other byte becomes `%XX` (uppercase hex). `/` is kept when `encode_slash` is false
/// (for whole paths). Use it to build wire paths from labels: `x/y` -> `x%2Fy`.
std::string uri_encode(std::string_view data, bool encode_slash = true);

}  // namespace expbridge::auth
