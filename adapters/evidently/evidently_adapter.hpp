// Amazon CloudWatch Evidently (features and experiments, API 2021-02-01; end of support 2025-10-16).
#pragma once

#include "expbridge/adapter.hpp"

namespace expbridge {

/// Builds a `evidently` backend (the adapter factory of `evidently_vendor()`).
///
/// Backend settings: `region` (an AWS region name), `project` (a project name or ARN),
/// optional `profile` (the AWS profile whose credentials sign requests).
/// Binding: `feature` (the Evidently feature the neutral experiment drives), optional
/// `experiment` (the Evidently experiment splitting that feature's traffic, which receives
/// exposure and weights) and optional `treatments` (neutral variation key -> treatment
/// name; a key not listed is its own treatment name; only together with `experiment`).
Result<std::unique_ptr<Adapter>> make_evidently_adapter(const BackendContext& context);

}  // namespace expbridge
