#include "adapter_support.hpp"

#include <charconv>

#include <boost/json/parse.hpp>

#include "document.hpp"
#include "json_reader.hpp"
#include "json_writer.hpp"
#include "message_text.hpp"
#include "pattern.hpp"
#include "secrets.hpp"

namespace expbridge {
namespace {
Error limit_error(const LimitSpec& limit, std::string_view field, std::string message) {
  if (!limit.rule.empty()) message += " (" + limit.rule + ")";
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.field = std::string(field);
  return e;
}
std::string range_text(std::optional<std::size_t> lo, std::optional<std::size_t> hi) {
  if (lo && hi) return std::to_string(*lo) + ".." + std::to_string(*hi);
  if (hi) return "at most " + std::to_string(*hi);
  return "at least " + std::to_string(lo.value_or(0));
}
}  // namespace

std::size_t utf8_length(std::string_view text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

std::string format_number(double value) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, end);
}

Status check_string(const LimitSpec& limit, std::string_view value, std::string_view field) {
  std::size_t length = utf8_length(value);
  if ((limit.min_length && length < *limit.min_length) || (limit.max_length && length > *limit.max_length))
    return std::unexpected(limit_error(limit, field,
                                       "must be " + range_text(limit.min_length, limit.max_length) +
                                           " characters long, got " + std::to_string(length)));
  // Quoted only when refused: planning checks every value, and most pass.
  auto shown = [&] { return limit.hide_value ? std::string("the value") : quote_value(value); };
  if (limit.compiled && !limit.compiled->full_match(value))
    return std::unexpected(limit_error(limit, field, shown() + " does not match " + limit.pattern));
  if (limit.compiled_not && limit.compiled_not->full_match(value))
    return std::unexpected(limit_error(limit, field, shown() + " is refused (it matches " + limit.not_pattern + ")"));
  return {};
}

Status check_number(const LimitSpec& limit, double value, std::string_view field) {
  if ((limit.min && value < *limit.min) || (limit.max && value > *limit.max)) {
    std::string range = limit.min && limit.max ? format_number(*limit.min) + ".." + format_number(*limit.max)
                        : limit.max            ? "at most " + format_number(*limit.max)
                                               : "at least " + format_number(limit.min.value_or(0));
    return std::unexpected(limit_error(limit, field, "must be " + range + ", got " + format_number(value)));
  }
  return {};
}

Status check_count(const LimitSpec& limit, std::size_t count, std::string_view field) {
  if ((limit.min_count && count < *limit.min_count) || (limit.max_count && count > *limit.max_count))
    return std::unexpected(limit_error(limit, field,
                                       "must hold " + range_text(limit.min_count, limit.max_count) +
                                           " entries, got " + std::to_string(count)));
  return {};
}

Status check_bytes(const LimitSpec& limit, std::size_t bytes, std::string_view field) {
  if (limit.max_bytes && bytes > *limit.max_bytes)
    return std::unexpected(limit_error(limit, field,
                                       "must be at most " + std::to_string(*limit.max_bytes) + " bytes, got " +
                                           std::to_string(bytes)));
  return {};
}

Result<PlannedRequest> make_request(const OperationSpec& operation, std::string_view base_url, const Labels& labels,
                                    std::string_view content_type, std::optional<boost::json::value> body) {
  auto path = for_operation(operation.name, expand_path(operation.path, labels));
  if (!path) return std::unexpected(std::move(path).error());
  PlannedRequest r;
  r.operation = operation.name;
  r.method = operation.method;
  r.url = join_url(base_url, *path, operation.query);
  if (operation.has_body) {
    r.headers.emplace_back("content-type", std::string(content_type));
    r.body = body ? std::move(body) : std::optional<boost::json::value>(boost::json::object());
  }
  r.success_status = operation.success;
  r.idempotent = operation.idempotent;
  return r;
}

Status RequestDraft::check_string(const LimitSpec& limit, std::string_view value, std::string_view field) const {
  return named(expbridge::check_string(limit, value, field));
}

Status RequestDraft::check_number(const LimitSpec& limit, double value, std::string_view field) const {
  return named(expbridge::check_number(limit, value, field));
}

Status RequestDraft::check_count(const LimitSpec& limit, std::size_t count, std::string_view field) const {
  return named(expbridge::check_count(limit, count, field));
}

Status RequestDraft::check_bytes(const LimitSpec& limit, std::size_t bytes, std::string_view field) const {
  return named(expbridge::check_bytes(limit, bytes, field));
}

std::unexpected<Error> refuse_for(std::string_view operation, std::string field, std::string message) {
  Error e = invalid_field(std::move(field), std::move(message));
  e.operation = std::string(operation);
  return std::unexpected(std::move(e));
}

