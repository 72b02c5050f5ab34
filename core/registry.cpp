#include <mutex>

#include "expbridge/adapter.hpp"
#include "expbridge/mapping.hpp"

namespace expbridge {

// Shared between copies of a registry, so a table parsed through one copy is parsed once.
struct Registry::Entry {
  Vendor vendor;
  std::once_flag table_once;
  Result<std::shared_ptr<const MappingTable>> table;
};

Status Registry::add(Vendor vendor) {
  if (vendor.name.empty() || !vendor.adapter)
    return std::unexpected(make_error(ErrorCode::internal, "a vendor needs a name and an adapter factory"));
  if (vendors_.contains(vendor.name))
    return std::unexpected(make_error(ErrorCode::internal, "vendor '" + vendor.name + "' is registered twice"));
  auto entry = std::make_shared<Entry>();
  std::string name = vendor.name;
  entry->vendor = std::move(vendor);
  vendors_.emplace(std::move(name), std::move(entry));
  return {};
}

Status Registry::add(std::string vendor, AdapterFactory factory) {
  return add(Vendor{std::move(vendor), std::move(factory), nullptr, {}});
}

const Vendor* Registry::vendor(std::string_view name) const {
  auto it = vendors_.find(name);
  return it == vendors_.end() ? nullptr : &it->second->vendor;
}

const AdapterFactory* Registry::find(std::string_view name) const {
  const Vendor* found = vendor(name);
  return found == nullptr ? nullptr : &found->adapter;
}

std::vector<std::string> Registry::vendors() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : vendors_) out.push_back(name);
  return out;
}

Result<std::shared_ptr<const MappingTable>> Registry::own_table(std::string_view name) const {
  auto it = vendors_.find(name);
  if (it == vendors_.end() || it->second->vendor.table_text.empty()) return std::shared_ptr<const MappingTable>();
  Entry& entry = *it->second;
  std::call_once(entry.table_once, [&entry] {
    const std::string source = "<the " + entry.vendor.name + " vendor's registered table>";
    auto table = MappingTable::parse(entry.vendor.table_text, source);
    if (!table) {
      entry.table = std::unexpected(std::move(table).error());
    } else if (table->vendor() != entry.vendor.name) {
      Error e = make_error(ErrorCode::internal, "the table says vendor '" + table->vendor() + "', registered as '" +
                                                    entry.vendor.name + "'");
      e.file = source;
      e.field = "vendor";
      entry.table = std::unexpected(std::move(e));
    } else {
      entry.table = std::make_shared<const MappingTable>(std::move(*table));
    }
  });
  return entry.table;
}

const Registry& Registry::builtin() {
  static const Registry registry = [] {
    Registry r;
    register_builtin_vendors(r);
    return r;
  }();
  return registry;
}

}  // namespace expbridge
