#include "audit/audit_log.hpp"

#include <algorithm>

#include "domain/validation.hpp"

namespace kim::audit {

void append(store::Connection& db, const Actor& actor, const Entry& entry) {
  append_all(db, actor, {entry});
}

void append_all(store::Connection& db, const Actor& actor, const std::vector<Entry>& entries) {
  constexpr std::size_t kRowsPerStatement = 100;  // 1,000 parameters, far below SQLite's limit
  const std::string at = domain::now_timestamp();
  const store::SqlValue organisation = actor.principal.organisation_id
                                           ? store::SqlValue(actor.principal.organisation_id)
                                           : store::SqlValue(nullptr);
  for (std::size_t start = 0; start < entries.size(); start += kRowsPerStatement) {
    const std::size_t end = std::min(entries.size(), start + kRowsPerStatement);
    std::string sql =
        "INSERT INTO audit_log(at, user_id, user_name, role, organisation_id, action, "
        "object_type, object_id, case_id, request_id) VALUES ";
    std::vector<store::SqlValue> params;
    params.reserve((end - start) * 10);
    for (std::size_t i = start; i < end; ++i) {
      const auto& entry = entries[i];
      sql += i == start ? "(?,?,?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?,?,?)";
      params.insert(
          params.end(),
          {at, actor.principal.user_id, actor.principal.user_name, actor.principal.role,
           organisation, entry.action, entry.object_type, entry.object_id,
           entry.case_id.empty() ? store::SqlValue(nullptr) : store::SqlValue(entry.case_id),
           actor.request_id});
    }
    db.execute(sql, params);
  }
}

nlohmann::json list(store::Store& store, const Query& query) {
  std::string sql =
      "SELECT id, at, user_id, user_name, role, organisation_id, action, object_type, object_id, "
      "case_id, request_id FROM audit_log WHERE id > ?";
  std::vector<store::SqlValue> params{query.after_id};
  if (!query.case_id.empty()) {
    sql += " AND case_id = ?";
    params.emplace_back(query.case_id);
  }
  if (query.user_id) {
    sql += " AND user_id = ?";
    params.emplace_back(query.user_id);
  }
  sql += " ORDER BY id LIMIT ?";
  params.emplace_back(static_cast<std::int64_t>(query.limit + 1));
  auto rows = store.read([&](store::Connection& db) { return db.query(sql, params); });
  nlohmann::json result = {{"items", nlohmann::json::array()}};
  for (std::size_t i = 0; i < rows.size() && i < static_cast<std::size_t>(query.limit); ++i) {
    result["items"].push_back(rows[i]);
  }
  if (rows.size() > static_cast<std::size_t>(query.limit)) {
    result["next_cursor"] = std::to_string(rows[query.limit - 1]["id"].get<std::int64_t>());
  }
  return result;
}

}  // namespace kim::audit
