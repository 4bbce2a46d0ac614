#include "domain/validation.hpp"

#include "domain/env.hpp"
#include "kim/sdk/json.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <regex>

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

namespace kim::domain {

namespace {

std::size_t utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++count;
  }
  return count;
}

// Code points of well-formed UTF-8 (no overlong forms, surrogates or truncated sequences).
bool decode(std::string_view text, std::u32string& out) {
  out.clear();
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
  const auto size = static_cast<std::int32_t>(text.size());
  for (std::int32_t i = 0; i < size;) {
    UChar32 c = 0;
    U8_NEXT(bytes, i, size, c);
    if (c < 0) return false;
    out.push_back(static_cast<char32_t>(c));
  }
  return true;
}

void append_utf8(std::string& out, char32_t c) {
  std::uint8_t buffer[U8_MAX_LENGTH];
  std::int32_t length = 0;
  U8_APPEND_UNSAFE(buffer, length, static_cast<UChar32>(c));
  out.append(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(length));
}

// Why `c` has no place in stored text, or nullptr.
const char* refusal(char32_t c, bool multiline) {
  const auto code = static_cast<UChar32>(c);
  if (c == '\n' || c == '\r' || c == '\t' || c == 0x2028 || c == 0x2029) {
    return multiline ? nullptr : "must be one line (no line breaks or tabs)";
  }
  if (u_charType(code) == U_CONTROL_CHAR) return "must not contain control characters";
  // "Trojan source": these reorder what a reader sees; the marks (U+200E, U+200F) stay allowed.
  if ((c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069)) {
    return "must not contain bidirectional embeddings, overrides or isolates";
  }
  if (U_IS_UNICODE_NONCHAR(code)) return "must not contain noncharacters";
  return nullptr;
}

bool visible(char32_t c) {
  const auto code = static_cast<UChar32>(c);
  if (u_isUWhiteSpace(code) || u_hasBinaryProperty(code, UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) {
    return false;
  }
  const auto type = u_charType(code);
  return type != U_NON_SPACING_MARK && type != U_ENCLOSING_MARK && type != U_CONTROL_CHAR;
}

// `text` normalised by an ICU normaliser; the text unchanged if ICU refuses.
std::string normalised(const icu::Normalizer2* normaliser, std::string_view text) {
  if (!normaliser) return std::string(text);
  std::string out;
  icu::StringByteSink<std::string> sink(&out, static_cast<std::int32_t>(text.size()));
  UErrorCode status = U_ZERO_ERROR;
  normaliser->normalizeUTF8(0,
                            icu::StringPiece(text.data(), static_cast<std::int32_t>(text.size())),
                            sink, nullptr, status);
  return U_SUCCESS(status) ? out : std::string(text);
}

const icu::Normalizer2* normaliser(const icu::Normalizer2* (*instance)(UErrorCode&)) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* result = instance(status);
  return U_SUCCESS(status) ? result : nullptr;
}

std::string type_name(const nlohmann::json& value) {
  if (value.is_string()) return "a string";
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  if (value.is_boolean()) return "a boolean";
  if (value.is_null()) return "null";
  if (value.is_array()) return "an array";
  return "an object";
}

}  // namespace

std::optional<std::string> clean_text(std::string_view raw, bool multiline, std::string& problem) {
  std::u32string points;
  if (!decode(raw, points)) {
    problem = "must be valid UTF-8";
    return std::nullopt;
  }
  bool plain = true;  // printable ASCII needs neither ICU nor the checks below
  for (char32_t c : points) {
    if (const char* why = refusal(c, multiline)) {
      problem = why;
      return std::nullopt;
    }
    plain = plain && c < 0x7F;
  }
  if (!plain) {
    static const icu::Normalizer2* const nfc = normaliser(&icu::Normalizer2::getNFCInstance);
    decode(normalised(nfc, raw), points);
  }
  auto white = [](char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)) != 0; };
  auto first = std::find_if_not(points.begin(), points.end(), white);
  auto last = std::find_if_not(points.rbegin(), points.rend(), white).base();
  std::string text;
  bool seen = false;
  for (auto it = first; it < last; ++it) {
    append_utf8(text, *it);
    seen = seen || visible(*it);
  }
  if (!text.empty() && !seen) {
    problem = "must contain a visible character";
    return std::nullopt;
  }
  return text;
}

