// The hello plugin's class, unit-tested through the SDK's test kit (kim/sdk/testing.hpp) with no
// host at all: plugins/hello/hello_plugin.cpp is compiled into this binary, and its exported
// factory gives the instance.
#include <gtest/gtest.h>

#include <kim/sdk/testing.hpp>

namespace {

using kim::sdk::HttpMethod;
using kim::sdk::testing::FakeHost;

nlohmann::json hello_config() {
  // As the host hands it over: validated, defaults filled in.
  return {{"greeting", "Moin"}, {"heartbeat_interval_ms", 60000}, {"veto_phase", "closed"}};
}

nlohmann::json body_of(const kim::sdk::HttpResponse& response) {
  return nlohmann::json::parse(response.body);
}

class HelloWithFakeHost : public ::testing::Test {
 protected:
  void SetUp() override { host.start(*plugin); }
  void TearDown() override {
    host.stop();
    EXPECT_TRUE(host.errors().empty()) << host.errors().front();
  }

  nlohmann::json stats() {
    auto response = host.call(HttpMethod::kGet, "/stats", FakeHost::request_as("coordinator"));
    EXPECT_EQ(response.status, 200) << response.body;
    return body_of(response);
  }

  FakeHost host{"hello", hello_config()};
  std::unique_ptr<kim::sdk::Plugin> plugin = kim::sdk::testing::exported_plugin();
};

TEST_F(HelloWithFakeHost, RecordsEveryRegistration) {
  std::vector<std::string> routes;
  for (const auto& route : host.routes())
    routes.push_back(std::string(kim::sdk::to_string(route.method)) + " " + route.path);
  EXPECT_EQ(routes,
            (std::vector<std::string>{"GET /ping", "GET /greetings/{name}", "POST /greetings",
                                      "GET /stats", "GET /cases/{id}/phase"}));
  EXPECT_EQ(host.hooks(), std::vector<std::string>{"case.phase_changed"});
  ASSERT_EQ(host.jobs().size(), 1u);
  EXPECT_EQ(host.jobs()[0].name, "heartbeat");
  EXPECT_EQ(host.jobs()[0].interval, std::chrono::milliseconds(60000));
  ASSERT_EQ(host.migrations().size(), 1u);
  EXPECT_EQ(host.migrations()[0].version, 1);
  EXPECT_EQ(host.connector_types().size(), 1u);
  const auto subscriptions = host.subscriptions();
  EXPECT_NE(std::find(subscriptions.begin(), subscriptions.end(), "hello.greeted"),
            subscriptions.end());
}

TEST_F(HelloWithFakeHost, RoutesAnswerWithTheirAccessRules) {
  // Public: no principal needed.
  auto ping = host.call(HttpMethod::kGet, "/ping");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(body_of(ping), (nlohmann::json{{"pong", true}}));

  // `{name}` lands in path_params; the greeting comes from the config.
  EXPECT_EQ(host.call(HttpMethod::kGet, "/greetings/Ada").status, 401);
  auto greeting = host.call(HttpMethod::kGet, "/api/v1/plugins/hello/greetings/Ada",
                            FakeHost::request_as("auditor"));
  EXPECT_EQ(greeting.status, 200);
  EXPECT_EQ(body_of(greeting)["text"], "Moin, Ada");

  // POST /greetings is for admins and case managers only.
  auto forbidden = host.call(HttpMethod::kPost, "/greetings",
                             FakeHost::request_as("coordinator", R"({"to": "Ada"})"));
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(body_of(forbidden)["error"]["code"], "forbidden");

  auto cm = FakeHost::request_as("case_manager");
  EXPECT_EQ(host.call(HttpMethod::kGet, "/nothing", cm).status, 404);
  EXPECT_EQ(host.call(HttpMethod::kDelete, "/greetings", cm).status, 405);
  EXPECT_EQ(stats()["greetings_stored"], 0);
}

TEST_F(HelloWithFakeHost, PostValidatesStoresAndPublishes) {
  // Every refusal answers in the API's error shape and stores nothing.
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"{", "invalid_json"},
      {"[1]", "invalid_json"},
      {std::string(100, '[') + std::string(100, ']'), "json_too_deep"},
      {R"({"to": "Ada", "extra": 1})", "unknown_field"},
      {R"({"to": ""})", "invalid_field"},
      {R"({"to": 7})", "invalid_field"},
  };
  for (const auto& [body, code] : refused) {
    auto response =
        host.call(HttpMethod::kPost, "/greetings", FakeHost::request_as("case_manager", body));
    EXPECT_EQ(response.status, 400) << body;
    EXPECT_EQ(body_of(response)["error"]["code"], code) << body;
  }
  EXPECT_EQ(stats()["greetings_stored"], 0);
  EXPECT_TRUE(host.published().empty());

  auto created = host.call(HttpMethod::kPost, "/greetings",
                           FakeHost::request_as("case_manager", R"({"to": "Ada"})"));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(body_of(created)["text"], "Moin, Ada");
  const auto id = body_of(created)["id"].get<std::int64_t>();

  // The row is in the plugin's own table (its migration ran on start()).
  auto rows = host.database().query("SELECT recipient FROM hello_greetings WHERE id = ?", {id});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["recipient"], "Ada");
  // Audited with the write, as the caller.
  ASSERT_EQ(host.audited().size(), 1u);
  EXPECT_EQ(host.audited()[0].action, "create");
  EXPECT_EQ(host.audited()[0].object_type, "hello.greeting");
  EXPECT_EQ(host.audited()[0].object_id, std::to_string(id));

  // Published after the write, with identifiers only, and delivered to its own subscriber.
  ASSERT_EQ(host.published().size(), 1u);
  EXPECT_EQ(host.published()[0].type, "hello.greeted");
  EXPECT_EQ(host.published()[0].source, "hello");
  EXPECT_EQ(host.published()[0].payload, (nlohmann::json{{"greeting_id", id}}));
  auto seen = stats();
  EXPECT_EQ(seen["greetings_stored"], 1);
  EXPECT_EQ(seen["greeted_events_seen"], 1);
}

