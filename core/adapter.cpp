// The adapter base: what every vendor's adapter gets once, around its hooks.
#include "expbridge/adapter.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <utility>

#include <boost/url/parse.hpp>

#include "adapter_support.hpp"
#include "document.hpp"
#include "message_text.hpp"
#include "update_fields.hpp"

namespace expbridge {

std::vector<std::string_view> present_fields(const Update& u) {
  std::vector<std::string_view> out;
  auto add = [&](bool present, std::string_view neutral) {
    if (present) out.push_back(neutral);
  };
  add(u.name.has_value(), field::name);
  add(u.description.has_value(), field::description);
  add(u.hypothesis.has_value(), field::hypothesis);
  add(u.launch_criteria.has_value(), field::launch_criteria);
  add(u.audience && u.audience->rule, field::audience_rule);
  add(u.audience && u.audience->description, field::audience_description);
  add(u.variations.has_value(), field::variations);
  add(u.exposure.has_value(), field::exposure);
  add(u.overrides.has_value(), field::overrides);
  add(u.action.has_value(), field::action);
  add(u.result.has_value(), field::result);
  add(u.comment.has_value(), field::comment);
  return out;
}

bool path_is_under(std::string_view path, std::string_view field) {
  if (!path.starts_with(field)) return false;
  if (path.size() == field.size()) return true;
  const char next = path[field.size()];
  return next == '.' || next == '[';
}

namespace {

/// Runs one hook; an exception becomes an `internal` error naming the hook, since an
/// exception must never reach a caller of the neutral interface (nor end a fan-out).
template <class Hook>
auto guarded(std::string_view hook, Hook&& call) -> decltype(call()) {
  try {
    return call();
  } catch (const std::exception& e) {
    return std::unexpected(make_error(ErrorCode::internal, std::string(hook) + " threw: " + e.what()));
  } catch (...) {
    return std::unexpected(make_error(ErrorCode::internal, std::string(hook) + " threw a non-standard exception"));
  }
}

/// A skip of `variations[two-step]` or `action.pause` accounts for `variations` or `action`.
bool skip_covers(const Skip& skip, std::string_view neutral) { return path_is_under(skip.field, neutral); }

Status name_error(std::string member, std::string message) {
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.field = std::move(member);
  return std::unexpected(std::move(e));
}

bool env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

/// An HTTP header name (RFC 9110 token).
bool header_name(std::string_view name) {
  constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](unsigned char c) {
    return std::isalnum(c) || extra.find(static_cast<char>(c)) != std::string_view::npos;
  });
}

Status check_env(std::string member, const std::string& name) {
  if (env_name(name)) return {};
  return name_error(std::move(member), quote_value(name) + " is not an environment variable name (letters, digits "
                                                           "and '_', not starting with a digit)");
}

struct AuthChecker {
  Status operator()(const SigV4Auth& a) const {
    if (a.service.empty()) return name_error("service", "SigV4 needs the service's signing name");
    if (a.region.empty()) return name_error("region", "SigV4 needs a region");
    if (a.profile && a.profile->empty()) return name_error("profile", "an AWS profile name cannot be empty");
    return {};
  }
  Status operator()(const HeaderTokenAuth& a) const {
    if (!header_name(a.header)) return name_error("header", quote_value(a.header) + " is not an HTTP header name");
    return check_env("env", a.env);
  }
  Status operator()(const OAuthClientCredentialsAuth& a) const {
    const auto url = boost::urls::parse_uri(a.token_url);
    if (!url || !url->has_authority() || url->encoded_host().empty() ||
        (url->scheme_id() != boost::urls::scheme::https && url->scheme_id() != boost::urls::scheme::http))
      return name_error("token_url", "the OAuth token URL must be an absolute http(s) URL");
    EXPBRIDGE_RETURN_IF_ERROR(check_env("client_id_env", a.client_id_env));
    return check_env("client_secret_env", a.client_secret_env);
  }
  Status operator()(const NoAuth&) const { return {}; }
};

}  // namespace

Status check_auth(const AuthSpec& auth) {
  for (const auto& [name, value] : auth.headers)
    if (!header_name(name)) return name_error("headers", quote_value(name) + " is not an HTTP header name");
  return std::visit(AuthChecker{}, auth.method);
}

Status Adapter::prepare_auth() {
  auto built = guarded("do_auth", [&] { return do_auth(); });
  if (!built) return std::unexpected(stamped(std::move(built).error()));
  if (auto ok = check_auth(*built); !ok) {
    // do_auth names the setting at fault; what it passed unchecked is this adapter's bug.
    Error e = std::move(ok).error();
    e.code = ErrorCode::internal;
    e.message = "auth." + e.field + ": " + e.message;
    e.field.clear();
    return std::unexpected(stamped(std::move(e)));
  }
  auth_ = std::move(*built);
  return {};
}

Adapter::Adapter(const BackendContext& context, std::string vendor)
    : backend_(context.name), vendor_(std::move(vendor)), table_(context.table) {}

