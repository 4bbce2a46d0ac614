#include "config/host_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/paths.hpp"

namespace kim::config {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

// Parses an in-memory document anchored at /etc/kim; returns the problems, or {} when it parsed.
std::vector<std::string> problems_of(const json& document) {
  try {
    parse_host_config(document, "/etc/kim", "test.json");
  } catch (const ConfigError& e) {
    return e.problems();
  }
  return {};
}

std::string joined(const std::vector<std::string>& problems) {
  std::string text;
  for (const auto& problem : problems)
    text += "\n  " + problem;
  return text.empty() ? "\n  (no problems)" : text;
}

bool any_contains(const std::vector<std::string>& problems, const std::string& needle) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(needle) != std::string::npos; });
}

// ---- (a) defaults ---------------------------------------------------------------------------

TEST(HostConfigDefaults, EmptyObjectGivesShippedDefaults) {
  const HostConfig config = parse_host_config(json::object(), "/etc/kim", "defaults");

  EXPECT_TRUE(config.source.empty());
  EXPECT_EQ(config.deployment_name, "KIM Platform");
  EXPECT_EQ(config.time_zone, "Europe/Berlin");
  EXPECT_EQ(config.data_dir, fs::path("/etc/kim/var"));

  EXPECT_EQ(config.server.host, "127.0.0.1");
  EXPECT_EQ(config.server.port, 8080);
  EXPECT_EQ(config.server.io_threads, 2);
  EXPECT_EQ(config.server.worker_threads, 32);
  EXPECT_EQ(config.server.body_limit_bytes, 1048576u);
  EXPECT_EQ(config.server.max_json_depth, 64u);
  EXPECT_EQ(config.server.request_timeout, std::chrono::seconds(30));
  EXPECT_EQ(config.server.keep_alive_timeout, std::chrono::seconds(60));
  EXPECT_EQ(config.server.shutdown_timeout, std::chrono::seconds(20));
  EXPECT_EQ(config.server.max_connections, 0);  // from the open-file limit
  EXPECT_EQ(config.server.reserved_connections, 16);
  EXPECT_EQ(config.server.max_connections_per_address, 256);
  EXPECT_EQ(config.server.auth_failures_per_address, 20);
  EXPECT_EQ(config.server.auth_failure_window, std::chrono::seconds(60));
  EXPECT_EQ(config.server.auth_throttle_addresses, 65536u);

  EXPECT_EQ(config.database.path, fs::path("/etc/kim/var/kim.sqlite3"));
  EXPECT_EQ(config.database.synchronous, "FULL");
  EXPECT_EQ(config.database.busy_timeout_ms, 5000);
  EXPECT_EQ(config.database.read_connections, 4);
  EXPECT_EQ(config.database.max_batch, 256);
  EXPECT_TRUE(config.database.sync_thread);

  EXPECT_EQ(config.log.level, "info");
  EXPECT_FALSE(config.log.pattern.empty());
  EXPECT_FALSE(config.log.file.has_value());

  EXPECT_TRUE(config.plugins.directories.empty());
  EXPECT_TRUE(config.plugins.settings.empty());
  EXPECT_TRUE(config.organisations.empty());
}

TEST(HostConfigDefaults, GivenValuesOverrideDefaultsAndOthersStay) {
  const json document = {
      {"deployment", {{"name", "Kreis Test"}, {"time_zone", "Etc/UTC"}}},
      {"server", {{"listen", "0.0.0.0:9090"}, {"io_threads", 4}}},
      {"database", {{"synchronous", "NORMAL"}, {"sync_thread", false}}},
      {"log", {{"level", "debug"}}},
  };
  const HostConfig config = parse_host_config(document, "/etc/kim", "inline");
  EXPECT_EQ(config.deployment_name, "Kreis Test");
  EXPECT_EQ(config.time_zone, "Etc/UTC");
  EXPECT_EQ(config.server.host, "0.0.0.0");
  EXPECT_EQ(config.server.port, 9090);
  EXPECT_EQ(config.server.io_threads, 4);
  EXPECT_EQ(config.server.worker_threads, 32);  // default kept beside a given sibling
  EXPECT_EQ(config.database.synchronous, "NORMAL");
  EXPECT_EQ(config.database.busy_timeout_ms, 5000);
  EXPECT_FALSE(config.database.sync_thread);
  EXPECT_EQ(config.log.level, "debug");
}

