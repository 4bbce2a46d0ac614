// Every JSON request body of the host goes through domain::parse_object (the bounded parse) and
// then domain::FieldReader. This reads each key of a parsed body with a reader chosen by the key's
// first letter, nested objects with nested readers, so every reader meets every kind of value at
// every depth the parse lets through. Then what a PATCH does with a body: copy, merge, compare,
// dump. Nothing may crash, recurse without bound or leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "domain/catalog.hpp"
#include "domain/validation.hpp"
#include "kim/sdk/json.hpp"

namespace {

using kim::domain::FieldReader;
using nlohmann::json;

void read_all(FieldReader& in, const json& object, int nesting) {
  for (const auto& [key, member] : object.items()) {
    const json& value = member;  // clang 14 captures no structured binding
    const char* name = key.c_str();
    const bool required = key.size() % 2 == 0;
    switch (key.empty() ? 0 : static_cast<unsigned char>(key[0]) % 12) {
      case 0:
        in.text(name, 100, required);
        break;
      case 1:
        in.optional_text(name, 4000);
        break;
      case 2:
        in.date(name, required);
        break;
      case 3:
        in.choice(name, kim::domain::towns(), required);
        break;
      case 4:
        in.integer(name, 1900, 2200, required);
        break;
      case 5:
        in.boolean(name, required);
        break;
      case 6:
        in.codes(name, "[A-Z]{2}", "country codes", 5, required);
        break;
      case 7:
        in.codes(name, "[a-z0-9][a-z0-9-]{1,62}", "partner slugs", 50, required);
        break;
      case 8:
        in.choices(name, kim::domain::services(), 40, required);
        break;
      case 9:
        in.object(
            name, [&](FieldReader& nested) { read_all(nested, value, nesting + 1); }, required);
        break;
      case 10:
        in.objects(
            name, 20,
            [&](FieldReader& item) {
              // A reader does not expose its item: look up the first item's keys in each.
              if (value.is_array() && !value.empty()) read_all(item, value.front(), nesting + 1);
            },
            required);
        break;
      default:
        in.skip(name);
        break;
    }
    if (in.problem() || nesting > 64) return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto parsed = kim::domain::parse_object(body, kim::sdk::kDefaultMaxJsonDepth);
  if (!parsed) return 0;
  const json& object = parsed.value();
  FieldReader in(object);
  read_all(in, object, 0);
  in.finish();

  // A PATCH merges the body into the stored record, checks the whole and stores its text.
  json merged = {{"id", "x"}, {"contact", json::object()}};
  for (const auto& [key, value] : object.items())
    merged[key] = value;
  const std::string text = merged.dump();
  if (json::parse(text) != merged) __builtin_trap();
  return 0;
}
