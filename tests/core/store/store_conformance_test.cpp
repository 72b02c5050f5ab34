// The state store's contract, written against the interface only: every backend instantiates
// StoreConformance with its factory (sqlite_store_test.cpp, postgres_store_test.cpp) and passes
// all of these unchanged.
#include "core/store/store_conformance.hpp"

#include <algorithm>
#include <chrono>
#include <regex>
#include <thread>
#include <tuple>

#include <boost/json/parse.hpp>

namespace expbridge::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
// Inside a test body `Run` is testing::Test::Run.
using StoreRun = expbridge::Run;

bool is_rfc3339_millis(const std::string& text) {
  static const std::regex pattern(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  return std::regex_match(text, pattern);
}

StoreRun start_run(Store& store, const std::string& config_path, const std::string& command = "apply") {
  auto run = store.begin_run(RunStart{command, config_path, store_digest("config of " + config_path)});
  EXPECT_TRUE(run) << run.error().describe();
  return run ? *run : StoreRun{};
}

Intent intent_for(const StoreRun& run, std::int64_t position, int sequence, bool idempotent = true) {
  Intent intent;
  intent.run_id = run.id;
  intent.input_position = position;
  intent.input_digest = store_digest("input " + std::to_string(position));
  intent.experiment = "checkout-redesign";
  intent.backend = "aws";
  intent.operation = idempotent ? "UpdateExperimentRun" : "StartExperimentRun";
  intent.sequence = sequence;
  intent.request_digest = store_digest("POST /runs " + std::to_string(sequence));
  intent.idempotent = idempotent;
  return intent;
}

BackendRecord record_for(const std::string& experiment, const std::string& backend) {
  BackendRecord record;
  record.experiment = experiment;
  record.backend = backend;
  record.vendor = "appconfig";
  record.vendor_ids = {{"experiment_run", "7"}, {"treatment.two-step", "tr-2"}, {"ünïcode \"quoted\"", "v\n1"}};
  record.read_hint = boost::json::parse(R"({"etag":"abc","nested":{"list":[1,2.5,"x",null,true]}})").as_object();
  record.applied = boost::json::parse(R"({"status":"running","variations":[{"name":"a","weight":50}]})").as_object();
  record.applied_at = "2026-12-01T15:00:00.000Z";
  record.applied_run = "20261201T150000.000Z-0123456789abcdef";
  record.last_read = boost::json::parse(R"({"status":"running","exposure":0.25})").as_object();
  record.read_at = "2026-12-01T15:00:01.500Z";
  return record;
}

void expect_same_record(const BackendRecord& a, const BackendRecord& b) {
  EXPECT_EQ(a.experiment, b.experiment);
  EXPECT_EQ(a.backend, b.backend);
  EXPECT_EQ(a.vendor, b.vendor);
  EXPECT_EQ(a.vendor_ids, b.vendor_ids);
  EXPECT_EQ(a.read_hint, b.read_hint);
  EXPECT_EQ(a.applied, b.applied);
  EXPECT_EQ(a.applied_at, b.applied_at);
  EXPECT_EQ(a.applied_run, b.applied_run);
  EXPECT_EQ(a.last_read, b.last_read);
  EXPECT_EQ(a.read_at, b.read_at);
}

/// A failure naming this store and saying `what`.
void expect_error(const Store& store, const Error& error, ErrorCode code, const std::string& what) {
  EXPECT_EQ(error.code, code) << error.describe();
  EXPECT_NE(error.message.find(store.location()), std::string::npos) << error.describe();
  EXPECT_NE(error.message.find(what), std::string::npos) << error.describe();
}

TEST_P(StoreConformance, OpensAtThisBuildsSchemaVersion) {
  EXPECT_EQ(store_->schema_version(), kStoreSchemaVersion);
  EXPECT_FALSE(store_->location().empty());
  auto again = reopen();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->schema_version(), kStoreSchemaVersion);
}

TEST_P(StoreConformance, RunRoundTripsUntilFinished) {
  auto started = store_->begin_run(RunStart{"migrate", "conf/backends.yaml", "d1g3st"});
  ASSERT_TRUE(started) << started.error().describe();
  EXPECT_FALSE(started->id.empty());
  EXPECT_TRUE(is_rfc3339_millis(started->started_at)) << started->started_at;
  EXPECT_TRUE(started->finished_at.empty());
  EXPECT_EQ(started->command, "migrate");
  EXPECT_EQ(started->config_path, "conf/backends.yaml");
  EXPECT_EQ(started->config_digest, "d1g3st");

  auto unfinished = store_->last_unfinished_run("conf/backends.yaml");
  ASSERT_TRUE(unfinished) << unfinished.error().describe();
  ASSERT_TRUE(unfinished->has_value());
  EXPECT_EQ((*unfinished)->id, started->id);
  EXPECT_EQ((*unfinished)->started_at, started->started_at);
  EXPECT_TRUE((*unfinished)->finished_at.empty());
  EXPECT_EQ((*unfinished)->command, "migrate");
  EXPECT_EQ((*unfinished)->config_path, "conf/backends.yaml");
  EXPECT_EQ((*unfinished)->config_digest, "d1g3st");

  ASSERT_TRUE(store_->finish_run(started->id));
  auto after = store_->last_unfinished_run("conf/backends.yaml");
  ASSERT_TRUE(after) << after.error().describe();
  EXPECT_FALSE(after->has_value());
}

