// The Evidently importer, one reader and one conversion at a time, on files written from the
// documented shapes (the API reference, the providers' schemas, CloudFormation's reference).
#include <filesystem>
#include <fstream>
#include <iterator>

#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "evidently/evidently_import.hpp"
#include "tagged_document.hpp"
#include "experiment_codec.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "import_examples.hpp"
#include "json_writer.hpp"

namespace expbridge {
namespace {

const std::string kData = std::string(EXPBRIDGE_SOURCE_DIR) + "/tests/data/import/evidently/";

ImportOptions options() {
  ImportOptions o;
  o.table = *load_mapping_table("evidently");
  o.rules = *load_import_rules("evidently");
  return o;
}

Result<ImportResult> import_texts(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<ImportFile> in;
  for (const auto& [name, text] : files) in.push_back(ImportFile{name, text});
  return evidently_import::import_files(in, options());
}

Result<ImportResult> import_paths(const std::vector<std::string>& names) {
  std::vector<ImportFile> in;
  for (const auto& name : names) in.push_back(ImportFile{kData + name, std::nullopt});
  return evidently_import::import_files(in, options());
}

const ImportedExperiment* find(const ImportResult& r, const std::string& key) {
  for (const auto& e : r.experiments)
    if (e.key == key) return &e;
  return nullptr;
}

const FieldCarriage* entry(const ImportResult& r, const std::string& key, const std::string& field) {
  for (const auto& f : r.losses.fields)
    if (f.experiment == key && f.field == field) return &f;
  return nullptr;
}

/// The document an experiment is written as, read back as an update.
Update reparsed(const ImportedExperiment& e) {
  auto u = parse_update(write_json(imported_update_document(e)), e.key + ".yaml", DocumentFormat::json);
  EXPECT_TRUE(u) << (u ? "" : u.error().describe());
  return u ? *u : Update{};
}

constexpr const char* kFeature = R"({"feature": {
  "name": "checkout", "project": "arn:aws:evidently:us-east-1:123456789012:project/shop",
  "evaluationStrategy": "ALL_RULES", "defaultVariation": "old",
  "variations": [{"name": "old", "value": {"boolValue": false}}, {"name": "new", "value": {"boolValue": true}}],
  "entityOverrides": {"tester": "new"}}})";

constexpr const char* kExperiment = R"({"experiment": {
  "name": "checkout-test", "project": "arn:aws:evidently:us-east-1:123456789012:project/shop", "status": "RUNNING",
  "samplingRate": 12500,
  "treatments": [{"name": "control", "featureVariations": {"checkout": "old"}},
                 {"name": "candidate", "featureVariations": {"checkout": "new"}}],
  "onlineAbDefinition": {"controlTreatmentName": "control", "treatmentWeights": {"control": 25000, "candidate": 75000}}}})";

TEST(EvidentlyImport, FeatureAndExperimentBecomeOneNeutralExperimentWithExactReport) {
  auto r = import_texts({{"f.json", kFeature}, {"x.json", kExperiment}});
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->experiments.size(), 1u);
  EXPECT_EQ(loss_report_to_text(r->losses),
            "checkout-test: 3 carried, 5 converted, 0 lost\n"
            "  converted  variations.weight  25000/75000 thousandths → 25/75 % (evidently.weights_thousandths)  [x.json:1:2]\n"
            "  converted  variations.control  controlTreatmentName control → control: true on old "
            "(evidently.control_treatment)  [x.json:1:2]\n"
            "  converted  variations.value  boolValue false / boolValue true → enabled false / enabled true "
            "(evidently.typed_value)  [f.json:1:2]\n"
            "  converted  exposure  12500 thousandths → 12.5 % (evidently.sampling_rate_thousandths)  [x.json:1:2]\n"
            "  converted  action  RUNNING → start (evidently.experiment_status)  [x.json:1:2]\n");
  const auto& e = r->experiments.front();
  EXPECT_EQ(e.key, "checkout-test");
  EXPECT_EQ(write_json(e.source), R"({"vendor":"evidently","project":"shop","feature":"checkout","experiment":"checkout-test","treatments":{"old":"control","new":"candidate"}})");
  EXPECT_EQ(write_json(e.create), R"({"flag":"checkout"})");
  Update u = reparsed(e);
  ASSERT_TRUE(u.variations);
  EXPECT_EQ((*u.variations)[0].key, "old");
  EXPECT_TRUE((*u.variations)[0].control);
  EXPECT_DOUBLE_EQ((*u.variations)[1].weight, 75);
  EXPECT_TRUE((*u.variations)[1].value->enabled);
  EXPECT_DOUBLE_EQ(*u.exposure, 12.5);
  EXPECT_EQ(u.action, Action::start);
  ASSERT_TRUE(u.overrides);
  EXPECT_EQ(u.overrides->front(), (std::pair<std::string, std::string>{"tester", "new"}));
}

