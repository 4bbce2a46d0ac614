#include "cases/service.hpp"

#include <algorithm>
#include <random>
#include <sstream>

#include "cases/policy.hpp"
#include "cases/records.hpp"
#include "domain/catalog.hpp"
#include "domain/validation.hpp"

namespace kim::cases {

using domain::check;
using domain::fail;
using domain::FieldReader;
using domain::make_event;
using domain::new_id;
using domain::Problem;
using domain::ProblemError;
using domain::Result;
using domain::run_hooks;
using nlohmann::json;
using store::Connection;
using store::SqlValue;

namespace {

constexpr std::size_t kNameMax = 100;
constexpr std::size_t kTextMax = 10000;
constexpr std::size_t kSummaryMax = 2000;

std::vector<std::string> allowed_transitions(const std::string& phase) {
  if (phase == "closed") return {"assessment"};  // reopen
  auto next = domain::next_phases(phase);
  next.push_back("closed");
  return next;
}

json person_json(const json& row) {
  json person = {{"id", row["id"]},
                 {"given_names", row["given_names"]},
                 {"family_name", row["family_name"]},
                 {"date_of_birth", row["date_of_birth"]},
                 {"gender", row["gender"]},
                 {"nationalities", domain::json_column(row["nationalities"])},
                 {"languages", domain::json_column(row["languages"])},
                 {"town", row["town"]},
                 {"residence_status", row["residence_status"]},
                 {"arrival_date", row["arrival_date"]},
                 {"household", domain::json_column(row["household"])},
                 {"contact", json::parse(row["contact"].get<std::string>())},
                 {"organisation", row["organisation"]},
                 {"created_at", row["created_at"]}};
  return person;
}

const char* const kGoalSelect =
    "SELECT id, life_domain, description, due_date, status, created_at, updated_at FROM goals ";
const char* const kTaskSelect =
    "SELECT id, goal_id, description, due_date, assignee_id, done_on FROM tasks ";

const char* const kCaseSelect =
    "SELECT c.rowid AS seq, c.id, c.person_id, p.given_names, p.family_name, c.town, "
    "o.slug AS organisation, c.case_manager_id, u.name AS case_manager, c.phase, c.opened_on, "
    "c.closed_on, c.closure_reason, c.closure_note, c.funding_override, c.version, c.created_at, "
    "c.updated_at FROM cases c JOIN organisations o ON o.id = c.organisation_id "
    "JOIN persons p ON p.id = c.person_id JOIN users u ON u.id = c.case_manager_id ";

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
  auto rows = db.query(std::string(kCaseSelect) + "WHERE c.id = ?", {case_id});
  return case_json(rows.at(0));
}

// Persons the principal may read: recorded by their organisation (or one it supervises), or
// the person of a case they may read.
std::string readable_person_condition(const sdk::Principal& principal,
                                      std::vector<SqlValue>& params) {
  auto filter = readable_cases(principal);
  std::string sql = "(";
  if (principal.organisation_id != 0 &&
      (principal.role == "case_manager" || principal.role == "coordinator")) {
    sql += "p.organisation_id = ? OR ";
    params.emplace_back(principal.organisation_id);
    if (principal.role == "coordinator") {
      sql += "po.supervisor_id = ? OR ";
      params.emplace_back(principal.organisation_id);
    }
  }
  sql +=
      "EXISTS (SELECT 1 FROM cases c JOIN organisations o ON o.id = c.organisation_id "
      "WHERE c.person_id = p.id AND " +
      filter.sql + "))";
  params.insert(params.end(), filter.params.begin(), filter.params.end());
  return sql;
}

SqlValue check_admission(Connection& db, const std::string& person_id,
                         const std::string& ignore_case_id) {
  auto open = db.query(
      "SELECT c.id, o.name AS organisation FROM cases c JOIN organisations o ON "
      "o.id = c.organisation_id WHERE c.person_id = ? AND c.phase <> 'closed' AND c.id <> ?",
      {person_id, ignore_case_id});
  if (!open.empty()) {
    fail(Problem::conflict("case_already_open", "this person already has an open KIM case at " +
                                                    open[0]["organisation"].get<std::string>()));
  }

  // No double funding: an active participation in an excluding programme blocks the case
  // unless a coordinator granted an override that no case has used yet.
  auto excluding = db.query(
      "SELECT programme, started_on FROM programme_participations WHERE person_id = ? AND "
      "programme = 'gemeinsam_klappts' AND started_on <= ? AND (ended_on IS NULL OR ended_on "
      ">= ?)",
      {person_id, domain::today(), domain::today()});
  SqlValue override_id = nullptr;
  if (!excluding.empty()) {
    auto granted = db.query(
        "SELECT id FROM funding_overrides WHERE person_id = ? AND used_by_case IS NULL ORDER BY "
        "granted_at LIMIT 1",
        {person_id});
    if (granted.empty()) {
      fail(Problem{422,
                   "double_funding",
                   "the person takes part in " + excluding[0]["programme"].get<std::string>() +
                       " since " + excluding[0]["started_on"].get<std::string>() +
                       "; a KIM case would fund the same support twice. A coordinator may "
                       "grant an override with a justification "
                       "(POST /api/v1/persons/" +
                       person_id + "/funding-overrides)",
                   {},
                   json{{"programme", excluding[0]["programme"]}}});
    }
    override_id = granted[0]["id"].get<std::string>();
  }

  return override_id;
}

}  // namespace

