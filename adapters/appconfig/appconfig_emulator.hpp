// The AWS AppConfig experimentation emulator (API of 2026-06-29; facts: shared/vendors/appconfig.md).
#pragma once

#include <memory>

#include "emulator/emulator.hpp"

namespace expbridge::emulator {

/// Serves `/applications/...` and `/experimentdefinitions` with the 11 experiment operations,
/// SigV4 (signing name `appconfig`) checked on every request.
std::unique_ptr<VendorEmulator> make_appconfig_emulator();

}  // namespace expbridge::emulator
