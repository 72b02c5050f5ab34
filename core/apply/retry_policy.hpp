// When to try a vendor request again, and how long to wait: exponential backoff with
// full jitter, bent to each vendor's own signal (Retry-After, a rate-window reset).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "expbridge/error.hpp"
#include "expbridge/mapping.hpp"
#include "http/http_client.hpp"

namespace expbridge::apply {

/// Per-backend retry settings (config keys `attempts`, `retry_base_ms`, `retry_cap_ms`).
struct RetryOptions {
  int attempts = 3;                         ///< total tries, the first included (1 = never retry)
  std::chrono::milliseconds base{100};      ///< backoff base: try n waits random(0, min(cap, base * 2^(n-1)))
  std::chrono::milliseconds cap{20000};     ///< the longest wait, also the clamp for vendor signals
};

/// What one attempt ended with: a response, or a transport error (never both).
struct AttemptOutcome {
  const http::Response* response = nullptr;
  const Error* transport_error = nullptr;  ///< from the HTTP client; `request_sent` says if it may have arrived
};

struct RetryDecision {
  bool retry = false;
  std::chrono::milliseconds delay{0};
  std::string reason;  ///< for logs and reports: "429 Too Many Requests, Retry-After 2 s", "timed out", ...
  bool vendor_signal = false;  ///< the delay is the vendor's (Retry-After, a reset), not backoff
};

/// Decides after attempt number `attempt` (1-based) of a request. Retries:
/// transport errors (connect failures always; timeouts/resets only when `idempotent` or
/// when the request cannot have been sent); statuses listed in `spec.statuses`; any
/// response whose vendor error code is in `spec.codes` — unless attempts are used up.
/// Non-idempotent requests are retried only on signals that the vendor refused them
/// unprocessed (429, throttling codes, 503) or on failures before sending.
/// The delay is full jitter, replaced by the vendor's signal when it sends one
/// (Retry-After seconds or HTTP date; `spec.reset_header` in `spec.reset_unit`, which wins
/// over Retry-After when it is in epoch_ms, the more precise),
/// a signal in the past falls back to backoff, one beyond `cap` is clamped to `cap`.
RetryDecision decide_retry(const HttpSpec& spec, const RetryOptions& options, int attempt, bool idempotent,
                           const AttemptOutcome& outcome, std::chrono::system_clock::time_point now,
                           std::mt19937_64& random);

/// True when the vendor throttled this answer: a 429, or a throttling code of `spec.retry.codes`
/// (AWS answers ThrottlingException with 400). A throttled request was refused unprocessed.
bool is_throttled(const HttpSpec& spec, const http::Response& response);

/// What an answer says of the vendor's rate budget (`spec.budget`, `spec.retry.reset_header`).
struct BudgetSignal {
  std::optional<std::int64_t> remaining;  ///< the smallest `budget.remaining` header present
  std::optional<std::int64_t> limit;      ///< `budget.limit`, when sent
  std::optional<std::chrono::milliseconds> reset_in;  ///< until the window resets; unset when absent or past
};
BudgetSignal read_budget(const HttpSpec& spec, const http::Response& response, std::chrono::system_clock::time_point now);

/// How long a whole backend pauses after a throttled answer: the vendor's most precise signal
/// (as `decide_retry` reads it, clamped to `options.cap`), else full-jitter backoff for the
/// `streak`-th throttle in a row. Always `retry`: a rate-limit wait never spends an attempt;
/// the caller's deadline bounds it.
RetryDecision throttle_wait(const HttpSpec& spec, const RetryOptions& options, int streak, const http::Response& response,
                            std::chrono::system_clock::time_point now, std::mt19937_64& random);

/// The vendor's error from a non-2xx response, per `spec.errors`: code (sanitised),
/// message, request id, HTTP status. `ErrorCode` from the status (401/403 unauthorized,
/// 404 not_found, 409 conflict, 429 or a throttling code rate_limited, 5xx unavailable,
/// other 4xx invalid_input). The message is "<vendor code>: <vendor message>" (or what
/// exists of them, else the status line); a body that is not JSON is quoted, cut to 300 bytes.
Error vendor_error(const HttpSpec& spec, const http::Response& response);

/// The sanitised AWS error code: `a:b` -> `a`, `x#Code` -> `Code`, `Code,extra` -> `Code`.
std::string sanitize_aws_code(std::string_view raw);

}  // namespace expbridge::apply
