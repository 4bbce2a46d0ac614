#include "cases/internal.hpp"
#include "cases/records.hpp"
#include "cases/service.hpp"
#include "domain/catalog.hpp"
#include "domain/sql_query.hpp"
#include "domain/validation.hpp"

// Cases and their phases: opening (admission rules), reading, lists and transitions.
namespace kim::cases {

namespace {

std::vector<std::string> allowed_transitions(const std::string& phase) {
  if (phase == "closed") return {"assessment"};  // reopen
  auto next = domain::next_phases(phase);
  next.push_back("closed");
  return next;
}

const char* const kCaseColumns =
    "c.rowid AS seq, c.id, c.person_id, p.given_names, p.family_name, c.town, "
    "o.slug AS organisation, c.case_manager_id, u.name AS case_manager, c.phase, c.opened_on, "
    "c.closed_on, c.closure_reason, c.closure_note, c.funding_override, c.version, c.created_at, "
    "c.updated_at ";
const char* const kCaseFrom =
    "FROM cases c JOIN organisations o ON o.id = c.organisation_id "
    "JOIN persons p ON p.id = c.person_id JOIN users u ON u.id = c.case_manager_id ";
const std::string kCaseSelect = std::string("SELECT ") + kCaseColumns + kCaseFrom;

json case_json(const json& row) {
  return {{"id", row["id"]},
          {"person",
           {{"id", row["person_id"]},
            {"given_names", row["given_names"]},
            {"family_name", row["family_name"]}}},
          {"town", row["town"]},
          {"organisation", row["organisation"]},
          {"case_manager", {{"id", row["case_manager_id"]}, {"name", row["case_manager"]}}},
          {"phase", row["phase"]},
          {"opened_on", row["opened_on"]},
          {"closed_on", row["closed_on"]},
          {"closure_reason", row["closure_reason"]},
          {"closure_note", row["closure_note"]},
          {"funding_override", row["funding_override"]},
          {"allowed_transitions", allowed_transitions(row["phase"])},
          {"version", row["version"]},
          {"created_at", row["created_at"]},
          {"updated_at", row["updated_at"]}};
}

json read_case(Connection& db, const std::string& case_id) {
  auto rows = db.query(kCaseSelect + "WHERE c.id = ?", {case_id});
  return case_json(rows.at(0));
}

// A person may have one open KIM case, and none while in a programme that excludes it (no double
// funding) unless a coordinator granted an override no case has used yet. Returns that override's
// id (or null). `ignore_case_id` is the case being reopened.
SqlValue check_admission(Change& change, const std::string& person_id,
                         const std::string& ignore_case_id) {
  Connection& db = change.db;
  const std::int64_t mine = change.ctx.actor.principal.organisation_id;
  auto open = db.query(
      "SELECT c.organisation_id, o.name AS organisation FROM cases c JOIN organisations o ON "
      "o.id = c.organisation_id WHERE c.person_id = ? AND c.phase <> 'closed' AND c.id <> ?",
      {person_id, ignore_case_id});
  if (!open.empty()) {
    // Another organisation's case stays unnamed: its existence is all the caller may learn.
    fail(Problem::conflict(
        "case_already_open",
        open[0]["organisation_id"].get<std::int64_t>() == mine
            ? "this person already has an open KIM case at " +
                  open[0]["organisation"].get<std::string>()
            : "this person already has an open KIM case in another organisation; ask your "
              "coordinating office"));
  }

  // No double funding: an active participation in a programme that the catalogue marks as
  // excluding a KIM case blocks the case unless a coordinator granted an override.
  const std::string today = change.env.today();
  std::vector<SqlValue> params{person_id, today, today};
  std::string excluding_programmes;
  for (const auto& programme : domain::programmes()) {
    if (!domain::programme_excludes_kim(programme)) continue;
    excluding_programmes += excluding_programmes.empty() ? "?" : ", ?";
    params.emplace_back(programme);
  }
  if (excluding_programmes.empty()) return nullptr;
  auto excluding = db.query(
      "SELECT pp.programme, pp.started_on, u.organisation_id FROM programme_participations pp "
      "JOIN users u ON u.id = pp.recorded_by WHERE pp.person_id = ? AND pp.started_on <= ? AND "
      "(pp.ended_on IS NULL OR pp.ended_on >= ?) AND pp.programme IN (" +
          excluding_programmes + ") ORDER BY started_on LIMIT 1",
      params);
  SqlValue override_id = nullptr;
  if (!excluding.empty()) {
    auto granted = db.query(
        "SELECT id FROM funding_overrides WHERE person_id = ? AND used_by_case IS NULL ORDER BY "
        "granted_at LIMIT 1",
        {person_id});
    if (granted.empty()) {
      // Which programme and since when is told only to the organisation that recorded it.
      const bool recorded_here = excluding[0]["organisation_id"].is_number_integer() &&
                                 excluding[0]["organisation_id"].get<std::int64_t>() == mine;
      const std::string what =
          recorded_here ? excluding[0]["programme"].get<std::string>() + " since " +
                              excluding[0]["started_on"].get<std::string>()
                        : "a programme that excludes a KIM case (recorded by another organisation)";
      fail(Problem{422,
                   "double_funding",
                   "the person takes part in " + what +
                       "; a KIM case would fund the same support twice. A coordinator may "
                       "grant an override with a justification "
                       "(POST /api/v1/persons/" +
                       person_id + "/funding-overrides)",
                   {},
                   recorded_here ? json{{"programme", excluding[0]["programme"]}} : json()});
    }
    override_id = granted[0]["id"].get<std::string>();
  }

  return override_id;
}

}  // namespace

// ---- cases ------------------------------------------------------------------------------------

Result<Reply> CaseService::open_case(const Context& ctx, const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
    require_case_manager(ctx);
    FieldReader in(body);
    auto person_id = in.line("person_id", 64);
    auto town = in.choice("town", domain::towns(), false);
    auto phase = in.choice("phase", {"access", "intake"}, false);
    auto manager = in.integer("case_manager_id", 1, INT64_MAX, false);
    in.finish();
    check(in);
    const auto& me = ctx.actor.principal;

    // A case opens for a person the caller may read (recorded by their organisation), or one a
    // coordinator linked to their organisation (POST /person-links): knowing an id is not
    // enough, since the case makes the person's data readable and changeable. Any other id is
    // answered as unknown.
    std::vector<SqlValue> params{person_id};
    std::string sql =
        "SELECT p.town, p.anonymised_at FROM persons p JOIN organisations po ON po.id = "
        "p.organisation_id WHERE "
        "p.id = ? AND (" +
        readable_person_condition(me, params) +
        " OR EXISTS (SELECT 1 FROM person_links l WHERE l.person_id = p.id AND "
        "l.organisation_id = ?))";
    params.emplace_back(me.organisation_id);
    auto person = db.query(sql, params);
    if (person.empty()) {
      fail(Problem{404, "not_found", "person " + person_id + " not found", "person_id", nullptr});
    }
    if (!person[0]["anonymised_at"].is_null()) fail(anonymised_problem("person"));
    std::int64_t case_manager_id = manager.value_or(me.user_id);
    if (case_manager_id != me.user_id) {
      auto colleague = db.query(
          "SELECT u.id FROM users u JOIN organisations o ON o.id = u.organisation_id WHERE u.id = "
          "? AND u.role = 'case_manager' AND u.disabled_at IS NULL AND u.organisation_id = ? AND "
          "o.team_access = 1",
          {case_manager_id, me.organisation_id});
      if (colleague.empty()) {
        fail(Problem::bad_request("case_manager_id",
                                  "must be yourself, or a case manager of your organisation when "
                                  "it works with team access"));
      }
    }
    SqlValue override_id = check_admission(change, person_id, "");

    const std::string id = change.env.new_id("case");
    const std::string now = change.env.timestamp();
    const std::string start_phase = phase.value_or("intake");
    db.execute(
        "INSERT INTO cases(id, person_id, town, organisation_id, case_manager_id, phase, "
        "opened_on, funding_override, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        {id, person_id, town.value_or(person[0]["town"].get<std::string>()), me.organisation_id,
         case_manager_id, start_phase, change.env.today(), override_id, now, now});
    if (!std::holds_alternative<std::nullptr_t>(override_id)) {
      db.execute("UPDATE funding_overrides SET used_by_case = ? WHERE id = ?", {id, override_id});
    }
    apply_supervision(change, id);
    change.publish(
        "case.opened",
        {{"case_id", id}, {"organisation_id", me.organisation_id}, {"phase", start_phase}});
    change.audit("create", "case", id, id);
    return Reply{201, read_case(db, id), 1};
  });
}

