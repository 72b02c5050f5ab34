// Applier against the four vendor emulators on 127.0.0.1: what each receives (exact
// requests, authentication checked server-side), retries, timeouts, resets, vendor errors,
// partial failures, token caching, ordering, keep-alive and limits. Misbehaviour is
// injected as emulator faults; requests are counted on the wire, in the host's journal.
//
// Timing: only lower bounds are asserted (a wait was honoured); never an upper bound.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "auth/sigv4.hpp"
#include "expbridge/apply.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "support/report_helpers.hpp"
#include "support/emulated_vendors.hpp"

namespace expbridge {
namespace {

using test::backend_of;
using test::dump;
using test::error_text;

using test::EmulatedVendors;
using emulator::ServerRequest;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---- helpers ------------------------------------------------------------------------

/// A credential of the emulators, by variable name.
std::string credential(const char* name) { return test::apply_test_environment().at(name); }

/// Path and query of an absolute URL (`http://h:p/x?y` -> `/x?y`).
std::string origin_form(const std::string& url) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

/// Decodes one application/x-www-form-urlencoded body.
std::map<std::string, std::string> parse_form(std::string_view body) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        out += ' ';
      } else if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  };
  std::map<std::string, std::string> fields;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const auto pair = body.substr(0, amp);
    const auto eq = pair.find('=');
    fields[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
  }
  return fields;
}

/// Recomputes the SigV4 Authorization of a request as AWS would (from what arrived:
/// method, path, query, the headers it names as signed, body, its x-amz-date) and
/// compares it with the one received.
void expect_valid_sigv4(const ServerRequest& r, const std::string& service) {
  SCOPED_TRACE(r.method + " " + r.target);
  const auto authorization = r.header("authorization");
  const auto amz_date = r.header("x-amz-date");
  ASSERT_TRUE(authorization.has_value());
  ASSERT_TRUE(amz_date.has_value());
  const auto token = r.header("x-amz-security-token");
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(*token, test::kTestAwsSessionToken);

  const std::string expected_prefix = "AWS4-HMAC-SHA256 Credential=" + credential("AWS_ACCESS_KEY_ID") + "/" +
                                      amz_date->substr(0, 8) + "/us-east-1/" + service + "/aws4_request, ";
  EXPECT_TRUE(authorization->starts_with(expected_prefix)) << *authorization;

  const auto from = authorization->find("SignedHeaders=");
  ASSERT_NE(from, std::string::npos) << *authorization;
  const auto to = authorization->find(',', from);
  ASSERT_NE(to, std::string::npos);
  std::vector<std::string> signed_names;
  std::string list = authorization->substr(from + 14, to - from - 14);
  for (std::size_t start = 0; start <= list.size();) {
    const auto semi = std::min(list.find(';', start), list.size());
    signed_names.push_back(list.substr(start, semi - start));
    start = semi + 1;
  }
  for (const char* required : {"host", "x-amz-date", "x-amz-security-token", "content-type"})
    EXPECT_NE(std::find(signed_names.begin(), signed_names.end(), required), signed_names.end())
        << required << " is not signed: " << list;

  auth::SigningRequest signing;
  signing.method = r.method;
  const auto question = r.target.find('?');
  signing.path = r.target.substr(0, question);
  if (question != std::string::npos) signing.query = r.target.substr(question + 1);
  for (const auto& name : signed_names) {
    const auto value = r.header(name);
    ASSERT_TRUE(value.has_value()) << "signed header " << name << " did not arrive";
    signing.headers.emplace_back(name, *value);
  }
  signing.body = r.body;
  auth::AwsCredentials credentials{credential("AWS_ACCESS_KEY_ID"), credential("AWS_SECRET_ACCESS_KEY"),
                                   std::string(test::kTestAwsSessionToken)};
  auth::SigV4Options options;
  options.region = "us-east-1";
  options.service = service;
  auto parts = auth::sign_v4(signing, credentials, options, *amz_date);
  ASSERT_TRUE(parts.has_value()) << parts.error().describe();
  EXPECT_EQ(*authorization, parts->authorization);
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// ---- fixture ------------------------------------------------------------------------

class Apply : public ::testing::Test {
 protected:
  void start(const test::ApplyConfigOptions& config = {}, ApplyOptions options = {}) {
    auto bridge = Bridge::from_text(vendors.config(config), "apply-test.yaml");
    ASSERT_TRUE(bridge.has_value()) << bridge.error().describe() << "\n" << vendors.config(config);
    bridge_.emplace(std::move(*bridge));
    // This suite checks the write path, request by request: every update goes blind
    // (`apply --no-read`), so what the emulators count is exactly what the plan holds. The
    // converging apply is checked in tests/e2e/converge_e2e_test.cpp and the read tests.
    options.read_first = false;
    options.environment = [env = env](std::string_view name) -> std::optional<std::string> {
      if (auto it = env.find(std::string(name)); it != env.end()) return it->second;
      return std::nullopt;
    };
    auto applier = Applier::create(*bridge_, std::move(options));
    ASSERT_TRUE(applier.has_value()) << applier.error().describe();
    applier_.emplace(std::move(*applier));
  }

  Update update(std::string_view json, std::string source = "test-update") {
    auto parsed = parse_update(json, std::move(source));
    EXPECT_TRUE(parsed.has_value()) << parsed.error().describe();
    return parsed.value_or(Update{});
  }

  UpdateReport apply(std::string_view json) { return applier_->apply(update(json)); }

  Bridge& bridge() { return *bridge_; }
  Applier& applier() { return *applier_; }

  // Declaration order: the emulators outlive the applier that talks to them.
  EmulatedVendors vendors;
  std::map<std::string, std::string> env = test::apply_test_environment();

 private:
  std::optional<Bridge> bridge_;
  std::optional<Applier> applier_;
};

constexpr std::string_view kDescriptionUpdate =
    R"({"experiment": "checkout-redesign", "description": "Second week of the two-step flow"})";
// Two requests at AppConfig (definition, then run); one at each other backend, hypothesis skipped there.
constexpr std::string_view kTwoStepUpdate =
    R"({"experiment": "checkout-redesign", "hypothesis": "Fewer steps raise conversion", "description": "Second week of the two-step flow"})";

// ---- 1. success ---------------------------------------------------------------------

TEST_F(Apply, SucceedsAtAllFourAndEachServerGetsExactlyThePlan) {
  // AppConfig takes a definition change only while no run is active, and refuses a DONE run's
  // update (409): no state of it accepts both requests of this plan. Run 1 is DONE, and the
  // run's answer is injected.
  vendors.restart(EmulatedVendors::fixture(EmulatedVendors::Run::done));
  vendors.set_faults(R"([{"vendor": "appconfig", "method": "PATCH", "path_prefix": "/applications/abc1234/experimentdefinitions/bsxyd7k/experimentruns/",
                          "status": 200, "body": "{\"ApplicationId\":\"abc1234\",\"ExperimentDefinitionId\":\"bsxyd7k\",\"Run\":1,\"Status\":\"DONE\"}"}])");
  ASSERT_NO_FATAL_FAILURE(start());
  const Update u = update(kTwoStepUpdate);
  auto plan = bridge().plan(u);
  ASSERT_TRUE(plan.has_value()) << plan.error().describe();

  const UpdateReport report = applier().apply(u);
  ASSERT_TRUE(report.ok()) << dump(report);
  EXPECT_FALSE(report.error.has_value());
  EXPECT_EQ(report.experiment, "checkout-redesign");
  ASSERT_EQ(report.backends.size(), 4u);

  for (const auto& planned : plan->backends) {
    SCOPED_TRACE("backend " + planned.backend);
    const BackendReport& b = backend_of(report, planned.backend);
    EXPECT_EQ(b.result, BackendOutcome::ok);
    EXPECT_FALSE(b.error.has_value()) << error_text(b.error);
    ASSERT_EQ(b.requests.size(), planned.requests.size());
    for (const auto& r : b.requests) {
      EXPECT_TRUE(r.sent);
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.attempts, 1);
      EXPECT_FALSE(r.error.has_value()) << error_text(r.error);
    }

    const auto received = vendors.api_requests(planned.backend);
    ASSERT_EQ(received.size(), planned.requests.size());
    for (std::size_t i = 0; i < received.size(); ++i) {
      const PlannedRequest& want = planned.requests[i];
      const ServerRequest& got = received[i];
      SCOPED_TRACE(want.operation);
      EXPECT_EQ(got.method, want.method);
      EXPECT_EQ(got.target, origin_form(want.url));
      ASSERT_TRUE(want.body.has_value());
      EXPECT_EQ(boost::json::parse(got.body), *want.body) << got.body;
      for (const auto& [name, value] : want.headers) EXPECT_EQ(got.header(name).value_or("(missing)"), value) << name;
    }
  }
  EXPECT_EQ(backend_of(report, "aws").requests.size(), 2u);  // definition, then run: in that order
  EXPECT_EQ(vendors.api_requests("aws").at(0).body, R"({"Hypothesis":"Fewer steps raise conversion"})");
}

