#include "expbridge/adapter.hpp"

namespace expbridge {

Status Registry::add(std::string vendor, AdapterFactory factory) {
  if (vendor.empty() || !factory) return std::unexpected(make_error(ErrorCode::internal, "a vendor needs a name and a factory"));
  if (factories_.contains(vendor))
    return std::unexpected(make_error(ErrorCode::internal, "vendor '" + vendor + "' is registered twice"));
  factories_.emplace(std::move(vendor), std::move(factory));
  return {};
}

const AdapterFactory* Registry::find(std::string_view vendor) const {
  auto it = factories_.find(vendor);
  return it == factories_.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::vendors() const {
  std::vector<std::string> out;
  for (const auto& [name, factory] : factories_) out.push_back(name);
  return out;
}

const Registry& Registry::builtin() {
  static const Registry registry = [] {
    Registry r;
    register_builtin_adapters(r);
    return r;
  }();
  return registry;
}

}  // namespace expbridge
