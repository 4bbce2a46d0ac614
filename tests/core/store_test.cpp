#include "store/store.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace kim::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A fresh folder per test, removed afterwards.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    std::random_device random;
    dir_ = fs::temp_directory_path() / ("kim_store_test_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(counter++) + "_" + std::to_string(random()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  StoreOptions options() const {
    StoreOptions o;
    o.path = dir_ / "kim.db";
    return o;
  }

  static std::int64_t count_rows(Store& store, const std::string& table) {
    return store.read([&](Connection& db) {
      return db.query("SELECT COUNT(*) AS n FROM " + table)[0]["n"].get<std::int64_t>();
    });
  }

  static bool table_exists(Store& store, const std::string& table) {
    return store.read([&](Connection& db) {
      return !db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", {table})
                  .empty();
    });
  }

  fs::path dir_;
};

// Keeps the writer thread busy inside one job until release(), so that writes queued meanwhile
// are drained into the next batch together.
class WriterBlocker {
 public:
  explicit WriterBlocker(Store& store) {
    thread_ = std::thread([this, &store] {
      store.write([this](Connection&) {
        entered_.set_value();
        release_.get_future().wait();
      });
    });
    entered_.get_future().wait();
  }
  void release() {
    release_.set_value();
    thread_.join();
  }

 private:
  std::promise<void> entered_;
  std::promise<void> release_;
  std::thread thread_;
};

// Polls cond (yielding in between) until it holds or timeout passed; the caller EXPECTs the
// result, so a timeout fails the test while it still releases and joins its threads. Tests wait
// on observable state like this, never with fixed sleeps.
template <class Cond>
bool eventually(Cond cond, std::chrono::steady_clock::duration timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

struct JobFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// --- Connection / Statement --------------------------------------------------------------------

TEST_F(StoreTest, QueryReturnsTypedJson) {
  auto db = Connection::open(dir_ / "raw.db", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  db.exec(
      "CREATE TABLE t (i INTEGER, r REAL, s TEXT, n TEXT); -- a script\n"
      "INSERT INTO t VALUES (42, 1.5, 'abc', NULL);");
  const auto rows = db.query("SELECT * FROM t WHERE i = ?1", {std::int64_t{42}});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0]["i"].is_number_integer());
  EXPECT_EQ(rows[0]["i"], 42);
  EXPECT_TRUE(rows[0]["r"].is_number_float());
  EXPECT_DOUBLE_EQ(rows[0]["r"].get<double>(), 1.5);
  EXPECT_EQ(rows[0]["s"], "abc");
  EXPECT_TRUE(rows[0]["n"].is_null());
  EXPECT_TRUE(db.query("SELECT * FROM t WHERE i = 0").empty());

  const auto result = db.execute("INSERT INTO t (i, s) VALUES (?1, ?2)", {7, "x"});
  EXPECT_EQ(result.changes, 1);
  EXPECT_EQ(result.last_insert_rowid, 2);
  EXPECT_EQ(db.execute("UPDATE t SET r = ?1", {2.5}).changes, 2);
}

TEST_F(StoreTest, StatementBindStepResetAndColumns) {
  auto db = Connection::open(dir_ / "raw.db", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)");
  Statement insert = db.prepare("INSERT INTO t (name, score) VALUES (?1, ?2)");
  insert.bind(1, "ann");
  insert.bind(2, 1.25);
  EXPECT_FALSE(insert.step());
  insert.reset();
  insert.bind(1, nullptr);
  insert.bind(2, std::int64_t{3});
  EXPECT_FALSE(insert.step());

  Statement select = db.prepare("SELECT id, name, score FROM t ORDER BY id");
  ASSERT_EQ(select.column_count(), 3);
  EXPECT_EQ(select.column_name(1), "name");
  ASSERT_TRUE(select.step());
  EXPECT_EQ(select.column_int64(0), 1);
  EXPECT_EQ(select.column_text(1), "ann");
  EXPECT_DOUBLE_EQ(select.column_double(2), 1.25);
  ASSERT_TRUE(select.step());
  EXPECT_TRUE(select.column_is_null(1));
  EXPECT_EQ(select.column_text(1), "");
  EXPECT_FALSE(select.step());
  select.reset();
  EXPECT_TRUE(select.step());

  Statement moved = std::move(select);
  EXPECT_EQ(moved.column_int64(0), 1);
}

