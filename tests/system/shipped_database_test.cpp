// The real `kim serve` on a database as the first release left it (tests/core/fixtures): the
// embedded core migrations must accept what that build recorded, apply none of its migrations
// again, and serve reads and writes on its tables.
#include <signal.h>
#include <sqlite3.h>

#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/sqlite.hpp"
#include "support/http_client.hpp"
#include "support/kim_process.hpp"

namespace kim::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ShippedDatabaseTest, KimServesADatabaseLeftByTheFirstRelease) {
  TempDir dir;
  const auto data = dir.path() / "data";
  std::filesystem::create_directories(data);
  {
    const std::string dump = read_file(std::filesystem::path(KIM_SOURCE_DIR) / "tests" / "core" /
                                       "fixtures" / "database_core_v6.sql");
    ASSERT_FALSE(dump.empty());
    auto db =
        store::Connection::open(data / "kim.sqlite3", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    db.exec(dump);
  }
  const auto config = (dir.path() / "kim.json").string();
  std::ofstream(config) << nlohmann::json{{"data_dir", "data"}}.dump();

  std::uint16_t port = 0;
  std::unique_ptr<KimProcess> kim;
  // A parallel test may take the port picked before kim binds it: then try another.
  for (int attempt = 0;; ++attempt) {
    port = free_port();
    kim = std::make_unique<KimProcess>(
        KIM_BINARY,
        std::vector<std::string>{"serve", "--config", config, "--listen",
                                 "127.0.0.1:" + std::to_string(port)},
        dir.path() / "kim.log");
    if (kim->wait_ready(port)) break;
    ASSERT_TRUE(attempt < 2 && kim->log().find("cannot listen") != std::string::npos) << kim->log();
  }
  const std::string log = kim->log();
  for (int version = 1; version <= 6; ++version) {
    EXPECT_THAT(log, Not(HasSubstr("applied migration core#" + std::to_string(version) + " ")));
  }

  // The database has no users yet: kim makes the bootstrap admin, as on any empty database.
  std::string token = read_file(data / "bootstrap-admin.token");
  while (!token.empty() && token.back() == '\n')
    token.pop_back();
  ASSERT_FALSE(token.empty()) << log;
  HttpClient client("127.0.0.1", port);
  auto health = client.get("/health");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(health.json()["database"], "ok") << health.body;
  auto created = client.post("/api/v1/organisations",
                             {{"slug", "ki-kreis-steinfurt"},
                              {"name", "Kommunales Integrationszentrum Kreis Steinfurt"},
                              {"kind", "coordinating_office"},
                              {"town", "Steinfurt"}},
                             token);
  EXPECT_EQ(created.status, 201) << created.body;
  auto listed = client.get("/api/v1/organisations", token);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json()["items"].size(), 1u) << listed.body;

  kim->send_signal(SIGTERM);
  EXPECT_EQ(kim->wait_exit(std::chrono::seconds(30)), std::optional<int>(0)) << kim->log();
}

}  // namespace
}  // namespace kim::test
