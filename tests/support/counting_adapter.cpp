// expbridge tests — the `counting` test vendor (see counting_adapter.hpp).
#include "support/counting_adapter.hpp"

#include <atomic>
#include <cstdio>
#include <fstream>
#include <random>
#include <stdexcept>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

namespace expbridge::test {
namespace {

constexpr std::string_view kTable = R"(# The counting test vendor: just enough table for the core's tests.
vendor: counting
title: Counting test vendor
base_url: https://counting.example.test
auth: {scheme: none}
http:
  errors:
    code: ["body:code"]
    message: ["body:message"]
    request_id: ["header:x-request-id"]
  retry:
    statuses: [429, 500, 502, 503, 504]
  max_in_flight: 4
operations:
  SetDescription: {method: PATCH, path: "/experiments/{id}", success: 200, idempotent: true}
  SetExposure: {method: PUT, path: "/experiments/{id}/exposure", success: 200, idempotent: true}
  StartExperiment: {method: POST, path: "/experiments/{id}/start", success: 201, idempotent: false, body: false}
  CreateExperiment: {method: POST, path: "/experiments", success: 201, idempotent: false}
  GetFlag: {method: GET, path: "/flags/{id}", success: 200, idempotent: true, body: false}
  GetExperiment: {method: GET, path: "/experiments/{id}", success: 200, idempotent: true, body: false}
fields:
  name: {skip: the counting vendor has no name}
  description: {operation: SetDescription, wire: description}
  hypothesis: {skip: the counting vendor has no hypothesis}
  launch_criteria: {skip: the counting vendor has no launch criteria}
  audience.rule: {skip: the counting vendor has no audience}
  audience.description: {skip: the counting vendor has no audience}
  variations: {skip: the counting vendor has no variations}
  exposure: {operation: SetExposure, wire: exposure}
  overrides: {skip: the counting vendor has no overrides}
  action:
    operation: StartExperiment
    values: {start: StartExperiment}
    skip_values: {stop: only start is modelled, pause: only start is modelled, archive: only start is modelled, restore: only start is modelled}
  result: {skip: the counting vendor keeps no result}
  comment: {skip: the counting vendor keeps no comment}
  vendor: {skip: the counting vendor takes no pass-through}
limits:
  exposure: {min: 0, max: 100, only_increase: true, rule: "counting exposure may only rise"}
)";

class CountingBinding final : public Binding {
 public:
  explicit CountingBinding(std::string id) : id(std::move(id)) {}
  std::string id;
};

class CountingAdapter final : public Adapter {
 public:
  CountingAdapter(const BackendContext& context, std::string base, std::string auth, CountingVendor* vendor)
      : Adapter(context, std::string(CountingVendor::kVendor)), backend_(context.name), table_(context.table),
        base_(std::move(base)), auth_(std::move(auth)), vendor_(vendor) {}

 protected:
  Result<std::unique_ptr<const Binding>> do_bind(const boost::json::object& binding, const std::string& path) const override {
    maybe_throw(CountingStage::bind);
    const auto* id = binding.if_contains("id");
    if (binding.size() != 1 || !id || !id->is_string() || id->get_string().empty())
      return std::unexpected(invalid_field(path, "a counting binding is exactly {id: NON-EMPTY STRING}"));
    return std::make_unique<const CountingBinding>(std::string(id->get_string()));
  }

