#!/usr/bin/env bash
# Installs the Debian bookworm packages expbridge builds with, only those missing.
# Safe to re-run: with everything present it changes nothing and needs no network.
#   scripts/install-deps.sh            what the build and the test suite need (scripts/build.sh, test.sh)
#   scripts/install-deps.sh sanitize   that plus clang 19 and its runtimes, for the sanitized build
#                                      and the fuzzers (scripts/sanitize.sh, fuzz.sh); the default
#                                      build and the README's test command do not need clang.
set -euo pipefail

# libpq-dev: the PostgreSQL state store; postgresql-15: the throw-away server its tests start
# (tests/support/postgres_server.cpp), not a service expbridge needs.
packages=(cmake g++ make ccache libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libyaml-dev libre2-dev
          libsqlite3-dev libspdlog-dev libssl-dev libgtest-dev libgmock-dev libcli11-dev libbenchmark-dev
          libpq-dev postgresql-15)
case "${1:-}" in
  "") ;;
  # libclang-rt-19-dev: the ASan/UBSan runtimes and libFuzzer; llvm-19: llvm-symbolizer, so
  # sanitizer reports name functions and lines.
  sanitize) packages+=(clang-19 libclang-rt-19-dev llvm-19) ;;
  *) echo "usage: $0 [sanitize]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The SDK conformance test (tests/sdk) needs node and npm. A NodeSource node bundles its own
# npm and conflicts with Debian's npm package, so each is added only when its command is missing.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "expbridge: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "expbridge: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
