// What every adapter needs: checking values against its table's limits, and
// turning a table operation into a planned request.
#pragma once

#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "expbridge/adapter.hpp"
#include "expbridge/mapping.hpp"
#include "json_reader.hpp"
#include "expbridge/plan.hpp"
#include "url.hpp"

namespace expbridge {

/// Length in characters (UTF-8 code points), as vendors count them.
std::size_t utf8_length(std::string_view text);

/// Checks a string against a limit's length range and pattern.
/// Errors are invalid_input naming `field`, the limit's rule and the value's length.
Status check_string(const LimitSpec& limit, std::string_view value, std::string_view field);
/// Checks a number against a limit's min/max.
Status check_number(const LimitSpec& limit, double value, std::string_view field);
/// Checks a count (items in a list or map) against min_count/max_count.
Status check_count(const LimitSpec& limit, std::size_t count, std::string_view field);
/// Checks a byte size against max_bytes.
Status check_bytes(const LimitSpec& limit, std::size_t bytes, std::string_view field);

/// Builds the request for `operation`: base URL + expanded path + the table's fixed
/// query, the table's content type when the operation has a body. Errors name the operation.
Result<PlannedRequest> make_request(const OperationSpec& operation, std::string_view base_url, const Labels& labels,
                                    std::string_view content_type, std::optional<boost::json::value> body);

/// `result` as it is, except that an error naming no operation now names `operation`: what a
/// helper refused is attributed to the vendor request its value was for.
template <class T>
Result<T> for_operation(std::string_view operation, Result<T> result) {
  if (!result && result.error().operation.empty()) result.error().operation = std::string(operation);
  return result;
}

/// An invalid_input error about `field`, naming the vendor `operation` the value was for.
std::unexpected<Error> refuse_for(std::string_view operation, std::string field, std::string message);

/// One vendor request while a plan builds it: the table operation it is for and its JSON body.
/// Its checks return errors that name that operation, so a refused value says which request it
/// was bound for (`Error::operation`), however deep in the adapter the check ran.
class RequestDraft {
 public:
  explicit RequestDraft(const OperationSpec& operation) : operation_(&operation) {}

  const OperationSpec& operation() const { return *operation_; }
  boost::json::object& body() { return body_; }
  bool empty() const { return body_.empty(); }

  /// `for_operation` with this draft's operation.
  template <class T>
  Result<T> named(Result<T> result) const {
    return for_operation(operation_->name, std::move(result));
  }
  Status check_string(const LimitSpec& limit, std::string_view value, std::string_view field) const;
  Status check_number(const LimitSpec& limit, double value, std::string_view field) const;
  Status check_count(const LimitSpec& limit, std::size_t count, std::string_view field) const;
  Status check_bytes(const LimitSpec& limit, std::size_t bytes, std::string_view field) const;
  /// An invalid_input error about `field`, naming this operation.
  std::unexpected<Error> refuse(std::string field, std::string message) const;

  /// Appends the request with the body built so far (`make_request`) to `plan`.
  Status add_to(BackendPlan& plan, std::string_view base_url, const Labels& labels, std::string_view content_type);

 private:
  const OperationSpec* operation_;
  boost::json::object body_;
};

/// The JSON object a state read answered (`ReadResponse::body`), or an `internal` error naming
/// `operation` and the HTTP status: `<operation> answered something that is not <what>`.
Result<boost::json::object> reply_object(const OperationSpec& operation, const ReadResponse& reply,
                                         std::string_view what);

/// The answer to a creating request (`Adapter::create`) as a JSON object, when the vendor gave the
/// operation's success status. Any other status is an error naming the operation, the status and
/// the vendor's own message (`message`, `Message` or `error` of a JSON body, scrubbed of secrets
/// and cut to a message's length): 400/422
/// invalid_input, 401/403 unauthorized, 404 not_found, 409 conflict, 429 rate_limited, 5xx
/// unavailable, else internal. `what` says what was asked for (`experiment definition 'x'`).
Result<boost::json::object> created_object(const OperationSpec& operation, const ReadResponse& reply,
                                           std::string_view what);

/// The answer to the request that starts an experiment a create has just made (`created_object`
/// of `operation`): on failure the error also gives the experiment's `binding`, since the
/// experiment exists now and creating it again would meet its name or key taken.
Status started_after_create(const OperationSpec& operation, const ReadResponse& reply, std::string_view what,
                            const boost::json::object& binding);

/// The loss-report entries of a create's first step (`CreateStep::carriage`), in the order the
/// fields are looked at; rules are named `<vendor>.<rule>`.
class CarriageList {
 public:
  CarriageList(std::string experiment, std::string_view vendor) : experiment_(std::move(experiment)), vendor_(vendor) {}
  void carried(std::string field);
  /// `rule` is the table's name for the conversion (without the vendor).
  void converted(std::string field, std::string_view rule, std::string from, std::string to);
  /// `rule` names the table entry giving `reason` (without the vendor).
  void lost(std::string field, std::string_view rule, std::string reason);
  /// `carried(field)` when `carried`, else `lost(...)`.
  void carried_or_lost(bool carried, std::string field, std::string_view rule, std::string reason);
  /// When `held`: `neutral` lost with the table's `fields.<neutral>.skip` reason (a field the
  /// vendor never holds).
  void lost_if_skipped(bool held, std::string_view neutral, const MappingTable& table);
  /// The experiment's `status`, if it has one: lost with `lost_by_status.<status>` (rule
  /// `create_lost.<status>`) when that names it, else carried.
  void status(const std::optional<ExperimentStatus>& status,
              const std::map<std::string, std::string, std::less<>>& lost_by_status);
  std::vector<FieldCarriage> take() { return std::move(fields_); }

