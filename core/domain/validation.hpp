// Strict reading of JSON request bodies: every field typed and bounded, unknown fields refused,
// the first problem reported with its JSON path ("household[1].relation"). Nothing is written
// unless the whole body passed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/catalog.hpp"
#include "domain/problem.hpp"
#include "kim/sdk/dates.hpp"

namespace kim::domain {

// Parses a request body that must be a JSON object nested at most `max_depth` levels (400
// invalid_json / json_too_deep otherwise; see kim/sdk/json.hpp for why the bound matters).
Result<nlohmann::json> parse_object(const std::string& body, std::size_t max_depth);
// The host's `server.max_json_depth`, which the route adapter passes to parse_object. Set once at
// start, before any route serves; sdk::kDefaultMaxJsonDepth until then.
void set_max_json_depth(std::size_t depth);
std::size_t max_json_depth();

// The years a date of social data may have (births, arrivals, deadlines, report periods): a
// mistyped year such as 0199 or 2925 is refused rather than stored.
inline constexpr int kFirstDateYear = 1900;
inline constexpr int kLastDateYear = 2200;
// A real calendar date written YYYY-MM-DD with a year in [kFirstDateYear, kLastDateYear].
std::optional<sdk::Date> parse_date(std::string_view text);
bool is_date(std::string_view text);
// The system Env's date and time (see env.hpp), for code outside the services (the CLI, the
// audit trail's own timestamps). Services use the Env they were given.
std::string today();
std::string now_timestamp();

// Free text as it is stored (ICU): valid UTF-8, NFC, Unicode white space trimmed at both ends.
// Refused, with the reason in `problem`: control characters (C0, DEL, C1; `multiline` text keeps
// line breaks and tabs), bidi embeddings, overrides and isolates (U+202A-U+202E,
// U+2066-U+2069), noncharacters, and text made only of invisible characters (white space,
// default-ignorable characters such as U+200B or U+00AD, lone combining marks).
std::optional<std::string> clean_text(std::string_view raw, bool multiline, std::string& problem);
// The form two names are compared in: compatibility forms and case folded, default-ignorable
// characters dropped, umlauts folded to "ae"/"oe"/"ue" and other accents dropped, split into
// words at anything but letters and digits (U+00A0 too), the words sorted. "Özdemir, Ali-Reza",
// "ali reza OEZDEMIR", and either with a decomposed Ö, a U+200B or a trailing U+00A0, give one key.
std::string matching_key(std::string_view text);

class FieldReader {
 public:
  // `object` must be a JSON object; `path` prefixes field names in problems.
  FieldReader(const nlohmann::json& object, std::string path = {});

  // Each reader marks the key as known. Required and absent, or present with a wrong type or
  // out of bounds: records the first problem and returns an empty value.
  // Free text (notes, descriptions): line breaks and tabs allowed; see clean_text.
  std::string text(const char* key, std::size_t max_length, bool required = true);
  std::optional<std::string> optional_text(const char* key, std::size_t max_length);
  // One line (names, titles, contact details, ids): as text, without line breaks or tabs.
  std::string line(const char* key, std::size_t max_length, bool required = true);
  std::optional<std::string> optional_line(const char* key, std::size_t max_length);
  std::optional<std::string> date(const char* key, bool required = true);
  std::optional<std::string> choice(const char* key, const Vocabulary& allowed,
                                    bool required = true);
  std::optional<std::int64_t> integer(const char* key, std::int64_t min, std::int64_t max,
                                      bool required = true);
  std::optional<bool> boolean(const char* key, bool required = true);
  // An array of strings each matching `pattern` (ECMAScript), unique, at most max_items.
  std::vector<std::string> codes(const char* key, const char* pattern, const char* what,
                                 std::size_t max_items, bool required = true);
  // An array of distinct values of `allowed`, at most max_items (required: at least one).
  std::vector<std::string> choices(const char* key, const Vocabulary& allowed,
                                   std::size_t max_items, bool required = true);
  // A nested object read by `each` with a nested reader (paths "key.field").
  template <class F>
  void object(const char* key, F each, bool required = false);
  // An array of objects; `each` reads one element with a nested reader.
  template <class F>
  void objects(const char* key, std::size_t max_items, F each, bool required = false);
  bool has(const char* key) const { return object_.contains(key); }
  // Marks a key as known without reading it (another reader checks it).
  void skip(const char* key) { known_.insert(key); }

  // Records unknown keys as a problem. Call after reading every field.
  void finish();
  const std::optional<Problem>& problem() const { return problem_; }
  void fail(const std::string& key, std::string message);

 private:
  std::string path_of(const std::string& key) const;
  std::string read_text(const char* key, std::size_t max_length, bool required, bool multiline);
  std::optional<std::string> read_optional_text(const char* key, std::size_t max_length,
                                                bool multiline);
  // An array of distinct strings, each accepted by `accepts` (else fails with `item_rule`).
  std::vector<std::string> distinct_strings(const char* key, std::size_t max_items, bool required,
                                            const std::string& item_rule,
                                            const std::function<bool(const std::string&)>& accepts);
  const nlohmann::json* lookup(const char* key, bool required);

  const nlohmann::json& object_;
  std::string path_;
  std::set<std::string> known_;
  std::optional<Problem> problem_;
};

template <class F>
void FieldReader::object(const char* key, F each, bool required) {
  const nlohmann::json* value = lookup(key, required);
  if (!value || problem_) return;
  if (!value->is_object()) return fail(key, "must be an object");
  FieldReader nested(*value, path_of(key));
  each(nested);
  nested.finish();
  if (nested.problem()) problem_ = nested.problem();
}

template <class F>
void FieldReader::objects(const char* key, std::size_t max_items, F each, bool required) {
  const nlohmann::json* value = lookup(key, required);
  if (!value) return;
  if (!value->is_array()) return fail(key, "must be an array");
  if (value->size() > max_items) {
    return fail(key, "must have at most " + std::to_string(max_items) + " items");
  }
  for (std::size_t i = 0; i < value->size() && !problem_; ++i) {
    const auto& item = (*value)[i];
    std::string item_path = path_of(key) + "[" + std::to_string(i) + "]";
    if (!item.is_object()) {
      problem_ = Problem::bad_request(item_path, "must be an object");
      return;
    }
    FieldReader nested(item, item_path);
    each(nested);
    nested.finish();
    if (nested.problem()) problem_ = nested.problem();
  }
}

}  // namespace kim::domain
