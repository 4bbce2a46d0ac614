// The `kim` command line: serve, plugins list, token create/list/revoke, user disable/enable,
// config check, demo seed, report indicators.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/program_options.hpp>

#include "app/demo_seed.hpp"
#include "app/host.hpp"
#include "auth/access.hpp"
#include "config/host_config.hpp"
#include "domain/env.hpp"
#include "domain/validation.hpp"
#include "events/event_bus.hpp"
#include "kim/sdk/version.hpp"
#include "log/logging.hpp"
#include "orgs/organisations.hpp"
#include "outbox/outbox.hpp"
#include "partners/partners.hpp"
#include "reports/indicators.hpp"
#include "reports/reports.hpp"
#include "retention/retention.hpp"
#include "sessions/sessions.hpp"

namespace po = boost::program_options;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char* const kUsage = R"(kim — KIM Platform host

Usage:
  kim serve --config FILE [--listen HOST:PORT] [--data-dir DIR]
  kim plugins list --config FILE [--json]
  kim token create --config FILE --user NAME --role ROLE [--org ORG] [--label TEXT]
                   [--data-dir DIR]
  kim token list --config FILE --user NAME [--data-dir DIR]
  kim token revoke --config FILE --id TOKEN_ID [--data-dir DIR]
  kim user disable --config FILE --user NAME [--data-dir DIR]
  kim user enable --config FILE --user NAME [--data-dir DIR]
  kim user invite --config FILE --user NAME [--data-dir DIR]
  kim outbox list --config FILE [--state S] [--partner P] [--case ID] [--data-dir DIR]
  kim outbox retry --config FILE (--id ID | --dead [--partner P] [--type T] [--from TIME]
                   [--to TIME]) [--data-dir DIR]
  kim outbox discard --config FILE --id ID --reason TEXT [--data-dir DIR]
  kim config check --config FILE
  kim demo seed --config FILE [--seed N] [--data-dir DIR] [--demo-data DIR]
  kim report indicators --config FILE --from DATE --to DATE [--format json|csv] [--town TOWN]
                   [--organisation SLUG] [--data-dir DIR]
  kim retention run --config FILE [--data-dir DIR] [--as-of DATE]
  kim backup (--config FILE [--data-dir DIR] | --data-dir DIR) --out FILE
  kim --version
  kim --help            (or: kim COMMAND --help)

Commands:
  serve          Start the host: open and migrate the database, load the enabled plugins,
                 serve the HTTP API. Stops gracefully on SIGINT/SIGTERM.
  plugins list   Show every plugin file found: id, version, SDK version, enabled or not,
                 loaded or the reason it was refused. Does not touch the database.
  token create   Create a user (if new) and an API token for it; prints the token once.
                 Roles: admin, case_manager, coordinator, authority_officer, auditor.
  token list     A user's tokens: id, prefix, label, created, revoked (never the secret).
  token revoke   Revoke a token by its id; a running host refuses it from the next request.
  user disable   Disable a user: none of its tokens works from the next request on.
  user enable    Enable a disabled user again. Revocations and user changes are audited
                 (user "cli").
  user invite    Print a one-time link for the user to set a console password (valid for
                 sessions.invite_valid_hours; a new link voids the older one). Audited.
  outbox list    Messages for partners (no payload): id, state, attempts, partner, type, error.
  outbox retry   Re-run a dead message, or every dead letter matching a filter (--dead).
  outbox discard Set a dead or pending message aside for good, with a reason. Both audited.
  config check   Validate a config file and print it with every default filled in.
  demo seed      Fill an EMPTY database with fictional demo data (participants in all towns,
                 cases in every phase, organisations, users) and print the demo users' tokens.
                 Refuses a database that holds real data or was seeded before.
  report indicators
                 The indicator report of a period (as GET /api/v1/reports/indicators) on
                 stdout; counts below 5 shown as "<5". Audited (user "cli").
  retention run  Run the retention job once (as the host does every retention.interval_minutes):
                 anonymise what passed its retention period, prune old audit entries,
                 checkpoint the WAL. --as-of runs it as of another date (rehearsals, tests).
                 Exits 1 without anonymising cases or persons while an enabled plugin that
                 may hold personal data does not start.
  backup         Copy the database to a new file with VACUUM INTO: one consistent snapshot,
                 only live rows, no free pages and no WAL (nothing deleted survives in it).

Exit status: 0 success, 1 failure while running, 2 bad usage or invalid config.
)";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

po::variables_map parse(const std::vector<std::string>& args, const po::options_description& desc) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help")) return vm;
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return vm;
}

po::options_description common_options(const char* title) {
  po::options_description desc(title);
  desc.add_options()("help,h", "show this help")("config,c", po::value<std::string>()->required(),
                                                 "host config file (JSON)");
  return desc;
}

