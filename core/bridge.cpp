#include "expbridge/bridge.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <mutex>

#include "document.hpp"
#include "expbridge/update.hpp"
#include "json_reader.hpp"
#include "message_text.hpp"
#include "url.hpp"

namespace expbridge {
namespace {

// Settings the core reads for every backend; everything else belongs to the vendor's adapter.
constexpr std::string_view kCommonKeys[] = {"vendor",      "endpoint",      "strict",       "timeout_ms",
                                           "deadline_ms", "attempts",      "retry_base_ms", "retry_cap_ms",
                                           "max_in_flight", "read_state",   "concurrency",  "rate_limit",
                                           "create"};

// `rate_limit: N/s` or `N/min` as requests per second; N a positive number.
Result<double> parse_rate_limit(ObjectReader& reader) {
  std::optional<std::string> text;
  EXPBRIDGE_ASSIGN_OR_RETURN(text, reader.optional_string("rate_limit"));
  if (!text) return 0.0;
  auto refuse = [&](std::string why) {
    return std::unexpected(reader.error("rate_limit", "must be N/s or N/min (e.g. 10/s, 600/min), found '" + *text +
                                                          "'" + (why.empty() ? "" : ": " + why)));
  };
  const auto slash = text->find('/');
  if (slash == std::string::npos) return refuse("");
  const std::string number = text->substr(0, slash), unit = text->substr(slash + 1);
  double per = 0;
  if (unit == "s") per = 1;
  else if (unit == "min") per = 60;
  else return refuse("the unit is s or min");
  if (number.empty() || number.find_first_not_of("0123456789.") != std::string::npos ||
      std::count(number.begin(), number.end(), '.') > 1 || number.front() == '.' || number.back() == '.')
    return refuse("");
  double n = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  if (ec != std::errc{} || end != number.data() + number.size()) return refuse("");
  const double per_second = n / per;
  if (n <= 0) return refuse("the rate must be above 0");
  if (per_second > 10000) return refuse("at most 10000/s");
  if (per_second < 1.0 / 60) return refuse("at least 1/min");
  return per_second;
}

Result<SendOptions> read_send_options(ObjectReader& reader) {
  SendOptions send;
  struct Millis {
    const char* key;
    std::chrono::milliseconds* target;
    std::int64_t min, max;
  };
  for (const Millis& m : {Millis{"timeout_ms", &send.timeout, 1, 600000}, Millis{"deadline_ms", &send.deadline, 1, 3600000},
                          Millis{"retry_base_ms", &send.retry_base, 1, 60000},
                          Millis{"retry_cap_ms", &send.retry_cap, 1, 600000}}) {
    std::optional<std::int64_t> v;
    EXPBRIDGE_ASSIGN_OR_RETURN(v, reader.optional_integer(m.key));
    if (!v) continue;
    if (*v < m.min || *v > m.max)
      return std::unexpected(reader.error(m.key, "must be " + std::to_string(m.min) + ".." + std::to_string(m.max) + " ms"));
    *m.target = std::chrono::milliseconds(*v);
  }
  std::optional<std::int64_t> v;
  EXPBRIDGE_ASSIGN_OR_RETURN(v, reader.optional_integer("attempts"));
  if (v && (*v < 1 || *v > 10)) return std::unexpected(reader.error("attempts", "must be 1..10"));
  if (v) send.attempts = static_cast<int>(*v);
  EXPBRIDGE_ASSIGN_OR_RETURN(v, reader.optional_integer("max_in_flight"));
  if (v && (*v < 1 || *v > 64)) return std::unexpected(reader.error("max_in_flight", "must be 1..64"));
  if (v) send.max_in_flight = static_cast<int>(*v);
  std::optional<std::string> concurrency;
  EXPBRIDGE_ASSIGN_OR_RETURN(concurrency, reader.optional_string("concurrency"));
  if (concurrency && *concurrency != "adaptive" && *concurrency != "fixed")
    return std::unexpected(reader.error("concurrency", "must be adaptive or fixed, found '" + *concurrency + "'"));
  send.adaptive = concurrency.value_or("adaptive") == "adaptive";
  EXPBRIDGE_ASSIGN_OR_RETURN(send.rate_limit_per_s, parse_rate_limit(reader));
  std::optional<bool> read_state;
  EXPBRIDGE_ASSIGN_OR_RETURN(read_state, reader.optional_bool("read_state"));
  send.read_state = read_state.value_or(true);
  return send;
}

Error locate(Error e, const Document& doc) {
  if (!e.file.empty()) return e;
  Error located = doc.error_at(e.field, std::move(e.message));
  located.code = e.code;
  located.backend = std::move(e.backend);
  located.vendor = std::move(e.vendor);
  return located;
}

bool valid_backend_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (unsigned char c : name)
    if (!std::isalnum(c) && c != '-' && c != '_') return false;
  return true;
}

}  // namespace

