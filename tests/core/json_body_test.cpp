// The one bounded parse of JSON bodies (kim/sdk/json.hpp behind domain::parse_object): depth at
// the limit passes, one more is refused before a tree is built, whatever the nesting looks like.
#include <string>

#include <gtest/gtest.h>

#include "domain/route_support.hpp"
#include "domain/validation.hpp"
#include "kim/sdk/json.hpp"

namespace kim::domain {
namespace {

// An object holding `depth` levels in all, {"k":[[…]]} (objects and arrays alternating when
// `mixed`), so depth 1 is "{}".
std::string nested(std::size_t depth, bool mixed = false) {
  auto is_object = [&](std::size_t level) { return level == 1 || (mixed && level % 2 == 1); };
  std::string text = is_object(depth) ? "{}" : "[]";
  for (std::size_t level = depth - 1; level >= 1; --level) {
    text = is_object(level) ? "{\"k\":" + text + "}" : "[" + text + "]";
  }
  return text;
}

TEST(JsonBodyTest, ParsesAtTheLimitAndRefusesOneLevelDeeper) {
  for (bool mixed : {false, true}) {
    SCOPED_TRACE(mixed ? "objects and arrays" : "arrays");
    for (std::size_t limit : {std::size_t{8}, std::size_t{64}}) {
      SCOPED_TRACE("limit " + std::to_string(limit));
      auto below = parse_object(nested(limit - 1, mixed), limit);
      ASSERT_TRUE(below) << below.problem().message;
      auto at = parse_object(nested(limit, mixed), limit);
      ASSERT_TRUE(at) << at.problem().message;
      EXPECT_TRUE(at.value().is_object());
      auto above = parse_object(nested(limit + 1, mixed), limit);
      ASSERT_FALSE(above);
      EXPECT_EQ(above.problem().status, 400);
      EXPECT_EQ(above.problem().code, "json_too_deep");
      EXPECT_EQ(above.problem().message, "the body nests objects and arrays deeper than " +
                                             std::to_string(limit) + " levels");
    }
  }
}

TEST(JsonBodyTest, StopsAtTheLimitWithoutReadingTheRest) {
  // 300 KB nested 150,000 deep, and the same left unclosed: refused for depth, not syntax, since
  // the parse ends at level 65.
  const std::string deep = "{\"a\":" + std::string(150000, '[');
  auto closed = parse_object(deep + std::string(150000, ']') + "}", 64);
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.problem().code, "json_too_deep");
  auto unclosed = parse_object(deep, 64);
  ASSERT_FALSE(unclosed);
  EXPECT_EQ(unclosed.problem().code, "json_too_deep");
}

TEST(JsonBodyTest, BracketsInsideStringsAreNotNesting) {
  const std::string text = "{\"note\":\"" + std::string(1000, '[') + std::string(1000, '{') + "\"}";
  auto parsed = parse_object(text, 8);
  ASSERT_TRUE(parsed) << parsed.problem().message;
  EXPECT_EQ(parsed.value()["note"].get<std::string>().size(), 2000u);
}

TEST(JsonBodyTest, SyntaxErrorsAndNonObjectsAreInvalidJson) {
  for (const char* text : {"", "{", "{\"a\":}", "{} {}", "{\"a\":1,}", "\"\xff\"", "[]", "1",
                           "null", "{\"a\":\"\xc3\"}",
                           // A number past double's range: nlohmann throws out_of_range, not
                           // parse_error (found by fuzz_json_body).
                           "{\"gis\":2.7577785e556}", "{\"a\":-1e999}"}) {
    SCOPED_TRACE(text);
    auto parsed = parse_object(text, 64);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.problem().code, "invalid_json");
  }
  auto syntax = sdk::parse_json("{\"a\":}", 64);
  EXPECT_EQ(syntax.error, sdk::JsonParse::Error::kSyntax);
  EXPECT_NE(syntax.detail.find("line 1, column 6"), std::string::npos) << syntax.detail;
  // Any value at the top for parse_json; depth counts arrays there too.
  EXPECT_TRUE(sdk::parse_json("[[1]]", 2));
  EXPECT_EQ(sdk::parse_json("[[[1]]]", 2).error, sdk::JsonParse::Error::kTooDeep);
  EXPECT_TRUE(sdk::parse_json("7", 1));
}

TEST(JsonBodyTest, RoutesUseTheConfiguredDepth) {
  EXPECT_EQ(max_json_depth(), sdk::kDefaultMaxJsonDepth);
  int calls = 0;
  auto handler = writing([&](const Context&, const sdk::HttpRequest&, const nlohmann::json&) {
    ++calls;
    return Result<Reply>(Reply{200, nlohmann::json::object(), std::nullopt});
  });
  sdk::HttpRequest request;
  request.method = sdk::HttpMethod::kPatch;
  request.principal = sdk::Principal{1, "cm", "case_manager", 1, "org"};
  request.body = nested(10);
  EXPECT_EQ(handler(request).status, 200);
  set_max_json_depth(9);
  auto refused = handler(request);
  set_max_json_depth(sdk::kDefaultMaxJsonDepth);
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("json_too_deep"), std::string::npos) << refused.body;
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace kim::domain
