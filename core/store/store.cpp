#include "store/store.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>

namespace kim::store {

struct Store::Impl {
  // Lives in the caller's frame; the writer thread touches it only until it sets `done`. The
  // caller alone then owns `error`, so each exception object is created by the writer, handed
  // over under done_mutex, and released in the caller's thread (no shared reference counts).
  //
  // A deferred job lives on the heap instead: the writer settles it through on_settled (outside
  // any lock) and deletes it; nobody waits for it.
  struct Job {
    std::function<void(Connection&)> fn;
    bool solo = false;  // runs in a transaction of its own (migrations)
    std::exception_ptr error;
    bool done = false;                                          // guarded by done_mutex
    std::condition_variable done_cv;                            // its caller alone waits here
    std::function<void(const std::exception_ptr&)> on_settled;  // set: a deferred job
    bool in_batch = false;     // write_then: the store's calls run in it (see store.hpp)
    AfterCommit after_commit;  // what a write_then job collected, for its settled callback
  };

  StoreOptions options;
  std::optional<Connection> writer;
  std::vector<Connection> readers;  // never resized after construction: free_readers points in

  std::mutex queue_mutex;
  std::condition_variable queue_cv;
  std::deque<Job*> queue;  // guarded by queue_mutex
  bool stopping = false;   // guarded by queue_mutex
  // Writers queueing a job wake the writer thread only once this many jobs wait (guarded by
  // queue_mutex): 1, except while the writer gathers a batch (see writer_loop).
  std::size_t wake_at = 1;
  std::thread writer_thread;
  // Writer thread only: size and duration of the previous round, for the commit delay.
  std::size_t last_batch = 0;
  std::chrono::steady_clock::duration last_round{};
  // Writer thread only: WAL pages appended since the last checkpoint (from the WAL hook), and the
  // WAL's length after the previous commit.
  std::uint64_t pages_since_checkpoint = 0;
  int wal_frames = 0;

  // Guards Job::done; each waiting caller has its own condition, so a commit wakes only the
  // callers whose jobs it settled.
  std::mutex done_mutex;

  std::mutex pool_mutex;
  std::condition_variable pool_cv;
  std::vector<Connection*> free_readers;  // guarded by pool_mutex
  bool readers_closed = false;            // guarded by pool_mutex

  std::mutex close_mutex;
  bool closed = false;  // guarded by close_mutex

  std::atomic<std::uint64_t> transactions{0};
  std::atomic<std::uint64_t> write_jobs{0};

  // The jobs of one transaction and how each ended, to be told to their callers.
  struct Settlement {
    std::vector<Job*> jobs;
    std::vector<std::exception_ptr> errors;  // one per job; null: committed
    bool committed = false;                  // some job's changes were committed
  };

  // The sync thread (see store.hpp, "Durability off the writer's path"): with it the writer
  // commits with synchronous=NORMAL and goes on with the next batch, while this thread
  // fdatasyncs the WAL and only then settles the batches committed before that sync.
  bool sync_thread_on = false;
  int wal_fd = -1;  // sync thread: our own descriptor of the -wal file, opened at the first sync
  std::mutex sync_mutex;
  std::condition_variable sync_cv;
  std::deque<Settlement> to_sync;  // guarded by sync_mutex
  bool sync_stopping = false;      // guarded by sync_mutex
  std::thread sync_thread;
  // Set once an fdatasync failed: what is on disk is then unknown (the kernel may have dropped the
  // pages), so no later write may be reported as durable either. Refused until a restart.
  std::atomic<bool> sync_failed{false};
  // An fdatasync runs now; its end is announced on queue_cv (join_while_syncing waits for it).
  std::atomic<bool> sync_in_flight{false};

