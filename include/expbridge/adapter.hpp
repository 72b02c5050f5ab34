// expbridge — the vendor adapter interface and the registry of vendors.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <optional>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>

#include "expbridge/error.hpp"
#include "expbridge/mapping.hpp"
#include "expbridge/migration.hpp"
#include "expbridge/model.hpp"
#include "expbridge/plan.hpp"
#include "expbridge/read.hpp"

namespace expbridge {

/// AWS Signature Version 4 (table scheme `sigv4`).
struct SigV4Auth {
  std::string service;                 ///< the signing name of the credential scope
  std::string region;                  ///< the region of the credential scope
  std::optional<std::string> profile;  ///< a shared-credentials profile; none = the default chain
};

/// A token from an environment variable, sent in one header (table scheme `header_token`).
struct HeaderTokenAuth {
  std::string header = "Authorization";
  std::string env;                    ///< the environment variable holding the token
  std::optional<std::string> prefix;  ///< put before the token (e.g. `Bearer `); none = the raw token
};

/// An OAuth 2.0 client-credentials access token, sent as a bearer token
/// (table scheme `oauth_client_credentials`).
struct OAuthClientCredentialsAuth {
  std::string token_url;  ///< absolute http(s) URL of the token endpoint
  std::string audience;   ///< the API the token is for; empty = none asked for
  std::string client_id_env;
  std::string client_secret_env;
};

/// Requests carry no credentials (table scheme `none`).
struct NoAuth {};

using AuthMethod = std::variant<SigV4Auth, HeaderTokenAuth, OAuthClientCredentialsAuth, NoAuth>;

/// How requests to a backend are authenticated. Built by the adapter from its options and
/// its table's `auth:` section, checked when the config is loaded, carried out by the core
/// when sending. Names only where secrets live (environment variables, profiles), never
/// the secrets themselves.
struct AuthSpec {
  AuthMethod method = NoAuth{};
  /// Headers every request carries (e.g. an API version), not secret.
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Checks what the types cannot: required names present, environment-variable names valid
/// (`[A-Za-z_][A-Za-z0-9_]*`), header names HTTP tokens, the token URL absolute http(s).
/// Errors are invalid_input with `field` set to the member at fault (`region`, `env`, ...).
Status check_auth(const AuthSpec& auth);

/// One member of an update's `vendor.<vendor>` block, passed through to the table's operation.
struct PassThrough {
  std::string operation;            ///< the vendor operation the table sends it with
  std::string member;               ///< the member name, as the vendor spells it
  const boost::json::value* value;  ///< into the update; valid while the update lives
};

/// A validated, adapter-specific binding of one neutral experiment to vendor ids
/// (`experiments.<key>.<backend>` in the config). Only its adapter looks inside.
class Binding {
 public:
  virtual ~Binding() = default;
};

/// Optional knowledge of the vendor's current state, used for rules that depend
/// on it (AppConfig exposure may only rise, Auth0 allocations frozen while active).
struct PlanContext {
  const Experiment* current = nullptr;  ///< nullptr = unknown: such rules are not checked
  /// The whole read of this backend (`Adapter::read`), when apply read it first: `current`
  /// is then `&read->experiment`, and `read->detail` holds the vendor ids planning needs.
  const VendorState* read = nullptr;
};

/// A vendor's answer to a state read: its HTTP status and body, whatever the status.
struct ReadResponse {
  int status = 0;
  std::string body;
};

/// What creating an experiment at a backend starts from (`Adapter::create`, used by `migrate`
/// when the target has no binding for the experiment).
struct CreateSpec {
  std::string experiment;               ///< the neutral key
  const Experiment* desired = nullptr;  ///< the state wanted; `status` running = start it too, with its exposure
  /// What the config (or an import's config fragment) already says of the experiment's binding
  /// at this backend, e.g. the flag to run on; nullptr = the backend's settings decide.
  const boost::json::object* binding = nullptr;
  /// True when an earlier create of this spec may have been applied without its answer arriving
  /// (a crash, a dropped connection): the first step then only asks (GETs) for the experiment
  /// that create would have made, by the identity the create gives it. Found and consistent with
  /// what the create would send: the last step gives its binding, and the only request that can
  /// follow is the start, when `desired` runs and the found experiment is not started yet. Found
  /// but different: a `conflict` error naming the vendor resource and what differs. Not found:
  /// the create goes on as without it.
  bool find_existing = false;
};

/// One step of creating an experiment (`Adapter::create`): requests to send next, or the end.
struct CreateStep {
  /// To send next, in order: GETs of what the create needs (a flag's variation ids), then the
  /// creating requests. Empty on the last step.
  std::vector<PlannedRequest> requests;
  /// Set on the last step: the new experiment's binding as `experiments.<key>.<backend>` of a
  /// config holds it, with the vendor ids the answers gave (what `--write-config` writes).
  std::optional<boost::json::object> binding;
  /// For a plan, which stops before the first creating request is sent: what the later steps
  /// would send, one line each (`StartExperimentRun ExposurePercentage 75`).
  std::vector<std::string> then;
  /// On the first step (no answers yet): what becomes of each neutral field `desired` holds at
  /// this vendor, one entry per field (the base checks that none is left out).
  std::vector<FieldCarriage> carriage;
};

/// What a factory receives to build one backend.
struct BackendContext {
  std::string name;                       ///< the configured backend name
  const boost::json::object* settings;    ///< the vendor's own settings (common keys removed)
  std::string path;                       ///< `backends.<name>`, for error messages
  std::shared_ptr<const MappingTable> table;
  std::string endpoint;                   ///< override of the base URL; empty = the vendor's default
};

/// One backend: a vendor adapter built with that backend's options.
/// Implementations are pure translators: they build requests, they do not send them.
///
/// The public methods are not virtual: each calls one protected `do_…` hook and adds, once
/// for every vendor, what callers rely on. Every error it returns names this backend and its
/// vendor; an exception thrown by a hook becomes an `internal` error naming the hook (none
/// crosses this interface); and a plan that neither carries nor skips a neutral field present
/// in the update, or leaves its `vendor.<vendor>` block unread, is refused as `internal` (an
/// adapter bug, never a silent drop).
///
/// `Error::operation` names the vendor operation an error concerns, whenever one does:
/// - `plan`: the table operation of the request the refused value was to be sent with (the
///   hook builds each request as a `RequestDraft` of core/adapter_support.hpp, whose checks
///   stamp it), e.g. a decreasing exposure names `UpdateExperimentRun`; a refused pass-through
///   member names the operation the table passes it to;
/// - `state_requests`, `read_state`: the state read (e.g. `GetExperimentRun`) that could not be
///   built or whose answer could not be used.
/// It stays empty where no vendor operation is involved: `bind` (a binding in the config),
/// `prepare_auth` (the backend's settings), a pass-through member the table routes nowhere,
/// and an adapter's own bug (a hook that threw, a field neither planned nor skipped), which
/// the message names instead.
class Adapter {
 public:
  virtual ~Adapter() = default;
  Adapter(const Adapter&) = delete;
  Adapter& operator=(const Adapter&) = delete;

