// The loss report shared by import and migrate, and the create step's checks in the adapter base.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "expbridge/bridge.hpp"
#include "expbridge/migration.hpp"

namespace expbridge {
namespace {

FieldCarriage lost(std::string experiment, std::string field, std::string reason = "no place for it") {
  FieldCarriage f;
  f.experiment = std::move(experiment);
  f.field = std::move(field);
  f.carriage = Carriage::lost;
  f.reason = std::move(reason);
  return f;
}

FieldCarriage carried(std::string experiment, std::string field) {
  FieldCarriage f;
  f.experiment = std::move(experiment);
  f.field = std::move(field);
  return f;
}

FieldCarriage converted(std::string experiment, std::string field, std::string from, std::string to,
                        std::string rule) {
  FieldCarriage f = carried(std::move(experiment), std::move(field));
  f.carriage = Carriage::converted;
  f.from = std::move(from);
  f.to = std::move(to);
  f.rule = std::move(rule);
  return f;
}

TEST(LossReport, ListsEachLostFieldOnceInReportOrder) {
  LossReport report;
  report.fields = {lost("a", "overrides"), carried("a", "exposure"), lost("b", "result"),
                   lost("a", "evidently.launch"), lost("a", "overrides")};
  EXPECT_EQ(report.lost_fields("a"), (std::vector<std::string>{"overrides", "evidently.launch"}));
  EXPECT_EQ(report.lost_fields("b"), (std::vector<std::string>{"result"}));
  EXPECT_TRUE(report.lost_fields("c").empty());
  EXPECT_TRUE(report.has_losses());
  EXPECT_FALSE((LossReport{{carried("a", "exposure")}}.has_losses()));
}

TEST(LossReport, AnAcceptedNameCoversThePathsUnderItAndNothingThatMerelyStartsLikeIt) {
  LossReport report;
  report.fields = {lost("a", "variations[1].description"), lost("a", "audience.rule"),
                   lost("a", "evidently.launchGroups"), lost("a", "overrides")};
  EXPECT_EQ(report.unaccepted_losses("a", {"variations", "audience"}),
            (std::vector<std::string>{"evidently.launchGroups", "overrides"}));
  // `evidently.launch` is not a path above `evidently.launchGroups`; `variation` is not `variations`.
  EXPECT_EQ(report.unaccepted_losses("a", {"evidently.launch", "variation", "overrides", "audience.rule"}),
            (std::vector<std::string>{"variations[1].description", "evidently.launchGroups"}));
  EXPECT_TRUE(report.unaccepted_losses("a", {"variations[1].description", "audience", "evidently.launchGroups",
                                             "overrides"})
                  .empty());
}

TEST(LossReport, JsonCarriesEveryEntryWithoutEmptyMembers) {
  LossReport report;
  report.fields = {converted("a", "variations[0].weight", "33334 thousandths", "33.334 %", "evidently.weights_thousandths"),
                   lost("a", "overrides", "AppConfig keeps at most 32 overrides")};
  report.fields[0].source = "state.tfstate:12";
  EXPECT_EQ(boost::json::serialize(loss_report_to_json(report)),
            R"({"fields":[{"experiment":"a","field":"variations[0].weight","carriage":"converted",)"
            R"("rule":"evidently.weights_thousandths","from":"33334 thousandths","to":"33.334 %",)"
            R"("source":"state.tfstate:12"},{"experiment":"a","field":"overrides","carriage":"lost",)"
            R"("reason":"AppConfig keeps at most 32 overrides"}]})");
}

TEST(LossReport, TextCountsCarriedFieldsAndListsTheRestPerExperiment) {
  LossReport report;
  report.fields = {carried("a", "name"),
                   converted("b", "exposure", "75000 thousandths", "75 %", "evidently.sampling_rate"),
                   lost("a", "overrides", "none at the target"),
                   carried("a", "description")};
  EXPECT_EQ(loss_report_to_text(report),
            "a: 2 carried, 0 converted, 1 lost\n"
            "  lost       overrides: none at the target\n"
            "b: 0 carried, 1 converted, 0 lost\n"
            "  converted  exposure  75000 thousandths → 75 % (evidently.sampling_rate)\n");
}

TEST(AdapterCreate, AVendorWithoutCreateSaysSoNamingTheBackend) {
  auto bridge = Bridge::from_text(R"(backends:
  ev: {vendor: evidently, region: us-east-1, project: checkout}
)",
                                  "c.yaml");
  ASSERT_TRUE(bridge) << bridge.error().describe();
  Experiment desired;
  desired.experiment = "x";
  desired.name = "X";
  CreateSpec spec;
  spec.experiment = "x";
  spec.desired = &desired;
  auto step = bridge->backends().front().adapter->create(spec, {});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().code, ErrorCode::unsupported);
  EXPECT_EQ(step.error().backend, "ev");
  EXPECT_EQ(step.error().vendor, "evidently");
}

TEST(AdapterCreate, AnAdapterThatCannotLookForAnEarlierCreateRefusesToResumeOne) {
  auto bridge = Bridge::from_text(R"(backends:
  ev: {vendor: evidently, region: us-east-1, project: checkout}
  ld: {vendor: launchdarkly, project: default, environment: production, token_env: LD_API_TOKEN}
)",
                                  "c.yaml");
  ASSERT_TRUE(bridge) << bridge.error().describe();
  const Adapter& evidently = *bridge->backends().front().adapter;
  const Adapter& launchdarkly = *bridge->backends().back().adapter;
  EXPECT_FALSE(evidently.finds_existing());
  EXPECT_TRUE(launchdarkly.finds_existing());
  Experiment desired;
  desired.experiment = "x";
  desired.name = "X";
  CreateSpec spec;
  spec.experiment = "x";
  spec.desired = &desired;
  spec.find_existing = true;
  auto step = evidently.create(spec, {});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().code, ErrorCode::unsupported);
  EXPECT_NE(step.error().message.find("cannot resume a create whose answer was lost"), std::string::npos)
      << step.error().describe();
}

}  // namespace
}  // namespace expbridge