Error Adapter::stamped(Error e) const {
  if (e.backend.empty()) e.backend = backend_;
  if (e.vendor.empty()) e.vendor = vendor_;
  return e;
}

Result<std::unique_ptr<const Binding>> Adapter::bind(const boost::json::object& binding, const std::string& path) const {
  auto bound = guarded("do_bind", [&] { return do_bind(binding, path); });
  if (!bound) return std::unexpected(stamped(std::move(bound).error()));
  return bound;
}

Result<BackendPlan> Adapter::plan(const Update& update, const Binding& binding, const PlanContext& context) const {
  auto planned = guarded("do_plan", [&] { return do_plan(update, binding, context); });
  if (!planned) return std::unexpected(stamped(std::move(planned).error()));
  planned->backend = backend_;
  planned->vendor = vendor_;
  for (std::string_view neutral : present_fields(update)) {
    const bool carried = std::find(planned->carried.begin(), planned->carried.end(), neutral) != planned->carried.end();
    const bool skipped = std::any_of(planned->skipped.begin(), planned->skipped.end(),
                                     [&](const Skip& s) { return skip_covers(s, neutral); });
    if (carried || skipped) continue;
    Error e = make_error(ErrorCode::internal, "the " + vendor_ + " adapter neither planned nor skipped '" +
                                                  std::string(neutral) + "' (an adapter bug: nothing was sent)");
    e.field = std::string(neutral);
    return std::unexpected(stamped(std::move(e)));
  }
  // The pass-through block is no neutral field, but members dropped unread would be as silent.
  const auto* block = update.vendor.if_contains(vendor_);
  const bool has_members = block && block->is_object() && !block->get_object().empty();
  if (has_members && std::find(planned->carried.begin(), planned->carried.end(), field::vendor) == planned->carried.end()) {
    Error e = make_error(ErrorCode::internal, "the " + vendor_ + " adapter did not read vendor." + vendor_ +
                                                  " (an adapter bug: nothing was sent)");
    e.field = join_path(field::vendor, vendor_);
    return std::unexpected(stamped(std::move(e)));
  }
  return planned;
}

Result<std::vector<PlannedRequest>> Adapter::state_requests(const Update& update, const Binding& binding) const {
  auto requests = guarded("do_state_requests", [&] { return do_state_requests(update, binding); });
  if (!requests) return std::unexpected(stamped(std::move(requests).error()));
  return requests;
}

Result<Experiment> Adapter::read_state(const Binding& binding, const std::vector<ReadResponse>& responses) const {
  auto state = guarded("do_read_state", [&] { return do_read_state(binding, responses); });
  if (!state) return std::unexpected(stamped(std::move(state).error()));
  return state;
}

Result<std::vector<PlannedRequest>> Adapter::do_state_requests(const Update&, const Binding&) const {
  return std::vector<PlannedRequest>{};
}

Result<Experiment> Adapter::do_read_state(const Binding&, const std::vector<ReadResponse>&) const {
  return Experiment{};
}

void Adapter::carry(BackendPlan& out, std::string_view neutral) {
  if (std::find(out.carried.begin(), out.carried.end(), neutral) == out.carried.end())
    out.carried.emplace_back(neutral);
}

void Adapter::skip(BackendPlan& out, std::string_view neutral) const {
  out.skipped.push_back(Skip{std::string(neutral), table_->field(neutral).skip});
}

void Adapter::skip_if(bool present, std::string_view neutral, BackendPlan& out) const {
  if (present) skip(out, neutral);
}

void Adapter::skip_present(const Update& update, BackendPlan& out,
                           std::initializer_list<std::string_view> fields) const {
  const auto present = present_fields(update);
  for (std::string_view neutral : fields)
    skip_if(std::find(present.begin(), present.end(), neutral) != present.end(), neutral, out);
}

std::string Adapter::skip_value_reason(std::string_view neutral, std::string_view value,
                                       std::string_view fallback) const {
  const auto& values = table_->field(neutral).skip_values;
  if (auto it = values.find(value); it != values.end()) return it->second;
  return std::string(fallback);
}

void Adapter::skip_value(BackendPlan& out, std::string_view neutral, std::string_view value,
                         std::string_view fallback) const {
  out.skipped.push_back(
      Skip{std::string(neutral) + "." + std::string(value), skip_value_reason(neutral, value, fallback)});
}

Result<std::vector<PassThrough>> Adapter::passthrough(const Update& update, BackendPlan& out) const {
  const auto* block = update.vendor.if_contains(vendor_);
  if (!block) return std::vector<PassThrough>{};
  auto members = read_passthrough(*table_, block->get_object());
  if (members && !members->empty()) carry(out, field::vendor);
  return members;
}

std::string Adapter::passthrough_path(const PassThrough& member) const {
  return join_path(join_path(field::vendor, vendor_), member.member);
}

