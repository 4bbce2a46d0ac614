#include "cases/policy.hpp"

namespace kim::cases {

const char* const kSupervisorSql = "coalesce(c.supervisor_id, o.supervisor_id, 0)";
const char* const kCoSupervisorSql =
    "(CASE WHEN c.supervisor_id IS NOT NULL AND c.supervisor_shared = 1 "
    "THEN coalesce(o.supervisor_id, 0) ELSE 0 END)";

Access case_access(const sdk::Principal& principal, const CaseOwnership& ownership) {
  if (principal.organisation_id == 0) return Access::kNone;
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
    return {"(c.organisation_id = ? AND (c.case_manager_id = ? OR o.team_access = 1))",
            {principal.organisation_id, principal.user_id}};
  }
  if (principal.organisation_id != 0 && principal.role == "coordinator") {
    return {std::string("(c.organisation_id = ? OR ") + kSupervisorSql + " = ? OR " +
                kCoSupervisorSql + " = ?)",
            {principal.organisation_id, principal.organisation_id, principal.organisation_id}};
  }
  return {"0", {}};
}

}  // namespace kim::cases
