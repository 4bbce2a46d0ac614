// The per-connection prepared-statement cache of store::Connection: reuse, cleared bindings,
// nesting, schema changes, errors, its bound and statements that outlive their connection.
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "store/sqlite.hpp"

namespace kim::store {
namespace {

namespace fs = std::filesystem;

class StatementCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("kim_statement_cache_test_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter++) + "_" + std::to_string(random()));
    fs::create_directories(dir_);
    db_.emplace(Connection::open(dir_ / "cache.db", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
    db_->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
  }
  void TearDown() override {
    db_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  fs::path dir_;
  std::optional<Connection> db_;
};

TEST_F(StatementCacheTest, SameSqlIsPreparedOnce) {
  const std::size_t before = db_->cached_statements();
  for (int i = 0; i < 5; ++i) {
    db_->execute("INSERT INTO t (id, name) VALUES (?1, ?2)",
                 {std::int64_t{i}, "n" + std::to_string(i)});
  }
  EXPECT_EQ(db_->cached_statements(), before + 1);
  for (int i = 0; i < 5; ++i) {
    const auto rows = db_->query("SELECT name FROM t WHERE id = ?1", {std::int64_t{i}});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0]["name"], "n" + std::to_string(i));
  }
  EXPECT_EQ(db_->cached_statements(), before + 2);
}

TEST_F(StatementCacheTest, ReusedStatementStartsWithoutBindingsAndFromTheStart) {
  {
    Statement stmt = db_->prepare("SELECT ?1 IS NULL, ?1");
    stmt.bind(1, std::string("secret"));
    ASSERT_TRUE(stmt.step());
    EXPECT_EQ(stmt.column_int64(0), 0);
  }  // back to the cache, mid-result
  Statement again = db_->prepare("SELECT ?1 IS NULL, ?1");
  ASSERT_TRUE(again.step());
  EXPECT_EQ(again.column_int64(0), 1) << "the earlier binding must not leak into the next use";
  EXPECT_FALSE(again.step());
}

TEST_F(StatementCacheTest, NestedUseOfTheSameSqlGetsItsOwnStatement) {
  for (int i = 0; i < 3; ++i) {
    db_->execute("INSERT INTO t (id, name) VALUES (?1, 'x')", {std::int64_t{i}});
  }
  const std::string sql = "SELECT id FROM t WHERE id >= ?1 ORDER BY id";
  Statement outer = db_->prepare(sql);
  outer.bind(1, std::int64_t{0});
  int outer_rows = 0;
  while (outer.step()) {
    ++outer_rows;
    // While `outer` holds the cached statement, the same SQL must not disturb it.
    const auto inner = db_->query(sql, {outer.column_int64(0)});
    EXPECT_EQ(inner.size(), static_cast<std::size_t>(3 - outer.column_int64(0)));
  }
  EXPECT_EQ(outer_rows, 3);
}

TEST_F(StatementCacheTest, SchemaChangeIsSeenByACachedStatement) {
  db_->execute("INSERT INTO t (id, name) VALUES (1, 'a')");
  EXPECT_EQ(db_->query("SELECT * FROM t")[0].size(), 2u);
  db_->exec("ALTER TABLE t ADD COLUMN town TEXT NOT NULL DEFAULT 'Rheine'");
  const auto rows = db_->query("SELECT * FROM t");
  ASSERT_EQ(rows[0].size(), 3u);
  EXPECT_EQ(rows[0]["town"], "Rheine");
}

TEST_F(StatementCacheTest, FailedStepLeavesTheStatementReusable) {
  const std::string insert = "INSERT INTO t (id, name) VALUES (?1, 'x')";
  db_->execute(insert, {std::int64_t{1}});
  try {
    db_->execute(insert, {std::int64_t{1}});
    FAIL() << "a duplicate key must throw";
  } catch (const SqliteError& e) {
    EXPECT_EQ(e.code(), SQLITE_CONSTRAINT_PRIMARYKEY);
  }
  db_->execute(insert, {std::int64_t{2}});
  EXPECT_EQ(db_->query("SELECT count(*) AS n FROM t")[0]["n"], 2);
}

TEST_F(StatementCacheTest, TransactionControlIsCachedAndWorks) {
  const std::string insert = "INSERT INTO t (id, name) VALUES (?1, ?2)";
  db_->exec("BEGIN");
  db_->execute(insert, {std::int64_t{1}, "kept"});
  db_->exec("COMMIT");
  const std::size_t cached = db_->cached_statements();
  db_->exec("BEGIN");
  db_->execute(insert, {std::int64_t{2}, "dropped"});
  db_->exec("ROLLBACK");
  db_->exec("BEGIN");
  db_->exec("COMMIT");
  EXPECT_EQ(db_->cached_statements(), cached + 1);  // only ROLLBACK is new
  EXPECT_EQ(db_->query("SELECT count(*) AS n FROM t")[0]["n"], 1);
  // A script is still run statement by statement and is not cached as one.
  db_->exec("INSERT INTO t (id, name) VALUES (3, 'a'); INSERT INTO t (id, name) VALUES (4, 'b');");
  EXPECT_EQ(db_->query("SELECT count(*) AS n FROM t")[0]["n"], 3);
}

TEST_F(StatementCacheTest, CacheStaysBounded) {
  for (int i = 0; i < 1000; ++i) {
    db_->query("SELECT " + std::to_string(i) + " AS n");
  }
  EXPECT_LE(db_->cached_statements(), 256u);
  EXPECT_EQ(db_->query("SELECT 7 AS n")[0]["n"], 7);
}

TEST_F(StatementCacheTest, StatementMayOutliveItsConnection) {
  db_->execute("INSERT INTO t (id, name) VALUES (1, 'a')");
  Statement stmt = db_->prepare("SELECT name FROM t");
  db_.reset();  // the connection closes while its cached statement is in use
  ASSERT_TRUE(stmt.step());
  EXPECT_EQ(stmt.column_text(0), "a");
  // Destroying stmt now finalizes it and lets SQLite close the handle (ASan checks for leaks).
}

}  // namespace
}  // namespace kim::store
