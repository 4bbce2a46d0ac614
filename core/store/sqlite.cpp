#include "store/sqlite.hpp"

#include "store/wal_write_buffer.hpp"

#include <sqlite3.h>

#include <climits>
#include <functional>
#include <unordered_map>
#include <utility>

namespace kim::store {
namespace {

constexpr std::size_t kSqlExcerpt = 80;

// First ~80 characters of the SQL on one line, for error messages (SQL text is code, values are
// bound separately and never appear here).
std::string excerpt(std::string_view sql) {
  std::size_t start = 0;
  while (start < sql.size() &&
         (sql[start] == ' ' || sql[start] == '\n' || sql[start] == '\t' || sql[start] == '\r')) {
    ++start;
  }
  sql.remove_prefix(start);
  std::string out;
  out.reserve(kSqlExcerpt + 3);
  bool space = false;
  for (char c : sql) {
    if (out.size() >= kSqlExcerpt) {
      out += "...";
      break;
    }
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

[[noreturn]] void throw_error(sqlite3* db, int rc, std::string_view sql) {
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw SqliteError(rc, std::string(msg) + " (sqlite code " + std::to_string(rc) + ") in SQL `" +
                            excerpt(sql) + "`");
}

int checked_size(std::string_view sql) {
  if (sql.size() > static_cast<std::size_t>(INT_MAX)) {
    throw SqliteError(SQLITE_TOOBIG, "SQL text too long");
  }
  return static_cast<int>(sql.size());
}

// Beyond this many distinct SQL texts per connection, the statements not in use are dropped and
// the cache fills afresh (SQL built with a variable number of values can vary without bound).
constexpr std::size_t kMaxCachedStatements = 256;

}  // namespace

struct Statement::CacheEntry {
  sqlite3_stmt* stmt = nullptr;
  bool in_use = false;    // a Statement holds it
  bool orphaned = false;  // its connection closed while in use: that Statement finalizes it
};

struct Connection::Cache {
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
      return std::hash<std::string_view>{}(text);
    }
  };
  std::unordered_map<std::string, std::unique_ptr<Statement::CacheEntry>, Hash, std::equal_to<>>
      entries;
  const Connection::Authorizer* authorizer = nullptr;  // set by a live Confinement
};

SqliteError::SqliteError(int code, const std::string& message)
    : std::runtime_error(message), code_(code) {}

// --- Statement ---------------------------------------------------------------------------------

Statement::~Statement() {
  release();
}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), cached_(std::exchange(other.cached_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    release();
    stmt_ = std::exchange(other.stmt_, nullptr);
    cached_ = std::exchange(other.cached_, nullptr);
  }
  return *this;
}

void Statement::release() noexcept {
  if (cached_ == nullptr) {
    sqlite3_finalize(stmt_);
  } else if (cached_->orphaned) {
    sqlite3_finalize(stmt_);
    delete cached_;
  } else {
    // Back to the cache ready for the next use; a reset statement holds no read snapshot open.
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    cached_->in_use = false;
  }
  stmt_ = nullptr;
  cached_ = nullptr;
}

void Statement::fail(int rc) const {
  const char* sql = sqlite3_sql(stmt_);
  throw_error(sqlite3_db_handle(stmt_), rc, sql != nullptr ? sql : "");
}

void Statement::bind(int index, const SqlValue& value) {
  int rc = std::visit(
      [&](const auto& v) -> int {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          return sqlite3_bind_null(stmt_, index);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return sqlite3_bind_int64(stmt_, index, v);
        } else if constexpr (std::is_same_v<T, double>) {
          return sqlite3_bind_double(stmt_, index, v);
        } else {
          return sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT,
                                     SQLITE_UTF8);
        }
      },
      value);
  if (rc != SQLITE_OK) fail(rc);
}

void Statement::bind_all(const std::vector<SqlValue>& values) {
  const int expected = sqlite3_bind_parameter_count(stmt_);
  if (static_cast<std::size_t>(expected) != values.size()) {
    const char* sql = sqlite3_sql(stmt_);
    throw SqliteError(SQLITE_RANGE, "statement takes " + std::to_string(expected) +
                                        " parameters but " + std::to_string(values.size()) +
                                        " were given, in SQL `" + excerpt(sql ? sql : "") + "`");
  }
  for (std::size_t i = 0; i < values.size(); ++i)
    bind(static_cast<int>(i) + 1, values[i]);
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(rc);
}