TEST_P(StoreConformance, RunIdsAreUniqueAndSortByStartTime) {
  std::vector<StoreRun> runs;
  for (int i = 0; i < 6; ++i) {
    runs.push_back(start_run(*store_, "backends.yaml"));
    if (i % 2 == 1) std::this_thread::sleep_for(milliseconds(3));
  }
  std::vector<std::string> ids;
  for (const auto& run : runs) ids.push_back(run.id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end()) << "two runs share an id";
  std::vector<StoreRun> by_id = runs;
  std::sort(by_id.begin(), by_id.end(), [](const StoreRun& a, const StoreRun& b) { return a.id < b.id; });
  for (std::size_t i = 1; i < by_id.size(); ++i)
    EXPECT_LE(by_id[i - 1].started_at, by_id[i].started_at) << by_id[i - 1].id << " sorts before " << by_id[i].id;
}

TEST_P(StoreConformance, LastUnfinishedRunIsTheLatestOfItsConfigPath) {
  const StoreRun a1 = start_run(*store_, "a.yaml");
  const StoreRun b1 = start_run(*store_, "b.yaml");
  const StoreRun a2 = start_run(*store_, "a.yaml");
  auto latest = [&](const std::string& path) {
    auto run = store_->last_unfinished_run(path);
    EXPECT_TRUE(run) << run.error().describe();
    return run && *run ? (*run)->id : std::string("(none)");
  };
  EXPECT_EQ(latest("a.yaml"), a2.id);
  EXPECT_EQ(latest("b.yaml"), b1.id);
  EXPECT_EQ(latest("c.yaml"), "(none)");
  ASSERT_TRUE(store_->finish_run(a2.id));
  EXPECT_EQ(latest("a.yaml"), a1.id);
  ASSERT_TRUE(store_->finish_run(a1.id));
  EXPECT_EQ(latest("a.yaml"), "(none)");
  EXPECT_EQ(latest("b.yaml"), b1.id);
}

TEST_P(StoreConformance, FinishingAnUnknownRunIsNotFound) {
  auto finished = store_->finish_run("no-such-run");
  ASSERT_FALSE(finished);
  expect_error(*store_, finished.error(), ErrorCode::not_found, "no-such-run");
}

TEST_P(StoreConformance, InputsRoundTripInPositionOrder) {
  const StoreRun run = start_run(*store_, "backends.yaml");
  const StoreRun other = start_run(*store_, "backends.yaml");
  for (std::int64_t position : {2, 0, 1}) {
    InputRecord input{run.id,
                      position,
                      "-:" + std::to_string(position + 1),
                      store_digest("line " + std::to_string(position)),
                      "exp-" + std::to_string(position),
                      position == 2};
    ASSERT_TRUE(store_->record_input(input));
  }
  ASSERT_TRUE(store_->record_input(InputRecord{other.id, 0, "updates/start.yaml", "dd", "other-exp", false}));

  auto inputs = store_->inputs(run.id);
  ASSERT_TRUE(inputs) << inputs.error().describe();
  ASSERT_EQ(inputs->size(), 3u);
  for (std::int64_t position = 0; position < 3; ++position) {
    const InputRecord& input = (*inputs)[static_cast<std::size_t>(position)];
    EXPECT_EQ(input.run_id, run.id);
    EXPECT_EQ(input.position, position);
    EXPECT_EQ(input.source, "-:" + std::to_string(position + 1));
    EXPECT_EQ(input.digest, store_digest("line " + std::to_string(position)));
    EXPECT_EQ(input.experiment, "exp-" + std::to_string(position));
    EXPECT_EQ(input.done, position == 2);
  }

  ASSERT_TRUE(store_->mark_input_done(run.id, 0));
  inputs = store_->inputs(run.id);
  ASSERT_TRUE(inputs);
  EXPECT_TRUE((*inputs)[0].done);
  EXPECT_FALSE((*inputs)[1].done);
  EXPECT_TRUE((*inputs)[2].done);

  auto others = store_->inputs(other.id);
  ASSERT_TRUE(others);
  ASSERT_EQ(others->size(), 1u);
  EXPECT_EQ((*others)[0].source, "updates/start.yaml");
  EXPECT_FALSE((*others)[0].done);
}

