// `apply` against a hostile network, counted at the servers (the vendor emulators' journal,
// misbehaviour injected as their faults): connections dropped after the
// request arrived (nothing non-idempotent may reach a vendor twice, and `attempts` is what
// went on the wire), a hanging state read or write at one backend (the others keep their
// own deadlines), vendors that echo our credentials back (no secret in any report), and
// config that must be refused before anything is sent.
//
// Timing: send times are measured at the servers, against each backend's own deadline_ms,
// with margins of hundreds of milliseconds for a loaded 2-core machine.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>

#include "emulator/emulator.hpp"
#include "expbridge/apply.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "support/report_helpers.hpp"
#include "support/emulated_vendors.hpp"
#include "support/test_resources.hpp"

namespace expbridge {
namespace {

using test::backend_of;
using test::dump;
using test::error_text;

using test::EmulatedVendors;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double ms_since(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

/// When a backend's first change (not a GET) reached the emulators, if it did.
std::optional<Clock::time_point> first_change(const EmulatedVendors& vendors, std::string_view backend) {
  const auto arrivals = vendors.api_arrivals(backend);
  if (arrivals.empty()) return std::nullopt;
  return arrivals.front();
}

/// The config with one backend's endpoint replaced (every backend shares the host's URL).
std::string with_endpoint(const EmulatedVendors& vendors, std::string config, std::string_view backend,
                          const std::string& endpoint) {
  const std::string url = vendors.base_url();
  config.replace(config.find(url, config.find("  " + std::string(backend) + ": ")), url.size(), endpoint);
  return config;
}

class HostileNetwork : public ::testing::Test {
 protected:
  void start(const test::ApplyConfigOptions& config = {}, ApplyOptions options = {}) {
    auto bridge = Bridge::from_text(vendors.config(config), "hostile-test.yaml");
    ASSERT_TRUE(bridge.has_value()) << bridge.error().describe();
    bridge_.emplace(std::move(*bridge));
    // Transport faults are aimed at the write path, request by request: blind by default
    // (`apply --no-read`); `read_first_` runs a test the default, converging way.
    options.read_first = read_first_;
    options.environment = [env = env](std::string_view name) -> std::optional<std::string> {
      if (auto it = env.find(std::string(name)); it != env.end()) return it->second;
      return std::nullopt;
    };
    auto applier = Applier::create(*bridge_, std::move(options));
    ASSERT_TRUE(applier.has_value()) << applier.error().describe();
    applier_.emplace(std::move(*applier));
  }

  UpdateReport apply(std::string_view json) {
    auto parsed = parse_update(json, "hostile-update");
    EXPECT_TRUE(parsed.has_value()) << parsed.error().describe();
    return applier_->apply(parsed.value_or(Update{}));
  }

  EmulatedVendors vendors;
  bool read_first_ = false;
  std::map<std::string, std::string> env = test::apply_test_environment();

 private:
  std::optional<Bridge> bridge_;
  std::optional<Applier> applier_;
};

// ---- nothing non-idempotent twice; attempts = writes on the wire ----------------------------

// The state read leaves a kept-alive connection; the POST would once take it, meet the
// drop, and be resent on a fresh connection: twice at the vendor, `attempts: 1` reported.
TEST_F(HostileNetwork, ANonIdempotentPostDroppedAfterItArrivedReachesTheVendorOnce) {
  for (const char* name : {"a0", "aws"}) {
    SCOPED_TRACE(name);
    ApplyOptions options;
    options.plan.backends = {name};
    test::ApplyConfigOptions config;
    config.per_backend[name] = {{"attempts", "3"}};
    ASSERT_NO_FATAL_FAILURE(start(config, options));
    // The connection is closed after the server read the request (token POSTs excepted).
    vendors.set_faults(R"([{"vendor": ")" + EmulatedVendors::vendor_of(name) +
                       R"(", "method": "POST", "path_prefix": ")" +
                       (std::string(name) == "a0" ? "/api/v2/experimentation/" : "/applications/") +
                       R"(", "drop_connection": true}])");
    const auto before = vendors.api_requests(name).size();

