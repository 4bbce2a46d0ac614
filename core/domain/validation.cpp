#include "domain/validation.hpp"

#include "domain/env.hpp"
#include "kim/sdk/json.hpp"

#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <regex>

namespace kim::domain {

namespace {

std::size_t utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++count;
  }
  return count;
}

bool valid_utf8(std::string_view text) {
  try {
    (void)nlohmann::json(std::string(text)).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
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

bool is_date(std::string_view text) {
  static const std::regex kShape("[0-9]{4}-[0-9]{2}-[0-9]{2}");
  if (!std::regex_match(text.begin(), text.end(), kShape)) return false;
  int year = std::stoi(std::string(text.substr(0, 4)));
  unsigned month = static_cast<unsigned>(std::stoi(std::string(text.substr(5, 2))));
  unsigned day = static_cast<unsigned>(std::stoi(std::string(text.substr(8, 2))));
  if (year < 1900 || year > 2200) return false;
  return std::chrono::year_month_day(std::chrono::year(year), std::chrono::month(month),
                                     std::chrono::day(day))
      .ok();
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

std::string FieldReader::text(const char* key, std::size_t max_length, bool required) {
  auto value = lookup(key, required);
  if (!value) return {};
  if (!value->is_string()) {
    fail(key, "must be a string (got " + type_name(*value) + ")");
    return {};
  }
  const auto& text = value->get_ref<const std::string&>();
  if (!valid_utf8(text)) {
    fail(key, "must be valid UTF-8");
    return {};
  }
  auto length = utf8_length(text);
  if (required && text.find_first_not_of(" \t\r\n") == std::string::npos) {
    fail(key, "must not be empty");
    return {};
  }
  if (length > max_length) {
    fail(key, "must be at most " + std::to_string(max_length) + " characters (got " +
                  std::to_string(length) + ")");
    return {};
  }
  return text;
}

std::optional<std::string> FieldReader::optional_text(const char* key, std::size_t max_length) {
  if (!object_.contains(key) || object_[key].is_null()) {
    known_.insert(key);
    return std::nullopt;
  }
  auto value = text(key, max_length, false);
  if (problem_) return std::nullopt;
  return value;
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