kim::config::HostConfig load_config(const po::variables_map& vm) {
  auto config = kim::config::load_host_config(vm["config"].as<std::string>());
  // Before any thread starts: the calendar date (domain::Env::today) and the log's local times
  // follow the deployment's zone, not the server's (often UTC in containers).
  ::setenv("TZ", config.time_zone.c_str(), 1);
  ::tzset();
  kim::log::configure(config.log);
  return config;
}

// --data-dir moves the data folder; the database keeps its place relative to it.
void apply_data_dir(const po::variables_map& vm, kim::config::HostConfig& config) {
  if (!vm.count("data-dir")) return;
  auto file_name = config.database.path.lexically_relative(config.data_dir);
  config.data_dir = std::filesystem::absolute(vm["data-dir"].as<std::string>());
  config.database.path = config.data_dir / file_name;
}

int run_serve(const std::vector<std::string>& args) {
  auto desc = common_options("kim serve options");
  desc.add_options()("listen", po::value<std::string>(),
                     "HOST:PORT to listen on (overrides server.listen)")(
      "data-dir", po::value<std::string>(), "data folder (overrides data_dir)");
  auto vm = parse(args, desc);
  if (vm.count("help")) {
    std::cout << "Usage: kim serve --config FILE [--listen HOST:PORT] [--data-dir DIR]\n\n"
              << desc << "\n";
    return kExitOk;
  }
  auto config = load_config(vm);
  if (vm.count("listen")) {
    try {
      std::tie(config.server.host, config.server.port) =
          kim::config::parse_listen_address(vm["listen"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--listen: ") + e.what());
    }
  }
  apply_data_dir(vm, config);
  kim::app::Host host(std::move(config));
  host.open();
  host.serve();
  return kExitOk;
}

// "2 routes, 1 supervision rule, 3 partners (a, b, c)": what a plugin changes once it runs.
std::string registrations(const kim::plugins::PluginReport& r) {
  std::vector<std::string> parts;
  auto count = [&](std::size_t n, const char* one, const char* many) {
    if (n > 0) parts.push_back(std::to_string(n) + " " + (n == 1 ? one : many));
  };
  count(r.routes.size(), "route", "routes");
  count(r.subscriptions.size(), "subscription", "subscriptions");
  count(r.hooks.size(), "hook", "hooks");
  count(r.connectors.size(), "connector type", "connector types");
  count(r.jobs.size(), "job", "jobs");
  count(static_cast<std::size_t>(r.supervision_rules), "supervision rule", "supervision rules");
  count(static_cast<std::size_t>(r.referral_routers), "referral router", "referral routers");
  count(r.partners.size(), "partner", "partners");
  std::string text;
  for (const auto& part : parts)
    text += (text.empty() ? "" : ", ") + part;
  return text;
}

int run_plugins_list(const std::vector<std::string>& args) {
  auto desc = common_options("kim plugins list options");
  desc.add_options()("json", "print JSON instead of a table");
  auto vm = parse(args, desc);
  if (vm.count("help")) {
    std::cout << "Usage: kim plugins list --config FILE [--json]\n\n" << desc << "\n";
    return kExitOk;
  }
  auto config = load_config(vm);
  kim::app::Host host(std::move(config));
  auto reports = host.inspect_plugins();
  // Non-zero when `serve` would run without a plugin the config enables: scripts can rely on it.
  const bool problem = std::any_of(reports.begin(), reports.end(), [](const auto& r) {
    return r.enabled && (r.state == kim::plugins::PluginState::kRefused ||
                         r.state == kim::plugins::PluginState::kMissing);
  });
  const int exit_code = problem ? kExitFailure : kExitOk;
  if (vm.count("json")) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& r : reports)
      items.push_back(kim::plugins::to_json(r, true));
    std::cout << items.dump(2) << "\n";
    return exit_code;
  }
  if (reports.empty()) {
    std::cout << "No plugin files found.\n";
    return exit_code;
  }
  std::printf("%-20s %-10s %-8s %-8s %-9s %s\n", "ID", "VERSION", "SDK", "ENABLED", "STATE",
              "FILE / REASON");
  for (const auto& r : reports) {
    std::printf("%-20s %-10s %-8s %-8s %-9s %s\n", r.id.c_str(),
                r.version.empty() ? "-" : r.version.c_str(),
                r.sdk_version.empty() ? "-" : r.sdk_version.c_str(), r.enabled ? "yes" : "no",
                std::string(kim::plugins::to_string(r.state)).c_str(),
                r.file.empty() ? "-" : r.file.string().c_str());
    if (!r.reason.empty()) std::printf("%-20s   reason: %s\n", "", r.reason.c_str());
    if (const auto adds = registrations(r); !adds.empty()) {
      std::printf("%-20s   registers: %s\n", "", adds.c_str());
    }
  }
  if (problem) {
    std::cerr << "An enabled plugin would not run (see its reason); kim serve would start "
                 "without it.\n";
  }
  return exit_code;
}