// ---- 2. authentication, checked by the servers ---------------------------------------

TEST_F(Apply, EveryVendorReceivesTheAuthenticationItExpectsAndAuth0TokenIsFetchedOnce) {
  ASSERT_NO_FATAL_FAILURE(start());
  for (int i = 1; i <= 3; ++i) {
    const auto report = apply(R"({"experiment": "checkout-redesign", "description": "Week )" + std::to_string(i) +
                              R"( of the two-step flow"})");
    ASSERT_TRUE(report.ok()) << dump(report);
  }

  for (const auto& [backend, service] : {std::pair{"aws", "appconfig"}, std::pair{"ev", "evidently"}}) {
    const auto received = vendors.api_requests(backend);
    ASSERT_EQ(received.size(), 3u) << backend;
    for (const auto& r : received) expect_valid_sigv4(r, service);
  }
  {
    // The check is not vacuous: a request altered after signing fails it.
    ServerRequest tampered = vendors.api_requests("aws").front();
    tampered.body = R"({"Description":"Something else"})";
    ::testing::TestPartResultArray failures;
    {
      ::testing::ScopedFakeTestPartResultReporter intercept(
          ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
      expect_valid_sigv4(tampered, "appconfig");
    }
    EXPECT_EQ(failures.size(), 1) << "a tampered body must break the signature";
  }

  const auto ld = vendors.api_requests("ld");
  ASSERT_EQ(ld.size(), 3u);
  for (const auto& r : ld) {
    EXPECT_EQ(r.header("Authorization").value_or(""), credential("LD_API_TOKEN"));  // raw, no "Bearer "
    EXPECT_EQ(r.header("LD-API-Version").value_or(""), "20240415");
  }

  const auto token_requests = vendors.token_requests();
  ASSERT_EQ(token_requests.size(), 1u) << "one token for the whole run";
  const auto& t = token_requests.front();
  EXPECT_EQ(t.method, "POST");
  EXPECT_TRUE(t.header("Content-Type").value_or("").starts_with("application/x-www-form-urlencoded"));
  const auto form = parse_form(t.body);
  EXPECT_EQ(form.size(), 4u) << t.body;
  EXPECT_EQ(form.count("grant_type") ? form.at("grant_type") : "", "client_credentials");
  EXPECT_EQ(form.count("client_id") ? form.at("client_id") : "", credential("AUTH0_CLIENT_ID"));
  EXPECT_EQ(form.count("client_secret") ? form.at("client_secret") : "", credential("AUTH0_CLIENT_SECRET"));
  EXPECT_EQ(form.count("audience") ? form.at("audience") : "", "https://example.us.auth0.com/api/v2/");

  EXPECT_EQ(vendors.tokens_issued(), 1u);
  // The emulator accepted every API request (the reports are ok), so each carried the token it
  // issued: the same one each time.
  const auto a0 = vendors.api_requests("a0");
  ASSERT_EQ(a0.size(), 3u);
  const std::string bearer = a0.front().header("Authorization").value_or("");
  EXPECT_TRUE(bearer.starts_with("Bearer ") && bearer.size() > 7) << bearer;
  for (const auto& r : a0) EXPECT_EQ(r.header("Authorization").value_or(""), bearer);
  // The token request came before the first API request.
  EXPECT_LT(t.request_number, a0.front().request_number);
}

// ---- 3. rate limits ---------------------------------------------------------------------

