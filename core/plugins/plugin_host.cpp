#include "plugins/plugin_host.hpp"

#include <algorithm>
#include <regex>
#include <set>
#include <stdexcept>

#include <sqlite3.h>

#include "audit/audit_log.hpp"
#include "partners/partners.hpp"
#include "store/core_migrations.hpp"
#include "text/ascii.hpp"

namespace kim::plugins {

namespace {

const std::regex& name_pattern() {
  static const std::regex pattern("[a-z][a-z0-9_.-]{0,63}");
  return pattern;
}

class StoreTransaction final : public sdk::Transaction {
 public:
  StoreTransaction(store::Connection& db, const std::string& plugin_id)
      : db_(db), prefix_(plugin_id + ".") {}
  nlohmann::json query(std::string_view sql, const std::vector<sdk::SqlValue>& params) override {
    return db_.query(sql, params);
  }
  std::int64_t execute(std::string_view sql, const std::vector<sdk::SqlValue>& params) override {
    return db_.execute(sql, params).changes;
  }
  std::int64_t last_insert_rowid() override { return sqlite3_last_insert_rowid(db_.raw()); }
  void audit(const sdk::HttpRequest& caller, std::string action, std::string object_type,
             std::string object_id) override {
    if (!caller.principal) {
      throw std::invalid_argument("audit needs the caller of an authenticated route");
    }
    if (object_type.rfind(prefix_, 0) != 0 || object_type.size() == prefix_.size()) {
      throw std::invalid_argument("a plugin audits only its own object types (\"" + prefix_ +
                                  "…\"), not \"" + object_type + "\"");
    }
    if (action.empty()) throw std::invalid_argument("audit needs an action");
    entries_.push_back({audit::Actor{*caller.principal, caller.request_id},
                        {std::move(action), std::move(object_type), std::move(object_id), ""}});
  }
  // Written after the plugin's work, outside its confinement (the audit tables are core's),
  // in the same transaction.
  void write_audit() {
    for (const auto& [actor, entry] : entries_)
      audit::append_all(db_, actor, {entry});
  }

 private:
  store::Connection& db_;
  std::string prefix_;
  std::vector<std::pair<audit::Actor, audit::Entry>> entries_;
};

// Every statement runs on a fresh, confined statement of the store's shared connections: the
// confinement lasts exactly as long as the plugin's job, so core's statements never see it.
class ConfinedDatabase final : public sdk::Database {
 public:
  ConfinedDatabase(store::Store& store, const store::Connection::Authorizer& authorizer,
                   std::string plugin_id)
      : store_(store), authorizer_(authorizer), plugin_id_(std::move(plugin_id)) {}
  nlohmann::json query(std::string_view sql, const std::vector<sdk::SqlValue>& params) override {
    return store_.read([&](store::Connection& db) {
      store::Connection::Confinement confined(db, authorizer_);
      return db.query(sql, params);
    });
  }
  std::int64_t execute(std::string_view sql, const std::vector<sdk::SqlValue>& params) override {
    return store_.write([&](store::Connection& db) {
      store::Connection::Confinement confined(db, authorizer_);
      return db.execute(sql, params).changes;
    });
  }
  void transaction(const std::function<void(sdk::Transaction&)>& work) override {
    store_.write([&](store::Connection& db) {
      StoreTransaction transaction(db, plugin_id_);
      {
        store::Connection::Confinement confined(db, authorizer_);
        work(transaction);
      }
      transaction.write_audit();
    });
  }