 private:
  std::string rule_name(std::string_view rule) const;
  std::string experiment_;
  std::string vendor_;
  std::vector<FieldCarriage> fields_;
};

/// The id a read hint (read.hpp) holds at `member`, for a path label. None when there is no
/// hint, or the member is absent, not a string, or not usable in a URL path (empty, `.`, `..`):
/// a hint the adapter cannot use is no hint.
std::optional<std::string> hinted_label(const ReadHint* hint, std::string_view member);

/// The number in its shortest exact text (`50`, `33.5`), as people and some wire formats want it.
std::string format_number(double value);

/// Turns `vendor.<vendor>` pass-through members into (operation, member, value) triples,
/// refusing members the table does not list (`passthrough:`). Errors name `vendor.<vendor>.<member>`.
Result<std::vector<PassThrough>> read_passthrough(const MappingTable& table, const boost::json::object& vendor_block);

/// An `internal` error about the mapping table itself (a table the adapter cannot use):
/// `mapping table: <message>`, in the table's file.
Error table_error(const MappingTable& table, std::string message);

/// A binding as every adapter starts reading it (`experiments.<key>.<backend>`).
struct BindingReader {
  ObjectReader reader;  ///< for the binding's other members
  std::string id;       ///< the vendor id the binding is about

  /// Refuses members other than `members` first (a typo is reported as such, before anything is
  /// missing); then `id_member` must be a string meeting `limit`.
  static Result<BindingReader> open(const boost::json::object& binding, const std::string& path,
                                    std::initializer_list<std::string_view> members, std::string_view id_member,
                                    const LimitSpec& limit);
};

/// A binding being read: the reader for its other members, and the `B` it becomes.
template <class B>
struct OpenedBinding {
  ObjectReader reader;
  std::unique_ptr<B> binding;
};

/// `BindingReader::open`, then a `B` whose member `id` holds the id it read.
template <class B>
Result<OpenedBinding<B>> open_binding(const boost::json::object& binding, const std::string& path,
                                      std::initializer_list<std::string_view> members, std::string_view id_member,
                                      const LimitSpec& limit, std::string B::*id) {
  auto opened = BindingReader::open(binding, path, members, id_member, limit);
  if (!opened) return std::unexpected(std::move(opened).error());
  OpenedBinding<B> out{std::move(opened->reader), std::make_unique<B>()};
  (*out.binding).*id = std::move(opened->id);
  return out;
}

/// One auth parameter that comes from the backend's settings rather than the table.
struct AuthSetting {
  std::string member;   ///< the parameter: `region`, `profile`, `env`, `token_url`, `client_id_env`, ...
  std::string value;
  std::string setting;  ///< where in the config it came from, e.g. `backends.aws.region`
};

/// The backend's authentication: the table's `auth:` section (`scheme`, its parameters,
/// `headers`) with `settings` added, built into its type and checked (`check_auth`).
/// A bad value from the settings is invalid_input at its `setting`; a bad or missing one
/// from the table is `internal` at the table's `auth.<member>`.
Result<AuthSpec> auth_from_table(const MappingTable& table, const std::vector<AuthSetting>& settings);

/// Resolves the table's `limits:` entries into `targets` (pointer, limit name), in order;
/// fails on the first the table lacks.
Status resolve_limits(const MappingTable& table,
                      std::initializer_list<std::pair<const LimitSpec**, std::string_view>> targets);

/// One wire name an adapter takes from its table: `fields.<neutral>.wire.<part>`.
struct WireName {
  std::string* target;
  std::string_view neutral;
  std::string_view part = "_";  ///< `_`: the member itself
};
/// Resolves `MappingTable::wire` for each of `names`, in order; fails on the first the table lacks.
Status resolve_wires(const MappingTable& table, std::initializer_list<WireName> names);

/// One value an adapter takes from its table's `enums:`: `enums.<name>.<key>`.
struct EnumName {
  std::string* target;
  std::string_view name;
  std::string_view key;
};
/// Resolves `MappingTable::enum_value` for each of `names`, in order; fails on the first the table lacks.
Status resolve_enums(const MappingTable& table, std::initializer_list<EnumName> names);

/// `fields.<neutral>.skip`, which the adapter relies on: an `internal` table error when it is empty.
Result<std::string> required_skip(const MappingTable& table, std::string_view neutral);
/// `fields.<neutral>.skip_values.<value>`, which the adapter relies on: a table error when it is missing.
Result<std::string> required_skip_value(const MappingTable& table, std::string_view neutral, std::string_view value);

/// One string setting of a backend (`backends.<name>.<key>`) and the table limit it must meet.
struct SettingSpec {
  std::string_view key;
  std::string_view limit;  ///< the table's `limits.<limit>`
  bool required = true;
};

/// A backend's string settings, as `read_settings` read and checked them.
struct BackendSettings {
  std::string path;  ///< `backends.<name>`
  std::map<std::string, std::string, std::less<>> values;  ///< the settings present

