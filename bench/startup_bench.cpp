// Start-up cost of the `expbridge` command, measured against `expbridge --version` in one run.
//
// A script or CI job calls expbridge once per change, so what a process spends before its first
// request matters as much as the fan-out. This program starts the vendor emulators in-process on
// 127.0.0.1, points the sample config at them, and times whole processes (posix_spawn, no shell),
// the scenarios interleaved so that load on the machine falls on all of them alike:
//   --version                           the floor: dynamic loading and static initialisation
//   plan                                config + tables + planning, no network
//   apply --no-read, answers at once     everything before and around the four requests
//   apply --no-read, answers after 50 ms one blind update to four backends: the fan-out target (<= 60 ms)
//   apply, answers after 50 ms           the default, reading first; the same update each run, so
//                                        from the second run on it finds it held and only reads
//                                        (a new process has no read hints: up to two read round trips)
//
// Usage: startup_bench [RUNS]   (default 40 runs of each scenario; prints medians and p90)
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "document.hpp"
#include "emulator/emulator.hpp"
#include "json_writer.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

/// One process, stdout and stderr to /dev/null; its wall time in ms, or -1 when it failed.
double run_ms(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const auto started = Clock::now();
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ms : -1;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5)];
}

struct Scenario {
  std::string name;
  std::vector<std::string> args;
  bool slow_backends = false;
  std::vector<double> ms;
};

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(5, std::atoi(argv[1])) : 40;
  auto host = expbridge::emulator::EmulatorHost::start({});
  if (!host) {
    std::fprintf(stderr, "startup_bench: %s\n", host.error().describe().c_str());
    return 1;
  }
  // The sample config with every backend on the emulators.
  auto config = expbridge::load_document(std::string(EXPBRIDGE_SOURCE_DIR) + "/samples/backends.yaml");
  if (!config) {
    std::fprintf(stderr, "startup_bench: %s\n", config.error().describe().c_str());
    return 1;
  }
  for (auto& backend : config->root.as_object()["backends"].as_object())
    backend.value().as_object()["endpoint"] = (*host)->base_url();
  const fs::path dir = fs::temp_directory_path() / ("expbridge-startup-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string config_path = (dir / "backends.json").string();
  const std::string update_path = (dir / "update.json").string();
  std::ofstream(config_path) << expbridge::write_json(config->root);
  // A description change: one request to each of the four backends, no state read first.
  std::ofstream(update_path) << R"({"experiment": "checkout-redesign", "description": "Start-up benchmark"})";

  std::vector<std::string> env = {"PATH=/usr/bin:/bin", "HOME=" + dir.string()};
  for (const auto& credential : (*host)->credentials()) env.push_back(credential.variable + "=" + credential.value);

  const std::string cli = EXPBRIDGE_CLI;
  // The rollout's first two steps, so that every backend has something a description reaches
  // (AppConfig's run 1, among others).
  for (const char* step : {"redesign-variations.yaml", "start.yaml"}) {
    const std::string path = std::string(EXPBRIDGE_SOURCE_DIR) + "/samples/updates/" + step;
    if (run_ms({cli, "apply", "--config", config_path, path}, env) < 0) {
      std::fprintf(stderr, "startup_bench: applying %s to the emulators failed\n", path.c_str());
      return 1;
    }
  }
  std::vector<Scenario> scenarios = {
      {"--version", {cli, "--version"}, false, {}},
      {"plan (no network)", {cli, "plan", "--config", config_path, update_path}, false, {}},
      {"apply --no-read, 4 backends answering at once", {cli, "apply", "--no-read", "--config", config_path, update_path}, false, {}},
      {"apply --no-read, 4 backends answering after 50 ms", {cli, "apply", "--no-read", "--config", config_path, update_path}, true, {}},
      {"apply (reads first; already held, so reads only), 4 backends answering after 50 ms", {cli, "apply", "--config", config_path, update_path}, true, {}},
  };
  // Each vendor's API answers after 50 ms; Auth0's token endpoint, a separate service in
  // reality, answers at once.
  std::vector<expbridge::emulator::Fault> slow;
  for (const char* vendor : {"appconfig", "launchdarkly", "evidently"}) {
    expbridge::emulator::Fault f;
    f.vendor = vendor;
    f.latency = std::chrono::milliseconds(50);
    slow.push_back(f);
  }
  expbridge::emulator::Fault auth0_api;
  auth0_api.vendor = "auth0";
  auth0_api.path_prefix = "/api/v2/";
  auth0_api.latency = std::chrono::milliseconds(50);
  slow.push_back(auth0_api);

  for (int run = 0; run < runs; ++run) {
    for (auto& s : scenarios) {
      if (auto ok = (*host)->set_faults(s.slow_backends ? slow : std::vector<expbridge::emulator::Fault>{}); !ok) {
        std::fprintf(stderr, "startup_bench: %s\n", ok.error().describe().c_str());
        return 1;
      }
      const double ms = run_ms(s.args, env);
      if (ms < 0) {
        std::fprintf(stderr, "startup_bench: '%s' failed; run it by hand: %s\n", s.name.c_str(), s.args[1].c_str());
        return 1;
      }
      s.ms.push_back(ms);
    }
  }
  std::error_code ignored;  // a leftover temp folder is harmless
  fs::remove_all(dir, ignored);

  const double floor = percentile(scenarios[0].ms, 0.5);
  std::printf("| scenario (%d runs each, interleaved) | median | p90 | median - --version |\n|---|---:|---:|---:|\n", runs);
  for (const auto& s : scenarios)
    std::printf("| %s | %.1f ms | %.1f ms | %+.1f ms |\n", s.name.c_str(), percentile(s.ms, 0.5), percentile(s.ms, 0.9),
                percentile(s.ms, 0.5) - floor);
  return 0;
}
