// Documents written to hurt: each must be refused with a message that names the file, the line
// and (where there is one) the field — never a crash, a hang or a runaway allocation. The CLI
// side (exit codes, nothing sent) is in hostile_input_cli_test.cpp.
#include <gtest/gtest.h>

#include <string>

#include "document.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "json_reader.hpp"
#include "message_text.hpp"

namespace expbridge {
namespace {

Error update_error(std::string_view text, std::string source = "u.yaml",
                   DocumentFormat format = DocumentFormat::detect) {
  auto u = parse_update(text, source, format);
  EXPECT_FALSE(u) << "accepted: " << std::string(text.substr(0, 200));
  return u ? Error{} : u.error();
}

Error config_error(std::string_view text) {
  auto b = Bridge::from_text(text, "c.yaml");
  EXPECT_FALSE(b) << "accepted: " << std::string(text.substr(0, 200));
  return b ? Error{} : b.error();
}

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string::npos; }

constexpr std::string_view kConfig =
    "backends:\n"
    "  aws: {vendor: appconfig, region: us-east-1, application: abc1234}\n"
    "experiments:\n"
    "  checkout-redesign:\n"
    "    aws: {definition: bsxyd7k, run: 1, treatments: {control: c, two-step: t1}}\n";

// ---- the stray comma (yaml-cpp 0.7 looped forever on these, allocating) ----------------------

TEST(HostileInput, StrayCommasAreSyntaxErrorsWithAPosition) {
  for (std::string_view text : {",", "\"x\",", ",\n", "  ,", ",,,", "- ,\n", "[,]", "{,}", "a: b,\n,"}) {
    Error e = update_error(text);
    EXPECT_EQ(e.code, ErrorCode::invalid_input) << text;
    EXPECT_EQ(e.file, "u.yaml") << text;
    EXPECT_GT(e.line, 0) << text;
    EXPECT_GT(e.column, 0) << text;
    EXPECT_TRUE(contains(e.message, "malformed")) << text << ": " << e.message;
  }
}

TEST(HostileInput, ACsvLikeStreamLineIsOneBadJsonLine) {
  Error e = update_error(R"("experiment","checkout-redesign")", "-:7", DocumentFormat::json);
  EXPECT_EQ(e.file, "-:7");
  EXPECT_EQ(e.line, 1);
  EXPECT_EQ(e.column, 13);  // the comma after the first value
  EXPECT_TRUE(contains(e.message, "malformed JSON: unexpected text after the JSON value")) << e.message;
}

TEST(HostileInput, AStrayCommaInAConfigIsRefused) {
  for (std::string_view text : {",", "\"backends\",", "backends: ,\n"}) {
    Error e = config_error(text);
    EXPECT_EQ(e.file, "c.yaml") << text;
    EXPECT_GT(e.line, 0) << text;
  }
}

// ---- aliases ---------------------------------------------------------------------------------

TEST(HostileInput, ASelfReferencingAliasIsRefusedWhereItIsUsed) {
  Error e = update_error("experiment: e\nvendor: &v {appconfig: *v}\n");
  EXPECT_TRUE(contains(e.message, "aliases (*v) are not accepted")) << e.message;
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 24);
  Error c = config_error("backends: &b {aws: *b}\n");
  EXPECT_TRUE(contains(c.message, "aliases (*b)")) << c.message;
  EXPECT_EQ(c.line, 1);
}

TEST(HostileInput, BillionLaughsIsRefusedAtItsFirstAliasWithoutExpanding) {
  std::string text = "experiment: e\nvendor:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (char level = 'b'; level <= 'k'; ++level) {
    const char below = static_cast<char>(level - 1);
    text += std::string("  ") + level + ": &" + level + " [";
    for (int i = 0; i < 10; ++i) text += std::string(i ? ", *" : "*") + below;
    text += "]\n";
  }
  Error e = update_error(text);
  EXPECT_TRUE(contains(e.message, "aliases (*a)")) << e.message;
  EXPECT_EQ(e.line, 4);
}

TEST(HostileInput, MergeKeysAreAliasesToo) {
  Error e = update_error("base: &base {name: x}\nexperiment: e\n<<: *base\n");
  EXPECT_TRUE(contains(e.message, "merge keys included")) << e.message;
}

// ---- size, depth, count ----------------------------------------------------------------------

