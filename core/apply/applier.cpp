#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "apply/async_sync.hpp"
#include "apply/authenticator.hpp"
#include "apply/backend_pacer.hpp"
#include "apply/retry_policy.hpp"
#include "apply/store_writer.hpp"
#include "convergence.hpp"
#include "experiment_codec.hpp"
#include "expbridge/apply.hpp"
#include "http/beast_http_client.hpp"
#include "json_writer.hpp"
#include "log.hpp"
#include "message_text.hpp"
#include "secrets.hpp"
#include "state_diff.hpp"

namespace expbridge {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

std::chrono::milliseconds remaining(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
}

// What an exception says, for a report: whatever threw, the message names what was going on.
std::string exception_text(const std::exception_ptr& thrown) {
  try {
    std::rethrow_exception(thrown);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

// "unexpected failure <stage>: <what>[; <consequence>]"
Error exception_error(std::string_view stage, const std::exception_ptr& thrown, std::string_view consequence = {}) {
  std::string message = "unexpected failure " + std::string(stage) + ": " + exception_text(thrown);
  if (!consequence.empty()) message += "; " + std::string(consequence);
  return make_error(ErrorCode::internal, std::move(message));
}

// Runs `f` (returning some Result<T>); an exception becomes that Result's `internal` error.
template <class F>
auto without_exceptions(std::string_view stage, std::string_view consequence, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (...) {
    return std::unexpected(exception_error(stage, std::current_exception(), consequence));
  }
}

// Marks one task of a WaitGroup finished when the completion handler ends, however it ends:
// a handler that threw before done() would leave the update waiting for ever.
struct DoneOnExit {
  apply::WaitGroup& group;
  ~DoneOnExit() { group.done(); }
};

// ---- the journal's helpers

// Now, as the store's records carry it: RFC 3339 UTC with milliseconds.
std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis % 1000));
  return text;
}

// The request as the journal knows it: never its headers, which carry credentials.
std::string request_digest(const PlannedRequest& request, const std::string& body) {
  return store_digest(request.method + "\n" + request.url + "\n" + body);
}

// The neutral fields (and `action.<name>`) an update carries, in schema order.
std::vector<std::string> carried_fields(const Update& u) {
  std::vector<std::string> out;
  auto add = [&](bool present, const char* name) {
    if (present) out.emplace_back(name);
  };
  add(u.name.has_value(), field::name);
  add(u.description.has_value(), field::description);
  add(u.hypothesis.has_value(), field::hypothesis);
  add(u.launch_criteria.has_value(), field::launch_criteria);
  add(u.audience.has_value(), "audience");
  add(u.variations.has_value(), field::variations);
  add(u.exposure.has_value(), field::exposure);
  add(u.overrides.has_value(), field::overrides);
  if (u.action) out.push_back("action." + std::string(to_string(*u.action)));
  add(u.result.has_value(), field::result);
  add(u.comment.has_value(), field::comment);
  add(!u.vendor.empty(), field::vendor);
  return out;
}

// A neutral state as the store keeps it: the update document's fields, with `status`.
boost::json::object state_json(const Experiment& e, const std::vector<std::string>& not_expressible = {}) {
  boost::json::object out = experiment_state_json(e, not_expressible);
  if (e.status) out["status"] = std::string(to_string(*e.status));
  return out;
}

// What a backend holds once `u` is applied on `held` (what it held before, when it was read):
// the update's fields over the read's, and the status its action leads to.
Experiment applied_state(const Experiment* held, const Update& u) {
  Experiment e = held ? *held : Experiment{};
  e.experiment = u.experiment;
  if (u.name) e.name = u.name;
  if (u.description) e.description = u.description;
  if (u.hypothesis) e.hypothesis = u.hypothesis;
  if (u.launch_criteria) e.launch_criteria = u.launch_criteria;
  if (u.audience) e.audience = u.audience;
  if (u.variations) e.variations = u.variations;
  if (u.exposure) e.exposure = u.exposure;
  if (u.overrides) e.overrides = u.overrides;
  if (u.result) e.result = u.result;
  // After a restore the status is the vendor's business: none until the next read tells.
  if (u.action) e.status = status_after(*u.action);
  return e;
}

}  // namespace

std::string_view to_string(BackendOutcome outcome) noexcept {
  switch (outcome) {
    case BackendOutcome::ok: return "ok";
    case BackendOutcome::failed: return "failed";
    case BackendOutcome::skipped: return "skipped";
    case BackendOutcome::unchanged: return "unchanged";
  }
  return "failed";
}

bool UpdateReport::ok() const {
  if (error) return false;
  // A backend that carries an error failed, whatever its result says.
  return std::none_of(backends.begin(), backends.end(), [](const BackendReport& b) {
    return b.result == BackendOutcome::failed || b.error.has_value();
  });
}

struct Applier::Impl {
  /// One configured backend, ready to send.
  struct Backend {
    const BackendInfo* info = nullptr;
    std::unique_ptr<apply::Authenticator> auth;
    std::optional<Error> auth_error;  ///< why this backend cannot authenticate; reported per update
    std::unique_ptr<apply::BackendPacer> pacer;  ///< admission: concurrency, rate-limit pauses, the rate cap
  };

  const Bridge* bridge = nullptr;
  ApplyOptions options;
  asio::io_context io{1};
  std::unique_ptr<http::HttpClient> client;
  apply::TokenCache tokens;
  apply::AuthContext auth_context;
  std::vector<Backend> backends;
  std::mt19937_64 random{std::random_device{}()};
  std::map<std::string, std::unique_ptr<apply::AsyncSemaphore>, std::less<>> experiment_locks;
  /// The read hint (read.hpp) of each backend and experiment, from its last successful read.
  std::map<std::pair<std::string, std::string>, ReadHint, std::less<>> read_hints;

  // ---- the journal (with `options.store`)
  /// The run under way, once the first update began it.
  std::string run_id;
  bool run_finished = false;
  /// The next input's position in the run: every update, in input order.
  std::int64_t next_position = 0;

  /// One input as its requests are journalled.
  struct InputJournal {
    std::string run_id;
    std::int64_t position = 0;
    std::string digest;
    std::string experiment;
    bool complete = true;  ///< every outcome recorded (else the input is not done)
    /// Resuming: what the resumed run journalled for this input (every backend).
    std::vector<Intent> earlier;
  };

  /// This process's hold on an experiment's lock in the store: shared by its update under way
  /// and the writes of earlier ones not committed yet, so that the next update of the same
  /// experiment does not wait for them (it would, for its own process's flock).
  struct HeldExperiment {
    Store::ExperimentLock lock;
    /// Each backend's record as this process last read or queued it under the lock: no other
    /// process writes it meanwhile, so the store need not be read again (on the loop's thread,
    /// behind the writer's commit) until the hold ends.
    std::map<std::string, BackendRecord, std::less<>> records;
  };
  // ---- writes to the store, gathered so that a fan-out pays for one synced commit
  /// An intent waiting for the next commit, with its waiter.
  struct QueuedIntent {
    Intent intent;
    std::int64_t id = 0;
    std::optional<Error> error;
    std::shared_ptr<asio::steady_timer> committed;
  };
  std::vector<std::shared_ptr<QueuedIntent>> queued_intents;
  /// Updates between their start and their end: with one, its intents are committed inline.
  int updates_running = 0;
  struct Running {
    int& count;
    explicit Running(int& c) : count(c) { ++count; }
    ~Running() { --count; }
    Running(const Running&) = delete;
    Running& operator=(const Running&) = delete;
  };
  bool intent_commit_posted = false;
  /// What waits to be written: its inputs go with the next intents' commit, the rest to the
  /// writer at the end of an update (or of the call). Its backend records are what
  /// `stored_record` finds first.
  StoreWrites queued_writes;

  /// Waits for `intent` to be durable: every intent queued in the same turn of the loop (the
  /// first requests of a whole fan-out, of every update in flight) shares one synced commit,
  /// which also carries their inputs, and the writer adds what else waits for it.
  asio::awaitable<Result<std::int64_t>> journal_intent(Intent intent) {
    auto queued = std::make_shared<QueuedIntent>();
    queued->intent = std::move(intent);
    queued->committed = std::make_shared<asio::steady_timer>(io, asio::steady_timer::time_point::max());
    queued_intents.push_back(queued);
    if (!intent_commit_posted) {
      intent_commit_posted = true;
      // Posted, not run now: the other backends' tasks already ready to run queue theirs first.
      asio::post(io, [this] { commit_intents(); });
    }
    // commit_intents cancels the timer once the commit is done; the "aborted" is the signal.
    co_await queued->committed->async_wait(asio::as_tuple(asio::use_awaitable));
    if (queued->error) co_return std::unexpected(std::move(*queued->error));
    co_return queued->id;
  }

  void commit_intents() {
    intent_commit_posted = false;
    auto batch = std::exchange(queued_intents, {});
    std::vector<Intent> intents;
    intents.reserve(batch.size());
    for (const auto& q : batch) intents.push_back(q->intent);
    // Only their inputs go with them: what must be durable before a request leaves is small,
    // and so is its sync. The rest (outcomes, records, history) waits for its update's end,
    // where a backend's record and what the update applied there are one row written once.
    // Were the commit to fail, the writer fails every later one too (StoreWriter::failure),
    // so nothing is sent after what it lost.
    StoreWrites with;
    with.inputs = std::exchange(queued_writes.inputs, {});
    // One update alone in flight has nothing to do until its intents are durable: committed
    // here when the writer is idle, without the two hand-offs between threads.
    if (updates_running <= 1) {
      if (auto ids = writer().commit_intents_now(intents, with)) {
        for (std::size_t i = 0; i < batch.size(); ++i) {
          if (*ids) batch[i]->id = (**ids)[i];
          else batch[i]->error = ids->error();
          batch[i]->committed->cancel();
        }
        return;
      }
    }
    writer().commit_intents(std::move(intents), std::move(with),
                            [batch = std::move(batch)](Result<std::vector<std::int64_t>> ids) {
                              for (std::size_t i = 0; i < batch.size(); ++i) {
                                if (ids) batch[i]->id = (*ids)[i];
                                else batch[i]->error = ids.error();
                                batch[i]->committed->cancel();
                              }
                            });
  }

  StoreWrites take_queued_writes() { return std::exchange(queued_writes, {}); }

  /// The thread that commits to the store, started with the first commit.
  std::unique_ptr<apply::StoreWriter> store_writer;
  apply::StoreWriter& writer() {
    if (!store_writer) store_writer = std::make_unique<apply::StoreWriter>(*store(), io.get_executor());
    return *store_writer;
  }

  /// Writes what waits, once what the writer holds is committed. A failure is logged: what it
  /// loses leaves intents pending and inputs undone, which a resumed run settles by reading
  /// the vendors.
  Status write_queued() {
    if (store_writer) {
      store_writer->drain();
      if (auto failed = store_writer->failure()) {
        queued_writes = {};
        Error e = apply::StoreWriter::refused_after(std::move(*failed));
        logger()->warn("{}", e.message);
        return std::unexpected(std::move(e));
      }
    }
    if (queued_writes.empty()) return {};
    Status written = store()->write(take_queued_writes());
    if (!written) logger()->warn("{}", written.error().message);
    return written;
  }

