// Where secrets come from: the environment and the AWS shared credentials file.
// Values read here are secrets: never log them, never put them in an Error.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "auth/sigv4.hpp"
#include "expbridge/error.hpp"

namespace expbridge::apply {

/// Reads environment variables; injectable so tests do not touch the real environment.
using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// The process environment.
EnvironmentLookup process_environment();

/// AWS credentials, in the AWS CLI's order: with no `profile`, AWS_ACCESS_KEY_ID +
/// AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) from the environment; else (or when
/// those are absent) the profile (`profile`, else AWS_PROFILE, else `default`) of the
/// shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else $HOME/.aws/credentials):
/// aws_access_key_id, aws_secret_access_key, aws_session_token. Errors are
/// `unauthorized`, naming the variables, file and profile looked at — never a value.
Result<auth::AwsCredentials> resolve_aws_credentials(const std::string& profile, const EnvironmentLookup& env);

/// A required secret from the variable `name` (`unauthorized` naming the variable when unset or empty).
Result<std::string> secret_from_environment(std::string_view name, const EnvironmentLookup& env);

}  // namespace expbridge::apply
