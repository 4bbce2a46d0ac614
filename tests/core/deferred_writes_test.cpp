// Store::write_deferred and store::DeferredWrites: the caller does not wait, the answer waits for
// the commit; failures reach when_settled and a later write of the same thread; group commit.
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/store.hpp"

namespace kim::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct JobFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class DeferredWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("kim_deferred_writes_test_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter++) + "_" + std::to_string(random()));
    fs::create_directories(dir_);
    StoreOptions options;
    options.path = dir_ / "kim.db";
    store_.emplace(options);
    store_->write([](Connection& db) { db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)"); });
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::int64_t rows() {
    return store_->read([](Connection& db) {
      return db.query("SELECT count(*) AS n FROM t")[0]["n"].get<std::int64_t>();
    });
  }

  // Holds the writer inside a job until the returned promise is set.
  std::thread block_writer(std::promise<void>& release) {
    auto entered = std::make_shared<std::promise<void>>();
    auto inside = entered->get_future();
    auto future = release.get_future().share();
    std::thread blocker([this, entered, future] {
      store_->write([entered, future](Connection&) {
        entered->set_value();
        future.wait();
      });
    });
    inside.wait();
    return blocker;
  }

  fs::path dir_;
  std::optional<Store> store_;
};

TEST_F(DeferredWritesTest, WithoutDeferredWritesItIsAPlainWrite) {
  store_->write_deferred([](Connection& db) { db.execute("INSERT INTO t VALUES (1)"); });
  EXPECT_EQ(rows(), 1);  // committed when it returned
  EXPECT_THROW(store_->write_deferred([](Connection& db) {
    db.execute("INSERT INTO t VALUES (2)");
    throw JobFailed("no");
  }),
               JobFailed);
  EXPECT_EQ(rows(), 1);
}

TEST_F(DeferredWritesTest, CallerGoesOnAndHearsAfterTheCommit) {
  std::promise<void> release;
  std::thread blocker = block_writer(release);

  auto settled = std::make_shared<std::promise<std::optional<std::string>>>();
  {
    DeferredWrites deferred;
    EXPECT_EQ(DeferredWrites::current(), &deferred);
    // Returns although the writer is busy: nobody waits for the commit here.
    store_->write_deferred([](Connection& db) { db.execute("INSERT INTO t VALUES (1)"); });
    store_->write_deferred([](Connection& db) { db.execute("INSERT INTO t VALUES (2)"); });
    deferred.when_settled([this, settled](std::optional<std::string> error) {
      // Durable by now: a fresh read snapshot sees both rows.
      EXPECT_EQ(rows(), 2);
      settled->set_value(std::move(error));
    });
  }
  EXPECT_EQ(DeferredWrites::current(), nullptr);
  auto future = settled->get_future();
  EXPECT_EQ(future.wait_for(50ms), std::future_status::timeout) << "settled before the commit";
  release.set_value();
  blocker.join();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(future.get().has_value());
}

TEST_F(DeferredWritesTest, NothingPendingSettlesAtOnce) {
  DeferredWrites deferred;
  bool called = false;
  deferred.when_settled([&](std::optional<std::string> error) {
    called = true;
    EXPECT_FALSE(error.has_value());
  });
  EXPECT_TRUE(called);
}

TEST_F(DeferredWritesTest, FailureReachesWhenSettledAndALaterWriteOfTheThread) {
  auto settled = std::make_shared<std::promise<std::optional<std::string>>>();
  {
    DeferredWrites deferred;
    store_->write_deferred([](Connection& db) { db.execute("INSERT INTO t VALUES (1)"); });
    store_->write_deferred([](Connection& db) {
      db.execute("INSERT INTO t VALUES (2)");
      throw JobFailed("audit row refused");
    });
    // A blocking write after a failed deferred one fails too and changes nothing.
    EXPECT_THROW(store_->write([](Connection& db) { db.execute("INSERT INTO t VALUES (3)"); }),
                 SqliteError);
    deferred.when_settled(
        [settled](std::optional<std::string> error) { settled->set_value(std::move(error)); });
  }
  auto future = settled->get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  const auto error = future.get();
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("audit row refused"), std::string::npos);
  // Only the failed job rolled back: its batch neighbour committed.
  EXPECT_EQ(rows(), 1);
}

TEST_F(DeferredWritesTest, OnePerThread) {
  DeferredWrites deferred;
  EXPECT_THROW(DeferredWrites second, std::logic_error);
  EXPECT_EQ(DeferredWrites::current(), &deferred);
}

TEST_F(DeferredWritesTest, ManyThreadsShareCommitsAndEachHearsOnce) {
  constexpr int kThreads = 16;
  constexpr int kWrites = 100;
  const auto before = store_->stats();
  std::atomic<int> settled{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int w = 0; w < kWrites; ++w) {
        // Shared: the writer may still be inside set_value when this thread moves on.
        auto done = std::make_shared<std::promise<void>>();
        auto finished = done->get_future();
        DeferredWrites deferred;
        const std::int64_t id = t * kWrites + w;
        store_->write_deferred(
            [id](Connection& db) { db.execute("INSERT INTO t VALUES (?1)", {id}); });
        deferred.when_settled([&settled, &failures, done](std::optional<std::string> error) {
          if (error) failures.fetch_add(1);
          settled.fetch_add(1);
          done->set_value();
        });
        finished.wait();
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(settled.load(), kThreads * kWrites);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(rows(), kThreads * kWrites);
  const auto after = store_->stats();
  EXPECT_EQ(after.write_jobs - before.write_jobs, std::uint64_t{kThreads * kWrites});
  EXPECT_LT(after.transactions - before.transactions, after.write_jobs - before.write_jobs)
      << "no batches formed";
}

TEST_F(DeferredWritesTest, CloseCommitsWhatWasDeferred) {
  auto settled = std::make_shared<std::promise<std::optional<std::string>>>();
  {
    DeferredWrites deferred;
    store_->write_deferred([](Connection& db) { db.execute("INSERT INTO t VALUES (1)"); });
    deferred.when_settled(
        [settled](std::optional<std::string> error) { settled->set_value(std::move(error)); });
  }
  store_->close();
  auto future = settled->get_future();
  ASSERT_EQ(future.wait_for(0s), std::future_status::ready);
  EXPECT_FALSE(future.get().has_value());
  auto db = Connection::open(dir_ / "kim.db", SQLITE_OPEN_READONLY);
  EXPECT_EQ(db.query("SELECT count(*) AS n FROM t")[0]["n"], 1);
}

}  // namespace
}  // namespace kim::store
