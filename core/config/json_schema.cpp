#include "config/json_schema.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <regex>
#include <string_view>
#include <utility>

#include "kim/sdk/dates.hpp"

namespace kim::config {
namespace {

using nlohmann::json;

// Longest rendering of an offending value inside a message, roughly.
constexpr std::size_t kMaxShown = 40;
// Longest enum list spelled out in a message.
constexpr std::size_t kMaxEnumShown = 10;
// Largest edit distance for which an unknown key gets a "did you mean" suggestion.
constexpr std::size_t kMaxSuggestDistance = 2;

constexpr auto kTypeNames = std::to_array<std::string_view>(
    {"object", "array", "string", "integer", "number", "boolean", "null"});

constexpr auto kSupportedKeywords = std::to_array<std::string_view>({"type",
                                                                     "properties",
                                                                     "required",
                                                                     "additionalProperties",
                                                                     "items",
                                                                     "minItems",
                                                                     "maxItems",
                                                                     "uniqueItems",
                                                                     "minimum",
                                                                     "maximum",
                                                                     "exclusiveMinimum",
                                                                     "exclusiveMaximum",
                                                                     "minLength",
                                                                     "maxLength",
                                                                     "pattern",
                                                                     "enum",
                                                                     "const",
                                                                     "default",
                                                                     "title",
                                                                     "description",
                                                                     "$schema",
                                                                     "$id",
                                                                     "$comment",
                                                                     "examples",
                                                                     "format"});

// Standard keywords we know but do not implement; they get a clearer message than a typo would.
constexpr auto kUnsupportedKeywords = std::to_array<std::string_view>({"$ref",
                                                                       "$defs",
                                                                       "definitions",
                                                                       "$anchor",
                                                                       "$dynamicRef",
                                                                       "$dynamicAnchor",
                                                                       "$recursiveRef",
                                                                       "$recursiveAnchor",
                                                                       "$vocabulary",
                                                                       "allOf",
                                                                       "anyOf",
                                                                       "oneOf",
                                                                       "not",
                                                                       "if",
                                                                       "then",
                                                                       "else",
                                                                       "patternProperties",
                                                                       "propertyNames",
                                                                       "dependencies",
                                                                       "dependentRequired",
                                                                       "dependentSchemas",
                                                                       "minProperties",
                                                                       "maxProperties",
                                                                       "contains",
                                                                       "minContains",
                                                                       "maxContains",
                                                                       "prefixItems",
                                                                       "additionalItems",
                                                                       "unevaluatedItems",
                                                                       "unevaluatedProperties",
                                                                       "multipleOf",
                                                                       "contentEncoding",
                                                                       "contentMediaType"});

// ---- Rendering -------------------------------------------------------------------------------

// Never throws: instances may hold invalid UTF-8 and must still produce a message.
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string quote(std::string_view s) {
  return dump(json(s));
}

// Cuts to at most max_bytes without splitting a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n;
  return s.substr(0, n);
}

// Compact JSON rendering of a value, truncated so a huge value cannot flood a message.
std::string compact(const json& value) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (s.size() <= kMaxShown) return dump(value);
    return quote(std::string(utf8_prefix(s, kMaxShown - 3)) + "...");
  }
  std::string text = dump(value);
  if (text.size() <= kMaxShown) return text;
  return std::string(utf8_prefix(text, kMaxShown - 3)) + "...";
}

// "string \"8\"", "integer 5", "null": the JSON type is shown because "8" and 8 look alike.
std::string describe(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "object " + compact(value);
    case json::value_t::array:
      return "array " + compact(value);
    case json::value_t::string:
      return "string " + compact(value);
    case json::value_t::boolean:
      return "boolean " + compact(value);
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer " + compact(value);
    case json::value_t::number_float:
      return "number " + compact(value);
    case json::value_t::binary:
      return "binary value";
    case json::value_t::discarded:
      break;
  }
  return "invalid value";
}

