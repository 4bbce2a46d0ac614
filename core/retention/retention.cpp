#include "retention/retention.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

#include <sqlite3.h>

#include "cases/records.hpp"
#include "domain/prelude.hpp"
#include "domain/route_support.hpp"

namespace kim::retention {

using namespace domain::prelude;

namespace {

constexpr std::size_t kReasonMax = 2000;
constexpr int kChunk = 200;  // objects per write transaction, so the writer is never held long

// No active legal hold on the case (alias `c`) or on its person.
const char* const kCaseNotHeld =
    "NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND "
    "((h.object_type = 'case' AND h.object_id = c.id) OR "
    "(h.object_type = 'person' AND h.person_id = c.person_id)))";
// No active legal hold of any kind on the person (alias `p`) or one of its cases.
const char* const kPersonNotHeld =
    "NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND "
    "h.person_id = p.id)";

std::string days_before(Connection& db, const std::string& today, int days) {
  return db.query("SELECT date(?, ?) AS d", {today, "-" + std::to_string(days) + " days"})
      .at(0)["d"];
}

// The case-level free texts of `case_id`; audited "anonymise" per object.
void anonymise_case(Change& change, const std::string& case_id) {
  Connection& db = change.db;
  const std::string now = change.env.timestamp();
  db.execute("UPDATE cases SET closure_note = NULL, anonymised_at = ? WHERE id = ?",
             {now, case_id});
  db.execute("UPDATE case_transitions SET note = NULL WHERE case_id = ?", {case_id});
  db.execute(
      "UPDATE assessment_domains SET summary = '' WHERE assessment_id IN "
      "(SELECT id FROM assessments WHERE case_id = ?)",
      {case_id});
  db.execute("UPDATE goals SET description = '' WHERE case_id = ?", {case_id});
  db.execute("UPDATE tasks SET description = '' WHERE case_id = ?", {case_id});
  db.execute("UPDATE notes SET text = '', event = json_remove(event, '$.detail') WHERE case_id = ?",
             {case_id});
  // A challenge raised from the case stays (it holds no personal data) without its reference.
  db.execute("UPDATE challenges SET case_id = NULL WHERE case_id = ?", {case_id});
  for (const auto& row : db.query(
           "SELECT id FROM referrals WHERE case_id = ? AND anonymised_at IS NULL", {case_id})) {
    change.audit("anonymise", "referral", row["id"], case_id);
  }
  db.execute(
      "UPDATE referrals SET message = NULL, payload = NULL, outcome = NULL, anonymised_at = "
      "coalesce(anonymised_at, ?) WHERE case_id = ?",
      {now, case_id});
  db.execute(
      "UPDATE referral_history SET outcome = NULL, reason = NULL WHERE referral_id IN "
      "(SELECT id FROM referrals WHERE case_id = ?)",
      {case_id});
  for (const auto& row :
       db.query("SELECT id FROM outbox WHERE case_id = ? AND anonymised_at IS NULL", {case_id})) {
    change.audit("anonymise", "outbox_message", row["id"], case_id);
  }
  // A message still waiting for a case this old (or erased) is set aside, never sent.
  db.execute(
      "UPDATE outbox SET state = 'discarded', discarded_at = ?, discard_reason = 'retention' "
      "WHERE case_id = ? AND state = 'pending'",
      {now, case_id});
  db.execute(
      "UPDATE outbox SET payload = '{}', discard_reason = CASE WHEN discard_reason IS NULL THEN "
      "NULL ELSE 'retention' END, anonymised_at = coalesce(anonymised_at, ?) WHERE case_id = ? "
      "AND state <> 'in_flight'",
      {now, case_id});
  // One being sent right now keeps its payload until it settles; the outbox period clears it.
  change.audit("anonymise", "case", case_id, case_id);
}

// The person's own fields: names, birth date (its year is kept), contact, nationalities,
// languages, household; justifications of links and funding overrides; its consents' documents.
void anonymise_person(Change& change, const std::string& person_id) {
  Connection& db = change.db;
  const std::string now = change.env.timestamp();
  db.execute(
      "UPDATE persons SET given_names = '', family_name = '', name_key = '', "
      "date_of_birth = substr(date_of_birth, 1, 4), nationalities = '[]', languages = '[]', "
      "household = '[]', contact = '{}', anonymised_at = ? WHERE id = ?",
      {now, person_id});
  db.execute("UPDATE person_links SET justification = '' WHERE person_id = ?", {person_id});
  db.execute("UPDATE funding_overrides SET justification = '' WHERE person_id = ?", {person_id});
  for (const auto& row : db.query(
           "SELECT id FROM consents WHERE person_id = ? AND anonymised_at IS NULL", {person_id})) {
    change.audit("anonymise", "consent", row["id"]);
  }
  db.execute(
      "UPDATE consents SET document_reference = NULL, revoke_reason = NULL, anonymised_at = "
      "coalesce(anonymised_at, ?) WHERE person_id = ?",
      {now, person_id});
  change.audit("anonymise", "person", person_id);
}

json hold_json(const json& row) {
  return {{"id", row["id"]},
          {"object_type", row["object_type"]},
          {"object_id", row["object_id"]},
          {"person_id", row["person_id"]},
          {"reason", row["reason"]},
          {"placed_at", row["placed_at"]},
          {"released_at", row["released_at"]},
          {"release_reason", row["release_reason"]}};
}

json request_json(const json& row) {
  return {{"id", row["id"]},
          {"person_id", row["person_id"]},
          {"received_on", row["received_on"]},
          {"requested_at", row["requested_at"]},
          {"status", row["status"]},
          {"decided_at", row["decided_at"]},
          {"decision_reason", row["decision_reason"]}};
}

bool held(Connection& db, const std::string& person_id) {
  return !db.query("SELECT 1 FROM legal_holds WHERE person_id = ? AND released_at IS NULL",
                   {person_id})
              .empty();
}

// The person as the caller may see it (404 otherwise). Admins see every person by id, restricted
// ones too: they decide erasure requests and place and release holds, and read nothing else of
// the person here.
json checked_person(Connection& db, const Context& ctx, const std::string& person_id) {
  if (ctx.actor.principal.role == "admin") {
    auto rows = db.query("SELECT * FROM persons WHERE id = ?", {person_id});
    if (rows.empty()) fail(Problem::not_found("person " + person_id));
    return rows[0];
  }
  return cases::load_person(db, ctx, person_id);
}

}  // namespace

bool checkpoint(const std::filesystem::path& database) {
  // A connection of its own: the store's writer is always inside its transaction, where a
  // checkpoint cannot run. It waits for the writer's lock like any other connection.
  auto db = Connection::open(database, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
  sqlite3_busy_timeout(db.raw(), 10000);
  const auto result = db.query("PRAGMA wal_checkpoint(TRUNCATE)");
  return result.empty() || result[0].value("busy", 0) == 0;
}

json RunReport::to_json() const {
  return {{"cases", cases},
          {"persons", persons},
          {"referrals", referrals},
          {"consents", consents},
          {"outbox", outbox},
          {"audit_items_pruned", audit_items_pruned},
          {"checkpointed", checkpointed},
          {"waiting_for_plugins", waiting_for_plugins}};
}

RetentionService::RetentionService(store::Store& store, events::EventBus& events, domain::Env& env,
                                   config::RetentionConfig config,
                                   const PersonalDataRegistry& personal_data,
                                   AbsentPlugins absent_plugins)
    : store_(store),
      tx_(store, events, env),
      env_(env),
      events_(events),
      config_(config),
      personal_data_(personal_data),
      absent_plugins_(std::move(absent_plugins)) {}

Context RetentionService::system_context() {
  return Context{audit::Actor{sdk::Principal{0, "retention", "system", 0, ""},
                              "retention-" + env_.new_id("run").substr(4, 16)},
                 std::nullopt};
}

std::int64_t RetentionService::anonymise_due_cases(const Context& ctx, const std::string& cutoff,
                                                   const std::string& caseless_cutoff,
                                                   RunReport& report) {
  // Closed cases past their period, then the persons all of whose cases are anonymised.
  for (;;) {
    const auto done = store_.write([&](Connection& db) {
      Change change(db, ctx, env_, events_);
      auto rows =
          db.query(std::string("SELECT c.id, c.person_id FROM cases c WHERE c.phase = 'closed' AND "
                               "c.anonymised_at IS NULL AND c.closed_on <= ? AND ") +
                       kCaseNotHeld + " LIMIT " + std::to_string(kChunk),
                   {cutoff});
      sdk::PersonalDataRequest request{"anonymise", "", {}};
      for (const auto& row : rows) {
        anonymise_case(change, row["id"]);
        request.case_ids.push_back(row["id"]);
      }
      if (!rows.empty()) personal_data_.apply(db, request);
      report.cases += static_cast<std::int64_t>(rows.size());
      // Persons all of whose cases are anonymised, and persons recorded without ever getting a
      // case before `caseless_cutoff` (timestamps compare with the date as text).
      auto persons = db.query(
          std::string("SELECT p.id FROM persons p WHERE p.anonymised_at IS NULL AND CASE WHEN "
                      "EXISTS (SELECT 1 FROM cases c WHERE c.person_id = p.id) THEN NOT EXISTS "
                      "(SELECT 1 FROM cases c WHERE c.person_id = p.id AND c.anonymised_at IS "
                      "NULL) ELSE p.created_at < ? END AND ") +
              kPersonNotHeld + " LIMIT " + std::to_string(kChunk),
          {caseless_cutoff});
      for (const auto& row : persons) {
        anonymise_person(change, row["id"]);
        personal_data_.apply(db, {"anonymise", row["id"], {}});
      }
      report.persons += static_cast<std::int64_t>(persons.size());
      return rows.size() < kChunk && persons.size() < kChunk;
    });
    if (done) return report.cases;
  }
}

RunReport RetentionService::run() {
  RunReport report;
  const Context ctx = system_context();
  const std::string today = env_.today();
  // A date column compares "<= the day `days` ago"; a timestamp column "< the day after it",
  // so every period ends on the same day whatever the column holds.
  auto cutoffs = store_.read([&](Connection& db) {
    return std::vector<std::string>{days_before(db, today, config_.closed_cases_days),
                                    days_before(db, today, config_.ended_referrals_days - 1),
                                    days_before(db, today, config_.revoked_consents_days - 1),
                                    days_before(db, today, config_.outbox_days - 1),
                                    days_before(db, today, config_.audit_days - 1),
                                    days_before(db, today, config_.persons_without_case_days - 1)};
  });
  report.waiting_for_plugins = absent_plugins_();
  if (report.waiting_for_plugins.empty()) anonymise_due_cases(ctx, cutoffs[0], cutoffs[5], report);
  // Timestamps compare with dates as text: "2020-01-01T…" < "2020-01-02" for every time of day.
  store_.write([&](Connection& db) {
    Change change(db, ctx, env_, events_);
    const std::string now = env_.timestamp();
    for (const auto& row :
         db.query(std::string("SELECT r.id, r.case_id FROM referrals r JOIN cases c ON c.id = "
                              "r.case_id WHERE r.status IN ('declined', 'cancelled') AND "
                              "r.anonymised_at IS NULL AND r.status_changed_at < ? AND ") +
                      kCaseNotHeld,
                  {cutoffs[1]})) {
      db.execute(
          "UPDATE referrals SET message = NULL, payload = NULL, outcome = NULL, anonymised_at = ? "
          "WHERE id = ?",
          {now, row["id"].get<std::string>()});
      db.execute("UPDATE referral_history SET outcome = NULL, reason = NULL WHERE referral_id = ?",
                 {row["id"].get<std::string>()});
      db.execute(
          "UPDATE outbox SET payload = '{}', anonymised_at = ? WHERE subject_id = ? AND state IN "
          "('delivered', 'dead', 'discarded')",
          {now, row["id"].get<std::string>()});
      change.audit("anonymise", "referral", row["id"], row["case_id"]);
      ++report.referrals;
    }
    for (const auto& row :
         db.query(std::string("SELECT id FROM consents p2 WHERE revoked_at IS NOT NULL AND "
                              "revoked_at < ? AND anonymised_at IS NULL AND NOT EXISTS (SELECT 1 "
                              "FROM legal_holds h WHERE h.released_at IS NULL AND h.person_id = "
                              "p2.person_id)"),
                  {cutoffs[2]})) {
      db.execute(
          "UPDATE consents SET document_reference = NULL, revoke_reason = NULL, anonymised_at = ? "
          "WHERE id = ?",
          {now, row["id"].get<std::string>()});
      change.audit("anonymise", "consent", row["id"]);
      ++report.consents;
    }
    for (const auto& row : db.query(
             std::string("SELECT o.id, o.case_id FROM outbox o JOIN cases c ON c.id = o.case_id "
                         "WHERE o.anonymised_at IS NULL AND o.state IN ('delivered', 'dead', "
                         "'discarded') AND coalesce(o.delivered_at, o.dead_at, o.discarded_at) < ? "
                         "AND ") +
                 kCaseNotHeld,
             {cutoffs[3]})) {
      db.execute("UPDATE outbox SET payload = '{}', anonymised_at = ? WHERE id = ?",
                 {now, row["id"].get<std::string>()});
      change.audit("anonymise", "outbox_message", row["id"], row["case_id"]);
      ++report.outbox;
    }
    report.audit_items_pruned = prune_audit(db, cutoffs[4], now);
    // Ended console sessions and used or expired invites say nothing any more (unix seconds).
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(env_.now().time_since_epoch()).count();
    db.execute("DELETE FROM sessions WHERE expires_at <= ?", {seconds});
    db.execute("DELETE FROM user_invites WHERE used_at IS NOT NULL OR expires_at <= ?", {seconds});
  });
  // Old versions of the changed pages are in the WAL until a checkpoint copies the new ones
  // back; TRUNCATE then empties the WAL file.
  report.checkpointed = checkpoint(store_.path());
  return report;
}

std::int64_t prune_audit(Connection& db, const std::string& cutoff, const std::string& now) {
  auto range = db.query(
      "SELECT min(i.id) AS first, max(i.id) AS last, count(*) AS items FROM audit_items i JOIN "
      "audit_batches b ON b.id = i.batch_id WHERE b.at < ? AND i.id < (SELECT max(id) FROM "
      "audit_items)",
      {cutoff});
  const std::int64_t items = range.at(0)["items"];
  const std::int64_t v1 =
      db.query("SELECT count(*) AS n FROM audit_log_v1 WHERE at < ?", {cutoff}).at(0)["n"];
  if (items == 0 && v1 == 0) return 0;
  db.execute("INSERT INTO audit_prune_permit(token) VALUES (1)");
  db.execute(
      "DELETE FROM audit_items WHERE id < (SELECT max(id) FROM audit_items) AND batch_id IN "
      "(SELECT id FROM audit_batches WHERE at < ?)",
      {cutoff});
  const auto batches = db.execute(
      "DELETE FROM audit_batches WHERE at < ? AND NOT EXISTS (SELECT 1 FROM audit_items i WHERE "
      "i.batch_id = audit_batches.id)",
      {cutoff});
  db.execute("DELETE FROM audit_log_v1 WHERE at < ?", {cutoff});
  const auto objects = db.execute(
      "DELETE FROM audit_objects WHERE NOT EXISTS (SELECT 1 FROM audit_items i WHERE "
      "i.object_ref = audit_objects.id)");
  db.execute("DELETE FROM audit_prune_permit");
  db.execute(
      "INSERT INTO audit_prunes(pruned_at, cutoff, first_item, last_item, items, batches, "
      "objects, v1_rows) VALUES (?,?,?,?,?,?,?,?)",
      {now, cutoff,
       range[0]["first"].is_null() ? SqlValue(nullptr)
                                   : SqlValue(range[0]["first"].get<std::int64_t>()),
       range[0]["last"].is_null() ? SqlValue(nullptr)
                                  : SqlValue(range[0]["last"].get<std::int64_t>()),
       items, batches.changes, objects.changes, v1});
  return items;
}

RetentionService::Result RetentionService::request_erasure(const Context& ctx,
                                                           const std::string& person_id,
                                                           const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
    const json person = checked_person(db, ctx, person_id);
    // A case manager asks for persons of their own organisation only.
    if (ctx.actor.principal.role == "case_manager" &&
        person["organisation_id"].get<std::int64_t>() != ctx.actor.principal.organisation_id) {
      fail(Problem::not_found("person " + person_id));
    }
    if (!person["anonymised_at"].is_null()) fail(cases::anonymised_problem("person"));
    FieldReader in(body);
    auto received = in.date("received_on");
    in.finish();
    check(in);
    if (*received > change.env.today()) {
      fail(Problem::bad_request("received_on", "is in the future"));
    }
    if (!db.query("SELECT 1 FROM erasure_requests WHERE person_id = ? AND status = 'pending'",
                  {person_id})
             .empty()) {
      fail(Problem::conflict("request_pending", "an erasure request for the person is pending"));
    }
    const std::string id = change.env.new_id("erasure");
    db.execute(
        "INSERT INTO erasure_requests(id, person_id, organisation_id, received_on, requested_by, "
        "requested_at) VALUES (?,?,?,?,?,?)",
        {id, person_id, person["organisation_id"].get<std::int64_t>(), *received,
         ctx.actor.principal.user_id, change.env.timestamp()});
    change.audit("create", "erasure_request", id);
    return Reply{201,
                 request_json(db.query("SELECT * FROM erasure_requests WHERE id = ?", {id})[0]),
                 std::nullopt};
  });
}

