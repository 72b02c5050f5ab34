#include "import_examples.hpp"

#include <algorithm>

#include <boost/json/array.hpp>

#include "expbridge/bridge.hpp"
#include "expbridge/import.hpp"
#include "json_writer.hpp"

namespace expbridge {
namespace {

std::string text_member(const boost::json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

/// `files: [{name, json | text}]` as the importer's in-memory files.
Result<std::vector<ImportFile>> example_files(const boost::json::object& example) {
  const auto* files = example.if_contains("files");
  if (!files || !files->is_array() || files->get_array().empty())
    return std::unexpected(make_error(ErrorCode::invalid_input, "an import example needs `files: [{name, json | text}]`"));
  std::vector<ImportFile> out;
  for (const auto& f : files->get_array()) {
    const auto* o = f.if_object();
    if (o == nullptr || text_member(*o, "name").empty())
      return std::unexpected(make_error(ErrorCode::invalid_input, "an example file needs a name"));
    ImportFile file{text_member(*o, "name"), std::nullopt};
    if (const auto* json = o->if_contains("json")) {
      file.text = write_json(*json, 2);
    } else if (const auto* text = o->if_contains("text"); text && text->is_string()) {
      file.text = std::string(text->get_string());
    } else {
      return std::unexpected(make_error(ErrorCode::invalid_input, "example file " + file.source + " needs json or text"));
    }
    out.push_back(std::move(file));
  }
  return out;
}

ExampleOutcome run_one(const ImportRuleSpec& rule, const std::string& vendor, const Importer& importer,
                       const ImportOptions& options) {
  ExampleOutcome outcome;
  outcome.vendor = vendor;
  outcome.name = "import." + rule.id;
  auto files = example_files(rule.example);
  if (!files) {
    outcome.detail = files.error().message;
    return outcome;
  }
  auto result = importer(*files, options);
  if (!result) {
    outcome.detail = "the import failed: " + result.error().describe();
    return outcome;
  }
  const std::string experiment = text_member(rule.example, "experiment");
  const std::string full_rule = vendor + "." + rule.id;
  const auto& fields = result->losses.fields;
  auto it = std::find_if(fields.begin(), fields.end(), [&](const FieldCarriage& f) {
    return f.experiment == experiment && f.rule == full_rule && f.carriage == rule.carriage;
  });
  if (it == fields.end()) {
    outcome.detail = "no " + std::string(to_string(rule.carriage)) + " entry of rule " + full_rule + " for experiment '" +
                     experiment + "': " + write_json(loss_report_to_json(result->losses));
    return outcome;
  }
  if (it->field != rule.field && !it->field.starts_with(rule.field + ".") && !it->field.starts_with(rule.field + "[")) {
    outcome.detail = "the entry is for field " + it->field + ", the rule says " + rule.field;
    return outcome;
  }
  for (auto [key, got] : {std::pair{"from", &it->from}, std::pair{"to", &it->to}}) {
    const std::string want = text_member(rule.example, key);
    if (!want.empty() && want != *got) {
      outcome.detail = std::string(key) + " '" + *got + "', expected '" + want + "'";
      return outcome;
    }
  }
  if (rule.carriage == Carriage::lost && !it->reason.starts_with(rule.reason)) {
    outcome.detail = "reason '" + it->reason + "' is not the rule's";
    return outcome;
  }
  outcome.passed = true;
  return outcome;
}

}  // namespace

Result<std::vector<ExampleOutcome>> run_import_examples(const std::string& vendor, const std::string& mappings_dir,
                                                        const Registry* registry,
                                                        const std::vector<VendorImporter>& importers) {
  ImportOptions options;
  EXPBRIDGE_ASSIGN_OR_RETURN(options.rules, load_import_rules(vendor, mappings_dir, registry));
  if (options.rules.empty()) return std::vector<ExampleOutcome>();
  EXPBRIDGE_ASSIGN_OR_RETURN(options.table, load_mapping_table(vendor, mappings_dir, registry));
  const Importer* importer = nullptr;
  for (const auto& i : importers)
    if (i.vendor == vendor) importer = &i.importer;
  std::vector<ExampleOutcome> out;
  for (const auto& rule : options.rules) {
    if (importer == nullptr) {
      out.push_back(ExampleOutcome{vendor, "import." + rule.id, false, "the table has import rules, the vendor no importer", {}});
      continue;
    }
    out.push_back(run_one(rule, vendor, *importer, options));
  }
  return out;
}

}  // namespace expbridge
