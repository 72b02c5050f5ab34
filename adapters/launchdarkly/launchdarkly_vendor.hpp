// LaunchDarkly experiments: everything expbridge knows of the vendor, as one registration.
#pragma once

#include "expbridge/adapter.hpp"

namespace expbridge {

/// The `launchdarkly` vendor: its adapter (launchdarkly_adapter.hpp), its emulator (launchdarkly_emulator.hpp) and the
/// table embedded from mappings/launchdarkly.yaml. Registered by adapters/builtin.cpp.
Vendor launchdarkly_vendor();

}  // namespace expbridge
