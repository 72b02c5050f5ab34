// AWS AppConfig experiments: everything expbridge knows of the vendor, as one registration.
#pragma once

#include "expbridge/adapter.hpp"

namespace expbridge {

/// The `appconfig` vendor: its adapter (appconfig_adapter.hpp), its emulator (appconfig_emulator.hpp) and the
/// table embedded from mappings/appconfig.yaml. Registered by adapters/builtin.cpp.
Vendor appconfig_vendor();

}  // namespace expbridge