  Result<BackendPlan> do_plan(const Update& update, const Binding& binding, const PlanContext& context) const override {
    auto& calls = vendor_->calls(backend_);
    ++calls.plan;
    if (context.current) ++calls.plan_with_state;
    maybe_throw(CountingStage::plan);
    if (context.current) maybe_throw(CountingStage::plan_with_state);
    const auto& id = static_cast<const CountingBinding&>(binding).id;
    BackendPlan out;
    if (update.description) {
      auto request = make_request("SetDescription", id);
      if (!request) return std::unexpected(std::move(request).error());
      request->body = boost::json::object{{"description", *update.description}};
      out.requests.push_back(std::move(*request));
      carry(out, field::description);
    }
    if (update.exposure) {
      if (context.current && context.current->exposure && *update.exposure < *context.current->exposure) {
        Error e = invalid_field("exposure", "counting exposure may only rise (" + std::to_string(*context.current->exposure) +
                                                " now, " + std::to_string(*update.exposure) + " asked)");
        return std::unexpected(std::move(e));
      }
      auto request = make_request("SetExposure", id);
      if (!request) return std::unexpected(std::move(request).error());
      request->body = boost::json::object{{"exposure", *update.exposure}};
      out.requests.push_back(std::move(*request));
      carry(out, field::exposure);
    }
    if (update.action) {
      if (*update.action == Action::start) {
        auto request = make_request("StartExperiment", id);
        if (!request) return std::unexpected(std::move(request).error());
        out.requests.push_back(std::move(*request));
        carry(out, field::action);
      } else {
        const std::string value(to_string(*update.action));
        out.skipped.push_back(Skip{"action." + value, table_->field("action").skip_values.at(value)});
      }
    }
    for (const auto& [present, neutral] :
         std::initializer_list<std::pair<bool, const char*>>{{update.name.has_value(), "name"},
                                                             {update.hypothesis.has_value(), "hypothesis"},
                                                             {update.variations.has_value(), "variations"},
                                                             {update.overrides.has_value(), "overrides"},
                                                             {update.comment.has_value(), "comment"}})
      if (present) out.skipped.push_back(Skip{neutral, table_->field(neutral).skip});
    return out;
  }

  Result<AuthSpec> do_auth() const override {
    ++vendor_->calls(backend_).auth;
    maybe_throw(CountingStage::auth);
    AuthSpec spec;
    if (auth_ == "token") {
      spec.method = HeaderTokenAuth{"Authorization", "COUNTING_TOKEN", std::nullopt};
    } else if (auth_ == "oauth") {
      spec.method = OAuthClientCredentialsAuth{base_ + "/oauth/token", "", "COUNTING_CLIENT_ID", "COUNTING_CLIENT_SECRET"};
    } else {
      spec.method = NoAuth{};
    }
    return spec;
  }

  Result<std::vector<PlannedRequest>> do_state_requests(const Update& update, const Binding& binding) const override {
    ++vendor_->calls(backend_).state_requests;
    maybe_throw(CountingStage::state_requests);
    if (!update.exposure) return std::vector<PlannedRequest>{};
    auto request = make_request("GetExperiment", static_cast<const CountingBinding&>(binding).id);
    if (!request) return std::unexpected(std::move(request).error());
    return std::vector<PlannedRequest>{std::move(*request)};
  }

  Result<Experiment> do_read_state(const Binding& /*binding*/, const std::vector<ReadResponse>& responses) const override {
    ++vendor_->calls(backend_).read_state;
    maybe_throw(CountingStage::read_state);
    if (vendor_->read_state_fails(backend_))
      return std::unexpected(make_error(ErrorCode::internal, "counting: injected read_state error"));
    Experiment state;
    if (responses.size() != 1) return std::unexpected(make_error(ErrorCode::internal, "counting: expected one answer"));
    if (responses[0].status == 404) return state;  // nothing there yet
    boost::system::error_code ec;
    auto body = boost::json::parse(responses[0].body, ec);
    if (ec || !body.is_object())
      return std::unexpected(make_error(ErrorCode::internal, "counting: the state answer is not a JSON object"));
    if (const auto* exposure = body.get_object().if_contains("exposure"); exposure && exposure->is_number())
      state.exposure = exposure->to_number<double>();
    return state;
  }