  void writer_loop();
  void sync_loop();
  // Sync thread: makes the WAL durable (opening it at the first call); why it could not, or empty.
  std::string sync_wal_file();
  // Runs batch[begin..] in one transaction, which jobs queued meanwhile may join (below).
  std::size_t run_transaction(std::vector<Job*>& batch, std::size_t begin);
  // Before a COMMIT, with the sync thread: while it still syncs earlier commits, jobs queued
  // meanwhile join the open transaction (true: some were added to `batch`) rather than make
  // commits of their own, which that sync could not take any sooner. Every commit makes each read
  // connection drop its page cache at its next read, so fewer commits mean fewer pages read again.
  bool join_while_syncing(std::vector<Job*>& batch);
  // Hands a transaction's jobs to the sync thread, or settles them at once when nothing needs a
  // sync first (no sync thread, or nothing committed).
  void finish(Settlement settlement);
  void settle(Settlement& settlement);
  void checkpoint_if_due();
  static int on_wal_commit(void* impl, sqlite3* db, const char* schema, int frames);
};

namespace {

// Longest wait of the writer for a batch to fill up (see writer_loop).
constexpr std::chrono::milliseconds kMaxCommitDelay{2};

// The Store whose writer thread this is: write() from a job would wait for itself.
thread_local const void* tl_writer_of = nullptr;
// The write_then job the writer thread runs now, or null.
thread_local void* tl_batch_job = nullptr;

std::string fnv1a64_hex(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(hash));
  return out;
}

int synchronous_level(const std::string& name) {
  if (name == "OFF") return 0;
  if (name == "NORMAL") return 1;
  if (name == "FULL") return 2;
  throw std::invalid_argument("store: synchronous must be FULL, NORMAL or OFF, not \"" + name +
                              "\"");
}

std::int64_t pragma_int(Connection& db, std::string_view pragma) {
  Statement stmt = db.prepare(pragma);
  if (!stmt.step()) throw SqliteError(SQLITE_ERROR, std::string(pragma) + " returned no row");
  return stmt.column_int64(0);
}

void rollback_quietly(Connection& db) noexcept {
  if (sqlite3_get_autocommit(db.raw()) != 0) return;
  try {
    db.exec("ROLLBACK");
  } catch (const std::exception& e) {
    spdlog::error("store: ROLLBACK failed: {}", e.what());
  }
}

// A batch-wide error gets one exception object per caller: callers then never share one object
// (and its reference count) across threads.
std::exception_ptr own_copy(const std::exception& e) {
  if (const auto* sqlite = dynamic_cast<const SqliteError*>(&e)) {
    return std::make_exception_ptr(SqliteError(*sqlite));
  }
  return std::make_exception_ptr(SqliteError(SQLITE_ERROR, e.what()));
}

}  // namespace

// --- Construction and shutdown -----------------------------------------------------------------

