#include <charconv>

#include "cases/internal.hpp"
#include "cases/records.hpp"
#include "cases/service.hpp"
#include "domain/catalog.hpp"
#include "domain/sql_query.hpp"
#include "domain/validation.hpp"

// The parts of a case: assessments, goals, tasks and notes, and the task lists across cases.
namespace kim::cases {

namespace {

const char* const kGoalSelect =
    "SELECT id, life_domain, description, due_date, status, created_at, updated_at FROM goals ";
const char* const kTaskSelect =
    "SELECT id, goal_id, description, due_date, assignee_id, done_on FROM tasks ";

}  // namespace

Result<Reply> CaseService::list_part(const Context& ctx, const std::string& case_id,
                                     const char* object_type, const std::string& sql) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    auto row = load_case(db, ctx, case_id, Access::kRead);
    auto items = db.query(sql, {case_id});
    audit.push_back({"list", object_type, case_id, case_id});
    return Reply{200, {{"items", items}}, row.version};
  });
}

// ---- assessments, goals, tasks, notes -------------------------------------------------------

Result<Reply> CaseService::record_assessment(const Context& ctx, const std::string& case_id,
                                             const json& body) {
  return write_case(tx_, ctx, case_id, {}, [&](Change& change, const CaseRow& row) {
    Connection& db = change.db;
    FieldReader in(body);
    std::vector<std::tuple<std::string, std::string, std::string>> domains;
    in.objects(
        "domains", domain::life_domains().size(),
        [&](FieldReader& item) {
          auto life_domain = item.choice("life_domain", domain::life_domains());
          auto level = item.choice("need_level", domain::need_levels());
          auto summary = item.optional_text("summary", kSummaryMax);
          if (item.problem()) return;
          for (const auto& existing : domains) {
            if (std::get<0>(existing) == *life_domain) {
              item.fail("life_domain", "is assessed twice");
              return;
            }
          }
          domains.emplace_back(*life_domain, *level, summary.value_or(""));
        },
        /*required=*/true);
    in.finish();
    check(in);
    if (domains.empty())
      fail(Problem::bad_request("domains", "must assess at least one life domain"));
    if (row.phase != "assessment" && row.phase != "reassessment") {
      fail(Problem::conflict("wrong_phase",
                             "assessments are recorded in the assessment or "
                             "reassessment phase (the case is in " +
                                 row.phase + ")"));
    }
    const std::string id = change.env.new_id("asm");
    const std::string kind = row.phase == "reassessment" ? "reassessment" : "assessment";
    db.execute(
        "INSERT INTO assessments(id, case_id, kind, recorded_at, recorded_by) VALUES (?,?,?,?,?)",
        {id, case_id, kind, change.env.timestamp(), ctx.actor.principal.user_id});
    for (const auto& [life_domain, level, summary] : domains) {
      db.execute(
          "INSERT INTO assessment_domains(assessment_id, life_domain, need_level, summary) VALUES "
          "(?,?,?,?)",
          {id, life_domain, level, summary});
    }
    change.publish("case.assessment_recorded",
                   {{"case_id", case_id}, {"assessment_id", id}, {"kind", kind}});
    change.audit("create", "assessment", id, case_id);
    json out_domains = json::array();
    for (const auto& [life_domain, level, summary] : domains) {
      out_domains.push_back(
          {{"life_domain", life_domain}, {"need_level", level}, {"summary", summary}});
    }
    return Reply{201,
                 {{"id", id}, {"case_id", case_id}, {"kind", kind}, {"domains", out_domains}},
                 std::nullopt};
  });
}