RetentionService::Result RetentionService::decide_erasure(const Context& ctx,
                                                          const std::string& request_id,
                                                          const json& body) {
  auto result = tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
    auto rows = db.query("SELECT * FROM erasure_requests WHERE id = ?", {request_id});
    if (rows.empty()) fail(Problem::not_found("erasure request " + request_id));
    const std::string person_id = rows[0]["person_id"];
    checked_person(db, ctx, person_id);  // 404 for a coordinator who may not read the person
    FieldReader in(body);
    static const domain::Vocabulary kDecisions{"erase", "restrict", "reject"};
    auto decision = in.choice("decision", kDecisions);
    auto reason = in.text("reason", kReasonMax);
    in.finish();
    check(in);
    if (rows[0]["status"] != "pending") {
      fail(Problem::conflict("already_decided", "the request was decided already"));
    }
    const std::string now = change.env.timestamp();
    std::string status = "rejected";
    // Neither erased nor restricted (then nobody could close it) while a case is open.
    if (*decision != "reject" &&
        !db.query("SELECT 1 FROM cases WHERE person_id = ? AND phase <> 'closed'", {person_id})
             .empty()) {
      fail(Problem::conflict("case_open",
                             "close the person's cases before erasing or "
                             "restricting it"));
    }
    if (*decision == "erase") {
      if (const auto absent = absent_plugins_(); !absent.empty()) {
        fail(Problem{503,
                     "personal_data_unavailable",
                     "erasure waits until the enabled plugin(s) holding personal data run: " +
                         nlohmann::json(absent).dump(),
                     {},
                     nullptr});
      }
      if (held(db, person_id)) {
        fail(Problem::conflict("legal_hold",
                               "a legal hold on the person or one of its cases stops erasure"));
      }
      sdk::PersonalDataRequest request{"erase", person_id, {}};
      for (const auto& row : db.query(
               "SELECT id FROM cases WHERE person_id = ? AND anonymised_at IS NULL", {person_id})) {
        anonymise_case(change, row["id"]);
        request.case_ids.push_back(row["id"]);
      }
      anonymise_person(change, person_id);
      personal_data_.apply(db, request);
      status = "erased";
    } else if (*decision == "restrict") {
      db.execute("UPDATE persons SET restricted_at = ? WHERE id = ?", {now, person_id});
      // Processing stops: nothing waiting for a partner leaves any more.
      db.execute(
          "UPDATE outbox SET state = 'discarded', discarded_at = ?, discard_reason = 'restricted' "
          "WHERE state = 'pending' AND case_id IN (SELECT id FROM cases WHERE person_id = ?)",
          {now, person_id});
      change.audit("restrict", "person", person_id);
      status = "restricted";
    }
    db.execute(
        "UPDATE erasure_requests SET status = ?, decided_by = ?, decided_at = ?, decision_reason "
        "= ? WHERE id = ?",
        {status, ctx.actor.principal.user_id, now, reason, request_id});
    change.audit(*decision, "erasure_request", request_id);
    return Reply{
        200, request_json(db.query("SELECT * FROM erasure_requests WHERE id = ?", {request_id})[0]),
        std::nullopt};
  });
  // Erased now, not at the job's next run: old versions of the changed pages leave the WAL.
  if (result && result.value().body["status"] == "erased") checkpoint(store_.path());
  return result;
}

