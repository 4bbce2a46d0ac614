#include "app/demo_writing.hpp"

#include <stdexcept>

#include <spdlog/spdlog.h>

namespace kim::app::demo {

using store::Connection;
using store::SqlValue;

Backdate row_with_id(std::string table, const std::string& id,
                     std::vector<std::pair<std::string, SqlValue>> columns) {
  return {std::move(table), "id = ?", {id}, std::move(columns)};
}

Backdate nth_row(const std::string& table, const std::string& parent, const std::string& parent_id,
                 std::int64_t n, std::vector<std::pair<std::string, SqlValue>> columns,
                 const std::string& also) {
  return {table,
          "rowid = (SELECT rowid FROM " + table + " WHERE " + parent + " = ?" + also +
              " ORDER BY rowid LIMIT 1 OFFSET ?)",
          {parent_id, n},
          std::move(columns)};
}

void backdate(store::Store& store, const std::vector<Backdate>& rows) {
  store.write([&](Connection& db) {
    for (const auto& row : rows) {
      std::string sql = "UPDATE " + row.table + " SET ";
      std::vector<SqlValue> params;
      for (const auto& [column, value] : row.columns) {
        sql += (params.empty() ? "" : ", ") + column + " = ?";
        params.push_back(value);
      }
      params.insert(params.end(), row.keys.begin(), row.keys.end());
      db.execute(sql + " WHERE " + row.row, params);
    }
  });
}

nlohmann::json accepted(const domain::Result<domain::Reply>& result, const std::string& what) {
  if (!result) {
    const auto& problem = result.problem();
    throw std::runtime_error("demo seed: " + what + " refused: " + problem.code + " " +
                             problem.field + " " + problem.message);
  }
  return result.value().body;
}

Services::Services(store::Store& store)
    : events(spdlog::default_logger()),
      cases(store, events),
      partners(store, events),
      // The wait limit belongs to the worklist and the gaps report, not to writing.
      referrals(store, events, 14),
      consents(store, events, [this](domain::Change& change, const std::string& consent_id) {
        return referrals.stop_for_revoked_consent(change, consent_id);
      }) {}

}  // namespace kim::app::demo
