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
  bool sync_thread = true;  // store/store.hpp, "Durability off the writer's path"
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

// How the outbox retries a connector instance's messages (see "connectors" in the schema).
struct RetryPolicy {
  int max_attempts = 12;  // 0: unlimited
  std::chrono::milliseconds initial_delay{2000};
  double multiplier = 2.0;
  std::chrono::milliseconds max_delay{900000};
  bool full_jitter = true;
  std::chrono::hours max_age{72};  // 0: no limit
};

struct BreakerPolicy {
  int failure_threshold = 5;
  std::chrono::seconds open_for{60};
};

struct ConnectorInstanceConfig {
  std::string name;
  std::string type;
  std::string description;
  nlohmann::json settings = nlohmann::json::object();  // checked against the type's schema later
  std::chrono::seconds timeout{30};
  RetryPolicy retry;
  BreakerPolicy breaker;
  std::optional<std::filesystem::path> inbound_key_file;  // resolved against the config's folder
  std::chrono::seconds inbound_poll{30};
};

// The outbox's dispatcher ("outbox" in the schema).
struct OutboxConfig {
  int worker_threads = 2;
  std::chrono::milliseconds poll{500};
  int batch = 32;
};

// How long personal data is kept ("retention" in the schema; retention/retention.hpp).
struct RetentionConfig {
  int closed_cases_days = 2192;
  int persons_without_case_days = 365;
  int ended_referrals_days = 1096;
  int revoked_consents_days = 1096;
  int outbox_days = 90;
  int audit_days = 3653;
  std::chrono::minutes interval{1440};
};

// Browser sign-in of the web console ("sessions" in the schema).
struct SessionsConfig {
  std::chrono::minutes idle_timeout{30};
  std::chrono::hours lifetime{12};
  std::chrono::hours invite_valid{72};
  bool secure_cookie = false;
  std::string public_url;  // for invite links; empty: http://<server.listen>
  int failures_per_account = 5;
  int failures_per_address = 20;
  std::chrono::seconds failure_window{300};
};

struct OrganisationConfig {
  std::string slug, name, kind, town, supervisor;
  bool team_access = false;
};

struct HostConfig {
  std::filesystem::path source;  // the file it came from, empty when parsed from memory
  std::filesystem::path
      base_dir;  // relative paths (also secret files named in settings) resolve here
  std::string deployment_name;
  // IANA name (deployment.time_zone, default Europe/Berlin) of the zone in which kim tells the
  // calendar date; known to the system's tzdata. The commands apply it to the process (TZ).
  std::string time_zone;
  std::filesystem::path data_dir;
  ServerConfig server;
  DatabaseConfig database;
  LogConfig log;
  PluginsConfig plugins;
  std::vector<OrganisationConfig> organisations;
  // Partner seeds as written (checked by the partner rules when applied, see partners/).
  std::vector<nlohmann::json> partners;
  std::vector<ConnectorInstanceConfig> connectors;  // sorted by name
  OutboxConfig outbox;
  int referral_max_wait_days = 14;
  RetentionConfig retention;
  SessionsConfig sessions;
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