TEST(EvidentlyImport, StoppedExperimentCarriesItsReasonAsResult) {
  std::string x = kExperiment;
  x.replace(x.find("\"RUNNING\""), 9, R"("COMPLETED", "statusReason": "candidate won")");
  auto r = import_texts({{"f.json", kFeature}, {"x.json", x}});
  ASSERT_TRUE(r) << r.error().describe();
  Update u = reparsed(r->experiments.front());
  EXPECT_EQ(u.action, Action::stop);
  ASSERT_TRUE(u.result);
  EXPECT_EQ(u.result->summary, "candidate won");
  EXPECT_EQ(entry(*r, "checkout-test", "action")->from, "COMPLETED");
  EXPECT_EQ(entry(*r, "checkout-test", "result")->carriage, Carriage::carried);
}

TEST(EvidentlyImport, TypedValuesBecomeAnEnabledFlagWithOneAttribute) {
  auto r = import_texts({{"f.json", R"({"feature": {"name": "limits", "project": "shop", "evaluationStrategy": "DEFAULT_VARIATION",
    "variations": [{"name": "low", "value": {"longValue": 10}}, {"name": "mid", "value": {"doubleValue": 2.5}},
                   {"name": "tag", "value": {"stringValue": "blue"}}]}})"}});
  ASSERT_TRUE(r) << r.error().describe();
  Update u = reparsed(r->experiments.front());
  ASSERT_EQ(u.variations->size(), 3u);
  const auto& low = (*u.variations)[0];
  EXPECT_TRUE(low.control);  // no defaultVariation: the first variation is served
  EXPECT_DOUBLE_EQ(low.weight, 100);
  EXPECT_TRUE(low.value->enabled);
  EXPECT_EQ(low.value->attributes.front().first, "value");
  EXPECT_EQ(std::get<double>(low.value->attributes.front().second), 10);
  EXPECT_EQ(std::get<std::string>((*u.variations)[2].value->attributes.front().second), "blue");
  EXPECT_EQ(u.action, Action::stop);  // DEFAULT_VARIATION
  EXPECT_EQ(entry(*r, "limits", "variations.value")->to,
            "enabled true, attributes.value 10 / enabled true, attributes.value 2.5 / enabled true, attributes.value 'blue'");
  EXPECT_EQ(entry(*r, "limits", "variations.weight")->from, "no experiment: low (the first variation) for everyone");
}

TEST(EvidentlyImport, WhatHasNoNeutralFieldIsLostWithTheTablesReason) {
  std::string x = kExperiment;
  x.replace(x.find("\"samplingRate\""), 0,
            R"("metricGoals": [{"metricDefinition": {"name": "m", "entityIdKey": "u", "valueKey": "v"}, "desiredChange": "INCREASE"}],
               "randomizationSalt": "s", "tags": {"a": "b"}, "brandNew": true, )");
  auto r = import_texts({{"f.json", kFeature}, {"x.json", x}});
  ASSERT_TRUE(r) << r.error().describe();
  const auto lost = r->losses.lost_fields("checkout-test");
  EXPECT_EQ(lost, (std::vector<std::string>{"evidently.metricGoals", "evidently.randomizationSalt", "evidently.tags",
                                            "evidently.brandNew"}));
  const auto* unknown = entry(*r, "checkout-test", "evidently.brandNew");
  EXPECT_EQ(unknown->rule, "evidently.unknown_member");
  EXPECT_EQ(unknown->reason, "expbridge does not know this member of the saved resource, so nothing carries it (member 'brandNew')");
  EXPECT_EQ(r->losses.unaccepted_losses("checkout-test", {"evidently"}), std::vector<std::string>{});
}

