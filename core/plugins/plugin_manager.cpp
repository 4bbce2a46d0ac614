#include "plugins/plugin_manager.hpp"

#include <dlfcn.h>
#include <algorithm>
#include <cstddef>

#include <regex>
#include <set>

#include <boost/dll/shared_library.hpp>

#include "config/json_schema.hpp"
#include "kim/sdk/plugin.hpp"
#include "log/logging.hpp"
#include "plugins/plugin_host.hpp"

namespace kim::plugins {

namespace dll = boost::dll;

std::string_view to_string(PluginState state) {
  switch (state) {
    case PluginState::kDisabled:
      return "disabled";
    case PluginState::kMissing:
      return "missing";
    case PluginState::kRefused:
      return "refused";
    case PluginState::kLoaded:
      return "loaded";
    case PluginState::kStarted:
      return "started";
    case PluginState::kStopped:
      return "stopped";
  }
  return "?";
}

// Member order matters: the library is declared first so it is destroyed last, after every
// object that came out of it.
struct PluginManager::Slot {
  dll::shared_library library;
  PluginReport report;
  std::unique_ptr<PluginHostImpl> host;
  std::unique_ptr<sdk::Plugin> instance;
};

namespace {

struct SemVer {
  int major = -1, minor = -1, patch = -1;
};

SemVer parse_version(const char* text) {
  SemVer v;
  if (text == nullptr || std::sscanf(text, "%d.%d.%d", &v.major, &v.minor, &v.patch) != 3) {
    return {};
  }
  return v;
}

std::string describe_exception(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "non-standard exception";
  }
}

// Checks done on the plain C metadata; empty when the plugin may be created.
std::string check_metadata(const KimPluginMetadata& meta) {
  if (meta.abi_version != KIM_SDK_ABI_VERSION) {
    return "built for SDK ABI " + std::to_string(meta.abi_version) + ", this host has ABI " +
           std::to_string(KIM_SDK_ABI_VERSION) + ": rebuild the plugin against KIM SDK " +
           KIM_SDK_VERSION_STRING;
  }
  if (meta.struct_size < sizeof(KimPluginMetadata)) {
    return "metadata block is too small (" + std::to_string(meta.struct_size) + " bytes)";
  }
  if (!meta.id || !meta.version || !meta.sdk_version || !meta.build_key || !meta.description) {
    return "metadata block has empty fields";
  }
  static const std::regex kId("[a-z][a-z0-9-]{0,62}");
  if (!std::regex_match(meta.id, kId)) {
    return std::string("plugin id \"") + meta.id + "\" must match [a-z][a-z0-9-]{0,62}";
  }
  if (std::string_view(meta.build_key) != KIM_SDK_BUILD_KEY) {
    return std::string("built with \"") + meta.build_key + "\", this host needs \"" +
           KIM_SDK_BUILD_KEY + "\": rebuild with the same compiler and standard library";
  }
  SemVer plugin = parse_version(meta.sdk_version);
  SemVer host = parse_version(KIM_SDK_VERSION_STRING);
  if (plugin.major != host.major || plugin.minor > host.minor) {
    return std::string("built against KIM SDK ") + meta.sdk_version + ", this host has SDK " +
           KIM_SDK_VERSION_STRING + " (needs the same major and a minor not newer)";
  }
  return {};
}

}  // namespace

PluginManager::PluginManager(config::PluginsConfig config,
                             std::vector<std::filesystem::path> directories, HostServices services,
                             std::shared_ptr<spdlog::logger> logger)
    : config_(std::move(config)),
      directories_(std::move(directories)),
      services_(std::move(services)),
      logger_(std::move(logger)) {}

PluginManager::~PluginManager() {
  // Destroy objects before their libraries, newest first.
  while (!slots_.empty())
    slots_.pop_back();
}

void PluginManager::refuse(Slot& slot, const std::string& reason) {
  slot.report.state = PluginState::kRefused;
  slot.report.reason = reason;
  if (slot.host) slot.host->discard();
  slot.instance.reset();
  logger_->error("plugin {} ({}) refused: {}", slot.report.id, slot.report.file.string(), reason);
}

