// Output scrubbing: registered secrets and credential-shaped values never survive `scrub`.
#include "secrets.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "expbridge/error.hpp"

namespace expbridge::secrets {
namespace {

TEST(Secrets, RegisteredValuesAreMaskedAsSentPercentEncodedAndJsonEscaped) {
  register_secret("s3cr3t/+=&value-91x");
  EXPECT_EQ(scrub("got s3cr3t/+=&value-91x back"), "got *** back");
  EXPECT_EQ(scrub("client_id=x&secret=s3cr3t%2F%2B%3D%26value-91x&z"), "client_id=x&secret=***&z");
  EXPECT_EQ(scrub(R"({"echo":"s3cr3t\/+=&value-91x"})"), R"({"echo":"***"})");
  EXPECT_TRUE(holds_registered_secret("..s3cr3t/+=&value-91x.."));
  EXPECT_FALSE(holds_registered_secret(scrub("..s3cr3t/+=&value-91x..")));
}

TEST(Secrets, ShortValuesAreNotRegisteredSoOrdinaryWordsSurvive) {
  register_secret("abc");
  register_secret("");
  EXPECT_EQ(scrub("abc def"), "abc def");
}

TEST(Secrets, AuthorizationShapedValuesAreMaskedWhereverTheyAppear) {
  EXPECT_EQ(scrub("Authorization: api-0123-token\r\nAccept: */*"), "Authorization: ***\r\nAccept: */*");
  EXPECT_EQ(scrub("proxy-authorization:Basic dXNlcjpwYXNz\n"), "proxy-authorization:***\n");
  EXPECT_EQ(scrub(R"({"authorization": "api-0123-token", "accept": "json"})"),
            R"({"authorization": "***", "accept": "json"})");
  EXPECT_EQ(scrub(R"({\"Authorization\":\"tok en\"})"), R"({\"Authorization\":\"***\"})");
  EXPECT_EQ(scrub("X-Amz-Security-Token: FQoGZXIvYXdz+/token=="), "X-Amz-Security-Token: ***");
  EXPECT_EQ(scrub("https://h/p?X-Amz-Signature=abcdef0123&X-Amz-Date=1"), "https://h/p?X-Amz-Signature=***&X-Amz-Date=1");
  EXPECT_EQ(scrub(R"({"access_token":"eyJ.a.b","expires_in":86400})"), R"({"access_token":"***","expires_in":86400})");
  EXPECT_EQ(scrub("grant_type=client_credentials&client_secret=abc%2Fdef&audience=x"),
            "grant_type=client_credentials&client_secret=***&audience=x");
  EXPECT_EQ(scrub("token was Bearer eyJhbGciOi.JIUzI1-NiJ9_x+/= and more"), "token was Bearer *** and more");
  EXPECT_EQ(scrub("<td>authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/svc/aws4_request</td>"),
            "<td>authorization: ***</td>");
}

TEST(Secrets, SigV4ValuesLoseCredentialScopeAndSignature) {
  const std::string header =
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
  EXPECT_EQ(scrub("you sent " + header), "you sent AWS4-HMAC-SHA256 ***");
  EXPECT_EQ(scrub("sig Signature=5fa00fa31553b73e, next"), "sig Signature=***, next");
  EXPECT_EQ(scrub(R"({"Signature": "5fa00fa31553b73e"})"), R"({"Signature": "***"})");
}

TEST(Secrets, RecentPerRequestSecretsAreMaskedByValueAndOnlyTheLatestAreKept) {
  const std::string first = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
  register_recent_secret(first);
  EXPECT_EQ(scrub("echoed {\"sig\":\"" + first + "\"}"), "echoed {\"sig\":\"***\"}");
  for (std::size_t i = 0; i < recent_secret_limit; ++i) register_recent_secret("recent-signature-" + std::to_string(i));
  EXPECT_FALSE(holds_registered_secret(first)) << "the oldest is forgotten once the limit is passed";
  EXPECT_EQ(scrub("Signature=" + first), "Signature=***") << "its shape is still masked";
  EXPECT_TRUE(holds_registered_secret("recent-signature-" + std::to_string(recent_secret_limit - 1)));
}

TEST(Secrets, TextWithoutCredentialsIsUnchanged) {
  for (const std::string_view text :
       {"check the Authorization header", "HTTP 401 Unauthorized", "unauthorized: bad token",
        "UnrecognizedClientException: The security token included in the request is invalid",
        "SignatureDoesNotMatch: The request signature we calculated does not match", "bearer of bad news"}) {
    EXPECT_EQ(scrub(text), text);
  }
}

TEST(Secrets, DescribeNeverPrintsAnEchoedCredential) {
  Error e = make_error(ErrorCode::unauthorized, "denied; you sent Authorization: api-live-token-x1");
  e.backend = "ld";
  e.request_id = "Bearer eyJ.abcdefgh";
  const std::string text = e.describe();
  EXPECT_EQ(text.find("api-live-token-x1"), std::string::npos) << text;
  EXPECT_EQ(text.find("eyJ.abcdefgh"), std::string::npos) << text;
  EXPECT_NE(text.find("backend ld: denied; you sent Authorization: ***"), std::string::npos) << text;
}

TEST(Secrets, RegisteringWhileScrubbingFromOtherThreadsIsSafe) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) {
        const std::string value = "thread-" + std::to_string(t) + "-secret-" + std::to_string(i);
        register_secret(value);
        EXPECT_EQ(scrub("[" + value + "]"), "[***]");
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

}  // namespace
}  // namespace expbridge::secrets