TEST_F(HelloWithFakeHost, EventsHooksJobsAndConnectors) {
  EXPECT_EQ(
      host.deliver("referral.created", {{"referral_id", "ref_0123456789abcdef0123456789abcdef"},
                                        {"case_id", "case_0123456789abcdef0123456789abcdef"},
                                        {"partner", "jobcenter-kreis-steinfurt"},
                                        {"service", "sgb2_integration_services"},
                                        {"status", "draft"}}),
      2);  // two subscriptions: the count per type and the payload record
  const nlohmann::json opened = {{"case_id", "case_0123456789abcdef0123456789abcdef"},
                                 {"organisation_id", 3},
                                 {"phase", "intake"}};
  EXPECT_EQ(host.deliver("case.opened", opened), 1);
  EXPECT_EQ(host.deliver("partner.created", {{"slug", "x"}}), 0);  // no host event, no subscriber
  auto seen = stats();
  EXPECT_EQ(seen["domain_events_seen"], (nlohmann::json{{"referral.created", 1}}));
  EXPECT_EQ(seen["payloads_seen"]["case.opened"],
            (nlohmann::json{{"count", 1}, {"last", opened}, {"source", "host"}}));

  // The hook vetoes transitions into the configured phase only.
  const nlohmann::json into_closed = {{"case_id", "case_0123456789abcdef0123456789abcdef"},
                                      {"from", "monitoring"},
                                      {"to", "closed"},
                                      {"organisation_id", 1}};
  auto veto = host.ask_hooks("case.phase_changed", into_closed);
  EXPECT_FALSE(veto.allowed);
  EXPECT_NE(veto.reason.find("config veto_phase"), std::string::npos) << veto.reason;
  auto into_planning = into_closed;
  into_planning["to"] = "planning";
  EXPECT_TRUE(host.ask_hooks("case.phase_changed", into_planning).allowed);

  EXPECT_TRUE(host.run_job("hello.heartbeat"));
  EXPECT_TRUE(host.run_job("heartbeat"));
  EXPECT_EQ(stats()["heartbeats"], 2);
  EXPECT_THROW(host.run_job("nothing"), std::out_of_range);

  const auto& echo = host.connector_type("hello-echo");
  auto connector = echo.create(nlohmann::json::object(), kim::sdk::ConnectorContext{});
  kim::sdk::OutboundMessage message;
  message.id = "msg_1";
  auto result = connector->deliver(message);
  EXPECT_EQ(result.status, kim::sdk::DeliveryResult::Status::kDelivered);
  EXPECT_EQ(result.detail, "echoed msg_1");
}

