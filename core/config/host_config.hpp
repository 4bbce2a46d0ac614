// The host configuration: parsed from JSON, validated against config/schema/kim-host.schema.json
// (compiled into the binary), with every relative path resolved against the config file's folder.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kim::config {

struct ServerConfig {
  std::string host;
  std::uint16_t port = 0;
  int io_threads = 0;
  int worker_threads = 0;
  std::size_t body_limit_bytes = 0;
  std::size_t max_json_depth = 0;  // of request bodies (kim/sdk/json.hpp)
  std::chrono::seconds request_timeout{0};
  std::chrono::seconds keep_alive_timeout{0};
  std::chrono::seconds shutdown_timeout{0};
  int max_connections = 0;  // 0: from the file-descriptor limit
  int reserved_connections = 16;
  int max_connections_per_address = 256;  // 0: no limit
  int auth_failures_per_address = 20;
  std::chrono::seconds auth_failure_window{60};
  std::size_t auth_throttle_addresses = 65536;
};

struct DatabaseConfig {
  std::filesystem::path path;  // data_dir / file
  std::string synchronous;
  int busy_timeout_ms = 0;
  int read_connections = 0;
  int max_batch = 0;
};

struct LogConfig {
  std::string level;
  std::string pattern;
  std::optional<std::filesystem::path> file;
};

struct PluginSetting {
  bool enabled = true;
  nlohmann::json config = nlohmann::json::object();
};

struct PluginsConfig {
  std::vector<std::filesystem::path> directories;  // empty: the default beside the binary
  std::map<std::string, PluginSetting> settings;   // by plugin id
};

struct OrganisationConfig {
  std::string slug, name, kind, town, supervisor;
  bool team_access = false;
};

struct HostConfig {
  std::filesystem::path source;  // the file it came from, empty when parsed from memory
  std::string deployment_name;
  std::filesystem::path data_dir;
  ServerConfig server;
  DatabaseConfig database;
  LogConfig log;
  PluginsConfig plugins;
  std::vector<OrganisationConfig> organisations;
  // Partner seeds as written (checked by the partner rules when applied, see partners/).
  std::vector<nlohmann::json> partners;
  int referral_max_wait_days = 14;
};

// Thrown for a config that cannot be used; what() lists every problem, one per line, each
// qualified by the JSON path of the offending value ("server.io_threads: must be at least 1").
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& source, std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// The host config schema as shipped in config/schema/kim-host.schema.json.
const nlohmann::json& host_config_schema();

HostConfig load_host_config(const std::filesystem::path& file);
// `base_dir` anchors relative paths; `source` names the document in error messages.
HostConfig parse_host_config(nlohmann::json document, const std::filesystem::path& base_dir,
                             const std::string& source);

// Splits "HOST:PORT" ("[::1]:8080" for IPv6). Throws std::invalid_argument with a clear message.
std::pair<std::string, std::uint16_t> parse_listen_address(const std::string& listen);

}  // namespace kim::config
