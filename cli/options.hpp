// Options several subcommands declare alike.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace expbridge::cli {

/// `--backend NAME`, repeatable, one name an occurrence. A vector option in CLI11 otherwise takes
/// every value that follows it, so `apply --backend a0 -` made the stream a second backend and
/// `plan --backend aws update.yaml` the update one.
inline CLI::Option* add_backend_option(CLI::App& command, std::vector<std::string>& backends) {
  return command.add_option("--backend", backends, "Only this backend (repeatable)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

}  // namespace expbridge::cli
