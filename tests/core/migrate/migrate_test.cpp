// migrate's core against the counting test vendor and a scripted HTTP client: a plan sends no
// mutating request, --apply creates and records the binding, a re-run sends nothing, losses fail
// closed unless accepted, a create that needs a missing resource sends nothing, an import folder
// as the source, and a create whose answer never came is not sent again.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include <boost/asio/awaitable.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "expbridge/migrate.hpp"
#include "expbridge/store.hpp"
#include "expbridge/update.hpp"
#include "support/collected_migration.hpp"
#include "support/counting_adapter.hpp"
#include "support/scripted_http_client.hpp"

namespace expbridge {
namespace {

namespace fs = std::filesystem;
using test::CountingVendor;
using test::HttpScript;
using test::ScriptedReply;

constexpr std::string_view kSource = "https://src.example.test";
constexpr std::string_view kTarget = "https://dst.example.test";
constexpr std::string_view kTarget2 = "https://dst2.example.test";

using test::CollectedMigration;

std::string dump(const CollectedMigration& r) { return r.dump(); }

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// Requests that change something (not GETs) that reached the target.
std::size_t target_changes(const HttpScript& http) {
  return http.count("POST", kTarget) + http.count("PATCH", kTarget) + http.count("PUT", kTarget) +
         http.count("DELETE", kTarget);
}

// Counts the requests in flight at once on the wire side of the Applier's client.
struct InFlight {
  int now = 0;
  int most = 0;
};

class InFlightClient : public http::HttpClient {
 public:
  InFlightClient(std::unique_ptr<http::HttpClient> inner, std::shared_ptr<InFlight> counts)
      : inner_(std::move(inner)), counts_(std::move(counts)) {}
  boost::asio::awaitable<Result<http::Response>> send(http::Request request) override {
    counts_->most = std::max(counts_->most, ++counts_->now);
    auto answer = co_await inner_->send(std::move(request));
    --counts_->now;
    co_return answer;
  }

