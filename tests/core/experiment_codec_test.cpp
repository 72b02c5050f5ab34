#include "experiment_codec.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "convergence.hpp"
#include "document.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"

namespace expbridge {
namespace {

Experiment stopped_sample() {
  Experiment e;
  e.experiment = "checkout-redesign";
  e.name = "Checkout redesign";
  e.description = "Line one\nline \"two\": yes";
  e.hypothesis = "Fewer steps raise conversion";
  e.launch_criteria = "+2% conversion";
  e.audience = Audience{"(eq $country \"US\")", "US web users"};
  e.variations = std::vector<Variation>{
      {"control", true, 33.5, std::nullopt, VariationValue{false, {}}},
      {"two-step", false, 66.5, "new flow",
       VariationValue{true,
                      {{"steps", 2.0},
                       {"theme", std::string("true")},
                       {"tags", std::vector<std::string>{"a", "b: c"}},
                       {"ratios", std::vector<double>{0.5, 1e-7}}}}}};
  e.exposure = 12.5;
  e.overrides = std::vector<std::pair<std::string, std::string>>{{"user-1", "two-step"}, {"null", "control"}};
  e.result = ExperimentResult{"two-step", "Two-step won", "+3.1%", "none"};
  e.status = ExperimentStatus::stopped;
  e.vendor_ids = {{"definition", "bsxyd7k"}};
  return e;
}

TEST(ExperimentCodec, StateUsesTheUpdateDocumentsNamesAndUnits) {
  const auto state = experiment_state_json(stopped_sample());
  EXPECT_EQ(write_json(state),
            R"j({"name":"Checkout redesign","description":"Line one\nline \"two\": yes","hypothesis":"Fewer steps raise conversion",)j"
            R"j("launch_criteria":"+2% conversion","audience":{"rule":"(eq $country \"US\")","description":"US web users"},)j"
            R"j("variations":[{"key":"control","control":true,"weight":33.5,"value":{"enabled":false}},)j"
            R"j({"key":"two-step","weight":66.5,"description":"new flow","value":{"enabled":true,"attributes":)j"
            R"j({"steps":2,"theme":"true","tags":["a","b: c"],"ratios":[0.5,1e-07]}}}],"exposure":12.5,)j"
            R"j("overrides":{"user-1":"two-step","null":"control"},"result":{"winner":"two-step","summary":"Two-step won",)j"
            R"j("reasons_to_launch":"+3.1%","reasons_not_to_launch":"none"}})j");
}

TEST(ExperimentCodec, AFieldNotHeldIsAbsent) {
  Experiment e;
  e.experiment = "x";
  e.exposure = 0;
  EXPECT_EQ(write_json(experiment_state_json(e)), R"({"exposure":0})");
}

// get --format yaml > current.yaml; apply current.yaml: the document parses as an update, and
// against the state it came from, nothing is left to send.
TEST(ExperimentCodec, TheUpdateDocumentRoundTripsThroughYaml) {
  const Experiment held = stopped_sample();
  const auto document = experiment_update_document(held);
  EXPECT_EQ(document.at("action"), "stop");
  const std::string yaml = write_yaml(document);
  auto update = parse_update(yaml, "current.yaml");
  ASSERT_TRUE(update) << update.error().describe() << "\n" << yaml;
  EXPECT_EQ(update->description, held.description);
  ASSERT_TRUE(update->variations);
  EXPECT_EQ(update->variations->at(1).value->attributes.size(), 4u);
  EXPECT_EQ(update->overrides->at(1).first, "null") << "a key YAML would read as null is quoted";

  auto converged = converge(*update, held);
  ASSERT_TRUE(converged) << converged.error().describe();
  EXPECT_TRUE(converged->nothing_to_send()) << yaml;
}

TEST(ExperimentCodec, StatusGivesTheAction) {
  Experiment e;
  e.experiment = "x";
  e.result = ExperimentResult{"a", std::nullopt, std::nullopt, std::nullopt};
  const std::pair<ExperimentStatus, const char*> cases[] = {{ExperimentStatus::running, "start"},
                                                           {ExperimentStatus::paused, "pause"},
                                                           {ExperimentStatus::archived, "archive"}};
  for (const auto& [status, action] : cases) {
    e.status = status;
    const auto doc = experiment_update_document(e);
    EXPECT_EQ(doc.at("action"), action);
    EXPECT_FALSE(doc.contains("result")) << "result goes only with stop";
  }
  e.status = ExperimentStatus::draft;
  EXPECT_FALSE(experiment_update_document(e).contains("action"));
}

TEST(ExperimentCodec, YamlReadsBackToTheSameValue) {
  const auto value = boost::json::parse(
      R"({"a":[1,2.5,{"b":"x","c":[]},[true,null]],"yes":"no","":{},"k-1":"line\nbreak\u0001","1e3":"-"})");
  const std::string yaml = write_yaml(value);
  auto doc = parse_document(yaml, "out.yaml");
  ASSERT_TRUE(doc) << doc.error().describe() << "\n" << yaml;
  EXPECT_EQ(write_json(doc->root), write_json(value)) << yaml;
}

}  // namespace
}  // namespace expbridge
