// A CLI child run the way the benchmarks measure it: fed its stdin, its output collected, killed
// past a time limit, its own peak RSS and CPU from wait4() (see child_process.cpp on why a
// freshly exec'd measurer starts it).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace expbridge::bench {

struct ChildRun {
  double wall_ms = 0;   ///< first byte written to the child (its start, without input) to its exit
  int exit_code = -1;   ///< -1 when it did not exit normally
  int signal = 0;       ///< the signal that ended it, if one did
  bool killed = false;  ///< ran past its time limit
  long max_rss_kib = 0; ///< wait4() ru_maxrss of the CLI process
  long floor_kib = 0;   ///< the measurer's high-water RSS (VmHWM) when it started the CLI
  double user_s = 0, system_s = 0;
  double bench_cpu_s = 0;  ///< this process (the emulators, mostly) during the run
  std::string out, err, report;
};

/// Runs `argv` with exactly `env` under the measurer, feeding `input` to its stdin while
/// collecting stdout and stderr; the measurer kills it after `limit`. Safe to call from
/// several threads at once (one child each).
ChildRun run_child(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& input,
                   std::chrono::seconds limit);

/// `PROGRAM --spawn-and-measure LIMIT_S -- PROGRAM ARGS...` (the measurer run_child starts: the
/// benchmark's main calls this when argv[1] is `--spawn-and-measure`).
int spawn_and_measure(int argc, char** argv);

}  // namespace expbridge::bench
