// `expbridge history` and `expbridge state` after two applies through the real CLI, against
// each kind of store (a SQLite file, a PostgreSQL database): what was applied, when, by which
// run, with which outcome; and a PostgreSQL that refuses the connection, named without its
// password.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "expbridge/store.hpp"
#include "support/cli_sandbox.hpp"
#include "support/emulated_vendors.hpp"
#include "support/postgres_server.hpp"

namespace expbridge {
namespace {

using test::CliRun;

/// Now, as the store writes its times (`2026-12-01T17:39:01.981Z`), which sort as they happen.
std::string store_time_now() {
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(millis % 1000));
  return std::string(text) + fraction;
}

std::string description_update(const std::string& description) {
  return R"({"experiment": "checkout-redesign", "description": ")" + description + R"("})";
}

class StoreCommands : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      state_ = sandbox_.path("state.db").string();
    } else {
#ifdef EXPBRIDGE_HAVE_POSTGRES_STORE
      auto& server = test::PostgresServer::shared();
      if (!server.skip_reason().empty()) GTEST_SKIP() << server.skip_reason();
      auto url = server.create_database("store_commands");
      ASSERT_TRUE(url) << url.error().describe();
      state_ = *url;
#else
      GTEST_SKIP() << "this build has no PostgreSQL store (libpq was not found at configure time)";
#endif
    }
    sandbox_.write("config.yaml", vendors_.config());
  }
  CliRun run(const std::string& args) { return sandbox_.run(args + " --state '" + state_ + "'", "", env_); }
  /// Applies an update setting `description`, as its own run.
  void apply(const std::string& name, const std::string& description) {
    sandbox_.write(name, description_update(description));
    const CliRun r = run("apply --config config.yaml " + name);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  }

  std::string state_;
  test::EmulatedVendors vendors_;

 private:
  std::map<std::string, std::string> env_ = test::apply_test_environment();
  test::CliSandbox sandbox_{"store-commands"};
};

