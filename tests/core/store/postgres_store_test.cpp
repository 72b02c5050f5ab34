// The PostgreSQL store against a real PostgreSQL 15 the tests start (tests/support/postgres_server):
// the shared conformance suite, and what only PostgreSQL has (a server to reach and log in to,
// advisory locks held by connections).
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/store/store_conformance.hpp"
#include "support/postgres_server.hpp"
#include "support/test_resources.hpp"

#ifdef EXPBRIDGE_HAVE_POSTGRES_STORE
#include "store/postgres_store.hpp"
#endif

namespace expbridge::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

PostgresServer& server() { return PostgresServer::shared(); }

StoreFactory postgres_factory() {
  return {.name = "postgresql",
          .options =
              [](const std::string& unique) {
                auto url = server().create_database(unique);
                // A short wait keeps the suite's lock tests quick.
                return StoreOptions{.location = url ? *url : std::string(), .busy_timeout = 1000ms};
              },
          .skip_reason = [] { return server().skip_reason(); }};
}

INSTANTIATE_TEST_SUITE_P(postgresql, StoreConformance, ::testing::Values(postgres_factory()),
                         [](const auto& info) { return info.param.name; });

// The suite's tests are in store_conformance_test.cpp; this one checks what they all start
// from, through Store::open as they do: a fresh, empty store, and a second handle on it.
TEST_P(StoreConformance, FactoryGivesAnEmptyStoreAtTheCurrentSchema) {
  ASSERT_TRUE(store_);
  EXPECT_EQ(store_->schema_version(), kStoreSchemaVersion);
  auto records = store_->backends();
  ASSERT_TRUE(records) << records.error().describe();
  EXPECT_TRUE(records->empty());
  auto again = reopen();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->location(), store_->location());
}

TEST(PostgresServerTest, RunsPostgresql15OnLoopback) {
  if (!server().skip_reason().empty()) GTEST_SKIP() << server().skip_reason();
  auto version = server().admin_query("postgres", "SELECT version()");
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_TRUE(version->starts_with("PostgreSQL 15.")) << *version;
  auto listen = server().admin_query("postgres", "SHOW listen_addresses");
  ASSERT_TRUE(listen) << listen.error().message;
  EXPECT_EQ(*listen, "127.0.0.1");
  // Not as root, whoever runs the tests: the server insists on owning its data directory.
  auto data_directory = server().admin_query("postgres", "SELECT current_setting('data_directory')");
  ASSERT_TRUE(data_directory) << data_directory.error().message;
  struct stat data {};
  ASSERT_EQ(::stat(data_directory->c_str(), &data), 0) << *data_directory;
  EXPECT_NE(data.st_uid, 0u) << *data_directory;
  EXPECT_TRUE(data_directory->starts_with(std::filesystem::temp_directory_path().string())) << *data_directory;
}

#ifdef EXPBRIDGE_HAVE_POSTGRES_STORE

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!server().skip_reason().empty()) GTEST_SKIP() << server().skip_reason();
    database_url_ = server().create_database(::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(database_url_) << database_url_.error().message;
    options_ = {.location = *database_url_, .busy_timeout = 300ms};
  }

  std::unique_ptr<Store> open(const StoreOptions& options) {
    auto opened = open_postgres_store(options);
    EXPECT_TRUE(opened) << opened.error().describe();
    return opened ? std::move(*opened) : nullptr;
  }

  std::string database() const { return database_url_->substr(database_url_->rfind('/') + 1); }

  Result<std::string> database_url_ = std::string();
  StoreOptions options_;
};