std::string with_article(std::string_view type_name) {
  if (type_name == "null") return "null";
  const bool vowel = type_name == "object" || type_name == "array" || type_name == "integer";
  return std::string(vowel ? "an " : "a ") + std::string(type_name);
}

// "a", "a or b", "a, b or c".
std::string join_alternatives(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
    out += items[i];
  }
  return out;
}

template <typename Range>
std::string join_comma(const Range& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

std::string plural(std::size_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

// ---- Paths -----------------------------------------------------------------------------------

bool is_identifier(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '$';
  });
}

std::string key_path(const std::string& parent, const std::string& key) {
  // Keys with dots or brackets would make a dotted path ambiguous, so they are quoted.
  if (!is_identifier(key)) return parent + "[" + quote(key) + "]";
  return parent.empty() ? key : parent + "." + key;
}

std::string index_path(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

// ---- Suggestions -----------------------------------------------------------------------------

// Optimal string alignment distance: like Levenshtein, but a swap of two neighbours costs 1,
// which is the most common typo in hand-written keys.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::size_t> before(m + 1), prev(m + 1), cur(m + 1);
  for (std::size_t j = 0; j <= m; ++j)
    prev[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], before[j - 2] + 1);
      }
    }
    std::swap(before, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

// Closest candidate within kMaxSuggestDistance; ties go to the earliest candidate. The distance
// must also be below the shorter length, otherwise "m" would suggest "n" and "zz" suggest "a".
template <typename Range>
std::optional<std::string> closest(std::string_view word, const Range& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = kMaxSuggestDistance + 1;
  for (const auto& candidate : candidates) {
    const std::string_view c(candidate);
    const std::size_t length_gap =
        c.size() > word.size() ? c.size() - word.size() : word.size() - c.size();
    if (length_gap >= best_distance) continue;  // Cheap bound, avoids work on huge keys.
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance && d < std::min(word.size(), c.size())) {
      best_distance = d;
      best = std::string(c);
    }
  }
  return best;
}

// ---- Numbers ---------------------------------------------------------------------------------

template <typename A, typename B>
int compare_exact(A a, B b) {
  return std::cmp_less(a, b) ? -1 : (std::cmp_less(b, a) ? 1 : 0);
}

// Three-way comparison of two JSON numbers. Integers are compared exactly (mixed signedness
// included); anything involving a float is compared as double.
int compare_numbers(const json& a, const json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    if (a.is_number_unsigned()) {
      const auto x = a.get<std::uint64_t>();
      return b.is_number_unsigned() ? compare_exact(x, b.get<std::uint64_t>())
                                    : compare_exact(x, b.get<std::int64_t>());
    }
    const auto x = a.get<std::int64_t>();
    return b.is_number_unsigned() ? compare_exact(x, b.get<std::uint64_t>())
                                  : compare_exact(x, b.get<std::int64_t>());
  }
  const double x = a.get<double>();
  const double y = b.get<double>();
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool is_non_negative_integer(const json& value) {
  return value.is_number_unsigned() ||
         (value.is_number_integer() && value.get<std::int64_t>() >= 0);
}

// ---- Strings ---------------------------------------------------------------------------------

std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// "YYYY-MM-DD" naming a day of the proleptic Gregorian calendar (RFC 3339 full-date).
// Any year 0000-9999: the format is the standard's, not the API's narrower rule for social data.
bool is_calendar_date(std::string_view s) {
  return sdk::parse_date(s, 0, 9999).has_value();
}