TEST(HostConfigDefaults, PluginSettingsGetEnabledAndConfigDefaults) {
  const json document = {{"plugins",
                          {{"settings",
                            {{"hello", {{"enabled", false}, {"config", {{"greeting", "Moin"}}}}},
                             {"other", json::object()}}}}}};
  const HostConfig config = parse_host_config(document, "/etc/kim", "inline");
  ASSERT_EQ(config.plugins.settings.size(), 2u);
  const PluginSetting& hello = config.plugins.settings.at("hello");
  EXPECT_FALSE(hello.enabled);
  EXPECT_EQ(hello.config, (json{{"greeting", "Moin"}}));
  const PluginSetting& other = config.plugins.settings.at("other");
  EXPECT_TRUE(other.enabled);
  EXPECT_EQ(other.config, json::object());
}

TEST(HostConfigDefaults, OrganisationsAreParsedInOrderWithDefaults) {
  const json document = json::parse(R"({"organisations": [
    {"slug": "kreis-steinfurt", "name": "Kreis Steinfurt", "kind": "coordinating_office",
     "town": "Steinfurt", "team_access": true},
    {"slug": "caritas-rheine", "name": "Caritas Rheine", "kind": "welfare_organisation",
     "supervisor": "kreis-steinfurt"}
  ]})");
  const HostConfig config = parse_host_config(document, "/etc/kim", "inline");
  ASSERT_EQ(config.organisations.size(), 2u);
  const OrganisationConfig& office = config.organisations[0];
  EXPECT_EQ(office.slug, "kreis-steinfurt");
  EXPECT_EQ(office.name, "Kreis Steinfurt");
  EXPECT_EQ(office.kind, "coordinating_office");
  EXPECT_EQ(office.town, "Steinfurt");
  EXPECT_EQ(office.supervisor, "");
  EXPECT_TRUE(office.team_access);
  const OrganisationConfig& caritas = config.organisations[1];
  EXPECT_EQ(caritas.slug, "caritas-rheine");
  EXPECT_EQ(caritas.town, "");
  EXPECT_EQ(caritas.supervisor, "kreis-steinfurt");
  EXPECT_FALSE(caritas.team_access);
}

// ---- (b) bad configs --------------------------------------------------------------------------

struct BadConfig {
  const char* name;
  const char* document;  // JSON text
  const char* expected;  // a substring of one of the problems
};

void PrintTo(const BadConfig& row, std::ostream* os) {
  *os << row.name;
}

class HostConfigBadTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(HostConfigBadTest, IsRefusedWithPathQualifiedMessage) {
  const BadConfig& row = GetParam();
  const json document = json::parse(row.document);
  try {
    parse_host_config(document, "/etc/kim", "bad.json");
    FAIL() << row.document << " was accepted";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(any_contains(e.problems(), row.expected))
        << "expected \"" << row.expected << "\" among:" << joined(e.problems());
    EXPECT_THAT(e.what(), HasSubstr("bad.json"));
    EXPECT_THAT(e.what(), HasSubstr(row.expected));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, HostConfigBadTest,
    ::testing::Values(
        BadConfig{"io_threads_zero", R"({"server":{"io_threads":0}})",
                  "server.io_threads: must be at least 1"},
        BadConfig{"io_threads_too_many", R"({"server":{"io_threads":65}})",
                  "server.io_threads: must be at most 64"},
        BadConfig{"max_json_depth_too_small", R"({"server":{"max_json_depth":7}})",
                  "server.max_json_depth: must be at least 8"},
        BadConfig{"max_json_depth_too_large", R"({"server":{"max_json_depth":513}})",
                  "server.max_json_depth: must be at most 512"},
        BadConfig{"max_json_depth_not_integer", R"({"server":{"max_json_depth":"64"}})",
                  "server.max_json_depth: must be an integer"},
        BadConfig{"unknown_top_level_key", R"({"servr":{}})",
                  "servr: unknown key (did you mean \"server\"?)"},
        BadConfig{"unknown_nested_key_suggested", R"({"server":{"lisen":"127.0.0.1:80"}})",
                  "server.lisen: unknown key (did you mean \"listen\"?)"},
        BadConfig{"unknown_nested_key_listed", R"({"database":{"colour":1}})",
                  "database.colour: unknown key (allowed: busy_timeout_ms, file, max_batch, "
                  "read_connections, sync_thread, synchronous)"},
        BadConfig{"sync_thread_not_boolean", R"({"database":{"sync_thread":"yes"}})",
                  "database.sync_thread: must be a boolean (got string \"yes\")"},
        BadConfig{"string_for_integer", R"({"server":{"io_threads":"4"}})",
                  "server.io_threads: must be an integer (got string \"4\")"},
        BadConfig{"float_for_integer", R"({"server":{"worker_threads":2.5}})",
                  "server.worker_threads: must be an integer (got number 2.5)"},
        BadConfig{"number_for_string", R"({"data_dir":5})",
                  "data_dir: must be a string (got integer 5)"},
        BadConfig{"array_for_object", R"({"server":[]})",
                  "server: must be an object (got array [])"},
        BadConfig{"root_not_object", R"([])", "(root): must be an object (got array [])"},
        BadConfig{"listen_without_port", R"({"server":{"listen":"127.0.0.1"}})",
                  "server.listen: must be \"HOST:PORT\""},
        BadConfig{"listen_port_too_big", R"({"server":{"listen":"127.0.0.1:70000"}})",
                  "server.listen: must have a port in 1..65535"},
        BadConfig{"listen_port_zero", R"({"server":{"listen":"127.0.0.1:0"}})",
                  "server.listen: must have a port in 1..65535"},
        BadConfig{"listen_empty_host", R"({"server":{"listen":":8080"}})",
                  "server.listen: must have a non-empty host before the port"},
        BadConfig{"listen_ipv6_without_brackets", R"({"server":{"listen":"::1:8080"}})",
                  "server.listen: must put an IPv6 host in brackets"},
        BadConfig{"log_level_verbose", R"({"log":{"level":"verbose"}})",
                  "log.level: must be one of \"trace\", \"debug\", \"info\", \"warn\", "
                  "\"error\", \"critical\", \"off\" (got \"verbose\")"},
        BadConfig{"log_file_empty", R"({"log":{"file":""}})", "log.file: must not be empty"},
        BadConfig{"synchronous_off", R"({"database":{"synchronous":"OFF"}})",
                  "database.synchronous: must be one of \"FULL\", \"NORMAL\" (got \"OFF\")"},
        BadConfig{"synchronous_lower_case", R"({"database":{"synchronous":"full"}})",
                  "database.synchronous: must be one of \"FULL\", \"NORMAL\""},
        BadConfig{"plugin_directories_not_array", R"({"plugins":{"directories":"plugins"}})",
                  "plugins.directories: must be an array (got string \"plugins\")"},
        BadConfig{"plugin_directory_empty", R"({"plugins":{"directories":["a",""]}})",
                  "plugins.directories[1]: must not be empty"},
        BadConfig{"plugin_enabled_yes", R"({"plugins":{"settings":{"hello":{"enabled":"yes"}}}})",
                  "plugins.settings.hello.enabled: must be a boolean (got string \"yes\")"},
        BadConfig{"plugin_setting_unknown_key",
                  R"({"plugins":{"settings":{"hello":{"unknown":true}}}})",
                  "plugins.settings.hello.unknown: unknown key (allowed: config, enabled)"},
        BadConfig{"plugin_config_not_object", R"({"plugins":{"settings":{"hello":{"config":[]}}}})",
                  "plugins.settings.hello.config: must be an object (got array [])"},
        BadConfig{"plugin_id_with_dot_is_quoted",
                  R"({"plugins":{"settings":{"my.plugin":{"enabled":1}}}})",
                  "plugins.settings[\"my.plugin\"].enabled: must be a boolean"},
        BadConfig{"body_limit_below_1024", R"({"server":{"body_limit_bytes":1023}})",
                  "server.body_limit_bytes: must be at least 1024 (got 1023)"},
        BadConfig{"deployment_name_empty", R"({"deployment":{"name":""}})",
                  "deployment.name: must not be empty"},
        BadConfig{"time_zone_unknown", R"({"deployment":{"time_zone":"Mars/Olympus_Mons"}})",
                  "deployment.time_zone: unknown time zone \"Mars/Olympus_Mons\""},
        BadConfig{"time_zone_leaving_tzdata", R"({"deployment":{"time_zone":"../../etc/passwd"}})",
                  "deployment.time_zone: must match"},
        BadConfig{"time_zone_a_folder", R"({"deployment":{"time_zone":"Europe"}})",
                  "deployment.time_zone: unknown time zone \"Europe\""},
        BadConfig{"time_zone_a_text_file_of_tzdata",
                  R"({"deployment":{"time_zone":"leapseconds"}})",
                  "deployment.time_zone: unknown time zone \"leapseconds\""},
        BadConfig{"organisations_not_array", R"({"organisations":{}})",
                  "organisations: must be an array (got object {})"},
        BadConfig{"organisation_without_slug",
                  R"({"organisations":[{"name":"Caritas","kind":"other"}]})",
                  "organisations[0]: missing required key \"slug\""},
        BadConfig{"organisation_slug_upper_case",
                  R"({"organisations":[{"slug":"Caritas","name":"Caritas","kind":"other"}]})",
                  "organisations[0].slug: must match pattern"},
        BadConfig{"organisation_unknown_kind",
                  R"({"organisations":[{"slug":"ok","name":"A","kind":"other"},)"
                  R"({"slug":"bad","name":"B","kind":"church"}]})",
                  "organisations[1].kind: must be one of"},
        BadConfig{"organisation_unknown_key",
                  R"({"organisations":[{"slug":"ok","name":"A","kind":"other","twon":"x"}]})",
                  "organisations[0].twon: unknown key (did you mean \"town\"?)"},
        BadConfig{"negative_busy_timeout", R"({"database":{"busy_timeout_ms":-1}})",
                  "database.busy_timeout_ms: must be at least 0 (got -1)"}),
    [](const ::testing::TestParamInfo<BadConfig>& info) { return std::string(info.param.name); });

TEST(HostConfigErrors, EveryProblemOfOneDocumentIsReported) {
  const json document = json::parse(R"({
    "servr": {},
    "server": {"io_threads": 0, "listen": "nohost"},
    "database": {"synchronous": "OFF"},
    "log": {"level": "verbose"},
    "plugins": {"directories": [""], "settings": {"hello": {"enabled": "yes"}}}
  })");
  const auto problems = problems_of(document);
  ASSERT_EQ(problems.size(), 7u) << joined(problems);
  for (const char* expected :
       {"servr: unknown key", "server.io_threads: must be at least 1", "server.listen: must be",
        "database.synchronous: must be one of", "log.level: must be one of",
        "plugins.directories[0]: must not be empty", "plugins.settings.hello.enabled: must be"}) {
    EXPECT_TRUE(any_contains(problems, expected))
        << "missing \"" << expected << "\" in:" << joined(problems);
  }
}