RetentionService::Result RetentionService::list_erasure_requests(const Context& ctx,
                                                                 const sdk::HttpRequest& request) {
  if (auto problem = domain::unknown_parameter(request, {"status"})) return *problem;
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audited) {
    std::string sql = "SELECT * FROM erasure_requests r WHERE 1";
    std::vector<SqlValue> params;
    if (auto it = request.query.find("status"); it != request.query.end()) {
      static const domain::Vocabulary kStatuses{"pending", "erased", "restricted", "rejected"};
      if (!domain::contains(kStatuses, it->second)) {
        fail(Problem::bad_request("status", "must be pending, erased, restricted or rejected"));
      }
      sql += " AND r.status = ?";
      params.emplace_back(it->second);
    }
    const auto& principal = ctx.actor.principal;
    if (principal.role == "coordinator") {
      // Only requests for persons the coordinator may read.
      sql +=
          " AND EXISTS (SELECT 1 FROM persons p JOIN organisations po ON po.id = "
          "p.organisation_id WHERE p.id = r.person_id AND " +
          cases::readable_person_condition(principal, params) + ")";
    }
    // Pending ones first: they have a deadline (Art. 12(3)), decided ones are history.
    sql += " ORDER BY r.status <> 'pending', r.requested_at LIMIT 500";
    json items = json::array();
    for (const auto& row : db.query(sql, params)) {
      items.push_back(request_json(row));
      audited.push_back({"read", "erasure_request", row["id"], ""});
    }
    return Reply{200, {{"items", items}}, std::nullopt};
  });
}