TEST_F(StoreTest, ErrorsCarryCodeSqlAndMessage) {
  auto db = Connection::open(dir_ / "raw.db", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  db.exec("CREATE TABLE person (id INTEGER PRIMARY KEY, name TEXT)");
  db.execute("INSERT INTO person VALUES (1, 'secret name')");
  try {
    db.execute("INSERT INTO person VALUES (?1, ?2)", {1, "another secret"});
    FAIL() << "expected SqliteError";
  } catch (const SqliteError& e) {
    EXPECT_EQ(e.code(), SQLITE_CONSTRAINT_PRIMARYKEY);
    const std::string what = e.what();
    EXPECT_NE(what.find("INSERT INTO person VALUES (?1, ?2)"), std::string::npos) << what;
    EXPECT_NE(what.find("UNIQUE constraint failed"), std::string::npos) << what;
    EXPECT_EQ(what.find("another secret"), std::string::npos) << "bound values leak: " << what;
  }

  // A script names the statement that failed, cut to ~80 characters.
  const std::string long_tail(200, 'x');
  try {
    db.exec("CREATE TABLE ok (x);\nSELECT nonsense_column FROM person WHERE name = '" + long_tail +
            "'");
    FAIL() << "expected SqliteError";
  } catch (const SqliteError& e) {
    EXPECT_EQ(e.code() & 0xff, SQLITE_ERROR);
    const std::string what = e.what();
    EXPECT_NE(what.find("no such column"), std::string::npos) << what;
    EXPECT_NE(what.find("`SELECT nonsense_column FROM person"), std::string::npos) << what;
    EXPECT_NE(what.find("...`"), std::string::npos) << what;
    EXPECT_EQ(what.find(long_tail), std::string::npos) << what;
  }

  EXPECT_THROW(db.query("SELECT ?1, ?2", {1}), SqliteError);       // parameter count
  EXPECT_THROW(db.prepare("SELECT 1; SELECT 2"), SqliteError);     // second statement
  EXPECT_THROW(db.prepare("  -- nothing\n"), SqliteError);         // no statement
  EXPECT_NO_THROW(db.prepare("SELECT 1; -- trailing comment\n"));  // nothing ignored
  EXPECT_THROW(Connection::open(dir_ / "missing" / "x.db", SQLITE_OPEN_READWRITE), SqliteError);
}

// --- Store: configuration ----------------------------------------------------------------------

TEST_F(StoreTest, PragmasAreReallySet) {
  struct Case {
    const char* name;
    bool sync_thread;
    int level;  // what SQLite does itself on the writer connection
  };
  // FULL with the sync thread: SQLite commits as NORMAL, the store syncs the WAL itself.
  const Case cases[] = {
      {"FULL", false, 2}, {"FULL", true, 1}, {"NORMAL", true, 1}, {"OFF", true, 0}};
  for (const auto& [name, sync_thread, level] : cases) {
    auto o = options();
    o.synchronous = name;
    o.sync_thread = sync_thread;
    Store store(o);
    EXPECT_EQ(store.path(), o.path);
    const auto writer = store.write([](Connection& db) {
      return std::make_pair(db.query("PRAGMA synchronous")[0]["synchronous"].get<int>(),
                            db.query("PRAGMA foreign_keys")[0]["foreign_keys"].get<int>());
    });
    EXPECT_EQ(writer.first, level) << name;
    EXPECT_EQ(writer.second, 1);
    const auto mode = store.read(
        [](Connection& db) { return db.query("PRAGMA journal_mode")[0]["journal_mode"]; });
    EXPECT_EQ(mode, "wal");
  }
}

TEST_F(StoreTest, BadOptionsRefused) {
  auto o = options();
  o.synchronous = "EXTRA";
  EXPECT_THROW(Store{o}, std::invalid_argument);
  o.synchronous = "fast";
  EXPECT_THROW(Store{o}, std::invalid_argument);
  o.synchronous = "normal";  // SQLite's own spelling rules: case does not matter
  EXPECT_NO_THROW(Store{o});
  o = options();
  o.read_connections = 0;
  EXPECT_THROW(Store{o}, std::invalid_argument);
  o = options();
  o.max_batch = 0;
  EXPECT_THROW(Store{o}, std::invalid_argument);
  o = options();
  o.path.clear();
  EXPECT_THROW(Store{o}, std::invalid_argument);
  o = options();
  o.path = dir_ / "no_such_folder" / "kim.db";
  EXPECT_THROW(Store{o}, SqliteError);
}

// --- Store: writes -----------------------------------------------------------------------------

TEST_F(StoreTest, WriteReturnsValuesAndVoid) {
  Store store(options());
  store.write([](Connection& db) { db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"); });
  const std::int64_t id = store.write([](Connection& db) {
    return db.execute("INSERT INTO t (v) VALUES ('a')").last_insert_rowid;
  });
  EXPECT_EQ(id, 1);
  const std::string v = store.write(
      [](Connection& db) { return db.query("SELECT v FROM t")[0]["v"].get<std::string>(); });
  EXPECT_EQ(v, "a");
  auto owned = store.write([](Connection&) { return std::make_unique<int>(5); });  // move-only
  EXPECT_EQ(*owned, 5);
  int seen = 0;
  store.read([&](Connection& db) { seen = db.query("SELECT COUNT(*) AS n FROM t")[0]["n"]; });
  EXPECT_EQ(seen, 1);

  EXPECT_THROW(store.write([](Connection& db) {
    db.execute("INSERT INTO t (v) VALUES ('b')");
    throw JobFailed("no");
  }),
               JobFailed);
  EXPECT_EQ(count_rows(store, "t"), 1);
  EXPECT_EQ(store.stats().write_jobs, 5u);
  EXPECT_EQ(store.stats().transactions, 4u);  // the failed job's lone batch is rolled back

  // A job may use savepoints of its own.
  store.write([](Connection& db) {
    db.exec("SAVEPOINT mine; INSERT INTO t (v) VALUES ('c'); ROLLBACK TO mine; RELEASE mine;");
    db.execute("INSERT INTO t (v) VALUES ('d')");
  });
  EXPECT_EQ(count_rows(store, "t"), 2);
}

TEST_F(StoreTest, ThrowingJobRollsBackOnlyItselfWithinABatch) {
  Store store(options());
  store.write([](Connection& db) { db.exec("CREATE TABLE t (job INTEGER, part INTEGER)"); });
  const auto before = store.stats();

  WriterBlocker blocker(store);
  constexpr int kJobs = 12;
  std::vector<std::thread> threads;
  std::vector<int> outcome(kJobs, -1);  // 1 ok, 0 threw JobFailed
  for (int job = 0; job < kJobs; ++job) {
    threads.emplace_back([&, job] {
      try {
        store.write([job](Connection& db) {
          db.execute("INSERT INTO t VALUES (?1, 1)", {job});
          if (job % 3 == 0) throw JobFailed("job " + std::to_string(job));
          db.execute("INSERT INTO t VALUES (?1, 2)", {job});
        });
        outcome[static_cast<std::size_t>(job)] = 1;
      } catch (const JobFailed&) {
        outcome[static_cast<std::size_t>(job)] = 0;
      }
    });
  }
  // Every job queues up behind the blocker, so all of them land in one batch.
  EXPECT_TRUE(eventually([&] { return store.pending_writes() == std::size_t{kJobs}; }))
      << "only " << store.pending_writes() << " of " << kJobs << " jobs queued";
  blocker.release();
  for (auto& t : threads)
    t.join();

  const auto after = store.stats();
  EXPECT_EQ(after.write_jobs - before.write_jobs, kJobs + 1u);
  EXPECT_EQ(after.transactions - before.transactions, 2u) << "blocker + one batch";
  for (int job = 0; job < kJobs; ++job) {
    const bool fails = job % 3 == 0;
    EXPECT_EQ(outcome[static_cast<std::size_t>(job)], fails ? 0 : 1) << job;
    const auto rows = store.read([job](Connection& db) {
      return db.query("SELECT COUNT(*) AS n FROM t WHERE job = ?1", {job})[0]["n"].get<int>();
    });
    EXPECT_EQ(rows, fails ? 0 : 2) << job;
  }
}

// A request the writer runs inside its batch (write_then): the store's calls run at once on the
// writer's connection, each write in a savepoint of its own; the caller hears of it after the
// commit, with the work collected for then.
TEST_F(StoreTest, WriteThenRunsTheStoresCallsInsideTheBatch) {
  Store store(options());
  store.write([](Connection& db) { db.exec("CREATE TABLE t (v INTEGER)"); });
  const auto before = store.stats();
  std::promise<std::pair<bool, std::size_t>> settled;
  std::vector<std::int64_t> seen;
  bool after_ran_early = false;
  bool failing_write_threw = false;
  std::atomic<bool> after_ran{false};
  store.write_then(
      [&](Connection&) {
        store.write([](Connection& db) { db.execute("INSERT INTO t VALUES (1)"); });
        try {
          store.write([](Connection& db) {
            db.execute("INSERT INTO t VALUES (2)");
            throw JobFailed("undone alone");
          });
        } catch (const JobFailed&) {
          failing_write_threw = true;
        }
        store.write_deferred([](Connection& db) { db.execute("INSERT INTO t VALUES (3)"); });
        // Reads see the batch so far (a read connection would not).
        store.read([&](Connection& db) {
          for (const auto& row : db.query("SELECT v FROM t ORDER BY v"))
            seen.push_back(row["v"].get<std::int64_t>());
          return 0;
        });
        EXPECT_EQ(store.read_bulk([](Connection& db) {
          return db.query("SELECT count(*) AS n FROM t")[0]["n"].get<std::int64_t>();
        }),
                  2);
        store.after_commit([&] { after_ran = true; });
        after_ran_early = after_ran;
      },
      [&](std::exception_ptr error, Store::AfterCommit after) {
        for (auto& work : after)
          work();
        settled.set_value({error == nullptr, after.size()});
      });
  const auto [ok, collected] = settled.get_future().get();
  EXPECT_TRUE(ok);
  EXPECT_EQ(collected, 1u);
  EXPECT_TRUE(after_ran);
  EXPECT_FALSE(after_ran_early) << "after_commit inside the job waits for the commit";
  EXPECT_TRUE(failing_write_threw);
  EXPECT_EQ(seen, (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(count_rows(store, "t"), 2);
  EXPECT_EQ(store.stats().transactions - before.transactions, 1u) << "one job, one commit";
  // Outside such a job after_commit runs at once, and a write from an ordinary job still refuses.
  bool at_once = false;
  store.after_commit([&] { at_once = true; });
  EXPECT_TRUE(at_once);
  EXPECT_THROW(store.write([&](Connection&) { store.write([](Connection&) {}); }),
               std::logic_error);
}

// A write_then job that throws is rolled back whole (its inner writes too), and its settled
// callback gets the error and none of the collected work.
TEST_F(StoreTest, FailingWriteThenJobLeavesNothing) {
  Store store(options());
  store.write([](Connection& db) { db.exec("CREATE TABLE t (v INTEGER)"); });
  std::promise<std::pair<bool, std::size_t>> settled;
  store.write_then(
      [&](Connection&) {
        store.write([](Connection& db) { db.execute("INSERT INTO t VALUES (1)"); });
        store.after_commit([] {});
        throw JobFailed("the request failed");
      },
      [&](std::exception_ptr error, Store::AfterCommit after) {
        settled.set_value({error != nullptr, after.size()});
      });
  const auto [failed, collected] = settled.get_future().get();
  EXPECT_TRUE(failed);
  EXPECT_EQ(collected, 0u);
  EXPECT_EQ(count_rows(store, "t"), 0);
  store.close();
  EXPECT_THROW(store.write_then([](Connection&) {}, [](std::exception_ptr, Store::AfterCommit) {}),
               std::runtime_error);
}

TEST_F(StoreTest, ConcurrentWritesAreGroupCommitted) {
  Store store(options());
  store.write([](Connection& db) { db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)"); });
  const auto before = store.stats();
  constexpr int kThreads = 64;
  constexpr int kWrites = 50;
  std::mutex mutex;
  std::set<int> committed;
  std::set<int> failed;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads)
        std::this_thread::yield();
      for (int w = 0; w < kWrites; ++w) {
        const int id = t * kWrites + w;
        try {
          store.write([id](Connection& db) {
            db.execute("INSERT INTO t VALUES (?1)", {id});
            if (id % 7 == 0) throw JobFailed("unlucky");
          });
          std::lock_guard lock(mutex);
          committed.insert(id);
        } catch (const JobFailed&) {
          std::lock_guard lock(mutex);
          failed.insert(id);
        }
      }
    });
  }
  for (auto& t : threads)
    t.join();

  const auto after = store.stats();
  const auto jobs = after.write_jobs - before.write_jobs;
  const auto transactions = after.transactions - before.transactions;
  EXPECT_EQ(jobs, std::uint64_t{kThreads * kWrites});
  EXPECT_LT(transactions, jobs) << "no batches formed";
  EXPECT_EQ(committed.size() + failed.size(), std::size_t{kThreads * kWrites});

  const auto ids = store.read([](Connection& db) {
    std::set<int> out;
    Statement stmt = db.prepare("SELECT id FROM t");
    while (stmt.step())
      out.insert(static_cast<int>(stmt.column_int64(0)));
    return out;
  });
  EXPECT_EQ(ids, committed);
  for (int id : failed)
    EXPECT_EQ(id % 7, 0);
}

// --- Store: durability on the sync thread --------------------------------------------------------

TEST_F(StoreTest, WritesAnswerOnlyAfterTheirSyncWhichCommitsShare) {
  std::mutex mutex;
  std::condition_variable changed;
  int syncs_started = 0;
  bool held = false;  // the next sync waits until released
  auto o = options();
  o.sync_wal = [&](int fd) {
    std::unique_lock lock(mutex);
    ++syncs_started;
    changed.notify_all();
    changed.wait(lock, [&] { return !held; });
    return ::fdatasync(fd);
  };
  Store store(o);
  store.write([](Connection& db) { db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)"); });
  {
    std::lock_guard lock(mutex);
    held = true;
  }
  const int before = syncs_started;
  auto first = std::async(std::launch::async, [&] {
    store.write([](Connection& db) { db.execute("INSERT INTO t VALUES (1)"); });
  });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 10s, [&] { return syncs_started > before; }));
  }
  // Committed (another connection sees it), but its caller is not answered before the sync.
  EXPECT_EQ(count_rows(store, "t"), 1);
  EXPECT_EQ(first.wait_for(0s), std::future_status::timeout);
  // Writes queued while that sync runs join one open transaction: they run at once, commit when
  // the sync ends and then share the next one.
  const auto stats_before = store.stats();
  std::vector<std::future<void>> more;
  for (int id = 2; id <= 5; ++id) {
    more.push_back(std::async(std::launch::async, [&store, id] {
      store.write([id](Connection& db) { db.execute("INSERT INTO t VALUES (?1)", {id}); });
    }));
  }
  EXPECT_TRUE(eventually([&] { return store.stats().write_jobs == stats_before.write_jobs + 4; }));
  EXPECT_EQ(count_rows(store, "t"), 1);
  for (auto& write : more)
    EXPECT_EQ(write.wait_for(0s), std::future_status::timeout);
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(syncs_started, before + 1);
    held = false;
  }
  changed.notify_all();
  first.get();
  for (auto& write : more)
    write.get();
  EXPECT_EQ(count_rows(store, "t"), 5);
  EXPECT_EQ(store.stats().transactions, stats_before.transactions + 1);
  std::lock_guard lock(mutex);
  EXPECT_EQ(syncs_started, before + 2);
}

