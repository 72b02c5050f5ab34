// The shipped expbridge command: the built-in vendors.
#include "expbridge/adapter.hpp"
#include "run_cli.hpp"

int main(int argc, char** argv) { return expbridge::cli::run_cli(argc, argv, expbridge::Registry::builtin()); }
