#include "mapping_examples.hpp"

#include <algorithm>
#include <iterator>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "expbridge/update.hpp"
#include "json_reader.hpp"
#include "json_writer.hpp"
#include "state_diff.hpp"

namespace expbridge {
namespace {

constexpr const char* kBackendName = "ex";

boost::json::object merged(const boost::json::object& defaults, const boost::json::value* override_value) {
  boost::json::object out = defaults;
  if (override_value && override_value->is_object())
    for (const auto& m : override_value->get_object()) out[m.key()] = m.value();
  return out;
}

// `current: {exposure?, status?, detail?}`: the state a read would give, `detail` the
// vendor ids the adapter plans with (VendorState::detail).
Result<VendorState> read_from_example(const boost::json::value& v) {
  VendorState read;
  Experiment& e = read.experiment;
  auto r = ObjectReader::open(v, "current");
  if (!r) return std::unexpected(std::move(r).error());
  auto exposure = r->optional_number("exposure");
  if (!exposure) return std::unexpected(std::move(exposure).error());
  e.exposure = *exposure;
  auto status = r->optional_string("status");
  if (!status) return std::unexpected(std::move(status).error());
  if (*status) {
    for (auto s : {ExperimentStatus::draft, ExperimentStatus::running, ExperimentStatus::paused, ExperimentStatus::stopped,
                   ExperimentStatus::archived})
      if (to_string(s) == **status) e.status = s;
    if (!e.status) return std::unexpected(r->error("status", "unknown status '" + **status + "'"));
  }
  auto detail = r->optional_object("detail");
  if (!detail) return std::unexpected(std::move(detail).error());
  if (*detail) read.detail = **detail;
  if (auto ok = r->finish(); !ok) return std::unexpected(std::move(ok).error());
  return read;
}

std::string check_requests(const Plan& plan, const boost::json::array& expected) {
  const auto& actual = plan.backends.empty() ? std::vector<PlannedRequest>{} : plan.backends.front().requests;
  if (actual.size() != expected.size())
    return "expected " + std::to_string(expected.size()) + " request(s), the adapter planned " +
           std::to_string(actual.size()) + ": " + write_json(plan_to_json(plan));
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const auto& want = expected[i].as_object();
    const auto& got = actual[i];
    std::string where = "request " + std::to_string(i + 1) + ": ";
    if (const auto* m = want.if_contains("method"); m && got.method != m->as_string())
      return where + "method " + got.method + ", expected " + std::string(m->as_string());
    if (const auto* u = want.if_contains("url"); u && got.url != u->as_string())
      return where + "url " + got.url + ", expected " + std::string(u->as_string());
    if (const auto* op = want.if_contains("operation"); op && got.operation != op->as_string())
      return where + "operation " + got.operation + ", expected " + std::string(op->as_string());
    if (const auto* ct = want.if_contains("content_type")) {
      std::string got_ct;
      for (const auto& [name, value] : got.headers)
        if (name == "content-type") got_ct = value;
      if (got_ct != ct->as_string()) return where + "content-type '" + got_ct + "', expected '" + std::string(ct->as_string()) + "'";
    }
    if (const auto* body = want.if_contains("body")) {
      boost::json::value got_body = got.body ? *got.body : boost::json::value(nullptr);
      if (!json_equal(got_body, *body))
        return where + "body " + write_json(got_body) + ", expected " + write_json(*body);
    }
    for (const auto& member : want)
      if (member.key() != "method" && member.key() != "url" && member.key() != "operation" &&
          member.key() != "content_type" && member.key() != "body")
        return where + "unknown expectation '" + std::string(member.key()) + "'";
  }
  return {};
}

std::string check_skips(const Plan& plan, const boost::json::array& expected) {
  std::vector<std::string> got;
  if (!plan.backends.empty())
    for (const auto& s : plan.backends.front().skipped) got.push_back(s.field);
  std::vector<std::string> want;
  for (const auto& v : expected) want.emplace_back(v.as_string());
  if (got == want) return {};
  auto join = [](const std::vector<std::string>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
    return out + "]";
  };
  return "skipped " + join(got) + ", expected " + join(want);
}

/// The expected carriage entries (`[{field, carriage, rule?, from?, to?, reason?}]`) against
/// the step's: the same fields in the same order, each expectation member equal (`reason`: contained).
std::string check_carriage(const std::vector<FieldCarriage>& got, const boost::json::array& expected) {
  auto listed = [&] {
    std::string out;
    for (const auto& c : got) out += (out.empty() ? "" : ", ") + c.field + " " + std::string(to_string(c.carriage));
    return "[" + out + "]";
  };
  if (got.size() != expected.size())
    return "expected " + std::to_string(expected.size()) + " carriage entries, the adapter gave " + listed();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto& want = expected[i].as_object();
    const FieldCarriage& c = got[i];
    const std::string where = "carriage " + std::to_string(i + 1) + " (" + c.field + "): ";
    for (const auto& member : want) {
      const std::string wanted(member.value().is_string() ? std::string(member.value().get_string()) : write_json(member.value()));
      const std::string_view key = member.key();
      const std::pair<std::string_view, std::string> parts[] = {
          {"field", c.field}, {"carriage", std::string(to_string(c.carriage))}, {"rule", c.rule},
          {"from", c.from},   {"to", c.to},                                     {"reason", c.reason}};
      const auto* part = std::find_if(std::begin(parts), std::end(parts), [&](const auto& p) { return p.first == key; });
      if (part == std::end(parts)) return where + "unknown expectation '" + std::string(key) + "'";
      const std::string& actual = part->second;
      const bool same = key == "reason" ? actual.find(wanted) != std::string::npos : actual == wanted;
      if (!same) return where + std::string(key) + " '" + actual + "', expected '" + wanted + "'";
    }
  }
  return {};
}