TEST_F(StoreTest, FailedSyncFailsItsWritesAndRefusesLaterOnes) {
  std::atomic<bool> fail{false};
  auto o = options();
  o.sync_wal = [&](int fd) {
    if (fail.load()) {
      errno = EIO;
      return -1;
    }
    return ::fdatasync(fd);
  };
  {
    Store store(o);
    store.write([](Connection& db) { db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)"); });
    fail = true;
    try {
      store.write([](Connection& db) { db.execute("INSERT INTO t VALUES (1)"); });
      ADD_FAILURE() << "a write whose sync failed was answered as durable";
    } catch (const SqliteError& e) {
      EXPECT_EQ(e.code(), SQLITE_IOERR_FSYNC);
      EXPECT_NE(std::string(e.what()).find("not made durable"), std::string::npos) << e.what();
    }
    // Deferred and write_then jobs hear of it the same way.
    std::promise<std::exception_ptr> settled;
    store.write_then(
        [](Connection& db) { db.execute("INSERT INTO t VALUES (2)"); },
        [&](std::exception_ptr error, Store::AfterCommit) { settled.set_value(error); });
    EXPECT_TRUE(settled.get_future().get() != nullptr);
    EXPECT_TRUE(store.writes_refused());
    // Later writes are refused before they run, even once syncing works again.
    fail = false;
    EXPECT_THROW(store.write([](Connection& db) { db.execute("INSERT INTO t VALUES (3)"); }),
                 SqliteError);
    EXPECT_EQ(count_rows(store, "t"), 1);  // (1) was committed before its sync failed
  }
  // Opened again, the store writes (and syncs) as before.
  Store store(o);
  EXPECT_FALSE(store.writes_refused());
  store.write([](Connection& db) { db.execute("INSERT INTO t VALUES (4)"); });
  EXPECT_EQ(count_rows(store, "t"), 2);
}

TEST_F(StoreTest, FailedCommitFailsEveryJobOfTheBatch) {
  Store store(options());
  store.write([](Connection& db) {
    db.exec(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER"
        "  REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);"
        "CREATE TABLE log (v INTEGER);");
  });
  WriterBlocker blocker(store);
  constexpr int kJobs = 6;
  std::vector<int> codes(kJobs, 0);
  std::vector<std::thread> threads;
  for (int job = 0; job < kJobs; ++job) {
    threads.emplace_back([&, job] {
      try {
        store.write([job](Connection& db) {
          // The dangling reference only surfaces at COMMIT.
          if (job == 2) db.execute("INSERT INTO child VALUES (1, 999)");
          db.execute("INSERT INTO log VALUES (?1)", {job});
        });
      } catch (const SqliteError& e) {
        codes[static_cast<std::size_t>(job)] = e.code();
      }
    });
  }
  // Every job queues up behind the blocker, so all of them land in the batch whose COMMIT fails.
  EXPECT_TRUE(eventually([&] { return store.pending_writes() == std::size_t{kJobs}; }))
      << "only " << store.pending_writes() << " of " << kJobs << " jobs queued";
  blocker.release();
  for (auto& t : threads)
    t.join();
  for (int job = 0; job < kJobs; ++job) {
    EXPECT_EQ(codes[static_cast<std::size_t>(job)], SQLITE_CONSTRAINT_FOREIGNKEY) << job;
  }
  EXPECT_EQ(count_rows(store, "log"), 0);
  EXPECT_EQ(count_rows(store, "child"), 0);

  // The writer carries on normally afterwards.
  store.write([](Connection& db) { db.execute("INSERT INTO log VALUES (1)"); });
  EXPECT_EQ(count_rows(store, "log"), 1);
}

TEST_F(StoreTest, JobEndingTheTransactionFailsAndWriterCarriesOn) {
  Store store(options());
  store.write([](Connection& db) { db.exec("CREATE TABLE t (v INTEGER)"); });
  EXPECT_THROW(store.write([](Connection& db) {
    db.execute("INSERT INTO t VALUES (1)");
    db.exec("ROLLBACK");
  }),
               SqliteError);
  store.write([](Connection& db) { db.execute("INSERT INTO t VALUES (2)"); });
  EXPECT_EQ(store.read([](Connection& db) { return db.query("SELECT v FROM t"); }),
            nlohmann::json::parse(R"([{"v": 2}])"));
}

TEST_F(StoreTest, WriteFromInsideAWriteJobIsRefused) {
  Store store(options());
  EXPECT_THROW(store.write([&](Connection&) { store.write([](Connection&) {}); }),
               std::logic_error);
  EXPECT_THROW(store.write([&](Connection&) { store.close(); }), std::logic_error);
  // A job may read through the pool.
  EXPECT_EQ(store.write([&](Connection&) {
    return store.read([](Connection& db) { return db.query("SELECT 3 AS x")[0]["x"].get<int>(); });
  }),
            3);
}

TEST_F(StoreTest, DataSurvivesCloseAndReopen) {
  const auto o = options();
  {
    Store store(o);
    store.write([](Connection& db) {
      db.exec("CREATE TABLE t (v TEXT)");
      db.execute("INSERT INTO t VALUES ('kept')");
    });
  }
  // The close checkpointed the WAL back into the main file.
  const fs::path wal = o.path.string() + "-wal";
  EXPECT_TRUE(!fs::exists(wal) || fs::file_size(wal) == 0);
  Store store(o);
  EXPECT_EQ(store.read([](Connection& db) { return db.query("SELECT v FROM t")[0]["v"]; }), "kept");
}

// Checkpoints run on the writer thread, not inside COMMIT: the WAL must stay bounded all the same,
// both when the writer is idle between writes and while concurrent writers keep it busy.
TEST_F(StoreTest, WriterCheckpointsKeepTheWalBounded) {
  auto o = options();
  o.checkpoint_pages = 8;
  Store store(o);
  store.write([](Connection& db) { db.exec("CREATE TABLE t (v BLOB)"); });
  const auto page_size = store.read([](Connection& db) {
    return db.query("PRAGMA page_size")[0]["page_size"].get<std::int64_t>();
  });
  const fs::path wal = o.path.string() + "-wal";
  const auto wal_pages = [&] {
    return static_cast<std::int64_t>(fs::file_size(wal)) / (page_size + 24);
  };
  // One page per row: without checkpoints the WAL would grow by about 400 pages in each phase.
  for (int i = 0; i < 400; ++i) {
    store.write([&](Connection& db) {
      db.execute("INSERT INTO t VALUES (randomblob(?1))", {page_size - 100});
    });
  }
  // A serial caller queues its next write while the writer settles the last one, so the writer
  // often sees a queue and waits for the 4x bound.
  EXPECT_LE(wal_pages(), 4 * o.checkpoint_pages + 2) << "serial writer";
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        store.write([&](Connection& db) {
          db.execute("INSERT INTO t VALUES (randomblob(?1))", {page_size - 100});
        });
      }
    });
  }
  for (auto& writer : writers)
    writer.join();
  // 4 x checkpoint_pages, plus one batch of at most 8 jobs and their index/parent pages.
  EXPECT_LE(wal_pages(), 4 * o.checkpoint_pages + 3 * 8) << "busy writer";
  EXPECT_EQ(count_rows(store, "t"), 800);
}

