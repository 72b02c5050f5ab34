// `expbridge import`: a vendor's saved files into an import folder of neutral documents.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "expbridge/adapter.hpp"

namespace expbridge::cli {

/// `import VENDOR FILES... --out DIR [--format text|json]`: offline, sends nothing. Writes the
/// import folder (write_import_folder) and prints the loss report; notes go to standard error.
/// Exit 0, 2 for input that cannot be imported (nothing written then), 1 when writing fails.
class ImportCommand {
 public:
  explicit ImportCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  int run(const Registry& registry) const;

 private:
  CLI::App* command_ = nullptr;
  std::string vendor_, out_, format_ = "text", mappings_dir_;
  std::vector<std::string> files_;
};

}  // namespace expbridge::cli
