// The SQLite store: the conformance suite on a file per test, then what only a file has: its
// header, its schema version, its pragmas, and locks held by other processes.
#include "store/sqlite_store.hpp"

#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "core/store/store_conformance.hpp"

namespace expbridge::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

/// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    std::random_device random;
    path_ = fs::temp_directory_path() /
            ("expbridge-store-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;  // a leftover temp folder is not worth failing a test over
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

/// The conformance factory's folders, removed when the test binary exits.
std::vector<std::unique_ptr<TempDir>>& factory_dirs() {
  static std::vector<std::unique_ptr<TempDir>> dirs;
  return dirs;
}

StoreFactory sqlite_factory() {
  return StoreFactory{"sqlite", [](const std::string& unique) {
                        static std::mutex guard;
                        std::lock_guard lock(guard);
                        factory_dirs().push_back(std::make_unique<TempDir>(unique));
                        return StoreOptions{(factory_dirs().back()->path() / "nested" / "state.db").string()};
                      }};
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance, ::testing::Values(sqlite_factory()),
                         [](const auto& info) { return info.param.name; });

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Runs `sql` on the file with SQLite itself, as another program would.
void sqlite_exec(const fs::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  EXPECT_EQ(rc, SQLITE_OK) << (message ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

std::unique_ptr<Store> open_store(const fs::path& path, milliseconds busy_timeout = milliseconds(10'000)) {
  auto opened = Store::open(StoreOptions{path.string(), busy_timeout});
  EXPECT_TRUE(opened) << opened.error().describe();
  return opened ? std::move(*opened) : nullptr;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  TempDir dir_{"sqlite"};
  fs::path db_ = dir_.path() / "state.db";
};

TEST_F(SqliteStoreTest, CreatesItsFolderAndRecordsItsSchemaVersion) {
  const fs::path deep = dir_.path() / "a" / "b" / "state.db";
  ASSERT_NE(open_store(deep), nullptr);
  EXPECT_TRUE(fs::is_regular_file(deep));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(deep.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), kStoreSchemaVersion);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(SqliteStoreTest, UsesWalAndSyncsOnlyWhatMustBeDurable) {
  auto store = open_store(db_);
  ASSERT_NE(store, nullptr);
  auto* sqlite = dynamic_cast<SqliteStore*>(store.get());
  ASSERT_NE(sqlite, nullptr) << "a path opened something other than the SQLite store";
  auto journal_mode = sqlite->pragma("journal_mode");
  ASSERT_TRUE(journal_mode) << journal_mode.error().describe();
  EXPECT_EQ(*journal_mode, "wal");
  // NORMAL between transactions: the ones that must be durable switch to FULL for themselves
  // (what SyncCounting below proves on the file system's calls).
  auto synchronous = sqlite->pragma("synchronous");
  ASSERT_TRUE(synchronous);
  EXPECT_EQ(*synchronous, "1");
  auto foreign_keys = sqlite->pragma("foreign_keys");
  ASSERT_TRUE(foreign_keys);
  EXPECT_EQ(*foreign_keys, "1");
}

// ---- which commits reach the disk: the file system's sync calls, counted --------------

/// A VFS in front of SQLite's default one that counts xSync calls on every file it opens.
/// Registered as the default while a test runs, so the store opens its files through it.
class SyncCountingVfs {
 public:
  SyncCountingVfs() {
    real_ = sqlite3_vfs_find(nullptr);
    vfs_ = *real_;
    vfs_.zName = "expbridge-sync-counting";
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
    vfs_.pAppData = this;
    vfs_.xOpen = &SyncCountingVfs::open;
    sqlite3_vfs_register(&vfs_, 1);
  }
  ~SyncCountingVfs() { sqlite3_vfs_unregister(&vfs_); }
  SyncCountingVfs(const SyncCountingVfs&) = delete;
  SyncCountingVfs& operator=(const SyncCountingVfs&) = delete;

  int syncs() const { return syncs_.load(); }

 private:
  // The real file lives right after this header, in the memory SQLite gives xOpen.
  struct File {
    sqlite3_file base;
    sqlite3_file* real;
    SyncCountingVfs* owner;
  };
  static sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

  static int open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    auto* self = static_cast<SyncCountingVfs*>(vfs->pAppData);
    auto* counted = reinterpret_cast<File*>(file);
    counted->real = reinterpret_cast<sqlite3_file*>(counted + 1);
    counted->owner = self;
    const int rc = self->real_->xOpen(self->real_, name, counted->real, flags, out_flags);
    // SQLite calls xClose only on a file whose pMethods is set.
    counted->base.pMethods = counted->real->pMethods != nullptr ? &self->methods_for(counted->real->pMethods) : nullptr;
    return rc;
  }

  const sqlite3_io_methods& methods_for(const sqlite3_io_methods* inner) {
    std::lock_guard lock(mutex_);
    methods_ = *inner;
    methods_.xClose = [](sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); };
    methods_.xRead = [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) { return real(f)->pMethods->xRead(real(f), b, n, o); };
    methods_.xWrite = [](sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
      return real(f)->pMethods->xWrite(real(f), b, n, o);
    };
    methods_.xTruncate = [](sqlite3_file* f, sqlite3_int64 n) { return real(f)->pMethods->xTruncate(real(f), n); };
    methods_.xSync = [](sqlite3_file* f, int flags) {
      ++reinterpret_cast<File*>(f)->owner->syncs_;
      return real(f)->pMethods->xSync(real(f), flags);
    };
    methods_.xFileSize = [](sqlite3_file* f, sqlite3_int64* n) { return real(f)->pMethods->xFileSize(real(f), n); };
    methods_.xLock = [](sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); };
    methods_.xUnlock = [](sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); };
    methods_.xCheckReservedLock = [](sqlite3_file* f, int* r) { return real(f)->pMethods->xCheckReservedLock(real(f), r); };
    methods_.xFileControl = [](sqlite3_file* f, int op, void* a) { return real(f)->pMethods->xFileControl(real(f), op, a); };
    methods_.xSectorSize = [](sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); };
    methods_.xDeviceCharacteristics = [](sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); };
    if (inner->iVersion >= 2) {
      methods_.xShmMap = [](sqlite3_file* f, int p, int s, int e, void volatile** m) {
        return real(f)->pMethods->xShmMap(real(f), p, s, e, m);
      };
      methods_.xShmLock = [](sqlite3_file* f, int o, int n, int fl) { return real(f)->pMethods->xShmLock(real(f), o, n, fl); };
      methods_.xShmBarrier = [](sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); };
      methods_.xShmUnmap = [](sqlite3_file* f, int d) { return real(f)->pMethods->xShmUnmap(real(f), d); };
    }
    if (inner->iVersion >= 3) {
      methods_.xFetch = [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) { return real(f)->pMethods->xFetch(real(f), o, n, p); };
      methods_.xUnfetch = [](sqlite3_file* f, sqlite3_int64 o, void* p) { return real(f)->pMethods->xUnfetch(real(f), o, p); };
    }
    return methods_;
  }

  sqlite3_vfs* real_ = nullptr;
  sqlite3_vfs vfs_{};
  std::mutex mutex_;
  // Every file of one VFS has the same methods (the unix VFS's): one forwarding table serves all.
  sqlite3_io_methods methods_{};
  std::atomic<int> syncs_{0};
};

