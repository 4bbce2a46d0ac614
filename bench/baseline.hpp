// The baseline both benchmarks compare against: plain SQLite, one row per autocommit transaction,
// serially, synchronous=FULL, so one fsync (WAL: of the log) per committed row. Its rows/s are the
// durable commits/s this disk manages without group commit.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "store/sqlite.hpp"

namespace kim::bench {

inline const std::string kPayload(100, 'x');

inline void remove_db(const std::filesystem::path& db) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::remove(db.string() + suffix);
  }
}

// Creates db_path (removing an old one), inserts `rows` rows one autocommit at a time in the
// given journal mode ("WAL" or "DELETE") with synchronous=FULL, removes the files again and
// returns rows per second. db_path must be on the disk under test (not tmpfs).
inline double plain_rows_per_second(const std::filesystem::path& db_path, const char* journal_mode,
                                    int rows) {
  remove_db(db_path);
  std::chrono::duration<double> elapsed{};
  {
    kim::store::Connection db = kim::store::Connection::open(
        db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
    db.exec(std::string("PRAGMA journal_mode=") + journal_mode + "; PRAGMA synchronous=FULL;" +
            "CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL);");
    kim::store::Statement insert = db.prepare("INSERT INTO t (payload) VALUES (?1)");
    insert.bind(1, kPayload);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < rows; ++i) {
      insert.step();
      insert.reset();
    }
    elapsed = std::chrono::steady_clock::now() - start;
  }
  remove_db(db_path);
  return rows / elapsed.count();
}

}  // namespace kim::bench
