#include "cases/policy.hpp"

namespace kim::cases {

// A record's own supervising office wins over its organisation's; shared, both supervise.
#define KIM_SUPERVISOR_SQL(record, org) \
  "coalesce(" record ".supervisor_id, " org ".supervisor_id, 0)"
#define KIM_CO_SUPERVISOR_SQL(record, org)                      \
  "(CASE WHEN " record ".supervisor_id IS NOT NULL AND " record \
  ".supervisor_shared = 1 "                                     \
  "THEN coalesce(" org ".supervisor_id, 0) ELSE 0 END)"
const char* const kSupervisorSql = KIM_SUPERVISOR_SQL("c", "o");
const char* const kCoSupervisorSql = KIM_CO_SUPERVISOR_SQL("c", "o");
const char* const kPersonSupervisorSql = KIM_SUPERVISOR_SQL("p", "po");
const char* const kPersonCoSupervisorSql = KIM_CO_SUPERVISOR_SQL("p", "po");
#undef KIM_SUPERVISOR_SQL
#undef KIM_CO_SUPERVISOR_SQL

const char* const kRestrictedSql =
    "EXISTS (SELECT 1 FROM persons rp WHERE rp.id = c.person_id AND rp.restricted_at IS NOT NULL)";

Access case_access(const sdk::Principal& principal, const CaseOwnership& ownership) {
  if (principal.organisation_id == 0 || ownership.restricted) return Access::kNone;
  if (principal.role == "case_manager") {
    if (principal.organisation_id != ownership.organisation_id) return Access::kNone;
    if (ownership.case_manager_id == principal.user_id || ownership.team_access) {
      return Access::kWrite;
    }
    return Access::kNone;
  }
  if (principal.role == "coordinator") {
    if (principal.organisation_id == ownership.organisation_id ||
        principal.organisation_id == ownership.supervisor_id ||
        principal.organisation_id == ownership.co_supervisor_id) {
      return Access::kRead;
    }
  }
  return Access::kNone;
}

Filter readable_cases(const sdk::Principal& principal) {
  if (principal.organisation_id != 0 && principal.role == "case_manager") {
    return {std::string("(c.organisation_id = ? AND (c.case_manager_id = ? OR o.team_access = 1) "
                        "AND NOT ") +
                kRestrictedSql + ")",
            {principal.organisation_id, principal.user_id}};
  }
  if (principal.organisation_id != 0 && principal.role == "coordinator") {
    return {std::string("((c.organisation_id = ? OR ") + kSupervisorSql + " = ? OR " +
                kCoSupervisorSql + " = ?) AND NOT " + kRestrictedSql + ")",
            {principal.organisation_id, principal.organisation_id, principal.organisation_id}};
  }
  return {"0", {}};
}

}  // namespace kim::cases
