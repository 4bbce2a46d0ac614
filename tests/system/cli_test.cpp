// The `kim` command line: help, version, plugins list, token create, config check, exit codes.
#include <chrono>
#include <ctime>
#include <fstream>
#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sqlite3.h>

#include "kim/sdk/version.hpp"
#include "store/sqlite.hpp"
#include "support/kim_process.hpp"

namespace kim::test {
namespace {

using ::testing::HasSubstr;

TEST(CliTest, VersionAndHelp) {
  auto version = run_command(KIM_BINARY, {"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_THAT(version.out, HasSubstr("kim "));
  EXPECT_THAT(version.out, HasSubstr("SDK " KIM_SDK_VERSION_STRING));

  auto help = run_command(KIM_BINARY, {"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command : {"serve", "plugins list", "token create", "token revoke", "token list",
                              "user disable", "user enable", "config check"}) {
    EXPECT_THAT(help.out, HasSubstr(command));
  }
  for (auto args : std::vector<std::vector<std::string>>{{"serve", "--help"},
                                                         {"plugins", "list", "--help"},
                                                         {"token", "create", "--help"},
                                                         {"token", "revoke", "--help"},
                                                         {"user", "disable", "--help"},
                                                         {"config", "check", "--help"}}) {
    auto result = run_command(KIM_BINARY, args);
    EXPECT_EQ(result.exit_code, 0) << args[0];
    EXPECT_THAT(result.out, HasSubstr("--config")) << args[0];
  }
}

TEST(CliTest, BadUsageExitsWithTwo) {
  auto unknown = run_command(KIM_BINARY, {"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command \"frobnicate\""));

  auto missing_config = run_command(KIM_BINARY, {"serve"});
  EXPECT_EQ(missing_config.exit_code, 2);
  EXPECT_THAT(missing_config.err, HasSubstr("config"));

  auto nothing = run_command(KIM_BINARY, {});
  EXPECT_EQ(nothing.exit_code, 2);
}

TEST(CliTest, InvalidConfigIsRefusedWithPathQualifiedMessages) {
  TempDir dir;
  auto path = (dir.path() / "bad.json").string();
  std::ofstream(path)
      << R"({"server": {"io_threads": 0, "lissten": "x"}, "log": {"level": "loud"}})";
  auto result = run_command(KIM_BINARY, {"serve", "--config", path});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("server.io_threads: must be at least 1"));
  EXPECT_THAT(result.err, HasSubstr("server.lissten: unknown key (did you mean \"listen\"?)"));
  EXPECT_THAT(result.err, HasSubstr("log.level"));
  // Nothing was created for a config that was refused.
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "var"));
}

TEST(CliTest, ShippedConfigIsValid) {
  auto result =
      run_command(KIM_BINARY, {"config", "check", "--config",
                               std::string(KIM_SOURCE_DIR) + "/config/kreis-steinfurt.json"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("Kreis Steinfurt"));
  EXPECT_THAT(result.out, HasSubstr("127.0.0.1:8080"));
}

TEST(CliTest, PluginsListShowsEachFileWithStateAndReason) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "extra");
  std::ofstream(dir.path() / "extra" / "kim-broken.so") << "garbage";
  nlohmann::json config = {{"plugins",
                            {{"directories", {KIM_PLUGIN_DIR, (dir.path() / "extra").string()}},
                             {"settings", {{"hello", {{"enabled", true}}}}}}}};
  auto path = (dir.path() / "kim.json").string();
  std::ofstream(path) << config.dump();

  auto table = run_command(KIM_BINARY, {"plugins", "list", "--config", path});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("hello"));
  EXPECT_THAT(table.out, HasSubstr("loaded"));
  EXPECT_THAT(table.out, HasSubstr("refused"));
  EXPECT_THAT(table.out, HasSubstr("not a loadable library"));

  auto json = run_command(KIM_BINARY, {"plugins", "list", "--config", path, "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto items = nlohmann::json::parse(json.out);
  ASSERT_EQ(items.size(), 5u);  // every plugin the build makes, and the broken file
  for (const auto& item : items) {
    if (item["id"] == "jobcenter" || item["id"] == "naturalisation" || item["id"] == "rheine") {
      EXPECT_EQ(item["state"], "disabled") << item.dump();
    } else if (item["id"] == "hello") {
      EXPECT_EQ(item["state"], "loaded");
      EXPECT_EQ(item["sdk_version"], KIM_SDK_VERSION_STRING);
    } else {
      EXPECT_EQ(item["id"], "kim-broken");
      EXPECT_EQ(item["state"], "refused");
    }
  }
  // Listing plugins never creates a database.
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "var"));
}

