// A host config file's text as `kim serve` and `kim config check` read it: the bounded parse,
// the schema check with defaults (core/config/json_schema), the checked HostConfig. The same text
// is also tried as a plugin's config schema (check_schema, then validate the default-filled
// empty block against it). Refusals are ConfigErrors or SchemaErrors, never crashes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/host_config.hpp"
#include "config/json_schema.hpp"
#include "kim/sdk/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = kim::sdk::parse_json(text, kim::sdk::kDefaultMaxJsonDepth);
  if (!parsed) return 0;
  try {
    kim::config::parse_host_config(parsed.value, "/etc/kim", "fuzz.json");
  } catch (const kim::config::ConfigError&) {
  }
  if (parsed.value.is_object() && kim::config::check_schema(parsed.value).empty()) {
    nlohmann::json block = nlohmann::json::object();
    (void)kim::config::validate(parsed.value, block, /*apply_defaults=*/true);
  }
  return 0;
}
