// Bounded parsing of JSON request bodies, for the host and for plugins alike.
//
// nlohmann::json parses without recursion, but copying, comparing and dumping a value recurse
// once per nesting level: a body nested 150,000 levels deep (300 KB) overflows the stack of the
// thread that copies it. parse_json refuses a text nesting deeper than `max_depth` before
// nlohmann builds any tree, so nothing downstream ever recurses deeper than the limit.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kim::sdk {

// The host's default for `server.max_json_depth`; the API's own bodies nest at most 4 levels.
inline constexpr std::size_t kDefaultMaxJsonDepth = 64;

struct JsonParse {
  enum class Error { kNone, kSyntax, kTooDeep };
  nlohmann::json value;  // null unless error is kNone
  Error error = Error::kNone;
  // For an API error response: "invalid_json" or "json_too_deep", and a message for a human.
  std::string code;
  std::string message;
  std::string detail;  // for a syntax error, the parser's own words (line, column, cause)

  explicit operator bool() const { return error == Error::kNone; }
};

// Parses `text` as one JSON value (nothing may follow it). The outermost object or array is
// depth 1; a container deeper than `max_depth` ends the parse with kTooDeep.
JsonParse parse_json(std::string_view text, std::size_t max_depth = kDefaultMaxJsonDepth);
// As parse_json, and the value must be an object (else kSyntax, "the body must be a JSON object").
JsonParse parse_json_object(std::string_view text, std::size_t max_depth = kDefaultMaxJsonDepth);

// ---- inline definitions (header-only so plugins link nothing of the host) ----

namespace json_detail {

// The deepest nesting of objects and arrays in `text`, counted over the bytes (brackets inside
// strings do not count) and stopping once it passes `max_depth`. Exact for valid JSON, which is
// all the parser below accepts; it uses only nlohmann's public API, so a new release cannot
// break it.
inline bool deeper_than(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return true;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return false;
}

}  // namespace json_detail

inline JsonParse parse_json(std::string_view text, std::size_t max_depth) {
  JsonParse result;
  if (json_detail::deeper_than(text, max_depth)) {
    result.error = JsonParse::Error::kTooDeep;
    result.code = "json_too_deep";
    result.message =
        "the body nests objects and arrays deeper than " + std::to_string(max_depth) + " levels";
    return result;
  }
  try {
    result.value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e999
    result.value = nullptr;
    result.error = JsonParse::Error::kSyntax;
    result.code = "invalid_json";
    result.message = "the body is not valid JSON";
    result.detail = e.what();
  }
  return result;
}

inline JsonParse parse_json_object(std::string_view text, std::size_t max_depth) {
  JsonParse result = parse_json(text, max_depth);
  if (result && !result.value.is_object()) {
    result.value = nullptr;
    result.error = JsonParse::Error::kSyntax;
    result.code = "invalid_json";
    result.message = "the body must be a JSON object";
  }
  return result;
}

}  // namespace kim::sdk