// --- Store: reads ------------------------------------------------------------------------------

// A ReadScope gives all reads of its thread one snapshot on one connection (nested reads too,
// even with a single read connection), and a new one after it ended.
TEST_F(StoreTest, ReadScopeSharesOneSnapshotAcrossReads) {
  auto o = options();
  o.read_connections = 1;
  Store store(o);
  store.write([](Connection& db) {
    db.exec("CREATE TABLE t (v INTEGER)");
    db.execute("INSERT INTO t VALUES (1)");
  });
  const auto sum = [&] {
    return store.read([](Connection& db) {
      return db.query("SELECT sum(v) AS s FROM t")[0]["s"].get<std::int64_t>();
    });
  };
  {
    ReadScope scope(store);
    EXPECT_EQ(sum(), 1);
    store.write([](Connection& db) { db.execute("INSERT INTO t VALUES (2)"); });
    EXPECT_EQ(sum(), 1) << "the scope's snapshot";
    EXPECT_EQ(store.read([&](Connection&) { return sum(); }), 1) << "nested read, same connection";
    EXPECT_THROW(ReadScope second(store), std::logic_error);
  }
  EXPECT_EQ(sum(), 3);
  {
    ReadScope unused(store);  // a scope without reads leases nothing
  }
  ReadScope scope(store);
  EXPECT_THROW(store.read([](Connection& db) { return db.query("SELECT * FROM missing"); }),
               SqliteError);
  EXPECT_EQ(sum(), 3) << "reads after a failed one in the same scope still work";
}

