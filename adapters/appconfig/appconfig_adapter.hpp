// AWS AppConfig experiments (the experimentation API of 2026-06-29: definitions and runs).
#pragma once

#include "expbridge/adapter.hpp"

namespace expbridge {

/// Builds a `appconfig` backend (the adapter factory of `appconfig_vendor()`).
///
/// Backend settings: `region` (e.g. `us-east-1`), `application` (ID or name) and an optional
/// `profile` naming an `~/.aws/credentials` profile for signing. Binding:
/// `{definition: ID-or-name, run: N, treatments: {variation key: AppConfig treatment key}}`.
Result<std::unique_ptr<Adapter>> make_appconfig_adapter(const BackendContext& context);

}  // namespace expbridge