TEST(HostConfigErrors, WhatListsOneProblemPerLineAfterTheSource) {
  try {
    parse_host_config(json::parse(R"({"server":{"io_threads":0,"worker_threads":0}})"), "/etc/kim",
                      "site.json");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("site.json is invalid:", 0), 0u) << what;
    ASSERT_EQ(e.problems().size(), 2u);
    for (const auto& problem : e.problems())
      EXPECT_THAT(what, HasSubstr("\n  " + problem));
  }
}

// ---- (c) paths --------------------------------------------------------------------------------

TEST(HostConfigPaths, RelativePathsAreResolvedAgainstBaseDir) {
  const json document = {
      {"data_dir", "data"},
      {"database", {{"file", "db/kim.db"}}},
      {"log", {{"file", "logs/kim.log"}}},
      {"plugins", {{"directories", {"plugins", "../shared/plugins", "/opt/kim/plugins"}}}},
  };
  const HostConfig config = parse_host_config(document, "/etc/kim", "inline");
  EXPECT_EQ(config.data_dir, fs::path("/etc/kim/data"));
  EXPECT_EQ(config.database.path, fs::path("/etc/kim/data/db/kim.db"));
  ASSERT_TRUE(config.log.file.has_value());
  EXPECT_EQ(*config.log.file, fs::path("/etc/kim/logs/kim.log"));
  ASSERT_EQ(config.plugins.directories.size(), 3u);
  EXPECT_EQ(config.plugins.directories[0], fs::path("/etc/kim/plugins"));
  EXPECT_EQ(config.plugins.directories[1], fs::path("/etc/shared/plugins"));
  EXPECT_EQ(config.plugins.directories[2], fs::path("/opt/kim/plugins"));
}