TEST_F(Apply, A429WithRetryAfterIsRetriedAfterTheWaitItAsks) {
  ASSERT_NO_FATAL_FAILURE(start());
  vendors.set_faults(R"([{"vendor": "launchdarkly", "method": "PATCH", "times": 1, "status": 429, "retry_after_s": 1}])");

  const auto report = apply(kDescriptionUpdate);
  ASSERT_TRUE(report.ok()) << dump(report);
  const auto& ld = backend_of(report, "ld");
  ASSERT_EQ(ld.requests.size(), 1u);
  EXPECT_EQ(ld.requests[0].attempts, 2);
  EXPECT_EQ(ld.requests[0].status, 200);
  const auto times = vendors.api_arrivals("ld");
  ASSERT_EQ(times.size(), 2u);
  EXPECT_GE(ms_between(times[0], times[1]), 950.0) << "Retry-After: 1 was not honoured";
  EXPECT_GE(ld.requests[0].duration_ms, 950.0);
}

TEST_F(Apply, LaunchDarklyRateLimitResetInEpochMillisecondsIsHonoured) {
  ASSERT_NO_FATAL_FAILURE(start());
  // The window resets 400 ms from now (the first request arrives within a few ms), in epoch
  // milliseconds; no Retry-After.
  const auto reset = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch() + 400ms)
                         .count();
  vendors.set_faults(R"([{"vendor": "launchdarkly", "method": "PATCH", "times": 1, "status": 429,
                          "body": "{\"code\":\"rate_limited\",\"message\":\"slow down\"}",
                          "headers": {"X-Ratelimit-Reset": ")" + std::to_string(reset) +
                     R"(", "X-Ratelimit-Route-Remaining": "0"}}])");

  const auto report = apply(kDescriptionUpdate);
  ASSERT_TRUE(report.ok()) << dump(report);
  EXPECT_EQ(backend_of(report, "ld").requests.at(0).attempts, 2);
  const auto times = vendors.api_arrivals("ld");
  ASSERT_EQ(times.size(), 2u);
  // The reset is 400 ms after the first answer; the backoff alone would be ≤ 5 ms.
  EXPECT_GE(ms_between(times[0], times[1]), 350.0);
}

// ---- 3b. rate limits: the whole backend pauses, waits spend no attempts ----------------------

/// Updates of `count` different experiments (exp-1 ...), each a description change, applied
/// `parallel` at a time; every report goes to `reports`.
std::vector<UpdateReport> apply_descriptions(Applier& applier, int count) {
  std::vector<UpdateReport> reports;
  int next = 1;
  applier.apply_all(
      [&]() -> std::optional<std::pair<std::string, Result<Update>>> {
        if (next > count) return std::nullopt;
        const std::string n = std::to_string(next++);
        return std::pair{"u-" + n, parse_update(R"({"experiment": "exp-)" + n + R"(", "description": "Paced )" + n + R"("})",
                                                "u-" + n)};
      },
      [&](UpdateReport r) { reports.push_back(std::move(r)); });
  return reports;
}

TEST_F(Apply, A429PausesTheWholeBackendUntilTheVendorsReset) {
  test::ApplyConfigOptions config;
  config.extra_experiments = 6;
  ApplyOptions options;
  options.parallel_updates = 6;
  options.plan.backends = {"ld"};
  ASSERT_NO_FATAL_FAILURE(start(config, options));
  // One 429 whose window resets 400 ms after it, with LaunchDarkly's 1-s Retry-After beside it.
  vendors.set_faults(R"([{"vendor": "launchdarkly", "method": "PATCH", "times": 1, "status": 429,
                          "retry_after_s": 1, "reset_ms": 400}])");
  const auto reports = apply_descriptions(applier(), 6);
  ASSERT_EQ(reports.size(), 6u);
  for (const auto& r : reports) EXPECT_TRUE(r.ok()) << dump(r);

  const auto journal = vendors.host().received_requests();
  std::optional<Clock::time_point> refused;
  std::vector<Clock::time_point> after;
  for (const auto& r : journal) {
    if (r.vendor != "launchdarkly") continue;
    if (!refused && r.status == 429) refused = r.arrived;
    else if (refused) after.push_back(r.arrived);
  }
  ASSERT_TRUE(refused.has_value());
  // What was in flight before the client read the 429 (LaunchDarkly starts at 2 at once: the
  // other one, or the next one its answer let go) may arrive; nothing else leaves before the
  // reset — without the pause, the other four updates would all arrive at once.
  int during_pause = 0, after_pause = 0;
  for (const auto& t : after) (ms_between(*refused, t) < 350.0 ? during_pause : after_pause)++;
  EXPECT_LE(during_pause, 2) << "requests left for a backend paused by a 429";
  EXPECT_GE(after_pause, 2) << "nothing was held back: the check above proves nothing";
  const auto pacing = applier().pacing();
  const auto ld = std::find_if(pacing.begin(), pacing.end(), [](const BackendPacing& p) { return p.backend == "ld"; });
  ASSERT_NE(ld, pacing.end());
  EXPECT_EQ(ld->throttled, 1);
  EXPECT_EQ(ld->pauses, 1);
  EXPECT_GE(ld->paused_ms, 300.0);
}

/// The description update at LaunchDarkly alone, with `settings` on its backend and `faults` on the wire.
class ApplyThrottled : public Apply {
 protected:
  UpdateReport apply_throttled(std::map<std::string, std::string> settings, std::string_view faults) {
    test::ApplyConfigOptions config;
    config.per_backend["ld"] = std::move(settings);
    ApplyOptions options;
    options.plan.backends = {"ld"};
    start(config, options);
    if (HasFatalFailure()) return {};
    vendors.set_faults(faults);
    return apply(kDescriptionUpdate);
  }
};

constexpr std::string_view kFiveThrottles =
    R"([{"vendor": "launchdarkly", "method": "PATCH", "times": 5, "status": 429, "reset_ms": 20}])";

TEST_F(ApplyThrottled, RateLimitWaitsSpendNoAttempts) {
  const auto report = apply_throttled({{"attempts", "2"}}, kFiveThrottles);
  ASSERT_TRUE(report.ok()) << dump(report);
  const auto& r = backend_of(report, "ld").requests.at(0);
  EXPECT_EQ(r.throttled, 5);
  EXPECT_EQ(r.attempts, 6) << "what went on the wire: five refusals, then the success";
  EXPECT_EQ(r.status, 200);
  EXPECT_GT(r.rate_limit_wait_ms, 0.0);
  EXPECT_EQ(vendors.api_requests("ld").size(), 6u);
}

TEST_F(ApplyThrottled, FixedConcurrencySpendsAttemptsOnThrottlesAsBefore) {
  const auto report = apply_throttled({{"attempts", "2"}, {"concurrency", "fixed"}}, kFiveThrottles);
  EXPECT_FALSE(report.ok());
  const auto& r = backend_of(report, "ld").requests.at(0);
  EXPECT_EQ(r.attempts, 2);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::rate_limited);
}

