// expbridge — apply: send a plan to every backend at once, authenticated, and report.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "expbridge/adapter.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/error.hpp"
#include "expbridge/http_client.hpp"
#include "expbridge/migration.hpp"
#include "expbridge/plan.hpp"
#include "expbridge/read.hpp"
#include "expbridge/store.hpp"

namespace expbridge {

/// How a run of `apply` behaves.
struct ApplyOptions {
  PlanOptions plan;  ///< strict, backend selection (as for `plan`)
  /// Updates in flight at once. Updates of one experiment always go in input order, one
  /// after another; a higher number lets updates of different experiments overlap.
  int parallel_updates = 1;
  /// Environment lookup for secrets; empty = the process environment (tests inject one).
  std::function<std::optional<std::string>(std::string_view)> environment;
  /// A PEM file of extra trusted CAs (a private CA, a test server); the system store always applies.
  /// Used by the built-in client only: an injected `http_client` brings its own trust settings.
  std::string extra_ca_file;

  /// Makes the HTTP client every request of the run goes through (API requests, state
  /// reads and token requests alike). Called once, by `Applier::create`, with the
  /// Applier's own event loop: the client must do all its work on that `io_context`
  /// (it runs on the thread that calls `apply` / `apply_all`) and is destroyed with the
  /// Applier, before the loop. Returning nullptr makes `create` fail (`internal`).
  /// Empty (the default): the built-in Boost.Beast client (TLS, keep-alive pool).
  /// Tests inject a scripted client here; an application may add a proxy or tracing.
  /// The `Applier` reports a client that throws as `internal` for the backend whose
  /// request it was, and the other backends carry on.
  using HttpClientFactory = std::function<std::unique_ptr<http::HttpClient>(boost::asio::io_context&)>;
  HttpClientFactory http_client;
  /// Read every bound backend whose adapter reads (and whose `read_state` is not false) before
  /// planning, and send only what differs from what it holds: an update applied twice sends
  /// nothing the second time. False (`apply --no-read`): one round trip, every field sent as
  /// asked, with only the reads a state-dependent rule needs (AppConfig exposure may only rise).
  bool read_first = true;

