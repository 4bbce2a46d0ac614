// The checked ways into a case and a person, for every service that works on them (cases,
// consent, referrals), and THE write path of a case: every change of a case or one of its parts
// goes through write_case()/change_case(), which load the case with the access policy
// (invisible = 404), check the caller's version (If-Match), the role and that the case is open,
// then bump the version (the reply's ETag). Hooks, events and the audit entry are the Change's
// (service_support.hpp). A rule that holds for every case change is written here, once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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
  bool anonymised = false;  // by retention or erasure: no change is taken any more
};

// What a change of a case needs before it runs.
struct CaseRule {
  // Names the change ("a task") when it needs an open case: a closed one is refused with 409
  // case_closed. Null: the change decides (a transition reopens, a referral's answer may come in
  // after closure).
  const char* needs_open = nullptr;
  // Only a case manager makes this change (others 403), checked before the case is loaded.
  bool case_manager_only = false;
  // kWrite: the caller must be allowed to change the case (404 if unseen, 403 if read-only).
  // kNone: a consequence that reaches every case whoever caused it (a revoked consent stops
  // referrals in other organisations' cases); neither access nor If-Match is checked.
  Access access = Access::kWrite;
};

// Before a change: role, access, the caller's If-Match (412), open case — in this order and
// before the change reads its input, so a stale or forbidden write learns nothing from it —
// then the version bump (rolled back with the change if it fails). The row holds the phase
// before the change and the version the change creates.
CaseRow enter_case_change(domain::Change& change, const std::string& case_id, const CaseRule& rule);

// A change of a case inside a running Change: `work(const CaseRow&) -> Reply`; the reply gets
// the case's new version (its ETag).
template <class Work>
domain::Reply change_case(domain::Change& change, const std::string& case_id, const CaseRule& rule,
                          Work&& work) {
  const CaseRow row = enter_case_change(change, case_id, rule);
  domain::Reply reply = work(row);
  reply.version = row.version;
  return reply;
}

// A change of a case as one transaction: `work(Change&, const CaseRow&) -> Reply`.
template <class Work>
domain::Result<domain::Reply> write_case(domain::Transactions& tx, const domain::Context& ctx,
                                         const std::string& case_id, const CaseRule& rule,
                                         Work&& work) {
  return tx.write(ctx, [&](domain::Change& change) {
    return change_case(change, case_id, rule,
                       [&](const CaseRow& row) { return work(change, row); });
  });
}

// Fails with 404 when the case does not exist or the caller may not see it, 403 when `needed`
// is write and the caller only reads.
CaseRow load_case(store::Connection& db, const domain::Context& ctx, const std::string& case_id,
                  Access needed);
// load_case's checks on a row read with kCaseRowColumns (over `c` and its organisation `o`) by a
// query of the caller's own, which may select more; `row` null: no such case. Spares a read
// that needs more of the case a second query.
extern const std::string kCaseRowColumns;
CaseRow checked_case_row(const domain::Context& ctx, const std::string& case_id,
                         const nlohmann::json* row, Access needed);
// The person's row (with "organisation" = slug of the recording organisation); 404 like above.
nlohmann::json load_person(store::Connection& db, const domain::Context& ctx,
                           const std::string& person_id);
// load_person for a change: 409 anonymised once retention or an erasure removed the person's
// personal fields (nothing is written to it again).
nlohmann::json load_person_for_change(store::Connection& db, const domain::Context& ctx,
                                      const std::string& person_id);
// 409 "anonymised" for `what` ("case", "person").
domain::Problem anonymised_problem(const char* what);
void require_case_manager(const domain::Context& ctx);
// 409 case_closed naming `what`: the rule behind CaseRule::needs_open, for a change that needs an
// open case only in some of its forms (sending a referral).
void require_open(const CaseRow& row, const char* what);

// Appends a note to the case's timeline; returns its id. Does not bump the version. `event`: what
// a note the host writes itself records, as data ({"type", ...}; notes.event), so a client can
// word it in its own language; null for people's notes.
std::string add_timeline_note(domain::Change& change, const std::string& case_id,
                              const std::string& occurred_on, const std::string& kind,
                              const std::string& text, const nlohmann::json& event = nullptr);

// What the plugins' supervision rules decide for these facts: the supervising office (none: the
// organisation's usual supervisor) and whether that supervisor keeps reading. Fails with 503
// supervision_unavailable while a plugin that may hold a rule is not running (fail closed) and
// supervision_misconfigured when a rule names no coordinating office; a rule that throws fails
// with 500 naming its plugin.
struct SupervisionChoice {
  std::optional<std::int64_t> office;
  bool shared = false;
};
SupervisionChoice decide_supervision(store::Connection& db, const events::EventBus& bus,
                                     const sdk::SupervisionFacts& facts);
// What the rules decide now for the record `id` of `table` ("cases" or "persons") when it differs
// from what is stored; nothing when it is the same.
std::optional<SupervisionChoice> supervision_change(store::Connection& db,
                                                    const events::EventBus& bus, const char* table,
                                                    const std::string& id);
// Asks the rules who supervises the record `id` of `table` ("cases" or "persons") — when it is
// created, when the person's town changes and at start — and stores the answer on it; audited
// ("supervise") and true when it changed.
bool apply_supervision(domain::Change& change, const char* table, const std::string& id);
// The same for case `case_id`.
void apply_supervision(domain::Change& change, const std::string& case_id);

// SQL condition over `p` (persons) and `po` (its organisation) selecting the persons the
// principal may read: recorded by their organisation (or one it supervises), or the person of a
// case they may read; never a person whose processing is restricted. Appends its parameters.
std::string readable_person_condition(const sdk::Principal& principal,
                                      std::vector<store::SqlValue>& params);

// What the policy needs of a case `c` and its organisation `o`, as SQL columns and read back.
extern const std::string kOwnershipColumns;
CaseOwnership ownership_of(const nlohmann::json& row);

}  // namespace kim::cases
