// The Applier with a state store (ApplyOptions::store) against the vendor emulators: the run and
// its inputs, every mutating request journalled (intent before it leaves, outcome after), what
// each read and each applied update leaves per backend, history, the stored read hint a new
// process reads with, and a store that fails before sending (nothing sent).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "document.hpp"
#include "emulator/emulator.hpp"
#include "expbridge/apply.hpp"
#include "expbridge/store.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"
#include "support/delegating_store.hpp"
#include "support/sample_config.hpp"

namespace expbridge {
namespace {

namespace fs = std::filesystem;
const std::string kSamples = std::string(EXPBRIDGE_SOURCE_DIR) + "/samples";

std::string describe(const UpdateReport& r) { return write_json(report_to_json(r), 2); }

/// A real store whose chosen operations fail: how a store error before sending is tested.
class FailingStore : public test::DelegatingStore {
 public:
  using DelegatingStore::DelegatingStore;
  bool fail_input = false;
  bool fail_intent = false;
  bool fail_done = false;  ///< the commit that marks an input done (an update's end)
  /// Commits with no intent (an update's end) take this long: still under way when the next
  /// update of the experiment begins.
  std::chrono::milliseconds slow_ends{0};
  std::atomic<int> locks_taken{0};

 protected:
  Error refused(const char* what) const {
    return make_error(ErrorCode::unavailable, std::string(what) + " refused by the test");
  }
  Status do_record_input(const InputRecord& i) override {
    if (fail_input) return std::unexpected(refused("record_input"));
    return DelegatingStore::do_record_input(i);
  }
  Result<std::int64_t> do_record_intent(const Intent& i) override {
    if (fail_intent) return std::unexpected(refused("record_intent"));
    return DelegatingStore::do_record_intent(i);
  }
  Result<std::optional<ExperimentLock>> do_try_lock_experiment(const std::string& e) override {
    auto lock = DelegatingStore::do_try_lock_experiment(e);
    if (lock && *lock) ++locks_taken;
    return lock;
  }
  Result<std::vector<std::int64_t>> do_commit(std::span<const Intent> intents, const StoreWrites& with) override {
    if (intents.empty()) std::this_thread::sleep_for(slow_ends);
    if (fail_input && !with.inputs.empty()) return std::unexpected(refused("record_input"));
    if (fail_intent && !intents.empty()) return std::unexpected(refused("record_intent"));
    if (fail_done && !with.inputs_done.empty()) return std::unexpected(refused("mark_input_done"));
    return DelegatingStore::do_commit(intents, with);
  }
};

class ApplyJournal : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("expbridge-journal-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    auto host = emulator::EmulatorHost::start({});
    ASSERT_TRUE(host) << host.error().describe();
    host_ = std::move(*host);
    // Converging finds AppConfig's current run by itself (and the store learns it).
    auto bridge = test::sample_bridge(host_->base_url(), "journal.yaml");
    ASSERT_TRUE(bridge) << bridge.error().describe();
    bridge_ = std::make_unique<Bridge>(std::move(*bridge));
    auto store = Store::open(StoreOptions{(dir_ / "state.db").string()});
    ASSERT_TRUE(store) << store.error().describe();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::unique_ptr<Applier> make_applier(Store* store) {
    ApplyOptions options;
    options.environment = emulator::test_environment(host_->credentials());
    options.store = store;
    auto applier = Applier::create(*bridge_, options);
    EXPECT_TRUE(applier) << applier.error().describe();
    return applier ? std::make_unique<Applier>(std::move(*applier)) : nullptr;
  }

  Update sample(const std::string& name) {
    auto update = load_update(kSamples + "/updates/" + name);
    EXPECT_TRUE(update) << update.error().describe();
    return update.value_or(Update{});
  }

  /// Applies `inputs` (source, sample, digest) in one `apply_inputs`; the reports in order.
  static std::vector<UpdateReport> apply_all(Applier& applier, std::vector<Applier::Input> inputs) {
    std::vector<UpdateReport> reports;
    std::size_t next = 0;
    applier.apply_inputs(
        [&]() -> std::optional<Applier::Input> {
          if (next == inputs.size()) return std::nullopt;
          return std::move(inputs[next++]);
        },
        [&](UpdateReport r) { reports.push_back(std::move(r)); });
    return reports;
  }

  /// Requests that change something (not reads, not tokens) the emulators received so far.
  std::vector<emulator::ServerRequest> changes() const {
    std::vector<emulator::ServerRequest> out;
    for (const auto& r : host_->received_requests())
      if (r.request.method != "GET" && r.request.target.find("/oauth/token") == std::string::npos)
        out.push_back(r.request);
    return out;
  }

  fs::path dir_;
  std::unique_ptr<emulator::EmulatorHost> host_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<Store> store_;
};

TEST_F(ApplyJournal, EveryMutatingRequestHasAnIntentAndAnOutcomeAndTheRunEnds) {
  auto applier = make_applier(store_.get());
  ASSERT_TRUE(applier);
  std::vector<UpdateReport> reports;
  int given = 0;
  applier->apply_inputs(
      [&]() -> std::optional<Applier::Input> {
        if (given++ > 0) return std::nullopt;
        return Applier::Input{"start.yaml", sample("start.yaml"), store_digest("the bytes of start.yaml")};
      },
      [&](UpdateReport r) { reports.push_back(std::move(r)); });
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_TRUE(reports[0].ok()) << describe(reports[0]);
  const std::string run = applier->run_id();
  ASSERT_FALSE(run.empty());

  auto unfinished = store_->last_unfinished_run(bridge_->source());
  ASSERT_TRUE(unfinished) << unfinished.error().describe();
  EXPECT_FALSE(unfinished->has_value()) << "apply_inputs ran to its end: its run is finished";

  auto inputs = store_->inputs(run);
  ASSERT_TRUE(inputs) << inputs.error().describe();
  ASSERT_EQ(inputs->size(), 1u);
  EXPECT_EQ(inputs->at(0).position, 0);
  EXPECT_EQ(inputs->at(0).source, "start.yaml");
  EXPECT_EQ(inputs->at(0).digest, store_digest("the bytes of start.yaml"));
  EXPECT_EQ(inputs->at(0).experiment, "checkout-redesign");
  EXPECT_TRUE(inputs->at(0).done);

  // One intent per change that reached a vendor, in the order each backend sent them.
  auto journal = store_->journal(run);
  ASSERT_TRUE(journal) << journal.error().describe();
  std::size_t mutating = 0;
  for (const auto& b : reports[0].backends)
    for (const auto& r : b.requests) {
      if (r.request.method == "GET") continue;
      ++mutating;
      SCOPED_TRACE(b.backend + " " + r.request.operation);
      auto found = std::find_if(journal->begin(), journal->end(), [&](const Intent& i) {
        return i.backend == b.backend && i.operation == r.request.operation;
      });
      ASSERT_NE(found, journal->end());
      EXPECT_EQ(found->outcome, IntentOutcome::succeeded);
      EXPECT_EQ(found->http_status, r.status);
      EXPECT_EQ(found->idempotent, r.request.idempotent);
      EXPECT_EQ(found->input_digest, store_digest("the bytes of start.yaml"));
      const std::string body = r.request.body ? write_json(*r.request.body) : std::string();
      EXPECT_EQ(found->request_digest, store_digest(r.request.method + "\n" + r.request.url + "\n" + body));
    }
  EXPECT_EQ(journal->size(), mutating);
  EXPECT_EQ(changes().size(), mutating);
  auto start = std::find_if(journal->begin(), journal->end(),
                            [](const Intent& i) { return i.operation == "StartExperimentRun"; });
  ASSERT_NE(start, journal->end()) << "start.yaml starts an AppConfig run";
  EXPECT_FALSE(start->idempotent);
}

TEST_F(ApplyJournal, ReadsAndAppliedUpdatesLeaveTheirRecordsAndHistory) {
  auto applier = make_applier(store_.get());
  ASSERT_TRUE(applier);
  const auto report = applier->apply(sample("start.yaml"));
  ASSERT_TRUE(report.ok()) << describe(report);
  ASSERT_TRUE(applier->finish_run());

  auto records = store_->backends(std::string("checkout-redesign"));
  ASSERT_TRUE(records) << records.error().describe();
  ASSERT_EQ(records->size(), report.backends.size());
  for (const auto& record : *records) {
    SCOPED_TRACE(record.backend);
    EXPECT_FALSE(record.vendor.empty());
    EXPECT_FALSE(record.read_at.empty()) << "the converging read saves its snapshot";
    EXPECT_FALSE(record.vendor_ids.empty());
    EXPECT_EQ(record.applied_run, applier->run_id());
    EXPECT_FALSE(record.applied_at.empty());
    ASSERT_TRUE(record.applied.contains("status")) << write_json(record.applied);
    EXPECT_EQ(record.applied.at("status"), "running");
    ASSERT_TRUE(record.applied.contains("exposure")) << write_json(record.applied);
    EXPECT_EQ(record.applied.at("exposure").to_number<double>(), 25);
  }
  auto history = store_->history("checkout-redesign");
  ASSERT_TRUE(history) << history.error().describe();
  ASSERT_EQ(history->size(), report.backends.size());
  for (const auto& entry : *history) {
    SCOPED_TRACE(entry.backend);
    EXPECT_EQ(entry.run_id, applier->run_id());
    EXPECT_EQ(entry.outcome, "ok");
    EXPECT_FALSE(entry.operation.empty());
    EXPECT_FALSE(entry.fields.empty());
  }

  // Applied again: nothing left to send, and history says so.
  const auto again = applier->apply(sample("start.yaml"));
  ASSERT_TRUE(again.ok()) << describe(again);
  history = store_->history("checkout-redesign");
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 2 * report.backends.size());
  for (std::size_t i = report.backends.size(); i < history->size(); ++i)
    EXPECT_EQ(history->at(i).outcome, "unchanged") << history->at(i).backend;
}

TEST_F(ApplyJournal, ANewProcessReadsWithTheStoredHint) {
  int cold = 0;
  std::map<std::string, int> hinted;  // round trips of a read with the hint in memory
  {
    auto first = make_applier(store_.get());
    ASSERT_TRUE(first);
    const auto read = first->read("checkout-redesign");
    ASSERT_TRUE(read.ok());
    for (const auto& b : read.backends) cold += b.round_trips;
    const auto again = first->read("checkout-redesign");
    ASSERT_TRUE(again.ok());
    for (const auto& b : again.backends) hinted[b.backend] = b.round_trips;
  }
  // A fresh Applier has no hint in memory: the store's saves the dependent round trips.
  auto second = make_applier(store_.get());
  ASSERT_TRUE(second);
  const auto read = second->read("checkout-redesign");
  ASSERT_TRUE(read.ok());
  int stored = 0;
  for (const auto& b : read.backends) {
    stored += b.round_trips;
    EXPECT_EQ(b.round_trips, hinted[b.backend]) << b.backend;
  }
  EXPECT_LT(stored, cold) << "no backend's read was shortened by the stored hint";
}

TEST_F(ApplyJournal, ABindingThatDiffersFromTheLearntIdWinsAndTheReportSaysSo) {
  BackendRecord learnt;
  learnt.experiment = "checkout-redesign";
  learnt.backend = "aws";
  learnt.vendor = "appconfig";
  learnt.vendor_ids = {{"definition", "learnt-elsewhere"}, {"run", "7"}};
  ASSERT_TRUE(store_->save_backend(learnt));
  auto applier = make_applier(store_.get());
  ASSERT_TRUE(applier);
  const auto report = applier->apply(sample("start.yaml"));
  ASSERT_TRUE(report.ok()) << describe(report);
  const BackendReport* aws = nullptr;
  for (const auto& b : report.backends)
    if (b.backend == "aws") aws = &b;
  ASSERT_NE(aws, nullptr);
  std::string notes;
  for (const auto& n : aws->notes) notes += n + "\n";
  EXPECT_NE(notes.find("vendor id definition"), std::string::npos) << notes;
  EXPECT_NE(notes.find("learnt-elsewhere"), std::string::npos) << notes;
  EXPECT_NE(notes.find("bsxyd7k"), std::string::npos) << notes;
  EXPECT_EQ(notes.find("vendor id run"), std::string::npos) << "a run moves on by itself: no conflict\n" << notes;
  auto now = store_->backend("checkout-redesign", "aws");
  ASSERT_TRUE(now && *now);
  EXPECT_EQ((*now)->vendor_ids.at("definition"), "bsxyd7k") << "the binding wins";
  EXPECT_NE(write_json(report_to_json(report)).find("learnt-elsewhere"), std::string::npos) << "in the JSON report";
}

TEST_F(ApplyJournal, AStoreThatCannotJournalAnIntentSendsNothing) {
  FailingStore failing(std::move(store_));
  failing.fail_intent = true;
  auto applier = make_applier(&failing);
  ASSERT_TRUE(applier);
  const auto report = applier->apply(sample("start.yaml"));
  EXPECT_FALSE(report.ok());
  for (const auto& b : report.backends) {
    if (b.result == BackendOutcome::skipped || b.result == BackendOutcome::unchanged) continue;
    SCOPED_TRACE(b.backend);
    ASSERT_TRUE(b.error) << describe(report);
    EXPECT_NE(b.error->message.find("record_intent refused by the test"), std::string::npos) << b.error->message;
    EXPECT_NE(b.error->message.find(failing.location()), std::string::npos) << b.error->message;
    for (const auto& r : b.requests) EXPECT_EQ(r.attempts, 0) << r.request.operation;
  }
  EXPECT_TRUE(changes().empty()) << changes().size() << " change(s) left without an intent";
}

TEST_F(ApplyJournal, AStoreThatCannotRecordTheInputSendsNoChange) {
  // The input is committed with its first intents: a store that refuses it refuses them too.
  FailingStore failing(std::move(store_));
  failing.fail_input = true;
  auto applier = make_applier(&failing);
  ASSERT_TRUE(applier);
  const auto report = applier->apply(sample("start.yaml"));
  EXPECT_FALSE(report.ok()) << describe(report);
  std::size_t refused = 0;
  for (const auto& b : report.backends) {
    if (!b.error) continue;
    ++refused;
    EXPECT_NE(b.error->message.find("record_input refused by the test"), std::string::npos) << b.error->message;
    EXPECT_NE(b.error->message.find("not sent"), std::string::npos) << b.error->message;
  }
  EXPECT_GT(refused, 0u) << describe(report);
  EXPECT_TRUE(changes().empty()) << changes().size() << " change(s) sent for an input the store did not record";
}

TEST_F(ApplyJournal, AnUpdatesEndTheStoreCannotWriteStopsEveryLaterChangeAndLeavesTheRunToResume) {
  // An update's end (its outcomes, done mark, records) is written behind it while the next
  // update goes on. Lost, a resumed run would apply the first update again after the second,
  // an older state over a newer one: so the second sends nothing.
  FailingStore failing(std::move(store_));
  failing.fail_done = true;
  auto applier = make_applier(&failing);
  ASSERT_TRUE(applier);
  auto update_of = [](const std::string& hypothesis, const std::string& source) {
    auto u = parse_update(R"({"experiment": "checkout-redesign", "hypothesis": ")" + hypothesis + R"("})", source);
    EXPECT_TRUE(u) << u.error().describe();
    return Applier::Input{source, std::move(u), store_digest(source)};
  };
  std::vector<Applier::Input> inputs;
  inputs.push_back(update_of("The first", "first.json"));
  inputs.push_back(update_of("The second", "second.json"));
  const std::vector<UpdateReport> reports = apply_all(*applier, std::move(inputs));
  ASSERT_EQ(reports.size(), 2u);
  std::size_t first_changes = 0;
  for (const auto& b : reports[0].backends)
    for (const auto& r : b.requests)
      if (r.request.method != "GET" && r.sent) ++first_changes;
  ASSERT_GT(first_changes, 0u) << describe(reports[0]);
  EXPECT_EQ(changes().size(), first_changes) << "the second update sent a change after the first's end was lost";
  EXPECT_FALSE(reports[1].ok()) << describe(reports[1]);
  if (reports[1].error) {
    // The failure was known before the second update began: held back, nothing planned.
    EXPECT_NE(reports[1].error->message.find("held back: an earlier input of experiment checkout-redesign"),
              std::string::npos)
        << describe(reports[1]);
  } else {
    std::size_t refused = 0;
    for (const auto& b : reports[1].backends) {
      if (!b.error) continue;
      ++refused;
      // Refused after the failed commit, or in it (merged with it when it was still waiting).
      EXPECT_NE(b.error->message.find("mark_input_done refused by the test"), std::string::npos) << b.error->message;
      EXPECT_NE(b.error->message.find("not sent"), std::string::npos) << b.error->message;
    }
    EXPECT_GT(refused, 0u) << describe(reports[1]);
  }
  EXPECT_TRUE(reports[1].unsettled) << describe(reports[1]);
  EXPECT_GT(applier->unsettled_inputs(), 0);
  auto unfinished = failing.last_unfinished_run(bridge_->source());
  ASSERT_TRUE(unfinished) << unfinished.error().describe();
  EXPECT_TRUE(unfinished->has_value()) << "the run is left for --resume";
}

TEST_F(ApplyJournal, TheNextUpdateOfAnExperimentSharesTheHoldOfTheOneWhoseEndIsStillBeingWritten) {
  // One flock per experiment for a whole stream of its updates: taken by the first, shared
  // with each next one while the previous one's end is written, let go at the end.
  FailingStore slow(std::move(store_));
  // Far longer than the next update takes to begin, even on a loaded machine.
  slow.slow_ends = std::chrono::milliseconds(100);
  auto applier = make_applier(&slow);
  ASSERT_TRUE(applier);
  std::vector<Applier::Input> inputs;
  for (int i = 0; i < 10; ++i) {
    const std::string source = "update-" + std::to_string(i) + ".json";
    auto u = parse_update(R"({"experiment": "checkout-redesign", "hypothesis": "Update )" + std::to_string(i) + R"("})",
                          source);
    ASSERT_TRUE(u) << u.error().describe();
    inputs.push_back(Applier::Input{source, std::move(u), store_digest(source)});
  }
  const std::vector<UpdateReport> reports = apply_all(*applier, std::move(inputs));
  ASSERT_EQ(reports.size(), 10u);
  for (const auto& r : reports) ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(slow.locks_taken.load(), 1) << "an update waited for its own process's lock instead of sharing it";
  // Once the run is over, the lock is free for another process at once.
  auto other = Store::open(StoreOptions{slow.location()});
  ASSERT_TRUE(other) << other.error().describe();
  auto lock = (*other)->try_lock_experiment("checkout-redesign");
  ASSERT_TRUE(lock) << lock.error().describe();
  EXPECT_TRUE(lock->has_value()) << "the run ended still holding the experiment's lock";
  // Every update's end is in the store: each input done, and the last hypothesis applied.
  auto inputs_recorded = slow.inputs(applier->run_id());
  ASSERT_TRUE(inputs_recorded) << inputs_recorded.error().describe();
  ASSERT_EQ(inputs_recorded->size(), 10u);
  for (const auto& input : *inputs_recorded) EXPECT_TRUE(input.done) << input.source;
  auto records = slow.backends(std::string("checkout-redesign"));
  ASSERT_TRUE(records) << records.error().describe();
  ASSERT_FALSE(records->empty());
  for (const auto& record : *records) {
    if (record.applied.empty()) continue;
    SCOPED_TRACE(record.backend);
    const auto* hypothesis = record.applied.if_contains("hypothesis");
    ASSERT_NE(hypothesis, nullptr) << write_json(record.applied);
    EXPECT_EQ(hypothesis->as_string(), "Update 9");
  }
}

TEST_F(ApplyJournal, WaitingForAnotherProcesssLockLetsOtherExperimentsGoOn) {
  // A second experiment bound to the same vendor resources: only the locks tell them apart.
  auto doc = load_document(std::string(EXPBRIDGE_SOURCE_DIR) + "/samples/backends.yaml");
  ASSERT_TRUE(doc) << doc.error().describe();
  auto& root = doc->root.as_object();
  for (auto& backend : root["backends"].as_object()) backend.value().as_object()["endpoint"] = host_->base_url();
  auto& experiments = root["experiments"].as_object();
  experiments["checkout-redesign"].as_object()["aws"].as_object().erase("run");
  experiments["checkout-copy"] = experiments["checkout-redesign"];
  auto two = Bridge::from_text(write_json(doc->root), "two-experiments.yaml");
  ASSERT_TRUE(two) << two.error().describe();

  // Another process holds checkout-redesign.
  auto other = Store::open(StoreOptions{store_->location()});
  ASSERT_TRUE(other) << other.error().describe();
  auto held = (*other)->try_lock_experiment("checkout-redesign");
  ASSERT_TRUE(held && *held) << "the test could not take the lock";
  std::optional<Store::ExperimentLock> holding(std::move(**held));

  ApplyOptions options;
  options.environment = emulator::test_environment(host_->credentials());
  options.store = store_.get();
  options.parallel_updates = 2;
  auto applier = Applier::create(*two, options);
  ASSERT_TRUE(applier) << applier.error().describe();
  auto update_of = [](const std::string& experiment, const std::string& source) {
    auto u = parse_update(R"({"experiment": ")" + experiment + R"(", "hypothesis": "While another waits"})", source);
    EXPECT_TRUE(u) << u.error().describe();
    return Applier::Input{source, std::move(u), {}};
  };
  std::vector<Applier::Input> inputs;
  inputs.push_back(update_of("checkout-redesign", "waits.json"));
  inputs.push_back(update_of("checkout-copy", "goes-on.json"));
  // Reports come out in input order, so the sign that the other experiment went on is on the
  // wire: a change arriving while checkout-redesign is still locked can only be checkout-copy's.
  bool changed_while_locked = false;
  std::thread releaser([&] {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!changed_while_locked && std::chrono::steady_clock::now() < give_up) {
      for (const auto& r : host_->received_requests())
        if (r.request.method != "GET" && r.request.target.find("/oauth/token") == std::string::npos)
          changed_while_locked = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    holding.reset();
  });
  const std::vector<UpdateReport> reports = apply_all(*applier, std::move(inputs));
  releaser.join();
  EXPECT_TRUE(changed_while_locked) << "the update waiting for the lock held up the other experiment";
  ASSERT_EQ(reports.size(), 2u);
  for (const auto& r : reports) EXPECT_TRUE(r.ok()) << describe(r);
}

// ---- resuming an unfinished run ------------------------------------------------------

class ResumeJournal : public ApplyJournal {
 protected:
  std::unique_ptr<Applier> make_resuming(const std::string& run) {
    ApplyOptions options;
    options.environment = emulator::test_environment(host_->credentials());
    options.store = store_.get();
    options.run_id = run;
    options.resume = true;
    auto applier = Applier::create(*bridge_, options);
    EXPECT_TRUE(applier) << applier.error().describe();
    return applier ? std::make_unique<Applier>(std::move(*applier)) : nullptr;
  }


