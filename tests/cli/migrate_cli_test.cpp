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
  EXPECT_EQ(experiment.at("target"), "aws");
  EXPECT_GT(experiment.at("report").at("requests").as_array().size(), 0u);
  EXPECT_EQ(report.at("to"), boost::json::array{"aws"});
  EXPECT_EQ(report.at("ok"), true);
  EXPECT_EQ(report.at("summary").at("entries"), 1);
  EXPECT_EQ(report.at("summary").at("converged"), 1);
  EXPECT_EQ(report.at("summary").at("failed"), 0);
  EXPECT_GT(report.at("summary").at("requests_sent").as_int64(), 0);
  EXPECT_TRUE(report.at("summary").at("rate_limit_waits").as_object().contains("aws")) << applied.out;
  bool name_lost = false;
  for (const auto& f : experiment.at("losses").as_array())
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
  for (const std::string parallel : {"0", "257"}) {
    const CliRun out_of_range = run("--from ld --to aws checkout-redesign --apply --parallel " + parallel);
    EXPECT_EQ(out_of_range.exit_code, 2) << out_of_range.err;
    EXPECT_TRUE(has(out_of_range.err, "--parallel")) << out_of_range.err;
    EXPECT_TRUE(has(out_of_range.err, "1..256")) << out_of_range.err;
    EXPECT_TRUE(has(out_of_range.err, "not " + parallel)) << out_of_range.err;
  }
  const CliRun twice = run("--from ld --to aws,aws checkout-redesign");
  EXPECT_EQ(twice.exit_code, 2) << twice.err;
  EXPECT_TRUE(has(twice.err, "named twice")) << twice.err;
  EXPECT_EQ(vendors_.total_requests(), 0u);
}


// Two targets in one run, as a user runs it: the JSON document streamed (an entry per
// experiment and target, each with its losses, then the summary), progress lines on standard
// error for text only, and a re-run of the finished migration sends nothing (the wire says).
TEST_F(MigrateCli, TwoTargetsInOneRunStreamOneJsonDocumentAndReRunToNothing) {
  const CliRun plan = run("--from ev --to aws,a0 checkout-redesign --format json");
  EXPECT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  boost::system::error_code ec;
  auto planned = boost::json::parse(plan.out, ec);
  ASSERT_FALSE(ec) << plan.out;
  EXPECT_EQ(planned.at("to"), (boost::json::array{"aws", "a0"}));
  EXPECT_EQ(planned.at("applied"), false);
  const auto& entries = planned.at("experiments").as_array();
  ASSERT_EQ(entries.size(), 2u) << plan.out;
  EXPECT_EQ(entries[0].at("target"), "aws");
  EXPECT_EQ(entries[1].at("target"), "a0");
  std::string accept;
  for (const auto& entry : entries) {
    EXPECT_EQ(entry.at("experiment"), "checkout-redesign");
    EXPECT_FALSE(entry.at("losses").as_array().empty()) << "each entry has its own losses";
    for (const auto& f : entry.at("losses").as_array()) EXPECT_EQ(f.at("experiment"), "checkout-redesign");
    if (const auto* lost = entry.as_object().if_contains("unaccepted_losses"))
      for (const auto& f : lost->as_array()) accept += (accept.empty() ? "" : ",") + std::string(f.as_string());
  }
  EXPECT_EQ(planned.at("summary").at("experiments"), 1);
  EXPECT_EQ(planned.at("summary").at("entries"), 2);
  EXPECT_FALSE(has(plan.err, "progress")) << "no progress with --format json: " << plan.err;
  EXPECT_EQ(changes("aws") + changes("a0"), 0u) << "a plan changes nothing";

  const std::string apply = "--from ev --to aws --to a0 checkout-redesign --apply --progress-every 0.001" +
                            (accept.empty() ? std::string() : " --accept-loss " + accept);
  const CliRun applied = run(apply);
  EXPECT_EQ(applied.exit_code, 0) << applied.out << applied.err;
  EXPECT_TRUE(has(applied.out, "migrate ev -> aws, a0: applied")) << applied.out;
  EXPECT_TRUE(has(applied.out, "checkout-redesign: converge at aws")) << applied.out;
  EXPECT_TRUE(has(applied.out, "checkout-redesign: converge at a0")) << applied.out;
  EXPECT_TRUE(has(applied.out, "summary: 1 experiment(s), 2 entries: 2 ok")) << applied.out;
  EXPECT_TRUE(has(applied.err, "expbridge: progress: 1/2 entries (50%)")) << applied.err;
  const std::size_t aws = changes("aws"), a0 = changes("a0");
  EXPECT_GT(aws + a0, 0u);

  const CliRun again = run(apply + " --format json");
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  auto rerun = boost::json::parse(again.out, ec);
  ASSERT_FALSE(ec) << again.out;
  EXPECT_EQ(rerun.at("ok"), true);
  EXPECT_EQ(rerun.at("summary").at("unchanged"), 2) << again.out;
  EXPECT_EQ(changes("aws"), aws) << "a finished migration re-run sends nothing to aws";
  EXPECT_EQ(changes("a0"), a0) << "a finished migration re-run sends nothing to a0";
}

}  // namespace
}  // namespace expbridge
