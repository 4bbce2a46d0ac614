// The plugin manager against real plugin files: the hello example plugin and fixtures that each
// break one rule. Every refusal must leave the host's registries as if the plugin never existed.
#include "plugins/plugin_manager.hpp"

#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "kim/sdk/version.hpp"
#include "plugins/plugin_host.hpp"
#include "store/core_migrations.hpp"
#include "support/paths.hpp"

namespace kim::plugins {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::filesystem::path make_temp_dir() {
  std::random_device random;
  auto dir = std::filesystem::temp_directory_path() /
             ("kim-plugin-test-" + std::to_string(random()) + std::to_string(random()));
  std::filesystem::create_directories(dir);
  return dir;
}

class PluginManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    // A file that is not a library at all, beside the real plugins.
    garbage_dir_ = dir_ / "plugins";
    std::filesystem::create_directories(garbage_dir_);
    std::ofstream(garbage_dir_ / "kim-garbage.so") << "this is not an ELF file\n";
  }
  void TearDown() override {
    if (manager_) manager_->stop_all();
    clear_registries();
    manager_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void clear_registries() {
    scheduler_.clear();
    connectors_.clear();
    events_.clear();
    router_.clear();
  }

  store::Store& open_store() {
    if (!store_) {
      store_ = std::make_unique<store::Store>(store::StoreOptions{dir_ / "kim.sqlite3"});
      store_->migrate("core", store::core_migrations());
    }
    return *store_;
  }

  // Builds a manager over the real plugin folder, the fixture folder and the garbage folder.
  PluginManager& make_manager(std::map<std::string, config::PluginSetting> settings,
                              bool with_store = true) {
    config::PluginsConfig config;
    config.settings = std::move(settings);
    HostServices services{router_,
                          events_,
                          connectors_,
                          scheduler_,
                          with_store ? &open_store() : nullptr,
                          sdk::HostInfo{"test", KIM_SDK_VERSION_STRING, "Test County"},
                          nullptr};
    manager_ = std::make_unique<PluginManager>(
        config,
        std::vector<std::filesystem::path>{KIM_PLUGIN_DIR, KIM_FIXTURE_PLUGIN_DIR, garbage_dir_},
        services, logger_);
    return *manager_;
  }

  PluginReport report_of(const std::string& id) const {
    for (const auto& report : manager_->reports()) {
      if (report.id == id) return report;
    }
    ADD_FAILURE() << "no report for plugin " << id;
    return {};
  }

  static std::map<std::string, config::PluginSetting> enable_all() {
    std::map<std::string, config::PluginSetting> settings;
    for (const char* id :
         {"hello", "throws-on-load", "throws-on-start", "bad-abi", "bad-build-key"}) {
      settings[id] = config::PluginSetting{true, nlohmann::json::object()};
    }
    settings["hello"].config = {{"greeting", "Moin"}};
    return settings;
  }

  std::filesystem::path dir_;
  std::filesystem::path garbage_dir_;
  std::shared_ptr<spdlog::logger> logger_ = [] {
    static std::atomic<int> counter{0};
    return spdlog::null_logger_mt("plugin-test-" + std::to_string(counter++));
  }();
  http::Router router_;
  events::EventBus events_{logger_};
  Registry<sdk::ConnectorType> connectors_{"connector type"};
  jobs::Scheduler scheduler_{logger_};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<PluginManager> manager_;
};