  // Reads: GET BASE/experiments/{id}, then `?page=TOKEN` while an answer names a `next`
  // page; each page's members replace the ones before. A read answer with `"throw": true`
  // makes this hook throw.
  Result<ReadStep> do_read(const Binding& binding, const std::vector<ReadResponse>& answers,
                           const ReadHint*) const override {
    ++vendor_->calls(backend_).read;
    const auto& id = static_cast<const CountingBinding&>(binding).id;
    auto request = make_request("GetExperiment", id);
    if (!request) return std::unexpected(std::move(request).error());
    VendorState state;
    state.experiment.vendor_ids["id"] = id;
    state.not_expressible = fields_not_expressible();
    for (const auto& answer : answers) {
      if (answer.status == 404)
        return std::unexpected(make_error(ErrorCode::not_found, "counting: no experiment " + id + " at this backend"));
      boost::system::error_code ec;
      auto body = boost::json::parse(answer.body, ec);
      if (ec || !body.is_object())
        return std::unexpected(make_error(ErrorCode::internal, "counting: GetExperiment answered something not JSON"));
      const auto& o = body.get_object();
      if (o.contains("throw")) throw std::runtime_error("counting: injected failure in read");
      if (const auto* v = o.if_contains("exposure"); v && v->is_number()) state.experiment.exposure = v->to_number<double>();
      if (const auto* v = o.if_contains("description"); v && v->is_string())
        state.experiment.description = std::string(v->get_string());
      if (const auto* v = o.if_contains("status"); v && v->is_string())
        for (auto status : {ExperimentStatus::draft, ExperimentStatus::running, ExperimentStatus::paused,
                            ExperimentStatus::stopped, ExperimentStatus::archived})
          if (to_string(status) == v->get_string()) state.experiment.status = status;
      const auto* next = o.if_contains("next");
      if (&answer == &answers.back() && next && next->is_string()) {
        request->url += "?page=" + std::string(next->get_string());
        return ReadStep{{std::move(*request)}, std::nullopt};
      }
    }
    if (answers.empty()) return ReadStep{{std::move(*request)}, std::nullopt};
    return ReadStep{{}, std::move(state)};
  }

  Status do_check_create_binding(const boost::json::object& partial, const std::string& path) const override {
    for (const auto& member : partial)
      if (member.key() != "flag" || !member.value().is_string())
        return std::unexpected(
            invalid_field(path + "." + std::string(member.key()), "a counting create takes only {flag: STRING}"));
    return {};
  }

  // Creates: GET BASE/flags/{flag} when the partial binding names a flag (404: `not_found`, the
  // flag is not created), then POST BASE/experiments {key, description?, exposure_thousandths?,
  // variants?} answering {"id"}, then POST …/{id}/start when the desired state is running.
  Result<CreateStep> do_create(const CreateSpec& spec, const std::vector<ReadResponse>& answers) const override {
    ++vendor_->calls(backend_).create;
    const Experiment& desired = *spec.desired;
    const boost::json::value* flag = spec.binding ? spec.binding->if_contains("flag") : nullptr;
    if (spec.binding) EXPBRIDGE_RETURN_IF_ERROR(do_check_create_binding(*spec.binding, "binding"));
    const std::size_t flag_reads = flag ? 1 : 0;
    const bool start = desired.status == ExperimentStatus::running;
    CreateStep step;
    if (answers.empty()) step.carriage = carriage(desired, spec.experiment);
    if (answers.size() < flag_reads) {
      auto request = make_path_request("GetFlag", "/flags/" + std::string(flag->get_string()));
      if (!request) return std::unexpected(std::move(request).error());
      step.requests.push_back(std::move(*request));
      return step;
    }
    if (flag && answers.front().status == 404)
      return std::unexpected(make_error(ErrorCode::not_found, "counting: flag " + std::string(flag->get_string()) +
                                                                  " does not exist at this backend, and expbridge does "
                                                                  "not create flags"));
    if (answers.size() == flag_reads) {
      auto request = make_path_request("CreateExperiment", "/experiments");
      if (!request) return std::unexpected(std::move(request).error());
      boost::json::object body{{"key", spec.experiment}};
      if (desired.description) body["description"] = *desired.description;
      if (desired.exposure) body["exposure_thousandths"] = static_cast<std::int64_t>(*desired.exposure * 1000 + 0.5);
      if (desired.variations) {
        boost::json::array variants;
        for (const auto& v : *desired.variations) variants.push_back(boost::json::object{{"key", v.key}, {"weight", v.weight}});
        body["variants"] = std::move(variants);
      }
      request->body = std::move(body);
      step.requests.push_back(std::move(*request));
      if (start) step.then.push_back("StartExperiment (the desired state is running)");
      return step;
    }
    boost::system::error_code ec;
    auto created = boost::json::parse(answers[flag_reads].body, ec);
    const boost::json::value* id = !ec && created.is_object() ? created.get_object().if_contains("id") : nullptr;
    if (!id || !id->is_string())
      return std::unexpected(make_error(ErrorCode::internal, "counting: CreateExperiment answered no id"));
    const std::string new_id(id->get_string());
    if (start && answers.size() == flag_reads + 1) {
      auto request = make_request("StartExperiment", new_id);
      if (!request) return std::unexpected(std::move(request).error());
      step.requests.push_back(std::move(*request));
      return step;
    }
    step.binding = boost::json::object{{"id", new_id}};
    return step;
  }

