// The adapter base: what every vendor's adapter gets once, around its hooks.
#include "expbridge/adapter.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include "adapter_support.hpp"

namespace expbridge {
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

/// The neutral fields `update` sets, in `field::` names (the pass-through block excluded: the
/// base reads it for the adapter, and refuses any member the table does not route).
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

/// A skip of `variations[two-step]` or `action.pause` accounts for `variations` or `action`.
bool skip_covers(const Skip& skip, std::string_view neutral) {
  if (!skip.field.starts_with(neutral)) return false;
  if (skip.field.size() == neutral.size()) return true;
  const char next = skip.field[neutral.size()];
  return next == '.' || next == '[';
}

}  // namespace

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
  return planned;
}

AuthSpec Adapter::auth() const { return do_auth(); }

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

Result<std::vector<PassThrough>> Adapter::passthrough(const Update& update) const {
  const auto* block = update.vendor.if_contains(vendor_);
  if (!block) return std::vector<PassThrough>{};
  return read_passthrough(*table_, block->get_object());
}

}  // namespace expbridge