void PluginManager::load_all() {
  std::vector<std::filesystem::path> files;
  for (const auto& directory : directories_) {
    std::error_code ec;
    if (!std::filesystem::is_directory(directory, ec)) {
      logger_->warn("plugin folder {} does not exist; skipped", directory.string());
      continue;
    }
    std::vector<std::filesystem::path> found;
    for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
      if (entry.is_regular_file() && entry.path().extension() == ".so") {
        found.push_back(entry.path());
      }
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  for (const auto& file : files)
    load_file(file);

  std::set<std::string> present;
  for (const auto& slot : slots_)
    present.insert(slot->report.id);
  for (const auto& [id, setting] : config_.settings) {
    if (!setting.enabled || present.count(id)) continue;
    auto slot = std::make_unique<Slot>();
    slot->report.id = id;
    slot->report.enabled = true;
    slot->report.state = PluginState::kMissing;
    slot->report.reason = "enabled in the config, but no plugin file declares this id";
    logger_->error("plugin {} is enabled but was not found in any plugin folder", id);
    slots_.push_back(std::move(slot));
  }
}

void PluginManager::load_file(const std::filesystem::path& file) {
  auto slot_owner = std::make_unique<Slot>();
  Slot& slot = *slot_owner;
  slots_.push_back(std::move(slot_owner));
  slot.report.file = file;
  slot.report.id = file.stem().string();

  std::error_code ec;
  slot.library.load(file, dll::load_mode::rtld_now | dll::load_mode::rtld_local, ec);
  if (ec) {
    const char* detail = ::dlerror();
    return refuse(
        slot, std::string("not a loadable library: ") + (detail ? detail : ec.message().c_str()));
  }
  if (!slot.library.has("kim_plugin_metadata") || !slot.library.has("kim_plugin_create")) {
    slot.library.unload();  // no object of it exists yet
    return refuse(slot,
                  "not a KIM plugin (no kim_plugin_metadata/kim_plugin_create; was it "
                  "built with KIM_PLUGIN?)");
  }
  const auto& meta = slot.library.get<const KimPluginMetadata>("kim_plugin_metadata");
  if (auto problem = check_metadata(meta); !problem.empty()) {
    // abi_version, struct_size and id have a fixed place in every ABI: name the plugin.
    if (meta.struct_size >= offsetof(KimPluginMetadata, id) + sizeof(meta.id) && meta.id) {
      slot.report.id = meta.id;
    }
    slot.library.unload();
    return refuse(slot, problem);
  }
  slot.report.id = meta.id;
  slot.report.version = meta.version;
  slot.report.sdk_version = meta.sdk_version;
  slot.report.description = meta.description;
  for (const auto& other : slots_) {
    if (other.get() != &slot && other->report.id == slot.report.id &&
        other->report.state != PluginState::kRefused) {
      slot.library.unload();
      return refuse(slot, "another file already provides plugin id \"" + slot.report.id +
                              "\": " + other->report.file.string());
    }
  }

  auto setting = config_.settings.find(slot.report.id);
  slot.report.enabled = setting != config_.settings.end() && setting->second.enabled;
  if (!slot.report.enabled) {
    slot.report.state = PluginState::kDisabled;
    slot.library.unload();
    logger_->info("plugin {} {} found, not enabled", slot.report.id, slot.report.version);
    return;
  }

  // Config before objects: validate the block against the schema the plugin exported.
  nlohmann::json plugin_config = setting->second.config;
  nlohmann::json schema = {{"type", "object"}, {"properties", nlohmann::json::object()}};
  if (meta.config_schema) {
    try {
      schema = nlohmann::json::parse(meta.config_schema);
    } catch (const nlohmann::json::parse_error& e) {
      return refuse(slot, std::string("its config schema is not valid JSON: ") + e.what());
    }
    if (auto errors = config::check_schema(schema); !errors.empty()) {
      return refuse(slot, "its config schema is unusable: " + errors.front().to_string());
    }
  }
  if (auto errors = config::validate(schema, plugin_config); !errors.empty()) {
    std::string reason = "invalid config:";
    for (const auto& error : errors) {
      reason += " plugins.settings." + slot.report.id + ".config" +
                (error.path.empty() || error.path.front() == '[' ? "" : ".") + error.path + ": " +
                error.message + ";";
    }
    reason.pop_back();
    return refuse(slot, reason);
  }

  slot.host = std::make_unique<PluginHostImpl>(slot.report.id, std::move(plugin_config), services_,
                                               log::get("plugin." + slot.report.id));
  try {
    auto create = slot.library.get_alias<sdk::PluginFactory>("kim_plugin_create");
    slot.instance = create();
    if (!slot.instance) return refuse(slot, "its factory returned no object");
    slot.instance->load(*slot.host);
    slot.host->close_registration();
  } catch (...) {
    return refuse(slot, "load() failed: " + describe_exception(std::current_exception()));
  }
  slot.report.state = PluginState::kLoaded;
  logger_->info("plugin {} {} loaded from {}", slot.report.id, slot.report.version, file.string());
}

void PluginManager::start_all() {
  if (!services_.store) throw std::logic_error("start_all needs a store");
  for (auto& slot_ptr : slots_) {
    Slot& slot = *slot_ptr;
    if (slot.report.state != PluginState::kLoaded) continue;
    try {
      slot.host->check_conflicts();
    } catch (const std::exception& e) {
      refuse(slot, e.what());
      continue;
    }
    const std::string ns = "plugin:" + slot.report.id;
    try {
      services_.store->migrate(ns, slot.host->migrations());
      slot.report.schema_version = services_.store->schema_version(ns);
    } catch (const std::exception& e) {
      refuse(slot, std::string("migration failed: ") + e.what());
      continue;
    }
    try {
      slot.instance->start();
    } catch (...) {
      refuse(slot, "start() failed: " + describe_exception(std::current_exception()));
      continue;
    }
    slot.host->commit();
    slot.report.state = PluginState::kStarted;
    logger_->info("plugin {} {} started", slot.report.id, slot.report.version);
    services_.events.publish({"plugin.started", {{"plugin", slot.report.id}}, {}, "host"});
  }
}

void PluginManager::stop_all() {
  for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) {
    Slot& slot = **it;
    if (slot.report.state != PluginState::kStarted) continue;
    try {
      slot.instance->stop();
    } catch (...) {
      logger_->error("plugin {}: stop() threw: {}", slot.report.id,
                     describe_exception(std::current_exception()));
    }
    slot.report.state = PluginState::kStopped;
    logger_->info("plugin {} stopped", slot.report.id);
  }
}

std::vector<PluginReport> PluginManager::reports() const {
  std::vector<PluginReport> reports;
  for (const auto& slot : slots_) {
    PluginReport report = slot->report;
    if (slot->host) {
      const auto& summary = slot->host->summary();
      report.routes = summary.routes;
      report.subscriptions = summary.subscriptions;
      report.hooks = summary.hooks;
      report.connectors = summary.connectors;
      report.jobs = summary.jobs;
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace kim::plugins