/// A create example: `create: {desired: <update document>, binding?: <partial binding>,
/// answers?: [{status, body}]}` — `desired` as an import folder holds it (`action: start` =
/// running, `action: stop` = stopped, no action = draft) — and what the step given those answers
/// must be: `requests` (+ `then`, `carriage` on the first step), `created_binding` (the last
/// step), or an `error`.
ExampleOutcome run_create(const MappingTable& table, const boost::json::object& example, ExampleOutcome outcome,
                          const std::string& mappings_dir, const Registry* registry) {
  auto failed = [&](std::string detail) {
    outcome.detail = std::move(detail);
    return outcome;
  };
  for (const auto& member : example) {
    static const std::vector<std::string> known = {"name", "create", "backend", "requests", "then", "carriage",
                                                   "created_binding", "error"};
    if (std::find(known.begin(), known.end(), member.key()) == known.end())
      return failed("unknown create example member '" + std::string(member.key()) + "'");
  }
  const auto* create = example.at("create").if_object();
  const auto* desired_value = create ? create->if_contains("desired") : nullptr;
  if (!desired_value || !desired_value->is_object() || !desired_value->get_object().contains("experiment"))
    return failed("a create example needs create.desired, an update document with an experiment");
  for (const auto& member : *create)
    if (member.key() != "desired" && member.key() != "binding" && member.key() != "answers")
      return failed("unknown create member '" + std::string(member.key()) + "'");
  const auto* expected_error = example.if_contains("error");
  if (!expected_error && !example.contains("requests") && !example.contains("created_binding"))
    return failed("a create example needs `requests`, `created_binding` or an `error`");

  const auto* defaults = table.example_defaults().if_contains("backend");
  boost::json::object backend = merged(defaults && defaults->is_object() ? defaults->get_object() : boost::json::object(),
                                       example.if_contains("backend"));
  backend["vendor"] = table.vendor();
  boost::json::object config{{"backends", boost::json::object{{kBackendName, backend}}}};
  BridgeOptions options;
  options.mappings_dir = mappings_dir;
  options.registry = registry;
  auto bridge = Bridge::from_text(write_json(config), "<example " + outcome.name + ">", options);
  if (!bridge) return failed("the backend does not load: " + bridge.error().describe());
  auto update = parse_update(write_json(*desired_value), "<example " + outcome.name + ">");
  if (!update) return failed("create.desired: " + update.error().describe());
  Experiment desired;
  desired.experiment = update->experiment;
  desired.name = update->name;
  desired.description = update->description;
  desired.hypothesis = update->hypothesis;
  desired.launch_criteria = update->launch_criteria;
  desired.audience = update->audience;
  desired.variations = update->variations;
  desired.exposure = update->exposure;
  desired.overrides = update->overrides;
  desired.result = update->result;
  desired.status = update->action ? status_after(*update->action) : ExperimentStatus::draft;
  boost::json::object partial;
  if (const auto* b = create->if_contains("binding"); b && b->is_object()) partial = b->get_object();
  std::vector<ReadResponse> answers;
  if (const auto* a = create->if_contains("answers"); a && a->is_array())
    for (const auto& answer : a->get_array()) {
      const auto* o = answer.if_object();
      const auto* status = o ? o->if_contains("status") : nullptr;
      if (!status || !status->is_int64()) return failed("each create answer needs a status");
      const auto* body = o->if_contains("body");
      answers.push_back(ReadResponse{static_cast<int>(status->get_int64()), body ? write_json(*body) : std::string()});
    }
  const CreateSpec spec{desired.experiment, &desired, &partial};
  auto step = bridge->backends().front().adapter->create(spec, answers);
  if (expected_error) {
    if (step) return failed("expected an error, the create went on");
    const auto& want = expected_error->as_object();
    if (const auto* f = want.if_contains("field"); f && step.error().field != f->as_string())
      return failed("error on field '" + step.error().field + "', expected '" + std::string(f->as_string()) + "': " +
                    step.error().describe());
    if (const auto* c = want.if_contains("contains"); c && step.error().message.find(c->as_string()) == std::string::npos)
      return failed("error message lacks '" + std::string(c->as_string()) + "': " + step.error().describe());
    outcome.passed = true;
    return outcome;
  }
  if (!step) return failed("unexpected error: " + step.error().describe());
  Plan as_plan;
  as_plan.backends.emplace_back();
  as_plan.backends.front().requests = step->requests;
  if (const auto* requests = example.if_contains("requests"); requests && requests->is_array())
    if (auto detail = check_requests(as_plan, requests->get_array()); !detail.empty()) return failed(detail);
  if (const auto* then = example.if_contains("then"); then && then->is_array()) {
    std::vector<std::string> want;
    for (const auto& line : then->get_array()) want.emplace_back(line.is_string() ? line.get_string() : "");
    if (want != step->then) {
      std::string got;
      for (const auto& line : step->then) got += "\n  " + line;
      return failed("then differs; the adapter says:" + got);
    }
  }
  if (const auto* carriage = example.if_contains("carriage"); carriage && carriage->is_array())
    if (auto detail = check_carriage(step->carriage, carriage->get_array()); !detail.empty()) return failed(detail);
  if (const auto* binding = example.if_contains("created_binding")) {
    if (!step->binding) return failed("expected the last step (a binding), the adapter asks for more requests");
    if (!json_equal(boost::json::value(*step->binding), *binding))
      return failed("binding " + write_json(*step->binding) + ", expected " + write_json(*binding));
  }
  outcome.passed = true;
  return outcome;
}

