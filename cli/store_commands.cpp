#include "store_commands.hpp"

#include <filesystem>
#include <iostream>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "json_writer.hpp"

namespace expbridge::cli {
namespace {

namespace fs = std::filesystem;

// A store that cannot be used sends nothing, whatever the reason: exit 2, like invalid input.
int fail(const Error& e) {
  std::cerr << "expbridge: error: " << e.describe() << "\n";
  return 2;
}

bool is_url(const std::string& location) { return location.find("://") != std::string::npos; }

boost::json::object ids_json(const std::map<std::string, std::string>& ids) {
  boost::json::object out;
  for (const auto& [name, id] : ids) out[name] = id;
  return out;
}

// `status` of a stored state, or "-".
std::string status_of(const boost::json::object& state) {
  if (auto it = state.find("status"); it != state.end() && it->value().is_string())
    return std::string(it->value().as_string());
  return "-";
}

}  // namespace

std::string state_location(const std::string& config, const std::string& state_option) {
  if (!state_option.empty()) return state_option;
  fs::path folder = fs::path(config).parent_path();
  if (folder.empty()) folder = ".";
  return (folder / ".expbridge" / "state.db").string();
}

Result<std::unique_ptr<Store>> open_existing_store(const StoreOptions& options) {
  if (!is_url(options.location) && !fs::exists(options.location))
    return std::unexpected(make_error(ErrorCode::not_found, "no state store at " + options.location +
                                                                ": nothing was applied with a store there yet"));
  return Store::open(options);
}

HistoryCommand::HistoryCommand(CLI::App& app) {
  command_ = app.add_subcommand("history", "What the state store recorded for an experiment: every change, oldest first");
  command_->add_option("-c,--config", config_, "Backends and experiment bindings (YAML): the store is beside it")
      ->required();
  command_->add_option("experiment", experiment_, "The experiment's neutral key")->required();
  command_->add_option("--state", state_, "The state store: a file, or a postgresql:// URL");
  command_->add_option("--format", format_, "text or json")->check(CLI::IsMember({"text", "json"}));
}

int HistoryCommand::run() const {
  auto store = open_existing_store(StoreOptions{state_location(config_, state_)});
  if (!store) return fail(store.error());
  auto entries = (*store)->history(experiment_);
  if (!entries) return fail(entries.error());
  if (format_ == "json") {
    boost::json::array out;
    for (const auto& e : *entries) {
      boost::json::array fields;
      for (const auto& f : e.fields) fields.emplace_back(f);
      out.push_back(boost::json::object{{"at", e.at},          {"run", e.run_id},         {"experiment", e.experiment},
                                        {"backend", e.backend}, {"operation", e.operation}, {"fields", std::move(fields)},
                                        {"outcome", e.outcome}});
    }
    std::cout << write_json(boost::json::object{{"experiment", experiment_}, {"history", std::move(out)}}, 2) << "\n";
    return 0;
  }
  if (entries->empty()) std::cout << "no history for " << experiment_ << " in " << (*store)->location() << "\n";
  for (const auto& e : *entries) {
    std::string fields;
    for (const auto& f : e.fields) fields += (fields.empty() ? "" : ", ") + f;
    std::cout << e.at << "  run " << e.run_id << "  " << e.backend << "  "
              << (e.operation.empty() ? std::string("-") : e.operation) << "  [" << fields << "]  " << e.outcome << "\n";
  }
  return 0;
}

StateCommand::StateCommand(CLI::App& app) {
  command_ = app.add_subcommand("state", "What the state store knows per experiment and backend");
  command_->add_option("-c,--config", config_, "Backends and experiment bindings (YAML): the store is beside it")
      ->required();
  command_->add_option("experiment", experiment_, "Only this experiment");
  command_->add_option("--state", state_, "The state store: a file, or a postgresql:// URL");
  command_->add_option("--format", format_, "text or json")->check(CLI::IsMember({"text", "json"}));
}

int StateCommand::run() const {
  auto store = open_existing_store(StoreOptions{state_location(config_, state_)});
  if (!store) return fail(store.error());
  auto records = (*store)->backends(experiment_.empty() ? std::nullopt : std::optional<std::string>(experiment_));
  if (!records) return fail(records.error());
  if (format_ == "json") {
    boost::json::array out;
    for (const auto& r : *records)
      out.push_back(boost::json::object{{"experiment", r.experiment},
                                        {"backend", r.backend},
                                        {"vendor", r.vendor},
                                        {"vendor_ids", ids_json(r.vendor_ids)},
                                        {"applied", r.applied},
                                        {"applied_at", r.applied_at},
                                        {"applied_run", r.applied_run},
                                        {"last_read", r.last_read},
                                        {"read_at", r.read_at}});
    std::cout << write_json(boost::json::object{{"store", (*store)->location()}, {"backends", std::move(out)}}, 2)
              << "\n";
    return 0;
  }
  std::cout << "state store " << (*store)->location() << "\n";
  std::string experiment;
  for (const auto& r : *records) {
    if (r.experiment != experiment) std::cout << (experiment = r.experiment) << "\n";
    std::string ids;
    for (const auto& [name, id] : r.vendor_ids) ids += (ids.empty() ? "" : ", ") + name + "=" + id;
    std::cout << "  " << r.backend << " (" << r.vendor << ")  ids: " << (ids.empty() ? "-" : ids) << "\n";
    std::cout << "    applied: " << status_of(r.applied);
    if (!r.applied_at.empty()) std::cout << " at " << r.applied_at << " by run " << r.applied_run;
    std::cout << "\n    last read: " << status_of(r.last_read);
    if (!r.read_at.empty()) std::cout << " at " << r.read_at;
    std::cout << "\n";
  }
  if (records->empty()) std::cout << "  nothing recorded\n";
  return 0;
}

}  // namespace expbridge::cli
