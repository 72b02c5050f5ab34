// libFuzzer harness: the retry decision (`apply::decide_retry`) for every vendor's table
// `http:` spec, with fuzzed retry signals — `Retry-After` (seconds or an HTTP date in any
// of its three forms), the rate-window reset headers, `x-amzn-ErrorType` — status, body,
// transport errors and retry options; and `apply::sanitize_aws_code` on its own. The
// date and number parsers behind these are file-local; the headers are their only way in.
//
// Input (FuzzedDataProvider): from the end, the vendor, status, options, attempt, the
// flags and whether each signal header is present; from the front, each present header's
// value (ended by `\` + any other byte), then the body. make_corpus.py writes seeds.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include <fuzzer/FuzzedDataProvider.h>

#include "apply/retry_policy.hpp"
#include "fuzz_support.hpp"
#include "http/http_client.hpp"

namespace {

// A fixed "now" keeps runs deterministic: 2026-12-01T09:00:00Z, so seeds can name dates
// on either side of it. The input may move it by up to ±2^31 s.
constexpr std::chrono::sys_seconds k_now{std::chrono::seconds{1796115600}};

constexpr const char* k_signal_headers[] = {"Retry-After", "X-Ratelimit-Reset", "X-RateLimit-Reset", "x-amzn-ErrorType"};

bool has_separator(const std::string& s) { return s.find_first_of(",:#") != std::string::npos; }
bool edge_space(const std::string& s) {
  constexpr std::string_view space = " \t\r\n";
  return !s.empty() && (space.find(s.front()) != std::string_view::npos || space.find(s.back()) != std::string_view::npos);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  expbridge::fuzz::vendor_tables();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& tables = expbridge::fuzz::vendor_tables();
  FuzzedDataProvider in(data, size);

  const auto& spec = tables[in.ConsumeIntegralInRange<std::size_t>(0, tables.size() - 1)].table->http();
  expbridge::http::Response response;
  response.status = in.ConsumeIntegralInRange<int>(0, 999);
  expbridge::apply::RetryOptions options;
  options.attempts = in.ConsumeIntegralInRange<int>(-1, 10);
  options.base = std::chrono::milliseconds(in.ConsumeIntegralInRange<std::int64_t>(-1000, 100000));
  options.cap = std::chrono::milliseconds(in.ConsumeIntegralInRange<std::int64_t>(-1000, 10000000));
  const int attempt = in.ConsumeIntegralInRange<int>(0, 64);
  const bool idempotent = in.ConsumeBool();
  const auto now = k_now + std::chrono::seconds(in.ConsumeIntegral<std::int32_t>());
  // Else a transport failure: no response, an error the HTTP client could have returned.
  const bool answered = in.ConsumeBool();
  expbridge::Error transport;
  transport.code = static_cast<expbridge::ErrorCode>(in.ConsumeIntegralInRange<int>(0, 7));
  transport.request_sent = in.ConsumeBool();
  for (const char* name : k_signal_headers)
    if (in.ConsumeBool()) response.headers.push_back({name, in.ConsumeRandomLengthString(128)});
  // A header twice: the first one counts, as Response::header says.
  if (in.ConsumeBool()) response.headers.push_back({"Retry-After", in.ConsumeRandomLengthString(128)});
  transport.message = in.ConsumeRandomLengthString(64);
  response.body = in.ConsumeRemainingBytesAsString();

  expbridge::apply::AttemptOutcome outcome;
  if (answered) {
    outcome.response = &response;
  } else {
    outcome.transport_error = &transport;
  }
  std::mt19937_64 random(0x5eed);
  const auto decision = expbridge::apply::decide_retry(spec, options, attempt, idempotent, outcome, now, random);

  // The documented contract: never past the attempts, never longer than the cap (vendor
  // signals are clamped to it, backoff is bounded by it), never a negative wait.
  if (decision.reason.empty()) __builtin_trap();
  if (decision.retry) {
    if (attempt >= options.attempts) __builtin_trap();
    if (decision.delay.count() < 0 || decision.delay.count() > std::max<std::int64_t>(0, options.cap.count()))
      __builtin_trap();
  } else if (decision.delay.count() != 0) {
    __builtin_trap();
  }

  for (const auto& header : response.headers) {
    const auto code = expbridge::apply::sanitize_aws_code(header.value);
    if (has_separator(code) || edge_space(code)) __builtin_trap();
  }
  return 0;
}
