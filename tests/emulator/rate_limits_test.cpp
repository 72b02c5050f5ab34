// Rate limiting in each vendor's dialect, through the host (fixture `rate_limits:`), on a
// clock the test steps: LaunchDarkly's per-route and global 10-second windows (X-Ratelimit-*,
// the reset in epoch milliseconds), Auth0's token bucket (X-RateLimit-*, epoch seconds,
// Retry-After), AWS ThrottlingException (AppConfig 400, Evidently 429, no signal); the
// fixture's errors; and the token bucket and windows themselves.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include <boost/json/parse.hpp>

#include "emulator/emulator.hpp"
#include "emulator/fixtures.hpp"
#include "emulator/rate_limits.hpp"
#include "expbridge/adapter.hpp"
#include "support/blocking_http.hpp"

namespace expbridge::emulator {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::blocking_request;
using testing::BlockingReply;

// A whole second, so that epoch-second and window arithmetic is exact.
const WallClock::time_point kStart = WallClock::time_point(std::chrono::seconds(1'900'000'000));

std::int64_t epoch_ms(WallClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

class RateLimits : public ::testing::Test {
 protected:
  void start(std::string_view rate_limits_json) {
    auto fixture = default_fixture(Registry::builtin());
    ASSERT_TRUE(fixture) << fixture.error().describe();
    fixture->as_object()["rate_limits"] = json::parse(rate_limits_json);
    EmulatorHost::Options options;
    options.fixture = std::move(*fixture);
    options.clock = [this] { return now_; };
    auto host = EmulatorHost::start(std::move(options));
    ASSERT_TRUE(host) << host.error().describe();
    host_ = std::move(*host);
  }

  Result<std::unique_ptr<EmulatorHost>> start_with(std::string_view rate_limits_json) {
    auto fixture = default_fixture(Registry::builtin());
    if (!fixture) return std::unexpected(fixture.error());
    fixture->as_object()["rate_limits"] = json::parse(rate_limits_json);
    EmulatorHost::Options options;
    options.fixture = std::move(*fixture);
    return EmulatorHost::start(std::move(options));
  }

  BlockingReply launchdarkly(const std::string& target, const std::string& method = "GET") {
    return blocking_request(host_->port(), method, target, "",
                            {{"Authorization", host_credential("LD_API_TOKEN")}, {"LD-API-Version", "20240415"}});
  }

  std::string host_credential(std::string_view variable) const {
    for (const auto& c : host_->credentials())
      if (c.variable == variable) return c.value;
    return {};
  }

  WallClock::time_point now_ = kStart + 100ms;
  std::unique_ptr<EmulatorHost> host_;
};

constexpr const char* kFlag = "/api/v2/flags/default/checkout-redesign";
constexpr const char* kExperiments = "/api/v2/projects/default/environments/production/experiments";

TEST_F(RateLimits, LaunchDarklyCountsEachRouteInTenSecondWindowsWithTheResetInEpochMilliseconds) {
  ASSERT_NO_FATAL_FAILURE(start(R"({"launchdarkly": {"route_per_10s": 2, "global_per_10s": 3}})"));
  const auto first = launchdarkly(kFlag);
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("X-Ratelimit-Route-Remaining"), "1");
  EXPECT_EQ(first.header("X-Ratelimit-Global-Remaining"), "2");
  // Windows are aligned to the epoch: this one ends at the next multiple of 10 s.
  EXPECT_EQ(first.header("X-Ratelimit-Reset"), std::to_string(epoch_ms(kStart + 10s)));
  EXPECT_EQ(launchdarkly(kFlag).header("X-Ratelimit-Route-Remaining"), "0");

  // The route is spent; another route still has room, until the account's budget is.
  const auto refused = launchdarkly("/api/v2/flags/default/another-flag");  // the same route: keys are not part of it
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(json::parse(refused.body).at("code"), "rate_limited");
  EXPECT_FALSE(refused.header("Retry-After")) << "Retry-After is for IP-based limits only";
  EXPECT_EQ(refused.header("X-Ratelimit-Route-Remaining"), "0");
  const auto other_route = launchdarkly(kExperiments);
  EXPECT_EQ(other_route.status, 200) << other_route.body;
  EXPECT_EQ(other_route.header("X-Ratelimit-Global-Remaining"), "0");
  EXPECT_EQ(launchdarkly(kExperiments).status, 429) << "the global budget is spent";

  // A new window starts empty.
  now_ = kStart + 10s;
  const auto fresh = launchdarkly(kFlag);
  EXPECT_EQ(fresh.status, 200);
  EXPECT_EQ(fresh.header("X-Ratelimit-Route-Remaining"), "1");
  EXPECT_EQ(fresh.header("X-Ratelimit-Reset"), std::to_string(epoch_ms(kStart + 20s)));
  // A refused request was not handled: the journal shows the emulator never saw it.
  int handled = 0, refusals = 0;
  for (const auto& r : host_->received_requests()) {
    if (r.status == 429) {
      ++refusals;
      EXPECT_EQ(r.handled_status, 0);
    } else if (r.handled_status == 200) {
      ++handled;
    }
  }
  EXPECT_EQ(refusals, 2);
  EXPECT_EQ(handled, 4);
}

TEST_F(RateLimits, LaunchDarklyWindowsCanBeShortenedAndSendRetryAfterWhenAsked) {
  ASSERT_NO_FATAL_FAILURE(start(R"({"launchdarkly": {"route_per_10s": 1, "window_ms": 250, "retry_after_s": 1}})"));
  EXPECT_EQ(launchdarkly(kFlag).status, 200);
  const auto refused = launchdarkly(kFlag);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.header("Retry-After"), "1");
  EXPECT_EQ(refused.header("X-Ratelimit-Reset"), std::to_string(epoch_ms(kStart + 250ms)));
  EXPECT_FALSE(refused.header("X-Ratelimit-Global-Remaining")) << "no global limit was set";
  now_ = kStart + 250ms;
  EXPECT_EQ(launchdarkly(kFlag).status, 200);
}

TEST_F(RateLimits, Auth0IsATokenBucketWithHeadersInEpochSecondsOnEveryAnswer) {
  ASSERT_NO_FATAL_FAILURE(start(R"({"auth0": {"per_second": 2, "burst": 3}})"));
  const std::string exp = "/api/v2/experimentation/experiments";
  // Unauthenticated: refused 401, yet counted and answered with the bucket's headers.
  const auto first = blocking_request(host_->port(), "GET", exp);
  EXPECT_EQ(first.status, 401);
  EXPECT_EQ(first.header("X-RateLimit-Limit"), "3");
  EXPECT_EQ(first.header("X-RateLimit-Remaining"), "2");
  EXPECT_EQ(blocking_request(host_->port(), "GET", exp).header("X-RateLimit-Remaining"), "1");
  EXPECT_EQ(blocking_request(host_->port(), "GET", exp).header("X-RateLimit-Remaining"), "0");
  const auto refused = blocking_request(host_->port(), "GET", exp);
  EXPECT_EQ(refused.status, 429);
  const auto body = json::parse(refused.body);
  EXPECT_EQ(body.at("statusCode"), 429);
  EXPECT_EQ(body.at("error"), "Too Many Requests");
  EXPECT_EQ(refused.header("X-RateLimit-Remaining"), "0");
  // The next token comes in 500 ms: Retry-After in whole seconds, the reset in epoch seconds, both up.
  EXPECT_EQ(refused.header("Retry-After"), "1");
  EXPECT_EQ(refused.header("X-RateLimit-Reset"), std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                                     (kStart + 1s).time_since_epoch()).count()));
  now_ += 500ms;
  EXPECT_EQ(blocking_request(host_->port(), "GET", exp).status, 401) << "a token came back";
  // The token endpoint has its own limits (the Authentication API's): not this bucket's.
  EXPECT_FALSE(blocking_request(host_->port(), "POST", "/oauth/token", "{}").header("X-RateLimit-Limit"));
}

