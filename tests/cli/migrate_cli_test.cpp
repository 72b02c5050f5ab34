// `expbridge migrate` as a user runs it, against the vendor emulators: the text plan with its loss
// report, the refusal of a loss not accepted (exit 1, nothing sent), --accept-loss, the JSON
// report, --write-config, and input refused before anything is sent (exit 2).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "support/cli_sandbox.hpp"
#include "support/emulated_vendors.hpp"

namespace expbridge {
namespace {

using test::CliRun;
using test::EmulatedVendors;

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

class MigrateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    // Run 1 of each AppConfig definition done: a new run can start, with the definition changed first.
    vendors_.restart(EmulatedVendors::fixture(EmulatedVendors::Run::done));
    test::ApplyConfigOptions options;
    options.pin_run = false;
    sandbox_.write("config.yaml", "# the emulators\n" + vendors_.config(options));
  }
  CliRun run(const std::string& args) { return sandbox_.run("migrate -c config.yaml " + args, "", env_); }
  std::size_t changes(const std::string& backend) const { return vendors_.api_requests(backend).size(); }

  EmulatedVendors vendors_;
  std::map<std::string, std::string> env_ = test::apply_test_environment();
  test::CliSandbox sandbox_{"migrate-cli"};
};

TEST_F(MigrateCli, APlanPrintsWhatWouldBeSentAndWhatIsLostAndSendsNothing) {
  const CliRun r = run("--from ev --to aws checkout-redesign");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "migrate ev -> aws: plan")) << r.out;
  EXPECT_TRUE(has(r.out, "checkout-redesign: converge at aws (bound in the config)")) << r.out;
  EXPECT_TRUE(has(r.out, "not sent")) << r.out;
  EXPECT_TRUE(has(r.out, "--apply refuses it: lost field(s) not accepted: variations")) << r.out;
  EXPECT_TRUE(has(r.out, "what carries over:")) << r.out;
  EXPECT_TRUE(has(r.out, "lost       variations: ")) << r.out;
  EXPECT_EQ(changes("aws"), 0u);
}

TEST_F(MigrateCli, ApplyRefusesALossNotAcceptedAndProceedsWhenItIs) {
  const CliRun refused = run("--from ev --to aws checkout-redesign --apply");
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_TRUE(has(refused.out, "refused, nothing sent: lost field(s) not accepted: variations")) << refused.out;
  EXPECT_EQ(changes("aws"), 0u) << "nothing sent for a refused experiment";

  const CliRun applied = run("--from ev --to aws checkout-redesign --apply --accept-loss variations --format json");
  EXPECT_EQ(applied.exit_code, 0) << applied.out << applied.err;
  boost::system::error_code ec;
  auto report = boost::json::parse(applied.out, ec);
  ASSERT_FALSE(ec) << applied.out;
  const auto& experiment = report.at("experiments").at(0);
  EXPECT_EQ(experiment.at("way"), "converge");
  EXPECT_EQ(experiment.at("ok"), true);
  EXPECT_GT(experiment.at("target").at("requests").as_array().size(), 0u);
  bool name_lost = false;
  for (const auto& f : report.at("losses").at("fields").as_array())
    name_lost = name_lost || (f.at("field") == "variations" && f.at("carriage") == "lost");
  EXPECT_TRUE(name_lost) << applied.out;
  const std::size_t after = changes("aws");
  EXPECT_GT(after, 0u);

  const CliRun again =
      sandbox_.run("-vv migrate -c config.yaml --from ev --to aws checkout-redesign --apply --accept-loss variations", "",
                   env_);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(changes("aws"), after) << "a finished migration re-run sends nothing:\n" << again.out;
  for (const auto& secret : vendors_.secrets()) {
    EXPECT_FALSE(has(applied.out + applied.err, secret)) << "a secret in the output";
    EXPECT_FALSE(has(again.out + again.err, secret)) << "a secret in the -vv output";
  }
}

TEST_F(MigrateCli, AnInterruptedMigrationRunAgainSendsOnlyWhatIsLeft) {
  // AppConfig starts the run and the answer is lost: the outcome is unknown, the run unsettled.
  vendors_.set_faults(R"([{"vendor": "appconfig", "method": "POST", "path_prefix": "/applications/",
                          "apply_then_drop": true, "times": 1}])");
  const CliRun dropped = run("--from ev --to aws checkout-redesign --apply --accept-loss variations");
  EXPECT_EQ(dropped.exit_code, 1) << dropped.out << dropped.err;
  EXPECT_TRUE(has(dropped.out, "unsettled")) << dropped.out;
  auto starts = [&] {
    std::size_t n = 0;
    for (const auto& r : vendors_.api_requests("aws")) n += r.method == "POST" ? 1 : 0;
    return n;
  };
  EXPECT_EQ(starts(), 1u);
  // Run again: the read finds the run started, so StartExperimentRun (not idempotent) is not resent.
  const CliRun again = run("--from ev --to aws checkout-redesign --apply --accept-loss variations");
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(has(again.out, "already as asked")) << again.out;
  EXPECT_EQ(starts(), 1u) << "never started twice";
  // The interrupted migration is no run `apply --resume` continues.
  const CliRun resume = sandbox_.run("apply -c config.yaml --resume", "", env_);
  EXPECT_EQ(resume.exit_code, 2) << resume.out << resume.err;
  EXPECT_TRUE(has(resume.err, "nothing to resume")) << resume.err;
}

TEST_F(MigrateCli, WriteConfigWritesANewFileAndNeverTheInput) {
  const CliRun same = run("--from ev --to aws checkout-redesign --write-config config.yaml");
  EXPECT_EQ(same.exit_code, 2) << same.out << same.err;
  EXPECT_TRUE(has(same.err, "--write-config")) << same.err;
  EXPECT_TRUE(has(test::CliSandbox::slurp(sandbox_.path("config.yaml")), "# the emulators")) << "input untouched";

  const CliRun written = run("--from ev --to aws checkout-redesign --write-config migrated.yaml");
  EXPECT_EQ(written.exit_code, 0) << written.out << written.err;
  EXPECT_TRUE(has(written.err, "wrote migrated.yaml")) << written.err;
  EXPECT_TRUE(has(written.err, "comments are not kept")) << written.err;
  // The written config loads: a plan with it works.
  const CliRun reread = sandbox_.run("migrate -c migrated.yaml --from ev --to aws checkout-redesign --no-state", "", env_);
  EXPECT_EQ(reread.exit_code, 0) << reread.out << reread.err;
}

TEST_F(MigrateCli, BadInputIsRefusedWithExitTwoAndNothingSent) {
  const CliRun unknown_target = run("--from ld --to nowhere checkout-redesign");
  EXPECT_EQ(unknown_target.exit_code, 2) << unknown_target.err;
  EXPECT_TRUE(has(unknown_target.err, "nowhere")) << unknown_target.err;
  const CliRun unknown_source = run("--from missing-folder --to aws checkout-redesign");
  EXPECT_EQ(unknown_source.exit_code, 2) << unknown_source.err;
  EXPECT_TRUE(has(unknown_source.err, "neither a backend")) << unknown_source.err;
  const CliRun neither = run("--from ld --to aws");
  EXPECT_EQ(neither.exit_code, 2) << neither.err;
  const CliRun unknown_experiment = run("--from ld --to aws nope");
  EXPECT_EQ(unknown_experiment.exit_code, 2) << unknown_experiment.err;
  EXPECT_EQ(vendors_.total_requests(), 0u);
}

}  // namespace
}  // namespace expbridge
