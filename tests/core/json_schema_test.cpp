#include "config/json_schema.hpp"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kim::config {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> strings(const std::vector<SchemaError>& errors) {
  std::vector<std::string> out;
  for (const auto& error : errors)
    out.push_back(error.to_string());
  return out;
}

std::vector<std::string> run(const json& schema, json& instance, bool apply_defaults = true) {
  return strings(validate(schema, instance, apply_defaults));
}

// ---- Table: every keyword, valid and invalid --------------------------------------------------

struct Case {
  const char* name;
  const char* schema;
  const char* instance;
  std::vector<std::string> expected;  // SchemaError::to_string() of each error, in order.
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class KeywordTest : public ::testing::TestWithParam<Case> {};

TEST_P(KeywordTest, ProducesExpectedErrors) {
  const Case& c = GetParam();
  const json schema = json::parse(c.schema);
  ASSERT_THAT(strings(check_schema(schema)), IsEmpty()) << "test schema must be valid";
  json instance = json::parse(c.instance);
  EXPECT_EQ(run(schema, instance), c.expected);
}

const Case kCases[] = {
    // type
    {"TypeIntegerOk", R"({"type":"integer"})", "5", {}},
    {"TypeIntegerNegativeOk", R"({"type":"integer"})", "-5", {}},
    {"TypeIntegerRejectsString",
     R"({"type":"integer"})",
     R"("8")",
     {R"((root): must be an integer (got string "8"))"}},
    {"TypeIntegerRejectsWholeFloat",
     R"({"type":"integer"})",
     "2.0",
     {"(root): must be an integer (got number 2.0)"}},
    {"TypeNumberAcceptsInteger", R"({"type":"number"})", "3", {}},
    {"TypeNumberRejectsBoolean",
     R"({"type":"number"})",
     "true",
     {"(root): must be a number (got boolean true)"}},
    {"TypeStringOk", R"({"type":"string"})", R"("x")", {}},
    {"TypeBooleanRejectsString",
     R"({"type":"boolean"})",
     R"("true")",
     {R"((root): must be a boolean (got string "true"))"}},
    {"TypeNullOk", R"({"type":"null"})", "null", {}},
    {"TypeObjectRejectsArray",
     R"({"type":"object"})",
     "[1,2]",
     {"(root): must be an object (got array [1,2])"}},
    {"TypeArrayRejectsObject",
     R"({"type":"array"})",
     R"({"a":1})",
     {R"((root): must be an array (got object {"a":1}))"}},
    {"TypeUnionOk", R"({"type":["string","null"]})", "null", {}},
    {"TypeUnionTwo",
     R"({"type":["string","null"]})",
     "5",
     {"(root): must be a string or null (got integer 5)"}},
    {"TypeUnionThree",
     R"({"type":["integer","string","null"]})",
     "true",
     {"(root): must be an integer, a string or null (got boolean true)"}},
    {"TypeFailureStopsOtherKeywords",
     R"({"type":"string","minLength":3,"enum":["abc"]})",
     "5",
     {"(root): must be a string (got integer 5)"}},

    // properties / additionalProperties
    {"PropertiesValidated",
     R"({"properties":{"port":{"type":"integer"}}})",
     R"({"port":"x"})",
     {R"(port: must be an integer (got string "x"))"}},
    {"ClosedByDefaultSuggests",
     R"({"properties":{"port":{"type":"integer"}}})",
     R"({"port":1,"prot":2})",
     {R"(prot: unknown key (did you mean "port"?))"}},
    {"ClosedByDefaultListsAllowed",
     R"({"properties":{"host":{},"port":{}}})",
     R"({"zzzzzz":1})",
     {"zzzzzz: unknown key (allowed: host, port)"}},
    {"EmptyPropertiesIsClosed",
     R"({"properties":{}})",
     R"({"a":1})",
     {"a: unknown key (no keys are allowed here)"}},
    {"AdditionalTrueAllowsUnknown",
     R"({"properties":{"a":{}},"additionalProperties":true})",
     R"({"b":1})",
     {}},
    {"AdditionalFalseWithoutProperties",
     R"({"additionalProperties":false})",
     R"({"a":1})",
     {"a: unknown key (no keys are allowed here)"}},
    {"AdditionalSchema",
     R"({"properties":{"a":{}},"additionalProperties":{"type":"integer"}})",
     R"({"a":"declared","b":1,"c":"x"})",
     {R"(c: must be an integer (got string "x"))"}},
    {"NoPropertiesIsOpen", R"({"type":"object"})", R"({"anything":1})", {}},

    // required
    {"RequiredPresent",
     R"({"properties":{"listen":{}},"required":["listen"]})",
     R"({"listen":"x"})",
     {}},
    {"RequiredMissingAtRoot",
     R"({"properties":{"listen":{}},"required":["listen"]})",
     "{}",
     {R"((root): missing required key "listen")"}},
    {"RequiredMissingNested",
     R"({"properties":{"server":{"properties":{"listen":{}},"required":["listen"]}}})",
     R"({"server":{}})",
     {R"(server: missing required key "listen")"}},

    // items / minItems / maxItems / uniqueItems
    {"ItemsEachValidated",
     R"({"items":{"type":"string"}})",
     R"(["a",1,"b",2])",
     {"[1]: must be a string (got integer 1)", "[3]: must be a string (got integer 2)"}},
    {"MinItemsOk", R"({"minItems":2})", "[1,2]", {}},
    {"MinItemsFails", R"({"minItems":2})", "[1]", {"(root): must have at least 2 items (got 1)"}},
    {"MinItemsOneMeansNotEmpty", R"({"minItems":1})", "[]", {"(root): must not be empty"}},
    {"MaxItemsFails", R"({"maxItems":1})", "[1,2]", {"(root): must have at most 1 item (got 2)"}},
    {"UniqueItemsOk", R"({"uniqueItems":true})", R"([1,"1",[1]])", {}},
    {"UniqueItemsDuplicate",
     R"({"uniqueItems":true})",
     "[1,2,1]",
     {"[2]: duplicate of item [0] (got 1)"}},
    {"UniqueItemsNumericEquality",
     R"({"uniqueItems":true})",
     "[1,1.0]",
     {"[1]: duplicate of item [0] (got 1.0)"}},
    {"UniqueItemsObjects",
     R"({"uniqueItems":true})",
     R"([{"a":1},{"a":2},{"a":1}])",
     {R"([2]: duplicate of item [0] (got {"a":1}))"}},
    {"UniqueItemsFalseAllowsDuplicates", R"({"uniqueItems":false})", "[1,1]", {}},
    {"ItemErrorsAndDuplicatesInDocumentOrder",
     R"({"items":{"type":"integer","maximum":5},"uniqueItems":true})",
     "[1,1,9]",
     {"[1]: duplicate of item [0] (got 1)", "[2]: must be at most 5 (got 9)"}},

    // numeric bounds
    {"MinimumOk", R"({"minimum":1})", "1", {}},
    {"MinimumFails", R"({"minimum":1})", "0", {"(root): must be at least 1 (got 0)"}},
    {"MaximumFails",
     R"({"maximum":65535})",
     "70000",
     {"(root): must be at most 65535 (got 70000)"}},
    {"ExclusiveMinimumOk", R"({"exclusiveMinimum":0})", "0.5", {}},
    {"ExclusiveMinimumFails",
     R"({"exclusiveMinimum":0})",
     "0",
     {"(root): must be greater than 0 (got 0)"}},
    {"ExclusiveMaximumFails",
     R"({"exclusiveMaximum":1.5})",
     "1.5",
     {"(root): must be less than 1.5 (got 1.5)"}},
    {"MinimumNegativeVsHugeUnsigned", R"({"minimum":-1})", "18446744073709551615", {}},
    {"MaximumInt64VsHugeUnsigned",
     R"({"maximum":9223372036854775807})",
     "18446744073709551615",
     {"(root): must be at most 9223372036854775807 (got 18446744073709551615)"}},
    {"NumericKeywordsIgnoreStrings", R"({"minimum":5})", R"("abc")", {}},

    // string keywords
    {"MinLengthFails",
     R"({"minLength":3})",
     R"("ab")",
     {"(root): must be at least 3 characters long (got 2)"}},
    {"MinLengthOneMeansNotEmpty", R"({"minLength":1})", R"("")", {"(root): must not be empty"}},
    {"MaxLengthCountsCodePoints", R"({"maxLength":2})", R"("日本")", {}},
    {"MaxLengthFails",
     R"({"maxLength":3})",
     R"("héllo")",
     {"(root): must be at most 3 characters long (got 5)"}},
    {"PatternOk", R"({"pattern":"^[a-z]+$"})", R"("abc")", {}},
    {"PatternFails",
     R"({"pattern":"^[a-z]+$"})",
     R"("aBc")",
     {R"((root): must match pattern "^[a-z]+$" (got "aBc"))"}},
    {"PatternIsSearchNotFullMatch", R"({"pattern":"b"})", R"("abc")", {}},

    // enum / const
    {"EnumOk", R"({"enum":["trace","debug"]})", R"("debug")", {}},
    {"EnumFails",
     R"({"enum":["trace","debug","info"]})",
     R"("verbose")",
     {R"((root): must be one of "trace", "debug", "info" (got "verbose"))"}},
    {"EnumMixedTypesNumericEquality", R"({"enum":[1,"a",null]})", "1.0", {}},
    {"EnumSingleValue", R"({"enum":["x"]})", R"("y")", {R"((root): must be "x" (got "y"))"}},
    {"EnumLongListTruncated",
     R"({"enum":[1,2,3,4,5,6,7,8,9,10,11,12]})",
     "99",
     {"(root): must be one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... (got 99)"}},
    {"ConstOk", R"({"const":{"v":1}})", R"({"v":1})", {}},
    {"ConstFails", R"({"const":"v1"})", R"("v2")", {R"((root): must be "v1" (got "v2"))"}},

    // format
    {"HostPortName", R"({"format":"host-port"})", R"("localhost:8080")", {}},
    {"HostPortIpv4Min", R"({"format":"host-port"})", R"("10.0.0.1:1")", {}},
    {"HostPortMax", R"({"format":"host-port"})", R"("h:65535")", {}},
    {"HostPortIpv6", R"({"format":"host-port"})", R"("[::1]:8080")", {}},
    {"HostPortNoColon",
     R"({"format":"host-port"})",
     R"("localhost")",
     {R"((root): must be "HOST:PORT", e.g. "localhost:8080" (got "localhost"))"}},
    {"HostPortEmptyHost",
     R"({"format":"host-port"})",
     R"(":8080")",
     {R"((root): must have a non-empty host before the port (got ":8080"))"}},
    {"HostPortEmptyBracketHost",
     R"({"format":"host-port"})",
     R"("[]:80")",
     {R"((root): must have a non-empty host before the port (got "[]:80"))"}},
    {"HostPortZero",
     R"({"format":"host-port"})",
     R"("h:0")",
     {R"((root): must have a port in 1..65535 (got "h:0"))"}},
    {"HostPortTooBig",
     R"({"format":"host-port"})",
     R"("h:65536")",
     {R"((root): must have a port in 1..65535 (got "h:65536"))"}},
    {"HostPortEmptyPort",
     R"({"format":"host-port"})",
     R"("h:")",
     {R"((root): must have a port in 1..65535 (got "h:"))"}},
    {"HostPortSignedPort",
     R"({"format":"host-port"})",
     R"("h:+80")",
     {R"((root): must have a port in 1..65535 (got "h:+80"))"}},
    {"HostPortIpv6Unbracketed",
     R"({"format":"host-port"})",
     R"("::1:8080")",
     {R"((root): must put an IPv6 host in brackets, e.g. "[::1]:8080" (got "::1:8080"))"}},
    {"HostPortIpv6MissingColon",
     R"({"format":"host-port"})",
     R"("[::1]8080")",
     {R"((root): must be "HOST:PORT", e.g. "[::1]:8080" (got "[::1]8080"))"}},
    {"HostPortIpv6Unclosed",
     R"({"format":"host-port"})",
     R"("[::1:80")",
     {R"((root): has an unclosed "[" in the host (got "[::1:80"))"}},
    {"HostPortIgnoresNonStrings", R"({"format":"host-port"})", "8080", {}},
    {"DateValid", R"({"format":"date"})", R"("2024-02-29")", {}},
    {"DateAnyYearOfTheStandard", R"({"format":"date"})", R"("1066-10-14")", {}},
    {"DateNotALeapYear",
     R"({"format":"date"})",
     R"("2025-02-29")",
     {R"((root): must be a date YYYY-MM-DD (got "2025-02-29"))"}},
    {"DateMonth13",
     R"({"format":"date"})",
     R"("2025-13-01")",
     {R"((root): must be a date YYYY-MM-DD (got "2025-13-01"))"}},
    {"DateOtherShape",
     R"({"format":"date"})",
     R"("1.5.2025")",
     {R"((root): must be a date YYYY-MM-DD (got "1.5.2025"))"}},
    {"DateWithTime",
     R"({"format":"date"})",
     R"("2025-05-01T00:00")",
     {R"((root): must be a date YYYY-MM-DD (got "2025-05-01T00:00"))"}},

    // annotations
    {"AnnotationsIgnored",
     R"({"title":"t","description":"d","$comment":"c","$schema":"s","$id":"i","examples":[1]})",
     R"("anything")",
     {}},

    // rendering of offending values and paths
    {"LongStringTruncated",
     R"({"type":"integer"})",
     R"("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")",
     {R"((root): must be an integer (got string "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..."))"}},
    {"LongArrayTruncated",
     R"({"type":"object"})",
     "[1000,1001,1002,1003,1004,1005,1006,1007,1008,1009]",
     {"(root): must be an object (got array [1000,1001,1002,1003,1004,1005,1006,1...)"}},
    {"NestedObjectAndArrayPath",
     R"({"properties":{"plugins":{"properties":{"directories":{"items":{"type":"string"}}}}}})",
     R"({"plugins":{"directories":["a","b",3]}})",
     {"plugins.directories[2]: must be a string (got integer 3)"}},
    {"ArrayOfObjectsPath",
     R"({"properties":{"servers":{"items":{"properties":{"port":{"minimum":1}}}}}})",
     R"({"servers":[{"port":1},{"port":0}]})",
     {"servers[1].port: must be at least 1 (got 0)"}},
    {"RootArrayPath",
     R"({"items":{"items":{"type":"null"}}})",
     "[[null],[null,1]]",
     {"[1][1]: must be null (got integer 1)"}},
    {"OddKeysAreQuotedInPath",
     R"({"additionalProperties":{"type":"integer"}})",
     R"({"a.b":"x","":"y"})",
     {R"([""]: must be an integer (got string "y"))",
      R"(["a.b"]: must be an integer (got string "x"))"}},
    {"AllErrorsInDocumentOrder",
     R"({"properties":{"a":{"type":"integer"},"b":{},
         "c":{"properties":{"d":{"type":"integer"}}}},"required":["b"]})",
     R"({"a":"x","c":{"d":"y","e":1},"zz":true})",
     {R"((root): missing required key "b")", R"(a: must be an integer (got string "x"))",
      R"(c.d: must be an integer (got string "y"))", "c.e: unknown key (allowed: d)",
      "zz: unknown key (allowed: a, b, c)"}},
};

INSTANTIATE_TEST_SUITE_P(JsonSchema, KeywordTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- Did-you-mean ----------------------------------------------------------------------------

TEST(JsonSchemaSuggestion, SuggestsWithinTwoEditsOnly) {
  const json schema = json::parse(R"({"properties":{"listen":{},"io_threads":{}}})");
  const auto message_for = [&](const std::string& key) {
    json instance = {{key, 1}};
    const auto errors = validate(schema, instance);
    return errors.size() == 1 ? errors[0].message : std::string("<wrong count>");
  };
  EXPECT_EQ(message_for("listne"), R"(unknown key (did you mean "listen"?))");         // swap
  EXPECT_EQ(message_for("lsten"), R"(unknown key (did you mean "listen"?))");          // deletion
  EXPECT_EQ(message_for("Listen"), R"(unknown key (did you mean "listen"?))");         // case
  EXPECT_EQ(message_for("io-thread"), R"(unknown key (did you mean "io_threads"?))");  // 2 edits
  EXPECT_EQ(message_for("lstn"), R"(unknown key (did you mean "listen"?))");           // 2 edits
  EXPECT_EQ(message_for("lixxxn"), "unknown key (allowed: io_threads, listen)");       // 3 edits
  EXPECT_EQ(message_for("ab"), "unknown key (allowed: io_threads, listen)");
}

TEST(JsonSchemaSuggestion, NoNonsenseSuggestionsForShortKeys) {
  const json schema = json::parse(R"({"properties":{"a":{},"id":{}}})");
  json instance = {{"m", 1}, {"zz", 2}, {"di", 3}};
  EXPECT_THAT(run(schema, instance),
              ElementsAre(R"(di: unknown key (did you mean "id"?))",
                          "m: unknown key (allowed: a, id)", "zz: unknown key (allowed: a, id)"));
}

// ---- Defaults --------------------------------------------------------------------------------

TEST(JsonSchemaDefaults, InsertsMissingDefaultAndKeepsExistingValues) {
  const json schema = json::parse(
      R"({"properties":{"port":{"type":"integer","default":8080},
                        "host":{"type":"string","default":"localhost"}}})");
  json instance = {{"host", "example.org"}};
  EXPECT_THAT(run(schema, instance), IsEmpty());
  EXPECT_EQ(instance, json::parse(R"({"host":"example.org","port":8080})"));
}