namespace {

// What the policy needs of a case `c` and its organisation `o`.
const char* const kOwnershipColumns =
    "c.organisation_id, c.case_manager_id, coalesce(o.supervisor_id, 0) AS supervisor_id, "
    "o.team_access";

CaseOwnership ownership_of(const json& row) {
  return {row["organisation_id"], row["case_manager_id"], row["supervisor_id"],
          row["team_access"].get<int>() == 1};
}

}  // namespace

CaseRow load_case(Connection& db, const Context& ctx, const std::string& case_id, Access needed) {
  auto rows =
      db.query(std::string("SELECT c.id, c.person_id, c.phase, c.version, ") + kOwnershipColumns +
                   " FROM cases c JOIN organisations o ON o.id = c.organisation_id "
                   "WHERE c.id = ?",
               {case_id});
  if (rows.empty()) fail(Problem::not_found("case " + case_id));
  const auto& row = rows.front();
  CaseRow result{row["id"], row["person_id"], row["phase"], row["version"], ownership_of(row)};
  Access access = case_access(ctx.actor.principal, result.ownership);
  if (access == Access::kNone) fail(Problem::not_found("case " + case_id));
  if (needed == Access::kWrite && access != Access::kWrite) {
    fail(Problem::forbidden("only the case's case manager changes a case; coordinators read"));
  }
  return result;
}

// Optimistic concurrency: a write that names a version must name the current one.
void check_version(const Context& ctx, const CaseRow& row) {
  if (ctx.if_match && *ctx.if_match != row.version) {
    fail(Problem{412,
                 "precondition_failed",
                 "the case changed since version " + std::to_string(*ctx.if_match) + " (now " +
                     std::to_string(row.version) + "); reload it and try again",
                 {},
                 json{{"current_version", row.version}}});
  }
}

std::int64_t bump_version(Connection& db, const std::string& case_id) {
  db.execute("UPDATE cases SET version = version + 1, updated_at = ? WHERE id = ?",
             {domain::now_timestamp(), case_id});
  return db.query("SELECT version FROM cases WHERE id = ?", {case_id})[0]["version"];
}

void require_open(const CaseRow& row, const char* what) {
  if (row.phase == "closed") {
    fail(Problem::conflict("case_closed",
                           std::string(what) + " needs an open case; reopen it first"));
  }
}

json load_person(Connection& db, const Context& ctx, const std::string& person_id) {
  std::vector<SqlValue> params{person_id};
  std::string sql =
      "SELECT p.*, po.slug AS organisation FROM persons p "
      "JOIN organisations po ON po.id = p.organisation_id WHERE p.id = ? AND " +
      readable_person_condition(ctx.actor.principal, params);
  auto rows = db.query(sql, params);
  if (rows.empty()) fail(Problem::not_found("person " + person_id));
  return rows.front();
}

// A person may have one open KIM case, and none while in a programme that excludes it (no double
// funding) unless a coordinator granted an override no case has used yet. Returns that override's
// id (or null). `ignore_case_id` is the case being reopened.
void require_case_manager(const Context& ctx) {
  if (ctx.actor.principal.role != "case_manager" || ctx.actor.principal.organisation_id == 0) {
    fail(Problem::forbidden("only case managers do this"));
  }
}

std::string add_timeline_note(Connection& db, const std::string& case_id,
                              const std::string& occurred_on, const std::string& kind,
                              const std::string& text, std::int64_t author_id) {
  const std::string id = new_id("note");
  db.execute(
      "INSERT INTO notes(id, case_id, occurred_on, kind, text, author_id, created_at) VALUES "
      "(?,?,?,?,?,?,?)",
      {id, case_id, occurred_on, kind, text, author_id, domain::now_timestamp()});
  return id;
}

Result<Reply> CaseService::list_part(const Context& ctx, const std::string& case_id,
                                     const char* object_type, const std::string& sql) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    auto row = load_case(db, ctx, case_id, Access::kRead);
    auto items = db.query(sql, {case_id});
    audit.push_back({"list", object_type, case_id, case_id});
    return Reply{200, {{"items", items}}, row.version};
  });
}