RetentionService::Result RetentionService::place_hold(const Context& ctx,
                                                      const std::string& object_type,
                                                      const std::string& object_id,
                                                      const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
    std::string person_id = object_id;
    if (object_type == "case") {
      if (ctx.actor.principal.role == "admin") {
        auto rows = db.query("SELECT person_id FROM cases WHERE id = ?", {object_id});
        if (rows.empty()) fail(Problem::not_found("case " + object_id));
        person_id = rows[0]["person_id"];
      } else {
        person_id = cases::load_case(db, ctx, object_id, cases::Access::kRead).person_id;
      }
    } else {
      checked_person(db, ctx, object_id);
    }
    FieldReader in(body);
    auto reason = in.text("reason", kReasonMax);
    in.finish();
    check(in);
    const std::string id = change.env.new_id("hold");
    db.execute(
        "INSERT INTO legal_holds(id, object_type, object_id, person_id, reason, placed_by, "
        "placed_at) VALUES (?,?,?,?,?,?,?)",
        {id, object_type, object_id, person_id, reason, ctx.actor.principal.user_id,
         change.env.timestamp()});
    change.audit("place", "legal_hold", id, object_type == "case" ? object_id : "");
    return Reply{201, hold_json(db.query("SELECT * FROM legal_holds WHERE id = ?", {id})[0]),
                 std::nullopt};
  });
}