TEST(JsonSchemaDefaults, DisabledLeavesInstanceUntouched) {
  const json schema = json::parse(
      R"({"properties":{"port":{"type":"integer","default":8080}},"required":["port"]})");
  json instance = json::object();
  EXPECT_THAT(run(schema, instance, false), ElementsAre(R"((root): missing required key "port")"));
  EXPECT_EQ(instance, json::object());
}

TEST(JsonSchemaDefaults, DefaultSatisfiesRequired) {
  const json schema = json::parse(
      R"({"properties":{"port":{"type":"integer","default":8080}},"required":["port"]})");
  json instance = json::object();
  EXPECT_THAT(run(schema, instance), IsEmpty());
  EXPECT_EQ(instance["port"], 8080);
}

TEST(JsonSchemaDefaults, ObjectDefaultGetsNestedDefaults) {
  const json schema = json::parse(R"({"properties":{"log":{
      "type":"object","default":{"level":"debug"},
      "properties":{"level":{"type":"string","default":"info"},
                    "file":{"type":"string","default":"kim.log"}}}}})");
  json instance = json::object();
  EXPECT_THAT(run(schema, instance), IsEmpty());
  EXPECT_EQ(instance, json::parse(R"({"log":{"level":"debug","file":"kim.log"}})"));
}