    const auto report = apply(R"({"experiment": "checkout-redesign", "action": "start"})");
    const auto& b = backend_of(report, name);
    ASSERT_EQ(b.result, BackendOutcome::failed) << dump(report);
    const auto& post = b.requests.back();
    EXPECT_EQ(post.request.method, "POST");
    EXPECT_FALSE(post.request.idempotent);
    EXPECT_EQ(post.attempts, 1) << dump(report);
    ASSERT_TRUE(post.error.has_value());
    EXPECT_TRUE(post.error->request_sent);
    EXPECT_NE(post.error->message.find("may have applied"), std::string::npos) << post.error->message;
    std::size_t posts = 0;
    for (const auto& r : vendors.api_requests(name)) posts += r.method == "POST";
    EXPECT_EQ(posts, 1u) << "the POST went on the wire exactly once";
    EXPECT_EQ(vendors.api_requests(name).size() - before, 1u);
  }
}

TEST_F(HostileNetwork, AnIdempotentPatchDroppedOnAKeptAliveConnectionIsResentOnceAndCountedTwice) {
  ApplyOptions options;
  options.plan.backends = {"ev"};
  test::ApplyConfigOptions config;
  config.per_backend["ev"] = {{"attempts", "1"}};  // only the client's own resend may happen
  ASSERT_NO_FATAL_FAILURE(start(config, options));
  ASSERT_TRUE(apply(R"({"experiment": "checkout-redesign", "description": "first"})").ok());  // pools a connection
  // The next PATCH meets a connection closed after the server read it.
  vendors.set_faults(R"([{"vendor": "evidently", "method": "PATCH", "times": 1, "drop_connection": true}])");

  const auto report = apply(R"({"experiment": "checkout-redesign", "description": "second"})");
  ASSERT_TRUE(report.ok()) << dump(report);
  const auto& r = backend_of(report, "ev").requests.at(0);
  EXPECT_TRUE(r.request.idempotent);
  EXPECT_EQ(r.attempts, 2) << "the transparent resend went on the wire too";
  EXPECT_EQ(vendors.api_requests("ev").size(), 3u);
  EXPECT_EQ(vendors.connections_used("ev"), 2u);
}

TEST_F(HostileNetwork, AConnectionThatNeverOpensIsNoAttemptOnTheWire) {
  const auto port = test::unused_loopback_port();  // nothing listens there
  ApplyOptions options;
  options.plan.backends = {"ev"};
  options.read_first = false;  // the write is the first request, so it is the one refused
  const auto config_text = with_endpoint(vendors, vendors.config({}), "ev", "http://127.0.0.1:" + std::to_string(port));
  auto bridge = Bridge::from_text(config_text, "refused.yaml");
  ASSERT_TRUE(bridge.has_value()) << bridge.error().describe();
  options.environment = [env = env](std::string_view name) -> std::optional<std::string> {
    if (auto it = env.find(std::string(name)); it != env.end()) return it->second;
    return std::nullopt;
  };
  auto applier = Applier::create(*bridge, options);
  ASSERT_TRUE(applier.has_value());
  auto update = parse_update(R"({"experiment": "checkout-redesign", "description": "x"})", "u");
  ASSERT_TRUE(update.has_value());
  const auto report = applier->apply(*update);
  const auto& r = backend_of(report, "ev").requests.at(0);
  ASSERT_TRUE(r.error.has_value()) << dump(report);
  EXPECT_EQ(r.attempts, 0) << dump(report);
  EXPECT_FALSE(r.sent);
}

// ---- deadlines are per backend ------------------------------------------------------------

// Blind (false) and converging (true): reads come first either way, the rule-specific ones
// or every backend's whole read, and the same budget bounds them.
class HostileReads : public HostileNetwork, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override { read_first_ = GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(BlindAndConverging, HostileReads, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "converging" : "blind"; });

