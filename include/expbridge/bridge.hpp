// expbridge — the entry point: a config of backends and experiment bindings, and plans.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "expbridge/adapter.hpp"
#include "expbridge/error.hpp"
#include "expbridge/model.hpp"
#include "expbridge/plan.hpp"

namespace expbridge {

/// How a `Bridge` is built.
struct BridgeOptions {
  /// A folder whose `<vendor>.yaml` files replace the embedded mapping tables. Empty = embedded only.
  std::string mappings_dir;
  /// The vendors to know; nullptr = `Registry::builtin()`.
  const Registry* registry = nullptr;
};

/// How a plan is made.
struct PlanOptions {
  /// Refuse (ErrorCode::unsupported) when any backend would skip a field.
  bool strict = false;
  /// Only these backends (config names); empty = every backend bound to the experiment.
  std::vector<std::string> backends;
  /// Current vendor state per backend name, when known (enables state-dependent rules).
  std::vector<std::pair<std::string, const Experiment*>> current;
  /// Whole reads per backend name (`Adapter::read`), when known: the adapter plans with the
  /// vendor ids they hold, and their experiment is the current state (unless `current` names one).
  std::vector<std::pair<std::string, const VendorState*>> reads;
};

/// How requests to one backend are sent (config keys of the same names, in milliseconds).
struct SendOptions {
  std::chrono::milliseconds timeout{10000};   ///< `timeout_ms`: one attempt, connect to last byte
  std::chrono::milliseconds deadline{60000};  ///< `deadline_ms`: all of one update at this backend, retries included
  int attempts = 3;                           ///< `attempts`: tries per request, the first included
  std::chrono::milliseconds retry_base{100};  ///< `retry_base_ms`: backoff base
  std::chrono::milliseconds retry_cap{20000}; ///< `retry_cap_ms`: longest wait, also the clamp for vendor signals
  /// `max_in_flight`: the most requests at once to this backend. Adaptive concurrency starts
  /// at the smaller of this and the vendor's default (its table's `http.max_in_flight`) and
  /// grows up to it; unset (0 when given to load), it is the table's `http.grow_to`.
  int max_in_flight = 0;
  int start_in_flight = 0;  ///< requests at once at first (set at load, see max_in_flight)
  /// `concurrency: adaptive` (default): concurrency grows while the vendor shows room and
  /// shrinks on throttling, and a throttled answer pauses the whole backend until the vendor's
  /// reset without spending an attempt. `fixed`: `max_in_flight` (default: the vendor's
  /// default) at once throughout, and a throttled answer spends one of the request's attempts.
  bool adaptive = true;
  /// `rate_limit: N/s` or `N/min`: the most requests per second sent to this backend (Auth0
  /// tenants allow 2-16/s sustained); 0 = no cap but the vendor's own signals.
  double rate_limit_per_s = 0;
  /// `read_state`: read the vendor's state first when a rule depends on it (one more round
  /// trip for those updates); false leaves such rules to the vendor.
  bool read_state = true;
};

/// A configured backend, as loaded.
struct BackendInfo {
  std::string name;
  std::string vendor;
  bool strict = false;
  const Adapter* adapter = nullptr;
  SendOptions send;
  std::shared_ptr<const MappingTable> table;
};

/// The loaded configuration: backends (in config order) and experiment bindings.
/// Immutable after loading; safe to share between threads.
class Bridge {
 public:
  /// Loads a config file:
  /// `backends: {NAME: {vendor: V, endpoint?: URL, strict?: bool, ...vendor settings}}`,
  /// `experiments: {KEY: {NAME: {...binding}}}`. Every backend and binding is
  /// validated now; unknown keys are errors. A backend's `create: {...}` and an experiment's
  /// `NAME: {create: {...}}` (a backend it is not bound to yet) are partial bindings for
  /// `migrate`'s creates (`create_binding`).
  static Result<Bridge> load(const std::string& config_path, BridgeOptions options = {});
  /// The same from text; `source` names it in errors.
  static Result<Bridge> from_text(std::string_view config, std::string source, BridgeOptions options = {});

  /// The requests each bound backend needs for `update`, or the first rule broken.
  /// Sends nothing and needs no credentials.
  Result<Plan> plan(const Update& update, const PlanOptions& options = {}) const;

  /// Per selected backend bound to `update.experiment`, the state reads its adapter needs
  /// (only backends that need some). Fails like `plan` for an unknown experiment or backend.
  struct StateReads {
    std::string backend;
    std::vector<PlannedRequest> requests;
  };
  Result<std::vector<StateReads>> state_reads(const Update& update, const PlanOptions& options = {}) const;
  /// The neutral state of `backend` from the answers to its `state_reads`.
  Result<Experiment> read_state(const std::string& backend, const Update& update,
                                const std::vector<ReadResponse>& responses) const;

  /// The partial binding a create of `experiment` at `backend` starts from (`migrate`, where the
  /// experiment is not bound there): the backend's `create:` defaults, overlaid member by member
  /// by `imported` (an import folder's), then by the experiment's own
  /// `experiments.<key>.<backend>.create` — the config's word on one experiment wins. Empty when
  /// none gives anything. Each part was checked at load (`Adapter::check_create_binding`).
  boost::json::object create_binding(const std::string& experiment, const std::string& backend,
                                     const boost::json::object* imported = nullptr) const;
  /// The backends `experiment` is bound to, in config order (empty for an unknown key).
  std::vector<std::string> bound_backends(const std::string& experiment) const;
  /// One step of reading `experiment` at `backend` (see `Adapter::read`, and its `hint`);
  /// `not_found` when the experiment is not bound there.
  Result<ReadStep> read_step(const std::string& backend, const std::string& experiment,
                             const std::vector<ReadResponse>& answers, const ReadHint* hint = nullptr) const;

  const std::vector<BackendInfo>& backends() const;
  std::vector<std::string> experiments() const;
  const std::string& source() const;

  ~Bridge();
  Bridge(Bridge&&) noexcept;
  Bridge& operator=(Bridge&&) noexcept;

 private:
  struct Impl;
  explicit Bridge(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Loads the mapping table for `vendor`: `<mappings_dir>/<vendor>.yaml` when that
/// file exists, else the table the vendor was registered with in `registry` (when it has
/// one), else the embedded one.
Result<std::shared_ptr<const MappingTable>> load_mapping_table(std::string_view vendor,
                                                               const std::string& mappings_dir = {},
                                                               const Registry* registry = nullptr);

}  // namespace expbridge
