// The real `kim serve` process over loopback HTTP, with a real database in a temp folder and real
// plugin files: the example plugin, broken fixtures and a file that is no library at all.
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/http_client.hpp"
#include "support/kim_process.hpp"

namespace kim::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = free_port();
    std::filesystem::create_directories(dir_.path() / "extra-plugins");
    std::ofstream(dir_.path() / "extra-plugins" / "kim-garbage.so") << "not a library\n";
    write_config();
  }

  void write_config(nlohmann::json hello_config = {{"greeting", "Moin"}}) {
    nlohmann::json config = {
        {"deployment", {{"name", "Test County"}}},
        {"data_dir", "data"},
        {"server", {{"listen", "127.0.0.1:1"}, {"body_limit_bytes", 4096}}},
        {"plugins",
         {{"directories",
           {KIM_PLUGIN_DIR, KIM_FIXTURE_PLUGIN_DIR, (dir_.path() / "extra-plugins").string()}},
          {"settings",
           {{"hello", {{"config", hello_config}}},
            {"throws-on-load", {{"enabled", true}}},
            {"bad-abi", {{"enabled", true}}}}}}}};
    std::ofstream(config_path()) << config.dump(2);
  }

  std::string config_path() const { return (dir_.path() / "kim.json").string(); }

  void start() {
    // A parallel test may take the port picked before kim binds it: then try another.
    for (int attempt = 0;; ++attempt) {
      process_ = std::make_unique<KimProcess>(
          KIM_BINARY,
          std::vector<std::string>{"serve", "--config", config_path(), "--listen",
                                   "127.0.0.1:" + std::to_string(port_)},
          dir_.path() / "kim.log", environment_);
      if (process_->wait_ready(port_)) break;
      ASSERT_TRUE(attempt < 2 && process_->log().find("cannot listen") != std::string::npos)
          << process_->log();
      port_ = free_port();
    }
    token_ = read_file(dir_.path() / "data" / "bootstrap-admin.token");
    while (!token_.empty() && token_.back() == '\n')
      token_.pop_back();
    ASSERT_FALSE(token_.empty());
  }

  // After stop(): kim again on the same port and data (the bootstrap token stays the same).
  bool restart_on_same_port() {
    process_ = std::make_unique<KimProcess>(
        KIM_BINARY,
        std::vector<std::string>{"serve", "--config", config_path(), "--listen",
                                 "127.0.0.1:" + std::to_string(port_)},
        dir_.path() / "kim.log", environment_);
    return process_->wait_ready(port_);
  }

  int stop() {
    process_->send_signal(SIGTERM);
    auto code = process_->wait_exit(std::chrono::seconds(30));
    EXPECT_TRUE(code.has_value()) << "kim did not exit after SIGTERM";
    return code.value_or(-1);
  }

  nlohmann::json plugin_item(const nlohmann::json& items, const std::string& id) {
    for (const auto& item : items) {
      if (item["id"] == id) return item;
    }
    ADD_FAILURE() << "plugin " << id << " not listed in " << items.dump();
    return {};
  }

  TempDir dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<KimProcess> process_;
  std::string token_;
  std::vector<std::string> environment_;  // added to kim's ("NAME=value")
};

TEST_F(ServeTest, HealthAnswersWithoutToken) {
  start();
  HttpClient client("127.0.0.1", port_);
  auto health = client.get("/health");
  ASSERT_EQ(health.status, 200) << health.body;
  auto body = health.json();
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["database"], "ok");
  EXPECT_EQ(body["deployment"], "Test County");
  EXPECT_FALSE(body["version"].get<std::string>().empty());
  EXPECT_EQ(body["plugins"]["started"], 1);
  EXPECT_EQ(health.headers["content-type"], "application/json");
  EXPECT_FALSE(health.headers["x-request-id"].empty());
}

TEST_F(ServeTest, ApiRefusesRequestsWithoutValidToken) {
  start();
  HttpClient client("127.0.0.1", port_);
  auto missing = client.get("/api/v1/plugins");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.json()["error"]["code"], "unauthenticated");
  EXPECT_EQ(missing.headers["www-authenticate"], "Bearer");

  auto wrong = client.get("/api/v1/plugins", "kim_" + std::string(64, '0'));
  EXPECT_EQ(wrong.status, 401);
  // Unknown paths do not reveal themselves to anonymous callers either.
  EXPECT_EQ(client.get("/api/v1/does-not-exist").status, 401);
}

