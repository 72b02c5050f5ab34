# Writes OUTPUT: a C++ source holding every mapping table (TABLES, a ;-list of files)
# as a string, so the binary carries its tables. Run at build time by CMakeLists.txt.
string(REPLACE "|" ";" TABLES "${TABLES}")
set(body "")
set(names "")
foreach(table IN LISTS TABLES)
  get_filename_component(vendor "${table}" NAME_WE)
  file(READ "${table}" text)
  string(FIND "${text}" ")expbridge_table\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${table} contains the raw-string delimiter )expbridge_table\"")
  endif()
  string(APPEND body "    {\"${vendor}\", R\"expbridge_table(${text})expbridge_table\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from mappings/*.yaml by cmake/embed_tables.cmake. Do not edit.
#include \"expbridge/mapping.hpp\"

#include <array>
#include <utility>

namespace expbridge {
namespace {
constexpr std::pair<std::string_view, std::string_view> kTables[] = {
${body}};
}  // namespace

std::optional<std::string_view> embedded_mapping_table(std::string_view vendor) {
  for (const auto& [name, text] : kTables)
    if (name == vendor) return text;
  return std::nullopt;
}

std::vector<std::string> embedded_mapping_vendors() {
  std::vector<std::string> out;
  for (const auto& [name, text] : kTables) out.emplace_back(name);
  return out;
}

}  // namespace expbridge
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
file(REMOVE "${OUTPUT}.tmp")
