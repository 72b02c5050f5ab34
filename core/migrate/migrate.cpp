// migrate: per experiment, the source's state becomes the desired state at the target, created
// through the target adapter's `create` where it has no binding, converged through the normal
// apply where it has one; fail closed on any loss not accepted.
#include "expbridge/migrate.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

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

// The converging plan of `update` at `target` (one backend), from its `read`: keep what differs,
// plan that.
Result<BackendReport> plan_converging(const Bridge& bridge, const ReadReport& read, const std::string& target,
                                      const Update& update, std::vector<std::string>& unreadable) {
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

// What a migration's jobs share: read on the loop thread only (the store included).
// What the store records as the input of migrating `key` to `to`: an earlier run's inputs are
// matched by it.
std::string migration_input_source(const MigrateOptions& options, const std::string& to, const std::string& key) {
  return "migrate " + options.from + " -> " + to + ": " + key;
}

struct MigrationContext {
  const Bridge& bridge;   // the config as given
  const Bridge& working;  // with the bindings a store recorded
  const MigrateOptions& options;
  std::vector<const BackendInfo*> targets;  // `options.to`'s
  Store* store = nullptr;
  std::string source_name;
};

// One experiment's migration, a job of the target Applier: the source's state (read by the
// producer), then each target in turn, a step or two each.
struct ExperimentWork {
  std::string key;
  std::optional<Error> source_error;
  Experiment desired;
  bool weights_held = true;
  std::optional<Update> document;  // an import folder's, as written
  json::object partial;            // the folder's `create` member
  std::string value_source;
  std::vector<FieldCarriage> source_losses;
  std::vector<ExperimentMigration> entries;  // one per target, in `to` order

  // A backend source is read as the job's first step: `to_read`, then `reading` until its answer.
  enum class SourceRead { none, to_read, reading };
  SourceRead source_read = SourceRead::none;
  // Where the job is: the target worked on, and what was last asked of the Applier for it.
  std::size_t target = 0;
  enum class Phase { start, read_sent, apply_sent, create_sent };
  Phase phase = Phase::start;
  Update update;                        // converging: what goes to the target
  std::vector<std::string> unreadable;  // converging: what its read cannot hold
  CreateSpec spec;                      // creating
  json::object create_binding;          // creating: the partial binding `spec` points to
};

void next_target(ExperimentWork& work) {
  ++work.target;
  work.phase = ExperimentWork::Phase::start;
  work.update = Update{};
  work.unreadable.clear();
}

// A converging target: its update and the losses it has before the target is read.
Applier::JobStep converge_step(const MigrationContext& context, ExperimentWork& work, ExperimentMigration& entry) {
  const std::string& to = context.options.to[work.target];
  work.update = work.document ? *work.document : update_from_state(work.desired);
  work.update.source = migration_input_source(context.options, to, work.key);
  if (work.update.variations && !work.weights_held) {
    // Variations without weights are no update (the weights would be read as 0).
    work.update.variations.reset();
    entry.losses.fields.push_back(FieldCarriage{work.key, field::variations, Carriage::lost, "", "", "",
                                                context.source_name + " holds no variation weights, and "
                                                                      "variations without weights are no update",
                                                work.value_source});
  }
  if (work.desired.result && !work.update.result)
    entry.losses.fields.push_back(FieldCarriage{work.key, field::result, Carriage::lost, "", "", "",
                                                "a result goes only with a stopped experiment, and the source's "
                                                "is not stopped",
                                                work.value_source});
  work.phase = ExperimentWork::Phase::read_sent;
  Applier::JobStep step;
  step.kind = Applier::JobStep::Kind::read;
  step.backends = {to};
  step.experiment = work.key;
  return step;
}

// A creating target: the adapter's first step says what carries over; refused, or a create
// whose answer a crash may have lost, it ends here (nothing sent); else the create step.
std::optional<Applier::JobStep> create_step(const MigrationContext& context, ExperimentWork& work,
                                            ExperimentMigration& entry) {
  const MigrateOptions& options = context.options;
  const std::string& to = options.to[work.target];
  const BackendInfo& target = *context.targets[work.target];
  // The target backend's `create:` defaults, under the folder's `create` member, under the
  // config's own for this experiment at this target.
  work.create_binding = context.working.create_binding(work.key, to, work.partial.empty() ? nullptr : &work.partial);
  work.spec = CreateSpec{work.key, &work.desired, work.create_binding.empty() ? nullptr : &work.create_binding};
  auto first = target.adapter->create(work.spec, {});
  if (!first) {
    entry.error = std::move(first).error();
    return std::nullopt;
  }
  for (auto carriage : first->carriage) {
    carriage.experiment = work.key;
    if (carriage.source.empty()) carriage.source = work.value_source;
    entry.losses.fields.push_back(std::move(carriage));
  }
  // What an update document holds beyond the neutral state is not created with it.
  if (work.document && work.document->comment)
    entry.losses.fields.push_back(FieldCarriage{work.key, field::comment, Carriage::lost, "", "", "",
                                                "a create starts from the neutral state, which keeps no comment",
                                                work.value_source});
  if (work.document && !work.document->vendor.empty())
    entry.losses.fields.push_back(FieldCarriage{work.key, field::vendor, Carriage::lost, "", "", "",
                                                "a create sends no pass-through of another vendor", work.value_source});
  entry.unaccepted_losses = entry.losses.unaccepted_losses(work.key, options.accept_loss);
  if (options.apply && !entry.unaccepted_losses.empty()) {
    entry.refused = true;
    return std::nullopt;
  }
  if (options.apply && context.store) {
    auto pending = pending_create(*context.store, work.key, to);
    if (!pending) {
      entry.error = std::move(pending).error();
      return std::nullopt;
    }
    if (*pending && target.adapter->finds_existing()) {
      // The adapter looks for what the lost create may have made before it creates anything.
      work.spec.find_existing = true;
    } else if (*pending) {
      entry.error = make_error(ErrorCode::conflict,
                               "run " + **pending + " sent a create of " + work.key + " to " + to +
                                   " and its answer never came (its intent is pending in the journal of " +
                                   context.store->location() + "): expbridge does not create it again blindly; look at " +
                                   to + " for it, and bind it in the config (experiments." + work.key + "." + to +
                                   ") if it is there");
      entry.error->backend = to;
      entry.error->vendor = target.vendor;
      return std::nullopt;
    }
  }
  work.phase = ExperimentWork::Phase::create_sent;
  Applier::JobStep step;
  step.kind = Applier::JobStep::Kind::create;
  step.backends = {to};
  step.spec = work.spec;
  step.how = CreateRun{options.apply, migration_input_source(options, to, work.key)};
  return step;
}

// The source backend's read of `work.key`: the desired state, or why there is none.
void take_source_read(const ReadReport& read, ExperimentWork& work) {
  const BackendRead* at = read.backends.empty() ? nullptr : &read.backends.front();
  if (read.error || !at || !at->state) {
    work.source_error = read.error ? *read.error
                                   : at && at->error ? *at->error
                                                     : make_error(ErrorCode::internal, "the source read gave no state");
    work.source_error->message = "reading the source: " + work.source_error->message;
    return;
  }
  work.desired = at->state->experiment;
  work.desired.experiment = work.key;
  drop_empty_texts(work.desired);
  const auto& unheld = at->state->not_expressible;
  work.weights_held = std::find(unheld.begin(), unheld.end(), "variations.weight") == unheld.end();
}

// The producer's part (on the reader thread): an import folder's document of `work.key`.
void load_document(const ImportFolder& folder, ExperimentWork& work) {
  auto imported = folder.load(work.key);
  if (!imported) {
    work.source_error = std::move(imported).error();
    return;
  }
  work.desired = std::move(imported->state);
  work.document = std::move(imported->update);
  work.partial = std::move(imported->create);
  work.value_source = imported->file;
  work.source_losses = std::move(imported->losses);
}

// The job's state machine: what `previous` (the Applier's answer to the last step) settles, and
// the next step; nothing once every target is done.
std::optional<Applier::JobStep> next_step(const MigrationContext& context, ExperimentWork& work,
                                          const Applier::JobStepOutcome* previous) {
  const MigrateOptions& options = context.options;
  using Phase = ExperimentWork::Phase;
  if (work.source_read == ExperimentWork::SourceRead::to_read) {
    work.source_read = ExperimentWork::SourceRead::reading;
    Applier::JobStep step;
    step.kind = Applier::JobStep::Kind::read;
    step.backends = {options.from};
    step.experiment = work.key;
    return step;
  }
  if (work.source_read == ExperimentWork::SourceRead::reading) {
    work.source_read = ExperimentWork::SourceRead::none;
    take_source_read(previous->read, work);
  }
  for (; work.target < work.entries.size(); next_target(work)) {
    ExperimentMigration& entry = work.entries[work.target];
    const std::string& to = options.to[work.target];
    switch (work.phase) {
      case Phase::start: {
        if (work.source_error) {
          entry.error = work.source_error;
          continue;
        }
        entry.losses.fields = work.source_losses;
        const bool converging = bound_at(context.working, work.key, to);
        entry.way = converging ? ExperimentMigration::Way::converge : ExperimentMigration::Way::create;
        entry.binding_from_store = converging && !bound_at(context.bridge, work.key, to);
        if (converging) return converge_step(context, work, entry);
        if (auto step = create_step(context, work, entry)) return step;
        continue;
      }
      case Phase::read_sent: {
        auto planned = plan_converging(context.working, previous->read, to, work.update, work.unreadable);
        if (!planned) {
          entry.error = std::move(planned).error();
          continue;
        }
        add_converging_losses(work.key, work.update, *planned, work.value_source, entry.binding_from_store,
                              work.unreadable, entry.losses);
        entry.unaccepted_losses = entry.losses.unaccepted_losses(work.key, options.accept_loss);
        entry.target = std::move(*planned);
        if (!options.apply) continue;
        if (!entry.unaccepted_losses.empty()) {
          entry.refused = true;
          continue;
        }
        if (entry.target.requests.empty()) continue;  // already as the source holds it: nothing to send
        work.phase = Phase::apply_sent;
        Applier::JobStep step;
        step.kind = Applier::JobStep::Kind::apply;
        step.backends = {to};
        step.update = work.update;
        return step;
      }
      case Phase::apply_sent: {
        const UpdateReport& applied = previous->update;
        entry.unsettled = applied.unsettled;
        if (applied.error) entry.error = applied.error;
        if (!applied.backends.empty()) entry.target = applied.backends.front();
        continue;
      }
      case Phase::create_sent: {
        const CreateReport& created = previous->create;
        entry.target = created.backend;
        entry.then = created.then;
        entry.binding = created.binding;
        entry.unsettled = created.unsettled;
        continue;
      }
    }
  }
  return std::nullopt;
}

void count_entry(const ExperimentMigration& e, bool applied, MigrationSummary& summary) {
  ++summary.entries;
  if (e.ok()) ++summary.ok;
  else if (e.refused) ++summary.refused;
  else ++summary.failed;
  for (const auto& r : e.target.requests)
    if (r.sent) ++summary.requests_sent;
  if (e.error || e.refused) return;
  const bool to_send = std::any_of(e.target.requests.begin(), e.target.requests.end(),
                                   [](const RequestReport& r) { return r.request.method != "GET"; });
  if (e.way == ExperimentMigration::Way::create) {
    if (e.binding) ++summary.created;
    else if (!applied) ++summary.planned;
    return;
  }
  if (!to_send) ++summary.unchanged;
  else if (!applied) ++summary.planned;
  else if (e.ok()) ++summary.converged;
}

}  // namespace