ExampleOutcome run_one(const MappingTable& table, const boost::json::value& example_value, std::size_t index,
                       const std::string& mappings_dir, const Registry* registry) {
  ExampleOutcome outcome;
  outcome.vendor = table.vendor();
  outcome.name = "#" + std::to_string(index + 1);
  if (!example_value.is_object()) {
    outcome.detail = "an example must be a mapping";
    return outcome;
  }
  const auto& example = example_value.get_object();
  if (const auto* name = example.if_contains("name"); name && name->is_string()) outcome.name = std::string(name->get_string());
  if (example.contains("create")) return run_create(table, example, std::move(outcome), mappings_dir, registry);
  for (const auto& member : example) {
    static const std::vector<std::string> known = {"name", "update", "backend", "binding", "current",
                                                   "requests", "skipped", "error"};
    if (std::find(known.begin(), known.end(), member.key()) == known.end()) {
      outcome.detail = "unknown example member '" + std::string(member.key()) + "'";
      return outcome;
    }
  }
  const auto* update_value = example.if_contains("update");
  if (!update_value || !update_value->is_object() || !update_value->get_object().contains("experiment")) {
    outcome.detail = "an example needs an update with an experiment";
    return outcome;
  }
  const auto* expected_error = example.if_contains("error");
  const auto* expected_requests = example.if_contains("requests");
  const auto* expected_skips = example.if_contains("skipped");
  if (!expected_error && (!expected_requests || !expected_requests->is_array() || !expected_skips ||
                          !expected_skips->is_array())) {
    outcome.detail = "an example needs `requests` and `skipped` lists, or an `error`";
    return outcome;
  }

  const auto& defaults = table.example_defaults();
  auto defaults_of = [&](const char* key) {
    const auto* v = defaults.if_contains(key);
    return v && v->is_object() ? v->get_object() : boost::json::object();
  };
  boost::json::object backend = merged(defaults_of("backend"), example.if_contains("backend"));
  backend["vendor"] = table.vendor();
  boost::json::object binding = merged(defaults_of("binding"), example.if_contains("binding"));
  std::string experiment(update_value->get_object().at("experiment").as_string());
  boost::json::object config{{"backends", boost::json::object{{kBackendName, backend}}},
                             {"experiments", boost::json::object{{experiment, boost::json::object{{kBackendName, binding}}}}}};

  auto outcome_of = [&](Result<Plan> plan) {
    if (expected_error) {
      if (plan) {
        outcome.detail = "expected an error, got a plan: " + write_json(plan_to_json(*plan));
        return outcome;
      }
      const auto& want = expected_error->as_object();
      const Error& e = plan.error();
      if (const auto* f = want.if_contains("field"); f && e.field != f->as_string()) {
        outcome.detail = "error on field '" + e.field + "', expected '" + std::string(f->as_string()) + "': " + e.describe();
        return outcome;
      }
      if (const auto* c = want.if_contains("contains"); c && e.message.find(c->as_string()) == std::string::npos) {
        outcome.detail = "error message lacks '" + std::string(c->as_string()) + "': " + e.describe();
        return outcome;
      }
      outcome.passed = true;
      return outcome;
    }
    if (!plan) {
      outcome.detail = "unexpected error: " + plan.error().describe();
      return outcome;
    }
    outcome.detail = check_requests(*plan, expected_requests->as_array());
    if (outcome.detail.empty()) outcome.detail = check_skips(*plan, expected_skips->as_array());
    outcome.passed = outcome.detail.empty();
    return outcome;
  };

  BridgeOptions options;
  options.mappings_dir = mappings_dir;
  options.registry = registry;
  auto bridge = Bridge::from_text(write_json(config), "<example " + outcome.name + ">", options);
  if (!bridge) return outcome_of(std::unexpected(std::move(bridge).error()));
  auto update = parse_update(write_json(*update_value), "<example " + outcome.name + ">");
  if (!update) return outcome_of(std::unexpected(std::move(update).error()));
  std::optional<VendorState> current;
  PlanOptions plan_options;
  if (const auto* c = example.if_contains("current")) {
    auto parsed = read_from_example(*c);
    if (!parsed) {
      outcome.detail = "bad `current`: " + parsed.error().describe();
      return outcome;
    }
    current = std::move(*parsed);
    plan_options.reads.emplace_back(kBackendName, &*current);
  }
  auto plan = bridge->plan(*update, plan_options);
  if (!plan) outcome.plan_error = plan.error();
  return outcome_of(std::move(plan));
}

}  // namespace

bool json_equal(const boost::json::value& a, const boost::json::value& b) {
  auto na = as_number(a), nb = as_number(b);
  if (na || nb) return na && nb && *na == *nb;
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!json_equal(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& m : x) {
      const auto* other = y.if_contains(m.key());
      if (!other || !json_equal(m.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

Result<std::vector<ExampleOutcome>> run_mapping_examples(const std::string& vendor, const std::string& mappings_dir,
                                                         const Registry* registry) {
  auto table = load_mapping_table(vendor, mappings_dir, registry);
  if (!table) return std::unexpected(std::move(table).error());
  std::vector<ExampleOutcome> out;
  const auto& examples = (*table)->examples();
  for (std::size_t i = 0; i < examples.size(); ++i)
    out.push_back(run_one(**table, examples[i], i, mappings_dir, registry));
  return out;
}

}  // namespace expbridge
