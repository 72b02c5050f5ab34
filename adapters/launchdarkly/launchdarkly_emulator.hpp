// LaunchDarkly emulator: the REST API v2 experiment endpoints (semantic patch) and Get feature
// flag, in process. Facts: LaunchDarkly REST API v2 reference (Experiments, Feature flags); it
// never includes the LaunchDarkly adapter nor reads the mapping tables.
#pragma once

#include <memory>

#include "emulator/emulator.hpp"

namespace expbridge::emulator {

/// A LaunchDarkly emulator with an empty state; `seed()` it with the fixture's
/// `launchdarkly:` section (adapters/launchdarkly/launchdarkly_emulator_fixture.yaml).
std::unique_ptr<VendorEmulator> make_launchdarkly_emulator();

}  // namespace expbridge::emulator