TEST_P(StoreCommands, HistoryAndStateShowWhatTwoRunsAppliedWhenAndWithWhichOutcome) {
  const std::string before = store_time_now();
  ASSERT_NO_FATAL_FAILURE(apply("first.json", "First week"));
  const std::string between = store_time_now();
  ASSERT_NO_FATAL_FAILURE(apply("second.json", "Second week"));
  const std::string after = store_time_now();

  const CliRun history = run("history --config config.yaml checkout-redesign --format json");
  ASSERT_EQ(history.exit_code, 0) << history.err;
  const auto json = boost::json::parse(history.out);
  EXPECT_EQ(json.at("experiment"), "checkout-redesign");
  const auto& entries = json.at("history").as_array();
  ASSERT_EQ(entries.size(), 2 * test::kApplyBackends.size()) << history.out;

  // Oldest first: the first run's four changes, then the second's, each at its own time.
  std::vector<std::string> runs;
  std::string previous_at;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i].as_object();
    SCOPED_TRACE(boost::json::serialize(e));
    const std::string run_id(e.at("run").as_string()), at(e.at("at").as_string());
    if (runs.empty() || runs.back() != run_id) runs.push_back(run_id);
    EXPECT_GE(at, previous_at) << "not oldest first";
    previous_at = at;
    const bool first = i < test::kApplyBackends.size();
    EXPECT_GE(at, first ? before : between);
    EXPECT_LE(at, first ? between : after);
    EXPECT_EQ(e.at("experiment"), "checkout-redesign");
    EXPECT_EQ(e.at("outcome"), "ok");
    EXPECT_FALSE(e.at("operation").as_string().empty());
    EXPECT_EQ(e.at("fields"), boost::json::parse(R"(["description"])"));
  }
  ASSERT_EQ(runs.size(), 2u) << "two applies are two runs, and their changes do not interleave: " << history.out;
  EXPECT_NE(runs[0], runs[1]);
  std::set<std::string> backends_of_second;
  for (std::size_t i = test::kApplyBackends.size(); i < entries.size(); ++i)
    backends_of_second.insert(std::string(entries[i].at("backend").as_string()));
  EXPECT_EQ(backends_of_second, std::set<std::string>(test::kApplyBackends.begin(), test::kApplyBackends.end()));

  // Each change is the request its run journalled: the run named is the one that sent it.
  auto store = Store::open(StoreOptions{state_});
  ASSERT_TRUE(store) << store.error().describe();
  for (const auto& entry : entries) {
    const auto& e = entry.as_object();
    auto journal = (*store)->journal(std::string(e.at("run").as_string()));
    ASSERT_TRUE(journal) << journal.error().describe();
    bool found = false;
    for (const auto& intent : *journal)
      found = found || (intent.backend == e.at("backend").as_string() && intent.operation == e.at("operation").as_string() &&
                        intent.outcome == IntentOutcome::succeeded);
    EXPECT_TRUE(found) << "run " << e.at("run") << " journalled no succeeded " << e.at("operation") << " to "
                       << e.at("backend");
  }

  // The text: one line a change, with the same time, run, backend, operation, fields and outcome.
  const CliRun history_text = run("history --config config.yaml checkout-redesign");
  ASSERT_EQ(history_text.exit_code, 0) << history_text.err;
  std::string expected_text;
  for (const auto& entry : entries) {
    const auto& e = entry.as_object();
    expected_text += std::string(e.at("at").as_string()) + "  run " + std::string(e.at("run").as_string()) + "  " +
                     std::string(e.at("backend").as_string()) + "  " + std::string(e.at("operation").as_string()) +
                     "  [description]  ok\n";
  }
  EXPECT_EQ(history_text.out, expected_text);

  // State: per backend, the second run's description as applied, by that run, and the read before it.
  const CliRun state = run("state --config config.yaml --format json");
  ASSERT_EQ(state.exit_code, 0) << state.err;
  const auto state_json = boost::json::parse(state.out);
  EXPECT_EQ(state_json.at("store").as_string().find("://") != std::string::npos, GetParam() == "postgresql");
  const auto& records = state_json.at("backends").as_array();
  ASSERT_EQ(records.size(), test::kApplyBackends.size()) << state.out;
  const CliRun state_text = run("state --config config.yaml");
  ASSERT_EQ(state_text.exit_code, 0) << state_text.err;
  EXPECT_TRUE(state_text.out.starts_with("state store " + std::string(state_json.at("store").as_string()) + "\n"))
      << state_text.out;
  for (const auto& record : records) {
    const auto& r = record.as_object();
    const std::string backend(r.at("backend").as_string());
    SCOPED_TRACE(backend);
    EXPECT_EQ(r.at("experiment"), "checkout-redesign");
    EXPECT_EQ(r.at("vendor").as_string(), test::EmulatedVendors::vendor_of(backend));
    EXPECT_FALSE(r.at("vendor_ids").as_object().empty());
    EXPECT_EQ(r.at("applied").at("description"), "Second week");
    EXPECT_EQ(r.at("applied_run").as_string(), runs[1]);
    const std::string applied_at(r.at("applied_at").as_string());
    EXPECT_GE(applied_at, between);
    EXPECT_LE(applied_at, after);
    // What the second run read before it sent: the first run's description.
    EXPECT_EQ(r.at("last_read").at("description"), "First week");
    const std::string read_at(r.at("read_at").as_string());
    EXPECT_GE(read_at, between);
    EXPECT_LE(read_at, applied_at);

    const std::string applied_line =
        "    applied: " + std::string(r.at("applied").at("status").as_string()) + " at " + applied_at + " by run " + runs[1] + "\n";
    EXPECT_NE(state_text.out.find("  " + backend + " (" + std::string(r.at("vendor").as_string()) + ")  ids: "),
              std::string::npos)
        << state_text.out;
    EXPECT_NE(state_text.out.find(applied_line), std::string::npos) << applied_line << state_text.out;
    EXPECT_NE(state_text.out.find("    last read: " + std::string(r.at("last_read").at("status").as_string()) + " at " +
                                  read_at + "\n"),
              std::string::npos)
        << state_text.out;
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreCommands, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

/// `history` and `state` with `state_url`: refused with exit 2 and a message naming `named`.
void expect_refused_naming(const std::string& state_url, const std::string& named, const std::string& password) {
  test::EmulatedVendors vendors;
  test::CliSandbox sandbox("store-commands-refused");
  sandbox.write("config.yaml", vendors.config());
  for (const std::string command : {"history --config config.yaml checkout-redesign", "state --config config.yaml"}) {
    SCOPED_TRACE(command);
    const CliRun r = sandbox.run(command + " --state '" + state_url + "'");
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find("state store " + named), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(password), std::string::npos) << "the password was printed: " << r.err;
  }
}

TEST(StoreCommandsRefused, APostgresqlThatRefusesTheConnectionExitsTwoNamingItWithoutItsPassword) {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  expect_refused_naming("postgresql://expbridge:not-said@127.0.0.1:1/expbridge",
                        "postgresql://expbridge@127.0.0.1:1/expbridge", "not-said");
  expect_refused_naming("postgresql://expbridge@127.0.0.1:1/expbridge?password=not-said-either&sslmode=disable",
                        "postgresql://expbridge@127.0.0.1:1/expbridge?sslmode=disable", "not-said-either");
}

TEST(StoreCommandsRefused, APostgresqlRefusingThePasswordExitsTwoNamingItWithoutThePassword) {
#ifdef EXPBRIDGE_HAVE_POSTGRES_STORE
  auto& server = test::PostgresServer::shared();
  if (!server.skip_reason().empty()) GTEST_SKIP() << server.skip_reason();
  auto url = server.create_database("store_commands_password");
  ASSERT_TRUE(url) << url.error().describe();
  const std::string database = url->substr(url->rfind('/') + 1);
  const std::string role(test::PostgresServer::password_role);
  expect_refused_naming(server.url(database, role + ":wrong-horse-battery"), server.url(database, role),
                        "wrong-horse-battery");
#else
  GTEST_SKIP() << "this build has no PostgreSQL store (libpq was not found at configure time)";
#endif
}

}  // namespace
}  // namespace expbridge
