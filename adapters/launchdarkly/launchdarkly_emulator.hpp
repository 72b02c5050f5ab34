// LaunchDarkly emulator: the REST API v2 experiment endpoints (semantic patch), in process.
// Facts: ../shared/vendors/launchdarkly.md and the seed "Patch experiment" page.
#pragma once

#include <memory>

#include "emulator/emulator.hpp"

namespace expbridge::emulator {

/// A LaunchDarkly emulator with an empty state; `seed()` it with the fixture's
/// `launchdarkly:` section (fixtures/default-launchdarkly.yaml).
std::unique_ptr<VendorEmulator> make_launchdarkly_emulator();

}  // namespace expbridge::emulator
