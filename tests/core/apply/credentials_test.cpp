// Tests for credential resolution: the environment and the AWS shared credentials file.
// The environment is injected (never the real one); files are temporary. Keys are the
// AWS documentation's examples, never real-looking ones.

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "apply/credentials.hpp"
#include "support/test_resources.hpp"

namespace expbridge::apply {
namespace {

using test::TempFile;

constexpr std::string_view k_key_id = "AKIDEXAMPLE";
constexpr std::string_view k_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view k_other_key_id = "AKIDEXAMPLEPROFILE";
constexpr std::string_view k_other_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY2";
constexpr std::string_view k_token = "EXAMPLE-SESSION-TOKEN/abc+def==";

/// An environment made of a map; records which variables were looked at.
struct FakeEnvironment {
  std::map<std::string, std::string, std::less<>> vars;

  EnvironmentLookup lookup() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      const auto it = vars.find(name);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }
};

/// Checks an error is `unauthorized`, mentions every `needles` and no secret.
void expect_unauthorized(const Error& error, std::initializer_list<std::string_view> needles) {
  EXPECT_EQ(error.code, ErrorCode::unauthorized) << error.message;
  for (std::string_view needle : needles)
    EXPECT_NE(error.message.find(needle), std::string::npos) << "'" << needle << "' missing from: " << error.message;
  for (std::string_view secret : {k_secret, k_other_secret, k_token})
    EXPECT_EQ(error.message.find(secret), std::string::npos) << error.message;
}

const std::string k_two_profiles = std::string("# written by hand\n") +
                                   "[default]\n"
                                   "aws_access_key_id = " + std::string(k_key_id) + "\n"
                                   "aws_secret_access_key=" + std::string(k_secret) + "\n"
                                   "\n"
                                   "; a comment in INI style\n"
                                   "[  staging  ]\r\n"
                                   "  AWS_ACCESS_KEY_ID   =   " + std::string(k_other_key_id) + "   \r\n"
                                   "\taws_secret_access_key = " + std::string(k_other_secret) + "  # rotated yearly\r\n"
                                   "aws_session_token = " + std::string(k_token) + "\r\n"
                                   "region = eu-west-1\r\n";

// ---------------------------------------------------------------------------
// The environment

TEST(CredentialsTest, ProcessEnvironmentReadsRealVariables) {
  const auto env = process_environment();
  EXPECT_FALSE(env("EXPBRIDGE_SURELY_UNSET_VARIABLE_42").has_value());
  EXPECT_TRUE(env("PATH").has_value());
}

TEST(CredentialsTest, EnvironmentKeysComeFirst) {
  TempFile file(k_two_profiles, ".ini");
  FakeEnvironment env;
  env.vars = {{"AWS_ACCESS_KEY_ID", std::string(k_key_id)},
              {"AWS_SECRET_ACCESS_KEY", std::string(k_secret)},
              {"AWS_PROFILE", "staging"},
              {"AWS_SHARED_CREDENTIALS_FILE", file.path().string()}};
  const auto credentials = resolve_aws_credentials("", env.lookup());
  ASSERT_TRUE(credentials.has_value()) << credentials.error().message;
  EXPECT_EQ(credentials->access_key_id, k_key_id);
  EXPECT_EQ(credentials->secret_access_key, k_secret);
  EXPECT_TRUE(credentials->session_token.empty());
}

TEST(CredentialsTest, EnvironmentSessionTokenIsUsed) {
  FakeEnvironment env;
  env.vars = {{"AWS_ACCESS_KEY_ID", std::string(k_key_id)},
              {"AWS_SECRET_ACCESS_KEY", std::string(k_secret)},
              {"AWS_SESSION_TOKEN", std::string(k_token)}};
  const auto credentials = resolve_aws_credentials("", env.lookup());
  ASSERT_TRUE(credentials.has_value()) << credentials.error().message;
  EXPECT_EQ(credentials->session_token, k_token);
}

TEST(CredentialsTest, ExplicitProfileBeatsTheEnvironment) {
  TempFile file(k_two_profiles, ".ini");
  FakeEnvironment env;
  env.vars = {{"AWS_ACCESS_KEY_ID", std::string(k_key_id)},
              {"AWS_SECRET_ACCESS_KEY", std::string(k_secret)},
              {"AWS_SHARED_CREDENTIALS_FILE", file.path().string()}};
  const auto credentials = resolve_aws_credentials("staging", env.lookup());
  ASSERT_TRUE(credentials.has_value()) << credentials.error().message;
  EXPECT_EQ(credentials->access_key_id, k_other_key_id);
  EXPECT_EQ(credentials->secret_access_key, k_other_secret);
  EXPECT_EQ(credentials->session_token, k_token);
}

TEST(CredentialsTest, HalfAPairInTheEnvironmentIsReported) {
  FakeEnvironment env;
  env.vars = {{"AWS_SECRET_ACCESS_KEY", std::string(k_secret)}};
  const auto credentials = resolve_aws_credentials("", env.lookup());
  ASSERT_FALSE(credentials.has_value());
  expect_unauthorized(credentials.error(), {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"});
}

// ---------------------------------------------------------------------------
// The shared credentials file

TEST(CredentialsTest, DefaultProfileFromTheFile) {
  TempFile file(k_two_profiles, ".ini");
  FakeEnvironment env;
  env.vars = {{"AWS_SHARED_CREDENTIALS_FILE", file.path().string()}};
  const auto credentials = resolve_aws_credentials("", env.lookup());
  ASSERT_TRUE(credentials.has_value()) << credentials.error().message;
  EXPECT_EQ(credentials->access_key_id, k_key_id);
  EXPECT_EQ(credentials->secret_access_key, k_secret);
  EXPECT_TRUE(credentials->session_token.empty());
}

TEST(CredentialsTest, AwsProfileSelectsTheSectionAndParsingIsLenient) {
  // Whitespace around names and values, CRLF, upper-case keys, a trailing comment.
  TempFile file(k_two_profiles, ".ini");
  FakeEnvironment env;
  env.vars = {{"AWS_SHARED_CREDENTIALS_FILE", file.path().string()}, {"AWS_PROFILE", "staging"}};
  const auto credentials = resolve_aws_credentials("", env.lookup());
  ASSERT_TRUE(credentials.has_value()) << credentials.error().message;
  EXPECT_EQ(credentials->access_key_id, k_other_key_id);
  EXPECT_EQ(credentials->secret_access_key, k_other_secret);
  EXPECT_EQ(credentials->session_token, k_token);
}

TEST(CredentialsTest, HomeLocatesTheDefaultFile) {
  TempFile unique("", ".home");  // a unique name to derive the fake home directory from
  const std::filesystem::path home = unique.path().string() + ".d";
  std::filesystem::create_directories(home / ".aws");
  {
    std::ofstream out(home / ".aws" / "credentials");
    out << k_two_profiles;
  }
  FakeEnvironment env;
  env.vars = {{"HOME", home.string()}};
  const auto credentials = resolve_aws_credentials("staging", env.lookup());
  std::filesystem::remove_all(home);
  ASSERT_TRUE(credentials.has_value()) << credentials.error().message;
  EXPECT_EQ(credentials->access_key_id, k_other_key_id);
}

TEST(CredentialsTest, MissingProfileNamesProfileAndFile) {
  TempFile file(k_two_profiles, ".ini");
  FakeEnvironment env;
  env.vars = {{"AWS_SHARED_CREDENTIALS_FILE", file.path().string()}, {"AWS_PROFILE", "production"}};
  const auto credentials = resolve_aws_credentials("", env.lookup());
  ASSERT_FALSE(credentials.has_value());
  expect_unauthorized(credentials.error(),
                      {"'production'", file.path().string(), "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"});
}

TEST(CredentialsTest, ProfileWithoutSecretNamesTheKey) {
  TempFile file("[partial]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key =\n", ".ini");
  FakeEnvironment env;
  env.vars = {{"AWS_SHARED_CREDENTIALS_FILE", file.path().string()}};
  const auto credentials = resolve_aws_credentials("partial", env.lookup());
  ASSERT_FALSE(credentials.has_value());
  expect_unauthorized(credentials.error(), {"'partial'", "aws_secret_access_key", file.path().string()});
}

TEST(CredentialsTest, NothingAnywhereNamesEverythingLookedAt) {
  FakeEnvironment env;
  env.vars = {{"HOME", "/nonexistent/expbridge-test-home"}};
  const auto credentials = resolve_aws_credentials("", env.lookup());
  ASSERT_FALSE(credentials.has_value());
  expect_unauthorized(credentials.error(), {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "'default'",
                                            "/nonexistent/expbridge-test-home/.aws/credentials"});
}

TEST(CredentialsTest, NoHomeAndNoFileVariable) {
  FakeEnvironment env;
  const auto credentials = resolve_aws_credentials("", env.lookup());
  ASSERT_FALSE(credentials.has_value());
  expect_unauthorized(credentials.error(), {"AWS_SHARED_CREDENTIALS_FILE", "HOME"});
}

TEST(CredentialsTest, ErrorsNeverQuoteTheFile) {
  // Keys outside a section, a broken header: ignored, and nothing of the file is echoed.
  TempFile file("aws_secret_access_key = " + std::string(k_secret) + "\n[broken\naws_access_key_id = " +
                    std::string(k_key_id) + "\n",
                ".ini");
  FakeEnvironment env;
  env.vars = {{"AWS_SHARED_CREDENTIALS_FILE", file.path().string()}};
  const auto credentials = resolve_aws_credentials("", env.lookup());
  ASSERT_FALSE(credentials.has_value());
  expect_unauthorized(credentials.error(), {"'default'"});
  EXPECT_EQ(credentials.error().message.find(k_key_id), std::string::npos);
}

// ---------------------------------------------------------------------------
// Single secrets

TEST(CredentialsTest, SecretFromEnvironment) {
  FakeEnvironment env;
  env.vars = {{"LD_TOKEN", " api-0123-example\n"}, {"EMPTY_TOKEN", "  "}};
  const auto token = secret_from_environment("LD_TOKEN", env.lookup());
  ASSERT_TRUE(token.has_value()) << token.error().message;
  EXPECT_EQ(*token, "api-0123-example");

  const auto missing = secret_from_environment("LD_MISSING", env.lookup());
  ASSERT_FALSE(missing.has_value());
  expect_unauthorized(missing.error(), {"LD_MISSING", "not set"});

  const auto empty = secret_from_environment("EMPTY_TOKEN", env.lookup());
  ASSERT_FALSE(empty.has_value());
  expect_unauthorized(empty.error(), {"EMPTY_TOKEN", "empty"});
}

}  // namespace
}  // namespace expbridge::apply
