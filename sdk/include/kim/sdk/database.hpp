// The plugin's access to the host database (SQLite). Tables a plugin creates in its migrations
// must be named "<plugin id>_<table>" (dashes as underscores) so plugins never collide.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "kim/sdk/http.hpp"

namespace kim::sdk {

using SqlValue = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

// Statements inside one atomic write. Parameters bind to `?` placeholders in order.
class Transaction {
 public:
  virtual ~Transaction() = default;
  // Rows as a JSON array of objects, column name -> value.
  virtual nlohmann::json query(std::string_view sql, const std::vector<SqlValue>& params = {}) = 0;
  // Returns the number of rows changed.
  virtual std::int64_t execute(std::string_view sql, const std::vector<SqlValue>& params = {}) = 0;
  virtual std::int64_t last_insert_rowid() = 0;
  // An entry of the host's audit trail, committed with this transaction or not at all: who
  // (the caller of your route: its principal and request id), what (`action`: read, create,
  // update, …) and which object (`object_type` must begin with "<plugin id>.", e.g.
  // "naturalisation.application"). Social data a plugin keeps is audited like core's: every
  // read and write. Throws std::invalid_argument for a caller without a principal or a foreign
  // object type.
  virtual void audit(const HttpRequest& caller, std::string action, std::string object_type,
                     std::string object_id) = 0;
};

class Database {
 public:
  virtual ~Database() = default;
  // Reads from a snapshot; runs concurrently with writes.
  virtual nlohmann::json query(std::string_view sql, const std::vector<SqlValue>& params = {}) = 0;
  // One statement, committed durably before it returns.
  virtual std::int64_t execute(std::string_view sql, const std::vector<SqlValue>& params = {}) = 0;
  // Several statements, all or nothing: if `work` throws, nothing of it is kept and the exception
  // reaches the caller. Committed durably before it returns.
  virtual void transaction(const std::function<void(Transaction&)>& work) = 0;
};

}  // namespace kim::sdk
