// Thin RAII wrapper over the SQLite C API.
//
// Errors throw SqliteError carrying the extended result code; messages name the first ~80
// characters of the failing SQL and sqlite3_errmsg, never bound parameter values (they may hold
// personal data).
//
// Neither Connection nor Statement is thread-safe: use one from one thread at a time (the Store
// hands connections out exclusively).
//
// Prepared statements are cached per connection by their SQL text: parsing and planning cost more
// than running most of our queries. A Statement from the cache goes back to it (reset, bindings
// cleared) when destroyed; a second Statement for the same SQL while the first lives is prepared
// afresh and finalized as before. SQLite re-prepares cached statements after schema changes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

struct sqlite3;
struct sqlite3_stmt;

namespace kim::store {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& message);
  // Extended result code, e.g. SQLITE_CONSTRAINT_PRIMARYKEY; `code() & 0xff` is the primary one.
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// BLOBs are read back as std::string (bytes); they cannot be bound, nothing uses them yet.
using SqlValue = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

struct ExecResult {
  std::int64_t changes;            // rows changed by the statement
  std::int64_t last_insert_rowid;  // of the connection, after the statement
};

class Statement {
 public:
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // 1-based, like sqlite3_bind_*.
  void bind(int index, const SqlValue& value);
  // Binds values[0] to ?1, values[1] to ?2, ...; the count must match the statement's.
  void bind_all(const std::vector<SqlValue>& values);
  // true: a row is available; false: done.
  bool step();
  // Ready to step again from the start; bindings are kept.
  void reset();

  // 0-based, like sqlite3_column_*. NULL reads as 0 / 0.0 / "".
  std::int64_t column_int64(int i) const;
  double column_double(int i) const;
  std::string column_text(int i) const;
  bool column_is_null(int i) const;
  int column_count() const;
  std::string column_name(int i) const;

  sqlite3_stmt* raw() const noexcept { return stmt_; }

  struct CacheEntry;  // a cached statement and whether a Statement holds it now

 private:
  friend class Connection;
  explicit Statement(sqlite3_stmt* stmt, CacheEntry* cached = nullptr) noexcept
      : stmt_(stmt), cached_(cached) {}
  void release() noexcept;
  [[noreturn]] void fail(int rc) const;

  sqlite3_stmt* stmt_ = nullptr;
  CacheEntry* cached_ = nullptr;  // null: owned, finalized on destruction
};

class Connection {
 public:
  // Judges one thing a statement being prepared would do: sqlite3_set_authorizer's action code
  // and arguments (any may be null). Returns SQLITE_OK or SQLITE_DENY; an exception denies.
  using Authorizer = std::function<int(int action, const char* arg1, const char* arg2,
                                       const char* database, const char* trigger)>;

  // While a Confinement lives, `authorizer` judges every statement the connection prepares, and
  // the statement cache is neither read nor filled (a cached statement was judged for another
  // caller, and a confined one must not serve others). Statements prepared inside must be done
  // with before it ends. One at a time per connection. The connection's SQLite authorizer is
  // installed once at open, so confining never expires the cached statements of others.
  class Confinement {
   public:
    Confinement(Connection& connection, const Authorizer& authorizer);
    ~Confinement();
    Confinement(const Confinement&) = delete;
    Confinement& operator=(const Confinement&) = delete;

   private:
    Connection& connection_;
  };

  // How the connection writes the WAL: `buffered` through the VFS of store/wal_write_buffer.hpp
  // (one write per commit instead of two per page; for the store's writer), `direct` as SQLite
  // does.
  enum class WalWrites { direct, buffered };

  // flags: SQLITE_OPEN_* (e.g. SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE). Extended result codes
  // are switched on.
  static Connection open(const std::filesystem::path& path, int flags,
                         WalWrites wal_writes = WalWrites::direct);

  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs a script of zero or more statements; result rows are discarded.
  void exec(std::string_view sql);
  // Exactly one statement (trailing whitespace/comments allowed; a second statement is refused so
  // that nothing is silently ignored).
  Statement prepare(std::string_view sql);
  // One statement; returns [{"column": value, ...}, ...] with null/integer/double/string values.
  nlohmann::json query(std::string_view sql, const std::vector<SqlValue>& params = {});
  // One statement, stepped to completion (rows from RETURNING are discarded).
  ExecResult execute(std::string_view sql, const std::vector<SqlValue>& params = {});

  sqlite3* raw() const noexcept { return db_; }
  // Statements in the cache (for tests).
  std::size_t cached_statements() const noexcept;

 private:
  struct Cache;
  explicit Connection(sqlite3* db);
  static int authorize(void* cache, int action, const char* arg1, const char* arg2,
                       const char* database, const char* trigger);
  // prepare() is prepare_cached(): from the cache when possible, else prepare_fresh() and cached.
  Statement prepare_cached(std::string_view sql);
  Statement prepare_fresh(std::string_view sql);
  // Puts a statement just prepared into the cache under its text (the Statement returns it there).
  void remember(std::string_view sql, Statement& stmt);
  void close() noexcept;

  sqlite3* db_ = nullptr;
  std::unique_ptr<Cache> cache_;
};

}  // namespace kim::store
