// Retry decisions and vendor error decoding. Everything vendor-specific comes from the
// table's `http:` section (HttpSpec); this file only knows HTTP and the shapes the
// table can name, so a new vendor is a table edit, not a code change.
#include "apply/retry_policy.hpp"

#include "message_text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>

#include "secrets.hpp"

namespace expbridge::apply {
namespace {

using std::chrono::milliseconds;

// Longest stretch of a non-JSON body quoted in a message: enough to recognise a proxy's
// HTML error page, short enough to keep logs readable.
constexpr std::size_t k_quoted_body_bytes = 300;

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower_ascii(a[i]) != lower_ascii(b[i])) return false;
  return true;
}

bool icontains(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i)
    if (iequals(haystack.substr(i, needle.size()), needle)) return true;
  return false;
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view space = " \t\r\n";
  const auto first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(space);
  return s.substr(first, last - first + 1);
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return {};
  }
}

std::string status_line(int status) {
  std::string line = "HTTP " + std::to_string(status);
  if (const auto phrase = reason_phrase(status); !phrase.empty()) {
    line += ' ';
    line += phrase;
  }
  return line;
}

// A body that is not JSON, as a quoted one-line excerpt: control characters and bytes
// that are not UTF-8 escaped, cut at a character boundary.
std::string quote_body(std::string_view body) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  std::size_t i = 0;
  while (i < body.size()) {
    std::size_t length = utf8_sequence_length(body, i);
    if (length == 0) length = 1;  // a stray byte, escaped below
    if (i + length > k_quoted_body_bytes) break;
    const auto c = static_cast<unsigned char>(body[i]);
    if (utf8_sequence_length(body, i) == 0 || c < 0x20 || c == 0x7F) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          out += "\\x";
          out += hex[c >> 4];
          out += hex[c & 0xF];
      }
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out.append(body.substr(i, length));
    }
    i += length;
  }
  out += '"';
  if (i < body.size()) out += " (first " + std::to_string(i) + " of " + std::to_string(body.size()) + " bytes)";
  return out;
}

// A member by name: the exact spelling first, then any case (vendors disagree on
// `Message` vs `message`, and the table lists names as documented).
const boost::json::value* find_member(const boost::json::object& object, std::string_view name) {
  if (const auto* exact = object.if_contains(name)) return exact;
  for (const auto& member : object)
    if (iequals(member.key(), name)) return &member.value();
  return nullptr;
}

std::optional<std::string> scalar_text(const boost::json::value& v) {
  if (v.is_string()) return std::string(trim(v.get_string()));
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  return std::nullopt;
}

// What the vendor said, found through the table's sources (`header:<name>`, `body:<member>`).
struct VendorSays {
  std::string code;  // sanitised when the table asks for it
  std::string message;
  std::string request_id;
  bool body_is_object = false;
};

std::string first_source(const std::vector<std::string>& sources, const http::Response& response,
                         const boost::json::object* body) {
  for (const auto& source : sources) {
    if (source.starts_with("header:")) {
      if (const auto value = response.header(std::string_view(source).substr(7))) {
        if (const auto text = trim(*value); !text.empty()) return std::string(text);
      }
    } else if (source.starts_with("body:") && body != nullptr) {
      if (const auto* member = find_member(*body, std::string_view(source).substr(5))) {
        if (auto text = scalar_text(*member); text && !text->empty()) return std::move(*text);
      }
    }
  }
  return {};
}

VendorSays read_vendor_error(const HttpSpec& spec, const http::Response& response) {
  VendorSays says;
  boost::json::value parsed;
  if (!trim(response.body).empty()) {
    boost::json::error_code ec;
    parsed = boost::json::parse(response.body, ec);
    if (ec) parsed = nullptr;
  }
  const boost::json::object* body = parsed.if_object();
  says.body_is_object = body != nullptr;
  says.code = first_source(spec.errors.code, response, body);
  if (spec.errors.sanitize_code == "aws") says.code = sanitize_aws_code(says.code);
  says.message = first_source(spec.errors.message, response, body);
  says.request_id = first_source(spec.errors.request_id, response, body);
  return says;
}