TEST(HostConfigPaths, AbsolutePathsAreKept) {
  const json document = {
      {"data_dir", "/srv/kim"},
      {"database", {{"file", "/mnt/fast/kim.sqlite3"}}},
      {"log", {{"file", "/var/log/kim/kim.log"}}},
  };
  const HostConfig config = parse_host_config(document, "/etc/kim", "inline");
  EXPECT_EQ(config.data_dir, fs::path("/srv/kim"));
  EXPECT_EQ(config.database.path, fs::path("/mnt/fast/kim.sqlite3"));
  ASSERT_TRUE(config.log.file.has_value());
  EXPECT_EQ(*config.log.file, fs::path("/var/log/kim/kim.log"));
}

TEST(HostConfigPaths, DatabaseFileIsRelativeToAbsoluteDataDir) {
  const HostConfig config = parse_host_config(json{{"data_dir", "/srv/kim"}}, "/etc/kim", "inline");
  EXPECT_EQ(config.database.path, fs::path("/srv/kim/kim.sqlite3"));
}

// A fresh folder per test, removed afterwards.
class HostConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    std::random_device random;
    dir_ = fs::temp_directory_path() / ("kim_host_config_test_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(counter++) + "_" + std::to_string(random()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path;
  }

  fs::path dir_;
};

TEST_F(HostConfigFileTest, RelativePathsAreResolvedAgainstTheFilesFolder) {
  const fs::path file = write("etc/kim.json", R"({
    "data_dir": "var",
    "log": {"file": "log/kim.log"},
    "plugins": {"directories": ["plugins", "/opt/kim/plugins"]}
  })");
  const HostConfig config = load_host_config(file);
  const fs::path folder = dir_ / "etc";
  EXPECT_EQ(config.source, file);
  EXPECT_EQ(config.data_dir, folder / "var");
  EXPECT_EQ(config.database.path, folder / "var" / "kim.sqlite3");
  ASSERT_TRUE(config.log.file.has_value());
  EXPECT_EQ(*config.log.file, folder / "log" / "kim.log");
  ASSERT_EQ(config.plugins.directories.size(), 2u);
  EXPECT_EQ(config.plugins.directories[0], folder / "plugins");
  EXPECT_EQ(config.plugins.directories[1], fs::path("/opt/kim/plugins"));
}

// ---- (d) unreadable files -----------------------------------------------------------------------

TEST_F(HostConfigFileTest, MissingFileThrowsConfigErrorNamingTheFile) {
  const fs::path file = dir_ / "does-not-exist.json";
  try {
    load_host_config(file);
    FAIL() << "a missing file was accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr(file.string()));
    EXPECT_FALSE(e.problems().empty());
  }
}