TEST_F(PostgresStoreTest, CreatesTheSchemaAndKeepsWhatItIsGiven) {
  auto store = open(options_);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->schema_version(), kStoreSchemaVersion);
  EXPECT_EQ(store->location(), *database_url_);
  auto tables = server().admin_query(database(), "SELECT string_agg(table_name, ',' ORDER BY table_name) "
                                                 "FROM information_schema.tables WHERE table_schema = 'public'");
  ASSERT_TRUE(tables) << tables.error().message;
  EXPECT_EQ(*tables, "backend_records,history,inputs,intents,runs,schema_version");

  auto run = store->begin_run({.command = "apply", .config_path = "backends.yaml", .config_digest = "c0ffee"});
  ASSERT_TRUE(run) << run.error().describe();
  ASSERT_TRUE(store->record_input({.run_id = run->id, .position = 0, .source = "a.yaml", .digest = "d0",
                                   .experiment = "checkout", .done = false}));
  Intent start;
  start.run_id = run->id;
  start.experiment = "checkout";
  start.backend = "aws";
  start.operation = "StartExperimentRun";
  start.request_digest = "r0";
  start.idempotent = false;
  auto intent = store->record_intent(start);
  ASSERT_TRUE(intent) << intent.error().describe();
  // Committed when it returns: another connection sees it at once.
  auto seen = server().admin_query(database(), "SELECT operation || ':' || outcome FROM intents WHERE id = " +
                                                   std::to_string(*intent));
  ASSERT_TRUE(seen) << seen.error().message;
  EXPECT_EQ(*seen, "StartExperimentRun:pending");
  ASSERT_TRUE(store->record_outcome(*intent, IntentOutcome::succeeded, 201, ""));
  auto journal = store->journal(run->id);
  ASSERT_TRUE(journal) << journal.error().describe();
  ASSERT_EQ(journal->size(), 1u);
  EXPECT_EQ(journal->front().outcome, IntentOutcome::succeeded);
  EXPECT_EQ(journal->front().http_status, 201);
  EXPECT_FALSE(journal->front().idempotent);
  EXPECT_FALSE(journal->front().completed_at.empty());

  BackendRecord record;
  record.experiment = "checkout";
  record.backend = "aws";
  record.vendor = "appconfig";
  record.vendor_ids = {{"run", "7"}};
  record.applied = {{"status", "running"}, {"weight", 0.25}};
  ASSERT_TRUE(store->save_backend(record));
  record.vendor_ids["run"] = "8";
  ASSERT_TRUE(store->save_backend(record));
  auto again = open(options_);
  ASSERT_TRUE(again);
  auto read = again->backend("checkout", "aws");
  ASSERT_TRUE(read && *read) << (read ? "absent" : read.error().describe());
  EXPECT_EQ((*read)->vendor_ids.at("run"), "8");
  EXPECT_EQ((*read)->applied, record.applied);

  BackendRecord other = record;
  other.experiment = "banner";
  ASSERT_TRUE(store->save_backend(other));
  auto all = again->backends();
  ASSERT_TRUE(all) << all.error().describe();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->front().experiment, "banner");
  auto one = again->backends("checkout");
  ASSERT_TRUE(one) << one.error().describe();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->front().experiment, "checkout");

  ASSERT_TRUE(store->add_history({.at = "", .run_id = run->id, .experiment = "checkout", .backend = "aws",
                                  .operation = "StartExperimentRun", .fields = {"status", "action.start"},
                                  .outcome = "ok"}));
  auto history = again->history("checkout");
  ASSERT_TRUE(history) << history.error().describe();
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ(history->front().fields, (std::vector<std::string>{"status", "action.start"}));
  EXPECT_FALSE(history->front().at.empty());

  // The same position again: refused, naming the run (a unique violation said as the store says it).
  auto duplicate = store->record_input({.run_id = run->id, .position = 0, .source = "a.yaml", .digest = "d1",
                                        .experiment = "checkout", .done = false});
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, ErrorCode::conflict);
  EXPECT_NE(duplicate.error().message.find("input 0 of run " + run->id + " is already recorded"), std::string::npos)
      << duplicate.error().message;
  Intent orphan_intent = start;
  orphan_intent.run_id = "no-such-run";
  auto orphan = store->record_intent(orphan_intent);
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().code, ErrorCode::not_found);
  EXPECT_NE(orphan.error().message.find("no run no-such-run"), std::string::npos) << orphan.error().message;

  auto unfinished = again->last_unfinished_run("backends.yaml");
  ASSERT_TRUE(unfinished && *unfinished);
  EXPECT_EQ((*unfinished)->id, run->id);
  ASSERT_TRUE(store->finish_run(run->id));
  unfinished = again->last_unfinished_run("backends.yaml");
  ASSERT_TRUE(unfinished);
  EXPECT_FALSE(*unfinished);
}