TEST(HostileInput, DeepNestingStopsAtTheLimitInYamlAndJson) {
  const std::string flow = "experiment: e\nvendor: " + std::string(100'000, '[');
  Error y = update_error(flow);
  EXPECT_TRUE(contains(y.message, "deeper than 64")) << y.message;
  EXPECT_EQ(y.line, 2);

  std::string block = "experiment: e\nvendor:\n";
  for (int depth = 0; depth < 100; ++depth) block += std::string(2 * depth + 2, ' ') + "k:\n";
  Error b = update_error(block);
  EXPECT_TRUE(contains(b.message, "deeper than 64")) << b.message;

  std::string json = R"({"experiment": "e", "vendor": )";
  for (int depth = 0; depth < 100'000; ++depth) json += R"({"a": )";
  Error j = update_error(json, "u.json");
  EXPECT_TRUE(contains(j.message, "deeper than 64")) << j.message;
  EXPECT_EQ(j.line, 1);
}

TEST(HostileInput, NestingWithinTheLimitIsRead) {
  std::string json = R"({"experiment": "e", "vendor": {"appconfig": )";
  for (int depth = 0; depth < 60; ++depth) json += "[";
  for (int depth = 0; depth < 60; ++depth) json += "]";
  json += "}}";
  auto d = parse_document(json, "d.json");
  EXPECT_TRUE(d) << d.error().describe();
}

TEST(HostileInput, DocumentsBeyondTheSizeLimitAreRefusedUnread) {
  const std::string big = "experiment: e\nname: '" + std::string(kMaxDocumentBytes, 'x') + "'\n";
  Error e = update_error(big);
  EXPECT_TRUE(contains(e.message, std::to_string(kMaxDocumentBytes) + " bytes")) << e.message.substr(0, 300);
  EXPECT_EQ(e.file, "u.yaml");
}

TEST(HostileInput, MoreValuesThanTheLimitAreRefused) {
  std::string json = R"({"experiment": "e", "vendor": {"x": [)";
  json.reserve(json.size() + 2 * kMaxDocumentNodes + 16);
  for (std::size_t i = 0; i <= kMaxDocumentNodes; ++i) json += i ? ",0" : "0";
  json += "]}}";
  Error e = update_error(json, "u.json");
  EXPECT_TRUE(contains(e.message, "more than 1000000 values")) << e.message;
}

TEST(HostileInput, AHundredThousandOverridesAreCheckedInLinearTime) {
  // The old check compared every override with every earlier one: 5 MB took 107 s.
  std::string text = "experiment: e\noverrides:\n";
  for (int i = 0; i < 200'000; ++i) text += "  user-" + std::to_string(i) + ": two-step\n";
  auto u = parse_update(text, "u.yaml");
  ASSERT_TRUE(u) << u.error().describe();
  EXPECT_EQ(u->overrides->size(), 200'000u);

  text += "  user-17: control\n";
  Error dup = update_error(text);
  EXPECT_TRUE(contains(dup.message, "duplicate key")) << dup.message;
  EXPECT_EQ(dup.line, 200'003);
}

TEST(HostileInput, DuplicateVariationsAndUnknownOverridesAreFoundAmongMany) {
  std::string text = "experiment: e\nvariations:\n  - {key: v0, control: true, weight: 100}\n";
  for (int i = 1; i < 20'000; ++i) text += "  - {key: v" + std::to_string(i) + ", weight: 0}\n";
  text += "overrides:\n";
  for (int i = 0; i < 20'000; ++i) text += "  u" + std::to_string(i) + ": v" + std::to_string(i) + "\n";
  ASSERT_TRUE(parse_update(text, "u.yaml"));
  Error unknown = update_error(text + "  stranger: v20000\n");
  EXPECT_EQ(unknown.field, "overrides.stranger");
  EXPECT_TRUE(contains(unknown.message, "'v20000', which is not among")) << unknown.message;
  Error dup = update_error(text.substr(0, text.find("overrides:")) + "  - {key: v5, weight: 0}\n");
  EXPECT_EQ(dup.field, "variations[20000].key");
}

// ---- UTF-8, control characters, long values --------------------------------------------------

TEST(HostileInput, InvalidUtf8IsRefusedNamingTheFieldAndLine) {
  struct Case {
    std::string text;
    std::string source;
    std::string field;
    int line;
  };
  const Case cases[] = {
      {"experiment: e\nname: \"a\xff" "b\"\n", "u.yaml", "name", 2},
      {"experiment: e\ndescription: plain \xc3\n", "u.yaml", "description", 2},              // truncated
      {"experiment: e\nhypothesis: \xc0\xaf overlong\n", "u.yaml", "hypothesis", 2},          // overlong '/'
      {"experiment: e\ncomment: \xed\xa0\x80 surrogate\n", "u.yaml", "comment", 2},           // UTF-16 surrogate
      {"experiment: e\noverrides:\n  us\xfe" "r: control\n", "u.yaml", "overrides.us?r", 3},  // in a key
      {"{\"experiment\": \"e\",\n \"name\": \"\xf5\x80\x80\x80\"}", "u.json", "name", 2},       // beyond U+10FFFF
  };
  for (const auto& c : cases) {
    Error e = update_error(c.text, c.source);
    EXPECT_TRUE(contains(e.message, "not valid UTF-8")) << c.text << ": " << e.message;
    EXPECT_EQ(e.field, c.field) << c.text;
    EXPECT_EQ(e.line, c.line) << c.text;
    EXPECT_EQ(e.file, c.source);
  }
}

TEST(HostileInput, Utf8ValuesAreKeptAsWritten) {
  auto u = parse_update("experiment: e\nname: \"Größe 試験 😀\"\n", "u.yaml");
  ASSERT_TRUE(u) << u.error().describe();
  EXPECT_EQ(*u->name, "Größe 試験 😀");
}

TEST(HostileInput, RawControlCharactersAreRefusedAndEscapedOnesAreShownEscaped) {
  Error raw = update_error("experiment: e\nname: a\x01z\n");
  EXPECT_TRUE(contains(raw.message, "control characters")) << raw.message;
  EXPECT_EQ(raw.line, 2);

  // A value that would repaint a terminal (ESC [2J) or hide the rest of the line (CR).
  Error shown = update_error(R"({"experiment": "e", "action": "\u001b[2J\rstop\u0000"})", "u.json");
  EXPECT_EQ(shown.field, "action");
  EXPECT_EQ(shown.message.find('\x1b'), std::string::npos) << shown.message;
  EXPECT_EQ(shown.message.find('\r'), std::string::npos) << shown.message;
  EXPECT_EQ(shown.message.find('\0'), std::string::npos);
  EXPECT_TRUE(contains(shown.message, R"('\x1b[2J\rstop\x00')")) << shown.message;
}

TEST(HostileInput, LongValuesAreShortenedInMessagesWithTheirLength) {
  const std::string action(1024 * 1024, 'x');
  Error e = update_error("experiment: e\naction: " + action + "\n");
  EXPECT_LT(e.message.size(), 300u) << e.message.size();
  EXPECT_TRUE(contains(e.message, "(1048576 bytes)")) << e.message;
  EXPECT_LT(e.describe().size(), 400u);

  const std::string key(100'000, 'k');
  Error k = update_error(R"({"experiment": "e", ")" + key + R"(": 1})", "u.json");
  EXPECT_TRUE(contains(k.message, "unknown field")) << k.message.substr(0, 300);
  EXPECT_LT(k.describe().size(), 1000u);
}

TEST(HostileInput, QuoteValueEscapesAndCutsOnCharacterBoundaries) {
  EXPECT_EQ(quote_value("plain"), "'plain'");
  EXPECT_EQ(quote_value("a\nb\tc\x7f"), R"('a\nb\tc\x7f')");
  EXPECT_EQ(quote_value("\xc2\x9b" "31m"), R"('\xc2\x9b31m')");  // C1 CSI
  EXPECT_EQ(quote_value("bad\xff"), R"('bad\xff')");
  EXPECT_EQ(quote_value("ééé", 5), "'éé…' (6 bytes)");
  EXPECT_EQ(quote_value(std::string(100, 'a'), 4), "'aaaa…' (100 bytes)");
}

// ---- JSON is JSON ----------------------------------------------------------------------------

TEST(HostileInput, JsonRulesApplyToJsonFiles) {
  for (std::string_view text : {R"({"experiment": "e", "exposure": 0x10})", R"({"experiment": "e", "exposure": 10,})",
                                R"({"experiment": "e", /* c */ "exposure": 1})", R"({"experiment": "e", "exposure": NaN})",
                                R"({"experiment": 'e'})", R"({experiment: "e"})", R"({"experiment": "e"} {})"}) {
    Error e = update_error(text, "u.json");
    EXPECT_TRUE(contains(e.message, "malformed JSON")) << text << ": " << e.message;
    EXPECT_EQ(e.line, 1) << text;
    EXPECT_GT(e.column, 1) << text;
  }
}

TEST(HostileInput, JsonKeysMayBeLongerThanYamlsSimpleKeyLimit) {
  // AppConfig accepts override entities of up to 2,048 characters; YAML's implicit keys stop at 1,024.
  const std::string entity(2048, 'e');
  auto u = parse_update(R"({"experiment": "e", "overrides": {")" + entity + R"(": "t1"}})", "u.json");
  ASSERT_TRUE(u) << u.error().describe();
  EXPECT_EQ(u->overrides->front().first, entity);
}

TEST(HostileInput, JsonPositionsCountCharactersAndEscapedKeysDecode) {
  auto d = parse_document("{\"ä\": 1,\n  \"b\\u00e9\": [true, \"x\"]}", "d.json");
  ASSERT_TRUE(d) << d.error().describe();
  EXPECT_EQ(d->mark_of("ä").column, 2);
  EXPECT_EQ(d->mark_of("bé").line, 2);
  EXPECT_EQ(d->mark_of("bé[1]").column, 21);
  Error dup = parse_document("{\"a\": {\"x\": 1},\n \"\\u0061\": 5}", "d.json").error();
  EXPECT_TRUE(contains(dup.message, "duplicate key 'a'")) << dup.message;
  EXPECT_EQ(dup.line, 2);
}

TEST(HostileInput, IntegersThatWouldLoseDigitsAreRefused) {
  // 2^53 + 1 as a double is 2^53: the vendor would get another number than the one written.
  Error attribute = update_error(
      "experiment: e\nvariations:\n  - {key: a, control: true, weight: 100, value: {enabled: true, "
      "attributes: {n: 9007199254740993}}}\n");
  EXPECT_EQ(attribute.field, "variations[0].value.attributes.n");
  EXPECT_TRUE(contains(attribute.message, "beyond ±2^53")) << attribute.message;

  Error weight = update_error(R"({"experiment": "e", "exposure": 18446744073709551615})", "u.json");
  EXPECT_EQ(weight.field, "exposure");
  EXPECT_TRUE(contains(weight.message, "beyond ±2^53")) << weight.message;

  for (auto [text, source] : {std::pair{"experiment: e\nexposure: 123456789012345678901234567890\n", "u.yaml"},
                              std::pair{R"({"experiment": "e", "exposure": 123456789012345678901234567890})", "u.json"},
                              std::pair{"experiment: e\nexposure: 0x1ffffffffffffffff\n", "u.yaml"}}) {
    Error e = update_error(text, source);
    EXPECT_TRUE(contains(e.message, "does not fit in 64 bits")) << text << ": " << e.message;
    EXPECT_EQ(e.line, std::string_view(source) == "u.yaml" ? 2 : 1);
  }

  auto exact = parse_update(
      "experiment: e\nvariations:\n  - {key: a, control: true, weight: 100, value: {enabled: true, "
      "attributes: {n: 9007199254740992, m: -9007199254740992, f: 0.1}}}\n",
      "u.yaml");
  EXPECT_TRUE(exact) << exact.error().describe();
}

// ---- exact messages --------------------------------------------------------------------------

TEST(HostileInput, ATypoIsReportedBeforeTheRequiredFieldItMisses) {
  Error weight = update_error("experiment: e\nvariations:\n  - {key: a, control: true, weigth: 100}\n");
  EXPECT_EQ(weight.field, "variations[0].weigth");
  EXPECT_TRUE(contains(weight.message, "unknown field 'weigth' (did you mean 'weight'?)")) << weight.message;

  Error enabled = update_error(
      "experiment: e\nvariations:\n  - {key: a, control: true, weight: 100, value: {enabeld: true}}\n");
  EXPECT_EQ(enabled.field, "variations[0].value.enabeld");
  EXPECT_TRUE(contains(enabled.message, "did you mean 'enabled'")) << enabled.message;

  Error key = update_error("experiment: e\nvariations:\n  - {kye: a, control: true, weight: 100}\n");
  EXPECT_EQ(key.field, "variations[0].kye");

  Error experiment = update_error("experimnt: e\nexposure: 5\n");
  EXPECT_EQ(experiment.field, "experimnt");
  EXPECT_TRUE(contains(experiment.message, "did you mean 'experiment'")) << experiment.message;

  // An unrelated unknown field still comes before the missing one.
  Error unrelated = update_error("experiment: e\nvariations:\n  - {key: a, control: true, colour: red}\n");
  EXPECT_EQ(unrelated.field, "variations[0].colour");
}

TEST(HostileInput, ConfigTyposAreReportedBeforeMissingSettings) {
  Error region = config_error(
      "backends:\n  aws: {vendor: appconfig, regoin: us-east-1, application: abc1234}\n");
  EXPECT_EQ(region.field, "backends.aws.regoin");
  EXPECT_TRUE(contains(region.message, "did you mean 'region'")) << region.message;
  EXPECT_EQ(region.line, 2);

  Error vendor = config_error("backends:\n  aws: {vendr: appconfig, region: us-east-1, application: abc1234}\n");
  EXPECT_EQ(vendor.field, "backends.aws.vendr");
  EXPECT_TRUE(contains(vendor.message, "did you mean 'vendor'")) << vendor.message;

  Error binding = config_error(std::string(kConfig).replace(std::string(kConfig).find("definition"), 10, "defintion"));
  EXPECT_EQ(binding.field, "experiments.checkout-redesign.aws.defintion");
  EXPECT_TRUE(contains(binding.message, "did you mean 'definition'")) << binding.message;
}

TEST(HostileInput, AnUnclosedFlowMappingNamesWhereItOpenedAndWhereReadingStopped) {
  Error e = update_error("experiment: e\naudience: {rule: x, description: y\n\nexposure: 5\n");
  EXPECT_TRUE(contains(e.message, "flow mapping that opened at line 2, column 11")) << e.message;
  EXPECT_EQ(e.line, 4);

  Error list = update_error("experiment: e\nvariations: [\n  {key: a, control: true, weight: 100}\n");
  EXPECT_TRUE(contains(list.message, "opened at line 2, column 13")) << list.message;

  Error quote = update_error("experiment: e\nname: \"unterminated\nexposure: 5\n");
  EXPECT_TRUE(contains(quote.message, "quoted scalar that opened at line 2, column 7")) << quote.message;
}

TEST(HostileInput, OnlyTheCoreSchemaTagsAreAccepted) {
  EXPECT_TRUE(parse_update("experiment: !!str e\nexposure: !!float 5\n", "u.yaml"));
  Error e = update_error("experiment: e\nvendor: !!python/object {appconfig: {}}\n");
  EXPECT_TRUE(contains(e.message, "unsupported YAML tag")) << e.message;
  Error s = update_error("experiment: e\nexposure: !custom 5\n");
  EXPECT_TRUE(contains(s.message, "unsupported YAML tag")) << s.message;
}

TEST(HostileInput, VendorPatternsRunInLinearTimeOnHugeValues) {
  // std::regex backtracked recursively on `(-[a-z]+)+` and overflowed the stack at 200 KB.
  const std::string config = "backends:\n  aws: {vendor: appconfig, region: us-" + std::string(200'000, 'a') +
                             "-" + std::string(100'000, 'b') + "x, application: abc1234}\n";
  Error e = config_error(config);
  EXPECT_EQ(e.field, "backends.aws.region");
  EXPECT_TRUE(contains(e.message, "does not match")) << e.message.substr(0, 300);
  EXPECT_TRUE(contains(e.message, "(300005 bytes)")) << e.message.substr(0, 300);
  EXPECT_LT(e.message.size(), 400u);
}

TEST(HostileInput, NotPatternsReplaceLookaheads) {
  auto bridge = Bridge::from_text(kConfig, "c.yaml");
  ASSERT_TRUE(bridge) << bridge.error().describe();
  auto plan_of = [&](std::string attributes) {
    auto u = parse_update("experiment: checkout-redesign\nvariations:\n  - {key: control, control: true, weight: 50, value: {enabled: false}}\n"
                          "  - {key: two-step, weight: 50, value: {enabled: true, attributes: " + attributes + "}}\n",
                          "u.yaml");
    EXPECT_TRUE(u) << u.error().describe();
    return bridge->plan(*u);
  };
  auto refused = plan_of("{enabled: 1}");
  ASSERT_FALSE(refused);
  EXPECT_TRUE(contains(refused.error().message, "'enabled' is refused (it matches ^enabled$)")) << refused.error().message;
  auto allowed = plan_of("{enabledness: 1}");
  EXPECT_TRUE(allowed) << allowed.error().describe();
  for (std::string_view definition : {"'.'", "'..'"}) {
    std::string config(kConfig);
    config.replace(config.find("bsxyd7k"), 7, definition);
    EXPECT_TRUE(contains(config_error(config).message, "is refused (it matches ^\\.\\.?$)")) << definition;
  }
  std::string dots(kConfig);
  EXPECT_TRUE(Bridge::from_text(dots.replace(dots.find("bsxyd7k"), 7, "'...'"), "c.yaml"));
}

TEST(HostileInput, Utf16IsRefusedRatherThanGuessed) {
  const std::string utf16("\xff\xfe" "e\0x\0", 6);
  Error e = update_error(utf16);
  EXPECT_TRUE(contains(e.message, "UTF-8")) << e.message;
}

}  // namespace
}  // namespace expbridge