TEST_F(SqliteStoreTest, IntentsAreSyncedAndNothingElseIs) {
  SyncCountingVfs counting;
  auto store = open_store(db_);
  ASSERT_NE(store, nullptr);
  auto run = store->begin_run(RunStart{"apply", "backends.yaml", "d"});
  ASSERT_TRUE(run) << run.error().describe();

  auto synced_by = [&](const char* what, const auto& call) {
    const int before = counting.syncs();
    call();
    SCOPED_TRACE(what);
    return counting.syncs() - before;
  };
  InputRecord input{run->id, 0, "-:1", "digest-0", "checkout", false};
  Intent intent;
  intent.run_id = run->id;
  intent.experiment = "checkout";
  intent.backend = "aws";
  intent.operation = "StartExperimentRun";
  intent.request_digest = "r0";
  intent.idempotent = false;
  std::vector<std::int64_t> ids;

  StoreWrites first;
  first.inputs = {input};
  EXPECT_EQ(synced_by("an input", [&] { ASSERT_TRUE(store->write(first)); }), 0)
      << "an input needs no sync of its own";
  EXPECT_GE(synced_by("a fan-out's intents", [&] {
              auto recorded = store->record_intents(std::vector<Intent>{intent, intent});
              ASSERT_TRUE(recorded) << recorded.error().describe();
              ids = *recorded;
            }),
            1)
      << "an intent must be on disk before its request leaves";
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(synced_by("outcomes, history, applied state", [&] {
              StoreWrites end;
              end.outcomes = {OutcomeRecord{ids[0], IntentOutcome::succeeded, 200, ""},
                              OutcomeRecord{ids[1], IntentOutcome::failed, 409, "refused"}};
              end.inputs_done = {InputDone{run->id, 0}};
              end.applied = {AppliedState{"checkout", "aws", "appconfig", {{"status", "running"}}, "t", run->id}};
              end.history = {HistoryEntry{"", run->id, "checkout", "aws", "StartExperimentRun", {"status"}, "ok"}};
              ASSERT_TRUE(store->write(end));
            }),
            0);
  EXPECT_GE(synced_by("one intent", [&] { ASSERT_TRUE(store->record_intent(intent)); }), 1);
  EXPECT_EQ(synced_by("an outcome", [&] {
              ASSERT_TRUE(store->record_outcome(ids[0] + 2, IntentOutcome::succeeded, 200, ""));
            }),
            0);
  EXPECT_EQ(synced_by("the finished run", [&] { ASSERT_TRUE(store->finish_run(run->id)); }), 0)
      << "a run not marked finished after a power cut is one --resume continues: no sync needed";

  // What was written unsynced was committed all the same.
  auto journal = store->journal(run->id);
  ASSERT_TRUE(journal);
  ASSERT_EQ(journal->size(), 3u);
  EXPECT_EQ((*journal)[1].outcome, IntentOutcome::failed);
  auto record = store->backend("checkout", "aws");
  ASSERT_TRUE(record && *record);
  EXPECT_EQ((*record)->applied.at("status"), "running");
}