// Only bulk reads map the file: in WAL mode a mapped connection is unmapped at the first read
// after every commit, which small requests would pay for each time.
TEST_F(StoreTest, OnlyBulkReadsMapTheFile) {
  auto o = options();
  o.read_connections = 1;  // the same connection for every read below
  o.reader_mmap_bytes = std::int64_t{1} << 24;
  Store store(o);
  store.write([](Connection& db) { db.exec("CREATE TABLE t (v INTEGER)"); });
  const auto mapped = [](Connection& db) {
    return db.query("PRAGMA mmap_size")[0]["mmap_size"].get<std::int64_t>();
  };
  EXPECT_EQ(store.read(mapped), 0);
  EXPECT_EQ(store.read_bulk(mapped), std::int64_t{1} << 24);
  EXPECT_EQ(store.read(mapped), 0) << "the bulk read's mapping ends with it";
  {
    ReadScope scope(store);
    EXPECT_EQ(store.read_bulk(mapped), 0) << "the scope's connection, not a second lease";
  }
}

TEST_F(StoreTest, ReadPoolServesManyThreadsWhileWriting) {
  auto o = options();
  o.read_connections = 3;
  Store store(o);
  store.write([](Connection& db) { db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)"); });

  std::atomic<bool> writing{true};
  std::atomic<int> active{0};
  std::atomic<int> max_active{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        store.write([](Connection& db) { db.execute("INSERT INTO t DEFAULT VALUES"); });
      }
    });
  }
  std::vector<std::thread> readers;
  for (int r = 0; r < 12; ++r) {
    readers.emplace_back([&] {
      std::int64_t last = 0;
      for (int i = 0; i < 100 || (writing.load() && i < 5000); ++i) {
        store.read([&](Connection& db) {
          const int now = active.fetch_add(1) + 1;
          int seen = max_active.load();
          while (now > seen && !max_active.compare_exchange_weak(seen, now)) {
          }
          const auto first = db.query("SELECT COUNT(*) AS n FROM t")[0]["n"].get<std::int64_t>();
          std::this_thread::yield();
          const auto second = db.query("SELECT COUNT(*) AS n FROM t")[0]["n"].get<std::int64_t>();
          // One snapshot per read(); commits are never seen going backwards.
          if (first != second || first < last) failures.fetch_add(1);
          last = first;
          active.fetch_sub(1);
        });
      }
    });
  }
  for (auto& t : writers)
    t.join();
  writing = false;
  for (auto& t : readers)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(max_active.load(), 3);
  EXPECT_GE(max_active.load(), 1);
  EXPECT_EQ(count_rows(store, "t"), 400);

  // Read connections are read-only.
  try {
    store.read([](Connection& db) { db.execute("INSERT INTO t DEFAULT VALUES"); });
    FAIL() << "read connection accepted a write";
  } catch (const SqliteError& e) {
    EXPECT_EQ(e.code() & 0xff, SQLITE_READONLY);
  }
}

