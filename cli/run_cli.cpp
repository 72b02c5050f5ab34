// The expbridge command: parses arguments and calls the library. Exit codes:
// 0 fine, 1 a backend failed, 2 invalid input (nothing sent).
#include "run_cli.hpp"

#include <CLI/CLI.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstdio>
#include <iostream>

#include <spdlog/spdlog.h>

#include "expbridge/apply.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "document.hpp"
#include "json_writer.hpp"
#include "mapping_matrix.hpp"
#include "log.hpp"
#include "mapping_examples.hpp"
#include "demo.hpp"
#include "emulate.hpp"
#include "read_commands.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitInvalid = 2;

int report(const expbridge::Error& e) {
  std::cerr << "expbridge: error: " << e.describe() << "\n";
  return e.code == expbridge::ErrorCode::invalid_input || e.code == expbridge::ErrorCode::unsupported ? kExitInvalid
                                                                                                      : kExitFailed;
}

/// The config, with the vendors the command runs with and the tables `--mappings` names.
expbridge::Result<expbridge::Bridge> load_bridge(const std::string& config, const std::string& mappings_dir,
                                                 const expbridge::Registry* registry) {
  expbridge::BridgeOptions options;
  options.mappings_dir = mappings_dir;
  options.registry = registry;
  return expbridge::Bridge::load(config, options);
}

struct PlanArgs {
  const expbridge::Registry* registry = nullptr;
  std::string config;
  std::string update;
  std::string format = "text";
  std::string mappings_dir;
  std::vector<std::string> backends;
  bool strict = false;
};

int run_plan(const PlanArgs& args) {
  auto bridge = load_bridge(args.config, args.mappings_dir, args.registry);
  if (!bridge) return report(bridge.error());
  auto update = expbridge::load_update(args.update);
  if (!update) return report(update.error());
  expbridge::PlanOptions options;
  options.strict = args.strict;
  options.backends = args.backends;
  auto plan = bridge->plan(*update, options);
  if (!plan) return report(plan.error());
  if (args.format == "json")
    std::cout << expbridge::write_json(expbridge::plan_to_json(*plan), 2) << "\n";
  else
    std::cout << expbridge::plan_to_text(*plan);
  return kExitOk;
}

struct ValidateArgs {
  const expbridge::Registry* registry = nullptr;
  std::string config;
  std::vector<std::string> updates;
  std::string mappings_dir;
  bool strict = false;
};

int run_validate(const ValidateArgs& args) {
  auto bridge = load_bridge(args.config, args.mappings_dir, args.registry);
  if (!bridge) return report(bridge.error());
  expbridge::PlanOptions plan_options;
  plan_options.strict = args.strict;
  int exit_code = kExitOk;
  for (const auto& path : args.updates) {
    auto update = expbridge::load_update(path);
    if (!update) {
      exit_code = std::max(exit_code, report(update.error()));
      continue;
    }
    auto plan = bridge->plan(*update, plan_options);
    if (!plan) {
      exit_code = std::max(exit_code, report(plan.error()));
      continue;
    }
    std::size_t requests = 0, skipped = 0;
    for (const auto& b : plan->backends) requests += b.requests.size(), skipped += b.skipped.size();
    std::cout << "ok: " << path << ": experiment " << plan->experiment << ", " << requests << " request(s) to "
              << plan->backends.size() << " backend(s), " << skipped << " field(s) skipped\n";
  }
  return exit_code;
}

struct MappingsArgs {
  const expbridge::Registry* registry = nullptr;
  std::string format = "text";
  std::string mappings_dir;
  bool check = false;
};

int run_mappings(const MappingsArgs& args) {
  const auto& registry = *args.registry;
  if (args.check) {
    std::size_t passed = 0, failed = 0;
    for (const auto& vendor : registry.vendors()) {
      auto outcomes = expbridge::run_mapping_examples(vendor, args.mappings_dir, &registry);
      if (!outcomes) return report(outcomes.error());
      for (const auto& o : *outcomes) {
        if (o.passed) {
          ++passed;
        } else {
          ++failed;
          std::cerr << "FAIL " << o.vendor << ": " << o.name << ": " << o.detail << "\n";
        }
      }
    }
    std::cout << "mapping examples: " << passed << " passed, " << failed << " failed\n";
    return failed == 0 ? kExitOk : kExitFailed;
  }
  auto matrix = expbridge::build_mapping_matrix(registry, args.mappings_dir);
  if (!matrix) return report(matrix.error());
  if (args.format == "json")
    std::cout << expbridge::write_json(expbridge::matrix_to_json(*matrix), 2) << "\n";
  else if (args.format == "markdown")
    std::cout << expbridge::matrix_to_markdown(*matrix);
  else
    std::cout << expbridge::matrix_to_text(*matrix);
  return kExitOk;
}