Result<Reply> CaseService::list_assessments(const Context& ctx, const std::string& case_id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    auto row = load_case(db, ctx, case_id, Access::kRead);
    auto assessments = db.query(
        "SELECT a.id, a.kind, a.recorded_at, u.name AS recorded_by FROM assessments a JOIN users "
        "u ON u.id = a.recorded_by WHERE a.case_id = ? ORDER BY a.recorded_at, a.rowid",
        {case_id});
    for (auto& assessment : assessments) {
      assessment["domains"] = db.query(
          "SELECT life_domain, need_level, summary FROM assessment_domains WHERE assessment_id = "
          "? ORDER BY life_domain",
          {assessment["id"].get<std::string>()});
    }
    audit.push_back({"list", "assessment", case_id, case_id});
    return Reply{200, {{"items", assessments}}, row.version};
  });
}

Result<Reply> CaseService::add_goal(const Context& ctx, const std::string& case_id,
                                    const json& body) {
  return write_case(tx_, ctx, case_id, {}, [&](Change& change, const CaseRow& row) {
    FieldReader in(body);
    auto life_domain = in.choice("life_domain", domain::life_domains());
    auto description = in.text("description", kSummaryMax);
    auto due = in.date("due_date");
    in.finish();
    check(in);
    if (!domain::contains({"planning", "linking", "monitoring", "reassessment"}, row.phase)) {
      fail(Problem::conflict("wrong_phase",
                             "goals are agreed from the planning phase on (the case "
                             "is in " +
                                 row.phase + ")"));
    }
    const std::string id = change.env.new_id("goal");
    const std::string now = change.env.timestamp();
    change.db.execute(
        "INSERT INTO goals(id, case_id, life_domain, description, due_date, status, created_at, "
        "updated_at) VALUES (?,?,?,?,?,'open',?,?)",
        {id, case_id, *life_domain, description, *due, now, now});
    change.publish("case.goal_set",
                   {{"case_id", case_id}, {"goal_id", id}, {"life_domain", *life_domain}});
    change.audit("create", "goal", id, case_id);
    return Reply{201, change.db.query(std::string(kGoalSelect) + "WHERE id = ?", {id})[0],
                 std::nullopt};
  });
}

Result<Reply> CaseService::update_goal(const Context& ctx, const std::string& case_id,
                                       const std::string& goal_id, const json& body) {
  return write_case(tx_, ctx, case_id, {"changing a goal"}, [&](Change& change, const CaseRow&) {
    Connection& db = change.db;
    auto goals =
        db.query("SELECT status FROM goals WHERE id = ? AND case_id = ?", {goal_id, case_id});
    if (goals.empty()) fail(Problem::not_found("goal " + goal_id));
    FieldReader in(body);
    auto status = in.choice("status", domain::goal_statuses(), false);
    auto description = in.optional_text("description", kSummaryMax);
    auto due = in.date("due_date", false);
    in.finish();
    check(in);
    if (!status && !description && !due) {
      fail(Problem::bad_request("", "give at least one of status, description, due_date"));
    }
    if (description && description->find_first_not_of(" \t\r\n") == std::string::npos) {
      fail(Problem::bad_request("description", "must not be empty"));
    }
    db.execute(
        "UPDATE goals SET status = coalesce(?, status), description = coalesce(?, description), "
        "due_date = coalesce(?, due_date), updated_at = ? WHERE id = ?",
        {optional_value(status), optional_value(description), optional_value(due),
         change.env.timestamp(), goal_id});
    change.publish("case.goal_changed",
                   {{"case_id", case_id},
                    {"goal_id", goal_id},
                    {"status", status.value_or(goals[0]["status"].get<std::string>())}});
    change.audit("update", "goal", goal_id, case_id);
    return Reply{200, db.query(std::string(kGoalSelect) + "WHERE id = ?", {goal_id})[0],
                 std::nullopt};
  });
}

Result<Reply> CaseService::list_goals(const Context& ctx, const std::string& case_id) {
  return list_part(ctx, case_id, "goal",
                   std::string(kGoalSelect) + "WHERE case_id = ? ORDER BY created_at, rowid");
}