// --- Store: shutdown ---------------------------------------------------------------------------

TEST_F(StoreTest, WriteAndReadAfterCloseThrow) {
  Store store(options());
  store.write([](Connection& db) { db.exec("CREATE TABLE t (v INTEGER)"); });
  store.close();
  EXPECT_THROW(store.write([](Connection&) {}), std::runtime_error);
  EXPECT_THROW(store.read([](Connection&) {}), std::runtime_error);
  EXPECT_NO_THROW(store.close());
}

TEST_F(StoreTest, CloseFinishesQueuedWrites) {
  const auto o = options();
  std::set<int> committed;
  {
    Store store(o);
    store.write([](Connection& db) { db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)"); });
    std::mutex mutex;
    std::atomic<int> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (;;) {
          const int id = next.fetch_add(1);
          try {
            store.write([id](Connection& db) { db.execute("INSERT INTO t VALUES (?1)", {id}); });
          } catch (const std::runtime_error&) {
            return;  // closed
          }
          std::lock_guard lock(mutex);
          committed.insert(id);
        }
      });
    }
    // Close only once writes are flowing: some committed (so `committed` is not empty by luck)
    // and more queued for the writer right now.
    EXPECT_TRUE(eventually([&] {
      std::lock_guard lock(mutex);
      return committed.size() >= 16 && store.pending_writes() > 0;
    })) << "writes did not get going";
    store.close();
    for (auto& t : threads)
      t.join();
  }
  EXPECT_FALSE(committed.empty());
  Store store(o);
  const auto ids = store.read([](Connection& db) {
    std::set<int> out;
    Statement stmt = db.prepare("SELECT id FROM t");
    while (stmt.step())
      out.insert(static_cast<int>(stmt.column_int64(0)));
    return out;
  });
  EXPECT_EQ(ids, committed);
}