// ---------------------------------------------------------------------------
// Reads

Result<ReadStep> Adapter::read(const Binding& binding, const std::vector<ReadResponse>& answers,
                               const ReadHint* hint) const {
  auto step = guarded("do_read", [&] { return do_read(binding, answers, hint); });
  if (!step) return std::unexpected(stamped(std::move(step).error()));
  auto bug = [&](std::string message) {
    return std::unexpected(stamped(make_error(ErrorCode::internal, "adapter read: " + std::move(message))));
  };
  if (step->state.has_value() == !step->requests.empty())
    return bug(step->state ? "a step gave both a state and more requests" : "a step gave neither a state nor requests");
  for (const auto& request : step->requests)
    if (request.method != "GET") return bug(request.operation + " is a " + request.method + ", and reads only GET");
  return step;
}

namespace {

/// The neutral fields `e` holds (`field::` names, and `status`), for the create check.
std::vector<std::string_view> fields_held(const Experiment& e) {
  std::vector<std::string_view> out;
  auto held = [&](bool present, std::string_view name) {
    if (present) out.push_back(name);
  };
  held(e.name.has_value(), field::name);
  held(e.description.has_value(), field::description);
  held(e.hypothesis.has_value(), field::hypothesis);
  held(e.launch_criteria.has_value(), field::launch_criteria);
  held(e.audience && e.audience->rule, field::audience_rule);
  held(e.audience && e.audience->description, field::audience_description);
  held(e.variations.has_value(), field::variations);
  held(e.exposure.has_value(), field::exposure);
  held(e.overrides.has_value(), field::overrides);
  held(e.result.has_value(), field::result);
  held(e.status.has_value(), "status");
  return out;
}

/// A carriage entry for `entry` covers `held` when it names it or a path under it.
bool covers(std::string_view entry, std::string_view held) { return path_is_under(entry, held); }

}  // namespace

Result<CreateStep> Adapter::create(const CreateSpec& spec, const std::vector<ReadResponse>& answers) const {
  auto bug = [&](std::string message) {
    return std::unexpected(stamped(make_error(ErrorCode::internal, "adapter create: " + std::move(message))));
  };
  if (spec.desired == nullptr) return bug("no desired state given");
  if (spec.find_existing && !do_finds_existing())
    return std::unexpected(stamped(make_error(
        ErrorCode::unsupported, "this adapter cannot look for an experiment an earlier create may have made, so it "
                                "cannot resume a create whose answer was lost")));
  auto step = guarded("do_create", [&] { return do_create(spec, answers); });
  if (!step) return std::unexpected(stamped(std::move(step).error()));
  if (step->binding.has_value() == !step->requests.empty())
    return bug(step->binding ? "a step gave both a binding and more requests"
                             : "a step gave neither a binding nor requests");
  if (answers.empty() && spec.find_existing)
    for (const auto& request : step->requests)
      if (request.method != "GET")
        return bug(request.operation + " is a " + request.method + ", and a create that finds first asks only GETs first");
  if (answers.empty()) {
    for (auto held : fields_held(*spec.desired)) {
      bool covered = std::any_of(step->carriage.begin(), step->carriage.end(),
                                 [&](const FieldCarriage& c) { return covers(c.field, held); });
      if (!covered) return bug("the first step says nothing of `" + std::string(held) + "`, which the experiment holds");
    }
  }
  return step;
}

Result<CreateStep> Adapter::do_create(const CreateSpec&, const std::vector<ReadResponse>&) const {
  return std::unexpected(make_error(ErrorCode::unsupported, "this adapter cannot create experiments at its vendor"));
}

std::string Adapter::create_binding_path(std::string_view experiment) const {
  return join_path(join_path(join_path("experiments", experiment), backend()), "create");
}

Status Adapter::check_create_binding(const boost::json::object& partial, const std::string& path) const {
  auto checked = guarded("do_check_create_binding", [&] { return do_check_create_binding(partial, path); });
  if (!checked) return std::unexpected(stamped(std::move(checked).error()));
  return {};
}

Status Adapter::do_check_create_binding(const boost::json::object& partial, const std::string& path) const {
  if (partial.empty()) return {};
  Error e = make_error(ErrorCode::unsupported,
                       "this adapter cannot create experiments at its vendor, so a partial binding for a create has "
                       "no use here");
  e.field = path;
  return std::unexpected(std::move(e));
}

Result<ReadStep> Adapter::do_read(const Binding&, const std::vector<ReadResponse>&, const ReadHint*) const {
  return std::unexpected(make_error(ErrorCode::unsupported, "this adapter cannot read the vendor's experiments"));
}

std::vector<std::string> Adapter::fields_not_expressible() const {
  std::vector<std::string> out;
  for (const auto& f : table_->fields())
    if (!f.skip.empty() && f.neutral != field::comment && f.neutral != field::action) out.push_back(f.neutral);
  return out;
}

}  // namespace expbridge