Store::Store(StoreOptions options) : impl_(std::make_unique<Impl>()) {
  if (options.path.empty()) throw std::invalid_argument("store: path is empty");
  if (options.busy_timeout_ms < 0) throw std::invalid_argument("store: busy_timeout_ms < 0");
  if (options.read_connections < 1) throw std::invalid_argument("store: read_connections < 1");
  if (options.max_batch < 1) throw std::invalid_argument("store: max_batch < 1");
  if (options.checkpoint_pages < 1) throw std::invalid_argument("store: checkpoint_pages < 1");
  std::transform(options.synchronous.begin(), options.synchronous.end(),
                 options.synchronous.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const int sync_level = synchronous_level(options.synchronous);
  impl_->options = std::move(options);
  const StoreOptions& o = impl_->options;

  // NOMUTEX: each connection is used by one thread at a time, handed over under our own locks.
  Connection writer = Connection::open(
      o.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      o.buffer_wal_writes ? Connection::WalWrites::buffered : Connection::WalWrites::direct);
  sqlite3_busy_timeout(writer.raw(), o.busy_timeout_ms);
  // journal_mode answers with the mode actually in effect; it stays e.g. "delete" on file systems
  // without shared memory, and concurrent reads during writes depend on WAL.
  const auto mode = writer.query("PRAGMA journal_mode=WAL");
  const std::string got =
      mode.empty() ? std::string("nothing") : mode[0].value("journal_mode", std::string("?"));
  if (got != "wal") {
    throw SqliteError(SQLITE_ERROR, "store: could not switch " + o.path.string() +
                                        " to WAL journal mode (it is " + got + ")");
  }
  // FULL with the sync thread: SQLite commits without the fsync, which the sync thread does
  // before any caller hears of the commit (store.hpp, "Durability off the writer's path").
  impl_->sync_thread_on = o.sync_thread && sync_level == 2;
  const std::string writer_sync = impl_->sync_thread_on ? "NORMAL" : o.synchronous;
  writer.exec("PRAGMA synchronous=" + writer_sync);
  if (pragma_int(writer, "PRAGMA synchronous") != synchronous_level(writer_sync)) {
    throw SqliteError(SQLITE_ERROR, "store: PRAGMA synchronous=" + writer_sync + " did not stick");
  }
  // Savepoint and statement journals in memory: every job of a group commit runs in its own
  // SAVEPOINT, and each page a job touches that an earlier job of the batch dirtied is copied to
  // the sub-journal first. With the default (a temporary file) that is a pwrite per page and job,
  // which profiles showed as half of the writer's write syscalls. Journals last one transaction.
  writer.exec("PRAGMA temp_store=MEMORY");
  // Deleted and overwritten content is zeroed, not left in free pages or slack space (personal
  // data erased or anonymised must not be recoverable from the file; retention/retention.hpp).
  writer.exec("PRAGMA secure_delete=ON");
  writer.exec("PRAGMA foreign_keys=ON");
  if (pragma_int(writer, "PRAGMA foreign_keys") != 1) {
    throw SqliteError(SQLITE_ERROR, "store: PRAGMA foreign_keys=ON did not stick");
  }
  // Our WAL hook replaces SQLite's automatic checkpoint inside COMMIT: the writer thread
  // checkpoints after it answered the batch (checkpoint_if_due).
  sqlite3_wal_hook(writer.raw(), &Impl::on_wal_commit, impl_.get());
  impl_->writer.emplace(std::move(writer));

  // Readers are opened after the writer so the WAL files exist; read-only so a read job cannot
  // write behind the writer thread's back.
  impl_->readers.reserve(static_cast<std::size_t>(o.read_connections));
  for (int i = 0; i < o.read_connections; ++i) {
    Connection reader = Connection::open(o.path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    sqlite3_busy_timeout(reader.raw(), o.busy_timeout_ms);
    impl_->readers.push_back(std::move(reader));
  }
  for (auto& reader : impl_->readers) {
    impl_->free_readers.push_back(&reader);
  }

  if (impl_->sync_thread_on) {
    impl_->sync_thread = std::thread([impl = impl_.get()] { impl->sync_loop(); });
  }
  impl_->writer_thread = std::thread([impl = impl_.get()] { impl->writer_loop(); });
}

Store::~Store() {
  try {
    close();
  } catch (const std::exception& e) {
    spdlog::error("store: close failed: {}", e.what());
  }
}

void Store::close() {
  Impl& s = *impl_;
  if (tl_writer_of == &s) throw std::logic_error("store: close() called from inside a write job");
  std::lock_guard close_lock(s.close_mutex);
  if (s.closed) return;
  s.closed = true;

  {
    std::lock_guard lock(s.queue_mutex);
    s.stopping = true;
  }
  s.queue_cv.notify_all();
  if (s.writer_thread.joinable()) s.writer_thread.join();  // drains the queue first
  if (s.sync_thread.joinable()) {                          // then the last syncs and settlements
    {
      std::lock_guard lock(s.sync_mutex);
      s.sync_stopping = true;
    }
    s.sync_cv.notify_all();
    s.sync_thread.join();
  }
  if (s.wal_fd >= 0) {
    ::close(s.wal_fd);
    s.wal_fd = -1;
  }

  {
    std::unique_lock lock(s.pool_mutex);
    s.readers_closed = true;
    s.pool_cv.wait(lock, [&] { return s.free_readers.size() == s.readers.size(); });
    s.free_readers.clear();
  }
  s.pool_cv.notify_all();  // waiting readers now throw
  s.readers.clear();       // open read snapshots would keep the checkpoint from truncating

  if (s.writer) {
    try {
      s.writer->exec("PRAGMA optimize");
      const auto result = s.writer->query("PRAGMA wal_checkpoint(TRUNCATE)");
      if (!result.empty() && result[0].value("busy", 0) != 0) {
        spdlog::warn("store: WAL checkpoint on close could not complete (database busy)");
      }
    } catch (const std::exception& e) {
      spdlog::warn("store: optimize/checkpoint on close failed: {}", e.what());
    }
    s.writer.reset();
  }
}

// --- Writes ------------------------------------------------------------------------------------

void Store::run_write(std::function<void(Connection&)> fn, bool solo) {
  Impl& s = *impl_;
  if (tl_writer_of == &s) {
    if (tl_batch_job == nullptr || solo) {
      throw std::logic_error("store: write() called from inside a write job would wait for itself");
    }
    // Inside a write_then job: at once, in a savepoint of its own, as its own job would be.
    Connection& db = *s.writer;
    db.exec("SAVEPOINT kim_in_batch");
    try {
      fn(db);
      db.exec("RELEASE kim_in_batch");
    } catch (...) {
      if (sqlite3_get_autocommit(db.raw()) == 0) {
        try {
          db.exec("ROLLBACK TO kim_in_batch");
          db.exec("RELEASE kim_in_batch");
        } catch (const std::exception& e) {
          spdlog::error("store: could not undo a write inside a batch job: {}", e.what());
        }
      }
      throw;
    }
    return;
  }
  // An earlier deferred write of this thread that failed must not go unnoticed by this one.
  if (auto* deferred = DeferredWrites::current()) deferred->wait();
  Impl::Job job;
  job.fn = std::move(fn);
  job.solo = solo;
  bool wake = false;
  {
    std::lock_guard lock(s.queue_mutex);
    if (s.stopping) throw std::runtime_error("store: closed, write refused");
    s.queue.push_back(&job);
    wake = s.queue.size() >= s.wake_at;
  }
  if (wake) s.queue_cv.notify_one();
  {
    std::unique_lock lock(s.done_mutex);
    job.done_cv.wait(lock, [&] { return job.done; });
  }
  if (job.error) std::rethrow_exception(job.error);
}

// --- Deferred writes ---------------------------------------------------------------------------

struct DeferredWrites::State {
  std::mutex mutex;
  std::condition_variable settled_cv;
  int pending = 0;                                             // guarded by mutex
  std::optional<std::string> error;                            // the first failure
  std::function<void(std::optional<std::string>)> on_settled;  // guarded by mutex

  // On the writer thread, once per deferred job.
  void settle(const std::exception_ptr& failure) {
    std::function<void(std::optional<std::string>)> done;
    std::optional<std::string> result;
    {
      std::lock_guard lock(mutex);
      if (failure && !error) {
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          error = e.what();
        } catch (...) {
          error = "unknown error";
        }
      }
      if (--pending == 0) {
        settled_cv.notify_all();
        done = std::move(on_settled);
        on_settled = nullptr;
        result = error;
      }
    }
    if (done) done(std::move(result));
  }
};

namespace {
thread_local DeferredWrites* tl_deferred_writes = nullptr;
}  // namespace

DeferredWrites::DeferredWrites() : state_(std::make_shared<State>()) {
  if (tl_deferred_writes != nullptr) {
    throw std::logic_error("store: this thread has a DeferredWrites already");
  }
  tl_deferred_writes = this;
}

DeferredWrites::~DeferredWrites() {
  tl_deferred_writes = nullptr;
}

DeferredWrites* DeferredWrites::current() noexcept {
  return tl_deferred_writes;
}

void DeferredWrites::when_settled(std::function<void(std::optional<std::string>)> done) {
  std::optional<std::string> result;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->pending > 0) {
      state_->on_settled = std::move(done);
      return;
    }
    result = state_->error;
  }
  done(std::move(result));
}

