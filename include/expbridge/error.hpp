// expbridge — errors as values.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace expbridge {

/// What kind of failure an `Error` is. Small on purpose: callers branch on it
/// (retry or not, exit code 2 or 1), the message carries the detail.
enum class ErrorCode {
  invalid_input,  ///< the update, config or a value a vendor would reject; nothing was sent
  unsupported,    ///< a backend cannot express what was asked (a strict run refuses skips)
  not_found,      ///< the vendor says the resource does not exist
  conflict,       ///< the vendor refused because of the resource's state
  unauthorized,   ///< credentials missing, wrong or lacking permission
  rate_limited,   ///< the vendor throttled the call
  unavailable,    ///< network failure, timeout, 5xx
  internal,       ///< a bug or an unexpected vendor answer
};

/// The name of a code as used in reports and JSON (`invalid_input`, ...).
std::string_view to_string(ErrorCode code) noexcept;

/// One failure, with everything a person needs to act on it.
/// Empty strings mean "not applicable". Never holds a secret.
struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;     ///< the rule that was broken or what the vendor said
  std::string file;        ///< input file (update, config, mapping table) when one is concerned
  std::string field;       ///< neutral field path, e.g. `variations[two-step].weight`
  std::string backend;     ///< configured backend name, e.g. `aws`
  std::string vendor;      ///< vendor of that backend, e.g. `appconfig`
  std::string operation;   ///< vendor operation, e.g. `UpdateExperimentRun`
  int http_status = 0;     ///< vendor HTTP status, 0 when no response
  std::string request_id;  ///< vendor request id, when the vendor gave one
  int line = 0;            ///< 1-based position in `file`, 0 when unknown
  int column = 0;
  /// The request may have reached the vendor before the failure (a timeout or a reset
  /// after sending): resending a non-idempotent request could apply it twice.
  bool request_sent = false;

  /// One line for people: `file:line:col: backend (vendor): field: message`.
  std::string describe() const;
};

/// Shorthand for an `Error` with a code and a message.
Error make_error(ErrorCode code, std::string message);

/// An invalid_input error about one field (`variations[1].weight`, `backends.aws.region`).
Error invalid_field(std::string field, std::string message);

/// A value or the reason there is none. No exception crosses the public API.
template <class T>
using Result = std::expected<T, Error>;

/// The result of an operation that returns nothing on success.
using Status = std::expected<void, Error>;

}  // namespace expbridge

/// Propagates an error from an expression yielding `Result<T>` / `Status`.
#define EXPBRIDGE_RETURN_IF_ERROR(expr)                                     \
  do {                                                                      \
    auto&& expbridge_status_ = (expr);                                      \
    if (!expbridge_status_) return std::unexpected(std::move(expbridge_status_).error()); \
  } while (false)

/// Assigns the value of an expression yielding `Result<T>` to `target`, or propagates its error.
#define EXPBRIDGE_ASSIGN_OR_RETURN(target, expr)                                        \
  do {                                                                                   \
    auto expbridge_result_ = (expr);                                                     \
    if (!expbridge_result_) return std::unexpected(std::move(expbridge_result_).error()); \
    target = std::move(*expbridge_result_);                                              \
  } while (false)
