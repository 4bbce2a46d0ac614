// The PluginHost a plugin talks to. Registrations made during load() are staged here and reach
// the host's registries only through commit(), after load() and start() succeeded, so a refused
// plugin leaves nothing behind.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kim/sdk/host.hpp"
#include "plugins/plugin_manager.hpp"

namespace kim::plugins {

// The tables a plugin may use: names starting with its prefix "<id>_" (dashes as underscores),
// except core's own and those under the longer prefix of another plugin ("a-b_" is not "a"'s).
struct TableScope {
  std::string prefix;
  std::vector<std::string> foreign_prefixes;
};
TableScope table_scope(const std::string& id, const std::vector<std::string>& all_ids);
// Keeps a plugin's statements to its scope: read and write its own tables; create, alter and drop
// its own tables, indexes, views and triggers (triggers only on its own tables). Everything else
// is denied: core tables, sqlite_* tables, PRAGMA, ATTACH/DETACH, BEGIN/COMMIT/SAVEPOINT, temp
// objects, virtual tables, load_extension().
store::Connection::Authorizer plugin_authorizer(TableScope scope);

class PluginHostImpl final : public sdk::PluginHost {
 public:
  PluginHostImpl(std::string id, nlohmann::json config, HostServices& services,
                 std::shared_ptr<spdlog::logger> logger);
  ~PluginHostImpl() override;

  const std::string& plugin_id() const override { return id_; }
  sdk::HostInfo host_info() const override { return services_.info; }
  std::shared_ptr<spdlog::logger> logger() override { return logger_; }
  const nlohmann::json& config() const override { return config_; }
  void add_route(sdk::HttpMethod method, std::string path, sdk::RouteHandler handler,
                 sdk::RouteOptions options) override;
  void subscribe(std::string type, sdk::EventHandler handler) override;
  void add_hook(std::string type, sdk::HookHandler hook) override;
  void publish(sdk::Event event) override;
  void register_connector(sdk::ConnectorType type) override;
  const std::vector<std::pair<std::string, sdk::ConnectorType>>& staged_connectors() const {
    return staged_connectors_;
  }
  void schedule(std::string name, std::chrono::milliseconds interval,
                sdk::ScheduledJob job) override;
  void add_migration(int version, std::string description, std::string sql) override;
  sdk::Database& database() override;
  sdk::HttpResponse read_api(const sdk::HttpRequest& caller, const std::string& path,
                             const std::map<std::string, std::string>& query) override;
  void add_supervision_rule(sdk::SupervisionRule rule) override;
  void add_referral_router(sdk::ReferralRouter router) override;
  int seed_partners(const nlohmann::json& partners) override;
  void declare_personal_data(sdk::PersonalData data, sdk::PersonalDataHandler handler) override;

  // Which tables database() and the migrations may touch; set before start().
  void set_table_scope(TableScope scope);
  const store::Connection::Authorizer& authorizer() const { return authorizer_; }

  // Ends the registration window (after load()).
  void close_registration() { registration_open_ = false; }
  const std::vector<store::Migration>& migrations() const { return migrations_; }
  // Throws std::invalid_argument when a staged registration collides with a live one.
  void check_conflicts() const;
  // Adds the partners seed_partners() staged in load(); before start(), so a plugin's start()
  // finds them. Throws when the store refuses them.
  void add_staged_partners();
  // Moves staged registrations into the host registries. Call after check_conflicts().
  void commit();
  // Drops staged registrations (they may hold code of a refused plugin).
  void discard();

  // What the plugin registered, for reports: "GET /api/v1/plugins/x/y", event types, names,
  // the slugs of the partners it seeds and how many supervision rules and referral routers.
  struct Summary {
    std::vector<std::string> routes, subscriptions, hooks, connectors, jobs, partners;
    int supervision_rules = 0;
    int referral_routers = 0;
    int personal_data = 0;  // declarations of personal columns (declare_personal_data)
  };
  const Summary& summary() const { return summary_; }

 private:
  void require_registration_open(const char* call) const;
  void clear_staged();

  struct StagedJob {
    std::string name;
    std::chrono::milliseconds interval;
    sdk::ScheduledJob job;
  };
  std::string id_;
  nlohmann::json config_;
  HostServices& services_;
  std::shared_ptr<spdlog::logger> logger_;
  bool registration_open_ = true;
  http::Router staged_routes_;
  std::vector<std::pair<std::string, sdk::EventHandler>> staged_subscriptions_;
  std::vector<std::pair<std::string, sdk::HookHandler>> staged_hooks_;
  std::vector<std::pair<std::string, sdk::ConnectorType>> staged_connectors_;
  std::vector<sdk::SupervisionRule> staged_supervision_;
  std::vector<sdk::ReferralRouter> staged_routers_;
  std::vector<nlohmann::json>
      staged_partners_;  // seed_partners() in load(): checked, added at commit
  std::vector<std::pair<sdk::PersonalData, sdk::PersonalDataHandler>> staged_personal_data_;
  std::vector<StagedJob> staged_jobs_;
  std::vector<store::Migration> migrations_;
  store::Connection::Authorizer authorizer_;  // denies everything until set_table_scope()
  std::unique_ptr<sdk::Database> database_;
  Summary summary_;
};

}  // namespace kim::plugins