TEST_F(RateLimits, AwsServicesThrottleWithThrottlingExceptionAndNoSignal) {
  ASSERT_NO_FATAL_FAILURE(start(R"({"appconfig": {"per_second": 1}, "evidently": {"per_second": 1}})"));
  for (const auto& [target, status] : {std::pair{"/applications/abc1234/experimentdefinitions", 400},
                                       std::pair{"/projects/checkout/experiments", 429}}) {
    const auto first = blocking_request(host_->port(), "GET", target);
    // Unsigned, so refused, but by the signature check: the first request had its token.
    EXPECT_NE(first.header("x-amzn-ErrorType").value_or(""), "ThrottlingException") << target;
    const auto refused = blocking_request(host_->port(), "GET", target);
    EXPECT_EQ(refused.status, status) << target << " " << refused.body;
    EXPECT_EQ(refused.header("x-amzn-ErrorType"), "ThrottlingException");
    EXPECT_FALSE(refused.header("Retry-After"));
  }
}

TEST_F(RateLimits, ABurstOf429sFromAFaultCarriesTheVendorsResetSignal) {
  ASSERT_NO_FATAL_FAILURE(start("null"));
  ASSERT_TRUE(host_->set_faults(parse_faults(json::parse(R"([{"vendor": "launchdarkly", "times": 2, "status": 429,
                                                            "retry_after_s": 1, "reset_ms": 300}])"),
                                             "faults")
                                    .value()));
  for (int i = 0; i < 2; ++i) {
    const auto refused = launchdarkly(kFlag);
    EXPECT_EQ(refused.status, 429);
    EXPECT_EQ(refused.header("Retry-After"), "1");
    EXPECT_EQ(refused.header("X-Ratelimit-Reset"), std::to_string(epoch_ms(now_ + 300ms)));
    EXPECT_EQ(refused.header("X-Ratelimit-Route-Remaining"), "0");
    now_ += 100ms;
  }
  EXPECT_EQ(launchdarkly(kFlag).status, 200) << "the burst is over";
  EXPECT_FALSE(parse_faults(json::parse(R"([{"status": 503, "reset_ms": 300}])"), "faults"));
}