int run_token_create(const std::vector<std::string>& args) {
  auto desc = common_options("kim token create options");
  desc.add_options()("user", po::value<std::string>()->required(), "user name (created if new)")(
      "role", po::value<std::string>()->required(),
      "admin | case_manager | coordinator | authority_officer | auditor")(
      "org", po::value<std::string>()->default_value(""), "organisation of the user")(
      "label", po::value<std::string>()->default_value("cli"), "what the token is for")(
      "data-dir", po::value<std::string>(), "data folder (overrides data_dir)");
  auto vm = parse(args, desc);
  if (vm.count("help")) {
    std::cout << "Usage: kim token create --config FILE --user NAME --role ROLE [--org ORG] "
                 "[--data-dir DIR]\n\n"
              << desc << "\n";
    return kExitOk;
  }
  auto config = load_config(vm);
  apply_data_dir(vm, config);
  auto store = kim::app::open_store(config);
  kim::events::EventBus events(kim::log::get("events"));
  kim::orgs::AdminService admin(*store, events, kim::domain::Env::system());
  nlohmann::json body{{"name", vm["user"].as<std::string>()},
                      {"role", vm["role"].as<std::string>()},
                      {"label", vm["label"].as<std::string>()}};
  if (!vm["org"].as<std::string>().empty()) body["organisation"] = vm["org"].as<std::string>();
  // The same checks and audit entries as POST /api/v1/users, as the CLI's actor.
  auto result = admin.grant_token(kim::orgs::cli_context(), body);
  store->close();
  if (!result) {
    const auto& problem = result.problem();
    throw UsageError((problem.field.empty() ? "" : problem.field + ": ") + problem.message);
  }
  std::cerr << "Token for user \"" << vm["user"].as<std::string>()
            << "\" created. It is shown only now; store it safely:\n";
  std::cout << result.value().body["token"].get<std::string>() << "\n";
  return kExitOk;
}

// Administration from the command line (another process than a running host: the host reads
// tokens and users from the database on every request, so a change here counts at once there).
// `act` gets the service and the CLI's audit context; a Problem is bad usage (exit 2).
// `make(store, events, config)` builds the service once the database is open.
template <class Make, class Act>
int run_service(const std::vector<std::string>& args, const char* usage,
                const po::options_description& extra, Make make, Act act) {
  auto desc = common_options("options");
  desc.add(extra);
  desc.add_options()("data-dir", po::value<std::string>(), "data folder (overrides data_dir)");
  auto vm = parse(args, desc);
  if (vm.count("help")) {
    std::cout << "Usage: " << usage << "\n\n" << desc << "\n";
    return kExitOk;
  }
  auto config = load_config(vm);
  apply_data_dir(vm, config);
  auto store = kim::app::open_store(config);
  kim::events::EventBus events(kim::log::get("events"));
  auto service = make(*store, events, config);
  auto result = act(service, kim::orgs::cli_context(), vm);
  store->close();
  if (!result) throw UsageError(result.problem().message);
  return kExitOk;
}

template <class Act>
int run_admin(const std::vector<std::string>& args, const char* usage,
              const po::options_description& extra, Act act) {
  return run_service(
      args, usage, extra,
      [](kim::store::Store& store, kim::events::EventBus& events, const kim::config::HostConfig&) {
        return kim::orgs::AdminService(store, events, kim::domain::Env::system());
      },
      act);
}

// The outbox from the command line: the same service (and audit) as the API; a running host's
// dispatcher finds a re-queued message at its next poll.
template <class Act>
int run_outbox(const std::vector<std::string>& args, const char* usage,
               const po::options_description& extra, Act act) {
  return run_service(
      args, usage, extra,
      [](kim::store::Store& store, kim::events::EventBus& events,
         const kim::config::HostConfig& config) {
        return kim::outbox::OutboxService(store, events, kim::domain::Env::system(),
                                          config.connectors);
      },
      act);
}

std::optional<std::string> optional_arg(const po::variables_map& vm, const char* name) {
  if (!vm.count(name)) return std::nullopt;
  return vm[name].as<std::string>();
}

