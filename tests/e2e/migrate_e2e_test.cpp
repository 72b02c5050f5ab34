// End to end, `migrate` against the four vendor emulators: converging an experiment the target
// already binds (Evidently → AppConfig, LaunchDarkly → AppConfig, AppConfig → LaunchDarkly, any →
// Auth0), and creating one the target does not bind, which runs where the target's adapter can
// create and skips, with the adapter's own answer, where it cannot yet. What reached the vendors
// is counted at the emulators' wire journal.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <boost/json/serialize.hpp>

#include "expbridge/migrate.hpp"
#include "expbridge/store.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"
#include "support/collected_migration.hpp"
#include "support/emulated_vendors.hpp"

namespace expbridge {
namespace {

namespace fs = std::filesystem;
using test::EmulatedVendors;

using test::CollectedMigration;

std::string dump(const CollectedMigration& r) { return r.dump(); }

class MigrateE2e {
 public:
  /// `run`: what run 1 of each AppConfig definition is. RUNNING, its definition cannot change;
  /// DONE, neither can its description (a run's), but a new run can start.
  explicit MigrateE2e(EmulatedVendors::Run run = EmulatedVendors::Run::running) {
    vendors_.restart(EmulatedVendors::fixture(run));
    static int counter = 0;
    dir_ = fs::temp_directory_path() / ("expbridge-migrate-e2e-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(++counter));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto opened = Store::open(StoreOptions{(dir_ / "state.db").string()});
    if (!opened) throw std::runtime_error(opened.error().describe());
    store_ = std::move(*opened);
  }
  ~MigrateE2e() {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  /// The emulators' config (AppConfig's current run followed, as a migration that starts one needs).
  std::string config() const {
    test::ApplyConfigOptions options;
    options.pin_run = false;
    return vendors_.config(options);
  }

  Result<CollectedMigration> run(const std::string& config_text, MigrateOptions options) {
    auto bridge = Bridge::from_text(config_text, (dir_ / "config.yaml").string());
    if (!bridge) return std::unexpected(bridge.error());
    options.config_text = config_text;
    auto environment = test::apply_test_environment();
    options.apply_options.environment = [environment](std::string_view name) -> std::optional<std::string> {
      auto it = environment.find(std::string(name));
      if (it == environment.end()) return std::nullopt;
      return it->second;
    };
    options.apply_options.store = store_.get();
    options.apply_options.run = RunStart{"migrate", (dir_ / "config.yaml").string(), store_digest(config_text)};
    return test::migrate_collected(*bridge, options);
  }

  std::size_t changes_at(const std::string& backend) const { return vendors_.api_requests(backend).size(); }
  Store& store() { return *store_; }
  const fs::path& dir() const { return dir_; }
  EmulatedVendors& vendors() { return vendors_; }

 private:
  EmulatedVendors vendors_;
  fs::path dir_;
  std::unique_ptr<Store> store_;
};

struct Pair {
  std::string from, to;
  EmulatedVendors::Run run = EmulatedVendors::Run::running;
  bool start_source = false;  ///< start the experiment at the source first
};
std::string pair_name(const ::testing::TestParamInfo<Pair>& info) { return info.param.from + "_to_" + info.param.to; }

class ConvergingMigration : public ::testing::TestWithParam<Pair> {};

// The plan sends nothing mutating and names the losses; --apply with them accepted converges the
// target; a re-run sends nothing.
TEST_P(ConvergingMigration, PlansAppliesWithTheLossesAcceptedAndReRunsToNothing) {
  const Pair pair = GetParam();
  MigrateE2e e2e(pair.run);
  const std::string config = e2e.config();
  if (pair.start_source) {
    auto bridge = Bridge::from_text(config, "config.yaml");
    ASSERT_TRUE(bridge) << bridge.error().describe();
    ApplyOptions options;
    options.plan.backends = {pair.from};
    auto environment = test::apply_test_environment();
    options.environment = [environment](std::string_view name) -> std::optional<std::string> {
      auto it = environment.find(std::string(name));
      return it == environment.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto applier = Applier::create(*bridge, options);
    ASSERT_TRUE(applier) << applier.error().describe();
    auto start = parse_update("experiment: checkout-redesign\naction: start\n", "start.yaml");
    ASSERT_TRUE(start);
    auto started = applier->apply(*start);
    ASSERT_TRUE(started.ok()) << write_json(report_to_json(started));
  }
  MigrateOptions plan;
  plan.from = pair.from;
  plan.to = {pair.to};
  plan.experiments = {"checkout-redesign"};
  auto planned = e2e.run(config, plan);
  ASSERT_TRUE(planned) << planned.error().describe();
  ASSERT_EQ(planned->experiments.size(), 1u);
  const ExperimentMigration& p = planned->experiments.front();
  ASSERT_TRUE(p.ok()) << dump(*planned);
  EXPECT_EQ(p.way, ExperimentMigration::Way::converge);
  EXPECT_EQ(e2e.changes_at(pair.to), 0u) << "a plan changes nothing";
  for (const auto& lost : p.unaccepted_losses)
    EXPECT_TRUE(std::any_of(planned->losses.fields.begin(), planned->losses.fields.end(), [&](const FieldCarriage& f) {
      return f.field == lost && f.carriage == Carriage::lost && !f.reason.empty();
    })) << lost << " is lost with a reason";

  MigrateOptions refused = plan;
  refused.apply = true;
  if (!p.unaccepted_losses.empty()) {
    auto without = e2e.run(config, refused);
    ASSERT_TRUE(without) << without.error().describe();
    EXPECT_TRUE(without->experiments.front().refused) << dump(*without);
    EXPECT_EQ(e2e.changes_at(pair.to), 0u) << "refused: nothing sent";
  }

  MigrateOptions apply = refused;
  apply.accept_loss = p.unaccepted_losses;
  auto applied = e2e.run(config, apply);
  ASSERT_TRUE(applied) << applied.error().describe();
  ASSERT_TRUE(applied->ok()) << dump(*applied);
  const std::size_t after = e2e.changes_at(pair.to);

  auto again = e2e.run(config, apply);
  ASSERT_TRUE(again) << again.error().describe();
  ASSERT_TRUE(again->ok()) << dump(*again);
  EXPECT_EQ(e2e.changes_at(pair.to), after) << "a finished migration re-run sends nothing:\n" << dump(*again);
  EXPECT_TRUE(again->experiments.front().target.requests.empty()) << dump(*again);
}

INSTANTIATE_TEST_SUITE_P(Emulators, ConvergingMigration,
                         ::testing::Values(Pair{"ev", "aws", EmulatedVendors::Run::done},
                                           Pair{"ld", "aws", EmulatedVendors::Run::done, true}, Pair{"aws", "ld"},
                                           Pair{"ld", "a0"}, Pair{"aws", "a0"}, Pair{"ev", "a0"}),
                         pair_name);

// Creating at a target that has no binding, from an import folder holding one new experiment
// and the partial binding that target's create needs (the flag it runs on, and the vendor's own).
struct CreateCase {
  std::string to;
  std::string create;  ///< `bindings.yaml`'s `create:` block, YAML flow members
};
std::string create_name(const ::testing::TestParamInfo<CreateCase>& info) { return info.param.to; }

/// An import folder of one running experiment, with the create members the case's target needs.
void write_import_folder(const fs::path& folder, const CreateCase& c) {
  fs::create_directories(folder);
  std::ofstream(folder / "checkout-migrated.yaml")
      << "experiment: checkout-migrated\nname: Checkout migrated\ndescription: Two-step checkout, migrated\n"
         "hypothesis: Fewer steps raise conversion\n"
         "audience: {rule: '(eq $country \"US\")'}\n"
         "variations:\n  - {key: control, control: true, weight: 50, value: {enabled: false}}\n"
         "  - {key: two-step, weight: 50, value: {enabled: true}}\nexposure: 20\naction: start\n";
  std::ofstream(folder / "bindings.yaml")
      << "experiments:\n  checkout-migrated:\n"
         "    source: {vendor: evidently, project: checkout, feature: checkout-migrated}\n"
         "    create: {" << c.create << "}\n";
}

class CreatingMigration : public ::testing::TestWithParam<CreateCase> {};

TEST_P(CreatingMigration, CreatesRecordsTheBindingAndReRunsToNothing) {
  MigrateE2e e2e;
  const CreateCase c = GetParam();
  const std::string config = e2e.config();
  const fs::path folder = e2e.dir() / "imported";
  write_import_folder(folder, c);
  // The adapter's own answer decides whether this target can create yet.
  auto bridge = Bridge::from_text(config, "config.yaml");
  ASSERT_TRUE(bridge) << bridge.error().describe();
  const BackendInfo* target = nullptr;
  for (const auto& b : bridge->backends())
    if (b.name == c.to) target = &b;
  ASSERT_NE(target, nullptr);
  auto folder_read = open_import_folder(folder.string());
  ASSERT_TRUE(folder_read) << folder_read.error().describe();
  ASSERT_EQ(folder_read->keys(), (std::vector<std::string>{"checkout-migrated"}));
  auto loaded = folder_read->load("checkout-migrated");
  ASSERT_TRUE(loaded) << loaded.error().describe();
  const FolderExperiment& imported = *loaded;
  auto probe = target->adapter->create(CreateSpec{"checkout-migrated", &imported.state, &imported.create}, {});
  if (!probe && probe.error().code == ErrorCode::unsupported)
    GTEST_SKIP() << "needs Adapter::create of " << target->vendor << " (" << probe.error().message << ")";
  ASSERT_TRUE(probe) << probe.error().describe();

  MigrateOptions plan;
  plan.from = folder.string();
  plan.to = {c.to};
  plan.all = true;
  auto planned = e2e.run(config, plan);
  ASSERT_TRUE(planned) << planned.error().describe();
  EXPECT_EQ(planned->experiments.front().way, ExperimentMigration::Way::create);
  EXPECT_EQ(e2e.changes_at(c.to), 0u) << "a plan creates nothing";

  MigrateOptions apply = plan;
  apply.apply = true;
  apply.accept_loss = planned->experiments.front().unaccepted_losses;
  auto applied = e2e.run(config, apply);
  ASSERT_TRUE(applied) << applied.error().describe();
  ASSERT_TRUE(applied->ok()) << dump(*applied);
  ASSERT_TRUE(applied->experiments.front().binding) << dump(*applied);
  auto record = e2e.store().backend("checkout-migrated", c.to);
  ASSERT_TRUE(record && *record);
  EXPECT_TRUE((*record)->vendor_ids.contains(std::string(kCreatedBindingId)));
  const std::size_t after = e2e.changes_at(c.to);

  auto again = e2e.run(config, apply);
  ASSERT_TRUE(again) << again.error().describe();
  ASSERT_TRUE(again->ok()) << dump(*again);
  EXPECT_EQ(again->experiments.front().way, ExperimentMigration::Way::converge);
  EXPECT_TRUE(again->experiments.front().binding_from_store);
  EXPECT_EQ(e2e.changes_at(c.to), after) << "a finished migration re-run sends nothing:\n" << dump(*again);
}

// The vendor makes the experiment and the connection drops before its answer: the store keeps a
// pending create, and the next run looks for what it made (`CreateSpec::find_existing`) instead
// of creating it a second time or refusing. Counted on the wire: one creating request in all.
TEST_P(CreatingMigration, ACreateWhoseAnswerWasLostIsFoundByTheNextRunNotSentAgain) {
  MigrateE2e e2e;
  const CreateCase c = GetParam();
  const std::string config = e2e.config();
  const fs::path folder = e2e.dir() / "imported";
  write_import_folder(folder, c);
  // The creating request of each vendor: the first POST to the experiments' collection.
  const std::map<std::string, std::pair<std::string, std::string>> creates = {
      {"aws", {"appconfig", "/applications/"}},
      {"ld", {"launchdarkly", "/api/v2/projects/"}},
      {"a0", {"auth0", "/api/v2/experimentation/experiments"}}};
  const auto& [vendor, prefix] = creates.at(c.to);
  auto creating = [&, prefix = prefix] {
    std::size_t n = 0;
    for (const auto& r : e2e.vendors().api_requests(c.to)) {
      const std::string path = r.target.substr(0, r.target.find('?'));
      if (r.method == "POST" && path.starts_with(prefix) &&
          (path.ends_with("/experimentdefinitions") || path.ends_with("/experiments")))
        ++n;
    }
    return n;
  };
  e2e.vendors().set_faults(R"([{"vendor": ")" + vendor + R"(", "method": "POST", "path_prefix": ")" + prefix +
                           R"(", "apply_then_drop": true, "times": 1}])");
  MigrateOptions apply;
  apply.from = folder.string();
  apply.to = {c.to};
  apply.all = true;
  apply.apply = true;
  MigrateOptions plan = apply;
  plan.apply = false;
  auto planned = e2e.run(config, plan);
  ASSERT_TRUE(planned) << planned.error().describe();
  apply.accept_loss = planned->experiments.front().unaccepted_losses;
  auto lost = e2e.run(config, apply);
  ASSERT_TRUE(lost) << lost.error().describe();
  EXPECT_FALSE(lost->ok()) << "the create's answer was dropped\n" << dump(*lost);
  EXPECT_EQ(creating(), 1u) << "the vendor received (and applied) the create";
  e2e.vendors().set_faults("[]");
  // The cut-short run stays unfinished in the store until a later one settles what it left.
  auto left = e2e.store().last_unfinished_run((e2e.dir() / "config.yaml").string());
  ASSERT_TRUE(left && *left) << "the run with the lost answer was finished";
  const std::string cut_short = (*left)->id;

