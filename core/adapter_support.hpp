// What every adapter needs: checking values against its table's limits, and
// turning a table operation into a planned request.
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

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
/// query, the table's content type when the operation has a body.
Result<PlannedRequest> make_request(const OperationSpec& operation, std::string_view base_url, const Labels& labels,
                                    std::string_view content_type, std::optional<boost::json::value> body);

/// The number in its shortest exact text (`50`, `33.5`), as people and some wire formats want it.
std::string format_number(double value);

/// Turns `vendor.<vendor>` pass-through members into (operation, member, value) triples,
/// refusing members the table does not list (`passthrough:`). Errors name `vendor.<vendor>.<member>`.
Result<std::vector<PassThrough>> read_passthrough(const MappingTable& table, const boost::json::object& vendor_block);

/// An `internal` error about the mapping table itself (a table the adapter cannot use):
/// `mapping table: <message>`, in the table's file.
Error table_error(const MappingTable& table, std::string message);

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

}  // namespace expbridge
