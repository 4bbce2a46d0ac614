#include "plugins/plugin_manager.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <regex>
#include <set>

#include <sqlite3.h>

#include <boost/dll/shared_library.hpp>

#include "config/json_schema.hpp"
#include "kim/sdk/json.hpp"
#include "kim/sdk/plugin.hpp"
#include "log/logging.hpp"
#include "plugins/plugin_file.hpp"
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

nlohmann::json to_json(const PluginReport& report, bool full) {
  nlohmann::json json = {{"id", report.id},
                         {"file", full ? report.file.string() : report.file.filename().string()},
                         {"version", report.version},
                         {"sdk_version", report.sdk_version},
                         {"description", report.description},
                         {"enabled", report.enabled},
                         {"state", to_string(report.state)},
                         {"routes", report.routes},
                         {"subscriptions", report.subscriptions},
                         {"hooks", report.hooks},
                         {"connectors", report.connectors},
                         {"jobs", report.jobs},
                         {"supervision_rules", report.supervision_rules},
                         {"referral_routers", report.referral_routers},
                         {"partners", report.partners},
                         {"schema_version", report.schema_version}};
  if (full && !report.reason.empty()) json["reason"] = report.reason;
  return json;
}

// Member order matters: the library is declared first so it is destroyed last, after every
// object that came out of it.
struct PluginManager::Slot {
  dll::shared_library library;
  PluginReport report;
  std::unique_ptr<PluginHostImpl> host;
  std::unique_ptr<sdk::Plugin> instance;
  // What load() registered, kept when the plugin is refused later: whether its absence may hide
  // a supervision rule.
  bool loaded = false;
  int supervision_rules = 0;
  int personal_data = 0;
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

bool valid_id(const std::string& id) {
  static const std::regex kId("[a-z][a-z0-9-]{0,62}");
  return std::regex_match(id, kId);
}

// What the host will print of a hostile file: no control characters (escape sequences).
bool printable(const std::string& text, bool multiline) {
  return std::none_of(text.begin(), text.end(), [multiline](char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (multiline && (c == '\n' || c == '\r' || c == '\t')) return false;
    return byte < 0x20 || byte == 0x7f;
  });
}

// Checks done on the metadata note; empty when the plugin may be loaded.
std::string check_metadata(const FileMetadata& meta) {
  const std::string host_abi = std::to_string(KIM_SDK_ABI_VERSION);
  if (meta.abi_version != host_abi) {
    const std::string abi = meta.abi_version.size() <= 10 && printable(meta.abi_version, false)
                                ? meta.abi_version
                                : "?";
    return "built for SDK ABI " + abi + ", this host has ABI " + host_abi +
           ": rebuild the plugin against KIM SDK " + KIM_SDK_VERSION_STRING;
  }
  if (!meta.complete) return "its metadata note has fields missing";
  if (!valid_id(meta.id)) {
    return "its plugin id must match [a-z][a-z0-9-]{0,62}";
  }
  for (const auto* field : {&meta.version, &meta.sdk_version, &meta.build_key}) {
    if (field->empty() || field->size() > 200 || !printable(*field, false)) {
      return "its metadata has an empty, overlong or unprintable version or build key";
    }
  }
  if (meta.description.size() > 500 || !printable(meta.description, false) ||
      !printable(meta.config_schema, true)) {
    return "its metadata has an overlong or unprintable description or config schema";
  }
  if (meta.build_key != KIM_SDK_BUILD_KEY) {
    return "built with \"" + meta.build_key + "\", this host needs \"" + KIM_SDK_BUILD_KEY +
           "\": rebuild with the same compiler, standard library and library versions";
  }
  SemVer plugin = parse_version(meta.sdk_version.c_str());
  SemVer host = parse_version(KIM_SDK_VERSION_STRING);
  if (plugin.major != host.major || plugin.minor > host.minor) {
    return "built against KIM SDK " + meta.sdk_version + ", this host has SDK " +
           KIM_SDK_VERSION_STRING + " (needs the same major and a minor not newer)";
  }
  return {};
}

// Closes a file descriptor on every way out.
struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

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
  for (const auto& directory : directories_) {
    std::error_code ec;
    if (!std::filesystem::is_directory(directory, ec)) {
      logger_->warn("plugin folder {} does not exist; skipped", directory.string());
      continue;
    }
    // Every plugin file of an untrusted folder is refused, and named, so that `kim plugins
    // list` says why.
    const std::string folder_problem = folder_trust_problem(directory, ::geteuid());
    if (!folder_problem.empty()) logger_->error("{}: its plugins are refused", folder_problem);
    std::vector<std::filesystem::path> found;
    for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
      if (entry.path().extension() == ".so") found.push_back(entry.path());
    }
    std::sort(found.begin(), found.end());
    for (const auto& file : found)
      load_file(file, folder_problem);
  }

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

