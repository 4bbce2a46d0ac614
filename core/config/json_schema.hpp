// A JSON Schema subset validator for the host config and for plugin config blocks.
//
// Supported keywords:
//   type (a name or an array of names: object, array, string, integer, number, boolean, null;
//         "integer" accepts only JSON integers, 2.0 is a number but not an integer),
//   properties, required, additionalProperties (bool or schema),
//   items (a single schema), minItems, maxItems, uniqueItems,
//   minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers, draft 6+ form),
//   minLength, maxLength (counted in UTF-8 code points),
//   pattern (std::regex ECMAScript, searched anywhere in the string like JSON Schema; it matches
//            bytes, so "." is one byte of a multi-byte character),
//   enum, const, default,
//   format: "host-port" ("HOST:PORT", port 1..65535, non-empty host, IPv6 hosts in brackets such
//           as "[::1]:8080") and "date" ("YYYY-MM-DD", a real calendar day); any other format is
//           refused by check_schema (it would not be enforced).
// Annotations accepted and ignored: title, description, $schema, $id, $comment, examples.
// Schemas must be JSON objects ("true"/"false" are accepted only as additionalProperties).
//
// Deliberate deviations from standard JSON Schema:
//  - An object schema that has "properties" but no "additionalProperties" is closed: unknown keys
//    are errors (standard JSON Schema allows them). Typos in configs must not pass silently.
//    Write "additionalProperties": true to opt out.
//  - Defaults are applied (see validate()) and are applied before "required" is checked, so a
//    required key that has a default is never reported missing.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kim::config {

struct SchemaError {
  // Path of the offending value: "server.io_threads", "plugins.directories[2]", "" for the root.
  // Keys that are not plain identifiers ([A-Za-z0-9_$-]+) are written as ["a.b"].
  std::string path;
  // What is wrong, for a human, e.g. "must be at least 1 (got 0)".
  std::string message;

  // "server.io_threads: must be at least 1 (got 0)"; "(root): ..." when path is empty.
  std::string to_string() const;
};

// Validates `instance` against `schema` and returns every error found, in document order (an
// object's own errors such as missing keys come before those of its members; members follow the
// instance's iteration order). Empty means valid. Never throws on bad instances.
//
// When apply_defaults is true, `instance` is completed in place: a missing property whose
// subschema has a "default" gets a copy of it (and an object default then gets its own nested
// defaults filled in); a missing property whose subschema is an object with "properties" is
// created as {} and filled from nested defaults, so a config can omit a whole section. Such a
// section is only created when defaults alone make it valid, so an optional section that needs
// user input stays absent instead of producing errors.
//
// If the schema itself fails check_schema(), the instance is left untouched and the result holds
// those problems at the root path, with messages starting "invalid schema: ".
std::vector<SchemaError> validate(const nlohmann::json& schema, nlohmann::json& instance,
                                  bool apply_defaults = true);

// Checks that `schema` only uses the supported subset and that keyword values have the right shape
// (so a plugin shipping a schema with an unsupported keyword is refused with a clear message).
// Also checks obvious contradictions (minimum > maximum, a required key that is not declared in a
// closed object) and that every "default" is valid against its own schema. Paths here are schema
// paths, e.g. "properties.port.minimum".
std::vector<SchemaError> check_schema(const nlohmann::json& schema);

}  // namespace kim::config
