// The Applier's core — fan-out, retries, deadlines, state reads, exception containment —
// tested without vendors and without sockets: a scripted HTTP client injected through
// `ApplyOptions::http_client` and the counting test vendor, registered through `Registry::add`.
//
// Assertions are on outcomes and on what the fakes counted, never on how long things took.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "expbridge/apply.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "support/report_helpers.hpp"
#include "support/counting_adapter.hpp"
#include "support/scripted_http_client.hpp"

namespace expbridge {
namespace {

using test::backend_of;
using test::dump;
using test::error_text;

using test::CountingStage;
using test::CountingVendor;
using test::HttpScript;
using test::ScriptedReply;
using namespace std::chrono_literals;

const std::vector<std::string> kBackends = {"one", "two", "three"};

std::string host(std::string_view backend) { return "https://" + std::string(backend) + ".example.test"; }
std::string experiment_url(std::string_view backend) { return host(backend) + "/experiments/e1"; }

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }


constexpr std::string_view kDescription = R"({"experiment": "exp", "description": "Second week"})";
constexpr std::string_view kExposure = R"({"experiment": "exp", "exposure": 40})";
constexpr std::string_view kStart = R"({"experiment": "exp", "action": "start"})";

class ApplyCore : public ::testing::Test {
 protected:
  /// Three counting backends, `one`, `two`, `three`, bound to experiment `exp` (id e1).
  /// `settings[backend]` is added to that backend's flow mapping (`auth: token, attempts: 1`).
  void start(std::map<std::string, std::string> settings = {}, ApplyOptions options = {}) {
    std::string config = "backends:\n";
    for (const auto& name : kBackends) {
      std::map<std::string, std::string> keys = {
          {"retry_base_ms", "1"}, {"retry_cap_ms", "20"}, {"timeout_ms", "500"}, {"deadline_ms", "5000"}};
      if (auto it = settings.find(name); it != settings.end()) {
        // "key: value, key: value", replacing the defaults above.
        std::string_view rest = it->second;
        while (!rest.empty()) {
          const auto comma = rest.find(',');
          std::string_view item = rest.substr(0, comma);
          rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
          while (item.starts_with(' ')) item.remove_prefix(1);
          const auto colon = item.find(':');
          std::string_view value = item.substr(colon + 1);
          while (value.starts_with(' ')) value.remove_prefix(1);
          keys[std::string(item.substr(0, colon))] = std::string(value);
        }
      }
      config += "  " + name + ": {vendor: counting, endpoint: \"" + host(name) + "\"";
      for (const auto& [key, value] : keys) config += ", " + key + ": " + value;
      config += "}\n";
    }
    config += "experiments:\n  exp:\n";
    for (const auto& name : kBackends) config += "    " + name + ": {id: e1}\n";
    auto bridge = Bridge::from_text(config, "apply-core.yaml", vendor->bridge_options());
    ASSERT_TRUE(bridge.has_value()) << bridge.error().describe() << "\n" << config;
    bridge_.emplace(std::move(*bridge));
    // These tests follow the write path and the rule-specific state reads request by request,
    // so each update goes blind (`apply --no-read`); the converging apply reads the counting
    // vendor whole in tests/core/apply/converge_core_test.cpp.
    options.read_first = false;
    options.environment = [env = env](std::string_view name) -> std::optional<std::string> {
      if (auto it = env.find(std::string(name)); it != env.end()) return it->second;
      return std::nullopt;
    };
    if (!options.http_client) options.http_client = http->factory();
    auto applier = Applier::create(*bridge_, std::move(options));
    ASSERT_TRUE(applier.has_value()) << applier.error().describe();
    applier_.emplace(std::move(*applier));
  }

  UpdateReport apply(std::string_view json) {
    auto parsed = parse_update(json, "test-update");
    EXPECT_TRUE(parsed.has_value()) << parsed.error().describe();
    return applier_->apply(parsed.value_or(Update{}));
  }

  /// Every backend answers its writes `200 {}` and its state reads `{"exposure": 10}`.
  void answer_everything() {
    for (const auto& name : kBackends) {
      http->on("*", host(name), {ScriptedReply::json(200)});
      http->on("POST", host(name) + "/experiments/e1/start", {ScriptedReply::json(201)});
      http->on("GET", experiment_url(name), {ScriptedReply::json(200, R"({"exposure": 10})")});
    }
  }

  void expect_ok(const UpdateReport& report, std::string_view backend, std::size_t requests = 1) {
    SCOPED_TRACE("backend " + std::string(backend));
    const auto& b = backend_of(report, backend);
    EXPECT_EQ(b.result, BackendOutcome::ok) << dump(report);
    EXPECT_FALSE(b.error.has_value()) << error_text(b.error);
    EXPECT_EQ(b.requests.size(), requests);
  }

  // Declared first: the bridge and the applier use them, and they outlive both.
  std::shared_ptr<CountingVendor> vendor = CountingVendor::make();
  std::shared_ptr<HttpScript> http = HttpScript::make();
  std::map<std::string, std::string> env = {
      {"COUNTING_TOKEN", "tok-7f3a"}, {"COUNTING_CLIENT_ID", "client-1"}, {"COUNTING_CLIENT_SECRET", "s3cret-9q"}};