  /// The vendor name, e.g. `appconfig`.
  std::string_view vendor() const { return vendor_; }
  /// The configured backend name this adapter was built for.
  const std::string& backend() const { return backend_; }

  /// Validates `experiments.<key>.<backend>` once, when the config is loaded.
  /// `path` is that binding's location in the config, for error messages.
  Result<std::unique_ptr<const Binding>> bind(const boost::json::object& binding, const std::string& path) const;

  /// The requests that carry `update` to this backend, in order, and the fields it skips.
  /// Returns invalid_input (naming the field and the vendor rule) for a value the
  /// vendor would reject; nothing is sent then. Never drops a field silently. The plan's
  /// `backend` and `vendor` are this adapter's.
  Result<BackendPlan> plan(const Update& update, const Binding& binding, const PlanContext& context) const;

  /// Builds (`do_auth`) and checks how this backend authenticates, once: `Bridge` calls it
  /// right after the factory, so a bad auth setting fails when the config is loaded, naming
  /// the setting, not at the first send.
  Status prepare_auth();
  /// How requests to this backend authenticate, as `prepare_auth` built it
  /// (`NoAuth` before that).
  const AuthSpec& auth() const { return auth_; }

  /// The reads (GET requests) of the vendor's current state that planning `update` needs,
  /// e.g. AppConfig's current exposure to refuse a decrease. `apply` sends them before any
  /// plan is built and hands the answers to `read_state`; `plan` alone never reads. Empty:
  /// this update's rules do not depend on state. An error means the reads could not be
  /// built; the caller must not plan as if no state were needed.
  Result<std::vector<PlannedRequest>> state_requests(const Update& update, const Binding& binding) const;

  /// The neutral state from the answers to `state_requests` (same order). A vendor answer
  /// that means "nothing there yet" (a run not started) gives an empty `Experiment`.
  Result<Experiment> read_state(const Binding& binding, const std::vector<ReadResponse>& responses) const;

