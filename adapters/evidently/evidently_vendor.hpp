// Amazon CloudWatch Evidently: everything expbridge knows of the vendor, as one registration.
#pragma once

#include "expbridge/adapter.hpp"

namespace expbridge {

/// The `evidently` vendor: its adapter (evidently_adapter.hpp), its emulator (evidently_emulator.hpp) and the
/// table embedded from mappings/evidently.yaml. Registered by adapters/builtin.cpp.
Vendor evidently_vendor();

}  // namespace expbridge