TEST_P(StoreConformance, InputsRefuseDuplicatesAndUnknownRuns) {
  const StoreRun run = start_run(*store_, "backends.yaml");
  ASSERT_TRUE(store_->record_input(InputRecord{run.id, 0, "a.yaml", "d0", "exp", false}));
  auto duplicate = store_->record_input(InputRecord{run.id, 0, "b.yaml", "d1", "exp", false});
  ASSERT_FALSE(duplicate);
  expect_error(*store_, duplicate.error(), ErrorCode::conflict, run.id);

  auto orphan = store_->record_input(InputRecord{"no-such-run", 0, "a.yaml", "d0", "exp", false});
  ASSERT_FALSE(orphan);
  expect_error(*store_, orphan.error(), ErrorCode::not_found, "no-such-run");

  auto missing = store_->mark_input_done(run.id, 5);
  ASSERT_FALSE(missing);
  expect_error(*store_, missing.error(), ErrorCode::not_found, run.id);

  auto negative = store_->record_input(InputRecord{run.id, -1, "a.yaml", "d0", "exp", false});
  ASSERT_FALSE(negative);
  expect_error(*store_, negative.error(), ErrorCode::invalid_input, "record_input");
  auto inputs = store_->inputs(run.id);
  ASSERT_TRUE(inputs);
  EXPECT_EQ(inputs->size(), 1u) << "a refused input is not recorded";
}

TEST_P(StoreConformance, IntentRoundTripsPendingThenWithItsOutcome) {
  const StoreRun run = start_run(*store_, "backends.yaml");
  const Intent sent = intent_for(run, 3, 1, false);
  auto id = store_->record_intent(sent);
  ASSERT_TRUE(id) << id.error().describe();
  EXPECT_GT(*id, 0);

  auto journal = store_->journal(run.id);
  ASSERT_TRUE(journal) << journal.error().describe();
  ASSERT_EQ(journal->size(), 1u);
  const Intent& pending = journal->front();
  EXPECT_EQ(pending.id, *id);
  EXPECT_EQ(pending.run_id, run.id);
  EXPECT_EQ(pending.input_position, 3);
  EXPECT_EQ(pending.input_digest, sent.input_digest);
  EXPECT_EQ(pending.experiment, "checkout-redesign");
  EXPECT_EQ(pending.backend, "aws");
  EXPECT_EQ(pending.operation, "StartExperimentRun");
  EXPECT_EQ(pending.sequence, 1);
  EXPECT_EQ(pending.request_digest, sent.request_digest);
  EXPECT_FALSE(pending.idempotent);
  EXPECT_TRUE(is_rfc3339_millis(pending.recorded_at)) << pending.recorded_at;
  EXPECT_EQ(pending.outcome, IntentOutcome::pending);
  EXPECT_EQ(pending.http_status, 0);
  EXPECT_TRUE(pending.error.empty());
  EXPECT_TRUE(pending.completed_at.empty());

  ASSERT_TRUE(store_->record_outcome(*id, IntentOutcome::failed, 409, "the run is already started"));
  journal = store_->journal(run.id);
  ASSERT_TRUE(journal);
  ASSERT_EQ(journal->size(), 1u);
  EXPECT_EQ(journal->front().outcome, IntentOutcome::failed);
  EXPECT_EQ(journal->front().http_status, 409);
  EXPECT_EQ(journal->front().error, "the run is already started");
  EXPECT_TRUE(is_rfc3339_millis(journal->front().completed_at)) << journal->front().completed_at;
  EXPECT_LE(journal->front().recorded_at, journal->front().completed_at);
  EXPECT_EQ(journal->front().request_digest, sent.request_digest) << "an outcome leaves the intent as recorded";

  // A resumed run reconciles an intent whose answer was lost: the later outcome replaces it.
  ASSERT_TRUE(store_->record_outcome(*id, IntentOutcome::reconciled_applied, 0, ""));
  journal = store_->journal(run.id);
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->front().outcome, IntentOutcome::reconciled_applied);
  EXPECT_EQ(journal->front().http_status, 0);
  EXPECT_TRUE(journal->front().error.empty());
}