TEST_F(PostgresStoreTest, ProcessesOpeningANewStoreAtOnceCreateTheSchemaOnce) {
  constexpr int kOpeners = 4;
  std::vector<std::optional<Result<std::unique_ptr<Store>>>> opened(kOpeners);
  std::vector<std::thread> threads;
  StoreOptions patient = options_;
  patient.busy_timeout = 5s;
  for (int i = 0; i < kOpeners; ++i) threads.emplace_back([&, i] { opened[i].emplace(open_postgres_store(patient)); });
  for (auto& t : threads) t.join();
  for (const auto& o : opened) {
    ASSERT_TRUE(o);
    EXPECT_TRUE(*o) << o->error().describe();
  }
  auto versions = server().admin_query(database(), "SELECT count(*) || ':' || max(version) FROM schema_version");
  ASSERT_TRUE(versions) << versions.error().message;
  EXPECT_EQ(*versions, "1:" + std::to_string(kStoreSchemaVersion));
}

TEST_F(PostgresStoreTest, RefusesASchemaFromANewerExpbridgeAndChangesNothing) {
  ASSERT_TRUE(open(options_));
  ASSERT_TRUE(server().admin_query(database(), "UPDATE schema_version SET version = 42"));
  auto refused = open_postgres_store(options_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::invalid_input);
  const auto text = refused.error().describe();
  EXPECT_NE(text.find(*database_url_), std::string::npos) << text;
  EXPECT_NE(text.find("schema version 42"), std::string::npos) << text;
  EXPECT_NE(text.find("this build's " + std::to_string(kStoreSchemaVersion)), std::string::npos) << text;
  auto version = server().admin_query(database(), "SELECT string_agg(version::text, ',') FROM schema_version");
  ASSERT_TRUE(version);
  EXPECT_EQ(*version, "42");
}

TEST(PostgresConnectionTest, ARefusedConnectionNamesTheUrlWithoutItsPassword) {
  const auto port = std::to_string(unused_loopback_port());
  const std::string password = "hunter2-refused-secret";
  auto refused = open_postgres_store(
      {.location = "postgresql://expbridge_test:" + password + "@127.0.0.1:" + port + "/store", .busy_timeout = 2s});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::unavailable);
  const auto text = refused.error().describe();
  EXPECT_NE(text.find("state store postgresql://expbridge_test@127.0.0.1:" + port + "/store: open: cannot connect"),
            std::string::npos)
      << text;
  // Left out, not only masked: the raw message holds no trace of it either.
  EXPECT_EQ(refused.error().message.find(password), std::string::npos) << refused.error().message;
  EXPECT_EQ(text.find("***"), std::string::npos) << text;
}

TEST_F(PostgresStoreTest, AWrongPasswordIsUnauthorizedAndNeverShown) {
  const std::string user = std::string(PostgresServer::password_role);
  const std::string wrong = "wrong-password-for-sure";
  const auto url = [&](const std::string& password) {
    return "postgresql://" + user + ":" + password + "@127.0.0.1:" + std::to_string(server().port()) + "/" + database();
  };
  auto refused = open_postgres_store({.location = url(wrong), .busy_timeout = 2s});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::unauthorized) << refused.error().describe();
  const auto text = refused.error().describe();
  EXPECT_NE(text.find(server().url(database(), user)), std::string::npos) << text;
  EXPECT_EQ(refused.error().message.find(wrong), std::string::npos) << refused.error().message;
  EXPECT_EQ(text.find(wrong), std::string::npos) << text;
  // The same role with its password gets in (the database's owner granted nothing more than
  // CONNECT, which PUBLIC has): the refusal was the password.
  ASSERT_TRUE(server().admin_query(database(), "GRANT CREATE ON SCHEMA public TO " + user));
  auto admitted = open_postgres_store({.location = url(std::string(PostgresServer::password_role_password))});
  EXPECT_TRUE(admitted) << admitted.error().describe();
}

TEST(PostgresLocationTest, DropsThePasswordWhereverTheUrlCarriesIt) {
  EXPECT_EQ(postgres_location_without_password("postgresql://u:p%40ss@db.example:5432/state?sslmode=require"),
            "postgresql://u@db.example:5432/state?sslmode=require");
  EXPECT_EQ(postgres_location_without_password("postgres://u@h/db?password=xyz&application_name=a"),
            "postgres://u@h/db?application_name=a");
  EXPECT_EQ(postgres_location_without_password("postgresql://h1:5432,h2:5433/db?password=xyz"),
            "postgresql://h1:5432,h2:5433/db");
  EXPECT_TRUE(is_postgres_location("postgres://h/db"));
  EXPECT_FALSE(is_postgres_location(".expbridge/state.db"));
}

/// Takes a lock, waiting at most what the store's options say; how long it took.
std::pair<Result<Store::ExperimentLock>, Clock::duration> timed_lock(Store& store, const std::string& experiment) {
  const auto start = Clock::now();
  auto lock = store.lock_experiment(experiment);
  return {std::move(lock), Clock::now() - start};
}