std::string CaseService::name_key(const std::string& given_names, const std::string& family_name) {
  static const std::vector<std::pair<std::string, std::string>> kFolds = {
      {"ä", "ae"}, {"ö", "oe"}, {"ü", "ue"}, {"Ä", "ae"}, {"Ö", "oe"}, {"Ü", "ue"}, {"ß", "ss"},
      {"é", "e"},  {"è", "e"},  {"ê", "e"},  {"á", "a"},  {"à", "a"},  {"â", "a"},  {"ç", "c"},
      {"ñ", "n"},  {"ó", "o"},  {"ò", "o"},  {"í", "i"},  {"ú", "u"},  {"ş", "s"},  {"ğ", "g"},
      {"ı", "i"},  {"É", "e"},  {"Ş", "s"},  {"Ç", "c"},  {"İ", "i"}};
  std::string text = given_names + " " + family_name;
  // One pass that appends to a new string (GCC 12 warns falsely on in-place replace at -O3).
  // Decomposed input (base letter + combining mark, as some keyboards send it): a combining
  // diaeresis makes ä/ö/ü, so it folds to "e"; other combining marks (U+0300-U+036F) vanish.
  std::string folded;
  folded.reserve(text.size() + 8);
  for (std::size_t pos = 0; pos < text.size();) {
    const auto lead = static_cast<unsigned char>(text[pos]);
    const auto next = pos + 1 < text.size() ? static_cast<unsigned char>(text[pos + 1]) : 0;
    if (lead == 0xCC && next == 0x88) {
      folded += 'e';
      pos += 2;
      continue;
    }
    if ((lead == 0xCC && next >= 0x80) || (lead == 0xCD && next >= 0x80 && next <= 0xAF)) {
      pos += 2;
      continue;
    }
    bool replaced = false;
    for (const auto& [from, to] : kFolds) {
      if (text.compare(pos, from.size(), from) == 0) {
        folded += to;
        pos += from.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) folded += text[pos++];
  }
  text = std::move(folded);
  std::vector<std::string> parts;
  std::string current;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80) {
      current.push_back(static_cast<char>(std::tolower(u)));
    } else if (!current.empty()) {
      parts.push_back(current);
      current.clear();
    }
  }
  if (!current.empty()) parts.push_back(current);
  std::sort(parts.begin(), parts.end());
  std::string key;
  for (const auto& part : parts)
    key += (key.empty() ? "" : " ") + part;
  return key;
}

// ---- persons ----------------------------------------------------------------------------------

namespace {

// The fields of a participant, read strictly (POST, and the merged result of a PATCH).
struct PersonFields {
  std::string given, family, birth, town, status;
  std::optional<std::string> gender, arrival;
  std::vector<std::string> nationalities, languages;
  json household = json::array();
  json contact = json::object();
  bool confirm_new = false;
};

PersonFields read_person(const json& body) {
  FieldReader in(body);
  PersonFields p;
  p.given = in.text("given_names", kNameMax);
  p.family = in.text("family_name", kNameMax);
  auto birth = in.date("date_of_birth");
  p.gender = in.choice("gender", domain::genders(), false);
  p.nationalities =
      in.codes("nationalities", "[A-Z]{2}", "ISO 3166-1 alpha-2 codes like \"SY\"", 5, false);
  p.languages =
      in.codes("languages", "[a-z]{2,3}", "ISO 639 codes like \"ar\" or \"prs\"", 10, false);
  auto town = in.choice("town", domain::towns());
  auto status = in.choice("residence_status", domain::residence_statuses());
  p.arrival = in.date("arrival_date", false);
  in.objects("household", 20, [&](FieldReader& member) {
    auto relation = member.choice("relation", domain::household_relations());
    auto year = member.integer("birth_year", 1900, 2200);
    if (!member.problem()) p.household.push_back({{"relation", *relation}, {"birth_year", *year}});
  });
  in.object("contact", [&](FieldReader& fields) {
    for (const char* key : {"address", "phone", "email"}) {
      if (auto value = fields.optional_text(key, kNameMax * 2)) p.contact[key] = *value;
    }
  });
  p.confirm_new = in.boolean("confirm_new_person", false).value_or(false);
  in.finish();
  check(in);
  p.birth = *birth;
  p.town = *town;
  p.status = *status;
  if (p.birth > domain::today()) fail(Problem::bad_request("date_of_birth", "is in the future"));
  if (p.arrival && *p.arrival < p.birth) {
    fail(Problem::bad_request("arrival_date", "is before the date of birth"));
  }
  return p;
}

// Duplicate check across all organisations: warn and offer the existing record, never a silent
// second record and never a merge without a human. Returns the candidates the caller confirmed
// to be someone else (to record that decision).
json check_duplicates(Connection& db, const PersonFields& p, const std::string& key,
                      const std::string& self_id) {
  auto candidates = db.query(
      "SELECT p.id, o.name AS organisation FROM persons p JOIN organisations o ON "
      "o.id = p.organisation_id WHERE p.name_key = ? AND p.date_of_birth = ? AND p.id <> ?",
      {key, p.birth, self_id});
  if (!candidates.empty() && !p.confirm_new) {
    fail(Problem{409,
                 "possible_duplicate",
                 "a person with the same names and date of birth is already known. Open a case "
                 "for the existing person (POST /api/v1/cases with its person_id), or repeat "
                 "this request with \"confirm_new_person\": true if it is someone else",
                 {},
                 json{{"candidates", candidates}}});
  }
  return candidates;
}

void record_different_persons(Connection& db, const Context& ctx, const std::string& id,
                              const json& candidates) {
  for (const auto& candidate : candidates) {
    db.execute(
        "INSERT OR IGNORE INTO person_duplicate_decisions(person_id, other_person_id, decision, "
        "decided_by, decided_at) VALUES (?, ?, 'different_person', ?, ?)",
        {id, candidate["id"].get<std::string>(), ctx.actor.principal.user_id,
         domain::now_timestamp()});
  }
}

SqlValue optional_value(const std::optional<std::string>& value) {
  return value ? SqlValue(*value) : SqlValue(nullptr);
}

}  // namespace