// `kim plugins list` and `kim config check` check what `serve` checks: an enabled plugin whose
// config block is invalid, or whose migration changed after it ran on the existing database, is a
// problem (exit 1), said with the plugin's id and what to do.
TEST(CliTest, PluginProblemsServeWouldRefuseAreFoundWithoutServing) {
  TempDir dir;
  auto path = (dir.path() / "kim.json").string();
  auto write_config = [&](const nlohmann::json& hello_config) {
    nlohmann::json config = {
        {"data_dir", "var"},
        {"plugins",
         {{"directories", {KIM_PLUGIN_DIR}},
          {"settings", {{"hello", {{"enabled", true}, {"config", hello_config}}}}}}}};
    std::ofstream(path) << config.dump();
  };

  write_config({{"greeting", 42}});
  auto check = run_command(KIM_BINARY, {"config", "check", "--config", path});
  EXPECT_NE(check.exit_code, 0);
  EXPECT_THAT(check.err, HasSubstr("plugins.settings.hello: invalid config"));
  EXPECT_THAT(check.err, HasSubstr("plugins.settings.hello.config.greeting"));
  auto list = run_command(KIM_BINARY, {"plugins", "list", "--config", path});
  EXPECT_EQ(list.exit_code, 1);

  // A database on which hello's migration #1 ran with other SQL than the plugin's now.
  write_config(nlohmann::json::object());
  std::filesystem::create_directories(dir.path() / "var");
  {
    auto db = store::Connection::open(dir.path() / "var" / "kim.sqlite3",
                                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    db.exec(
        "CREATE TABLE schema_migrations (namespace TEXT NOT NULL, version INTEGER NOT NULL, "
        "description TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL, "
        "PRIMARY KEY (namespace, version));"
        "INSERT INTO schema_migrations VALUES ('plugin:hello', 1, 'greetings table', "
        "'0000000000000000', '2026-01-01T00:00:00Z');");
  }
  list = run_command(KIM_BINARY, {"plugins", "list", "--config", path, "--json"});
  EXPECT_EQ(list.exit_code, 1);
  nlohmann::json hello;
  for (const auto& item : nlohmann::json::parse(list.out)) {
    if (item["id"] == "hello") hello = item;
  }
  EXPECT_EQ(hello["state"], "refused");
  EXPECT_THAT(hello.value("reason", ""),
              HasSubstr("plugin hello changed a migration that already ran"));
  EXPECT_THAT(hello.value("reason", ""), HasSubstr("new migration #2"));
  check = run_command(KIM_BINARY, {"config", "check", "--config", path});
  EXPECT_NE(check.exit_code, 0);
  EXPECT_THAT(check.err, HasSubstr("plugins.settings.hello: its migrations would be refused"));
}

TEST(CliTest, TokenCreateValidatesInputAndWritesNothingOnError) {
  TempDir dir;
  auto path = (dir.path() / "kim.json").string();
  std::ofstream(path) << R"({"data_dir": "data", "organisations": [
      {"slug": "caritas-rheine", "name": "Caritas Rheine", "kind": "welfare_organisation",
       "town": "Rheine"}]})";

  auto bad_role = run_command(
      KIM_BINARY, {"token", "create", "--config", path, "--user", "x", "--role", "superuser"});
  EXPECT_EQ(bad_role.exit_code, 2);
  EXPECT_THAT(bad_role.err, HasSubstr("role: must be one of: admin"));

  auto bad_name = run_command(
      KIM_BINARY, {"token", "create", "--config", path, "--user", "Not Valid", "--role", "admin"});
  EXPECT_EQ(bad_name.exit_code, 2);
  EXPECT_THAT(bad_name.err, HasSubstr("user name"));

  auto no_org = run_command(KIM_BINARY, {"token", "create", "--config", path, "--user", "c.meyer",
                                         "--role", "case_manager"});
  EXPECT_EQ(no_org.exit_code, 2);
  EXPECT_THAT(no_org.err, HasSubstr("needs an organisation"));

  auto unknown_org =
      run_command(KIM_BINARY, {"token", "create", "--config", path, "--user", "c.meyer", "--role",
                               "case_manager", "--org", "caritas-greven"});
  EXPECT_EQ(unknown_org.exit_code, 2);
  EXPECT_THAT(unknown_org.err,
              HasSubstr("unknown organisation \"caritas-greven\" (known: caritas-rheine)"));
  {
    // None of the refused commands wrote a user or a token.
    auto db = store::Connection::open(dir.path() / "data" / "kim.sqlite3", SQLITE_OPEN_READONLY);
    EXPECT_EQ(db.query("SELECT count(*) AS n FROM users")[0]["n"], 0);
    EXPECT_EQ(db.query("SELECT count(*) AS n FROM api_tokens")[0]["n"], 0);
  }

  auto ok = run_command(KIM_BINARY, {"token", "create", "--config", path, "--user", "c.meyer",
                                     "--role", "case_manager", "--org", "caritas-rheine"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out.rfind("kim_", 0), 0u);
  {
    // Through the write path like POST /api/v1/users: the user and its token are audited, with
    // the command line as the actor.
    auto db = store::Connection::open(dir.path() / "data" / "kim.sqlite3", SQLITE_OPEN_READONLY);
    auto entries = db.query("SELECT user_name, action, object_type FROM audit_log ORDER BY id");
    ASSERT_EQ(entries.size(), 2u) << entries.dump();
    EXPECT_EQ(entries[0]["user_name"], "cli");
    EXPECT_EQ(entries[0]["object_type"], "user");
    EXPECT_EQ(entries[1]["object_type"], "token");
  }
  auto second = run_command(KIM_BINARY, {"token", "create", "--config", path, "--user", "c.meyer",
                                         "--role", "case_manager", "--org", "caritas-rheine"});
  EXPECT_EQ(second.exit_code, 0) << "the same user gets another token: " << second.err;
  EXPECT_NE(second.out, ok.out);
  auto conflicting = run_command(
      KIM_BINARY, {"token", "create", "--config", path, "--user", "c.meyer", "--role", "admin"});
  EXPECT_EQ(conflicting.exit_code, 2);
  EXPECT_THAT(conflicting.err, HasSubstr("exists with role \"case_manager\""));
}