std::unexpected<Error> RequestDraft::refuse(std::string field, std::string message) const {
  return refuse_for(operation_->name, std::move(field), std::move(message));
}

Status RequestDraft::add_to(BackendPlan& plan, std::string_view base_url, const Labels& labels,
                            std::string_view content_type) {
  auto request = make_request(*operation_, base_url, labels, content_type, boost::json::value(std::move(body_)));
  body_ = {};
  if (!request) return std::unexpected(std::move(request).error());
  plan.requests.push_back(std::move(*request));
  return {};
}

Result<boost::json::object> reply_object(const OperationSpec& operation, const ReadResponse& reply,
                                         std::string_view what) {
  boost::system::error_code ec;
  auto parsed = boost::json::parse(reply.body, ec);
  if (!ec && parsed.is_object()) return std::move(parsed.get_object());
  Error e = make_error(ErrorCode::internal, operation.name + " answered something that is not " + std::string(what));
  e.operation = operation.name;
  e.http_status = reply.status;
  return std::unexpected(std::move(e));
}

Result<boost::json::object> created_object(const OperationSpec& operation, const ReadResponse& reply,
                                           std::string_view what) {
  boost::system::error_code ec;
  auto parsed = boost::json::parse(reply.body, ec);
  if (reply.status == operation.success) {
    if (!ec && parsed.is_object()) return std::move(parsed.get_object());
    Error e = make_error(ErrorCode::internal, operation.name + " created " + std::string(what) +
                                                  " but answered something that is not a JSON object");
    e.operation = operation.name;
    e.http_status = reply.status;
    return std::unexpected(std::move(e));
  }
  std::string vendor_message;
  if (!ec && parsed.is_object())
    for (const char* member : {"message", "Message", "error"})
      if (const auto* m = parsed.get_object().if_contains(member); m && m->is_string()) {
        // Vendor text: a hostile vendor or proxy may echo our credentials, or send megabytes.
        vendor_message = printable_text(secrets::scrub(m->get_string()));
        break;
      }
  const int s = reply.status;
  const ErrorCode code = s == 400 || s == 422 ? ErrorCode::invalid_input
                         : s == 401 || s == 403 ? ErrorCode::unauthorized
                         : s == 404             ? ErrorCode::not_found
                         : s == 409             ? ErrorCode::conflict
                         : s == 429             ? ErrorCode::rate_limited
                         : s >= 500             ? ErrorCode::unavailable
                                                : ErrorCode::internal;
  Error e = make_error(code, operation.name + " did not create " + std::string(what) + ": it answered " +
                                 std::to_string(s) + (vendor_message.empty() ? "" : " (" + vendor_message + ")"));
  e.operation = operation.name;
  e.http_status = s;
  return std::unexpected(std::move(e));
}

Status started_after_create(const OperationSpec& operation, const ReadResponse& reply, std::string_view what,
                            const boost::json::object& binding) {
  auto started = created_object(operation, reply, what);
  if (started) return {};
  Error e = std::move(started).error();
  e.message += "; the experiment itself was created, with the binding " + write_json(binding) +
               ": keep that binding and start it with action: start once the cause is fixed";
  return std::unexpected(std::move(e));
}

std::string CarriageList::rule_name(std::string_view rule) const {
  return rule.empty() ? std::string() : vendor_ + "." + std::string(rule);
}

void CarriageList::carried(std::string field) {
  fields_.push_back(FieldCarriage{experiment_, std::move(field), Carriage::carried, {}, {}, {}, {}, {}});
}

void CarriageList::converted(std::string field, std::string_view rule, std::string from, std::string to) {
  fields_.push_back(FieldCarriage{experiment_, std::move(field), Carriage::converted, rule_name(rule), std::move(from),
                                  std::move(to), {}, {}});
}

void CarriageList::lost(std::string field, std::string_view rule, std::string reason) {
  fields_.push_back(
      FieldCarriage{experiment_, std::move(field), Carriage::lost, rule_name(rule), {}, {}, std::move(reason), {}});
}

void CarriageList::carried_or_lost(bool carried_there, std::string field, std::string_view rule, std::string reason) {
  if (carried_there) {
    carried(std::move(field));
  } else {
    lost(std::move(field), rule, std::move(reason));
  }
}

void CarriageList::lost_if_skipped(bool held, std::string_view neutral, const MappingTable& table) {
  if (held) lost(std::string(neutral), "fields." + std::string(neutral) + ".skip", table.field(neutral).skip);
}

