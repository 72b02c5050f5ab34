#include <algorithm>
#include <mutex>
#include <tuple>

#include <boost/json/parse.hpp>

#include "document.hpp"
#include "expbridge/mapping.hpp"
#include "import_rules.hpp"
#include "json_reader.hpp"
#include "pattern.hpp"

namespace expbridge {
namespace {


Error table_error(const std::string& source, std::string message) {
  Error e = make_error(ErrorCode::internal, std::move(message));
  e.file = source;
  return e;
}

Result<std::map<std::string, std::string, std::less<>>> string_map(const boost::json::value& v, const std::string& path) {
  std::map<std::string, std::string, std::less<>> out;
  if (!v.is_object()) {
    Error e = make_error(ErrorCode::invalid_input, "must be a mapping of names to strings");
    e.field = path;
    return std::unexpected(std::move(e));
  }
  for (const auto& m : v.get_object()) {
    if (!m.value().is_string()) {
      Error e = make_error(ErrorCode::invalid_input, "must be a string");
      e.field = join_path(path, m.key());
      return std::unexpected(std::move(e));
    }
    out.emplace(std::string(m.key()), std::string(m.value().get_string()));
  }
  return out;
}

Result<std::optional<std::size_t>> optional_size(ObjectReader& r, std::string_view key) {
  std::optional<std::int64_t> v;
  EXPBRIDGE_ASSIGN_OR_RETURN(v, r.optional_integer(key));
  if (!v) return std::optional<std::size_t>();
  if (*v < 0) return std::unexpected(r.error(key, "must not be negative"));
  return std::optional<std::size_t>(static_cast<std::size_t>(*v));
}

Result<OperationSpec> parse_operation(const std::string& name, const boost::json::value& v, const std::string& path) {
  OperationSpec op;
  op.name = name;
  auto r = ObjectReader::open(v, path);
  if (!r) return std::unexpected(std::move(r).error());
  EXPBRIDGE_ASSIGN_OR_RETURN(op.method, r->required_string("method"));
  EXPBRIDGE_ASSIGN_OR_RETURN(op.path, r->required_string("path"));
  std::optional<std::int64_t> success;
  EXPBRIDGE_ASSIGN_OR_RETURN(success, r->optional_integer("success"));
  op.success = static_cast<int>(success.value_or(200));
  std::optional<bool> flag;
  EXPBRIDGE_ASSIGN_OR_RETURN(flag, r->optional_bool("idempotent"));
  op.idempotent = flag.value_or(false);
  EXPBRIDGE_ASSIGN_OR_RETURN(flag, r->optional_bool("body"));
  op.has_body = flag.value_or(op.method != "GET" && op.method != "DELETE");
  if (const auto* q = r->optional_value("query")) {
    std::map<std::string, std::string, std::less<>> query;
    EXPBRIDGE_ASSIGN_OR_RETURN(query, string_map(*q, r->member_path("query")));
    // Keep the table's order: Boost.JSON objects preserve insertion order.
    for (const auto& m : q->get_object()) op.query.emplace_back(std::string(m.key()), std::string(m.value().get_string()));
  }
  EXPBRIDGE_RETURN_IF_ERROR(r->finish());
  if (op.path.empty() || op.path[0] != '/') return std::unexpected(r->error("path", "must start with '/'"));
  return op;
}

Result<FieldSpec> parse_field(const std::string& name, const boost::json::value& v, const std::string& path) {
  FieldSpec f;
  f.neutral = name;
  auto r = ObjectReader::open(v, path);
  if (!r) return std::unexpected(std::move(r).error());
  std::optional<std::string> s;
  EXPBRIDGE_ASSIGN_OR_RETURN(s, r->optional_string("operation"));
  f.operation = s.value_or("");
  EXPBRIDGE_ASSIGN_OR_RETURN(s, r->optional_string("skip"));
  f.skip = s.value_or("");
  EXPBRIDGE_ASSIGN_OR_RETURN(s, r->optional_string("summary"));
  f.summary = s.value_or("");
  if (const auto* w = r->optional_value("wire")) {
    if (w->is_string()) {
      f.wire.emplace("_", std::string(w->get_string()));
    } else {
      EXPBRIDGE_ASSIGN_OR_RETURN(f.wire, string_map(*w, r->member_path("wire")));
    }
  }
  if (const auto* values = r->optional_value("values")) EXPBRIDGE_ASSIGN_OR_RETURN(f.values, string_map(*values, r->member_path("values")));
  if (const auto* skips = r->optional_value("skip_values"))
    EXPBRIDGE_ASSIGN_OR_RETURN(f.skip_values, string_map(*skips, r->member_path("skip_values")));
  EXPBRIDGE_RETURN_IF_ERROR(r->finish());
  if (f.skip.empty() && f.operation.empty() && f.values.empty() && f.wire.empty())
    return std::unexpected(r->error("", "maps nowhere: give an operation and wire names, values, or a skip reason"));
  return f;
}

Result<LimitSpec> parse_limit(const std::string& name, const boost::json::value& v, const std::string& path,
                              bool compile_patterns) {
  LimitSpec l;
  l.name = name;
  auto r = ObjectReader::open(v, path);
  if (!r) return std::unexpected(std::move(r).error());
  EXPBRIDGE_ASSIGN_OR_RETURN(l.min, r->optional_number("min"));
  EXPBRIDGE_ASSIGN_OR_RETURN(l.max, r->optional_number("max"));
  EXPBRIDGE_ASSIGN_OR_RETURN(l.min_length, optional_size(*r, "min_length"));
  EXPBRIDGE_ASSIGN_OR_RETURN(l.max_length, optional_size(*r, "max_length"));
  EXPBRIDGE_ASSIGN_OR_RETURN(l.min_count, optional_size(*r, "min_count"));
  EXPBRIDGE_ASSIGN_OR_RETURN(l.max_count, optional_size(*r, "max_count"));
  EXPBRIDGE_ASSIGN_OR_RETURN(l.max_bytes, optional_size(*r, "max_bytes"));
  std::optional<std::string> s;
  EXPBRIDGE_ASSIGN_OR_RETURN(s, r->optional_string("pattern"));
  l.pattern = s.value_or("");
  EXPBRIDGE_ASSIGN_OR_RETURN(s, r->optional_string("not_pattern"));
  l.not_pattern = s.value_or("");
  EXPBRIDGE_ASSIGN_OR_RETURN(s, r->optional_string("rule"));
  l.rule = s.value_or("");
  std::optional<bool> b;
  EXPBRIDGE_ASSIGN_OR_RETURN(b, r->optional_bool("only_increase"));
  l.only_increase = b.value_or(false);
  EXPBRIDGE_ASSIGN_OR_RETURN(b, r->optional_bool("hide_value"));
  l.hide_value = b.value_or(false);
  EXPBRIDGE_RETURN_IF_ERROR(r->finish());
  for (auto [key, text, target] : {std::tuple{"pattern", &l.pattern, &l.compiled},
                                    std::tuple{"not_pattern", &l.not_pattern, &l.compiled_not}}) {
    if (text->empty()) continue;
    // Embedded tables had their patterns compiled when the build embedded them.
    if (!compile_patterns) {
      *target = CompiledPattern::deferred(*text);
      continue;
    }
    auto compiled = CompiledPattern::compile(*text);
    if (!compiled) return std::unexpected(r->error(key, std::move(compiled.error().message)));
    *target = std::move(*compiled);
  }
  return l;
}

Result<std::vector<std::string>> string_list(ObjectReader& r, std::string_view key) {
  std::vector<std::string> out;
  const auto* v = r.optional_value(key);
  if (!v) return out;
  if (!v->is_array()) return std::unexpected(r.error(key, "must be a list of strings"));
  for (const auto& item : v->get_array()) {
    if (!item.is_string()) return std::unexpected(r.error(key, "must be a list of strings"));
    out.emplace_back(item.get_string());
  }
  return out;
}

Result<HttpSpec> parse_http(const boost::json::value& v) {
  HttpSpec spec;
  auto r = ObjectReader::open(v, "http");
  if (!r) return std::unexpected(std::move(r).error());
  const boost::json::object* errors = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(errors, r->required_object("errors"));
  auto er = ObjectReader::open(*errors, "http.errors");
  EXPBRIDGE_ASSIGN_OR_RETURN(spec.errors.code, string_list(er, "code"));
  EXPBRIDGE_ASSIGN_OR_RETURN(spec.errors.message, string_list(er, "message"));
  EXPBRIDGE_ASSIGN_OR_RETURN(spec.errors.request_id, string_list(er, "request_id"));
  std::optional<std::string> sanitize;
  EXPBRIDGE_ASSIGN_OR_RETURN(sanitize, er.optional_string("sanitize_code"));
  spec.errors.sanitize_code = sanitize.value_or("");
  if (!spec.errors.sanitize_code.empty() && spec.errors.sanitize_code != "aws")
    return std::unexpected(er.error("sanitize_code", "must be 'aws' or absent"));
  for (const auto* list : {&spec.errors.code, &spec.errors.message, &spec.errors.request_id})
    for (const auto& source : *list)
      if (!source.starts_with("header:") && !source.starts_with("body:"))
        return std::unexpected(er.error("", "'" + source + "' must be header:<name> or body:<member>"));
  EXPBRIDGE_RETURN_IF_ERROR(er.finish());

  const boost::json::object* retry = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(retry, r->required_object("retry"));
  auto rr = ObjectReader::open(*retry, "http.retry");
  if (const auto* statuses = rr.optional_value("statuses")) {
    if (!statuses->is_array()) return std::unexpected(rr.error("statuses", "must be a list of HTTP statuses"));
    for (const auto& s : statuses->get_array()) {
      if (!s.is_int64() || s.get_int64() < 100 || s.get_int64() > 599)
        return std::unexpected(rr.error("statuses", "must be a list of HTTP statuses"));
      spec.retry.statuses.push_back(static_cast<int>(s.get_int64()));
    }
  }
  EXPBRIDGE_ASSIGN_OR_RETURN(spec.retry.codes, string_list(rr, "codes"));
  std::optional<bool> retry_after;
  EXPBRIDGE_ASSIGN_OR_RETURN(retry_after, rr.optional_bool("retry_after"));
  spec.retry.retry_after = retry_after.value_or(true);
  std::optional<std::string> s;
  EXPBRIDGE_ASSIGN_OR_RETURN(s, rr.optional_string("reset_header"));
  spec.retry.reset_header = s.value_or("");
  EXPBRIDGE_ASSIGN_OR_RETURN(s, rr.optional_string("reset_unit"));
  spec.retry.reset_unit = s.value_or("");
  if (!spec.retry.reset_header.empty() && spec.retry.reset_unit != "epoch_ms" && spec.retry.reset_unit != "epoch_s")
    return std::unexpected(rr.error("reset_unit", "must be epoch_ms or epoch_s when reset_header is set"));
  EXPBRIDGE_RETURN_IF_ERROR(rr.finish());

  if (const auto* budget = r->optional_value("budget")) {
    auto br = ObjectReader::open(*budget, "http.budget");
    if (!br) return std::unexpected(std::move(br).error());
    EXPBRIDGE_ASSIGN_OR_RETURN(spec.budget.remaining, string_list(*br, "remaining"));
    EXPBRIDGE_ASSIGN_OR_RETURN(s, br->optional_string("limit"));
    spec.budget.limit = s.value_or("");
    if (spec.budget.remaining.empty())
      return std::unexpected(br->error("remaining", "must name the headers counting the calls left"));
    EXPBRIDGE_RETURN_IF_ERROR(br->finish());
  }

  std::optional<std::int64_t> in_flight;
  EXPBRIDGE_ASSIGN_OR_RETURN(in_flight, r->optional_integer("max_in_flight"));
  spec.max_in_flight = static_cast<int>(in_flight.value_or(4));
  if (spec.max_in_flight < 1 || spec.max_in_flight > 64)
    return std::unexpected(r->error("max_in_flight", "must be 1..64"));
  EXPBRIDGE_ASSIGN_OR_RETURN(in_flight, r->optional_integer("grow_to"));
  spec.grow_to = static_cast<int>(in_flight.value_or(std::max(16, spec.max_in_flight)));
  if (spec.grow_to < spec.max_in_flight || spec.grow_to > 64)
    return std::unexpected(r->error("grow_to", "must be max_in_flight..64"));
  EXPBRIDGE_RETURN_IF_ERROR(r->finish());
  return spec;
}

}  // namespace

const std::vector<std::string>& MappingTable::neutral_fields() {
  static const std::vector<std::string> fields = {
      "name",       "description", "hypothesis", "launch_criteria", "audience.rule", "audience.description",
      "variations", "exposure",    "overrides",  "action",          "result",        "comment",
      "vendor"};
  return fields;
}

struct MappingTable::LazyExamples {
  std::string_view json;
  std::once_flag once;
  boost::json::array parsed;
};

const boost::json::array& MappingTable::examples() const {
  if (!lazy_examples_) return examples_;
  LazyExamples& lazy = *lazy_examples_;
  std::call_once(lazy.once, [&lazy] {
    boost::system::error_code ec;
    // Written by tools/embed_tables.cpp from a table it parsed: a failure here is a build bug,
    // and an empty list makes `mappings --check` report no examples for the table.
    auto value = boost::json::parse(lazy.json, ec);
    if (!ec && value.is_array()) lazy.parsed = std::move(value.get_array());
  });
  return lazy.parsed;
}

Result<MappingTable> MappingTable::parse(std::string_view yaml, std::string source) {
  auto doc = parse_document(yaml, source);
  if (!doc) {
    doc.error().code = ErrorCode::internal;
    return std::unexpected(std::move(doc).error());
  }
  return from_document(*doc, true);
}

Result<MappingTable> MappingTable::parse_embedded(std::string_view json, std::string_view examples_json,
                                                  std::string source) {
  Document doc;
  doc.source = std::move(source);
  boost::system::error_code ec;
  doc.root = boost::json::parse(json, ec);
  if (ec) return std::unexpected(table_error(doc.source, "embedded table is not JSON: " + ec.message()));
  auto table = from_document(doc, false);
  if (!table) return table;
  table->lazy_examples_ = std::make_shared<LazyExamples>();
  table->lazy_examples_->json = examples_json;
  return table;
}

Result<MappingTable> MappingTable::from_document(const Document& document, bool compile_patterns) {
  const Document* doc = &document;
  const std::string& source = document.source;
  auto located = [&](Error e) {
    Error out = doc->error_at(e.field, "mapping table: " + e.message);
    out.code = ErrorCode::internal;
    return std::unexpected(std::move(out));
  };
  MappingTable t;
  t.source_ = source;
  auto r = ObjectReader::open(doc->root, "");
  if (!r) return located(std::move(r).error());
  {
    auto s = r->required_string("vendor");
    if (!s) return located(std::move(s).error());
    t.vendor_ = *s;
    auto title = r->required_string("title");
    if (!title) return located(std::move(title).error());
    t.title_ = *title;
    auto base = r->required_string("base_url");
    if (!base) return located(std::move(base).error());
    t.base_url_ = *base;
    auto ct = r->optional_string("content_type");
    if (!ct) return located(std::move(ct).error());
    t.content_type_ = ct->value_or("application/json");
  }
  auto auth = r->required_object("auth");
  if (!auth) return located(std::move(auth).error());
  t.auth_ = **auth;

  if (const auto* http = r->optional_value("http")) {
    auto spec = parse_http(*http);
    if (!spec) return located(std::move(spec).error());
    t.http_ = std::move(*spec);
  } else {
    Error e = make_error(ErrorCode::invalid_input, "is required: how the vendor's errors look and when to retry");
    e.field = "http";
    return located(std::move(e));
  }

  auto ops = r->required_object("operations");
  if (!ops) return located(std::move(ops).error());
  for (const auto& m : **ops) {
    auto op = parse_operation(std::string(m.key()), m.value(), join_path("operations", m.key()));
    if (!op) return located(std::move(op).error());
    t.operations_.push_back(std::move(*op));
  }

  auto fields = r->required_object("fields");
  if (!fields) return located(std::move(fields).error());
  for (const auto& m : **fields) {
    std::string name(m.key());
    std::string path = "fields." + name;
    if (std::find(neutral_fields().begin(), neutral_fields().end(), name) == neutral_fields().end()) {
      Error e = make_error(ErrorCode::invalid_input, "'" + name + "' is not a neutral field");
      e.field = path;
      return located(std::move(e));
    }
    auto f = parse_field(name, m.value(), path);
    if (!f) return located(std::move(f).error());
    for (const std::string* op : {&f->operation}) {
      if (!op->empty() && !t.operation(*op)) {
        Error e = make_error(ErrorCode::invalid_input, "names operation '" + *op + "', which the table does not define");
        e.field = join_path(path, "operation");
        return located(std::move(e));
      }
    }
    t.fields_.push_back(std::move(*f));
  }
  for (const auto& neutral : neutral_fields()) {
    bool covered = std::any_of(t.fields_.begin(), t.fields_.end(), [&](const FieldSpec& f) { return f.neutral == neutral; });
    if (!covered) {
      Error e = make_error(ErrorCode::invalid_input,
                           "no entry for neutral field '" + neutral + "': map it or give a skip reason");
      e.field = "fields";
      return located(std::move(e));
    }
  }

  if (auto limits = r->optional_object("limits"); !limits) {
    return located(std::move(limits).error());
  } else if (*limits) {
    for (const auto& m : **limits) {
      auto l = parse_limit(std::string(m.key()), m.value(), join_path("limits", m.key()), compile_patterns);
      if (!l) return located(std::move(l).error());
      t.limits_.push_back(std::move(*l));
    }
  }
  if (auto enums = r->optional_object("enums"); !enums) {
    return located(std::move(enums).error());
  } else if (*enums) {
    for (const auto& m : **enums) {
      auto map = string_map(m.value(), join_path("enums", m.key()));
      if (!map) return located(std::move(map).error());
      t.enums_.emplace(std::string(m.key()), std::move(*map));
    }
  }
  if (auto scales = r->optional_object("scales"); !scales) {
    return located(std::move(scales).error());
  } else if (*scales) {
    for (const auto& m : **scales) {
      auto n = as_number(m.value());
      if (!n) {
        Error e = make_error(ErrorCode::invalid_input, "must be a number");
        e.field = join_path("scales", m.key());
        return located(std::move(e));
      }
      t.scales_.emplace(std::string(m.key()), *n);
    }
  }
  if (const auto* pass = r->optional_value("passthrough")) {
    auto map = string_map(*pass, "passthrough");
    if (!map) return located(std::move(map).error());
    for (const auto& [member, op] : *map) {
      if (!t.operation(op)) {
        Error e = make_error(ErrorCode::invalid_input, "names operation '" + op + "', which the table does not define");
        e.field = join_path("passthrough", member);
        return located(std::move(e));
      }
    }
    t.passthrough_ = std::move(*map);
  }
  if (auto defaults = r->optional_object("example_defaults"); !defaults) {
    return located(std::move(defaults).error());
  } else if (*defaults) {
    t.example_defaults_ = **defaults;
  }
  // The importer's rules (load_import_rules reads them where they are needed); checked here so
  // that a table with a broken `import:` section never loads.
  if (const auto* import = r->optional_value("import")) {
    auto rules = parse_import_rules(*import);
    if (!rules) return located(std::move(rules).error());
  }
  if (const auto* examples = r->optional_value("examples")) {
    if (!examples->is_array()) {
      Error e = make_error(ErrorCode::invalid_input, "must be a list");
      e.field = "examples";
      return located(std::move(e));
    }
    t.examples_ = examples->get_array();
  }
  if (auto ok = r->finish(); !ok) return located(std::move(ok).error());
  return t;
}

Result<const OperationSpec*> MappingTable::operation(std::string_view name) const {
  for (const auto& op : operations_)
    if (op.name == name) return &op;
  return std::unexpected(table_error(source_, "mapping table has no operation '" + std::string(name) + "'"));
}

const FieldSpec& MappingTable::field(std::string_view neutral) const {
  for (const auto& f : fields_)
    if (f.neutral == neutral) return f;
  // parse() guarantees every neutral field has an entry; asking for another name is a programming error.
  static const FieldSpec none{};
  return none;
}

Result<std::string> MappingTable::wire(std::string_view neutral, std::string_view part) const {
  const auto& f = field(neutral);
  if (auto it = f.wire.find(part); it != f.wire.end()) return it->second;
  return std::unexpected(table_error(
      source_, "mapping table has no wire name fields." + std::string(neutral) + ".wire." + std::string(part)));
}

Result<const LimitSpec*> MappingTable::limit(std::string_view name) const {
  for (const auto& l : limits_)
    if (l.name == name) return &l;
  return std::unexpected(table_error(source_, "mapping table has no limit '" + std::string(name) + "'"));
}

Result<std::string> MappingTable::enum_value(std::string_view name, std::string_view key) const {
  if (auto e = enums_.find(name); e != enums_.end())
    if (auto v = e->second.find(key); v != e->second.end()) return v->second;
  return std::unexpected(
      table_error(source_, "mapping table has no enums." + std::string(name) + "." + std::string(key)));
}

Result<double> MappingTable::scale(std::string_view name) const {
  if (auto s = scales_.find(name); s != scales_.end()) return s->second;
  return std::unexpected(table_error(source_, "mapping table has no scales." + std::string(name)));
}

}  // namespace expbridge