  /// Writes what waits on the writer's thread, the update's `store_lock` held until it is
  /// committed (the next process to apply the experiment reads what this one learnt), while
  /// this process's next update of it goes on. A failure is logged and leaves the input
  /// unsettled, and the writer then refuses every later commit, this experiment's included.
  void write_queued_behind(std::shared_ptr<HeldExperiment> store_lock, std::string experiment) {
    if (queued_writes.empty()) return;
    StoreWrites writes = take_queued_writes();
    auto unacked_keys = track_unacked(writes);
    writer().write(std::move(writes), [this, store_lock = std::move(store_lock), experiment = std::move(experiment),
                                       unacked_keys = std::move(unacked_keys)](Status written) mutable {
      release_unacked(unacked_keys);
      if (!written) {
        logger()->warn("{}", written.error().message);
        ++unsettled_inputs;
        unsettled_experiments.insert(experiment);
      }
      store_lock.reset();  // the lock goes once its experiment's writes are in the store
    });
  }

  // ---- records handed to the writer and not committed yet: what `stored_record` finds
  // before the store's copy, which they will replace
  struct Unacked {
    std::optional<BackendRecord> record;
    std::optional<AppliedState> applied;  ///< applied over `record` (or the store's copy)
    int writes = 0;                       ///< commits under way that carry this record
  };
  std::map<std::pair<std::string, std::string>, Unacked, std::less<>> unacked;
  using UnackedKeys = std::vector<std::pair<std::string, std::string>>;

  UnackedKeys track_unacked(const StoreWrites& writes) {
    UnackedKeys keys;
    // In the order the store applies them: the records, then what was applied over them. An
    // experiment held by this process has them in its hold, which lasts until they are in.
    for (const BackendRecord& r : writes.backends) {
      if (held_record(r.experiment, r.backend)) continue;
      Unacked& u = unacked[{r.experiment, r.backend}];
      u.record = r;  // made from stored_record, so it holds whatever was applied before it
      u.applied.reset();
      ++u.writes;
      keys.emplace_back(r.experiment, r.backend);
    }
    for (const AppliedState& a : writes.applied) {
      if (held_record(a.experiment, a.backend)) continue;
      Unacked& u = unacked[{a.experiment, a.backend}];
      u.applied = a;
      ++u.writes;
      keys.emplace_back(a.experiment, a.backend);
    }
    return keys;
  }

  void release_unacked(const UnackedKeys& keys) {
    for (const auto& key : keys) {
      auto it = unacked.find(key);
      if (it != unacked.end() && --it->second.writes <= 0) unacked.erase(it);
    }
  }

  std::map<std::string, std::weak_ptr<HeldExperiment>, std::less<>> held_store_locks;

  HeldExperiment* held(const std::string& experiment) {
    auto it = held_store_locks.find(experiment);
    if (it == held_store_locks.end()) return nullptr;
    // Not expired while an update of it runs (it holds a share); a stale entry is nobody's.
    auto alive = it->second.lock();
    return alive.get();
  }

  /// The record of `experiment` at `backend` in this process's hold, if it has one.
  BackendRecord* held_record(const std::string& experiment, const std::string& backend) {
    HeldExperiment* hold = held(experiment);
    if (!hold) return nullptr;
    auto it = hold->records.find(backend);
    return it == hold->records.end() ? nullptr : &it->second;
  }

  asio::awaitable<Result<std::shared_ptr<HeldExperiment>>> hold_store_lock(const std::string& experiment) {
    if (auto it = held_store_locks.find(experiment); it != held_store_locks.end()) {
      if (auto held = it->second.lock()) co_return held;
      held_store_locks.erase(it);
    }
    auto locked = co_await lock_experiment_in_store(experiment);
    if (!locked) co_return std::unexpected(std::move(locked).error());
    auto held = std::make_shared<HeldExperiment>(HeldExperiment{std::move(*locked), {}});
    // Dropped from the map when its last holder lets go (the updates' holds are few at a time,
    // a migration's experiments are many).
    std::erase_if(held_store_locks, [](const auto& entry) { return entry.second.expired(); });
    held_store_locks[experiment] = held;
    co_return held;
  }

  /// `state` over the record queued for its experiment and backend, or queued on its own.
  void queue_applied(AppliedState state) {
    auto& queued = queued_writes.backends;
    auto same = std::find_if(queued.begin(), queued.end(), [&](const BackendRecord& r) {
      return r.experiment == state.experiment && r.backend == state.backend;
    });
    if (HeldExperiment* hold = held(state.experiment)) {
      if (auto known = hold->records.find(state.backend); known != hold->records.end()) apply_state(known->second, state);
    }
    if (same == queued.end()) queued_writes.applied.push_back(std::move(state));
    else apply_state(*same, std::move(state));
  }

  static void apply_state(BackendRecord& record, AppliedState state) {
    record.vendor = std::move(state.vendor);
    record.applied = std::move(state.applied);
    record.applied_at = std::move(state.applied_at);
    record.applied_run = std::move(state.applied_run);
  }

  /// `record`, replacing the one queued for its experiment and backend.
  void queue_backend_record(BackendRecord record) {
    if (HeldExperiment* hold = held(record.experiment)) hold->records.insert_or_assign(record.backend, record);
    auto& queued = queued_writes.backends;
    auto same = std::find_if(queued.begin(), queued.end(), [&](const BackendRecord& r) {
      return r.experiment == record.experiment && r.backend == record.backend;
    });
    if (same != queued.end()) *same = std::move(record);
    else queued.push_back(std::move(record));
  }

  // ---- resuming (`options.resume`): what the run being continued recorded, loaded once
  bool resume_loaded = false;
  /// A resumed input differed from the recorded one: the run stays unfinished, to be resumed
  /// with the inputs it was begun with.
  bool input_mismatch = false;
  std::map<std::int64_t, InputRecord> recorded_inputs;
  std::map<std::int64_t, std::vector<Intent>> recorded_intents;

  // ---- settling: an input is settled once the store records it done
  /// Inputs this invocation left unsettled: while there is one, the run stays unfinished, so
  /// `--resume` finds it and settles them.
  std::int64_t unsettled_inputs = 0;
  /// Experiments with an unsettled input: their later inputs of this invocation are held back
  /// unsent, so that `--resume` applies all of them in input order (an older update never lands
  /// over a newer one).
  std::set<std::string, std::less<>> unsettled_experiments;

  void leave_unsettled(UpdateReport& report, const std::string& experiment) {
    report.unsettled = true;
    ++unsettled_inputs;
    if (!experiment.empty()) unsettled_experiments.insert(experiment);
  }

  Status load_resumed_run() {
    if (resume_loaded) return {};
    auto inputs = store()->inputs(run_id);
    if (!inputs) return std::unexpected(std::move(inputs).error());
    auto journal = store()->journal(run_id);
    if (!journal) return std::unexpected(std::move(journal).error());
    for (auto& input : *inputs) recorded_inputs.insert_or_assign(input.position, std::move(input));
    for (auto& intent : *journal) recorded_intents[intent.input_position].push_back(std::move(intent));
    resume_loaded = true;
    return {};
  }

  // The report of an input the resumed run did: each backend's journalled requests, done earlier.
  void report_done_earlier(const InputRecord& input, UpdateReport& report) {
    report.done_earlier = true;
    report.experiment = input.experiment;
    for (const Intent& intent : recorded_intents[input.position]) {
      auto b = std::find_if(report.backends.begin(), report.backends.end(),
                            [&](const BackendReport& r) { return r.backend == intent.backend; });
      if (b == report.backends.end()) {
        BackendReport fresh;
        fresh.backend = intent.backend;
        if (const Backend* known = find_backend(intent.backend)) fresh.vendor = known->info->vendor;
        fresh.result = BackendOutcome::unchanged;
        report.backends.push_back(std::move(fresh));
        b = std::prev(report.backends.end());
      }
      b->journal.push_back(JournalEntry{intent.operation, "done earlier"});
    }
  }

  // Resuming an input that was not done: the read this update began with decided what to send,
  // so an intent left without an outcome (a crash, or an answer that never came) is settled by
  // what was sent now. Sent again: it was
  // not applied. Not sent, its backend otherwise fine: the read found it applied.
  void reconcile_earlier(InputJournal& journal, UpdateReport& report) {
    for (BackendReport& b : report.backends) {
      const bool settled = b.result != BackendOutcome::failed && !b.error;
      // Only the entries of requests sent now are matched; what is added below never is.
      const std::size_t sent_now = b.journal.size();
      std::vector<bool> matched(sent_now, false);
      for (const Intent& intent : journal.earlier) {
        if (intent.backend != b.backend) continue;
        std::optional<std::size_t> now;
        for (std::size_t k = 0; k < sent_now; ++k)
          if (!matched[k] && b.journal[k].operation == intent.operation && b.journal[k].status == "sent now") {
            now = k;
            break;
          }
        if (intent.outcome == IntentOutcome::pending) {
          if (now) {
            matched[*now] = true;
            b.journal[*now].status = "reconciled: not applied";
            record_reconciled(journal, intent, IntentOutcome::reconciled_absent);
          } else if (settled) {
            b.journal.push_back(JournalEntry{intent.operation, "reconciled: found applied"});
            record_reconciled(journal, intent, IntentOutcome::reconciled_applied);
          }
        } else if (intent.outcome == IntentOutcome::succeeded && !now) {
          b.journal.push_back(JournalEntry{intent.operation, "done earlier"});
        }
      }
    }
  }

  void record_reconciled(InputJournal& journal, const Intent& intent, IntentOutcome outcome) {
    if (Status recorded = store()->record_outcome(intent.id, outcome, 0, std::string_view("")); !recorded) {
      journal.complete = false;
      logger()->warn("{}", recorded.error().message);
    }
  }


  Store* store() const { return options.store; }

  Status ensure_run() {
    if (!run_id.empty()) return {};
    if (!options.run_id.empty()) {
      run_id = options.run_id;
      return {};
    }
    RunStart start = options.run;
    if (start.command.empty()) start.command = "apply";
    if (start.config_path.empty()) start.config_path = bridge->source();
    if (start.config_digest.empty()) start.config_digest = store_digest(start.config_path);
    auto run = store()->begin_run(start);
    if (!run) return std::unexpected(std::move(run).error());
    run_id = run->id;
    return {};
  }

  // What the store knows of `experiment` at `backend`, or a fresh record.
  Result<BackendRecord> stored_record(const std::string& experiment, const Backend& backend) {
    for (const BackendRecord& queued : queued_writes.backends)
      if (queued.experiment == experiment && queued.backend == backend.info->name) return queued;
    HeldExperiment* hold = held(experiment);
    if (hold) {
      if (auto known = hold->records.find(backend.info->name); known != hold->records.end()) return known->second;
    }
    auto record = record_from_store(experiment, backend);
    if (record && hold) hold->records.insert_or_assign(backend.info->name, *record);
    return record;
  }

  // What the store will hold once the writer has committed what it was given.
  Result<BackendRecord> record_from_store(const std::string& experiment, const Backend& backend) {
    const Unacked* pending = nullptr;
    if (auto it = unacked.find(std::make_pair(experiment, backend.info->name)); it != unacked.end())
      pending = &it->second;
    BackendRecord record;
    if (pending && pending->record) {
      record = *pending->record;
    } else {
      auto known = store()->backend(experiment, backend.info->name);
      if (!known) return std::unexpected(std::move(known).error());
      if (*known) {
        record = std::move(**known);
      } else {
        record.experiment = experiment;
        record.backend = backend.info->name;
        record.vendor = backend.info->vendor;
      }
    }
    if (pending && pending->applied) {
      record.vendor = pending->applied->vendor;
      record.applied = pending->applied->applied;
      record.applied_at = pending->applied->applied_at;
      record.applied_run = pending->applied->applied_run;
    }
    return record;
  }

