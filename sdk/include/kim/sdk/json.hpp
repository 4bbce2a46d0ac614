// Bounded parsing of JSON request bodies, for the host and for plugins alike.
//
// nlohmann::json parses without recursion, but copying, comparing and dumping a value recurse
// once per nesting level: a body nested 150,000 levels deep (300 KB) overflows the stack of the
// thread that copies it. parse_json stops at the first container deeper than `max_depth`, before
// such a tree exists, so nothing downstream ever recurses deeper than the limit.
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

// nlohmann's own DOM builder behind a depth counter; returning false stops the parser at once.
class DepthLimitedSax {
 public:
  using json = nlohmann::json;
  DepthLimitedSax(json& result, std::size_t max_depth) : dom_(result, false), max_(max_depth) {}

  bool null() { return dom_.null(); }
  bool boolean(bool value) { return dom_.boolean(value); }
  bool number_integer(json::number_integer_t value) { return dom_.number_integer(value); }
  bool number_unsigned(json::number_unsigned_t value) { return dom_.number_unsigned(value); }
  bool number_float(json::number_float_t value, const json::string_t& text) {
    return dom_.number_float(value, text);
  }
  bool string(json::string_t& value) { return dom_.string(value); }
  bool binary(json::binary_t& value) { return dom_.binary(value); }
  bool start_object(std::size_t size) { return enter() && dom_.start_object(size); }
  bool key(json::string_t& value) { return dom_.key(value); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t size) { return enter() && dom_.start_array(size); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t position, const std::string& token, const Exception& error) {
    detail_ = error.what();
    return dom_.parse_error(position, token, error);
  }

  bool too_deep() const { return too_deep_; }
  bool errored() const { return too_deep_ || dom_.is_errored(); }
  std::string& detail() { return detail_; }

 private:
  bool enter() {
    if (++depth_ > max_) too_deep_ = true;
    return !too_deep_;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::size_t max_;
  std::size_t depth_ = 0;
  bool too_deep_ = false;
  std::string detail_;
};

}  // namespace json_detail

inline JsonParse parse_json(std::string_view text, std::size_t max_depth) {
  JsonParse result;
  json_detail::DepthLimitedSax sax(result.value, max_depth);
  const bool parsed = nlohmann::json::sax_parse(text, &sax);
  if (parsed && !sax.errored()) return result;
  result.value = nullptr;
  if (sax.too_deep()) {
    result.error = JsonParse::Error::kTooDeep;
    result.code = "json_too_deep";
    result.message =
        "the body nests objects and arrays deeper than " + std::to_string(max_depth) + " levels";
  } else {
    result.error = JsonParse::Error::kSyntax;
    result.code = "invalid_json";
    result.message = "the body is not valid JSON";
    result.detail = std::move(sax.detail());
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