bool ExperimentMigration::ok() const {
  return !error && !refused && !unsettled && target.result != BackendOutcome::failed && !target.error;
}

bool MigrationReport::ok() const { return summary.ok == summary.entries; }

std::vector<std::pair<std::string, json::object>> MigrationReport::created_bindings(std::string_view backend) const {
  std::vector<std::pair<std::string, json::object>> out;
  for (const auto& c : created)
    if (c.backend == backend) out.emplace_back(c.experiment, c.binding);
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
  if (options.to.empty()) return std::unexpected(invalid_field("--to", "name the backend(s) to migrate to"));
  if (options.parallel < 1 || options.parallel > 256)
    return std::unexpected(invalid_field("--parallel", "must be 1..256 (experiments in flight at once), not " +
                                                           std::to_string(options.parallel)));
  const bool from_backend = backend_named(bridge, options.from) != nullptr;
  std::vector<const BackendInfo*> targets;
  for (const auto& to : options.to) {
    const BackendInfo* target = backend_named(bridge, to);
    if (!target)
      return std::unexpected(invalid_field("--to", "no backend " + quote_value(to) + " in " + bridge.source()));
    if (from_backend && options.from == to)
      return std::unexpected(invalid_field("--to", to + " is the source backend: a migration goes to another backend"));
    if (std::find(targets.begin(), targets.end(), target) != targets.end())
      return std::unexpected(invalid_field("--to", to + " is named twice"));
    targets.push_back(target);
  }
  std::optional<ImportFolder> folder;
  if (!from_backend) {
    std::error_code ec;
    if (!std::filesystem::is_directory(options.from, ec))
      return std::unexpected(invalid_field("--from", quote_value(options.from) + " is neither a backend of " +
                                                         bridge.source() + " nor an import folder"));
    auto opened = open_import_folder(options.from);
    if (!opened) return std::unexpected(std::move(opened).error());
    folder = std::move(*opened);
  }
  if (options.all == !options.experiments.empty())
    return std::unexpected(invalid_field("experiments", "name the experiments to migrate, or --all (not both)"));

  std::vector<std::string> keys = options.experiments;
  if (options.all) {
    if (folder)
      keys = folder->keys();
    else
      for (const auto& key : bridge.experiments())
        if (bound_at(bridge, key, options.from)) keys.push_back(key);
  }
  for (const auto& key : keys) {
    if (folder ? !folder->contains(key) : !bound_at(bridge, key, options.from))
      return std::unexpected(make_error(ErrorCode::not_found,
                                        "experiment " + quote_value(key) + " is not in the source (" +
                                            (folder ? "no " + key + ".yaml in " + options.from
                                                    : "not bound to backend " + options.from + " in " + bridge.source()) +
                                            ")"));
  }

  report.entries_expected = static_cast<std::int64_t>(keys.size() * targets.size());

  // The bindings earlier migrations created and the config does not hold yet: the targets are
  // converged with a bridge that has them.
  Store* store = options.apply_options.store;
  std::optional<Bridge> with_recorded;
  if (store) {
    std::string text;
    bool merged_any = false;
    for (const auto& to : options.to) {
      std::vector<std::pair<std::string, json::object>> recorded;
      for (const auto& key : keys) {
        if (bound_at(bridge, key, to)) continue;
        auto binding = recorded_binding(*store, key, to);
        if (!binding) return std::unexpected(std::move(binding).error());
        if (*binding) recorded.emplace_back(key, std::move(**binding));
      }
      if (recorded.empty()) continue;
      if (!merged_any) {
        text = options.config_text;
        if (text.empty()) {
          auto read = read_text(bridge.source());
          if (!read) return std::unexpected(std::move(read).error());
          text = std::move(*read);
        }
      }
      auto merged = config_with_bindings(text, bridge.source(), to, recorded);
      if (!merged) return std::unexpected(std::move(merged).error());
      text = std::move(*merged);
      merged_any = true;
    }
    if (merged_any) {
      auto built = Bridge::from_text(text, bridge.source(), options.bridge_options);
      if (!built) {
        Error e = std::move(built).error();
        e.message = "the bindings the state store recorded from an earlier migration do not load: " + e.message;
        return std::unexpected(std::move(e));
      }
      with_recorded = std::move(*built);
    }
  }
  const Bridge& working = with_recorded ? *with_recorded : bridge;

  ApplyOptions target_options = options.apply_options;
  target_options.plan.backends = options.to;
  // A backend source is read on the same loop, its reads paced with its own budget and
  // overlapping like the targets' work (reads only: nothing is journalled for it).
  if (from_backend) target_options.plan.backends.push_back(options.from);
  target_options.parallel_updates = options.parallel;
  if (target_options.run.command.empty()) target_options.run.command = "migrate";
  auto target_applier = Applier::create(working, target_options);
  if (!target_applier) return std::unexpected(std::move(target_applier).error());
  const MigrationContext context{bridge, working, options, targets, store, describe_source(options, folder.has_value())};
  // The producer: one experiment at a time, its document parsed or its source read, on the
  // Applier's reader thread; at most the Applier's window and queue of them are held at once.
  std::size_t next_key = 0;
  const Applier::JobSource produce = [&]() -> std::optional<Applier::Job> {
    if (next_key >= keys.size()) return std::nullopt;
    const std::string& key = keys[next_key++];
    auto work = std::make_shared<ExperimentWork>();
    work->key = key;
    for (const BackendInfo* target : targets) {
      ExperimentMigration& entry = work->entries.emplace_back();
      entry.experiment = key;
      entry.target.backend = target->name;
      entry.target.vendor = target->vendor;
    }
    work->value_source = context.source_name;
    if (folder)
      load_document(*folder, *work);
    else
      work->source_read = ExperimentWork::SourceRead::to_read;
    Applier::Job job;
    job.next_step = [&context, at = work.get()](const Applier::JobStepOutcome* previous) {
      return next_step(context, *at, previous);
    };
    job.work = std::move(work);
    return job;
  };
  // The pacing of the backends used (the Applier holds every backend of the config).
  const auto target_pacing = [&] {
    auto pacing = target_applier->pacing();
    std::erase_if(pacing, [&](const BackendPacing& b) {
      const auto& used = target_options.plan.backends;
      return std::find(used.begin(), used.end(), b.backend) == used.end();
    });
    return pacing;
  };
  // The inputs this run settled, by the source an earlier run would have recorded for them.
  std::set<std::string> settled;
  const auto finished = [&](Applier::Job job) {
    auto work = std::static_pointer_cast<ExperimentWork>(job.work);
    ++report.summary.experiments;
    for (auto& entry : work->entries) {
      if (options.apply && store && entry.ok())
        settled.insert(migration_input_source(options, entry.target.backend, entry.experiment));
      count_entry(entry, options.apply, report.summary);
      if (options.keep_created_bindings && entry.binding)
        report.created.push_back(CreatedBinding{entry.experiment, entry.target.backend, *entry.binding});
      report.pacing = target_pacing();
      if (options.sink) options.sink(std::move(entry), report);
    }
  };
  if (options.started) options.started(report);
  target_applier->run_jobs(produce, finished);
  report.pacing = target_pacing();
  if (options.apply) {
    if (Status ended = target_applier->finish_run(); !ended) return std::unexpected(std::move(ended).error());
  }
  if (options.apply && store && target_applier->unsettled_inputs() == 0) {
    // Earlier migrations of this config that were cut short stay unfinished in the store until
    // what they left is settled; this run settled an input when it migrated the same experiment
    // from the same source to the same target without error (created, found, converged or
    // already so). Newest first, as the store gives them; the first that left something else
    // stops the search, and it and the older ones stay as they are.
    const std::string& config_path = options.apply_options.run.config_path;
    for (int bound = 0; bound < 1000; ++bound) {
      auto older = store->last_unfinished_run(config_path);
      if (!older) return std::unexpected(std::move(older).error());
      if (!*older || (*older)->id == target_applier->run_id()) break;
      auto inputs = store->inputs((*older)->id);
      if (!inputs) return std::unexpected(std::move(inputs).error());
      const bool all_settled = std::all_of(inputs->begin(), inputs->end(), [&](const InputRecord& input) {
        return input.done || settled.contains(input.source);
      });
      if (!all_settled) break;
      if (Status ended = store->finish_run((*older)->id); !ended) return std::unexpected(std::move(ended).error());
      report.finished_earlier_runs.push_back((*older)->id);
    }
  }
  return report;
}