bool listed_code(const HttpSpec& spec, std::string_view code) {
  return !code.empty() && std::ranges::find(spec.retry.codes, code) != spec.retry.codes.end();
}

// The table's `codes` are the vendor's throttling codes plus its transient "request timed
// out" codes (the SDKs keep the two apart). A timeout is not a refusal: the vendor may
// have done part of the work, so only the throttling ones count as "refused unprocessed".
bool throttling_code(const HttpSpec& spec, std::string_view code) {
  return listed_code(spec, code) && !icontains(code, "timeout");
}

bool listed_status(const HttpSpec& spec, int status) {
  return std::ranges::find(spec.retry.statuses, status) != spec.retry.statuses.end();
}

ErrorCode classify(const HttpSpec& spec, int status, std::string_view code) {
  if (throttling_code(spec, code)) return ErrorCode::rate_limited;
  if (listed_code(spec, code)) return ErrorCode::unavailable;  // a transient timeout code
  if (status == 401 || status == 403) return ErrorCode::unauthorized;
  if (status == 404) return ErrorCode::not_found;
  if (status == 409) return ErrorCode::conflict;
  if (status == 429) return ErrorCode::rate_limited;
  if (status == 408) return ErrorCode::unavailable;  // a timeout, not a bad request
  if (status >= 500 && status <= 599) return ErrorCode::unavailable;
  if (status >= 400 && status <= 499) return ErrorCode::invalid_input;
  return ErrorCode::internal;  // not an error status: the caller did not expect this answer
}

// ---- Time signals -------------------------------------------------------------------

