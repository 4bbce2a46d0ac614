#include "app/host.hpp"

#include <sys/stat.h>

#include <algorithm>

#include <boost/dll/runtime_symbol_info.hpp>

#include "audit/audit_log.hpp"
#include "audit/security_log.hpp"
#include "cases/routes.hpp"
#include "console/console.hpp"
#include "domain/validation.hpp"
#include "http/server.hpp"
#include "kim/sdk/version.hpp"
#include "log/logging.hpp"
#include "orgs/organisations.hpp"
#include "store/core_migrations.hpp"
#include "text/ascii.hpp"

#ifndef KIM_HOST_VERSION
#define KIM_HOST_VERSION "0.0.0"
#endif

namespace kim::app {

namespace {

std::string bearer_token(const sdk::HttpRequest& request) {
  const std::string header = request.header("authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (header.size() <= kScheme.size()) return {};
  if (text::lower(std::string_view(header).substr(0, kScheme.size())) != "bearer ") return {};
  return header.substr(kScheme.size());
}

std::string iso_time(std::chrono::system_clock::time_point time) {
  auto seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

// What was sent decides the text: a console whose session ended must not be told to send a token.
enum class Credential { kNone, kToken, kSessionCookie };

sdk::HttpResponse unauthenticated(Credential sent) {
  const char* message =
      "send an API token as \"Authorization: Bearer <token>\", or sign in to "
      "the console";
  if (sent == Credential::kToken) message = "the API token is unknown or revoked";
  if (sent == Credential::kSessionCookie) {
    message = "the console session ended (signed out, idle or expired); sign in again";
  }
  auto response = sdk::HttpResponse::error(401, "unauthenticated", message);
  response.headers["www-authenticate"] = "Bearer";
  return response;
}

// Notes in admit() the epoch of a principal taken from the token cache (a name no client can
// send; admit() removes it from client input all the same).
constexpr const char* kTokenEpochNote = ":kim-token-epoch";
// Notes in admit() that the route runs in the writer's batch: placement() then needs no second
// router match.
constexpr const char* kWriterBatchNote = ":kim-writer-batch";

// A principal admit() took from the token cache counts only if the token's epoch is still current
// in the snapshot the handler then reads; else it is dropped and handle() looks the token up
// afresh (401 for a revoked one, unless the route is public). Removes the note.
void confirm_cached_token(const auth::AccessDirectory& access, sdk::HttpRequest& request) {
  const auto note = request.headers.find(kTokenEpochNote);
  if (note == request.headers.end()) return;
  const std::int64_t epoch = std::stoll(note->second);
  request.headers.erase(note);
  if (!access.current(epoch)) request.principal.reset();
}

// "GET /api/v1/cases/…" for security entries (never the query string).
std::string request_route(const sdk::HttpRequest& request) {
  return std::string(sdk::to_string(request.method)) + " " + request.path.substr(0, 200);
}

}  // namespace

const char* host_version() {
  return KIM_HOST_VERSION;
}

std::filesystem::path default_plugin_directory() {
  return (boost::dll::program_location().parent_path().parent_path() / "lib" / "kim" / "plugins")
      .lexically_normal();
}

std::unique_ptr<store::Store> open_store(const config::HostConfig& config) {
  // Seeds are checked before anything is created or written.
  auto partner_problems = partners::seed_problems(config.partners);
  if (!partner_problems.empty()) {
    throw config::ConfigError(config.source.string(), partner_problems);
  }
  std::error_code ec;
  if (!std::filesystem::exists(config.data_dir)) {
    std::filesystem::create_directories(config.data_dir, ec);
    if (ec) {
      throw std::runtime_error("cannot create data folder " + config.data_dir.string() + ": " +
                               ec.message());
    }
    // Social data: only the service user may enter the folder.
    ::chmod(config.data_dir.c_str(), 0700);
  }
  std::filesystem::create_directories(config.database.path.parent_path(), ec);
  store::StoreOptions options;
  options.path = config.database.path;
  options.busy_timeout_ms = config.database.busy_timeout_ms;
  options.synchronous = config.database.synchronous;
  options.read_connections = config.database.read_connections;
  options.max_batch = config.database.max_batch;
  options.sync_thread = config.database.sync_thread;
  auto store = std::make_unique<store::Store>(std::move(options));
  store->migrate("core", store::core_migrations());
  std::vector<orgs::OrganisationSeed> seeds;
  for (const auto& org : config.organisations) {
    seeds.push_back({org.slug, org.name, org.kind, org.town, org.supervisor, org.team_access});
  }
  try {
    orgs::apply_seeds(*store, seeds);
    partners::apply_seeds(*store, config.partners);
    cases::CaseService::refresh_name_keys(*store);
  } catch (const std::invalid_argument& e) {
    throw config::ConfigError(config.source.string(), {e.what()});
  }
  return store;
}

Host::Host(config::HostConfig config)
    : config_(std::move(config)),
      logger_(log::get("kim")),
      docs_(std::make_unique<http::ApiDocs>()),
      router_(std::make_unique<http::Router>()),
      events_(std::make_unique<events::EventBus>(log::get("events"))),
      connectors_(std::make_unique<plugins::Registry<sdk::ConnectorType>>("connector type")),
      scheduler_(std::make_unique<jobs::Scheduler>(log::get("jobs"))) {
  connectors::register_builtin_types(*connectors_);
  throttle_ = std::make_unique<http::AuthThrottle>(config_.server.auth_failures_per_address,
                                                   config_.server.auth_failure_window,
                                                   config_.server.auth_throttle_addresses);
}

Host::~Host() {
  scheduler_->stop();
  dispatcher_.reset();
  inbound_.reset();
  instances_.reset();
  if (plugins_) plugins_->stop_all();
  // Drop every std::function that may point into a plugin before the libraries go.
  scheduler_->clear();
  connectors_->clear();
  events_->clear();
  router_->clear();
  personal_data_->clear();
  plugins_.reset();
  sessions_.reset();
  access_.reset();
  if (store_) store_->close();
}

plugins::HostServices Host::services() {
  plugins::HostServices services{
      *router_,
      *events_,
      *connectors_,
      *scheduler_,
      store_.get(),
      sdk::HostInfo{host_version(), KIM_SDK_VERSION_STRING, config_.deployment_name},
      store_ ? std::function<sdk::HttpResponse(sdk::HttpRequest&)>(
                   [this](sdk::HttpRequest& request) { return handle(request); })
             : nullptr};
  services.personal_data = personal_data_.get();
  return services;
}

std::vector<plugins::PluginReport> Host::inspect_plugins() {
  auto directories = config_.plugins.directories;
  if (directories.empty()) directories.push_back(default_plugin_directory());
  plugins_ = std::make_unique<plugins::PluginManager>(config_.plugins, directories, services(),
                                                      log::get("plugins"));
  plugins_->load_all();
  // Inspection only (no store): the migrations `serve` would refuse, checked read-only.
  if (!store_) plugins_->check_migrations(config_.database.path);
  return plugins_->reports();
}

void Host::open() {
  logger_->info("kim {} starting for {} (config {})", host_version(), config_.deployment_name,
                config_.source.string());
  store_ = open_store(config_);
  logger_->info("database {} ready (core schema #{})", config_.database.path.string(),
                store_->schema_version("core"));
  access_ = std::make_unique<auth::AccessDirectory>(*store_);
  security_ = std::make_unique<audit::SecurityLog>(*store_);
  add_host_routes();
  if (auto token_file = admin_->bootstrap_admin(config_.data_dir)) {
    logger_->warn(
        "empty database: created user \"admin\"; its token is in {} (mode 0600). "
        "Use it once to create personal tokens, then delete the file.",
        token_file->string());
  }
  inspect_plugins();
  plugins_->start_all();
  decide_supervision();
  for (const auto& route : router_->routes()) {
    if (route.owner == "host" || route.pattern.starts_with("/api/v1/plugins/")) continue;
    std::string mount = "/api/v1/" + route.owner;
    if (std::find(plugin_short_mounts_.begin(), plugin_short_mounts_.end(), mount) ==
        plugin_short_mounts_.end()) {
      plugin_short_mounts_.push_back(std::move(mount));
    }
  }
  instances_ = std::make_unique<connectors::Instances>(config_, *connectors_);
  dispatcher_ = std::make_unique<outbox::Dispatcher>(*store_, *events_, *instances_, config_.outbox,
                                                     log::get("outbox"));
  // A referral sent, cancelled or stopped wrote a message: look for it now, not at the next poll.
  events_->subscribe(
      "referral.status_changed", [this](const sdk::Event&) { dispatcher_->wake(); }, "host");
  dispatcher_->start();
  inbound_ = std::make_unique<connectors::Inbound>(config_, *instances_, *referrals_, *store_,
                                                   *throttle_, log::get("connectors"));
  inbound_->register_route(*router_, *docs_);
  inbound_->schedule(*scheduler_);
  scheduler_->add("host", "retention", config_.retention.interval, [this] {
    const auto report = retention_->run();
    logger_->info("retention: {}", report.to_json().dump());
    if (!report.waiting_for_plugins.empty()) {
      logger_->error(
          "retention: cases and persons are not anonymised while enabled plugin(s) {} "
          "that may hold personal data do not run (see kim plugins list)",
          nlohmann::json(report.waiting_for_plugins).dump());
    }
  });
  scheduler_->start();
}

retention::RunReport Host::run_retention(domain::Env& env) {
  store_ = open_store(config_);
  access_ = std::make_unique<auth::AccessDirectory>(*store_);
  security_ = std::make_unique<audit::SecurityLog>(*store_);
  add_host_routes();
  inspect_plugins();
  plugins_->start_all();
  retention::RetentionService job(*store_, *events_, env, config_.retention, *personal_data_,
                                  [this] { return plugins_->absent_personal_data_holders(); });
  auto report = job.run();
  plugins_->stop_all();
  security_->close();
  store_->close();
  return report;
}

std::vector<std::string> Host::check_plugins() {
  std::vector<std::string> problems;
  for (const auto& report : inspect_plugins()) {
    if (report.enabled && (report.state == plugins::PluginState::kRefused ||
                           report.state == plugins::PluginState::kMissing)) {
      problems.push_back("plugins.settings." + report.id + ": " + report.reason);
    }
  }
  connectors::TypeRegistry types("connector type");
  connectors::register_builtin_types(types);
  for (auto& [owner, type] : plugins_->inspected_connector_types()) {
    try {
      types.add(type.name, type, owner);
    } catch (const std::invalid_argument& e) {
      problems.push_back(std::string("plugins.settings.") + owner + ": " + e.what());
    }
  }
  auto found = connectors::check_instances(config_, types);
  problems.insert(problems.end(), found.begin(), found.end());
  return problems;
}

void Host::serve() {
  http::Server server(
      config_.server,
      {[this](sdk::HttpRequest& request, const http::Respond& respond) {
         answer(request, respond);
       },
       [this](const sdk::HttpRequest& request) { return placement(request); },
       [this](sdk::HttpRequest& request, std::string_view peer) { return admit(request, peer); },
       [this](std::string_view path) { return router_->methods_of(path); }},
      log::get("http"));
  auto port = server.listen();
  logger_->info("listening on http://{}:{}", config_.server.host, port);
  events_->publish({"host.started", {{"port", port}}, {}, "host"});
  {
    boost::asio::thread_pool after_commit(2);
    after_commit_pool_ = &after_commit;
    server.run();
    // The writer still runs: requests queued in its batch settle, their events go out.
    for (int left = in_writer_batch_.load(); left > 0; left = in_writer_batch_.load())
      in_writer_batch_.wait(left);
    after_commit.join();
    after_commit_pool_ = nullptr;
  }
  events_->publish({"host.stopping", nlohmann::json::object(), {}, "host"});
  scheduler_->stop();
  dispatcher_->stop();
  plugins_->stop_all();
  security_->close();
  store_->close();
  logger_->info("stopped cleanly");
}

void Host::answer(sdk::HttpRequest& request, const http::Respond& respond) {
  const auto where = placement(request);
  if (where == http::Placement::kWriterBatch) return answer_in_writer_batch(request, respond);
  store::DeferredWrites deferred;
  // On the io thread the request's reads share one read transaction, its token's confirmation
  // included. Not for writes: a read after the write must see it.
  std::optional<store::ReadScope> snapshot;
  if (where == http::Placement::kIoThread) snapshot.emplace(*store_);
  confirm_cached_token(*access_, request);
  auto response = handle(request);
  snapshot.reset();
  if (sessions_) sessions_->touch(request);
  flush_refusals(request);
  deferred.when_settled([this, respond, response = std::move(response),
                         request_id = request.request_id, method = request.method,
                         path = request.path](std::optional<std::string> error) mutable {
    if (error) {
      // As when the write had failed inside the handler: nothing of the answer leaves the host.
      logger_->error("request {} ({} {}) failed: a durable write of its answer failed: {}",
                     request_id, sdk::to_string(method), path, *error);
      response = failure_answer(request_id);
    }
    respond(std::move(response));
  });
}

void Host::answer_in_writer_batch(sdk::HttpRequest& request, const http::Respond& respond) {
  struct Exchange {
    sdk::HttpRequest request;
    sdk::HttpResponse response;
  };
  auto exchange = std::make_shared<Exchange>(Exchange{std::move(request), {}});
  in_writer_batch_.fetch_add(1);
  // Every way out answers once and counts the request as done.
  const auto answer = [this, respond](sdk::HttpResponse response) {
    respond(std::move(response));
    if (in_writer_batch_.fetch_sub(1) == 1) in_writer_batch_.notify_all();
  };
  const auto failed = [this, answer](const sdk::HttpRequest& request, const std::string& error) {
    // As when the write had failed inside the handler: nothing of the answer leaves the host.
    logger_->error("request {} ({} {}) failed: its write in the writer's batch failed: {}",
                   request.request_id, sdk::to_string(request.method), request.path, error);
    answer(failure_answer(request.request_id));
  };
  try {
    store_->write_then(
        // On the writer thread, inside its batch: the store's reads and writes of the request run
        // at once on its connection; the session's touch and refused accesses' notes too.
        [this, exchange](store::Connection&) {
          auto& in = exchange->request;
          confirm_cached_token(*access_, in);
          exchange->response = handle(in);
          if (sessions_) sessions_->touch(in);
          flush_refusals(in);
        },
        // On the writer (or sync) thread once the commit is durable: quick, never throws.
        [this, exchange, answer, failed](std::exception_ptr error,
                                         store::Store::AfterCommit after) {
          if (error) {
            try {
              std::rethrow_exception(error);
            } catch (const std::exception& e) {
              return failed(exchange->request, e.what());
            } catch (...) {
              return failed(exchange->request, "unknown error");
            }
          }
          if (after.empty()) return answer(std::move(exchange->response));
          auto publish_then_answer = [exchange, answer, after = std::move(after)]() mutable {
            for (auto& work : after)
              work();
            answer(std::move(exchange->response));
          };
          if (after_commit_pool_ == nullptr) return publish_then_answer();  // not serving
          boost::asio::post(*after_commit_pool_, std::move(publish_then_answer));
        });
  } catch (const std::exception& e) {  // the store is closing
    failed(exchange->request, e.what());
  }
}

http::Placement Host::placement(const sdk::HttpRequest& request) const {
  if (request.method != sdk::HttpMethod::kGet) {
    return request.headers.contains(kWriterBatchNote) ? http::Placement::kWriterBatch
                                                      : http::Placement::kWorker;
  }
  // Plugins' routes may call partners or block otherwise: never on the io thread. They all live
  // under /api/v1/plugins/<id>/ or a plugin's short mount /api/v1/<id>/ (PluginHostImpl), so
  // the path tells without a second router match per request. The router skips empty segments:
  // a path with "//" goes to a worker too rather than be told apart.
  constexpr std::string_view kPluginRoutes = "/api/v1/plugins/";
  const std::string_view path = request.path;
  if (path.starts_with(kPluginRoutes) || path.find("//") != std::string_view::npos) {
    return http::Placement::kWorker;
  }
  // Reports may read a million cases: a worker waits for them, not the io thread.
  if (path.starts_with("/api/v1/reports/")) return http::Placement::kWorker;
  for (const auto& mount : plugin_short_mounts_) {
    if (path.starts_with(mount) && (path.size() == mount.size() || path[mount.size()] == '/')) {
      return http::Placement::kWorker;
    }
  }
  return http::Placement::kIoThread;
}

std::optional<sdk::HttpResponse> Host::admit(sdk::HttpRequest& request, std::string_view peer) {
  // The one route without a token that reads a body: a partner's report, signed per connector
  // instance; its admission (instance, throttle, headers, timestamp, size) is decided there.
  // Decided on the router's match (which ignores empty segments), never on the raw path; the
  // peer note is the server's alone, whatever a client sent.
  request.headers.erase(connectors::kPeerHeader);
  request.headers.erase(connectors::kLegacyPeerHeader);
  request.headers.erase(kTokenEpochNote);
  request.headers.erase(kWriterBatchNote);
  for (const char* note :
       {sessions::kClientHeader, sessions::kSessionHeader, sessions::kTouchHeader})
    request.headers.erase(note);
  const auto match = router_->match(request.method, request.path);
  if (match.kind == http::RouteMatch::Kind::kFound && match.route->in_writer_batch) {
    request.headers[kWriterBatchNote] = "1";
  }
  if (inbound_ && connectors::Inbound::handles(match)) {
    return inbound_->admit(request, match.path_params.at("instance"), peer);
  }
  const std::string token = bearer_token(request);
  const auto is_public = [&] {
    return match.kind == http::RouteMatch::Kind::kFound && match.route->options.public_route;
  };
  // The peer's address for the sign-in throttle, noted only where a public route of the host
  // (sign-in, setting a password) may need it. Hex: the key holds raw address bytes, and headers
  // must stay printable for route code.
  if (is_public() && match.route->owner == "host") {
    request.headers[sessions::kClientHeader] = text::to_hex(peer);
  }
  if (token.empty()) {
    // The console's session cookie: a second credential for the same principal (bearer first).
    const auto cookie = sessions::session_cookie(request);
    if (!cookie.empty() && sessions_) {
      if (auto refused = sessions_->admit(request, cookie, is_public())) return refused;
    }
    if (request.principal || is_public()) return std::nullopt;
    return unauthenticated(cookie.empty() ? Credential::kNone : Credential::kSessionCookie);
  }
  // Checked before the token is looked up: a throttled address learns nothing about its guess.
  if (const int wait = throttle_->retry_after(peer); wait > 0) {
    if (is_public()) return std::nullopt;
    auto response = sdk::HttpResponse::error(
        429, "too_many_failed_sign_ins",
        "too many unknown tokens from this address; try again in " + std::to_string(wait) + " s");
    response.headers["retry-after"] = std::to_string(wait);
    return response;
  }
  // A body-less read served on the io thread may take its principal from the token cache: answer()
  // confirms it in the handler's own read transaction (one per request instead of two). Every
  // other request is authenticated here, before a byte of its body is read. (An OPTIONS request
  // is answered without answer(): on a cached token it may list a path's methods, which the
  // public OpenAPI document lists anyway.)
  const auto no_body = [&] {
    const auto length = request.headers.find("content-length");
    return request.headers.find("transfer-encoding") == request.headers.end() &&
           (length == request.headers.end() || length->second == "0");
  };
  if (placement(request) == http::Placement::kIoThread && no_body()) {
    if (auto provisional = access_->cached(token)) {
      request.principal = std::move(provisional->principal);
      request.headers[kTokenEpochNote] = std::to_string(provisional->epoch);
      return std::nullopt;
    }
  }
  request.principal = access_->authenticate(token);
  if (request.principal || is_public()) return std::nullopt;
  throttle_->record_failure(peer);
  return unauthenticated(Credential::kToken);
}

sdk::HttpResponse Host::handle(sdk::HttpRequest& request) {
  auto match = router_->match(request.method, request.path);
  const bool is_public =
      match.kind == http::RouteMatch::Kind::kFound && match.route->options.public_route;
  if (!is_public) {
    // Authenticate before telling whether a route exists (the server did in admit(); in-process
    // callers come here without a principal).
    const std::string token = request.principal ? std::string() : bearer_token(request);
    if (!token.empty()) request.principal = access_->authenticate(token);
    if (!request.principal) {
      return unauthenticated(token.empty() ? Credential::kNone : Credential::kToken);
    }
  }
  if (match.kind == http::RouteMatch::Kind::kNotFound) {
    return sdk::HttpResponse::error(404, "not_found", "no resource at " + request.path);
  }
  if (match.kind == http::RouteMatch::Kind::kMethodNotAllowed) {
    std::string allow;
    for (auto method : match.allowed) {
      allow += (allow.empty() ? "" : ", ") + std::string(sdk::to_string(method));
    }
    auto response = sdk::HttpResponse::error(405, "method_not_allowed",
                                             std::string(sdk::to_string(request.method)) +
                                                 " is not allowed here (allowed: " + allow + ")");
    response.headers["allow"] = allow;
    return response;
  }
  const auto& roles = match.route->options.roles;
  if (!roles.empty() && request.principal &&
      std::find(roles.begin(), roles.end(), request.principal->role) == roles.end()) {
    audit::SecurityLog::note({*request.principal, request.request_id}, "route",
                             match.route->pattern);
    return sdk::HttpResponse::error(403, "forbidden",
                                    "role " + request.principal->role + " may not do this");
  }
  request.path_params = std::move(match.path_params);
  // Credentials (token, session cookie, CSRF token) and the host's notes (":kim-…") are not a
  // plugin's to read: it gets the principal. Held apart while its handler runs, back for the
  // host's steps after it (the session's touch).
  std::map<std::string, std::string> held;
  if (match.route->owner != "host") {
    for (auto it = request.headers.lower_bound(":");
         it != request.headers.end() && it->first.starts_with(':');) {
      held.insert(request.headers.extract(it++));
    }
    for (const char* name : {"authorization", "cookie", sessions::kCsrfHeader}) {
      if (auto node = request.headers.extract(name)) held.insert(std::move(node));
    }
  }
  struct Restore {
    sdk::HttpRequest& request;
    std::map<std::string, std::string>& held;
    ~Restore() { request.headers.merge(held); }
  } restore{request, held};
  try {
    return match.route->handler(request);
  } catch (const std::exception& e) {
    logger_->error("request {} ({} {}) failed in {}: {}", request.request_id,
                   sdk::to_string(request.method), match.route->pattern, match.route->owner,
                   e.what());
    return failure_answer(request.request_id);
  }
}

void Host::flush_refusals(const sdk::HttpRequest& request) {
  // Written apart from the request's transaction, which a refusal usually rolled back.
  if (!security_ || security_->idle()) return;
  security_->flush(request.request_id, request.principal ? &*request.principal : nullptr,
                   request_route(request));
}

sdk::HttpResponse Host::failure_answer(const std::string& request_id) const {
  if (store_ && store_->writes_refused()) {
    return sdk::HttpResponse::error(
        503, "writes_refused",
        "kim accepts no writes: a sync of the database to disk failed, so what is on disk is "
        "unknown; an administrator must check the disk and restart kim (request id " +
            request_id + ")");
  }
  return sdk::HttpResponse::error(500, "internal_error",
                                  "internal error; request id " + request_id);
}

void Host::add_host_routes() {
  using sdk::HttpMethod;
  // The one clock and id source of every service (tests of date rules inject their own).
  domain::Env& env = domain::Env::system();
  domain::set_max_json_depth(config_.server.max_json_depth);
  cases_ = std::make_unique<cases::CaseService>(*store_, *events_, env);
  admin_ = std::make_unique<orgs::AdminService>(*store_, *events_, env);
  orgs::register_routes(*router_, *docs_, *admin_);
  cases::register_routes(*router_, *docs_, *cases_, *store_);
  partners_ = std::make_unique<partners::PartnerService>(
      *store_, *events_, env, outbox::instance_names(config_.connectors));
  partners::register_routes(*router_, *docs_, *partners_);
  referrals_ = std::make_unique<referrals::ReferralService>(*store_, *events_,
                                                            config_.referral_max_wait_days, env);
  referrals::register_routes(*router_, *docs_, *referrals_);
  // Challenges' suggestions come from the referral-gaps report, through its public function.
  steering_ = std::make_unique<steering::SteeringService>(
      *store_, *events_,
      [referrals = referrals_.get()](const domain::Context& ctx) {
        return referrals->gaps_report(ctx);
      },
      env);
  steering::register_routes(*router_, *docs_, *steering_);
  chains_ = std::make_unique<chains::ChainService>(*store_, *events_, env);
  chains::register_routes(*router_, *docs_, *chains_);
  consent_ = std::make_unique<consent::ConsentService>(
      *store_, *events_,
      [referrals = referrals_.get()](domain::Change& change, const std::string& consent_id) {
        return referrals->stop_for_revoked_consent(change, consent_id);
      },
      env);
  consent::register_routes(*router_, *docs_, *consent_);
  reports_ = std::make_unique<reports::ReportService>(*store_, *events_, env,
                                                      config_.referral_max_wait_days);
  reports::register_routes(*router_, *docs_, *reports_);
  funding_ = std::make_unique<reports::FundingService>(*store_, *events_, env);
  reports::register_funding_routes(*router_, *docs_, *funding_);
  outbox_ = std::make_unique<outbox::OutboxService>(
      *store_, *events_, env, config_.connectors,
      [this](const std::string& instance) {
        return dispatcher_ ? dispatcher_->status(instance) : outbox::InstanceStatus{};
      },
      [this] {
        if (dispatcher_) dispatcher_->wake();
      });
  outbox::register_routes(*router_, *docs_, *outbox_);
  retention_ = std::make_unique<retention::RetentionService>(
      *store_, *events_, env, config_.retention, *personal_data_, [this] {
        return plugins_ ? plugins_->absent_personal_data_holders() : std::vector<std::string>{};
      });
  retention::register_routes(*router_, *docs_, *retention_);
  sessions_ = std::make_unique<sessions::SessionService>(*store_, *events_, env, config_.sessions,
                                                         log::get("sessions"));
  sessions_->register_routes(*router_, *docs_);
  console::register_routes(*router_, *docs_);
  docs_->describe(HttpMethod::kGet, "/health",
                  {"Liveness and readiness (no token)", "host", nullptr});
  docs_->describe(HttpMethod::kGet, "/api/v1/plugins",
                  {"Plugins and their state", "host", nullptr});
  docs_->describe(HttpMethod::kGet, "/api/v1/jobs", {"Scheduled jobs (admin)", "host", nullptr});
  docs_->describe(HttpMethod::kPost, "/api/v1/jobs/{name}/run",
                  {"Run a job now (admin)", "host", nullptr});
  docs_->describe(HttpMethod::kGet, "/api/v1/openapi.json", {"This document", "host", nullptr});
  router_->add({HttpMethod::kGet, "/api/v1/openapi.json",
                [this](const sdk::HttpRequest&) {
                  return sdk::HttpResponse::json(200, docs_->document(*router_, host_version()));
                },
                sdk::RouteOptions::public_access(), "host"});
  router_->add({HttpMethod::kGet, "/health", [this](const sdk::HttpRequest&) { return health(); },
                sdk::RouteOptions::public_access(), "host"});
  router_->add({HttpMethod::kGet,
                "/api/v1/plugins",
                [this](const sdk::HttpRequest& request) { return list_plugins(request); },
                {},
                "host"});
  router_->add({HttpMethod::kGet, "/api/v1/jobs",
                [this](const sdk::HttpRequest&) { return list_jobs(); },
                sdk::RouteOptions::for_roles({"admin"}), "host"});
  router_->add({HttpMethod::kPost, "/api/v1/jobs/{name}/run",
                [this](const sdk::HttpRequest& request) { return run_job(request); },
                sdk::RouteOptions::for_roles({"admin"}), "host"});
}

void Host::decide_supervision() {
  // Fail closed: a rule plugin that is enabled but not running would send new records to the
  // organisation's usual supervisor, and re-deciding without it would hand its offices' cases
  // back. Both wait until it runs (or is disabled in the config).
  if (auto absent = plugins_->absent_rule_holders(); !absent.empty()) {
    std::string names;
    for (const auto& id : absent)
      names += (names.empty() ? "" : ", ") + id;
    const std::string reason =
        "supervision cannot be decided: the enabled plugin(s) " + names +
        " did not start (see kim plugins list); recording persons, opening cases and moves wait "
        "until an administrator fixes or disables it";
    events_->suspend_supervision(reason);
    logger_->error("{}", reason);
    return;
  }
  auto result = cases_->resupervise_all();
  if (!result) {
    events_->suspend_supervision(result.problem().message);
    logger_->error("supervision suspended: {}", result.problem().message);
    return;
  }
  if (const int changed = result.value().body["changed"].get<int>(); changed > 0) {
    logger_->info("supervision decided again by the current rules: {} records changed", changed);
  }
}

sdk::HttpResponse Host::health() {
  nlohmann::json body = {{"status", "ok"},
                         {"version", host_version()},
                         {"sdk_version", KIM_SDK_VERSION_STRING},
                         {"deployment", config_.deployment_name}};
  try {
    store_->read([](store::Connection& db) { return db.query("SELECT 1"); });
    body["database"] = "ok";
    if (store_->writes_refused()) {  // logged as critical when it happened
      body["status"] = "degraded";
      body["database"] = "writes_refused";
    }
  } catch (const std::exception& e) {
    logger_->error("health check: database unavailable: {}", e.what());
    body["status"] = "degraded";
    body["database"] = "unavailable";
  }
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& report : plugins_->reports()) {
    counts[std::string(plugins::to_string(report.state))] =
        counts.value(std::string(plugins::to_string(report.state)), 0) + 1;
  }
  body["plugins"] = counts;
  // Persons and cases cannot be recorded while suspended (see decide_supervision).
  body["supervision"] = events_->supervision_suspended() ? "suspended" : "ok";
  return sdk::HttpResponse::json(body["status"] == "ok" ? 200 : 503, body);
}

sdk::HttpResponse Host::list_plugins(const sdk::HttpRequest& request) {
  const bool admin = request.principal && request.principal->role == "admin";
  nlohmann::json items = nlohmann::json::array();
  for (const auto& report : plugins_->reports())
    items.push_back(plugins::to_json(report, admin));
  return sdk::HttpResponse::json(200, {{"items", items}});
}

sdk::HttpResponse Host::list_jobs() {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& job : scheduler_->jobs()) {
    nlohmann::json item = {
        {"name", job.name}, {"owner", job.owner},       {"interval_ms", job.interval.count()},
        {"runs", job.runs}, {"failures", job.failures}, {"last_error", job.last_error}};
    item["last_run"] = job.last_run ? nlohmann::json(iso_time(*job.last_run)) : nullptr;
    items.push_back(item);
  }
  return sdk::HttpResponse::json(200, {{"items", items}});
}

sdk::HttpResponse Host::run_job(const sdk::HttpRequest& request) {
  const auto& name = request.path_params.at("name");
  if (!scheduler_->trigger(name)) {
    return sdk::HttpResponse::error(404, "not_found", "no job named " + name, "name");
  }
  return sdk::HttpResponse::json(202, {{"job", name}, {"status", "queued"}});
}

}  // namespace kim::app