 private:
  void maybe_throw(CountingStage stage) const {
    if (vendor_->fault(backend_) == stage) {
      static constexpr const char* names[] = {"none", "auth", "state_requests", "read_state", "plan", "plan_with_state",
                                              "bind"};
      throw std::runtime_error(std::string("counting: injected failure in ") + names[static_cast<int>(stage)]);
    }
  }

  // What a counting create makes of each field of `desired`.
  std::vector<FieldCarriage> carriage(const Experiment& desired, const std::string& experiment) const {
    std::vector<FieldCarriage> out;
    auto put = [&](std::string field, Carriage c, std::string reason = {}) {
      out.push_back(FieldCarriage{experiment, std::move(field), c, "", "", "", std::move(reason), ""});
    };
    auto lose = [&](bool present, const char* neutral) {
      if (present) put(neutral, Carriage::lost, table_->field(neutral).skip);
    };
    lose(desired.name.has_value(), field::name);
    if (desired.description) put(field::description, Carriage::carried);
    lose(desired.hypothesis.has_value(), field::hypothesis);
    lose(desired.launch_criteria.has_value(), field::launch_criteria);
    lose(desired.audience && desired.audience->rule, field::audience_rule);
    lose(desired.audience && desired.audience->description, field::audience_description);
    if (desired.variations) {
      put(field::variations, Carriage::carried);
      for (std::size_t i = 0; i < desired.variations->size(); ++i) {
        const auto& v = (*desired.variations)[i];
        const std::string at = "variations[" + std::to_string(i) + "]";
        if (v.description) put(at + ".description", Carriage::lost, "a counting variant keeps no description");
        if (v.value) put(at + ".value", Carriage::lost, "a counting variant keeps no value");
      }
    }
    if (desired.exposure) {
      FieldCarriage c{experiment, field::exposure, Carriage::converted, "counting.exposure_thousandths", "", "", "", ""};
      char from[64], to[64];
      std::snprintf(from, sizeof from, "%g %%", *desired.exposure);
      std::snprintf(to, sizeof to, "%lld thousandths", static_cast<long long>(*desired.exposure * 1000 + 0.5));
      c.from = from;
      c.to = to;
      out.push_back(std::move(c));
    }
    lose(desired.overrides.has_value(), field::overrides);
    lose(desired.result.has_value(), field::result);
    if (desired.status) {
      const bool started_or_new = *desired.status == ExperimentStatus::running || *desired.status == ExperimentStatus::draft;
      put("status", started_or_new ? Carriage::carried : Carriage::lost,
          started_or_new ? "" : "a counting create starts an experiment or leaves it new, nothing else");
    }
    return out;
  }

