// A plugin's own data files (rule sets, code lists, templates), compiled into its library by
// `kim_add_plugin(<name> SOURCES … DATA_FILES …)`, so a deployed plugin can never lose them or
// read another version than it was built with. Each plugin library has its own list.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace kim::sdk {

struct EmbeddedFile {
  std::string_view name;     // the file's name without folders, e.g. "stag-10-from-2024.json"
  std::string_view content;  // its bytes, exactly
};

// The DATA_FILES of this plugin in the order given (empty without DATA_FILES). Defined in a
// source kim_add_plugin generates; for a plugin's unit tests, `kim_embed_files(<test target>
// FILES …)` adds the same to the test binary.
const std::vector<EmbeddedFile>& embedded_files();

// The embedded file called `name`, if there is one.
inline std::optional<std::string_view> embedded_file(std::string_view name) {
  for (const auto& file : embedded_files()) {
    if (file.name == name) return file.content;
  }
  return std::nullopt;
}

}  // namespace kim::sdk