// The calendar date is the deployment's (deployment.time_zone), not the server's: two zones 26
// hours apart always disagree on it, and `config check` shows the one in effect.
TEST(CliTest, ConfigCheckShowsTodayInTheDeploymentsTimeZone) {
  TempDir dir;
  const auto path = (dir.path() / "kim.json").string();
  const auto date_at = [](std::chrono::hours offset) {
    const std::time_t t =
        std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + offset);
    std::tm utc{};
    gmtime_r(&t, &utc);
    char text[16];
    std::strftime(text, sizeof text, "%Y-%m-%d", &utc);
    return std::string(text);
  };
  // Etc/GMT-14 is UTC+14 and Etc/GMT+12 is UTC-12 (POSIX signs).
  for (const auto& [zone, offset] : {std::pair{"Etc/GMT-14", std::chrono::hours(14)},
                                     std::pair{"Etc/GMT+12", std::chrono::hours(-12)}}) {
    std::ofstream(path)
        << nlohmann::json{{"data_dir", "data"}, {"deployment", {{"time_zone", zone}}}}.dump();
    const std::string before = date_at(offset);
    const auto check = run_command(KIM_BINARY, {"config", "check", "--config", path});
    const std::string after = date_at(offset);
    ASSERT_EQ(check.exit_code, 0) << check.err;
    // Around midnight in that zone either date is right.
    EXPECT_TRUE(check.out.find("time zone:   " + std::string(zone) + " (today is " + before +
                               ")") != std::string::npos ||
                check.out.find("(today is " + after + ")") != std::string::npos)
        << zone << ": " << check.out;
  }
  std::ofstream(path) << R"({"data_dir": "data", "deployment": {"time_zone": "Europe/Rheine"}})";
  const auto unknown = run_command(KIM_BINARY, {"config", "check", "--config", path});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
  EXPECT_THAT(unknown.err, HasSubstr("deployment.time_zone: unknown time zone \"Europe/Rheine\""));
}

}  // namespace
}  // namespace kim::test
