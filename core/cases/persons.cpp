#include <algorithm>
#include <cctype>

#include "cases/internal.hpp"
#include "cases/records.hpp"
#include "cases/service.hpp"
#include "domain/catalog.hpp"
#include "domain/validation.hpp"

// Participants: recording (with the duplicate check across organisations), corrections,
// programme participations and the coordinator's funding override.
namespace kim::cases {

namespace {

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

}  // namespace

std::string CaseService::name_key(const std::string& given_names, const std::string& family_name) {
  return domain::matching_key(given_names + " " + family_name);
}

int CaseService::refresh_name_keys(store::Store& store) {
  return store.write([](Connection& db) {
    int changed = 0;
    for (const auto& row : db.query("SELECT id, given_names, family_name, name_key FROM persons "
                                    "WHERE name_key_version < ?",
                                    {kNameKeyVersion})) {
      const std::string key = name_key(row["given_names"], row["family_name"]);
      changed += key != row["name_key"] ? 1 : 0;
      db.execute("UPDATE persons SET name_key = ?, name_key_version = ? WHERE id = ?",
                 {key, kNameKeyVersion, row["id"].get<std::string>()});
    }
    return changed;
  });
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

PersonFields read_person(const json& body, const std::string& today) {
  FieldReader in(body);
  PersonFields p;
  p.given = in.line("given_names", kNameMax);
  p.family = in.line("family_name", kNameMax);
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
    auto year = member.integer("birth_year", domain::kFirstDateYear, domain::kLastDateYear);
    if (!member.problem()) p.household.push_back({{"relation", *relation}, {"birth_year", *year}});
  });
  in.object("contact", [&](FieldReader& fields) {
    for (const char* key : {"address", "phone", "email"}) {
      if (auto value = fields.optional_line(key, kNameMax * 2)) p.contact[key] = *value;
    }
  });
  p.confirm_new = in.boolean("confirm_new_person", false).value_or(false);
  in.finish();
  check(in);
  p.birth = *birth;
  p.town = *town;
  p.status = *status;
  if (p.birth > today) fail(Problem::bad_request("date_of_birth", "is in the future"));
  if (p.arrival && *p.arrival < p.birth) {
    fail(Problem::bad_request("arrival_date", "is before the date of birth"));
  }
  return p;
}

// Duplicate check across all organisations: warn, never a silent second record and never a merge
// without a human. Only candidates the caller may read are named (id and organisation); that
// another organisation knows such a person is all the caller learns of it — linking to that
// record takes a coordinator (POST /api/v1/person-links). Returns every candidate, to record the
// caller's decision that the new person is someone else.
json check_duplicates(Connection& db, const Context& ctx, const PersonFields& p,
                      const std::string& key, const std::string& self_id) {
  std::vector<SqlValue> params;
  const std::string readable = readable_person_condition(ctx.actor.principal, params);
  params.insert(params.end(), {key, p.birth, self_id});
  auto candidates = db.query("SELECT p.id, po.slug AS organisation, (" + readable +
                                 ") AS readable FROM persons p JOIN organisations po ON "
                                 "po.id = p.organisation_id WHERE p.name_key = ? AND "
                                 "p.date_of_birth = ? AND p.id <> ?",
                             params);
  if (!candidates.empty() && !p.confirm_new) {
    json named = json::array();
    for (const auto& candidate : candidates) {
      if (candidate["readable"] == 1) {
        named.push_back({{"id", candidate["id"]}, {"organisation", candidate["organisation"]}});
      }
    }
    const bool elsewhere = named.size() < candidates.size();
    std::string message = "a person with the same names and date of birth is already known";
    if (!named.empty()) {
      message += "; open a case for the existing person (POST /api/v1/cases with its person_id)";
    }
    if (elsewhere) {
      message +=
          "; a possible duplicate is recorded by another organisation: ask your coordinating "
          "office to check it and link the record to your organisation";
    }
    fail(Problem{409,
                 "possible_duplicate",
                 message + ". If it is someone else, repeat this request with "
                           "\"confirm_new_person\": true",
                 {},
                 json{{"candidates", named}, {"known_elsewhere", elsewhere}}});
  }
  return candidates;
}