// Returns an empty string when `s` is a valid "host-port", otherwise the reason.
std::string check_host_port(std::string_view s) {
  const std::string got = " (got " + compact(json(s)) + ")";
  std::string_view host;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos) return "has an unclosed \"[\" in the host" + got;
    host = s.substr(1, close - 1);
    if (close + 1 >= s.size() || s[close + 1] != ':') {
      return "must be \"HOST:PORT\", e.g. \"[::1]:8080\"" + got;
    }
    port = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos)
      return "must be \"HOST:PORT\", e.g. \"localhost:8080\"" + got;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return "must put an IPv6 host in brackets, e.g. \"[::1]:8080\"" + got;
    }
  }
  if (host.empty()) return "must have a non-empty host before the port" + got;
  if (std::any_of(host.begin(), host.end(), [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '[' || c == ']';
      })) {
    return "must have a host without spaces or brackets" + got;
  }
  const bool digits =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  // At most 5 digits, so stoi cannot overflow.
  const int number = digits ? std::stoi(std::string(port)) : 0;
  if (number < 1 || number > 65535) return "must have a port in 1..65535" + got;
  return {};
}

// ---- Validation ------------------------------------------------------------------------------

bool matches_type(std::string_view name, const json& value) {
  if (name == "object") return value.is_object();
  if (name == "array") return value.is_array();
  if (name == "string") return value.is_string();
  if (name == "integer") return value.is_number_integer();
  if (name == "number") return value.is_number();
  if (name == "boolean") return value.is_boolean();
  if (name == "null") return value.is_null();
  return false;
}

bool declares_object_type(const json& schema) {
  const auto it = schema.find("type");
  if (it == schema.end()) return false;
  if (it->is_string()) return *it == "object";
  return it->is_array() && std::find(it->begin(), it->end(), json("object")) != it->end();
}

// Walks a schema that already passed check_schema(), so keyword shapes are trusted here.
class Validator {
 public:
  Validator(bool apply_defaults, std::vector<SchemaError>& errors)
      : apply_defaults_(apply_defaults), errors_(errors) {}

  void validate(const json& schema, json& instance, const std::string& path) {
    // A value of the wrong type would only produce noise from the other keywords.
    if (!check_type(schema, instance, path)) return;
    check_enum_const(schema, instance, path);
    if (instance.is_number()) check_number(schema, instance, path);
    if (instance.is_string()) check_string(schema, instance, path);
    if (instance.is_array()) check_array(schema, instance, path);
    if (instance.is_object()) check_object(schema, instance, path);
  }

 private:
  void add(const std::string& path, std::string message) {
    errors_.push_back({path, std::move(message)});
  }

  bool check_type(const json& schema, const json& instance, const std::string& path) {
    const auto it = schema.find("type");
    if (it == schema.end()) return true;
    std::vector<std::string> names;
    if (it->is_string()) {
      names.push_back(it->get<std::string>());
    } else {
      for (const auto& name : *it)
        names.push_back(name.get<std::string>());
    }
    if (std::any_of(names.begin(), names.end(),
                    [&](const std::string& name) { return matches_type(name, instance); })) {
      return true;
    }
    std::vector<std::string> expected;
    for (const auto& name : names)
      expected.push_back(with_article(name));
    add(path, "must be " + join_alternatives(expected) + " (got " + describe(instance) + ")");
    return false;
  }

  void check_enum_const(const json& schema, const json& instance, const std::string& path) {
    if (const auto it = schema.find("enum"); it != schema.end()) {
      // json's == treats 1 and 1.0 as equal, as JSON Schema requires.
      if (std::find(it->begin(), it->end(), instance) == it->end()) {
        std::string allowed;
        std::size_t shown = 0;
        for (const auto& option : *it) {
          if (shown == kMaxEnumShown) {
            allowed += ", ...";
            break;
          }
          if (shown++ > 0) allowed += ", ";
          allowed += compact(option);
        }
        const std::string lead = it->size() == 1 ? "must be " : "must be one of ";
        add(path, lead + allowed + " (got " + compact(instance) + ")");
      }
    }
    if (const auto it = schema.find("const"); it != schema.end() && *it != instance) {
      add(path, "must be " + compact(*it) + " (got " + compact(instance) + ")");
    }
  }

