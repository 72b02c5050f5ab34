// `expbridge get` and `expbridge diff`: what the backends hold, and where it differs.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "expbridge/adapter.hpp"

namespace expbridge::cli {

/// `get -c CONFIG EXPERIMENT [--backend B] [--format text|json|yaml]`: each bound backend's
/// state in the neutral model; `yaml` (one backend) is an update document that recreates it.
/// Exit 0, 1 when a backend could not be read, 2 for invalid input.
class GetCommand {
 public:
  explicit GetCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  int run(const Registry& registry) const;

 private:
  CLI::App* command_ = nullptr;
  std::string config_, experiment_, format_ = "text", mappings_dir_;
  std::vector<std::string> backends_;
};

/// `diff -c CONFIG (EXPERIMENT | UPDATE.yaml)...`: per experiment, where the backends disagree,
/// or (for an update document) where each backend differs from it. Exit codes as Terraform's
/// `-detailed-exitcode`: 0 no difference, 2 differences, 1 an error.
class DiffCommand {
 public:
  explicit DiffCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  int run(const Registry& registry) const;

 private:
  CLI::App* command_ = nullptr;
  std::string config_, format_ = "text", mappings_dir_;
  std::vector<std::string> targets_, backends_;
};

}  // namespace expbridge::cli
