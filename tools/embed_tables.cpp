// Build step: reads mappings/<vendor>.yaml and writes the C++ source that embeds each table as
// JSON, its `examples` apart. The binary then reads a table with Boost.JSON at start-up instead
// of parsing YAML (examples only when `mappings --check` asks), and compiles a vendor pattern
// only when a value meets it. So that nothing is lost by deferring, this step refuses a table
// that is not a readable document or whose patterns do not compile: the build fails, naming it.
//
// Usage: expbridge_embed_tables OUTPUT.cpp TABLE.yaml...
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>

#include "document.hpp"
#include "pattern.hpp"

namespace {

constexpr std::string_view kDelimiter = "expbridge_json";

struct Embedded {
  std::string vendor, json, examples_json;
};

int fail(const std::string& message) {
  std::cerr << "expbridge_embed_tables: error: " << message << "\n";
  return 1;
}

/// Every limit's pattern must compile now: at run time they compile on first use.
std::optional<std::string> check_patterns(const boost::json::object& root, const std::string& table) {
  const auto* limits = root.if_contains("limits");
  if (limits == nullptr || !limits->is_object()) return std::nullopt;
  for (const auto& limit : limits->get_object()) {
    if (!limit.value().is_object()) continue;  // the table reader reports that shape at run time and in tests
    for (const char* key : {"pattern", "not_pattern"}) {
      const auto* pattern = limit.value().get_object().if_contains(key);
      if (pattern == nullptr || !pattern->is_string()) continue;
      if (auto compiled = expbridge::CompiledPattern::compile(pattern->get_string()); !compiled)
        return table + ": limits." + std::string(limit.key()) + "." + key + ": " + compiled.error().message;
    }
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return fail("usage: expbridge_embed_tables OUTPUT.cpp TABLE.yaml...");
  std::vector<Embedded> tables;
  for (int i = 2; i < argc; ++i) {
    const std::string path = argv[i];
    auto doc = expbridge::load_document(path);
    if (!doc) return fail(doc.error().describe());
    if (!doc->root.is_object()) return fail(path + ": a mapping table is a mapping");
    auto& root = doc->root.get_object();
    if (auto bad = check_patterns(root, path)) return fail(*bad);
    Embedded e;
    e.vendor = std::filesystem::path(path).stem().string();
    boost::json::value examples = boost::json::array();
    if (auto* found = root.if_contains("examples")) {
      examples = std::move(*found);
      root.erase("examples");
    }
    // Boost.JSON's own form: a double stays a double when read back (75.0 is 7.5E1, not 75).
    e.json = boost::json::serialize(doc->root);
    e.examples_json = boost::json::serialize(examples);
    for (const std::string* text : {&e.json, &e.examples_json})
      if (text->find(")" + std::string(kDelimiter) + "\"") != std::string::npos)
        return fail(path + " contains the raw-string delimiter )" + std::string(kDelimiter) + "\"");
    tables.push_back(std::move(e));
  }

  std::string out =
      "// Generated from mappings/*.yaml by tools/embed_tables.cpp. Do not edit.\n"
      "#include \"expbridge/mapping.hpp\"\n\n"
      "namespace expbridge {\nnamespace {\n"
      "struct Table {\n  std::string_view vendor, json, examples_json;\n};\n"
      "constexpr Table kTables[] = {\n";
  auto raw = [](const std::string& text) { return "R\"" + std::string(kDelimiter) + "(" + text + ")" + std::string(kDelimiter) + "\""; };
  for (const auto& t : tables) out += "    {\"" + t.vendor + "\", " + raw(t.json) + ",\n     " + raw(t.examples_json) + "},\n";
  out +=
      "};\n}  // namespace\n\n"
      "std::optional<EmbeddedMappingTable> embedded_mapping_table(std::string_view vendor) {\n"
      "  for (const auto& t : kTables)\n"
      "    if (t.vendor == vendor) return EmbeddedMappingTable{t.json, t.examples_json};\n"
      "  return std::nullopt;\n}\n\n"
      "std::vector<std::string> embedded_mapping_vendors() {\n"
      "  std::vector<std::string> out;\n"
      "  for (const auto& t : kTables) out.emplace_back(t.vendor);\n"
      "  return out;\n}\n\n"
      "}  // namespace expbridge\n";

  // Written beside and renamed, so that an interrupted build never leaves half a source.
  const std::string output = argv[1];
  const std::string temporary = output + ".tmp";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    file << out;
    if (!file) return fail("cannot write " + temporary);
  }
  std::error_code ec;
  std::filesystem::rename(temporary, output, ec);
  if (ec) return fail("cannot write " + output + ": " + ec.message());
  return 0;
}