  void check_number(const json& schema, const json& instance, const std::string& path) {
    struct Bound {
      const char* keyword;
      const char* text;
      bool (*fails)(int);
    };
    static constexpr std::array<Bound, 4> kBounds = {{
        {"minimum", "must be at least", [](int c) { return c < 0; }},
        {"maximum", "must be at most", [](int c) { return c > 0; }},
        {"exclusiveMinimum", "must be greater than", [](int c) { return c <= 0; }},
        {"exclusiveMaximum", "must be less than", [](int c) { return c >= 0; }},
    }};
    for (const auto& bound : kBounds) {
      const auto it = schema.find(bound.keyword);
      if (it == schema.end() || !bound.fails(compare_numbers(instance, *it))) continue;
      add(path, std::string(bound.text) + " " + compact(*it) + " (got " + compact(instance) + ")");
    }
  }

  // minLength/maxLength and minItems/maxItems alike: `size` counts `unit`s. The messages read
  // "must be at least 3 characters long (got 2)", "must have at most 2 items (got 3)", and
  // "must not be empty" for a minimum of 1.
  void check_size(const json& schema, const std::string& path, std::size_t size,
                  const char* min_keyword, const char* max_keyword, std::string_view verb,
                  std::string_view unit, std::string_view tail) {
    const auto refuse = [&](std::string_view bound, std::uint64_t limit) {
      add(path, "must " + std::string(verb) + " " + std::string(bound) + " " + plural(limit, unit) +
                    std::string(tail) + " (got " + std::to_string(size) + ")");
    };
    if (const auto it = schema.find(min_keyword); it != schema.end()) {
      const auto min = it->get<std::uint64_t>();
      if (size < min && min == 1) {
        add(path, "must not be empty");
      } else if (size < min) {
        refuse("at least", min);
      }
    }
    if (const auto it = schema.find(max_keyword); it != schema.end()) {
      const auto max = it->get<std::uint64_t>();
      if (size > max) refuse("at most", max);
    }
  }

  void check_string(const json& schema, const json& instance, const std::string& path) {
    const auto& s = instance.get_ref<const std::string&>();
    check_size(schema, path, code_points(s), "minLength", "maxLength", "be", "character", " long");
    if (const auto it = schema.find("pattern"); it != schema.end()) {
      const auto& pattern = it->get_ref<const std::string&>();
      try {
        const std::regex re(pattern, std::regex::ECMAScript);
        if (!std::regex_search(s, re)) {
          add(path, "must match pattern " + compact(*it) + " (got " + compact(instance) + ")");
        }
      } catch (const std::regex_error& e) {
        // libstdc++ can give up on pathological input (error_complexity / error_stack).
        add(path, "could not be matched against pattern " + compact(*it) + ": " + e.what());
      }
    }
    if (const auto it = schema.find("format"); it != schema.end()) {
      if (*it == "host-port") {
        if (std::string reason = check_host_port(s); !reason.empty()) add(path, std::move(reason));
      } else if (*it == "date" && !is_calendar_date(s)) {
        add(path, "must be a date YYYY-MM-DD (got " + compact(instance) + ")");
      }
    }
  }

  void check_array(const json& schema, json& instance, const std::string& path) {
    const std::size_t size = instance.size();
    check_size(schema, path, size, "minItems", "maxItems", "have", "item", "");
    const auto items = schema.find("items");
    const auto unique = schema.find("uniqueItems");
    const bool check_unique = unique != schema.end() && unique->get<bool>();
    if (items == schema.end() && !check_unique) return;

    // Items are validated first (defaults may change them), then errors are merged per item so
    // the output stays in document order.
    std::vector<std::vector<SchemaError>> per_item(size);
    if (items != schema.end()) {
      for (std::size_t i = 0; i < size; ++i) {
        Validator(apply_defaults_, per_item[i]).validate(*items, instance[i], index_path(path, i));
      }
    }
    for (std::size_t i = 0; i < size; ++i) {
      errors_.insert(errors_.end(), std::make_move_iterator(per_item[i].begin()),
                     std::make_move_iterator(per_item[i].end()));
      if (!check_unique) continue;
      for (std::size_t j = 0; j < i; ++j) {
        if (instance[j] == instance[i]) {
          add(index_path(path, i),
              "duplicate of item [" + std::to_string(j) + "] (got " + compact(instance[i]) + ")");
          break;
        }
      }
    }
  }