TEST(JsonSchemaDefaults, CreatesWholeMissingSectionsRecursively) {
  const json schema = json::parse(R"({"properties":{"server":{
      "type":"object",
      "properties":{"io_threads":{"type":"integer","default":2},
                    "tls":{"type":"object",
                           "properties":{"enabled":{"type":"boolean","default":false},
                                         "cert":{"type":"string"}}}}}}})");
  json instance = json::object();
  EXPECT_THAT(run(schema, instance), IsEmpty());
  EXPECT_EQ(instance, json::parse(R"({"server":{"io_threads":2,"tls":{"enabled":false}}})"));

  // A partially written section is completed, not replaced.
  json partial = json::parse(R"({"server":{"io_threads":8}})");
  EXPECT_THAT(run(schema, partial), IsEmpty());
  EXPECT_EQ(partial, json::parse(R"({"server":{"io_threads":8,"tls":{"enabled":false}}})"));
}

TEST(JsonSchemaDefaults, DoesNotCreateSectionsWithoutDefaults) {
  const json schema = json::parse(
      R"({"properties":{"x":{"type":"object","properties":{"a":{"type":"integer"}}}}})");
  json instance = json::object();
  EXPECT_THAT(run(schema, instance), IsEmpty());
  EXPECT_EQ(instance, json::object());
}

