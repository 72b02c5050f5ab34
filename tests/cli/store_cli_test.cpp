// `expbridge apply` with its state store, `history` and `state`, as a user runs them against the
// vendor emulators: where the store lives, what the commands show, and every way a store can be
// unusable (not a database, a newer schema, locked by a live process, a refused PostgreSQL):
// exit 2, the store named, nothing sent.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <boost/json/parse.hpp>

#include "expbridge/store.hpp"
#include "support/cli_sandbox.hpp"
#include "support/emulated_vendors.hpp"

namespace expbridge {
namespace {

using test::CliRun;
using test::EmulatedVendors;

constexpr const char* kUpdate = R"({"experiment": "checkout-redesign", "description": "Second week of the two-step flow"})";

class StoreCli : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox_.write("config.yaml", vendors.config());
    sandbox_.write("update.json", kUpdate);
  }
  CliRun run(const std::string& args, const std::string& stdin_text = "") {
    return sandbox_.run(args, stdin_text, env);
  }
  std::filesystem::path path(const std::string& name) const { return sandbox_.path(name); }

  /// Asserts that `r` refused the run before anything left: exit 2, `names` in its error.
  void expect_refused(const CliRun& r, const std::string& names) {
    EXPECT_EQ(r.exit_code, 2) << r.err << r.out;
    EXPECT_NE(r.err.find(names), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nothing was sent"), std::string::npos) << r.err;
    EXPECT_EQ(vendors.total_requests(), 0u) << "a request left although the store was unusable";
  }

  EmulatedVendors vendors;
  std::map<std::string, std::string> env = test::apply_test_environment();

 private:
  test::CliSandbox sandbox_{"store-cli"};
};

TEST_F(StoreCli, AnUnansweredTransitionLeavesTheRunUnsettledAndResumeSettlesIt) {
  // Auth0 applies the start and the answer is lost: the outcome is unknown, not failed.
  vendors.set_faults(R"([{"vendor": "auth0", "method": "POST", "path_prefix": "/api/v2/experimentation/experiments/",
                          "apply_then_drop": true, "times": 1}])");
  const std::string stream = std::string(R"({"experiment": "checkout-redesign", "action": "start"})") + "\n" + kUpdate + "\n";
  const CliRun dropped = run("apply --config config.yaml --format json -", stream);
  EXPECT_EQ(dropped.exit_code, 1) << dropped.err << dropped.out;
  const auto summary = boost::json::parse(dropped.out).at("summary");
  EXPECT_EQ(summary.at("unsettled"), 2) << dropped.out;  // the start, and the update held back behind it
  EXPECT_FALSE(summary.at("run").as_string().empty());
  EXPECT_NE(dropped.err.find("2 input(s) unsettled"), std::string::npos) << dropped.err;
  EXPECT_NE(dropped.err.find("`expbridge apply --resume` settles them"), std::string::npos) << dropped.err;

  const CliRun resumed = run("apply --config config.yaml --resume -", stream);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err << resumed.out;
  EXPECT_NE(resumed.out.find("TransitionExperimentStatus: reconciled: found applied"), std::string::npos) << resumed.out;
  EXPECT_EQ(resumed.out.find("unsettled"), std::string::npos) << resumed.out;
  std::size_t transitions = 0;
  for (const auto& r : vendors.api_requests("a0"))
    if (r.method == "POST" && r.target.find("/status") != std::string::npos) ++transitions;
  EXPECT_EQ(transitions, 1u) << "the transition was sent again";
  // Finished: nothing is left to resume.
  const CliRun again = run("apply --config config.yaml --resume -", stream);
  EXPECT_NE(again.err.find("nothing to resume"), std::string::npos) << again.err;
}

TEST_F(StoreCli, ApplyKeepsItsStoreBesideTheConfigAndHistoryAndStateShowIt) {
  const CliRun applied = run("apply --config config.yaml update.json");
  ASSERT_EQ(applied.exit_code, 0) << applied.err << applied.out;
  EXPECT_TRUE(std::filesystem::exists(path(".expbridge/state.db")));

  const CliRun history = run("history --config config.yaml checkout-redesign --format json");
  ASSERT_EQ(history.exit_code, 0) << history.err;
  const auto entries = boost::json::parse(history.out).at("history").as_array();
  ASSERT_EQ(entries.size(), test::kApplyBackends.size()) << history.out;
  for (const auto& e : entries) {
    EXPECT_FALSE(e.at("run").as_string().empty());
    const std::string outcome(e.at("outcome").as_string());
    EXPECT_TRUE(outcome == "ok" || outcome == "unchanged" || outcome == "skipped") << history.out;
  }
  const CliRun history_text = run("history --config config.yaml checkout-redesign");
  ASSERT_EQ(history_text.exit_code, 0) << history_text.err;
  EXPECT_NE(history_text.out.find("description"), std::string::npos) << history_text.out;

  const CliRun state = run("state --config config.yaml --format json");
  ASSERT_EQ(state.exit_code, 0) << state.err;
  const auto records = boost::json::parse(state.out).at("backends").as_array();
  ASSERT_EQ(records.size(), test::kApplyBackends.size()) << state.out;
  for (const auto& r : records) {
    EXPECT_EQ(r.at("experiment"), "checkout-redesign");
    EXPECT_FALSE(r.at("vendor_ids").as_object().empty()) << state.out;
    EXPECT_FALSE(r.at("read_at").as_string().empty()) << state.out;
  }
  const CliRun state_text = run("state --config config.yaml");
  ASSERT_EQ(state_text.exit_code, 0) << state_text.err;
  EXPECT_NE(state_text.out.find("checkout-redesign"), std::string::npos) << state_text.out;
  EXPECT_NE(state_text.out.find("last read"), std::string::npos) << state_text.out;
}

