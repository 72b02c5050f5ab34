// AWS AppConfig experiments (the experimentation API of 2026-06-29: definitions and runs).
#pragma once

#include "expbridge/adapter.hpp"

namespace expbridge {

/// Registers the `appconfig` vendor.
///
/// Backend settings: `region` (e.g. `us-east-1`), `application` (ID or name) and an optional
/// `profile` naming an `~/.aws/credentials` profile for signing. Binding:
/// `{definition: ID-or-name, run: N, treatments: {variation key: AppConfig treatment key}}`.
Status register_appconfig(Registry& registry);

}  // namespace expbridge
