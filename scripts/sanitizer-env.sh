# Sourced by scripts/sanitize.sh and scripts/fuzz.sh: how sanitized binaries report.
# Any report fails (halt_on_error; the build also has -fno-sanitize-recover=all), leaks
# included, with a symbolized stack.
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:print_stacktrace=1:check_initialization_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:report_error_type=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-print_suppressions=0}"
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/lib/llvm-19/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-19/bin/llvm-symbolizer
fi

# Configures and builds the `sanitize` preset (build-sanitize/), or only the given targets.
build_sanitized() {
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake --preset sanitize "${launcher[@]}" >/dev/null
  if [ $# -eq 0 ]; then
    cmake --build --preset sanitize
  else
    cmake --build --preset sanitize --target "$@"
  fi
}
