// The emulators of a registry's vendors, and what the host gathers from all of them.
#include <algorithm>

#include "emulator/emulator.hpp"
#include "expbridge/adapter.hpp"

namespace expbridge::emulator {

std::optional<std::string> VendorEmulator::credential(std::string_view variable) const {
  for (auto& c : credentials())
    if (c.variable == variable) return std::move(c.value);
  return std::nullopt;
}

Status VendorEmulator::limit_rate(const boost::json::value& section, std::chrono::system_clock::time_point) {
  if (section.is_null()) return {};
  Error e = make_error(ErrorCode::invalid_input, "the " + std::string(vendor()) + " emulator emulates no rate limits");
  e.field = "rate_limits." + std::string(vendor());
  return std::unexpected(std::move(e));
}

RateVerdict VendorEmulator::rate_limit(const ServerRequest&, std::chrono::system_clock::time_point) { return {}; }

Result<std::vector<std::unique_ptr<VendorEmulator>>> make_emulators(const Registry& registry) {
  std::vector<std::unique_ptr<VendorEmulator>> out;
  for (const auto& name : registry.vendors()) {
    const Vendor* vendor = registry.vendor(name);
    if (vendor == nullptr || !vendor->emulator) continue;
    auto emulator = vendor->emulator();
    if (!emulator)
      return std::unexpected(make_error(ErrorCode::internal, "the emulator factory of vendor '" + name + "' built nothing"));
    // The host routes, seeds and counts by vendor(): it must be the registered name.
    if (emulator->vendor() != name)
      return std::unexpected(make_error(ErrorCode::internal, "vendor '" + name + "' is registered with an emulator of '" +
                                                                 std::string(emulator->vendor()) + "'"));
    out.push_back(std::move(emulator));
  }
  return out;
}

Result<std::vector<Credential>> merge_credentials(const std::vector<std::unique_ptr<VendorEmulator>>& emulators) {
  std::vector<Credential> merged;
  std::vector<std::string_view> owners;  // parallel to merged: the first emulator naming it
  for (const auto& emulator : emulators) {
    for (auto& credential : emulator->credentials()) {
      auto same = std::find_if(merged.begin(), merged.end(),
                               [&](const Credential& c) { return c.variable == credential.variable; });
      if (same == merged.end()) {
        merged.push_back(std::move(credential));
        owners.push_back(emulator->vendor());
      } else if (same->value != credential.value) {
        // Values are not printed: they are example values, but a client takes them as secrets.
        return std::unexpected(make_error(
            ErrorCode::internal, "the " + std::string(owners[static_cast<std::size_t>(same - merged.begin())]) + " and " +
                                     std::string(emulator->vendor()) + " emulators accept different values of " +
                                     credential.variable + ": one client environment cannot serve both"));
      }
    }
  }
  return merged;
}

Result<std::vector<Credential>> test_credentials(const Registry& registry) {
  auto emulators = make_emulators(registry);
  if (!emulators) return std::unexpected(std::move(emulators).error());
  return merge_credentials(*emulators);
}

std::function<std::optional<std::string>(std::string_view)> test_environment(std::vector<Credential> credentials) {
  return [credentials = std::move(credentials)](std::string_view variable) -> std::optional<std::string> {
    for (const auto& c : credentials)
      if (c.variable == variable) return c.value;
    return std::nullopt;
  };
}

}  // namespace expbridge::emulator