  void check_object(const json& schema, json& instance, const std::string& path) {
    const auto props_it = schema.find("properties");
    const json* props = props_it != schema.end() ? &*props_it : nullptr;
    if (apply_defaults_ && props != nullptr) fill_defaults(*props, instance);

    if (const auto it = schema.find("required"); it != schema.end()) {
      for (const auto& key : *it) {
        if (!instance.contains(key.get_ref<const std::string&>())) {
          add(path, "missing required key " + compact(key));
        }
      }
    }

    const auto extra = schema.find("additionalProperties");
    const json* extra_schema = extra != schema.end() && extra->is_object() ? &*extra : nullptr;
    // Closed by default when "properties" is given: our deliberate deviation (see header).
    const bool closed = extra == schema.end() ? props != nullptr : *extra == false;

    for (auto it = instance.begin(); it != instance.end(); ++it) {
      const std::string child = key_path(path, it.key());
      if (props != nullptr) {
        if (const auto sub = props->find(it.key()); sub != props->end()) {
          validate(*sub, it.value(), child);
          continue;
        }
      }
      if (extra_schema != nullptr) {
        validate(*extra_schema, it.value(), child);
      } else if (closed) {
        add(child, unknown_key_message(it.key(), props));
      }
    }
  }

  void fill_defaults(const json& props, json& instance) {
    for (auto it = props.begin(); it != props.end(); ++it) {
      if (instance.contains(it.key())) continue;
      const json& sub = it.value();
      if (const auto d = sub.find("default"); d != sub.end()) {
        instance[it.key()] = *d;  // Nested defaults are filled when the member is validated.
        continue;
      }
      if (!declares_object_type(sub) || !sub.contains("properties")) continue;
      json section = json::object();
      std::vector<SchemaError> section_errors;
      Validator(true, section_errors).validate(sub, section, "");
      // A section that defaults alone cannot make valid (say, it requires a key without a
      // default) stays absent: creating it would report errors for keys the user never wrote.
      if (section_errors.empty() && !section.empty()) instance[it.key()] = std::move(section);
    }
  }

  static std::string unknown_key_message(const std::string& key, const json* props) {
    if (props == nullptr || props->empty()) return "unknown key (no keys are allowed here)";
    std::vector<std::string> names;
    for (auto it = props->begin(); it != props->end(); ++it)
      names.push_back(it.key());
    if (const auto best = closest(key, names)) {
      return "unknown key (did you mean " + quote(*best) + "?)";
    }
    return "unknown key (allowed: " + join_comma(names) + ")";
  }

  bool apply_defaults_;
  std::vector<SchemaError>& errors_;
};

// ---- Schema checking -------------------------------------------------------------------------

class SchemaChecker {
 public:
  explicit SchemaChecker(std::vector<SchemaError>& errors) : errors_(errors) {}

  void check(const json& schema, const std::string& path) {
    if (!schema.is_object()) {
      add(path, "schema must be an object (got " + describe(schema) + ")");
      return;
    }
    const std::size_t errors_before = errors_.size();
    for (auto it = schema.begin(); it != schema.end(); ++it) {
      check_keyword(schema, it.key(), it.value(), key_path(path, it.key()));
    }
    check_bounds(schema, path);
    // Defaults are only checked against a schema known to be well formed, since the validator
    // trusts keyword shapes.
    if (const auto d = schema.find("default");
        d != schema.end() && errors_.size() == errors_before) {
      json copy = *d;
      std::vector<SchemaError> problems;
      Validator(true, problems).validate(schema, copy, "");
      for (const auto& problem : problems) {
        add(key_path(path, "default"),
            "default is invalid: " +
                (problem.path.empty() ? problem.message : problem.to_string()));
      }
    }
  }