  /// A run that did input 0 (a description change) and then died with AppConfig's
  /// StartExperimentRun of input 1 (start.yaml) journalled but unanswered. `started`: whether
  /// that start reached AppConfig before the crash (sent here without a store).
  std::string crashed_run(bool started) {
    auto run = store_->begin_run(RunStart{"apply", bridge_->source(), "config"});
    EXPECT_TRUE(run) << run.error().describe();
    {
      ApplyOptions options;
      options.environment = emulator::test_environment(host_->credentials());
      options.store = store_.get();
      options.run_id = run->id;
      auto first = Applier::create(*bridge_, options);
      EXPECT_TRUE(first);
      const auto done = first->apply(description_update());
      EXPECT_TRUE(done.ok()) << describe(done);
      // No finish_run: the process died.
    }
    if (started) {
      auto blind = make_applier(nullptr);
      const auto report = blind->apply(sample("start.yaml"));
      EXPECT_TRUE(report.ok()) << describe(report);
    }
    EXPECT_TRUE(store_->record_input(InputRecord{run->id, 1, "start.yaml", store_digest("start"), "checkout-redesign", false}));
    Intent intent;
    intent.run_id = run->id;
    intent.input_position = 1;
    intent.input_digest = store_digest("start");
    intent.experiment = "checkout-redesign";
    intent.backend = "aws";
    intent.operation = "StartExperimentRun";
    intent.request_digest = store_digest("the start");
    intent.idempotent = false;
    EXPECT_TRUE(store_->record_intent(intent));
    return run->id;
  }