  // After a successful read: its hint, its snapshot and the vendor ids it was read from. An id
  // the read found different from the one the store had learnt is a conflict between the
  // config's binding and the store: the binding wins, and `notes` says so. The read may have
  // found the id through the binding rather than in it (the flag an Auth0 experiment runs on),
  // so the note says what the read found, never that the config gives it. A run or an
  // iteration is no binding: it moves on with the experiment's lifecycle.
  Status save_read(const std::string& experiment, const Backend& backend, const VendorState& state,
                   std::vector<std::string>& notes) {
    auto record = stored_record(experiment, backend);
    if (!record) return std::unexpected(std::move(record).error());
    record->vendor = backend.info->vendor;
    record->read_hint = state.hint;
    record->last_read = state_json(state.experiment, state.not_expressible);
    record->read_at = utc_timestamp();
    for (const auto& [name, id] : state.experiment.vendor_ids) {
      auto learnt = record->vendor_ids.find(name);
      if (learnt != record->vendor_ids.end() && learnt->second != id && name != "run" && name != "iteration")
        notes.push_back("vendor id " + name + ": read through the config's binding as " + quote_value(id) +
                        ", where the state store had learnt " + quote_value(learnt->second) + " (" +
                        store()->location() + "); the binding wins and the store now keeps " + quote_value(id));
      record->vendor_ids[name] = id;
    }
    queue_backend_record(std::move(*record));
    return {};
  }

  // The store's copy of a hint goes with a failed read too: every new process reads with it,
  // so a hinted resource now refused would fail all their reads. Best effort: the read has
  // failed already, and a store that cannot be written fails the next save_read anyway.
  void forget_stored_hint(const std::string& experiment, const Backend& backend) {
    auto record = stored_record(experiment, backend);
    if (!record || record->read_hint.empty()) return;
    record->read_hint.clear();
    queue_backend_record(std::move(*record));
  }

  Backend* find_backend(std::string_view name) {
    for (auto& b : backends)
      if (b.info->name == name) return &b;
    return nullptr;
  }

  // The shortest deadline_ms among the backends of `plan` (the backends an update goes to).
  std::chrono::milliseconds shortest_deadline(const Plan& plan) const {
    std::optional<std::chrono::milliseconds> shortest;
    for (const auto& b : plan.backends)
      for (const auto& info : bridge->backends())
        if (info.name == b.backend && (!shortest || info.send.deadline < *shortest)) shortest = info.send.deadline;
    return shortest.value_or(SendOptions{}.deadline);
  }

  /// This process's turn at `experiment`: updates and creates of one experiment go one after
  /// another. The experiment's lock is dropped once nobody holds or waits for it, so a run over
  /// many experiments holds only the locks of those under way.
  class ExperimentTurn {
   public:
    ExperimentTurn(Impl& impl, std::string experiment, apply::AsyncSemaphore::Permit permit)
        : impl_(&impl), experiment_(std::move(experiment)), permit_(std::move(permit)) {}
    ExperimentTurn(ExperimentTurn&& other) noexcept
        : impl_(std::exchange(other.impl_, nullptr)), experiment_(std::move(other.experiment_)),
          permit_(std::move(other.permit_)) {}
    ExperimentTurn& operator=(ExperimentTurn&&) = delete;
    ~ExperimentTurn() {
      if (!impl_) return;
      permit_.release();
      auto lock = impl_->experiment_locks.find(experiment_);
      if (lock != impl_->experiment_locks.end() && lock->second->idle()) impl_->experiment_locks.erase(lock);
    }

   private:
    Impl* impl_;
    std::string experiment_;
    apply::AsyncSemaphore::Permit permit_;
  };

  asio::awaitable<ExperimentTurn> experiment_turn(const std::string& experiment) {
    auto& lock = experiment_locks[experiment];
    if (!lock) lock = std::make_unique<apply::AsyncSemaphore>(io.get_executor(), 1);
    auto permit = co_await lock->scoped_acquire();
    co_return ExperimentTurn(*this, experiment, std::move(permit));
  }

  Error located(Error e, const Backend& backend, const PlannedRequest& request) const {
    e.backend = backend.info->name;
    e.vendor = backend.info->vendor;
    if (e.operation.empty()) e.operation = request.operation;
    return e;
  }

  // The part of a wait for a permit spent while the backend was paused for rate limits.
  static void count_rate_limit_wait(RequestReport& report, Clock::time_point queued, Clock::time_point paused_until) {
    const auto now = Clock::now();
    if (paused_until > queued)
      report.rate_limit_wait_ms += std::chrono::duration<double, std::milli>(std::min(now, paused_until) - queued).count();
  }

  // The deadline came while the request waited for its backend: paused for a rate limit, or full.
  Error deadline_in_pause(const Backend& backend, const RequestReport& report) const {
    const SendOptions& send = backend.info->send;
    const bool paused = backend.pacer->paused_until() > Clock::now();
    Error e = make_error(paused ? ErrorCode::rate_limited : ErrorCode::unavailable,
                         "deadline of " + std::to_string(send.deadline.count()) + " ms for this backend passed " +
                             (paused ? "while it was paused for the vendor's rate limit"
                                     : "while the request waited for one of the backend's requests in flight"));
    e.request_sent = report.sent;
    return e;
  }