Result<Reply> CaseService::resupervise_all() {
  const Context ctx{
      audit::Actor{sdk::Principal{0, "supervision", "system", 0, ""}, domain::new_id("sup")},
      std::nullopt};
  // Read first: a start that changes nothing writes nothing (not even an audit entry).
  std::vector<std::pair<const char*, std::string>> stale;
  auto found = tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    for (const char* table : {"persons", "cases"}) {
      for (const auto& row : db.query(std::string("SELECT id FROM ") + table)) {
        const std::string id = row["id"];
        if (supervision_change(db, events_, table, id)) stale.emplace_back(table, id);
      }
    }
    return Reply{};
  });
  if (!found) return found.problem();
  if (stale.empty()) return Reply{200, {{"changed", 0}}, std::nullopt};
  return tx_.write(ctx, [&](Change& change) {
    int changed = 0;
    for (const auto& [table, id] : stale)
      changed += apply_supervision(change, table, id) ? 1 : 0;
    change.audit("resupervise", "deployment", std::to_string(changed));
    return Reply{200, {{"changed", changed}}, std::nullopt};
  });
}

Result<Reply> CaseService::get_case(const Context& ctx, const std::string& case_id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    // One query for the access check and the answer (the hottest read of the API).
    static const std::string sql = std::string("SELECT ") + kCaseColumns + ", " + kCaseRowColumns +
                                   " " + kCaseFrom + "WHERE c.id = ?";
    const auto rows = db.query(sql, {case_id});
    const auto row =
        checked_case_row(ctx, case_id, rows.empty() ? nullptr : &rows.front(), Access::kRead);
    audit.push_back({"read", "case", case_id, case_id});
    return Reply{200, case_json(rows.front()), row.version};
  });
}