Result<Reply> CaseService::create_person(const Context& ctx, const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>&) {
    require_case_manager(ctx);
    const PersonFields p = read_person(body);
    const std::string key = name_key(p.given, p.family);
    const json candidates = check_duplicates(db, p, key, "");
    const std::string id = new_id("per");
    db.execute(
        "INSERT INTO persons(id, given_names, family_name, name_key, date_of_birth, gender, "
        "nationalities, languages, town, residence_status, arrival_date, household, contact, "
        "organisation_id, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        {id, p.given, p.family, key, p.birth, optional_value(p.gender),
         json(p.nationalities).dump(), json(p.languages).dump(), p.town, p.status,
         optional_value(p.arrival), p.household.dump(), p.contact.dump(),
         ctx.actor.principal.organisation_id, ctx.actor.principal.user_id,
         domain::now_timestamp()});
    record_different_persons(db, ctx, id, candidates);
    audit::append(db, ctx.actor, {"create", "person", id, ""});
    return Reply{201, person_json(load_person(db, ctx, id)), std::nullopt};
  });
}

Result<Reply> CaseService::update_person(const Context& ctx, const std::string& person_id,
                                         const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>&) {
    require_case_manager(ctx);
    const json row = load_person(db, ctx, person_id);
    // Changing a record needs more than seeing it: the recording organisation, or the case
    // manager of an open case of the person.
    const auto& me = ctx.actor.principal;
    bool may_change = row["organisation_id"].get<std::int64_t>() == me.organisation_id;
    // Other organisations' open cases are checked by the policy, never loaded: a case the caller
    // cannot see must not surface (not even as a 404 naming its id).
    for (const auto& open :
         db.query(std::string("SELECT ") + kOwnershipColumns +
                      " FROM cases c JOIN organisations o ON o.id = c.organisation_id WHERE "
                      "c.person_id = ? AND c.phase <> 'closed'",
                  {person_id})) {
      if (may_change) break;
      may_change = case_access(me, ownership_of(open)) == Access::kWrite;
    }
    if (!may_change) {
      fail(Problem::forbidden(
          "only case managers of the recording organisation or of an open case of the person "
          "change the record"));
    }
    // The change is the current record with the given fields replaced, checked as a whole.
    json merged = person_json(row);
    for (const char* key : {"id", "organisation", "created_at"})
      merged.erase(key);
    for (const auto& [key, value] : body.items()) {
      if (value.is_null()) {
        if (key != "gender" && key != "arrival_date") {
          fail(Problem::bad_request(key, "must not be null; leave the field out to keep it"));
        }
        merged.erase(key);
        continue;
      }
      merged[key] = value;
    }
    for (const char* optional : {"gender", "arrival_date"}) {
      if (merged.contains(optional) && merged[optional].is_null()) merged.erase(optional);
    }
    const PersonFields p = read_person(merged);
    const std::string key = name_key(p.given, p.family);
    json candidates = json::array();
    if (key != row["name_key"] || p.birth != row["date_of_birth"]) {
      candidates = check_duplicates(db, p, key, person_id);
    }
    db.execute(
        "UPDATE persons SET given_names = ?, family_name = ?, name_key = ?, date_of_birth = ?, "
        "gender = ?, nationalities = ?, languages = ?, town = ?, residence_status = ?, "
        "arrival_date = ?, household = ?, contact = ? WHERE id = ?",
        {p.given, p.family, key, p.birth, optional_value(p.gender), json(p.nationalities).dump(),
         json(p.languages).dump(), p.town, p.status, optional_value(p.arrival), p.household.dump(),
         p.contact.dump(), person_id});
    record_different_persons(db, ctx, person_id, candidates);
    audit::append(db, ctx.actor, {"update", "person", person_id, ""});
    return Reply{200, person_json(load_person(db, ctx, person_id)), std::nullopt};
  });
}