void CarriageList::status(const std::optional<ExperimentStatus>& status,
                          const std::map<std::string, std::string, std::less<>>& lost_by_status) {
  if (!status) return;
  const std::string_view name = to_string(*status);
  if (auto lost_here = lost_by_status.find(name); lost_here != lost_by_status.end()) {
    lost("status", "create_lost." + std::string(name), lost_here->second);
  } else {
    carried("status");
  }
}

std::optional<std::string> hinted_label(const ReadHint* hint, std::string_view member) {
  const auto* value = hint ? hint->if_contains(member) : nullptr;
  if (!value || !value->is_string()) return std::nullopt;
  std::string label(value->get_string());
  if (label.empty() || label == "." || label == "..") return std::nullopt;
  return label;
}

Result<std::vector<PassThrough>> read_passthrough(const MappingTable& table, const boost::json::object& vendor_block) {
  std::vector<PassThrough> out;
  for (const auto& member : vendor_block) {
    auto it = table.passthrough().find(member.key());
    if (it == table.passthrough().end()) {
      std::vector<std::string> known;
      for (const auto& [name, op] : table.passthrough()) known.push_back(name);
      std::string message = quote_value(member.key()) + " cannot be passed through to " + table.vendor();
      if (auto guess = closest_name(member.key(), known); !guess.empty()) message += " (did you mean '" + guess + "'?)";
      message += known.empty() ? "; this vendor takes no pass-through members" : "; it takes:";
      for (const auto& k : known) message += " " + k;
      Error e = make_error(ErrorCode::invalid_input, std::move(message));
      e.field = "vendor." + table.vendor() + "." + std::string(member.key());
      return std::unexpected(std::move(e));
    }
    out.push_back(PassThrough{it->second, std::string(member.key()), &member.value()});
  }
  return out;
}

Error table_error(const MappingTable& table, std::string message) {
  Error e = make_error(ErrorCode::internal, "mapping table: " + std::move(message));
  e.file = table.source();
  return e;
}

Result<AuthSpec> auth_from_table(const MappingTable& table, const std::vector<AuthSetting>& settings) {
  const auto& section = table.auth();
  auto from_table = [&](std::string_view member) -> std::optional<std::string> {
    if (const auto* v = section.if_contains(member); v && v->is_string()) return std::string(v->get_string());
    return std::nullopt;
  };
  auto value = [&](std::string_view member) -> std::optional<std::string> {
    for (const auto& s : settings)
      if (s.member == member) return s.value;
    return from_table(member);
  };

  AuthSpec spec;
  if (const auto* headers = section.if_contains("headers"); headers && headers->is_object())
    for (const auto& h : headers->get_object())
      if (h.value().is_string()) spec.headers.emplace_back(std::string(h.key()), std::string(h.value().get_string()));
  const std::string scheme = from_table("scheme").value_or("");
  if (scheme == "sigv4") {
    spec.method = SigV4Auth{value("service").value_or(""), value("region").value_or(""), value("profile")};
  } else if (scheme == "header_token") {
    spec.method = HeaderTokenAuth{value("header").value_or("Authorization"), value("env").value_or(""), value("prefix")};
  } else if (scheme == "oauth_client_credentials") {
    spec.method = OAuthClientCredentialsAuth{value("token_url").value_or(""), value("audience").value_or(""),
                                             value("client_id_env").value_or(""),
                                             value("client_secret_env").value_or("")};
  } else if (scheme == "none") {
    spec.method = NoAuth{};
  } else {
    Error e = table_error(table, scheme.empty() ? std::string("auth.scheme is missing")
                                                : "unknown auth scheme " + quote_value(scheme) +
                                                      " (known: sigv4, header_token, oauth_client_credentials, none)");
    e.field = "auth.scheme";
    return std::unexpected(std::move(e));
  }

  if (auto ok = check_auth(spec); !ok) {
    Error e = std::move(ok).error();
    for (const auto& s : settings)
      if (s.member == e.field) {
        e.field = s.setting;
        return std::unexpected(std::move(e));
      }
    Error in_table = table_error(table, "auth." + e.field + ": " + e.message);
    in_table.field = "auth." + e.field;
    return std::unexpected(std::move(in_table));
  }
  return spec;
}

std::vector<AuthSetting> AwsOptions::auth_settings() const {
  std::vector<AuthSetting> out{{"region", region, region_setting}};
  if (profile) out.push_back({"profile", *profile, profile_setting});
  return out;
}

Status resolve_limits(const MappingTable& table,
                      std::initializer_list<std::pair<const LimitSpec**, std::string_view>> targets) {
  for (const auto& [target, name] : targets) EXPBRIDGE_ASSIGN_OR_RETURN(*target, table.limit(name));
  return {};
}

