// Auth0 Experiment Center: everything expbridge knows of the vendor, as one registration.
#pragma once

#include "expbridge/adapter.hpp"

namespace expbridge {

/// The `auth0` vendor: its adapter (auth0_adapter.hpp), its emulator (auth0_emulator.hpp) and the
/// table embedded from mappings/auth0.yaml. Registered by adapters/builtin.cpp.
Vendor auth0_vendor();

}  // namespace expbridge