Result<Reply> CaseService::get_person(const Context& ctx, const std::string& person_id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    auto row = load_person(db, ctx, person_id);
    audit.push_back({"read", "person", person_id, ""});
    return Reply{200, person_json(row), std::nullopt};
  });
}

Result<Reply> CaseService::add_participation(const Context& ctx, const std::string& person_id,
                                             const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>&) {
    require_case_manager(ctx);
    load_person(db, ctx, person_id);
    FieldReader in(body);
    auto programme = in.choice("programme", domain::programmes());
    auto started = in.date("started_on");
    auto ended = in.date("ended_on", false);
    in.finish();
    check(in);
    if (ended && *ended < *started) fail(Problem::bad_request("ended_on", "is before started_on"));
    const std::string id = new_id("prg");
    db.execute(
        "INSERT INTO programme_participations(id, person_id, programme, started_on, ended_on, "
        "recorded_by, created_at) VALUES (?,?,?,?,?,?,?)",
        {id, person_id, *programme, *started, ended ? SqlValue(*ended) : SqlValue(nullptr),
         ctx.actor.principal.user_id, domain::now_timestamp()});
    audit::append(db, ctx.actor, {"create", "participation", id, ""});
    return Reply{201,
                 {{"id", id},
                  {"person_id", person_id},
                  {"programme", *programme},
                  {"started_on", *started},
                  {"ended_on", ended ? json(*ended) : json(nullptr)},
                  {"excludes_kim_case", domain::programme_excludes_kim(*programme)}},
                 std::nullopt};
  });
}

Result<Reply> CaseService::list_participations(const Context& ctx, const std::string& person_id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    load_person(db, ctx, person_id);
    auto rows = db.query(
        "SELECT id, programme, started_on, ended_on FROM programme_participations WHERE "
        "person_id = ? ORDER BY started_on",
        {person_id});
    for (auto& row : rows) {
      row["excludes_kim_case"] =
          domain::programme_excludes_kim(row["programme"].get<std::string>());
    }
    audit.push_back({"list", "participation", person_id, ""});
    return Reply{200, {{"items", rows}}, std::nullopt};
  });
}

Result<Reply> CaseService::grant_funding_override(const Context& ctx, const std::string& person_id,
                                                  const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>&) {
    if (ctx.actor.principal.role != "coordinator") {
      fail(Problem::forbidden("only a coordinator may override the double-funding rule"));
    }
    load_person(db, ctx, person_id);
    FieldReader in(body);
    auto justification = in.text("justification", kSummaryMax);
    in.finish();
    check(in);
    if (std::count_if(justification.begin(), justification.end(),
                      [](unsigned char c) { return std::isalnum(c) || c >= 0x80; }) < 10) {
      fail(Problem::bad_request("justification", "must explain the reason (at least 10 letters)"));
    }
    const std::string id = new_id("fo");
    db.execute(
        "INSERT INTO funding_overrides(id, person_id, justification, granted_by, granted_at) "
        "VALUES (?,?,?,?,?)",
        {id, person_id, justification, ctx.actor.principal.user_id, domain::now_timestamp()});
    audit::append(db, ctx.actor, {"create", "funding_override", id, ""});
    return Reply{201,
                 {{"id", id}, {"person_id", person_id}, {"justification", justification}},
                 std::nullopt};
  });
}

// ---- cases ------------------------------------------------------------------------------------

Result<Reply> CaseService::open_case(const Context& ctx, const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>& events) {
    require_case_manager(ctx);
    FieldReader in(body);
    auto person_id = in.text("person_id", 64);
    auto town = in.choice("town", domain::towns(), false);
    auto phase = in.choice("phase", {"access", "intake"}, false);
    auto manager = in.integer("case_manager_id", 1, INT64_MAX, false);
    in.finish();
    check(in);
    const auto& me = ctx.actor.principal;

    auto person = db.query("SELECT town FROM persons WHERE id = ?", {person_id});
    // A person known in another organisation can be linked (after the duplicate warning named
    // it), so any existing person id is accepted here; its data becomes visible through the case.
    if (person.empty()) {
      fail(Problem{404, "not_found", "person " + person_id + " not found", "person_id", nullptr});
    }
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
    SqlValue override_id = check_admission(db, person_id, "");

    const std::string id = new_id("case");
    const std::string now = domain::now_timestamp();
    const std::string start_phase = phase.value_or("intake");
    db.execute(
        "INSERT INTO cases(id, person_id, town, organisation_id, case_manager_id, phase, "
        "opened_on, funding_override, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        {id, person_id, town.value_or(person[0]["town"].get<std::string>()), me.organisation_id,
         case_manager_id, start_phase, domain::today(), override_id, now, now});
    if (!std::holds_alternative<std::nullptr_t>(override_id)) {
      db.execute("UPDATE funding_overrides SET used_by_case = ? WHERE id = ?", {id, override_id});
    }
    auto event = make_event(
        "case.opened",
        {{"case_id", id}, {"organisation_id", me.organisation_id}, {"phase", start_phase}});
    run_hooks(tx_.events(), event);
    events.push_back(event);
    audit::append(db, ctx.actor, {"create", "case", id, id});
    return Reply{201, read_case(db, id), 1};
  });
}