int run_outbox_list(const std::vector<std::string>& args) {
  po::options_description extra;
  extra.add_options()("state", po::value<std::string>(),
                      "pending, in_flight, delivered, dead or discarded")(
      "partner", po::value<std::string>(), "partner slug")(
      "case", po::value<std::string>(), "case id")("limit", po::value<int>()->default_value(200),
                                                   "most messages shown (1-200)");
  return run_outbox(
      args,
      "kim outbox list --config FILE [--state S] [--partner P] [--case ID] [--limit N] "
      "[--data-dir DIR]",
      extra,
      [](kim::outbox::OutboxService& outbox, const kim::domain::Context& ctx,
         const po::variables_map& vm) {
        kim::outbox::OutboxFilter filter;
        filter.state = optional_arg(vm, "state");
        filter.partner = optional_arg(vm, "partner");
        filter.case_id = optional_arg(vm, "case");
        filter.limit = std::clamp(vm["limit"].as<int>(), 1, 200);
        auto result = outbox.list(ctx, filter);
        if (!result) return result;
        std::printf("%-24s %-10s %-8s %-28s %-26s %s\n", "ID", "STATE", "ATTEMPTS", "PARTNER",
                    "TYPE", "LAST ERROR");
        for (const auto& message : result.value().body["items"]) {
          std::printf("%-24s %-10s %-8d %-28s %-26s %s\n", message["id"].get<std::string>().c_str(),
                      message["state"].get<std::string>().c_str(), message["attempts"].get<int>(),
                      message["partner"].get<std::string>().c_str(),
                      message["type"].get<std::string>().c_str(),
                      message["last_error"].is_string()
                          ? message["last_error"].get<std::string>().c_str()
                          : "-");
        }
        return result;
      });
}

int run_outbox_retry(const std::vector<std::string>& args) {
  po::options_description extra;
  extra.add_options()("id", po::value<std::string>(), "the message's id (kim outbox list)")(
      "dead", "every dead letter matching --partner, --type, --from, --to")(
      "partner", po::value<std::string>(), "with --dead: partner slug")(
      "type", po::value<std::string>(), "with --dead: message type")(
      "from", po::value<std::string>(), "with --dead: created at or after (ISO 8601)")(
      "to", po::value<std::string>(), "with --dead: created at or before (ISO 8601)");
  return run_outbox(
      args,
      "kim outbox retry --config FILE (--id ID | --dead [--partner P] [--type T] [--from TIME] "
      "[--to TIME]) [--data-dir DIR]",
      extra,
      [](kim::outbox::OutboxService& outbox, const kim::domain::Context& ctx,
         const po::variables_map& vm) {
        if (vm.count("id") == vm.count("dead")) throw UsageError("give either --id or --dead");
        if (vm.count("id")) {
          auto result = outbox.retry(ctx, vm["id"].as<std::string>());
          if (result) std::cout << "Message " << vm["id"].as<std::string>() << " re-queued.\n";
          return result;
        }
        nlohmann::json filter = nlohmann::json::object();
        for (const char* key : {"partner", "type", "from", "to"}) {
          if (auto value = optional_arg(vm, key)) filter[key] = *value;
        }
        auto result = outbox.retry_dead_letters(ctx, filter);
        if (result) std::cout << result.value().body["requeued"] << " dead letter(s) re-queued.\n";
        return result;
      });
}

int run_outbox_discard(const std::vector<std::string>& args) {
  po::options_description extra;
  extra.add_options()("id", po::value<std::string>()->required(), "the message's id")(
      "reason", po::value<std::string>()->required(), "why it is set aside (kept on record)");
  return run_outbox(args, "kim outbox discard --config FILE --id ID --reason TEXT [--data-dir DIR]",
                    extra,
                    [](kim::outbox::OutboxService& outbox, const kim::domain::Context& ctx,
                       const po::variables_map& vm) {
                      auto result = outbox.discard(ctx, vm["id"].as<std::string>(),
                                                   {{"reason", vm["reason"].as<std::string>()}});
                      if (result)
                        std::cout << "Message " << vm["id"].as<std::string>() << " discarded.\n";
                      return result;
                    });
}

std::string user_id_arg(kim::orgs::AdminService& admin, const po::variables_map& vm) {
  const auto name = vm["user"].as<std::string>();
  auto id = admin.user_id_of(name);
  if (!id) throw UsageError("no user named \"" + name + "\"");
  return std::to_string(*id);
}

int run_token_list(const std::vector<std::string>& args) {
  po::options_description extra;
  extra.add_options()("user", po::value<std::string>()->required(), "user name");
  return run_admin(
      args, "kim token list --config FILE --user NAME [--data-dir DIR]", extra,
      [](kim::orgs::AdminService& admin, const kim::domain::Context& ctx,
         const po::variables_map& vm) {
        auto result = admin.list_tokens(ctx, user_id_arg(admin, vm));
        if (!result) return result;
        std::printf("%-8s %-10s %-20s %-26s %s\n", "ID", "PREFIX", "LABEL", "CREATED", "REVOKED");
        for (const auto& token : result.value().body["items"]) {
          std::printf(
              "%-8lld %-10s %-20s %-26s %s\n",
              static_cast<long long>(token["id"].get<std::int64_t>()),
              token["token_prefix"].get<std::string>().c_str(),
              token["label"].get<std::string>().c_str(),
              token["created_at"].get<std::string>().c_str(),
              token["revoked_at"].is_null() ? "-" : token["revoked_at"].get<std::string>().c_str());
        }
        return result;
      });
}