 private:
  void add(const std::string& path, std::string message) {
    errors_.push_back({path, std::move(message)});
  }

  void check_keyword(const json& schema, const std::string& keyword, const json& value,
                     const std::string& path) {
    if (keyword == "type") {
      check_type(value, path);
    } else if (keyword == "properties") {
      if (!value.is_object()) return expected(path, "an object mapping keys to schemas", value);
      for (auto it = value.begin(); it != value.end(); ++it) {
        check(it.value(), key_path(path, it.key()));
      }
    } else if (keyword == "required") {
      check_required(schema, value, path);
    } else if (keyword == "additionalProperties") {
      if (!value.is_boolean()) check(value, path);
    } else if (keyword == "items") {
      if (value.is_array()) {
        add(path, "must be a single schema object (the array form is not supported)");
      } else {
        check(value, path);
      }
    } else if (keyword == "minItems" || keyword == "maxItems" || keyword == "minLength" ||
               keyword == "maxLength") {
      if (!is_non_negative_integer(value)) expected(path, "a non-negative integer", value);
    } else if (keyword == "uniqueItems") {
      if (!value.is_boolean()) expected(path, "a boolean", value);
    } else if (keyword == "minimum" || keyword == "maximum") {
      if (!value.is_number()) expected(path, "a number", value);
    } else if (keyword == "exclusiveMinimum" || keyword == "exclusiveMaximum") {
      if (value.is_boolean()) {
        add(path, "must be a number (the draft-04 boolean form is not supported; got " +
                      describe(value) + ")");
      } else if (!value.is_number()) {
        expected(path, "a number", value);
      }
    } else if (keyword == "pattern") {
      check_pattern(value, path);
    } else if (keyword == "enum") {
      if (!value.is_array() || value.empty()) expected(path, "a non-empty array", value);
    } else if (keyword == "examples") {
      if (!value.is_array()) expected(path, "an array", value);
    } else if (keyword == "title" || keyword == "description" || keyword == "$schema" ||
               keyword == "$id" || keyword == "$comment") {
      if (!value.is_string()) expected(path, "a string", value);
    } else if (keyword == "format") {
      // A format we do not check would pass anything: refused, not ignored.
      if (!value.is_string()) {
        expected(path, "a string", value);
      } else if (value != "host-port" && value != "date") {
        add(path, "format " + quote(value.get<std::string>()) +
                      " is not checked by kim (supported: host-port, date); use a pattern");
      }
    } else if (keyword == "const" || keyword == "default") {
      // Any value; defaults are checked against the schema in check().
    } else if (std::find(kUnsupportedKeywords.begin(), kUnsupportedKeywords.end(), keyword) !=
               kUnsupportedKeywords.end()) {
      add(path, "unsupported keyword " + quote(keyword) +
                    " (config schemas use a JSON Schema subset without it)");
    } else if (const auto best = closest(keyword, kSupportedKeywords)) {
      add(path, "unknown keyword " + quote(keyword) + " (did you mean " + quote(*best) + "?)");
    } else {
      add(path, "unknown keyword " + quote(keyword) +
                    " (supported: " + join_comma(kSupportedKeywords) + ")");
    }
  }

  void expected(const std::string& path, std::string_view what, const json& value) {
    add(path, "must be " + std::string(what) + " (got " + describe(value) + ")");
  }