  /// The state store (store.hpp) the run keeps its journal and what it learns in; nullptr (the
  /// default): no store, nothing recorded, nothing serialised across processes. Not owned: it
  /// must outlive the Applier. The Applier commits to it from a thread of its own as well as
  /// from the one that calls it (Store serves one call at a time); every public call returns
  /// with what it wrote committed.
  /// With a store, the Applier's updates are one run (`begin_run` at the first update,
  /// `finish_run` at the end of `apply_all`, or by `Applier::finish_run`); each update is
  /// recorded as an input (position, source, digest), applied under the store's lock of its
  /// experiment, and every mutating request (not a GET) is journalled: its intent committed
  /// before its first attempt leaves, its outcome after the final answer. Each read saves the
  /// backend's read hint, snapshot and vendor ids (a new process reads with the stored hint),
  /// each applied update the state it applied and a history entry per backend, written behind
  /// the update while the next one goes on. A store error before a request leaves refuses it:
  /// nothing is sent that is not journalled; once a write fails, every later request of the
  /// run is refused unsent.
  Store* store = nullptr;
  /// What the run records as having started it; an empty command is "apply", an empty config
  /// path the bridge's `source()`, an empty digest that of the config path.
  RunStart run;
  /// A run the caller began (`Store::begin_run`: so a store that cannot start one refuses the
  /// invocation before any input is read), or the unfinished one it continues: the Applier
  /// records under it instead of beginning its own. Empty: the Applier begins one.
  std::string run_id;
  /// Continue `run_id`, an unfinished run (`apply --resume`): an input recorded done is not
  /// applied again (its report says `done earlier`); one whose digest differs from the one
  /// recorded at its position is refused (`invalid_input`, nothing sent); every other is applied
  /// again, converging, so the read decides what is left. A journalled request with an intent
  /// but no outcome (a crash, or an answer that never came) is reconciled by that read: not sent
  /// when its effect is there. Needs `read_first` and a store.
  bool resume = false;
};

/// What happened to one planned request.
struct RequestReport {
  PlannedRequest request;
  bool sent = false;         ///< at least one attempt reached the network
  int status = 0;            ///< the last HTTP status, 0 when none arrived
  int attempts = 0;          ///< what went on the wire, throttled tries included
  int throttled = 0;         ///< attempts the vendor throttled (429, a throttling code): they spend no attempt
  double duration_ms = 0;    ///< from the first attempt to the outcome, backoff included
  double rate_limit_wait_ms = 0;  ///< of duration_ms, waiting while the backend was paused for a rate limit
  std::optional<Error> error;
};

/// A report of `request` before anything is sent (or, a plan, when nothing will be).
inline RequestReport unsent_request(PlannedRequest request) {
  RequestReport report;
  report.request = std::move(request);
  return report;
}

enum class BackendOutcome {
  ok,       ///< every request succeeded
  failed,   ///< a request failed; later ones of this backend were not sent
  skipped,  ///< nothing to send for this update
  unchanged,  ///< read first, and already holds what it can of the update: nothing sent
};
std::string_view to_string(BackendOutcome outcome) noexcept;

/// With a store: what became of one journalled request of a resumed run, or one sent now.
struct JournalEntry {
  std::string operation;
  /// `done earlier` (its outcome recorded by the run being resumed), `sent now`, or
  /// `reconciled: found applied` / `reconciled: not applied` (an intent without an outcome
  /// that the read settled: found in effect so not sent, or absent so sent again).
  std::string status;
};

/// One backend's part of one update.
struct BackendReport {
  std::string backend;
  std::string vendor;
  BackendOutcome result = BackendOutcome::skipped;
  std::vector<RequestReport> requests;  ///< every planned request, sent or not
  std::vector<Skip> skipped;
  /// Neutral fields (and `action.<name>`) the backend's read showed already as asked, so not sent.
  std::vector<std::string> unchanged;
  std::vector<std::string> notes;
  /// With a store: the journal's word on each mutating request (see JournalEntry).
  std::vector<JournalEntry> journal;
  std::optional<Error> error;  ///< why the backend failed (the failing request's error, or e.g. missing credentials)
  double duration_ms = 0;
};

/// How one backend was paced over an Applier's life so far (per backend, every update).
struct BackendPacing {
  std::string backend;
  double paused_ms = 0;         ///< wall time it was paused for rate limits (a throttle, a budget at 0)
  std::int64_t pauses = 0;      ///< pauses begun
  std::int64_t throttled = 0;   ///< throttled answers met
  int concurrency = 0;          ///< requests allowed in flight now
  int most_concurrency = 0;     ///< the most allowed at once
};

/// One update's outcome at every backend.
struct UpdateReport {
  std::string source;      ///< file, `-`, or `-:LINE` for a line of standard input
  std::string experiment;
  /// Set when the update was refused before anything was sent (invalid input, strict skips).
  std::optional<Error> error;
  std::vector<BackendReport> backends;
  double duration_ms = 0;
  /// A resumed run found this input done by the run it resumes: nothing was read or sent.
  bool done_earlier = false;
  /// With a store: the input is not settled (not recorded done): a backend failed, a request's
  /// answer never came so its outcome is unknown (its intent stays pending), the store failed, or
  /// it was held back unsent behind an earlier unsettled input of its experiment (then `error`
  /// says so). The run stays unfinished; `apply --resume` settles it (reading each backend first).
  /// An update's end is written behind its report: if that write fails, this report may already
  /// be out unmarked; a warning names the store's error, the run stays unfinished, and every
  /// later update is refused unsent.
  bool unsettled = false;