TEST_F(ServeTest, PluginsListShowsLoadedAndRefusedPluginsWhileServing) {
  start();
  HttpClient client("127.0.0.1", port_);
  auto response = client.get("/api/v1/plugins", token_);
  ASSERT_EQ(response.status, 200) << response.body;
  auto items = response.json()["items"];

  auto hello = plugin_item(items, "hello");
  EXPECT_EQ(hello["state"], "started");
  EXPECT_EQ(hello["version"], "1.0.0");
  EXPECT_EQ(hello["enabled"], true);
  EXPECT_EQ(hello["schema_version"], 1);

  auto throws = plugin_item(items, "throws-on-load");
  EXPECT_EQ(throws["state"], "refused");
  EXPECT_THAT(throws["reason"].get<std::string>(), HasSubstr("cannot reach the partner directory"));
  auto abi = plugin_item(items, "bad-abi");
  EXPECT_EQ(abi["state"], "refused");
  EXPECT_THAT(abi["reason"].get<std::string>(), HasSubstr("SDK ABI"));
  auto garbage = plugin_item(items, "kim-garbage");
  EXPECT_EQ(garbage["state"], "refused");
  EXPECT_THAT(garbage["reason"].get<std::string>(), HasSubstr("not a loadable library"));
  // A plugin file present but not enabled in the config.
  EXPECT_EQ(plugin_item(items, "throws-on-start")["state"], "disabled");

  // And the host still serves the good plugin.
  auto greeting = client.get("/api/v1/plugins/hello/greetings/Rheine", token_);
  EXPECT_EQ(greeting.status, 200);
  EXPECT_EQ(greeting.json()["text"], "Moin, Rheine");
}

TEST_F(ServeTest, OversizedBodyGets413AndStoresNothing) {
  start();
  HttpClient client("127.0.0.1", port_);
  nlohmann::json big = {{"to", std::string(10000, 'x')}};
  auto response = client.post("/api/v1/plugins/hello/greetings", big, token_);
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(response.json()["error"]["code"], "payload_too_large");

  HttpClient second("127.0.0.1", port_);
  auto stats = second.get("/api/v1/plugins/hello/stats", token_);
  ASSERT_EQ(stats.status, 200);
  EXPECT_EQ(stats.json()["greetings_stored"], 0);
}

TEST_F(ServeTest, ErrorsAreJsonOfOneShape) {
  start();
  HttpClient client("127.0.0.1", port_);
  auto not_found = client.get("/api/v1/nothing-here", token_);
  EXPECT_EQ(not_found.status, 404);
  EXPECT_EQ(not_found.json()["error"]["code"], "not_found");

  auto wrong_method = client.request("DELETE", "/api/v1/plugins", {}, token_);
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.json()["error"]["code"], "method_not_allowed");
  EXPECT_EQ(wrong_method.headers["allow"], "GET");

  auto bad_json = client.request("POST", "/api/v1/plugins/hello/greetings", "{", token_);
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(bad_json.json()["error"]["code"], "invalid_json");

  auto unknown_field = client.post("/api/v1/plugins/hello/greetings", {{"too", "x"}}, token_);
  EXPECT_EQ(unknown_field.status, 400);
  EXPECT_EQ(unknown_field.json()["error"]["field"], "too");

  auto stats = client.get("/api/v1/plugins/hello/stats", token_);
  EXPECT_EQ(stats.json()["greetings_stored"], 0);
}

