#include "http/router.hpp"

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kim::http {
namespace {

using sdk::HttpMethod;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

Route route(HttpMethod method, std::string pattern, std::string owner = "host") {
  Route r;
  r.method = method;
  r.pattern = std::move(pattern);
  r.owner = std::move(owner);
  // The body names the pattern, so a test can tell which handler the router picked.
  r.handler = [tag = r.pattern](const sdk::HttpRequest&) {
    sdk::HttpResponse response;
    response.body = tag;
    return response;
  };
  return r;
}

// The pattern of the matched route, after checking that the router found one.
std::string found_pattern(const Router& router, HttpMethod method, std::string_view path) {
  const RouteMatch match = router.match(method, path);
  if (match.kind != RouteMatch::Kind::kFound || match.route == nullptr) return "<not found>";
  // Calls the handler too: it must be the one registered with that pattern.
  const std::string body = match.route->handler(sdk::HttpRequest{}).body;
  return body == match.route->pattern ? body : "<wrong handler: " + body + ">";
}

// ---- matching ---------------------------------------------------------------------------------

TEST(RouterMatch, LiteralPattern) {
  Router router;
  router.add(route(HttpMethod::kGet, "/health"));
  router.add(route(HttpMethod::kGet, "/api/v1/plugins"));

  const RouteMatch match = router.match(HttpMethod::kGet, "/api/v1/plugins");
  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->pattern, "/api/v1/plugins");
  EXPECT_THAT(match.path_params, IsEmpty());
  EXPECT_EQ(found_pattern(router, HttpMethod::kGet, "/health"), "/health");
}

TEST(RouterMatch, ParametersAreCaptured) {
  Router router;
  router.add(route(HttpMethod::kPost, "/api/v1/cases/{id}/transitions"));
  router.add(route(HttpMethod::kGet, "/api/v1/cases/{case_id}/notes/{note_id}"));

  RouteMatch match = router.match(HttpMethod::kPost, "/api/v1/cases/42/transitions");
  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(match.route->pattern, "/api/v1/cases/{id}/transitions");
  EXPECT_EQ(match.path_params, (std::map<std::string, std::string>{{"id", "42"}}));

  match = router.match(HttpMethod::kGet, "/api/v1/cases/7/notes/abc-1");
  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(match.path_params,
            (std::map<std::string, std::string>{{"case_id", "7"}, {"note_id", "abc-1"}}));
}

TEST(RouterMatch, ParametersArePercentDecoded) {
  Router router;
  router.add(route(HttpMethod::kGet, "/files/{name}"));
  const RouteMatch match = router.match(HttpMethod::kGet, "/files/a%20b%2Fc%c3%a4");
  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(match.path_params.at("name"), "a b/c\xc3\xa4");
}

TEST(RouterMatch, PlusInParameterIsNotASpace) {
  Router router;
  router.add(route(HttpMethod::kGet, "/files/{name}"));
  const RouteMatch match = router.match(HttpMethod::kGet, "/files/a+b");
  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(match.path_params.at("name"), "a+b");
}

TEST(RouterMatch, MalformedEscapeInParameterDoesNotMatch) {
  Router router;
  router.add(route(HttpMethod::kGet, "/files/{name}"));
  EXPECT_EQ(router.match(HttpMethod::kGet, "/files/%zz").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.match(HttpMethod::kGet, "/files/abc%2").kind, RouteMatch::Kind::kNotFound);
}

TEST(RouterMatch, LiteralSegmentsAreComparedUndecoded) {
  // Documented behaviour: only parameters are decoded, "/c%61ses" is not "/cases".
  Router router;
  router.add(route(HttpMethod::kGet, "/cases"));
  EXPECT_EQ(router.match(HttpMethod::kGet, "/c%61ses").kind, RouteMatch::Kind::kNotFound);
}

TEST(RouterMatch, LiteralBeatsParameterRegardlessOfOrder) {
  Router literal_first;
  literal_first.add(route(HttpMethod::kGet, "/cases/overdue"));
  literal_first.add(route(HttpMethod::kGet, "/cases/{id}"));

  Router parameter_first;
  parameter_first.add(route(HttpMethod::kGet, "/cases/{id}"));
  parameter_first.add(route(HttpMethod::kGet, "/cases/overdue"));

  for (const Router* router : {&literal_first, &parameter_first}) {
    EXPECT_EQ(found_pattern(*router, HttpMethod::kGet, "/cases/overdue"), "/cases/overdue");
    EXPECT_EQ(found_pattern(*router, HttpMethod::kGet, "/cases/17"), "/cases/{id}");
    EXPECT_THAT(router->match(HttpMethod::kGet, "/cases/overdue").path_params, IsEmpty());
  }
}

TEST(RouterMatch, MoreLiteralSegmentsWinDeeperDown) {
  Router router;
  router.add(route(HttpMethod::kGet, "/a/{x}/{y}"));
  router.add(route(HttpMethod::kGet, "/a/{x}/c"));
  EXPECT_EQ(found_pattern(router, HttpMethod::kGet, "/a/b/c"), "/a/{x}/c");
  EXPECT_EQ(found_pattern(router, HttpMethod::kGet, "/a/b/d"), "/a/{x}/{y}");
}

TEST(RouterMatch, UnknownPathIsNotFound) {
  Router router;
  router.add(route(HttpMethod::kGet, "/cases/{id}"));
  for (const char* path : {"/", "", "/cases", "/cases/1/2", "/other/1", "/Cases/1"}) {
    const RouteMatch match = router.match(HttpMethod::kGet, path);
    EXPECT_EQ(match.kind, RouteMatch::Kind::kNotFound) << path;
    EXPECT_EQ(match.route, nullptr) << path;
    EXPECT_THAT(match.allowed, IsEmpty()) << path;
  }
}

TEST(RouterMatch, EmptyRouterFindsNothing) {
  const Router router;
  EXPECT_EQ(router.match(HttpMethod::kGet, "/health").kind, RouteMatch::Kind::kNotFound);
}

TEST(RouterMatch, WrongMethodGives405WithAllowedMethods) {
  Router router;
  router.add(route(HttpMethod::kGet, "/cases/{id}"));
  router.add(route(HttpMethod::kDelete, "/cases/{id}"));
  router.add(route(HttpMethod::kPost, "/cases"));  // other path: not allowed at /cases/1

  const RouteMatch match = router.match(HttpMethod::kPut, "/cases/1");
  EXPECT_EQ(match.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(match.route, nullptr);
  EXPECT_THAT(match.allowed, UnorderedElementsAre(HttpMethod::kGet, HttpMethod::kDelete));
}

// Regression: Router::match used to append every matching route of another method to `allowed`,
// so two GET routes matching one path listed GET twice ("Allow: GET, GET").
TEST(RouterMatch, MethodNotAllowedListsEachMethodOnce) {
  Router router;
  router.add(route(HttpMethod::kGet, "/cases/{id}"));
  router.add(route(HttpMethod::kGet, "/cases/overdue"));
  const RouteMatch match = router.match(HttpMethod::kDelete, "/cases/overdue");
  EXPECT_EQ(match.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_THAT(match.allowed, ElementsAre(HttpMethod::kGet));
}

// Documented behaviour: empty segments are dropped, so a trailing slash and repeated slashes do
// not matter when matching ("/health/" and "//health" find "/health").
TEST(RouterMatch, TrailingAndDoubleSlashesAreIgnored) {
  Router router;
  router.add(route(HttpMethod::kGet, "/health"));
  router.add(route(HttpMethod::kGet, "/cases/{id}/notes"));
  EXPECT_EQ(found_pattern(router, HttpMethod::kGet, "/health/"), "/health");
  EXPECT_EQ(found_pattern(router, HttpMethod::kGet, "//health"), "/health");
  EXPECT_EQ(found_pattern(router, HttpMethod::kGet, "/cases//5///notes/"), "/cases/{id}/notes");
  EXPECT_EQ(router.match(HttpMethod::kGet, "/cases/5//notes").path_params.at("id"), "5");
}

// Documented behaviour: a parameter never matches an empty segment; "/cases//notes" collapses to
// two segments and so does not reach "/cases/{id}/notes".
TEST(RouterMatch, EmptySegmentDoesNotFillAParameter) {
  Router router;
  router.add(route(HttpMethod::kGet, "/cases/{id}/notes"));
  EXPECT_EQ(router.match(HttpMethod::kGet, "/cases//notes").kind, RouteMatch::Kind::kNotFound);
}

// ---- registration -----------------------------------------------------------------------------

// Paths are split into a small buffer on the stack; longer ones spill to the heap and still match.
TEST(RouterMatch, DeepPatternsAndPathsMatchPastTheInlineBuffer) {
  Router router;
  std::string deep;
  for (int i = 0; i < 20; ++i)
    deep += i == 17 ? "/{leaf}" : "/s" + std::to_string(i);
  router.add(route(HttpMethod::kGet, deep));
  router.add(route(HttpMethod::kGet, "/s0/{a}"));
  std::string path = deep;
  path.replace(path.find("{leaf}"), 6, "x%2Fy");
  const RouteMatch match = router.match(HttpMethod::kGet, path);
  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(match.route->pattern, deep);
  EXPECT_EQ(match.path_params.at("leaf"), "x/y");
  EXPECT_EQ(router.match(HttpMethod::kGet, path + "/more").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(found_pattern(router, HttpMethod::kGet, "/s0/z"), "/s0/{a}");
  EXPECT_EQ(router.match(HttpMethod::kGet, "/s0").kind, RouteMatch::Kind::kNotFound);
}

TEST(RouterAdd, DuplicateMethodAndPatternIsRefused) {
  Router router;
  router.add(route(HttpMethod::kGet, "/cases/{id}"));
  EXPECT_THROW(router.add(route(HttpMethod::kGet, "/cases/{id}")), std::invalid_argument);
  EXPECT_THROW(router.add(route(HttpMethod::kGet, "/cases/{case_id}", "hello")),
               std::invalid_argument);
  EXPECT_EQ(router.routes().size(), 1u);

  // Another method or another literal is a different route.
  router.add(route(HttpMethod::kPost, "/cases/{id}"));
  router.add(route(HttpMethod::kGet, "/cases/overdue"));
  EXPECT_EQ(router.routes().size(), 3u);
}

TEST(RouterAdd, TrailingSlashPatternCountsAsTheSameRoute) {
  Router router;
  router.add(route(HttpMethod::kGet, "/health"));
  EXPECT_THROW(router.add(route(HttpMethod::kGet, "/health/")), std::invalid_argument);
  EXPECT_THROW(router.add(route(HttpMethod::kGet, "//health")), std::invalid_argument);
}

TEST(RouterAdd, ContainsIgnoresParameterNames) {
  Router router;
  router.add(route(HttpMethod::kGet, "/cases/{id}/notes"));
  EXPECT_TRUE(router.contains(HttpMethod::kGet, "/cases/{id}/notes"));
  EXPECT_TRUE(router.contains(HttpMethod::kGet, "/cases/{other}/notes"));
  EXPECT_FALSE(router.contains(HttpMethod::kPost, "/cases/{id}/notes"));
  EXPECT_FALSE(router.contains(HttpMethod::kGet, "/cases/1/notes"));
}

TEST(RouterAdd, MalformedPatternsAreRefused) {
  Router router;
  for (const char* pattern :
       {"", "no-slash", "cases/{id}", "/a/{b", "/a/b}", "/a/x{b}", "/a/{b}x", "/a/{}", "/a/{"}) {
    EXPECT_THROW(router.add(route(HttpMethod::kGet, pattern)), std::invalid_argument) << pattern;
  }
  EXPECT_THAT(router.routes(), IsEmpty());
}

// Regression: is_parameter used to accept any segment starting with '{' and ending with '}', so
// "{a}b}" and "{a{b}" became parameters named "a}b" and "a{b" instead of being refused.
TEST(RouterAdd, BracesInsideParameterNameAreRefused) {
  Router router;
  EXPECT_THROW(router.add(route(HttpMethod::kGet, "/x/{a}b}")), std::invalid_argument);
  EXPECT_THROW(router.add(route(HttpMethod::kGet, "/y/{a{b}")), std::invalid_argument);
}

// Regression: the same parameter name twice in one pattern used to be accepted, and match()
// silently kept only the last value.
TEST(RouterAdd, RepeatedParameterNameIsRefused) {
  Router router;
  EXPECT_THROW(router.add(route(HttpMethod::kGet, "/a/{id}/b/{id}")), std::invalid_argument);
}

TEST(RouterAdd, PatternsOfOwnerAndClear) {
  Router router;
  router.add(route(HttpMethod::kGet, "/health", "host"));
  router.add(route(HttpMethod::kGet, "/api/v1/hello", "hello"));
  router.add(route(HttpMethod::kPost, "/api/v1/hello/{name}", "hello"));
  EXPECT_THAT(router.patterns_of("hello"),
              ElementsAre("GET /api/v1/hello", "POST /api/v1/hello/{name}"));
  EXPECT_THAT(router.patterns_of("host"), ElementsAre("GET /health"));
  EXPECT_THAT(router.patterns_of("nobody"), IsEmpty());

  router.clear();
  EXPECT_THAT(router.routes(), IsEmpty());
  EXPECT_EQ(router.match(HttpMethod::kGet, "/health").kind, RouteMatch::Kind::kNotFound);
  router.add(route(HttpMethod::kGet, "/health"));  // free again after clear()
}

// ---- helpers ----------------------------------------------------------------------------------

TEST(RouterHelpers, SplitPath) {
  EXPECT_THAT(split_path(""), IsEmpty());
  EXPECT_THAT(split_path("/"), IsEmpty());
  EXPECT_THAT(split_path("///"), IsEmpty());
  EXPECT_THAT(split_path("/a/b/c"), ElementsAre("a", "b", "c"));
  EXPECT_THAT(split_path("//a///b/"), ElementsAre("a", "b"));
  EXPECT_THAT(split_path("a/b"), ElementsAre("a", "b"));
}

TEST(RouterHelpers, PercentDecodeValid) {
  std::string out;
  EXPECT_TRUE(percent_decode("%41%62c", out));
  EXPECT_EQ(out, "Abc");
  EXPECT_TRUE(percent_decode("plain+text", out));
  EXPECT_EQ(out, "plain+text");
  EXPECT_TRUE(percent_decode("%2f%2F", out));
  EXPECT_EQ(out, "//");
  EXPECT_TRUE(percent_decode("a%00b", out));
  EXPECT_EQ(out, std::string("a\0b", 3));
  EXPECT_TRUE(percent_decode("", out));
  EXPECT_EQ(out, "");
}

TEST(RouterHelpers, PercentDecodeMalformedReturnsFalse) {
  std::string out;
  for (const char* bad : {"%", "%4", "abc%", "a%2", "%zz", "%4g", "%g4", "%%41", "% 41"}) {
    EXPECT_FALSE(percent_decode(bad, out)) << bad;
  }
}

TEST(RouterMatch, ParameterThatIsNotUtf8DoesNotMatch) {
  Router router;
  router.add(route(HttpMethod::kGet, "/cases/{id}"));
  for (const char* bad :
       {"/cases/%FF", "/cases/a%C3", "/cases/%C0%AF", "/cases/%ED%A0%80", "/cases/%F4%90%80%80"}) {
    EXPECT_EQ(router.match(HttpMethod::kGet, bad).kind, RouteMatch::Kind::kNotFound) << bad;
  }
  EXPECT_EQ(found_pattern(router, HttpMethod::kGet, "/cases/M%C3%BCnster"), "/cases/{id}");
}

TEST(RouterMatch, MethodsOfListsEveryMethodOfThePath) {
  Router router;
  router.add(route(HttpMethod::kGet, "/cases/{id}"));
  router.add(route(HttpMethod::kPatch, "/cases/{id}"));
  router.add(route(HttpMethod::kPost, "/cases"));
  EXPECT_THAT(router.methods_of("/cases/c1"), ElementsAre(HttpMethod::kGet, HttpMethod::kPatch));
  EXPECT_THAT(router.methods_of("/cases"), ElementsAre(HttpMethod::kPost));
  EXPECT_THAT(router.methods_of("/cases/%FF"), IsEmpty());
  EXPECT_THAT(router.methods_of("/nothing"), IsEmpty());
}

TEST(RouterHelpers, ValidUtf8) {
  for (const char* good : {"", "plain", "M\xc3\xbcnster", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                           "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_TRUE(valid_utf8(good)) << good;
  }
  for (const char* bad : {"\xff", "\xc3", "a\xc3(", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                          "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\x80", "\xe2\x82"}) {
    EXPECT_FALSE(valid_utf8(bad)) << bad;
  }
}

}  // namespace
}  // namespace kim::http