  bool ok() const;          ///< no error and no backend failed
};

/// One backend's read of one experiment.
struct BackendRead {
  std::string backend;
  std::string vendor;
  std::optional<VendorState> state;     ///< what it holds, when the read succeeded
  std::optional<Error> error;           ///< why it could not be read (then no state)
  std::vector<RequestReport> requests;  ///< every read sent, in order
  /// The steps that sent requests: the read's round trips to the vendor, each step's requests
  /// going out together, as far as the backend's `max_in_flight` lets them (1 when a read hint
  /// saved the dependent step; see read.hpp).
  int round_trips = 0;
  double duration_ms = 0;
  /// What a person should know about this read: with a store, a vendor id the config's binding
  /// (or the vendor) gives that differs from the one the store had learnt (the binding wins).
  std::vector<std::string> notes;
};

/// An experiment as every bound backend holds it (`get`).
struct ReadReport {
  std::string experiment;
  std::optional<Error> error;         ///< the read could not start (an unknown experiment)
  std::vector<BackendRead> backends;  ///< in config order
  bool ok() const;                    ///< no error, and every backend read
};

/// The `BackendRecord::vendor_ids` member where `Applier::create_experiment` keeps the binding a
/// create gave (its JSON text, as `experiments.<key>.<backend>` of a config holds it): how a later
/// migration finds the experiment it created. A binding in the config wins over it.
inline constexpr std::string_view kCreatedBindingId = "created_binding";
/// The `BackendRecord::vendor_ids` member that says a create's first creating request was
/// journalled (the run id) and no binding came back yet: committed with that request's intent, it
/// stays when the answer never came, so no later run creates the experiment a second time blindly.
/// Cleared when the create ends with a binding, or the vendor refused it.
inline constexpr std::string_view kCreatePendingId = "create_pending";

/// How `Applier::create_experiment` goes.
struct CreateRun {
  /// False (a plan): only the create's GETs are sent; it stops at the first step that would
  /// create, reporting that step's requests unsent and its `then` lines.
  bool send = true;
  /// What the store records as the input (`migrate <from> -> <to>: <key>`); empty: the key.
  std::string source;
};

/// What creating one experiment at one backend did (`Applier::create_experiment`).
struct CreateReport {
  std::string experiment;
  /// Every request asked for, in order, sent or (a plan) not; `error` why the create stopped.
  BackendReport backend;
  std::vector<FieldCarriage> carriage;  ///< the first step's: what becomes of each neutral field
  std::vector<std::string> then;        ///< a plan: what the steps after the one shown would send
  /// Created: the binding the last step gave (also kept in the store, `kCreatedBindingId`).
  std::optional<boost::json::object> binding;
  /// With a store: not recorded done (a request failed, or its answer never came).
  bool unsettled = false;
  bool ok() const;  ///< no error
};

/// Applies updates with one event loop, one HTTP connection pool and one token cache
/// for the whole run: connections and tokens are reused across updates. So are read hints
/// (read.hpp): each successful read of a backend and experiment (`read`, or the read a
/// converging `apply` starts with) leaves its hint for the next one; a failed read drops it.
class Applier {
 public:
  /// Builds the authenticators of every backend (missing credentials are reported per
  /// backend, on the updates that need it, not here).
  static Result<Applier> create(const Bridge& bridge, ApplyOptions options = {});

  /// Plans and sends one update to every bound backend at once; within a backend the
  /// requests go in order and the first failure stops that backend. Invalid input or a
  /// strict refusal sends nothing anywhere. A backend whose state read fails (or throws) is
  /// not planned: it fails with that error and the others go on. Whatever throws (an
  /// adapter, the authenticator, the HTTP client) becomes an `internal` error in the report
  /// of the backend concerned, or of the update when it happened while planning.
  UpdateReport apply(const Update& update);

  /// Reads `experiment` at every bound backend at once (`options.plan.backends` narrows
  /// them), each within its own `deadline_ms`. A backend that cannot be read (credentials,
  /// the vendor, an adapter without reads) has its error and the others are read.
  ReadReport read(const std::string& experiment);

  /// Creates `spec.experiment` at `backend`, step by step as its adapter's `Adapter::create`
  /// asks, with the machinery of `apply`: authentication, retries, `deadline_ms` for the whole
  /// create, and with a store the journal (an intent committed before each request that is not a
  /// GET, its outcome after; the create is one input of the run). A vendor's 404 to a GET goes to
  /// the adapter as an answer. The binding the last step gives is recorded in the store
  /// (`kCreatedBindingId`). A non-idempotent request is never sent twice: it is not retried
  /// after it may have arrived.
  CreateReport create_experiment(const std::string& backend, const CreateSpec& spec, const CreateRun& how = {});

  /// A source of updates: the next one (or its parse error), or nothing at the end.
  /// Called from a reader thread, so it may block (standard input).
  using UpdateSource = std::function<std::optional<std::pair<std::string, Result<Update>>>()>;
  /// Applies every update `next` yields, reporting each to `sink` in input order.
  /// `next` and `sink` are the caller's: if one throws, no further update is started (the
  /// ones under way finish, unreported) and its exception is rethrown from here once the
  /// run is wound down. Nothing else throws: failures are in the reports.
  void apply_all(const UpdateSource& next, const std::function<void(UpdateReport)>& sink);