  std::optional<Bridge> bridge_;
  std::optional<Applier> applier_;
};

// ---- the injection itself --------------------------------------------------------------

TEST_F(ApplyCore, TheInjectedClientCarriesEveryRequestAndTheCountingVendorSeesEveryCall) {
  ASSERT_NO_FATAL_FAILURE(start({{"two", "auth: token"}}));
  answer_everything();
  const auto report = apply(kDescription);
  ASSERT_TRUE(report.ok()) << dump(report);
  EXPECT_EQ(http->clients_made(), 1);
  EXPECT_EQ(http->total(), 3u);
  EXPECT_EQ(http->unmatched(), 0u);
  for (const auto& name : kBackends) {
    expect_ok(report, name);
    EXPECT_EQ(http->count("PATCH", experiment_url(name)), 1u) << name;
    const auto& calls = vendor->calls(name);
    EXPECT_EQ(calls.auth, 1) << "the authenticator is built once, at create";
    EXPECT_EQ(calls.state_requests, 1);
    EXPECT_EQ(calls.read_state, 0) << "a description needs no state";
    EXPECT_EQ(calls.plan, 2) << "the stateless check, then the plan that is sent";
    EXPECT_EQ(calls.plan_with_state, 0);
  }
  // What went out is what was planned, the token added where the backend wants one.
  for (const auto& exchange : http->received()) {
    EXPECT_EQ(boost::json::parse(exchange.request.body), boost::json::parse(R"({"description": "Second week"})"));
    const bool has_token = std::any_of(exchange.request.headers.begin(), exchange.request.headers.end(),
                                       [](const http::Header& h) { return h.name == "Authorization" && h.value == "tok-7f3a"; });
    EXPECT_EQ(has_token, contains(exchange.request.url, "two.example")) << exchange.request.url;
  }
  // The same client serves the next update.
  ASSERT_TRUE(apply(kDescription).ok());
  EXPECT_EQ(http->clients_made(), 1);
  EXPECT_EQ(http->total(), 6u);
}

TEST_F(ApplyCore, AFactoryThatMakesNoClientFailsCreate) {
  auto bridge = Bridge::from_text(
      "backends:\n  one: {vendor: counting}\nexperiments:\n  exp:\n    one: {id: e1}\n", "c.yaml", vendor->bridge_options());
  ASSERT_TRUE(bridge.has_value()) << bridge.error().describe();
  ApplyOptions options;
  options.http_client = [](boost::asio::io_context&) { return std::unique_ptr<http::HttpClient>(); };
  auto applier = Applier::create(*bridge, options);
  ASSERT_FALSE(applier.has_value());
  EXPECT_EQ(applier.error().code, ErrorCode::internal);

  options.http_client = [](boost::asio::io_context&) -> std::unique_ptr<http::HttpClient> {
    throw std::runtime_error("no client today");
  };
  applier = Applier::create(*bridge, options);
  ASSERT_FALSE(applier.has_value());
  EXPECT_EQ(applier.error().code, ErrorCode::internal);
  EXPECT_TRUE(contains(applier.error().message, "no client today")) << applier.error().describe();
}

// ---- the bridge with a test vendor ------------------------------------------------------

TEST(BridgeCore, ATestVendorIsRegisteredOnceAndItsSettingsAreChecked) {
  auto vendor = CountingVendor::make();
  Registry registry;
  ASSERT_TRUE(test::register_counting_adapter(registry, vendor).has_value());
  EXPECT_FALSE(test::register_counting_adapter(registry, vendor).has_value()) << "a duplicate name is refused";
  EXPECT_EQ(registry.vendors(), (std::vector<std::string>{"counting"}));

  BridgeOptions options = vendor->bridge_options();
  options.registry = &registry;
  auto bad = Bridge::from_text("backends:\n  one: {vendor: counting, colour: blue}\n", "bad.yaml", options);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().backend, "one");
  EXPECT_TRUE(contains(bad.error().describe(), "colour")) << bad.error().describe();
  auto real = Bridge::from_text("backends:\n  one: {vendor: appconfig, region: us-east-1, application: a}\n", "real.yaml",
                                options);
  ASSERT_FALSE(real.has_value()) << "this registry knows no real vendor";
  EXPECT_TRUE(contains(real.error().message, "known vendors: counting")) << real.error().describe();
}