  // One request, attempts and backoff included. Returns true when it succeeded.
  asio::awaitable<bool> send_request(Backend& backend, RequestReport& report, Clock::time_point deadline,
                                     http::Response* last_response = nullptr) {
    const SendOptions& send = backend.info->send;
    const HttpSpec& spec = backend.info->table->http();
    const apply::RetryOptions retry{send.attempts, send.retry_base, send.retry_cap};
    const PlannedRequest& planned = report.request;
    const std::string body = planned.body ? write_json(*planned.body) : std::string();
    const auto started = Clock::now();
    bool refreshed_credentials = false;
    auto log = logger();

    for (int attempt = 1;; ++attempt) {
      auto left = remaining(deadline);
      if (left <= std::chrono::milliseconds::zero()) {
        Error e = make_error(ErrorCode::unavailable, "deadline of " + std::to_string(send.deadline.count()) +
                                                         " ms for this backend passed before the request succeeded");
        e.request_sent = report.sent;
        report.error = located(std::move(e), backend, planned);
        break;
      }
      http::Request request;
      request.method = planned.method;
      request.url = planned.url;
      for (const auto& [name, value] : planned.headers) request.headers.push_back({name, value});
      request.body = body;
      request.timeout = std::min(send.timeout, left);
      // The table's word, not the method's: the client resends only what may go twice.
      request.idempotent = planned.idempotent;
      int writes = 0;
      request.write_count = &writes;

      // Given back before any backoff wait below, and on every other way out, a throw included.
      const auto queued = Clock::now();
      auto admitted = co_await backend.pacer->acquire(deadline);
      count_rate_limit_wait(report, queued, backend.pacer->paused_until());
      if (!admitted) {
        report.error = located(deadline_in_pause(backend, report), backend, planned);
        break;
      }
      auto permit = std::move(*admitted);
      Status authorized;
      try {
        authorized = co_await backend.auth->authorize(request);
      } catch (...) {
        // Not retried: a throwing authenticator is a bug, not a transient vendor state.
        Error e = exception_error("while authenticating the request", std::current_exception());
        e.request_sent = false;
        report.error = located(std::move(e), backend, planned);
        break;
      }
      if (!authorized) {
        permit.release();
        Error e = std::move(authorized).error();
        // A token endpoint that is down or throttling is transient, and the API request
        // itself was never sent: the same policy as a failed connection applies.
        if (e.code == ErrorCode::unavailable || e.code == ErrorCode::rate_limited) {
          e.request_sent = false;
          apply::AttemptOutcome outcome{nullptr, &e};
          auto decision = apply::decide_retry(spec, retry, attempt, planned.idempotent, outcome,
                                              std::chrono::system_clock::now(), random);
          if (decision.retry && decision.delay < remaining(deadline)) {
            log->info("backend {}: credentials: {}: {}", backend.info->name, e.message, decision.reason);
            asio::steady_timer timer(io, decision.delay);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
          }
        }
        report.error = located(std::move(e), backend, planned);
        break;
      }
      log->debug("backend {}: {} {} (attempt {})", backend.info->name, planned.method, planned.url, attempt);
      auto attempt_started = Clock::now();
      Result<http::Response> response;
      try {
        response = co_await client->send(std::move(request));
      } catch (...) {
        // `send` promises not to throw; an injected client may still. Whether the vendor got
        // the request is known only from the write count: say so, and never send it again.
        Error e = exception_error("in the HTTP client", std::current_exception());
        e.request_sent = writes > 0;
        report.attempts += writes;
        report.sent = report.sent || e.request_sent;
        if (e.request_sent && !planned.idempotent)
          e.message += "; the vendor may have applied it: read its state before sending again";
        report.error = located(std::move(e), backend, planned);
        break;
      }
      permit.release();
      // `attempts` counts what went on the wire: the client's transparent resend counts, a
      // connection that never opened does not. A client that does not count (a test
      // double) wrote once when it has an answer or says the request may have arrived.
      if (writes == 0 && (response || response.error().request_sent)) writes = 1;
      report.attempts += writes;  // a resend after a 401 refresh is counted too

      if (response) {
        report.sent = true;
        report.status = response->status;
        if (last_response) *last_response = *response;
        log->debug("backend {}: {} {} -> {} in {:.1f} ms", backend.info->name, planned.method, planned.url,
                   response->status, elapsed_ms(attempt_started));
        if (response->status >= 200 && response->status < 300) {
          const auto budget = apply::read_budget(spec, *response, std::chrono::system_clock::now());
          backend.pacer->succeeded(budget.remaining, budget.reset_in);
          report.error.reset();
          report.duration_ms = elapsed_ms(started);
          co_return true;
        }
        // A cached token can expire early (revoked, clock skew): fetch a fresh one, once.
        if (response->status == 401 && !refreshed_credentials && backend.auth->forget_credentials()) {
          refreshed_credentials = true;
          log->info("backend {}: 401, fetching fresh credentials and retrying once", backend.info->name);
          --attempt;
          continue;
        }
        // Refused unprocessed, so sent again even when not idempotent; the pause, not this
        // request's attempts, absorbs it, and the deadline bounds it.
        if (apply::is_throttled(spec, *response)) {
          ++report.throttled;
          if (backend.pacer->adaptive()) {
            auto pause = apply::throttle_wait(spec, retry, backend.pacer->throttle_streak() + 1, *response,
                                              std::chrono::system_clock::now(), random);
            backend.pacer->throttled(pause.delay, pause.vendor_signal);
            if (pause.delay >= remaining(deadline)) {
              Error e = apply::vendor_error(spec, *response);
              e.message += " (the backend pauses " + std::to_string(pause.delay.count()) +
                           " ms for the vendor's rate limit, past the " + std::to_string(send.deadline.count()) +
                           " ms deadline)";
              report.error = located(std::move(e), backend, planned);
              break;
            }
            log->info("backend {}: {} {}: {}", backend.info->name, planned.method, planned.url, pause.reason);
            --attempt;
            continue;
          }
          backend.pacer->throttled(std::chrono::milliseconds::zero(), false);  // counted only: fixed concurrency
        }
      } else {
        report.sent = report.sent || response.error().request_sent;
        log->debug("backend {}: {} {} failed: {}", backend.info->name, planned.method, planned.url,
                   response.error().message);
      }

      apply::AttemptOutcome outcome{response ? &*response : nullptr, response ? nullptr : &response.error()};
      auto decision =
          apply::decide_retry(spec, retry, attempt, planned.idempotent, outcome, std::chrono::system_clock::now(), random);
      // A wait that would end past the deadline is not worth starting: report what the vendor said.
      const bool past_deadline = decision.retry && decision.delay >= remaining(deadline);
      if (!decision.retry || past_deadline) {
        Error e = response ? apply::vendor_error(spec, *response) : response.error();
        if (attempt > 1) e.message += " (after " + std::to_string(attempt) + " attempts)";
        if (past_deadline)
          e.message += " (the next try, in " + std::to_string(decision.delay.count()) + " ms, would pass the " +
                       std::to_string(send.deadline.count()) + " ms deadline)";
        if (!response && e.request_sent && !planned.idempotent)
          e.message += "; the vendor may have applied it: read its state before sending again";
        report.error = located(std::move(e), backend, planned);
        break;
      }
      auto wait = decision.delay;
      log->info("backend {}: {} {}: {}", backend.info->name, planned.method, planned.url, decision.reason);
      if (wait > std::chrono::milliseconds::zero()) {
        asio::steady_timer timer(io, wait);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
    report.duration_ms = elapsed_ms(started);
    co_return false;
  }

  // The state reads of one backend, and what its adapter makes of the answers. Every
  // read ends by `read_deadline` (the HTTP timeout, the token fetch and the backoff are
  // all bounded by it), so the barrier after the reads never waits longer than that.
  asio::awaitable<void> read_backend(Backend& backend, const Update& update, std::vector<PlannedRequest> requests,
                                     Clock::time_point update_started, Clock::time_point read_deadline,
                                     std::chrono::milliseconds read_budget, std::optional<Experiment>& state,
                                     std::optional<Error>& failure) {
    if (backend.auth_error) {
      // No state can be read without credentials, so no plan is built for this backend.
      failure = requests.empty() ? *backend.auth_error : located(*backend.auth_error, backend, requests.front());
      co_return;
    }
    // An adapter that cannot use the answers may not say which read it was; with one read, it is that one.
    const std::string only_read = requests.size() == 1 ? requests.front().operation : std::string();
    std::vector<ReadResponse> responses;
    for (auto& request : requests) {
      RequestReport read{std::move(request), false, 0, 0, 0, 0, 0, {}};
      http::Response response;
      bool ok = co_await send_request(backend, read, read_deadline, &response);
      // A definite answer about the resource ("no such run yet") is state too; the adapter decides.
      const bool answered = read.status == 404 || read.status == 409;
      if (!ok && !answered) {
        Error e = read.error.value_or(located(make_error(ErrorCode::internal, "state read failed"), backend, read.request));
        // The budget ran out when the read stopped at the read deadline, or early because
        // the next try would not have fitted before it (send_request then says "deadline").
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - update_started);
        if (remaining(read_deadline) <= std::chrono::milliseconds(5) || e.message.find("deadline") != std::string::npos) {
          e.message = "reading the current state first: " + read.request.operation +
                      " did not answer within the read budget of " + std::to_string(read_budget.count()) + " ms (" +
                      std::to_string(waited.count()) +
                      " ms waited; the budget is half the shortest deadline_ms of this update's backends); nothing "
                      "was changed at this backend [" +
                      e.message + "]";
        } else {
          e.message = "reading the current state first: " + e.message;
        }
        failure = std::move(e);
        co_return;
      }
      responses.push_back(ReadResponse{read.status, std::move(response.body)});
    }
    bool threw = false;
    auto read_state = [&]() -> Result<Experiment> {
      try {
        return bridge->read_state(backend.info->name, update, responses);
      } catch (...) {
        threw = true;
        return std::unexpected(exception_error("while the adapter read the state answers", std::current_exception(),
                                               "nothing was changed at this backend"));
      }
    }();
    if (!read_state) {
      Error e = std::move(read_state).error();
      if (threw) e.message = "reading the current state first: " + e.message;
      if (e.operation.empty()) e.operation = only_read;
      failure = std::move(e);
      co_return;
    }
    state = std::move(*read_state);
  }

  // One request of a backend's part, `sequence` its index there, journalled when `journal` is
  // given. True when it succeeded; a refused or failed request has its error.
  asio::awaitable<bool> send_journalled(Backend& backend, RequestReport& request, int sequence,
                                        Clock::time_point deadline, InputJournal* journal, BackendReport& report,
                                        http::Response* last_response = nullptr) {
    bool ok = false;
    // A mutating request leaves only once its intent is durable: after a crash, the journal
    // says it may have arrived, and a resumed run reads the vendor before sending it again.
    std::optional<std::int64_t> intent_id;
    if (journal && request.request.method != "GET") {
      const PlannedRequest& planned = request.request;
      Intent intent;
      intent.run_id = journal->run_id;
      intent.input_position = journal->position;
      intent.input_digest = journal->digest;
      intent.experiment = journal->experiment;
      intent.backend = backend.info->name;
      intent.operation = planned.operation;
      intent.sequence = sequence;
      intent.request_digest = request_digest(planned, planned.body ? write_json(*planned.body) : std::string());
      intent.idempotent = planned.idempotent;
      auto recorded = co_await journal_intent(std::move(intent));
      if (!recorded) {
        Error e = std::move(recorded).error();
        e.message += "; not sent: no request leaves unless its intent is journalled";
        e.request_sent = false;
        request.error = located(std::move(e), backend, planned);
        co_return false;
      }
      intent_id = *recorded;
    }
    try {
      ok = co_await send_request(backend, request, deadline, last_response);
    } catch (...) {
      // send_request contains the authenticator's and the client's throws itself; only a bug
      // or resource exhaustion gets here. Keep it to this backend.
      request.error = located(exception_error("while sending", std::current_exception()), backend, request.request);
    }
    // Sent, and no answer came (a connection lost after sending, a deadline): whether the vendor
    // applied it is unknown, so the intent stays pending and a resumed run's read settles it.
    // `failed` is for what the vendor refused, or what cannot have reached it.
    const bool unknown = !ok && request.error && request.error->request_sent && request.error->http_status == 0;
    if (intent_id && !unknown) {
      // Written with the next commit (this backend's next intent, or the update's end): were
      // it lost, the intent would stay pending, and a resumed run reads before it decides.
      const IntentOutcome outcome = ok ? IntentOutcome::succeeded : IntentOutcome::failed;
      queued_writes.outcomes.push_back(OutcomeRecord{*intent_id, outcome, request.status,
                                                     ok || !request.error ? std::string() : request.error->message});
    }
    if (intent_id && request.sent) report.journal.push_back(JournalEntry{request.request.operation, "sent now"});
    co_return ok;
  }

  asio::awaitable<void> run_backend(Backend& backend, BackendPlan plan, BackendReport& report,
                                    Clock::time_point update_started, InputJournal* journal) {
    const auto started = Clock::now();
    // From the update's start: the time spent waiting for state reads counts against it.
    const auto deadline = update_started + backend.info->send.deadline;
    report.backend = plan.backend;
    report.vendor = plan.vendor;
    report.skipped = std::move(plan.skipped);
    report.notes = std::move(plan.notes);
    for (auto& request : plan.requests) report.requests.push_back(RequestReport{std::move(request), false, 0, 0, 0, 0, 0, {}});
    if (report.requests.empty()) {
      // Nothing to send: what it can hold is already as asked (found by converging, or by the
      // adapter on its read: a field carried without a request), or it can hold none of it.
      report.result = report.unchanged.empty() && plan.carried.empty() ? BackendOutcome::skipped
                                                                         : BackendOutcome::unchanged;
      co_return;
    }
    if (backend.auth_error) {
      // Named after the first request, the one that could not be sent: nothing was.
      report.result = BackendOutcome::failed;
      report.error = located(*backend.auth_error, backend, report.requests.front().request);
      co_return;
    }
    report.result = BackendOutcome::ok;
    int sequence = 0;
    for (auto& request : report.requests) {
      if (!co_await send_journalled(backend, request, sequence++, deadline, journal, report)) {
        report.result = BackendOutcome::failed;
        report.error = request.error;
        break;
      }
    }
    report.duration_ms = elapsed_ms(started);
  }

  // A backend's report when its task ended by an exception that nothing inside caught.
  static void fail_backend(BackendReport& report, const BackendInfo& info, std::string_view stage,
                           const std::exception_ptr& thrown) {
    Error e = exception_error(stage, thrown);
    e.backend = info.name;
    e.vendor = info.vendor;
    report.backend = info.name;
    report.vendor = info.vendor;
    report.result = BackendOutcome::failed;
    report.error = std::move(e);
  }

  // One backend's state read, as the update's barrier sees it.
  struct StateRead {
    Backend* backend = nullptr;
    std::optional<Experiment> state;
    std::optional<Error> failure;
  };

  // `narrowed`: the backends a job's step goes to (nullptr: those of `options.plan`).
  asio::awaitable<void> run_update(std::string source, Result<Update> update, UpdateReport& report,
                                   std::int64_t position = 0, std::string digest = {},
                                   const PlanOptions* narrowed = nullptr) {
    Running running(updates_running);
    const auto started = Clock::now();
    report.source = std::move(source);
    std::optional<InputJournal> journal;
    if (store()) {
      // Recorded before any change is sent, invalid inputs included: a resumed run compares
      // every position with what it meets there.
      InputRecord input;
      input.position = position;
      input.source = report.source;
      input.digest = digest.empty() ? store_digest(report.source) : digest;
      if (update) input.experiment = update->experiment;
      Status recorded = ensure_run();
      const InputRecord* resumed = nullptr;
      if (recorded && options.resume) {
        recorded = load_resumed_run();
        if (auto it = recorded_inputs.find(position); recorded && it != recorded_inputs.end()) resumed = &it->second;
      }
      if (resumed && resumed->digest != input.digest) {
        Error e = make_error(ErrorCode::invalid_input,
                             "input " + std::to_string(position + 1) + " (" + report.source +
                                 ") is not the one the resumed run " + run_id + " recorded there (" + resumed->source +
                                 "): its bytes differ; --resume continues exactly the same inputs; nothing was sent");
        e.file = report.source;
        report.error = std::move(e);
        if (update) report.experiment = update->experiment;
        input_mismatch = true;
        co_return;
      }
      if (resumed && resumed->done) {
        report_done_earlier(*resumed, report);
        co_return;
      }
      if (recorded && !resumed) {
        // Committed with the input's first intents (no request leaves before it is), or at the
        // update's end: a crash before either sent nothing of it, and a resumed run takes it new.
        input.run_id = run_id;
        queued_writes.inputs.push_back(input);
      }
      if (!recorded) {
        Error e = std::move(recorded).error();
        e.message += "; nothing was sent";
        report.error = std::move(e);
        if (update) report.experiment = update->experiment;
        leave_unsettled(report, input.experiment);
        co_return;
      }
      journal = InputJournal{run_id, position, input.digest, input.experiment, true, {}};
      if (resumed) journal->earlier = recorded_intents[position];
    }
    if (!update) {
      report.error = std::move(update).error();
      // A refused input is settled: resuming would refuse it again.
      if (journal) {
        queued_writes.inputs_done.push_back(InputDone{journal->run_id, journal->position});
        (void)write_queued();  // logged there; resuming would refuse it again anyway
      }
      co_return;
    }
    report.experiment = update->experiment;
    // Held until this update is over, on every path out of it (a throw included): the next
    // update of this experiment starts only then.
    auto experiment_turn_held = co_await experiment_turn(update->experiment);
    if (journal && unsettled_experiments.contains(update->experiment)) {
      report.error = make_error(ErrorCode::unavailable,
                                "held back: an earlier input of experiment " + update->experiment +
                                    " in this run is unsettled; `expbridge apply --resume` applies them in input order");
      leave_unsettled(report, update->experiment);
      co_return;
    }
    // Another process applying this experiment through the same store goes first or after,
    // never interleaved. Waited for on a timer, so that other experiments' updates go on.
    std::shared_ptr<HeldExperiment> store_lock;
    if (journal) {
      auto locked = co_await hold_store_lock(update->experiment);
      if (!locked) {
        Error e = std::move(locked).error();
        e.message += "; nothing was sent";
        report.error = std::move(e);
        leave_unsettled(report, update->experiment);
        co_return;
      }
      store_lock = std::move(*locked);
    }
    std::map<std::string, Experiment, std::less<>> held;
    co_await run_locked_update(*update, narrowed ? *narrowed : options.plan, report, started,
                               journal ? &*journal : nullptr, held);
    if (!journal) co_return;
    if (options.resume) reconcile_earlier(*journal, report);
    record_applied(*update, report, held);
    // An update refused before sending (its plan, a vendor rule) is settled: resuming would
    // refuse it again. One a backend failed is not: resuming applies it again.
    const bool settled = report.ok() || report.error.has_value();
    const bool marked = journal->complete && settled;
    if (marked) queued_writes.inputs_done.push_back(InputDone{journal->run_id, journal->position});
    else leave_unsettled(report, update->experiment);
    // Committed before the experiment's lock is let go: the next process to apply it reads what
    // this one learnt. Not waited for here: this process's next update of it goes on, its
    // commit after this one.
    write_queued_behind(std::move(store_lock), update->experiment);
  }

  /// The store's lock of `experiment`, polled with a backoff up to the store's busy_timeout:
  /// a wait for another process never blocks this loop.
  asio::awaitable<Result<Store::ExperimentLock>> lock_experiment_in_store(const std::string& experiment) {
    const auto timeout = store()->busy_timeout();
    const auto give_up = Clock::now() + timeout;
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
      auto locked = store()->try_lock_experiment(experiment);
      if (!locked) co_return std::unexpected(std::move(locked).error());
      if (*locked) co_return std::move(**locked);
      const auto now = Clock::now();
      if (now >= give_up)
        co_return std::unexpected(make_error(ErrorCode::unavailable,
                                             "state store " + store()->location() + ": lock_experiment: experiment " +
                                                 experiment + " is locked by another process (waited " +
                                                 std::to_string(timeout.count()) + " ms)"));
      asio::steady_timer timer(io, std::min<Clock::duration>(pause, give_up - now));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
  }

  // A history entry of what `b` sent (or tried to) for `experiment`, fields and outcome to fill.
  HistoryEntry history_entry(const std::string& experiment, const BackendReport& b, std::string at) const {
    HistoryEntry entry;
    entry.at = std::move(at);
    entry.run_id = run_id;
    entry.experiment = experiment;
    entry.backend = b.backend;
    for (const auto& r : b.requests) {
      if (!r.sent && !r.error) continue;
      if (!entry.operation.empty()) entry.operation += ", ";
      entry.operation += r.request.operation;
    }
    return entry;
  }

  // Per backend, what the update did: the state it applied, and a history entry.
  void record_applied(const Update& update, const UpdateReport& report,
                      const std::map<std::string, Experiment, std::less<>>& held_before) {
    const std::vector<std::string> fields = carried_fields(update);
    const std::string now = utc_timestamp();
    for (const BackendReport& b : report.backends) {
      const Backend* backend = find_backend(b.backend);
      if (!backend) continue;
      HistoryEntry entry = history_entry(update.experiment, b, now);
      for (const auto& f : fields) {
        const bool unchanged = std::find(b.unchanged.begin(), b.unchanged.end(), f) != b.unchanged.end();
        const bool skipped = std::any_of(b.skipped.begin(), b.skipped.end(), [&](const Skip& s) { return s.field == f; });
        if (!unchanged && !skipped) entry.fields.push_back(f);
      }
      const bool failed = b.result == BackendOutcome::failed || b.error;
      entry.outcome = failed ? "failed: " + (b.error ? b.error->message : std::string("a request failed"))
                             : std::string(to_string(b.result));
      queued_writes.history.push_back(std::move(entry));
      if (failed || b.result == BackendOutcome::skipped) continue;
      const auto before = held_before.find(b.backend);
      AppliedState state{update.experiment, b.backend, backend->info->vendor,
                         state_json(applied_state(before == held_before.end() ? nullptr : &before->second, update)),
                         now, run_id};
      // Only what it applied: the record's read columns stay as a read left them (the queued
      // read of this update, written first, or the store's) without reading them back. With
      // the read queued, both are one row.
      queue_applied(std::move(state));
    }
  }

  // The update once it holds its experiment's locks: read, converge, plan, send. `held`: what
  // each backend read whole held before.
  asio::awaitable<void> run_locked_update(const Update& in, const PlanOptions& planning, UpdateReport& report,
                                          Clock::time_point started,
                                          InputJournal* journal, std::map<std::string, Experiment, std::less<>>& read_before) {
    const Update* update = &in;
    // Each backend's deadline_ms counts from here (after the wait for an earlier update of
    // the same experiment, which is that update's time, not this one's).
    const auto update_started = Clock::now();
    // Rules that depend on the vendor's state (AppConfig exposure may only rise, Auth0
    // allocations are frozen while active) need a read first: GETs only, all backends at once.
    // First without state: an update that is invalid whatever the vendors hold sends nothing, not even a read.
    // An adapter that throws while planning refuses the whole update, like a rule it breaks:
    // the plan is all-or-nothing, and nothing has been sent yet.
    auto stateless =
        without_exceptions("while planning", "nothing was sent", [&] { return bridge->plan(*update, planning); });
    if (!stateless && options.read_first && stateless.error().code == ErrorCode::invalid_input) {
      // What a plan without state refuses may be what only a read can settle (the current
      // AppConfig run, LaunchDarkly's flag variations): the backends are read, and every plan
      // built with a read checks the update again, so a real violation still refuses it.
      Plan bound;
      for (const auto& name : bridge->bound_backends(update->experiment)) {
        if (!planning.backends.empty() &&
            std::find(planning.backends.begin(), planning.backends.end(), name) == planning.backends.end())
          continue;
        for (const auto& info : bridge->backends())
          if (info.name == name) {
            BackendPlan part;
            part.backend = name;
            part.vendor = info.vendor;
            bound.backends.push_back(std::move(part));
          }
      }
      if (!bound.backends.empty()) stateless = std::move(bound);
    }
    if (!stateless) {
      report.error = std::move(stateless).error();
      co_return;
    }
    // The read budget: every backend must keep at least half of its own deadline for its
    // writes, so the reads (and the barrier after them) get half the shortest deadline
    // among the backends this update goes to. A read that does not answer in time fails
    // its backend alone; the others are planned with what did answer and go on.
    const auto read_budget = shortest_deadline(*stateless) / 2;
    const auto read_deadline = update_started + read_budget;
    // Converging: each backend whose adapter reads is read whole first, all at once, and is
    // sent only what differs from what it holds (a second identical apply sends nothing).
    std::vector<std::optional<BackendRead>> whole(stateless->backends.size());
    if (options.read_first) {
      apply::WaitGroup all_read(io.get_executor());
      for (std::size_t i = 0; i < stateless->backends.size(); ++i) {
        Backend* backend = find_backend(stateless->backends[i].backend);
        if (!backend || !backend->info->send.read_state) continue;
        BackendRead& slot = whole[i].emplace();
        all_read.add();
        asio::co_spawn(io, read_one(*backend, update->experiment, slot, read_deadline),
                       [&slot, &all_read, info = backend->info](std::exception_ptr thrown) {
                         DoneOnExit done{all_read};
                         if (!thrown) return;
                         slot.state.reset();  // a read that threw gives no state to trust
                         slot.error = exception_error("while reading the current state first", thrown,
                                                      "nothing was changed at this backend");
                         slot.error->backend = info->name;
                         slot.error->vendor = info->vendor;
                       });
      }
      co_await all_read.wait();
      for (auto& slot : whole) {
        // An adapter without reads keeps the rule-specific state reads below.
        if (slot && !slot->state && slot->error && slot->error->code == ErrorCode::unsupported &&
            slot->requests.empty())
          slot.reset();
        else if (slot && slot->error &&
                 (remaining(read_deadline) <= std::chrono::milliseconds(5) ||
                  slot->error->message.find("deadline") != std::string::npos))
          // Stopped by the read budget (a token fetch that hung included): said as the
          // rule-specific reads below say it, so one message means one thing.
          slot->error->message = "reading the current state first: " +
                                 (slot->error->operation.empty() ? std::string("the read") : slot->error->operation) +
                                 " did not answer within the read budget of " + std::to_string(read_budget.count()) +
                                 " ms (" + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                              Clock::now() - update_started).count()) +
                                 " ms waited; the budget is half the shortest deadline_ms of this update's "
                                 "backends); nothing was changed at this backend [" + slot->error->message + "]";
      }
    }
    auto fully_read = [&](std::string_view name) -> const BackendRead* {
      for (std::size_t i = 0; i < whole.size(); ++i)
        if (whole[i] && stateless->backends[i].backend == name) return &*whole[i];
      return nullptr;
    };
    auto reads = without_exceptions("while listing the state reads", "nothing was sent",
                                    [&] { return bridge->state_reads(*update, planning); });
    if (!reads) {
      report.error = std::move(reads).error();
      co_return;
    }
    std::erase_if(*reads, [&](const Bridge::StateReads& r) { return fully_read(r.backend) != nullptr; });
    // Addresses stay put from here on: the plan options point into it.
    std::vector<StateRead> state_reads(reads->size());
    PlanOptions plan_options = planning;
    if (!reads->empty()) {
      apply::WaitGroup all_read(io.get_executor());
      for (std::size_t i = 0; i < reads->size(); ++i) {
        StateRead& slot = state_reads[i];
        slot.backend = find_backend((*reads)[i].backend);
        if (!slot.backend) {
          // The bridge listed a backend the applier was not built with: a bug, refused loudly.
          report.error = make_error(ErrorCode::internal, "no backend '" + (*reads)[i].backend + "' to read state from");
          co_return;
        }
        all_read.add();
        asio::co_spawn(io,
                       read_backend(*slot.backend, *update, std::move((*reads)[i].requests), update_started,
                                    read_deadline, read_budget, slot.state, slot.failure),
                       [&slot, &all_read](std::exception_ptr thrown) {
                         DoneOnExit done{all_read};
                         if (!thrown) return;
                         // A read that threw gives no state to trust, whatever it stored.
                         slot.state.reset();
                         slot.failure = exception_error("while reading the current state first", thrown,
                                                        "nothing was changed at this backend");
                       });
      }
      co_await all_read.wait();
      for (auto& slot : state_reads) {
        if (slot.failure) {
          slot.failure->backend = slot.backend->info->name;
          slot.failure->vendor = slot.backend->info->vendor;
        } else if (slot.state) {
          plan_options.current.emplace_back(slot.backend->info->name, &*slot.state);
        } else {
          // read_backend ends with a state or a failure; neither means a bug there. The
          // backend's rules would go unchecked, so it fails rather than being planned blind.
          slot.failure = make_error(ErrorCode::internal, "reading the current state first gave neither a state nor an error");
          slot.failure->backend = slot.backend->info->name;
          slot.failure->vendor = slot.backend->info->vendor;
        }
      }
    }
    auto read_failure = [&](std::string_view backend) -> const Error* {
      if (const BackendRead* w = fully_read(backend); w && w->error) return &*w->error;
      for (const auto& slot : state_reads)
        if (slot.failure && slot.backend->info->name == backend) return &*slot.failure;
      return nullptr;
    };
    // Every backend's plan is built and checked before the first change leaves. A backend
    // whose state could not be read is not planned at all: its state-dependent rules would
    // go unchecked, so it fails with the read's error instead.
    // A backend read whole gets the difference between the update and what it holds; an
    // action its state forbids refuses the whole update, before anything is sent anywhere.
    struct Converged {
      std::vector<std::string> unchanged;
      std::optional<BackendPlan> plan;  ///< none: nothing left to send
    };
    std::map<std::string, Converged, std::less<>> converged;
    for (std::size_t i = 0; i < whole.size(); ++i) {
      if (!whole[i] || !whole[i]->state) continue;
      const std::string& name = stateless->backends[i].backend;
      read_before.insert_or_assign(name, whole[i]->state->experiment);
      const VendorState& held = *whole[i]->state;
      auto difference = without_exceptions("while comparing with the current state", "nothing was sent",
                                           [&] { return converge(*update, held.experiment, held.not_expressible); });
      if (!difference) {
        Error e = std::move(difference).error();
        e.backend = name;
        e.vendor = stateless->backends[i].vendor;
        e.message = "the experiment is " + std::string(to_string(held.experiment.status.value_or(ExperimentStatus::draft))) +
                    " at this backend: " + e.message + "; nothing was sent to any backend";
        report.error = std::move(e);
        co_return;
      }
      Converged& entry = converged[name];
      entry.unchanged = difference->unchanged;
      if (difference->nothing_to_send()) continue;
      PlanOptions one = planning;
      one.backends = {name};
      one.current.clear();
      one.reads = {{name, &held}};
      auto planned = without_exceptions("while planning with the current state", "nothing was sent",
                                        [&] { return bridge->plan(difference->remaining, one); });
      if (!planned) {
        report.error = std::move(planned).error();
        co_return;
      }
      // What the backend cannot hold of the variations (a value or description its plan skips,
      // weights its read does not hold) is no difference: compared without it, an update
      // applied twice sends nothing, and the variations are planned again only if still needed.
      if (difference->remaining.variations && planned->backends.size() == 1) {
        std::vector<std::string> unheld = held.not_expressible;
        for (const auto& skip : planned->backends.front().skipped) unheld.push_back(skip.field);
        auto closer = without_exceptions("while comparing with the current state", "nothing was sent",
                                         [&] { return converge(*update, held.experiment, unheld); });
        if (closer && closer->unchanged.size() > difference->unchanged.size()) {
          entry.unchanged = closer->unchanged;
          if (closer->nothing_to_send()) continue;
          planned = without_exceptions("while planning with the current state", "nothing was sent",
                                       [&] { return bridge->plan(closer->remaining, one); });
          if (!planned) {
            report.error = std::move(planned).error();
            co_return;
          }
        }
      }
      if (planned->backends.size() != 1) {
        report.error = make_error(ErrorCode::internal, "the plan with the current state has no part for " + name);
        co_return;
      }
      entry.plan = std::move(planned->backends.front());
    }
    std::vector<std::string> planned_backends;
    for (const auto& b : stateless->backends)
      if (!read_failure(b.backend) && !converged.contains(b.backend)) planned_backends.push_back(b.backend);
    Plan plan;
    if (!planned_backends.empty()) {
      plan_options.backends = planned_backends;
      auto with_state = without_exceptions("while planning with the current state", "nothing was sent",
                                           [&] { return bridge->plan(*update, plan_options); });
      if (!with_state) {
        report.error = std::move(with_state).error();
        co_return;
      }
      plan = std::move(*with_state);
    }
    report.backends.resize(stateless->backends.size());
    apply::WaitGroup all(io.get_executor());
    for (std::size_t i = 0; i < stateless->backends.size(); ++i) {
      BackendReport& out = report.backends[i];
      out.backend = stateless->backends[i].backend;
      out.vendor = stateless->backends[i].vendor;
      Backend* backend = find_backend(out.backend);
      if (const Error* failed = read_failure(out.backend)) {
        out.result = BackendOutcome::failed;
        out.error = *failed;
        continue;
      }
      if (auto c = converged.find(out.backend); c != converged.end()) {
        out.unchanged = c->second.unchanged;
        if (!c->second.plan || !backend) {
          out.result = backend ? BackendOutcome::unchanged : BackendOutcome::failed;
          continue;
        }
        plan.backends.push_back(std::move(*c->second.plan));
      }
      auto planned = std::find_if(plan.backends.begin(), plan.backends.end(),
                                  [&](const BackendPlan& b) { return b.backend == out.backend; });
      if (!backend || planned == plan.backends.end()) {
        out.result = BackendOutcome::failed;
        out.error = make_error(ErrorCode::internal, "the plan with the current state has no part for this backend");
        out.error->backend = out.backend;
        out.error->vendor = out.vendor;
        continue;
      }
      all.add();
      asio::co_spawn(io, run_backend(*backend, std::move(*planned), out, update_started, journal),
                     [&out, &all, info = backend->info](std::exception_ptr thrown) {
                       DoneOnExit done{all};
                       if (thrown) fail_backend(out, *info, "while sending", thrown);
                     });
    }
    co_await all.wait();
    for (std::size_t i = 0; i < whole.size(); ++i)
      if (whole[i])
        report.backends[i].notes.insert(report.backends[i].notes.end(), whole[i]->notes.begin(), whole[i]->notes.end());
    report.duration_ms = elapsed_ms(started);
  }

  // The store's record of `experiment` at `backend` with `update` applied to its vendor ids,
  // queued for the next commit (the next intent's, or the create's end).
  Status queue_created_ids(const std::string& experiment, const Backend& backend,
                           const std::function<void(std::map<std::string, std::string>&)>& update) {
    auto record = stored_record(experiment, backend);
    if (!record) return std::unexpected(std::move(record).error());
    record->vendor = backend.info->vendor;
    update(record->vendor_ids);
    queue_backend_record(std::move(*record));
    return {};
  }

  // One create (`Applier::create_experiment`): the adapter's steps, each step's requests sent in
  // order, one after another (a creating request's answer carries the ids the next one needs).
  asio::awaitable<void> run_create(Backend& backend, const CreateSpec& spec, CreateRun how, CreateReport& report) {
    Running running(updates_running);
    const auto started = Clock::now();
    const auto deadline = started + backend.info->send.deadline;
    BackendReport& out = report.backend;
    out.backend = backend.info->name;
    out.vendor = backend.info->vendor;
    report.experiment = spec.experiment;
    auto fail = [&](Error e) {
      if (e.backend.empty()) e.backend = out.backend;
      if (e.vendor.empty()) e.vendor = out.vendor;
      out.result = BackendOutcome::failed;
      out.error = std::move(e);
    };
    auto experiment_turn_held = co_await experiment_turn(spec.experiment);
    std::optional<InputJournal> journal;
    std::shared_ptr<HeldExperiment> store_lock;
    if (store() && how.send) {
      const std::string source = how.source.empty() ? spec.experiment : how.source;
      const std::string digest =
          store_digest(source + "\n" + (spec.desired ? write_json(state_json(*spec.desired)) : std::string()));
      Status recorded = ensure_run();
      if (recorded) {
        auto locked = co_await hold_store_lock(spec.experiment);
        if (locked) store_lock = std::move(*locked);
        else recorded = std::unexpected(std::move(locked).error());
      }
      if (!recorded) {
        Error e = std::move(recorded).error();
        e.message += "; nothing was sent";
        fail(std::move(e));
        report.unsettled = true;
        co_return;
      }
      const std::int64_t position = next_position++;
      queued_writes.inputs.push_back(InputRecord{run_id, position, source, digest, spec.experiment, false});
      journal = InputJournal{run_id, position, digest, spec.experiment, true, {}};
    }
    const Adapter& adapter = *backend.info->adapter;
    std::vector<ReadResponse> answers;
    int sequence = 0;
    bool marked_pending = false;
    for (int step = 0; !out.error && !report.binding; ++step) {
      if (step == kMaxReadSteps) {
        fail(make_error(ErrorCode::internal,
                        "the adapter's create did not end within " + std::to_string(kMaxReadSteps) + " steps"));
        break;
      }
      auto next = without_exceptions("while the adapter created the experiment", "",
                                     [&] { return adapter.create(spec, answers); });
      if (!next) {
        fail(std::move(next).error());
        break;
      }
      if (step == 0) report.carriage = std::move(next->carriage);
      if (next->binding) {
        report.binding = std::move(next->binding);
        break;
      }
      const bool creating = std::any_of(next->requests.begin(), next->requests.end(),
                                        [](const PlannedRequest& r) { return r.method != "GET"; });
      if (creating && !how.send) {
        for (auto& request : next->requests) out.requests.push_back(unsent_request(std::move(request)));
        report.then = std::move(next->then);
        break;
      }
      if (backend.auth_error) {
        fail(located(*backend.auth_error, backend, next->requests.front()));
        break;
      }
      if (creating && journal && !marked_pending) {
        // Committed with the first creating intent: if its answer never comes, the mark stays.
        Status queued = queue_created_ids(spec.experiment, backend,
                                          [&](auto& ids) { ids[std::string(kCreatePendingId)] = run_id; });
        if (!queued) {
          Error e = std::move(queued).error();
          e.message += "; nothing was created";
          fail(std::move(e));
          break;
        }
        marked_pending = true;
      }
      for (auto& request : next->requests) {
        out.requests.push_back(unsent_request(std::move(request)));
        RequestReport& sent = out.requests.back();
        http::Response response;
        const bool ok =
            co_await send_journalled(backend, sent, sequence++, deadline, journal ? &*journal : nullptr, out, &response);
        // A 404 to a GET is an answer: the adapter names what is missing.
        if (!ok && !(sent.request.method == "GET" && sent.status == 404)) {
          fail(sent.error.value_or(located(make_error(ErrorCode::internal, "the request failed without an error"),
                                           backend, sent.request)));
          break;
        }
        answers.push_back(ReadResponse{sent.status, secrets::scrub(response.body)});
      }
    }
    // A plan sent no creating request: what it shows was not sent.
    if (!out.error) out.result = out.requests.empty() || !how.send ? BackendOutcome::skipped : BackendOutcome::ok;
    out.duration_ms = elapsed_ms(started);
    if (!journal) co_return;
    // What the vendor definitely refused clears the mark; an answer that never came keeps it.
    const bool unanswered = std::any_of(out.requests.begin(), out.requests.end(), [](const RequestReport& r) {
      return r.request.method != "GET" && r.error && r.error->request_sent && r.error->http_status == 0;
    });
    if (report.binding || (marked_pending && !unanswered)) {
      const std::string binding_text = report.binding ? write_json(*report.binding) : std::string();
      (void)queue_created_ids(spec.experiment, backend, [&](auto& ids) {
        ids.erase(std::string(kCreatePendingId));
        if (!binding_text.empty()) ids[std::string(kCreatedBindingId)] = binding_text;
      });
    }
    HistoryEntry entry = history_entry(spec.experiment, out, utc_timestamp());
    for (const auto& c : report.carriage)
      if (c.carriage != Carriage::lost) entry.fields.push_back(c.field);
    entry.outcome = out.error ? "failed: " + out.error->message : std::string("ok");
    queued_writes.history.push_back(std::move(entry));
    if (report.binding && spec.desired)
      queue_applied(
          AppliedState{spec.experiment, out.backend, out.vendor, state_json(*spec.desired), utc_timestamp(), run_id});
    const bool marked = !out.error && journal->complete;
    if (marked) queued_writes.inputs_done.push_back(InputDone{journal->run_id, journal->position});
    const bool written = write_queued().has_value();
    if (!(marked && written)) {
      report.unsettled = true;
      ++unsettled_inputs;
      unsettled_experiments.insert(spec.experiment);
    }
  }

  asio::awaitable<void> send_read(Backend& backend, RequestReport& report, Clock::time_point deadline,
                                  http::Response& response, char& delivered) {
    delivered = co_await send_request(backend, report, deadline, &response) ? 1 : 0;
  }

  // One backend's read of `experiment`, step by step as its adapter asks, within the
  // backend's deadline_ms. A vendor's 404 goes to the adapter, which names what is missing.
  asio::awaitable<void> read_one(Backend& backend, const std::string& experiment, BackendRead& out,
                                 std::optional<Clock::time_point> until = std::nullopt) {
    const auto started = Clock::now();
    const auto deadline = until.value_or(started + backend.info->send.deadline);
    out.backend = backend.info->name;
    out.vendor = backend.info->vendor;
    if (backend.auth_error) {
      out.error = backend.auth_error;
      co_return;
    }
    // A copy, taken once: every step of this read must see the same hint, whatever a read
    // of the same experiment running alongside stores meanwhile.
    std::optional<ReadHint> hint;
    const auto hint_key = std::make_pair(backend.info->name, experiment);
    if (auto known = read_hints.find(hint_key); known != read_hints.end()) {
      // Known to have none (a vendor whose read needs no hint) is known too: no store read.
      if (!known->second.empty()) hint = known->second;
    } else if (store()) {
      // A new process has no hint in memory: the store's, from the last read of any process,
      // saves it the dependent round trip just the same.
      auto record = store()->backend(experiment, backend.info->name);
      if (!record) {
        out.error = std::move(record).error();
        out.error->backend = out.backend;
        out.error->vendor = out.vendor;
        co_return;
      }
      if (*record && !(*record)->read_hint.empty()) hint = (*record)->read_hint;
    }
    std::vector<ReadResponse> answers;
    for (int step = 0; !out.state && !out.error; ++step) {
      if (step == kMaxReadSteps) {
        out.error = make_error(ErrorCode::internal, "the adapter's read did not end within " +
                                                        std::to_string(kMaxReadSteps) + " steps");
        break;
      }
      auto next = without_exceptions("while the adapter read the vendor's answers", "", [&] {
        return bridge->read_step(backend.info->name, experiment, answers, hint ? &*hint : nullptr);
      });
      if (!next) {
        out.error = std::move(next).error();
        break;
      }
      if (next->state) {
        out.state = std::move(next->state);
        break;
      }
      // A step's GETs do not depend on one another (the adapter asks for the next step once
      // it has their answers): they go out at once, and their answers come back in order.
      ++out.round_trips;
      const std::size_t first = out.requests.size();
      for (auto& request : next->requests) out.requests.push_back(RequestReport{std::move(request), false, 0, 0, 0, 0, 0, {}});
      const std::size_t count = out.requests.size() - first;
      std::vector<http::Response> responses(count);
      std::vector<char> delivered(count, 0);
      std::vector<std::exception_ptr> thrown(count);
      apply::WaitGroup step_done(io.get_executor());
      for (std::size_t k = 0; k < count; ++k) {
        step_done.add();
        asio::co_spawn(io, send_read(backend, out.requests[first + k], deadline, responses[k], delivered[k]),
                       [&step_done, &thrown, k](std::exception_ptr e) {
                         DoneOnExit done{step_done};
                         thrown[k] = e;
                       });
      }
      co_await step_done.wait();
      for (std::size_t k = 0; k < count; ++k) {
        if (thrown[k]) std::rethrow_exception(thrown[k]);
        const RequestReport& sent = out.requests[first + k];
        if (!delivered[k] && sent.status != 404) {
          out.error = sent.error.value_or(make_error(ErrorCode::internal, "read failed without an error"));
          break;
        }
        // Read answers become state that get, diff and reports print: a vendor that echoes
        // our credentials into a field is masked here, where its text enters.
        answers.push_back(ReadResponse{sent.status, secrets::scrub(responses[k].body)});
      }
    }
    if (out.error) {
      if (out.error->backend.empty()) out.error->backend = out.backend;
      if (out.error->vendor.empty()) out.error->vendor = out.vendor;
    }
    // A failed read drops the hint: were the hint the cause (a hinted resource now refused),
    // keeping it would fail every later read the same way.
    if (out.state)
      read_hints.insert_or_assign(hint_key, out.state->hint);
    else
      read_hints.erase(hint_key);
    if (!out.state && hint && store()) forget_stored_hint(experiment, backend);
    if (out.state && store()) {
      // What it read is what the next plan trusts: kept with the next commit (so a store that
      // cannot keep it fails the first intent, and nothing is sent), or at the update's end.
      if (Status saved = save_read(experiment, backend, *out.state, out.notes); !saved) {
        out.state.reset();
        out.error = std::move(saved).error();
        out.error->backend = out.backend;
        out.error->vendor = out.vendor;
      }
    }
    out.duration_ms = elapsed_ms(started);
  }

  asio::awaitable<void> read_all(const std::string& experiment, ReadReport& report, const PlanOptions& planning) {
    std::vector<std::string> names = bridge->bound_backends(experiment);
    if (names.empty()) {
      report.error = make_error(ErrorCode::not_found, "experiment " + quote_value(experiment) +
                                                          " is not in " + bridge->source());
      co_return;
    }
    const auto& only = planning.backends;
    for (const auto& wanted : only)
      if (std::find(names.begin(), names.end(), wanted) == names.end()) {
        report.error = make_error(ErrorCode::invalid_input, "backend " + quote_value(wanted) + " is not bound to " +
                                                                quote_value(experiment) + " in " + bridge->source());
        co_return;
      }
    if (!only.empty())
      std::erase_if(names, [&](const std::string& n) { return std::find(only.begin(), only.end(), n) == only.end(); });
    report.backends.resize(names.size());
    apply::WaitGroup all(io.get_executor());
    for (std::size_t i = 0; i < names.size(); ++i) {
      BackendRead& out = report.backends[i];
      Backend* backend = find_backend(names[i]);
      if (!backend) {
        out.backend = names[i];
        out.error = make_error(ErrorCode::internal, "no backend to read from");
        continue;
      }
      all.add();
      asio::co_spawn(io, read_one(*backend, experiment, out),
                     [&out, &all, info = backend->info](std::exception_ptr thrown) {
                       DoneOnExit done{all};
                       if (!thrown) return;
                       out.state.reset();  // a read that threw gives no state to trust
                       out.error = exception_error("while reading", thrown);
                       out.error->backend = info->name;
                       out.error->vendor = info->vendor;
                     });
    }
    co_await all.wait();
  }

  // One job of `run_jobs`: its steps one after another, each with the machinery of the public
  // call of its kind (`read`, `apply`, `create_experiment`), narrowed to the step's backends.
  asio::awaitable<void> run_job(Job& job) {
    Applier::JobStepOutcome outcome;
    const Applier::JobStepOutcome* previous = nullptr;
    using Kind = Applier::JobStep::Kind;
    for (auto step = job.next_step(previous); step; step = job.next_step(previous)) {
      outcome = Applier::JobStepOutcome{};
      outcome.kind = step->kind;
      PlanOptions narrowed = options.plan;
      if (!step->backends.empty()) narrowed.backends = step->backends;
      if (step->kind == Kind::read) {
        outcome.read.experiment = step->experiment;
        try {
          co_await read_all(step->experiment, outcome.read, narrowed);
        } catch (...) {
          outcome.read.error = exception_error("while reading", std::current_exception());
        }
      } else if (step->kind == Kind::apply) {
        try {
          co_await run_update(step->update.source, step->update, outcome.update, next_position++, {}, &narrowed);
        } catch (...) {
          outcome.update.error = exception_error("while applying the update", std::current_exception());
        }
      } else {
        CreateReport& report = outcome.create;
        report.experiment = step->spec.experiment;
        Backend* target = step->backends.size() == 1 ? find_backend(step->backends.front()) : nullptr;
        if (!target) {
          report.backend.backend = step->backends.empty() ? std::string() : step->backends.front();
          report.backend.result = BackendOutcome::failed;
          report.backend.error = make_error(ErrorCode::invalid_input, "a create step names one backend of " +
                                                                          bridge->source() + ", and this one does not");
        } else {
          try {
            co_await run_create(*target, step->spec, step->how, report);
          } catch (...) {
            fail_backend(report.backend, *target->info, "while creating the experiment", std::current_exception());
          }
        }
      }
      if (store()) (void)write_queued();  // logged there
      previous = &outcome;
    }
  }

  /// Out of the loop, once a call's work is over: everything handed to the writer committed,
  /// the completions that posts run (they let go of the store's experiment locks), then what
  /// still waits written.
  Status settle_store() {
    if (!store()) return {};
    if (store_writer) {
      store_writer->drain();
      io.restart();
      io.poll();
    }
    return write_queued();
  }

  // What a run queued for the store is written when it ends, thrown out of or not (failures are
  // logged by write_queued).
  struct WriteQueuedOnExit {
    Impl& impl;
    ~WriteQueuedOnExit() { (void)impl.settle_store(); }
  };

  // Runs the loop until `done` says so; handlers posted from the reader thread wake it.
  void run_until(const bool& done) {
    io.restart();
    while (!done) io.run_one();
  }
};