TEST_F(ApplyThrottled, TheDeadlineBoundsRateLimitPauses) {
  const auto started = Clock::now();
  const auto report = apply_throttled({{"deadline_ms", "500"}},
                                      R"([{"vendor": "launchdarkly", "method": "PATCH", "status": 429, "reset_ms": 100}])");
  EXPECT_FALSE(report.ok());
  const auto& r = backend_of(report, "ld").requests.at(0);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::rate_limited) << r.error->describe();
  EXPECT_NE(r.error->message.find("deadline"), std::string::npos) << r.error->message;
  // Each try waits for the reset (≥ 100 ms after its answer): at most five fit in 500 ms.
  EXPECT_LE(vendors.api_requests("ld").size(), 6u);
  EXPECT_GE(r.throttled, 2);
  EXPECT_GE(ms_between(started, Clock::now()), 300.0);
}

// A 429 means the vendor refused the request unprocessed: it is sent again however often the
// storm lasts, but once one is handled and its answer lost, never again.
TEST_F(Apply, ANonIdempotentRequestIsHandledOnceAcrossA429Storm) {
  ApplyOptions options;
  options.plan.backends = {"a0"};
  ASSERT_NO_FATAL_FAILURE(start({}, options));
  vendors.set_faults(R"([{"vendor": "auth0", "method": "POST", "path_prefix": "/api/v2/experimentation/", "times": 4,
                          "status": 429, "retry_after_s": 0},
                         {"vendor": "auth0", "method": "POST", "path_prefix": "/api/v2/experimentation/", "times": 1,
                          "apply_then_drop": true}])");
  const auto report = apply(R"({"experiment": "checkout-redesign", "action": "start"})");
  EXPECT_FALSE(report.ok());
  const auto& r = backend_of(report, "a0").requests.at(0);
  EXPECT_FALSE(r.request.idempotent);
  EXPECT_EQ(r.throttled, 4);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_NE(r.error->message.find("may have applied"), std::string::npos) << r.error->message;
  std::this_thread::sleep_for(100ms);  // room for a resend that must not come
  int posts = 0, handled = 0;
  for (const auto& received : vendors.host().received_requests()) {
    if (received.vendor != "auth0" || received.request.method != "POST" ||
        !received.request.target.starts_with("/api/v2/experimentation/"))
      continue;
    ++posts;
    if (received.handled_status >= 200 && received.handled_status < 300) ++handled;
  }
  EXPECT_EQ(posts, 5);
  EXPECT_EQ(handled, 1);
}

TEST_F(Apply, ARateLimitCapsTheRequestsPerSecond) {
  test::ApplyConfigOptions config;
  config.extra_experiments = 9;
  config.per_backend["aws"] = {{"rate_limit", "20/s"}, {"max_in_flight", "8"}};
  ApplyOptions options;
  options.parallel_updates = 8;
  options.plan.backends = {"aws"};
  ASSERT_NO_FATAL_FAILURE(start(config, options));
  const auto reports = apply_descriptions(applier(), 9);
  for (const auto& r : reports) EXPECT_TRUE(r.ok()) << dump(r);
  auto arrivals = vendors.api_arrivals("aws");
  ASSERT_GE(arrivals.size(), 9u);
  std::sort(arrivals.begin(), arrivals.end());
  // 20/s is one every 50 ms: any 6 in a row span at least ~250 ms (generously: 200).
  for (std::size_t i = 0; i + 5 < arrivals.size(); ++i)
    EXPECT_GE(ms_between(arrivals[i], arrivals[i + 5]), 200.0) << "requests " << i << ".." << i + 5;
}

/// LaunchDarkly alone, its emulator rate-limited (fixture `rate_limits.launchdarkly`).
class ApplyLimited : public Apply {
 protected:
  void start_limited(int experiments, int parallel, std::string_view launchdarkly_limits) {
    test::ApplyConfigOptions config;
    config.extra_experiments = experiments;
    ApplyOptions options;
    options.parallel_updates = parallel;
    options.plan.backends = {"ld"};
    boost::json::value fixture = test::EmulatedVendors::fixture(test::EmulatedVendors::Run::running, experiments);
    fixture.as_object()["rate_limits"] = boost::json::object{{"launchdarkly", boost::json::parse(launchdarkly_limits)}};
    vendors.restart(std::move(fixture));
    ASSERT_NO_FATAL_FAILURE(start(config, options));
    for (const auto& r : apply_descriptions(applier(), experiments)) EXPECT_TRUE(r.ok()) << dump(r);
  }

  BackendPacing launchdarkly_pacing() {
    for (const auto& p : applier().pacing())
      if (p.backend == "ld") return p;
    ADD_FAILURE() << "no pacing for ld";
    return {};
  }
};

TEST_F(ApplyLimited, ConcurrencyGrowsWhileTheBudgetShowsRoom) {
  ASSERT_NO_FATAL_FAILURE(start_limited(24, 16, R"({"route_per_10s": 1000, "window_ms": 60000})"));
  const auto ld = launchdarkly_pacing();
  EXPECT_GT(ld.most_concurrency, 2) << "LaunchDarkly starts at 2 and the budget showed room";
  EXPECT_EQ(ld.throttled, 0);
}

// One at a time, each answer saying what is left: the client waits for the window instead of
// meeting its 429 (the window can still end between the answer and the next request).
TEST_F(ApplyLimited, ASpentBudgetPausesTheBackendBeforeTheVendorRefuses) {
  ASSERT_NO_FATAL_FAILURE(start_limited(6, 1, R"({"route_per_10s": 2, "window_ms": 300})"));
  const auto ld = launchdarkly_pacing();
  EXPECT_GE(ld.pauses, 1);
  EXPECT_EQ(ld.throttled, 0);
}

// ---- 4. transient 5xx -------------------------------------------------------------------

TEST_F(Apply, Two503sThenSuccessTakesThreeAttempts) {
  ASSERT_NO_FATAL_FAILURE(start());
  // Evidently-shaped 503s (x-amzn-ErrorType ServiceUnavailableException).
  vendors.set_faults(R"([{"vendor": "evidently", "method": "PATCH", "times": 2, "status": 503}])");

  const auto report = apply(kDescriptionUpdate);
  ASSERT_TRUE(report.ok()) << dump(report);
  const auto& ev = backend_of(report, "ev");
  EXPECT_EQ(ev.result, BackendOutcome::ok);
  EXPECT_EQ(ev.requests.at(0).attempts, 3);
  EXPECT_EQ(ev.requests.at(0).status, 200);
  EXPECT_FALSE(ev.requests.at(0).error.has_value()) << error_text(ev.requests.at(0).error);
  EXPECT_EQ(vendors.api_requests("ev").size(), 3u);
  for (const auto& r : vendors.api_requests("ev")) expect_valid_sigv4(r, "evidently");  // re-signed each time
}