TEST(BridgeCore, PlanAndStateReadsComeFromTheAdapterAndCountOneCallEach) {
  auto vendor = CountingVendor::make();
  auto bridge = Bridge::from_text("backends:\n  one: {vendor: counting}\nexperiments:\n  exp:\n    one: {id: e1}\n",
                                  "c.yaml", vendor->bridge_options());
  ASSERT_TRUE(bridge.has_value()) << bridge.error().describe();
  auto update = parse_update(R"({"experiment": "exp", "exposure": 30, "name": "N", "action": "start"})", "u");
  ASSERT_TRUE(update.has_value()) << update.error().describe();

  auto plan = bridge->plan(*update);
  ASSERT_TRUE(plan.has_value()) << plan.error().describe();
  ASSERT_EQ(plan->backends.size(), 1u);
  const auto& one = plan->backends[0];
  ASSERT_EQ(one.requests.size(), 2u);
  EXPECT_EQ(one.requests[0].method, "PUT");
  EXPECT_EQ(one.requests[0].url, std::string(CountingVendor::kBaseUrl) + "/experiments/e1/exposure");
  EXPECT_TRUE(one.requests[0].idempotent);
  EXPECT_EQ(one.requests[1].operation, "StartExperiment");
  EXPECT_FALSE(one.requests[1].idempotent) << "the table says so";
  ASSERT_EQ(one.skipped.size(), 1u);
  EXPECT_EQ(one.skipped[0].field, "name");
  EXPECT_EQ(vendor->calls("one").plan, 1);
  EXPECT_EQ(vendor->calls("one").plan_with_state, 0);

  auto reads = bridge->state_reads(*update);
  ASSERT_TRUE(reads.has_value());
  ASSERT_EQ(reads->size(), 1u);
  EXPECT_EQ(reads->at(0).requests.at(0).method, "GET");
  auto state = bridge->read_state("one", *update, {ReadResponse{200, R"({"exposure": 50})"}});
  ASSERT_TRUE(state.has_value()) << state.error().describe();
  EXPECT_EQ(state->exposure, 50.0);
  PlanOptions with_state;
  with_state.current.emplace_back("one", &*state);
  auto refused = bridge->plan(*update, with_state);
  ASSERT_FALSE(refused.has_value()) << "30 after 50 breaks the only-rises rule";
  EXPECT_EQ(refused.error().backend, "one");
  EXPECT_EQ(vendor->calls("one").plan_with_state, 1);
  EXPECT_EQ(vendor->calls("one").state_requests, 1);
  EXPECT_EQ(vendor->calls("one").read_state, 1);

  PlanOptions strict;
  strict.strict = true;
  auto strict_plan = bridge->plan(*update, strict);
  ASSERT_FALSE(strict_plan.has_value());
  EXPECT_EQ(strict_plan.error().code, ErrorCode::unsupported);
}

// ---- fan-out isolation -----------------------------------------------------------------

TEST_F(ApplyCore, OneBackendsServerErrorsFailItAloneAfterItsAttempts) {
  ASSERT_NO_FATAL_FAILURE(start({{"two", "attempts: 3"}}));
  answer_everything();
  http->on("PATCH", host("two"), {ScriptedReply::json(500, R"({"code":"Boom","message":"broken"})")});
  const auto report = apply(kDescription);
  EXPECT_FALSE(report.ok());
  EXPECT_FALSE(report.error.has_value()) << error_text(report.error);
  const auto& two = backend_of(report, "two");
  EXPECT_EQ(two.result, BackendOutcome::failed);
  ASSERT_TRUE(two.error.has_value());
  EXPECT_EQ(two.error->code, ErrorCode::unavailable) << two.error->describe();
  EXPECT_EQ(two.error->backend, "two");
  EXPECT_EQ(two.error->operation, "SetDescription");
  EXPECT_EQ(two.requests.at(0).attempts, 3);
  EXPECT_EQ(two.requests.at(0).status, 500);
  EXPECT_EQ(http->count("PATCH", host("two")), 3u) << "retried up to attempts, no more";
  for (const char* other : {"one", "three"}) {
    expect_ok(report, other);
    EXPECT_EQ(http->count("PATCH", host(other)), 1u);
  }
}

TEST_F(ApplyCore, AHangingBackendTimesOutAloneAndTheOthersFinish) {
  ASSERT_NO_FATAL_FAILURE(start({{"two", "timeout_ms: 50, deadline_ms: 200, attempts: 2"}}));
  answer_everything();
  http->on("PATCH", host("two"), {ScriptedReply::json(200).after(1h)});  // never answers in time
  const auto report = apply(kDescription);
  EXPECT_FALSE(report.ok());
  const auto& two = backend_of(report, "two");
  EXPECT_EQ(two.result, BackendOutcome::failed) << dump(report);
  ASSERT_TRUE(two.error.has_value());
  EXPECT_EQ(two.error->code, ErrorCode::unavailable) << two.error->describe();
  EXPECT_TRUE(contains(two.error->message, "timed out")) << two.error->describe();
  EXPECT_EQ(two.error->operation, "SetDescription");
  EXPECT_EQ(http->count("PATCH", host("two")), 2u) << "an idempotent PATCH that timed out is tried again";
  for (const auto& exchange : http->received()) {
    if (contains(exchange.request.url, "two.example")) {
      EXPECT_TRUE(exchange.timed_out);
    }
  }
  for (const char* other : {"one", "three"}) expect_ok(report, other);
}