json::value migration_entry_to_json(const ExperimentMigration& e) {
  json::object o;
  o["experiment"] = e.experiment;
  o["target"] = e.target.backend;
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
  o["report"] = report_to_json(wrapped).as_object()["backends"].as_array().front();
  if (!e.then.empty()) {
    json::array then;
    for (const auto& line : e.then) then.emplace_back(line);
    o["then"] = std::move(then);
  }
  if (e.binding) o["binding"] = *e.binding;
  if (e.unsettled) o["unsettled"] = true;
  o["losses"] = loss_report_to_json(e.losses).as_object()["fields"];
  return o;
}

json::value migration_summary_to_json(const MigrationReport& report) {
  const MigrationSummary& s = report.summary;
  json::object waits;
  for (const auto& b : report.pacing)
    waits[b.backend] = json::object{{"paused_ms", b.paused_ms},
                                    {"pauses", b.pauses},
                                    {"throttled", b.throttled},
                                    {"most_concurrency", b.most_concurrency}};
  json::object out{{"experiments", s.experiments}, {"entries", s.entries},
                   {"ok", s.ok},                   {"failed", s.failed},
                   {"refused", s.refused},         {"created", s.created},
                   {"converged", s.converged},     {"unchanged", s.unchanged},
                   {"planned", s.planned},         {"requests_sent", s.requests_sent},
                   {"rate_limit_waits", std::move(waits)}};
  if (!report.finished_earlier_runs.empty()) {
    json::array runs;
    for (const auto& run : report.finished_earlier_runs) runs.emplace_back(run);
    out["finished_earlier_runs"] = std::move(runs);
  }
  return out;
}

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

