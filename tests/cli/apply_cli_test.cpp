// `expbridge apply` as a user runs it, against the four vendor emulators started in this
// process (misbehaviour injected as faults): exit codes, the JSON report, the stdin stream,
// verbose logs without secrets.
// Secrets reach the child through its environment only (`env -i ... expbridge ...`).
#include <gtest/gtest.h>

#include <functional>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "auth/sigv4.hpp"
#include "support/emulated_vendors.hpp"
#include "support/cli_sandbox.hpp"

namespace expbridge {
namespace {

using test::CliRun;
using test::EmulatedVendors;

class ApplyCli : public ::testing::Test {
 protected:
  void SetUp() override { write("config.yaml", vendors.config()); }

  void write(const std::string& name, const std::string& text) { sandbox_.write(name, text); }

  /// Runs the CLI in the sandbox with exactly `env` (plus PATH, and HOME = the sandbox so
  /// no ~/.aws is read), bounded in time.
  CliRun run(const std::string& args, const std::string& stdin_text = "") { return run_with(env, args, stdin_text); }
  CliRun run_with(const std::map<std::string, std::string>& variables, const std::string& args,
                  const std::string& stdin_text = "") {
    return sandbox_.run(args, stdin_text, variables);
  }

  CliRun run_on_terminal(const std::string& args) { return sandbox_.run_on_terminal(args, env); }

  EmulatedVendors vendors;
  std::map<std::string, std::string> env = test::apply_test_environment();