TEST_F(ApplyCore, AClientThatThrowsFailsThatBackendInternalAndTheOthersFinish) {
  ASSERT_NO_FATAL_FAILURE(start({{"two", "attempts: 3"}}));
  answer_everything();
  http->on("PATCH", host("two"), {ScriptedReply::throws("scripted: socket layer exploded")});
  const auto report = apply(kDescription);
  EXPECT_FALSE(report.ok()) << dump(report);
  const auto& two = backend_of(report, "two");
  EXPECT_EQ(two.result, BackendOutcome::failed);
  ASSERT_TRUE(two.error.has_value());
  EXPECT_EQ(two.error->code, ErrorCode::internal);
  EXPECT_EQ(two.error->backend, "two");
  EXPECT_EQ(two.error->operation, "SetDescription");
  EXPECT_TRUE(contains(two.error->message, "HTTP client")) << two.error->describe();
  EXPECT_TRUE(contains(two.error->message, "socket layer exploded")) << two.error->describe();
  EXPECT_EQ(http->count("PATCH", host("two")), 1u) << "a throw is a bug, not a transient failure: not retried";
  for (const char* other : {"one", "three"}) expect_ok(report, other);
}

TEST_F(ApplyCore, AThrowingSendGivesItsInFlightPermitBack) {
  // One request at a time at `two`: a permit lost to the throw would hang the next update.
  ASSERT_NO_FATAL_FAILURE(start({{"two", "max_in_flight: 1"}}));
  answer_everything();
  http->on("PATCH", host("two"), {ScriptedReply::throws("scripted: first one throws"), ScriptedReply::json(200)});
  EXPECT_FALSE(apply(kDescription).ok());
  const auto second = apply(kDescription);
  EXPECT_TRUE(second.ok()) << dump(second);
  EXPECT_EQ(http->count("PATCH", host("two")), 2u);
}

// ---- retries ---------------------------------------------------------------------------

TEST_F(ApplyCore, Two503sThenSuccessIsThreeRequestsAtTheFake) {
  ASSERT_NO_FATAL_FAILURE(start({{"one", "attempts: 3"}}));
  answer_everything();
  http->on("PATCH", host("one"), {ScriptedReply::json(503), ScriptedReply::json(503), ScriptedReply::json(200)});
  const auto report = apply(kDescription);
  ASSERT_TRUE(report.ok()) << dump(report);
  EXPECT_EQ(backend_of(report, "one").requests.at(0).attempts, 3);
  EXPECT_EQ(http->count("PATCH", host("one")), 3u);
}

TEST_F(ApplyCore, AnUnreachableVendorIsRetriedWhenNothingCanHaveArrived) {
  ASSERT_NO_FATAL_FAILURE(start({{"one", "attempts: 3"}}));
  answer_everything();
  http->on("POST", host("one") + "/experiments/e1/start",
           {ScriptedReply::fail(ErrorCode::unavailable, "connection refused", false), ScriptedReply::json(201)});
  const auto report = apply(kStart);
  ASSERT_TRUE(report.ok()) << dump(report);
  EXPECT_EQ(http->count("POST", host("one")), 2u) << "even a POST may go again when it never left";
  EXPECT_EQ(backend_of(report, "one").requests.at(0).attempts, 1) << "a connection that never opened is no attempt";
}

TEST_F(ApplyCore, AWaitBeyondTheDeadlineStopsRetryingAndKeepsTheVendorsAnswer) {
  ASSERT_NO_FATAL_FAILURE(start({{"two", "deadline_ms: 300, retry_cap_ms: 60000, attempts: 5"}}));
  answer_everything();
  http->on("PATCH", host("two"),
           {ScriptedReply::json(429, R"({"code":"TooMany","message":"slow down"})", {{"Retry-After", "30"}})});
  const auto report = apply(kDescription);
  const auto& two = backend_of(report, "two");
  EXPECT_EQ(two.result, BackendOutcome::failed) << dump(report);
  ASSERT_TRUE(two.error.has_value());
  EXPECT_EQ(two.error->code, ErrorCode::rate_limited) << two.error->describe();
  EXPECT_TRUE(contains(two.error->message, "deadline")) << two.error->describe();
  EXPECT_EQ(http->count("PATCH", host("two")), 1u) << "a 30 s wait cannot fit a 300 ms deadline: not started";
  for (const char* other : {"one", "three"}) expect_ok(report, other);
}

// ---- non-idempotent requests are never resent -------------------------------------------