TEST(EvidentlyImport, OverridesOfVariationsOutsideTheExperimentAreLostNotDropped) {
  std::string f = kFeature;
  f.replace(f.find(R"({"tester": "new"})"), 17, R"({"tester": "new", "other": "gone"})");
  f.replace(f.find(R"(}}])") + 2, 0, R"(, {"name": "gone", "value": {"boolValue": true}})");
  auto r = import_texts({{"f.json", f}, {"x.json", kExperiment}});
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->losses.lost_fields("checkout-test"),
            (std::vector<std::string>{"overrides.other", "evidently.feature.variations.gone"}));
  Update u = reparsed(r->experiments.front());
  EXPECT_EQ(u.overrides->size(), 1u);
}

TEST(EvidentlyImport, KeysOfTwoProjectsSharingANameGetTheProject) {
  auto r = import_texts({{"a.json", R"({"feature": {"name": "banner", "project": "web", "variations": [{"name": "a", "value": {"boolValue": true}}]}})"},
                         {"b.json", R"({"feature": {"name": "banner", "project": "mobile", "variations": [{"name": "a", "value": {"boolValue": true}}]}})"}});
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->experiments.size(), 2u);
  EXPECT_EQ(r->experiments[0].key, "mobile.banner");
  EXPECT_EQ(r->experiments[1].key, "web.banner");
}

TEST(EvidentlyImport, TheSameResourceInTwoFilesIsImportedOnceAndNoted) {
  auto r = import_texts({{"f.json", kFeature}, {"x.json", kExperiment}, {"again.json", kExperiment}});
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->experiments.size(), 1u);
  ASSERT_FALSE(r->notes.empty());
  EXPECT_EQ(r->notes.front().message,
            "experiment 'checkout-test' of project 'shop' was read already from x.json:1:2; this copy is not used");
}

TEST(EvidentlyImport, ANameThatIsNoEvidentlyNameIsRefused) {
  auto r = import_texts({{"evil.json", R"({"feature": {"name": "../../etc/cron.d/x", "project": "shop", "variations": []}})"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "feature.name");
  EXPECT_EQ(r.error().file, "evil.json");
  EXPECT_EQ(r.error().line, 1);
  EXPECT_NE(r.error().message.find("is no Evidently name"), std::string::npos) << r.error().describe();
}

TEST(EvidentlyImport, WeightsThatDoNotMakeAHundredPercentAreRefusedNamingTheFile) {
  std::string x = kExperiment;
  x.replace(x.find("75000"), 5, "70000");
  auto r = import_texts({{"f.json", kFeature}, {"x.json", x}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().file, "x.json:1:2");
  EXPECT_NE(r.error().message.find("95000"), std::string::npos) << r.error().message;
}

TEST(EvidentlyImport, CliJsonOfEveryCallShape) {
  auto r = import_paths({"get-feature.json", "get-experiment.json", "list-features.json", "list-experiments.json",
                         "get-launch.json", "sdk-experiment.json", "list-projects.json"});
  ASSERT_TRUE(r) << r.error().describe();
  std::vector<std::string> keys;
  for (const auto& e : r->experiments) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"checkout-redesign", "dark-mode", "price-badge", "search-box"}));
  // The envelope of get-experiment, the feature of get-feature (its summary in list-features gives way).
  const auto* redesign = find(*r, "checkout-redesign");
  EXPECT_EQ(redesign->experiment.variations->size(), 2u);
  EXPECT_EQ(entry(*r, "checkout-redesign", "exposure")->to, "10 %");
  EXPECT_EQ(r->losses.lost_fields("checkout-redesign"),
            (std::vector<std::string>{"evidently.feature.description", "evidently.feature.tags", "evidently.metricGoals",
                                      "evidently.randomizationSalt", "evidently.schedule", "evidently.execution"}));
  // A list-features summary has no variations: the feature alone imports without them, and says so.
  EXPECT_FALSE(find(*r, "dark-mode")->experiment.variations);
  EXPECT_EQ(r->losses.lost_fields("dark-mode"), std::vector<std::string>{"evidently.launch.dark-mode-rollout"});
  bool summary_noted = false, token_noted = false;
  for (const auto& n : r->notes) {
    summary_noted |= n.message.find("dark-mode\" is a list-features summary") != std::string::npos ||
                     n.message.find("'dark-mode' is a list-features summary") != std::string::npos;
    token_noted |= n.message.find("nextToken") != std::string::npos;
  }
  EXPECT_TRUE(summary_noted);
  EXPECT_TRUE(token_noted);
  // A page of full experiments, completed: stop with the reason.
  Update badge = reparsed(*find(*r, "price-badge"));
  EXPECT_EQ(badge.action, Action::stop);
  EXPECT_EQ(badge.result->summary, "badge raised add-to-cart by 2.1%");
  EXPECT_DOUBLE_EQ((*badge.variations)[0].weight, 60);
  // An SDK object without an envelope; CREATED is a draft (no action), weights unset split evenly.
  Update box = reparsed(*find(*r, "search-box"));
  EXPECT_FALSE(box.action);
  EXPECT_EQ(entry(*r, "search-box", "variations.weight")->rule, "evidently.weights_unset");
}

