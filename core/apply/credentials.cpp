// Where secrets come from (see credentials.hpp). Every value read here may be a
// secret: messages name variables, files, profiles and keys, never what they hold.
#include "apply/credentials.hpp"

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "secrets.hpp"

namespace expbridge::apply {
namespace {

constexpr std::string_view k_access_key_var = "AWS_ACCESS_KEY_ID";
constexpr std::string_view k_secret_key_var = "AWS_SECRET_ACCESS_KEY";
constexpr std::string_view k_session_token_var = "AWS_SESSION_TOKEN";
constexpr std::string_view k_profile_var = "AWS_PROFILE";
constexpr std::string_view k_file_var = "AWS_SHARED_CREDENTIALS_FILE";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

Error unauthorized(std::string message) { return make_error(ErrorCode::unauthorized, std::move(message)); }

// Registered before use so that output scrubbing knows them whatever a vendor echoes.
// The access key id is an identifier, not a secret (AWS prints it in errors itself).
auth::AwsCredentials registered(auth::AwsCredentials credentials) {
  secrets::register_secret(credentials.secret_access_key);
  secrets::register_secret(credentials.session_token);
  return credentials;
}

/// A variable's value, or nothing when it is unset or holds only whitespace.
std::optional<std::string> non_empty(const EnvironmentLookup& env, std::string_view name) {
  if (!env) return std::nullopt;
  auto value = env(name);
  if (!value) return std::nullopt;
  const std::string_view trimmed = trim(*value);
  if (trimmed.empty()) return std::nullopt;
  return std::string(trimmed);
}

using IniSection = std::map<std::string, std::string>;
using IniFile = std::map<std::string, IniSection>;

/// The subset of INI that the AWS CLI writes and reads in the credentials file:
/// `[name]` sections, `key = value` (or `key: value`) pairs, whole-line `#`/`;` comments
/// and, for hand-edited files, trailing ` # comment`s (no key or secret contains
/// whitespace, so this cannot cut a value). Indented lines under an empty value are
/// nested settings (`s3 =` in config files): skipped. Keys compare case-insensitively;
/// a repeated section or key keeps its last value. Nothing here quotes the file back.
IniFile parse_ini(std::string_view text) {
  IniFile file;
  IniSection* section = nullptr;
  bool in_nested = false;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM from some editors
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view raw = text.substr(start, end - start);
    start = end + 1;

    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    const bool indented = is_space(raw.front());
    if (in_nested && indented) continue;
    in_nested = false;

    if (line.front() == '[') {
      const std::size_t close = line.find(']');
      if (close == std::string_view::npos) {
        section = nullptr;  // malformed header: ignore what follows rather than misattribute it
        continue;
      }
      section = &file[std::string(trim(line.substr(1, close - 1)))];
      continue;
    }
    if (section == nullptr) continue;  // keys before any section belong to no profile

    const std::size_t eq = line.find_first_of("=:");
    if (eq == std::string_view::npos) continue;
    const std::string key = to_lower(trim(line.substr(0, eq)));
    std::string_view value = trim(line.substr(eq + 1));
    for (std::size_t i = 1; i < value.size(); ++i) {
      if ((value[i] == '#' || value[i] == ';') && is_space(value[i - 1])) {
        value = trim(value.substr(0, i));
        break;
      }
    }
    if (key.empty()) continue;
    if (value.empty()) in_nested = true;
    (*section)[key] = std::string(value);
  }
  return file;
}

/// The credentials file to read: AWS_SHARED_CREDENTIALS_FILE (with `~` expanded like
/// the AWS CLI does), else $HOME/.aws/credentials.
Result<std::string> credentials_file_path(const EnvironmentLookup& env) {
  const auto home = non_empty(env, "HOME");
  if (auto file = non_empty(env, k_file_var)) {
    if (file->starts_with("~/") || *file == "~") {
      if (!home)
        return std::unexpected(unauthorized(std::string(k_file_var) + " starts with '~' but HOME is not set"));
      return *home + file->substr(1);
    }
    return *file;
  }
  if (!home)
    return std::unexpected(unauthorized("no AWS credentials: " + std::string(k_access_key_var) + "/" +
                                        std::string(k_secret_key_var) + " are not set, and neither " +
                                        std::string(k_file_var) + " nor HOME is set to locate the shared "
                                        "credentials file"));
  return *home + "/.aws/credentials";
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(out).str();
}

std::optional<std::string> non_empty_key(const IniSection& section, std::string_view key) {
  const auto it = section.find(std::string(key));
  if (it == section.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

}  // namespace

EnvironmentLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    // getenv needs a terminated string; the view may not be one.
    const std::string key(name);
    const char* value = std::getenv(key.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Result<std::string> secret_from_environment(std::string_view name, const EnvironmentLookup& env) {
  if (name.empty()) return std::unexpected(make_error(ErrorCode::internal, "no environment variable named for a secret"));
  if (!env) return std::unexpected(make_error(ErrorCode::internal, "no environment lookup configured"));
  const auto value = env(name);
  if (!value) return std::unexpected(unauthorized("environment variable " + std::string(name) + " is not set"));
  // Surrounding whitespace is never part of a token or secret; it comes from
  // `export X="$(cat file)"`-style setups and would only make the vendor answer 401.
  const std::string_view trimmed = trim(*value);
  if (trimmed.empty()) return std::unexpected(unauthorized("environment variable " + std::string(name) + " is empty"));
  secrets::register_secret(trimmed);
  return std::string(trimmed);
}

Result<auth::AwsCredentials> resolve_aws_credentials(const std::string& profile, const EnvironmentLookup& env) {
  if (!env) return std::unexpected(make_error(ErrorCode::internal, "no environment lookup configured"));

  // 1. The environment, unless a profile was asked for explicitly (as the AWS CLI's --profile).
  std::string env_note;
  if (profile.empty()) {
    auto access_key = non_empty(env, k_access_key_var);
    auto secret_key = non_empty(env, k_secret_key_var);
    if (access_key && secret_key) {
      auth::AwsCredentials credentials;
      credentials.access_key_id = std::move(*access_key);
      credentials.secret_access_key = std::move(*secret_key);
      if (auto token = non_empty(env, k_session_token_var)) credentials.session_token = std::move(*token);
      return registered(std::move(credentials));
    }
    // Half a pair is a mistake worth reporting rather than silently using another identity.
    if (access_key || secret_key)
      return std::unexpected(unauthorized(std::string(access_key ? k_access_key_var : k_secret_key_var) +
                                          " is set but " +
                                          std::string(access_key ? k_secret_key_var : k_access_key_var) +
                                          " is not"));
    env_note = std::string(k_access_key_var) + "/" + std::string(k_secret_key_var) + " are not set; ";
  }

  // 2. The shared credentials file.
  std::string profile_name = profile;
  if (profile_name.empty()) profile_name = non_empty(env, k_profile_var).value_or("default");
  auto path = credentials_file_path(env);
  if (!path) return std::unexpected(std::move(path).error());

  const auto text = read_file(*path);
  if (!text)
    return std::unexpected(unauthorized("no AWS credentials for profile '" + profile_name + "': " + env_note +
                                        "cannot read the shared credentials file " + *path));
  const IniFile file = parse_ini(*text);
  const auto section = file.find(profile_name);
  if (section == file.end())
    return std::unexpected(unauthorized("no AWS credentials: " + env_note + "profile '" + profile_name +
                                        "' is not in the shared credentials file " + *path));

  auto access_key = non_empty_key(section->second, "aws_access_key_id");
  auto secret_key = non_empty_key(section->second, "aws_secret_access_key");
  if (!access_key || !secret_key) {
    std::string missing;
    if (!access_key) missing = "aws_access_key_id";
    if (!secret_key) missing += std::string(missing.empty() ? "" : " and ") + "aws_secret_access_key";
    return std::unexpected(unauthorized("profile '" + profile_name + "' in the shared credentials file " + *path +
                                        " has no " + missing));
  }
  auth::AwsCredentials credentials;
  credentials.access_key_id = std::move(*access_key);
  credentials.secret_access_key = std::move(*secret_key);
  if (auto token = non_empty_key(section->second, "aws_session_token")) credentials.session_token = std::move(*token);
  return registered(std::move(credentials));
}

}  // namespace expbridge::apply
