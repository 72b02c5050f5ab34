// expbridge tests — the `counting` test vendor (see counting_adapter.hpp).
#include "support/counting_adapter.hpp"

#include <atomic>
#include <fstream>
#include <random>
#include <stdexcept>

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

 private:
  void maybe_throw(CountingStage stage) const {
    if (vendor_->fault(backend_) == stage) {
      static constexpr const char* names[] = {"none", "auth", "state_requests", "read_state", "plan", "plan_with_state",
                                              "bind"};
      throw std::runtime_error(std::string("counting: injected failure in ") + names[static_cast<int>(stage)]);
    }
  }

  Result<PlannedRequest> make_request(std::string_view operation, const std::string& id) const {
    auto op = table_->operation(operation);
    if (!op) return std::unexpected(std::move(op).error());
    PlannedRequest request;
    request.operation = (*op)->name;
    request.method = (*op)->method;
    std::string path = (*op)->path;
    path.replace(path.find("{id}"), 4, id);
    request.url = base_ + path;
    if ((*op)->has_body) request.headers.emplace_back("content-type", table_->content_type());
    request.success_status = (*op)->success;
    request.idempotent = (*op)->idempotent;
    return request;
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