// ---- 5. timeouts ------------------------------------------------------------------------

TEST_F(Apply, ATimedOutIdempotentRequestIsRetriedUpToAttemptsThenFailsUnavailable) {
  test::ApplyConfigOptions config;
  config.per_backend["aws"] = {{"timeout_ms", "150"}, {"attempts", "3"}};
  ASSERT_NO_FATAL_FAILURE(start(config));
  vendors.set_faults(R"([{"vendor": "appconfig", "latency_ms": 1500}])");

  const auto report = apply(kDescriptionUpdate);
  EXPECT_FALSE(report.ok());
  const auto& aws = backend_of(report, "aws");
  EXPECT_EQ(aws.result, BackendOutcome::failed);
  ASSERT_EQ(aws.requests.size(), 1u);
  const auto& r = aws.requests[0];
  EXPECT_TRUE(r.request.idempotent);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_TRUE(r.sent);
  EXPECT_EQ(r.status, 0);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::unavailable) << r.error->describe();
  EXPECT_NE(r.error->message.find("timed out"), std::string::npos) << r.error->message;
  ASSERT_TRUE(aws.error.has_value());
  EXPECT_EQ(aws.error->code, ErrorCode::unavailable);
  vendors.wait_for_requests("aws", 3);
  EXPECT_EQ(vendors.api_requests("aws").size(), 3u);
  for (const char* other : {"ld", "a0", "ev"}) EXPECT_EQ(backend_of(report, other).result, BackendOutcome::ok) << other;
}

// ---- 6. connection reset mid-response ------------------------------------------------------

TEST_F(Apply, AResetMidResponseIsRetriedForAnIdempotentRequest) {
  ASSERT_NO_FATAL_FAILURE(start());
  vendors.set_faults(R"([{"vendor": "evidently", "method": "PATCH", "times": 1, "reset_mid_body": true}])");

  const auto report = apply(kDescriptionUpdate);
  ASSERT_TRUE(report.ok()) << dump(report);
  const auto& ev = backend_of(report, "ev").requests.at(0);
  EXPECT_EQ(ev.attempts, 2);
  EXPECT_EQ(ev.status, 200);
  EXPECT_EQ(vendors.api_requests("ev").size(), 2u);
}

TEST_F(Apply, AResetMidResponseIsNotRetriedForANonIdempotentRequest) {
  ApplyOptions options;
  options.plan.backends = {"a0"};
  ASSERT_NO_FATAL_FAILURE(start({}, options));
  // The state read (GET: draft) is answered; the status transition is applied by the emulator
  // and its answer cut mid-response (the token request is a POST too, elsewhere).
  vendors.set_faults(R"([{"vendor": "auth0", "method": "POST", "path_prefix": "/api/v2/experimentation/",
                          "reset_mid_body": true}])");

  const auto report = apply(R"({"experiment": "checkout-redesign", "action": "start"})");
  EXPECT_FALSE(report.ok());
  ASSERT_EQ(report.backends.size(), 1u);
  const auto& a0 = backend_of(report, "a0");
  ASSERT_EQ(a0.requests.size(), 1u);
  const auto& r = a0.requests[0];
  EXPECT_EQ(r.request.operation, "TransitionExperimentStatus");
  EXPECT_FALSE(r.request.idempotent);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_TRUE(r.sent);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::unavailable);
  EXPECT_TRUE(r.error->request_sent);
  EXPECT_NE(r.error->message.find("may have applied"), std::string::npos) << r.error->message;
  EXPECT_EQ(vendors.api_requests("a0").size(), 1u);
}

// ---- 7. vendor errors are not retried, and are parsed -------------------------------------

TEST_F(Apply, An400IsNotRetriedAndTheVendorErrorIsParsed) {
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string request_id = "7c5a0a1e-6f0b-4d3a-9a57-3f1b2d9e0c11";
  vendors.set_faults(R"([{"vendor": "appconfig", "status": 400,
      "body": "{\"Message\":\"ExposurePercentage cannot be lowered while the run is active\",\"Reason\":\"InvalidConfiguration\"}",
      "headers": {"x-amzn-ErrorType": "BadRequestException:http://internal.amazon.com/coral/com.amazonaws.appconfig/",
                  "x-amzn-RequestId": ")" + request_id + R"("}}])");

  const auto report = apply(kDescriptionUpdate);
  EXPECT_FALSE(report.ok());
  const auto& aws = backend_of(report, "aws");
  EXPECT_EQ(aws.result, BackendOutcome::failed);
  const auto& r = aws.requests.at(0);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.status, 400);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::invalid_input);
  EXPECT_EQ(r.error->message, "BadRequestException: ExposurePercentage cannot be lowered while the run is active");
  EXPECT_EQ(r.error->request_id, request_id);
  EXPECT_EQ(r.error->http_status, 400);
  EXPECT_EQ(r.error->backend, "aws");
  EXPECT_EQ(r.error->vendor, "appconfig");
  EXPECT_EQ(r.error->operation, "UpdateExperimentRun");
  EXPECT_EQ(vendors.api_requests("aws").size(), 1u);
  // The JSON report carries it too.
  const auto json = report_to_json(report);
  const auto& error = json.as_object().at("backends").as_array().at(0).as_object().at("requests").as_array().at(0)
                          .as_object().at("error").as_object();
  EXPECT_EQ(error.at("code").as_string(), "invalid_input");
  EXPECT_EQ(error.at("request_id").as_string(), request_id);
}

// ---- state reads -------------------------------------------------------------------------