Result<Reply> CaseService::get_case(const Context& ctx, const std::string& case_id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    auto row = load_case(db, ctx, case_id, Access::kRead);
    audit.push_back({"read", "case", case_id, case_id});
    return Reply{200, read_case(db, case_id), row.version};
  });
}

Result<Reply> CaseService::list_cases(const Context& ctx, const CaseFilter& filter) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    auto access = readable_cases(ctx.actor.principal);
    std::string sql = std::string(kCaseSelect) + "WHERE " + access.sql + " AND c.rowid > ?";
    std::vector<SqlValue> params = access.params;
    params.emplace_back(filter.after);
    if (filter.phase) {
      sql += " AND c.phase = ?";
      params.emplace_back(*filter.phase);
    }
    if (filter.town) {
      sql += " AND c.town = ?";
      params.emplace_back(*filter.town);
    }
    if (filter.case_manager_id) {
      sql += " AND c.case_manager_id = ?";
      params.emplace_back(*filter.case_manager_id);
    }
    if (filter.overdue_only) {
      sql +=
          " AND EXISTS (SELECT 1 FROM tasks t WHERE t.case_id = c.id AND t.done_on IS NULL AND "
          "t.due_date < ?)";
      params.emplace_back(domain::today());
    }
    sql += " ORDER BY c.rowid LIMIT ?";
    params.emplace_back(static_cast<std::int64_t>(filter.limit + 1));
    auto rows = db.query(sql, params);
    json items = json::array();
    for (std::size_t i = 0; i < rows.size() && i < static_cast<std::size_t>(filter.limit); ++i) {
      items.push_back(case_json(rows[i]));
      audit.push_back({"list", "case", rows[i]["id"], rows[i]["id"]});
    }
    json body = {{"items", items}};
    if (rows.size() > static_cast<std::size_t>(filter.limit)) {
      body["next_cursor"] = std::to_string(rows[filter.limit - 1]["seq"].get<std::int64_t>());
    }
    return Reply{200, body, std::nullopt};
  });
}

Result<Reply> CaseService::transition(const Context& ctx, const std::string& case_id,
                                      const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>& events) {
    auto row = load_case(db, ctx, case_id, Access::kWrite);
    FieldReader in(body);
    auto to = in.choice("to", domain::phases());
    auto reason = in.choice("reason", domain::closure_reasons(), false);
    auto note = in.optional_text("note", kSummaryMax);
    in.finish();
    check(in);
    check_version(ctx, row);
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
      reopen_override = check_admission(db, row.person_id, case_id);
    }
    const std::string now = domain::now_timestamp();
    db.execute(
        "INSERT INTO case_transitions(case_id, from_phase, to_phase, reason, note, at, by_user) "
        "VALUES (?,?,?,?,?,?,?)",
        {case_id, row.phase, *to, reason ? SqlValue(*reason) : SqlValue(nullptr),
         note ? SqlValue(*note) : SqlValue(nullptr), now, ctx.actor.principal.user_id});
    if (*to == "closed") {
      db.execute(
          "UPDATE cases SET phase = 'closed', closed_on = ?, closure_reason = ?, closure_note = ? "
          "WHERE id = ?",
          {domain::today(), *reason, note ? SqlValue(*note) : SqlValue(nullptr), case_id});
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
    auto version = bump_version(db, case_id);
    auto changed =
        make_event("case.phase_changed", {{"case_id", case_id},
                                          {"from", row.phase},
                                          {"to", *to},
                                          {"organisation_id", row.ownership.organisation_id}});
    run_hooks(tx_.events(), changed);
    events.push_back(changed);
    if (*to == "closed") {
      auto closed = make_event("case.closed", {{"case_id", case_id}, {"reason", *reason}});
      run_hooks(tx_.events(), closed);
      events.push_back(closed);
    }
    audit::append(db, ctx.actor, {"transition", "case", case_id, case_id});
    return Reply{200, read_case(db, case_id), version};
  });
}

// ---- assessments, goals, tasks, notes -------------------------------------------------------

