// A plugin test kit: FakeHost, a PluginHost without the host, for unit tests of a plugin class.
//
//   kim::sdk::testing::FakeHost host("noticeboard", {{"town", "Rheine"}});
//   Noticeboard plugin;
//   host.start(plugin);  // load(), the migrations in order on an in-memory SQLite, start()
//   auto response = host.call(kim::sdk::HttpMethod::kPost, "/notices",
//                             host.request_as("case_manager", R"({"text": "Fair on Friday"})"));
//   EXPECT_EQ(response.status, 201);
//
// It records every registration, calls routes (with `{name}` segments, roles and public routes
// as the host treats them), delivers events, asks hooks, runs jobs, answers read_api() as the
// test says and gives the plugin a real Database. What the host would only log (a handler that
// throws, a failing job) lands in errors(). Header-only; a test that includes it links SQLite3
// (CMake: SQLite::SQLite3, Debian: libsqlite3-dev). Not part of a plugin: include it in tests only.
//
// What it does not do (the real host does; test that against `kim`): fill in config defaults or
// check the config against the schema (pass the config as the host would hand it over), confine
// SQL to the plugin's own tables, check connector settings against their schema, run jobs or
// deliver events on other threads, answer HEAD/OPTIONS.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include "kim/sdk/host.hpp"
#include "kim/sdk/plugin.hpp"
#include "kim/sdk/version.hpp"

// The factory KIM_PLUGIN exports (a Boost.DLL alias); declared here for exported_plugin().
namespace _autoaliases {
extern "C" const void* kim_plugin_create;
}

namespace kim::sdk::testing {

// A new instance of the plugin that KIM_PLUGIN exports from a source file compiled into the test
// binary (one plugin source per binary): the class itself may stay in an anonymous namespace.
inline std::unique_ptr<Plugin> exported_plugin() {
  using Factory = std::unique_ptr<Plugin>();
  return reinterpret_cast<Factory*>(
      reinterpret_cast<std::intptr_t>(_autoaliases::kim_plugin_create))();
}

// A Database on one SQLite connection (in memory by default), one statement at a time.
class SqliteDatabase final : public Database {
 public:
  // One entry of Transaction::audit, kept once its transaction committed.
  struct AuditEntry {
    std::string user_name, request_id, action, object_type, object_id;
  };

