// The AWS AppConfig experimentation emulator (facts: AWS AppConfig API Reference, the experiment
// definition and run operations of 2026-06-29).
//
// A second witness of the vendor's rules: written from the vendor's documentation and checked
// against its official SDK (tests/sdk), it never includes the appconfig adapter nor reads
// mappings/appconfig.yaml, so a rule the adapter gets wrong is caught rather than echoed.
#pragma once

#include <memory>

#include "emulator/emulator.hpp"

namespace expbridge::emulator {

/// Serves `/applications/...` and `/experimentdefinitions` with the 11 experiment operations,
/// SigV4 (signing name `appconfig`) checked on every request.
std::unique_ptr<VendorEmulator> make_appconfig_emulator();

}  // namespace expbridge::emulator