 private:
  test::CliSandbox sandbox_{"apply-cli"};
};

constexpr const char* kUpdate = R"({"experiment": "checkout-redesign", "description": "Second week of the two-step flow"})";

boost::json::value parse_or_fail(const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  EXPECT_FALSE(ec) << "not one JSON document:\n" << text;
  return v;
}

const boost::json::object& backend_json(const boost::json::value& report, std::string_view name) {
  for (const auto& b : report.as_object().at("backends").as_array())
    if (b.as_object().at("backend").as_string() == name) return b.as_object();
  static const boost::json::object none;
  ADD_FAILURE() << "no backend " << name << " in " << boost::json::serialize(report);
  return none;
}

TEST_F(ApplyCli, SuccessExitsZeroAndTheJsonReportIsThePlanPlusOutcomes) {
  write("update.json", kUpdate);
  const CliRun r = run("apply --config config.yaml update.json --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
  const auto report = parse_or_fail(r.out);
  ASSERT_TRUE(report.is_object());
  const auto& o = report.as_object();
  EXPECT_EQ(o.at("source").as_string(), "update.json");
  EXPECT_EQ(o.at("experiment").as_string(), "checkout-redesign");
  EXPECT_EQ(o.at("ok").as_bool(), true);
  EXPECT_TRUE(o.at("duration_ms").is_number());
  EXPECT_FALSE(o.contains("error"));

  const CliRun planned = run("plan --config config.yaml update.json --format json");
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  const auto plan = parse_or_fail(planned.out);
  const auto& plan_backends = plan.as_object().at("backends").as_array();
  const auto& backends = o.at("backends").as_array();
  ASSERT_EQ(backends.size(), plan_backends.size());
  ASSERT_EQ(backends.size(), 4u);

  for (std::size_t i = 0; i < backends.size(); ++i) {
    const auto& b = backends[i].as_object();
    const auto& p = plan_backends[i].as_object();
    SCOPED_TRACE(boost::json::serialize(b));
    EXPECT_EQ(b.at("backend").as_string(), test::kApplyBackends[i]);
    EXPECT_EQ(b.at("backend"), p.at("backend"));
    EXPECT_EQ(b.at("vendor"), p.at("vendor"));
    EXPECT_EQ(b.at("result").as_string(), "ok");
    EXPECT_EQ(b.at("skipped"), p.at("skipped"));
    EXPECT_FALSE(b.contains("error"));
    const auto& requests = b.at("requests").as_array();
    const auto& plan_requests = p.at("requests").as_array();
    ASSERT_EQ(requests.size(), plan_requests.size());
    ASSERT_EQ(requests.size(), 1u);
    for (std::size_t j = 0; j < requests.size(); ++j) {
      const auto& q = requests[j].as_object();
      const auto& pq = plan_requests[j].as_object();
      for (const char* key : {"operation", "method", "url", "headers", "body"}) EXPECT_EQ(q.at(key), pq.at(key)) << key;
      EXPECT_TRUE(q.at("url").as_string().starts_with(vendors.base_url()));
      EXPECT_EQ(q.at("sent").as_bool(), true);
      EXPECT_EQ(q.at("status").as_int64(), 200);
      EXPECT_EQ(q.at("attempts").as_int64(), 1);
      EXPECT_TRUE(q.at("duration_ms").is_number());
      EXPECT_FALSE(q.contains("error"));
    }
  }
  for (const auto& name : test::kApplyBackends) EXPECT_EQ(vendors.api_requests(name).size(), 1u) << name;
}

// apply.hpp documents the report as "plan's shape, plus ...": every member of the plan (top
// level, backend, request — `success_status` and `idempotent` included) is in the report,
// with the same value. (This caught report_to_json dropping those two request members.)
TEST_F(ApplyCli, JsonReportKeepsEveryMemberOfThePlan) {
  write("update.json", kUpdate);
  const CliRun applied = run("apply --config config.yaml update.json --format json");
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  const CliRun planned = run("plan --config config.yaml update.json --format json");
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  const auto report = parse_or_fail(applied.out);
  const auto plan = parse_or_fail(planned.out);
  ASSERT_TRUE(report.is_object() && plan.is_object());
  for (const auto& member : plan.as_object()) EXPECT_TRUE(report.as_object().contains(member.key())) << member.key();
  const auto& backends = report.as_object().at("backends").as_array();
  const auto& plan_backends = plan.as_object().at("backends").as_array();
  ASSERT_EQ(backends.size(), plan_backends.size());
  for (std::size_t i = 0; i < backends.size(); ++i) {
    const auto& b = backends[i].as_object();
    const auto& p = plan_backends[i].as_object();
    for (const auto& member : p) EXPECT_TRUE(b.contains(member.key())) << "backend member " << member.key();
    const auto& requests = b.at("requests").as_array();
    const auto& plan_requests = p.at("requests").as_array();
    ASSERT_EQ(requests.size(), plan_requests.size());
    for (std::size_t j = 0; j < requests.size(); ++j) {
      for (const auto& member : plan_requests[j].as_object()) {
        const auto& q = requests[j].as_object();
        ASSERT_TRUE(q.contains(member.key()))
            << "backend " << p.at("backend").as_string() << ": the report drops the request member '" << member.key()
            << "'";
        EXPECT_EQ(q.at(member.key()), member.value()) << member.key();
      }
    }
  }
}

TEST_F(ApplyCli, OneBackendFailingExitsOneAndTheReportSaysWhy) {
  vendors.set_faults(R"([{"vendor": "launchdarkly", "method": "PATCH", "status": 400,
      "body": "{\"code\":\"invalid_request\",\"message\":\"Invalid instruction kind\",\"id\":\"6e1f0a52-ld-req\"}"}])");
  write("update.json", kUpdate);
  const CliRun r = run("apply --config config.yaml update.json --format json");
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
  const auto report = parse_or_fail(r.out);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.as_object().at("ok").as_bool(), false);
  const auto& ld = backend_json(report, "ld");
  EXPECT_EQ(ld.at("result").as_string(), "failed");
  const auto& request = ld.at("requests").as_array().at(0).as_object();
  EXPECT_EQ(request.at("status").as_int64(), 400);
  EXPECT_EQ(request.at("attempts").as_int64(), 1);
  const auto& error = request.at("error").as_object();
  EXPECT_EQ(error.at("code").as_string(), "invalid_input");
  EXPECT_NE(std::string(error.at("message").as_string()).find("invalid_request: Invalid instruction kind"),
            std::string::npos)
      << error.at("message");
  EXPECT_EQ(error.at("request_id").as_string(), "6e1f0a52-ld-req");
  EXPECT_TRUE(ld.contains("error"));
  for (const char* other : {"aws", "a0", "ev"}) EXPECT_EQ(backend_json(report, other).at("result").as_string(), "ok");