void DeferredWrites::wait() {
  std::unique_lock lock(state_->mutex);
  state_->settled_cv.wait(lock, [&] { return state_->pending == 0; });
  if (state_->error) {
    throw SqliteError(SQLITE_ABORT, "store: an earlier deferred write failed: " + *state_->error);
  }
}

void Store::write_deferred(std::function<void(Connection&)> fn) {
  DeferredWrites* deferred = DeferredWrites::current();
  if (deferred == nullptr || tl_writer_of == impl_.get()) return run_write(std::move(fn), false);
  Impl& s = *impl_;
  auto job = std::make_unique<Impl::Job>();
  bool wake = false;
  job->fn = std::move(fn);
  job->solo = false;
  job->on_settled = [state = deferred->state_](const std::exception_ptr& error) {
    state->settle(error);
  };
  {
    std::lock_guard lock(deferred->state_->mutex);
    ++deferred->state_->pending;
  }
  {
    std::lock_guard lock(s.queue_mutex);
    if (s.stopping) {
      std::lock_guard state_lock(deferred->state_->mutex);
      --deferred->state_->pending;
      throw std::runtime_error("store: closed, write refused");
    }
    s.queue.push_back(job.release());
    wake = s.queue.size() >= s.wake_at;
  }
  if (wake) s.queue_cv.notify_one();
}

void Store::write_then(
    std::function<void(Connection&)> fn,
    std::function<void(std::exception_ptr error, AfterCommit after_commit)> settled) {
  Impl& s = *impl_;
  auto job = std::make_unique<Impl::Job>();
  job->fn = std::move(fn);
  job->in_batch = true;
  // The job outlives this call of on_settled (settle_all deletes it afterwards).
  job->on_settled = [settled = std::move(settled), job = job.get()](const std::exception_ptr& e) {
    settled(e, e ? AfterCommit{} : std::move(job->after_commit));
  };
  bool wake = false;
  {
    std::lock_guard lock(s.queue_mutex);
    if (s.stopping) throw std::runtime_error("store: closed, write refused");
    s.queue.push_back(job.release());
    wake = s.queue.size() >= s.wake_at;
  }
  if (wake) s.queue_cv.notify_one();
}

void Store::after_commit(std::function<void()> work) {
  if (tl_writer_of == impl_.get() && tl_batch_job != nullptr) {
    static_cast<Impl::Job*>(tl_batch_job)->after_commit.push_back(std::move(work));
    return;
  }
  work();
}

Connection* Store::batch_connection() const noexcept {
  return tl_batch_job != nullptr && tl_writer_of == impl_.get() ? &*impl_->writer : nullptr;
}