TEST_P(StoreConformance, JournalListsARunsIntentsInRecordingOrder) {
  const StoreRun run = start_run(*store_, "backends.yaml");
  const StoreRun other = start_run(*store_, "other.yaml");
  std::vector<std::int64_t> ids;
  for (int sequence = 0; sequence < 4; ++sequence) {
    auto id = store_->record_intent(intent_for(run, sequence / 2, sequence % 2));
    ASSERT_TRUE(id) << id.error().describe();
    ids.push_back(*id);
    ASSERT_TRUE(store_->record_intent(intent_for(other, 0, sequence)));
  }
  ASSERT_TRUE(store_->record_outcome(ids[1], IntentOutcome::succeeded, 200, ""));
  // No error at all (a default string_view, which holds no data) is an empty one too.
  auto no_error = store_->record_outcome(ids[3], IntentOutcome::reconciled_absent, 0, std::string_view{});
  ASSERT_TRUE(no_error) << no_error.error().describe();

  auto journal = store_->journal(run.id);
  ASSERT_TRUE(journal) << journal.error().describe();
  ASSERT_EQ(journal->size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*journal)[i].id, ids[i]);
    EXPECT_EQ((*journal)[i].run_id, run.id);
    EXPECT_EQ((*journal)[i].input_position, static_cast<std::int64_t>(i / 2));
    EXPECT_EQ((*journal)[i].sequence, static_cast<int>(i % 2));
  }
  EXPECT_EQ((*journal)[0].outcome, IntentOutcome::pending);
  EXPECT_EQ((*journal)[1].outcome, IntentOutcome::succeeded);
  EXPECT_EQ((*journal)[1].http_status, 200);
  EXPECT_EQ((*journal)[2].outcome, IntentOutcome::pending);
  EXPECT_EQ((*journal)[3].outcome, IntentOutcome::reconciled_absent);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));

  auto none = store_->journal("no-such-run");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreConformance, JournalRefusesWhatCannotBeRecorded) {
  const StoreRun run = start_run(*store_, "backends.yaml");
  Intent orphan = intent_for(run, 0, 0);
  orphan.run_id = "no-such-run";
  auto unknown_run = store_->record_intent(orphan);
  ASSERT_FALSE(unknown_run);
  expect_error(*store_, unknown_run.error(), ErrorCode::not_found, "no-such-run");

  Intent answered = intent_for(run, 0, 0);
  answered.outcome = IntentOutcome::succeeded;
  auto not_pending = store_->record_intent(answered);
  ASSERT_FALSE(not_pending);
  expect_error(*store_, not_pending.error(), ErrorCode::invalid_input, "record_intent");

  Intent anonymous = intent_for(run, 0, 0);
  anonymous.backend.clear();
  auto no_backend = store_->record_intent(anonymous);
  ASSERT_FALSE(no_backend);
  expect_error(*store_, no_backend.error(), ErrorCode::invalid_input, "backend");

  auto no_intent = store_->record_outcome(987654, IntentOutcome::succeeded, 200, "");
  ASSERT_FALSE(no_intent);
  expect_error(*store_, no_intent.error(), ErrorCode::not_found, "987654");

  auto id = store_->record_intent(intent_for(run, 0, 0));
  ASSERT_TRUE(id);
  auto back_to_pending = store_->record_outcome(*id, IntentOutcome::pending, 0, "");
  ASSERT_FALSE(back_to_pending);
  expect_error(*store_, back_to_pending.error(), ErrorCode::invalid_input, "record_outcome");

  auto journal = store_->journal(run.id);
  ASSERT_TRUE(journal);
  ASSERT_EQ(journal->size(), 1u) << "refused intents are not recorded";
  EXPECT_EQ(journal->front().outcome, IntentOutcome::pending);
}

TEST_P(StoreConformance, BackendRecordRoundTripsAndIsReplaced) {
  const BackendRecord saved = record_for("checkout-redesign", "aws");
  ASSERT_TRUE(store_->save_backend(saved));
  auto loaded = store_->backend("checkout-redesign", "aws");
  ASSERT_TRUE(loaded) << loaded.error().describe();
  ASSERT_TRUE(loaded->has_value());
  expect_same_record(**loaded, saved);

  BackendRecord replaced;
  replaced.experiment = "checkout-redesign";
  replaced.backend = "aws";
  replaced.vendor = "appconfig";
  replaced.vendor_ids = {{"experiment_run", "8"}};
  replaced.applied_at = "2026-12-01T16:00:00.000Z";
  ASSERT_TRUE(store_->save_backend(replaced));
  loaded = store_->backend("checkout-redesign", "aws");
  ASSERT_TRUE(loaded && loaded->has_value());
  expect_same_record(**loaded, replaced);  // every field replaced, empty ones included

  auto missing = store_->backend("checkout-redesign", "ld");
  ASSERT_TRUE(missing) << missing.error().describe();
  EXPECT_FALSE(missing->has_value());
}