// A plain non-negative decimal number ("2", "1700000000", "1700000000.5"), or nothing.
std::optional<double> parse_decimal(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  bool dot = false;
  for (const char c : text) {
    if (c == '.' && !dot) {
      dot = true;
    } else if (c < '0' || c > '9') {
      return std::nullopt;
    }
  }
  if (text.back() == '.') return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
  if (ec == std::errc::result_out_of_range) return std::numeric_limits<double>::infinity();
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool done() const { return pos_ == text_.size(); }
  bool literal(std::string_view s) {
    if (text_.substr(pos_, s.size()) != s) return false;
    pos_ += s.size();
    return true;
  }
  std::string_view letters() {
    const auto start = pos_;
    while (pos_ < text_.size() && ((text_[pos_] >= 'A' && text_[pos_] <= 'Z') || (text_[pos_] >= 'a' && text_[pos_] <= 'z')))
      ++pos_;
    return text_.substr(start, pos_ - start);
  }
  /// Exactly `count` digits.
  std::optional<int> digits(std::size_t count) {
    if (pos_ + count > text_.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text_[pos_ + i];
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + (c - '0');
    }
    pos_ += count;
    return value;
  }
  bool at_digit() const { return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

std::optional<unsigned> month_number(std::string_view name) {
  static constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (std::size_t i = 0; i < months.size(); ++i)
    if (iequals(name, months[i])) return static_cast<unsigned>(i + 1);
  return std::nullopt;
}

bool day_name(std::string_view name, bool long_form) {
  static constexpr std::array<std::string_view, 7> short_names = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 7> long_names = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                                 "Friday", "Saturday", "Sunday"};
  const auto& names = long_form ? long_names : short_names;
  return std::ranges::any_of(names, [&](std::string_view n) { return iequals(n, name); });
}

// "HH:MM:SS" (a leap second is allowed, as the grammar does).
std::optional<std::chrono::seconds> time_of_day(Cursor& in) {
  const auto h = in.digits(2);
  if (!h || !in.literal(":")) return std::nullopt;
  const auto m = in.digits(2);
  if (!m || !in.literal(":")) return std::nullopt;
  const auto s = in.digits(2);
  if (!s || *h > 23 || *m > 59 || *s > 60) return std::nullopt;
  return std::chrono::hours(*h) + std::chrono::minutes(*m) + std::chrono::seconds(*s);
}

std::optional<std::chrono::sys_seconds> make_time(int y, unsigned mo, unsigned d, std::chrono::seconds time) {
  const std::chrono::year_month_day date{std::chrono::year(y), std::chrono::month(mo), std::chrono::day(d)};
  if (!date.ok()) return std::nullopt;
  return std::chrono::sys_days(date) + time;
}

// An HTTP-date (RFC 7231 §7.1.1.1): recipients must accept IMF-fixdate
// ("Sun, 06 Nov 1994 08:49:37 GMT") and the two obsolete forms, RFC 850
// ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994").
std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view text) {
  Cursor in(trim(text));
  const auto weekday = in.letters();
  if (in.literal(", ")) {
    const auto d = in.digits(2);
    if (!d) return std::nullopt;
    if (in.literal(" ")) {  // IMF-fixdate
      if (!day_name(weekday, false)) return std::nullopt;
      const auto mo = month_number(in.letters());
      if (!mo || !in.literal(" ")) return std::nullopt;
      const auto y = in.digits(4);
      if (!y || !in.literal(" ")) return std::nullopt;
      const auto t = time_of_day(in);
      if (!t || !in.literal(" GMT") || !in.done()) return std::nullopt;
      return make_time(*y, *mo, static_cast<unsigned>(*d), *t);
    }
    if (in.literal("-")) {  // RFC 850
      if (!day_name(weekday, true)) return std::nullopt;
      const auto mo = month_number(in.letters());
      if (!mo || !in.literal("-")) return std::nullopt;
      const auto yy = in.digits(2);
      if (!yy || !in.literal(" ")) return std::nullopt;
      const auto t = time_of_day(in);
      if (!t || !in.literal(" GMT") || !in.done()) return std::nullopt;
      // Two-digit years: the grammar's senders are from the last century; anything that
      // would read as far in the past is taken as this one.
      const int year = *yy >= 70 ? 1900 + *yy : 2000 + *yy;
      return make_time(year, *mo, static_cast<unsigned>(*d), *t);
    }
    return std::nullopt;
  }
  if (!in.literal(" ") || !day_name(weekday, false)) return std::nullopt;  // asctime
  const auto mo = month_number(in.letters());
  if (!mo || !in.literal(" ")) return std::nullopt;
  std::optional<int> d;
  if (in.literal(" ")) {
    d = in.digits(1);
  } else {
    d = in.digits(2);
  }
  if (!d || !in.literal(" ")) return std::nullopt;
  const auto t = time_of_day(in);
  if (!t || !in.literal(" ")) return std::nullopt;
  const auto y = in.digits(4);
  if (!y || !in.done()) return std::nullopt;
  return make_time(*y, *mo, static_cast<unsigned>(*d), *t);
}

using Clock = std::chrono::system_clock;

// In seconds first: an HTTP date may be years 1 to 9999, and a system_clock time point
// in nanoseconds only spans about 1677-2262 — subtracting in its units overflows (UB).
double ms_between(Clock::time_point from, std::chrono::sys_seconds to) {
  const auto from_s = std::chrono::floor<std::chrono::seconds>(from);
  const double whole_s = static_cast<double>(to.time_since_epoch().count()) -
                         static_cast<double>(from_s.time_since_epoch().count());
  const double fraction_ms = std::chrono::duration<double, std::milli>(from - from_s).count();
  return whole_s * 1000.0 - fraction_ms;
}