Result<Reply> CaseService::record_assessment(const Context& ctx, const std::string& case_id,
                                             const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>& events) {
    auto row = load_case(db, ctx, case_id, Access::kWrite);
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
    check_version(ctx, row);
    if (row.phase != "assessment" && row.phase != "reassessment") {
      fail(Problem::conflict("wrong_phase",
                             "assessments are recorded in the assessment or "
                             "reassessment phase (the case is in " +
                                 row.phase + ")"));
    }
    const std::string id = new_id("asm");
    const std::string kind = row.phase == "reassessment" ? "reassessment" : "assessment";
    db.execute(
        "INSERT INTO assessments(id, case_id, kind, recorded_at, recorded_by) VALUES (?,?,?,?,?)",
        {id, case_id, kind, domain::now_timestamp(), ctx.actor.principal.user_id});
    for (const auto& [life_domain, level, summary] : domains) {
      db.execute(
          "INSERT INTO assessment_domains(assessment_id, life_domain, need_level, summary) VALUES "
          "(?,?,?,?)",
          {id, life_domain, level, summary});
    }
    auto version = bump_version(db, case_id);
    auto event = make_event("case.assessment_recorded",
                            {{"case_id", case_id}, {"assessment_id", id}, {"kind", kind}});
    run_hooks(tx_.events(), event);
    events.push_back(event);
    audit::append(db, ctx.actor, {"create", "assessment", id, case_id});
    json out_domains = json::array();
    for (const auto& [life_domain, level, summary] : domains) {
      out_domains.push_back(
          {{"life_domain", life_domain}, {"need_level", level}, {"summary", summary}});
    }
    return Reply{
        201, {{"id", id}, {"case_id", case_id}, {"kind", kind}, {"domains", out_domains}}, version};
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
  return tx_.write([&](Connection& db, std::vector<sdk::Event>& events) {
    auto row = load_case(db, ctx, case_id, Access::kWrite);
    FieldReader in(body);
    auto life_domain = in.choice("life_domain", domain::life_domains());
    auto description = in.text("description", kSummaryMax);
    auto due = in.date("due_date");
    in.finish();
    check(in);
    check_version(ctx, row);
    if (!domain::contains({"planning", "linking", "monitoring", "reassessment"}, row.phase)) {
      fail(Problem::conflict("wrong_phase",
                             "goals are agreed from the planning phase on (the case "
                             "is in " +
                                 row.phase + ")"));
    }
    const std::string id = new_id("goal");
    const std::string now = domain::now_timestamp();
    db.execute(
        "INSERT INTO goals(id, case_id, life_domain, description, due_date, status, created_at, "
        "updated_at) VALUES (?,?,?,?,?,'open',?,?)",
        {id, case_id, *life_domain, description, *due, now, now});
    auto version = bump_version(db, case_id);
    auto event = make_event("case.goal_set",
                            {{"case_id", case_id}, {"goal_id", id}, {"life_domain", *life_domain}});
    run_hooks(tx_.events(), event);
    events.push_back(event);
    audit::append(db, ctx.actor, {"create", "goal", id, case_id});
    return Reply{201, db.query(std::string(kGoalSelect) + "WHERE id = ?", {id})[0], version};
  });
}

Result<Reply> CaseService::update_goal(const Context& ctx, const std::string& case_id,
                                       const std::string& goal_id, const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>& events) {
    auto row = load_case(db, ctx, case_id, Access::kWrite);
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
    check_version(ctx, row);
    require_open(row, "changing a goal");
    db.execute(
        "UPDATE goals SET status = coalesce(?, status), description = coalesce(?, description), "
        "due_date = coalesce(?, due_date), updated_at = ? WHERE id = ?",
        {status ? SqlValue(*status) : SqlValue(nullptr),
         description ? SqlValue(*description) : SqlValue(nullptr),
         due ? SqlValue(*due) : SqlValue(nullptr), domain::now_timestamp(), goal_id});
    auto version = bump_version(db, case_id);
    auto event = make_event("case.goal_changed",
                            {{"case_id", case_id},
                             {"goal_id", goal_id},
                             {"status", status.value_or(goals[0]["status"].get<std::string>())}});
    run_hooks(tx_.events(), event);
    events.push_back(event);
    audit::append(db, ctx.actor, {"update", "goal", goal_id, case_id});
    return Reply{200, db.query(std::string(kGoalSelect) + "WHERE id = ?", {goal_id})[0], version};
  });
}

Result<Reply> CaseService::list_goals(const Context& ctx, const std::string& case_id) {
  return list_part(ctx, case_id, "goal",
                   std::string(kGoalSelect) + "WHERE case_id = ? ORDER BY created_at, rowid");
}

