// The Auth0 emulator: the tenant's token endpoint and the Management API v2 Experiment Center
// experiments (facts: ../shared/vendors/auth0.md).
#pragma once

#include <memory>

#include "emulator/emulator.hpp"

namespace expbridge::emulator {

/// The `auth0` emulator. Serves `POST /oauth/token` (client credentials) and
/// `/api/v2/experimentation/experiments[/{id}[/status|/validate]]`; other Management API
/// paths are not claimed (LaunchDarkly also lives under `/api/v2`).
std::unique_ptr<VendorEmulator> make_auth0_emulator();

}  // namespace expbridge::emulator
