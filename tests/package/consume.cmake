# Installs the built library into a scratch prefix, builds samples/embed against it with
# find_package(expbridge), and runs it on the sample config. Run by ctest.
file(REMOVE_RECURSE "${WORK_DIR}")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BINARY_DIR}" --prefix "${WORK_DIR}/prefix"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S "${SOURCE_DIR}/samples/embed" -B "${WORK_DIR}/build"
                        "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix" -DCMAKE_BUILD_TYPE=Release
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the consumer failed:\n${out}\n${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build "${WORK_DIR}/build" -j2
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the consumer failed:\n${out}\n${err}")
endif()
execute_process(COMMAND "${WORK_DIR}/build/plan_in_code" "${SOURCE_DIR}/samples/backends.yaml"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "plan_in_code failed (${rc}):\n${err}")
endif()
foreach(expected "aws (appconfig): 1 request(s); PATCH https://appconfig.us-east-1.amazonaws.com/applications/abc1234/experimentdefinitions/bsxyd7k/experimentruns/1/update"
                 "ld (launchdarkly): 1 request(s)" "skips exposure")
  string(FIND "${out}" "${expected}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "plan_in_code output lacks '${expected}'")
  endif()
endforeach()

# The installed command carries its samples: its demo runs from a folder that holds nothing else.
file(MAKE_DIRECTORY "${WORK_DIR}/elsewhere")
execute_process(COMMAND "${WORK_DIR}/prefix/bin/expbridge" demo WORKING_DIRECTORY "${WORK_DIR}/elsewhere"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the installed expbridge demo failed (${rc}):\n${out}\n${err}")
endif()
foreach(expected "the embedded samples/" "demo: every backend applied every update it could express")
  string(FIND "${out}" "${expected}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "the installed demo's output lacks '${expected}':\n${out}")
  endif()
endforeach()
string(FIND "${out}${err}" "${SOURCE_DIR}" leaked)
if(NOT leaked EQUAL -1)
  message(FATAL_ERROR "the installed demo names the source tree ${SOURCE_DIR}:\n${out}")
endif()
