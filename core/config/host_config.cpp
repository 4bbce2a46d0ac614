#include "config/host_config.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string_view>

#include "config/json_schema.hpp"
#include "kim/sdk/json.hpp"

namespace kim::config {

extern const char* const kHostConfigSchemaText;  // generated from config/schema at build time

namespace {

// The config file's own bound (server.max_json_depth is for request bodies); plugin config blocks
// sit 4 levels down.
constexpr std::size_t kConfigMaxJsonDepth = 64;

std::string join_problems(const std::string& source, const std::vector<std::string>& problems) {
  std::string message = source + " is invalid:";
  for (const auto& problem : problems)
    message += "\n  " + problem;
  return message;
}

std::filesystem::path resolve(const std::filesystem::path& base_dir, const std::string& value) {
  std::filesystem::path path(value);
  return (path.is_absolute() ? path : base_dir / path).lexically_normal();
}

}  // namespace

ConfigError::ConfigError(const std::string& source, std::vector<std::string> problems)
    : std::runtime_error(join_problems(source, problems)), problems_(std::move(problems)) {}

const nlohmann::json& host_config_schema() {
  static const nlohmann::json schema = nlohmann::json::parse(kHostConfigSchemaText);
  return schema;
}

std::pair<std::string, std::uint16_t> parse_listen_address(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    throw std::invalid_argument("\"" + listen + "\" is not HOST:PORT (e.g. 127.0.0.1:8080)");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port_text = listen.substr(colon + 1);
  int port = 0;
  try {
    std::size_t used = 0;
    port = std::stoi(port_text, &used);
    if (used != port_text.size()) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    throw std::invalid_argument("\"" + listen + "\": port must be a number from 0 to 65535");
  }
  return {host, static_cast<std::uint16_t>(port)};
}

HostConfig parse_host_config(nlohmann::json document, const std::filesystem::path& base_dir,
                             const std::string& source) {
  std::vector<std::string> problems;
  for (const auto& error : validate(host_config_schema(), document, /*apply_defaults=*/true)) {
    problems.push_back(error.to_string());
  }
  if (!problems.empty()) throw ConfigError(source, problems);

  HostConfig config;
  config.base_dir = base_dir;
  config.deployment_name = document["deployment"]["name"];
  config.time_zone = document["deployment"]["time_zone"];
  // The schema's pattern keeps the name inside the tzdata folder. The file must be a compiled zone
  // (magic "TZif"), not one of tzdata's text files or folders: for anything else the C library
  // would fall back to UTC without a word.
  const char* tzdir = std::getenv("TZDIR");
  const std::filesystem::path zone_file =
      std::filesystem::path(tzdir != nullptr && *tzdir != '\0' ? tzdir : "/usr/share/zoneinfo") /
      config.time_zone;
  char magic[4] = {};
  std::ifstream(zone_file, std::ios::binary).read(magic, sizeof magic);
  if (std::string_view(magic, sizeof magic) != "TZif") {
    throw ConfigError(source, {"deployment.time_zone: unknown time zone \"" + config.time_zone +
                               "\" (" + zone_file.string() +
                               " is no time zone; an IANA name such as \"Europe/Berlin\", with the "
                               "package tzdata)"});
  }
  config.data_dir = resolve(base_dir, document["data_dir"]);

  const auto& server = document["server"];
  try {
    std::tie(config.server.host, config.server.port) = parse_listen_address(server["listen"]);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(source, {std::string("server.listen: ") + e.what()});
  }
  config.server.io_threads = server["io_threads"];
  config.server.worker_threads = server["worker_threads"];
  config.server.body_limit_bytes = server["body_limit_bytes"];
  config.server.max_json_depth = server["max_json_depth"];
  config.server.request_timeout = std::chrono::seconds(server["request_timeout_seconds"]);
  config.server.keep_alive_timeout = std::chrono::seconds(server["keep_alive_timeout_seconds"]);
  config.server.shutdown_timeout = std::chrono::seconds(server["shutdown_timeout_seconds"]);
  config.server.max_connections = server["max_connections"];
  config.server.reserved_connections = server["reserved_connections"];
  config.server.max_connections_per_address = server["max_connections_per_address"];
  config.server.auth_failures_per_address = server["auth_failures_per_address"];
  config.server.auth_failure_window = std::chrono::seconds(server["auth_failure_window_seconds"]);
  config.server.auth_throttle_addresses = server["auth_throttle_addresses"];

  const auto& database = document["database"];
  config.database.path = resolve(config.data_dir, database["file"]);
  config.database.synchronous = database["synchronous"];
  config.database.busy_timeout_ms = database["busy_timeout_ms"];
  config.database.read_connections = database["read_connections"];
  config.database.max_batch = database["max_batch"];
  config.database.sync_thread = database["sync_thread"];

  const auto& log = document["log"];
  config.log.level = log["level"];
  config.log.pattern = log["pattern"];
  if (log.contains("file")) config.log.file = resolve(base_dir, log["file"]);

  for (const auto& org : document["organisations"]) {
    config.organisations.push_back({org["slug"], org["name"], org["kind"], org["town"],
                                    org["supervisor"], org["team_access"]});
  }

  for (const auto& partner : document["partners"])
    config.partners.push_back(partner);
  config.referral_max_wait_days = document["referrals"]["max_wait_days"];
  const auto& sessions = document["sessions"];
  config.sessions.idle_timeout = std::chrono::minutes(sessions["idle_timeout_minutes"].get<int>());
  config.sessions.lifetime = std::chrono::hours(sessions["lifetime_hours"].get<int>());
  config.sessions.invite_valid = std::chrono::hours(sessions["invite_valid_hours"].get<int>());
  config.sessions.secure_cookie = sessions["secure_cookie"];
  config.sessions.public_url = sessions["public_url"];
  config.sessions.failures_per_account = sessions["failures_per_account"];
  config.sessions.failures_per_address = sessions["failures_per_address"];
  config.sessions.failure_window =
      std::chrono::seconds(sessions["failure_window_seconds"].get<int>());

  for (const auto& [name, block] : document["connectors"].items()) {
    // Instance names appear in URLs (/api/v1/connectors/{instance}) and file names.
    static const std::regex kInstanceName("[a-z][a-z0-9_-]{0,62}");
    if (!std::regex_match(name, kInstanceName)) {
      throw ConfigError(source, {"connectors." + name +
                                 ": an instance name must match "
                                 "[a-z][a-z0-9_-]{0,62}"});
    }
    ConnectorInstanceConfig instance;
    instance.name = name;
    instance.type = block["type"];
    instance.description = block["description"];
    instance.settings = block["settings"];
    instance.timeout = std::chrono::seconds(block["timeout_seconds"].get<int>());
    const auto& retry = block["retry"];
    instance.retry.max_attempts = retry["max_attempts"];
    instance.retry.initial_delay = std::chrono::milliseconds(retry["initial_delay_ms"].get<int>());
    instance.retry.multiplier = retry["multiplier"];
    instance.retry.max_delay = std::chrono::milliseconds(retry["max_delay_ms"].get<int>());
    instance.retry.full_jitter = retry["jitter"] == "full";
    instance.retry.max_age = std::chrono::hours(retry["max_age_hours"].get<int>());
    const auto& breaker = block["breaker"];
    instance.breaker.failure_threshold = breaker["failure_threshold"];
    instance.breaker.open_for = std::chrono::seconds(breaker["open_seconds"].get<int>());
    const auto& inbound = block["inbound"];
    if (inbound.contains("hmac_key_file")) {
      instance.inbound_key_file = resolve(base_dir, inbound["hmac_key_file"]);
    }
    instance.inbound_poll = std::chrono::seconds(inbound["poll_seconds"].get<int>());
    config.connectors.push_back(std::move(instance));
  }

  const auto& outbox = document["outbox"];
  config.outbox.worker_threads = outbox["worker_threads"];
  config.outbox.poll = std::chrono::milliseconds(outbox["poll_ms"].get<int>());
  config.outbox.batch = outbox["batch"];

  const auto& retention = document["retention"];
  config.retention.closed_cases_days = retention["closed_cases_days"];
  config.retention.persons_without_case_days = retention["persons_without_case_days"];
  config.retention.ended_referrals_days = retention["ended_referrals_days"];
  config.retention.revoked_consents_days = retention["revoked_consents_days"];
  config.retention.outbox_days = retention["outbox_days"];
  config.retention.audit_days = retention["audit_days"];
  config.retention.interval = std::chrono::minutes(retention["interval_minutes"].get<int>());

  const auto& plugins = document["plugins"];
  for (const auto& directory : plugins["directories"]) {
    config.plugins.directories.push_back(resolve(base_dir, directory));
  }
  for (const auto& [id, setting] : plugins["settings"].items()) {
    config.plugins.settings[id] = PluginSetting{setting["enabled"], setting["config"]};
  }
  return config;
}

HostConfig load_host_config(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    throw ConfigError(file.string(), {"cannot be read (does the file exist?)"});
  }
  std::stringstream text;
  text << in.rdbuf();
  // Bounded like request bodies: the checks below copy and compare values recursively.
  auto parsed = sdk::parse_json(text.str(), kConfigMaxJsonDepth);
  if (parsed.error == sdk::JsonParse::Error::kTooDeep) {
    throw ConfigError(file.string(), {"nests objects and arrays deeper than " +
                                      std::to_string(kConfigMaxJsonDepth) + " levels"});
  }
  if (!parsed) throw ConfigError(file.string(), {"not valid JSON: " + parsed.detail});
  nlohmann::json document = std::move(parsed.value);
  auto base_dir = std::filesystem::absolute(file).parent_path();
  HostConfig config = parse_host_config(std::move(document), base_dir, file.string());
  config.source = file;
  return config;
}

}  // namespace kim::config