TEST_P(StoreConformance, BackendsAreOrderedByExperimentThenBackend) {
  for (const auto& [experiment, backend] : std::vector<std::pair<std::string, std::string>>{
           {"zeta", "aws"}, {"alpha", "ld"}, {"alpha", "auth0"}, {"mid", "evidently"}, {"alpha", "aws"}})
    ASSERT_TRUE(store_->save_backend(record_for(experiment, backend)));
  auto all = store_->backends();
  ASSERT_TRUE(all) << all.error().describe();
  std::vector<std::string> keys;
  for (const auto& record : *all) keys.push_back(record.experiment + "/" + record.backend);
  EXPECT_EQ(keys, (std::vector<std::string>{"alpha/auth0", "alpha/aws", "alpha/ld", "mid/evidently", "zeta/aws"}));
  expect_same_record(all->front(), record_for("alpha", "auth0"));

  auto alpha = store_->backends(std::string("alpha"));
  ASSERT_TRUE(alpha) << alpha.error().describe();
  keys.clear();
  for (const auto& record : *alpha) keys.push_back(record.experiment + "/" + record.backend);
  EXPECT_EQ(keys, (std::vector<std::string>{"alpha/auth0", "alpha/aws", "alpha/ld"}));

  auto none = store_->backends(std::string("absent"));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreConformance, HistoryIsOldestFirstPerExperiment) {
  const std::vector<HistoryEntry> entries = {
      {"2026-12-01T10:00:00.000Z", "run-1", "checkout", "aws", "UpdateExperimentRun", {"variations", "exposure"}, "ok"},
      {"2026-12-01T09:00:00.000Z", "run-0", "checkout", "ld", "PatchFlag", {}, "failed: 409 conflict"},
      {"2026-12-01T10:00:00.000Z", "run-1", "checkout", "ld", "PatchFlag", {"action.start"}, "reconciled: applied"},
      {"2026-12-01T08:00:00.000Z", "run-0", "pricing", "aws", "StartExperimentRun", {"status"}, "unchanged"},
  };
  for (const auto& entry : entries) ASSERT_TRUE(store_->add_history(entry));

  auto history = store_->history("checkout");
  ASSERT_TRUE(history) << history.error().describe();
  ASSERT_EQ(history->size(), 3u);
  // By time; entries of the same moment in the order they were added.
  const std::vector<std::size_t> expected = {1, 0, 2};
  for (std::size_t i = 0; i < 3; ++i) {
    auto fields = [](const HistoryEntry& e) {
      return std::tie(e.at, e.run_id, e.experiment, e.backend, e.operation, e.fields, e.outcome);
    };
    EXPECT_EQ(fields((*history)[i]), fields(entries[expected[i]])) << "entry " << i;
  }
  auto pricing = store_->history("pricing");
  ASSERT_TRUE(pricing);
  ASSERT_EQ(pricing->size(), 1u);
  EXPECT_EQ(pricing->front().operation, "StartExperimentRun");
  auto none = store_->history("absent");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreConformance, HistoryStampsAnEntryWithoutATime) {
  ASSERT_TRUE(
      store_->add_history(HistoryEntry{"", "run-1", "checkout", "aws", "UpdateExperimentRun", {"status"}, "ok"}));
  auto history = store_->history("checkout");
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 1u);
  EXPECT_TRUE(is_rfc3339_millis(history->front().at)) << history->front().at;
}

TEST_P(StoreConformance, TwoHandlesSeeEachOthersCommits) {
  auto other = reopen();
  ASSERT_NE(other, nullptr);
  const StoreRun run = start_run(*store_, "shared.yaml");
  auto seen = other->last_unfinished_run("shared.yaml");
  ASSERT_TRUE(seen && seen->has_value());
  EXPECT_EQ((*seen)->id, run.id);

  ASSERT_TRUE(other->record_input(InputRecord{run.id, 0, "-:1", "d", "checkout", false}));
  auto id = other->record_intent(intent_for(run, 0, 0));
  ASSERT_TRUE(id) << id.error().describe();
  auto journal = store_->journal(run.id);
  ASSERT_TRUE(journal);
  ASSERT_EQ(journal->size(), 1u);
  EXPECT_EQ(journal->front().id, *id);

  ASSERT_TRUE(store_->record_outcome(*id, IntentOutcome::succeeded, 204, ""));
  ASSERT_TRUE(store_->mark_input_done(run.id, 0));
  journal = other->journal(run.id);
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->front().outcome, IntentOutcome::succeeded);
  auto inputs = other->inputs(run.id);
  ASSERT_TRUE(inputs && inputs->size() == 1u);
  EXPECT_TRUE(inputs->front().done);

  ASSERT_TRUE(other->save_backend(record_for("checkout", "aws")));
  ASSERT_TRUE(other->add_history(HistoryEntry{"", run.id, "checkout", "aws", "UpdateExperimentRun", {}, "ok"}));
  auto record = store_->backend("checkout", "aws");
  ASSERT_TRUE(record && record->has_value());
  expect_same_record(**record, record_for("checkout", "aws"));
  auto history = store_->history("checkout");
  ASSERT_TRUE(history);
  EXPECT_EQ(history->size(), 1u);

  ASSERT_TRUE(other->finish_run(run.id));
  seen = store_->last_unfinished_run("shared.yaml");
  ASSERT_TRUE(seen);
  EXPECT_FALSE(seen->has_value());
}

