// expbridge tests — the expbridge command with the test-only fakevendor added to the built-in
// vendors, the way a program with vendors of its own adds them: one registration line.
#include <cstdio>

#include "expbridge/adapter.hpp"
#include "run_cli.hpp"
#include "support/fake_vendor/fakevendor_vendor.hpp"

int main(int argc, char** argv) {
  expbridge::Registry registry;
  expbridge::register_builtin_vendors(registry);
  if (auto added = registry.add(expbridge::test::fakevendor_vendor()); !added) {
    std::fprintf(stderr, "expbridge_fake_vendor_cli: %s\n", added.error().message.c_str());
    return 2;
  }
  return expbridge::cli::run_cli(argc, argv, registry);
}
