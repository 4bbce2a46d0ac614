// The checked ways into a case and a person, for every service that works on them (cases,
// consent, referrals): loading applies the access policy (invisible = 404), writes bump the
// case version (optimistic concurrency), and the timeline takes notes from any of them.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "cases/policy.hpp"
#include "domain/service_support.hpp"
#include "store/sqlite.hpp"

namespace kim::cases {

// One row of a case with what the policy needs.
struct CaseRow {
  std::string id;
  std::string person_id;
  std::string phase;
  std::int64_t version = 0;
  CaseOwnership ownership;
};

// Fails with 404 when the case does not exist or the caller may not see it, 403 when `needed`
// is write and the caller only reads.
CaseRow load_case(store::Connection& db, const domain::Context& ctx, const std::string& case_id,
                  Access needed);
// The person's row (with "organisation" = slug of the recording organisation); 404 like above.
nlohmann::json load_person(store::Connection& db, const domain::Context& ctx,
                           const std::string& person_id);
void require_case_manager(const domain::Context& ctx);
// Optimistic concurrency: a write that names a version (If-Match) must name the current one.
void check_version(const domain::Context& ctx, const CaseRow& row);
std::int64_t bump_version(store::Connection& db, const std::string& case_id);
void require_open(const CaseRow& row, const char* what);

// Appends a note to the case's timeline; returns its id. Does not bump the version.
std::string add_timeline_note(store::Connection& db, const std::string& case_id,
                              const std::string& occurred_on, const std::string& kind,
                              const std::string& text, std::int64_t author_id);

}  // namespace kim::cases