int run_token_revoke(const std::vector<std::string>& args) {
  po::options_description extra;
  extra.add_options()("id", po::value<std::string>()->required(),
                      "the token's id (kim token list, GET /api/v1/users/{id}/tokens)");
  return run_admin(args, "kim token revoke --config FILE --id TOKEN_ID [--data-dir DIR]", extra,
                   [](kim::orgs::AdminService& admin, const kim::domain::Context& ctx,
                      const po::variables_map& vm) {
                     auto result = admin.revoke_token(ctx, vm["id"].as<std::string>());
                     if (result)
                       std::cout << "Token " << vm["id"].as<std::string>() << " revoked.\n";
                     return result;
                   });
}

int run_user_disable(const std::vector<std::string>& args, bool disable) {
  po::options_description extra;
  extra.add_options()("user", po::value<std::string>()->required(), "user name");
  return run_admin(args,
                   disable ? "kim user disable --config FILE --user NAME [--data-dir DIR]"
                           : "kim user enable --config FILE --user NAME [--data-dir DIR]",
                   extra,
                   [disable](kim::orgs::AdminService& admin, const kim::domain::Context& ctx,
                             const po::variables_map& vm) {
                     auto result = admin.set_disabled(ctx, user_id_arg(admin, vm), disable);
                     if (result) {
                       std::cout << "User " << vm["user"].as<std::string>()
                                 << (disable ? " disabled.\n" : " enabled.\n");
                     }
                     return result;
                   });
}

int run_user_invite(const std::vector<std::string>& args) {
  po::options_description extra;
  extra.add_options()("user", po::value<std::string>()->required(), "user name");
  std::string base;                 // where users open the console
  kim::store::Store* db = nullptr;  // to find the user by name
  return run_service(
      args, "kim user invite --config FILE --user NAME [--data-dir DIR]", extra,
      [&](kim::store::Store& store, kim::events::EventBus& events,
          const kim::config::HostConfig& config) {
        base = config.sessions.public_url.empty()
                   ? "http://" + config.server.host + ":" + std::to_string(config.server.port)
                   : config.sessions.public_url;
        while (base.ends_with('/'))
          base.pop_back();
        db = &store;
        return std::make_unique<kim::sessions::SessionService>(
            store, events, kim::domain::Env::system(), config.sessions, kim::log::get("sessions"));
      },
      [&](std::unique_ptr<kim::sessions::SessionService>& sessions, const kim::domain::Context& ctx,
          const po::variables_map& vm) {
        const auto name = vm["user"].as<std::string>();
        auto rows = db->read([&](kim::store::Connection& c) {
          return c.query("SELECT id FROM users WHERE name = ?", {name});
        });
        if (rows.empty()) throw UsageError("no user named \"" + name + "\"");
        auto result = sessions->invite(ctx, std::to_string(rows[0]["id"].get<std::int64_t>()));
        if (result) {
          const auto& body = result.value().body;
          std::cerr << "One-time link for user \"" << name
                    << "\" to set a console password, valid until "
                    << body["expires_at"].get<std::string>() << ":\n";
          std::cout << base << body["path"].get<std::string>() << "\n";
        }
        return result;
      });
}

int run_config_check(const std::vector<std::string>& args) {
  auto desc = common_options("kim config check options");
  auto vm = parse(args, desc);
  if (vm.count("help")) {
    std::cout << "Usage: kim config check --config FILE\n\n" << desc << "\n";
    return kExitOk;
  }
  auto config = load_config(vm);
  // The partner seeds follow the rules of the partner API, which the schema does not express.
  auto partner_problems = kim::partners::seed_problems(config.partners);
  // Everything `serve` checks of plugins (files, config blocks, migrations against an existing
  // database) and connector instances against the types the host and the enabled plugins
  // register; plugins are loaded for this, not started.
  {
    kim::app::Host host(config);
    auto connector_problems = host.check_plugins();
    partner_problems.insert(partner_problems.end(), connector_problems.begin(),
                            connector_problems.end());
  }
  if (!partner_problems.empty()) {
    throw kim::config::ConfigError(vm["config"].as<std::string>(), partner_problems);
  }
  std::cout << vm["config"].as<std::string>() << " is valid.\n"
            << "  deployment:  " << config.deployment_name << "\n"
            << "  time zone:   " << config.time_zone << " (today is " << kim::domain::today()
            << ")\n"
            << "  listen:      " << config.server.host << ":" << config.server.port << "\n"
            << "  data folder: " << config.data_dir.string() << "\n"
            << "  database:    " << config.database.path.string()
            << " (synchronous=" << config.database.synchronous << ")\n"
            << "  log level:   " << config.log.level << "\n";
  auto directories = config.plugins.directories;
  if (directories.empty()) directories.push_back(kim::app::default_plugin_directory());
  for (const auto& d : directories)
    std::cout << "  plugin dir:  " << d.string() << "\n";
  for (const auto& connector : config.connectors) {
    std::cout << "  connector:   " << connector.name << " (" << connector.type << ")\n";
  }
  std::cout << "  partners:    " << config.partners.size() << " seeded (created when new)\n"
            << "  referrals:   gaps after " << config.referral_max_wait_days
            << " days without an answer\n";
  for (const auto& [id, setting] : config.plugins.settings) {
    std::cout << "  plugin:      " << id << (setting.enabled ? " (enabled)" : " (disabled)")
              << "\n";
  }
  return kExitOk;
}

