// `apply_bench --only migrate`: the migration benchmark — N experiments (10,000) in a
// generated AWS CLI export of Evidently, imported with `expbridge import evidently`, then migrated
// by `expbridge migrate --apply` to the AppConfig and LaunchDarkly emulators throttling at their
// rate limits; counted on the emulators' wire, timed against the floor those limits impose, with
// the CLI children's peak RSS at each size. migrate_bench.cpp says how.
#pragma once

#include <string>

namespace expbridge::bench {

/// Runs the benchmark with apply_bench's command line (`--only migrate` and the options
/// `--only migrate --help` lists); `default_cli` is the expbridge binary built with it.
/// Exit code 0 when every size ran with zero failures and every create and start was made
/// exactly once on the wire.
int migrate_bench_main(int argc, char** argv, const std::string& default_cli);

}  // namespace expbridge::bench