void Statement::reset() {
  // sqlite3_reset repeats the last step's error; that error was already thrown by step().
  sqlite3_reset(stmt_);
}

std::int64_t Statement::column_int64(int i) const {
  return sqlite3_column_int64(stmt_, i);
}

double Statement::column_double(int i) const {
  return sqlite3_column_double(stmt_, i);
}

std::string Statement::column_text(int i) const {
  // Fetch text before bytes: the order the SQLite docs recommend for a stable length.
  const auto* text = sqlite3_column_text(stmt_, i);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)));
}

bool Statement::column_is_null(int i) const {
  return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
}

int Statement::column_count() const {
  return sqlite3_column_count(stmt_);
}

std::string Statement::column_name(int i) const {
  const char* name = sqlite3_column_name(stmt_, i);
  return name != nullptr ? name : "";
}

// --- Connection --------------------------------------------------------------------------------

namespace {

// SQLite's memory statistics take one process-wide mutex on every allocation and free. With
// readers on several threads that mutex was contended (bench/README.md, "Request path, step 4"),
// and kim never reads the statistics. Only possible before SQLite initialises: when something else
// initialised it first, the call fails and the default stays.
void configure_sqlite_once() {
  static const bool configured = [] {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  }();
  (void)configured;
}

}  // namespace

Connection Connection::open(const std::filesystem::path& path, int flags, WalWrites wal_writes) {
  configure_sqlite_once();
  // After configure_sqlite_once: registering the VFS initialises SQLite.
  const char* vfs = wal_writes == WalWrites::buffered ? wal_write_buffer_vfs() : nullptr;
  if (wal_writes == WalWrites::buffered && vfs == nullptr) {
    throw SqliteError(SQLITE_ERROR, "cannot open database " + path.string() +
                                        ": the WAL write buffer's VFS could not be registered");
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, vfs);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const int code = db != nullptr ? sqlite3_extended_errcode(db) : rc;
    sqlite3_close_v2(db);
    throw SqliteError(code, "cannot open database " + path.string() + ": " + message);
  }
  sqlite3_extended_result_codes(db, 1);
  return Connection(db);
}

Connection::Connection(sqlite3* db) : db_(db), cache_(std::make_unique<Cache>()) {
  // The cache outlives moves of the Connection, so it is the hook's stable context.
  if (db_ != nullptr) sqlite3_set_authorizer(db_, &Connection::authorize, cache_.get());
}

int Connection::authorize(void* cache, int action, const char* arg1, const char* arg2,
                          const char* database, const char* trigger) {
  const Authorizer* authorizer = static_cast<Cache*>(cache)->authorizer;
  if (authorizer == nullptr) return SQLITE_OK;
  try {
    return (*authorizer)(action, arg1, arg2, database, trigger);
  } catch (...) {
    return SQLITE_DENY;
  }
}

Connection::Confinement::Confinement(Connection& connection, const Authorizer& authorizer)
    : connection_(connection) {
  if (connection_.cache_->authorizer != nullptr) {
    throw std::logic_error("store: a connection is confined twice");
  }
  connection_.cache_->authorizer = &authorizer;
}

Connection::Confinement::~Confinement() {
  connection_.cache_->authorizer = nullptr;
}

Connection::~Connection() {
  close();
}

Connection::Connection(Connection&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), cache_(std::move(other.cache_)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    cache_ = std::move(other.cache_);
  }
  return *this;
}

void Connection::close() noexcept {
  if (cache_) {
    for (auto& [sql, entry] : cache_->entries) {
      if (entry->in_use) {
        entry->orphaned = true;
        entry.release();  // the Statement holding it finalizes and frees it
      } else {
        sqlite3_finalize(entry->stmt);
      }
    }
    cache_.reset();
  }
  // close_v2: a Statement still alive keeps the handle until it is finalized.
  sqlite3_close_v2(db_);
  db_ = nullptr;
}

std::size_t Connection::cached_statements() const noexcept {
  return cache_ ? cache_->entries.size() : 0;
}

Statement Connection::prepare_cached(std::string_view sql) {
  if (cache_->authorizer != nullptr) return prepare_fresh(sql);
  auto found = cache_->entries.find(sql);
  if (found != cache_->entries.end() && !found->second->in_use) {
    found->second->in_use = true;
    return Statement(found->second->stmt, found->second.get());
  }
  Statement stmt = prepare_fresh(sql);
  if (found == cache_->entries.end()) remember(sql, stmt);
  return stmt;
}