void Store::Impl::writer_loop() {
  tl_writer_of = this;
  // Named for top -H and perf: the writer is the one serial thread of every write.
  pthread_setname_np(pthread_self(), "kim-writer");
  const auto max_batch = static_cast<std::size_t>(options.max_batch);
  std::vector<Job*> batch;
  batch.reserve(max_batch);
  for (;;) {
    {
      std::unique_lock lock(queue_mutex);
      queue_cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, and every queued write is done
      // Commit delay (as PostgreSQL's commit_delay): N callers that each write again as soon as
      // they are answered otherwise fall into a convoy of alternating batches, one that arrived
      // first and goes alone through an fsync, and the rest. When fewer jobs wait than the last
      // round took, wait a little (at most as long as that round, at most kMaxCommitDelay) for
      // them; a lone caller (last round 1) never waits.
      if (!stopping && !queue.front()->solo && queue.size() < last_batch) {
        const auto delay =
            std::min<std::chrono::steady_clock::duration>(last_round, kMaxCommitDelay);
        wake_at = last_batch;
        queue_cv.wait_for(lock, delay, [&] { return stopping || queue.size() >= last_batch; });
        wake_at = 1;
      }
      // Everything that queued up while the previous batch was committing goes into one
      // transaction: that is where group commit saves fsyncs. Solo jobs go alone.
      do {
        batch.push_back(queue.front());
        queue.pop_front();
      } while (!batch.back()->solo && !queue.empty() && !queue.front()->solo &&
               batch.size() < max_batch);
    }
    const auto started = std::chrono::steady_clock::now();
    std::size_t next = 0;
    while (next < batch.size()) {
      next = run_transaction(batch, next);
    }
    last_round = std::chrono::steady_clock::now() - started;
    last_batch = batch.size();
    batch.clear();
    checkpoint_if_due();
  }
}

int Store::Impl::on_wal_commit(void* impl, sqlite3*, const char*, int frames) {
  auto& s = *static_cast<Impl*>(impl);
  // A WAL that restarted from its beginning is shorter than before.
  s.pages_since_checkpoint +=
      static_cast<std::uint64_t>(frames >= s.wal_frames ? frames - s.wal_frames : frames);
  s.wal_frames = frames;
  return SQLITE_OK;
}

void Store::Impl::checkpoint_if_due() {
  const auto due = static_cast<std::uint64_t>(options.checkpoint_pages);
  if (pages_since_checkpoint < due) return;
  if (pages_since_checkpoint < 4 * due) {
    std::lock_guard lock(queue_mutex);
    if (!queue.empty()) return;  // busy: answer the next batch first
  }
  // PASSIVE: never waits for readers; pages a reader still needs stay for the next time.
  int log = 0;
  int done = 0;
  const int rc =
      sqlite3_wal_checkpoint_v2(writer->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    spdlog::warn("store: WAL checkpoint failed: {}", sqlite3_errmsg(writer->raw()));
  }
  pages_since_checkpoint = 0;
}