  /// Reads the bound experiment into the neutral model, one step at a time: called first
  /// with no answers, then with the answers to every request asked for so far (in order),
  /// until a step holds the state. Every request is a GET, retried like any idempotent one;
  /// a vendor's 404 is handed over as an answer, and a missing resource becomes `not_found`
  /// naming its id. A step with both requests and a state, or neither, or a request that is
  /// not a GET, is refused as `internal` (an adapter bug).
  ///
  /// `hint` (read.hpp) is what an earlier read of this binding found (`VendorState::hint`),
  /// nullptr for none; every step of one read must be given the same hint, since the adapter
  /// tells from it and the answers which requests it asked.
  Result<ReadStep> read(const Binding& binding, const std::vector<ReadResponse>& answers,
                        const ReadHint* hint = nullptr) const;

  /// Creates `spec.experiment` at this backend, one step at a time like `read`: called first
  /// with no answers, then with the answers to every request asked for so far (in order), until
  /// a step gives the binding. A resource the create needs and expbridge does not create (an
  /// AppConfig configuration profile, a LaunchDarkly flag, an Auth0 feature flag and its
  /// variations) is a `not_found` error naming it exactly, returned before any creating request
  /// is asked for. A step with both requests and a binding, or neither, and a first step whose
  /// `carriage` leaves out a field `desired` holds, are refused as `internal` (an adapter bug).
  Result<CreateStep> create(const CreateSpec& spec, const std::vector<ReadResponse>& answers) const;
  /// Whether `create` honours `CreateSpec::find_existing`. An adapter that does not would create
  /// again what a lost answer may have created already, so `create` refuses such a spec (as
  /// `unsupported`) and a caller resuming a create must ask first.
  bool finds_existing() const { return do_finds_existing(); }
  /// Checks a partial binding for `create` given in the config (`backends.<name>.create`, or an
  /// experiment's `experiments.<key>.<name>.create`): every member one this backend's create
  /// reads, of its type and within the vendor's limits. What a create needs and the partial binding
  /// may leave to another place (a flag given per experiment, a default in the backend's settings)
  /// is not required here: `create` says what is missing. `path` names the partial binding.
  Status check_create_binding(const boost::json::object& partial, const std::string& path) const;

 protected:
  /// `vendor` is the name the adapter is registered under.
  Adapter(const BackendContext& context, std::string vendor);

  /// The hooks, one per public method. They may return errors without backend or vendor
  /// (the base adds them) and may throw (the base turns that into an `internal` error).
  virtual Result<std::unique_ptr<const Binding>> do_bind(const boost::json::object& binding,
                                                         const std::string& path) const = 0;
  /// Must record every neutral field present in `update` in the plan: through `carry` (it is
  /// sent) or `skip`/`skip_if`/`skip_value` (it cannot be expressed, with the table's reason);
  /// and read the update's pass-through block through `passthrough`. A refusal names the
  /// vendor operation the value was for (see the class comment).
  virtual Result<BackendPlan> do_plan(const Update& update, const Binding& binding,
                                      const PlanContext& context) const = 0;
  /// The backend's authentication; `check_auth` is applied to what it returns.
  virtual Result<AuthSpec> do_auth() const = 0;
  /// Default: no update needs state.
  virtual Result<std::vector<PlannedRequest>> do_state_requests(const Update& update, const Binding& binding) const;
  /// Default: no state (an empty `Experiment`).
  virtual Result<Experiment> do_read_state(const Binding& binding, const std::vector<ReadResponse>& responses) const;
  /// Default: `unsupported` — the adapter has no read. `hint` may be nullptr; a hint it cannot
  /// use (a member missing or of another type) is no hint, never an error.
  virtual Result<ReadStep> do_read(const Binding& binding, const std::vector<ReadResponse>& answers,
                                   const ReadHint* hint) const;
  /// Default: `unsupported` — the adapter cannot create experiments at its vendor.
  virtual Result<CreateStep> do_create(const CreateSpec& spec, const std::vector<ReadResponse>& answers) const;
  /// Default: false — `do_create` ignores `find_existing`.
  virtual bool do_finds_existing() const { return false; }
  /// Default: an empty partial binding is fine, any member is refused (the adapter creates nothing).
  virtual Status do_check_create_binding(const boost::json::object& partial, const std::string& path) const;

  // Helpers for the hooks, written once for every vendor.

  /// Where a config gives `experiment`'s partial binding for a create at this backend
  /// (`experiments.<key>.<backend>.create`): the path a create's errors name.
  std::string create_binding_path(std::string_view experiment) const;