int run_demo_seed(const std::vector<std::string>& args) {
  auto desc = common_options("kim demo seed options");
  desc.add_options()("seed", po::value<std::uint64_t>()->default_value(1),
                     "random seed: the same seed gives the same persons and cases")(
      "data-dir", po::value<std::string>(), "data folder (overrides data_dir)")(
      "demo-data", po::value<std::string>(),
      "folder of the demo's data files (default: demo/ beside the config, else the installed "
      "share/kim/demo)");
  auto vm = parse(args, desc);
  if (vm.count("help")) {
    std::cout
        << "Usage: kim demo seed --config FILE [--seed N] [--data-dir DIR] [--demo-data DIR]\n\n"
        << "Fills an empty database with a fictional but plausible data set: organisations of\n"
        << "the county, users with API tokens (printed once), about 300 participants across the\n"
        << "24 towns with cases in every phase, assessments, goals, tasks, notes and programme\n"
        << "participations. All names are invented. The database is marked as a demo (table\n"
        << "demo_marker, persons.demo = 1). When the config seeds partners, cooperation\n"
        << "agreements, consents and referrals in every status show the partner network in use.\n\n"
        << "Refuses (exit 2, nothing written) unless the database holds no persons, no cases and\n"
        << "no users other than admin; a database seeded before is refused as well.\n\n"
        << desc << "\n";
    return kExitOk;
  }
  auto config = load_config(vm);
  apply_data_dir(vm, config);
  // The data files are checked before the database is touched.
  kim::app::DemoData data;
  try {
    std::optional<std::filesystem::path> folder;
    if (vm.count("demo-data")) folder = vm["demo-data"].as<std::string>();
    data = kim::app::load_demo_data(kim::app::find_demo_data(folder, config.source));
  } catch (const kim::app::DemoDataError& e) {
    throw UsageError(std::string("demo data: ") + e.what());
  }
  // The seed writes thousands of small transactions through the services. A demo cut short by a
  // power failure keeps an incomplete marker: the next seed refuses it and asks to delete the
  // file and seed again, so nothing depends on an fsync per commit.
  config.database.synchronous = "NORMAL";
  const auto started = std::chrono::steady_clock::now();
  auto store = kim::app::open_store(config);
  kim::app::DemoSummary summary;
  try {
    summary = kim::app::seed_demo(*store, data, vm["seed"].as<std::uint64_t>());
  } catch (const kim::app::DemoRefused& e) {
    std::cerr << "kim: " << e.what() << "\n";
    return kExitUsage;
  }
  store->close();
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  bool admin_created = false;
  for (const auto& user : summary.users)
    admin_created = admin_created || user.name == "admin";
  if (admin_created) {
    // Serve makes no bootstrap admin for a database with users; a token file left from an
    // earlier database would name a token that no longer exists.
    std::filesystem::remove(config.data_dir / "bootstrap-admin.token");
  }

  std::cout << "Demo data written to " << config.database.path.string() << " (seed " << summary.seed
            << ", " << elapsed.count() << " ms). All of it is fictional.\n"
            << "  organisations: " << summary.organisations_created << " created, "
            << summary.organisations_reused << " already known\n"
            << "  persons:       " << summary.persons << " (" << summary.participations
            << " programme participations)\n"
            << "  cases:         " << summary.cases << " (";
  bool first = true;
  for (const auto& phase : {"access", "intake", "assessment", "planning", "linking", "monitoring",
                            "reassessment", "closed"}) {
    std::cout << (first ? "" : ", ") << phase << " " << summary.cases_by_phase[phase];
    first = false;
  }
  std::cout << ")\n"
            << "  assessments " << summary.assessments << ", goals " << summary.goals << ", tasks "
            << summary.tasks << " (" << summary.overdue_tasks << " overdue), notes "
            << summary.notes << "\n";
  if (summary.agreements == 0) {
    std::cout << "  partners:      none of the demo's partners configured, so no agreements, "
                 "consents or referrals\n";
  } else {
    std::cout << "  agreements:    " << summary.agreements << ", consents " << summary.consents
              << " (" << summary.consents_revoked << " revoked), referrals " << summary.referrals
              << " (";
    first = true;
    for (const auto& status :
         {"sent", "accepted", "in_progress", "completed", "declined", "cancelled"}) {
      std::cout << (first ? "" : ", ") << status << " " << summary.referrals_by_status[status];
      first = false;
    }
    std::cout << ")\n";
  }
  std::cout << "\nDemo users and their API tokens (shown only now):\n";
  std::printf("  %-14s %-13s %-21s %s\n", "USER", "ROLE", "ORGANISATION", "TOKEN");
  for (const auto& user : summary.users) {
    std::printf("  %-14s %-13s %-21s %s\n", user.name.c_str(), user.role.c_str(),
                user.organisation.empty() ? "-" : user.organisation.c_str(), user.token.c_str());
  }
  std::fflush(stdout);
  std::string host = config.server.host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  std::string example_token = "TOKEN";
  for (const auto& user : summary.users) {
    if (user.role == "case_manager") {
      example_token = user.token;
      break;
    }
  }
  std::cout << "\nStart the host and ask for the cases of a case manager, for example:\n"
            << "  kim serve --config " << vm["config"].as<std::string>()
            << (vm.count("data-dir") ? " --data-dir " + config.data_dir.string() : "") << "\n"
            << "  curl -H \"Authorization: Bearer " << example_token << "\" \\\n"
            << "       http://" << host << ":" << config.server.port << "/api/v1/cases\n"
            << "Case managers see their own cases (or their team's), coordinators those of the\n"
            << "organisations they supervise, the auditor the audit log (/api/v1/audit).\n";
  if (summary.referrals > 0) {
    std::cout << "Referrals are listed per case (/api/v1/cases/{id}/referrals); coordinators see\n"
              << "gaps in provision under /api/v1/reports/referral-gaps.\n";
  }
  if (summary.funding_records > 0) {
    std::cout << "The county's funding (" << summary.funding_records
              << " decisions, posts and forwarding contracts) is in\n"
              << "/api/v1/reports/funding?year=2021.\n";
  }
  return kExitOk;
}