// Runs batch[begin..] in one transaction and settles every job it ran. Returns the index of the
// first job not run (only < batch.size() when the transaction ended early).
std::size_t Store::Impl::run_transaction(std::vector<Job*>& batch, std::size_t begin) {
  Connection& db = *writer;
  std::size_t end = batch.size();
  std::vector<std::exception_ptr> errors(end);
  auto settle_all = [&](std::size_t to, bool committed) {
    Settlement settlement;
    settlement.jobs.assign(batch.begin() + static_cast<std::ptrdiff_t>(begin),
                           batch.begin() + static_cast<std::ptrdiff_t>(to));
    settlement.errors.assign(
        std::make_move_iterator(errors.begin() + static_cast<std::ptrdiff_t>(begin)),
        std::make_move_iterator(errors.begin() + static_cast<std::ptrdiff_t>(to)));
    settlement.committed = committed;
    finish(std::move(settlement));
  };

  if (sync_failed.load()) {
    const SqliteError refused(SQLITE_IOERR_FSYNC,
                              "store: write refused: an earlier sync of the database failed, so "
                              "nothing more is written until kim restarts");
    for (std::size_t j = begin; j < end; ++j) {
      errors[j] = own_copy(refused);
    }
    write_jobs.fetch_add(end - begin, std::memory_order_relaxed);
    settle_all(end, false);
    return end;
  }

  try {
    db.exec("BEGIN IMMEDIATE");
  } catch (const std::exception& e) {
    spdlog::error("store: cannot begin a write transaction: {}", e.what());
    for (std::size_t j = begin; j < end; ++j) {
      errors[j] = own_copy(e);
    }
    write_jobs.fetch_add(end - begin, std::memory_order_relaxed);
    settle_all(end, false);
    return end;
  }

  bool any_ok = false;
  for (std::size_t i = begin;; ++i) {
    if (i == end) {
      if (!join_while_syncing(batch)) break;
      end = batch.size();
      errors.resize(end);
    }
    write_jobs.fetch_add(1, std::memory_order_relaxed);
    bool undo_failed = false;
    try {
      db.exec("SAVEPOINT kim_job");
      struct InBatch {  // the store's calls of a write_then job run in it, until it returns
        explicit InBatch(Job* job) { tl_batch_job = job->in_batch ? job : nullptr; }
        ~InBatch() { tl_batch_job = nullptr; }
      } in_batch(batch[i]);
      batch[i]->fn(db);
      db.exec("RELEASE kim_job");
    } catch (...) {
      errors[i] = std::current_exception();
      try {
        db.exec("ROLLBACK TO kim_job");
        db.exec("RELEASE kim_job");
      } catch (...) {
        undo_failed = true;
      }
    }
    if (undo_failed || sqlite3_get_autocommit(db.raw()) != 0) {
      // The transaction is gone (SQLite rolls back by itself after e.g. SQLITE_FULL or
      // SQLITE_IOERR, or the job ended it) or this job's changes could not be undone: nothing of
      // the jobs so far may be reported as committed. Jobs after this one get a fresh transaction.
      rollback_quietly(db);
      if (!errors[i]) {
        errors[i] = std::make_exception_ptr(
            std::logic_error("store: a write job ended the transaction itself"));
      }
      const SqliteError lost(SQLITE_ABORT,
                             "store: write not committed: another job of the same transaction "
                             "made it roll back");
      for (std::size_t j = begin; j < i; ++j) {
        if (!errors[j]) errors[j] = own_copy(lost);
      }
      spdlog::error("store: write transaction aborted after {} job(s)", i - begin + 1);
      settle_all(i + 1, false);
      return i + 1;
    }
    any_ok = any_ok || !errors[i];
  }

  bool committed = false;
  if (!any_ok) {
    rollback_quietly(db);  // nothing to keep: spare the fsync
  } else {
    try {
      db.exec("COMMIT");
      committed = true;
      transactions.fetch_add(1, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      spdlog::error("store: COMMIT of {} write job(s) failed: {}", end - begin, e.what());
      rollback_quietly(db);
      for (std::size_t j = begin; j < end; ++j) {
        if (!errors[j]) errors[j] = own_copy(e);
      }
    }
  }
  settle_all(end, committed);
  return end;
}

bool Store::Impl::join_while_syncing(std::vector<Job*>& batch) {
  if (!sync_thread_on) return false;
  const auto max_batch = static_cast<std::size_t>(options.max_batch);
  std::unique_lock lock(queue_mutex);
  for (;;) {
    if (!sync_in_flight.load() || stopping || batch.size() >= max_batch) return false;
    if (!queue.empty()) {
      if (queue.front()->solo) return false;
      do {
        batch.push_back(queue.front());
        queue.pop_front();
      } while (!queue.empty() && !queue.front()->solo && batch.size() < max_batch);
      return true;
    }
    queue_cv.wait(lock);  // a job queued, the sync ended, or close()
  }
}

void Store::Impl::finish(Settlement settlement) {
  if (sync_thread_on) {
    {
      std::lock_guard lock(sync_mutex);
      // In order behind earlier commits even when this one needs no sync: its callers must not
      // hear of an error before the callers of an earlier commit hear of its success.
      to_sync.push_back(std::move(settlement));
    }
    sync_cv.notify_one();
    return;
  }
  settle(settlement);
}

void Store::Impl::settle(Settlement& settlement) {
  auto& jobs = settlement.jobs;
  auto& errors = settlement.errors;
  // Sorted out first: once a waiting caller's job is marked done it may be gone at any moment.
  std::vector<std::pair<std::unique_ptr<Job>, std::exception_ptr>> deferred;
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    if (jobs[j]->on_settled) deferred.emplace_back(jobs[j], std::move(errors[j]));
  }
  {
    std::lock_guard lock(done_mutex);
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      if (jobs[j]->on_settled) continue;
      jobs[j]->error = std::move(errors[j]);
      jobs[j]->done = true;  // from here on the job belongs to its caller again
      // Under the lock: the caller cannot return and destroy the condition before we are done.
      jobs[j]->done_cv.notify_one();
    }
  }
  for (auto& [job, error] : deferred)
    job->on_settled(error);
}