// Milliseconds to wait according to `Retry-After`; negative when it names a past time,
// nothing when it cannot be read.
std::optional<double> retry_after_ms(std::string_view value, Clock::time_point now) {
  const auto text = trim(value);
  if (!text.empty() && std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; })) {
    const auto seconds = parse_decimal(text);
    if (seconds) return *seconds * 1000.0;
    return std::nullopt;
  }
  if (const auto date = parse_http_date(text)) return ms_between(now, *date);
  return std::nullopt;
}

// Milliseconds until the rate window resets, per the table's header and unit.
std::optional<double> reset_ms(std::string_view value, std::string_view unit, Clock::time_point now) {
  const auto number = parse_decimal(value);
  if (!number) return std::nullopt;
  const double since_epoch_ms = unit == "epoch_s" ? *number * 1000.0 : *number;
  const double now_ms = std::chrono::duration<double, std::milli>(now.time_since_epoch()).count();
  return since_epoch_ms - now_ms;
}

// Full jitter: random(0, min(cap, base * 2^(attempt-1))), doubling with a stop at the cap
// so a large attempt number cannot overflow.
milliseconds backoff(const RetryOptions& options, int attempt, std::mt19937_64& random) {
  const std::int64_t cap = std::max<std::int64_t>(0, options.cap.count());
  std::int64_t upper = std::max<std::int64_t>(0, options.base.count());
  for (int n = 1; n < attempt && upper < cap; ++n) upper *= 2;
  upper = std::min(upper, cap);
  std::uniform_int_distribution<std::int64_t> pick(0, upper);
  return milliseconds(pick(random));
}


// The vendor's signals of when to come back, as read from one answer.
struct VendorSignal {
  std::optional<double> ms;  // the wait the chosen signal asks for
  std::string source;        // which header it came from
  std::string note;          // why a signal that was there was not used
};

// Of Retry-After and the table's reset header, the more precise signal counts: a reset in
// epoch milliseconds beats Retry-After's whole seconds (a vendor may send a 1-s Retry-After
// with a reset 300 ms away); of equal precision, Retry-After. A reset header is a reason to
// wait only on a throttled answer: some vendors send it on every response.
VendorSignal read_signal(const HttpSpec& spec, const http::Response& response, bool throttled, Clock::time_point now) {
  VendorSignal retry_after, reset;
  if (spec.retry.retry_after) {
    if (const auto value = response.header("Retry-After")) {
      const auto ms = retry_after_ms(*value, now);
      if (ms && *ms >= 0) {
        retry_after.ms = ms;
        retry_after.source = "Retry-After";
      } else {
        retry_after.note = ms ? "Retry-After in the past" : "Retry-After unreadable";
      }
    }
  }
  if (throttled && !spec.retry.reset_header.empty()) {
    if (const auto value = response.header(spec.retry.reset_header)) {
      const auto ms = reset_ms(*value, spec.retry.reset_unit, now);
      if (ms && *ms >= 0) {
        reset.ms = ms;
        reset.source = spec.retry.reset_header;
      } else {
        reset.note = spec.retry.reset_header + (ms ? " in the past" : " unreadable");
      }
    }
  }
  const bool reset_is_finer = spec.retry.reset_unit == "epoch_ms";
  if (reset.ms && (!retry_after.ms || reset_is_finer)) return reset;
  if (retry_after.ms) return retry_after;
  VendorSignal none;
  none.note = retry_after.note;
  if (!reset.note.empty()) none.note += (none.note.empty() ? "" : "; ") + reset.note;
  return none;
}

struct Wait {
  milliseconds delay{0};
  std::string source;
  bool vendor_signal = false;
};