TEST_P(StoreConformance, ARecordIsReadAsItIsNowWhoeverChangedIt) {
  // A backend may keep what it read or wrote (a cache until another connection commits, say):
  // whatever it keeps, a read answers with what the store holds now, whoever wrote it and
  // whether or not the transaction that wrote it committed.
  auto other = reopen();
  ASSERT_NE(other, nullptr);
  auto read = [&]() {
    auto record = store_->backend("checkout", "aws");
    EXPECT_TRUE(record && record->has_value()) << (record ? "no record" : record.error().describe());
    return record && *record ? **record : BackendRecord{};
  };
  EXPECT_TRUE(store_->backend("checkout", "aws") && !store_->backend("checkout", "aws")->has_value());
  BackendRecord first = record_for("checkout", "aws");
  ASSERT_TRUE(other->save_backend(first));
  expect_same_record(read(), first);  // absent a moment ago, in this handle

  BackendRecord second = first;
  second.read_hint = boost::json::parse(R"({"etag":"second"})").as_object();
  ASSERT_TRUE(other->save_backend(second));
  expect_same_record(read(), second);

  StoreWrites applied;
  applied.applied = {AppliedState{"checkout", "aws", "appconfig", boost::json::parse(R"({"status":"stopped"})").as_object(),
                                  "2026-12-01T17:00:00.000Z", "run-3"}};
  ASSERT_TRUE(other->write(applied));
  EXPECT_EQ(read().applied, applied.applied.front().applied) << "another handle's applied state";

  applied.applied.front().applied_run = "run-4";
  ASSERT_TRUE(store_->write(applied));
  EXPECT_EQ(read().applied_run, "run-4") << "this handle's own applied state";

  StoreWrites refused;
  BackendRecord third = second;
  third.read_hint = boost::json::parse(R"({"etag":"rolled back"})").as_object();
  refused.backends = {third};
  refused.outcomes = {OutcomeRecord{424242, IntentOutcome::succeeded, 200, ""}};  // no such intent
  ASSERT_FALSE(store_->write(refused));
  EXPECT_EQ(read().read_hint, second.read_hint) << "a record of a batch that rolled back";

  // Refused after the record was written in the transaction: an intent of no run.
  refused.outcomes.clear();
  StoreRun no_run;
  no_run.id = "no-such-run";
  Intent orphan = intent_for(no_run, 0, 0);
  ASSERT_FALSE(store_->record_intents(std::vector<Intent>{orphan}, refused));
  EXPECT_EQ(read().read_hint, second.read_hint) << "a record written before its batch failed and rolled back";
}

TEST_P(StoreConformance, AnAppliedStateOfARecordReadAsAbsentIsReadBack) {
  // Read as absent first, so that a backend keeping what it read has the absence to forget.
  auto before = store_->backend("checkout", "aws");
  ASSERT_TRUE(before && !before->has_value());
  StoreWrites applied;
  applied.applied = {AppliedState{"checkout", "aws", "appconfig", boost::json::parse(R"({"status":"running"})").as_object(),
                                  "2026-12-01T21:00:00.000Z", "run-1"}};
  ASSERT_TRUE(store_->write(applied));
  auto after = store_->backend("checkout", "aws");
  ASSERT_TRUE(after && after->has_value()) << (after ? "no record" : after.error().describe());
  EXPECT_EQ((*after)->applied, applied.applied.front().applied);
  EXPECT_EQ((*after)->applied_run, "run-1");
  EXPECT_EQ((*after)->vendor, "appconfig");
  EXPECT_TRUE((*after)->read_hint.empty());
}

TEST_P(StoreConformance, ErrorsNameTheStoreAndTheOperation) {
  auto empty = store_->begin_run(RunStart{"", "backends.yaml", "d"});
  ASSERT_FALSE(empty);
  expect_error(*store_, empty.error(), ErrorCode::invalid_input, "begin_run");
  auto no_path = store_->last_unfinished_run("");
  ASSERT_FALSE(no_path);
  expect_error(*store_, no_path.error(), ErrorCode::invalid_input, "config path");
  auto no_experiment = store_->lock_experiment("");
  ASSERT_FALSE(no_experiment);
  expect_error(*store_, no_experiment.error(), ErrorCode::invalid_input, "lock_experiment");
}

