// Connector instances: the "connectors" block of the config turned into live connectors, each
// built by its registered type (the host's transports or a plugin's) from settings checked
// against the type's JSON Schema. The outbox's dispatcher delivers through them; the inbound
// endpoint and the collection of acknowledgement files read partners' reports through them.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/host_config.hpp"
#include "kim/sdk/connector.hpp"
#include "plugins/registry.hpp"

namespace kim::connectors {

using TypeRegistry = plugins::Registry<sdk::ConnectorType>;

// Registers the connector types that ship with the host ("http", "file_drop") as owner "host".
void register_builtin_types(TypeRegistry& types);

// Reads a secret file: refuses a missing or unreadable file, one that is not a regular file, and
// one that group or others may read (chmod 600). Trailing line breaks are dropped. Throws
// std::invalid_argument naming the path and the rule, never the content.
std::string read_secret_file(const std::filesystem::path& path);

// Every problem of the config's connector instances against the registered types, each with its
// config path: an unknown type, settings that do not meet the type's schema, a partner seed that
// names no configured instance. Defaults of the type's schema are not applied here.
std::vector<std::string> check_instances(const config::HostConfig& config,
                                         const TypeRegistry& types);

struct Instance {
  config::ConnectorInstanceConfig config;
  std::string owner;  // who registered the type: "host" or a plugin id
  std::unique_ptr<sdk::Connector> connector;
};

class Instances {
 public:
  // Checks (check_instances) and builds every instance; throws config::ConfigError with every
  // problem, including those a type's create function reports (a missing secret file, …).
  Instances(const config::HostConfig& config, const TypeRegistry& types);
  ~Instances();
  Instances(const Instances&) = delete;
  Instances& operator=(const Instances&) = delete;

  Instance* find(std::string_view name);
  const std::map<std::string, Instance, std::less<>>& all() const { return instances_; }

 private:
  std::map<std::string, Instance, std::less<>> instances_;
};

// Builds one instance of `type` for composition (sdk::ConnectorContext::make): settings are
// checked against the type's schema with its defaults applied; throws std::invalid_argument.
std::unique_ptr<sdk::Connector> make_connector(const TypeRegistry& types, const std::string& type,
                                               nlohmann::json settings,
                                               const sdk::ConnectorContext& context);

}  // namespace kim::connectors