Result<Reply> CaseService::add_task(const Context& ctx, const std::string& case_id,
                                    const json& body) {
  return write_case(tx_, ctx, case_id, {"a task"}, [&](Change& change, const CaseRow& row) {
    Connection& db = change.db;
    FieldReader in(body);
    auto description = in.text("description", kSummaryMax);
    auto due = in.date("due_date");
    auto goal_id = in.optional_text("goal_id", 64);
    in.finish();
    check(in);
    if (goal_id &&
        db.query("SELECT 1 FROM goals WHERE id = ? AND case_id = ?", {*goal_id, case_id}).empty()) {
      fail(Problem::bad_request("goal_id", "is not a goal of this case"));
    }
    const std::string id = change.env.new_id("task");
    db.execute(
        "INSERT INTO tasks(id, case_id, goal_id, description, due_date, assignee_id, created_at) "
        "VALUES (?,?,?,?,?,?,?)",
        {id, case_id, optional_value(goal_id), description, *due, row.ownership.case_manager_id,
         change.env.timestamp()});
    change.publish("case.task_added", {{"case_id", case_id}, {"task_id", id}, {"due_date", *due}});
    change.audit("create", "task", id, case_id);
    return Reply{201, db.query(std::string(kTaskSelect) + "WHERE id = ?", {id})[0], std::nullopt};
  });
}

Result<Reply> CaseService::update_task(const Context& ctx, const std::string& case_id,
                                       const std::string& task_id, const json& body) {
  return write_case(tx_, ctx, case_id, {"changing a task"}, [&](Change& change, const CaseRow&) {
    Connection& db = change.db;
    if (db.query("SELECT 1 FROM tasks WHERE id = ? AND case_id = ?", {task_id, case_id}).empty()) {
      fail(Problem::not_found("task " + task_id));
    }
    FieldReader in(body);
    auto done = in.boolean("done");
    in.finish();
    check(in);
    db.execute("UPDATE tasks SET done_on = ? WHERE id = ?",
               {*done ? SqlValue(change.env.today()) : SqlValue(nullptr), task_id});
    change.publish("case.task_changed",
                   {{"case_id", case_id}, {"task_id", task_id}, {"done", *done}});
    change.audit("update", "task", task_id, case_id);
    return Reply{200, db.query(std::string(kTaskSelect) + "WHERE id = ?", {task_id})[0],
                 std::nullopt};
  });
}

Result<Reply> CaseService::list_tasks(const Context& ctx, const std::string& case_id) {
  return list_part(ctx, case_id, "task",
                   std::string(kTaskSelect) + "WHERE case_id = ? ORDER BY due_date, rowid");
}

Result<Reply> CaseService::add_note(const Context& ctx, const std::string& case_id,
                                    const json& body) {
  // Not `needs_open`: what happened after closure (a late call) still belongs on the timeline.
  return write_case(tx_, ctx, case_id, {}, [&](Change& change, const CaseRow&) {
    FieldReader in(body);
    auto occurred = in.date("occurred_on");
    auto kind = in.choice("kind", domain::note_kinds());
    auto text = in.text("text", kTextMax);
    in.finish();
    check(in);
    if (*occurred > change.env.today()) {
      fail(Problem::bad_request("occurred_on", "is in the future"));
    }
    const std::string id = add_timeline_note(change, case_id, *occurred, *kind, text);
    change.publish("case.note_added", {{"case_id", case_id}, {"note_id", id}, {"kind", *kind}});
    change.audit("create", "note", id, case_id);
    return Reply{201,
                 {{"id", id}, {"occurred_on", *occurred}, {"kind", *kind}, {"text", text}},
                 std::nullopt};
  });
}

Result<Reply> CaseService::list_notes(const Context& ctx, const std::string& case_id) {
  auto listed =
      list_part(ctx, case_id, "note",
                "SELECT n.id, n.occurred_on, n.kind, n.text, n.event, u.name AS author, "
                "n.created_at FROM notes n JOIN users u ON u.id = n.author_id WHERE n.case_id = ? "
                "ORDER BY n.occurred_on, n.rowid");
  if (listed) {
    for (auto& item : listed.value().body["items"])
      item["event"] = item["event"].is_string() ? domain::json_column(item["event"]) : json();
  }
  return listed;
}

