// Keeping secrets out of everything expbridge prints.
//
// Every secret value the process holds (AWS secret keys and session tokens, LaunchDarkly
// tokens, OAuth client secrets and access tokens) is registered here by the code that
// reads or receives it. `scrub` is applied where vendor text enters (vendor error
// parsing) and at every exit (reports, the log formatter, Error::describe, the CLI's
// stderr), so a vendor, proxy or firewall that echoes our request headers back cannot
// make us print them.
#pragma once

#include <string>
#include <string_view>

namespace expbridge::secrets {

/// What a scrubbed value is replaced by.
inline constexpr std::string_view mask = "***";

/// Remembers `value` (and its percent-encoded form) for `scrub`, for the process's
/// lifetime. Thread-safe. Values shorter than `min_registered_length` are not kept:
/// masking every occurrence of two letters would make all output unreadable, and no
/// vendor issues such short secrets.
void register_secret(std::string_view value);
inline constexpr std::size_t min_registered_length = 6;

/// For secrets made per request (SigV4 signatures): remembered like `register_secret`,
/// but only the most recent `recent_secret_limit` are kept, so a long stream of updates
/// neither grows memory nor slows `scrub`. An older one is still masked wherever it
/// appears in a credential shape (`Signature=…`, `Authorization: …`).
void register_recent_secret(std::string_view value);
inline constexpr std::size_t recent_secret_limit = 64;

/// `text` with every registered secret and every credential-shaped value replaced by
/// `mask`. The shapes (case-insensitive): the value after a credential-bearing name
/// followed by `:` or `=` (`Authorization`, `Proxy-Authorization`, `X-Amz-Security-Token`,
/// `X-Amz-Signature`, `Signature`, `access_token`, `client_secret`, ... — as a header line, a query
/// parameter or a JSON member such as `"authorization": "…"`), the token (8 characters or
/// more) after `Bearer `,
/// the hex after `Signature=`, and the rest of an `AWS4-HMAC-SHA256 Credential=…` value.
/// Thread-safe.
std::string scrub(std::string_view text);

/// True when `text` holds a registered secret (for tests and assertions).
bool holds_registered_secret(std::string_view text);

}  // namespace expbridge::secrets
