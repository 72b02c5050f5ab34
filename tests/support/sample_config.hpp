// expbridge tests — the samples' backends.yaml pointed at one emulator host, as the converging
// tests use it: the current AppConfig run found by reading, not pinned.
#pragma once

#include <string>

#include "document.hpp"
#include "expbridge/bridge.hpp"
#include "json_writer.hpp"

namespace expbridge::test {

/// samples/backends.yaml with every endpoint at `base_url` and checkout-redesign's AppConfig
/// `run` left out, loaded under the name `source`.
inline Result<Bridge> sample_bridge(const std::string& base_url, std::string source) {
  auto doc = load_document(std::string(EXPBRIDGE_SOURCE_DIR) + "/samples/backends.yaml");
  if (!doc) return std::unexpected(std::move(doc).error());
  for (auto& backend : doc->root.as_object()["backends"].as_object())
    backend.value().as_object()["endpoint"] = base_url;
  doc->root.as_object()["experiments"].as_object()["checkout-redesign"].as_object()["aws"].as_object().erase("run");
  return Bridge::from_text(write_json(doc->root), std::move(source));
}

}  // namespace expbridge::test
