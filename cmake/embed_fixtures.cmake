# Writes OUTPUT: a C++ source holding every default emulator fixture (FIXTURES, a |-list of
# adapters/<vendor>/<vendor>_emulator_fixture.yaml) as a string, so `expbridge emulate` and the
# tests carry their default state. Run at build time by CMakeLists.txt; the files are merged at
# run time (emulator/fixtures.cpp).
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
#include \"emulator/fixtures.hpp\"

namespace expbridge::emulator {

std::vector<EmbeddedFixture> embedded_fixture_files() {
  return {
${body}  };
}

}  // namespace expbridge::emulator
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
file(REMOVE "${OUTPUT}.tmp")
