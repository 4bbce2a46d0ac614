#include "connectors/instances.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "config/json_schema.hpp"

namespace kim::connectors {
namespace {

std::string join_path(const std::string& prefix, const std::string& path) {
  if (path.empty()) return prefix;
  return path.front() == '[' ? prefix + path : prefix + "." + path;
}

std::vector<std::string> settings_problems(const sdk::ConnectorType& type, nlohmann::json& settings,
                                           const std::string& prefix) {
  std::vector<std::string> problems;
  for (const auto& error : config::validate(type.settings_schema, settings, true)) {
    problems.push_back(join_path(prefix, error.path) + ": " + error.message);
  }
  return problems;
}

// `context` with its `make`: composed connectors belong to the same instance (the copy they get
// carries no `make` of its own; make_connector gives them one again).
sdk::ConnectorContext with_make(const TypeRegistry& types, sdk::ConnectorContext context) {
  auto plain = context;
  plain.make = nullptr;
  context.make = [&types, plain](const std::string& type, const nlohmann::json& settings) {
    return make_connector(types, type, settings, plain);
  };
  return context;
}

sdk::ConnectorContext context_for(const config::HostConfig& config,
                                  const config::ConnectorInstanceConfig& instance,
                                  const TypeRegistry& types) {
  sdk::ConnectorContext context;
  context.instance = instance.name;
  context.data_dir = config.data_dir;
  context.timeout = instance.timeout;
  auto base_dir = config.base_dir;
  context.read_secret = [base_dir](const std::string& path) {
    std::filesystem::path file(path);
    return read_secret_file(file.is_absolute() ? file : base_dir / file);
  };
  return with_make(types, std::move(context));
}

}  // namespace

std::string read_secret_file(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    throw std::invalid_argument("secret file " + path.string() + " does not exist");
  }
  if (!S_ISREG(info.st_mode)) {
    throw std::invalid_argument("secret file " + path.string() + " is not a regular file");
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    throw std::invalid_argument("secret file " + path.string() +
                                " may be read by group or others: chmod 600 it");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("secret file " + path.string() + " cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  auto secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r'))
    secret.pop_back();
  if (secret.empty()) throw std::invalid_argument("secret file " + path.string() + " is empty");
  return secret;
}

std::vector<std::string> check_instances(const config::HostConfig& config,
                                         const TypeRegistry& types) {
  std::vector<std::string> problems;
  for (const auto& instance : config.connectors) {
    const auto prefix = "connectors." + instance.name;
    auto type = types.find(instance.type);
    if (!type) {
      problems.push_back(prefix + ".type: no connector type \"" + instance.type +
                         "\" is registered (shipped: http, file_drop; is the plugin that provides "
                         "it enabled? see kim plugins list)");
      continue;
    }
    auto settings = instance.settings;
    auto found = settings_problems(*type, settings, prefix + ".settings");
    problems.insert(problems.end(), found.begin(), found.end());
  }
  for (std::size_t i = 0; i < config.partners.size(); ++i) {
    const auto& partner = config.partners[i];
    auto it = partner.find("connector");
    if (it == partner.end() || !it->is_string()) continue;
    const auto name = it->get<std::string>();
    bool known = false;
    for (const auto& instance : config.connectors)
      known = known || instance.name == name;
    if (!known) {
      problems.push_back("partners[" + std::to_string(i) + "].connector: no connector instance \"" +
                         name + "\" in \"connectors\"");
    }
  }
  return problems;
}

Instances::Instances(const config::HostConfig& config, const TypeRegistry& types) {
  auto problems = check_instances(config, types);
  if (problems.empty()) {
    for (const auto& instance : config.connectors) {
      auto type = types.find(instance.type);
      auto settings = instance.settings;
      config::validate(type->settings_schema, settings, true);
      try {
        auto connector = type->create(settings, context_for(config, instance, types));
        if (!connector) throw std::invalid_argument("the type's create function returned nothing");
        instances_.emplace(
            instance.name,
            Instance{instance, types.owner_of(instance.type).value_or(""), std::move(connector)});
      } catch (const std::exception& e) {
        problems.push_back("connectors." + instance.name + ": " + e.what());
      }
    }
  }
  if (!problems.empty()) throw config::ConfigError(config.source.string(), problems);
}

Instances::~Instances() = default;

Instance* Instances::find(std::string_view name) {
  auto it = instances_.find(name);
  return it == instances_.end() ? nullptr : &it->second;
}

std::unique_ptr<sdk::Connector> make_connector(const TypeRegistry& types, const std::string& type,
                                               nlohmann::json settings,
                                               const sdk::ConnectorContext& context) {
  auto found = types.find(type);
  if (!found) throw std::invalid_argument("no connector type \"" + type + "\" is registered");
  auto problems = settings_problems(*found, settings, type);
  if (!problems.empty()) {
    std::string text = "settings for \"" + type + "\" are not usable:";
    for (const auto& problem : problems)
      text += " " + problem + ";";
    throw std::invalid_argument(text);
  }
  auto connector = found->create(settings, with_make(types, context));
  if (!connector) throw std::invalid_argument("connector type \"" + type + "\" made nothing");
  return connector;
}

}  // namespace kim::connectors