  // `plugin_id`: object types a transaction audits must begin with "<plugin_id>." (as the host
  // requires); empty accepts any.
  explicit SqliteDatabase(const std::string& path = ":memory:", std::string plugin_id = {})
      : plugin_id_(std::move(plugin_id)) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error("cannot open " + path + ": " + message);
    }
    sqlite3_exec(db_, "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr);
  }
  ~SqliteDatabase() override { sqlite3_close(db_); }
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  nlohmann::json query(std::string_view sql, const std::vector<SqlValue>& params = {}) override {
    std::lock_guard lock(mutex_);
    return run(sql, params);
  }
  std::int64_t execute(std::string_view sql, const std::vector<SqlValue>& params = {}) override {
    std::lock_guard lock(mutex_);
    run(sql, params);
    return sqlite3_changes64(db_);
  }
  void transaction(const std::function<void(Transaction&)>& work) override {
    std::lock_guard lock(mutex_);
    exec_script("BEGIN IMMEDIATE");
    std::vector<AuditEntry> entries;
    try {
      Tx tx(*this, entries);
      work(tx);
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    exec_script("COMMIT");
    audited_.insert(audited_.end(), entries.begin(), entries.end());
  }

  // What committed transactions audited, in order.
  std::vector<AuditEntry> audited() const {
    std::lock_guard lock(mutex_);
    return audited_;
  }

  // Runs several statements (a migration) without parameters, all or nothing.
  void run_script(const std::string& sql) {
    std::lock_guard lock(mutex_);
    exec_script("BEGIN IMMEDIATE");
    try {
      exec_script(sql);
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    exec_script("COMMIT");
  }

  sqlite3* raw() { return db_; }

 private:
  class Tx final : public Transaction {
   public:
    Tx(SqliteDatabase& db, std::vector<AuditEntry>& entries) : db_(db), entries_(entries) {}
    nlohmann::json query(std::string_view sql, const std::vector<SqlValue>& params = {}) override {
      return db_.run(sql, params);
    }
    std::int64_t execute(std::string_view sql, const std::vector<SqlValue>& params = {}) override {
      db_.run(sql, params);
      return sqlite3_changes64(db_.db_);
    }
    std::int64_t last_insert_rowid() override { return sqlite3_last_insert_rowid(db_.db_); }
    void audit(const HttpRequest& caller, std::string action, std::string object_type,
               std::string object_id) override {
      if (!caller.principal) {
        throw std::invalid_argument("audit needs the caller of an authenticated route");
      }
      const std::string prefix = db_.plugin_id_ + ".";
      if (!db_.plugin_id_.empty() &&
          (object_type.rfind(prefix, 0) != 0 || object_type.size() == prefix.size())) {
        throw std::invalid_argument("a plugin audits only its own object types (\"" + prefix +
                                    "…\"), not \"" + object_type + "\"");
      }
      if (action.empty()) throw std::invalid_argument("audit needs an action");
      entries_.push_back({caller.principal->user_name, caller.request_id, std::move(action),
                          std::move(object_type), std::move(object_id)});
    }

   private:
    SqliteDatabase& db_;
    std::vector<AuditEntry>& entries_;
  };

  [[noreturn]] void fail(std::string_view sql) {
    throw std::runtime_error(std::string(sqlite3_errmsg(db_)) + " in: " + std::string(sql));
  }

  void exec_script(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error != nullptr ? error : "unknown error";
      sqlite3_free(error);
      throw std::runtime_error(message);
    }
  }

  // One statement; rows as a JSON array of objects (TEXT and BLOB as strings, as the host does).
  nlohmann::json run(std::string_view sql, const std::vector<SqlValue>& params) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &raw, &tail) !=
        SQLITE_OK) {
      fail(sql);
    }
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
    if (raw == nullptr) throw std::runtime_error("no statement in: " + std::string(sql));
    // As the host: what follows the first statement must compile to nothing (space, comments).
    const std::string_view rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
    if (!rest.empty()) {
      sqlite3_stmt* extra = nullptr;
      const int rc =
          sqlite3_prepare_v2(db_, rest.data(), static_cast<int>(rest.size()), &extra, nullptr);
      sqlite3_finalize(extra);
      if (rc != SQLITE_OK || extra != nullptr) {
        throw std::runtime_error("one statement at a time: " + std::string(sql));
      }
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int at = static_cast<int>(i) + 1;
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::nullptr_t>(params[i])) {
        rc = sqlite3_bind_null(raw, at);
      } else if (const auto* n = std::get_if<std::int64_t>(&params[i])) {
        rc = sqlite3_bind_int64(raw, at, *n);
      } else if (const auto* d = std::get_if<double>(&params[i])) {
        rc = sqlite3_bind_double(raw, at, *d);
      } else {
        const auto& s = std::get<std::string>(params[i]);
        rc = sqlite3_bind_text(raw, at, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
      }
      if (rc != SQLITE_OK) fail(sql);
    }
    nlohmann::json rows = nlohmann::json::array();
    for (;;) {
      const int rc = sqlite3_step(raw);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) fail(sql);
      nlohmann::json row = nlohmann::json::object();
      for (int i = 0; i < sqlite3_column_count(raw); ++i) {
        auto& cell = row[sqlite3_column_name(raw, i)];
        switch (sqlite3_column_type(raw, i)) {
          case SQLITE_NULL:
            cell = nullptr;
            break;
          case SQLITE_INTEGER:
            cell = static_cast<std::int64_t>(sqlite3_column_int64(raw, i));
            break;
          case SQLITE_FLOAT:
            cell = sqlite3_column_double(raw, i);
            break;
          default:
            cell = std::string(reinterpret_cast<const char*>(sqlite3_column_text(raw, i)),
                               static_cast<std::size_t>(sqlite3_column_bytes(raw, i)));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  sqlite3* db_ = nullptr;
  std::string plugin_id_;
  std::vector<AuditEntry> audited_;
  // Recursive: database().query() inside transaction() on the same thread must not deadlock.
  mutable std::recursive_mutex mutex_;
};

class FakeHost final : public PluginHost {
 public:
  struct Route {
    HttpMethod method;
    std::string path;  // as the plugin gave it, e.g. "/greetings/{name}"
    RouteHandler handler;
    RouteOptions options;
  };
  struct Job {
    std::string name;  // as the plugin gave it, without "<id>."
    std::chrono::milliseconds interval;
    ScheduledJob job;
  };
  struct Migration {
    int version;
    std::string description;
    std::string sql;
  };

  // `config` is the plugin's config block as the host would hand it over: validated, with the
  // schema's defaults filled in (FakeHost checks nothing of it).
  explicit FakeHost(std::string plugin_id, nlohmann::json config = nlohmann::json::object(),
                    HostInfo info = {"test", KIM_SDK_VERSION_STRING, "Test deployment"})
      : id_(std::move(plugin_id)),
        config_(std::move(config)),
        info_(std::move(info)),
        logger_(std::make_shared<spdlog::logger>("plugin." + id_)) {}  // no sinks: discards

  // ---- driving the plugin, as the host does ----

  // plugin.load(*this); registrations are accepted only while it runs.
  void load(Plugin& plugin) {
    if (plugin_ != nullptr) throw std::logic_error("FakeHost: a plugin was loaded already");
    plugin_ = &plugin;
    registration_open_ = true;
    try {
      plugin.load(*this);
    } catch (...) {
      registration_open_ = false;
      throw;
    }
    registration_open_ = false;
  }
  // Applies the migrations (numbered 1, 2, 3 … in the order added) on a fresh in-memory
  // database, then plugin.start(). Throws what the host would refuse the plugin for.
  void start() {
    if (plugin_ == nullptr) throw std::logic_error("FakeHost: load() a plugin before start()");
    database_ = std::make_unique<SqliteDatabase>(":memory:", id_);
    for (std::size_t i = 0; i < migrations_.size(); ++i) {
      const auto& m = migrations_[i];
      if (m.version != static_cast<int>(i) + 1) {
        throw std::invalid_argument(
            "migrations of " + id_ + " must be numbered 1, 2, 3, ... without gaps: expected #" +
            std::to_string(i + 1) + ", found #" + std::to_string(m.version));
      }
      try {
        database_->run_script(m.sql);
      } catch (const std::exception& e) {
        throw std::runtime_error("migration " + id_ + "#" + std::to_string(m.version) +
                                 " failed: " + e.what());
      }
    }
    started_ = true;  // database(), publish() and read_api() work inside start() already
    try {
      plugin_->start();
    } catch (...) {
      started_ = false;
      throw;
    }
  }
  // load() then start().
  void start(Plugin& plugin) {
    load(plugin);
    start();
  }
  // plugin.stop(), once, after a successful start().
  void stop() {
    if (started_) plugin_->stop();
    started_ = false;
  }

  // Calls the route matching `method` and `path` (relative to /api/v1/plugins/<id>, or the full
  // path) as the host would: 404/405 when none matches, 401 without a principal on a route that
  // needs a token, 403 for a role the route does not list, 500 when the handler throws (the
  // exception's message goes to errors()). `request.path_params` are filled from the path.
  HttpResponse call(HttpMethod method, std::string_view path, HttpRequest request = {}) {
    const std::string base = "/api/v1/plugins/" + id_;
    std::string relative(path);
    if (relative.rfind(base, 0) == 0) relative.erase(0, base.size());
    if (relative.empty()) relative = "/";
    request.method = method;
    request.path = base + (relative == "/" ? "" : relative);
    if (request.request_id.empty()) request.request_id = "test-" + std::to_string(++requests_);
    const Route* found = nullptr;
    bool path_known = false;
    std::map<std::string, std::string> params;
    for (const auto& route : routes_) {
      std::map<std::string, std::string> candidate;
      if (!match(route.path, relative, candidate)) continue;
      path_known = true;
      if (route.method == method) {
        found = &route;
        params = std::move(candidate);
        break;
      }
    }
    // The host's order: a token first (unless the route is public), then 404/405, then roles.
    if (!(found != nullptr && found->options.public_route) && !request.principal) {
      return HttpResponse::error(401, "unauthenticated",
                                 "send an API token as \"Authorization: Bearer <token>\"");
    }
    if (found == nullptr) {
      if (!path_known)
        return HttpResponse::error(404, "not_found", "no resource at " + request.path);
      return HttpResponse::error(405, "method_not_allowed",
                                 std::string(to_string(method)) + " is not allowed here");
    }
    const auto& roles = found->options.roles;
    if (!roles.empty() && request.principal &&
        std::find(roles.begin(), roles.end(), request.principal->role) == roles.end()) {
      return HttpResponse::error(403, "forbidden",
                                 "role " + request.principal->role + " may not do this");
    }
    request.path_params = std::move(params);
    try {
      return found->handler(request);
    } catch (const std::exception& e) {
      note_error(std::string(to_string(method)) + " " + found->path + ": " + e.what());
      return HttpResponse::error(500, "internal_error",
                                 "internal error; request id " + request.request_id);
    }
  }

  // A request from a user with `role` (user 1 "tester" of organisation 1 "test-org").
  static HttpRequest request_as(std::string role, std::string body = {}) {
    HttpRequest request;
    request.principal = Principal{1, "tester", std::move(role), 1, "test-org"};
    request.body = std::move(body);
    if (!request.body.empty()) request.headers["content-type"] = "application/json";
    return request;
  }

  // Hands `event` to the plugin's subscribers of its type, as the host does after a commit.
  // Returns how many handled it; a handler that throws is skipped and noted in errors().
  int deliver(Event event) {
    if (event.source.empty()) event.source = "host";
    int handled = 0;
    for (const auto& [type, handler] : subscriptions_) {
      if (type != event.type) continue;
      try {
        handler(event);
        ++handled;
      } catch (const std::exception& e) {
        note_error("event handler for " + event.type + ": " + e.what());
      }
    }
    return handled;
  }
  int deliver(std::string type, nlohmann::json payload) {
    Event event;
    event.type = std::move(type);
    event.payload = std::move(payload);
    return deliver(std::move(event));
  }

  // Asks the plugin's hooks of the event's type as the host does inside a write: the first veto
  // wins; a hook that throws vetoes with "check failed". The reason is the plugin's own (the
  // API's 422 adds "refused by a plugin: <id>: " in front).
  HookResult ask_hooks(Event event) {
    if (event.source.empty()) event.source = "host";
    for (const auto& [type, hook] : hooks_) {
      if (type != event.type) continue;
      HookResult result;
      try {
        result = hook(event);
      } catch (const std::exception& e) {
        note_error("hook for " + event.type + ": " + e.what());
        result = HookResult::veto("check failed");
      }
      if (!result.allowed) return result;
    }
    return HookResult::allow();
  }
  HookResult ask_hooks(std::string type, nlohmann::json payload) {
    Event event;
    event.type = std::move(type);
    event.payload = std::move(payload);
    return ask_hooks(std::move(event));
  }

  // Runs the job now, on this thread, as POST /api/v1/jobs/<id>.<name>/run would. `name` with or
  // without "<id>.". Returns false (and notes the error) when it threw; throws
  // std::out_of_range for an unknown job.
  bool run_job(std::string_view name) {
    std::string short_name(name);
    if (short_name.rfind(id_ + ".", 0) == 0) short_name.erase(0, id_.size() + 1);
    for (const auto& job : jobs_) {
      if (job.name != short_name) continue;
      try {
        job.job();
        return true;
      } catch (const std::exception& e) {
        note_error("job " + id_ + "." + job.name + ": " + e.what());
        return false;
      }
    }
    throw std::out_of_range("FakeHost: no job named " + std::string(name));
  }

  // The test plays core for read_api(): `answer` gets the GET request the host would run (path,
  // query, the caller's principal and request id) and returns core's answer. Without one,
  // every read answers 404 not_found.
  using ReadAnswer = std::function<HttpResponse(const HttpRequest& request)>;
  void answer_reads(ReadAnswer answer) {
    std::lock_guard lock(mutex_);
    read_answer_ = std::move(answer);
  }
  // The reads the plugin made through read_api(), in order.
  std::vector<HttpRequest> reads() const {
    std::lock_guard lock(mutex_);
    return reads_;
  }

  // ---- what the plugin registered and did ----
  const std::vector<Route>& routes() const { return routes_; }
  std::vector<std::string> subscriptions() const { return types_of(subscriptions_); }
  std::vector<std::string> hooks() const { return types_of(hooks_); }
  const std::vector<Job>& jobs() const { return jobs_; }
  const std::vector<Migration>& migrations() const { return migrations_; }
  const std::vector<ConnectorType>& connector_types() const { return connectors_; }
  const ConnectorType& connector_type(std::string_view name) const {
    for (const auto& type : connectors_) {
      if (type.name == name) return type;
    }
    throw std::out_of_range("FakeHost: no connector type " + std::string(name));
  }
  // Events the plugin published, in order (they were also delivered to its own subscribers).
  std::vector<Event> published() const {
    std::lock_guard lock(mutex_);
    return published_;
  }
  // What the host would have logged as a failure: handlers, hooks and jobs that threw.
  std::vector<std::string> errors() const {
    std::lock_guard lock(mutex_);
    return errors_;
  }

  // ---- PluginHost ----
  const std::string& plugin_id() const override { return id_; }
  HostInfo host_info() const override { return info_; }
  std::shared_ptr<spdlog::logger> logger() override { return logger_; }
  const nlohmann::json& config() const override { return config_; }

  void add_route(HttpMethod method, std::string path, RouteHandler handler,
                 RouteOptions options = {}) override {
    require_registration_open("add_route");
    if (path.empty() || path.front() != '/') {
      throw std::invalid_argument("route path \"" + path + "\" must start with '/'");
    }
    for (const auto& route : routes_) {
      if (route.method == method && route.path == path) {
        throw std::invalid_argument("route " + std::string(to_string(method)) + " " + path +
                                    " registered twice");
      }
    }
    routes_.push_back({method, std::move(path), std::move(handler), std::move(options)});
  }
  void subscribe(std::string type, EventHandler handler) override {
    require_registration_open("subscribe");
    subscriptions_.emplace_back(std::move(type), std::move(handler));
  }
  void add_hook(std::string type, HookHandler hook) override {
    require_registration_open("add_hook");
    hooks_.emplace_back(std::move(type), std::move(hook));
  }
  void publish(Event event) override {
    if (event.type.rfind(id_ + ".", 0) != 0) {
      throw std::invalid_argument("plugin " + id_ + " may only publish events named \"" + id_ +
                                  ".…\", not \"" + event.type + "\"");
    }
    event.source = id_;
    {
      std::lock_guard lock(mutex_);
      published_.push_back(event);
    }
    deliver(std::move(event));
  }
  void register_connector(ConnectorType type) override {
    require_registration_open("register_connector");
    for (const auto& known : connectors_) {
      if (known.name == type.name) {
        throw std::invalid_argument("connector type \"" + type.name + "\" registered twice");
      }
    }
    connectors_.push_back(std::move(type));
  }
  void schedule(std::string name, std::chrono::milliseconds interval, ScheduledJob job) override {
    require_registration_open("schedule");
    if (interval < std::chrono::milliseconds(10)) {
      throw std::invalid_argument("job \"" + name + "\": interval must be at least 10 ms");
    }
    for (const auto& known : jobs_) {
      if (known.name == name) throw std::invalid_argument("job \"" + name + "\" scheduled twice");
    }
    jobs_.push_back({std::move(name), interval, std::move(job)});
  }
  void add_migration(int version, std::string description, std::string sql) override {
    require_registration_open("add_migration");
    migrations_.push_back({version, std::move(description), std::move(sql)});
  }
  // Checked as the host checks it; answered by answer_reads().
  HttpResponse read_api(const HttpRequest& caller, const std::string& path,
                        const std::map<std::string, std::string>& query = {}) override {
    if (!started_) throw std::logic_error("FakeHost: read_api works from start() on");
    if (path.rfind("/api/v1/", 0) != 0 || path.rfind("/api/v1/plugins/", 0) == 0 ||
        path.find('?') != std::string::npos) {
      throw std::invalid_argument(
          "read_api reads the host's own routes under /api/v1/ (not /api/v1/plugins/…; the query "
          "goes in `query`), not \"" +
          path + "\"");
    }
    if (!caller.principal) {
      return HttpResponse::error(401, "unauthenticated",
                                 "read_api needs the caller of an authenticated route");
    }
    HttpRequest request;
    request.method = HttpMethod::kGet;
    request.path = path;
    request.query = query;
    request.request_id = caller.request_id;
    request.principal = caller.principal;
    ReadAnswer answer;
    {
      std::lock_guard lock(mutex_);
      reads_.push_back(request);
      answer = read_answer_;
    }
    if (!answer) return HttpResponse::error(404, "not_found", "no resource at " + path);
    return answer(request);
  }
  // From start() on, as in the host.
  Database& database() override {
    if (!database_) throw std::logic_error("FakeHost: database() works from start() on");
    return *database_;
  }
  void add_supervision_rule(SupervisionRule rule) override {
    require_registration_open("add_supervision_rule");
    if (!rule) throw std::invalid_argument("supervision rule must not be empty");
    supervision_rules_.push_back(std::move(rule));
  }
  void add_referral_router(ReferralRouter router) override {
    require_registration_open("add_referral_router");
    if (!router) throw std::invalid_argument("referral router must not be empty");
    referral_routers_.push_back(std::move(router));
  }
  // Keeps the partners for seeded_partners() (FakeHost checks only that it is an array of
  // objects with a "slug"; the host applies its partner rules). Idempotent by slug.
  int seed_partners(const nlohmann::json& partners) override {
    if (!partners.is_array()) throw std::invalid_argument("seed_partners takes an array");
    int added = 0;
    for (const auto& partner : partners) {
      if (!partner.is_object() || !partner.contains("slug") || !partner["slug"].is_string()) {
        throw std::invalid_argument("every partner needs a \"slug\"");
      }
      const auto slug = partner["slug"].get<std::string>();
      if (seeded_partners_.count(slug)) continue;
      seeded_partners_.emplace(slug, partner);
      ++added;
    }
    return started_ ? added : 0;  // in load() the host adds them at start and answers 0
  }
  const std::map<std::string, nlohmann::json>& seeded_partners() const { return seeded_partners_; }
  // Kept for personal_data(); FakeHost checks only that something is declared.
  void declare_personal_data(PersonalData data, PersonalDataHandler handler) override {
    require_registration_open("declare_personal_data");
    if (data.table.empty() || data.link_column.empty() || data.columns.empty())
      throw std::invalid_argument("personal data needs a table, a link column and columns");
    personal_data_.emplace_back(std::move(data), std::move(handler));
  }
  const std::vector<std::pair<PersonalData, PersonalDataHandler>>& personal_data() const {
    return personal_data_;
  }
  // What core would store for a case with these facts: the first answer of the plugin's
  // supervision rules (nothing = the organisation's supervisor). Exceptions pass through.
  std::optional<Supervision> supervise(const SupervisionFacts& facts) const {
    for (const auto& rule : supervision_rules_) {
      if (auto answer = rule(facts)) return answer;
    }
    return std::nullopt;
  }
  // The partner a referral with these facts would go to instead (nothing = as asked).
  std::optional<std::string> route_referral(const ReferralFacts& facts) const {
    for (const auto& router : referral_routers_) {
      if (auto answer = router(facts)) return answer;
    }
    return std::nullopt;
  }

  // What the plugin's committed transactions audited (Transaction::audit), in order.
  std::vector<SqliteDatabase::AuditEntry> audited() const {
    return database_ ? database_->audited() : std::vector<SqliteDatabase::AuditEntry>{};
  }

 private:
  void require_registration_open(const char* call) const {
    if (!registration_open_) {
      throw std::logic_error(std::string(call) + " is only allowed during load()");
    }
  }

  void note_error(std::string error) {
    std::lock_guard lock(mutex_);
    errors_.push_back(std::move(error));
  }

  template <typename Handler>
  static std::vector<std::string> types_of(
      const std::vector<std::pair<std::string, Handler>>& entries) {
    std::vector<std::string> types;
    for (const auto& entry : entries)
      types.push_back(entry.first);
    return types;
  }

  // "/greetings/{name}" against "/greetings/Ada": segment by segment, `{x}` takes one non-empty
  // segment.
  static bool match(std::string_view pattern, std::string_view path,
                    std::map<std::string, std::string>& params) {
    auto split = [](std::string_view text) {
      std::vector<std::string_view> parts;
      std::size_t at = text.empty() || text.front() != '/' ? 0 : 1;
      while (at <= text.size()) {
        const std::size_t slash = std::min(text.find('/', at), text.size());
        parts.push_back(text.substr(at, slash - at));
        at = slash + 1;
      }
      return parts;
    };
    const auto want = split(pattern);
    const auto got = split(path);
    if (want.size() != got.size()) return false;
    for (std::size_t i = 0; i < want.size(); ++i) {
      const auto segment = want[i];
      if (segment.size() > 2 && segment.front() == '{' && segment.back() == '}') {
        if (got[i].empty()) return false;
        params[std::string(segment.substr(1, segment.size() - 2))] = std::string(got[i]);
      } else if (segment != got[i]) {
        return false;
      }
    }
    return true;
  }

  std::string id_;
  nlohmann::json config_;
  HostInfo info_;
  std::shared_ptr<spdlog::logger> logger_;
  Plugin* plugin_ = nullptr;
  bool registration_open_ = false;
  bool started_ = false;
  std::vector<Route> routes_;
  std::vector<std::pair<std::string, EventHandler>> subscriptions_;
  std::vector<std::pair<std::string, HookHandler>> hooks_;
  std::vector<ConnectorType> connectors_;
  std::vector<Job> jobs_;
  std::vector<Migration> migrations_;
  std::vector<SupervisionRule> supervision_rules_;
  std::vector<ReferralRouter> referral_routers_;
  std::map<std::string, nlohmann::json> seeded_partners_;
  std::vector<std::pair<PersonalData, PersonalDataHandler>> personal_data_;
  std::unique_ptr<SqliteDatabase> database_;
  mutable std::mutex mutex_;
  std::vector<Event> published_;
  ReadAnswer read_answer_;
  std::vector<HttpRequest> reads_;
  std::vector<std::string> errors_;
  std::atomic<std::uint64_t> requests_{0};
};

}  // namespace kim::sdk::testing