RetentionService::Result RetentionService::release_hold(const Context& ctx,
                                                        const std::string& hold_id,
                                                        const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
    auto rows = db.query("SELECT * FROM legal_holds WHERE id = ?", {hold_id});
    if (rows.empty()) fail(Problem::not_found("legal hold " + hold_id));
    if (rows[0]["object_type"] == "case" && ctx.actor.principal.role != "admin") {
      cases::load_case(db, ctx, rows[0]["object_id"], cases::Access::kRead);
    } else {
      checked_person(db, ctx, rows[0]["person_id"]);
    }
    FieldReader in(body);
    auto reason = in.text("reason", kReasonMax);
    in.finish();
    check(in);
    if (!rows[0]["released_at"].is_null()) {
      fail(Problem::conflict("already_released", "the legal hold was released already"));
    }
    db.execute(
        "UPDATE legal_holds SET released_by = ?, released_at = ?, release_reason = ? WHERE id = ?",
        {ctx.actor.principal.user_id, change.env.timestamp(), reason, hold_id});
    change.audit("release", "legal_hold", hold_id);
    return Reply{200, hold_json(db.query("SELECT * FROM legal_holds WHERE id = ?", {hold_id})[0]),
                 std::nullopt};
  });
}

RetentionService::Result RetentionService::restricted_persons(const Context& ctx) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audited) {
    json items = json::array();
    for (const auto& row :
         db.query("SELECT p.id, p.given_names, p.family_name, p.date_of_birth, p.town, "
                  "p.restricted_at, po.slug AS organisation FROM persons p JOIN organisations po "
                  "ON po.id = p.organisation_id WHERE p.restricted_at IS NOT NULL ORDER BY "
                  "p.restricted_at LIMIT 500")) {
      json person = row;
      person["cases"] = json::array();
      for (const auto& c :
           db.query("SELECT id, phase, opened_on, closed_on FROM cases WHERE person_id = ?",
                    {row["id"].get<std::string>()})) {
        person["cases"].push_back(c);
      }
      person["erasure_requests"] = json::array();
      for (const auto& r : db.query("SELECT * FROM erasure_requests WHERE person_id = ?",
                                    {row["id"].get<std::string>()})) {
        person["erasure_requests"].push_back(request_json(r));
      }
      audited.push_back({"read", "person", row["id"], ""});
      items.push_back(std::move(person));
    }
    return Reply{200, {{"items", items}}, std::nullopt};
  });
}