Applier::Applier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Applier::~Applier() = default;
Applier::Applier(Applier&&) noexcept = default;
Applier& Applier::operator=(Applier&&) noexcept = default;

Result<Applier> Applier::create(const Bridge& bridge, ApplyOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->bridge = &bridge;
  impl->options = std::move(options);
  if (impl->options.http_client) {
    try {
      impl->client = impl->options.http_client(impl->io);
    } catch (...) {
      return std::unexpected(exception_error("while making the injected HTTP client", std::current_exception()));
    }
    if (!impl->client) return std::unexpected(make_error(ErrorCode::internal, "the injected HTTP client factory made no client"));
  } else {
    http::ClientOptions client_options;
    client_options.extra_ca_file = impl->options.extra_ca_file;
    // Refused now, before any update is read or sent: otherwise every backend would fail the
    // same way at its first request, and only then.
    if (!client_options.extra_ca_file.empty()) {
      if (auto usable = http::check_ca_file(client_options.extra_ca_file); !usable) {
        Error e = std::move(usable).error();
        e.field = "extra_ca_file";
        return std::unexpected(std::move(e));
      }
    }
    impl->client = http::make_beast_client(impl->io, client_options);
  }
  impl->auth_context.client = impl->client.get();
  impl->auth_context.tokens = &impl->tokens;
  if (impl->options.environment) {
    impl->auth_context.env = impl->options.environment;
  } else {
    impl->auth_context.env = apply::process_environment();
  }
  if (impl->options.resume && (!impl->options.store || impl->options.run_id.empty()))
    return std::unexpected(invalid_field("resume", "resuming needs a state store and the run to continue"));
  if (impl->options.resume && !impl->options.read_first)
    return std::unexpected(invalid_field(
        "resume", "resuming needs the reads (not --no-read): only a read tells whether an unanswered request took effect"));
  if (impl->options.parallel_updates < 1 || impl->options.parallel_updates > 256)
    return std::unexpected(invalid_field("parallel", "must be 1..256"));
  for (const auto& info : bridge.backends()) {
    Impl::Backend backend;
    backend.info = &info;
    // An adapter or credential lookup that throws fails this backend on the updates that
    // need it, like missing credentials; the other backends are built as usual.
    auto auth = without_exceptions("while building the authenticator", "nothing can be sent to this backend", [&] {
      return apply::make_authenticator(info.adapter->auth(), impl->auth_context);
    });
    if (auth) {
      backend.auth = std::move(*auth);
    } else {
      Error e = std::move(auth).error();
      e.backend = info.name;
      e.vendor = info.vendor;
      backend.auth_error = std::move(e);
    }
    backend.pacer = std::make_unique<apply::BackendPacer>(
        impl->io.get_executor(), apply::BackendPacer::Settings{info.send.start_in_flight, info.send.max_in_flight,
                                                               info.send.adaptive, info.send.rate_limit_per_s});
    impl->backends.push_back(std::move(backend));
  }
  return Applier(std::move(impl));
}

