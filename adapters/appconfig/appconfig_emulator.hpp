// The AWS AppConfig experimentation emulator (facts: AWS AppConfig API Reference, the experiment
// definition and run operations of 2026-06-29). It never includes the AppConfig adapter.
#pragma once

#include <memory>

#include "emulator/emulator.hpp"

namespace expbridge::emulator {

/// Serves `/applications/...` and `/experimentdefinitions` with the 11 experiment operations,
/// SigV4 (signing name `appconfig`) checked on every request.
std::unique_ptr<VendorEmulator> make_appconfig_emulator();

}  // namespace expbridge::emulator
