#include "samples.hpp"

namespace expbridge::cli {

std::optional<std::string_view> embedded_sample(std::string_view name) {
  static const std::vector<EmbeddedSample> samples = embedded_samples();
  for (const auto& sample : samples)
    if (sample.name == name) return sample.text;
  return std::nullopt;
}

}  // namespace expbridge::cli
