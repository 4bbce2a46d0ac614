// The host's SQLite database: one writer thread with group commit, a pool of read connections,
// and per-namespace schema migrations.
//
// Writes: every Store::write job runs on the single writer connection. The writer thread drains
// the pending jobs (up to max_batch) into ONE transaction and gives each job its own SAVEPOINT, so
// many concurrent writers share one fsync while a job that throws still rolls back only its own
// changes. A caller gets its result only after the transaction COMMITTED durably; if the COMMIT
// fails, every job of the batch that had succeeded gets that error. Jobs must not run
// BEGIN/COMMIT/ROLLBACK themselves (savepoints of their own are fine), and must not call write()
// (that would wait on itself; it throws std::logic_error instead).
//
// Commit delay: when fewer jobs wait than the previous transaction took, the writer waits for
// more, up to that transaction's duration and at most 2 ms, so that callers who write again as
// soon as they are answered keep sharing fsyncs. A lone caller never waits.
//
// Checkpoints: not inside COMMIT (SQLite's wal_autocheckpoint would copy WAL pages into the
// database before the batch's callers are answered) but on the writer thread after it settled a
// round, once checkpoint_pages accumulated and the queue is empty, or at 4x that in any case.
//
// Reads: Store::read runs fn on a pooled read-only connection inside a read transaction, so all of
// fn's queries see one consistent snapshot. Blocks while all read connections are busy.
//
// Handlers in the batch: Store::write_then queues a job that nobody waits for and whose caller
// hears of it after the commit (settled, on the writer or the sync thread). Inside such a job the
// store's write(), write_deferred() and read() run at once on the writer's connection (a write in a
// savepoint of its own, so a failing one undoes only itself; a read sees the batch so far), and
// after_commit() collects work for the settled callback. The host runs whole write requests this
// way: io thread -> writer -> io thread, with no thread blocked on the commit.
//
// Durability off the writer's path (synchronous FULL, sync_thread on, the default): SQLite commits
// each batch without an fsync (synchronous=NORMAL on the writer connection) and the writer goes
// on with the next batch; the sync thread fdatasyncs the WAL, one sync for every commit since the
// previous one, and only then settles their jobs. A caller still hears of its write only once it
// is durable, and the answers keep the order of the commits. The one difference: other
// connections see a commit up to one fdatasync before it is durable. After a power loss (not a
// crash of kim: its writes are in the kernel by then) a non-audited read may have shown what is
// gone; an audited read cannot, since its audit row commits after what it read and is synced
// before it answers. When an fdatasync fails, the writes it covered are answered as failed and
// the store refuses every later write until it is opened again (what is on disk is unknown).
//
// WAL writes: the writer connection opens its files through the VFS of store/wal_write_buffer.hpp,
// which hands each commit's frames to the kernel in one write instead of two per page
// (StoreOptions::buffer_wal_writes); readers use SQLite's default VFS.
//
// Deferred writes: Store::write_deferred is write() for a job whose result nobody needs at once
// (the audit rows of a read). On a thread with a live DeferredWrites it only queues the job; the
// DeferredWrites learns when it committed. Without one it is write(). The writer wakes each
// waiting caller alone (no thundering herd) and never wakes anybody for a deferred job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "store/sqlite.hpp"