// --- Store: migrations -------------------------------------------------------------------------

std::vector<Migration> core_migrations() {
  return {
      {1, "cases", "CREATE TABLE cases (id INTEGER PRIMARY KEY, title TEXT NOT NULL);"},
      {2, "notes",
       "CREATE TABLE notes (id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id));"
       "CREATE INDEX notes_case ON notes(case_id);"},
  };
}

TEST_F(StoreTest, MigrationsApplyOnceAcrossRestarts) {
  {
    Store store(options());
    EXPECT_EQ(store.schema_version("core"), 0);
    EXPECT_EQ(store.migrate("core", core_migrations()), 2);
    EXPECT_EQ(store.schema_version("core"), 2);
    EXPECT_TRUE(table_exists(store, "cases"));
    EXPECT_TRUE(table_exists(store, "notes"));
    EXPECT_EQ(store.migrate("core", core_migrations()), 0);
    const auto records = store.read([](Connection& db) {
      return db.query(
          "SELECT namespace, version, description, checksum, applied_at FROM schema_migrations "
          "ORDER BY version");
    });
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[1]["namespace"], "core");
    EXPECT_EQ(records[1]["description"], "notes");
    EXPECT_EQ(records[1]["checksum"].get<std::string>().size(), 16u);
    EXPECT_FALSE(records[1]["applied_at"].get<std::string>().empty());
  }
  Store store(options());
  EXPECT_EQ(store.migrate("core", core_migrations()), 0);
  auto more = core_migrations();
  more.push_back({3, "status", "ALTER TABLE cases ADD COLUMN status TEXT"});
  EXPECT_EQ(store.migrate("core", more), 1);
  EXPECT_EQ(store.schema_version("core"), 3);

  // Namespaces are independent.
  EXPECT_EQ(store.schema_version("plugin:hello"), 0);
  EXPECT_EQ(store.migrate("plugin:hello", {{1, "hello", "CREATE TABLE hello (x)"}}), 1);
  EXPECT_EQ(store.schema_version("plugin:hello"), 1);
  EXPECT_EQ(store.schema_version("core"), 3);
  EXPECT_EQ(store.migrate("plugin:empty", {}), 0);
}

