#!/usr/bin/env bash
# Runs each libFuzzer harness (tests/fuzz/) for a bounded time on a COPY of its seed corpus
# (tests/fuzz/corpus/<harness>/, so the repository is never modified), in the `sanitize`
# build (ASan + UBSan). Fails on any crash, sanitizer report, leak, timeout or OOM, printing
# the artifact's path, its bytes (CI machines do not last) and the command that reproduces it.
#
#   EXPBRIDGE_FUZZ_SECONDS  seconds per harness (default 60)
#   EXPBRIDGE_FUZZERS       the harnesses to run (default: all five)
#   EXPBRIDGE_FUZZ_JOBS     harnesses run at once (default 2, one per core of the CI machine)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${EXPBRIDGE_FUZZ_SECONDS:-40}
read -r -a harnesses <<<"${EXPBRIDGE_FUZZERS:-update_document_fuzzer config_fuzzer vendor_response_fuzzer retry_signal_fuzzer import_fuzzer}"
jobs=${EXPBRIDGE_FUZZ_JOBS:-2}

# Longest input per harness: documents and configs of a few KiB cover every construct; a
# vendor body gets more room (error pages, state reads).
declare -A max_len=([update_document_fuzzer]=4096 [config_fuzzer]=4096 [vendor_response_fuzzer]=8192
                    [retry_signal_fuzzer]=2048 [import_fuzzer]=16384)
# A unit slower than this is a finding (a parser that loops); RSS over the limit too.
limits=(-timeout=10 -rss_limit_mb=2048)

scripts/install-deps.sh sanitize
source scripts/sanitizer-env.sh
build_sanitized "${harnesses[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/expbridge-fuzz.XXXXXX")

# One harness: prints one summary line; its log stays in $work/<harness>/log.
run_one() {
  local h=$1 dir=$work/$1 start=$SECONDS rc=0
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -R "tests/fuzz/corpus/$h/." "$dir/corpus/"
  local args=("${limits[@]}" "-max_len=${max_len[$h]:-4096}" "-max_total_time=$seconds"
              "-artifact_prefix=$dir/artifacts/" -print_final_stats=1)
  [ -f "tests/fuzz/$h.dict" ] && args+=("-dict=tests/fuzz/$h.dict")
  "build-sanitize/fuzz/$h" "${args[@]}" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
  echo "$rc" >"$dir/rc"
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  printf 'fuzz: %-24s exit %-3s %4d s  %s runs  corpus %d -> %d inputs\n' "$h" "$rc" $((SECONDS - start)) \
    "${execs:-?}" "$(find "tests/fuzz/corpus/$h" -type f | wc -l)" "$(find "$dir/corpus" -type f | wc -l)"
}

running=0
for h in "${harnesses[@]}"; do
  [ -x "build-sanitize/fuzz/$h" ] || { echo "fuzz: no harness build-sanitize/fuzz/$h" >&2; exit 2; }
  [ -d "tests/fuzz/corpus/$h" ] || { echo "fuzz: no seed corpus tests/fuzz/corpus/$h" >&2; exit 2; }
  run_one "$h" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=()
for h in "${harnesses[@]}"; do
  dir=$work/$h
  rc=$(cat "$dir/rc")
  mapfile -t artifacts < <(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
                                -o -name 'oom-*' \) | sort)
  [ "$rc" = 0 ] && [ ${#artifacts[@]} -eq 0 ] && continue
  failed+=("$h")
  echo
  echo "fuzz: $h FAILED (exit $rc). The report (end of $dir/log):"
  # The sanitizer's or libFuzzer's own report: from its first line, not the run's progress lines.
  report=$(awk '/^==[0-9]+==|ERROR: libFuzzer|runtime error:|^SUMMARY:|ALARM|out-of-memory/ { found = 1 } found' "$dir/log")
  # No report at all (the harness did not start, a setup failure): the log's end says why.
  [ -n "$report" ] || report=$(tail -30 "$dir/log")
  head -80 <<<"$report" | sed 's/^/  | /'
  for a in "${artifacts[@]}"; do
    echo "fuzz: artifact $a ($(stat -c %s "$a") bytes)"
    if [ "$(stat -c %s "$a")" -le 512 ]; then
      echo "fuzz: its bytes (base64): $(base64 -w0 "$a")"
    fi
    echo "fuzz: reproduce: (cd $root && source scripts/sanitizer-env.sh && build-sanitize/fuzz/$h ${limits[*]} $a)"
  done
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: findings in ${failed[*]}; logs, corpora and artifacts kept in $work"
  exit 1
fi
rm -rf "$work"
echo "fuzz: no findings (${#harnesses[@]} harnesses, ${seconds} s each)"