 private:
  store::Store& store_;
  const store::Connection::Authorizer& authorizer_;
  std::string plugin_id_;
};

// Names of core's tables, indexes and triggers, from its migrations: a plugin whose prefix
// happens to begin one of them ("audit" and audit_log) still cannot reach it.
const std::set<std::string>& core_names() {
  static const std::set<std::string> names = [] {
    std::set<std::string> out{"schema_migrations"};
    static const std::regex create(
        R"(CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|VIEW|TRIGGER)\s+(?:IF\s+NOT\s+EXISTS\s+)?["`]?(\w+))",
        std::regex::icase);
    for (const auto& migration : store::core_migrations()) {
      for (std::sregex_iterator it(migration.sql.begin(), migration.sql.end(), create), end;
           it != end; ++it) {
        out.insert(text::lower((*it)[1].str()));
      }
    }
    return out;
  }();
  return names;
}

bool in_scope(const TableScope& scope, const char* name) {
  if (name == nullptr) return false;
  const std::string table = text::lower(name);
  if (table.size() <= scope.prefix.size() || table.rfind(scope.prefix, 0) != 0) return false;
  if (table.rfind("sqlite_", 0) == 0 || core_names().contains(table)) return false;
  for (const auto& foreign : scope.foreign_prefixes) {
    if (table.rfind(foreign, 0) == 0) return false;
  }
  return true;
}

bool schema_table(const char* name) {
  return name != nullptr &&
         (text::lower(name) == "sqlite_master" || text::lower(name) == "sqlite_schema");
}

std::string prefix_of(const std::string& id) {
  std::string prefix = id;
  std::replace(prefix.begin(), prefix.end(), '-', '_');
  return prefix + "_";
}

// Whether a plugin's routes may also answer at /api/v1/<id>/…: not when a route of the host
// begins so, nor for the first segments the host claims for routes it adds after the plugins
// (or keeps for itself), so a later core route never lands under a plugin's short mount.
bool short_mount_available(const http::Router& router, const std::string& id) {
  static const std::set<std::string, std::less<>> kHostSegments = {
      "plugins", "connectors", "session", "sessions",
      "invites", "console",    "health",  "openapi.json"};
  if (kHostSegments.contains(id)) return false;
  const std::string prefix = "/api/v1/" + id;
  return std::none_of(router.routes().begin(), router.routes().end(), [&](const http::Route& r) {
    return r.owner == "host" && (r.pattern == prefix || r.pattern.rfind(prefix + "/", 0) == 0);
  });
}

}  // namespace

TableScope table_scope(const std::string& id, const std::vector<std::string>& all_ids) {
  TableScope scope{prefix_of(id), {}};
  for (const auto& other : all_ids) {
    const std::string foreign = prefix_of(other);
    if (foreign.size() > scope.prefix.size() && foreign.rfind(scope.prefix, 0) == 0) {
      scope.foreign_prefixes.push_back(foreign);
    }
  }
  return scope;
}

store::Connection::Authorizer plugin_authorizer(TableScope scope) {
  return [scope = std::move(scope)](int action, const char* arg1, const char* arg2,
                                    const char* database, const char*) {
    // Only the main database: no temp schema, nothing attached.
    if (database != nullptr && std::string_view(database) != "main") return SQLITE_DENY;
    const auto allow = [](bool ok) { return ok ? SQLITE_OK : SQLITE_DENY; };
    switch (action) {
      case SQLITE_SELECT:
      case SQLITE_RECURSIVE:
        return SQLITE_OK;
      case SQLITE_FUNCTION:
        return allow(arg2 == nullptr || text::lower(arg2) != "load_extension");
      case SQLITE_INSERT:
      case SQLITE_UPDATE:
      case SQLITE_DELETE:
        // CREATE/DROP ask for writes to the schema table first (judged by their own action);
        // SQLite itself refuses writing it directly while writable_schema (a PRAGMA) is off.
        return allow(schema_table(arg1) || in_scope(scope, arg1));
      case SQLITE_READ:
        // CREATE TABLE reads the schema table's rowid, which tells nothing.
        if (schema_table(arg1) && arg2 != nullptr && text::lower(arg2) == "rowid") return SQLITE_OK;
        return allow(in_scope(scope, arg1));
      case SQLITE_CREATE_TABLE:
        // AUTOINCREMENT makes SQLite create its sqlite_sequence (nobody can by name).
        if (arg1 != nullptr && text::lower(arg1) == "sqlite_sequence") return SQLITE_OK;
        return allow(in_scope(scope, arg1));
      case SQLITE_DROP_TABLE:
      case SQLITE_CREATE_VIEW:
      case SQLITE_DROP_VIEW:
      case SQLITE_ANALYZE:
      case SQLITE_REINDEX:
        return allow(in_scope(scope, arg1));
      case SQLITE_CREATE_INDEX:  // index, table
      case SQLITE_DROP_INDEX:
      case SQLITE_CREATE_TRIGGER:  // trigger, table
      case SQLITE_DROP_TRIGGER:
        return allow(in_scope(scope, arg1) && in_scope(scope, arg2));
      case SQLITE_ALTER_TABLE:  // database, table
        return allow(in_scope(scope, arg2));
      default:
        return SQLITE_DENY;
    }
  };
}

PluginHostImpl::PluginHostImpl(std::string id, nlohmann::json config, HostServices& services,
                               std::shared_ptr<spdlog::logger> logger)
    : id_(std::move(id)),
      config_(std::move(config)),
      services_(services),
      logger_(std::move(logger)),
      authorizer_(
          [](int, const char*, const char*, const char*, const char*) { return SQLITE_DENY; }) {}

void PluginHostImpl::set_table_scope(TableScope scope) {
  authorizer_ = plugin_authorizer(std::move(scope));
}

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

void PluginHostImpl::add_supervision_rule(sdk::SupervisionRule rule) {
  require_registration_open("add_supervision_rule");
  if (!rule) throw std::invalid_argument("supervision rule must not be empty");
  ++summary_.supervision_rules;
  staged_supervision_.push_back(std::move(rule));
}

void PluginHostImpl::add_referral_router(sdk::ReferralRouter router) {
  require_registration_open("add_referral_router");
  if (!router) throw std::invalid_argument("referral router must not be empty");
  ++summary_.referral_routers;
  staged_routers_.push_back(std::move(router));
}

int PluginHostImpl::seed_partners(const nlohmann::json& partners) {
  const bool in_load = registration_open_;
  if (!in_load && services_.store == nullptr) {
    throw std::logic_error("seed_partners works in load() or from start() on");
  }
  if (!partners.is_array()) throw std::invalid_argument("seed_partners takes an array of partners");
  const std::vector<nlohmann::json> seeds(partners.begin(), partners.end());
  if (auto problems = partners::seed_problems(seeds); !problems.empty()) {
    throw std::invalid_argument("partners of plugin " + id_ + ": " + problems.front());
  }
  for (const auto& seed : seeds)
    summary_.partners.push_back(seed.value("slug", ""));
  // In load() the seeds are checked now (so `kim config check` and `kim plugins list` see a bad
  // one) and added when the plugin has started, with its other registrations.
  if (in_load) {
    staged_partners_.insert(staged_partners_.end(), seeds.begin(), seeds.end());
    return 0;
  }
  return partners::apply_seeds(*services_.store, seeds);
}

void PluginHostImpl::publish(sdk::Event event) {
  if (event.type.rfind(id_ + ".", 0) != 0) {
    throw std::invalid_argument("plugin " + id_ + " may only publish events named \"" + id_ +
                                ".…\", not \"" + event.type + "\"");
  }
  event.source = id_;
  services_.events.publish(event);
}

void PluginHostImpl::register_connector(sdk::ConnectorType type) {
  require_registration_open("register_connector");
  if (!std::regex_match(type.name, name_pattern())) {
    throw std::invalid_argument("connector type \"" + type.name +
                                "\" must match [a-z][a-z0-9_.-]{0,63}");
  }
  if (!type.create) {
    throw std::invalid_argument("connector type \"" + type.name + "\" has no create function");
  }
  if (!type.settings_schema.is_object()) {
    throw std::invalid_argument("connector type \"" + type.name +
                                "\": settings_schema must be a JSON Schema object");
  }
  for (const auto& [name, unused] : staged_connectors_) {
    if (name == type.name) {
      throw std::invalid_argument("connector \"" + type.name + "\" registered twice");
    }
  }
  summary_.connectors.push_back(type.name);
  auto name = type.name;
  staged_connectors_.emplace_back(std::move(name), std::move(type));
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
  if (!database_)
    database_ = std::make_unique<ConfinedDatabase>(*services_.store, authorizer_, id_);
  return *database_;
}

sdk::HttpResponse PluginHostImpl::read_api(const sdk::HttpRequest& caller, const std::string& path,
                                           const std::map<std::string, std::string>& query) {
  if (!services_.handle) {
    throw std::logic_error("read_api works from start() on, not while plugins are inspected");
  }
  // Empty segments ("//") are refused: the router would skip them, so "/api/v1//plugins/…"
  // would reach another plugin's route past the prefix check.
  if (path.rfind("/api/v1/", 0) != 0 || path.rfind("/api/v1/plugins/", 0) == 0 ||
      path.find('?') != std::string::npos || path.find("//") != std::string::npos) {
    throw std::invalid_argument(
        "read_api reads the host's own routes under /api/v1/ (not "
        "/api/v1/plugins/…; the query goes in `query`), not \"" +
        path + "\"");
  }
  // Plugin routes are refused by owner too, whatever path reaches them (the short mount
  // /api/v1/<id>/… as well): a plugin reads core, not another plugin's answers.
  if (const auto match = services_.router.match(sdk::HttpMethod::kGet, path);
      match.kind == http::RouteMatch::Kind::kFound && match.route->owner != "host") {
    throw std::invalid_argument("read_api reads the host's own routes, not \"" + path +
                                "\" of plugin " + match.route->owner);
  }
  if (!caller.principal) {
    return sdk::HttpResponse::error(401, "unauthenticated",
                                    "read_api needs the caller of an authenticated route");
  }
  sdk::HttpRequest request;
  request.method = sdk::HttpMethod::kGet;
  request.path = path;
  request.query = query;
  request.request_id = caller.request_id;
  request.principal = caller.principal;
  return services_.handle(request);
}

void PluginHostImpl::declare_personal_data(sdk::PersonalData data,
                                           sdk::PersonalDataHandler handler) {
  require_registration_open("declare_personal_data");
  retention::PersonalDataRegistry::check(data);
  ++summary_.personal_data;
  staged_personal_data_.emplace_back(std::move(data), std::move(handler));
}

void PluginHostImpl::check_conflicts() const {
  const std::string prefix = table_scope(id_, {}).prefix;
  for (const auto& [data, handler] : staged_personal_data_) {
    if (data.table.rfind(prefix, 0) != 0) {
      throw std::invalid_argument("declare_personal_data: table \"" + data.table +
                                  "\" is not one of the plugin's (\"" + prefix + "…\")");
    }
  }
  for (const auto& [type, factory] : staged_connectors_) {
    if (auto owner = services_.connectors.owner_of(type)) {
      throw std::invalid_argument("connector type \"" + type + "\" is already registered by " +
                                  *owner);
    }
  }
}

void PluginHostImpl::add_staged_partners() {
  if (staged_partners_.empty()) return;
  const int added = partners::apply_seeds(*services_.store, staged_partners_);
  logger_->info("{} of {} partners added to the partner network", added, staged_partners_.size());
}

void PluginHostImpl::commit() {
  // Each route also answers at the short mount /api/v1/<id>/… unless core owns that first
  // segment (core's paths always win; the long path is the one that never changes).
  const std::string short_prefix = "/api/v1/" + id_;
  const bool short_mount = short_mount_available(services_.router, id_);
  for (const auto& route : staged_routes_.routes()) {
    services_.router.add(route);
    if (!short_mount) continue;
    http::Route alias = route;
    alias.pattern = short_prefix + route.pattern.substr(("/api/v1/plugins/" + id_).size());
    summary_.routes.push_back(std::string(sdk::to_string(route.method)) + " " + alias.pattern);
    services_.router.add(std::move(alias));
  }
  if (!short_mount && !staged_routes_.routes().empty()) {
    logger_->info("routes only under /api/v1/plugins/{}/: {}/ is a path of the host", id_,
                  short_prefix);
  }

  for (auto& [type, handler] : staged_subscriptions_) {
    services_.events.subscribe(type, std::move(handler), id_);
  }
  for (auto& [type, hook] : staged_hooks_)
    services_.events.add_hook(type, std::move(hook), id_);
  for (auto& rule : staged_supervision_)
    services_.events.add_supervision_rule(std::move(rule), id_);
  for (auto& router : staged_routers_)
    services_.events.add_referral_router(std::move(router), id_);
  for (auto& [name, type] : staged_connectors_) {
    services_.connectors.add(name, std::move(type), id_);
  }
  for (auto& job : staged_jobs_) {
    services_.scheduler.add(id_, job.name, job.interval, std::move(job.job));
  }
  if (services_.personal_data) {
    for (auto& [data, handler] : staged_personal_data_) {
      services_.personal_data->add({id_, std::move(data), std::move(handler), &authorizer_});
    }
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
  staged_supervision_.clear();
  staged_routers_.clear();
  staged_partners_.clear();
  staged_connectors_.clear();
  staged_jobs_.clear();
  staged_personal_data_.clear();
}

}  // namespace kim::plugins