TEST_F(ApplyCore, ANonIdempotentStartIsNeverResentOnceItMayHaveArrived) {
  ASSERT_NO_FATAL_FAILURE(start({{"one", "attempts: 5, timeout_ms: 50"}, {"two", "attempts: 5"}, {"three", "attempts: 5"}}));
  answer_everything();
  // one: the answer never comes; two: the connection drops after the request left;
  // three: a 500, which may mean it was applied.
  http->on("POST", host("one"), {ScriptedReply::json(201).after(1h)});
  http->on("POST", host("two"), {ScriptedReply::fail(ErrorCode::unavailable, "connection reset by peer", true)});
  http->on("POST", host("three"), {ScriptedReply::json(500)});
  const auto report = apply(kStart);
  EXPECT_FALSE(report.ok());
  for (const auto& name : kBackends) {
    SCOPED_TRACE("backend " + name);
    const auto& b = backend_of(report, name);
    EXPECT_EQ(b.result, BackendOutcome::failed) << dump(report);
    ASSERT_EQ(b.requests.size(), 1u);
    EXPECT_FALSE(b.requests[0].request.idempotent);
    EXPECT_EQ(b.requests[0].attempts, 1);
    EXPECT_TRUE(b.requests[0].sent);
    EXPECT_EQ(http->count("POST", host(name)), 1u) << "resent although it may have been applied";
  }
  for (const char* name : {"one", "two"}) {
    const auto& error = backend_of(report, name).error;
    ASSERT_TRUE(error.has_value());
    EXPECT_TRUE(error->request_sent);
    EXPECT_TRUE(contains(error->message, "may have applied")) << error->describe();
  }
}

// A client that counted its write and then threw: the vendor may have the request.
class WritesThenThrows final : public http::HttpClient {
 public:
  explicit WritesThenThrows(int& sends) : sends_(sends) {}
  boost::asio::awaitable<Result<http::Response>> send(http::Request request) override {
    ++sends_;
    if (request.write_count) ++*request.write_count;
    // Always true; written as a condition so that the co_return below (which makes this a
    // coroutine) is not dead code to the compiler.
    if (sends_ > 0) throw std::runtime_error("scripted: died after writing");
    co_return http::Response{};
  }

 private:
  int& sends_;
};

TEST_F(ApplyCore, ANonIdempotentRequestTheClientThrewOnAfterWritingIsNotResent) {
  int sends = 0;
  ApplyOptions options;
  options.http_client = [&sends](boost::asio::io_context&) { return std::make_unique<WritesThenThrows>(sends); };
  options.plan.backends = {"one"};
  ASSERT_NO_FATAL_FAILURE(start({{"one", "attempts: 5"}}, options));
  const auto report = apply(kStart);
  const auto& one = backend_of(report, "one");
  EXPECT_EQ(one.result, BackendOutcome::failed);
  ASSERT_TRUE(one.error.has_value());
  EXPECT_EQ(one.error->code, ErrorCode::internal);
  EXPECT_TRUE(one.error->request_sent);
  EXPECT_TRUE(contains(one.error->message, "may have applied")) << one.error->describe();
  EXPECT_EQ(one.requests.at(0).attempts, 1);
  EXPECT_EQ(sends, 1);
}

// ---- state reads -----------------------------------------------------------------------

TEST_F(ApplyCore, AStateDependentUpdateIsPlannedWithTheStateItRead) {
  ASSERT_NO_FATAL_FAILURE(start());
  answer_everything();
  const auto report = apply(kExposure);
  ASSERT_TRUE(report.ok()) << dump(report);
  for (const auto& name : kBackends) {
    SCOPED_TRACE(name);
    EXPECT_EQ(http->count("GET", experiment_url(name)), 1u);
    EXPECT_EQ(http->count("PUT", experiment_url(name) + "/exposure"), 1u);
    EXPECT_EQ(vendor->calls(name).read_state, 1);
    EXPECT_EQ(vendor->calls(name).plan_with_state, 1);
  }
}

TEST_F(ApplyCore, AStateThatBreaksARuleRefusesTheUpdateEverywhere) {
  ASSERT_NO_FATAL_FAILURE(start());
  answer_everything();
  http->on("GET", experiment_url("three"), {ScriptedReply::json(200, R"({"exposure": 50})")});
  const auto report = apply(kExposure);  // 40 < 50 at `three`
  ASSERT_TRUE(report.error.has_value()) << dump(report);
  EXPECT_EQ(report.error->code, ErrorCode::invalid_input);
  EXPECT_EQ(report.error->backend, "three");
  EXPECT_TRUE(contains(report.error->message, "may only rise")) << report.error->describe();
  EXPECT_EQ(http->count("PUT", ""), 0u) << "a refused update sends no change anywhere";
}

TEST_F(ApplyCore, AFailedStateReadFailsThatBackendAndItIsNeverPlannedWithoutIt) {
  ASSERT_NO_FATAL_FAILURE(start({{"two", "attempts: 1"}}));
  answer_everything();
  http->on("GET", experiment_url("two"), {ScriptedReply::json(500, R"({"code":"Down","message":"store down"})")});
  const auto report = apply(kExposure);
  EXPECT_FALSE(report.ok());
  EXPECT_FALSE(report.error.has_value()) << error_text(report.error);
  const auto& two = backend_of(report, "two");
  EXPECT_EQ(two.result, BackendOutcome::failed) << dump(report);
  ASSERT_TRUE(two.error.has_value());
  EXPECT_EQ(two.error->backend, "two");
  EXPECT_TRUE(contains(two.error->message, "reading the current state first")) << two.error->describe();
  EXPECT_EQ(two.error->operation, "GetExperiment");
  EXPECT_TRUE(two.requests.empty()) << "no plan was made for it, so none is reported";
  EXPECT_EQ(vendor->calls("two").plan, 1) << "only the stateless check: never planned without the state it needs";
  EXPECT_EQ(vendor->calls("two").read_state, 0);
  EXPECT_EQ(http->count("PUT", host("two")), 0u);
  for (const char* other : {"one", "three"}) {
    expect_ok(report, other);
    EXPECT_EQ(vendor->calls(other).plan_with_state, 1);
  }
}