 private:
  std::unique_ptr<http::HttpClient> inner_;
  std::shared_ptr<InFlight> counts_;
};

class Migrate : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    dir_ = fs::temp_directory_path() / ("expbridge-migrate-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    vendor_ = CountingVendor::make();
    // The source holds exp (running, exposure 40); the target answers creates with id d1.
    http_->on("GET", std::string(kSource) + "/experiments/s1",
              {ScriptedReply::json(200, R"({"description": "Two-step", "exposure": 40, "status": "running"})")});
    http_->on("POST", std::string(kTarget) + "/experiments", {ScriptedReply::json(201, R"({"id": "d1"})")});
    http_->on("POST", std::string(kTarget) + "/experiments/d1/start", {ScriptedReply::json(201)});
    // What the target holds once created (read by a re-run).
    http_->on("GET", std::string(kTarget) + "/experiments/d1",
              {ScriptedReply::json(200, R"({"description": "Two-step", "exposure": 40, "status": "running"})")});
    http_->on("GET", std::string(kTarget) + "/flags/f", {ScriptedReply::json(200, R"({"key": "f"})")});
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string config(std::string_view target_binding = "") const {
    std::string text = "backends:\n"
                       "  src: {vendor: counting, endpoint: \"" + std::string(kSource) + "\", retry_base_ms: 1, attempts: 2" +
                       src_settings_ + "}\n" +
                       "  dst: {vendor: counting, endpoint: \"" + std::string(kTarget) + "\", retry_base_ms: 1, attempts: 2, timeout_ms: 300" +
                       dst_settings_ + "}\n" +
                       (two_targets_ ? "  dst2: {vendor: counting, endpoint: \"" + std::string(kTarget2) +
                                           "\", retry_base_ms: 1, attempts: 2, timeout_ms: 300}\n"
                                     : std::string()) +
                       "experiments:\n"
                       "  exp:\n"
                       "    src: {id: s1}\n";
    if (!target_binding.empty()) text += "    dst: " + std::string(target_binding) + "\n";
    for (int i = 1; i <= extra_experiments_; ++i) text += "  e" + std::to_string(i) + ":\n    src: {id: s1}\n";
    return text;
  }

  Store& store() {
    if (!store_) {
      auto opened = Store::open(StoreOptions{(dir_ / "state.db").string()});
      if (!opened) throw std::runtime_error(opened.error().describe());
      store_ = std::move(*opened);
    }
    return *store_;
  }

  Result<CollectedMigration> run(MigrateOptions options, std::string_view target_binding = "", bool with_store = true) {
    const std::string text = config(target_binding);
    auto bridge = Bridge::from_text(text, (dir_ / "backends.yaml").string(), vendor_->bridge_options());
    if (!bridge) return std::unexpected(bridge.error());
    if (options.to.empty()) options.to = {"dst"};
    if (options.from.empty()) options.from = "src";
    if (options.experiments.empty() && !options.all) options.experiments = {"exp"};
    options.bridge_options = vendor_->bridge_options();
    options.config_text = text;
    options.apply_options.http_client = http_->factory();
    if (in_flight_)
      options.apply_options.http_client = [scripted = http_->factory(), counts = in_flight_](boost::asio::io_context& io) {
        return std::make_unique<InFlightClient>(scripted(io), counts);
      };
    options.apply_options.store = with_store ? &store() : nullptr;
    options.apply_options.run = RunStart{"migrate", (dir_ / "backends.yaml").string(), store_digest(text)};
    return test::migrate_collected(*bridge, options);
  }

  MigrateOptions applying(std::vector<std::string> accept = {}) const {
    MigrateOptions o;
    o.apply = true;
    o.accept_loss = std::move(accept);
    return o;
  }

  /// An import folder holding `documents` (key → YAML) and, when given, bindings.yaml and loss-report.json.
  std::string folder(const std::map<std::string, std::string>& documents, const std::string& bindings = "",
                     const std::string& losses = "") const {
    const fs::path out = dir_ / "imported";
    fs::create_directories(out);
    for (const auto& [key, text] : documents) std::ofstream(out / (key + ".yaml")) << text;
    if (!bindings.empty()) std::ofstream(out / "bindings.yaml") << bindings;
    if (!losses.empty()) std::ofstream(out / "loss-report.json") << losses;
    return out.string();
  }

  /// Added to src's and dst's settings (`, max_in_flight: 8`).
  std::string src_settings_, dst_settings_;
  /// More experiments bound at src (e1 ... eN, all reading s1).
  int extra_experiments_ = 0;
  /// When set, counts the requests in flight at once.
  std::shared_ptr<InFlight> in_flight_;
  /// A second target, dst2, beside dst.
  bool two_targets_ = false;
  fs::path dir_;
  std::shared_ptr<CountingVendor> vendor_;
  std::shared_ptr<HttpScript> http_ = HttpScript::make();
  std::unique_ptr<Store> store_;
};

TEST(MigrationUpdate, StatusBecomesTheActionThatLeadsToIt) {
  Experiment e;
  e.experiment = "x";
  e.description = "d";
  e.result = ExperimentResult{"b", "won", std::nullopt, std::nullopt};
  const std::vector<std::pair<std::optional<ExperimentStatus>, std::optional<Action>>> cases = {
      {ExperimentStatus::running, Action::start}, {ExperimentStatus::stopped, Action::stop},
      {ExperimentStatus::archived, Action::archive}, {ExperimentStatus::paused, Action::pause},
      {ExperimentStatus::draft, std::nullopt}, {std::nullopt, std::nullopt}};
  for (const auto& [status, action] : cases) {
    e.status = status;
    const Update u = update_from_state(e);
    EXPECT_EQ(u.action, action) << (status ? to_string(*status) : "no status");
    EXPECT_EQ(u.description, e.description);
    // A result goes only with stop: validate_update would refuse it otherwise.
    EXPECT_EQ(u.result.has_value(), status == ExperimentStatus::stopped);
    EXPECT_TRUE(validate_update(u)) << validate_update(u).error().describe();
  }
}

TEST(MigrationUpdate, AnImportedDocumentsActionIsTheSourcesStatus) {
  auto parse = [](std::string_view text) { return state_from_update(*parse_update(text, "x.yaml")); };
  EXPECT_EQ(parse("experiment: x\naction: start\n").status, ExperimentStatus::running);
  EXPECT_EQ(parse("experiment: x\naction: stop\nresult: {summary: done}\n").status, ExperimentStatus::stopped);
  EXPECT_EQ(parse("experiment: x\n").status, ExperimentStatus::draft);
  EXPECT_EQ(parse("experiment: x\nexposure: 30\n").exposure, 30);
}

TEST_F(Migrate, APlanSendsNoMutatingRequestAndShowsTheCreate) {
  auto report = run(MigrateOptions{});
  ASSERT_TRUE(report) << report.error().describe();
  ASSERT_EQ(report->experiments.size(), 1u);
  const auto& e = report->experiments.front();
  EXPECT_TRUE(e.ok()) << dump(*report);
  EXPECT_EQ(e.way, ExperimentMigration::Way::create);
  EXPECT_EQ(target_changes(*http_), 0u) << "a plan creates nothing";
  EXPECT_EQ(http_->count("GET", kSource), 1u) << "the source is read";
  ASSERT_EQ(e.target.requests.size(), 1u) << dump(*report);
  EXPECT_EQ(e.target.requests[0].request.operation, "CreateExperiment");
  EXPECT_FALSE(e.target.requests[0].sent);
  ASSERT_EQ(e.then.size(), 1u);
  EXPECT_NE(e.then[0].find("StartExperiment"), std::string::npos);
  // The exposure is converted, and the report says how.
  auto exposure = std::find_if(report->losses.fields.begin(), report->losses.fields.end(),
                               [](const FieldCarriage& f) { return f.field == "exposure"; });
  ASSERT_NE(exposure, report->losses.fields.end());
  EXPECT_EQ(exposure->carriage, Carriage::converted);
  EXPECT_EQ(exposure->from, "40 %");
  EXPECT_EQ(exposure->to, "40000 thousandths");
  EXPECT_EQ(exposure->source, "backend src");
  EXPECT_TRUE(store().backends()->empty() || !store().backend("exp", "dst").value()) << "a plan records no binding";
  EXPECT_EQ(e.target.result, BackendOutcome::skipped) << "planned, not sent";
  // The text: the create's first creating request, its then-line, what carries over.
  const std::string text = report->text();
  EXPECT_NE(text.find("exp: create at dst"), std::string::npos) << text;
  EXPECT_NE(text.find("not sent"), std::string::npos) << text;
  EXPECT_NE(text.find("CreateExperiment"), std::string::npos) << text;
  EXPECT_NE(text.find("then: StartExperiment"), std::string::npos) << text;
  EXPECT_NE(text.find("converted  exposure  40 % → 40000 thousandths (counting.exposure_thousandths)  [backend src]"),
            std::string::npos)
      << text;
  const auto json = migration_entry_to_json(e);
  EXPECT_EQ(json.at("way"), "create");
  EXPECT_EQ(json.at("target"), "dst");
  EXPECT_EQ(json.at("then").at(0).as_string(), e.then[0]);
  EXPECT_EQ(json.at("losses").as_array().size(), e.losses.fields.size());
}

TEST_F(Migrate, ApplyCreatesRecordsTheBindingAndAReRunSendsNothing) {
  auto first = run(applying());
  ASSERT_TRUE(first) << first.error().describe();
  ASSERT_TRUE(first->ok()) << dump(*first);
  const auto& created = first->experiments.front();
  ASSERT_TRUE(created.binding) << dump(*first);
  EXPECT_EQ(boost::json::serialize(*created.binding), R"({"id":"d1"})");
  EXPECT_EQ(http_->count("POST", std::string(kTarget) + "/experiments/d1/start"), 1u) << "running at the source: started";
  EXPECT_EQ(target_changes(*http_), 2u) << "one create, one start";
  auto record = store().backend("exp", "dst");
  ASSERT_TRUE(record && *record);
  EXPECT_EQ((*record)->vendor_ids.at(std::string(kCreatedBindingId)), R"({"id":"d1"})");
  EXPECT_FALSE((*record)->vendor_ids.contains(std::string(kCreatePendingId)));
  EXPECT_FALSE(store().last_unfinished_run((dir_ / "backends.yaml").string()).value()) << "the run finished";

  auto again = run(applying());
  ASSERT_TRUE(again) << again.error().describe();
  ASSERT_TRUE(again->ok()) << dump(*again);
  const auto& rerun = again->experiments.front();
  EXPECT_EQ(rerun.way, ExperimentMigration::Way::converge);
  EXPECT_TRUE(rerun.binding_from_store);
  EXPECT_EQ(rerun.target.result, BackendOutcome::unchanged) << dump(*again);
  EXPECT_EQ(target_changes(*http_), 2u) << "a finished migration re-run sends nothing";
  EXPECT_EQ(http_->count("GET", std::string(kTarget) + "/experiments/d1"), 1u) << "the re-run read the target";
}

TEST_F(Migrate, ConvergesIntoABindingTheConfigHolds) {
  http_->on("GET", std::string(kTarget) + "/experiments/t9",
            {ScriptedReply::json(200, R"({"description": "Old", "exposure": 40, "status": "running"})")});
  http_->on("PATCH", std::string(kTarget) + "/experiments/t9", {ScriptedReply::json(200)});
  auto plan = run(MigrateOptions{}, "{id: t9}");
  ASSERT_TRUE(plan) << plan.error().describe();
  const auto& planned = plan->experiments.front();
  EXPECT_EQ(planned.way, ExperimentMigration::Way::converge);
  ASSERT_EQ(planned.target.requests.size(), 1u) << dump(*plan);
  EXPECT_EQ(planned.target.requests[0].request.operation, "SetDescription");
  EXPECT_TRUE(contains(planned.target.unchanged, "exposure"));
  EXPECT_EQ(target_changes(*http_), 0u);

  auto applied = run(applying(), "{id: t9}");
  ASSERT_TRUE(applied && applied->ok()) << (applied ? dump(*applied) : applied.error().describe());
  EXPECT_EQ(http_->count("PATCH", std::string(kTarget) + "/experiments/t9"), 1u);
  EXPECT_EQ(target_changes(*http_), 1u) << "only what differs";
}

TEST_F(Migrate, ALostFieldRefusesWithoutAcceptLossAndProceedsWithIt) {
  const std::string dir = folder(
      {{"exp", "experiment: exp\nname: Checkout\ndescription: Two-step\nexposure: 40\naction: start\n"
               "variations:\n  - {key: control, control: true, weight: 50}\n"
               "  - {key: two-step, weight: 50, description: new flow}\n"}},
      "experiments:\n  exp:\n    source: {vendor: evidently, project: p, feature: f}\n    create: {flag: f}\n",
      R"({"fields": [{"experiment": "exp", "field": "evidently.metricGoals", "carriage": "lost",
                      "reason": "the neutral model has no metrics", "source": "exports/exp.json:3"},
                     {"experiment": "exp", "field": "variations[0].weight", "carriage": "converted",
                      "rule": "evidently.weights_thousandths", "from": "50000 thousandths", "to": "50 %"}]})");
  MigrateOptions refused = applying({"name"});
  refused.from = dir;
  auto first = run(refused);
  ASSERT_TRUE(first) << first.error().describe();
  const auto& e = first->experiments.front();
  EXPECT_TRUE(e.refused) << dump(*first);
  EXPECT_FALSE(first->ok());
  EXPECT_EQ(e.unaccepted_losses, (std::vector<std::string>{"evidently.metricGoals", "variations[1].description"}))
      << dump(*first);
  EXPECT_EQ(http_->total(), 0u) << "nothing is sent for a refused experiment, not even the flag's read";
  // The import's own entries come first (source stage), with their file position.
  ASSERT_FALSE(first->losses.fields.empty());
  EXPECT_EQ(first->losses.fields.front().source, "exports/exp.json:3");

  MigrateOptions accepted = applying({"name", "variations", "evidently"});
  accepted.from = dir;
  auto second = run(accepted);
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_TRUE(second->ok()) << dump(*second);
  EXPECT_EQ(http_->count("GET", std::string(kTarget) + "/flags/f"), 1u) << "the create checked the import's flag";
  EXPECT_EQ(http_->count("POST", std::string(kTarget) + "/experiments"), 2u) << "created (and started)";
  const auto& body = http_->received()[1].request.body;
  EXPECT_NE(body.find("\"exposure_thousandths\":40000"), std::string::npos) << body;
}

