#include "audit/audit_log.hpp"

#include <algorithm>

#include "domain/validation.hpp"

namespace kim::audit {

namespace {

// Rows per INSERT: only these sizes, so a page of any length uses at most four statement texts
// (each is cached per connection; one text per length would crowd the statement cache out).
constexpr std::size_t kRowsPerStatement[] = {64, 16, 4, 1};  // at most 320 parameters

std::size_t rows_for(std::size_t remaining) {
  for (std::size_t rows : kRowsPerStatement)
    if (rows <= remaining) return rows;
  return remaining;
}

// The columns of an item with its batch (b) and object (o). CROSS JOIN fixes the order of the
// tables: SQLite's planner, without statistics, would otherwise scan every object.
const char* const kNewColumns =
    "SELECT i.id, b.at, b.user_id, b.user_name, b.role, b.organisation_id, i.action, "
    "o.object_type, o.object_id, nullif(o.case_id, '') AS case_id, b.request_id, b.kind, b.route ";

const char* const kLegacyColumns =
    "SELECT id, at, user_id, user_name, role, organisation_id, action, object_type, object_id, "
    "case_id, request_id, 'access' AS kind, NULL AS route FROM audit_log_v1 WHERE id > ?";

// Item ids continue after the rows of audit_log_v1, so one cursor walks both.
const std::string kNextItemId =
    "max(coalesce((SELECT max(id) FROM audit_items), 0), "
    "coalesce((SELECT max(id) FROM audit_log_v1), 0)) + 1";
const std::string kSelectNextItemId = "SELECT " + kNextItemId;
const std::string kInsertOneBatch =
    "INSERT INTO audit_batches(id, last_item, at, user_id, user_name, role, organisation_id, "
    "request_id, kind, route) SELECT n, n, ?,?,?,?,?,?,?,? FROM (SELECT " +
    kNextItemId + " AS n)";

std::int64_t next_item_id(store::Connection& db) {
  store::Statement stmt = db.prepare(kSelectNextItemId);
  stmt.step();
  return stmt.column_int64(0);
}

store::SqlValue organisation_of(const Actor& actor) {
  return actor.principal.organisation_id ? store::SqlValue(actor.principal.organisation_id)
                                         : store::SqlValue(nullptr);
}

// The common case (one object per request: a read or change of one case or person) in three
// statements of fixed text, each cached: the object, the batch (its id the next item id), the
// item pointing at both.
void append_one(store::Connection& db, const Actor& actor, const Entry& entry, Kind kind,
                const std::string& route) {
  db.execute(
      "INSERT INTO audit_objects(object_type, object_id, case_id) VALUES (?,?,?) "
      "ON CONFLICT DO NOTHING",
      {entry.object_type, entry.object_id, entry.case_id});
  const auto batch = db.execute(
      kInsertOneBatch, {domain::now_timestamp(), actor.principal.user_id, actor.principal.user_name,
                        actor.principal.role, organisation_of(actor), actor.request_id,
                        kind == Kind::kSecurity ? "security" : "access",
                        route.empty() ? store::SqlValue(nullptr) : store::SqlValue(route)});
  db.execute(
      "INSERT INTO audit_items(id, batch_id, action, object_ref) SELECT ?1, ?1, ?2, id "
      "FROM audit_objects WHERE object_id = ?3 AND object_type = ?4 AND case_id = ?5",
      {batch.last_insert_rowid, entry.action, entry.object_id, entry.object_type, entry.case_id});
}

}  // namespace

void append(store::Connection& db, const Actor& actor, const Entry& entry) {
  append_one(db, actor, entry, Kind::kAccess, {});
}

void append_all(store::Connection& db, const Actor& actor, const std::vector<Entry>& entries,
                Kind kind, const std::string& route) {
  if (entries.empty()) return;
  if (entries.size() == 1) return append_one(db, actor, entries.front(), kind, route);
  const std::int64_t first = next_item_id(db);
  const auto count = static_cast<std::int64_t>(entries.size());
  db.execute(
      "INSERT INTO audit_batches(id, last_item, at, user_id, user_name, role, organisation_id, "
      "request_id, kind, route) VALUES (?,?,?,?,?,?,?,?,?,?)",
      {first, first + count - 1, domain::now_timestamp(), actor.principal.user_id,
       actor.principal.user_name, actor.principal.role, organisation_of(actor), actor.request_id,
       kind == Kind::kSecurity ? "security" : "access",
       route.empty() ? store::SqlValue(nullptr) : store::SqlValue(route)});
  for (std::size_t start = 0, end = 0; start < entries.size(); start = end) {
    end = start + rows_for(entries.size() - start);
    // Each object once; then the items point at it.
    std::string objects = "INSERT INTO audit_objects(object_type, object_id, case_id) VALUES ";
    std::string items =
        "INSERT INTO audit_items(id, batch_id, action, object_ref) SELECT v.column1, ?, "
        "v.column2, o.id FROM (VALUES ";
    std::vector<store::SqlValue> object_params;
    std::vector<store::SqlValue> item_params{first};
    for (std::size_t i = start; i < end; ++i) {
      const auto& entry = entries[i];
      objects += i == start ? "(?,?,?)" : ",(?,?,?)";
      items += i == start ? "(?,?,?,?,?)" : ",(?,?,?,?,?)";
      object_params.insert(object_params.end(),
                           {entry.object_type, entry.object_id, entry.case_id});
      item_params.insert(item_params.end(), {first + static_cast<std::int64_t>(i), entry.action,
                                             entry.object_type, entry.object_id, entry.case_id});
    }
    objects += " ON CONFLICT DO NOTHING";
    items +=
        ") AS v JOIN audit_objects o ON o.object_id = v.column4 AND o.object_type = v.column3 "
        "AND o.case_id = v.column5";
    db.execute(objects, object_params);
    db.execute(items, item_params);
  }
}

nlohmann::json list(store::Store& store, const Query& query) {
  const auto wanted = static_cast<std::size_t>(query.limit) + 1;
  auto rows = store.read([&](store::Connection& db) {
    std::vector<nlohmann::json> found;
    // Rows of before migration 7: all older than every item, and never security entries.
    if (query.kind != "security") {
      std::string sql = kLegacyColumns;
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
      params.emplace_back(static_cast<std::int64_t>(wanted));
      for (auto& row : db.query(sql, params))
        found.push_back(std::move(row));
    }
    if (found.size() >= wanted) return found;
    std::string sql = kNewColumns;
    std::vector<store::SqlValue> params;
    std::string order = " ORDER BY i.id";
    if (!query.case_id.empty()) {
      // From the case's objects to their items (index on object_ref).
      sql +=
          "FROM audit_objects o CROSS JOIN audit_items i CROSS JOIN audit_batches b "
          "WHERE o.case_id = ? AND i.object_ref = o.id AND b.id = i.batch_id AND i.id > ?";
      params = {query.case_id, query.after_id};
    } else if (query.user_id || !query.kind.empty()) {
      // From the user's (or kind's) batches, in order, to their items: a batch holds the items
      // b.id..b.last_item, so neither needs an index of its own per item.
      sql +=
          "FROM audit_batches b CROSS JOIN audit_items i CROSS JOIN audit_objects o "
          "WHERE b.last_item > ? AND i.id BETWEEN b.id AND b.last_item AND i.id > ? AND "
          "o.id = i.object_ref";
      params = {query.after_id, query.after_id};
      order = " ORDER BY b.last_item, i.id";
    } else {
      sql +=
          "FROM audit_items i CROSS JOIN audit_batches b CROSS JOIN audit_objects o "
          "WHERE i.id > ? AND b.id = i.batch_id AND o.id = i.object_ref";
      params = {query.after_id};
    }
    if (query.user_id) {
      sql += " AND b.user_id = ?";
      params.emplace_back(query.user_id);
    }
    if (!query.kind.empty()) {
      sql += " AND b.kind = ?";
      params.emplace_back(query.kind);
    }
    sql += order + " LIMIT ?";
    params.emplace_back(static_cast<std::int64_t>(wanted - found.size()));
    for (auto& row : db.query(sql, params))
      found.push_back(std::move(row));
    return found;
  });
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