// The indicator report from the command line: the same service, checks and audit entry as the
// API (user "cli" sees every organisation). A progress line on stderr only at a terminal.
int run_report_indicators(const std::vector<std::string>& args) {
  po::options_description extra;
  extra.add_options()("from", po::value<std::string>()->required(), "first day, YYYY-MM-DD")(
      "to", po::value<std::string>()->required(), "last day, YYYY-MM-DD")(
      "format", po::value<std::string>()->default_value("json"), "json or csv")(
      "town", po::value<std::string>(), "only this town")("organisation", po::value<std::string>(),
                                                          "only this organisation (slug)");
  return run_service(
      args,
      "kim report indicators --config FILE --from DATE --to DATE [--format json|csv] "
      "[--town TOWN] [--organisation SLUG] [--data-dir DIR]",
      extra,
      [](kim::store::Store& store, kim::events::EventBus& events,
         const kim::config::HostConfig& config) {
        return kim::reports::ReportService(store, events, kim::domain::Env::system(),
                                           config.referral_max_wait_days);
      },
      [](kim::reports::ReportService& service, const kim::domain::Context& ctx,
         const po::variables_map& vm) -> kim::domain::Result<kim::domain::Reply> {
        std::map<std::string, std::string> params;
        for (const char* key : {"from", "to", "format", "town", "organisation"}) {
          if (auto value = optional_arg(vm, key)) params[key] = *value;
        }
        auto query = kim::reports::indicator_query(params);
        if (!query) return query.problem();
        kim::reports::Progress progress;
        const bool terminal = ::isatty(STDERR_FILENO) == 1;
        if (terminal) {
          progress = [](const std::string& stage, std::int64_t rows) {
            std::cerr << "\rkim report: reading " << stage;
            if (rows > 0) std::cerr << " (" << rows << " rows)";
            std::cerr << "        " << std::flush;
          };
        }
        auto result = service.indicators(ctx, query.value(), progress);
        if (terminal) std::cerr << "\r" << std::string(60, ' ') << "\r" << std::flush;
        if (!result) return result;
        if (query.value().format == "csv") {
          std::cout << kim::reports::indicators_csv(result.value().body);
        } else {
          std::cout << result.value().body.dump(2) << "\n";
        }
        return result;
      });
}