  // The text report says the same.
  const CliRun text = run("apply --config config.yaml update.json");
  EXPECT_EQ(text.exit_code, 1) << text.err;
  EXPECT_NE(text.out.find("failed"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Invalid instruction kind"), std::string::npos) << text.out;
}

TEST_F(ApplyCli, InvalidInputExitsTwoAndNothingIsSent) {
  write("typo.json", R"({"experiment": "checkout-redesign", "exposre": 10})");
  const CliRun typo = run("apply --config config.yaml typo.json --format json");
  EXPECT_EQ(typo.exit_code, 2) << typo.err << typo.out;
  EXPECT_NE(typo.err.find("exposre"), std::string::npos) << typo.err;

  write("hypothesis.json", R"({"experiment": "checkout-redesign", "hypothesis": "Fewer steps raise conversion"})");
  const CliRun strict = run("apply --strict --config config.yaml hypothesis.json");
  EXPECT_EQ(strict.exit_code, 2) << strict.err << strict.out;
  EXPECT_NE(strict.err.find("strict"), std::string::npos) << strict.err;

  EXPECT_EQ(vendors.total_requests(), 0u);
}

TEST_F(ApplyCli, StdinStreamReportsTheBadLineAndAppliesTheOthers) {
  const std::string input =
      R"({"experiment": "checkout-redesign", "description": "Stream step 1"})"
      "\n"
      R"({"experiment": "checkout-redesign", "exposre": 5})"
      "\n"
      "\n"
      R"({"experiment": "checkout-redesign", "description": "Stream step 4"})"
      "\n";
  const CliRun r = run("apply --config config.yaml - --format json", input);
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
  const auto out = parse_or_fail(r.out);
  ASSERT_TRUE(out.is_object());
  const auto& updates = out.as_object().at("updates").as_array();
  ASSERT_EQ(updates.size(), 3u);
  EXPECT_EQ(updates[0].as_object().at("source").as_string(), "-:1");
  EXPECT_EQ(updates[0].as_object().at("ok").as_bool(), true);
  EXPECT_EQ(updates[1].as_object().at("source").as_string(), "-:2");
  EXPECT_EQ(updates[1].as_object().at("ok").as_bool(), false);
  EXPECT_EQ(updates[1].as_object().at("error").as_object().at("code").as_string(), "invalid_input");
  EXPECT_EQ(updates[2].as_object().at("source").as_string(), "-:4");
  EXPECT_EQ(updates[2].as_object().at("ok").as_bool(), true);
  const auto& summary = out.as_object().at("summary").as_object();
  EXPECT_EQ(summary.at("updates").as_int64(), 3);
  EXPECT_EQ(summary.at("ok").as_int64(), 2);
  EXPECT_EQ(summary.at("failed").as_int64(), 0);
  EXPECT_EQ(summary.at("invalid").as_int64(), 1);
  EXPECT_NE(r.err.find("-:2"), std::string::npos) << r.err;

  for (const auto& name : test::kApplyBackends) {
    const auto received = vendors.api_requests(name);
    ASSERT_EQ(received.size(), 2u) << name;
    EXPECT_NE(received[0].body.find("Stream step 1"), std::string::npos) << received[0].body;
    EXPECT_NE(received[1].body.find("Stream step 4"), std::string::npos) << received[1].body;
  }
}

void expect_no_secret(const std::vector<std::string>& secrets, const CliRun& r) {
  for (const auto& secret : secrets) {
    ASSERT_FALSE(secret.empty());
    EXPECT_EQ(r.out.find(secret), std::string::npos) << "secret '" << secret << "' on stdout:\n" << r.out;
    EXPECT_EQ(r.err.find(secret), std::string::npos) << "secret '" << secret << "' on stderr:\n" << r.err;
  }
}

TEST_F(ApplyCli, VerboseRunLogsEveryRequestAndNoSecret) {
  // Retries and a token refresh, so the logs cover more than the happy path.
  // Each once, so in the first run only (as a token refused once, then refreshed).
  vendors.set_faults(R"([{"vendor": "appconfig", "method": "PATCH", "times": 1, "status": 503},
                         {"vendor": "launchdarkly", "method": "PATCH", "times": 1, "status": 429, "retry_after_s": 0},
                         {"vendor": "auth0", "path_prefix": "/api/v2/experimentation/", "times": 1, "status": 401}])");
  write("update.json", kUpdate);

  const CliRun verbose = run("-v apply --config config.yaml update.json");
  EXPECT_EQ(verbose.exit_code, 0) << verbose.err << verbose.out;
  // Another description: the same update again would find every backend as asked and send nothing.
  write("update-2.json", R"({"experiment": "checkout-redesign", "description": "Third week of the two-step flow"})");
  const CliRun trace = run("-vv apply --config config.yaml update-2.json --format json");
  EXPECT_EQ(trace.exit_code, 0) << trace.err << trace.out;
  parse_or_fail(trace.out);  // logs never reach stdout

  for (const CliRun* r : {&verbose, &trace}) {
    EXPECT_NE(r->err.find("debug"), std::string::npos) << r->err;
    for (const auto& name : test::kApplyBackends) {
      // A request line per backend, naming where it went.
      const auto received = vendors.api_requests(name);
      ASSERT_FALSE(received.empty()) << name;
      EXPECT_NE(r->err.find(vendors.base_url() + received.back().target), std::string::npos)
          << name << " has no request line:\n"
          << r->err;
      EXPECT_NE(r->err.find("backend " + name), std::string::npos) << r->err;
    }
  }
  EXPECT_GE(vendors.tokens_issued(), 3u);  // one per run, plus the refresh
  const auto secrets = vendors.secrets();
  EXPECT_GE(secrets.size(), 4u + 3u + 5u);  // credentials, tokens, AWS signatures
  expect_no_secret(secrets, verbose);
  expect_no_secret(secrets, trace);
}

TEST_F(ApplyCli, ATokenEndpointEchoingTheClientSecretDoesNotLeakIt) {
  // A badly behaved endpoint: quotes the request (form-encoded secret included) back.
  const std::string form = "grant_type=client_credentials&client_id=" + auth::uri_encode(env.at("AUTH0_CLIENT_ID")) +
                           "&client_secret=" + auth::uri_encode(env.at("AUTH0_CLIENT_SECRET"));
  vendors.set_faults(R"([{"vendor": "auth0", "path_prefix": "/oauth/token", "status": 401,
      "body": "{\"error\":\"access_denied\",\"error_description\":\"Unauthorized: )" + form + R"(\"}"}])");
  write("update.json", kUpdate);
  const CliRun r = run("-vv apply --config config.yaml update.json --format json");
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
  const auto report = parse_or_fail(r.out);
  ASSERT_TRUE(report.is_object());
  const auto& a0 = backend_json(report, "a0");
  EXPECT_EQ(a0.at("result").as_string(), "failed");
  EXPECT_EQ(a0.at("error").as_object().at("code").as_string(), "unauthorized");
  EXPECT_EQ(vendors.api_requests("a0").size(), 0u);
  expect_no_secret(vendors.secrets(), r);
}

