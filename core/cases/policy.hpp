// Who may see and change a case (object-level authorization, OWASP API1):
// - a case manager: cases of their own organisation that are assigned to them, or all of the
//   organisation's cases when it allows team access; read and write;
// - a coordinator: cases of their own organisation and the cases its office supervises
//   (Fachaufsicht); read only. A case's supervisor is the office a plugin's supervision rule set
//   on it (cases.supervisor_id, e.g. Rheine's office for residents of Rheine), else its
//   organisation's supervisor; a case whose rule shared it (cases.supervisor_shared) is read by
//   the organisation's supervisor as well. One rule: "your office is one of the case's
//   supervisors" — the two supervisor fields below are computed by the same SQL expressions
//   (kSupervisorSql, kCoSupervisorSql) that readable_cases() filters on.
// - everybody else (admin, auditor, authority officer): no case at all.
// - a person whose processing is restricted after an erasure request (persons.restricted_at) and
//   their cases are nobody's here; the auditor sees them through /api/v1/restricted-persons.
// A case a caller may not see does not exist for them: 404, never 403, so ids leak nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kim/sdk/http.hpp"
#include "store/sqlite.hpp"

namespace kim::cases {

enum class Access { kNone, kRead, kWrite };

struct CaseOwnership {
  std::int64_t organisation_id = 0;
  std::int64_t case_manager_id = 0;
  std::int64_t supervisor_id = 0;     // the case's supervising office; 0 when none
  std::int64_t co_supervisor_id = 0;  // the organisation's supervisor when shared; 0 otherwise
  bool team_access = false;
  bool restricted = false;  // the person's processing is restricted (Art. 18): nobody's case
};

// The supervisors of case `c` of organisation `o`, as SQL expressions (0 for none, never NULL:
// "? NOT IN (…)" over them must not turn unknown).
extern const char* const kSupervisorSql;
extern const char* const kCoSupervisorSql;
// The same for person `p` recorded by organisation `po` (persons.supervisor_id, decided by the
// same rules from the person's residence, so a person without a case is read by the office that
// will supervise their case).
extern const char* const kPersonSupervisorSql;
extern const char* const kPersonCoSupervisorSql;
// True (1) when the person of case `c` is restricted.
extern const char* const kRestrictedSql;

Access case_access(const sdk::Principal& principal, const CaseOwnership& case_ownership);

// SQL condition over `c` (cases) and `o` (its organisation) with its parameters, selecting exactly
// the cases case_access() lets the principal read.
struct Filter {
  std::string sql;
  std::vector<store::SqlValue> params;
};
Filter readable_cases(const sdk::Principal& principal);

}  // namespace kim::cases
