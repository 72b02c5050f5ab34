#include "bench_support.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string_view>
#include <system_error>

#include "emulator/emulator.hpp"
#include "expbridge/adapter.hpp"

namespace expbridge::bench {

std::string strf(const char* pattern, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, pattern);
  const int n = std::vsnprintf(buffer, sizeof buffer, pattern, args);
  va_end(args);
  if (n < 0) return {};
  return std::string(buffer, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buffer - 1));
}

double ms_since(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  rank = std::clamp<std::size_t>(rank, 1, values.size());
  return values[rank - 1];
}

std::string thousands(std::size_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

namespace {
std::filesystem::path g_scratch_dir;
bool g_keep_scratch = false;
}  // namespace

void set_scratch(std::filesystem::path dir, bool keep) {
  g_scratch_dir = std::move(dir);
  g_keep_scratch = keep;
}

void remove_scratch() {
  if (g_scratch_dir.empty() || g_keep_scratch) return;
  std::error_code ignored;
  std::filesystem::remove_all(g_scratch_dir, ignored);
  g_scratch_dir.clear();
}

[[noreturn]] void die(const std::string& message) {
  std::cerr << "apply_bench: " << message << "\n";
  remove_scratch();
  std::exit(2);
}

// The child gets them in its environment; the in-process Applier through ApplyOptions::environment.

std::vector<std::pair<std::string, std::string>> secret_environment() {
  std::vector<std::pair<std::string, std::string>> out;
  auto credentials = expbridge::emulator::test_credentials(expbridge::Registry::builtin());
  if (!credentials) die("emulator credentials: " + credentials.error().describe());
  for (const auto& c : *credentials) out.emplace_back(c.variable, c.value);
  return out;
}

std::string mib(long kib) { return strf("%.1f MiB", static_cast<double>(kib) / 1024.0); }

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five;
  in >> one >> five;
  return one.empty() ? std::string("?") : one + " (1 min)";
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("model name")) {
      const auto colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  return "an unknown CPU";
}

long parse_number(const char* text, long low, long high, const char* what) {
  long value = 0;
  const std::string_view s(text);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size() || value < low || value > high)
    die(strf("%s must be a number in %ld..%ld", what, low, high));
  return value;
}

}  // namespace expbridge::bench