namespace kim::store {

struct StoreOptions {
  std::filesystem::path path;  // the parent folder must exist
  int busy_timeout_ms = 5000;
  std::string synchronous = "FULL";  // FULL | NORMAL | OFF (case-insensitive)
  int read_connections = 4;          // >= 1
  int max_batch = 256;               // most write jobs drained into one transaction, >= 1
  // WAL pages written since the last checkpoint after which the writer thread checkpoints
  // (PASSIVE) once it has nothing queued; at 4x this many it checkpoints even while busy, which
  // bounds the WAL. >= 1.
  int checkpoint_pages = 1000;
  // Bytes of the database file a bulk read (Store::read_bulk: reports over a whole year) maps into
  // memory (PRAGMA mmap_size), mapped for that read only. Off by default: whether it pays depends
  // on the machine (bench/README.md, "Indicator report": faster on one VM, slower on a
  // paravirtualised one, where page-table updates are hypercalls). Never for small reads: in WAL
  // mode SQLite unmaps the whole file at the first read after any commit, so a mapped connection
  // serving requests pays an munmap, an mmap and page faults on each of them.
  std::int64_t reader_mmap_bytes = 0;
  // With synchronous FULL: the WAL's fdatasync of each commit runs on a thread of its own, so the
  // writer goes on with the next batch meanwhile (see "Durability off the writer's path" above).
  bool sync_thread = true;
  // The writer connection hands SQLite's WAL writes of a commit to the kernel in one write instead
  // of two per page (store/wal_write_buffer.hpp).
  bool buffer_wal_writes = true;
  // How the sync thread makes the WAL durable, given its file descriptor; 0 on success, else -1
  // with errno set. Empty: fdatasync(2). Tests put in a slow or failing one.
  std::function<int(int fd)> sync_wal = {};
};

struct Migration {
  int version;  // 1, 2, 3, ... per namespace
  std::string description;
  std::string sql;  // a script; must not contain BEGIN/COMMIT (it runs inside a transaction)
};

// Why `migrations` are not numbered 1, 2, 3 … without gaps, or empty.
std::string numbering_problem(const std::string& name, const std::vector<Migration>& migrations);

// Why `migrations` cannot run over what the database recorded for namespace `name` (newer
// records, gaps, a migration changed after it ran), or empty. Reads only; `database` names the
// file in the message.
std::string migration_problem(Connection& db, const std::string& name,
                              const std::vector<Migration>& migrations,
                              const std::filesystem::path& database);

// Lets one thread queue durable writes without waiting for them: while a DeferredWrites lives on
// a thread (one at a time), Store::write_deferred() from that thread queues its job and returns.
// The HTTP layer wraps each request in one, so that a reply that must wait for durable audit rows
// waits on the writer's group commit without a thread blocked beside it.
class DeferredWrites {
 public:
  // Becomes the calling thread's; std::logic_error if the thread has one already.
  DeferredWrites();
  // The thread has none again. Jobs still pending run and commit as usual; without
  // when_settled() nobody hears of them.
  ~DeferredWrites();
  DeferredWrites(const DeferredWrites&) = delete;
  DeferredWrites& operator=(const DeferredWrites&) = delete;

  // The live one of the calling thread, or null.
  static DeferredWrites* current() noexcept;

  // Calls done(nullopt) once every job deferred so far committed, or done(message) with the first
  // failure. Runs on the writer (or sync) thread after the commit, or at once here when nothing
  // is pending.
  // Call at most once, after the last write_deferred(); done must be quick and must not throw.
  void when_settled(std::function<void(std::optional<std::string> error)> done);
  // Blocks until every job deferred so far settled; throws SqliteError if one failed (so that a
  // later write of the same thread never follows a failed one unnoticed; write() calls it).
  void wait();

  struct State;  // shared with the queued jobs

 private:
  friend class Store;
  std::shared_ptr<State> state_;
};

class Store;

// One read transaction for all of a thread's Store::read calls while it lives (one at a time per
// thread): the first read() leases a read connection and begins the transaction, later ones (and
// nested ones) run in the same snapshot, and the scope's end rolls back and returns the
// connection. The host wraps each request served on the io thread in one, so that its token check
// and its handler's reads cost one transaction and see the same data. Never hold one across a
// blocking write() whose result a later read of the scope must see: the snapshot is older.
class ReadScope {
 public:
  // Becomes the calling thread's; std::logic_error if the thread has one already.
  explicit ReadScope(Store& store);
  ~ReadScope();
  ReadScope(const ReadScope&) = delete;
  ReadScope& operator=(const ReadScope&) = delete;

  // The live one of the calling thread for `store`, or null.
  static ReadScope* current(const Store& store) noexcept;

 private:
  friend class Store;
  // The scope's connection inside its transaction (leased and begun on first use).
  Connection& connection();

  Store& store_;
  Connection* connection_ = nullptr;
};

struct StoreStats {
  std::uint64_t transactions;  // write transactions committed
  std::uint64_t write_jobs;    // write jobs run (successful or not)
};

class Store {
 public:
  friend class ReadScope;
  // Throws std::invalid_argument for bad options, SqliteError if the database cannot be opened or
  // configured (including when WAL mode cannot be switched on).
  explicit Store(StoreOptions options);
  // Same as close(); errors are logged, not thrown.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Finishes every queued write, stops the writer thread, waits for running reads, runs
  // PRAGMA optimize and wal_checkpoint(TRUNCATE), closes all connections. Idempotent. Afterwards
  // write() and read() throw std::runtime_error.
  void close();

  template <class F>
  auto write(F&& fn) -> std::invoke_result_t<F&, Connection&> {
    using R = std::invoke_result_t<F&, Connection&>;
    static_assert(!std::is_reference_v<R>, "return a value: a reference would outlive the job");
    if constexpr (std::is_void_v<R>) {
      run_write([&fn](Connection& c) { std::invoke(fn, c); }, false);
    } else {
      std::optional<R> result;
      run_write([&fn, &result](Connection& c) { result.emplace(std::invoke(fn, c)); }, false);
      return std::move(*result);
    }
  }

