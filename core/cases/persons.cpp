#include <algorithm>

#include "cases/internal.hpp"
#include "cases/records.hpp"
#include "cases/service.hpp"
#include "domain/catalog.hpp"
#include "domain/validation.hpp"

// Participants: recording (with the duplicate check across organisations), corrections,
// programme participations and the coordinator's funding override.
namespace kim::cases {

using domain::Change;
using domain::check;
using domain::fail;
using domain::FieldReader;
using domain::Problem;
using domain::Result;
using nlohmann::json;
using store::Connection;
using store::SqlValue;

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

PersonFields read_person(const json& body, const std::string& today) {
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
  if (p.birth > today) fail(Problem::bad_request("date_of_birth", "is in the future"));
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
    const json candidates = check_duplicates(db, p, key, "");
    const std::string id = change.env.new_id("per");
    db.execute(
        "INSERT INTO persons(id, given_names, family_name, name_key, date_of_birth, gender, "
        "nationalities, languages, town, residence_status, arrival_date, household, contact, "
        "organisation_id, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        {id, p.given, p.family, key, p.birth, optional_value(p.gender),
         json(p.nationalities).dump(), json(p.languages).dump(), p.town, p.status,
         optional_value(p.arrival), p.household.dump(), p.contact.dump(),
         ctx.actor.principal.organisation_id, ctx.actor.principal.user_id, change.env.timestamp()});
    record_different_persons(change, id, candidates);
    change.audit("create", "person", id);
    return Reply{201, person_json(load_person(db, ctx, id)), std::nullopt};
  });
}

Result<Reply> CaseService::update_person(const Context& ctx, const std::string& person_id,
                                         const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
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
    const PersonFields p = read_person(merged, change.env.today());
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
    record_different_persons(change, person_id, candidates);
    change.audit("update", "person", person_id);
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
    load_person(db, ctx, person_id);
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
        {id, person_id, *programme, *started, ended ? SqlValue(*ended) : SqlValue(nullptr),
         ctx.actor.principal.user_id, change.env.timestamp()});
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
    load_person(db, ctx, person_id);
    FieldReader in(body);
    auto justification = in.text("justification", kSummaryMax);
    in.finish();
    check(in);
    if (std::count_if(justification.begin(), justification.end(),
                      [](unsigned char c) { return std::isalnum(c) || c >= 0x80; }) < 10) {
      fail(Problem::bad_request("justification", "must explain the reason (at least 10 letters)"));
    }
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

}  // namespace kim::cases