TEST_F(ApplyCore, AHangingStateReadFailsThatBackendWithinTheReadBudget) {
  // Read budget: half the shortest deadline (400 ms) = 200 ms.
  ASSERT_NO_FATAL_FAILURE(start({{"two", "deadline_ms: 400, timeout_ms: 5000"}}));
  answer_everything();
  http->on("GET", experiment_url("two"), {ScriptedReply::json(200, R"({"exposure": 1})").after(1h)});
  const auto report = apply(kExposure);
  const auto& two = backend_of(report, "two");
  EXPECT_EQ(two.result, BackendOutcome::failed) << dump(report);
  ASSERT_TRUE(two.error.has_value());
  EXPECT_TRUE(contains(two.error->message, "read budget of 200 ms")) << two.error->describe();
  EXPECT_EQ(two.error->operation, "GetExperiment");
  EXPECT_EQ(http->count("PUT", host("two")), 0u);
  for (const char* other : {"one", "three"}) expect_ok(report, other);
}

TEST_F(ApplyCore, AStateReadErrorFromTheAdapterFailsThatBackendByName) {
  ASSERT_NO_FATAL_FAILURE(start());
  answer_everything();
  vendor->fail_read_state("one");
  const auto report = apply(kExposure);
  const auto& one = backend_of(report, "one");
  EXPECT_EQ(one.result, BackendOutcome::failed) << dump(report);
  ASSERT_TRUE(one.error.has_value());
  EXPECT_EQ(one.error->backend, "one");
  EXPECT_EQ(one.error->vendor, "counting");
  EXPECT_TRUE(contains(one.error->message, "injected read_state error")) << one.error->describe();
  EXPECT_EQ(one.error->operation, "GetExperiment") << "the one read whose answer the adapter could not use";
  EXPECT_EQ(vendor->calls("one").plan_with_state, 0);
  EXPECT_EQ(http->count("PUT", host("one")), 0u);
  for (const char* other : {"two", "three"}) expect_ok(report, other);
}

TEST_F(ApplyCore, AnUnreadableStateAnswerFailsThatBackend) {
  ASSERT_NO_FATAL_FAILURE(start());
  answer_everything();
  http->on("GET", experiment_url("three"), {ScriptedReply::json(200, "<html>not json</html>")});
  const auto report = apply(kExposure);
  const auto& three = backend_of(report, "three");
  EXPECT_EQ(three.result, BackendOutcome::failed) << dump(report);
  ASSERT_TRUE(three.error.has_value());
  EXPECT_EQ(three.error->backend, "three");
  EXPECT_TRUE(contains(three.error->message, "not a JSON object")) << three.error->describe();
  EXPECT_EQ(three.error->operation, "GetExperiment");
  EXPECT_EQ(http->count("PUT", host("three")), 0u);
  for (const char* other : {"one", "two"}) expect_ok(report, other);
}

TEST_F(ApplyCore, MissingCredentialsFailThatBackendNamingTheRequestThatWasNotSent) {
  env.erase("COUNTING_TOKEN");
  ASSERT_NO_FATAL_FAILURE(start({{"one", "auth: token"}}));
  answer_everything();
  const auto report = apply(kExposure);
  const auto& one = backend_of(report, "one");
  EXPECT_EQ(one.result, BackendOutcome::failed) << dump(report);
  ASSERT_TRUE(one.error.has_value());
  EXPECT_EQ(one.error->code, ErrorCode::unauthorized);
  EXPECT_TRUE(contains(one.error->message, "COUNTING_TOKEN")) << one.error->describe();
  EXPECT_EQ(one.error->operation, "GetExperiment") << "the read that could not be sent";
  EXPECT_EQ(http->count("*", host("one")), 0u) << "not even the read was sent";
  EXPECT_EQ(vendor->calls("one").plan, 1);
  for (const char* other : {"two", "three"}) expect_ok(report, other);

  // An update that needs no read fails there as well, naming the write that was not sent.
  const auto write = apply(kDescription);
  const auto& one_write = backend_of(write, "one");
  ASSERT_TRUE(one_write.error.has_value()) << dump(write);
  EXPECT_EQ(one_write.error->code, ErrorCode::unauthorized);
  EXPECT_EQ(one_write.error->vendor, "counting");
  EXPECT_EQ(one_write.error->operation, "SetDescription");
  EXPECT_EQ(http->count("*", host("one")), 0u);
}

// ---- an exception at every stage ---------------------------------------------------------

struct Stage {
  std::string name;
  std::string update;
  /// Makes `two` throw at this stage.
  std::function<void(CountingVendor&, HttpScript&, std::map<std::string, std::string>& settings)> inject;
  bool update_level;        ///< the whole update is refused (planning), else only `two` fails
  std::string message_part; ///< in the error's message
  /// Changes `two` received: the request the client threw on was received, nothing after it.
  std::size_t writes_at_two = 0;
};