UpdateReport Applier::apply(const Update& update) {
  UpdateReport report;
  bool done = false;
  asio::co_spawn(impl_->io, impl_->run_update(update.source, update, report, impl_->next_position++),
                 [&done, &report](std::exception_ptr thrown) {
                   done = true;
                   if (thrown) report.error = exception_error("while applying the update", thrown);
                 });
  impl_->run_until(done);
  (void)impl_->settle_store();  // logged there
  return report;
}

ReadReport Applier::read(const std::string& experiment) {
  ReadReport report;
  report.experiment = experiment;
  bool done = false;
  asio::co_spawn(impl_->io, impl_->read_all(experiment, report, impl_->options.plan), [&done, &report](std::exception_ptr thrown) {
    done = true;
    if (thrown) report.error = exception_error("while reading", thrown);
  });
  impl_->run_until(done);
  // What it read is the next read's hint, in this process or another.
  (void)impl_->settle_store();  // logged there
  return report;
}

bool CreateReport::ok() const { return !backend.error.has_value() && backend.result != BackendOutcome::failed; }

CreateReport Applier::create_experiment(const std::string& backend, const CreateSpec& spec, const CreateRun& how) {
  CreateReport report;
  report.experiment = spec.experiment;
  Impl::Backend* target = impl_->find_backend(backend);
  if (!target) {
    report.backend.backend = backend;
    report.backend.result = BackendOutcome::failed;
    report.backend.error = make_error(ErrorCode::not_found, "no backend " + quote_value(backend) + " in " +
                                                                impl_->bridge->source());
    return report;
  }
  bool done = false;
  asio::co_spawn(impl_->io, impl_->run_create(*target, spec, how, report),
                 [&done, &report, info = target->info](std::exception_ptr thrown) {
                   done = true;
                   if (thrown) Impl::fail_backend(report.backend, *info, "while creating the experiment", thrown);
                 });
  impl_->run_until(done);
  (void)impl_->settle_store();  // logged there
  return report;
}