void register_routes(http::Router& router, http::ApiDocs& docs, RetentionService& service) {
  using domain::Call;
  using sdk::HttpMethod;
  static const std::vector<domain::Route<RetentionService>> routes = {
      {HttpMethod::kPost,
       "/api/v1/persons/{id}/erasure-requests",
       {"case_manager", "coordinator"},
       [](RetentionService& s, const Call& c) {
         return s.request_erasure(c.ctx, c.param("id"), c.body);
       },
       "Record a participant's request for erasure (GDPR Art. 17); a coordinator or admin decides",
       "retention",
       {{"received_on", "2026-11-30"}}},
      {HttpMethod::kPost,
       "/api/v1/erasure-requests/{id}/decision",
       {"coordinator", "admin"},
       [](RetentionService& s, const Call& c) {
         return s.decide_erasure(c.ctx, c.param("id"), c.body);
       },
       "Decide an erasure request: erase (anonymise now), restrict processing where a retention "
       "duty applies (hidden from all but the auditor) or reject; the reason is recorded",
       "retention",
       {{"decision", "restrict"}, {"reason", "Retention duty of § 50 SGB X until 2030"}}},
      {HttpMethod::kGet,
       "/api/v1/erasure-requests",
       {"coordinator", "admin", "auditor"},
       [](RetentionService& s, const Call& c) { return s.list_erasure_requests(c.ctx, c.request); },
       "Erasure requests (?status=pending|erased|restricted|rejected)",
       "retention"},
      {HttpMethod::kPost,
       "/api/v1/persons/{id}/legal-holds",
       {"coordinator", "admin"},
       [](RetentionService& s, const Call& c) {
         return s.place_hold(c.ctx, "person", c.param("id"), c.body);
       },
       "Place a legal hold on a person: no anonymisation or erasure until released",
       "retention",
       {{"reason", "Court proceedings 3 K 123/26"}}},
      {HttpMethod::kPost,
       "/api/v1/cases/{id}/legal-holds",
       {"coordinator", "admin"},
       [](RetentionService& s, const Call& c) {
         return s.place_hold(c.ctx, "case", c.param("id"), c.body);
       },
       "Place a legal hold on a case (and so its person): no anonymisation or erasure",
       "retention",
       {{"reason", "Court proceedings 3 K 123/26"}}},
      {HttpMethod::kPost,
       "/api/v1/legal-holds/{id}/release",
       {"coordinator", "admin"},
       [](RetentionService& s, const Call& c) {
         return s.release_hold(c.ctx, c.param("id"), c.body);
       },
       "Release a legal hold",
       "retention",
       {{"reason", "Proceedings closed"}}},
      {HttpMethod::kGet,
       "/api/v1/restricted-persons",
       {"auditor"},
       [](RetentionService& s, const Call& c) { return s.restricted_persons(c.ctx); },
       "Persons whose processing is restricted, with their cases and erasure requests (auditor)",
       "retention"},
  };
  domain::add_routes(router, docs, service, routes);
}

void backup(const std::filesystem::path& database, const std::filesystem::path& out) {
  if (std::filesystem::exists(out)) {
    throw std::invalid_argument(out.string() + " exists already; a backup never overwrites");
  }
  // Read-only: a running kim serve may keep writing; VACUUM INTO reads one snapshot.
  auto db = Connection::open(database, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  sqlite3_busy_timeout(db.raw(), 5000);
  // Created empty with mode 0600 first, so the copy is never readable by others.
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + out.string());
  ::close(fd);
  try {
    db.execute("VACUUM INTO ?", {out.string()});
  } catch (...) {
    std::filesystem::remove(out);  // else every retry would be refused as "exists already"
    throw;
  }
  const int sync_fd = ::open(out.c_str(), O_RDONLY);
  if (sync_fd >= 0) {
    ::fsync(sync_fd);
    ::close(sync_fd);
  }
}

}  // namespace kim::retention