TEST_P(StoreConformance, IntentsCommitTogetherWithTheWritesWaiting) {
  const StoreRun run = start_run(*store_, "backends.yaml");
  auto earlier = store_->record_intent(intent_for(run, 0, 0));
  ASSERT_TRUE(earlier) << earlier.error().describe();

  StoreWrites waiting;
  waiting.inputs = {InputRecord{run.id, 1, "-:2", store_digest("input 1"), "checkout-redesign", false}};
  waiting.outcomes = {OutcomeRecord{*earlier, IntentOutcome::succeeded, 200, ""}};
  waiting.backends = {record_for("checkout-redesign", "aws")};
  const std::vector<Intent> fan_out = {intent_for(run, 1, 0, false), intent_for(run, 1, 1)};
  auto ids = store_->record_intents(fan_out, waiting);
  ASSERT_TRUE(ids) << ids.error().describe();
  ASSERT_EQ(ids->size(), 2u);
  EXPECT_LT((*ids)[0], (*ids)[1]) << "ids in the order given";

  auto journal = store_->journal(run.id);
  ASSERT_TRUE(journal) << journal.error().describe();
  ASSERT_EQ(journal->size(), 3u);
  EXPECT_EQ((*journal)[0].outcome, IntentOutcome::succeeded);
  EXPECT_EQ((*journal)[1].id, (*ids)[0]);
  EXPECT_EQ((*journal)[1].operation, "StartExperimentRun");
  EXPECT_EQ((*journal)[2].outcome, IntentOutcome::pending);
  auto inputs = store_->inputs(run.id);
  ASSERT_TRUE(inputs);
  ASSERT_EQ(inputs->size(), 1u);
  EXPECT_EQ(inputs->front().source, "-:2");
  auto record = store_->backend("checkout-redesign", "aws");
  ASSERT_TRUE(record && *record);
  expect_same_record(**record, record_for("checkout-redesign", "aws"));
}

TEST_P(StoreConformance, ABatchWithOneFailingWriteCommitsNothing) {
  const StoreRun run = start_run(*store_, "backends.yaml");
  StoreWrites writes;
  writes.inputs = {InputRecord{run.id, 0, "-:1", store_digest("input 0"), "checkout-redesign", false}};
  writes.history = {HistoryEntry{"", run.id, "checkout-redesign", "aws", "StartExperimentRun", {"status"}, "ok"}};
  writes.outcomes = {OutcomeRecord{987654, IntentOutcome::succeeded, 200, ""}};  // no such intent
  auto refused = store_->record_intents(std::vector<Intent>{intent_for(run, 0, 0)}, writes);
  ASSERT_FALSE(refused) << "an outcome of no intent was accepted";
  expect_error(*store_, refused.error(), ErrorCode::not_found, "987654");
  auto written = store_->write(writes);
  ASSERT_FALSE(written);
  expect_error(*store_, written.error(), ErrorCode::not_found, "987654");

  auto journal = store_->journal(run.id);
  ASSERT_TRUE(journal);
  EXPECT_TRUE(journal->empty()) << "an intent of a failed batch was committed";
  auto inputs = store_->inputs(run.id);
  ASSERT_TRUE(inputs);
  EXPECT_TRUE(inputs->empty()) << "an input of a failed batch was committed";
  auto history = store_->history("checkout-redesign");
  ASSERT_TRUE(history);
  EXPECT_TRUE(history->empty()) << "a history entry of a failed batch was committed";
  // And the store still takes writes: the failed transaction was rolled back, not left open.
  writes.outcomes.clear();
  EXPECT_TRUE(store_->write(writes));
}

TEST_P(StoreConformance, BatchesRefuseWhatTheirSingleCallsRefuse) {
  const StoreRun run = start_run(*store_, "backends.yaml");
  Intent answered = intent_for(run, 0, 0);
  answered.outcome = IntentOutcome::succeeded;
  auto refused = store_->record_intents(std::vector<Intent>{answered});
  ASSERT_FALSE(refused);
  expect_error(*store_, refused.error(), ErrorCode::invalid_input, "pending");
  StoreWrites writes;
  writes.outcomes = {OutcomeRecord{1, IntentOutcome::pending, 0, ""}};
  auto written = store_->write(writes);
  ASSERT_FALSE(written);
  expect_error(*store_, written.error(), ErrorCode::invalid_input, "pending is not an outcome");
  writes.outcomes.clear();
  writes.applied = {AppliedState{"", "aws", "appconfig", {}, "", ""}};
  written = store_->write(writes);
  ASSERT_FALSE(written);
  expect_error(*store_, written.error(), ErrorCode::invalid_input, "experiment");
}

