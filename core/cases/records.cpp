#include "cases/records.hpp"

#include "audit/security_log.hpp"
#include "cases/internal.hpp"

namespace kim::cases {

const std::string kOwnershipColumns =
    std::string("c.organisation_id, c.case_manager_id, ") + kSupervisorSql + " AS supervisor_id, " +
    kCoSupervisorSql + " AS co_supervisor_id, o.team_access, " + kRestrictedSql + " AS restricted";

const std::string kCaseRowColumns =
    "c.id, c.person_id, c.phase, c.version, c.anonymised_at IS NOT NULL AS anonymised, " +
    kOwnershipColumns;

CaseOwnership ownership_of(const json& row) {
  return {row["organisation_id"],
          row["case_manager_id"],
          row["supervisor_id"],
          row["co_supervisor_id"],
          row["team_access"].get<int>() == 1,
          row.value("restricted", 0) == 1};
}

namespace {

CaseRow case_row_of(const json& row) {
  return CaseRow{row["id"],      row["person_id"],  row["phase"],
                 row["version"], ownership_of(row), row["anonymised"].get<int>() != 0};
}

std::optional<CaseRow> find_case_row(Connection& db, const std::string& case_id) {
  auto rows = db.query("SELECT " + kCaseRowColumns +
                           " FROM cases c JOIN organisations o ON o.id = c.organisation_id "
                           "WHERE c.id = ?",
                       {case_id});
  if (rows.empty()) return std::nullopt;
  return case_row_of(rows.front());
}

CaseRow find_case(Connection& db, const std::string& case_id) {
  auto row = find_case_row(db, case_id);
  if (!row) fail(Problem::not_found("case " + case_id));
  return *row;
}

// A refused access is a security event for the auditors (noted here, written by the host after
// this transaction rolled back); the caller's answer stays the same.
[[noreturn]] void refuse(const Context& ctx, const char* object_type, const std::string& id,
                         const std::string& case_id, Problem problem) {
  audit::SecurityLog::note(ctx.actor, object_type, id, case_id);
  fail(std::move(problem));
}

CaseRow access_checked(const Context& ctx, const std::string& case_id,
                       const std::optional<CaseRow>& found, Access needed) {
  // Unknown or invisible: the same 404, so ids reveal nothing (the auditors see both).
  if (!found || case_access(ctx.actor.principal, found->ownership) == Access::kNone) {
    refuse(ctx, "case", case_id, case_id, Problem::not_found("case " + case_id));
  }
  if (needed == Access::kWrite &&
      case_access(ctx.actor.principal, found->ownership) != Access::kWrite) {
    refuse(ctx, "case", case_id, case_id,
           Problem::forbidden("only the case's case manager changes a case; coordinators read"));
  }
  return *found;
}

}  // namespace

CaseRow load_case(Connection& db, const Context& ctx, const std::string& case_id, Access needed) {
  return access_checked(ctx, case_id, find_case_row(db, case_id), needed);
}

CaseRow checked_case_row(const Context& ctx, const std::string& case_id, const json* row,
                         Access needed) {
  return access_checked(ctx, case_id, row ? std::optional(case_row_of(*row)) : std::nullopt,
                        needed);
}

namespace {

CaseRow checked_case(Change& change, const std::string& case_id, const CaseRule& rule) {
  if (rule.case_manager_only) require_case_manager(change.ctx);
  CaseRow row = load_case(change.db, change.ctx, case_id, rule.access);
  // Optimistic concurrency: a write that names a version must name the current one.
  if (change.ctx.if_match && *change.ctx.if_match != row.version) {
    fail(Problem{412,
                 "precondition_failed",
                 "the case changed since version " + std::to_string(*change.ctx.if_match) +
                     " (now " + std::to_string(row.version) + "); reload it and try again",
                 {},
                 json{{"current_version", row.version}}});
  }
  // Before the open check, so reopening one is refused for what it is.
  if (row.anonymised) fail(anonymised_problem("case"));
  if (rule.needs_open) require_open(row, rule.needs_open);
  return row;
}

}  // namespace

CaseRow enter_case_change(Change& change, const std::string& case_id, const CaseRule& rule) {
  CaseRow row = rule.access == Access::kNone ? find_case(change.db, case_id)
                                             : checked_case(change, case_id, rule);
  // A consequence reaching every case (a partner's answer) stops at a restricted person's: its
  // processing is restricted (Art. 18); the callers' own changes never see the case (404).
  if (rule.access == Access::kNone && row.ownership.restricted) {
    // A neutral answer: a partner must not learn that the person restricted processing.
    fail(Problem::conflict("not_accepted", "the case takes no answer now"));
  }
  change.db.execute("UPDATE cases SET version = version + 1, updated_at = ? WHERE id = ?",
                    {change.env.timestamp(), row.id});
  row.version += 1;  // the writer is the only one: nobody else bumped it in between
  return row;
}

json load_person(Connection& db, const Context& ctx, const std::string& person_id) {
  std::vector<SqlValue> params{person_id};
  std::string sql =
      "SELECT p.*, po.slug AS organisation FROM persons p "
      "JOIN organisations po ON po.id = p.organisation_id WHERE p.id = ? AND " +
      readable_person_condition(ctx.actor.principal, params);
  auto rows = db.query(sql, params);
  if (rows.empty()) refuse(ctx, "person", person_id, "", Problem::not_found("person " + person_id));
  return rows.front();
}

Problem anonymised_problem(const char* what) {
  return Problem::conflict("anonymised", std::string("the ") + what +
                                             " was anonymised (retention period passed or erased "
                                             "on request); it cannot change");
}

json load_person_for_change(Connection& db, const Context& ctx, const std::string& person_id) {
  json row = load_person(db, ctx, person_id);
  if (!row["anonymised_at"].is_null()) fail(anonymised_problem("person"));
  return row;
}

void require_open(const CaseRow& row, const char* what) {
  if (row.phase == "closed") {
    fail(Problem::conflict("case_closed",
                           std::string(what) + " needs an open case; reopen it first"));
  }
}

void require_case_manager(const Context& ctx) {
  if (ctx.actor.principal.role != "case_manager" || ctx.actor.principal.organisation_id == 0) {
    refuse(ctx, "role", "case_manager", "", Problem::forbidden("only case managers do this"));
  }
}

std::string add_timeline_note(Change& change, const std::string& case_id,
                              const std::string& occurred_on, const std::string& kind,
                              const std::string& text, const json& event) {
  const std::string id = change.env.new_id("note");
  change.db.execute(
      "INSERT INTO notes(id, case_id, occurred_on, kind, text, event, author_id, created_at) "
      "VALUES (?,?,?,?,?,?,?,?)",
      {id, case_id, occurred_on, kind, text,
       event.is_null() ? SqlValue(nullptr) : SqlValue(event.dump()),
       change.ctx.actor.principal.user_id, change.env.timestamp()});
  return id;
}

// Persons the principal may read: recorded by their organisation, supervised by their office
// (the person's own supervisor, else the recording organisation's; not when a case of the
// person is supervised by another office that did not share it), or the person of a case they
// may read.
std::string readable_person_condition(const sdk::Principal& principal,
                                      std::vector<SqlValue>& params) {
  auto filter = readable_cases(principal);
  std::string sql = "(p.restricted_at IS NULL AND (";
  if (principal.organisation_id != 0 &&
      (principal.role == "case_manager" || principal.role == "coordinator")) {
    sql += "p.organisation_id = ? OR ";
    params.emplace_back(principal.organisation_id);
    if (principal.role == "coordinator") {
      sql += std::string("(? IN (") + kPersonSupervisorSql + ", " + kPersonCoSupervisorSql +
             ") AND NOT EXISTS (SELECT 1 FROM cases c JOIN organisations o ON o.id = "
             "c.organisation_id WHERE c.person_id = p.id AND c.supervisor_id IS NOT NULL AND ? "
             "NOT IN (" +
             kSupervisorSql + ", " + kCoSupervisorSql + "))) OR ";
      params.emplace_back(principal.organisation_id);
      params.emplace_back(principal.organisation_id);
    }
  }
  sql +=
      "EXISTS (SELECT 1 FROM cases c JOIN organisations o ON o.id = c.organisation_id "
      "WHERE c.person_id = p.id AND " +
      filter.sql + ")))";
  params.insert(params.end(), filter.params.begin(), filter.params.end());
  return sql;
}

namespace {

// The facts a rule decides on, and what is stored now, for a case or a person (`table`).
json supervision_facts(Connection& db, const char* table, const std::string& id) {
  const bool is_case = std::string_view(table) == "cases";
  const std::string sql =
      std::string(
          "SELECT r.supervisor_id, r.supervisor_shared, p.town, o.slug AS organisation, "
          "coalesce(s.slug, '') AS default_supervisor FROM ") +
      (is_case ? "cases r JOIN persons p ON p.id = r.person_id"
               : "persons r JOIN persons p ON p.id = r.id") +
      " JOIN organisations o ON o.id = r.organisation_id LEFT JOIN organisations s ON s.id = "
      "o.supervisor_id WHERE r.id = ?";
  return db.query(sql, {id}).at(0);
}

}  // namespace

SupervisionChoice decide_supervision(Connection& db, const events::EventBus& bus,
                                     const sdk::SupervisionFacts& facts) {
  // Fail closed: without a plugin that may hold a rule, a case would silently go to the
  // organisation's usual supervisor.
  if (auto why = bus.supervision_suspended()) {
    fail(Problem{503, "supervision_unavailable", *why, {}, nullptr});
  }
  const auto decision = bus.supervise(facts);
  if (!decision) return {};
  auto office = db.query("SELECT id FROM organisations WHERE slug = ? AND kind = ?",
                         {decision->answer.office, "coordinating_office"});
  if (office.empty()) {
    fail(Problem{503,
                 "supervision_misconfigured",
                 "the supervision rule of plugin " + decision->owner + " names \"" +
                     decision->answer.office +
                     "\", which is not a coordinating office; an administrator must correct "
                     "the plugin's config (kim config check)",
                 {},
                 nullptr});
  }
  return {office[0]["id"].get<std::int64_t>(), decision->answer.share_with_default};
}

std::optional<SupervisionChoice> supervision_change(Connection& db, const events::EventBus& bus,
                                                    const char* table, const std::string& id) {
  const json row = supervision_facts(db, table, id);
  const bool is_case = std::string_view(table) == "cases";
  // A person's own decision is asked with no case id (kim/sdk/rules.hpp).
  const auto choice = decide_supervision(
      db, bus,
      {is_case ? id : std::string(), row["organisation"], row["town"], row["default_supervisor"]});
  const json office = choice.office ? json(*choice.office) : json(nullptr);
  if (row["supervisor_id"] == office && row["supervisor_shared"] == (choice.shared ? 1 : 0)) {
    return std::nullopt;
  }
  return choice;
}

bool apply_supervision(Change& change, const char* table, const std::string& id) {
  const auto choice = supervision_change(change.db, change.bus(), table, id);
  if (!choice) return false;
  change.db.execute(
      std::string("UPDATE ") + table + " SET supervisor_id = ?, supervisor_shared = ? WHERE id = ?",
      {optional_value(choice->office), choice->shared ? 1 : 0, id});
  const bool is_case = std::string_view(table) == "cases";
  change.audit("supervise", is_case ? "case" : "person", id, is_case ? id : std::string());
  return true;
}

void apply_supervision(Change& change, const std::string& case_id) {
  apply_supervision(change, "cases", case_id);
}

}  // namespace kim::cases