TEST_F(Apply, AFailingStateReadFailsThatBackendAndSendsItNoChange) {
  test::ApplyConfigOptions config;
  config.per_backend["aws"] = {{"attempts", "1"}};
  ASSERT_NO_FATAL_FAILURE(start(config));
  // An AppConfig-shaped 500 (InternalServerException) on the read only.
  vendors.set_faults(R"([{"vendor": "appconfig", "method": "GET", "status": 500}])");
  const auto report = apply(R"({"experiment": "checkout-redesign", "exposure": 40})");
  const auto& aws = backend_of(report, "aws");
  EXPECT_EQ(aws.result, BackendOutcome::failed) << dump(report);
  ASSERT_TRUE(aws.error);
  EXPECT_NE(aws.error->message.find("reading the current state first"), std::string::npos) << aws.error->message;
  EXPECT_EQ(vendors.state_reads("aws").size(), 1u);
  EXPECT_TRUE(vendors.api_requests("aws").empty()) << "no change without the state its rules need";
}

// ---- 8. one backend failing ---------------------------------------------------------------

TEST_F(Apply, OneBackendFailingLeavesTheOthersOkAndItsLaterRequestsUnsent) {
  test::ApplyConfigOptions config;
  config.per_backend["aws"] = {{"attempts", "2"}};
  vendors.restart(EmulatedVendors::fixture(EmulatedVendors::Run::done));  // no active run: the definition may change
  ASSERT_NO_FATAL_FAILURE(start(config));
  // The state read before the plan is answered by the emulator; every change fails.
  vendors.set_faults(R"([{"vendor": "appconfig", "method": "PATCH", "status": 500,
      "body": "{\"Message\":\"We encountered an internal error. Please try again.\"}",
      "headers": {"x-amzn-ErrorType": "InternalServerException", "x-amzn-RequestId": "req-500"}}])");

  const auto report = apply(kTwoStepUpdate);
  EXPECT_FALSE(report.ok());
  EXPECT_FALSE(report.error.has_value());
  const auto& aws = backend_of(report, "aws");
  EXPECT_EQ(aws.result, BackendOutcome::failed);
  ASSERT_EQ(aws.requests.size(), 2u);
  EXPECT_EQ(aws.requests[0].request.operation, "UpdateExperimentDefinition");
  EXPECT_EQ(aws.requests[0].attempts, 2);
  EXPECT_EQ(aws.requests[0].status, 500);
  ASSERT_TRUE(aws.requests[0].error.has_value());
  EXPECT_EQ(aws.requests[0].error->code, ErrorCode::unavailable);
  EXPECT_EQ(aws.requests[0].error->request_id, "req-500");
  EXPECT_EQ(aws.requests[1].request.operation, "UpdateExperimentRun");
  EXPECT_EQ(aws.requests[1].attempts, 0) << "not sent";
  EXPECT_FALSE(aws.requests[1].sent);
  EXPECT_EQ(aws.requests[1].status, 0);
  ASSERT_TRUE(aws.error.has_value());
  EXPECT_EQ(aws.error->message, aws.requests[0].error->message);
  for (const char* other : {"ld", "a0", "ev"}) {
    EXPECT_EQ(backend_of(report, other).result, BackendOutcome::ok) << other;
    EXPECT_FALSE(backend_of(report, other).error.has_value()) << other;
  }
  const auto received = vendors.api_requests("aws");
  ASSERT_EQ(received.size(), 2u);
  for (const auto& r : received) EXPECT_EQ(r.target, "/applications/abc1234/experimentdefinitions/bsxyd7k");
  // The text report says which request was not sent.
  EXPECT_NE(report_to_text(report).find("not sent"), std::string::npos) << report_to_text(report);
}

// ---- 9. Auth0 token refresh on 401 --------------------------------------------------------

TEST_F(Apply, Auth0RefetchesTheTokenOnceAfterA401AndSucceeds) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_TRUE(apply(kDescriptionUpdate).ok());
  ASSERT_EQ(vendors.tokens_issued(), 1u);
  // The vendor refuses the cached token once (revoked, expired early): an Auth0-shaped 401.
  vendors.set_faults(R"([{"vendor": "auth0", "path_prefix": "/api/v2/experimentation/", "times": 1, "status": 401}])");

  const auto report = apply(R"({"experiment": "checkout-redesign", "description": "Third week of the flow"})");
  ASSERT_TRUE(report.ok()) << dump(report);
  EXPECT_EQ(vendors.tokens_issued(), 2u) << "fetched again exactly once";
  EXPECT_EQ(vendors.token_requests().size(), 2u);
  const auto a0 = vendors.api_requests("a0");
  ASSERT_EQ(a0.size(), 3u);  // first update, then 401 + resend
  const auto bearer = [&](std::size_t i) { return a0[i].header("Authorization").value_or(""); };
  EXPECT_EQ(bearer(1), bearer(0)) << "the refused request carried the cached token";
  EXPECT_NE(bearer(2), bearer(1)) << "the resend carried the new token";
  EXPECT_TRUE(bearer(2).starts_with("Bearer ")) << bearer(2);
  EXPECT_EQ(backend_of(report, "a0").requests.at(0).status, 200);
  EXPECT_EQ(backend_of(report, "a0").requests.at(0).attempts, 2) << "the resend after the refresh is an attempt too";
  // Later updates use the new token without fetching again.
  ASSERT_TRUE(apply(kDescriptionUpdate).ok());
  EXPECT_EQ(vendors.tokens_issued(), 2u);
}

TEST_F(Apply, Auth0401WithAFreshTokenFailsUnauthorizedWithoutLooping) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_TRUE(apply(kDescriptionUpdate).ok());
  vendors.set_faults(R"([{"vendor": "auth0", "path_prefix": "/api/v2/experimentation/", "status": 401}])");

  const auto report = apply(kDescriptionUpdate);
  EXPECT_FALSE(report.ok());
  const auto& a0 = backend_of(report, "a0");
  EXPECT_EQ(a0.result, BackendOutcome::failed);
  ASSERT_TRUE(a0.requests.at(0).error.has_value());
  EXPECT_EQ(a0.requests.at(0).error->code, ErrorCode::unauthorized);
  EXPECT_EQ(a0.requests.at(0).status, 401);
  EXPECT_EQ(vendors.token_requests().size(), 2u) << "one refetch, no more";
  EXPECT_EQ(vendors.api_requests("a0").size(), 3u);  // 1 (first update) + 2 (401, 401 with the fresh token)
}

// ---- 10. non-idempotent request whose answer never comes ----------------------------------

