// LaunchDarkly experiments (REST API v2, semantic patch).
#pragma once

#include "expbridge/adapter.hpp"

namespace expbridge {

/// Registers the `launchdarkly` vendor.
Status register_launchdarkly(Registry& registry);

}  // namespace expbridge
