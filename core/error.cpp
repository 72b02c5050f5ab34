#include "expbridge/error.hpp"

#include "message_text.hpp"
#include "secrets.hpp"

namespace expbridge {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_input: return "invalid_input";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::unauthorized: return "unauthorized";
    case ErrorCode::rate_limited: return "rate_limited";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::internal: return "internal";
  }
  return "internal";
}

Error make_error(ErrorCode code, std::string message) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  return e;
}

Error invalid_field(std::string field, std::string message) {
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.field = std::move(field);
  return e;
}

std::string Error::describe() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
    out += ": ";
  }
  if (!backend.empty()) {
    out += "backend " + backend;
    if (!vendor.empty()) out += " (" + vendor + ")";
    out += ": ";
  } else if (!vendor.empty()) {
    out += vendor + ": ";
  }
  if (!operation.empty()) out += operation + ": ";
  // A field path holds the document's own keys: shown shortened and escaped, as values are.
  if (!field.empty()) out += printable_text(field, 160) + ": ";
  out += message;
  if (http_status != 0) out += " [HTTP " + std::to_string(http_status) + "]";
  if (!request_id.empty()) out += " [request id " + request_id + "]";
  // Every line a person reads goes through here: the last chance to mask an echoed credential.
  return secrets::scrub(out);
}

}  // namespace expbridge