struct ApplyArgs {
  const expbridge::Registry* registry = nullptr;
  std::string config;
  std::vector<std::string> updates;
  std::string format = "text";
  std::string mappings_dir;
  std::vector<std::string> backends;
  std::string ca_file;
  int parallel = 1;
  bool strict = false;
  bool no_read = false;
};

int run_apply(const ApplyArgs& args) {
  auto bridge = load_bridge(args.config, args.mappings_dir, args.registry);
  if (!bridge) return report(bridge.error());
  expbridge::ApplyOptions options;
  options.plan.strict = args.strict;
  options.plan.backends = args.backends;
  options.parallel_updates = args.parallel;
  options.extra_ca_file = args.ca_file;
  options.read_first = !args.no_read;
  auto applier = expbridge::Applier::create(*bridge, options);
  if (!applier) return report(applier.error());

  // Files in order; `-` is a stream of JSON updates, one per line.
  std::size_t file_index = 0;
  std::size_t line_number = 0;
  bool reading_stdin = false;
  expbridge::Applier::UpdateSource next = [&]() -> std::optional<std::pair<std::string, expbridge::Result<expbridge::Update>>> {
    while (true) {
      if (reading_stdin) {
        // One JSON update per line; a bad line is reported (invalid) and the stream goes on.
        std::string line;
        std::size_t length = 0;
        for (auto read = expbridge::read_stream_line(std::cin, line, length); read != expbridge::StreamLine::end;
             read = expbridge::read_stream_line(std::cin, line, length)) {
          ++line_number;
          std::string source = "-:" + std::to_string(line_number);
          if (read == expbridge::StreamLine::too_long) {
            expbridge::Error e = expbridge::make_error(
                expbridge::ErrorCode::invalid_input,
                "the line is " + std::to_string(length) + " bytes, more than the " +
                    std::to_string(expbridge::kMaxStreamLineBytes) + " bytes expbridge reads from one stream line");
            e.file = source;
            return std::make_pair(source, expbridge::Result<expbridge::Update>(std::unexpected(std::move(e))));
          }
          if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
          return std::make_pair(source, expbridge::parse_update(line, source, expbridge::DocumentFormat::json));
        }
        reading_stdin = false;
      }
      if (file_index >= args.updates.size()) return std::nullopt;
      const std::string& path = args.updates[file_index++];
      if (path == "-") {
        reading_stdin = true;
        continue;
      }
      return std::make_pair(path, expbridge::load_update(path));
    }
  };

  const bool single = args.updates.size() == 1 && args.updates.front() != "-";
  const bool json = args.format == "json";
  std::size_t total = 0, ok = 0, failed = 0, invalid = 0;
  expbridge::SkipReasonIndex reasons;  // each skip reason printed once for the whole run
  // Several updates stream out as one object, each report written when it is ready, so a
  // long stream never holds its reports in memory.
  if (json && !single) std::cout << "{\"updates\": [";
  applier->apply_all(next, [&](expbridge::UpdateReport r) {
    ++total;
    if (r.error) {
      ++invalid;
      std::cerr << "expbridge: error: " << r.error->describe() << "\n";
    } else if (r.ok()) {
      ++ok;
    } else {
      ++failed;
    }
    if (json && single) {
      std::cout << expbridge::write_json(expbridge::report_to_json(r), 2) << "\n";
    } else if (json) {
      std::cout << (total > 1 ? ",\n" : "\n") << expbridge::write_json(expbridge::report_to_json(r));
    } else {
      std::cout << expbridge::report_to_text(r, &reasons) << std::flush;
    }
  });
  if (json && !single) {
    boost::json::value summary =
        boost::json::object{{"updates", total}, {"ok", ok}, {"failed", failed}, {"invalid", invalid}};
    std::cout << "\n], \"summary\": " << expbridge::write_json(summary) << "}\n";
  } else if (!json && !single) {
    std::cout << total << " update(s): " << ok << " ok, " << failed << " failed, " << invalid << " invalid\n";
  }
  if (total > 0 && invalid == total) return kExitInvalid;
  return failed == 0 && invalid == 0 ? kExitOk : kExitFailed;
}

}  // namespace