TEST_F(HostConfigFileTest, InvalidJsonThrowsConfigErrorNamingTheFile) {
  const fs::path file = write("broken.json", R"({"server": {"io_threads": 2,}})");
  try {
    load_host_config(file);
    FAIL() << "invalid JSON was accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr(file.string()));
    ASSERT_EQ(e.problems().size(), 1u);
    EXPECT_THAT(e.problems()[0], HasSubstr("not valid JSON"));
  }
}

TEST_F(HostConfigFileTest, MaxJsonDepthBoundsAreAccepted) {
  for (int depth : {8, 512}) {
    const fs::path file =
        write("depth.json", R"({"server": {"max_json_depth": )" + std::to_string(depth) + "}}");
    EXPECT_EQ(load_host_config(file).server.max_json_depth, static_cast<std::size_t>(depth));
  }
}

// The file is read with the same bound as request bodies: a deep one is refused, not crashed on.
TEST_F(HostConfigFileTest, DeeplyNestedFileIsRefusedNamingTheDepth) {
  const fs::path file = write(
      "deep.json", R"({"partners": )" + std::string(200000, '[') + std::string(200000, ']') + "}");
  try {
    load_host_config(file);
    FAIL() << "a deeply nested file was accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr(file.string()));
    ASSERT_EQ(e.problems().size(), 1u);
    EXPECT_THAT(e.problems()[0], HasSubstr("deeper than 64 levels"));
  }
}

TEST_F(HostConfigFileTest, EmptyFileThrowsConfigError) {
  const fs::path file = write("empty.json", "");
  EXPECT_THROW(load_host_config(file), ConfigError);
}

TEST_F(HostConfigFileTest, InvalidContentNamesTheFile) {
  const fs::path file = write("kim.json", R"({"server": {"io_threads": 0}})");
  try {
    load_host_config(file);
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr(file.string()));
    EXPECT_THAT(e.what(), HasSubstr("server.io_threads: must be at least 1"));
  }
}

// ---- (e) the shipped deployment config ----------------------------------------------------------

TEST(HostConfigShipped, KreisSteinfurtLoads) {
  const fs::path file = std::string(KIM_SOURCE_DIR) + "/config/kreis-steinfurt.json";
  try {
    const HostConfig config = load_host_config(file);
    EXPECT_EQ(config.source, file);
    EXPECT_FALSE(config.deployment_name.empty());
    EXPECT_EQ(config.time_zone, "Europe/Berlin");
  } catch (const ConfigError& e) {
    FAIL() << e.what();
  }
}

// ---- (f) parse_listen_address
// ---------------------------------------------------------------------

TEST(HostConfigListen, SplitsHostAndPort) {
  EXPECT_EQ(parse_listen_address("127.0.0.1:8080"),
            std::make_pair(std::string("127.0.0.1"), std::uint16_t{8080}));
  EXPECT_EQ(parse_listen_address("localhost:65535"),
            std::make_pair(std::string("localhost"), std::uint16_t{65535}));
}

TEST(HostConfigListen, StripsBracketsOfIpv6Host) {
  const auto [host, port] = parse_listen_address("[::1]:8080");
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 8080);
}

TEST(HostConfigListen, BracketedIpv6InConfigReachesServerConfig) {
  const HostConfig config =
      parse_host_config(json{{"server", {{"listen", "[::1]:9443"}}}}, "/etc/kim", "inline");
  EXPECT_EQ(config.server.host, "::1");
  EXPECT_EQ(config.server.port, 9443);
}

TEST(HostConfigListen, RefusesMalformedAddresses) {
  for (const char* bad : {"", "localhost", "localhost:", ":8080", "localhost:http", "localhost:80x",
                          "localhost:70000", "localhost:-1"}) {
    EXPECT_THROW(parse_listen_address(bad), std::invalid_argument) << bad;
  }
}

}  // namespace
}  // namespace kim::config