  // write() whose caller need not wait: see DeferredWrites. Errors reach the DeferredWrites (or,
  // without one, are thrown as by write()).
  void write_deferred(std::function<void(Connection&)> fn);

  // Work collected by after_commit() inside a write_then job.
  using AfterCommit = std::vector<std::function<void()>>;
  // Queues fn as a write job of the next batch and returns. Inside fn this store's write(),
  // write_deferred(), read() and read_bulk() run at once on the writer's connection (see the head
  // of this file). settled(error, after_commit) runs on the writer or sync thread once the batch
  // committed (error null; after_commit what fn collected) or failed (error set; after_commit
  // empty): it must be quick and must not throw. std::runtime_error once the store is closed.
  void write_then(std::function<void(Connection&)> fn,
                  std::function<void(std::exception_ptr error, AfterCommit after_commit)> settled);
  // Inside a write_then job: `work` is handed to its settled callback, to run after the commit.
  // Anywhere else it runs at once (a write() that returned has committed).
  void after_commit(std::function<void()> work);

  template <class F>
  auto read(F&& fn) -> std::invoke_result_t<F&, Connection&> {
    using R = std::invoke_result_t<F&, Connection&>;
    static_assert(!std::is_reference_v<R>, "return a value: a reference would outlive the read");
    if (Connection* batch = batch_connection()) return std::invoke(fn, *batch);
    if (ReadScope* scope = ReadScope::current(*this)) return std::invoke(fn, scope->connection());
    ReadLease lease(*this);
    return std::invoke(fn, *lease.connection);
  }

  // read() for a read over much of the database (reports): the leased connection maps the file
  // (StoreOptions::reader_mmap_bytes) for this read only. Inside a ReadScope it is read(): the
  // scope's snapshot, unmapped (a second lease could wait for itself).
  template <class F>
  auto read_bulk(F&& fn) -> std::invoke_result_t<F&, Connection&> {
    if (batch_connection() != nullptr || ReadScope::current(*this) != nullptr) {
      return read(std::forward<F>(fn));
    }
    ReadLease lease(*this, /*bulk=*/true);
    return std::invoke(fn, *lease.connection);
  }

  // Applies the not yet applied migrations of namespace ns ("core", "plugin:hello", ...), each in a
  // transaction of its own together with its record in schema_migrations (description and a
  // checksum of the SQL's exact bytes). Returns how many were applied now. Throws
  // std::invalid_argument unless versions are exactly 1, 2, 3, ...; throws std::runtime_error if
  // an applied migration's SQL changed by a single byte or the database knows versions this build
  // does not; a failing migration throws (its changes and record rolled back; earlier migrations
  // of the same call stay applied). Core's list: store/core_migrations.hpp. With `confine`, each
  // migration's SQL runs under that authorizer (a plugin's, which may touch only its own tables);
  // the bookkeeping around it does not.
  int migrate(std::string_view ns, const std::vector<Migration>& migrations,
              const Connection::Authorizer* confine = nullptr);
  // Highest applied migration version of namespace ns, 0 if none.
  int schema_version(std::string_view ns);

  StoreStats stats() const;
  // Write jobs queued and not yet taken by the writer thread (thread-safe; for health/metrics).
  std::size_t pending_writes() const;
  // True once an fdatasync of the WAL failed: every write is refused until the store is opened
  // again (see "Durability off the writer's path"). /health reports it.
  bool writes_refused() const;
  const std::filesystem::path& path() const;

 private:
  struct Impl;

  // Holds a read connection for the duration of one read().
  struct ReadLease {
    explicit ReadLease(Store& s, bool bulk = false)
        : store(s), connection(s.acquire_reader(bulk)), bulk(bulk) {}
    ~ReadLease() { store.release_reader(connection, bulk); }
    ReadLease(const ReadLease&) = delete;
    ReadLease& operator=(const ReadLease&) = delete;
    Store& store;
    Connection* connection;
    bool bulk;
  };

  // Queues fn for the writer thread and blocks until its transaction committed (or rethrows).
  void run_write(std::function<void(Connection&)> fn, bool solo);
  // The writer's connection while this thread runs a write_then job of this store, else null.
  Connection* batch_connection() const noexcept;
  // A pooled read connection inside a new read transaction; `bulk` maps the file for it.
  Connection* acquire_reader(bool bulk = false);
  void release_reader(Connection* connection, bool bulk = false) noexcept;

  std::unique_ptr<Impl> impl_;
};

}  // namespace kim::store
