// The Auth0 emulator: the tenant's token endpoint and the Management API v2 Experiment Center
// experiments, feature flags and variations (facts: Auth0 Management API v2 reference,
// `experimentation` operations).
//
// A second witness of the vendor's rules: written from the vendor's documentation (tests/sdk
// has no Auth0 client to check it against), it never includes the auth0 adapter nor reads
// mappings/auth0.yaml, so a rule the adapter gets wrong is caught rather than echoed.
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