TEST_F(SqliteStoreTest, AnEmptyFileBecomesAStore) {
  write_bytes(db_, "");
  auto store = open_store(db_);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->begin_run(RunStart{"apply", "backends.yaml", "d"}));
}

TEST_F(SqliteStoreTest, ConnectionsOpeningOneNewStoreAtOnceAllSucceed) {
  // Another connection's migration may commit while this one checks what the file is: it must
  // see the file before or after, never tables without the application id (another program's).
  constexpr int kRounds = 30, kOpeners = 4;
  for (int round = 0; round < kRounds; ++round) {
    const fs::path path = dir_.path() / ("race-" + std::to_string(round) + ".db");
    std::atomic<int> ready{0};
    std::vector<std::string> failures(kOpeners);
    std::vector<std::thread> openers;
    for (int i = 0; i < kOpeners; ++i)
      openers.emplace_back([&, i] {
        ++ready;
        while (ready.load() < kOpeners) std::this_thread::yield();  // all start together
        auto opened = Store::open(StoreOptions{path.string()});
        if (!opened) failures[i] = opened.error().describe();
      });
    for (auto& t : openers) t.join();
    for (const auto& failure : failures) ASSERT_TRUE(failure.empty()) << "round " << round << ": " << failure;
  }
}

TEST_F(SqliteStoreTest, KeepsWhatItHoldsAcrossOpens) {
  std::string run_id;
  {
    auto store = open_store(db_);
    ASSERT_NE(store, nullptr);
    auto run = store->begin_run(RunStart{"apply", "backends.yaml", "d"});
    ASSERT_TRUE(run);
    run_id = run->id;
  }
  auto store = open_store(db_);
  ASSERT_NE(store, nullptr);
  auto run = store->last_unfinished_run("backends.yaml");
  ASSERT_TRUE(run && run->has_value());
  EXPECT_EQ((*run)->id, run_id);
}

TEST_F(SqliteStoreTest, RefusesAFileThatIsNotADatabaseAndLeavesItAlone) {
  const std::string bytes = std::string("expbridge: backends:\n  aws: {}\n") + std::string(5000, 'x');
  write_bytes(db_, bytes);
  auto opened = Store::open(StoreOptions{db_.string()});
  ASSERT_FALSE(opened) << "a YAML file was opened as a store";
  EXPECT_EQ(opened.error().code, ErrorCode::invalid_input);
  EXPECT_NE(opened.error().message.find(db_.string()), std::string::npos) << opened.error().describe();
  EXPECT_NE(opened.error().message.find("not a SQLite database"), std::string::npos) << opened.error().describe();
  EXPECT_EQ(read_bytes(db_), bytes) << "the file was changed";
  EXPECT_FALSE(fs::exists(db_.string() + "-wal"));
  EXPECT_FALSE(fs::exists(db_.string() + "-shm"));
}

