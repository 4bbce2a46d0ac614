#include "plugins/plugin_host.hpp"

#include <regex>

#include <sqlite3.h>
#include <stdexcept>

namespace kim::plugins {

namespace {

const std::regex& name_pattern() {
  static const std::regex pattern("[a-z][a-z0-9_.-]{0,63}");
  return pattern;
}

class StoreTransaction final : public sdk::Transaction {
 public:
  explicit StoreTransaction(store::Connection& db) : db_(db) {}
  nlohmann::json query(std::string_view sql, const std::vector<sdk::SqlValue>& params) override {
    return db_.query(sql, params);
  }
  std::int64_t execute(std::string_view sql, const std::vector<sdk::SqlValue>& params) override {
    return db_.execute(sql, params).changes;
  }
  std::int64_t last_insert_rowid() override { return sqlite3_last_insert_rowid(db_.raw()); }

 private:
  store::Connection& db_;
};

class StoreDatabase final : public sdk::Database {
 public:
  explicit StoreDatabase(store::Store& store) : store_(store) {}
  nlohmann::json query(std::string_view sql, const std::vector<sdk::SqlValue>& params) override {
    return store_.read([&](store::Connection& db) { return db.query(sql, params); });
  }
  std::int64_t execute(std::string_view sql, const std::vector<sdk::SqlValue>& params) override {
    return store_.write([&](store::Connection& db) { return db.execute(sql, params).changes; });
  }
  void transaction(const std::function<void(sdk::Transaction&)>& work) override {
    store_.write([&](store::Connection& db) {
      StoreTransaction transaction(db);
      work(transaction);
    });
  }

 private:
  store::Store& store_;
};

}  // namespace

PluginHostImpl::PluginHostImpl(std::string id, nlohmann::json config, HostServices& services,
                               std::shared_ptr<spdlog::logger> logger)
    : id_(std::move(id)),
      config_(std::move(config)),
      services_(services),
      logger_(std::move(logger)) {}

PluginHostImpl::~PluginHostImpl() = default;

void PluginHostImpl::require_registration_open(const char* call) const {
  if (!registration_open_) {
    throw std::logic_error(std::string(call) + " is only allowed during load()");
  }
}

void PluginHostImpl::add_route(sdk::HttpMethod method, std::string path, sdk::RouteHandler handler,
                               sdk::RouteOptions options) {
  require_registration_open("add_route");
  if (path.empty() || path.front() != '/') {
    throw std::invalid_argument("route path \"" + path + "\" must start with '/'");
  }
  std::string pattern = "/api/v1/plugins/" + id_ + (path == "/" ? "" : path);
  summary_.routes.push_back(std::string(sdk::to_string(method)) + " " + pattern);
  staged_routes_.add({method, std::move(pattern), std::move(handler), std::move(options), id_});
}

void PluginHostImpl::subscribe(std::string type, sdk::EventHandler handler) {
  require_registration_open("subscribe");
  if (type.empty()) throw std::invalid_argument("event type must not be empty");
  summary_.subscriptions.push_back(type);
  staged_subscriptions_.emplace_back(std::move(type), std::move(handler));
}

void PluginHostImpl::add_hook(std::string type, sdk::HookHandler hook) {
  require_registration_open("add_hook");
  if (type.empty()) throw std::invalid_argument("hook event type must not be empty");
  summary_.hooks.push_back(type);
  staged_hooks_.emplace_back(std::move(type), std::move(hook));
}

void PluginHostImpl::publish(sdk::Event event) {
  if (event.type.rfind(id_ + ".", 0) != 0) {
    throw std::invalid_argument("plugin " + id_ + " may only publish events named \"" + id_ +
                                ".…\", not \"" + event.type + "\"");
  }
  event.source = id_;
  services_.events.publish(event);
}

void PluginHostImpl::register_connector(std::string type, sdk::ConnectorFactory factory) {
  require_registration_open("register_connector");
  if (!std::regex_match(type, name_pattern())) {
    throw std::invalid_argument("connector type \"" + type +
                                "\" must match [a-z][a-z0-9_.-]{0,63}");
  }
  for (const auto& [name, unused] : staged_connectors_) {
    if (name == type) throw std::invalid_argument("connector \"" + type + "\" registered twice");
  }
  summary_.connectors.push_back(type);
  staged_connectors_.emplace_back(std::move(type), std::move(factory));
}

void PluginHostImpl::schedule(std::string name, std::chrono::milliseconds interval,
                              sdk::ScheduledJob job) {
  require_registration_open("schedule");
  if (!std::regex_match(name, name_pattern())) {
    throw std::invalid_argument("job name \"" + name + "\" must match [a-z][a-z0-9_.-]{0,63}");
  }
  if (interval < std::chrono::milliseconds(10)) {
    throw std::invalid_argument("job \"" + name + "\": interval must be at least 10 ms");
  }
  for (const auto& staged : staged_jobs_) {
    if (staged.name == name) throw std::invalid_argument("job \"" + name + "\" scheduled twice");
  }
  summary_.jobs.push_back(id_ + "." + name);
  staged_jobs_.push_back({std::move(name), interval, std::move(job)});
}

void PluginHostImpl::add_migration(int version, std::string description, std::string sql) {
  require_registration_open("add_migration");
  migrations_.push_back({version, std::move(description), std::move(sql)});
}

sdk::Database& PluginHostImpl::database() {
  if (!services_.store) {
    throw std::logic_error("the database is not available while plugins are only inspected");
  }
  if (!database_) database_ = std::make_unique<StoreDatabase>(*services_.store);
  return *database_;
}

void PluginHostImpl::check_conflicts() const {
  for (const auto& [type, factory] : staged_connectors_) {
    if (auto owner = services_.connectors.owner_of(type)) {
      throw std::invalid_argument("connector type \"" + type + "\" is already registered by " +
                                  *owner);
    }
  }
}

void PluginHostImpl::commit() {
  for (const auto& route : staged_routes_.routes())
    services_.router.add(route);
  for (auto& [type, handler] : staged_subscriptions_) {
    services_.events.subscribe(type, std::move(handler), id_);
  }
  for (auto& [type, hook] : staged_hooks_)
    services_.events.add_hook(type, std::move(hook), id_);
  for (auto& [type, factory] : staged_connectors_) {
    services_.connectors.add(type, std::move(factory), id_);
  }
  for (auto& job : staged_jobs_) {
    services_.scheduler.add(id_, job.name, job.interval, std::move(job.job));
  }
  clear_staged();
}

void PluginHostImpl::discard() {
  clear_staged();
  summary_ = {};
}

void PluginHostImpl::clear_staged() {
  staged_routes_.clear();
  staged_subscriptions_.clear();
  staged_hooks_.clear();
  staged_connectors_.clear();
  staged_jobs_.clear();
}

}  // namespace kim::plugins