std::ostream& operator<<(std::ostream& out, const Stage& stage) { return out << stage.name; }

class ApplyCoreStage : public ApplyCore, public ::testing::WithParamInterface<Stage> {};

// An adapter builds its authentication when the config is loaded (Adapter::prepare_auth), so a
// throw there refuses the config, naming the backend, before any Applier exists.
TEST_F(ApplyCore, AnAdapterThatThrowsBuildingItsAuthFailsTheConfigLoadNamingTheBackend) {
  vendor->throw_at("two", CountingStage::auth);
  auto bridge = Bridge::from_text("backends:\n  two: {vendor: counting, endpoint: \"https://two.example.test\"}\n",
                                  "apply-core.yaml", vendor->bridge_options());
  ASSERT_FALSE(bridge.has_value());
  EXPECT_EQ(bridge.error().code, ErrorCode::internal);
  EXPECT_EQ(bridge.error().backend, "two");
  EXPECT_TRUE(contains(bridge.error().message, "injected failure in auth")) << bridge.error().describe();
  EXPECT_EQ(http->total(), 0u);
}

// Bindings are read when the config is loaded too: a throw there refuses the config, naming the backend.
TEST_F(ApplyCore, AnAdapterThatThrowsReadingABindingFailsTheConfigLoadNamingTheBackend) {
  vendor->throw_at("two", CountingStage::bind);
  auto bridge = Bridge::from_text(
      "backends:\n  two: {vendor: counting, endpoint: \"https://two.example.test\"}\nexperiments:\n  exp:\n    two: {id: e1}\n",
      "apply-core.yaml", vendor->bridge_options());
  ASSERT_FALSE(bridge.has_value());
  EXPECT_EQ(bridge.error().code, ErrorCode::internal);
  EXPECT_EQ(bridge.error().backend, "two");
  EXPECT_EQ(bridge.error().vendor, "counting");
  EXPECT_TRUE(contains(bridge.error().message, "injected failure in bind")) << bridge.error().describe();
  EXPECT_EQ(http->total(), 0u);
}

TEST_P(ApplyCoreStage, AThrowIsReportedAsInternalWhereItHappenedAndNothingElseIsLost) {
  const Stage& stage = GetParam();
  // Every backend answers; registered first, so the stage's own rules (added next) win.
  for (const auto& name : kBackends) {
    http->on("*", host(name), {ScriptedReply::json(200)});
    http->on("GET", experiment_url(name), {ScriptedReply::json(200, R"({"exposure": 1})")});
  }
  http->on("POST", host("two") + "/oauth/token",
           {ScriptedReply::json(200, R"({"access_token":"tk-1","token_type":"Bearer","expires_in":3600})")});
  std::map<std::string, std::string> settings;
  stage.inject(*vendor, *http, settings);
  ASSERT_NO_FATAL_FAILURE(start(settings));

  const auto report = apply(stage.update);
  EXPECT_FALSE(report.ok()) << "a throw must never pass for success: " << dump(report);
  if (stage.update_level) {
    ASSERT_TRUE(report.error.has_value()) << dump(report);
    EXPECT_EQ(report.error->code, ErrorCode::internal);
    EXPECT_TRUE(contains(report.error->message, stage.message_part)) << report.error->describe();
    EXPECT_EQ(report.error->backend, "two") << report.error->describe();
    EXPECT_EQ(http->count("PATCH", "") + http->count("PUT", ""), 0u) << "a refused update changes nothing";
    return;
  }
  EXPECT_FALSE(report.error.has_value()) << error_text(report.error);
  const auto& two = backend_of(report, "two");
  EXPECT_EQ(two.result, BackendOutcome::failed) << dump(report);
  ASSERT_TRUE(two.error.has_value()) << dump(report);
  EXPECT_EQ(two.error->code, ErrorCode::internal) << two.error->describe();
  EXPECT_EQ(two.error->backend, "two");
  EXPECT_TRUE(contains(two.error->message, stage.message_part)) << two.error->describe();
  EXPECT_EQ(http->count("PATCH", host("two")) + http->count("PUT", host("two")), stage.writes_at_two)
      << "nothing more reached the backend that threw";
  for (const char* other : {"one", "three"}) expect_ok(report, other, 2);
}

const std::string kExposureAndDescription = R"({"experiment": "exp", "exposure": 40, "description": "Week two"})";

