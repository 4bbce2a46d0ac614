// What the host offers a plugin. One PluginHost per plugin; it knows the plugin's id and config.
//
// Contract:
// - Registrations (add_route, subscribe, register_connector, schedule, add_migration) are made in
//   Plugin::load(). They take effect only when load() and start() both succeeded; a plugin that
//   fails leaves nothing behind. Calling them later throws std::logic_error.
// - database() and publish() work from Plugin::start() on (the plugin's migrations have run).
// - The PluginHost outlives the plugin object; keep the reference.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include "kim/sdk/connector.hpp"
#include "kim/sdk/database.hpp"
#include "kim/sdk/events.hpp"
#include "kim/sdk/http.hpp"
#include "kim/sdk/personal_data.hpp"
#include "kim/sdk/rules.hpp"

namespace kim::sdk {

using RouteHandler = std::function<HttpResponse(const HttpRequest&)>;
using ScheduledJob = std::function<void()>;

struct HostInfo {
  std::string host_version;     // version of the kim binary
  std::string sdk_version;      // SDK version the host was built with
  std::string deployment_name;  // e.g. "Kreis Steinfurt"
};

class PluginHost {
 public:
  virtual ~PluginHost() = default;

  virtual const std::string& plugin_id() const = 0;
  virtual HostInfo host_info() const = 0;

  // Logger named "plugin.<id>", level and format from the host config. Never log personal data.
  virtual std::shared_ptr<spdlog::logger> logger() = 0;

  // The plugin's config block, validated against the schema the plugin exported, with defaults
  // filled in. An invalid block refuses the plugin before load() is called.
  virtual const nlohmann::json& config() const = 0;

  // Serves `method` on /api/v1/plugins/<id><path>. `path` starts with '/' and may hold `{name}`
  // segments, e.g. "/greetings/{name}", available as request.path_params["name"]. The same method
  // and path twice is an error. Handlers run on the host's worker threads, concurrently.
  virtual void add_route(HttpMethod method, std::string path, RouteHandler handler,
                         RouteOptions options = {}) = 0;

  // Receives events of `type` (exact name) after they are published.
  virtual void subscribe(std::string type, EventHandler handler) = 0;
  // Asked before a change of `type` commits (e.g. "case.phase_changed"); may veto it.
  virtual void add_hook(std::string type, HookHandler hook) = 0;
  // Publishes an event. Its type must begin with "<plugin id>.".
  virtual void publish(Event event) = 0;

  // Makes a connector type available to connector instances in the config ("connectors":
  // {"<instance>": {"type": "<name>", "settings": {…}}}); the settings are checked against
  // type.settings_schema before type.create is called. Names are global; a name already
  // registered by the host ("http", "file_drop") or another plugin is an error.
  virtual void register_connector(ConnectorType type) = 0;

  // Runs `job` every `interval` (first run one interval after start) on a host thread. A job that
  // throws is logged; it runs again at its next time. Runs of the same job never overlap.
  virtual void schedule(std::string name, std::chrono::milliseconds interval, ScheduledJob job) = 0;

  // The plugin's own schema changes, numbered 1, 2, 3 … and applied once each, in order, before
  // start(). Never edit a migration that shipped: add the next number.
  virtual void add_migration(int version, std::string description, std::string sql) = 0;

  virtual Database& database() = 0;

  // Core's social data, read as the caller of your route: GET `path` of the host's API (e.g.
  // "/api/v1/cases/case_…", or "/api/v1/cases" with `query`) with the caller's identity and
  // request id, through the same access policy, role checks and audit entries as if the caller
  // had asked — the answer (status and JSON body) is what the caller would get. A plugin reaches
  // core's data only this way, so it never sees more than its caller may, and every read is in
  // the audit trail under the caller's name. Only GET, only the host's own routes (not
  // /api/v1/plugins/…); a caller without a principal (a public route) gets 401. From start() on.
  virtual HttpResponse read_api(const HttpRequest& caller, const std::string& path,
                                const std::map<std::string, std::string>& query = {}) = 0;

  // Decides which coordinating office supervises a case (see kim/sdk/rules.hpp): asked when a
  // case is opened and when its person's town changes; the answer is stored on the case and
  // the access policy uses it. Made in load(), like the other registrations.
  virtual void add_supervision_rule(SupervisionRule rule) = 0;
  // Redirects a referral to another partner before it is checked (kim/sdk/rules.hpp). In load().
  virtual void add_referral_router(ReferralRouter router) = 0;

  // Adds partners to the partner network: `partners` is an array of partner objects in the form
  // of the host config's "partners" seeds, checked by the same rules (kinds, legal domains and
  // services of the catalogue, towns, contact). Idempotent: a slug already in the network is
  // left as it is (an operator's later changes are kept). Any problem throws
  // std::invalid_argument and adds nothing. Best in load(): checked at once (so `kim config
  // check` finds a bad one), added just before start(), returns 0. From start() on: added at
  // once, returns how many were added.
  virtual int seed_partners(const nlohmann::json& partners) = 0;

  // SDK 3.1: declares personal columns of one of the plugin's tables (kim/sdk/personal_data.hpp)
  // so that retention and erasure reach them; `handler` (may be empty) is called after the host
  // cleared them. In load(). Throws std::invalid_argument for names that are not identifiers, no
  // columns, or a link other than "case"/"person"; a table outside the plugin's refuses it.
  virtual void declare_personal_data(PersonalData data, PersonalDataHandler handler) = 0;
};

}  // namespace kim::sdk