// AppConfig's exposure rule needs a state read (and a converging apply reads every backend);
// that read hangs. LaunchDarkly (deadline 1500 ms) must still send within its own deadline,
// and AppConfig fails alone, unchanged.
TEST_P(HostileReads, AHangingStateReadDoesNotHoldAnotherBackendPastItsDeadline) {
  test::ApplyConfigOptions config;
  config.per_backend["ld"] = {{"deadline_ms", "1500"}};
  config.per_backend["aws"] = {{"timeout_ms", "8000"}, {"deadline_ms", "8000"}};
  ASSERT_NO_FATAL_FAILURE(start(config));
  // A vendor that accepts the read and does not answer in time.
  vendors.set_faults(R"([{"vendor": "appconfig", "method": "GET", "latency_ms": 20000}])");

  const auto started = Clock::now();
  const auto report = apply(R"({"experiment": "checkout-redesign", "exposure": 40, "description": "Week two"})");
  const auto finished = Clock::now();

  const auto& ld = backend_of(report, "ld");
  EXPECT_EQ(ld.result, BackendOutcome::ok) << dump(report);
  const auto ld_sent = first_change(vendors, "ld");
  ASSERT_TRUE(ld_sent.has_value()) << "LaunchDarkly never got its write";
  EXPECT_LT(ms_since(started, *ld_sent), 1500.0) << "sent past LaunchDarkly's own deadline_ms";
  EXPECT_GE(ms_since(started, *ld_sent), 700.0) << "the read budget (750 ms) was waited for first";

  const auto& aws = backend_of(report, "aws");
  EXPECT_EQ(aws.result, BackendOutcome::failed);
  ASSERT_TRUE(aws.error.has_value());
  EXPECT_EQ(aws.error->backend, "aws");
  EXPECT_FALSE(aws.error->operation.empty());
  EXPECT_NE(aws.error->message.find("did not answer within the read budget of 750 ms"), std::string::npos)
      << aws.error->describe();
  EXPECT_TRUE(vendors.api_requests("aws").empty()) << "nothing but the read was sent to it";
  for (const char* other : {"a0", "ev"}) EXPECT_EQ(backend_of(report, other).result, BackendOutcome::ok) << other;
  EXPECT_LT(ms_since(started, finished), 4000.0) << "the update waited for the hanging read's own timeout";
}

// The same with the hang one step earlier: Auth0's state read first needs a token, and the
// token endpoint never answers. The token fetch is bounded by the read's budget too.
TEST_P(HostileReads, AHangingTokenEndpointBeforeAStateReadDoesNotHoldTheOthers) {
  test::ApplyConfigOptions config;
  config.per_backend["ld"] = {{"deadline_ms", "1500"}};
  ASSERT_NO_FATAL_FAILURE(start(config));
  vendors.set_faults(R"([{"vendor": "auth0", "path_prefix": "/oauth/token", "latency_ms": 20000}])");

  const auto started = Clock::now();
  const auto report = apply(R"({"experiment": "checkout-redesign", "action": "pause", "description": "Paused"})");
  const auto finished = Clock::now();

  EXPECT_EQ(backend_of(report, "ld").result, BackendOutcome::ok) << dump(report);
  const auto ld_sent = first_change(vendors, "ld");
  ASSERT_TRUE(ld_sent.has_value()) << dump(report);
  EXPECT_LT(ms_since(started, *ld_sent), 1500.0);
  const auto& a0 = backend_of(report, "a0");
  EXPECT_EQ(a0.result, BackendOutcome::failed);
  ASSERT_TRUE(a0.error.has_value());
  EXPECT_NE(a0.error->message.find("read budget of 750 ms"), std::string::npos) << a0.error->describe();
  EXPECT_TRUE(vendors.api_requests("a0").empty());
  EXPECT_LT(ms_since(started, finished), 4000.0);
}

TEST_F(HostileNetwork, AHangingWriteDelaysNoOtherBackendAndEndsAtItsOwnDeadline) {
  test::ApplyConfigOptions config;
  config.per_backend["aws"] = {{"timeout_ms", "8000"}, {"deadline_ms", "1200"}};
  config.per_backend["ld"] = {{"deadline_ms", "1500"}};
  ASSERT_NO_FATAL_FAILURE(start(config));
  vendors.set_faults(R"([{"vendor": "appconfig", "latency_ms": 20000}])");

  const auto started = Clock::now();
  const auto report = apply(R"({"experiment": "checkout-redesign", "description": "Week two"})");
  const auto finished = Clock::now();

  for (const char* name : {"ld", "a0", "ev"}) {
    EXPECT_EQ(backend_of(report, name).result, BackendOutcome::ok) << name << ": " << dump(report);
    const auto sent = first_change(vendors, name);
    ASSERT_TRUE(sent.has_value()) << name;
    EXPECT_LT(ms_since(started, *sent), 700.0) << name << " waited for the hanging backend";
  }
  const auto& aws = backend_of(report, "aws");
  EXPECT_EQ(aws.result, BackendOutcome::failed);
  EXPECT_LT(ms_since(started, finished), 3000.0) << "the hanging write outlived its backend's 1200 ms deadline";
  EXPECT_GE(ms_since(started, finished), 1100.0);
}

