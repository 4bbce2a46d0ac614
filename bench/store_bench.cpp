// Durable write throughput: plain SQLite autocommit (one fsync per row) against Store::write from
// many threads (group commit: one fsync per batch).
//
//   store_bench [--threads N] [--writes-per-thread M] [--baseline-rows K] [--path DIR]
//
// DIR must be on the disk you care about (tmpfs makes fsync free and the comparison meaningless).
// Database files are created in DIR and removed afterwards.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "baseline.hpp"
#include "store/store.hpp"

namespace {

namespace fs = std::filesystem;
using kim::bench::kPayload;
using kim::bench::plain_rows_per_second;
using kim::bench::remove_db;
using Clock = std::chrono::steady_clock;

struct Args {
  int threads = 16;
  int writes_per_thread = 200;
  int baseline_rows = 500;
  fs::path dir;
};

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--threads") {
      args.threads = std::stoi(value());
    } else if (arg == "--writes-per-thread") {
      args.writes_per_thread = std::stoi(value());
    } else if (arg == "--baseline-rows") {
      args.baseline_rows = std::stoi(value());
    } else if (arg == "--path") {
      args.dir = value();
    } else {
      throw std::invalid_argument("unknown argument " + std::string(arg) +
                                  " (use --threads N --writes-per-thread M --baseline-rows K "
                                  "--path DIR)");
    }
  }
  if (args.threads < 1 || args.writes_per_thread < 1 || args.baseline_rows < 1) {
    throw std::invalid_argument("counts must be >= 1");
  }
  return args;
}

struct StoreResult {
  double rows_per_second;
  kim::store::StoreStats stats;
};

// (b) N threads, each writing M single-row jobs through Store::write.
StoreResult store_rows_per_second(const fs::path& db_path, int threads, int writes_per_thread) {
  remove_db(db_path);
  StoreResult result{};
  {
    kim::store::StoreOptions options;
    options.path = db_path;
    options.synchronous = "FULL";
    kim::store::Store store(options);
    store.write([](kim::store::Connection& db) {
      db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)");
    });
    const auto before = store.stats();

    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        ready.fetch_add(1);
        while (!go.load())
          std::this_thread::yield();
        for (int i = 0; i < writes_per_thread; ++i) {
          store.write([](kim::store::Connection& db) {
            db.execute("INSERT INTO t (payload) VALUES (?1)", {kPayload});
          });
        }
      });
    }
    while (ready.load() < threads)
      std::this_thread::yield();
    const auto start = Clock::now();
    go = true;
    for (auto& w : workers)
      w.join();
    const std::chrono::duration<double> elapsed = Clock::now() - start;

    const auto after = store.stats();
    result.stats = {after.transactions - before.transactions, after.write_jobs - before.write_jobs};
    result.rows_per_second = static_cast<double>(threads) * writes_per_thread / elapsed.count();
  }
  remove_db(db_path);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args args = parse(argc, argv);
    bool own_dir = false;
    if (args.dir.empty()) {
      args.dir = fs::temp_directory_path() / ("kim_store_bench_" + std::to_string(::getpid()));
      own_dir = true;
    }
    fs::create_directories(args.dir);

    const double plain_delete =
        plain_rows_per_second(args.dir / "plain.db", "DELETE", args.baseline_rows);
    const double plain_wal =
        plain_rows_per_second(args.dir / "plain.db", "WAL", args.baseline_rows);
    const auto store =
        store_rows_per_second(args.dir / "store.db", args.threads, args.writes_per_thread);

    std::printf("dir: %s\n", args.dir.c_str());
    std::printf(
        "plain sqlite3 autocommit, journal=DELETE synchronous=FULL: %10.0f rows/s (%d rows)\n",
        plain_delete, args.baseline_rows);
    std::printf(
        "plain sqlite3 autocommit, journal=WAL    synchronous=FULL: %10.0f rows/s (%d rows)\n",
        plain_wal, args.baseline_rows);
    std::printf("Store::write, %d threads x %d writes, WAL FULL:           %10.0f rows/s\n",
                args.threads, args.writes_per_thread, store.rows_per_second);
    std::printf("  transactions: %llu for %llu write jobs (%.1f jobs per commit)\n",
                static_cast<unsigned long long>(store.stats.transactions),
                static_cast<unsigned long long>(store.stats.write_jobs),
                static_cast<double>(store.stats.write_jobs) /
                    static_cast<double>(store.stats.transactions));
    std::printf("  speed-up over plain WAL autocommit: %.1fx\n", store.rows_per_second / plain_wal);
    if (own_dir) fs::remove_all(args.dir);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "store_bench: %s\n", e.what());
    return 1;
  }
}