std::string Store::Impl::sync_wal_file() {
  if (wal_fd < 0) {
    // SQLite creates the -wal file at the first commit, so it exists now. It would fsync the
    // folder at the WAL's first sync; its commits no longer sync, so that is done here, once.
    const std::string wal_path = options.path.string() + "-wal";
    const int fd = ::open(wal_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "cannot open " + wal_path + ": " + std::strerror(errno);
    const auto folder = options.path.has_parent_path() ? options.path.parent_path().string() : ".";
    const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const bool folder_synced = folder_fd >= 0 && ::fsync(folder_fd) == 0;
    const std::string folder_error = folder_synced ? "" : std::strerror(errno);
    if (folder_fd >= 0) ::close(folder_fd);
    if (!folder_synced) {
      ::close(fd);
      return "cannot sync the folder " + folder + ": " + folder_error;
    }
    wal_fd = fd;
  }
  if ((options.sync_wal ? options.sync_wal(wal_fd) : ::fdatasync(wal_fd)) != 0) {
    return std::string("fdatasync of the WAL failed: ") + std::strerror(errno);
  }
  return {};
}

void Store::Impl::sync_loop() {
  pthread_setname_np(pthread_self(), "kim-sync");
  std::vector<Settlement> round;
  for (;;) {
    {
      std::unique_lock lock(sync_mutex);
      sync_cv.wait(lock, [&] { return sync_stopping || !to_sync.empty(); });
      if (to_sync.empty()) return;  // stopping, and every commit is settled
      // Every commit so far shares this one fdatasync: the WAL is written in order, so the sync
      // makes all of them durable.
      while (!to_sync.empty()) {
        round.push_back(std::move(to_sync.front()));
        to_sync.pop_front();
      }
    }
    const bool any_committed =
        std::any_of(round.begin(), round.end(), [](const Settlement& s) { return s.committed; });
    std::string failure;
    if (any_committed && !sync_failed.load()) {
      sync_in_flight.store(true);
      failure = sync_wal_file();
      sync_in_flight.store(false);
      {
        std::lock_guard lock(queue_mutex);  // the writer checks the flag under it: no lost wake-up
      }
      queue_cv.notify_all();
    }
    if (!failure.empty()) {
      sync_failed.store(true);
      spdlog::critical(
          "store: {}: committed writes may not be on disk; they are answered as failed, and no "
          "further write is accepted until kim restarts",
          failure);
    }
    if (sync_failed.load()) {
      const SqliteError lost(SQLITE_IOERR_FSYNC,
                             "store: write committed but not made durable: the sync of the "
                             "database failed");
      for (auto& settlement : round) {
        if (!settlement.committed) continue;
        for (auto& error : settlement.errors) {
          if (!error) error = own_copy(lost);
        }
      }
    }
    for (auto& settlement : round) {
      settle(settlement);
    }
    round.clear();
  }
}

// --- Reads -------------------------------------------------------------------------------------

Connection* Store::acquire_reader(bool bulk) {
  Impl& s = *impl_;
  Connection* connection = nullptr;
  {
    std::unique_lock lock(s.pool_mutex);
    s.pool_cv.wait(lock, [&] { return s.readers_closed || !s.free_readers.empty(); });
    if (s.readers_closed) throw std::runtime_error("store: closed, read refused");
    connection = s.free_readers.back();
    s.free_readers.pop_back();
  }
  const std::int64_t map_bytes = bulk ? s.options.reader_mmap_bytes : 0;
  try {
    // Outside a transaction: SQLite takes the new size at the next one.
    if (map_bytes > 0) connection->exec("PRAGMA mmap_size=" + std::to_string(map_bytes));
    // One read transaction per read(): all of fn's queries see the same snapshot.
    connection->exec("BEGIN");
  } catch (...) {
    release_reader(connection, bulk);
    throw;
  }
  return connection;
}

void Store::release_reader(Connection* connection, bool bulk) noexcept {
  rollback_quietly(*connection);
  if (bulk && impl_->options.reader_mmap_bytes > 0) {
    try {
      connection->exec("PRAGMA mmap_size=0");
    } catch (const std::exception& e) {
      spdlog::warn("store: could not unmap a read connection after a bulk read: {}", e.what());
    }
  }
  {
    std::lock_guard lock(impl_->pool_mutex);
    impl_->free_readers.push_back(connection);
  }
  // notify_all: close() waits on the same condition for the pool to fill up.
  impl_->pool_cv.notify_all();
}

// --- Read scopes -------------------------------------------------------------------------------

namespace {
thread_local ReadScope* tl_read_scope = nullptr;
}  // namespace

ReadScope::ReadScope(Store& store) : store_(store) {
  if (tl_read_scope != nullptr)
    throw std::logic_error("store: this thread has a ReadScope already");
  tl_read_scope = this;
}

ReadScope::~ReadScope() {
  tl_read_scope = nullptr;
  if (connection_ != nullptr) store_.release_reader(connection_);
}

ReadScope* ReadScope::current(const Store& store) noexcept {
  return tl_read_scope != nullptr && &tl_read_scope->store_ == &store ? tl_read_scope : nullptr;
}

Connection& ReadScope::connection() {
  if (connection_ == nullptr) {
    connection_ = store_.acquire_reader();
  } else if (sqlite3_get_autocommit(connection_->raw()) != 0) {
    // An error of an earlier read ended the transaction: the rest gets a fresh one.
    connection_->exec("BEGIN");
  }
  return *connection_;
}

// --- Migrations --------------------------------------------------------------------------------

std::string numbering_problem(const std::string& name, const std::vector<Migration>& migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    const int expected = static_cast<int>(i) + 1;
    if (migrations[i].version != expected) {
      return "migrations of " + name + " must be numbered 1, 2, 3, ... without gaps: expected #" +
             std::to_string(expected) + ", found #" + std::to_string(migrations[i].version);
    }
  }
  return {};
}

