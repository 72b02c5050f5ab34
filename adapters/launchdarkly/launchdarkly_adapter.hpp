// LaunchDarkly experiments (REST API v2, semantic patch).
#pragma once

#include "expbridge/adapter.hpp"

namespace expbridge {

/// Builds a `launchdarkly` backend (the adapter factory of `launchdarkly_vendor()`).
Result<std::unique_ptr<Adapter>> make_launchdarkly_adapter(const BackendContext& context);

}  // namespace expbridge