TEST_F(ServeTest, RolesAreCheckedOnPluginRoutes) {
  start();
  auto created = run_command(KIM_BINARY, {"token", "create", "--config", config_path(), "--user",
                                          "a.auditor", "--role", "auditor"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string auditor_token = created.out.substr(0, created.out.find('\n'));
  ASSERT_EQ(auditor_token.rfind("kim_", 0), 0u) << created.out;

  HttpClient client("127.0.0.1", port_);
  auto forbidden =
      client.post("/api/v1/plugins/hello/greetings", {{"to", "Greven"}}, auditor_token);
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(forbidden.json()["error"]["code"], "forbidden");
  // Any authenticated role may read.
  EXPECT_EQ(client.get("/api/v1/plugins/hello/stats", auditor_token).json()["greetings_stored"], 0);
  // Admin-only host routes.
  EXPECT_EQ(client.get("/api/v1/jobs", auditor_token).status, 403);
  EXPECT_EQ(client.get("/api/v1/jobs", token_).status, 200);
}

TEST_F(ServeTest, SigtermStopsCleanlyAndDataSurvivesRestart) {
  start();
  {
    HttpClient client("127.0.0.1", port_);
    auto created = client.post("/api/v1/plugins/hello/greetings", {{"to", "Ms Example"}}, token_);
    ASSERT_EQ(created.status, 201) << created.body;
    auto stats = client.get("/api/v1/plugins/hello/stats", token_).json();
    EXPECT_EQ(stats["greetings_stored"], 1);
    EXPECT_EQ(stats["greeted_events_seen"], 1);
    // This keep-alive connection stays open, idle, while the host shuts down.
    process_->send_signal(SIGTERM);
    auto code = process_->wait_exit(std::chrono::seconds(30));
    ASSERT_TRUE(code.has_value()) << "an idle keep-alive connection kept kim from exiting";
    EXPECT_EQ(*code, 0) << process_->log();
  }
  std::string first_log = process_->log();
  EXPECT_THAT(first_log, HasSubstr("stopped cleanly"));
  EXPECT_THAT(first_log, HasSubstr("applied migration core#1"));
  // Neither the token nor personal data reach the log.
  EXPECT_THAT(first_log, Not(HasSubstr(token_)));
  EXPECT_THAT(first_log, Not(HasSubstr("Ms Example")));

  std::filesystem::remove(dir_.path() / "kim.log");
  std::filesystem::remove(dir_.path() / "data" / "bootstrap-admin.token");
  ASSERT_TRUE(restart_on_same_port()) << process_->log();
  HttpClient client("127.0.0.1", port_);
  EXPECT_EQ(client.get("/api/v1/plugins/hello/stats", token_).json()["greetings_stored"], 1);
  EXPECT_EQ(stop(), 0);
  std::string second_log = process_->log();
  EXPECT_THAT(second_log, Not(HasSubstr("applied migration")));
  EXPECT_THAT(second_log, Not(HasSubstr("bootstrap-admin.token")));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "data" / "bootstrap-admin.token"));
}

// The names of kim's threads (kim-writer, kim-sync, …), from /proc.
std::set<std::string> thread_names(pid_t pid) {
  std::set<std::string> names;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::string name = read_file(task.path() / "comm");
    while (!name.empty() && name.back() == '\n')
      name.pop_back();
    names.insert(name);
  }
  return names;
}

TEST_F(ServeTest, SyncThreadFollowsTheConfigAndWritesAreKeptEitherWay) {
  start();  // database.sync_thread: true by default
  {
    HttpClient client("127.0.0.1", port_);
    EXPECT_EQ(client.post("/api/v1/plugins/hello/greetings", {{"to", "A"}}, token_).status, 201);
    const auto names = thread_names(process_->pid());
    EXPECT_TRUE(names.contains("kim-writer"));
    EXPECT_TRUE(names.contains("kim-sync")) << "the WAL's fsync runs on a thread of its own";
  }
  EXPECT_EQ(stop(), 0);

  auto config = nlohmann::json::parse(read_file(config_path()));
  config["database"]["sync_thread"] = false;
  std::ofstream(config_path()) << config.dump(2);
  std::filesystem::remove(dir_.path() / "kim.log");
  ASSERT_TRUE(restart_on_same_port()) << process_->log();
  {
    HttpClient client("127.0.0.1", port_);
    EXPECT_EQ(client.post("/api/v1/plugins/hello/greetings", {{"to", "B"}}, token_).status, 201);
    const auto names = thread_names(process_->pid());
    EXPECT_TRUE(names.contains("kim-writer"));
    EXPECT_FALSE(names.contains("kim-sync")) << "database.sync_thread false: SQLite's own fsync";
    EXPECT_EQ(client.get("/api/v1/plugins/hello/stats", token_).json()["greetings_stored"], 2);
    auto health = client.get("/health");
    EXPECT_EQ(health.status, 200) << health.body;
  }
  EXPECT_EQ(stop(), 0);
}