Result<BindingReader> BindingReader::open(const boost::json::object& binding, const std::string& path,
                                         std::initializer_list<std::string_view> members, std::string_view id_member,
                                         const LimitSpec& limit) {
  BindingReader out{ObjectReader::open(binding, path), {}};
  EXPBRIDGE_RETURN_IF_ERROR(out.reader.known(members));
  EXPBRIDGE_ASSIGN_OR_RETURN(out.id, out.reader.required_string(id_member));
  EXPBRIDGE_RETURN_IF_ERROR(check_string(limit, out.id, out.reader.member_path(id_member)));
  return out;
}

Status resolve_wires(const MappingTable& table, std::initializer_list<WireName> names) {
  for (const auto& name : names) EXPBRIDGE_ASSIGN_OR_RETURN(*name.target, table.wire(name.neutral, name.part));
  return {};
}

Status resolve_enums(const MappingTable& table, std::initializer_list<EnumName> names) {
  for (const auto& name : names) EXPBRIDGE_ASSIGN_OR_RETURN(*name.target, table.enum_value(name.name, name.key));
  return {};
}

Result<std::string> required_skip(const MappingTable& table, std::string_view neutral) {
  const std::string& reason = table.field(neutral).skip;
  if (reason.empty()) return std::unexpected(table_error(table, "fields." + std::string(neutral) + ".skip is missing"));
  return reason;
}

Result<std::string> required_skip_value(const MappingTable& table, std::string_view neutral, std::string_view value) {
  const auto& values = table.field(neutral).skip_values;
  if (auto it = values.find(value); it != values.end() && !it->second.empty()) return it->second;
  return std::unexpected(
      table_error(table, "fields." + std::string(neutral) + ".skip_values." + std::string(value) + " is missing"));
}

std::string BackendSettings::value(std::string_view key) const { return optional(key).value_or(""); }

std::optional<std::string> BackendSettings::optional(std::string_view key) const {
  if (auto it = values.find(key); it != values.end()) return it->second;
  return std::nullopt;
}

std::string BackendSettings::setting(std::string_view key) const { return join_path(path, key); }

Result<BackendSettings> read_settings(const BackendContext& context, std::initializer_list<SettingSpec> specs) {
  auto reader = ObjectReader::open(*context.settings, context.path);
  BackendSettings out;
  out.path = context.path;
  for (const auto& spec : specs) {
    std::optional<std::string> value;
    EXPBRIDGE_ASSIGN_OR_RETURN(value, reader.optional_string(spec.key));
    if (value) out.values.emplace(std::string(spec.key), std::move(*value));
  }
  // Every key is read by now, so what finish() finds is unknown (with the closest known key).
  EXPBRIDGE_RETURN_IF_ERROR(reader.finish());
  for (const auto& spec : specs) {
    if (!spec.required) continue;
    auto it = out.values.find(spec.key);
    if (it == out.values.end()) return std::unexpected(reader.missing(spec.key));
    if (it->second.empty()) return std::unexpected(reader.error(spec.key, "must not be empty"));
  }
  for (const auto& spec : specs) {
    auto value = out.optional(spec.key);
    if (!value) continue;
    const LimitSpec* limit = nullptr;
    EXPBRIDGE_ASSIGN_OR_RETURN(limit, context.table->limit(spec.limit));
    EXPBRIDGE_RETURN_IF_ERROR(check_string(*limit, *value, reader.member_path(spec.key)));
  }
  return out;
}

AwsOptions AwsOptions::from(const BackendSettings& settings) {
  return AwsOptions{settings.value("region"), settings.optional("profile"), settings.setting("region"),
                    settings.setting("profile")};
}

Result<std::string> aws_base_url(const BackendContext& context, const AwsOptions& options) {
  if (!context.endpoint.empty()) return context.endpoint;
  // Partitions other than aws (China) have their own DNS suffix.
  std::string url_template = context.table->base_url();
  std::string_view partition = std::string_view(options.region).substr(0, options.region.find('-'));
  if (auto other = context.table->enum_value("partition_base_url", partition)) url_template = *other;
  return expand_host_template(url_template, {{"region", options.region}}, options.region_setting);
}

Result<AwsBackend> AwsBackend::read(const BackendContext& context, std::string_view resource_key) {
  BackendSettings settings;
  EXPBRIDGE_ASSIGN_OR_RETURN(settings, read_settings(context, {{"region", "region"},
                                                               {resource_key, resource_key},
                                                               {"profile", "profile", false}}));
  AwsBackend out{AwsOptions::from(settings), settings.value(resource_key), settings.setting(resource_key), {}};
  EXPBRIDGE_ASSIGN_OR_RETURN(out.base_url, aws_base_url(context, out.aws));
  return out;
}

}  // namespace expbridge
