# Writes OUTPUT: a C++ source holding every default emulator fixture (FIXTURES, a |-list of
# adapters/<vendor>/<vendor>_emulator_fixture.yaml) as a string, looked up by file name, so
# each emulator carries its own default state (its `default_fixture()`). Run at build time by
# CMakeLists.txt; the host merges the emulators' defaults at run time (emulator/emulator_host.cpp).
string(REPLACE "|" ";" FIXTURES "${FIXTURES}")
set(body "")
foreach(fixture IN LISTS FIXTURES)
  get_filename_component(name "${fixture}" NAME)
  file(READ "${fixture}" text)
  string(FIND "${text}" ")expbridge_fx\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${fixture} contains the raw-string delimiter )expbridge_fx\"")
  endif()
  string(APPEND body "      {\"${name}\", R\"expbridge_fx(${text})expbridge_fx\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from adapters/*/*_emulator_fixture.yaml by cmake/embed_fixtures.cmake. Do not edit.
#include <array>
#include <utility>

#include \"emulator/fixtures.hpp\"

namespace expbridge::emulator {
namespace {

constexpr std::pair<std::string_view, std::string_view> kFiles[] = {
${body}};

}  // namespace

Result<std::string_view> embedded_fixture(std::string_view file_name) {
  for (const auto& [name, text] : kFiles)
    if (name == file_name) return text;
  return std::unexpected(make_error(ErrorCode::internal, \"no default fixture \" + std::string(file_name) +
                                                            \" was embedded (adapters/*/*_emulator_fixture.yaml)\"));
}

std::vector<std::string_view> embedded_fixture_names() {
  std::vector<std::string_view> out;
  for (const auto& [name, text] : kFiles) out.push_back(name);
  return out;
}

}  // namespace expbridge::emulator
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
file(REMOVE "${OUTPUT}.tmp")