TEST_F(Apply, ANonIdempotentStartThatTimesOutIsNotResent) {
  test::ApplyConfigOptions config;
  config.per_backend["aws"] = {{"timeout_ms", "200"}, {"attempts", "3"}};
  ApplyOptions options;
  options.plan.backends = {"aws"};
  ASSERT_NO_FATAL_FAILURE(start(config, options));
  // The emulator applies the start at once; its answer comes after the client gave up.
  vendors.set_faults(R"([{"vendor": "appconfig", "method": "POST", "latency_ms": 2000}])");

  const auto report = apply(R"({"experiment": "checkout-redesign", "action": "start", "description": "First run"})");
  EXPECT_FALSE(report.ok());
  const auto& aws = backend_of(report, "aws");
  ASSERT_EQ(aws.requests.size(), 1u);
  const auto& r = aws.requests[0];
  EXPECT_EQ(r.request.operation, "StartExperimentRun");
  EXPECT_EQ(r.request.method, "POST");
  EXPECT_FALSE(r.request.idempotent);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_TRUE(r.sent);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::unavailable);
  EXPECT_TRUE(r.error->request_sent);
  EXPECT_NE(r.error->message.find("may have applied"), std::string::npos) << r.error->message;
  vendors.wait_for_requests("aws", 1);
  std::this_thread::sleep_for(100ms);  // room for a resend that must not come
  EXPECT_EQ(vendors.api_requests("aws").size(), 1u);
}

// ---- 11. invalid updates send nothing ------------------------------------------------------

TEST_F(Apply, AStrictUpdateWithASkipIsRefusedAndNothingIsSent) {
  ApplyOptions options;
  options.plan.strict = true;
  ASSERT_NO_FATAL_FAILURE(start({}, options));
  const auto report = apply(kTwoStepUpdate);  // hypothesis is skipped at ld, a0, ev
  ASSERT_TRUE(report.error.has_value());
  EXPECT_EQ(report.error->code, ErrorCode::unsupported) << report.error->describe();
  EXPECT_FALSE(report.ok());
  EXPECT_TRUE(report.backends.empty());
  EXPECT_EQ(vendors.total_requests(), 0u);
}

TEST_F(Apply, AnUpdateOneVendorRefusesIsNotSentAnywhere) {
  ASSERT_NO_FATAL_FAILURE(start());
  // Auth0 descriptions are 3..1024 characters: the whole update is refused before sending.
  const auto report = apply(R"({"experiment": "checkout-redesign", "description": "ab"})");
  ASSERT_TRUE(report.error.has_value());
  EXPECT_EQ(report.error->code, ErrorCode::invalid_input) << report.error->describe();
  EXPECT_EQ(report.error->backend, "a0");
  EXPECT_EQ(vendors.total_requests(), 0u);
}

// ---- 12. missing credentials --------------------------------------------------------------

TEST_F(Apply, MissingCredentialsFailOnlyThatBackendAndNothingIsSentToIt) {
  env.erase("LD_API_TOKEN");
  ASSERT_NO_FATAL_FAILURE(start());
  const auto report = apply(kDescriptionUpdate);
  EXPECT_FALSE(report.ok());
  EXPECT_FALSE(report.error.has_value());
  const auto& ld = backend_of(report, "ld");
  EXPECT_EQ(ld.result, BackendOutcome::failed);
  ASSERT_TRUE(ld.error.has_value());
  EXPECT_EQ(ld.error->code, ErrorCode::unauthorized);
  EXPECT_NE(ld.error->message.find("LD_API_TOKEN"), std::string::npos) << ld.error->message;
  for (const auto& r : ld.requests) EXPECT_EQ(r.attempts, 0);
  EXPECT_TRUE(vendors.all_requests("ld").empty());
  for (const char* other : {"aws", "a0", "ev"}) EXPECT_EQ(backend_of(report, other).result, BackendOutcome::ok) << other;
}

// ---- 14. max_in_flight ----------------------------------------------------------------------

/// Largest number of requests a server was handling at once, from arrival times and a
/// fixed reply delay. A request cannot arrive on a connection before the previous answer
/// left, so sequential requests never overlap here; concurrent ones do.
int max_overlap(std::vector<Clock::time_point> arrivals, std::chrono::milliseconds delay) {
  std::sort(arrivals.begin(), arrivals.end());
  int best = 0;
  for (std::size_t j = 0; j < arrivals.size(); ++j) {
    int n = 0;
    for (std::size_t i = 0; i <= j; ++i)
      if (arrivals[j] < arrivals[i] + delay) ++n;
    best = std::max(best, n);
  }
  return best;
}

TEST_F(Apply, MaxInFlightOneIsHonouredAcrossParallelUpdates) {
  test::ApplyConfigOptions config;
  config.extra_experiments = 8;
  config.per_backend["ld"] = {{"max_in_flight", "1"}};
  config.per_backend["aws"] = {{"max_in_flight", "4"}};
  ApplyOptions options;
  options.parallel_updates = 8;
  ASSERT_NO_FATAL_FAILURE(start(config, options));

  constexpr auto delay = 40ms;
  vendors.set_faults(R"([{"latency_ms": )" + std::to_string(delay.count()) + "}]");

  std::vector<std::string> sources;
  int next = 1;
  applier().apply_all(
      [&]() -> std::optional<std::pair<std::string, Result<Update>>> {
        if (next > 8) return std::nullopt;
        const std::string n = std::to_string(next++);
        const std::string source = "u-" + n;
        return std::pair{source, parse_update(R"({"experiment": "exp-)" + n + R"(", "description": "Parallel )" + n + R"("})",
                                              source)};
      },
      [&](UpdateReport r) {
        EXPECT_TRUE(r.ok()) << dump(r);
        sources.push_back(r.source);
      });
  EXPECT_EQ(sources.size(), 8u);
  EXPECT_EQ(vendors.api_arrivals("ld").size(), 8u);
  EXPECT_EQ(max_overlap(vendors.api_arrivals("ld"), delay), 1) << "LaunchDarkly saw requests in flight at once";
  const int aws = max_overlap(vendors.api_arrivals("aws"), delay);
  EXPECT_LE(aws, 4);
  EXPECT_GE(aws, 2) << "the updates did not overlap at all: the check above proves nothing";
}

// ---- token endpoint hiccups and waits beyond the deadline -----------------------------------

// A token endpoint that is briefly unavailable (503) or rate-limited (429, common on Auth0's
// M2M quota) is retried like the API itself, instead of failing the backend with attempts 0.
TEST_F(Apply, ATransientTokenEndpointFailureIsRetried) {
  ASSERT_NO_FATAL_FAILURE(start());
  vendors.set_faults(R"([{"vendor": "auth0", "path_prefix": "/oauth/token", "times": 1, "status": 503,
                          "body": "{\"error\":\"temporarily_unavailable\"}"}])");
  const auto report = apply(kDescriptionUpdate);
  EXPECT_TRUE(report.ok()) << dump(report);
  EXPECT_EQ(vendors.token_requests().size(), 2u);
  EXPECT_EQ(vendors.api_requests("a0").size(), 1u);
}