// The vendor's own signal beats our guess (clamped to `cap`); without one, backoff for try `attempt`.
Wait wait_for(const HttpSpec& spec, const RetryOptions& options, int attempt, const http::Response* response,
              bool throttled, Clock::time_point now, std::mt19937_64& random) {
  Wait wait;
  const double cap_ms = static_cast<double>(std::max<std::int64_t>(0, options.cap.count()));
  const VendorSignal signal = response != nullptr ? read_signal(spec, *response, throttled, now) : VendorSignal{};
  if (signal.ms) {
    wait.vendor_signal = true;
    wait.source = signal.source;
    if (*signal.ms > cap_ms) {
      wait.delay = milliseconds(static_cast<std::int64_t>(cap_ms));
      wait.source += ", capped";
    } else {
      // Round up: a vendor that names a second boundary should not see us early.
      wait.delay = milliseconds(static_cast<std::int64_t>(std::ceil(*signal.ms)));
    }
  } else {
    wait.delay = backoff(options, attempt, random);
    wait.source = signal.note.empty() ? "backoff" : "backoff; " + signal.note;
  }
  return wait;
}

std::optional<std::int64_t> header_count(const http::Response& response, const std::string& name) {
  const auto value = response.header(name);
  if (!value) return std::nullopt;
  const auto text = trim(*value);
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end != text.data() + text.size() || n < 0) return std::nullopt;
  return n;
}

}  // namespace

std::string sanitize_aws_code(std::string_view raw) {
  auto code = trim(raw);
  if (const auto comma = code.find(','); comma != std::string_view::npos) code = code.substr(0, comma);
  if (const auto colon = code.find(':'); colon != std::string_view::npos) code = code.substr(0, colon);
  if (const auto hash = code.rfind('#'); hash != std::string_view::npos) code = code.substr(hash + 1);
  return std::string(trim(code));
}

// "HTTP 301 redirect to other.example.com (not followed)": the Location's host only,
// since its path or query may carry a signed URL or a token.
std::string redirect_message(const http::Response& response) {
  std::string where = "no Location";
  if (const auto location = response.header("Location")) {
    const auto parsed = boost::urls::parse_uri_reference(trim(*location));
    if (!parsed) where = "an unreadable Location";
    else if (parsed->encoded_host().empty()) where = "another path on the same host";
    else where = std::string(parsed->encoded_host());
  }
  return "HTTP " + std::to_string(response.status) + " redirect to " + where + " (not followed)";
}

Error vendor_error(const HttpSpec& spec, const http::Response& response) {
  Error error;
  error.http_status = response.status;
  if (response.status >= 300 && response.status <= 399) {
    // Never followed: a redirect is either a wrong endpoint or a hostile hop, and
    // following it would carry this request's credentials to wherever it points.
    // `internal` as for any answer the caller did not expect; not retried.
    error.code = ErrorCode::internal;
    error.message = secrets::scrub(redirect_message(response));
    return error;
  }
  const auto says = read_vendor_error(spec, response);
  error.code = classify(spec, response.status, says.code);
  // Vendor text enters here: an echo of our request headers must not reach any output.
  error.request_id = secrets::scrub(says.request_id);

  // The vendor's message, or for a body that is not JSON (a proxy's page, plain text)
  // the body itself, quoted, so the person reading sees what came back.
  std::string detail = says.message;
  const bool quoted = detail.empty() && !says.body_is_object && !trim(response.body).empty();
  if (quoted) detail = quote_body(response.body);

  if (!says.code.empty()) {
    error.message = detail.empty() ? says.code : says.code + ": " + detail;
  } else if (quoted) {
    error.message = status_line(response.status) + ": " + detail;
  } else if (!detail.empty()) {
    error.message = detail;
  } else {
    error.message = status_line(response.status);
  }
  error.message = secrets::scrub(error.message);
  return error;
}

