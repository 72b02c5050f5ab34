#include "read_commands.hpp"

#include <algorithm>

#include <filesystem>
#include <iostream>

#include <boost/json/array.hpp>

#include "experiment_codec.hpp"
#include "expbridge/apply.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"
#include "options.hpp"
#include "state_diff.hpp"

namespace expbridge::cli {
namespace {

int fail(const Error& e, int code) {
  std::cerr << "expbridge: error: " << e.describe() << "\n";
  return code;
}

Result<Bridge> load(const std::string& config, const std::string& mappings_dir, const Registry& registry) {
  BridgeOptions options;
  options.mappings_dir = mappings_dir;
  options.registry = &registry;
  return Bridge::load(config, options);
}

}  // namespace

GetCommand::GetCommand(CLI::App& app) {
  command_ = app.add_subcommand("get", "Read an experiment from every bound backend into the neutral model");
  command_->add_option("-c,--config", config_, "Backends and experiment bindings (YAML)")->required();
  command_->add_option("experiment", experiment_, "The experiment's neutral key")->required();
  add_backend_option(*command_, backends_);
  command_->add_option("--format", format_, "text, json, or yaml (one backend: an update document that recreates it)")
      ->check(CLI::IsMember({"text", "json", "yaml"}));
  command_->add_option("--mappings", mappings_dir_, "Folder of <vendor>.yaml tables replacing the embedded ones");
}

int GetCommand::run(const Registry& registry) const {
  auto bridge = load(config_, mappings_dir_, registry);
  if (!bridge) return fail(bridge.error(), bridge.error().code == ErrorCode::invalid_input ? 2 : 1);
  if (format_ == "yaml" && backends_.size() != 1)
    return fail(invalid_field("--backend", "--format yaml writes one backend's update document: name exactly one backend"), 2);
  ApplyOptions options;
  options.plan.backends = backends_;
  auto applier = Applier::create(*bridge, options);
  if (!applier) return fail(applier.error(), 2);
  const ReadReport report = applier->read(experiment_);
  if (report.error) return fail(*report.error, report.error->code == ErrorCode::invalid_input ? 2 : 1);
  if (format_ == "json") {
    std::cout << write_json(read_report_to_json(report), 2) << "\n";
  } else if (format_ == "yaml") {
    const BackendRead& only = report.backends.front();
    if (!only.state) return fail(*only.error, 1);
    const auto& unheld = only.state->not_expressible;
    std::cout << "# " << experiment_ << " as backend " << only.backend << " (" << only.vendor << ") holds it\n";
    if (only.state->experiment.variations &&
        std::find(unheld.begin(), unheld.end(), "variations.weight") != unheld.end())
      std::cout << "# variations left out: this backend holds no weights, and variations without weights are no update\n";
    std::cout << write_yaml(experiment_update_document(only.state->experiment, unheld));
  } else {
    std::cout << read_report_to_text(report);
  }
  return report.ok() ? 0 : 1;
}

DiffCommand::DiffCommand(CLI::App& app) {
  command_ = app.add_subcommand("diff", "Where the backends disagree, or differ from update documents (drift)");
  command_->add_option("-c,--config", config_, "Backends and experiment bindings (YAML)")->required();
  command_->add_option("targets", targets_, "Experiment keys, or update documents (desired state)")->required();
  add_backend_option(*command_, backends_);
  command_->add_option("--format", format_, "text or json")->check(CLI::IsMember({"text", "json"}));
  command_->add_option("--mappings", mappings_dir_, "Folder of <vendor>.yaml tables replacing the embedded ones");
}

int DiffCommand::run(const Registry& registry) const {
  auto bridge = load(config_, mappings_dir_, registry);
  if (!bridge) return fail(bridge.error(), 1);
  ApplyOptions options;
  options.plan.backends = backends_;
  auto applier = Applier::create(*bridge, options);
  if (!applier) return fail(applier.error(), 1);
  bool error = false, differs = false;
  boost::json::array experiments;
  std::string text;
  for (const auto& target : targets_) {
    // A file is a desired document; anything else names an experiment.
    std::optional<Update> desired;
    std::string experiment = target;
    if (std::filesystem::is_regular_file(target) || target == "-") {
      auto update = load_update(target);
      if (!update) return fail(update.error(), 1);
      experiment = update->experiment;
      desired = std::move(*update);
    }
    const ReadReport report = applier->read(experiment);
    if (report.error) {
      std::cerr << "expbridge: error: " << report.error->describe() << "\n";
      error = true;
      continue;
    }
    std::vector<BackendState> states;
    for (const auto& b : report.backends) {
      if (!b.state) {
        std::cerr << "expbridge: error: " << b.error->describe() << "\n";
        error = true;
        continue;
      }
      states.push_back(BackendState{b.backend, b.vendor, b.state->experiment, b.state->not_expressible});
    }
    const ExperimentDiff diff = diff_states(experiment, states, desired ? &*desired : nullptr);
    differs = differs || diff.differs();
    experiments.emplace_back(diff_to_json(diff));
    text += diff_to_text(diff);
  }
  if (format_ == "json") {
    std::cout << write_json(boost::json::object{{"experiments", std::move(experiments)}}, 2) << "\n";
  } else {
    std::cout << text;
  }
  return error ? 1 : differs ? 2 : 0;
}

}  // namespace expbridge::cli