TEST_F(RateLimits, FixtureErrorsNameTheMember) {
  struct Case {
    const char* rate_limits;
    const char* field;
  };
  for (const Case& c : {Case{R"({"launchdarkly": {"route_per_10s": 0}})", "rate_limits.launchdarkly.route_per_10s"},
                        Case{R"({"launchdarkly": {"route_per_10": 5}})", "rate_limits.launchdarkly.route_per_10"},
                        Case{R"({"launchdarkly": {}})", "rate_limits.launchdarkly.route_per_10s"},
                        Case{R"({"auth0": {"per_second": -1}})", "rate_limits.auth0.per_second"},
                        Case{R"({"auth0": {"burst": 5}})", "rate_limits.auth0.per_second"},
                        Case{R"({"appconfig": {"per_second": 5, "bucket": 1}})", "rate_limits.appconfig.bucket"},
                        Case{R"({"optimizely": {"per_second": 5}})", "rate_limits.optimizely"},
                        Case{R"([1])", "rate_limits"}}) {
    auto host = start_with(c.rate_limits);
    ASSERT_FALSE(host) << c.rate_limits;
    EXPECT_EQ(host.error().field, c.field) << c.rate_limits << ": " << host.error().describe();
  }
}

TEST(TokenBucket, RefillsAtItsRateUpToItsBurst) {
  TokenBucket bucket(10, 2, kStart);
  EXPECT_TRUE(bucket.take(kStart));
  EXPECT_TRUE(bucket.take(kStart));
  EXPECT_FALSE(bucket.take(kStart));
  EXPECT_EQ(bucket.next_token(kStart), kStart + 100ms);
  EXPECT_TRUE(bucket.take(kStart + 100ms));
  EXPECT_EQ(bucket.remaining(kStart + 10s), 2) << "never above the burst";
  EXPECT_EQ(bucket.remaining(kStart), 2) << "a clock stepping back refills nothing and takes nothing";
}

TEST(FixedWindows, CountPerKeyAndStartEmpty) {
  FixedWindows windows(2, 1000ms);
  EXPECT_EQ(windows.take("a", kStart).remaining, 1);
  EXPECT_EQ(windows.take("b", kStart).remaining, 1);
  EXPECT_EQ(windows.take("a", kStart + 999ms).remaining, 0);
  const auto refused = windows.take("a", kStart + 999ms);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.reset, kStart + 1s);
  EXPECT_TRUE(windows.take("a", kStart + 1s).allowed);
}

}  // namespace
}  // namespace expbridge::emulator