TEST_F(Migrate, ACreateThatNeedsAMissingFlagSendsNothingAndTheOthersProceed) {
  http_->on("GET", std::string(kTarget) + "/flags/gone", {ScriptedReply::json(404, R"({"message": "no flag"})")});
  const std::string dir = folder({{"a-exp", "experiment: a-exp\ndescription: one\n"},
                                  {"b-exp", "experiment: b-exp\ndescription: two\n"}},
                                 "experiments:\n  a-exp:\n    create: {flag: gone}\n");
  MigrateOptions options = applying();
  options.from = dir;
  options.all = true;
  auto report = run(options);
  ASSERT_TRUE(report) << report.error().describe();
  ASSERT_EQ(report->experiments.size(), 2u);
  const auto& missing = report->experiments[0];
  EXPECT_EQ(missing.experiment, "a-exp");
  ASSERT_TRUE(missing.target.error) << dump(*report);
  EXPECT_EQ(missing.target.error->code, ErrorCode::not_found);
  EXPECT_NE(missing.target.error->message.find("flag gone"), std::string::npos);
  EXPECT_FALSE(missing.ok());
  EXPECT_TRUE(report->experiments[1].ok()) << dump(*report);
  EXPECT_EQ(http_->count("POST", kTarget), 1u) << "only b-exp was created";
  EXPECT_NE(http_->received().back().request.body.find("b-exp"), std::string::npos);
  EXPECT_FALSE(report->ok());
}