Result<Reply> CaseService::list_cases(const Context& ctx, const CaseFilter& filter) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    auto access = readable_cases(ctx.actor.principal);
    domain::SqlQuery query(kCaseSelect + "WHERE " + access.sql, access.params);
    query.add(" AND c.rowid > ?", {filter.after})
        .and_if(filter.phase, "c.phase = ?")
        .and_if(filter.town, "c.town = ?")
        .and_if(filter.case_manager_id, "c.case_manager_id = ?");
    if (filter.overdue_only) {
      query.add(
          " AND EXISTS (SELECT 1 FROM tasks t WHERE t.case_id = c.id AND t.done_on IS NULL AND "
          "t.due_date < ?)",
          {tx_.env().today()});
    }
    auto page = query.page(db, "c.rowid", filter.limit);
    json items = json::array();
    for (const auto& row : page.rows) {
      items.push_back(case_json(row));
      audit.push_back({"list", "case", row["id"], row["id"]});
    }
    json body = {{"items", items}};
    if (page.next_cursor) body["next_cursor"] = *page.next_cursor;
    return Reply{200, body, std::nullopt};
  });
}

Result<Reply> CaseService::transition(const Context& ctx, const std::string& case_id,
                                      const json& body) {
  // Not `needs_open`: a closed case is reopened by a transition.
  return write_case(tx_, ctx, case_id, {}, [&](Change& change, const CaseRow& row) {
    Connection& db = change.db;
    FieldReader in(body);
    auto to = in.choice("to", domain::phases());
    auto reason = in.choice("reason", domain::closure_reasons(), false);
    auto note = in.optional_text("note", kSummaryMax);
    in.finish();
    check(in);
    auto allowed = allowed_transitions(row.phase);
    if (!domain::contains(allowed, *to)) {
      fail(Problem{409, "transition_not_allowed",
                   "a case in phase " + row.phase + " cannot go to " + *to +
                       " (allowed: " + domain::join(allowed) + ")",
                   "to", json{{"allowed", allowed}}});
    }
    if (*to == "closed" && !reason) {
      fail(Problem::bad_request("reason", "is required to close a case (one of: " +
                                              domain::join(domain::closure_reasons()) + ")"));
    }
    if (*to != "closed" && reason) {
      fail(Problem::bad_request("reason", "is only given when closing a case"));
    }
    if (*to == "planning") {
      // The method: no planning without an assessment of the current round.
      auto recorded = db.query(
          "SELECT count(*) AS n FROM assessments WHERE case_id = ? AND recorded_at >= "
          "coalesce((SELECT max(at) FROM case_transitions WHERE case_id = ? AND to_phase IN "
          "('assessment', 'reassessment')), '')",
          {case_id, case_id});
      if (recorded[0]["n"].get<std::int64_t>() == 0) {
        fail(Problem::unprocessable("assessment_missing",
                                    "record an assessment before planning (POST "
                                    "/api/v1/cases/" +
                                        case_id + "/assessments)"));
      }
    }
    if (*to == "monitoring") {
      auto goals = db.query(
          "SELECT count(*) AS n FROM goals WHERE case_id = ? AND status <> 'dropped'", {case_id});
      if (goals[0]["n"].get<std::int64_t>() == 0) {
        fail(Problem::unprocessable("goal_missing",
                                    "set at least one goal before monitoring (POST "
                                    "/api/v1/cases/" +
                                        case_id + "/goals)"));
      }
    }
    SqlValue reopen_override = nullptr;
    if (row.phase == "closed") {
      // Reopening admits the person again: the same rules as opening.
      reopen_override = check_admission(change, row.person_id, case_id);
    }
    const std::string now = change.env.timestamp();
    db.execute(
        "INSERT INTO case_transitions(case_id, from_phase, to_phase, reason, note, at, by_user) "
        "VALUES (?,?,?,?,?,?,?)",
        {case_id, row.phase, *to, optional_value(reason), optional_value(note), now,
         ctx.actor.principal.user_id});
    if (*to == "closed") {
      db.execute(
          "UPDATE cases SET phase = 'closed', closed_on = ?, closure_reason = ?, closure_note = ? "
          "WHERE id = ?",
          {change.env.today(), *reason, optional_value(note), case_id});
    } else {
      db.execute(
          "UPDATE cases SET phase = ?, closed_on = NULL, closure_reason = NULL, closure_note = "
          "NULL WHERE id = ?",
          {*to, case_id});
      if (!std::holds_alternative<std::nullptr_t>(reopen_override)) {
        db.execute("UPDATE cases SET funding_override = ? WHERE id = ?",
                   {reopen_override, case_id});
        db.execute("UPDATE funding_overrides SET used_by_case = ? WHERE id = ?",
                   {case_id, reopen_override});
      }
    }
    change.publish("case.phase_changed", {{"case_id", case_id},
                                          {"from", row.phase},
                                          {"to", *to},
                                          {"organisation_id", row.ownership.organisation_id}});
    if (*to == "closed") {
      change.publish("case.closed", {{"case_id", case_id}, {"reason", *reason}});
    }
    change.audit("transition", "case", case_id, case_id);
    return Reply{200, read_case(db, case_id), std::nullopt};
  });
}

}  // namespace kim::cases