int run_retention(const std::vector<std::string>& args) {
  auto desc = common_options("kim retention run options");
  desc.add_options()("data-dir", po::value<std::string>(), "data folder (overrides data_dir)")(
      "as-of", po::value<std::string>(), "run as of this date (YYYY-MM-DD); default: today");
  auto vm = parse(args, desc);
  if (vm.count("help")) {
    std::cout << "Usage: kim retention run --config FILE [--data-dir DIR] [--as-of DATE]\n\n"
              << desc << "\n";
    return kExitOk;
  }
  auto config = load_config(vm);
  apply_data_dir(vm, config);
  std::unique_ptr<kim::domain::FixedClockEnv> fixed;
  if (vm.count("as-of")) {
    const auto date = vm["as-of"].as<std::string>();
    if (!kim::domain::is_date(date)) throw UsageError("--as-of: not a date (YYYY-MM-DD)");
    fixed = std::make_unique<kim::domain::FixedClockEnv>(
        kim::domain::FixedClockEnv::at_local_noon(date).now());
  }
  kim::app::Host host(std::move(config));
  const auto report = host.run_retention(fixed ? static_cast<kim::domain::Env&>(*fixed)
                                               : kim::domain::Env::system());
  std::cout << report.to_json().dump() << "\n";
  if (!report.waiting_for_plugins.empty()) {
    std::cerr << "kim retention run: no case or person was anonymised: the enabled plugin(s) "
              << nlohmann::json(report.waiting_for_plugins).dump()
              << " may hold personal data and did not start (see kim plugins list); fix or "
                 "disable them and run again\n";
    return kExitFailure;
  }
  return kExitOk;
}

int run_backup(const std::vector<std::string>& args) {
  po::options_description desc("kim backup options");
  desc.add_options()("help,h", "show this help")("config,c", po::value<std::string>(),
                                                 "host config file (JSON)")(
      "data-dir", po::value<std::string>(), "data folder (overrides data_dir)")(
      "out", po::value<std::string>()->required(), "the backup file to create (must not exist)");
  auto vm = parse(args, desc);
  if (vm.count("help")) {
    std::cout << "Usage: kim backup (--config FILE [--data-dir DIR] | --data-dir DIR) --out FILE"
                 "\n\n"
              << desc << "\n";
    return kExitOk;
  }
  std::filesystem::path database;
  if (vm.count("config")) {
    auto config = load_config(vm);
    apply_data_dir(vm, config);
    database = config.database.path;
  } else if (vm.count("data-dir")) {
    database = std::filesystem::path(vm["data-dir"].as<std::string>()) / "kim.sqlite3";
  } else {
    throw UsageError("kim backup needs --config or --data-dir");
  }
  if (!std::filesystem::exists(database)) {
    throw UsageError("no database at " + database.string());
  }
  const std::filesystem::path out = vm["out"].as<std::string>();
  try {
    kim::retention::backup(database, out);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  std::cerr << "backup written to " << out.string() << "\n";
  return kExitOk;
}

int dispatch(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    std::cout << kUsage;
    return argv.empty() ? kExitUsage : kExitOk;
  }
  if (argv[0] == "--version" || argv[0] == "-V" || argv[0] == "version") {
    std::cout << "kim " << kim::app::host_version() << " (SDK " << KIM_SDK_VERSION_STRING
              << ", ABI " << KIM_SDK_ABI_VERSION << ", " << KIM_SDK_BUILD_KEY << ")\n";
    return kExitOk;
  }
  const std::string& command = argv[0];
  auto rest = [&](std::size_t skip) {
    return std::vector<std::string>(argv.begin() + static_cast<long>(skip), argv.end());
  };
  if (command == "serve") return run_serve(rest(1));
  if (command == "backup") return run_backup(rest(1));
  // Two-word commands: the options follow the second word.
  using Run = int (*)(const std::vector<std::string>&);
  static const std::map<std::pair<std::string_view, std::string_view>, Run> kTwoWordCommands = {
      {{"plugins", "list"}, run_plugins_list},
      {{"token", "create"}, run_token_create},
      {{"token", "list"}, run_token_list},
      {{"token", "revoke"}, run_token_revoke},
      {{"user", "disable"},
       [](const std::vector<std::string>& args) { return run_user_disable(args, true); }},
      {{"user", "enable"},
       [](const std::vector<std::string>& args) { return run_user_disable(args, false); }},
      {{"user", "invite"}, run_user_invite},
      {{"outbox", "list"}, run_outbox_list},
      {{"outbox", "retry"}, run_outbox_retry},
      {{"outbox", "discard"}, run_outbox_discard},
      {{"config", "check"}, run_config_check},
      {{"demo", "seed"}, run_demo_seed},
      {{"report", "indicators"}, run_report_indicators},
      {{"retention", "run"}, run_retention},
  };
  if (argv.size() > 1) {
    const auto found = kTwoWordCommands.find({command, argv[1]});
    if (found != kTwoWordCommands.end()) return found->second(rest(2));
  }
  throw UsageError("unknown command \"" + command +
                   (argv.size() > 1 ? " " + argv[1] : std::string()) + "\"; see kim --help");
}

}  // namespace

int main(int argc, char** argv) {
  // Database, token and log files hold social data or secrets: readable by the service user only.
  ::umask(077);
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return dispatch(args);
  } catch (const UsageError& e) {
    std::cerr << "kim: " << e.what() << "\n";
    return kExitUsage;
  } catch (const kim::config::ConfigError& e) {
    std::cerr << "kim: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    spdlog::default_logger()->flush();
    std::cerr << "kim: " << e.what() << "\n";
    return kExitFailure;
  }
}
