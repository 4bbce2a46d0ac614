// A SELECT built from the filters that are set: the SQL and its parameters grow together, so a
// condition never loses its parameter, and a list page is read one way everywhere (one row more
// than the page tells whether another follows).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/sqlite.hpp"

namespace kim::domain {

class SqlQuery {
 public:
  explicit SqlQuery(std::string sql, std::vector<store::SqlValue> params = {})
      : sql_(std::move(sql)), params_(std::move(params)) {}

  // Appends `sql` and its parameters.
  SqlQuery& add(std::string_view sql, std::vector<store::SqlValue> params = {});
  // Appends " AND <condition>" with its one parameter when `value` is set.
  template <class T>
  SqlQuery& and_if(const std::optional<T>& value, std::string_view condition) {
    if (value) add(" AND " + std::string(condition), {store::SqlValue(*value)});
    return *this;
  }

  nlohmann::json run(store::Connection& db, std::string_view order) const;

  // One page: the rows (at most `limit`) and, when more follow, the cursor after the last one
  // (`cursor_of(last row)`; by default its "seq" column).
  struct Page {
    nlohmann::json rows;
    std::optional<std::string> next_cursor;
  };
  using CursorOf = std::function<std::string(const nlohmann::json& row)>;
  Page page(store::Connection& db, std::string_view order, int limit,
            const CursorOf& cursor_of = nullptr) const;

 private:
  std::string sql_;
  std::vector<store::SqlValue> params_;
};

}  // namespace kim::domain