TEST(EvidentlyImport, TerraformStateOfBothProviders) {
  auto r = import_paths({"terraform.tfstate"});
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->experiments.size(), 2u);
  // aws_evidently_feature: values kept as strings by the provider, a map of overrides, a launch.
  Update button = reparsed(*find(*r, "checkout-button"));
  EXPECT_EQ((*button.variations)[0].key, "bold");
  EXPECT_TRUE((*button.variations)[0].value->enabled);
  EXPECT_FALSE((*button.variations)[1].value->enabled);
  EXPECT_EQ(r->losses.lost_fields("checkout-button"),
            (std::vector<std::string>{"evidently.feature.tags", "evidently.launch.checkout-button-rollout"}));
  // awscc_evidently_experiment on awscc_evidently_feature.
  Update ranking = reparsed(*find(*r, "search-ranking-test"));
  EXPECT_DOUBLE_EQ((*ranking.variations)[0].weight, 33.334);
  EXPECT_DOUBLE_EQ(*ranking.exposure, 75);
  EXPECT_EQ(ranking.action, Action::start);
  EXPECT_EQ(entry(*r, "search-ranking-test", "variations.weight")->from, "33334/33333/33333 thousandths");
  EXPECT_EQ(entry(*r, "search-ranking-test", "variations.weight")->to, "33.334/33.333/33.333 %");
  EXPECT_EQ(entry(*r, "search-ranking-test", "evidently.segment")->source, kData + "terraform.tfstate:297:13");
  // awscc_evidently_launch: its groups name the feature the experiment runs on.
  EXPECT_EQ(entry(*r, "search-ranking-test", "evidently.launch.ranker-b-rollout")->rule, "evidently.launch");
}

TEST(EvidentlyImport, CloudFormationResolvesRefSubAndGetAttInsideTheTemplate) {
  auto r = import_paths({"stack.yaml", "stack.json"});
  ASSERT_TRUE(r) << r.error().describe();
  const auto* onboarding = find(*r, "onboarding-length");
  ASSERT_NE(onboarding, nullptr);
  // !Ref Project and !GetAtt Project.Arn both name project "mobile" (the parameter's Default).
  EXPECT_EQ(write_json(onboarding->source),
            R"({"vendor":"evidently","project":"mobile","feature":"onboarding","experiment":"onboarding-length"})");
  Update u = reparsed(*onboarding);
  EXPECT_EQ(u.action, Action::stop);
  EXPECT_EQ(u.result->summary, "short onboarding lost users");
  EXPECT_EQ(std::get<double>((*u.variations)[0].value->attributes.front().second), 3);
  // The parameter without a Default: lost where it was used, with its position.
  const auto* team = entry(*r, "onboarding-length", "evidently.unresolved.OnboardingFeature.Tags[0].Value");
  ASSERT_NE(team, nullptr);
  EXPECT_EQ(team->source, kData + "stack.yaml:34:11");
  EXPECT_EQ(team->reason, "the template's reference cannot be resolved inside the template (parameter Team has no Default)");
  // AWS::Evidently::Launch, its group's Feature a !Ref of the feature (an ARN, read back to the name).
  EXPECT_EQ(entry(*r, "onboarding-length", "evidently.launch.onboarding-rollout")->source, kData + "stack.yaml:70:5");
  // JSON long forms; Fn::Sub of a parameter's Default names project tv-prod.
  const auto* autoplay = find(*r, "autoplay-test");
  ASSERT_NE(autoplay, nullptr);
  EXPECT_EQ(autoplay->source.at("project").as_string(), "tv-prod");
  EXPECT_EQ(entry(*r, "autoplay-test", "evidently.unresolved.AutoplayFeature.Description")->rule,
            "evidently.unresolved_reference");
}