INSTANTIATE_TEST_SUITE_P(
    EveryStage, ApplyCoreStage,
    ::testing::Values(
        Stage{"token_fetch",  // the authenticator's token request throws in the client
              kExposureAndDescription,
              [](CountingVendor&, HttpScript& h, std::map<std::string, std::string>& s) {
                s["two"] = "auth: oauth";
                h.on("POST", host("two") + "/oauth/token", {ScriptedReply::throws("scripted: token endpoint exploded")});
              },
              false, "authenticating"},
        Stage{"state_read_send",  // the client throws on the state read
              kExposureAndDescription,
              [](CountingVendor&, HttpScript& h, std::map<std::string, std::string>&) {
                h.on("GET", experiment_url("two"), {ScriptedReply::throws("scripted: read exploded")});
              },
              false, "read exploded"},
        Stage{"state_read_answer",  // the adapter throws reading the answer
              kExposureAndDescription,
              [](CountingVendor& v, HttpScript&, std::map<std::string, std::string>&) {
                v.throw_at("two", CountingStage::read_state);
              },
              false, "injected failure in read_state"},
        Stage{"send",  // the client throws on the write
              kExposureAndDescription,
              [](CountingVendor&, HttpScript& h, std::map<std::string, std::string>&) {
                // The description's PATCH goes first; the exposure's PUT must then never leave.
                h.on("PATCH", host("two"), {ScriptedReply::throws("scripted: write exploded")});
              },
              false, "write exploded", 1},
        Stage{"state_requests",  // listing the reads throws: before anything is sent
              kExposureAndDescription,
              [](CountingVendor& v, HttpScript&, std::map<std::string, std::string>&) {
                v.throw_at("two", CountingStage::state_requests);
              },
              true, "injected failure in state_requests"},
        Stage{"plan",  // planning throws: the plan is all-or-nothing
              kExposureAndDescription,
              [](CountingVendor& v, HttpScript&, std::map<std::string, std::string>&) {
                v.throw_at("two", CountingStage::plan);
              },
              true, "injected failure in plan"},
        Stage{"plan_with_state",  // the plan after the reads throws: still before anything is changed
              kExposureAndDescription,
              [](CountingVendor& v, HttpScript&, std::map<std::string, std::string>&) {
                v.throw_at("two", CountingStage::plan_with_state);
              },
              true, "injected failure in plan_with_state"}),
    [](const ::testing::TestParamInfo<Stage>& info) { return info.param.name; });

// ---- locks and guards --------------------------------------------------------------------

TEST_F(ApplyCore, AnUpdateThatThrewReleasesItsExperimentForTheNext) {
  ASSERT_NO_FATAL_FAILURE(start());
  answer_everything();
  vendor->throw_at("one", CountingStage::plan);
  const auto first = apply(kDescription);
  ASSERT_TRUE(first.error.has_value()) << dump(first);
  vendor->throw_at("one", CountingStage::none);
  // A lock still held by the first update would make this one wait for ever.
  const auto second = apply(kDescription);
  EXPECT_TRUE(second.ok()) << dump(second);
}

TEST(ApplyCoreReport, ABackendCarryingAnErrorIsNeverOk) {
  UpdateReport report;
  report.backends.resize(2);
  report.backends[0].result = BackendOutcome::ok;
  report.backends[1].result = BackendOutcome::skipped;
  EXPECT_TRUE(report.ok());
  report.backends[1].error = make_error(ErrorCode::internal, "lost");
  EXPECT_FALSE(report.ok()) << "an error with a result that says otherwise is still a failure";
}

// ---- apply_all: the caller's callbacks may throw -----------------------------------------

TEST_F(ApplyCore, ASinkThatThrowsStopsTheRunAndItsExceptionReachesTheCaller) {
  ASSERT_NO_FATAL_FAILURE(start());
  answer_everything();
  int produced = 0, delivered = 0;
  auto source = [&]() -> std::optional<std::pair<std::string, Result<Update>>> {
    if (produced >= 50) return std::nullopt;  // bounded, whatever happens
    const std::string source = "u-" + std::to_string(++produced);
    return std::pair{source, parse_update(kDescription, source)};
  };
  auto sink = [&](UpdateReport r) {
    EXPECT_TRUE(r.ok()) << dump(r);
    if (++delivered == 2) throw std::runtime_error("sink: disk full");
  };
  try {
    applier_->apply_all(source, sink);
    ADD_FAILURE() << "the sink's exception was swallowed";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "sink: disk full");
  }
  EXPECT_EQ(delivered, 2) << "no report after the sink broke";
  EXPECT_LT(http->count("PATCH", host("one")), 50u) << "input stopped being taken";
  // The Applier is still usable.
  EXPECT_TRUE(apply(kDescription).ok());
}

TEST_F(ApplyCore, ASourceThatThrowsEndsTheRunAndItsExceptionReachesTheCaller) {
  ASSERT_NO_FATAL_FAILURE(start());
  answer_everything();
  int produced = 0;
  std::vector<std::string> delivered;
  auto source = [&]() -> std::optional<std::pair<std::string, Result<Update>>> {
    if (++produced == 3) throw std::runtime_error("source: read error");
    const std::string source = "u-" + std::to_string(produced);
    return std::pair{source, parse_update(kDescription, source)};
  };
  try {
    applier_->apply_all(source, [&](UpdateReport r) { delivered.push_back(r.source); });
    ADD_FAILURE() << "the source's exception was swallowed";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "source: read error");
  }
  EXPECT_EQ(delivered, (std::vector<std::string>{"u-1", "u-2"})) << "what was read before the throw is applied and reported";
}

}  // namespace
}  // namespace expbridge