struct Bridge::Impl {
  std::string source;
  std::vector<BackendInfo> backends;
  std::vector<std::unique_ptr<Adapter>> adapters;  // parallel to backends
  std::vector<boost::json::object> create_defaults;  // parallel to backends: `backends.<name>.create`
  // `experiments.<key>.<backend>.create`: the partial bindings of backends not bound yet.
  std::map<std::string, std::map<std::string, boost::json::object>, std::less<>> creates;
  struct BoundBackend {
    std::size_t backend;
    std::unique_ptr<const Binding> binding;
  };
  std::map<std::string, std::vector<BoundBackend>, std::less<>> experiments;
  const Registry* registry = nullptr;
};

Result<std::shared_ptr<const MappingTable>> load_mapping_table(std::string_view vendor, const std::string& mappings_dir,
                                                               const Registry* registry) {
  if (!mappings_dir.empty()) {
    std::filesystem::path file = std::filesystem::path(mappings_dir) / (std::string(vendor) + ".yaml");
    std::error_code ec;
    if (std::filesystem::exists(file, ec)) {
      auto text = read_text(file.string());
      if (!text) return std::unexpected(std::move(text).error());
      auto table = MappingTable::parse(*text, file.string());
      if (!table) return std::unexpected(std::move(table).error());
      if (table->vendor() != vendor) {
        Error e = make_error(ErrorCode::invalid_input, "the table says vendor '" + table->vendor() + "', expected '" +
                                                           std::string(vendor) + "'");
        e.file = file.string();
        e.field = "vendor";
        return std::unexpected(std::move(e));
      }
      return std::make_shared<const MappingTable>(std::move(*table));
    }
  }
  if (registry != nullptr) {
    auto own = registry->own_table(vendor);
    if (!own || *own) return own;
  }
  // Embedded tables never change in a process: parse (and compile their patterns) once.
  static std::mutex cache_mutex;
  static std::map<std::string, std::shared_ptr<const MappingTable>, std::less<>> cache;
  std::lock_guard lock(cache_mutex);
  if (auto it = cache.find(vendor); it != cache.end()) return it->second;
  auto embedded = embedded_mapping_table(vendor);
  if (!embedded) {
    Error e = make_error(ErrorCode::internal, "no mapping table for vendor " + quote_value(vendor));
    return std::unexpected(std::move(e));
  }
  auto table = MappingTable::parse_embedded(embedded->json, embedded->examples_json,
                                            "mappings/" + std::string(vendor) + ".yaml (embedded)");
  if (!table) return std::unexpected(std::move(table).error());
  auto shared = std::make_shared<const MappingTable>(std::move(*table));
  cache.emplace(std::string(vendor), shared);
  return shared;
}