TEST_F(Migrate, ACreateWhoseAnswerNeverCameIsNotSentAgain) {
  http_->on("POST", std::string(kTarget) + "/experiments",
            {ScriptedReply::fail(ErrorCode::unavailable, "connection lost after the request was written", true)});
  auto first = run(applying());
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_FALSE(first->ok());
  EXPECT_TRUE(first->experiments.front().unsettled) << dump(*first);
  EXPECT_EQ(http_->count("POST", std::string(kTarget) + "/experiments"), 1u) << "not retried: it may have arrived";
  auto record = store().backend("exp", "dst");
  ASSERT_TRUE(record && *record);
  EXPECT_TRUE((*record)->vendor_ids.contains(std::string(kCreatePendingId)));

  auto again = run(applying());
  ASSERT_TRUE(again) << again.error().describe();
  const auto& e = again->experiments.front();
  ASSERT_TRUE(e.error) << dump(*again);
  EXPECT_EQ(e.error->code, ErrorCode::conflict);
  EXPECT_NE(e.error->message.find("pending"), std::string::npos) << e.error->message;
  EXPECT_EQ(http_->count("POST", std::string(kTarget) + "/experiments"), 1u) << "never created twice";
}

TEST_F(Migrate, ACreateTheVendorRefusedCanBeRunAgain) {
  http_->on("POST", std::string(kTarget) + "/experiments",
            {ScriptedReply::json(400, R"({"code": "bad", "message": "refused"})"), ScriptedReply::json(201, R"({"id": "d1"})")});
  auto first = run(applying());
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_FALSE(first->ok());
  auto record = store().backend("exp", "dst");
  ASSERT_TRUE(record && *record);
  EXPECT_FALSE((*record)->vendor_ids.contains(std::string(kCreatePendingId))) << "a definite refusal clears the mark";
  auto again = run(applying());
  ASSERT_TRUE(again && again->ok()) << (again ? dump(*again) : again.error().describe());
  const std::size_t starts = http_->count("POST", std::string(kTarget) + "/experiments/d1/start");
  EXPECT_EQ(starts, 1u);
  EXPECT_EQ(http_->count("POST", std::string(kTarget) + "/experiments") - starts, 2u) << "refused, then created";
}