TEST_F(StoreCli, NoStateKeepsNothingAndReadingCommandsCreateNoStore) {
  const CliRun applied = run("apply --no-state --config config.yaml update.json");
  ASSERT_EQ(applied.exit_code, 0) << applied.err << applied.out;
  EXPECT_FALSE(std::filesystem::exists(path(".expbridge"))) << "--no-state wrote a store";
  const CliRun history = run("history --config config.yaml checkout-redesign");
  EXPECT_EQ(history.exit_code, 2) << history.out;
  EXPECT_NE(history.err.find("no state store at"), std::string::npos) << history.err;
  EXPECT_FALSE(std::filesystem::exists(path(".expbridge"))) << "history created a store by reading";
  EXPECT_EQ(run("apply --no-state --state s.db --config config.yaml update.json").exit_code, 2)
      << "--no-state and --state together";
}

TEST_F(StoreCli, AFileThatIsNotADatabaseIsRefusedNamingItAndNothingIsSent) {
  std::ofstream(path("junk.db"), std::ios::binary) << "these are not the bytes of a database, not even close\n";
  expect_refused(run("apply --state junk.db --config config.yaml update.json"), "junk.db");
}

TEST_F(StoreCli, ANewerSchemaIsRefusedNamingTheStoreAndNothingIsSent) {
  {
    auto store = Store::open(StoreOptions{path("new.db").string()});
    ASSERT_TRUE(store) << store.error().describe();
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path("new.db").c_str(), &db), SQLITE_OK);
  const std::string newer = "PRAGMA user_version = " + std::to_string(kStoreSchemaVersion + 1);
  ASSERT_EQ(sqlite3_exec(db, newer.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  const CliRun r = run("apply --state new.db --config config.yaml update.json");
  expect_refused(r, "new.db");
  EXPECT_NE(r.err.find("schema version " + std::to_string(kStoreSchemaVersion + 1)), std::string::npos) << r.err;
}

TEST_F(StoreCli, AStoreALiveProcessHoldsBeyondTheBusyTimeoutIsRefusedAndNothingIsSent) {
  {
    auto store = Store::open(StoreOptions{path("held.db").string()});
    ASSERT_TRUE(store) << store.error().describe();
  }
  // This test process is the live holder: a write transaction the CLI cannot wait out.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path("held.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  const CliRun r = run("apply --state held.db --busy-timeout 300 --config config.yaml update.json");
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  expect_refused(r, "held.db");
}

TEST_F(StoreCli, APostgresqlThatRefusesTheConnectionIsRefusedNamingItAndNothingIsSent) {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  const CliRun r = run("apply --state postgresql://expbridge:not-said@127.0.0.1:1/expbridge --busy-timeout 2000 "
                       "--config config.yaml update.json");
  expect_refused(r, "127.0.0.1:1");
  EXPECT_EQ(r.err.find("not-said"), std::string::npos) << "the password was printed: " << r.err;
}

TEST_F(StoreCli, ResumeRefusesNoReadNoStateAndARunThatIsNotThere) {
  const CliRun no_read = run("apply --resume --no-read --config config.yaml -");
  EXPECT_EQ(no_read.exit_code, 2);
  EXPECT_NE(no_read.err.find("not with --no-read"), std::string::npos) << no_read.err;
  const CliRun no_state = run("apply --resume --no-state --config config.yaml -");
  EXPECT_EQ(no_state.exit_code, 2);
  EXPECT_NE(no_state.err.find("not with --no-state"), std::string::npos) << no_state.err;
  const CliRun nothing = run("apply --resume --config config.yaml -", std::string(kUpdate) + "\n");
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_NE(nothing.err.find("nothing to resume"), std::string::npos) << nothing.err;
  EXPECT_EQ(vendors.total_requests(), 0u);
}

TEST_F(StoreCli, ResumingWithADifferentStreamRefusesTheLineThatDiffers) {
  // The run a killed `apply -` leaves: begun, its first line recorded, nothing finished.
  {
    auto store = Store::open(StoreOptions{path(".expbridge/state.db").string()});
    ASSERT_TRUE(store) << store.error().describe();
    auto begun = (*store)->begin_run(
        RunStart{"apply", std::filesystem::weakly_canonical(path("config.yaml")).string(), "config"});
    ASSERT_TRUE(begun) << begun.error().describe();
    ASSERT_TRUE((*store)->record_input(
        InputRecord{begun->id, 0, "-:1", store_digest(kUpdate), "checkout-redesign", false}));
  }
  const std::string other = R"({"experiment": "checkout-redesign", "description": "Not what the run read"})";
  const CliRun r = run("apply --resume --config config.yaml -", other + "\n");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("is not the one the resumed run"), std::string::npos) << r.err;
  EXPECT_EQ(vendors.total_requests(), 0u) << "the differing line was sent";

  // The same line as recorded: applied, converging, and the run ends.
  const CliRun same = run("apply --resume --config config.yaml -", std::string(kUpdate) + "\n");
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  const CliRun again = run("apply --resume --config config.yaml -", std::string(kUpdate) + "\n");
  EXPECT_NE(again.err.find("nothing to resume"), std::string::npos) << again.err;
}

}  // namespace
}  // namespace expbridge
