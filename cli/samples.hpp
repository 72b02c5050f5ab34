// The README's sample config and updates, embedded at build time (samples/), so that `expbridge
// demo` works from an installed binary, wherever the source tree is.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace expbridge::cli {

struct EmbeddedSample {
  std::string_view name;  ///< path under samples/, e.g. `updates/start.yaml`
  std::string_view text;
};

/// Every file of samples/backends.yaml and samples/updates/*.yaml.
std::vector<EmbeddedSample> embedded_samples();

/// The text of one embedded sample, by its path under samples/.
std::optional<std::string_view> embedded_sample(std::string_view name);

}  // namespace expbridge::cli