// At least ten letters or digits: a reason, not a placeholder. Counted in characters (a
// non-ASCII character counts once, by its UTF-8 lead byte; the text is valid UTF-8 by now).
void require_reason(const std::string& field, const std::string& text) {
  if (std::count_if(text.begin(), text.end(),
                    [](unsigned char c) { return std::isalnum(c) || c >= 0xC0; }) < 10) {
    fail(Problem::bad_request(field, "must explain the reason (at least 10 letters)"));
  }
}

void record_different_persons(Change& change, const std::string& id, const json& candidates) {
  for (const auto& candidate : candidates) {
    change.db.execute(
        "INSERT OR IGNORE INTO person_duplicate_decisions(person_id, other_person_id, decision, "
        "decided_by, decided_at) VALUES (?, ?, 'different_person', ?, ?)",
        {id, candidate["id"].get<std::string>(), change.ctx.actor.principal.user_id,
         change.env.timestamp()});
  }
}

}  // namespace

Result<Reply> CaseService::create_person(const Context& ctx, const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
    require_case_manager(ctx);
    const PersonFields p = read_person(body, change.env.today());
    const std::string key = name_key(p.given, p.family);
    const json candidates = check_duplicates(db, ctx, p, key, "");
    const std::string id = change.env.new_id("per");
    db.execute(
        "INSERT INTO persons(id, given_names, family_name, name_key, name_key_version, "
        "date_of_birth, gender, nationalities, languages, town, residence_status, arrival_date, "
        "household, contact, organisation_id, created_by, created_at) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        {id, p.given, p.family, key, kNameKeyVersion, p.birth, optional_value(p.gender),
         json(p.nationalities).dump(), json(p.languages).dump(), p.town, p.status,
         optional_value(p.arrival), p.household.dump(), p.contact.dump(),
         ctx.actor.principal.organisation_id, ctx.actor.principal.user_id, change.env.timestamp()});
    record_different_persons(change, id, candidates);
    change.audit("create", "person", id);
    apply_supervision(change, "persons", id);
    return Reply{201, person_json(load_person(db, ctx, id)), std::nullopt};
  });
}

Result<Reply> CaseService::update_person(const Context& ctx, const std::string& person_id,
                                         const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
    require_case_manager(ctx);
    const json row = load_person_for_change(db, ctx, person_id);
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
    const PersonFields p = read_person(merged, change.env.today());
    const std::string key = name_key(p.given, p.family);
    json candidates = json::array();
    if (key != row["name_key"] || p.birth != row["date_of_birth"]) {
      candidates = check_duplicates(db, ctx, p, key, person_id);
    }
    db.execute(
        "UPDATE persons SET given_names = ?, family_name = ?, name_key = ?, name_key_version = ?, "
        "date_of_birth = ?, gender = ?, nationalities = ?, languages = ?, town = ?, "
        "residence_status = ?, arrival_date = ?, household = ?, contact = ? WHERE id = ?",
        {p.given, p.family, key, kNameKeyVersion, p.birth, optional_value(p.gender),
         json(p.nationalities).dump(), json(p.languages).dump(), p.town, p.status,
         optional_value(p.arrival), p.household.dump(), p.contact.dump(), person_id});
    record_different_persons(change, person_id, candidates);
    change.audit("update", "person", person_id);
    // Supervision follows residence (plugins' rules): a move re-decides it for the person's
    // record and every case.
    if (p.town != row["town"]) {
      apply_supervision(change, "persons", person_id);
      for (const auto& owned : db.query("SELECT id FROM cases WHERE person_id = ?", {person_id}))
        apply_supervision(change, "cases", owned["id"].get<std::string>());
    }
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
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
    require_case_manager(ctx);
    load_person_for_change(db, ctx, person_id);
    FieldReader in(body);
    auto programme = in.choice("programme", domain::programmes());
    auto started = in.date("started_on");
    auto ended = in.date("ended_on", false);
    in.finish();
    check(in);
    if (ended && *ended < *started) fail(Problem::bad_request("ended_on", "is before started_on"));
    const std::string id = change.env.new_id("prg");
    db.execute(
        "INSERT INTO programme_participations(id, person_id, programme, started_on, ended_on, "
        "recorded_by, created_at) VALUES (?,?,?,?,?,?,?)",
        {id, person_id, *programme, *started, optional_value(ended), ctx.actor.principal.user_id,
         change.env.timestamp()});
    change.audit("create", "participation", id);
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
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
    if (ctx.actor.principal.role != "coordinator") {
      fail(Problem::forbidden("only a coordinator may override the double-funding rule"));
    }
    load_person_for_change(db, ctx, person_id);
    FieldReader in(body);
    auto justification = in.text("justification", kSummaryMax);
    in.finish();
    check(in);
    require_reason("justification", justification);
    const std::string id = change.env.new_id("fo");
    db.execute(
        "INSERT INTO funding_overrides(id, person_id, justification, granted_by, granted_at) "
        "VALUES (?,?,?,?,?)",
        {id, person_id, justification, ctx.actor.principal.user_id, change.env.timestamp()});
    change.audit("create", "funding_override", id);
    return Reply{201,
                 {{"id", id}, {"person_id", person_id}, {"justification", justification}},
                 std::nullopt};
  });
}