  Update description_update() {
    auto u = parse_update(R"({"experiment": "checkout-redesign", "hypothesis": "Before the start"})", "first.json");
    EXPECT_TRUE(u) << u.error().describe();
    return u.value_or(Update{});
  }

  std::size_t starts_received() const {
    std::size_t n = 0;
    for (const auto& r : host_->received_requests())
      if (r.vendor == "appconfig" && r.request.method == "POST" && r.request.target.find("experimentruns") != std::string::npos)
        ++n;
    return n;
  }

  static const BackendReport* backend(const UpdateReport& r, const std::string& name) {
    for (const auto& b : r.backends)
      if (b.backend == name) return &b;
    return nullptr;
  }
  static std::string journal_status(const BackendReport* b, const std::string& operation) {
    if (!b) return "(no backend)";
    for (const auto& j : b->journal)
      if (j.operation == operation) return j.status;
    return "(not in the journal)";
  }
};

TEST_F(ResumeJournal, AStartThatTookEffectIsReconciledAsAppliedAndNotSentAgain) {
  const std::string run = crashed_run(/*started=*/true);
  const std::size_t starts = starts_received();
  ASSERT_EQ(starts, 1u) << "the crashed run's start reached AppConfig";
  auto resumed = make_resuming(run);
  ASSERT_TRUE(resumed);
  const auto reports = apply_all(*resumed, {{"first.json", description_update(), store_digest("first.json")},
                                            {"start.yaml", sample("start.yaml"), store_digest("start")}});
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_TRUE(reports[0].done_earlier) << describe(reports[0]);
  std::size_t earlier = 0;
  for (const auto& b : reports[0].backends)
    for (const auto& j : b.journal) {
      EXPECT_EQ(j.status, "done earlier") << b.backend << " " << j.operation;
      ++earlier;
    }
  EXPECT_GT(earlier, 0u) << describe(reports[0]);
  ASSERT_TRUE(reports[1].ok()) << describe(reports[1]);
  EXPECT_EQ(journal_status(backend(reports[1], "aws"), "StartExperimentRun"), "reconciled: found applied")
      << describe(reports[1]);
  EXPECT_EQ(starts_received(), starts) << "the start was sent twice";
  EXPECT_NE(report_to_text(reports[1]).find("StartExperimentRun: reconciled: found applied"), std::string::npos)
      << report_to_text(reports[1]);

  auto journal = store_->journal(run);
  ASSERT_TRUE(journal);
  auto start = std::find_if(journal->begin(), journal->end(), [](const Intent& i) { return i.operation == "StartExperimentRun"; });
  ASSERT_NE(start, journal->end());
  EXPECT_EQ(start->outcome, IntentOutcome::reconciled_applied);
  auto unfinished = store_->last_unfinished_run(bridge_->source());
  ASSERT_TRUE(unfinished);
  EXPECT_FALSE(unfinished->has_value()) << "the resumed run ran to its end";
}

TEST_F(ResumeJournal, AStartThatNeverArrivedIsSentOnceAndSaidSo) {
  const std::string run = crashed_run(/*started=*/false);
  ASSERT_EQ(starts_received(), 0u);
  auto resumed = make_resuming(run);
  ASSERT_TRUE(resumed);
  const auto reports = apply_all(*resumed, {{"first.json", description_update(), store_digest("first.json")},
                                            {"start.yaml", sample("start.yaml"), store_digest("start")}});
  ASSERT_EQ(reports.size(), 2u);
  ASSERT_TRUE(reports[1].ok()) << describe(reports[1]);
  EXPECT_EQ(journal_status(backend(reports[1], "aws"), "StartExperimentRun"), "reconciled: not applied")
      << describe(reports[1]);
  EXPECT_EQ(starts_received(), 1u);
  const auto json = report_to_json(reports[1]);
  EXPECT_NE(write_json(json).find("reconciled: not applied"), std::string::npos) << write_json(json);
}

TEST_F(ResumeJournal, ADifferentInputAtARecordedPositionIsRefusedAndNothingIsSent) {
  const std::string run = crashed_run(/*started=*/false);
  const std::size_t before = host_->received_requests().size();
  auto resumed = make_resuming(run);
  ASSERT_TRUE(resumed);
  const auto reports = apply_all(*resumed, {{"first.json", description_update(), store_digest("another file")}});
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_TRUE(reports[0].error) << describe(reports[0]);
  EXPECT_EQ(reports[0].error->code, ErrorCode::invalid_input);
  EXPECT_NE(reports[0].error->message.find("is not the one the resumed run"), std::string::npos)
      << reports[0].error->message;
  EXPECT_EQ(host_->received_requests().size(), before);
}

TEST_F(ResumeJournal, ResumingWithoutReadsIsRefused) {
  ApplyOptions options;
  options.store = store_.get();
  options.run_id = "some-run";
  options.resume = true;
  options.read_first = false;
  auto applier = Applier::create(*bridge_, options);
  ASSERT_FALSE(applier);
  EXPECT_NE(applier.error().message.find("--no-read"), std::string::npos) << applier.error().describe();
}

}  // namespace
}  // namespace expbridge