std::string migration_heading_text(const MigrationReport& report) {
  return "migrate " + report.from + " -> " + joined(report.to) +
         (report.applied ? ": applied\n" : ": plan (nothing is created or changed; --apply sends)\n");
}

std::string migration_entry_to_text(const ExperimentMigration& e, bool applied, SkipReasonIndex* reasons) {
  const bool create = e.way == ExperimentMigration::Way::create;
  const std::string& to = e.target.backend;
  std::string out = "\n" + e.experiment + ": " +
                    (create ? "create at " + to
                            : "converge at " + to + (e.binding_from_store ? " (binding recorded by an earlier migration)"
                                                                          : " (bound in the config)")) +
                    "\n";
  if (e.error) {
    out += "  nothing sent: " + e.error->describe() + "\n";
  } else if (e.refused) {
    out += "  refused, nothing sent: lost field(s) not accepted:";
    for (const auto& f : e.unaccepted_losses) out += " " + f;
    out += " (name each in --accept-loss to migrate without it)\n";
  } else {
    UpdateReport wrapped;
    wrapped.experiment = e.experiment;
    wrapped.backends.push_back(e.target);
    std::string table = report_to_text(wrapped, reasons);
    out += table.substr(table.find('\n') + 1);  // its first line names the update; the heading above says it
    for (const auto& line : e.then) out += "  then: " + line + "\n";
    if (e.binding) out += "  binding: " + write_json(*e.binding) + "\n";
    if (!applied && !e.unaccepted_losses.empty()) {
      out += "  --apply refuses it: lost field(s) not accepted:";
      for (const auto& f : e.unaccepted_losses) out += " " + f;
      out += "\n";
    }
    if (e.unsettled) out += "  unsettled: re-run the migration once the target answers (what it holds decides)\n";
  }
  if (e.losses.fields.empty()) return out;
  // The loss report's block for this experiment, under the entry: "<key>: N carried, ..." and its lines.
  const std::string losses = loss_report_to_text(e.losses);
  const std::size_t counts = losses.find(": ");
  std::string block = counts == std::string::npos ? losses : losses.substr(counts + 2);
  out += "  what carries over: ";
  // Its lines one step further in than the entry's own.
  for (std::size_t line = 0; line < block.size();) {
    const std::size_t end = block.find('\n', line);
    const std::size_t stop = end == std::string::npos ? block.size() : end + 1;
    if (line > 0) out += "  ";
    out.append(block, line, stop - line);
    line = stop;
  }
  return out;
}

std::string migration_summary_text(const MigrationReport& report) {
  const MigrationSummary& s = report.summary;
  std::string out = "\nsummary: " + std::to_string(s.experiments) + " experiment(s), " + std::to_string(s.entries) +
                    " entr" + (s.entries == 1 ? "y" : "ies") + ": " + std::to_string(s.ok) + " ok, " +
                    std::to_string(s.failed) + " failed, " + std::to_string(s.refused) + " refused; " +
                    std::to_string(s.created) + " created, " + std::to_string(s.converged) + " converged, " +
                    std::to_string(s.unchanged) + " unchanged";
  if (!report.applied) out += ", " + std::to_string(s.planned) + " to send with --apply";
  out += "; " + std::to_string(s.requests_sent) + " request(s) sent\n";
  return out;
}

}  // namespace expbridge