void Applier::apply_all(const UpdateSource& next, const std::function<void(UpdateReport)>& sink) {
  apply_inputs(
      [&next]() -> std::optional<Input> {
        auto item = next();
        if (!item) return std::nullopt;
        return Input{std::move(item->first), std::move(item->second), {}};
      },
      sink);
}

Status Applier::finish_run() {
  Impl& impl = *impl_;
  if (!impl.store() || impl.run_id.empty() || impl.run_finished) return {};
  EXPBRIDGE_RETURN_IF_ERROR(impl.settle_store());
  // An unsettled input keeps the run open: `--resume` continues it.
  if (impl.unsettled_inputs > 0) return {};
  Status finished = impl.store()->finish_run(impl.run_id);
  if (finished) impl.run_finished = true;
  return finished;
}

const std::string& Applier::run_id() const { return impl_->run_id; }

std::vector<BackendPacing> Applier::pacing() const {
  std::vector<BackendPacing> out;
  for (const auto& backend : impl_->backends) {
    const auto figures = backend.pacer->figures();
    out.push_back(BackendPacing{backend.info->name, figures.paused_ms, figures.pauses, figures.throttled,
                                figures.concurrency, figures.most_concurrency});
  }
  return out;
}

std::int64_t Applier::unsettled_inputs() const { return impl_->unsettled_inputs; }