TEST_F(StoreTest, MigrationNumberingMustBeOneTwoThree) {
  Store store(options());
  const std::vector<std::vector<int>> bad = {{2}, {1, 3}, {1, 1}, {2, 1}, {0, 1}};
  for (const auto& versions : bad) {
    std::vector<Migration> migrations;
    for (int v : versions)
      migrations.push_back({v, "m", "SELECT 1"});
    EXPECT_THROW(store.migrate("core", migrations), std::invalid_argument);
  }
  EXPECT_THROW(store.migrate("", core_migrations()), std::invalid_argument);
  EXPECT_EQ(store.schema_version("core"), 0);
}

TEST_F(StoreTest, ChangedMigrationRefused) {
  {
    Store store(options());
    store.migrate("core", core_migrations());
  }
  Store store(options());
  auto changed = core_migrations();
  changed[1].sql = "CREATE TABLE notes (id INTEGER PRIMARY KEY);";
  try {
    store.migrate("core", changed);
    FAIL() << "expected the changed migration to be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("migration core#2 was changed after it was applied"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(StoreTest, NewerDatabaseRefused) {
  Store store(options());
  auto three = core_migrations();
  three.push_back({3, "status", "ALTER TABLE cases ADD COLUMN status TEXT"});
  store.migrate("core", three);
  try {
    store.migrate("core", core_migrations());
    FAIL() << "expected the newer database to be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "database has core#3 but this build only knows up to #2: is it newer"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(StoreTest, FailingMigrationLeavesNoTrace) {
  Store store(options());
  auto migrations = core_migrations();
  migrations.push_back(
      {3, "broken", "CREATE TABLE half_done (x); INSERT INTO no_such_table VALUES (1);"});
  try {
    store.migrate("core", migrations);
    FAIL() << "expected the broken migration to throw";
  } catch (const SqliteError& e) {
    EXPECT_NE(std::string(e.what()).find("migration core#3 failed"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no such table"), std::string::npos) << e.what();
  }
  EXPECT_EQ(store.schema_version("core"), 2);
  EXPECT_TRUE(table_exists(store, "notes"));
  EXPECT_FALSE(table_exists(store, "half_done"));

  migrations[2].sql = "CREATE TABLE half_done (x);";
  EXPECT_EQ(store.migrate("core", migrations), 1);
  EXPECT_EQ(store.schema_version("core"), 3);
  EXPECT_TRUE(table_exists(store, "half_done"));
}

}  // namespace
}  // namespace kim::store