// ---- no secret in any report, whatever a vendor echoes --------------------------------------

TEST_F(HostileNetwork, EchoedCredentialsReachNoReportTextOrJson) {
  for (int status : {401, 403, 500}) {
    SCOPED_TRACE(status);
    test::ApplyConfigOptions config;
    config.common["attempts"] = "1";
    ASSERT_NO_FATAL_FAILURE(start(config));
    vendors.set_faults(EmulatedVendors::echo_faults(status));
    const auto report = apply(R"({"experiment": "checkout-redesign", "description": "Week two"})");

    const auto secrets = vendors.secrets();
    std::string outputs = report_to_text(report) + "\n" + boost::json::serialize(report_to_json(report));
    for (const auto& b : report.backends) {
      EXPECT_EQ(b.result, BackendOutcome::failed) << b.backend;
      if (b.error) outputs += "\n" + b.error->describe();
      for (const auto& r : b.requests)
        if (r.error) outputs += "\n" + r.error->describe();
    }
    // The echo did arrive: the masks show where the credentials were.
    EXPECT_NE(outputs.find("the request was:"), std::string::npos) << outputs;
    EXPECT_NE(outputs.find("Authorization: ***"), std::string::npos) << outputs;
    EXPECT_EQ(outputs.find("Bearer ey"), std::string::npos) << outputs;
    for (const auto& secret : secrets) EXPECT_EQ(outputs.find(secret), std::string::npos) << secret << " in\n" << outputs;
    EXPECT_FALSE(std::regex_search(outputs, std::regex("Signature=[0-9a-fA-F]{8}"))) << outputs;
  }
}

// ---- refused up front -----------------------------------------------------------------------

TEST_F(HostileNetwork, AnUnusableCaFileIsRefusedBeforeAnythingIsSent) {
  test::TempFile not_pem("not a certificate\n");
  for (const std::string& path : {std::string("/nonexistent/ca.pem"), not_pem.path().string()}) {
    auto bridge = Bridge::from_text(vendors.config({}), "ca.yaml");
    ASSERT_TRUE(bridge.has_value());
    ApplyOptions options;
    options.extra_ca_file = path;
    auto applier = Applier::create(*bridge, options);
    ASSERT_FALSE(applier.has_value()) << path;
    EXPECT_EQ(applier.error().code, ErrorCode::invalid_input);
    EXPECT_NE(applier.error().describe().find(path), std::string::npos) << applier.error().describe();
  }
  EXPECT_EQ(vendors.total_requests(), 0u);
}

TEST_F(HostileNetwork, InvalidEndpointPortsAreRefusedWhenTheConfigLoads) {
  for (const char* port : {"0", "65536", "99999999999"}) {
    const std::string config = with_endpoint(vendors, vendors.config({}), "ld", std::string("https://ld.example.com:") + port);
    auto bridge = Bridge::from_text(config, "ports.yaml");
    ASSERT_FALSE(bridge.has_value()) << port;
    EXPECT_EQ(bridge.error().code, ErrorCode::invalid_input);
    EXPECT_NE(bridge.error().describe().find("port"), std::string::npos) << bridge.error().describe();
    EXPECT_NE(bridge.error().describe().find("ld"), std::string::npos) << bridge.error().describe();
  }
  EXPECT_EQ(vendors.total_requests(), 0u);
}

TEST_F(HostileNetwork, ARedirectIsReportedWithItsHostAndNeverFollowed) {
  ApplyOptions options;
  options.plan.backends = {"ld"};
  ASSERT_NO_FATAL_FAILURE(start({}, options));
  vendors.set_faults(R"([{"vendor": "launchdarkly", "status": 301, "body": "{}",
                          "headers": {"Location": "https://other.example.com/api?token=api-redirect-secret"}}])");
  const auto report = apply(R"({"experiment": "checkout-redesign", "description": "x"})");
  const auto& r = backend_of(report, "ld").requests.at(0);
  ASSERT_TRUE(r.error.has_value()) << dump(report);
  EXPECT_EQ(r.error->message, "HTTP 301 redirect to other.example.com (not followed)");
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(vendors.api_requests("ld").size(), 1u);
  EXPECT_EQ(dump(report).find("api-redirect-secret"), std::string::npos);
}

}  // namespace
}  // namespace expbridge