std::string matching_key(std::string_view text) {
  static const icu::Normalizer2* const folding =
      normaliser(&icu::Normalizer2::getNFKCCasefoldInstance);
  static const icu::Normalizer2* const nfd = normaliser(&icu::Normalizer2::getNFDInstance);
  std::u32string points;
  decode(normalised(nfd, normalised(folding, text)), points);
  std::vector<std::string> words(1);
  char32_t previous = 0;
  for (char32_t c : points) {
    const auto code = static_cast<UChar32>(c);
    const auto type = u_charType(code);
    if (c == 0x0308 && (previous == 'a' || previous == 'o' || previous == 'u')) {
      words.back() += 'e';  // German umlaut: "Özdemir" is "Oezdemir"
    } else if (type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK) {
      // other accents: "é" is "e"
    } else if (c == 0x0131) {
      words.back() += 'i';  // dotless i (Turkish) has no decomposition
    } else if (u_hasBinaryProperty(code, UCHAR_ALPHABETIC) || u_isdigit(code)) {
      append_utf8(words.back(), c);
    } else if (!words.back().empty()) {
      words.emplace_back();
    }
    previous = c;
  }
  if (words.back().empty()) words.pop_back();
  std::sort(words.begin(), words.end());
  std::string key;
  for (const auto& word : words)
    key += (key.empty() ? "" : " ") + word;
  return key;
}

Result<nlohmann::json> parse_object(const std::string& body, std::size_t max_depth) {
  auto parsed = sdk::parse_json_object(body, max_depth);
  if (!parsed) return Problem{400, parsed.code, parsed.message, {}, nullptr};
  return std::move(parsed.value);
}

namespace {
std::atomic<std::size_t> configured_max_json_depth{sdk::kDefaultMaxJsonDepth};
}  // namespace

void set_max_json_depth(std::size_t depth) {
  configured_max_json_depth.store(depth, std::memory_order_relaxed);
}

std::size_t max_json_depth() {
  return configured_max_json_depth.load(std::memory_order_relaxed);
}

std::optional<sdk::Date> parse_date(std::string_view text) {
  return sdk::parse_date(text, kFirstDateYear, kLastDateYear);
}

bool is_date(std::string_view text) {
  return parse_date(text).has_value();
}

std::string today() {
  return Env::system().today();
}

std::string now_timestamp() {
  return Env::system().timestamp();
}

FieldReader::FieldReader(const nlohmann::json& object, std::string path)
    : object_(object), path_(std::move(path)) {}

std::string FieldReader::path_of(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void FieldReader::fail(const std::string& key, std::string message) {
  if (!problem_) problem_ = Problem::bad_request(path_of(key), std::move(message));
}

const nlohmann::json* FieldReader::lookup(const char* key, bool required) {
  known_.insert(key);
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) {
    if (required) fail(key, "is required");
    return nullptr;
  }
  return &*it;
}

std::string FieldReader::read_text(const char* key, std::size_t max_length, bool required,
                                   bool multiline) {
  auto value = lookup(key, required);
  if (!value) return {};
  if (!value->is_string()) {
    fail(key, "must be a string (got " + type_name(*value) + ")");
    return {};
  }
  std::string problem;
  auto text = clean_text(value->get_ref<const std::string&>(), multiline, problem);
  if (!text) {
    fail(key, problem);
    return {};
  }
  if (required && text->empty()) {
    fail(key, "must not be empty");
    return {};
  }
  auto length = utf8_length(*text);
  if (length > max_length) {
    fail(key, "must be at most " + std::to_string(max_length) + " characters (got " +
                  std::to_string(length) + ")");
    return {};
  }
  return std::move(*text);
}

std::optional<std::string> FieldReader::read_optional_text(const char* key, std::size_t max_length,
                                                           bool multiline) {
  if (!object_.contains(key) || object_[key].is_null()) {
    known_.insert(key);
    return std::nullopt;
  }
  auto value = read_text(key, max_length, false, multiline);
  if (problem_) return std::nullopt;
  return value;
}

std::string FieldReader::text(const char* key, std::size_t max_length, bool required) {
  return read_text(key, max_length, required, true);
}