// A disk whose sync fails: kim runs with a preloaded fdatasync that fails for the WAL while a
// flag file exists. The write that sync covered is answered 503 writes_refused, /health turns 503
// "writes_refused", later writes are refused even once the disk works again, reads go on; after a
// restart kim writes again and every write that was answered 201 is there.
TEST_F(ServeTest, AFailedSyncRefusesWritesUntilRestartAndLosesNothingAcknowledged) {
  const auto flag = dir_.path() / "fail-wal-sync";
  const char* asan = std::getenv("ASAN_OPTIONS");
  environment_ = {
      std::string("LD_PRELOAD=") + KIM_FAILING_FDATASYNC,
      "KIM_TEST_FAIL_WAL_SYNC_IF=" + flag.string(),
      // The preloaded library is loaded before a sanitizer's runtime.
      "ASAN_OPTIONS=" + (asan ? std::string(asan) + ":" : "") + "verify_asan_link_order=0"};
  start();
  HttpClient client("127.0.0.1", port_);
  ASSERT_EQ(client.post("/api/v1/plugins/hello/greetings", {{"to", "A"}}, token_).status, 201);
  ASSERT_EQ(client.get("/health").status, 200);

  std::ofstream(flag) << "fail\n";
  auto failed = client.post("/api/v1/plugins/hello/greetings", {{"to", "B"}}, token_);
  EXPECT_EQ(failed.status, 503) << failed.body;
  EXPECT_EQ(failed.json()["error"]["code"], "writes_refused") << failed.body;
  EXPECT_THAT(failed.json()["error"]["message"].get<std::string>(), HasSubstr("restart kim"));
  EXPECT_THAT(failed.body, Not(HasSubstr("fdatasync"))) << "no detail of the host in an answer";
  EXPECT_THAT(failed.body, Not(HasSubstr(dir_.path().string())));
  auto health = client.get("/health");
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_EQ(health.json()["status"], "degraded");
  EXPECT_EQ(health.json()["database"], "writes_refused");

  std::filesystem::remove(flag);  // the disk works again: what is on it is still unknown
  auto refused = client.post("/api/v1/plugins/hello/greetings", {{"to", "C"}}, token_);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.json()["error"]["code"], "writes_refused") << refused.body;
  EXPECT_EQ(client.get("/health").status, 503);
  auto stats = client.get("/api/v1/plugins/hello/stats", token_);
  EXPECT_EQ(stats.status, 200) << "reads go on: " << stats.body;
  EXPECT_THAT(process_->log(), HasSubstr("fdatasync of the WAL failed"));
  EXPECT_THAT(process_->log(), HasSubstr("no further write is accepted until kim restarts"));
  EXPECT_EQ(stop(), 0);

  environment_.clear();
  ASSERT_TRUE(restart_on_same_port()) << process_->log();
  EXPECT_EQ(client.get("/health").status, 200);
  // A is there (answered 201); B may be (committed, its sync failed: answered as failed); C not.
  const int stored = client.get("/api/v1/plugins/hello/stats", token_).json()["greetings_stored"];
  EXPECT_GE(stored, 1);
  EXPECT_LE(stored, 2);
  EXPECT_EQ(client.post("/api/v1/plugins/hello/greetings", {{"to", "D"}}, token_).status, 201);
  EXPECT_EQ(client.get("/api/v1/plugins/hello/stats", token_).json()["greetings_stored"],
            stored + 1);
  EXPECT_EQ(stop(), 0);
}

TEST_F(ServeTest, BootstrapTokenFileIsPrivate) {
  start();
  auto status = std::filesystem::status(dir_.path() / "data" / "bootstrap-admin.token");
  EXPECT_EQ(status.permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_THAT(process_->log(), HasSubstr("bootstrap-admin.token"));
  EXPECT_EQ(stop(), 0);
}

TEST_F(ServeTest, ListenFailureIsReportedClearly) {
  start();
  // A second host on the same port must fail with the address in the message, not hang.
  auto second = run_command(KIM_BINARY, {"serve", "--config", config_path(), "--listen",
                                         "127.0.0.1:" + std::to_string(port_), "--data-dir",
                                         (dir_.path() / "data2").string()});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_THAT(second.err, HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(port_)));
  EXPECT_EQ(stop(), 0);
}

}  // namespace
}  // namespace kim::test
