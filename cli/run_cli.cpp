// The expbridge command: parses arguments and calls the library. Exit codes:
// 0 fine, 1 a backend failed, 2 invalid input (nothing sent).
#include "run_cli.hpp"

#include <CLI/CLI.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cmath>
#include <cstdio>
#include <optional>
#include <unistd.h>
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
#include "import_command.hpp"
#include "import_examples.hpp"
#include "migrate_command.hpp"
#include "options.hpp"
#include "read_commands.hpp"
#include "run_progress.hpp"
#include "store_commands.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

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
      auto imports = expbridge::run_import_examples(vendor, args.mappings_dir, &registry);
      if (!imports) return report(imports.error());
      outcomes->insert(outcomes->end(), imports->begin(), imports->end());
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
  std::string state;
  bool no_state = false;
  int busy_timeout_ms = 10'000;
  bool resume = false;
  double progress_every_s = 10;
};

/// A file's bytes, or nothing when it cannot be read (load_update then says why).
std::optional<std::string> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// A store that cannot be used refuses the whole invocation before anything is read or sent.
int store_refused(const expbridge::Error& e) {
  std::cerr << "expbridge: error: " << e.describe() << "; nothing was sent\n";
  return kExitInvalid;
}

int run_apply(const ApplyArgs& args) {
  auto bridge = load_bridge(args.config, args.mappings_dir, args.registry);
  if (!bridge) return report(bridge.error());
  if (args.resume && args.no_state)
    return report(expbridge::invalid_field("--resume", "resuming continues a run recorded in the state store: not with --no-state"));
  if (args.resume && args.no_read)
    return report(expbridge::invalid_field(
        "--resume", "resuming reads every backend to tell whether an unanswered request took effect: not with --no-read"));
  if (args.updates.empty() && !args.resume)
    return report(expbridge::invalid_field("updates", "apply needs update documents (- for a stream), or --resume"));
  std::vector<std::string> updates = args.updates;
  std::unique_ptr<expbridge::Store> store;
  std::string run_id;
  if (!args.no_state) {
    auto opened = expbridge::Store::open(expbridge::StoreOptions{
        expbridge::cli::state_location(args.config, args.state), std::chrono::milliseconds(args.busy_timeout_ms)});
    if (!opened) return store_refused(opened.error());
    store = std::move(*opened);
    std::error_code ignored;
    const auto absolute = std::filesystem::weakly_canonical(args.config, ignored);
    expbridge::RunStart start{"apply", absolute.empty() ? args.config : absolute.string(),
                              expbridge::store_digest(file_bytes(args.config).value_or(""))};
    if (args.resume) {
      auto unfinished = store->last_unfinished_run(start.config_path);
      if (!unfinished) return store_refused(unfinished.error());
      if (!*unfinished)
        return report(expbridge::make_error(expbridge::ErrorCode::invalid_input,
                                            "no unfinished run of " + start.config_path + " in the state store " +
                                                store->location() + ": nothing to resume"));
      run_id = (*unfinished)->id;
      if (updates.empty()) {
        // The run's own inputs, in their order; a stream must be given again (`-`): it was not kept.
        auto inputs = store->inputs(run_id);
        if (!inputs) return store_refused(inputs.error());
        for (const auto& input : *inputs) {
          const std::string source = input.source.starts_with("-:") ? "-" : input.source;
          if (source == "-" && !updates.empty() && updates.back() == "-") continue;
          updates.push_back(source);
        }
        if (std::find(updates.begin(), updates.end(), "-") != updates.end() && isatty(0))
          return report(expbridge::make_error(expbridge::ErrorCode::invalid_input,
                                              "run " + run_id + " read a stream from standard input: give it again "
                                              "(`... | expbridge apply --resume -`)"));
      }
    } else {
      auto run = store->begin_run(start);
      if (!run) return store_refused(run.error());
      run_id = run->id;
    }
  }
  expbridge::ApplyOptions options;
  options.plan.strict = args.strict;
  options.plan.backends = args.backends;
  options.parallel_updates = args.parallel;
  options.extra_ca_file = args.ca_file;
  options.read_first = !args.no_read;
  options.store = store.get();
  options.run_id = run_id;
  options.resume = args.resume;
  auto applier = expbridge::Applier::create(*bridge, options);
  if (!applier) return report(applier.error());

  // Files in order; `-` is a stream of JSON updates, one per line.
  std::size_t file_index = 0;
  std::size_t line_number = 0;
  bool reading_stdin = false;
  using Input = expbridge::Applier::Input;
  // Each input carries the digest of its bytes: a resumed run refuses a different input.
  expbridge::Applier::InputSource next = [&]() -> std::optional<Input> {
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
            return Input{source, expbridge::Result<expbridge::Update>(std::unexpected(std::move(e))),
                         expbridge::store_digest("too long: " + std::to_string(length))};
          }
          if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
          return Input{source, expbridge::parse_update(line, source, expbridge::DocumentFormat::json),
                       expbridge::store_digest(line)};
        }
        reading_stdin = false;
      }
      if (file_index >= updates.size()) return std::nullopt;
      const std::string& path = updates[file_index++];
      if (path == "-") {
        reading_stdin = true;
        continue;
      }
      return Input{path, expbridge::load_update(path), expbridge::store_digest(file_bytes(path).value_or(""))};
    }
  };

  const bool single = updates.size() == 1 && updates.front() != "-";
  const bool json = args.format == "json";
  std::size_t total = 0, ok = 0, failed = 0, invalid = 0, unsettled = 0;
  expbridge::SkipReasonIndex reasons;  // each skip reason printed once for the whole run
  // Several updates stream out as one object, each report written when it is ready, so a
  // long stream never holds its reports in memory.
  if (json && !single) std::cout << "{\"updates\": [";
  // Progress goes to standard error, beside the reports: live on a terminal, plain lines
  // otherwise; never with --format json, whose output is for programs.
  std::optional<std::size_t> known_total;
  if (std::find(updates.begin(), updates.end(), "-") == updates.end()) known_total = updates.size();
  std::optional<expbridge::cli::RunProgress> progress;
  if (!json && !single)
    progress.emplace(std::cerr, isatty(2) != 0,
                     std::chrono::milliseconds(static_cast<std::int64_t>(args.progress_every_s * 1000)), known_total);
  // Reports on the same terminal would land on the live line: it steps aside for them.
  const bool reports_on_terminal = isatty(1) != 0;
  applier->apply_inputs(next, [&](expbridge::UpdateReport r) {
    if (progress && reports_on_terminal) progress->clear();
    ++total;
    if (r.unsettled) ++unsettled;
    if (r.error) {
      // Held back or not begun for want of the store: not the input's fault, and resumable.
      ++(r.unsettled ? failed : invalid);
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
    if (progress) progress->update(total, failed + invalid, applier->pacing());
  });
  const auto pacing = applier->pacing();
  if (progress) progress->finish(total, failed + invalid, pacing);
  // What the store has not recorded done: the run stays unfinished, and --resume settles it.
  const std::string unsettled_text =
      std::to_string(unsettled) + " input(s) unsettled: run " + applier->run_id() +
      " stays unfinished; `expbridge apply --resume` settles them (each backend is read first, so "
      "nothing is applied twice)";
  if (json && !single) {
    boost::json::object summary{{"updates", total}, {"ok", ok}, {"failed", failed}, {"invalid", invalid},
                                 {"unsettled", unsettled}};
    if (unsettled > 0) summary["run"] = applier->run_id();
    boost::json::array backends;
    for (const auto& b : pacing)
      backends.push_back(boost::json::object{{"backend", b.backend},
                                             {"rate_limit_paused_ms", static_cast<double>(std::llround(b.paused_ms))},
                                             {"pauses", b.pauses},
                                             {"throttled", b.throttled},
                                             {"concurrency", b.concurrency},
                                             {"most_concurrency", b.most_concurrency}});
    summary["backends"] = std::move(backends);
    std::cout << "\n], \"summary\": " << expbridge::write_json(summary) << "}\n";
  } else if (!json && !single) {
    std::cout << total << " update(s): " << ok << " ok, " << failed << " failed, " << invalid << " invalid";
    if (unsettled > 0) std::cout << "; " << unsettled_text;
    std::cout << "\n";
  }
  if (!json)
    if (const auto waits = expbridge::cli::rate_limit_summary(pacing); !waits.empty()) std::cout << waits << "\n";
  if (unsettled > 0) std::cerr << "expbridge: " << unsettled_text << "\n";
  if (total > 0 && invalid == total) return kExitInvalid;
  return failed == 0 && invalid == 0 && unsettled == 0 ? kExitOk : kExitFailed;
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
  expbridge::cli::add_backend_option(*plan, plan_args.backends);
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
  apply->add_option("updates", apply_args.updates,
                    "Update documents; - reads JSON updates from stdin, one per line (with --resume: the run's own)");
  apply->add_option("--format", apply_args.format, "text or json")->check(CLI::IsMember({"text", "json"}));
  expbridge::cli::add_backend_option(*apply, apply_args.backends);
  apply->add_flag("--strict", apply_args.strict, "Refuse an update that any backend would partly skip");
  apply->add_flag("--no-read", apply_args.no_read,
                  "Send every field as asked in one round trip, without reading what each backend holds first");
  apply->add_option("--parallel", apply_args.parallel, "Updates in flight at once (one experiment's stay in order)")
      ->check(CLI::Range(1, 256));
  apply->add_option("--ca-file", apply_args.ca_file, "Extra trusted CA certificates (PEM)");
  apply->add_option("--mappings", apply_args.mappings_dir, "Folder of <vendor>.yaml tables replacing the embedded ones");
  auto* state_option = apply->add_option(
      "--state", apply_args.state,
      "The state store (journal, learnt vendor ids, history): a file, or a postgresql:// URL "
      "(default: .expbridge/state.db beside the config)");
  // Without a store nothing is journalled: a crash cannot be resumed and nothing learnt is kept.
  // Worth it where the store cannot live or would be thrown away anyway: a read-only checkout,
  // a throw-away sandbox, a dry run against emulators.
  apply->add_flag("--no-state", apply_args.no_state,
                  "Run without a state store: no journal (no --resume), no learnt ids or history kept; for a "
                  "read-only folder or a throw-away workspace")
      ->excludes(state_option);
  apply->add_flag("--resume", apply_args.resume,
                  "Continue the last unfinished run of this config: skip inputs it finished, settle unanswered "
                  "requests by reading, apply the rest");
  apply->add_option("--progress-every", apply_args.progress_every_s,
                    "Seconds between progress lines on standard error when it is not a terminal (0: none; "
                    "a terminal gets one live line; --format json gets none)")
      ->check(CLI::Range(0.0, 86400.0));
  apply->add_option("--busy-timeout", apply_args.busy_timeout_ms,
                    "How long to wait (ms) for another process holding the store or the experiment")
      ->check(CLI::Range(0, 600'000));

  GetCommand get(app);
  HistoryCommand history(app);
  StateCommand state(app);
  DiffCommand diff(app);
  EmulateCommand emulate(app);
  DemoCommand demo(app);
  ImportCommand import_command(app);
  MigrateCommand migrate(app);

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
  if (history.selected()) return history.run();
  if (state.selected()) return state.run();
  if (diff.selected()) return diff.run(registry);
  if (emulate.selected()) return emulate.run(registry);
  if (demo.selected()) return demo.run(registry);
  if (import_command.selected()) return import_command.run(registry);
  if (migrate.selected()) return migrate.run(registry);
  return kExitInvalid;
}

}  // namespace expbridge::cli