  /// One input of a run, with the digest of its bytes (the file, or the stream line) that a
  /// store records: a resumed run compares it. Empty `digest`: the digest of `source`.
  struct Input {
    std::string source;
    Result<Update> update;
    std::string digest;
  };
  using InputSource = std::function<std::optional<Input>()>;
  /// `apply_all`, for a source that knows its inputs' bytes. With a store, it ends the run
  /// (`finish_run`) unless it was cut short, left an input unsettled, or, resuming, refused an
  /// input as different.
  void apply_inputs(const InputSource& next, const std::function<void(UpdateReport)>& sink);

  /// One operation of a job (`run_jobs`): a read, an update or a create, at the backends named.
  struct JobStep {
    enum class Kind { read, apply, create };
    Kind kind = Kind::read;
    /// read, apply: the backends it goes to, among `ApplyOptions::plan.backends` (empty: those);
    /// create: its one backend.
    std::vector<std::string> backends;
    std::string experiment;  ///< read
    Update update;           ///< apply
    CreateSpec spec;         ///< create: what it points to is the job's, kept until the job is done
    CreateRun how;           ///< create
  };
  /// What the step just done gave: the member of its kind (`read` / `apply` / `create`).
  struct JobStepOutcome {
    JobStep::Kind kind = JobStep::Kind::read;
    ReadReport read;
    UpdateReport update;
    CreateReport create;
  };
  /// Work for `run_jobs`: steps one after another, each chosen from the outcome of the one before.
  struct Job {
    /// Called on the thread that runs the Applier (so it may use the store), first with nullptr,
    /// then with each step's outcome; nothing: the job is done.
    std::function<std::optional<JobStep>(const JobStepOutcome*)> next_step;
    /// What the job fills in, the caller's: `run_jobs` keeps it alive and hands it back to the sink.
    std::shared_ptr<void> work;
  };
  using JobSource = std::function<std::optional<Job>()>;
  /// Runs every job `next` yields as `apply_inputs` runs updates: up to
  /// `ApplyOptions::parallel_updates` jobs at once on the Applier's loop (so each backend's
  /// pacer sees them all), each handed to `sink` in input order once its last step is done.
  /// The steps of one experiment never overlap (the experiment's lock, as for updates). `next`
  /// is called from a reader thread (it may block, or read with an Applier of its own); the
  /// steps and `sink` on the calling thread. If `next`, a step or `sink` throws, no further job
  /// is started and the exception is rethrown once the ones under way are done. The run (with a
  /// store) is left open: `finish_run` ends it.
  void run_jobs(const JobSource& next, const std::function<void(Job)>& sink);

  /// With a store: ends the run (`Store::finish_run`) if one began and is not finished yet.
  /// `apply_all` ends its run itself; a run of `apply` calls ends here. Without a store, or
  /// with no run under way: nothing to do. With an unsettled input (`unsettled_inputs`), the
  /// run is left unfinished for `--resume`, and this returns success.
  Status finish_run();
  /// How many inputs this Applier left unsettled (UpdateReport::unsettled). Once an input of an
  /// experiment is unsettled, the experiment's later inputs are held back (unsent, unsettled):
  /// a resumed run applies them in input order.
  std::int64_t unsettled_inputs() const;
  /// The store's id of the run under way (or just finished); empty without one.
  const std::string& run_id() const;

  /// Each backend's pacing so far (config order): rate-limit pauses and concurrency. Call it
  /// from the thread that runs the Applier (a sink of `apply_all` may).
  std::vector<BackendPacing> pacing() const;

  ~Applier();
  Applier(Applier&&) noexcept;
  Applier& operator=(Applier&&) noexcept;

 private:
  struct Impl;
  explicit Applier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// `{"experiment", "backends": [{"backend", "vendor", "round_trips", "status", "state", "vendor_ids",
/// "not_expressible"} | {"backend", "vendor", "round_trips", "error": {code, message, request_id}}]}`.
boost::json::value read_report_to_json(const ReadReport& report);
/// The read as text: per backend its status and vendor ids, then its fields.
std::string read_report_to_text(const ReadReport& report);

/// The report as JSON: plan's shape, plus per request `status`, `attempts`, `duration_ms`,
/// `error: {code, message}` and per backend `result`.
boost::json::value report_to_json(const UpdateReport& report);
/// The report as a readable table: one line per request, one line per backend for the fields it
/// skipped, and each skip reason once per run (see `SkipReasonIndex`; nullptr = this report alone).
std::string report_to_text(const UpdateReport& report, SkipReasonIndex* reasons = nullptr);

}  // namespace expbridge