  auto again = e2e.run(config, apply);
  ASSERT_TRUE(again) << again.error().describe();
  ASSERT_TRUE(again->ok()) << dump(*again);
  ASSERT_TRUE(again->experiments.front().binding) << dump(*again);
  EXPECT_EQ(creating(), 1u) << "the next run found the experiment and created none\n" << dump(*again);
  auto record = e2e.store().backend("checkout-migrated", c.to);
  ASSERT_TRUE(record && *record);
  EXPECT_TRUE((*record)->vendor_ids.contains(std::string(kCreatedBindingId)));
  EXPECT_FALSE((*record)->vendor_ids.contains(std::string(kCreatePendingId))) << "the pending mark is cleared";
  EXPECT_EQ(again->report.finished_earlier_runs, std::vector<std::string>{cut_short}) << dump(*again);
  auto still = e2e.store().last_unfinished_run((e2e.dir() / "config.yaml").string());
  ASSERT_TRUE(still);
  EXPECT_FALSE(*still) << "run " << (*still)->id << " is still unfinished";
}

INSTANTIATE_TEST_SUITE_P(
    Emulators, CreatingMigration,
    ::testing::Values(CreateCase{"aws", "flag: checkout-redesign, configuration_profile: prf5678, environment: production"},
                      CreateCase{"ld", "flag: checkout-redesign, metric: checkout-conversion"},
                      CreateCase{"a0", "flag: flg_8kTz3Wq, variations: {control: var_2xQa, two-step: var_9bZk}"}),
    create_name);

}  // namespace
}  // namespace expbridge
