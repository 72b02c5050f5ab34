// Auth0 Experiment Center (Management API v2, /api/v2/experimentation, beta).
#pragma once

#include "expbridge/adapter.hpp"

namespace expbridge {

/// Builds an `auth0` backend (the adapter factory of `auth0_vendor()`).
///
/// Backend settings: `domain` (the tenant's Auth0 host name), `client_id_env` and
/// `client_secret_env` (names of the environment variables holding the Machine-to-Machine
/// application's credentials). Binding: `id` (`exp_…`) and `variations`
/// (neutral variation key -> `var_…`).
Result<std::unique_ptr<Adapter>> make_auth0_adapter(const BackendContext& context);

}  // namespace expbridge
