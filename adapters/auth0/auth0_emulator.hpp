// The Auth0 emulator: the tenant's token endpoint and the Management API v2 Experiment Center
// experiments, feature flags and variations (facts: Auth0 Management API v2 reference,
// `experimentation` operations). It never includes the Auth0 adapter nor reads the mapping tables.
#pragma once

#include <memory>

#include "emulator/emulator.hpp"

namespace expbridge::emulator {

/// The `auth0` emulator. Serves `POST /oauth/token` (client credentials) and
/// `/api/v2/experimentation/experiments[/{id}[/status|/validate]]` and the reads
/// `/api/v2/experimentation/feature-flags/{id}[/variations[/{vid}]]`; other Management API
/// paths are not claimed (LaunchDarkly also lives under `/api/v2`).
std::unique_ptr<VendorEmulator> make_auth0_emulator();

}  // namespace expbridge::emulator