  void check_type(const json& value, const std::string& path) {
    const auto check_name = [&](const json& name, const std::string& name_path) {
      if (!name.is_string()) return expected(name_path, "a type name", name);
      const auto& s = name.get_ref<const std::string&>();
      if (std::find(kTypeNames.begin(), kTypeNames.end(), s) != kTypeNames.end()) return;
      if (const auto best = closest(s, kTypeNames)) {
        add(name_path, "unknown type " + quote(s) + " (did you mean " + quote(*best) + "?)");
      } else {
        add(name_path,
            "unknown type " + quote(s) + " (expected one of: " + join_comma(kTypeNames) + ")");
      }
    };
    if (value.is_string()) return check_name(value, path);
    if (!value.is_array() || value.empty()) {
      return expected(path, "a type name or a non-empty array of type names", value);
    }
    for (std::size_t i = 0; i < value.size(); ++i) {
      check_name(value[i], index_path(path, i));
      for (std::size_t j = 0; j < i; ++j) {
        if (value[j] == value[i]) add(index_path(path, i), "duplicate type " + compact(value[i]));
      }
    }
  }

  void check_required(const json& schema, const json& value, const std::string& path) {
    if (!value.is_array()) return expected(path, "an array of key names", value);
    const auto props = schema.find("properties");
    const auto extra = schema.find("additionalProperties");
    // In a closed object an undeclared required key could never be satisfied.
    const bool closed =
        props != schema.end() && props->is_object() && (extra == schema.end() || *extra == false);
    for (std::size_t i = 0; i < value.size(); ++i) {
      const std::string item_path = index_path(path, i);
      if (!value[i].is_string()) {
        expected(item_path, "a key name (string)", value[i]);
        continue;
      }
      if (std::find(value.begin(), value.begin() + static_cast<std::ptrdiff_t>(i), value[i]) !=
          value.begin() + static_cast<std::ptrdiff_t>(i)) {
        add(item_path, "duplicate required key " + compact(value[i]));
      } else if (closed && !props->contains(value[i].get_ref<const std::string&>())) {
        add(item_path, "required key " + compact(value[i]) + " is not declared in properties");
      }
    }
  }

  void check_pattern(const json& value, const std::string& path) {
    if (!value.is_string()) return expected(path, "a string", value);
    try {
      const std::regex re(value.get_ref<const std::string&>(), std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      add(path, "invalid regular expression " + compact(value) + ": " + e.what());
    }
  }

  // Contradictory bounds make every value invalid, which is always a schema bug.
  void check_bounds(const json& schema, const std::string& path) {
    static constexpr std::array<std::pair<const char*, const char*>, 3> kPairs = {{
        {"minimum", "maximum"},
        {"minItems", "maxItems"},
        {"minLength", "maxLength"},
    }};
    for (const auto& [low_key, high_key] : kPairs) {
      const auto low = schema.find(low_key);
      const auto high = schema.find(high_key);
      if (low == schema.end() || high == schema.end() || !low->is_number() || !high->is_number() ||
          compare_numbers(*low, *high) <= 0) {
        continue;
      }
      add(key_path(path, low_key), "is greater than " + std::string(high_key) + " (" +
                                       compact(*low) + " > " + compact(*high) + ")");
    }
  }

  std::vector<SchemaError>& errors_;
};

}  // namespace

std::string SchemaError::to_string() const {
  return (path.empty() ? std::string("(root)") : path) + ": " + message;
}

std::vector<SchemaError> check_schema(const nlohmann::json& schema) {
  std::vector<SchemaError> errors;
  SchemaChecker(errors).check(schema, "");
  return errors;
}

std::vector<SchemaError> validate(const nlohmann::json& schema, nlohmann::json& instance,
                                  bool apply_defaults) {
  std::vector<SchemaError> errors = check_schema(schema);
  if (!errors.empty()) {
    // The walker trusts keyword shapes, so a malformed schema is reported and nothing is walked.
    for (auto& error : errors) {
      error = {"", "invalid schema: " + error.to_string()};
    }
    return errors;
  }
  Validator(apply_defaults, errors).validate(schema, instance, "");
  return errors;
}

}  // namespace kim::config
