// The expbridge command as a function of the vendors it knows, so that a program with vendors
// of its own (the test-only fake vendor's command) is the same command.
#pragma once

#include "expbridge/adapter.hpp"

namespace expbridge::cli {

/// Parses `argv` and runs the chosen subcommand with `registry`'s vendors (plan, validate,
/// apply, mappings, emulate, demo). Returns the exit code: 0 fine, 1 a backend failed,
/// 2 invalid input (nothing sent).
int run_cli(int argc, char** argv, const Registry& registry);

}  // namespace expbridge::cli