  /// The mapping table this backend was built from.
  const MappingTable& table() const { return *table_; }
  /// The neutral fields the table says this vendor cannot express (`fields.<f>.skip`), for a
  /// read's `VendorState::not_expressible`.
  std::vector<std::string> fields_not_expressible() const;
  /// Records that `neutral` (a `field::` name) goes out in a request of `out`.
  static void carry(BackendPlan& out, std::string_view neutral);
  /// Records `neutral` as skipped with the table's `fields.<neutral>.skip` reason.
  void skip(BackendPlan& out, std::string_view neutral) const;
  /// `skip` when `present`.
  void skip_if(bool present, std::string_view neutral, BackendPlan& out) const;
  /// `skip` for each of `fields` (`field::` names) that `update` sets, in that order.
  void skip_present(const Update& update, BackendPlan& out, std::initializer_list<std::string_view> fields) const;
  /// The table's `fields.<neutral>.skip_values.<value>` reason, or `fallback` when it has none.
  std::string skip_value_reason(std::string_view neutral, std::string_view value, std::string_view fallback) const;
  /// Records `<neutral>.<value>` (e.g. `action.pause`) as skipped with `skip_value_reason`.
  void skip_value(BackendPlan& out, std::string_view neutral, std::string_view value,
                  std::string_view fallback) const;
  /// The members of `update.vendor.<vendor>`, each checked against the table's `passthrough:`
  /// (errors name `vendor.<vendor>.<member>`); empty when the update has no block for this vendor.
  /// Records `vendor` as carried in `out` when there are members: the hook sends each of them
  /// or refuses the update.
  Result<std::vector<PassThrough>> passthrough(const Update& update, BackendPlan& out) const;
  /// `vendor.<vendor>.<member>`: where `member` is in the update, for errors about its value.
  std::string passthrough_path(const PassThrough& member) const;

 private:
  /// `e` naming this backend and vendor (what the hook already set is kept).
  Error stamped(Error e) const;

  std::string backend_;
  std::string vendor_;
  std::shared_ptr<const MappingTable> table_;
  AuthSpec auth_;
};

/// Builds an adapter from a backend's settings, rejecting unknown or missing ones.
using AdapterFactory = std::function<Result<std::unique_ptr<Adapter>>(const BackendContext&)>;

namespace emulator {
class VendorEmulator;  // the vendor's side, for `expbridge emulate` and tests; not part of this API
}  // namespace emulator

/// Builds a fresh emulator of the vendor (empty state; the emulator host seeds it).
using EmulatorFactory = std::function<std::unique_ptr<emulator::VendorEmulator>()>;

/// Everything expbridge needs to know of one vendor, defined once in the vendor's own folder
/// (`adapters/<vendor>/<vendor>_vendor.cpp`) and registered with one line: plan, apply, read,
/// `mappings`, `emulate`, `demo`, the tests and the benchmarks all find the vendor through it.
/// Building a descriptor constructs nothing: the factories run only when a backend or an
/// emulator is wanted.
struct Vendor {
  std::string name;        ///< as in configs (`vendor: NAME`), the table's `vendor:` and the emulator's
  AdapterFactory adapter;  ///< required
  EmulatorFactory emulator;  ///< empty = the vendor has no emulator (`emulate` and `demo` leave it out)
  /// The vendor's mapping table (YAML or JSON), for a vendor built outside this library (a
  /// test fake, a platform team's own). Empty = the table embedded from `mappings/<name>.yaml`.
  std::string table_text;
};

/// The known vendors, in name order. The built-in ones are one list (`register_builtin_vendors`);
/// a program that adds its own registers them into a `Registry` of its own and passes it on
/// (`BridgeOptions::registry`, the emulator host's options).
class Registry {
 public:
  /// Adds a vendor; refuses a duplicate name, a missing name or a missing adapter factory.
  Status add(Vendor vendor);
  /// A vendor with an adapter only (no emulator, the embedded table).
  Status add(std::string vendor, AdapterFactory factory);
  /// The vendor registered under `name`, or nullptr.
  const Vendor* vendor(std::string_view name) const;
  /// The vendor's adapter factory, or nullptr.
  const AdapterFactory* find(std::string_view vendor) const;
  std::vector<std::string> vendors() const;

  /// The vendor's own mapping table (`Vendor::table_text`), parsed on the first call and kept;
  /// nullptr when the vendor has none (or is unknown), an error when its text is not a table of
  /// that vendor.
  Result<std::shared_ptr<const MappingTable>> own_table(std::string_view vendor) const;

  /// A registry holding every built-in vendor.
  static const Registry& builtin();

 private:
  struct Entry;
  std::map<std::string, std::shared_ptr<Entry>, std::less<>> vendors_;
};

/// Fills `registry` with the built-in vendors (adapters/builtin.cpp: the one list a new vendor
/// is added to, one line a vendor).
void register_builtin_vendors(Registry& registry);

}  // namespace expbridge
