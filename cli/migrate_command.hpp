// `expbridge migrate`: move experiments from a backend or an import folder to another backend.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "expbridge/adapter.hpp"

namespace expbridge::cli {

/// `migrate -c CONFIG --from SRC --to T1[,T2...] (EXPERIMENT... | --all) [--apply] [--parallel N]
/// [--accept-loss F,...] [--write-config FILE] [--format text|json] [--progress-every S]
/// [--state S | --no-state]`. A plan by default (reads only). Each entry (experiment, target) is
/// printed as it finishes. Exit 0 when every entry migrated (or, a plan, could be planned); 1 when
/// one was refused for a loss not accepted, failed, or could not be planned; 2 for invalid input.
class MigrateCommand {
 public:
  explicit MigrateCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  int run(const Registry& registry) const;

 private:
  CLI::App* command_ = nullptr;
  std::string config_, from_, format_ = "text", mappings_dir_, write_config_, state_, ca_file_;
  std::vector<std::string> to_, experiments_, accept_loss_;
  int parallel_ = 1;
  double progress_every_s_ = 10;
  bool all_ = false, apply_ = false, no_state_ = false;
  int busy_timeout_ms_ = 10'000;
};

}  // namespace expbridge::cli
