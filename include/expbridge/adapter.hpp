// expbridge — the vendor adapter interface and the registry of vendors.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "expbridge/error.hpp"
#include "expbridge/mapping.hpp"
#include "expbridge/model.hpp"
#include "expbridge/plan.hpp"

namespace expbridge {

/// How requests to a backend are authenticated. Built by the adapter from its
/// options; carried out by the core when sending. Names only where secrets live
/// (environment variables, profiles), never the secrets themselves.
struct AuthSpec {
  std::string scheme;  ///< `sigv4`, `header_token`, `oauth_client_credentials`, or `none`
  /// Scheme parameters, e.g. sigv4: service, region, profile; header_token: header, env;
  /// oauth_client_credentials: token_url, audience, client_id_env, client_secret_env.
  std::map<std::string, std::string, std::less<>> params;
  /// Headers every request carries (e.g. an API version), not secret.
  std::vector<std::pair<std::string, std::string>> headers;
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
};

/// A vendor's answer to a state read: its HTTP status and body, whatever the status.
struct ReadResponse {
  int status = 0;
  std::string body;
};

/// One backend: a vendor adapter built with that backend's options.
/// Implementations are pure translators: they build requests, they do not send them.
class Adapter {
 public:
  virtual ~Adapter() = default;

  /// The vendor name, e.g. `appconfig`.
  virtual std::string_view vendor() const = 0;

  /// Validates `experiments.<key>.<backend>` once, when the config is loaded.
  /// `path` is that binding's location in the config, for error messages.
  virtual Result<std::unique_ptr<const Binding>> bind(const boost::json::object& binding,
                                                      const std::string& path) const = 0;

  /// The requests that carry `update` to this backend, in order, and the fields it skips.
  /// Returns invalid_input (naming the field and the vendor rule) for a value the
  /// vendor would reject; nothing is sent then. Never drops a field silently.
  virtual Result<BackendPlan> plan(const Update& update, const Binding& binding,
                                   const PlanContext& context) const = 0;

  /// How requests to this backend authenticate.
  virtual AuthSpec auth() const = 0;

  /// The reads (GET requests) of the vendor's current state that planning `update` needs,
  /// e.g. AppConfig's current exposure to refuse a decrease. `apply` sends them before any
  /// plan is built and hands the answers to `read_state`; `plan` alone never reads. Empty
  /// (the default): this update's rules do not depend on state.
  virtual std::vector<PlannedRequest> state_requests(const Update& /*update*/, const Binding& /*binding*/) const {
    return {};
  }

  /// The neutral state from the answers to `state_requests` (same order). A vendor answer
  /// that means "nothing there yet" (a run not started) gives an empty `Experiment`.
  virtual Result<Experiment> read_state(const Binding& /*binding*/, const std::vector<ReadResponse>& /*responses*/) const {
    return Experiment{};
  }
};

/// What a factory receives to build one backend.
struct BackendContext {
  std::string name;                       ///< the configured backend name
  const boost::json::object* settings;    ///< the vendor's own settings (common keys removed)
  std::string path;                       ///< `backends.<name>`, for error messages
  std::shared_ptr<const MappingTable> table;
  std::string endpoint;                   ///< override of the base URL; empty = the vendor's default
};

/// Builds an adapter from a backend's settings, rejecting unknown or missing ones.
using AdapterFactory = std::function<Result<std::unique_ptr<Adapter>>(const BackendContext&)>;

/// The known vendors. Each adapter registers itself with one explicit call
/// (`register_<vendor>(Registry&)`) from the built-in list.
class Registry {
 public:
  /// Adds a vendor; refuses a duplicate name.
  Status add(std::string vendor, AdapterFactory factory);
  const AdapterFactory* find(std::string_view vendor) const;
  std::vector<std::string> vendors() const;

  /// A registry holding every built-in vendor.
  static const Registry& builtin();

 private:
  std::map<std::string, AdapterFactory, std::less<>> factories_;
};

/// Fills `registry` with the built-in vendors (the one list a new vendor is added to).
void register_builtin_adapters(Registry& registry);

}  // namespace expbridge
