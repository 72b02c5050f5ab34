// LaunchDarkly emulator: the REST API v2 experiment endpoints (semantic patch) and Get feature
// flag, in process. Facts: LaunchDarkly REST API v2 reference (Experiments, Feature flags).
//
// A second witness of the vendor's rules: written from the vendor's documentation and checked
// against its official SDK (tests/sdk), it never includes the launchdarkly adapter nor reads
// mappings/launchdarkly.yaml, so a rule the adapter gets wrong is caught rather than echoed.
#pragma once

#include <memory>

#include "emulator/emulator.hpp"

namespace expbridge::emulator {

/// A LaunchDarkly emulator with an empty state; `seed()` it with the fixture's
/// `launchdarkly:` section (adapters/launchdarkly/launchdarkly_emulator_fixture.yaml).
std::unique_ptr<VendorEmulator> make_launchdarkly_emulator();

}  // namespace expbridge::emulator