TEST_F(PluginManagerTest, GoodPluginStartsWithEveryRegistrationLive) {
  auto& manager = make_manager(enable_all());
  manager.load_all();
  manager.start_all();

  auto hello = report_of("hello");
  EXPECT_EQ(hello.state, PluginState::kStarted) << hello.reason;
  EXPECT_EQ(hello.version, "1.0.0");
  EXPECT_EQ(hello.sdk_version, KIM_SDK_VERSION_STRING);
  EXPECT_EQ(hello.schema_version, 1);
  EXPECT_THAT(hello.routes, Contains("GET /api/v1/plugins/hello/greetings/{name}"));
  EXPECT_THAT(hello.connectors, Contains("hello-echo"));
  EXPECT_THAT(hello.jobs, Contains("hello.heartbeat"));

  // The route is live and uses the validated config.
  auto match = router_.match(sdk::HttpMethod::kGet, "/api/v1/plugins/hello/greetings/Steinfurt");
  ASSERT_EQ(match.kind, http::RouteMatch::Kind::kFound);
  sdk::HttpRequest request;
  request.path_params = match.path_params;
  auto response = match.route->handler(request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(nlohmann::json::parse(response.body)["text"], "Moin, Steinfurt");

  // The connector factory works and the job is scheduled.
  auto type = connectors_.find("hello-echo");
  ASSERT_TRUE(type.has_value());
  auto connector = type->create(nlohmann::json::object(), sdk::ConnectorContext{});
  sdk::OutboundMessage message;
  message.id = "m1";
  message.idempotency_key = "k1";
  message.partner = "jobcenter";
  message.type = "test";
  auto result = connector->deliver(message);
  EXPECT_EQ(result.status, sdk::DeliveryResult::Status::kDelivered);
  EXPECT_TRUE(scheduler_.contains("hello", "heartbeat"));
  // Event subscriptions are live: the plugin counts its own events.
  EXPECT_EQ(events_.publish({"hello.greeted", {{"greeting_id", 1}}, {}, "test"}), 1);
}

TEST_F(PluginManagerTest, EachBrokenPluginIsRefusedWithItsReason) {
  auto& manager = make_manager(enable_all());
  manager.load_all();
  manager.start_all();

  struct Expectation {
    std::string id;
    std::string reason;
  };
  for (const auto& [id, reason] : std::vector<Expectation>{
           {"throws-on-load", "load() failed: cannot reach the partner directory"},
           {"throws-on-start", "start() failed: port 9 is closed"},
           {"bad-abi",
            "built for SDK ABI 42, this host has ABI " + std::to_string(KIM_SDK_ABI_VERSION)},
           {"bad-build-key", "built with \"clang-3;libc++-1;sdk-abi-2\""},
           {"kim-not-a-plugin", "not a KIM plugin"},
           {"kim-garbage", "not a loadable library"}}) {
    auto report = report_of(id);
    EXPECT_EQ(report.state, PluginState::kRefused) << id;
    EXPECT_THAT(report.reason, HasSubstr(reason)) << id;
  }
  // The good plugin beside them is unaffected.
  EXPECT_EQ(report_of("hello").state, PluginState::kStarted);
}

TEST_F(PluginManagerTest, RefusedPluginsLeaveNothingRegistered) {
  auto& manager = make_manager(enable_all());
  manager.load_all();
  manager.start_all();

  for (const char* id : {"throws-on-load", "throws-on-start"}) {
    EXPECT_EQ(
        router_.match(sdk::HttpMethod::kGet, std::string("/api/v1/plugins/") + id + "/never").kind,
        http::RouteMatch::Kind::kNotFound)
        << id;
    EXPECT_THAT(router_.patterns_of(id), IsEmpty()) << id;
    auto report = report_of(id);
    EXPECT_THAT(report.routes, IsEmpty()) << id;
    EXPECT_THAT(report.jobs, IsEmpty()) << id;
  }
  EXPECT_FALSE(scheduler_.contains("throws-on-start", "tick"));
  EXPECT_FALSE(connectors_.find("never-connector").has_value());
}

TEST_F(PluginManagerTest, InvalidConfigRefusesThePluginBeforeItIsCreated) {
  auto settings = enable_all();
  settings["hello"].config = {{"greeting", 5}, {"heartbeat_intervall_ms", 100}};
  auto& manager = make_manager(settings);
  manager.load_all();
  manager.start_all();

  auto hello = report_of("hello");
  EXPECT_EQ(hello.state, PluginState::kRefused);
  EXPECT_THAT(hello.reason, HasSubstr("plugins.settings.hello.config.greeting: must be a string"));
  EXPECT_THAT(hello.reason, HasSubstr("heartbeat_intervall_ms"));
  EXPECT_THAT(hello.reason, HasSubstr("did you mean \"heartbeat_interval_ms\""));
  EXPECT_THAT(router_.patterns_of("hello"), IsEmpty());
  // Nothing of the plugin ran: its migration was never applied.
  EXPECT_EQ(store_->schema_version("plugin:hello"), 0);
}

TEST_F(PluginManagerTest, DisabledAndMissingPluginsAreReportedNotLoaded) {
  std::map<std::string, config::PluginSetting> settings;
  settings["hello"] = config::PluginSetting{false, nlohmann::json::object()};
  settings["ghost"] = config::PluginSetting{true, nlohmann::json::object()};
  auto& manager = make_manager(settings);
  manager.load_all();
  manager.start_all();

  auto hello = report_of("hello");
  EXPECT_EQ(hello.state, PluginState::kDisabled);
  EXPECT_FALSE(hello.enabled);
  EXPECT_EQ(hello.version, "1.0.0");  // metadata is read even for disabled plugins
  EXPECT_THAT(router_.patterns_of("hello"), IsEmpty());

  auto ghost = report_of("ghost");
  EXPECT_EQ(ghost.state, PluginState::kMissing);
  EXPECT_THAT(ghost.reason, HasSubstr("no plugin file declares this id"));
  // Plugins not named in the config are found but stay disabled.
  EXPECT_EQ(report_of("throws-on-load").state, PluginState::kDisabled);
}

TEST_F(PluginManagerTest, InspectionLoadsWithoutDatabaseOrStart) {
  auto& manager = make_manager(enable_all(), /*with_store=*/false);
  manager.load_all();
  auto hello = report_of("hello");
  EXPECT_EQ(hello.state, PluginState::kLoaded);
  EXPECT_THAT(hello.routes, Contains("POST /api/v1/plugins/hello/greetings"));
  // Registrations stay staged: nothing is live while only inspecting.
  EXPECT_THAT(router_.patterns_of("hello"), IsEmpty());
  EXPECT_EQ(report_of("throws-on-start").state, PluginState::kLoaded);
  EXPECT_EQ(report_of("throws-on-load").state, PluginState::kRefused);
}

TEST_F(PluginManagerTest, PluginMigrationsRunOnceAcrossRestarts) {
  std::map<std::string, config::PluginSetting> settings;
  settings["hello"] = config::PluginSetting{true, nlohmann::json::object()};
  for (int run = 0; run < 2; ++run) {
    auto& manager = make_manager(settings);
    manager.load_all();
    manager.start_all();
    EXPECT_EQ(report_of("hello").state, PluginState::kStarted) << "run " << run;
    manager.stop_all();
    clear_registries();
    manager_.reset();
  }
  auto rows = store_->read([](store::Connection& db) {
    return db.query("SELECT version FROM schema_migrations WHERE namespace = 'plugin:hello'");
  });
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["version"], 1);
}