namespace {

// The dispatcher `apply_inputs` and `run_jobs` share: items read from `next` on a reader thread,
// up to `window_size` of them worked on at once on `io`, their outputs handed to `sink` in input
// order. `start(item, output)` makes the work's coroutine (called in input order, so what it
// numbers is numbered in input order); `failed(output, thrown)` is called when that coroutine
// throws, and returns what ends the whole run (nullptr: the output says it, the run goes on).
// Whatever ends the run (the source, the sink, `failed`) is rethrown once what is under way is done.
template <class Item, class Output>
void run_pipeline(asio::io_context& io, int window_size, const std::function<void(const bool&)>& run_until,
                  const std::function<std::optional<Item>()>& next,
                  const std::function<asio::awaitable<void>(Item, Output&)>& start,
                  const std::function<std::exception_ptr(Output&, std::exception_ptr)>& failed,
                  const std::function<void(Output)>& sink) {
  // The source may block (standard input), so it is read on its own thread; a bounded
  // queue keeps a fast producer from buffering a whole stream in memory.
  constexpr std::size_t kQueueLimit = 64;
  std::mutex mutex;
  std::condition_variable space;
  std::deque<Item> queue;
  bool input_done = false;
  bool stop_reading = false;
  asio::steady_timer input_ready(io, asio::steady_timer::time_point::max());
  // The caller's callbacks may throw. Their first exception is kept (the source's under
  // `mutex`, as it throws on the reader thread), input stops being taken, the work under
  // way finishes, and it is rethrown once the loop and the reader thread are wound down.
  std::exception_ptr source_failure, sink_failure, dispatch_failure;

  std::thread reader([&] {
    while (true) {
      std::optional<Item> item;
      {
        std::unique_lock lock(mutex);
        space.wait(lock, [&] { return queue.size() < kQueueLimit || stop_reading; });
        if (stop_reading) break;
      }
      std::exception_ptr thrown;
      try {
        item = next();
      } catch (...) {
        thrown = std::current_exception();
      }
      {
        std::lock_guard lock(mutex);
        if (thrown) {
          source_failure = thrown;
          input_done = true;
        } else if (!item) {
          input_done = true;
        } else {
          queue.push_back(std::move(*item));
        }
      }
      asio::post(io, [&input_ready] { input_ready.cancel(); });
      if (!item) break;
    }
  });

  bool done = false;
  auto dispatcher = [&]() -> asio::awaitable<void> {
    apply::AsyncSemaphore window(io.get_executor(), window_size);
    apply::WaitGroup all(io.get_executor());
    // A piece of work holds its window slot until its output is out, so a slow one bounds
    // what piles up behind it: the permit travels with the finished output.
    struct Finished {
      std::unique_ptr<Output> output;
      apply::AsyncSemaphore::Permit slot;
    };
    std::map<std::size_t, Finished> finished;
    std::size_t next_index = 0, next_to_report = 0;
    auto flush = [&] {
      // Outputs leave in input order, whatever order the work finishes in.
      for (auto it = finished.find(next_to_report); it != finished.end(); it = finished.find(next_to_report)) {
        Finished entry = std::move(it->second);
        finished.erase(it);
        ++next_to_report;
        if (sink_failure) continue;  // the caller's sink is broken: no more outputs for it
        try {
          sink(std::move(*entry.output));
        } catch (...) {
          sink_failure = std::current_exception();
        }
      }
    };
    while (true) {
      if (sink_failure) break;  // stop taking input; what is under way still finishes
      std::optional<Item> item;
      bool end = false;
      {
        std::lock_guard lock(mutex);
        if (!queue.empty()) {
          item = std::move(queue.front());
          queue.pop_front();
        } else {
          end = input_done;
        }
      }
      if (item) space.notify_one();
      if (!item && end) break;
      if (!item) {
        input_ready.expires_at(asio::steady_timer::time_point::max());
        {
          // Re-check under the lock: the reader may have posted its wake-up already.
          std::lock_guard lock(mutex);
          if (!queue.empty() || input_done) continue;
        }
        co_await input_ready.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      auto window_slot = std::make_shared<apply::AsyncSemaphore::Permit>(co_await window.scoped_acquire());
      auto owned = std::make_shared<Output>();
      std::size_t index = next_index++;
      all.add();
      asio::co_spawn(io, start(std::move(*item), *owned),
                     [&, index, window_slot, owned](std::exception_ptr thrown) mutable {
                       DoneOnExit done_on_exit{all};
                       if (thrown) {
                         std::exception_ptr fatal = failed(*owned, thrown);
                         if (fatal && !sink_failure) sink_failure = fatal;
                       }
                       finished[index] = Finished{std::make_unique<Output>(std::move(*owned)), std::move(*window_slot)};
                       flush();
                     });
    }
    co_await all.wait();
    flush();
  };
  asio::co_spawn(io, dispatcher(), [&done, &dispatch_failure](std::exception_ptr thrown) {
    done = true;
    dispatch_failure = thrown;
  });
  run_until(done);
  {
    std::lock_guard lock(mutex);
    stop_reading = true;
  }
  space.notify_all();
  reader.join();
  // The reader's last wake-up may still be queued, and it refers to `input_ready`, a local:
  // run it now, while that timer exists.
  io.restart();
  io.poll();
  if (dispatch_failure) std::rethrow_exception(dispatch_failure);
  if (sink_failure) std::rethrow_exception(sink_failure);
  if (source_failure) std::rethrow_exception(source_failure);
}

}  // namespace

void Applier::apply_inputs(const InputSource& next, const std::function<void(UpdateReport)>& sink) {
  Impl& impl = *impl_;
  {
    Impl::WriteQueuedOnExit written{impl};
    run_pipeline<Input, UpdateReport>(
        impl.io, impl.options.parallel_updates, [&impl](const bool& done) { impl.run_until(done); }, next,
        [&impl](Input item, UpdateReport& out) {
          return impl.run_update(std::move(item.source), std::move(item.update), out, impl.next_position++,
                                 std::move(item.digest));
        },
        [](UpdateReport& out, std::exception_ptr thrown) -> std::exception_ptr {
          out.error = exception_error("while applying the update", thrown);
          return nullptr;
        },
        sink);
  }
  // Only a run that ran to its end is finished: one cut short (above), resumed with an input it
  // refused as different, or with an input unsettled (finish_run), is left to `--resume`.
  if (impl.input_mismatch) return;
  if (Status finished = finish_run(); !finished) logger()->warn("{}", finished.error().message);
}

void Applier::run_jobs(const JobSource& next, const std::function<void(Job)>& sink) {
  Impl& impl = *impl_;
  Impl::WriteQueuedOnExit written{impl};
  run_pipeline<Job, Job>(
      impl.io, impl.options.parallel_updates, [&impl](const bool& done) { impl.run_until(done); }, next,
      [&impl](Job item, Job& out) {
        out = std::move(item);
        return impl.run_job(out);
      },
      // A step of the caller's that throws is the caller's failure, as a sink's is.
      [](Job&, std::exception_ptr thrown) { return thrown; }, sink);
}

}  // namespace expbridge