void PluginManager::load_file(const std::filesystem::path& file,
                              const std::string& folder_problem) {
  auto slot_owner = std::make_unique<Slot>();
  Slot& slot = *slot_owner;
  slots_.push_back(std::move(slot_owner));
  slot.report.file = file;
  slot.report.id = file.stem().string();

  // Symbolic links are refused rather than followed: the file that is checked must be the file
  // in the folder (a link could point anywhere, and be repointed after the check).
  struct stat link_info;
  if (::lstat(file.c_str(), &link_info) != 0) return refuse(slot, std::strerror(errno));
  if (S_ISLNK(link_info.st_mode)) {
    return refuse(slot,
                  "a symbolic link: plugin files must be regular files in the plugin folder "
                  "(copy the file there instead)");
  }
  // The checks and the metadata are taken from this one open file (O_NOFOLLOW: no link swapped
  // in after lstat).
  FileDescriptor file_fd{::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)};
  if (file_fd.fd < 0) return refuse(slot, std::string("cannot open: ") + std::strerror(errno));
  struct stat info;
  if (::fstat(file_fd.fd, &info) != 0) return refuse(slot, std::strerror(errno));

  // The metadata is parsed (never executed) first, to name the plugin in any refusal.
  auto read = S_ISREG(info.st_mode) ? read_metadata_fd(file_fd.fd) : MetadataRead{};
  if (read.metadata && valid_id(read.metadata->id)) slot.report.id = read.metadata->id;
  // Said for refused plugins too: "enabled, refused" is what an operator must act on.
  auto setting = config_.settings.find(slot.report.id);
  slot.report.enabled = setting != config_.settings.end() && setting->second.enabled;
  if (!folder_problem.empty()) return refuse(slot, folder_problem);
  if (auto problem = file_trust_problem(info, ::geteuid()); !problem.empty()) {
    return refuse(slot, problem);
  }
  if (!read.metadata) return refuse(slot, read.problem);
  const FileMetadata& meta = *read.metadata;
  if (auto problem = check_metadata(meta); !problem.empty()) return refuse(slot, problem);
  slot.report.version = meta.version;
  slot.report.sdk_version = meta.sdk_version;
  slot.report.description = meta.description;
  for (const auto& other : slots_) {
    if (other.get() != &slot && other->report.id == slot.report.id &&
        other->report.state != PluginState::kRefused) {
      return refuse(slot, "another file already provides plugin id \"" + slot.report.id +
                              "\": " + other->report.file.string());
    }
  }

  // Only enabled plugins are ever loaded: the library's code (static constructors included)
  // runs for nothing else.
  if (!slot.report.enabled) {
    slot.report.state = PluginState::kDisabled;
    logger_->info("plugin {} {} found, not enabled", slot.report.id, slot.report.version);
    return;
  }

  // Config before objects: validate the block against the schema the plugin exported.
  nlohmann::json plugin_config = setting->second.config;
  nlohmann::json schema = {{"type", "object"}, {"properties", nlohmann::json::object()}};
  if (!meta.config_schema.empty()) {
    // Bounded like every JSON from outside: the schema checks below recurse on it.
    auto parsed = sdk::parse_json(meta.config_schema, sdk::kDefaultMaxJsonDepth);
    if (!parsed) {
      return refuse(slot, "its config schema is not usable JSON: " +
                              (parsed.detail.empty() ? parsed.message : parsed.detail));
    }
    schema = std::move(parsed.value);
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

  // Loaded by its path: only root or the service user can change the file or its folder (checked
  // above) between the checks and here. (Loading through /proc/self/fd/N would pin the inode, but
  // the loader takes a name it loaded before for the same library.)
  std::error_code ec;
  slot.library.load(file, dll::load_mode::rtld_now | dll::load_mode::rtld_local, ec);
  if (ec) {
    const char* detail = ::dlerror();
    // An undefined symbol usually means the plugin was built against other library versions or
    // flags than the host, which the build key in its metadata should have caught.
    return refuse(slot, std::string("not a loadable library: ") +
                            (detail ? detail : ec.message().c_str()) +
                            " (was it built with the same compiler, standard library and library "
                            "versions as this kim? compare `kim version` with its build key)");
  }
  if (!slot.library.has("kim_plugin_create")) {
    return refuse(slot, "not a KIM plugin (no kim_plugin_create; was it built with KIM_PLUGIN?)");
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
  slot.loaded = true;
  slot.supervision_rules = slot.host->summary().supervision_rules;
  slot.personal_data = slot.host->summary().personal_data;
  logger_->info("plugin {} {} loaded from {}", slot.report.id, slot.report.version, file.string());
}

void PluginManager::start_all() {
  if (!services_.store) throw std::logic_error("start_all needs a store");
  std::vector<std::string> ids;
  for (const auto& slot : slots_)
    ids.push_back(slot->report.id);
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
    slot.host->set_table_scope(table_scope(slot.report.id, ids));
    try {
      services_.store->migrate(ns, slot.host->migrations(), &slot.host->authorizer());
      slot.report.schema_version = services_.store->schema_version(ns);
    } catch (const std::exception& e) {
      refuse(slot, std::string("migration failed: ") + e.what());
      continue;
    }
    try {
      slot.host->add_staged_partners();
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

std::vector<std::string> PluginManager::absent_holders(int Slot::*registered) const {
  std::vector<std::string> ids;
  for (const auto& slot : slots_) {
    if (!slot->report.enabled || slot->report.state == PluginState::kStarted) continue;
    if (!slot->loaded || (*slot).*registered > 0) ids.push_back(slot->report.id);
  }
  return ids;
}

std::vector<std::string> PluginManager::absent_rule_holders() const {
  return absent_holders(&Slot::supervision_rules);
}

std::vector<std::string> PluginManager::absent_personal_data_holders() const {
  return absent_holders(&Slot::personal_data);
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
      report.partners = summary.partners;
      report.supervision_rules = summary.supervision_rules;
      report.referral_routers = summary.referral_routers;
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

std::vector<std::pair<std::string, sdk::ConnectorType>> PluginManager::inspected_connector_types()
    const {
  std::vector<std::pair<std::string, sdk::ConnectorType>> types;
  for (const auto& slot : slots_) {
    if (slot->report.state != PluginState::kLoaded || !slot->host) continue;
    for (const auto& [name, type] : slot->host->staged_connectors()) {
      types.emplace_back(slot->report.id, type);
    }
  }
  return types;
}

void PluginManager::check_migrations(const std::filesystem::path& database) {
  std::optional<store::Connection> db;
  std::error_code ec;
  if (std::filesystem::exists(database, ec)) {
    db.emplace(store::Connection::open(database, SQLITE_OPEN_READONLY));
  }
  for (auto& slot : slots_) {
    if (slot->report.state != PluginState::kLoaded || !slot->host) continue;
    const std::string ns = "plugin:" + slot->report.id;
    auto problem = store::numbering_problem(ns, slot->host->migrations());
    if (problem.empty() && db) {
      problem = store::migration_problem(*db, ns, slot->host->migrations(), database);
    }
    if (!problem.empty()) refuse(*slot, "its migrations would be refused: " + problem);
  }
}

}  // namespace kim::plugins
