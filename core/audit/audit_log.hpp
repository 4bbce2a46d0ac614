// The audit trail of personal data: who read or changed what, when, for which request. Appended
// in the same transaction as the change it records (or, for reads, before the data is returned);
// append-only: SQLite triggers refuse UPDATE and DELETE, and no code path offers either.
#pragma once

#include <cstdint>
#include <string>

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
  std::string action;       // read, list, create, update, transition, …
  std::string object_type;  // person, case, assessment, goal, task, note, participation, …
  std::string object_id;
  std::string case_id;  // empty when the object belongs to no case
};

void append(store::Connection& db, const Actor& actor, const Entry& entry);
// Many entries of one actor in few statements (a list page audits every case it returns).
void append_all(store::Connection& db, const Actor& actor, const std::vector<Entry>& entries);

struct Query {
  std::string case_id;
  std::int64_t user_id = 0;
  std::int64_t after_id = 0;  // cursor
  int limit = 100;
};
// Entries oldest first, with "next_cursor" when more exist.
nlohmann::json list(store::Store& store, const Query& query);

}  // namespace kim::audit