std::optional<std::string> FieldReader::optional_text(const char* key, std::size_t max_length) {
  return read_optional_text(key, max_length, true);
}

std::string FieldReader::line(const char* key, std::size_t max_length, bool required) {
  return read_text(key, max_length, required, false);
}

std::optional<std::string> FieldReader::optional_line(const char* key, std::size_t max_length) {
  return read_optional_text(key, max_length, false);
}

std::optional<std::string> FieldReader::date(const char* key, bool required) {
  auto value = lookup(key, required);
  if (!value) return std::nullopt;
  if (!value->is_string() || !is_date(value->get<std::string>())) {
    fail(key, "must be a date YYYY-MM-DD");
    return std::nullopt;
  }
  return value->get<std::string>();
}

std::optional<std::string> FieldReader::choice(const char* key, const Vocabulary& allowed,
                                               bool required) {
  auto value = lookup(key, required);
  if (!value) return std::nullopt;
  if (!value->is_string() || !contains(allowed, value->get<std::string>())) {
    fail(key, "must be one of: " + join(allowed));
    return std::nullopt;
  }
  return value->get<std::string>();
}

std::optional<std::int64_t> FieldReader::integer(const char* key, std::int64_t min,
                                                 std::int64_t max, bool required) {
  auto value = lookup(key, required);
  if (!value) return std::nullopt;
  if (!value->is_number_integer()) {
    fail(key, "must be an integer (got " + type_name(*value) + ")");
    return std::nullopt;
  }
  auto number = value->get<std::int64_t>();
  if (number < min || number > max) {
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return number;
}

std::optional<bool> FieldReader::boolean(const char* key, bool required) {
  auto value = lookup(key, required);
  if (!value) return std::nullopt;
  if (!value->is_boolean()) {
    fail(key, "must be true or false (got " + type_name(*value) + ")");
    return std::nullopt;
  }
  return value->get<bool>();
}

std::vector<std::string> FieldReader::distinct_strings(
    const char* key, std::size_t max_items, bool required, const std::string& item_rule,
    const std::function<bool(const std::string&)>& accepts) {
  std::vector<std::string> result;
  auto value = lookup(key, required);
  if (!value) return result;
  if (!value->is_array()) {
    fail(key, "must be an array; each item " + item_rule);
    return {};
  }
  if (value->size() > max_items) {
    fail(key, "must have at most " + std::to_string(max_items) + " items");
    return {};
  }
  for (std::size_t i = 0; i < value->size(); ++i) {
    const auto& item = (*value)[i];
    std::string item_key = std::string(key) + "[" + std::to_string(i) + "]";
    if (!item.is_string() || !accepts(item.get<std::string>())) {
      fail(item_key, item_rule);
      return {};
    }
    if (contains(result, item.get<std::string>())) {
      fail(item_key, "is listed twice");
      return {};
    }
    result.push_back(item.get<std::string>());
  }
  if (required && result.empty()) fail(key, "must not be empty");
  return result;
}

std::vector<std::string> FieldReader::codes(const char* key, const char* pattern, const char* what,
                                            std::size_t max_items, bool required) {
  // Compiling a std::regex costs more than the rest of a request's validation: once per pattern.
  thread_local std::map<std::string, std::regex> compiled;
  auto found = compiled.find(pattern);
  if (found == compiled.end()) found = compiled.emplace(pattern, std::regex(pattern)).first;
  const std::regex& shape = found->second;
  return distinct_strings(key, max_items, required, "must be " + std::string(what),
                          [&](const std::string& item) { return std::regex_match(item, shape); });
}

std::vector<std::string> FieldReader::choices(const char* key, const Vocabulary& allowed,
                                              std::size_t max_items, bool required) {
  return distinct_strings(key, max_items, required, "must be one of: " + join(allowed),
                          [&](const std::string& item) { return contains(allowed, item); });
}

void FieldReader::finish() {
  if (problem_) return;
  for (const auto& [key, value] : object_.items()) {
    if (!known_.count(key)) {
      problem_ = Problem{400, "unknown_field", "unknown field", path_of(key), nullptr};
      return;
    }
  }
}

}  // namespace kim::domain
