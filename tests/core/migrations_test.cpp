// The core migrations embedded from core/store/migrations/*.sql: shipped ones keep their exact
// text (databases in the field recorded their checksums), and every path to the newest version
// (fresh, from the shipped database, from any earlier version) ends in the same schema.
#include "store/core_migrations.hpp"
#include "support/paths.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kim::store {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

// What the build of 49cd6a4 recorded in schema_migrations for every core migration, before the
// SQL moved from C++ strings into core/store/migrations/. Databases in the field hold exactly
// these checksums; a file that no longer matches would stop them from starting.
struct ShippedMigration {
  int version;
  const char* description;
  std::size_t sql_size;
  const char* checksum;
};
const ShippedMigration kShipped[] = {
    {1, "organisations, users and API tokens", 1331, "ef7439d648e37f8c"},
    {2, "audit log (append-only)", 739, "e9213ab986ba07ca"},
    {3, "persons, cases, assessments, goals, tasks, notes, programme participations", 4490,
     "14060dab9cd12a77"},
    {4, "partner network and cooperation agreements", 1308, "500ec6d1ffffbffd"},
    {5, "consents; contact details of persons", 877, "2020835aefd3c65a"},
    {6, "referrals to partners", 1901, "259fd88cada2c2d6"},
};

// A database file as that build left it (schema and schema_migrations, dumped with the sqlite3
// shell after `kim token create` on an empty data folder).
const fs::path kShippedDump =
    fs::path(KIM_SOURCE_DIR) / "tests" / "core" / "fixtures" / "database_core_v6.sql";

class MigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("kim_migrations_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
            "_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  StoreOptions options(const std::string& file) const {
    StoreOptions o;
    o.path = dir_ / file;
    o.synchronous = "OFF";  // durability is not under test here
    return o;
  }

  // Creates `file` from the dump of the shipped database, without the Store.
  void restore_shipped(const std::string& file) const {
    std::ifstream in(kShippedDump, std::ios::binary);
    ASSERT_TRUE(in) << "cannot read " << kShippedDump;
    std::stringstream dump;
    dump << in.rdbuf();
    Connection db = Connection::open(dir_ / file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    db.exec(dump.str());
  }

  // The schema as SQLite stores it; sqlite_stat* tables hold statistics (PRAGMA optimize may make
  // them at close), not schema.
  static json schema_of(Store& store) {
    return store.read([](Connection& db) {
      return json(
          db.query("SELECT type, name, tbl_name, sql FROM sqlite_schema "
                   "WHERE name NOT LIKE 'sqlite_stat%' ORDER BY name"));
    });
  }

  static json records_of(Store& store) {
    return store.read([](Connection& db) {
      return json(
          db.query("SELECT version, description, checksum FROM schema_migrations "
                   "WHERE namespace = 'core' ORDER BY version"));
    });
  }

  json fresh_schema() {
    Store store(options("fresh.sqlite3"));
    store.migrate("core", core_migrations());
    return schema_of(store);
  }

  fs::path dir_;
};

TEST_F(MigrationsTest, NumberedOneTwoThreeWithDescriptionAndSql) {
  const auto migrations = core_migrations();
  ASSERT_GE(migrations.size(), std::size(kShipped));
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i) + 1);
    EXPECT_FALSE(migrations[i].description.empty()) << "core#" << i + 1;
    EXPECT_THAT(migrations[i].sql, HasSubstr(" ")) << "core#" << i + 1;
  }
}

TEST_F(MigrationsTest, ShippedMigrationsKeepTheirTextAndChecksums) {
  const auto migrations = core_migrations();
  ASSERT_GE(migrations.size(), std::size(kShipped));
  for (const auto& shipped : kShipped) {
    const Migration& m = migrations[shipped.version - 1];
    EXPECT_EQ(m.description, shipped.description) << "core#" << shipped.version;
    EXPECT_EQ(m.sql.size(), shipped.sql_size) << "core#" << shipped.version;
  }
  // The checksums as the store computes and records them.
  Store store(options("kim.sqlite3"));
  store.migrate("core", core_migrations());
  const json records = records_of(store);
  for (const auto& shipped : kShipped) {
    const json& record = records.at(shipped.version - 1);
    EXPECT_EQ(record["version"], shipped.version);
    EXPECT_EQ(record["description"], shipped.description) << "core#" << shipped.version;
    EXPECT_EQ(record["checksum"], std::string(shipped.checksum))
        << "core#" << shipped.version
        << " changed: databases that applied it would refuse to start (never edit a shipped "
           "file in core/store/migrations/)";
  }
}

TEST_F(MigrationsTest, ShippedDatabaseStartsAndEndsLikeAFreshOne) {
  restore_shipped("shipped.sqlite3");
  Store shipped(options("shipped.sqlite3"));
  ASSERT_EQ(shipped.schema_version("core"), static_cast<int>(std::size(kShipped)));
  const json before = records_of(shipped);

  const auto migrations = core_migrations();
  EXPECT_EQ(shipped.migrate("core", migrations),
            static_cast<int>(migrations.size() - std::size(kShipped)));
  EXPECT_EQ(shipped.schema_version("core"), static_cast<int>(migrations.size()));
  // The records of the shipped migrations are kept as they were.
  const json after = records_of(shipped);
  for (std::size_t i = 0; i < before.size(); ++i)
    EXPECT_EQ(after.at(i), before.at(i));

  const json fresh = fresh_schema();
  ASSERT_FALSE(fresh.empty());
  EXPECT_EQ(schema_of(shipped), fresh);
}

TEST_F(MigrationsTest, EveryEarlierVersionUpgradesToTheFreshSchema) {
  const auto migrations = core_migrations();
  const json fresh = fresh_schema();
  for (std::size_t applied = 1; applied < migrations.size(); ++applied) {
    const std::string file = "v" + std::to_string(applied) + ".sqlite3";
    {
      Store store(options(file));
      store.migrate("core", {migrations.begin(), migrations.begin() + applied});
    }
    Store store(options(file));
    EXPECT_EQ(store.migrate("core", migrations), static_cast<int>(migrations.size() - applied));
    EXPECT_EQ(schema_of(store), fresh) << "upgraded from core#" << applied;
  }
}

TEST_F(MigrationsTest, EditedShippedMigrationRefused) {
  restore_shipped("shipped.sqlite3");
  Store store(options("shipped.sqlite3"));
  auto edited = core_migrations();
  edited[2].sql += " ";  // one trailing space in core#3
  try {
    store.migrate("core", edited);
    FAIL() << "expected the edited migration to be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("migration core#3 was changed after it was applied"));
  }
  EXPECT_EQ(store.schema_version("core"), static_cast<int>(std::size(kShipped)));
}

}  // namespace
}  // namespace kim::store