TEST(JsonSchemaDefaults, OptionalSectionNeedingUserInputStaysAbsent) {
  const json schema = json::parse(R"({"properties":{"db":{"type":"object",
      "properties":{"path":{"type":"string"},"timeout":{"type":"integer","default":5}},
      "required":["path"]}}})");
  json omitted = json::object();
  EXPECT_THAT(run(schema, omitted), IsEmpty());
  EXPECT_EQ(omitted, json::object());

  json present = json::parse(R"({"db":{}})");
  EXPECT_THAT(run(schema, present), ElementsAre(R"(db: missing required key "path")"));
  EXPECT_EQ(present, json::parse(R"({"db":{"timeout":5}})"));
}

TEST(JsonSchemaDefaults, FillsDefaultsInsideArrayItems) {
  const json schema = json::parse(
      R"({"items":{"type":"object","properties":{"a":{"type":"integer","default":1}}}})");
  json instance = json::parse(R"([{},{"a":2}])");
  EXPECT_THAT(run(schema, instance), IsEmpty());
  EXPECT_EQ(instance, json::parse(R"([{"a":1},{"a":2}])"));
}

TEST(JsonSchemaDefaults, NotAppliedToValueOfWrongType) {
  const json schema =
      json::parse(R"({"properties":{"s":{"type":"object","properties":{"a":{"default":1}}}}})");
  json instance = json::parse(R"({"s":[]})");
  EXPECT_THAT(run(schema, instance), ElementsAre("s: must be an object (got array [])"));
  EXPECT_EQ(instance, json::parse(R"({"s":[]})"));
}

