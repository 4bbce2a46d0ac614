// Who may see and change a case (object-level authorization, OWASP API1):
// - a case manager: cases of their own organisation that are assigned to them, or all of the
//   organisation's cases when it allows team access; read and write;
// - a coordinator: cases of their own organisation and of the organisations it supervises
//   (Fachaufsicht); read only;
// - everybody else (admin, auditor, authority officer): no case at all.
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
  std::int64_t supervisor_id = 0;  // of the organisation; 0 when none
  bool team_access = false;
};

Access case_access(const sdk::Principal& principal, const CaseOwnership& case_ownership);

// SQL condition over `c` (cases) and `o` (its organisation) with its parameters, selecting exactly
// the cases case_access() lets the principal read.
struct Filter {
  std::string sql;
  std::vector<store::SqlValue> params;
};
Filter readable_cases(const sdk::Principal& principal);

}  // namespace kim::cases