TEST_F(PluginManagerTest, ConnectorNameTakenByTheHostRefusesThePlugin) {
  connectors_.add("hello-echo",
                  {"hello-echo", nlohmann::json::object(), "taken",
                   [](const nlohmann::json&, const sdk::ConnectorContext&) {
                     return std::unique_ptr<sdk::Connector>();
                   }},
                  "host");
  std::map<std::string, config::PluginSetting> settings;
  settings["hello"] = config::PluginSetting{true, nlohmann::json::object()};
  auto& manager = make_manager(settings);
  manager.load_all();
  manager.start_all();
  auto hello = report_of("hello");
  EXPECT_EQ(hello.state, PluginState::kRefused);
  EXPECT_THAT(hello.reason,
              HasSubstr("connector type \"hello-echo\" is already registered by host"));
  EXPECT_THAT(router_.patterns_of("hello"), IsEmpty());
}

// A plugin's routes also answer at /api/v1/<id>/… (the issue-facing paths, e.g.
// /api/v1/naturalisation/backlog), unless a route of the host begins so: core's paths win.
TEST_F(PluginManagerTest, RoutesAnswerAtTheShortMountUnlessTheHostOwnsIt) {
  std::map<std::string, config::PluginSetting> settings;
  settings["hello"] = config::PluginSetting{true, nlohmann::json::object()};
  auto& manager = make_manager(settings);
  manager.load_all();
  manager.start_all();
  EXPECT_THAT(report_of("hello").routes, Contains("GET /api/v1/hello/greetings/{name}"));
  auto match = router_.match(sdk::HttpMethod::kGet, "/api/v1/hello/greetings/Rheine");
  ASSERT_EQ(match.kind, http::RouteMatch::Kind::kFound);
  EXPECT_EQ(match.route->owner, "hello");
  manager.stop_all();
  clear_registries();
  manager_.reset();

  router_.add({sdk::HttpMethod::kGet,
               "/api/v1/hello/{x}",
               [](const sdk::HttpRequest&) { return sdk::HttpResponse::json(200, {}); },
               {},
               "host"});
  auto& again = make_manager(settings);
  again.load_all();
  again.start_all();
  EXPECT_EQ(report_of("hello").state, PluginState::kStarted);
  EXPECT_EQ(router_.match(sdk::HttpMethod::kGet, "/api/v1/hello/greetings/Rheine").kind,
            http::RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router_.match(sdk::HttpMethod::kGet, "/api/v1/plugins/hello/greetings/Rheine").kind,
            http::RouteMatch::Kind::kFound);
  for (const auto& route : report_of("hello").routes)
    EXPECT_THAT(route, HasSubstr("/api/v1/plugins/hello"));
}