  Result<PlannedRequest> make_path_request(std::string_view operation, const std::string& path) const {
    auto op = table_->operation(operation);
    if (!op) return std::unexpected(std::move(op).error());
    PlannedRequest request;
    request.operation = (*op)->name;
    request.method = (*op)->method;
    request.url = base_ + path;
    if ((*op)->has_body) request.headers.emplace_back("content-type", table_->content_type());
    request.success_status = (*op)->success;
    request.idempotent = (*op)->idempotent;
    return request;
  }

  Result<PlannedRequest> make_request(std::string_view operation, const std::string& id) const {
    auto op = table_->operation(operation);
    if (!op) return std::unexpected(std::move(op).error());
    std::string path = (*op)->path;
    path.replace(path.find("{id}"), 4, id);
    return make_path_request(operation, path);
  }

  std::string backend_;
  std::shared_ptr<const MappingTable> table_;
  std::string base_;
  std::string auth_;
  CountingVendor* vendor_;
};

// `vendor` outlives every adapter made here: the caller keeps it (or it owns the registry).
Status add_counting(Registry& registry, CountingVendor* vendor, std::shared_ptr<CountingVendor> keep_alive) {
  return registry.add(std::string(CountingVendor::kVendor), [vendor, keep_alive](const BackendContext& context)
                                                                -> Result<std::unique_ptr<Adapter>> {
    std::string auth = "none";
    for (const auto& member : *context.settings) {
      if (member.key() != "auth" || !member.value().is_string())
        return std::unexpected(invalid_field(context.path + "." + std::string(member.key()),
                                             "the counting vendor takes only `auth: none|token|oauth`"));
      auth = std::string(member.value().get_string());
      if (auth != "none" && auth != "token" && auth != "oauth")
        return std::unexpected(invalid_field(context.path + ".auth", "is none, token or oauth"));
    }
    std::string base = context.endpoint.empty() ? context.table->base_url() : context.endpoint;
    return std::make_unique<CountingAdapter>(context, std::move(base), std::move(auth), vendor);
  });
}

}  // namespace

std::shared_ptr<CountingVendor> CountingVendor::make() {
  std::shared_ptr<CountingVendor> vendor(new CountingVendor());
  static std::atomic<int> counter{0};
  vendor->dir_ = std::filesystem::temp_directory_path() /
                 ("expbridge-counting-" + std::to_string(std::random_device{}()) + "-" + std::to_string(++counter));
  std::filesystem::create_directories(vendor->dir_);
  std::ofstream(vendor->dir_ / "counting.yaml") << kTable;
  // A raw pointer: the registry lives inside `vendor`, so a shared one would keep it for ever.
  if (auto added = add_counting(vendor->registry_, vendor.get(), nullptr); !added)
    throw std::logic_error("counting vendor: " + added.error().describe());
  return vendor;
}

CountingVendor::~CountingVendor() {
  std::error_code ignored;  // a leftover temp folder is harmless; a throwing destructor is not
  std::filesystem::remove_all(dir_, ignored);
}

BridgeOptions CountingVendor::bridge_options() const {
  BridgeOptions options;
  options.registry = &registry_;
  options.mappings_dir = dir_.string();
  return options;
}

std::string_view CountingVendor::table_yaml() { return kTable; }

CountingStage CountingVendor::fault(std::string_view backend) const {
  auto it = faults_.find(backend);
  return it == faults_.end() ? CountingStage::none : it->second;
}

Status register_counting_adapter(Registry& registry, std::shared_ptr<CountingVendor> vendor) {
  CountingVendor* raw = vendor.get();
  return add_counting(registry, raw, std::move(vendor));
}

}  // namespace expbridge::test