// ---- check_schema ----------------------------------------------------------------------------

TEST(JsonSchemaCheck, AcceptsEverySupportedKeyword) {
  const json schema = json::parse(R"({
    "$schema":"https://json-schema.org/draft/2020-12/schema","$id":"kim:host",
    "title":"t","description":"d","$comment":"c","examples":[{}],"type":"object",
    "properties":{
      "listen":{"type":"string","format":"host-port","default":"127.0.0.1:8080"},
      "level":{"enum":["info","debug"],"default":"info"},
      "name":{"type":"string","minLength":1,"maxLength":10,"pattern":"^[a-z]+$"},
      "ratio":{"type":"number","minimum":0,"maximum":1,"exclusiveMinimum":-1,
               "exclusiveMaximum":2},
      "dirs":{"type":"array","items":{"type":"string"},"minItems":0,"maxItems":5,
              "uniqueItems":true},
      "version":{"const":1},
      "extra":{"type":"object","additionalProperties":{"type":"integer"}}},
    "required":["listen"],
    "additionalProperties":false})");
  EXPECT_THAT(strings(check_schema(schema)), IsEmpty());
}

TEST(JsonSchemaCheck, RefusesUnsupportedKeywords) {
  const json schema =
      json::parse(R"({"$ref":"#/x","properties":{"port":{"oneOf":[{"type":"integer"}]}}})");
  EXPECT_THAT(
      strings(check_schema(schema)),
      ElementsAre(
          R"($ref: unsupported keyword "$ref" (config schemas use a JSON Schema subset without it))",
          R"(properties.port.oneOf: unsupported keyword "oneOf" (config schemas use a JSON Schema subset without it))"));
}

TEST(JsonSchemaCheck, RefusesMalformedKeywordValues) {
  const json schema = json::parse(R"({"properties":{"port":{"minimum":"3"}}})");
  EXPECT_THAT(strings(check_schema(schema)),
              ElementsAre(R"(properties.port.minimum: must be a number (got string "3"))"));
}

struct SchemaCase {
  const char* name;
  const char* schema;
  std::vector<std::string> expected;
};

void PrintTo(const SchemaCase& c, std::ostream* os) {
  *os << c.name;
}

class CheckSchemaTest : public ::testing::TestWithParam<SchemaCase> {};

TEST_P(CheckSchemaTest, ReportsProblems) {
  const SchemaCase& c = GetParam();
  EXPECT_EQ(strings(check_schema(json::parse(c.schema))), c.expected);
}

const SchemaCase kSchemaCases[] = {
    {"NotAnObject", "5", {"(root): schema must be an object (got integer 5)"}},
    {"SubschemaNotAnObject",
     R"({"properties":{"a":true}})",
     {"properties.a: schema must be an object (got boolean true)"}},
    {"FormatNotChecked",
     R"({"format":"email"})",
     {R"(format: format "email" is not checked by kim (supported: host-port, date); use a pattern)"}},
    {"FormatNotAString", R"({"format":1})", {"format: must be a string (got integer 1)"}},
    {"KeywordTypo",
     R"({"minimun":1})",
     {R"(minimun: unknown keyword "minimun" (did you mean "minimum"?))"}},
    {"TypeTypo",
     R"({"type":"interger"})",
     {R"(type: unknown type "interger" (did you mean "integer"?))"}},
    {"TypeUnknown",
     R"({"type":"int"})",
     {R"(type: unknown type "int" (expected one of: object, array, string, integer, number, boolean, null))"}},
    {"TypeArrayBadEntry",
     R"({"type":["string",5,"string"]})",
     {"type[1]: must be a type name (got integer 5)", R"(type[2]: duplicate type "string")"}},
    {"TypeEmptyArray",
     R"({"type":[]})",
     {"type: must be a type name or a non-empty array of type names (got array [])"}},
    {"PropertiesNotObject",
     R"({"properties":[]})",
     {"properties: must be an object mapping keys to schemas (got array [])"}},
    {"RequiredNotArray",
     R"({"required":"a"})",
     {R"(required: must be an array of key names (got string "a"))"}},
    {"RequiredUndeclaredInClosedObject",
     R"({"properties":{"a":{}},"required":["a","b","a"]})",
     {R"(required[1]: required key "b" is not declared in properties)",
      R"(required[2]: duplicate required key "a")"}},
    {"RequiredUndeclaredButOpen",
     R"({"properties":{},"additionalProperties":true,"required":["b"]})",
     {}},
    {"AdditionalPropertiesBadShape",
     R"({"additionalProperties":"no"})",
     {R"(additionalProperties: schema must be an object (got string "no"))"}},
    {"ItemsTupleForm",
     R"({"items":[{}]})",
     {"items: must be a single schema object (the array form is not supported)"}},
    {"NestedItemsChecked",
     R"({"items":{"maxItems":-1}})",
     {"items.maxItems: must be a non-negative integer (got integer -1)"}},
    {"MinLengthFloat",
     R"({"minLength":1.5})",
     {"minLength: must be a non-negative integer (got number 1.5)"}},
    {"UniqueItemsNotBool",
     R"({"uniqueItems":1})",
     {"uniqueItems: must be a boolean (got integer 1)"}},
    {"ExclusiveMinimumDraft4",
     R"({"exclusiveMinimum":true})",
     {"exclusiveMinimum: must be a number (the draft-04 boolean form is not supported; got "
      "boolean true)"}},
    {"EnumEmpty", R"({"enum":[]})", {"enum: must be a non-empty array (got array [])"}},
    {"FormatNotString", R"({"format":1})", {"format: must be a string (got integer 1)"}},
    {"MinAboveMax",
     R"({"minimum":5,"maximum":3,"minItems":2,"maxItems":2})",
     {"minimum: is greater than maximum (5 > 3)"}},
    {"InvalidDefault",
     R"({"properties":{"port":{"type":"integer","minimum":1,"default":0}}})",
     {"properties.port.default: default is invalid: must be at least 1 (got 0)"}},
    {"InvalidNestedDefault",
     R"({"properties":{"s":{"type":"object","properties":{"n":{"type":"integer"}},
         "default":{"n":"x","m":1}}}})",
     {R"(properties.s.default: default is invalid: m: unknown key (allowed: n))",
      R"(properties.s.default: default is invalid: n: must be an integer (got string "x"))"}},
};