std::string migration_problem(Connection& db, const std::string& name,
                              const std::vector<Migration>& migrations,
                              const std::filesystem::path& database) {
  if (db.query("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'")
          .empty()) {
    return {};
  }
  const auto known = static_cast<std::int64_t>(migrations.size());
  auto applied = db.query(
      "SELECT version, checksum FROM schema_migrations WHERE namespace = ? ORDER BY version",
      {name});
  if (!applied.empty() && applied.back()["version"].get<std::int64_t>() > known) {
    return "database has " + name + "#" + applied.back()["version"].dump() +
           " but this build only knows up to #" + std::to_string(known) +
           ": is it newer than this kim binary?";
  }
  for (std::size_t i = 0; i < applied.size(); ++i) {
    const auto version = applied[i]["version"].get<std::int64_t>();
    if (version != static_cast<std::int64_t>(i) + 1) {
      return "database records of " + name + " migrations have a gap before #" +
             std::to_string(version);
    }
    if (applied[i]["checksum"] != fnv1a64_hex(migrations[i].sql)) {
      const std::string head = "migration " + name + "#" + std::to_string(version) +
                               " was changed after it was applied to " + database.string();
      if (name.rfind("plugin:", 0) == 0) {
        // Said to a plugin's author: which plugin, and what to do instead.
        return head + ": plugin " + name.substr(7) +
               " changed a migration that already ran. Restore #" + std::to_string(version) +
               " as it was and put the change into a new migration #" + std::to_string(known + 1) +
               "; on a development database, move the file away to start afresh";
      }
      return head +
             ": this database was made by another build of kim. Start the build that made it, or "
             "move the file away to start afresh";
    }
  }
  return {};
}

int Store::migrate(std::string_view ns, const std::vector<Migration>& migrations,
                   const Connection::Authorizer* confine) {
  const std::string name(ns);
  if (name.empty()) throw std::invalid_argument("store: migration namespace is empty");
  if (auto problem = numbering_problem(name, migrations); !problem.empty()) {
    throw std::invalid_argument("store: " + problem);
  }
  run_write(
      [&](Connection& db) {
        db.exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " namespace TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL,"
            " checksum TEXT NOT NULL, applied_at TEXT NOT NULL,"
            " PRIMARY KEY (namespace, version))");
      },
      true);
  const std::size_t applied = read([&](Connection& db) {
    if (auto problem = migration_problem(db, name, migrations, path()); !problem.empty()) {
      throw std::runtime_error(problem);
    }
    return static_cast<std::size_t>(
        db.query("SELECT count(*) AS n FROM schema_migrations WHERE namespace = ?", {name})[0]["n"]
            .get<std::int64_t>());
  });

  int count = 0;
  for (std::size_t i = applied; i < migrations.size(); ++i) {
    const Migration& m = migrations[i];
    const std::string label = name + "#" + std::to_string(m.version);
    try {
      run_write(
          [&](Connection& db) {
            if (confine != nullptr) {
              Connection::Confinement confined(db, *confine);
              db.exec(m.sql);
            } else {
              db.exec(m.sql);
            }
            // A concurrent migrator (another process) makes this INSERT fail on the primary key
            // and so rolls the migration back instead of applying it twice.
            db.execute(
                "INSERT INTO schema_migrations (namespace, version, description, checksum,"
                " applied_at) VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                {name, std::int64_t{m.version}, m.description, fnv1a64_hex(m.sql)});
          },
          true);
    } catch (const SqliteError& e) {
      throw SqliteError(e.code(), "migration " + label + " failed: " + e.what());
    } catch (const std::exception& e) {
      throw std::runtime_error("migration " + label + " failed: " + e.what());
    }
    spdlog::info("store: applied migration {} ({})", label, m.description);
    ++count;
  }
  return count;
}

int Store::schema_version(std::string_view ns) {
  return read([&](Connection& db) {
    Statement exists = db.prepare(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
    if (!exists.step()) return 0;
    Statement stmt =
        db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE namespace = ?1");
    stmt.bind(1, std::string(ns));
    stmt.step();
    return static_cast<int>(stmt.column_int64(0));
  });
}

StoreStats Store::stats() const {
  return StoreStats{impl_->transactions.load(std::memory_order_relaxed),
                    impl_->write_jobs.load(std::memory_order_relaxed)};
}

std::size_t Store::pending_writes() const {
  std::lock_guard lock(impl_->queue_mutex);
  return impl_->queue.size();
}

bool Store::writes_refused() const {
  return impl_->sync_failed.load();
}

const std::filesystem::path& Store::path() const {
  return impl_->options.path;
}

}  // namespace kim::store