RetryDecision decide_retry(const HttpSpec& spec, const RetryOptions& options, int attempt, bool idempotent,
                           const AttemptOutcome& outcome, std::chrono::system_clock::time_point now,
                           std::mt19937_64& random) {
  RetryDecision decision;
  std::string what;  // the failure, as the reason starts
  bool throttled = false;
  const http::Response* response = outcome.response;

  if (response != nullptr) {
    const auto says = read_vendor_error(spec, *response);
    const int status = response->status;
    what = "HTTP " + std::to_string(status);
    if (!says.code.empty()) what += " (" + says.code + ")";
    if (status >= 200 && status <= 299) {
      decision.reason = what + ", succeeded";
      return decision;
    }
    if (status == 401) {
      // The caller refreshes the token and tries once more; blind retries would only
      // repeat the same refusal.
      decision.reason = what + ", not retried here (credentials are refreshed by the caller)";
      return decision;
    }
    throttled = status == 429 || throttling_code(spec, says.code);
    if (!listed_status(spec, status) && !listed_code(spec, says.code)) {
      decision.reason = what + ", not retryable";
      return decision;
    }
    // 500/502/504 and timeouts may come after the vendor applied the change; only a
    // throttle or 503 says it was turned away before any work.
    if (!idempotent && !throttled && status != 503) {
      decision.reason = what + ", not retried: the request is not idempotent and may have been applied";
      return decision;
    }
  } else if (outcome.transport_error != nullptr) {
    const Error& error = *outcome.transport_error;
    what = error.message.empty() ? std::string(to_string(error.code)) : error.message;
    if (error.code == ErrorCode::invalid_input) {
      // The client refused to send it (bad URL, header, size): the same request fails the same way.
      decision.reason = what + ", not retryable";
      return decision;
    }
    if (error.request_sent && !idempotent) {
      decision.reason = what + ", not retried: the request may have reached the vendor and is not idempotent";
      return decision;
    }
  } else {
    decision.reason = "no outcome to judge";
    return decision;
  }

  if (attempt >= options.attempts) {
    decision.reason = what + ", gave up after " + std::to_string(attempt) + (attempt == 1 ? " attempt" : " attempts");
    return decision;
  }

  const auto wait = wait_for(spec, options, attempt, response, throttled, now, random);
  decision.delay = wait.delay;
  const std::string& source = wait.source;
  decision.retry = true;
  decision.reason = what + ", retrying in " + std::to_string(decision.delay.count()) + " ms (" + source + ")";
  return decision;
}

bool is_throttled(const HttpSpec& spec, const http::Response& response) {
  if (response.status == 429) return true;
  if (response.status >= 200 && response.status <= 299) return false;
  return throttling_code(spec, read_vendor_error(spec, response).code);
}

BudgetSignal read_budget(const HttpSpec& spec, const http::Response& response, std::chrono::system_clock::time_point now) {
  BudgetSignal budget;
  for (const auto& name : spec.budget.remaining)
    if (const auto n = header_count(response, name); n && (!budget.remaining || *n < *budget.remaining))
      budget.remaining = n;
  if (!spec.budget.limit.empty()) budget.limit = header_count(response, spec.budget.limit);
  if (!spec.retry.reset_header.empty())
    if (const auto value = response.header(spec.retry.reset_header))
      if (const auto ms = reset_ms(*value, spec.retry.reset_unit, now); ms && *ms >= 0)
        budget.reset_in = milliseconds(static_cast<std::int64_t>(std::ceil(*ms)));
  return budget;
}

RetryDecision throttle_wait(const HttpSpec& spec, const RetryOptions& options, int streak, const http::Response& response,
                            std::chrono::system_clock::time_point now, std::mt19937_64& random) {
  const auto says = read_vendor_error(spec, response);
  std::string what = "HTTP " + std::to_string(response.status);
  if (!says.code.empty()) what += " (" + says.code + ")";
  const auto wait = wait_for(spec, options, std::max(1, streak), &response, true, now, random);
  RetryDecision decision;
  decision.retry = true;
  decision.delay = wait.delay;
  decision.vendor_signal = wait.vendor_signal;
  decision.reason = what + ", the backend pauses " + std::to_string(wait.delay.count()) + " ms (" + wait.source + ")";
  return decision;
}

}  // namespace expbridge::apply
