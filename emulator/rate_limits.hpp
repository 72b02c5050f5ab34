// Rate limiting for the emulators: the two shapes vendors limit in (a token bucket, fixed
// windows), with time always passed in, so a test drives them with its own clock. What a
// refusal looks like (status, headers, units, body) is each vendor's, in its emulator.
//
// Fixture (the `rate_limits:` section, one member per vendor, each emulator reading its own;
// unknown members are errors):
//   rate_limits:
//     launchdarkly: {route_per_10s: 50, global_per_10s: 200, window_ms: 10000, retry_after_s: 1}
//     auth0: {per_second: 10, burst: 20}
//     appconfig: {per_second: 20, burst: 20}
//     evidently: {per_second: 20, burst: 20}
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <boost/json/value.hpp>

#include "emulator/emulator.hpp"
#include "expbridge/error.hpp"

namespace expbridge::emulator {

using WallClock = std::chrono::system_clock;

/// A token bucket: `burst` tokens at most, refilled at `per_second`; a request takes one.
class TokenBucket {
 public:
  TokenBucket(double per_second, double burst, WallClock::time_point now);
  /// Takes a token when there is one.
  bool take(WallClock::time_point now);
  /// Whole tokens left.
  std::int64_t remaining(WallClock::time_point now);
  double burst() const { return burst_; }
  double per_second() const { return per_second_; }
  /// When the next whole token is there (now, when one is).
  WallClock::time_point next_token(WallClock::time_point now);

 private:
  void refill(WallClock::time_point now);
  double per_second_, burst_, tokens_;
  WallClock::time_point last_;
};

/// Fixed windows of `window` length aligned to the epoch: at most `limit` requests per key
/// in each; every window starts empty.
class FixedWindows {
 public:
  FixedWindows(std::int64_t limit, std::chrono::milliseconds window) : limit_(limit), window_(window) {}
  struct Use {
    bool allowed = false;
    std::int64_t remaining = 0;    ///< left in this window after this request
    WallClock::time_point reset{};  ///< when this window ends
  };
  /// Counts a request for `key` (an allowed one only) and says whether it fits.
  Use take(const std::string& key, WallClock::time_point now);
  /// What is left for `key` without counting anything.
  Use peek(const std::string& key, WallClock::time_point now) const;
  std::int64_t limit() const { return limit_; }

 private:
  std::int64_t window_index(WallClock::time_point now) const;
  std::int64_t limit_;
  std::chrono::milliseconds window_;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>, std::less<>> used_;  ///< key -> (window, count)
};

/// A `{per_second, burst}` section (burst defaults to per_second, at least 1), strictly read;
/// errors name `path.member`. Null: no limit.
Result<std::optional<TokenBucket>> parse_token_bucket(const boost::json::value& section, const std::string& path,
                                                      WallClock::time_point now);

/// AWS throttling, as AppConfig and Evidently do it (`rate_limits.<vendor>: {per_second,
/// burst}`): a token bucket; a request over it is refused with ThrottlingException and
/// `status` (AppConfig: 400, per the common-error list; Evidently: 429), with no Retry-After
/// and no budget headers — AWS says nothing of when to come back.
class AwsThrottling {
 public:
  explicit AwsThrottling(int status) : status_(status) {}
  Status configure(const boost::json::value& section, std::string_view vendor, WallClock::time_point now);
  RateVerdict admit(WallClock::time_point now);

 private:
  int status_;
  std::optional<TokenBucket> bucket_;
};

}  // namespace expbridge::emulator