TEST_F(SqliteStoreTest, RefusesAnotherProgramsDatabaseAndLeavesItAlone) {
  sqlite_exec(db_, "CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('one')");
  const std::string before = read_bytes(db_);
  auto opened = Store::open(StoreOptions{db_.string()});
  ASSERT_FALSE(opened) << "another program's database was taken for a store";
  EXPECT_EQ(opened.error().code, ErrorCode::invalid_input);
  EXPECT_NE(opened.error().message.find(db_.string()), std::string::npos) << opened.error().describe();
  EXPECT_NE(opened.error().message.find("not an expbridge state store"), std::string::npos)
      << opened.error().describe();
  EXPECT_EQ(read_bytes(db_), before);
}

// A store as the first schema (version 1) left it: AUTOINCREMENT ids, one unfinished run with a
// pending intent and a history entry. The schema text is the fixture: it is what such files hold.
constexpr const char* kSchemaVersion1 = R"sql(
CREATE TABLE runs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, started_at TEXT NOT NULL,
  finished_at TEXT, command TEXT NOT NULL, config_path TEXT NOT NULL, config_digest TEXT NOT NULL);
CREATE INDEX runs_unfinished ON runs (config_path, seq) WHERE finished_at IS NULL;
CREATE TABLE inputs (run_id TEXT NOT NULL REFERENCES runs (id), position INTEGER NOT NULL, source TEXT NOT NULL,
  digest TEXT NOT NULL, experiment TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, position));
CREATE TABLE intents (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs (id),
  input_position INTEGER NOT NULL, input_digest TEXT NOT NULL, experiment TEXT NOT NULL, backend TEXT NOT NULL,
  operation TEXT NOT NULL, sequence INTEGER NOT NULL, request_digest TEXT NOT NULL, idempotent INTEGER NOT NULL,
  recorded_at TEXT NOT NULL, outcome TEXT NOT NULL, http_status INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '', completed_at TEXT);
CREATE INDEX intents_by_run ON intents (run_id, id);
CREATE TABLE backend_records (experiment TEXT NOT NULL, backend TEXT NOT NULL, vendor TEXT NOT NULL,
  vendor_ids TEXT NOT NULL, read_hint TEXT NOT NULL, applied TEXT NOT NULL, applied_at TEXT NOT NULL,
  applied_run TEXT NOT NULL, last_read TEXT NOT NULL, read_at TEXT NOT NULL, PRIMARY KEY (experiment, backend));
CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, run_id TEXT NOT NULL,
  experiment TEXT NOT NULL, backend TEXT NOT NULL, operation TEXT NOT NULL, fields TEXT NOT NULL,
  outcome TEXT NOT NULL);
CREATE INDEX history_by_experiment ON history (experiment, at, id);
INSERT INTO runs (id, started_at, command, config_path, config_digest)
  VALUES ('run-1', '2026-11-30T10:00:00Z', 'apply', 'backends.yaml', 'd1');
INSERT INTO inputs VALUES ('run-1', 0, 'u.yaml', 'i1', 'checkout-redesign', 0);
INSERT INTO intents (id, run_id, input_position, input_digest, experiment, backend, operation, sequence,
  request_digest, idempotent, recorded_at, outcome) VALUES (41, 'run-1', 0, 'i1', 'checkout-redesign', 'aws',
  'StartExperimentRun', 0, 'r1', 0, '2026-11-30T10:00:01Z', 'pending');
INSERT INTO history (id, at, run_id, experiment, backend, operation, fields, outcome) VALUES (7,
  '2026-11-30T09:00:00Z', 'run-0', 'checkout-redesign', 'aws', 'UpdateExperimentDefinition', '["description"]', 'ok');
PRAGMA application_id = 1163412050;
PRAGMA user_version = 1;
)sql";