TEST_F(Migrate, ACreateFromABackendSourceTakesTheConfigsPartialBindingAndItsBindingReplacesIt) {
  auto report = run(applying(), "{create: {flag: f}}", /*with_store=*/false);
  ASSERT_TRUE(report && report->ok()) << (report ? dump(*report) : report.error().describe());
  // The flag the config named was looked up before the create.
  EXPECT_EQ(http_->count("GET", std::string(kTarget) + "/flags/f"), 1u);
  EXPECT_EQ(target_changes(*http_), 2u);  // the create and its start, once each
  ASSERT_EQ(report->created_bindings().size(), 1u);
  auto written = config_with_bindings(config("{create: {flag: f}}"), "backends.yaml", "dst", report->created_bindings());
  ASSERT_TRUE(written) << written.error().describe();
  EXPECT_EQ(written->find("create"), std::string::npos) << *written;
  auto reloaded = Bridge::from_text(*written, "written.yaml", vendor_->bridge_options());
  ASSERT_TRUE(reloaded) << reloaded.error().describe() << "\n" << *written;
  EXPECT_EQ(reloaded->bound_backends("exp"), (std::vector<std::string>{"src", "dst"}));
}

TEST_F(Migrate, WithoutAStoreTheBindingIsInTheReportOnly) {
  auto report = run(applying(), "", /*with_store=*/false);
  ASSERT_TRUE(report && report->ok()) << (report ? dump(*report) : report.error().describe());
  ASSERT_EQ(report->created_bindings().size(), 1u);
  auto written = config_with_bindings(config(), "backends.yaml", "dst", report->created_bindings());
  ASSERT_TRUE(written) << written.error().describe();
  auto reloaded = Bridge::from_text(*written, "written.yaml", vendor_->bridge_options());
  ASSERT_TRUE(reloaded) << reloaded.error().describe() << "\n" << *written;
  EXPECT_EQ(reloaded->bound_backends("exp"), (std::vector<std::string>{"src", "dst"}));
}

TEST_F(Migrate, BadInputIsRefusedBeforeAnythingIsSent) {
  MigrateOptions unknown_target;
  unknown_target.to = {"nowhere"};
  auto r1 = run(unknown_target);
  ASSERT_FALSE(r1);
  EXPECT_NE(r1.error().message.find("nowhere"), std::string::npos);
  MigrateOptions unknown_experiment;
  unknown_experiment.experiments = {"nope"};
  auto r2 = run(unknown_experiment);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, ErrorCode::not_found);
  const std::string dir = folder({{"exp", "experiment: exp\n"}}, "experiments:\n  exp:\n    creat: {flag: f}\n");
  MigrateOptions typo;
  typo.from = dir;
  auto r3 = run(typo);
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error().field, "experiments.exp.creat");
  EXPECT_NE(r3.error().file.find("bindings.yaml"), std::string::npos);
  EXPECT_EQ(r3.error().line, 3);
  EXPECT_EQ(http_->total(), 0u);
}