std::optional<TaskQuery::Position> TaskQuery::parse_cursor(const std::string& text) {
  // "<due date>.<row>": the list is ordered by due date, so the cursor names both.
  const auto dot = text.find('.');
  if (dot == std::string::npos || !domain::is_date(text.substr(0, dot))) return std::nullopt;
  std::int64_t row = 0;
  const char* begin = text.data() + dot + 1;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(begin, end, row);
  if (error != std::errc() || stop != end || begin == end || row < 0) return std::nullopt;
  return Position{text.substr(0, dot), row};
}

namespace {

// Open tasks of readable cases due before a date; a case manager's own only. `after` continues a
// page. Ordered by due date, then row.
domain::SqlQuery due_tasks(const Context& ctx, const std::string& due_before,
                           const std::optional<TaskQuery::Position>& after) {
  auto access = readable_cases(ctx.actor.principal);
  domain::SqlQuery sql(
      "SELECT t.rowid AS seq, t.id, t.case_id, t.goal_id, t.description, t.due_date, "
      "t.assignee_id, u.name AS assignee FROM tasks t JOIN cases c ON c.id = t.case_id JOIN "
      "organisations o ON o.id = c.organisation_id JOIN users u ON u.id = t.assignee_id WHERE "
      "t.done_on IS NULL AND c.phase <> 'closed' AND t.due_date < ?",
      {due_before});
  sql.add(" AND " + access.sql, access.params);
  if (ctx.actor.principal.role == "case_manager") {
    sql.add(" AND t.assignee_id = ?", {ctx.actor.principal.user_id});
  }
  if (after) {
    sql.add(" AND (t.due_date > ? OR (t.due_date = ? AND t.rowid > ?))",
            {after->due_date, after->due_date, after->row});
  }
  return sql;
}

const char* const kDueOrder = "t.due_date, t.rowid";

// Audits the listed tasks and drops the row number the cursor needed.
json audited_tasks(json rows, std::vector<audit::Entry>& audit) {
  for (auto& row : rows) {
    audit.push_back({"list", "task", row["id"], row["case_id"]});
    row.erase("seq");
  }
  return rows;
}

}  // namespace

Result<Reply> CaseService::tasks_due(const Context& ctx, const TaskQuery& query) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    // The list is ordered by due date, so the cursor names the last due date and row.
    auto page = due_tasks(ctx, query.due_before, query.after)
                    .page(db, kDueOrder, query.limit, [](const json& last) {
                      return last["due_date"].get<std::string>() + "." +
                             std::to_string(last["seq"].get<std::int64_t>());
                    });
    json body = {{"items", audited_tasks(std::move(page.rows), audit)}};
    if (page.next_cursor) body["next_cursor"] = *page.next_cursor;
    return Reply{200, body, std::nullopt};
  });
}

Result<Reply> CaseService::overdue_by_case_manager(const Context& ctx) {
  // Every overdue task in one snapshot: a report that stops at a page size misleads.
  auto overdue = tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    json tasks = due_tasks(ctx, tx_.env().today(), std::nullopt).run(db, kDueOrder);
    return Reply{200, audited_tasks(std::move(tasks), audit), std::nullopt};
  });
  if (!overdue) return overdue;
  const json& tasks = overdue.value().body;
  json groups = json::object();
  for (const auto& task : tasks) {
    auto key = task["assignee"].get<std::string>();
    if (!groups.contains(key)) {
      groups[key] = {{"case_manager", {{"id", task["assignee_id"]}, {"name", key}}},
                     {"tasks", json::array()}};
    }
    groups[key]["tasks"].push_back(task);
  }
  json items = json::array();
  for (auto& [name, group] : groups.items()) {
    group["count"] = group["tasks"].size();
    items.push_back(group);
  }
  return Reply{200, {{"items", items}}, std::nullopt};
}

}  // namespace kim::cases
