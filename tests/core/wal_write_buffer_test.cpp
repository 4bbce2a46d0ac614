#include "store/wal_write_buffer.hpp"

#include <sqlite3.h>
#include <cstdint>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "support/kim_process.hpp"

namespace kim::store {
namespace {

namespace fs = std::filesystem;

// Real database files in a fresh folder; writers through the buffering VFS, readers and the
// recovery check through SQLite's default one, as in the store.
class WalWriteBufferTest : public ::testing::Test {
 protected:
  // A writer as the store opens it: WAL, commits without fsync, no automatic checkpoint (so the
  // frames stay in the WAL for the checks below).
  Connection open_writer(const fs::path& path, Connection::WalWrites wal_writes) {
    Connection db = Connection::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, wal_writes);
    EXPECT_EQ(db.query("PRAGMA journal_mode=WAL")[0]["journal_mode"], "wal");
    db.exec("PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0");
    return db;
  }

  static std::int64_t scalar(Connection& db, const std::string& sql) {
    return db.query(sql)[0].begin()->get<std::int64_t>();
  }

  // What another process would find after kim died now: a copy of the database and its WAL
  // (without the wal-index, so SQLite rebuilds it from the WAL and checks every frame's checksum).
  fs::path copy_as_after_a_crash(const fs::path& path) {
    const fs::path copy = dir_ / ("copy-" + std::to_string(copies_++) + ".db");
    fs::copy_file(path, copy);
    fs::copy_file(path.string() + "-wal", copy.string() + "-wal");
    return copy;
  }

  test::TempDir temp_;
  const fs::path& dir_ = temp_.path();
  int copies_ = 0;
};

// One page per row; the rows' total length shows every page arrived whole.
constexpr const char* kSchema = "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)";
constexpr const char* kInsertRows =
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) "
    "INSERT INTO t(v) SELECT randomblob(3000) FROM n";

TEST_F(WalWriteBufferTest, ACommitIsOneWriteAndOtherConnectionsSeeItAtOnce) {
  const fs::path path = dir_ / "kim.db";
  Connection writer = open_writer(path, Connection::WalWrites::buffered);
  writer.exec(kSchema);
  Connection reader = Connection::open(path, SQLITE_OPEN_READONLY);

  const WalWriteBufferCounts before = wal_write_buffer_counts();
  writer.execute(kInsertRows, {std::int64_t{20}});
  const WalWriteBufferCounts after = wal_write_buffer_counts();
  // SQLite wrote a header and a page for each of 20+ frames; the kernel got one write.
  EXPECT_GE(after.writes_gathered - before.writes_gathered, 40u);
  EXPECT_EQ(after.writes_made - before.writes_made, 1u);

  // Committed means in the file: another connection, through its own descriptor, reads it all.
  EXPECT_EQ(scalar(reader, "SELECT count(*) FROM t"), 20);
  EXPECT_EQ(scalar(reader, "SELECT sum(length(v)) FROM t"), 20 * 3000);

  // A connection without the buffer does not go through it.
  Connection direct = open_writer(dir_ / "direct.db", Connection::WalWrites::direct);
  direct.exec(kSchema);
  const WalWriteBufferCounts unbuffered = wal_write_buffer_counts();
  direct.execute(kInsertRows, {std::int64_t{20}});
  EXPECT_EQ(wal_write_buffer_counts().writes_gathered, unbuffered.writes_gathered);
}

// Transactions larger than one write, and pages written to the WAL twice within one transaction
// (a small cache spills them before the commit, and the UPDATE changes them again, so SQLite
// rewrites frame headers behind the buffer): a recovery from the files alone must find every
// commit intact, with valid checksums, and the same data the live reader sees.
TEST_F(WalWriteBufferTest, LargeAndSpillingTransactionsRecoverIntactFromTheFiles) {
  const fs::path path = dir_ / "kim.db";
  Connection writer = open_writer(path, Connection::WalWrites::buffered);
  writer.exec("PRAGMA cache_size=8");
  writer.exec(kSchema);
  writer.execute(kInsertRows, {std::int64_t{300}});  // ~1.2 MB: many writes of at most 128 KiB
  writer.exec("BEGIN");
  writer.execute(kInsertRows, {std::int64_t{100}});
  writer.exec("UPDATE t SET v = zeroblob(2900 + id) WHERE id % 3 = 0");
  writer.exec("COMMIT");
  // Copied at once: later writes would make up for a frame header the commit left unwritten.
  const fs::path copy = copy_as_after_a_crash(path);
  writer.exec("BEGIN");
  writer.execute(kInsertRows, {std::int64_t{5}});
  writer.exec("ROLLBACK");

  const auto expect_data = [](Connection& db, const std::string& who) {
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM t"), 400) << who;
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM t WHERE v = zeroblob(2900 + id)"), 133) << who;
    EXPECT_EQ(db.query("PRAGMA integrity_check")[0]["integrity_check"], "ok") << who;
  };
  Connection reader = Connection::open(path, SQLITE_OPEN_READONLY);
  expect_data(reader, "live reader");

  Connection recovered = Connection::open(copy, SQLITE_OPEN_READWRITE);
  expect_data(recovered, "recovered copy");
}

// The store's writer goes through the buffer unless told not to; its data is the same either way.
TEST_F(WalWriteBufferTest, StoreWriterUsesItByDefaultAndCanDoWithout) {
  for (const bool buffered : {true, false}) {
    StoreOptions o;
    o.path = dir_ / (buffered ? "buffered.db" : "direct.db");
    o.buffer_wal_writes = buffered;
    ASSERT_TRUE(StoreOptions{}.buffer_wal_writes);
    Store store(o);
    store.write([](Connection& db) { db.exec(kSchema); });
    const WalWriteBufferCounts before = wal_write_buffer_counts();
    store.write([](Connection& db) { db.execute(kInsertRows, {std::int64_t{10}}); });
    const WalWriteBufferCounts after = wal_write_buffer_counts();
    if (buffered) {
      EXPECT_GE(after.writes_gathered - before.writes_gathered, 20u);
      EXPECT_LE(after.writes_made - before.writes_made, 2u);
    } else {
      EXPECT_EQ(after.writes_gathered, before.writes_gathered);
    }
    EXPECT_EQ(store.read([](Connection& db) { return scalar(db, "SELECT count(*) FROM t"); }), 10);
  }
}

}  // namespace
}  // namespace kim::store