TEST_P(StoreConformance, AnAppliedStateKeepsWhatReadsLearnt) {
  ASSERT_TRUE(store_->save_backend(record_for("checkout-redesign", "aws")));
  StoreWrites writes;
  const auto applied = boost::json::parse(R"({"status":"stopped"})").as_object();
  writes.applied = {AppliedState{"checkout-redesign", "aws", "appconfig", applied, "2026-12-01T16:00:00.000Z", "run-2"},
                    AppliedState{"pricing-page", "ld", "launchdarkly", applied, "2026-12-01T16:00:00.000Z", "run-2"}};
  ASSERT_TRUE(store_->write(writes));

  auto kept = store_->backend("checkout-redesign", "aws");
  ASSERT_TRUE(kept && *kept);
  BackendRecord expected = record_for("checkout-redesign", "aws");
  expected.applied = applied;
  expected.applied_at = "2026-12-01T16:00:00.000Z";
  expected.applied_run = "run-2";
  expect_same_record(**kept, expected);

  auto created = store_->backend("pricing-page", "ld");
  ASSERT_TRUE(created && *created) << "an applied state of no record creates it";
  EXPECT_EQ((*created)->vendor, "launchdarkly");
  EXPECT_EQ((*created)->applied, applied);
  EXPECT_TRUE((*created)->read_hint.empty());
  EXPECT_TRUE((*created)->last_read.empty());
  EXPECT_TRUE((*created)->vendor_ids.empty());
}

TEST_P(StoreConformance, TryLockNeverWaits) {
  options_.busy_timeout = milliseconds(2000);
  auto other = reopen();
  ASSERT_NE(other, nullptr);
  auto held = store_->try_lock_experiment("checkout-redesign");
  ASSERT_TRUE(held) << held.error().describe();
  ASSERT_TRUE(*held) << "a free lock was not taken";
  const auto start = steady_clock::now();
  auto busy = other->try_lock_experiment("checkout-redesign");
  ASSERT_TRUE(busy) << busy.error().describe();
  EXPECT_FALSE(*busy) << "two handles held the same experiment's lock";
  EXPECT_LT(steady_clock::now() - start, milliseconds(1000)) << "try_lock waited";
  auto different = other->try_lock_experiment("pricing-page");
  ASSERT_TRUE(different);
  EXPECT_TRUE(*different);
  held->reset();
  auto after = other->try_lock_experiment("checkout-redesign");
  ASSERT_TRUE(after);
  EXPECT_TRUE(*after) << "a released lock stayed held";
}

TEST_P(StoreConformance, LockOfTheSameExperimentWaitsThenTimesOut) {
  options_.busy_timeout = milliseconds(300);
  auto other = reopen();
  ASSERT_NE(other, nullptr);
  auto held = store_->lock_experiment("checkout-redesign");
  ASSERT_TRUE(held) << held.error().describe();

  const auto start = steady_clock::now();
  auto refused = other->lock_experiment("checkout-redesign");
  const auto waited = steady_clock::now() - start;
  ASSERT_FALSE(refused) << "two handles held the same experiment's lock";
  expect_error(*other, refused.error(), ErrorCode::unavailable, "checkout-redesign");
  EXPECT_GE(waited, milliseconds(250)) << "it did not wait for the busy timeout";
  EXPECT_LT(waited, milliseconds(5000)) << "it waited far past the busy timeout";

  const auto start_other = steady_clock::now();
  auto different = other->lock_experiment("pricing-page");
  EXPECT_TRUE(different) << different.error().describe();
  EXPECT_LT(steady_clock::now() - start_other, milliseconds(250)) << "a different experiment waited";
}

TEST_P(StoreConformance, LockIsReleasedWhenDestroyed) {
  options_.busy_timeout = milliseconds(200);
  auto other = reopen();
  ASSERT_NE(other, nullptr);
  {
    auto held = store_->lock_experiment("checkout-redesign");
    ASSERT_TRUE(held) << held.error().describe();
    Store::ExperimentLock moved = std::move(*held);  // the lock travels with its holder
    EXPECT_FALSE(other->lock_experiment("checkout-redesign")) << "a moved lock was released";
  }
  auto again = other->lock_experiment("checkout-redesign");
  EXPECT_TRUE(again) << again.error().describe();
}

TEST_P(StoreConformance, LockWaitsForItsRelease) {
  options_.busy_timeout = milliseconds(5000);
  auto other = reopen();
  ASSERT_NE(other, nullptr);
  auto held = store_->lock_experiment("checkout-redesign");
  ASSERT_TRUE(held) << held.error().describe();
  std::optional<Store::ExperimentLock> holding(std::move(*held));
  std::thread releaser([&] {
    std::this_thread::sleep_for(milliseconds(150));
    holding.reset();
  });
  const auto start = steady_clock::now();
  auto waited_for = other->lock_experiment("checkout-redesign");
  const auto waited = steady_clock::now() - start;
  releaser.join();
  ASSERT_TRUE(waited_for) << waited_for.error().describe();
  EXPECT_GE(waited, milliseconds(100)) << "the lock was granted while still held";
  EXPECT_LT(waited, milliseconds(4000));
}

}  // namespace
}  // namespace expbridge::test
