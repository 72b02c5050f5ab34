// expbridge tests — a test-only vendor, `counting`, that counts what the core asks of it.
//
// Core tests use it instead of the real adapters: a tiny mapping table (description,
// exposure with an "only rises" rule that needs a state read, a non-idempotent start),
// registered into a test `Registry` through `Registry::add`, and counters per backend
// for every call the core makes (plan with and without state, state reads, auth). Each
// call can be told to throw or to fail, to check that the core contains it.
//
// Requests it plans (BASE is the backend's `endpoint`, else https://counting.example.test):
//   description      PATCH BASE/experiments/{id}           {"description": ...}   idempotent
//   exposure         PUT   BASE/experiments/{id}/exposure  {"exposure": ...}      idempotent;
//                    reads GET BASE/experiments/{id} first ({"exposure": N} or 404) and
//                    refuses a decrease when the state is known
//   action: start    POST  BASE/experiments/{id}/start     (no body)              NOT idempotent
// Reads (`Adapter::read`): GET BASE/experiments/{id} ({"exposure", "description", "status"}),
// then GET …?page=TOKEN while an answer carries `"next": TOKEN`; 404 is `not_found`.
// Creates (`Adapter::create`, for migrate): GET BASE/flags/{flag} when the partial binding names a
// `flag` (404: `not_found`, nothing created), POST BASE/experiments {key, description,
// exposure_thousandths, variants: [{key, weight}]} (201, answers {"id"}; NOT idempotent), then POST
// BASE/experiments/{id}/start when the desired state is running; the binding is {id}. Carriage:
// description and variations (keys, weights) carried, exposure converted to thousandths, variation
// descriptions and values lost, status carried for running or draft; the rest lost.
// Every other neutral field is skipped with the table's reason.
//
// Config: `backends.NAME: {vendor: counting, auth?: none|token|oauth, ...common keys}`;
// bindings: `experiments.KEY.NAME: {id: ID}`. `auth: token` sends `Authorization` from the
// environment variable COUNTING_TOKEN; `auth: oauth` fetches a bearer token at
// BASE/oauth/token with COUNTING_CLIENT_ID / COUNTING_CLIENT_SECRET.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "expbridge/adapter.hpp"
#include "expbridge/bridge.hpp"

namespace expbridge::test {

/// Where a counting backend misbehaves on purpose.
enum class CountingStage {
  none,
  auth,            ///< `Adapter::auth()` throws (when the Applier builds its authenticator)
  state_requests,  ///< `state_requests()` throws
  read_state,      ///< `read_state()` throws
  plan,            ///< `plan()` throws
  plan_with_state, ///< `plan()` throws when given a current state (the plan after the state reads)
  bind,            ///< `bind()` throws (when the config is loaded)
};

/// The calls one counting backend received.
struct CountingCalls {
  int plan = 0;                ///< every `plan` call
  int plan_with_state = 0;     ///< of them, with a current state
  int state_requests = 0;      ///< `state_requests` calls
  int read_state = 0;          ///< `read_state` calls
  int auth = 0;                ///< `auth` calls
  int read = 0;                ///< `read` steps (one per answer batch, plus the first)
  int create = 0;              ///< `create` steps
};

/// The shared state of every counting backend of a test: counters, faults, registry, table.
class CountingVendor {
 public:
  static constexpr std::string_view kVendor = "counting";
  static constexpr std::string_view kBaseUrl = "https://counting.example.test";

  /// Writes the mapping table into a fresh temporary folder (removed by the destructor).
  static std::shared_ptr<CountingVendor> make();
  ~CountingVendor();
  CountingVendor(const CountingVendor&) = delete;
  CountingVendor& operator=(const CountingVendor&) = delete;

  /// A registry that knows `counting` only (no real vendor).
  const Registry& registry() const { return registry_; }
  /// For `Bridge::from_text`: this registry and the folder holding `counting.yaml`. The
  /// CountingVendor must outlive the Bridge built with them.
  BridgeOptions bridge_options() const;
  /// The mapping table's text.
  static std::string_view table_yaml();

  CountingCalls& calls(std::string_view backend) { return calls_[std::string(backend)]; }
  /// `backend` throws std::runtime_error("counting: injected failure in <stage>") at `stage`.
  void throw_at(std::string_view backend, CountingStage stage) { faults_[std::string(backend)] = stage; }
  CountingStage fault(std::string_view backend) const;
  /// `read_state` of `backend` returns an `internal` error value (not an exception).
  void fail_read_state(std::string_view backend) { failing_reads_.insert(std::string(backend)); }
  bool read_state_fails(std::string_view backend) const { return failing_reads_.contains(std::string(backend)); }

 private:
  CountingVendor() = default;
  std::filesystem::path dir_;
  Registry registry_;
  std::map<std::string, CountingCalls, std::less<>> calls_;
  std::map<std::string, CountingStage, std::less<>> faults_;
  std::set<std::string, std::less<>> failing_reads_;
};

/// Adds the `counting` vendor to `registry`, its backends sharing `vendor`'s counters.
Status register_counting_adapter(Registry& registry, std::shared_ptr<CountingVendor> vendor);

}  // namespace expbridge::test