Result<Reply> CaseService::add_task(const Context& ctx, const std::string& case_id,
                                    const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>&) {
    auto row = load_case(db, ctx, case_id, Access::kWrite);
    FieldReader in(body);
    auto description = in.text("description", kSummaryMax);
    auto due = in.date("due_date");
    auto goal_id = in.optional_text("goal_id", 64);
    in.finish();
    check(in);
    check_version(ctx, row);
    require_open(row, "a task");
    if (goal_id &&
        db.query("SELECT 1 FROM goals WHERE id = ? AND case_id = ?", {*goal_id, case_id}).empty()) {
      fail(Problem::bad_request("goal_id", "is not a goal of this case"));
    }
    const std::string id = new_id("task");
    db.execute(
        "INSERT INTO tasks(id, case_id, goal_id, description, due_date, assignee_id, created_at) "
        "VALUES (?,?,?,?,?,?,?)",
        {id, case_id, goal_id ? SqlValue(*goal_id) : SqlValue(nullptr), description, *due,
         row.ownership.case_manager_id, domain::now_timestamp()});
    auto version = bump_version(db, case_id);
    audit::append(db, ctx.actor, {"create", "task", id, case_id});
    return Reply{201, db.query(std::string(kTaskSelect) + "WHERE id = ?", {id})[0], version};
  });
}

Result<Reply> CaseService::update_task(const Context& ctx, const std::string& case_id,
                                       const std::string& task_id, const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>&) {
    auto row = load_case(db, ctx, case_id, Access::kWrite);
    if (db.query("SELECT 1 FROM tasks WHERE id = ? AND case_id = ?", {task_id, case_id}).empty()) {
      fail(Problem::not_found("task " + task_id));
    }
    FieldReader in(body);
    auto done = in.boolean("done");
    in.finish();
    check(in);
    check_version(ctx, row);
    db.execute("UPDATE tasks SET done_on = ? WHERE id = ?",
               {*done ? SqlValue(domain::today()) : SqlValue(nullptr), task_id});
    auto version = bump_version(db, case_id);
    audit::append(db, ctx.actor, {"update", "task", task_id, case_id});
    return Reply{200, db.query(std::string(kTaskSelect) + "WHERE id = ?", {task_id})[0], version};
  });
}

Result<Reply> CaseService::list_tasks(const Context& ctx, const std::string& case_id) {
  return list_part(ctx, case_id, "task",
                   std::string(kTaskSelect) + "WHERE case_id = ? ORDER BY due_date, rowid");
}

Result<Reply> CaseService::add_note(const Context& ctx, const std::string& case_id,
                                    const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>&) {
    auto row = load_case(db, ctx, case_id, Access::kWrite);
    FieldReader in(body);
    auto occurred = in.date("occurred_on");
    auto kind = in.choice("kind", domain::note_kinds());
    auto text = in.text("text", kTextMax);
    in.finish();
    check(in);
    if (*occurred > domain::today()) fail(Problem::bad_request("occurred_on", "is in the future"));
    check_version(ctx, row);
    const std::string id =
        add_timeline_note(db, case_id, *occurred, *kind, text, ctx.actor.principal.user_id);
    auto version = bump_version(db, case_id);
    audit::append(db, ctx.actor, {"create", "note", id, case_id});
    return Reply{
        201, {{"id", id}, {"occurred_on", *occurred}, {"kind", *kind}, {"text", text}}, version};
  });
}

Result<Reply> CaseService::list_notes(const Context& ctx, const std::string& case_id) {
  return list_part(ctx, case_id, "note",
                   "SELECT n.id, n.occurred_on, n.kind, n.text, u.name AS author, n.created_at "
                   "FROM notes n JOIN users u ON u.id = n.author_id WHERE n.case_id = ? ORDER BY "
                   "n.occurred_on, n.rowid");
}

Result<Reply> CaseService::tasks_due(const Context& ctx, const std::string& due_before) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    auto access = readable_cases(ctx.actor.principal);
    std::string sql =
        "SELECT t.id, t.case_id, t.goal_id, t.description, t.due_date, t.assignee_id, u.name AS "
        "assignee FROM tasks t JOIN cases c ON c.id = t.case_id JOIN organisations o ON o.id = "
        "c.organisation_id JOIN users u ON u.id = t.assignee_id WHERE t.done_on IS NULL AND "
        "c.phase <> 'closed' AND "
        "t.due_date < ? AND " +
        access.sql;
    std::vector<SqlValue> params{due_before};
    params.insert(params.end(), access.params.begin(), access.params.end());
    if (ctx.actor.principal.role == "case_manager") {
      sql += " AND t.assignee_id = ?";
      params.emplace_back(ctx.actor.principal.user_id);
    }
    sql += " ORDER BY t.due_date, t.rowid LIMIT 1000";
    auto rows = db.query(sql, params);
    for (const auto& row : rows) {
      audit.push_back({"list", "task", row["id"], row["case_id"]});
    }
    return Reply{200, {{"items", rows}}, std::nullopt};
  });
}

Result<Reply> CaseService::overdue_by_case_manager(const Context& ctx) {
  auto due = tasks_due(ctx, domain::today());
  if (!due) return due;
  json groups = json::object();
  for (const auto& task : due.value().body["items"]) {
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
