// Retry decisions and vendor error decoding, driven by the real mapping tables: these
// tests prove the `http:` sections and the generic code together, so a table edit that
// breaks a vendor's error or retry rules fails here.
#include "apply/retry_policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "expbridge/bridge.hpp"

namespace expbridge::apply {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Clock = std::chrono::system_clock;

// 2015-10-21 07:27:58 UTC: two seconds before the RFC 7231 example date.
const Clock::time_point k_now = std::chrono::sys_days{std::chrono::year{2015} / 10 / 21} + 7h + 27min + 58s;

std::int64_t epoch_ms(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}
std::int64_t epoch_s(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

const HttpSpec& spec_of(std::string_view vendor) {
  static std::map<std::string, std::shared_ptr<const MappingTable>, std::less<>> tables;
  auto it = tables.find(vendor);
  if (it == tables.end()) {
    auto table = load_mapping_table(vendor);
    EXPECT_TRUE(table) << table.error().describe();
    if (!table) std::abort();
    it = tables.emplace(std::string(vendor), *table).first;
  }
  return it->second->http();
}

http::Response response(int status, std::vector<http::Header> headers = {}, std::string body = {}) {
  http::Response r;
  r.status = status;
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

RetryOptions options(int attempts = 3, milliseconds base = 100ms, milliseconds cap = 20000ms) {
  RetryOptions o;
  o.attempts = attempts;
  o.base = base;
  o.cap = cap;
  return o;
}

RetryDecision decide(std::string_view vendor, const http::Response& r, bool idempotent, int attempt = 1,
                     const RetryOptions& opts = options(), std::uint64_t seed = 42) {
  std::mt19937_64 random(seed);
  return decide_retry(spec_of(vendor), opts, attempt, idempotent, AttemptOutcome{.response = &r}, k_now, random);
}

RetryDecision decide_transport(const Error& e, bool idempotent, int attempt = 1) {
  std::mt19937_64 random(7);
  return decide_retry(spec_of("appconfig"), options(), attempt, idempotent, AttemptOutcome{.transport_error = &e},
                      k_now, random);
}

Error transport(bool request_sent, std::string message) {
  Error e = make_error(ErrorCode::unavailable, std::move(message));
  e.request_sent = request_sent;
  return e;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// ---- vendor_error -------------------------------------------------------------------

TEST(VendorError, AwsHeaderCodeIsSanitisedAndFirstInTheMessage) {
  const auto r = response(409,
                          {{"x-amzn-ErrorType", "ConflictException:http://internal.amazon.com/coral/com.amazonaws.appconfig/"},
                           {"x-amzn-RequestId", "7f9c1a2b-0000-4000-8000-000000000001"},
                           {"Content-Type", "application/json"}},
                          R"({"Message":"Exposure can only increase"})");
  const auto e = vendor_error(spec_of("appconfig"), r);
  EXPECT_EQ(e.code, ErrorCode::conflict);
  EXPECT_EQ(e.message, "ConflictException: Exposure can only increase");
  EXPECT_EQ(e.request_id, "7f9c1a2b-0000-4000-8000-000000000001");
  EXPECT_EQ(e.http_status, 409);
}

TEST(VendorError, AwsHeaderNameIsCaseInsensitive) {
  const auto r = response(404, {{"X-AMZN-ERRORTYPE", "ResourceNotFoundException"}, {"X-Amzn-RequestId", "rid-1"}},
                          R"({"Message":"Application not found","ResourceName":"app"})");
  const auto e = vendor_error(spec_of("appconfig"), r);
  EXPECT_EQ(e.code, ErrorCode::not_found);
  EXPECT_EQ(e.message, "ResourceNotFoundException: Application not found");
  EXPECT_EQ(e.request_id, "rid-1");
}

TEST(VendorError, AwsBodyTypeWhenNoHeaderAndLowerCaseMessage) {
  const auto r = response(404, {{"x-amzn-RequestId", "rid-2"}},
                          R"({"__type":"com.amazonaws.evidently#ResourceNotFoundException","message":"Feature f not found"})");
  const auto e = vendor_error(spec_of("evidently"), r);
  EXPECT_EQ(e.code, ErrorCode::not_found);
  EXPECT_EQ(e.message, "ResourceNotFoundException: Feature f not found");
}

TEST(VendorError, AwsBodyCodeBeatsTypeAndIsMatchedInAnyCase) {
  const auto r = response(400, {},
                          R"({"__type":"x#Other","Code":"BadRequestException","Message":"Invalid weight"})");
  const auto e = vendor_error(spec_of("appconfig"), r);
  EXPECT_EQ(e.code, ErrorCode::invalid_input);
  EXPECT_EQ(e.message, "BadRequestException: Invalid weight");
  EXPECT_EQ(e.request_id, "");
}

TEST(VendorError, AwsThrottlingOn400IsRateLimited) {
  const auto r = response(400, {{"x-amzn-RequestId", "rid-3"}},
                          R"({"__type":"com.amazonaws.appconfig#ThrottlingException","message":"Rate exceeded"})");
  const auto e = vendor_error(spec_of("appconfig"), r);
  EXPECT_EQ(e.code, ErrorCode::rate_limited);
  EXPECT_EQ(e.message, "ThrottlingException: Rate exceeded");
  EXPECT_EQ(e.http_status, 400);
}

TEST(VendorError, AwsTransientTimeoutCodeIsUnavailableNotRateLimited) {
  const auto r = response(400, {{"x-amzn-ErrorType", "RequestTimeoutException"}}, "{}");
  const auto e = vendor_error(spec_of("appconfig"), r);
  EXPECT_EQ(e.code, ErrorCode::unavailable);
  EXPECT_EQ(e.message, "RequestTimeoutException");
}

TEST(VendorError, CodeWithoutMessageFallsBackToStatusLine) {
  const auto r = response(403, {}, R"({"unrelated":true})");
  const auto e = vendor_error(spec_of("appconfig"), r);
  EXPECT_EQ(e.code, ErrorCode::unauthorized);
  EXPECT_EQ(e.message, "HTTP 403 Forbidden");
}

TEST(VendorError, LaunchDarklyBodyGivesCodeMessageAndRequestId) {
  const auto r = response(400, {{"Content-Type", "application/json"}},
                          R"({"code":"invalid_request","message":"unknown instruction kind","id":"0b7c4e9a-1111"})");
  const auto e = vendor_error(spec_of("launchdarkly"), r);
  EXPECT_EQ(e.code, ErrorCode::invalid_input);
  EXPECT_EQ(e.message, "invalid_request: unknown instruction kind");
  EXPECT_EQ(e.request_id, "0b7c4e9a-1111");
  EXPECT_EQ(e.http_status, 400);
}

TEST(VendorError, LaunchDarklyCodesAreNotSanitised) {
  const auto r = response(409, {}, R"({"code":"conflict:x#y","message":"m"})");
  EXPECT_EQ(vendor_error(spec_of("launchdarkly"), r).message, "conflict:x#y: m");
}

TEST(VendorError, Auth0BodyPrefersErrorCodeAndRequestIdFromHeader) {
  const auto r = response(400, {{"X-Request-Id", "auth0-req-9"}},
                          R"({"statusCode":400,"error":"Bad Request","message":"Payload validation error: 'String is too long'","errorCode":"invalid_body"})");
  const auto e = vendor_error(spec_of("auth0"), r);
  EXPECT_EQ(e.code, ErrorCode::invalid_input);
  EXPECT_EQ(e.message, "invalid_body: Payload validation error: 'String is too long'");
  EXPECT_EQ(e.request_id, "auth0-req-9");
}

TEST(VendorError, Auth0WithoutErrorCodeUsesError) {
  const auto r = response(409, {}, R"({"statusCode":409,"error":"Conflict","message":"An experiment with that name exists"})");
  const auto e = vendor_error(spec_of("auth0"), r);
  EXPECT_EQ(e.code, ErrorCode::conflict);
  EXPECT_EQ(e.message, "Conflict: An experiment with that name exists");
}

TEST(VendorError, NonJsonBodyIsQuotedAndCut) {
  std::string page = "<html><body>\n<h1>502 Bad \"Gateway\"</h1>";
  page += std::string(1000, 'x');
  const auto e = vendor_error(spec_of("launchdarkly"), response(502, {{"Content-Type", "text/html"}}, page));
  EXPECT_EQ(e.code, ErrorCode::unavailable);
  EXPECT_EQ(e.http_status, 502);
  EXPECT_TRUE(e.message.starts_with(R"(HTTP 502 Bad Gateway: "<html><body>\n<h1>502 Bad \"Gateway\"</h1>xxx)")) << e.message;
  EXPECT_TRUE(contains(e.message, "(first 300 of " + std::to_string(page.size()) + " bytes)")) << e.message;
  EXPECT_LT(e.message.size(), 400u);
  EXPECT_EQ(e.message.find('\n'), std::string::npos);
}

TEST(VendorError, NonJsonCutNeverSplitsACharacter) {
  // 299 ASCII bytes then a 3-byte character straddling the 300-byte limit.
  const std::string body = std::string(299, 'a') + "\xE2\x82\xAC" + "tail";
  const auto e = vendor_error(spec_of("auth0"), response(500, {}, body));
  EXPECT_TRUE(contains(e.message, std::string(299, 'a') + "\" (first 299 of 306 bytes)")) << e.message;
  EXPECT_FALSE(contains(e.message, "\xE2"));
}

TEST(VendorError, NonJsonBodyWithHeaderCodeKeepsTheCodeFirst) {
  const auto r = response(503, {{"x-amzn-ErrorType", "ServiceUnavailable"}}, "Service is down\xFF");
  const auto e = vendor_error(spec_of("appconfig"), r);
  EXPECT_EQ(e.code, ErrorCode::unavailable);
  EXPECT_EQ(e.message, R"(ServiceUnavailable: "Service is down\xff")");
}

TEST(VendorError, EmptyBodyGivesTheStatusLine) {
  const auto e = vendor_error(spec_of("launchdarkly"), response(503));
  EXPECT_EQ(e.code, ErrorCode::unavailable);
  EXPECT_EQ(e.message, "HTTP 503 Service Unavailable");
}

TEST(VendorError, StatusesMapToErrorCodes) {
  const auto& spec = spec_of("launchdarkly");
  EXPECT_EQ(vendor_error(spec, response(401)).code, ErrorCode::unauthorized);
  EXPECT_EQ(vendor_error(spec, response(403)).code, ErrorCode::unauthorized);
  EXPECT_EQ(vendor_error(spec, response(404)).code, ErrorCode::not_found);
  EXPECT_EQ(vendor_error(spec, response(409)).code, ErrorCode::conflict);
  EXPECT_EQ(vendor_error(spec, response(429)).code, ErrorCode::rate_limited);
  EXPECT_EQ(vendor_error(spec, response(422)).code, ErrorCode::invalid_input);
  EXPECT_EQ(vendor_error(spec, response(402)).code, ErrorCode::invalid_input);
  EXPECT_EQ(vendor_error(spec, response(500)).code, ErrorCode::unavailable);
  EXPECT_EQ(vendor_error(spec, response(504)).code, ErrorCode::unavailable);
  EXPECT_EQ(vendor_error(spec_of("auth0"), response(408)).code, ErrorCode::unavailable);
  EXPECT_EQ(vendor_error(spec, response(302)).code, ErrorCode::internal);
}

TEST(VendorError, SanitizeAwsCode) {
  EXPECT_EQ(sanitize_aws_code("ConflictException:http://internal.amazon.com/coral/com.amazonaws.appconfig/"),
            "ConflictException");
  EXPECT_EQ(sanitize_aws_code("com.amazonaws.appconfig#ConflictException"), "ConflictException");
  EXPECT_EQ(sanitize_aws_code("ThrottlingException,extra:stuff"), "ThrottlingException");
  EXPECT_EQ(sanitize_aws_code("aws.protocoltests#FooError:http://x"), "FooError");
  EXPECT_EQ(sanitize_aws_code("  Plain  "), "Plain");
  EXPECT_EQ(sanitize_aws_code(""), "");
}

// ---- decide_retry: what is retried --------------------------------------------------

TEST(RetryPolicy, AwsThrottlingCodeOn400IsRetriedEvenWhenNotIdempotent) {
  const auto r = response(400, {{"x-amzn-RequestId", "rid"}},
                          R"({"__type":"com.amazonaws.appconfig#ThrottlingException","message":"Rate exceeded"})");
  for (const bool idempotent : {true, false}) {
    const auto d = decide("appconfig", r, idempotent);
    EXPECT_TRUE(d.retry) << d.reason;
    EXPECT_LE(d.delay, 100ms);
    EXPECT_TRUE(d.reason.starts_with("HTTP 400 (ThrottlingException), retrying in ")) << d.reason;
    EXPECT_TRUE(d.reason.ends_with(" ms (backoff)")) << d.reason;
  }
}

TEST(RetryPolicy, ServiceUnavailableTwiceThenGivesUpForIdempotent) {
  const auto r = response(503);
  const auto first = decide("evidently", r, true, 1);
  const auto second = decide("evidently", r, true, 2);
  const auto third = decide("evidently", r, true, 3);
  EXPECT_TRUE(first.retry) << first.reason;
  EXPECT_TRUE(second.retry) << second.reason;
  EXPECT_FALSE(third.retry);
  EXPECT_EQ(third.reason, "HTTP 503, gave up after 3 attempts");
}

TEST(RetryPolicy, ServerErrorsThatMayHaveAppliedAreNotRetriedForNonIdempotent) {
  for (const auto* vendor : {"appconfig", "evidently", "launchdarkly", "auth0"}) {
    for (const int status : {500, 502, 504}) {
      const auto d = decide(vendor, response(status), false);
      EXPECT_FALSE(d.retry) << vendor << " " << status;
      EXPECT_TRUE(contains(d.reason, "not idempotent and may have been applied")) << d.reason;
      EXPECT_TRUE(decide(vendor, response(status), true).retry) << vendor << " " << status;
    }
  }
}

TEST(RetryPolicy, RefusalsAreRetriedForNonIdempotent) {
  for (const auto* vendor : {"appconfig", "evidently", "launchdarkly", "auth0"}) {
    EXPECT_TRUE(decide(vendor, response(429), false).retry) << vendor;
    EXPECT_TRUE(decide(vendor, response(503), false).retry) << vendor;
  }
}

TEST(RetryPolicy, ClientErrorsAreNeverRetried) {
  for (const auto* vendor : {"appconfig", "evidently", "launchdarkly", "auth0"}) {
    for (const int status : {400, 403, 404, 409, 422}) {
      const auto d = decide(vendor, response(status, {}, R"({"code":"x","message":"y"})"), true);
      EXPECT_FALSE(d.retry) << vendor << " " << status;
      EXPECT_TRUE(d.reason.ends_with(", not retryable")) << d.reason;
      EXPECT_EQ(d.delay, 0ms);
    }
  }
  const auto conflict = decide("appconfig", response(409, {{"x-amzn-ErrorType", "ConflictException"}}), true);
  EXPECT_EQ(conflict.reason, "HTTP 409 (ConflictException), not retryable");
}

TEST(RetryPolicy, UnauthorizedIsLeftToTheCallerEvenWhenListed) {
  HttpSpec spec = spec_of("auth0");
  spec.retry.statuses.push_back(401);
  const auto r = response(401, {{"Retry-After", "1"}});
  std::mt19937_64 random(1);
  const auto d = decide_retry(spec, options(), 1, true, AttemptOutcome{.response = &r}, k_now, random);
  EXPECT_FALSE(d.retry);
  EXPECT_TRUE(contains(d.reason, "credentials are refreshed by the caller")) << d.reason;
}

TEST(RetryPolicy, RequestTimeoutStatusAndCodeRetriedOnlyWhenIdempotent) {
  EXPECT_TRUE(decide("auth0", response(408), true).retry);
  EXPECT_FALSE(decide("auth0", response(408), false).retry);
  const auto r = response(400, {{"x-amzn-ErrorType", "RequestTimeoutException"}});
  EXPECT_TRUE(decide("appconfig", r, true).retry);
  EXPECT_FALSE(decide("appconfig", r, false).retry);
}

TEST(RetryPolicy, AttemptsExhausted) {
  const auto d = decide("launchdarkly", response(429, {{"Retry-After", "1"}}), true, 3, options(3));
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.delay, 0ms);
  EXPECT_EQ(d.reason, "HTTP 429, gave up after 3 attempts");
  const auto once = decide("launchdarkly", response(503), true, 1, options(1));
  EXPECT_FALSE(once.retry);
  EXPECT_EQ(once.reason, "HTTP 503, gave up after 1 attempt");
}

TEST(RetryPolicy, SuccessIsNotRetried) { EXPECT_FALSE(decide("auth0", response(200), true).retry); }

// ---- decide_retry: transport failures -----------------------------------------------

TEST(RetryPolicy, TimeoutAfterSendingRetriedOnlyWhenIdempotent) {
  const auto e = transport(true, "timed out after 10000 ms");
  const auto refused = decide_transport(e, false);
  EXPECT_FALSE(refused.retry);
  EXPECT_EQ(refused.reason,
            "timed out after 10000 ms, not retried: the request may have reached the vendor and is not idempotent");
  const auto retried = decide_transport(e, true);
  EXPECT_TRUE(retried.retry);
  EXPECT_TRUE(retried.reason.starts_with("timed out after 10000 ms, retrying in ")) << retried.reason;
}

TEST(RetryPolicy, ConnectFailureRetriedEvenForNonIdempotent) {
  const auto e = transport(false, "connect to api.example.com:443 failed: Connection refused");
  for (const bool idempotent : {true, false}) {
    const auto d = decide_transport(e, idempotent);
    EXPECT_TRUE(d.retry) << d.reason;
    EXPECT_LE(d.delay, 100ms);
  }
  EXPECT_FALSE(decide_transport(e, false, 3).retry);
}

TEST(RetryPolicy, RequestTheClientRefusedToSendIsNotRetried) {
  const auto e = make_error(ErrorCode::invalid_input, "http:// is only allowed for loopback hosts");
  EXPECT_FALSE(decide_transport(e, true).retry);
}

// ---- decide_retry: how long to wait ---------------------------------------------------

TEST(RetryPolicy, RetryAfterSeconds) {
  const auto d = decide("launchdarkly", response(429, {{"Retry-After", "2"}}), false);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.delay, 2000ms);
  EXPECT_EQ(d.reason, "HTTP 429, retrying in 2000 ms (Retry-After)");
}

TEST(RetryPolicy, RetryAfterHttpDate) {
  const auto d = decide("auth0", response(429, {{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}}), true);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.delay, 2000ms);
  EXPECT_TRUE(d.reason.ends_with("(Retry-After)")) << d.reason;
}

TEST(RetryPolicy, RetryAfterObsoleteDateForms) {
  EXPECT_EQ(decide("auth0", response(503, {{"Retry-After", "Wednesday, 21-Oct-15 07:28:03 GMT"}}), true).delay, 5000ms);
  EXPECT_EQ(decide("auth0", response(503, {{"Retry-After", "Wed Oct 21 07:28:01 2015"}}), true).delay, 3000ms);
  const auto padded = Clock::time_point(std::chrono::sys_days{std::chrono::year{2015} / 10 / 1} + 7h);
  const auto r = response(503, {{"Retry-After", "Thu Oct  1 07:00:04 2015"}});
  std::mt19937_64 random(1);
  EXPECT_EQ(decide_retry(spec_of("auth0"), options(), 1, true, AttemptOutcome{.response = &r}, padded, random).delay,
            4000ms);
}

TEST(RetryPolicy, RetryAfterInThePastOrUnreadableFallsBackToBackoff) {
  for (const auto* value : {"Wed, 21 Oct 2015 07:27:00 GMT", "soon", "-3", "1.5", "Wed, 32 Oct 2015 07:28:00 GMT"}) {
    const auto d = decide("launchdarkly", response(429, {{"Retry-After", value}}), true);
    EXPECT_TRUE(d.retry) << value;
    EXPECT_GE(d.delay, 0ms) << value;
    EXPECT_LE(d.delay, 100ms) << value;
    EXPECT_TRUE(contains(d.reason, "(backoff; Retry-After ")) << d.reason;
  }
}

TEST(RetryPolicy, RetryAfterBeyondCapIsClamped) {
  const auto d = decide("launchdarkly", response(503, {{"Retry-After", "3600"}}), true, 1, options(3, 100ms, 5000ms));
  EXPECT_EQ(d.delay, 5000ms);
  EXPECT_TRUE(d.reason.ends_with("(Retry-After, capped)")) << d.reason;
  const auto huge = decide("launchdarkly", response(503, {{"Retry-After", "99999999999999999999999999"}}), true);
  EXPECT_EQ(huge.delay, 20000ms);
}

// Dates outside what a nanosecond system_clock holds (about 1677..2262) once overflowed
// (signed integer UB) when subtracted; the cap and the backoff must hold for every value.
TEST(RetryPolicy, RetryAfterFarFutureDatesAreClampedToTheCap) {
  for (const auto* value : {"Fri, 31 Dec 9999 23:59:59 GMT", "Fri Dec 31 23:59:59 9999", "Sat, 01 Jan 2300 00:00:00 GMT"}) {
    const auto d = decide("launchdarkly", response(429, {{"Retry-After", value}}), true, 1, options(3, 100ms, 5000ms));
    EXPECT_TRUE(d.retry) << value;
    EXPECT_EQ(d.delay, 5000ms) << value << ": " << d.reason;
    EXPECT_TRUE(d.reason.ends_with("(Retry-After, capped)")) << d.reason;
  }
}

TEST(RetryPolicy, RetryAfterFarPastDatesFallBackToBackoff) {
  for (const auto* value : {"Mon, 01 Jan 0001 00:00:00 GMT", "Sat Jan  1 00:00:00 0000", "Thu, 01 Jan 1600 00:00:00 GMT",
                            "Thu, 01 Jan 1970 00:00:00 GMT"}) {
    const auto d = decide("launchdarkly", response(429, {{"Retry-After", value}}), true);
    EXPECT_TRUE(d.retry) << value;
    EXPECT_GE(d.delay, 0ms) << value;
    EXPECT_LE(d.delay, 100ms) << value << ": " << d.reason;
    EXPECT_TRUE(contains(d.reason, "(backoff; Retry-After in the past)")) << d.reason;
  }
}

TEST(RetryPolicy, RetryAfterHugeOrNegativeSecondsNeverOverflow) {
  const std::string beyond_double(400, '9');  // parses as out of range: infinity
  for (const std::string& value : {std::string("9223372036854775807"), std::string("18446744073709551616"),
                                  std::string("99999999999999999999999999999999999999"), beyond_double}) {
    const auto d = decide("launchdarkly", response(503, {{"Retry-After", value}}), true, 1, options(3, 100ms, 5000ms));
    EXPECT_EQ(d.delay, 5000ms) << value;
    EXPECT_TRUE(d.reason.ends_with("(Retry-After, capped)")) << d.reason;
  }
  for (const auto* value : {"-1", "-9223372036854775808", "-99999999999999999999999"}) {
    const auto d = decide("launchdarkly", response(503, {{"Retry-After", value}}), true);
    EXPECT_TRUE(d.retry) << value;
    EXPECT_LE(d.delay, 100ms) << value;
    EXPECT_TRUE(contains(d.reason, "(backoff; Retry-After unreadable)")) << d.reason;
  }
}

TEST(RetryPolicy, ResetHeadersFarAwayAreClampedOrIgnored) {
  const std::string beyond_double(400, '9');
  const auto far = decide("launchdarkly", response(429, {{"X-Ratelimit-Reset", beyond_double}}), true, 1,
                          options(3, 100ms, 5000ms));
  EXPECT_EQ(far.delay, 5000ms) << far.reason;
  const auto past = decide("auth0", response(429, {{"X-RateLimit-Reset", "0"}}), true);
  EXPECT_LE(past.delay, 100ms) << past.reason;
  EXPECT_TRUE(contains(past.reason, "in the past")) << past.reason;
}

TEST(VendorError, ARedirectIsReportedWithTheLocationHostOnlyAndNotFollowed) {
  const auto e = vendor_error(spec_of("launchdarkly"),
                              response(301, {{"Location", "https://other.example.com/api/v2?token=api-secret-123&x=1"}}));
  EXPECT_EQ(e.code, ErrorCode::internal);
  EXPECT_EQ(e.http_status, 301);
  EXPECT_EQ(e.message, "HTTP 301 redirect to other.example.com (not followed)");
  const auto relative = vendor_error(spec_of("appconfig"), response(307, {{"Location", "/elsewhere?sig=abc"}}));
  EXPECT_EQ(relative.message, "HTTP 307 redirect to another path on the same host (not followed)");
  const auto bare = vendor_error(spec_of("auth0"), response(302));
  EXPECT_EQ(bare.message, "HTTP 302 redirect to no Location (not followed)");
  EXPECT_FALSE(decide("launchdarkly", response(301, {{"Location", "https://other.example.com/"}}), true).retry);
}

TEST(VendorError, EchoedCredentialsAreMaskedInMessageAndRequestId) {
  const std::string sigv4 =
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appconfig/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
  const auto aws = vendor_error(
      spec_of("appconfig"),
      response(403, {{"x-amzn-ErrorType", "AccessDeniedException"}, {"x-amzn-RequestId", sigv4}},
               R"({"Message":"denied; you sent Authorization: )" + sigv4 +
                   R"(\r\nX-Amz-Security-Token: FQoGZXIvYXdzTOKEN"})"));
  for (const auto* leaked : {"5d672d79c15b", "FQoGZXIvYXdzTOKEN", "SignedHeaders"}) {
    EXPECT_FALSE(contains(aws.message, leaked)) << aws.message;
    EXPECT_FALSE(contains(aws.request_id, leaked)) << aws.request_id;
  }
  EXPECT_TRUE(contains(aws.message, "AccessDeniedException: denied")) << aws.message;
  const auto auth0 = vendor_error(spec_of("auth0"), response(401, {}, R"({"message":"bad Bearer eyJhbGciOi.x-y_z"})"));
  EXPECT_EQ(auth0.message, "bad Bearer ***");
  const auto proxy = vendor_error(spec_of("launchdarkly"),
                                  response(500, {}, "<html><td>authorization: api-raw-token-77</td></html>"));
  EXPECT_FALSE(contains(proxy.message, "api-raw-token-77")) << proxy.message;
}

TEST(RetryPolicy, LaunchDarklyResetInEpochMilliseconds) {
  const auto reset = std::to_string(epoch_ms(k_now) + 1500);
  const auto d = decide("launchdarkly", response(429, {{"X-Ratelimit-Reset", reset}}), false);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.delay, 1500ms);
  EXPECT_EQ(d.reason, "HTTP 429, retrying in 1500 ms (X-Ratelimit-Reset)");
}

TEST(RetryPolicy, LaunchDarklyResetInThePastFallsBackToBackoff) {
  const auto reset = std::to_string(epoch_ms(k_now) - 5000);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const auto d = decide("launchdarkly", response(429, {{"x-ratelimit-reset", reset}}), true, attempt);
    EXPECT_TRUE(d.retry);
    EXPECT_LE(d.delay, milliseconds(100 << (attempt - 1)));
    EXPECT_TRUE(d.reason.ends_with("(backoff; X-Ratelimit-Reset in the past)")) << d.reason;
  }
}

TEST(RetryPolicy, LaunchDarklyAbsurdResetIsClampedToCap) {
  const auto reset = std::to_string(epoch_ms(k_now) + 86'400'000LL * 365);
  const auto d = decide("launchdarkly", response(429, {{"X-Ratelimit-Reset", reset}}), true);
  EXPECT_EQ(d.delay, 20000ms);
  EXPECT_TRUE(d.reason.ends_with("(X-Ratelimit-Reset, capped)")) << d.reason;
}

TEST(RetryPolicy, Auth0ResetInEpochSeconds) {
  const auto reset = std::to_string(epoch_s(k_now) + 3);
  const auto d = decide("auth0", response(429, {{"X-RateLimit-Reset", reset}}), true);
  EXPECT_EQ(d.delay, 3000ms);
  EXPECT_TRUE(d.reason.ends_with("(X-RateLimit-Reset)")) << d.reason;
}

TEST(RetryPolicy, ResetHeaderOnAResponseThatWasNotThrottledIsIgnored) {
  // The header rides on every response; a 503 is no reason to wait for the window.
  const auto reset = std::to_string(epoch_s(k_now) + 30);
  const auto d = decide("auth0", response(503, {{"X-RateLimit-Reset", reset}}), true);
  EXPECT_TRUE(d.retry);
  EXPECT_LE(d.delay, 100ms);
  EXPECT_TRUE(d.reason.ends_with("(backoff)")) << d.reason;
}

TEST(RetryPolicy, RetryAfterWinsOverResetAndAnUnreadableOneFallsThroughToReset) {
  const auto reset = std::to_string(epoch_s(k_now) + 7);
  EXPECT_EQ(decide("auth0", response(429, {{"X-RateLimit-Reset", reset}, {"Retry-After", "2"}}), true).delay, 2000ms);
  const auto d = decide("auth0", response(429, {{"X-RateLimit-Reset", reset}, {"Retry-After", "later"}}), true);
  EXPECT_EQ(d.delay, 7000ms);
  EXPECT_TRUE(d.reason.ends_with("(X-RateLimit-Reset)")) << d.reason;
}

// The issue's case: LaunchDarkly's whole-second Retry-After beside a reset 300 ms away, in epoch
// milliseconds: the more precise one counts, whichever way round.
TEST(RetryPolicy, LaunchDarklysResetInMillisecondsBeatsItsOneSecondRetryAfter) {
  const auto reset = std::to_string(epoch_ms(k_now) + 300);
  const auto d = decide("launchdarkly", response(429, {{"Retry-After", "1"}, {"X-Ratelimit-Reset", reset}}), true);
  EXPECT_EQ(d.delay, 300ms);
  EXPECT_TRUE(d.reason.ends_with("(X-Ratelimit-Reset)")) << d.reason;
  // A reset already past leaves Retry-After.
  const auto past = std::to_string(epoch_ms(k_now) - 300);
  EXPECT_EQ(decide("launchdarkly", response(429, {{"Retry-After", "1"}, {"X-Ratelimit-Reset", past}}), true).delay, 1000ms);
}

TEST(RetryPolicy, ThrottleWaitIsTheVendorsSignalOrBackoffByTheStreak) {
  std::mt19937_64 random(7);
  const auto reset = std::to_string(epoch_ms(k_now) + 300);
  const auto ld = throttle_wait(spec_of("launchdarkly"), options(), 9,
                                       response(429, {{"Retry-After", "1"}, {"X-Ratelimit-Reset", reset}}), k_now, random);
  EXPECT_TRUE(ld.retry);
  EXPECT_EQ(ld.delay, 300ms) << ld.reason;
  EXPECT_TRUE(ld.vendor_signal);
  // AWS sends no signal: full jitter, bounded by base * 2^(streak-1).
  const auto aws = throttle_wait(spec_of("appconfig"), options(), 3,
                                        response(400, {{"x-amzn-ErrorType", "ThrottlingException"}}), k_now, random);
  EXPECT_TRUE(aws.retry);
  EXPECT_LE(aws.delay, 400ms) << aws.reason;
  EXPECT_FALSE(aws.vendor_signal);
  EXPECT_TRUE(is_throttled(spec_of("appconfig"), response(400, {{"x-amzn-ErrorType", "ThrottlingException"}})));
  EXPECT_FALSE(is_throttled(spec_of("appconfig"), response(400, {{"x-amzn-ErrorType", "ValidationException"}})));
  EXPECT_TRUE(is_throttled(spec_of("launchdarkly"), response(429, {{"Retry-After", "1"}})));
}

TEST(RetryPolicy, TheBudgetIsTheSmallestRemainingHeaderAndItsReset) {
  const auto reset = std::to_string(epoch_ms(k_now) + 2500);
  const auto ld = read_budget(spec_of("launchdarkly"),
                                     response(200, {{"X-Ratelimit-Route-Remaining", "7"},
                                                    {"X-Ratelimit-Global-Remaining", "3"},
                                                    {"X-Ratelimit-Reset", reset}}),
                                     k_now);
  EXPECT_EQ(ld.remaining, 3);
  EXPECT_EQ(ld.reset_in, 2500ms);
  const auto a0 = read_budget(spec_of("auth0"),
                                     response(200, {{"X-RateLimit-Limit", "20"}, {"X-RateLimit-Remaining", "x"}}), k_now);
  EXPECT_FALSE(a0.remaining.has_value()) << "an unreadable count is no count";
  EXPECT_EQ(a0.limit, 20);
  EXPECT_FALSE(read_budget(spec_of("appconfig"), response(200, {{"Content-Type", "application/json"}}), k_now).remaining.has_value());
}

TEST(RetryPolicy, RetryAfterIgnoredWhenTheTableSaysSo) {
  HttpSpec spec = spec_of("launchdarkly");
  spec.retry.retry_after = false;
  const auto r = response(429, {{"Retry-After", "5"}});
  std::mt19937_64 random(3);
  const auto d = decide_retry(spec, options(), 1, true, AttemptOutcome{.response = &r}, k_now, random);
  EXPECT_TRUE(d.retry);
  EXPECT_LE(d.delay, 100ms);
}

TEST(RetryPolicy, JitterStaysWithinTheExponentialBound) {
  const auto opts = options(20, 100ms, 2000ms);
  const auto e = transport(false, "connection reset");
  std::mt19937_64 random(12345);
  for (int attempt = 1; attempt <= 10; ++attempt) {
    const std::int64_t bound = std::min<std::int64_t>(2000, 100LL << (attempt - 1));
    std::int64_t lowest = bound, highest = 0;
    for (int draw = 0; draw < 2000; ++draw) {
      const auto d = decide_retry(spec_of("appconfig"), opts, attempt, false, AttemptOutcome{.transport_error = &e},
                                  k_now, random);
      ASSERT_TRUE(d.retry);
      ASSERT_GE(d.delay.count(), 0);
      ASSERT_LE(d.delay.count(), bound) << "attempt " << attempt;
      lowest = std::min(lowest, d.delay.count());
      highest = std::max(highest, d.delay.count());
    }
    // Full jitter: the whole range is used, not just its top.
    EXPECT_LT(lowest, bound / 10) << "attempt " << attempt;
    EXPECT_GT(highest, bound * 9 / 10) << "attempt " << attempt;
  }
}

TEST(RetryPolicy, HugeAttemptNumberDoesNotOverflow) {
  const auto d = decide("launchdarkly", response(503), true, 500, options(1000, 100ms, 20000ms));
  EXPECT_TRUE(d.retry);
  EXPECT_LE(d.delay, 20000ms);
}

TEST(RetryPolicy, DeterministicWithASeededGenerator) {
  const auto r = response(503);
  std::vector<std::int64_t> a, b, c;
  std::mt19937_64 ra(99), rb(99), rc(100);
  for (int attempt = 1; attempt <= 5; ++attempt) {
    const auto opts = options(10);
    a.push_back(decide_retry(spec_of("auth0"), opts, attempt, true, AttemptOutcome{.response = &r}, k_now, ra).delay.count());
    b.push_back(decide_retry(spec_of("auth0"), opts, attempt, true, AttemptOutcome{.response = &r}, k_now, rb).delay.count());
    c.push_back(decide_retry(spec_of("auth0"), opts, attempt, true, AttemptOutcome{.response = &r}, k_now, rc).delay.count());
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(RetryPolicy, SourceNamesNoVendor) {
  // Vendor rules belong in the tables; the policy code must stay generic.
  std::ifstream in(std::string(EXPBRIDGE_SOURCE_DIR) + "/core/apply/retry_policy.cpp");
  ASSERT_TRUE(in);
  std::string source{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  for (auto& c : source) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto* vendor : {"appconfig", "evidently", "launchdarkly", "auth0", "amazon", "amzn"})
    EXPECT_FALSE(contains(source, vendor)) << vendor;
}

}  // namespace
}  // namespace expbridge::apply