// ---- links to persons of other organisations -------------------------------------------------

namespace {

const char* const kLinkSelect =
    "SELECT l.id, l.person_id, o.slug AS organisation, l.justification, l.granted_by, "
    "l.granted_at FROM person_links l JOIN organisations o ON o.id = l.organisation_id ";

}  // namespace

Result<Reply> CaseService::link_person(const Context& ctx, const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
    const auto& me = ctx.actor.principal;
    if (me.role != "coordinator" || me.organisation_id == 0) {
      fail(Problem::forbidden("only a coordinator links a person to another organisation"));
    }
    FieldReader in(body);
    auto organisation = in.line("organisation", 63);
    auto given = in.line("given_names", kNameMax);
    auto family = in.line("family_name", kNameMax);
    auto birth = in.date("date_of_birth");
    auto justification = in.text("justification", kSummaryMax);
    in.finish();
    check(in);
    require_reason("justification", justification);
    auto target =
        db.query("SELECT id FROM organisations WHERE slug = ? AND (id = ? OR supervisor_id = ?)",
                 {organisation, me.organisation_id, me.organisation_id});
    if (target.empty()) {
      fail(
          Problem::forbidden("a coordinator links persons only to its own organisation or one it "
                             "supervises"));
    }
    const std::int64_t target_id = target[0]["id"];
    // Knowing an id is not enough: the names and the date of birth must match the record.
    auto matches = db.query(
        "SELECT id FROM persons WHERE name_key = ? AND date_of_birth = ? AND organisation_id <> ? "
        "ORDER BY created_at, id",
        {name_key(given, family), *birth, target_id});
    if (matches.empty()) {
      fail(Problem{404,
                   "not_found",
                   "no person with these names and date of birth is recorded by another "
                   "organisation",
                   {},
                   nullptr});
    }
    json items = json::array();
    for (const auto& match : matches) {
      const std::string person_id = match["id"];
      auto existing =
          db.query("SELECT id FROM person_links WHERE person_id = ? AND organisation_id = ?",
                   {person_id, target_id});
      std::string id;
      if (existing.empty()) {
        id = change.env.new_id("lnk");
        db.execute(
            "INSERT INTO person_links(id, person_id, organisation_id, justification, granted_by, "
            "granted_at) VALUES (?,?,?,?,?,?)",
            {id, person_id, target_id, justification, me.user_id, change.env.timestamp()});
        change.audit("create", "person_link", id);
      } else {
        id = existing[0]["id"];
        change.audit("confirm", "person_link", id);
      }
      items.push_back(db.query(std::string(kLinkSelect) + "WHERE l.id = ?", {id}).at(0));
    }
    return Reply{201, {{"items", items}}, std::nullopt};
  });
}

Result<Reply> CaseService::list_person_links(const Context& ctx) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    const auto& me = ctx.actor.principal;
    // A coordinator sees the links of the organisations it supervises only for persons it may
    // read: not those whose supervision a rule gave to another office (e.g. Rheine's).
    std::vector<SqlValue> params{me.organisation_id, me.role, me.organisation_id};
    const std::string readable = readable_person_condition(me, params);
    auto rows = db.query(std::string(kLinkSelect) +
                             "WHERE o.id = ? OR (? = 'coordinator' AND o.supervisor_id = ? AND "
                             "EXISTS (SELECT 1 FROM persons p JOIN organisations po ON po.id = "
                             "p.organisation_id WHERE p.id = l.person_id AND " +
                             readable + ")) ORDER BY l.granted_at, l.id",
                         params);
    for (const auto& row : rows)
      audit.push_back({"list", "person_link", row["id"], ""});
    return Reply{200, {{"items", rows}}, std::nullopt};
  });
}

}  // namespace kim::cases