TEST_F(Migrate, ABrokenImportFolderIsRefusedNamingTheFileAndPosition) {
  struct Case {
    std::map<std::string, std::string> documents;
    std::string bindings, losses;
    std::string file, field;
    int line;
  };
  const std::vector<Case> cases = {
      {{{"exp", "experiment: exp\n"}}, "experiments:\n  nope:\n    create: {flag: f}\n", "", "bindings.yaml",
       "experiments.nope", 2},
      {{{"exp", "experiment: exp\n"}}, "", R"({"fields": [{"experiment": "exp", "field": "x", "carriage": "gone"}]})",
       "loss-report.json", "fields[0].carriage", 1},
      {{{"exp", "experiment: exp\n"}}, "", R"({"fields": [{"experiment": "exp", "field": "x", "carriage": "lost", "why": "?"}]})",
       "loss-report.json", "fields[0].why", 1},
  };
  for (const auto& c : cases) {
    fs::remove_all(dir_ / "imported");
    MigrateOptions options;
    options.from = folder(c.documents, c.bindings, c.losses);
    options.experiments = {"exp"};
    auto report = run(options);
    ASSERT_FALSE(report) << c.file << ": " << dump(*report);
    const Error& e = report.error();
    EXPECT_EQ(e.code, ErrorCode::invalid_input) << e.describe();
    EXPECT_NE(e.file.find(c.file), std::string::npos) << e.describe();
    if (!c.field.empty()) {
      EXPECT_EQ(e.field, c.field) << e.describe();
    }
    if (c.line > 0) {
      EXPECT_EQ(e.line, c.line) << e.describe();
    }
  }
  EXPECT_EQ(http_->total(), 0u) << "nothing sent for a folder that does not read";
}

// A document is parsed when its turn comes: one that does not parse fails its entry, naming the
// file and position, and the others proceed.
TEST_F(Migrate, ABrokenDocumentFailsItsEntryNamingTheFileAndTheOthersProceed) {
  struct Case {
    std::string document, field;
    int line;
  };
  const std::vector<Case> cases = {{"experiment: exp\ndescription: [unclosed\n", "", 3},
                                   {"experiment: other\n", "experiment", 0}};
  for (const auto& c : cases) {
    fs::remove_all(dir_ / "imported");
    MigrateOptions options = applying();
    options.from = folder({{"exp", c.document}, {"fine", "experiment: fine\ndescription: ok\n"}});
    options.all = true;
    auto report = run(options, "", /*with_store=*/false);
    ASSERT_TRUE(report) << report.error().describe();
    ASSERT_EQ(report->experiments.size(), 2u) << dump(*report);
    const auto& broken = report->experiments[0];
    EXPECT_EQ(broken.experiment, "exp");
    ASSERT_TRUE(broken.error) << dump(*report);
    EXPECT_EQ(broken.error->code, ErrorCode::invalid_input) << broken.error->describe();
    EXPECT_NE(broken.error->file.find("exp.yaml"), std::string::npos) << broken.error->describe();
    if (!c.field.empty()) {
      EXPECT_EQ(broken.error->field, c.field) << broken.error->describe();
    }
    if (c.line > 0) {
      EXPECT_EQ(broken.error->line, c.line) << broken.error->describe();
    }
    EXPECT_TRUE(report->experiments[1].ok()) << dump(*report);
    EXPECT_EQ(report->report.summary.failed, 1);
    EXPECT_EQ(report->report.summary.ok, 1);
    EXPECT_FALSE(report->ok());
  }
  EXPECT_EQ(http_->count("POST", std::string(kTarget) + "/experiments"), 2u) << "only `fine` was created, once a case";
  for (const auto& r : http_->received())
    if (r.request.method == "POST") {
      EXPECT_EQ(r.request.body.find("\"exp\""), std::string::npos) << r.request.body;
    }
}