TEST_F(HelloWithFakeHost, ReadsCoreDataAsTheCaller) {
  const std::string case_id = "case_0123456789abcdef0123456789abcdef";
  // Core, as the test plays it: the caller's organisation may read this one case.
  host.answer_reads([&](const kim::sdk::HttpRequest& request) {
    if (request.path == "/api/v1/cases/" + case_id && request.principal->organisation_id == 1) {
      return kim::sdk::HttpResponse::json(
          200, {{"id", case_id}, {"phase", "planning"}, {"town", "Rheine"}});
    }
    return kim::sdk::HttpResponse::error(404, "not_found", "case not found");
  });
  auto caller = FakeHost::request_as("case_manager");
  caller.request_id = "req-7";
  auto phase = host.call(HttpMethod::kGet, "/cases/" + case_id + "/phase", caller);
  ASSERT_EQ(phase.status, 200) << phase.body;
  // Only what the route needs is passed on (not the town).
  EXPECT_EQ(body_of(phase), (nlohmann::json{{"case_id", case_id}, {"phase", "planning"}}));
  ASSERT_EQ(host.reads().size(), 1u);
  EXPECT_EQ(host.reads()[0].principal->role, "case_manager");
  EXPECT_EQ(host.reads()[0].request_id, "req-7");

  auto other = FakeHost::request_as("case_manager");
  other.principal->organisation_id = 2;
  EXPECT_EQ(host.call(HttpMethod::kGet, "/cases/" + case_id + "/phase", other).status, 404);
  EXPECT_THROW(host.read_api(caller, "/api/v1/plugins/hello/stats"), std::invalid_argument);
  EXPECT_EQ(host.read_api(kim::sdk::HttpRequest{}, "/api/v1/cases").status, 401);
}

// The kit keeps the host's contract, so a plugin that breaks it fails in its unit tests already.
TEST(FakeHostContract, KeepsTheHostsRules) {
  FakeHost host("hello", hello_config());
  auto plugin = kim::sdk::testing::exported_plugin();
  EXPECT_THROW(host.database(), std::logic_error);  // from start() on
  host.load(*plugin);
  EXPECT_THROW(host.database(), std::logic_error);
  EXPECT_THROW(host.read_api(FakeHost::request_as("admin"), "/api/v1/cases"), std::logic_error);
  EXPECT_THROW(host.add_migration(2, "late", "CREATE TABLE hello_late(id INTEGER)"),
               std::logic_error);  // registrations only during load()
  EXPECT_THROW(host.publish({"case.opened", {}, {}, {}}), std::invalid_argument);
  host.start();
  EXPECT_EQ(host.database().query("SELECT count(*) AS n FROM hello_greetings")[0]["n"], 0);
  EXPECT_THROW(host.database().query("SELECT 1; SELECT 2"), std::runtime_error);
  host.stop();
}

class NumberedBadly final : public kim::sdk::Plugin {
 public:
  void load(kim::sdk::PluginHost& host) override {
    host.add_migration(1, "first", "CREATE TABLE gap_a(id INTEGER)");
    host.add_migration(3, "third", "CREATE TABLE gap_b(id INTEGER)");
  }
  void start() override { started = true; }
  bool started = false;
};

TEST(FakeHostContract, RefusesMigrationsWithAGapBeforeStart) {
  FakeHost host("gap");
  NumberedBadly plugin;
  try {
    host.start(plugin);
    FAIL() << "started with migrations 1 and 3";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("expected #2, found #3"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(plugin.started);
}

}  // namespace