TEST_F(SqliteStoreTest, AVersion1StoreIsMigratedKeepingItsJournalIdsAndHistory) {
  sqlite_exec(db_, kSchemaVersion1);
  auto store = open_store(db_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->schema_version(), kStoreSchemaVersion);
  // The interrupted run is still there to resume, its pending intent under the same id.
  auto unfinished = store->last_unfinished_run("backends.yaml");
  ASSERT_TRUE(unfinished && *unfinished) << (unfinished ? "none" : unfinished.error().describe());
  EXPECT_EQ((*unfinished)->id, "run-1");
  auto journal = store->journal("run-1");
  ASSERT_TRUE(journal) << journal.error().describe();
  ASSERT_EQ(journal->size(), 1u);
  EXPECT_EQ(journal->front().id, 41);
  EXPECT_EQ(journal->front().operation, "StartExperimentRun");
  EXPECT_FALSE(journal->front().idempotent);
  EXPECT_EQ(journal->front().outcome, IntentOutcome::pending);
  // New ids follow the old ones.
  Intent next = journal->front();
  next.sequence = 1;
  auto id = store->record_intent(next);
  ASSERT_TRUE(id) << id.error().describe();
  EXPECT_GT(*id, 41);
  auto history = store->history("checkout-redesign");
  ASSERT_TRUE(history) << history.error().describe();
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ(history->front().operation, "UpdateExperimentDefinition");
  // Keyed by the rowid now: no AUTOINCREMENT, nothing left in sqlite_sequence for them.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT count(*) FROM sqlite_master WHERE name IN ('intents', 'history') AND "
                               "sql NOT LIKE '%AUTOINCREMENT%'",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 2);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(SqliteStoreTest, RefusesANewerSchemaNamingBothVersions) {
  ASSERT_NE(open_store(db_), nullptr);
  const int newer = kStoreSchemaVersion + 1;
  sqlite_exec(db_, "PRAGMA user_version = " + std::to_string(newer));
  const std::string before = read_bytes(db_);
  auto opened = Store::open(StoreOptions{db_.string()});
  ASSERT_FALSE(opened) << "a newer schema was opened";
  const std::string& message = opened.error().message;
  EXPECT_EQ(opened.error().code, ErrorCode::invalid_input);
  EXPECT_NE(message.find(db_.string()), std::string::npos) << message;
  EXPECT_NE(message.find("schema version " + std::to_string(newer)), std::string::npos) << message;
  EXPECT_NE(message.find("(" + std::to_string(kStoreSchemaVersion) + ")"), std::string::npos) << message;
  EXPECT_EQ(read_bytes(db_), before) << "the newer store was changed";
}

TEST_F(SqliteStoreTest, RefusesAFolderAsItsFile) {
  fs::create_directories(db_);
  auto opened = Store::open(StoreOptions{db_.string()});
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find(db_.string()), std::string::npos) << opened.error().describe();
  EXPECT_NE(opened.error().message.find("folder"), std::string::npos) << opened.error().describe();
}

TEST_F(SqliteStoreTest, WaitsBoundedlyForAnotherWriter) {
  auto store = open_store(db_, milliseconds(200));
  ASSERT_NE(store, nullptr);
  auto run = store->begin_run(RunStart{"apply", "backends.yaml", "d"});
  ASSERT_TRUE(run);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  const auto start = steady_clock::now();
  auto blocked = store->record_input(InputRecord{run->id, 0, "-:1", "d", "exp", false});
  const auto waited = steady_clock::now() - start;
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  ASSERT_FALSE(blocked) << "wrote through another writer's lock";
  EXPECT_EQ(blocked.error().code, ErrorCode::unavailable) << blocked.error().describe();
  EXPECT_NE(blocked.error().message.find(db_.string()), std::string::npos) << blocked.error().describe();
  EXPECT_NE(blocked.error().message.find("record_input"), std::string::npos) << blocked.error().describe();
  EXPECT_GE(waited, milliseconds(150));
  EXPECT_LT(waited, milliseconds(5000));
  EXPECT_TRUE(store->record_input(InputRecord{run->id, 0, "-:1", "d", "exp", false})) << "not after the writer left";
}