TEST(EvidentlyImport, TaggedYamlKeepsLocalTagsAsOneMemberMappings) {
  auto doc = parse_tagged_document("a: !Ref X\nb: !GetAtt [R, Arn]\nc: !Sub\n  - '${V}'\n  - {V: !Ref Y}\n", "t.yaml");
  ASSERT_TRUE(doc) << doc.error().describe();
  EXPECT_EQ(write_json(doc->root), R"({"a":{"!Ref":"X"},"b":{"!GetAtt":["R","Arn"]},"c":{"!Sub":["${V}",{"V":{"!Ref":"Y"}}]}})");
  // expbridge's own documents still refuse tags.
  EXPECT_FALSE(parse_document("a: !Ref X\n", "u.yaml"));
}

TEST(EvidentlyImport, ReferenceCycleIsAnErrorNamingIt) {
  auto r = import_paths({"cycle.yaml"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().file, kData + "cycle.yaml");
  EXPECT_NE(r.error().message.find("cycle: First → Second → Third → First"), std::string::npos) << r.error().describe();
  EXPECT_GT(r.error().line, 0);
}

TEST(EvidentlyImport, ALongChainOfReferencesIsRefusedNotFollowedToTheStacksEnd) {
  // P0's Name is P1's ARN, P1's is P2's, ...: a chain of 2,000 projects under a feature.
  std::string t = "Resources:\n  F:\n    Type: AWS::Evidently::Feature\n    Properties:\n      Name: f\n"
                  "      Project: !GetAtt P0.Arn\n      Variations: [{VariationName: a, BooleanValue: true}]\n";
  for (int i = 0; i < 2000; ++i)
    t += "  P" + std::to_string(i) + ":\n    Type: AWS::Evidently::Project\n    Properties:\n      Name: !GetAtt P" +
         std::to_string(i + 1) + ".Arn\n";
  t += "  P2000:\n    Type: AWS::Evidently::Project\n    Properties:\n      Name: end\n";
  auto r = import_texts({{"chain.yaml", t}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("references chain through more than 32 resources (P0 → … → P32)"), std::string::npos)
      << r.error().describe();
  EXPECT_EQ(r.error().file, "chain.yaml");
  EXPECT_GT(r.error().line, 0);
}

TEST(EvidentlyImport, BrokenFilesAreClearErrorsNamingFileAndPosition) {
  auto truncated = import_paths({"truncated.json"});
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().file, kData + "truncated.json");
  EXPECT_EQ(truncated.error().line, 9);
  EXPECT_NE(truncated.error().message.find("malformed"), std::string::npos) << truncated.error().describe();

  auto v3 = import_paths({"state-v3.tfstate"});
  ASSERT_FALSE(v3);
  EXPECT_EQ(v3.error().field, "version");
  EXPECT_EQ(v3.error().line, 2);
  EXPECT_NE(v3.error().message.find("state version 3"), std::string::npos) << v3.error().describe();

  auto v5 = import_texts({{"v5.tfstate", R"({"version": 5, "terraform_version": "2.0.0", "lineage": "x", "resources": []})"}});
  ASSERT_FALSE(v5);
  EXPECT_EQ(v5.error().message,
            "is Terraform state version 5; expbridge reads state version 4 (Terraform 0.12 and later), and knows no other format");
  EXPECT_EQ(v5.error().column, 2);

  auto unknown = import_paths({"unrelated.json"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().file, kData + "unrelated.json");
  EXPECT_NE(unknown.error().message.find("no file expbridge imports from Evidently"), std::string::npos);

  std::string deep = "{\"feature\": ";
  for (int i = 0; i < 200; ++i) deep += "[";
  auto nested = import_texts({{"deep.json", deep}});
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.error().file, "deep.json");
  EXPECT_NE(nested.error().message.find("deeper than 64"), std::string::npos) << nested.error().describe();
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitized = true;
#else
constexpr bool kAddressSanitized = false;
#endif
#else
constexpr bool kAddressSanitized = false;
#endif

TEST(EvidentlyImport, AHundredMegabytesOfUnrelatedResourcesAreReadOneAtATime) {
  const auto dir = std::filesystem::temp_directory_path() / ("expbridge-import-large-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "huge.tfstate";
  const std::string bucket = R"({"mode": "managed", "type": "aws_s3_bucket", "name": "b", "instances": [{"attributes": {"bucket": ")" +
                             std::string(900, 'x') + R"("}}]})";
  std::size_t buckets = 0;
  {
    std::ofstream out(path, std::ios::binary);
    out << "{\n  \"version\": 4,\n  \"terraform_version\": \"1.9.5\",\n  \"lineage\": \"x\",\n  \"resources\": [\n";
    for (std::size_t written = 0; written < 50u * 1024 * 1024; written += bucket.size() + 2, ++buckets) out << bucket << ",\n";
    out << R"({"mode": "managed", "type": "aws_evidently_feature", "name": "f", "instances": [{"attributes": {)"
        << R"("name": "deep-down", "project": "shop", "evaluation_strategy": "ALL_RULES", "variations": [)"
        << R"({"name": "a", "value": [{"bool_value": "true", "double_value": "", "long_value": "", "string_value": ""}]}]}}]},)"
        << "\n";
    for (std::size_t written = 0; written < 50u * 1024 * 1024; written += bucket.size() + 2, ++buckets) out << bucket << ",\n";
    out << bucket << "\n]}\n";
    ++buckets;
  }
  ASSERT_GT(std::filesystem::file_size(path), 100u * 1024 * 1024);
  const long before = peak_rss_kib();
  auto r = evidently_import::import_files({ImportFile{path.string(), std::nullopt}}, options());
  const long grown = peak_rss_kib() - before;
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->experiments.size(), 1u);
  EXPECT_EQ(r->experiments.front().key, "deep-down");
  // Its position is the file's, past the first 50 MB of buckets.
  const auto* name = entry(*r, "deep-down", "name");
  const std::string line = path.string() + ":" + std::to_string(6 + buckets / 2) + ":";
  EXPECT_EQ(name->source.substr(0, line.size()), line) << name->source;
  bool noted = false;
  for (const auto& n : r->notes) noted |= n.message == std::to_string(buckets) + " resource(s) of other types skipped while reading";
  EXPECT_TRUE(noted);
  // Far below the file's size: one resource at a time is held, not the file. Not under
  // AddressSanitizer, whose quarantine keeps freed memory (256 MB by default) on purpose.
  if (!kAddressSanitized) {
    EXPECT_LT(grown, 32 * 1024) << "peak RSS grew by " << grown << " KiB";
  }

  // Cut short, the same file is an error naming where it ends.
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  auto truncated = evidently_import::import_files({ImportFile{path.string(), std::nullopt}}, options());
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(truncated);
  EXPECT_NE(truncated.error().message.find("the file ends inside resources["), std::string::npos) << truncated.error().describe();
  EXPECT_GT(truncated.error().line, 1000);
}

