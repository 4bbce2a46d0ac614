// The audit trail of personal data: who read or changed what, when, for which request. Appended
// in the same transaction as the change it records (or, for reads, before the data is returned);
// append-only: SQLite triggers refuse UPDATE and DELETE, and no code path offers either.
//
// Storage (core migration 7): one row per audited request and actor in audit_batches (time, who,
// request id, kind, route), each object once in audit_objects (type, id, case), and one small
// row per item in audit_items (id, batch, action, object): a listed page of 50 cases costs one
// batch and 50 rows of integers instead of 50 copies of every column. Rows written before that
// migration stay in audit_log_v1; the view audit_log shows both with the old columns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kim/sdk/http.hpp"
#include "store/store.hpp"

namespace kim::audit {

// Who acts, for which request. Built from the authenticated request.
struct Actor {
  sdk::Principal principal;
  std::string request_id;
};

struct Entry {
  std::string action;       // read, list, create, update, transition, refused, …
  std::string object_type;  // person, case, assessment, goal, task, note, participation, …
  std::string object_id;
  std::string case_id;  // empty when the object belongs to no case
};

// "access": a read or change of data; "security": a refused access (see security_log.hpp).
enum class Kind { kAccess, kSecurity };

void append(store::Connection& db, const Actor& actor, const Entry& entry);
// Many entries of one actor in few statements (a list page audits every case it returns).
// `route` ("GET /api/v1/cases/…") is kept for security entries.
void append_all(store::Connection& db, const Actor& actor, const std::vector<Entry>& entries,
                Kind kind = Kind::kAccess, const std::string& route = {});

struct Query {
  std::string case_id;
  std::int64_t user_id = 0;
  std::string kind;           // empty, "access" or "security"
  std::int64_t after_id = 0;  // cursor
  int limit = 100;
};
// Entries oldest first, with "next_cursor" when more exist. Every entry has the same fields,
// whichever table holds it: id, at, user_id, user_name, role, organisation_id, action,
// object_type, object_id, case_id, request_id, kind, route.
nlohmann::json list(store::Store& store, const Query& query);

}  // namespace kim::audit