Bridge::Bridge(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Bridge::~Bridge() = default;
Bridge::Bridge(Bridge&&) noexcept = default;
Bridge& Bridge::operator=(Bridge&&) noexcept = default;

const std::vector<BackendInfo>& Bridge::backends() const { return impl_->backends; }
const std::string& Bridge::source() const { return impl_->source; }
std::vector<std::string> Bridge::experiments() const {
  std::vector<std::string> out;
  for (const auto& [key, bound] : impl_->experiments) out.push_back(key);
  return out;
}

Result<Bridge> Bridge::load(const std::string& config_path, BridgeOptions options) {
  auto text = read_text(config_path);
  if (!text) return std::unexpected(std::move(text).error());
  return from_text(*text, config_path, std::move(options));
}

Result<Bridge> Bridge::from_text(std::string_view config, std::string source, BridgeOptions options) {
  auto doc = parse_document(config, std::move(source));
  if (!doc) return std::unexpected(std::move(doc).error());
  auto fail = [&](Error e) { return std::unexpected(locate(std::move(e), *doc)); };

  auto impl = std::make_unique<Impl>();
  impl->source = doc->source;
  impl->registry = options.registry ? options.registry : &Registry::builtin();

  auto root = ObjectReader::open(doc->root, "");
  if (!root) return fail(std::move(root).error());
  // Unknown keys first: `backend:` is better reported as a typo than as a missing `backends`.
  auto backends = root->optional_object("backends");
  auto experiments = root->optional_object("experiments");
  if (auto ok = root->finish(); !ok) return fail(std::move(ok).error());
  if (!backends) return fail(std::move(backends).error());
  if (!experiments) return fail(std::move(experiments).error());
  if (!*backends) return fail(root->error("backends", "is required: a mapping of backend names to vendor settings"));
  if ((*backends)->empty()) return fail(root->error("backends", "must configure at least one backend"));

  std::map<std::string, std::shared_ptr<const MappingTable>, std::less<>> tables;
  for (const auto& member : **backends) {
    std::string name(member.key());
    std::string path = join_path("backends", name);
    if (!valid_backend_name(name)) {
      Error e = make_error(ErrorCode::invalid_input, "a backend name is 1..64 letters, digits, '-' or '_'");
      e.field = path;
      return fail(std::move(e));
    }
    auto reader = ObjectReader::open(member.value(), path);
    if (!reader) return fail(std::move(reader).error());
    auto vendor = reader->required_string("vendor");
    if (!vendor) return fail(std::move(vendor).error());
    auto endpoint = reader->optional_string("endpoint");
    if (!endpoint) return fail(std::move(endpoint).error());
    auto strict = reader->optional_bool("strict");
    if (!strict) return fail(std::move(strict).error());
    auto send = read_send_options(*reader);
    if (!send) return fail(std::move(send).error());

    const AdapterFactory* factory = impl->registry->find(*vendor);
    if (!factory) {
      std::string known;
      for (const auto& v : impl->registry->vendors()) known += (known.empty() ? "" : ", ") + v;
      std::string message = "unknown vendor " + quote_value(*vendor);
      if (auto guess = closest_name(*vendor, impl->registry->vendors()); !guess.empty())
        message += " (did you mean '" + guess + "'?)";
      return fail(reader->error("vendor", message + "; known vendors: " + known));
    }
    std::string checked_endpoint;
    if (*endpoint) {
      auto ok = check_endpoint(**endpoint);
      if (!ok) {
        Error e = std::move(ok).error();
        e.field = reader->member_path("endpoint");
        e.backend = name;
        e.vendor = *vendor;
        return fail(std::move(e));
      }
      checked_endpoint = *ok;
    }
    if (!tables.contains(*vendor)) {
      auto table = load_mapping_table(*vendor, options.mappings_dir, impl->registry);
      if (!table) return std::unexpected(std::move(table).error());
      tables.emplace(*vendor, *table);
    }
    boost::json::object vendor_settings = member.value().get_object();
    for (auto key : kCommonKeys) vendor_settings.erase(key);

    BackendContext context{name, &vendor_settings, path, tables[*vendor], checked_endpoint};
    auto adapter = (*factory)(context);
    if (!adapter) {
      Error e = std::move(adapter).error();
      e.backend = name;
      e.vendor = *vendor;
      return fail(std::move(e));
    }
    // How the backend authenticates is checked now, not at its first send.
    if (auto ok = (*adapter)->prepare_auth(); !ok) return fail(std::move(ok).error());
    const HttpSpec& http = tables[*vendor]->http();
    if (!send->adaptive) {
      if (send->max_in_flight == 0) send->max_in_flight = http.max_in_flight;
      send->start_in_flight = send->max_in_flight;
    } else {
      if (send->max_in_flight == 0) send->max_in_flight = http.grow_to;
      send->start_in_flight = std::min(send->max_in_flight, http.max_in_flight);
    }
    boost::json::object create_defaults;
    if (const auto* given = member.value().get_object().if_contains("create")) {
      const std::string create_path = join_path(path, "create");
      if (!given->is_object()) {
        Error e = make_error(ErrorCode::invalid_input,
                             "must be a mapping: the partial binding every experiment `migrate` creates here starts from");
        e.field = create_path;
        e.backend = name;
        e.vendor = *vendor;
        return fail(std::move(e));
      }
      if (auto ok = (*adapter)->check_create_binding(given->get_object(), create_path); !ok) return fail(std::move(ok).error());
      create_defaults = given->get_object();
    }
    impl->backends.push_back(BackendInfo{name, *vendor, strict->value_or(false), adapter->get(), *send, tables[*vendor]});
    impl->adapters.push_back(std::move(*adapter));
    impl->create_defaults.push_back(std::move(create_defaults));
  }

  std::map<std::string_view, std::size_t> backend_index;
  for (std::size_t i = 0; i < impl->backends.size(); ++i) backend_index.emplace(impl->backends[i].name, i);
  if (*experiments) {
    for (const auto& member : **experiments) {
      std::string key(member.key());
      std::string path = join_path("experiments", key);
      if (!member.value().is_object()) {
        Error e = make_error(ErrorCode::invalid_input, "must map backend names to bindings");
        e.field = path;
        return fail(std::move(e));
      }
      auto& bound = impl->experiments[key];
      for (const auto& b : member.value().get_object()) {
        std::string binding_path = join_path(path, b.key());
        const auto found = backend_index.find(b.key());
        const std::size_t index = found == backend_index.end() ? impl->backends.size() : found->second;
        if (index == impl->backends.size()) {
          std::vector<std::string> names;
          for (const auto& info : impl->backends) names.push_back(info.name);
          std::string message = "no backend named " + quote_value(b.key());
          if (auto guess = closest_name(b.key(), names); !guess.empty()) message += " (did you mean '" + guess + "'?)";
          Error e = make_error(ErrorCode::invalid_input, message);
          e.field = binding_path;
          return fail(std::move(e));
        }
        if (!b.value().is_object()) {
          Error e = make_error(ErrorCode::invalid_input, "a binding must be a mapping of vendor ids");
          e.field = binding_path;
          return fail(std::move(e));
        }
        if (const auto* create = b.value().get_object().if_contains("create")) {
          // Not bound yet: what `migrate` creates it with.
          const std::string create_path = join_path(binding_path, "create");
          Error e = make_error(ErrorCode::invalid_input, "");
          e.backend = b.key();
          e.vendor = impl->backends[index].vendor;
          if (b.value().get_object().size() != 1) {
            e.field = binding_path;
            e.message = "holds vendor ids and `create`: `create` is for a backend the experiment is not bound to yet "
                        "(the partial binding `migrate` creates it with); a binding with ids is bound already";
            return fail(std::move(e));
          }
          if (!create->is_object()) {
            e.field = create_path;
            e.message = "must be a mapping: the partial binding `migrate` creates the experiment with here";
            return fail(std::move(e));
          }
          if (auto ok = impl->adapters[index]->check_create_binding(create->get_object(), create_path); !ok)
            return fail(std::move(ok).error());
          impl->creates[key][std::string(b.key())] = create->get_object();
          continue;
        }
        auto binding = impl->adapters[index]->bind(b.value().get_object(), binding_path);
        if (!binding) return fail(std::move(binding).error());
        bound.push_back(Impl::BoundBackend{index, std::move(*binding)});
      }
      // Config order, whatever order the bindings were written in.
      std::sort(bound.begin(), bound.end(), [](const auto& a, const auto& b) { return a.backend < b.backend; });
    }
  }
  return Bridge(std::move(impl));
}

Result<std::vector<Bridge::StateReads>> Bridge::state_reads(const Update& update, const PlanOptions& options) const {
  std::vector<StateReads> out;
  auto experiment = impl_->experiments.find(update.experiment);
  if (experiment == impl_->experiments.end()) return out;  // plan() reports it, with the file
  for (const auto& bound : experiment->second) {
    const BackendInfo& info = impl_->backends[bound.backend];
    if (!info.send.read_state) continue;
    if (!options.backends.empty() &&
        std::find(options.backends.begin(), options.backends.end(), info.name) == options.backends.end())
      continue;
    auto requests = impl_->adapters[bound.backend]->state_requests(update, *bound.binding);
    if (!requests) return std::unexpected(std::move(requests).error());
    if (!requests->empty()) out.push_back(StateReads{info.name, std::move(*requests)});
  }
  return out;
}

Result<Experiment> Bridge::read_state(const std::string& backend, const Update& update,
                                      const std::vector<ReadResponse>& responses) const {
  auto experiment = impl_->experiments.find(update.experiment);
  if (experiment != impl_->experiments.end())
    for (const auto& bound : experiment->second)
      if (impl_->backends[bound.backend].name == backend)
        return impl_->adapters[bound.backend]->read_state(*bound.binding, responses);
  return std::unexpected(make_error(ErrorCode::internal, "no binding of backend '" + backend + "' to read"));
}

boost::json::object Bridge::create_binding(const std::string& experiment, const std::string& backend,
                                           const boost::json::object* imported) const {
  boost::json::object out;
  auto overlay = [&out](const boost::json::object& over) {
    for (const auto& member : over) out[member.key()] = member.value();
  };
  for (std::size_t i = 0; i < impl_->backends.size(); ++i)
    if (impl_->backends[i].name == backend) overlay(impl_->create_defaults[i]);
  if (imported) overlay(*imported);
  if (auto found = impl_->creates.find(experiment); found != impl_->creates.end())
    if (auto at = found->second.find(backend); at != found->second.end()) overlay(at->second);
  return out;
}

std::vector<std::string> Bridge::bound_backends(const std::string& experiment) const {
  std::vector<std::string> out;
  auto found = impl_->experiments.find(experiment);
  if (found != impl_->experiments.end())
    for (const auto& bound : found->second) out.push_back(impl_->backends[bound.backend].name);
  return out;
}

Result<ReadStep> Bridge::read_step(const std::string& backend, const std::string& experiment,
                                   const std::vector<ReadResponse>& answers, const ReadHint* hint) const {
  auto found = impl_->experiments.find(experiment);
  if (found != impl_->experiments.end())
    for (const auto& bound : found->second)
      if (impl_->backends[bound.backend].name == backend) {
        auto step = impl_->adapters[bound.backend]->read(*bound.binding, answers, hint);
        // The vendor knows its own ids only: the neutral key is the config's.
        if (step && step->state) step->state->experiment.experiment = experiment;
        return step;
      }
  Error e = make_error(ErrorCode::not_found, "experiment " + quote_value(experiment) + " is not bound to backend " +
                                                 quote_value(backend) + " in " + impl_->source);
  e.backend = backend;
  return std::unexpected(std::move(e));
}

Result<Plan> Bridge::plan(const Update& update, const PlanOptions& options) const {
  auto in_update = [&](Error e) {
    if (e.file.empty()) e.file = update.source;
    return std::unexpected(std::move(e));
  };
  if (auto ok = validate_update(update); !ok) return in_update(std::move(ok).error());
  for (const auto& member : update.vendor) {
    if (!impl_->registry->find(member.key())) {
      std::string message = "unknown vendor " + quote_value(member.key());
      if (auto guess = closest_name(member.key(), impl_->registry->vendors()); !guess.empty())
        message += " (did you mean '" + guess + "'?)";
      Error e = make_error(ErrorCode::invalid_input, message);
      e.field = join_path("vendor", member.key());
      return in_update(std::move(e));
    }
  }
  auto experiment = impl_->experiments.find(update.experiment);
  if (experiment == impl_->experiments.end()) {
    std::vector<std::string> keys = experiments();
    std::string message = "experiment '" + update.experiment + "' is not in the config " + impl_->source;
    if (auto guess = closest_name(update.experiment, keys); !guess.empty()) message += " (did you mean '" + guess + "'?)";
    Error e = make_error(ErrorCode::invalid_input, message);
    e.field = "experiment";
    return in_update(std::move(e));
  }
  for (const auto& wanted : options.backends) {
    bool configured = false, bound = false;
    for (std::size_t i = 0; i < impl_->backends.size(); ++i) {
      if (impl_->backends[i].name != wanted) continue;
      configured = true;
      for (const auto& b : experiment->second) bound = bound || b.backend == i;
    }
    if (!configured || !bound) {
      Error e = make_error(ErrorCode::invalid_input,
                           configured ? "backend " + quote_value(wanted) + " has no binding for experiment " +
                                            quote_value(update.experiment)
                                      : "no backend named " + quote_value(wanted) + " in " + impl_->source);
      e.backend = wanted;
      return std::unexpected(std::move(e));
    }
  }

  Plan plan;
  plan.experiment = update.experiment;
  for (const auto& bound : experiment->second) {
    const BackendInfo& info = impl_->backends[bound.backend];
    if (!options.backends.empty() &&
        std::find(options.backends.begin(), options.backends.end(), info.name) == options.backends.end())
      continue;
    PlanContext context;
    for (const auto& [name, read] : options.reads)
      if (name == info.name) {
        context.read = read;
        context.current = &read->experiment;
      }
    for (const auto& [name, state] : options.current)
      if (name == info.name) context.current = state;
    auto backend_plan = impl_->adapters[bound.backend]->plan(update, *bound.binding, context);
    if (!backend_plan) return in_update(std::move(backend_plan).error());
    if ((options.strict || info.strict) && !backend_plan->skipped.empty()) {
      std::string message = "strict: this backend would skip ";
      for (std::size_t i = 0; i < backend_plan->skipped.size(); ++i)
        message += (i ? "; " : "") + backend_plan->skipped[i].field + " (" + backend_plan->skipped[i].reason + ")";
      Error e = make_error(ErrorCode::unsupported, message + "; nothing was sent");
      e.backend = info.name;
      e.vendor = info.vendor;
      e.field = backend_plan->skipped.front().field;
      return in_update(std::move(e));
    }
    plan.backends.push_back(std::move(*backend_plan));
  }
  return plan;
}

}  // namespace expbridge