TEST_F(PostgresStoreTest, AnExperimentLockBlocksThatExperimentOnlyUntilReleased) {
  auto first = open(options_);
  auto second = open(options_);
  ASSERT_TRUE(first && second);
  auto held = std::make_unique<Result<Store::ExperimentLock>>(first->lock_experiment("checkout"));
  ASSERT_TRUE(*held) << held->error().describe();

  auto [blocked, waited] = timed_lock(*second, "checkout");
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, ErrorCode::unavailable);
  EXPECT_NE(blocked.error().describe().find("experiment checkout is locked"), std::string::npos)
      << blocked.error().describe();
  EXPECT_NE(blocked.error().describe().find(*database_url_), std::string::npos) << blocked.error().describe();
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 3s);

  auto [other, other_wait] = timed_lock(*second, "search");
  EXPECT_TRUE(other) << other.error().describe();
  EXPECT_LT(other_wait, 250ms);

  held.reset();
  auto [after, after_wait] = timed_lock(*second, "checkout");
  EXPECT_TRUE(after) << after.error().describe();
  EXPECT_LT(after_wait, 250ms);
}

TEST_F(PostgresStoreTest, ExperimentLocksReuseTheirConnections) {
  // A stream locks its experiment once per update: a new connection each time would cost more
  // than the update's writes. The server says which connection holds each lock.
  auto store = open(options_);
  ASSERT_TRUE(store);
  const std::string holder = "SELECT string_agg(pid::text, ',') FROM pg_locks WHERE locktype = 'advisory' AND granted";
  std::set<std::string> holders;
  for (int i = 0; i < 10; ++i) {
    auto locked = i % 2 == 0 ? store->lock_experiment("checkout") : [&]() -> Result<Store::ExperimentLock> {
      auto tried = store->try_lock_experiment("checkout");
      if (!tried) return std::unexpected(tried.error());
      if (!*tried) return std::unexpected(make_error(ErrorCode::internal, "a free lock was not taken"));
      return std::move(**tried);
    }();
    ASSERT_TRUE(locked) << locked.error().describe();
    auto pid = server().admin_query(database(), holder);
    ASSERT_TRUE(pid) << pid.error().message;
    holders.insert(*pid);
  }
  EXPECT_EQ(holders.size(), 1u) << "a new connection per lock: " << holders.size() << " different holders";

  // A kept connection the server has since dropped is replaced, not reported.
  ASSERT_TRUE(server().admin_query(database(), "SELECT pg_terminate_backend(" + *holders.begin() + ")"));
  auto again = store->lock_experiment("checkout");
  EXPECT_TRUE(again) << again.error().describe();
}

TEST_F(PostgresStoreTest, AKilledProcessLeavesNoStaleLock) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child: a process applying `checkout`, killed while it holds the lock. _exit only:
    // the parent's objects (its PostgreSQL server among them) are not the child's to destroy.
    ::close(ready[0]);
    ::alarm(20);  // never outlives a parent that failed to kill it
    auto store = open_postgres_store(options_);
    std::optional<Result<Store::ExperimentLock>> lock;
    if (store) lock.emplace((*store)->lock_experiment("checkout"));
    const char byte = lock && *lock ? 'L' : 'F';
    (void)!::write(ready[1], &byte, 1);
    while (true) ::pause();
  }
  ::close(ready[1]);
  pollfd waiting{.fd = ready[0], .events = POLLIN, .revents = 0};
  char byte = 0;
  const bool answered = ::poll(&waiting, 1, 10'000) == 1 && ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  const auto reap = [&] {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  };
  if (!answered || byte != 'L') {
    reap();
    FAIL() << "the child did not take the lock";
  }

  auto store = open(options_);
  ASSERT_TRUE(store);
  auto [blocked, waited] = timed_lock(*store, "checkout");
  EXPECT_FALSE(blocked) << "another process holds it";

  reap();
  StoreOptions patient = options_;
  patient.busy_timeout = 5s;
  auto after_kill = open(patient);
  ASSERT_TRUE(after_kill);
  auto [taken, wait] = timed_lock(*after_kill, "checkout");
  EXPECT_TRUE(taken) << taken.error().describe();
  EXPECT_LT(wait, 5s);
}

#endif

}  // namespace
}  // namespace expbridge::test