  /// A setting that was present (a required one always is); empty otherwise.
  std::string value(std::string_view key) const;
  std::optional<std::string> optional(std::string_view key) const;
  /// `backends.<name>.<key>`, for errors and AuthSetting::setting.
  std::string setting(std::string_view key) const;
};

/// Reads a backend's settings strictly, in one order for every vendor: an unknown key first
/// (a typo is reported as such, with the closest known key), then a missing required one or
/// one that is not a string, then each value against its limit, in `specs` order.
Result<BackendSettings> read_settings(const BackendContext& context, std::initializer_list<SettingSpec> specs);

/// The settings every AWS backend has: `region` and an optional `profile` naming the shared
/// credentials profile that signs its requests.
struct AwsOptions {
  std::string region;
  std::optional<std::string> profile;  ///< none = the default credential chain
  std::string region_setting, profile_setting;  ///< where they are in the config

  /// From settings read with `region` and `profile` among them.
  static AwsOptions from(const BackendSettings& settings);
  /// What SigV4 takes from these settings (the service comes from the table).
  std::vector<AuthSetting> auth_settings() const;
};

/// The base URL of an AWS backend: the endpoint override, else the table's `base_url` (or its
/// `partition_base_url` entry for the region's partition, e.g. `cn`) expanded for the region.
Result<std::string> aws_base_url(const BackendContext& context, const AwsOptions& options);

/// What an AWS backend is configured with: `region`, the one resource every request addresses
/// (an AppConfig `application`, an Evidently `project`) and an optional `profile`, read in that
/// order by `read_settings` (the resource against the table's limit of the same name); and the
/// base URL they give (`aws_base_url`).
struct AwsBackend {
  AwsOptions aws;
  std::string resource;          ///< the value of the resource setting
  std::string resource_setting;  ///< `backends.<name>.<resource key>`
  std::string base_url;

  static Result<AwsBackend> read(const BackendContext& context, std::string_view resource_key);
  std::vector<AuthSetting> auth_settings() const { return aws.auth_settings(); }
};

/// What every vendor adapter holds: its table as `Table::resolve` made it and its `Options`,
/// both checked before the adapter exists (`adapter_factory` builds it). Its authentication is
/// the table's `auth:` section with what `Options::auth_settings()` takes from the settings.
template <class Table, class Options>
class ResolvedAdapter : public Adapter {
 public:
  using ResolvedTable = Table;
  ResolvedAdapter(const BackendContext& context, std::string vendor, Table table, Options options)
      : Adapter(context, std::move(vendor)), t_(std::move(table)), options_(std::move(options)) {}

 protected:
  Result<AuthSpec> do_auth() const override { return auth_from_table(table(), options_.auth_settings()); }

  const Table t_;
  const Options options_;
};

/// The factory of `A`, a `ResolvedAdapter` registered as `vendor`: its table resolved once
/// (`A::ResolvedTable::resolve`), then its settings read by `read_options(context, table)`, each
/// failing the backend before it exists. Every vendor's factory has this shape, so it is here once.
template <class A, class ReadOptions>
AdapterFactory adapter_factory(std::string_view vendor, ReadOptions read_options) {
  return [vendor = std::string(vendor), read_options](const BackendContext& context) -> Result<std::unique_ptr<Adapter>> {
    auto table = A::ResolvedTable::resolve(*context.table);
    if (!table) return std::unexpected(std::move(table).error());
    auto options = read_options(context, std::as_const(*table));
    if (!options) return std::unexpected(std::move(options).error());
    return std::unique_ptr<Adapter>(std::make_unique<A>(context, vendor, std::move(*table), std::move(*options)));
  };
}

}  // namespace expbridge