// read_api reads the host's routes only: a plugin's route is refused by its owner, whatever path
// reaches it (the short mount included), before anything is handled.
TEST_F(PluginManagerTest, ReadApiRefusesEveryPluginRoute) {
  std::map<std::string, config::PluginSetting> settings;
  settings["hello"] = config::PluginSetting{true, nlohmann::json::object()};
  auto& manager = make_manager(settings);
  manager.load_all();
  manager.start_all();
  int handled = 0;
  HostServices services{router_,
                        events_,
                        connectors_,
                        scheduler_,
                        &open_store(),
                        sdk::HostInfo{"test", KIM_SDK_VERSION_STRING, "Test County"},
                        [&](sdk::HttpRequest&) {
                          ++handled;
                          return sdk::HttpResponse::json(200, {});
                        }};
  PluginHostImpl other("other", nlohmann::json::object(), services, logger_);
  sdk::HttpRequest caller;
  caller.principal = sdk::Principal{};
  EXPECT_THROW(other.read_api(caller, "/api/v1/hello/greetings/Rheine", {}), std::invalid_argument);
  EXPECT_THROW(other.read_api(caller, "/api/v1/plugins/hello/greetings/Rheine", {}),
               std::invalid_argument);
  EXPECT_EQ(handled, 0);
  EXPECT_EQ(other.read_api(caller, "/api/v1/cases", {}).status, 200);
  EXPECT_EQ(handled, 1);
}

TEST(RegistryTest, NamesAreUniqueAndRememberTheirOwner) {
  Registry<int> registry("report provider");
  registry.add("gaps", 1, "host");
  EXPECT_THROW(
      {
        try {
          registry.add("gaps", 2, "rheine");
        } catch (const std::invalid_argument& e) {
          EXPECT_THAT(e.what(),
                      HasSubstr("report provider \"gaps\" is already registered by host"));
          throw;
        }
      },
      std::invalid_argument);
  EXPECT_EQ(registry.find("gaps"), 1);
  EXPECT_EQ(registry.owner_of("gaps"), "host");
  EXPECT_FALSE(registry.find("other").has_value());
}

}  // namespace
}  // namespace kim::plugins
