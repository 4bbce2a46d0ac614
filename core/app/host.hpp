// The kim host: owns the store, the registries, the plugins and the HTTP request pipeline
// (routing, authentication, role checks). The CLI in main.cpp drives it.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>

#include <spdlog/logger.h>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "audit/security_log.hpp"
#include "auth/access.hpp"
#include "cases/service.hpp"
#include "chains/chains.hpp"
#include "config/host_config.hpp"
#include "connectors/inbound.hpp"
#include "connectors/instances.hpp"
#include "consent/consent.hpp"
#include "events/event_bus.hpp"
#include "http/api_docs.hpp"
#include "http/auth_throttle.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "jobs/scheduler.hpp"
#include "kim/sdk/connector.hpp"
#include "orgs/organisations.hpp"
#include "outbox/dispatcher.hpp"
#include "outbox/outbox.hpp"
#include "partners/partners.hpp"
#include "plugins/plugin_manager.hpp"
#include "plugins/registry.hpp"
#include "referrals/referrals.hpp"
#include "reports/funding.hpp"
#include "reports/reports.hpp"
#include "retention/retention.hpp"
#include "sessions/sessions.hpp"
#include "steering/steering.hpp"
#include "store/store.hpp"

namespace kim::app {

// The version of the kim binary (from CMake's project version).
const char* host_version();

// Where plugins are looked for when the config names no folder: <prefix>/lib/kim/plugins, with
// <prefix> the folder above the one holding the kim binary (build tree and install alike).
std::filesystem::path default_plugin_directory();

// Creates the data folder (mode 0700) if needed and opens and migrates the database.
std::unique_ptr<store::Store> open_store(const config::HostConfig& config);

class Host {
 public:
  explicit Host(config::HostConfig config);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // Serve mode: opens the database, creates the bootstrap admin token on an empty database,
  // loads and starts the plugins and registers the host's own routes.
  void open();
  // Inspect mode (`kim plugins list`): checks and loads plugins without database or start().
  std::vector<plugins::PluginReport> inspect_plugins();
  // Inspect mode for `kim config check`: every enabled plugin that `serve` would refuse (with
  // its reason) and every problem of the connector instances against the host's types and those
  // of the enabled plugins (loaded, not started).
  std::vector<std::string> check_plugins();

  // `kim retention run`: opens the database, starts the enabled plugins (so their declared
  // personal columns take part) without serving, delivering or scheduling anything, runs the
  // retention job once as of `env`'s date, stops the plugins and closes the database.
  retention::RunReport run_retention(domain::Env& env);

  // Serves HTTP until SIGINT/SIGTERM, then stops plugins and closes the database.
  void serve();

  // The request pipeline; public for in-process tests.
  sdk::HttpResponse handle(sdk::HttpRequest& request);

  http::Router& router() { return *router_; }
  const http::ApiDocs& docs() const { return *docs_; }
  store::Store& store() { return *store_; }
  connectors::Instances& connector_instances() { return *instances_; }

 private:
  // The server's side of handle(): its durable writes deferred (store::DeferredWrites), the
  // answer sent once they committed.
  void answer(sdk::HttpRequest& request, const http::Respond& respond);
  // answer() for a route in the writer's batch: the writer runs the whole request inside its
  // batch and the answer leaves after the commit (after the change's events, published on
  // after_commit_pool_), with no thread blocked on the commit.
  void answer_in_writer_batch(sdk::HttpRequest& request, const http::Respond& respond);
  // After the headers, before the body (io thread): authenticates, so a request without a valid
  // token never gets its body read; throttles addresses that send unknown tokens (429).
  std::optional<sdk::HttpResponse> admit(sdk::HttpRequest& request, std::string_view peer);
  // Reads of the host's own routes run on the io thread, the writes of most of its domain modules
  // in the writer's batch; other writes and plugins' routes on a worker, where they may wait.
  http::Placement placement(const sdk::HttpRequest& request) const;
  // Re-decides stored supervision with the running plugins' rules, or suspends supervision
  // decisions while a plugin that may hold a rule is enabled but not running.
  void decide_supervision();
  void add_host_routes();
  sdk::HttpResponse health();
  // The answer of a request that failed inside kim: 500 internal_error, or 503 writes_refused once
  // a failed disk sync made the store refuse every write (until restart), so that a client and
  // its operator learn that waiting will not help but a restart after checking the disk will.
  sdk::HttpResponse failure_answer(const std::string& request_id) const;
  // The refused accesses noted while handling `request`, into the security log.
  void flush_refusals(const sdk::HttpRequest& request);
  sdk::HttpResponse list_plugins(const sdk::HttpRequest& request);
  sdk::HttpResponse list_jobs();
  sdk::HttpResponse run_job(const sdk::HttpRequest& request);
  plugins::HostServices services();

  config::HostConfig config_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<auth::AccessDirectory> access_;
  std::unique_ptr<sessions::SessionService> sessions_;  // the console's cookie sign-in
  std::unique_ptr<audit::SecurityLog> security_;
  std::unique_ptr<orgs::AdminService> admin_;
  std::unique_ptr<http::AuthThrottle> throttle_;
  std::unique_ptr<http::ApiDocs> docs_;
  std::unique_ptr<cases::CaseService> cases_;
  std::unique_ptr<partners::PartnerService> partners_;
  std::unique_ptr<referrals::ReferralService> referrals_;
  std::unique_ptr<steering::SteeringService> steering_;
  std::unique_ptr<chains::ChainService> chains_;
  std::unique_ptr<consent::ConsentService> consent_;
  std::unique_ptr<reports::ReportService> reports_;
  std::unique_ptr<reports::FundingService> funding_;
  // Plugins' declared personal columns (cleared before the plugin libraries go) and the
  // retention job, erasure requests and legal holds.
  std::unique_ptr<retention::PersonalDataRegistry> personal_data_ =
      std::make_unique<retention::PersonalDataRegistry>();
  std::unique_ptr<retention::RetentionService> retention_;
  // Declared before the registries: destroyed after them, so plugin libraries outlive every
  // std::function that points into them.
  std::unique_ptr<plugins::PluginManager> plugins_;
  // "/api/v1/<id>" of each plugin whose routes also answer there; fixed once plugins started.
  std::vector<std::string> plugin_short_mounts_;
  std::unique_ptr<http::Router> router_;
  std::unique_ptr<events::EventBus> events_;
  std::unique_ptr<plugins::Registry<sdk::ConnectorType>> connectors_;
  std::unique_ptr<jobs::Scheduler> scheduler_;
  // Built after the plugins started (their types are live then); destroyed first.
  std::unique_ptr<connectors::Instances> instances_;
  // Partners' reports (endpoint and collection jobs); refers to the instances.
  std::unique_ptr<connectors::Inbound> inbound_;
  std::unique_ptr<outbox::OutboxService> outbox_;
  // Delivers through instances_: declared after it, so destroyed (stopped) before it.
  std::unique_ptr<outbox::Dispatcher> dispatcher_;
  // While serving: publishes the events of requests run in the writer's batch, after their
  // commit (plugins' subscribers may write, which the writer thread cannot wait for).
  boost::asio::thread_pool* after_commit_pool_ = nullptr;
  // Requests in the writer's batch not yet answered: serve() waits for them before it lets the
  // pool go (a shutdown that timed out may leave some queued in the store).
  std::atomic<int> in_writer_batch_{0};
};

}  // namespace kim::app
