// migrate: per experiment, the source's state becomes the desired state at the target, created
// through the target adapter's `create` where it has no binding, converged through the normal
// apply where it has one; fail closed on any loss not accepted.
#include "expbridge/migrate.hpp"

#include <algorithm>
#include <filesystem>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include "convergence.hpp"
#include "document.hpp"
#include "experiment_codec.hpp"
#include "json_writer.hpp"
#include "message_text.hpp"
#include "update_fields.hpp"

namespace expbridge {
namespace {

namespace json = boost::json;

// The neutral fields an update sets, as loss-report fields (`action` for its action).
std::vector<std::string> fields_set(const Update& u) {
  const auto present = present_fields(u);
  std::vector<std::string> out(present.begin(), present.end());
  if (!u.vendor.empty()) out.emplace_back(field::vendor);
  return out;
}

// A converging plan's word on each field: skipped ones lost (with the plan's reason), the others
// carried (sent, or already as asked).
// `created_here`: the target's binding is one a migration created, whose create carried the fields
// this backend holds but cannot read back (`unreadable`): skipped now, they are not lost.
void add_converging_losses(const std::string& experiment, const Update& update, const BackendReport& target,
                           const std::string& source, bool created_here, const std::vector<std::string>& unreadable,
                           LossReport& losses) {
  for (const auto& f : fields_set(update)) {
    // A skip of a part (`variations[control].value`) leaves the rest of the field carried.
    bool whole_skipped = false;
    std::vector<FieldCarriage> parts;
    for (const auto& skip : target.skipped) {
      if (!path_is_under(skip.field, f)) continue;
      if (created_here && std::find(unreadable.begin(), unreadable.end(), skip.field) != unreadable.end()) continue;
      whole_skipped = whole_skipped || skip.field == f;
      parts.push_back(FieldCarriage{experiment, skip.field, Carriage::lost, "", "", "", skip.reason, source});
    }
    if (!whole_skipped) losses.fields.push_back(FieldCarriage{experiment, f, Carriage::carried, "", "", "", "", source});
    for (auto& part : parts) losses.fields.push_back(std::move(part));
  }
}

// The target's part of a plan, as a report whose requests were not sent.
BackendReport unsent(BackendPlan plan, std::vector<std::string> unchanged) {
  BackendReport out;
  out.backend = plan.backend;
  out.vendor = plan.vendor;
  // Nothing was sent: `unchanged` when nothing is left to send, else `skipped` (planned, not sent).
  out.result = plan.requests.empty() ? BackendOutcome::unchanged : BackendOutcome::skipped;
  for (auto& request : plan.requests) out.requests.push_back(unsent_request(std::move(request)));
  out.skipped = std::move(plan.skipped);
  out.notes = std::move(plan.notes);
  out.unchanged = std::move(unchanged);
  return out;
}

// The converging plan of `update` at `target` (one backend): read it, keep what differs, plan
// that. Sends GETs only.
Result<BackendReport> plan_converging(const Bridge& bridge, Applier& target_applier, const std::string& target,
                                      const Update& update, std::vector<std::string>& unreadable) {
  const ReadReport read = target_applier.read(update.experiment);
  if (read.error) return std::unexpected(*read.error);
  const BackendRead* held = read.backends.empty() ? nullptr : &read.backends.front();
  PlanOptions one;
  one.backends = {target};
  if (!held || !held->state) {
    // An adapter without reads plans the whole update, as apply does.
    if (held && held->error && !(held->error->code == ErrorCode::unsupported && held->requests.empty()))
      return std::unexpected(*held->error);
    auto plan = bridge.plan(update, one);
    if (!plan) return std::unexpected(std::move(plan).error());
    return unsent(std::move(plan->backends.front()), {});
  }
  const VendorState& state = *held->state;
  unreadable = state.not_expressible;
  auto difference = converge(update, state.experiment, state.not_expressible);
  if (!difference) return std::unexpected(std::move(difference).error());
  if (difference->remaining.variations) {
    // What the target cannot hold of the variations (a value its plan skips) is no difference:
    // the parts a plan without state skips are left out of the comparison, as apply does.
    std::vector<std::string> unheld = state.not_expressible;
    if (auto stateless = bridge.plan(update, one); stateless && stateless->backends.size() == 1)
      for (const auto& skip : stateless->backends.front().skipped) unheld.push_back(skip.field);
    auto closer = converge(update, state.experiment, unheld);
    if (closer && closer->unchanged.size() > difference->unchanged.size()) difference = std::move(closer);
  }
  one.reads = {{target, &state}};
  if (difference->nothing_to_send()) {
    BackendReport out;
    out.backend = target;
    out.vendor = held->vendor;
    out.result = BackendOutcome::unchanged;
    out.unchanged = difference->unchanged;
    return out;
  }
  auto plan = bridge.plan(difference->remaining, one);
  if (!plan) return std::unexpected(std::move(plan).error());
  return unsent(std::move(plan->backends.front()), difference->unchanged);
}

const BackendInfo* backend_named(const Bridge& bridge, std::string_view name) {
  for (const auto& b : bridge.backends())
    if (b.name == name) return &b;
  return nullptr;
}

bool bound_at(const Bridge& bridge, const std::string& experiment, const std::string& backend) {
  const auto bound = bridge.bound_backends(experiment);
  return std::find(bound.begin(), bound.end(), backend) != bound.end();
}

// The binding a store recorded for `experiment` at `backend` from an earlier migration, if any.
Result<std::optional<json::object>> recorded_binding(Store& store, const std::string& experiment,
                                                     const std::string& backend) {
  auto record = store.backend(experiment, backend);
  if (!record) return std::unexpected(std::move(record).error());
  if (!*record) return std::nullopt;
  auto text = (*record)->vendor_ids.find(std::string(kCreatedBindingId));
  if (text == (*record)->vendor_ids.end()) return std::nullopt;
  boost::system::error_code ec;
  json::value parsed = json::parse(text->second, ec);
  if (ec || !parsed.is_object())
    return std::unexpected(make_error(ErrorCode::internal, "state store " + store.location() + ": the binding of " +
                                                               experiment + " at " + backend +
                                                               " recorded by a migration is not a JSON object"));
  return std::move(parsed.get_object());
}

// A create whose first creating request was journalled and whose binding never came back.
Result<std::optional<std::string>> pending_create(Store& store, const std::string& experiment,
                                                  const std::string& backend) {
  auto record = store.backend(experiment, backend);
  if (!record) return std::unexpected(std::move(record).error());
  if (!*record) return std::nullopt;
  auto run = (*record)->vendor_ids.find(std::string(kCreatePendingId));
  if (run == (*record)->vendor_ids.end()) return std::nullopt;
  return run->second;
}

// A read sets an empty string where the vendor holds an empty text; to a migration that is no
// value to carry, and vendors refuse empty texts (a 0-character description) at create or update.
void drop_empty_texts(Experiment& e) {
  for (auto* text : {&e.name, &e.description, &e.hypothesis, &e.launch_criteria})
    if (*text && (*text)->empty()) text->reset();
  if (e.audience) {
    if (e.audience->rule && e.audience->rule->empty()) e.audience->rule.reset();
    if (e.audience->description && e.audience->description->empty()) e.audience->description.reset();
    if (!e.audience->rule && !e.audience->description) e.audience.reset();
  }
  if (e.variations)
    for (auto& v : *e.variations)
      if (v.description && v.description->empty()) v.description.reset();
}

std::string describe_source(const MigrateOptions& options, bool folder) {
  return folder ? options.from : "backend " + options.from;
}

}  // namespace

bool ExperimentMigration::ok() const {
  return !error && !refused && !unsettled && target.result != BackendOutcome::failed && !target.error;
}

bool MigrationReport::ok() const {
  return std::all_of(experiments.begin(), experiments.end(), [](const ExperimentMigration& e) { return e.ok(); });
}

std::vector<std::pair<std::string, json::object>> MigrationReport::created_bindings() const {
  std::vector<std::pair<std::string, json::object>> out;
  for (const auto& e : experiments)
    if (e.binding) out.emplace_back(e.experiment, *e.binding);
  return out;
}

Result<std::string> config_with_bindings(std::string_view config_text, const std::string& source,
                                         const std::string& backend,
                                         const std::vector<std::pair<std::string, json::object>>& bindings) {
  auto doc = parse_document(config_text, source);
  if (!doc) return std::unexpected(std::move(doc).error());
  if (!doc->root.is_object()) return std::unexpected(doc->error_at("", "a config is a mapping"));
  json::object& root = doc->root.get_object();
  json::value& experiments = root["experiments"];
  if (experiments.is_null()) experiments = json::object();
  if (!experiments.is_object()) return std::unexpected(doc->error_at("experiments", "must be a mapping"));
  for (const auto& [key, binding] : bindings) {
    json::value& entry = experiments.get_object()[key];
    if (entry.is_null()) entry = json::object();
    if (!entry.is_object()) return std::unexpected(doc->error_at(join_path("experiments", key), "must be a mapping"));
    entry.get_object()[backend] = binding;
  }
  return write_yaml(doc->root);
}

Result<MigrationReport> migrate(const Bridge& bridge, const MigrateOptions& options) {
  MigrationReport report;
  report.from = options.from;
  report.to = options.to;
  report.applied = options.apply;
  const BackendInfo* target = backend_named(bridge, options.to);
  if (!target)
    return std::unexpected(invalid_field("--to", "no backend " + quote_value(options.to) + " in " + bridge.source()));
  const bool from_backend = backend_named(bridge, options.from) != nullptr;
  std::optional<ImportFolder> folder;
  if (!from_backend) {
    std::error_code ec;
    if (!std::filesystem::is_directory(options.from, ec))
      return std::unexpected(invalid_field("--from", quote_value(options.from) + " is neither a backend of " +
                                                         bridge.source() + " nor an import folder"));
    auto read = read_import_folder(options.from);
    if (!read) return std::unexpected(std::move(read).error());
    folder = std::move(*read);
  }
  if (from_backend && options.from == options.to)
    return std::unexpected(invalid_field("--to", "is the source backend: a migration goes to another backend"));
  if (options.all == !options.experiments.empty())
    return std::unexpected(invalid_field("experiments", "name the experiments to migrate, or --all (not both)"));

  std::vector<std::string> keys = options.experiments;
  if (options.all) {
    if (folder)
      for (const auto& e : folder->experiments) keys.push_back(e.update.experiment);
    else
      for (const auto& key : bridge.experiments())
        if (bound_at(bridge, key, options.from)) keys.push_back(key);
  }
  for (const auto& key : keys) {
    if (folder ? folder->find(key) == nullptr : !bound_at(bridge, key, options.from))
      return std::unexpected(make_error(ErrorCode::not_found,
                                        "experiment " + quote_value(key) + " is not in the source (" +
                                            (folder ? "no " + key + ".yaml in " + options.from
                                                    : "not bound to backend " + options.from + " in " + bridge.source()) +
                                            ")"));
  }

  // The bindings earlier migrations created and the config does not hold yet: the target is
  // converged with a bridge that has them.
  Store* store = options.apply_options.store;
  std::vector<std::pair<std::string, json::object>> recorded;
  if (store)
    for (const auto& key : keys) {
      if (bound_at(bridge, key, options.to)) continue;
      auto binding = recorded_binding(*store, key, options.to);
      if (!binding) return std::unexpected(std::move(binding).error());
      if (*binding) recorded.emplace_back(key, std::move(**binding));
    }
  std::optional<Bridge> with_recorded;
  if (!recorded.empty()) {
    std::string text = options.config_text;
    if (text.empty()) {
      auto read = read_text(bridge.source());
      if (!read) return std::unexpected(std::move(read).error());
      text = std::move(*read);
    }
    auto merged = config_with_bindings(text, bridge.source(), options.to, recorded);
    if (!merged) return std::unexpected(std::move(merged).error());
    auto built = Bridge::from_text(*merged, bridge.source(), options.bridge_options);
    if (!built) {
      Error e = std::move(built).error();
      e.message = "the bindings the state store recorded from an earlier migration do not load: " + e.message;
      return std::unexpected(std::move(e));
    }
    with_recorded = std::move(*built);
  }
  const Bridge& working = with_recorded ? *with_recorded : bridge;

  ApplyOptions target_options = options.apply_options;
  target_options.plan.backends = {options.to};
  if (target_options.run.command.empty()) target_options.run.command = "migrate";
  auto target_applier = Applier::create(working, target_options);
  if (!target_applier) return std::unexpected(std::move(target_applier).error());
  std::optional<Applier> source_applier;
  if (from_backend) {
    // Reads only: no journal, no run of its own.
    ApplyOptions source_options = options.apply_options;
    source_options.plan.backends = {options.from};
    source_options.store = nullptr;
    source_options.run_id.clear();
    source_options.resume = false;
    auto made = Applier::create(bridge, source_options);
    if (!made) return std::unexpected(std::move(made).error());
    source_applier.emplace(std::move(*made));
  }

  const std::string source_name = describe_source(options, folder.has_value());
  for (const auto& key : keys) {
    ExperimentMigration& entry = report.experiments.emplace_back();
    entry.experiment = key;
    entry.target.backend = options.to;
    entry.target.vendor = target->vendor;
    const std::string input_source = "migrate " + options.from + " -> " + options.to + ": " + key;

    // The desired state: what the source holds.
    Experiment desired;
    bool weights_held = true;
    std::optional<Update> document;  // an import folder's, as written
    const json::object* partial = nullptr;
    std::string value_source = source_name;
    if (folder) {
      const FolderExperiment& imported = *folder->find(key);
      desired = imported.state;
      document = imported.update;
      if (!imported.create.empty()) partial = &imported.create;
      value_source = imported.file;
      for (const auto& f : folder->losses.fields)
        if (f.experiment == key) report.losses.fields.push_back(f);
    } else {
      const ReadReport read = source_applier->read(key);
      const BackendRead* at = read.backends.empty() ? nullptr : &read.backends.front();
      if (read.error || !at || !at->state) {
        entry.error = read.error ? *read.error
                                 : at && at->error ? *at->error
                                                   : make_error(ErrorCode::internal, "the source read gave no state");
        entry.error->message = "reading the source: " + entry.error->message;
        continue;
      }
      desired = at->state->experiment;
      desired.experiment = key;
      drop_empty_texts(desired);
      const auto& unheld = at->state->not_expressible;
      weights_held = std::find(unheld.begin(), unheld.end(), "variations.weight") == unheld.end();
    }

    const bool converging = bound_at(working, key, options.to);
    entry.way = converging ? ExperimentMigration::Way::converge : ExperimentMigration::Way::create;
    entry.binding_from_store = converging && !bound_at(bridge, key, options.to);

    if (converging) {
      Update update = document ? *document : update_from_state(desired);
      update.source = input_source;
      if (update.variations && !weights_held) {
        // Variations without weights are no update (the weights would be read as 0).
        update.variations.reset();
        report.losses.fields.push_back(FieldCarriage{key, field::variations, Carriage::lost, "", "", "",
                                                     source_name + " holds no variation weights, and "
                                                                   "variations without weights are no update",
                                                     value_source});
      }
      if (desired.result && !update.result)
        report.losses.fields.push_back(FieldCarriage{key, field::result, Carriage::lost, "", "", "",
                                                     "a result goes only with a stopped experiment, and the source's "
                                                     "is not stopped",
                                                     value_source});
      std::vector<std::string> unreadable;
      auto planned = plan_converging(working, *target_applier, options.to, update, unreadable);
      if (!planned) {
        entry.error = std::move(planned).error();
        continue;
      }
      add_converging_losses(key, update, *planned, value_source, entry.binding_from_store, unreadable, report.losses);
      entry.unaccepted_losses = report.losses.unaccepted_losses(key, options.accept_loss);
      entry.target = std::move(*planned);
      if (!options.apply) continue;
      if (!entry.unaccepted_losses.empty()) {
        entry.refused = true;
        continue;
      }
      if (entry.target.requests.empty()) continue;  // already as the source holds it: nothing to send
      UpdateReport applied = target_applier->apply(update);
      entry.unsettled = applied.unsettled;
      if (applied.error) entry.error = applied.error;
      if (!applied.backends.empty()) entry.target = std::move(applied.backends.front());
      continue;
    }

    // No binding at the target: create it there.
    // The backend's `create:` defaults, under the import's partial binding, under the config's own
    // for this experiment.
    const json::object partial_binding = working.create_binding(key, options.to, partial);
    CreateSpec spec{key, &desired, partial_binding.empty() ? nullptr : &partial_binding};
    auto first = target->adapter->create(spec, {});
    if (!first) {
      entry.error = std::move(first).error();
      continue;
    }
    for (auto carriage : first->carriage) {
      carriage.experiment = key;
      if (carriage.source.empty()) carriage.source = value_source;
      report.losses.fields.push_back(std::move(carriage));
    }
    // What an update document holds beyond the neutral state is not created with it.
    if (document && document->comment)
      report.losses.fields.push_back(FieldCarriage{key, field::comment, Carriage::lost, "", "", "",
                                                   "a create starts from the neutral state, which keeps no comment",
                                                   value_source});
    if (document && !document->vendor.empty())
      report.losses.fields.push_back(FieldCarriage{key, field::vendor, Carriage::lost, "", "", "",
                                                   "a create sends no pass-through of another vendor", value_source});
    entry.unaccepted_losses = report.losses.unaccepted_losses(key, options.accept_loss);
    if (options.apply && !entry.unaccepted_losses.empty()) {
      entry.refused = true;
      continue;
    }
    if (options.apply && store) {
      auto pending = pending_create(*store, key, options.to);
      if (!pending) {
        entry.error = std::move(pending).error();
        continue;
      }
      if (*pending && target->adapter->finds_existing()) {
        // The adapter looks for what the lost create may have made before it creates anything.
        spec.find_existing = true;
      } else if (*pending) {
        entry.error = make_error(ErrorCode::conflict,
                                 "run " + **pending + " sent a create of " + key + " to " + options.to +
                                     " and its answer never came (its intent is pending in the journal of " +
                                     store->location() + "): expbridge does not create it again blindly; look at " +
                                     options.to + " for it, and bind it in the config (experiments." + key + "." +
                                     options.to + ") if it is there");
        entry.error->backend = options.to;
        entry.error->vendor = target->vendor;
        continue;
      }
    }
    CreateReport created = target_applier->create_experiment(options.to, spec, CreateRun{options.apply, input_source});
    entry.target = std::move(created.backend);
    entry.then = std::move(created.then);
    entry.binding = std::move(created.binding);
    entry.unsettled = created.unsettled;
  }
  if (options.apply) {
    if (Status finished = target_applier->finish_run(); !finished) return std::unexpected(std::move(finished).error());
  }
  return report;
}

json::value migration_report_to_json(const MigrationReport& report) {
  json::array experiments;
  for (const auto& e : report.experiments) {
    json::object o;
    o["experiment"] = e.experiment;
    o["way"] = e.way == ExperimentMigration::Way::create ? "create" : "converge";
    o["ok"] = e.ok();
    if (e.binding_from_store) o["binding_from_store"] = true;
    if (e.error) o["error"] = json::object{{"code", to_string(e.error->code)}, {"message", e.error->describe()}};
    if (!e.unaccepted_losses.empty()) {
      json::array lost;
      for (const auto& f : e.unaccepted_losses) lost.emplace_back(f);
      o["unaccepted_losses"] = std::move(lost);
    }
    if (e.refused) o["refused"] = true;
    UpdateReport wrapped;
    wrapped.backends.push_back(e.target);
    o["target"] = report_to_json(wrapped).as_object()["backends"].as_array().front();
    if (!e.then.empty()) {
      json::array then;
      for (const auto& line : e.then) then.emplace_back(line);
      o["then"] = std::move(then);
    }
    if (e.binding) o["binding"] = *e.binding;
    if (e.unsettled) o["unsettled"] = true;
    experiments.push_back(std::move(o));
  }
  return json::object{{"from", report.from},
                      {"to", report.to},
                      {"applied", report.applied},
                      {"ok", report.ok()},
                      {"experiments", std::move(experiments)},
                      {"losses", loss_report_to_json(report.losses)}};
}

std::string migration_report_to_text(const MigrationReport& report) {
  std::string out = "migrate " + report.from + " -> " + report.to +
                    (report.applied ? ": applied\n" : ": plan (nothing is created or changed; --apply sends)\n");
  SkipReasonIndex reasons;
  for (const auto& e : report.experiments) {
    const bool create = e.way == ExperimentMigration::Way::create;
    out += "\n" + e.experiment + ": " +
           (create ? "create at " + report.to
                   : "converge at " + report.to + (e.binding_from_store ? " (binding recorded by an earlier migration)"
                                                                        : " (bound in the config)")) +
           "\n";
    if (e.error) {
      out += "  nothing sent: " + e.error->describe() + "\n";
      continue;
    }
    if (e.refused) {
      out += "  refused, nothing sent: lost field(s) not accepted:";
      for (const auto& f : e.unaccepted_losses) out += " " + f;
      out += " (name each in --accept-loss to migrate without it)\n";
      continue;
    }
    UpdateReport wrapped;
    wrapped.source = report.from;
    wrapped.experiment = e.experiment;
    wrapped.backends.push_back(e.target);
    std::string table = report_to_text(wrapped, &reasons);
    out += table.substr(table.find('\n') + 1);  // its first line names the update; the heading above says it
    for (const auto& line : e.then) out += "  then: " + line + "\n";
    if (e.binding) out += "  binding: " + write_json(*e.binding) + "\n";
    if (!report.applied && !e.unaccepted_losses.empty()) {
      out += "  --apply refuses it: lost field(s) not accepted:";
      for (const auto& f : e.unaccepted_losses) out += " " + f;
      out += "\n";
    }
    if (e.unsettled) out += "  unsettled: re-run the migration once the target answers (what it holds decides)\n";
  }
  if (!report.losses.fields.empty()) out += "\nwhat carries over:\n" + loss_report_to_text(report.losses);
  return out;
}

}  // namespace expbridge