// When the vendor asks for a wait longer than what is left of `deadline_ms`, the report keeps
// the vendor's answer (429 -> rate_limited, its request id and status) rather than a bare
// "deadline passed".
TEST_F(Apply, AWaitBeyondTheDeadlineKeepsTheVendorsError) {
  test::ApplyConfigOptions config;
  config.per_backend["ld"] = {{"deadline_ms", "300"}};
  ASSERT_NO_FATAL_FAILURE(start(config));
  vendors.set_faults(R"([{"vendor": "launchdarkly", "status": 429, "retry_after_s": 2,
                          "body": "{\"code\":\"rate_limited\",\"message\":\"slow down\",\"id\":\"rid-1\"}"}])");
  const auto report = apply(kDescriptionUpdate);
  const auto& r = backend_of(report, "ld").requests.at(0);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::rate_limited) << r.error->describe();
  EXPECT_EQ(r.error->request_id, "rid-1");
  EXPECT_EQ(r.error->http_status, 429);
}

// ---- 13. apply_all: order, keep-alive, per-experiment order ----------------------------------

class ApplyAll : public ::testing::TestWithParam<int> {};

/// The step number in a body ("... step 7"), or -1.
int step_of(const std::string& body) {
  const auto at = body.find("step ");
  if (at == std::string::npos) return -1;
  return std::atoi(body.c_str() + at + 5);
}

/// Which experiment a request is for, from its path.
std::string experiment_of(const std::string& target) {
  for (const char* marker : {"bsxyd7k", "exp_4fG7hJk", "checkout-redesign"})
    if (target.find(marker) != std::string::npos) return "checkout-redesign";
  for (const char* marker : {"def0001", "exp_Xp1", "exp-1"})
    if (target.find(marker) != std::string::npos) return "exp-1";
  return "?";
}

TEST_P(ApplyAll, ReportsInInputOrderKeepsEachExperimentsOrderAndReusesConnections) {
  const int parallel = GetParam();
  EmulatedVendors vendors;
  test::ApplyConfigOptions config;
  config.extra_experiments = 1;
  auto bridge = Bridge::from_text(vendors.config(config), "apply-all.yaml");
  ASSERT_TRUE(bridge.has_value()) << bridge.error().describe();
  ApplyOptions options;
  options.parallel_updates = parallel;
  // Blind, like the rest of this suite: the connection bound below counts the writes (84
  // requests); with reads first, a hinted read sends up to three GETs a backend at once.
  options.read_first = false;
  const auto env = test::apply_test_environment();
  options.environment = [env](std::string_view name) -> std::optional<std::string> {
    if (auto it = env.find(std::string(name)); it != env.end()) return it->second;
    return std::nullopt;
  };
  auto applier = Applier::create(*bridge, options);
  ASSERT_TRUE(applier.has_value()) << applier.error().describe();

  // Uneven answer times, so updates finish out of input order when they overlap: one fault
  // per request (each used once, in arrival order), 1 to 11 ms.
  std::string faults = "[";
  for (int k = 0; k < 120; ++k)
    faults += (k ? "," : "") + std::string(R"({"times": 1, "latency_ms": )") + std::to_string(1 + (k * 7) % 11) + "}";
  vendors.set_faults(faults + "]");

  // 20 updates alternating between two experiments, plus one that does not parse (#10).
  constexpr int kUpdates = 21;
  constexpr int kBad = 10;
  std::atomic<int> next{0};
  std::vector<UpdateReport> reports;
  applier->apply_all(
      [&]() -> std::optional<std::pair<std::string, Result<Update>>> {
        const int i = next++;
        if (i >= kUpdates) return std::nullopt;
        const std::string source = "u-" + std::to_string(i);
        if (i == kBad) return std::pair{source, parse_update(R"({"experiment": "exp-1", "exposre": 5})", source)};
        const std::string experiment = i % 2 == 0 ? "checkout-redesign" : "exp-1";
        return std::pair{source, parse_update(R"({"experiment": ")" + experiment + R"(", "description": "Rollout step )" +
                                                  std::to_string(i) + R"("})",
                                              source)};
      },
      [&](UpdateReport r) { reports.push_back(std::move(r)); });

  ASSERT_EQ(reports.size(), static_cast<std::size_t>(kUpdates));
  for (int i = 0; i < kUpdates; ++i) {
    SCOPED_TRACE("update " + std::to_string(i));
    EXPECT_EQ(reports[i].source, "u-" + std::to_string(i));
    if (i == kBad) {
      ASSERT_TRUE(reports[i].error.has_value());
      EXPECT_EQ(reports[i].error->code, ErrorCode::invalid_input);
    } else {
      EXPECT_TRUE(reports[i].ok()) << dump(reports[i]);
    }
  }

  for (const auto& name : test::kApplyBackends) {
    SCOPED_TRACE("backend " + name);
    const auto received = vendors.api_requests(name);
    EXPECT_EQ(received.size(), static_cast<std::size_t>(kUpdates - 1));
    std::map<std::string, int> last_step;
    for (const auto& r : received) {
      const std::string experiment = experiment_of(r.target);
      const int step = step_of(r.body);
      ASSERT_NE(experiment, "?") << r.target;
      ASSERT_GE(step, 0) << r.body;
      EXPECT_EQ(step % 2 == 0, experiment == "checkout-redesign") << r.target << " " << r.body;
      if (last_step.count(experiment)) {
        EXPECT_GT(step, last_step[experiment]) << experiment << " out of order";
      }
      last_step[experiment] = step;
    }
  }
  // Keep-alive: a handful of connections per backend, not one per request. The four backends
  // share the host's address, so the bound is on their sum (84 requests, token included).
  const std::size_t limit = parallel == 1 ? 2 : 5;
  EXPECT_LE(vendors.host().connections_accepted(), limit * test::kApplyBackends.size());
  EXPECT_EQ(vendors.token_requests().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(ApplyAll, ApplyAll, ::testing::Values(1, 4),
                         [](const ::testing::TestParamInfo<int>& info) { return "parallel" + std::to_string(info.param); });

}  // namespace
}  // namespace expbridge
