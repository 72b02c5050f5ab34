// A mapping table's `import:` section, read where the table is.
#include "import_rules.hpp"

#include <filesystem>

#include <boost/json/parse.hpp>

#include "document.hpp"
#include "expbridge/adapter.hpp"
#include "json_reader.hpp"

namespace expbridge {

Result<std::vector<ImportRuleSpec>> parse_import_rules(const boost::json::value& v) {
  std::vector<ImportRuleSpec> out;
  auto r = ObjectReader::open(v, "import");
  if (!r) return std::unexpected(std::move(r).error());
  const boost::json::object* rules = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(rules, r->required_object("rules"));
  EXPBRIDGE_RETURN_IF_ERROR(r->finish());
  for (const auto& m : *rules) {
    ImportRuleSpec rule;
    rule.id = std::string(m.key());
    const std::string path = join_path("import.rules", m.key());
    auto rr = ObjectReader::open(m.value(), path);
    if (!rr) return std::unexpected(std::move(rr).error());
    EXPBRIDGE_ASSIGN_OR_RETURN(rule.field, rr->required_string("field"));
    std::string carriage;
    EXPBRIDGE_ASSIGN_OR_RETURN(carriage, rr->required_string("carriage"));
    if (carriage == "converted") {
      rule.carriage = Carriage::converted;
    } else if (carriage == "lost") {
      rule.carriage = Carriage::lost;
    } else {
      return std::unexpected(rr->error("carriage", "must be converted or lost (a carried value needs no rule)"));
    }
    EXPBRIDGE_ASSIGN_OR_RETURN(rule.what, rr->required_string("what"));
    EXPBRIDGE_ASSIGN_OR_RETURN(rule.why, rr->required_string("why"));
    std::optional<std::string> reason;
    EXPBRIDGE_ASSIGN_OR_RETURN(reason, rr->optional_string("reason"));
    rule.reason = reason.value_or("");
    if (rule.carriage == Carriage::lost && rule.reason.empty())
      return std::unexpected(rr->error("reason", "is required for a lost field: the loss report gives it"));
    const boost::json::object* example = nullptr;
    EXPBRIDGE_ASSIGN_OR_RETURN(example, rr->required_object("example"));
    rule.example = *example;
    EXPBRIDGE_RETURN_IF_ERROR(rr->finish());
    out.push_back(std::move(rule));
  }
  return out;
}


Result<const ImportRuleSpec*> ImportOptions::rule(std::string_view id) const {
  for (const auto& r : rules)
    if (r.id == id) return &r;
  Error e = make_error(ErrorCode::internal, "mapping table has no import.rules." + std::string(id));
  if (table) e.file = table->source();
  return std::unexpected(std::move(e));
}

Result<std::vector<ImportRuleSpec>> load_import_rules(std::string_view vendor, const std::string& mappings_dir,
                                                      const Registry* registry) {
  // Where load_mapping_table reads the table from, in the same order.
  std::optional<Document> doc;
  const std::filesystem::path file = std::filesystem::path(mappings_dir) / (std::string(vendor) + ".yaml");
  std::error_code ec;
  if (!mappings_dir.empty() && std::filesystem::exists(file, ec)) {
    auto loaded = load_document(file.string());
    if (!loaded) return std::unexpected(std::move(loaded).error());
    doc = std::move(*loaded);
  } else if (const Vendor* own = registry ? registry->vendor(vendor) : nullptr; own && !own->table_text.empty()) {
    auto parsed = parse_document(own->table_text, "<" + std::string(vendor) + " table>");
    if (!parsed) return std::unexpected(std::move(parsed).error());
    doc = std::move(*parsed);
  } else if (auto embedded = embedded_mapping_table(vendor)) {
    doc.emplace();
    doc->source = "<embedded " + std::string(vendor) + " table>";
    boost::system::error_code json_ec;
    doc->root = boost::json::parse(embedded->json, json_ec);
    if (json_ec) return std::unexpected(make_error(ErrorCode::internal, doc->source + " is not JSON"));
  } else {
    return std::vector<ImportRuleSpec>();
  }
  const auto* root = doc->root.if_object();
  const auto* section = root ? root->if_contains("import") : nullptr;
  if (section == nullptr) return std::vector<ImportRuleSpec>();
  auto rules = parse_import_rules(*section);
  if (!rules) {
    Error e = doc->error_at(rules.error().field, "mapping table: " + rules.error().message);
    e.code = ErrorCode::internal;
    return std::unexpected(std::move(e));
  }
  return rules;
}

}  // namespace expbridge