namespace expbridge::cli {

int run_cli(int argc, char** argv, const Registry& registry) {
  // Update streams are read line by line; the C stdio sync would make that a call per character.
  std::ios::sync_with_stdio(false);
  // apply reads stdin on its own thread while reports go to stdout from the event loop: a tied
  // cin would flush cout from the reader thread, racing the writer.
  std::cin.tie(nullptr);
  CLI::App app{"expbridge — one neutral A/B-experiment update, fanned out to every experimentation vendor"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "expbridge 0.1.0");

  PlanArgs plan_args;
  plan_args.registry = &registry;
  auto* plan = app.add_subcommand("plan", "Print the exact requests each backend would receive (sends nothing)");
  plan->add_option("-c,--config", plan_args.config, "Backends and experiment bindings (YAML)")->required();
  plan->add_option("update", plan_args.update, "Update document (YAML or JSON; - for stdin)")->required();
  plan->add_option("--format", plan_args.format, "text or json")->check(CLI::IsMember({"text", "json"}));
  plan->add_option("--backend", plan_args.backends, "Only this backend (repeatable)");
  plan->add_flag("--strict", plan_args.strict, "Refuse when any backend would skip a field");
  plan->add_option("--mappings", plan_args.mappings_dir, "Folder of <vendor>.yaml tables replacing the embedded ones");

  ValidateArgs validate_args;
  validate_args.registry = &registry;
  auto* validate = app.add_subcommand("validate", "Check updates against the model, the config and every vendor's rules");
  validate->add_option("-c,--config", validate_args.config, "Backends and experiment bindings (YAML)")->required();
  validate->add_option("updates", validate_args.updates, "Update documents")->required();
  validate->add_flag("--strict", validate_args.strict, "Also refuse updates that a backend would partly skip");
  validate->add_option("--mappings", validate_args.mappings_dir, "Folder of <vendor>.yaml tables replacing the embedded ones");

  MappingsArgs mappings_args;
  mappings_args.registry = &registry;
  auto* mappings = app.add_subcommand("mappings", "Print the cross-vendor mapping matrix from the mapping tables");
  mappings->add_option("--format", mappings_args.format, "text, markdown or json")
      ->check(CLI::IsMember({"text", "markdown", "json"}));
  mappings->add_flag("--check", mappings_args.check, "Run every worked example of every table");
  mappings->add_option("--mappings", mappings_args.mappings_dir, "Folder of <vendor>.yaml tables replacing the embedded ones");

  ApplyArgs apply_args;
  apply_args.registry = &registry;
  auto* apply = app.add_subcommand("apply", "Send an update to every configured backend at once, and report");
  apply->add_option("-c,--config", apply_args.config, "Backends and experiment bindings (YAML)")->required();
  apply->add_option("updates", apply_args.updates, "Update documents; - reads JSON updates from stdin, one per line")
      ->required();
  apply->add_option("--format", apply_args.format, "text or json")->check(CLI::IsMember({"text", "json"}));
  apply->add_option("--backend", apply_args.backends, "Only this backend (repeatable)");
  apply->add_flag("--strict", apply_args.strict, "Refuse an update that any backend would partly skip");
  apply->add_flag("--no-read", apply_args.no_read,
                  "Send every field as asked in one round trip, without reading what each backend holds first");
  apply->add_option("--parallel", apply_args.parallel, "Updates in flight at once (one experiment's stay in order)")
      ->check(CLI::Range(1, 256));
  apply->add_option("--ca-file", apply_args.ca_file, "Extra trusted CA certificates (PEM)");
  apply->add_option("--mappings", apply_args.mappings_dir, "Folder of <vendor>.yaml tables replacing the embedded ones");

  GetCommand get(app);
  DiffCommand diff(app);
  EmulateCommand emulate(app);
  DemoCommand demo(app);

  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "Log each request (-v) and more (-vv); never secrets");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitInvalid;
  }
  auto log = expbridge::logger();
  log->set_level(verbosity >= 2 ? spdlog::level::trace : verbosity == 1 ? spdlog::level::debug : spdlog::level::warn);
  if (*plan) return run_plan(plan_args);
  if (*apply) return run_apply(apply_args);
  if (*validate) return run_validate(validate_args);
  if (*mappings) return run_mappings(mappings_args);
  if (get.selected()) return get.run(registry);
  if (diff.selected()) return diff.run(registry);
  if (emulate.selected()) return emulate.run(registry);
  if (demo.selected()) return demo.run(registry);
  return kExitInvalid;
}

}  // namespace expbridge::cli
