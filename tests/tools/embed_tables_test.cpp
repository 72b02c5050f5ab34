// tools/embed_tables.cpp, the build step that embeds the mapping tables: what it writes reads back
// as the same table, and a table it cannot vouch for fails the build with the file named.
#include <gtest/gtest.h>

#include <string>

#include "expbridge/mapping.hpp"
#include "support/cli_sandbox.hpp"

namespace expbridge {
namespace {

struct ToolRun {
  int exit_code = -1;
  std::string err;
};

ToolRun embed(const test::CliSandbox& box, const std::string& tables) {
  const std::string command = "'" + std::string(EXPBRIDGE_EMBED_TABLES) + "' '" + box.path("out.cpp").string() + "' " +
                              tables + " 2>'" + box.path("err").string() + "'";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::CliSandbox::slurp(box.path("err"))};
}

TEST(EmbedTables, APatternThatDoesNotCompileFailsTheBuildNamingIt) {
  test::CliSandbox box("embed-tables");
  box.write("broken.yaml", "vendor: broken\nlimits:\n  region: {pattern: '^(?!lookahead)[a-z]+$'}\n");
  const ToolRun r = embed(box, "'" + box.path("broken.yaml").string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("broken.yaml: limits.region.pattern: does not compile"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(box.path("out.cpp")));
}

TEST(EmbedTables, ATableThatIsNotADocumentFailsTheBuildWithItsPosition) {
  test::CliSandbox box("embed-tables");
  box.write("bad.yaml", "vendor: bad\nlimits: {a: 1\n");
  const ToolRun r = embed(box, "'" + box.path("bad.yaml").string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.yaml:3:"), std::string::npos) << r.err;
}

TEST(EmbedTables, EveryEmbeddedTableReadsAsItsYamlDoes) {
  // The embedded JSON and the YAML source give the same table, examples included.
  for (const auto& vendor : embedded_mapping_vendors()) {
    const auto embedded = embedded_mapping_table(vendor);
    ASSERT_TRUE(embedded) << vendor;
    const std::string path = std::string(EXPBRIDGE_SOURCE_DIR) + "/mappings/" + vendor + ".yaml";
    const std::string yaml = test::CliSandbox::slurp(path);
    auto from_yaml = MappingTable::parse(yaml, path);
    auto from_json = MappingTable::parse_embedded(embedded->json, embedded->examples_json, vendor);
    ASSERT_TRUE(from_yaml) << from_yaml.error().describe();
    ASSERT_TRUE(from_json) << from_json.error().describe();
    EXPECT_EQ(from_json->examples(), from_yaml->examples()) << vendor;
    EXPECT_FALSE(from_json->examples().empty()) << vendor;
    EXPECT_EQ(from_json->operations().size(), from_yaml->operations().size()) << vendor;
    EXPECT_EQ(from_json->fields().size(), from_yaml->fields().size()) << vendor;
    EXPECT_EQ(from_json->base_url(), from_yaml->base_url()) << vendor;
    for (const auto& field : from_yaml->fields()) EXPECT_EQ(from_json->field(field.neutral).skip, field.skip) << vendor;
  }
}

}  // namespace
}  // namespace expbridge