TEST(EvidentlyImport, EveryImportRuleOfTheTableHasAPassingWorkedExample) {
  auto outcomes = run_import_examples("evidently", "", nullptr);
  ASSERT_TRUE(outcomes) << outcomes.error().describe();
  EXPECT_EQ(outcomes->size(), 22u);
  for (const auto& o : *outcomes) EXPECT_TRUE(o.passed) << o.name << ": " << o.detail;
}

TEST(EvidentlyImport, AnImportRuleWhoseExampleNoLongerHoldsFailsTheCheck) {
  const auto dir = std::filesystem::temp_directory_path() / ("expbridge-import-rules-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ifstream in(std::string(EXPBRIDGE_SOURCE_DIR) + "/mappings/evidently.yaml", std::ios::binary);
  std::string table((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string good = "to: 33.334/33.333/33.333 %";
  ASSERT_NE(table.find(good), std::string::npos);
  table.replace(table.find(good), good.size(), "to: 33/33/33 %");
  std::ofstream(dir / "evidently.yaml", std::ios::binary) << table;
  auto outcomes = run_import_examples("evidently", dir.string(), nullptr);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(outcomes) << outcomes.error().describe();
  std::size_t failed = 0;
  for (const auto& o : *outcomes)
    if (!o.passed) {
      ++failed;
      EXPECT_EQ(o.name, "import.weights_thousandths");
      EXPECT_EQ(o.detail, "to '33.334/33.333/33.333 %', expected '33/33/33 %'");
    }
  EXPECT_EQ(failed, 1u);
}

}  // namespace
}  // namespace expbridge