// Experiments' creates overlap up to --parallel (the pacer allowing it), each is created once,
// and the entries come out in input order although the first create answers last.
TEST_F(Migrate, ParallelOverlapsExperimentsAndReportsThemInInputOrder) {
  dst_settings_ = ", concurrency: fixed, max_in_flight: 8";
  std::map<std::string, std::string> documents;
  std::vector<std::string> keys;
  for (int i = 0; i < 12; ++i) {
    const std::string key = "k" + std::string(i < 10 ? "0" : "") + std::to_string(i);
    documents[key] = "experiment: " + key + "\ndescription: Two-step\n";
    keys.push_back(key);
  }
  const std::string dir = folder(documents);
  for (const int parallel : {1, 8}) {
    // The first create is slow, the others quick: with overlap, they finish before it.
    http_->on("POST", std::string(kTarget) + "/experiments",
              {ScriptedReply::json(201, R"({"id": "d1"})").after(std::chrono::milliseconds(150)),
               ScriptedReply::json(201, R"({"id": "d1"})").after(std::chrono::milliseconds(20))});
    in_flight_ = std::make_shared<InFlight>();
    MigrateOptions options = applying();
    options.from = dir;
    options.all = true;
    options.parallel = parallel;
    std::int64_t seen = 0;
    options.sink = [&](const ExperimentMigration&, const MigrationReport& so_far) {
      EXPECT_EQ(so_far.summary.entries, ++seen) << "the summary so far counts the entry";
      EXPECT_EQ(so_far.entries_expected, 12);
    };
    const std::size_t before = http_->count("POST", std::string(kTarget) + "/experiments");
    auto report = run(options, "", /*with_store=*/false);
    ASSERT_TRUE(report) << report.error().describe();
    EXPECT_TRUE(report->ok()) << dump(*report);
    std::vector<std::string> order;
    for (const auto& e : report->experiments) order.push_back(e.experiment);
    EXPECT_EQ(order, keys) << "entries in input order, parallel " << parallel;
    EXPECT_EQ(report->report.summary.created, 12);
    EXPECT_EQ(http_->count("POST", std::string(kTarget) + "/experiments") - before, 12u) << "each created once";
    if (parallel == 1) {
      EXPECT_EQ(in_flight_->most, 1) << "one experiment at a time";
    } else {
      EXPECT_GT(in_flight_->most, 1) << "experiments overlap on the wire";
    }
  }
}

// A backend source is read on the same loop: its reads overlap too, paced by its own budget.
TEST_F(Migrate, ASourceBackendIsReadOverlappingWithParallel) {
  src_settings_ = ", concurrency: fixed, max_in_flight: 8";
  extra_experiments_ = 8;
  http_->on("GET", std::string(kSource) + "/experiments/s1",
            {ScriptedReply::json(200, R"({"description": "Two-step", "exposure": 40, "status": "running"})")
                 .after(std::chrono::milliseconds(40))});
  std::vector<std::string> sequential;
  for (const int parallel : {1, 8}) {
    in_flight_ = std::make_shared<InFlight>();
    MigrateOptions options;
    options.all = true;
    options.parallel = parallel;
    auto report = run(options);
    ASSERT_TRUE(report) << report.error().describe();
    EXPECT_TRUE(report->ok()) << dump(*report);
    ASSERT_EQ(report->experiments.size(), 9u);
    std::vector<std::string> order;
    for (const auto& e : report->experiments) order.push_back(e.experiment);
    if (parallel == 1) {
      sequential = order;
      EXPECT_EQ(in_flight_->most, 1);
    } else {
      EXPECT_EQ(order, sequential) << "the same input order";
      EXPECT_GT(in_flight_->most, 1) << "source reads overlap";
    }
    EXPECT_EQ(target_changes(*http_), 0u) << "a plan";
    EXPECT_TRUE(std::any_of(report->report.pacing.begin(), report->report.pacing.end(),
                            [](const BackendPacing& b) { return b.backend == "src"; }))
        << "the source's pacing is reported";
  }
  EXPECT_EQ(http_->count("GET", std::string(kSource) + "/experiments/s1"), 18u) << "each experiment read once a run";
}

// Two targets in one run: an entry per experiment and target, each created once at each (counted
// on the wire), the bindings kept for --write-config; a re-run sends nothing anywhere.
TEST_F(Migrate, TwoTargetsInOneRunAreEachCreatedOnceAndAReRunSendsNothing) {
  two_targets_ = true;
  http_->on("POST", std::string(kTarget2) + "/experiments", {ScriptedReply::json(201, R"({"id": "e1"})")});
  http_->on("POST", std::string(kTarget2) + "/experiments/e1/start", {ScriptedReply::json(201)});
  http_->on("GET", std::string(kTarget2) + "/experiments/e1",
            {ScriptedReply::json(200, R"({"description": "Two-step", "exposure": 40, "status": "running"})")});
  const std::string document = "description: Two-step\nexposure: 40\naction: start\n";
  MigrateOptions options = applying({"exposure"});
  options.from = folder({{"a-exp", "experiment: a-exp\n" + document}, {"b-exp", "experiment: b-exp\n" + document}});
  options.all = true;
  options.to = {"dst", "dst2"};
  options.parallel = 4;
  auto first = run(options);
  ASSERT_TRUE(first) << first.error().describe();
  ASSERT_TRUE(first->ok()) << dump(*first);
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& e : first->experiments) entries.emplace_back(e.experiment, e.target.backend);
  EXPECT_EQ(entries, (std::vector<std::pair<std::string, std::string>>{
                         {"a-exp", "dst"}, {"a-exp", "dst2"}, {"b-exp", "dst"}, {"b-exp", "dst2"}}));
  EXPECT_EQ(first->report.summary.experiments, 2);
  EXPECT_EQ(first->report.summary.entries, 4);
  EXPECT_EQ(first->report.summary.created, 4);
  for (const auto& [target, id] : {std::pair{kTarget, "d1"}, std::pair{kTarget2, "e1"}}) {
    EXPECT_EQ(http_->count("POST", std::string(target) + "/experiments/" + id + "/start"), 2u) << target;
    EXPECT_EQ(http_->count("POST", std::string(target) + "/experiments"), 4u) << target << ": two creates, two starts";
  }
  EXPECT_EQ(first->created_bindings("dst").size(), 2u);
  EXPECT_EQ(first->created_bindings("dst2").size(), 2u);
  for (const auto& e : first->experiments) {
    EXPECT_TRUE(std::any_of(e.losses.fields.begin(), e.losses.fields.end(),
                            [&](const FieldCarriage& f) { return f.field == "exposure" && f.experiment == e.experiment; }))
        << "each entry carries its own losses: " << dump(*first);
  }
  const std::size_t sent = http_->total();

  auto again = run(options);
  ASSERT_TRUE(again) << again.error().describe();
  ASSERT_TRUE(again->ok()) << dump(*again);
  for (const auto& e : again->experiments) {
    EXPECT_EQ(e.way, ExperimentMigration::Way::converge) << e.experiment << " at " << e.target.backend;
    EXPECT_TRUE(e.binding_from_store);
  }
  EXPECT_EQ(again->report.summary.unchanged, 4);
  EXPECT_EQ(target_changes(*http_), 4u) << "nothing more at dst";
  EXPECT_EQ(http_->count("POST", kTarget2) + http_->count("PATCH", kTarget2) + http_->count("PUT", kTarget2), 4u)
      << "nothing more at dst2";
  EXPECT_EQ(http_->total() - sent, 4u) << "the re-run sent one read per entry, nothing else";
}

