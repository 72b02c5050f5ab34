// URL building from ids, endpoint checks, and JSON text.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "json_writer.hpp"
#include "url.hpp"

namespace expbridge {
namespace {

TEST(Url, LabelsAreEncodedAsOneSegment) {
  auto p = expand_path("/a/{x}/b/{y}", {{"x", "a/b?c#d e"}, {"y", "ok-1._~"}});
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, "/a/a%2Fb%3Fc%23d%20e/b/ok-1._~");
}

TEST(Url, DotSegmentsAndEmptyLabelsAreRefused) {
  for (const char* bad : {"", ".", ".."}) {
    auto p = expand_path("/a/{x}", {{"x", bad}});
    ASSERT_FALSE(p) << bad;
    EXPECT_EQ(p.error().field, "x");
    EXPECT_NE(p.error().message.find("change the path"), std::string::npos);
  }
  // Dots inside a label are harmless once '/' is encoded.
  EXPECT_EQ(*expand_path("/a/{x}", {{"x", "../etc"}}), "/a/..%2Fetc");
}

TEST(Url, UnknownLabelIsAnError) { EXPECT_FALSE(expand_path("/a/{nope}", {{"x", "1"}})); }

TEST(Url, Utf8IsPercentEncoded) { EXPECT_EQ(percent_encode("é"), "%C3%A9"); }

TEST(Url, HostTemplatesTakeHostSafeValuesOnly) {
  EXPECT_EQ(*expand_host_template("https://svc.{region}.amazonaws.com", {{"region", "eu-west-1"}}, "region"),
            "https://svc.eu-west-1.amazonaws.com");
  for (const char* bad : {"evil.com/x", "a@b", "", ".x", "a..b", "x:80"}) {
    auto r = expand_host_template("https://svc.{region}.amazonaws.com", {{"region", bad}}, "backends.aws.region");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().field, "backends.aws.region");
  }
}

TEST(Url, EndpointsMustBeHttpsUnlessLoopback) {
  EXPECT_EQ(*check_endpoint("https://example.com/"), "https://example.com");
  EXPECT_TRUE(check_endpoint("http://127.0.0.1:8080"));
  EXPECT_TRUE(check_endpoint("http://localhost:1"));
  EXPECT_TRUE(check_endpoint("http://[::1]:9000"));
  EXPECT_TRUE(check_endpoint("http://127.5.6.7"));
  auto plain = check_endpoint("http://example.com");
  ASSERT_FALSE(plain);
  EXPECT_NE(plain.error().message.find("loopback"), std::string::npos);
  EXPECT_FALSE(check_endpoint("http://127.0.0.1.evil.com"));
  EXPECT_FALSE(check_endpoint("ftp://example.com"));
  EXPECT_FALSE(check_endpoint("https://user:pass@example.com"));
  EXPECT_FALSE(check_endpoint("https://example.com/?a=b"));
  EXPECT_FALSE(check_endpoint("not a url"));
}

TEST(Url, QueryIsEncoded) {
  EXPECT_EQ(join_url("https://h", "/p", {{"delete_type", "ARCHIVE"}, {"a b", "c&d"}}),
            "https://h/p?delete_type=ARCHIVE&a%20b=c%26d");
}

TEST(JsonWriter, NumbersInShortestForm) {
  auto v = boost::json::parse(R"({"a": 75.0, "b": 0.1, "c": 12, "d": -3.5e-7, "e": [true, null, "x"]})");
  EXPECT_EQ(write_json(v), R"({"a":75,"b":0.1,"c":12,"d":-3.5e-07,"e":[true,null,"x"]})");
}

TEST(JsonWriter, StringsAreEscaped) {
  boost::json::value v = "q\"b\\n\n\t\x01é";
  EXPECT_EQ(write_json(v), "\"q\\\"b\\\\n\\n\\t\\u0001é\"");
}

TEST(JsonWriter, PrettyPrintRoundTrips) {
  auto v = boost::json::parse(R"({"a": {"b": [1, {"c": "d"}], "e": {}}, "f": []})");
  std::string pretty = write_json(v, 2);
  EXPECT_NE(pretty.find("\n  \"a\": {"), std::string::npos);
  EXPECT_EQ(boost::json::parse(pretty), v);
}

}  // namespace
}  // namespace expbridge