void Connection::exec(std::string_view sql) {
  const bool cacheable = cache_->authorizer == nullptr;
  if (cacheable && cache_->entries.contains(sql)) {
    // A single statement run before (BEGIN, COMMIT, SAVEPOINT, ...): no parsing.
    Statement stmt = prepare_cached(sql);
    while (stmt.step()) {
    }
    return;
  }
  // Statement by statement rather than sqlite3_exec, so an error names the statement that failed.
  bool first = true;
  while (!sql.empty()) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v2(db_, sql.data(), checked_size(sql), &raw, &tail);
    if (rc != SQLITE_OK) throw_error(db_, rc, sql);
    const auto consumed = static_cast<std::size_t>(tail - sql.data());
    if (raw != nullptr) {
      Statement stmt(raw);
      // The whole text is one statement: keep it for the next exec of the same text.
      if (cacheable && first && consumed == sql.size()) remember(sql, stmt);
      while (stmt.step()) {
      }
    }
    first = false;
    if (consumed == 0) break;  // defensive: never loop without progress
    sql.remove_prefix(consumed);
  }
}

void Connection::remember(std::string_view sql, Statement& stmt) {
  if (cache_->entries.size() >= kMaxCachedStatements) {
    // Full: start over with what is in use (a cheap policy; the hot texts return at once).
    std::erase_if(cache_->entries, [](auto& item) {
      if (item.second->in_use) return false;
      sqlite3_finalize(item.second->stmt);
      return true;
    });
  }
  auto entry = std::make_unique<Statement::CacheEntry>();
  entry->stmt = stmt.stmt_;
  entry->in_use = true;
  stmt.cached_ = entry.get();
  cache_->entries.emplace(std::string(sql), std::move(entry));
}

Statement Connection::prepare(std::string_view sql) {
  return prepare_cached(sql);
}

Statement Connection::prepare_fresh(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), checked_size(sql), &raw, &tail);
  if (rc != SQLITE_OK) throw_error(db_, rc, sql);
  if (raw == nullptr) {
    throw SqliteError(SQLITE_MISUSE, "no SQL statement in `" + excerpt(sql) + "`");
  }
  Statement stmt(raw);
  const std::string_view rest = sql.substr(static_cast<std::size_t>(tail - sql.data()));
  if (!rest.empty()) {
    // Anything after the first statement must compile to nothing (whitespace, comments).
    sqlite3_stmt* extra = nullptr;
    rc = sqlite3_prepare_v2(db_, rest.data(), checked_size(rest), &extra, nullptr);
    sqlite3_finalize(extra);
    if (rc != SQLITE_OK || extra != nullptr) {
      throw SqliteError(
          SQLITE_MISUSE,
          "more than one SQL statement given where one is expected, in SQL `" + excerpt(sql) + "`");
    }
  }
  return stmt;
}

nlohmann::json Connection::query(std::string_view sql, const std::vector<SqlValue>& params) {
  Statement stmt = prepare(sql);
  stmt.bind_all(params);
  auto rows = nlohmann::json::array();
  int columns = 0;
  std::vector<std::string> names;
  while (stmt.step()) {
    if (rows.empty()) {
      // Read after the first step: a cached statement re-prepared there after a schema change
      // (SELECT * after ALTER TABLE) may have other columns than before it.
      columns = stmt.column_count();
      names.reserve(static_cast<std::size_t>(columns));
      for (int i = 0; i < columns; ++i)
        names.push_back(stmt.column_name(i));
    }
    auto row = nlohmann::json::object();
    for (int i = 0; i < columns; ++i) {
      auto& cell = row[names[static_cast<std::size_t>(i)]];
      switch (sqlite3_column_type(stmt.raw(), i)) {
        case SQLITE_NULL:
          cell = nullptr;
          break;
        case SQLITE_INTEGER:
          cell = stmt.column_int64(i);
          break;
        case SQLITE_FLOAT:
          cell = stmt.column_double(i);
          break;
        default:  // TEXT, BLOB
          cell = stmt.column_text(i);
          break;
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

ExecResult Connection::execute(std::string_view sql, const std::vector<SqlValue>& params) {
  Statement stmt = prepare(sql);
  stmt.bind_all(params);
  while (stmt.step()) {
  }
  return ExecResult{sqlite3_changes64(db_), sqlite3_last_insert_rowid(db_)};
}

}  // namespace kim::store