// A loss is refused per target: the target that cannot hold the variations sends nothing, the
// other, which loses only what was accepted, proceeds.
TEST_F(Migrate, EachTargetRefusesItsOwnLossesAndTheOtherProceeds) {
  two_targets_ = true;
  http_->on("GET", std::string(kTarget) + "/experiments/t9",
            {ScriptedReply::json(200, R"({"description": "Old", "exposure": 40, "status": "running"})")});
  http_->on("PATCH", std::string(kTarget) + "/experiments/t9", {ScriptedReply::json(200)});
  http_->on("POST", std::string(kTarget2) + "/experiments", {ScriptedReply::json(201, R"({"id": "e1"})")});
  MigrateOptions options = applying({"variations[1].description"});
  options.from = folder({{"exp", "experiment: exp\ndescription: Two-step\n"
                                 "variations:\n  - {key: control, control: true, weight: 50}\n"
                                 "  - {key: two-step, weight: 50, description: new flow}\n"}});
  options.to = {"dst", "dst2"};
  auto report = run(options, "{id: t9}");
  ASSERT_TRUE(report) << report.error().describe();
  ASSERT_EQ(report->experiments.size(), 2u) << dump(*report);
  const auto& converging = report->experiments[0];
  const auto& creating = report->experiments[1];
  EXPECT_EQ(converging.target.backend, "dst");
  EXPECT_TRUE(converging.refused) << dump(*report);
  EXPECT_EQ(converging.unaccepted_losses, (std::vector<std::string>{"variations"})) << dump(*report);
  EXPECT_EQ(target_changes(*http_), 0u) << "refused at dst: nothing sent there";
  EXPECT_EQ(creating.target.backend, "dst2");
  EXPECT_TRUE(creating.ok()) << dump(*report);
  EXPECT_TRUE(creating.binding) << dump(*report);
  EXPECT_EQ(http_->count("POST", std::string(kTarget2) + "/experiments"), 1u) << "created at dst2";
  EXPECT_EQ(report->report.summary.refused, 1);
  EXPECT_EQ(report->report.summary.ok, 1);
  EXPECT_FALSE(report->ok());
  const std::string text = report->text();
  EXPECT_NE(text.find("imported -> dst, dst2: applied"), std::string::npos) << text;
  EXPECT_NE(text.find("1 ok, 0 failed, 1 refused"), std::string::npos) << text;
}

TEST_F(Migrate, ParallelOutOfRangeIsRefusedBeforeAnythingIsSent) {
  for (const int parallel : {0, 257, -3}) {
    MigrateOptions options = applying();
    options.parallel = parallel;
    auto report = run(options);
    ASSERT_FALSE(report) << parallel;
    EXPECT_EQ(report.error().code, ErrorCode::invalid_input);
    EXPECT_EQ(report.error().field, "--parallel");
    EXPECT_NE(report.error().message.find("1..256"), std::string::npos) << report.error().describe();
  }
  EXPECT_EQ(http_->total(), 0u);
}

}  // namespace
}  // namespace expbridge