INSTANTIATE_TEST_SUITE_P(JsonSchema, CheckSchemaTest, ::testing::ValuesIn(kSchemaCases),
                         [](const auto& info) { return std::string(info.param.name); });

// The message tail comes from std::regex, so only our part is asserted.
TEST(JsonSchemaCheck, RefusesInvalidPattern) {
  const auto errors = check_schema(json::parse(R"({"pattern":"([a-z"})"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "pattern");
  EXPECT_THAT(errors[0].message, HasSubstr(R"(invalid regular expression "([a-z": )"));
}

TEST(JsonSchemaCheck, ValidateReportsInvalidSchemaAndLeavesInstanceAlone) {
  const json schema = json::parse(R"({"properties":{"port":{"minimum":"3"},"x":{"default":1}}})");
  json instance = json::object();
  EXPECT_THAT(
      run(schema, instance),
      ElementsAre(
          R"((root): invalid schema: properties.port.minimum: must be a number (got string "3"))"));
  EXPECT_EQ(instance, json::object());
}

// ---- Robustness ------------------------------------------------------------------------------

TEST(JsonSchemaRobustness, InvalidUtf8DoesNotThrow) {
  const json schema = json::parse(R"({"additionalProperties":{"type":"integer","maxLength":1}})");
  json instance = {{std::string("k\xff"), std::string("\xff\xfe")}};
  std::vector<SchemaError> errors;
  ASSERT_NO_THROW(errors = validate(schema, instance));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0].message, HasSubstr("must be an integer (got string "));
}

TEST(JsonSchemaRobustness, ToStringUsesRootMarker) {
  EXPECT_EQ((SchemaError{"", "bad"}).to_string(), "(root): bad");
  EXPECT_EQ((SchemaError{"server.io_threads", "must be at least 1 (got 0)"}).to_string(),
            "server.io_threads: must be at least 1 (got 0)");
}

}  // namespace
}  // namespace kim::config
