// What the end-to-end benchmarks (apply_bench and its `--only migrate`) share: text helpers,
// the scratch folder written for the CLI children, the emulators' credentials, the machine.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace expbridge::bench {

using Clock = std::chrono::steady_clock;

std::string strf(const char* pattern, ...) __attribute__((format(printf, 1, 2)));
double ms_since(Clock::time_point since);
/// Nearest-rank percentile (p in 0..100) of unsorted values; 0 when empty.
double percentile(std::vector<double> values, double p);
/// 10000 -> "10,000".
std::string thousands(std::size_t n);
std::string mib(long kib);

/// The scratch folder for the children's configs and inputs: removed by remove_scratch() (and
/// die()) unless `keep`.
void set_scratch(std::filesystem::path dir, bool keep);
void remove_scratch();
[[noreturn]] void die(const std::string& message);

/// The emulators' own credentials (emulator::test_credentials: the documented AWS example keys,
/// the emulators' LD token and Auth0 client), as environment variables for a child.
std::vector<std::pair<std::string, std::string>> secret_environment();

std::string load_average();
std::string cpu_model();
/// `text` as a number in low..high, else die() naming `what`.
long parse_number(const char* text, long low, long high, const char* what);

}  // namespace expbridge::bench
