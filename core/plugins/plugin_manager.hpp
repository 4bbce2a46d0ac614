// Finds plugin files, checks that they and their folders are trusted and reads their metadata
// from the file's bytes before anything is loaded, loads only enabled plugins whose config is
// valid, and runs their lifecycle. A plugin that fails anywhere is refused and reported; the
// host and the other plugins run on.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "config/host_config.hpp"
#include "events/event_bus.hpp"
#include "http/router.hpp"
#include "jobs/scheduler.hpp"
#include "kim/sdk/connector.hpp"
#include "kim/sdk/host.hpp"
#include "plugins/registry.hpp"
#include "retention/personal_data.hpp"
#include "store/store.hpp"

namespace kim::plugins {

// Where plugins put what they register. Owned by the host, which must clear these (dropping
// every std::function that points into a plugin) before the PluginManager is destroyed.
struct HostServices {
  http::Router& router;
  events::EventBus& events;
  Registry<sdk::ConnectorType>& connectors;
  jobs::Scheduler& scheduler;
  store::Store* store = nullptr;  // null when only inspecting (`kim plugins list`)
  sdk::HostInfo info;
  // The host's request pipeline (Host::handle) for PluginHost::read_api; empty when inspecting.
  std::function<sdk::HttpResponse(sdk::HttpRequest&)> handle;
  // Where declare_personal_data() registrations go; null when inspecting.
  retention::PersonalDataRegistry* personal_data = nullptr;
};

enum class PluginState {
  kDisabled,  // found, but not enabled in the config: no object created
  kMissing,   // enabled in the config, but no file declares this id
  kRefused,   // failed a check, load(), a migration or start(); see reason
  kLoaded,    // load() succeeded (inspection stops here)
  kStarted,   // running
  kStopped    // stop() was called at shutdown
};
std::string_view to_string(PluginState state);

struct PluginReport {
  std::string id;  // from the metadata; the file name when the file has none
  std::filesystem::path file;
  std::string version;
  std::string sdk_version;
  std::string description;
  bool enabled = false;
  PluginState state = PluginState::kDisabled;
  std::string reason;  // why it was refused or is missing
  std::vector<std::string> routes;
  std::vector<std::string> subscriptions;
  std::vector<std::string> hooks;
  std::vector<std::string> connectors;
  std::vector<std::string> jobs;
  std::vector<std::string> partners;  // slugs of the partners it seeds
  int supervision_rules = 0;
  int referral_routers = 0;
  int schema_version = 0;
};
// Everything a report holds, as `GET /api/v1/plugins` and `kim plugins list --json` show it.
// `full` adds where the file lies and why it was refused (admins and the command line only:
// reasons name folders, users and loader errors).
nlohmann::json to_json(const PluginReport& report, bool full);

class PluginManager {
 public:
  // `directories`: where to look, in order. Files are "*.so", searched non-recursively.
  PluginManager(config::PluginsConfig config, std::vector<std::filesystem::path> directories,
                HostServices services, std::shared_ptr<spdlog::logger> logger);
  ~PluginManager();
  PluginManager(const PluginManager&) = delete;
  PluginManager& operator=(const PluginManager&) = delete;

  // Discovers files, checks metadata, validates config, creates each enabled plugin and calls
  // load().
  void load_all();
  // Inspection: refuses each loaded plugin whose migrations `start_all` would refuse against the
  // database at `database` (numbering, a migration changed after it ran, records newer than the
  // plugin). Reads only; nothing when the file does not exist yet.
  void check_migrations(const std::filesystem::path& database);
  // For each loaded plugin: applies its migrations, calls start(), then makes its registrations
  // live. Needs a store.
  void start_all();
  // stop() in reverse start order. Registrations stay until the host clears its registries.
  void stop_all();

  std::vector<PluginReport> reports() const;
  // Enabled plugins that are not running and may hold a supervision rule: refused or missing
  // before their load() told (or it registered one). After start_all().
  std::vector<std::string> absent_rule_holders() const;
  // The same for personal data declarations: anonymising without such a plugin would leave its
  // columns behind for good (the case counts as done).
  std::vector<std::string> absent_personal_data_holders() const;

  // Connector types registered by plugins that loaded but were not started (inspection, `kim
  // config check`): their schemas let a config be checked without starting anything.
  std::vector<std::pair<std::string, sdk::ConnectorType>> inspected_connector_types() const;

 private:
  struct Slot;
  // `folder_problem`: why the file's folder is not trusted, empty when it is.
  void load_file(const std::filesystem::path& file, const std::string& folder_problem);
  void refuse(Slot& slot, const std::string& reason);
  // Enabled plugins not running that registered something counted by `registered`, or whose
  // load() never told.
  std::vector<std::string> absent_holders(int Slot::*registered) const;

  config::PluginsConfig config_;
  std::vector<std::filesystem::path> directories_;
  HostServices services_;
  std::shared_ptr<spdlog::logger> logger_;
  std::vector<std::unique_ptr<Slot>> slots_;  // in load order
};

}  // namespace kim::plugins