/// A child process that opens the store, locks `experiment`, tells the parent, then holds the
/// lock for `hold` (or until killed) and exits without any clean-up.
class LockHoldingChild {
 public:
  LockHoldingChild(const fs::path& db, const std::string& experiment, milliseconds hold) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      auto store = Store::open(StoreOptions{db.string(), milliseconds(2000)});
      char status = 'n';
      std::optional<Store::ExperimentLock> lock;
      if (store) {
        auto locked = (*store)->lock_experiment(experiment);
        if (locked) {
          lock.emplace(std::move(*locked));
          status = 'y';
        }
      }
      (void)!::write(fds[1], &status, 1);
      std::this_thread::sleep_for(hold);
      ::_exit(status == 'y' ? 0 : 1);
    }
    ::close(fds[1]);
    pollfd ready{fds[0], POLLIN, 0};
    char status = 'n';
    if (::poll(&ready, 1, 10'000) == 1 && ::read(fds[0], &status, 1) == 1) locked_ = status == 'y';
    ::close(fds[0]);
  }
  ~LockHoldingChild() {
    if (pid_ > 0) kill_now();
  }
  LockHoldingChild(const LockHoldingChild&) = delete;
  LockHoldingChild& operator=(const LockHoldingChild&) = delete;

  bool locked() const { return pid_ > 0 && locked_; }
  void kill_now() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  bool locked_ = false;
};

TEST_F(SqliteStoreTest, ALockHeldByAnotherProcessMakesThisOneWaitThenTimeOut) {
  ASSERT_NE(open_store(db_), nullptr);  // created before the child, so neither migrates it
  LockHoldingChild child(db_, "checkout-redesign", milliseconds(3000));
  ASSERT_TRUE(child.locked()) << "the child process could not take the lock";
  auto store = open_store(db_, milliseconds(300));
  ASSERT_NE(store, nullptr);
  const auto start = steady_clock::now();
  auto refused = store->lock_experiment("checkout-redesign");
  const auto waited = steady_clock::now() - start;
  ASSERT_FALSE(refused) << "two processes held one experiment's lock";
  EXPECT_EQ(refused.error().code, ErrorCode::unavailable);
  EXPECT_NE(refused.error().message.find("checkout-redesign"), std::string::npos) << refused.error().describe();
  EXPECT_NE(refused.error().message.find(db_.string()), std::string::npos) << refused.error().describe();
  EXPECT_GE(waited, milliseconds(250));
  auto different = store->lock_experiment("pricing-page");
  EXPECT_TRUE(different) << "another process's lock blocked a different experiment";
}

TEST_F(SqliteStoreTest, ALockDiesWithAProcessKilledWhileHoldingIt) {
  ASSERT_NE(open_store(db_), nullptr);
  LockHoldingChild child(db_, "checkout-redesign", milliseconds(30'000));
  ASSERT_TRUE(child.locked()) << "the child process could not take the lock";
  auto store = open_store(db_, milliseconds(100));
  ASSERT_NE(store, nullptr);
  ASSERT_FALSE(store->lock_experiment("checkout-redesign")) << "the child's lock was not held";
  child.kill_now();
  auto after = store->lock_experiment("checkout-redesign");
  EXPECT_TRUE(after) << "a SIGKILLed process left its lock behind: " << after.error().describe();
}

TEST(StoreOpen, RefusesAnEmptyLocation) {
  auto opened = Store::open(StoreOptions{""});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::invalid_input);
}

#ifndef EXPBRIDGE_HAVE_POSTGRES_STORE
TEST(StoreOpen, APostgresUrlNeedsAPostgresBuildAndIsNotEchoed) {
  for (const char* url : {"postgresql://expbridge:s3cret@127.0.0.1/expbridge", "postgres://u:s3cret@127.0.0.1/db"}) {
    auto opened = Store::open(StoreOptions{url});
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, ErrorCode::unsupported);
    EXPECT_NE(opened.error().message.find("no PostgreSQL store"), std::string::npos) << opened.error().describe();
    EXPECT_EQ(opened.error().describe().find("s3cret"), std::string::npos) << opened.error().describe();
  }
}
#endif

TEST(StoreDigest, IsHexSha256) {
  EXPECT_EQ(store_digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(store_digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(IntentOutcomeNames, AreTheEnumerators) {
  EXPECT_EQ(to_string(IntentOutcome::pending), "pending");
  EXPECT_EQ(to_string(IntentOutcome::succeeded), "succeeded");
  EXPECT_EQ(to_string(IntentOutcome::failed), "failed");
  EXPECT_EQ(to_string(IntentOutcome::reconciled_applied), "reconciled_applied");
  EXPECT_EQ(to_string(IntentOutcome::reconciled_absent), "reconciled_absent");
}

}  // namespace
}  // namespace expbridge::test