TEST_F(ApplyCli, VendorsEchoingEveryHeaderLeakNoSecretInReportsOrLogs) {
  for (int status : {401, 403, 500}) {
    SCOPED_TRACE(status);
    vendors.set_faults(EmulatedVendors::echo_faults(status));
    write("update.json", kUpdate);
    const CliRun text = run("-v apply --config config.yaml update.json");
    const CliRun json = run("-vv apply --config config.yaml update.json --format json");
    for (const CliRun* r : {&text, &json}) {
      EXPECT_EQ(r->exit_code, 1) << r->err << r->out;
      // The echo reached the output (masked): the test sees what it guards.
      EXPECT_NE((r->out + r->err).find("Authorization: ***"), std::string::npos) << r->out << r->err;
      EXPECT_FALSE(std::regex_search(r->out + r->err, std::regex("Signature=[0-9a-fA-F]{8}"))) << r->out << r->err;
      EXPECT_EQ((r->out + r->err).find("Bearer eyJ"), std::string::npos);  // the emulator's tokens start so
    }
    parse_or_fail(json.out);
    const auto secrets = vendors.secrets();
    expect_no_secret(secrets, text);
    expect_no_secret(secrets, json);
  }
}

TEST_F(ApplyCli, AnUnusableCaFileExitsTwoBeforeAnythingIsSent) {
  write("update.json", kUpdate);
  write("not-a-ca.pem", "this is not a certificate\n");
  for (const char* ca : {"missing.pem", "not-a-ca.pem"}) {
    const CliRun r = run(std::string("apply --config config.yaml update.json --ca-file ") + ca);
    EXPECT_EQ(r.exit_code, 2) << r.err << r.out;
    EXPECT_NE(r.err.find(ca), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_EQ(vendors.total_requests(), 0u);
}

TEST_F(ApplyCli, AnUnusableEndpointExitsTwoNamingTheBackendBeforeAnythingIsSent) {
  write("update.json", kUpdate);
  const std::string ld_url = vendors.base_url();  // every backend's: replaced in ld's line only
  for (const std::string& endpoint : {std::string("https://ld.example.com:0"), std::string("https://ld.example.com:65536"),
                                      std::string("http://ld.example.com")}) {
    std::string config = vendors.config();
    config.replace(config.find(ld_url, config.find("  ld: ")), ld_url.size(), endpoint);
    write("bad-endpoint.yaml", config);
    const CliRun r = run("apply --config bad-endpoint.yaml update.json");
    EXPECT_EQ(r.exit_code, 2) << endpoint << ": " << r.err << r.out;
    EXPECT_NE(r.err.find("backends.ld.endpoint"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_EQ(vendors.total_requests(), 0u);
}

TEST_F(ApplyCli, MissingCredentialsFailThatBackendWithExitOne) {
  auto without_ld = env;
  without_ld.erase("LD_API_TOKEN");
  write("update.json", kUpdate);
  const CliRun r = run_with(without_ld, "apply --config config.yaml update.json --format json");
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
  const auto report = parse_or_fail(r.out);
  ASSERT_TRUE(report.is_object());
  const auto& ld = backend_json(report, "ld");
  EXPECT_EQ(ld.at("result").as_string(), "failed");
  EXPECT_EQ(ld.at("error").as_object().at("code").as_string(), "unauthorized");
  EXPECT_NE(std::string(ld.at("error").as_object().at("message").as_string()).find("LD_API_TOKEN"), std::string::npos);
  EXPECT_TRUE(vendors.all_requests("ld").empty());
  for (const char* other : {"aws", "a0", "ev"}) EXPECT_EQ(backend_json(report, other).at("result").as_string(), "ok");
}

// ---- progress and rate-limit waits ----------------------------------------------------------

namespace progress {

using ApplyCliWriter = std::function<void(const std::string&, const std::string&)>;

/// Three description updates as files (so the total is known), and one LaunchDarkly 429 whose
/// window resets 300 ms later: the run pauses that backend once.
void prepare(ApplyCliWriter write, EmulatedVendors& vendors) {
  for (int i = 1; i <= 3; ++i)
    write("u" + std::to_string(i) + ".json",
          R"({"experiment": "checkout-redesign", "description": "Progress step )" + std::to_string(i) + R"("})");
  vendors.set_faults(R"([{"vendor": "launchdarkly", "method": "PATCH", "times": 1, "status": 429, "reset_ms": 300}])");
}

}  // namespace progress

TEST_F(ApplyCli, ProgressLinesGoToStandardErrorWhenItIsNotATerminal) {
  progress::prepare([this](const std::string& n, const std::string& t) { write(n, t); }, vendors);
  const CliRun r = run("apply --config config.yaml u1.json u2.json u3.json --progress-every 0.01");
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  // Plain lines (no carriage return, no escape), the total known from the files given.
  EXPECT_NE(r.err.find("expbridge: progress: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/3 updates ("), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rate-limit waits: ld "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("\x1b["), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("progress:"), std::string::npos) << "progress went to standard output:\n" << r.out;
  EXPECT_NE(r.out.find("3 update(s): 3 ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rate-limit waits: ld paused "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("in 1 pause (1 throttled answer)"), std::string::npos) << r.out;
}

TEST_F(ApplyCli, OnATerminalProgressIsOneLineRedrawnInPlaceAndLeftWithItsLastState) {
  progress::prepare([this](const std::string& n, const std::string& t) { write(n, t); }, vendors);
  const CliRun r = run_on_terminal("apply --config config.yaml u1.json u2.json u3.json --progress-every 0.01");
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  // Each drawing goes back to the line's start and clears it; no plain lines on a terminal.
  EXPECT_NE(r.err.find("\r\x1b[Kprogress: "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("expbridge: progress: "), std::string::npos) << r.err;
  // The last drawing stays, ended by a newline: the whole run, its waits included.
  const auto last = r.err.rfind("\r\x1b[Kprogress: ");
  ASSERT_NE(last, std::string::npos) << r.err;
  const std::string final_line = r.err.substr(last);
  EXPECT_NE(final_line.find("3/3 updates (100%)"), std::string::npos) << final_line;
  EXPECT_NE(final_line.find("rate-limit waits: ld "), std::string::npos) << final_line;
  EXPECT_EQ(final_line.back(), '\n') << final_line;
  EXPECT_EQ(std::count(final_line.begin(), final_line.end(), '\n'), 1) << final_line;
  // Reports went to standard output (a file here), not onto the live line.
  EXPECT_EQ(r.err.find("3 update(s)"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("3 update(s): 3 ok"), std::string::npos) << r.out;
}

TEST_F(ApplyCli, JsonFormatPrintsNoProgressAndSummarisesEachBackendsWaits) {
  progress::prepare([this](const std::string& n, const std::string& t) { write(n, t); }, vendors);
  const CliRun r = run("apply --config config.yaml u1.json u2.json u3.json --format json --progress-every 0.01");
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(r.err.find("progress"), std::string::npos) << r.err;
  const auto out = parse_or_fail(r.out);
  const auto& backends = out.at("summary").at("backends").as_array();
  ASSERT_EQ(backends.size(), test::kApplyBackends.size());
  bool found = false;
  for (const auto& b : backends) {
    if (b.at("backend") != "ld") {
      EXPECT_EQ(b.at("throttled").as_int64(), 0) << b;
      continue;
    }
    found = true;
    EXPECT_EQ(b.at("throttled").as_int64(), 1) << b;
    EXPECT_EQ(b.at("pauses").as_int64(), 1) << b;
    EXPECT_GE(b.at("rate_limit_paused_ms").to_number<double>(), 250.0) << b;
  }
  EXPECT_TRUE(found);
  // The request that met the 429 says so in its own report.
  bool throttled_request = false;
  for (const auto& u : out.at("updates").as_array())
    for (const auto& b : u.at("backends").as_array())
      for (const auto& q : b.at("requests").as_array())
        if (q.as_object().contains("throttled")) throttled_request = b.at("backend") == "ld";
  EXPECT_TRUE(throttled_request) << r.out;
}

}  // namespace
}  // namespace expbridge
