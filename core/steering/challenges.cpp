#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "audit/security_log.hpp"
#include "cases/records.hpp"
#include "domain/catalog.hpp"
#include "domain/sql_query.hpp"
#include "steering/internal.hpp"
#include "steering/steering.hpp"

namespace kim::steering {

const domain::Vocabulary& challenge_statuses() {
  static const domain::Vocabulary values = {"open",     "clustered", "assigned",
                                            "proposal", "escalated", "closed"};
  return values;
}

namespace {

const domain::Vocabulary kOutcomes = {"resolved", "structural_change_proposed",
                                      "not_solvable_locally"};

// The status machine of a challenge: clustered into a theme, assigned to a body, worked up to a
// proposal, escalated to the steering group, closed with an outcome. Closed is final.
domain::Vocabulary next_statuses(const std::string& from) {
  if (from == "open") return {"clustered", "assigned", "closed"};
  if (from == "clustered") return {"assigned", "closed"};
  if (from == "assigned") return {"proposal", "escalated", "closed"};
  if (from == "proposal") return {"assigned", "escalated", "closed"};
  if (from == "escalated") return {"proposal", "closed"};
  return {};
}

std::set<std::string> words_of(const std::string& text) {
  std::set<std::string> words;
  std::istringstream in(domain::matching_key(text));
  for (std::string word; in >> word;)
    words.insert(word);
  return words;
}

// Parts of names that name nobody on their own and are common words of the texts ("de", "la",
// "von", "der"), as matching_key writes them.
bool name_particle(const std::string& word) {
  static const std::set<std::string> particles = {
      "abu", "al",  "ben", "bin", "bint", "da", "das", "de",  "del", "della", "den",
      "der", "des", "di",  "do",  "dos",  "du", "e",   "el",  "ibn", "la",    "le",
      "ten", "ter", "van", "vom", "von",  "y",  "zu",  "zum", "zur"};
  return particles.count(word) > 0;
}

// The words of a name to look for: all but its particles; all of them when the name is nothing
// but particles (family names such as "Le" or "Da").
std::set<std::string> name_words(const std::string& name) {
  auto words = words_of(name);
  std::set<std::string> proper;
  for (const auto& word : words)
    if (!name_particle(word)) proper.insert(word);
  return proper.empty() ? words : proper;
}

// The birth date as people write it: 1991-08-14, 14.08.1991, 14.8.1991. None for a birth date
// that is not a full date (an anonymised person keeps only the year).
std::vector<std::string> date_forms(const std::string& iso) {
  if (!domain::is_date(iso)) return {};
  const std::string y = iso.substr(0, 4), m = iso.substr(5, 2), d = iso.substr(8, 2);
  auto bare = [](const std::string& two) { return two[0] == '0' ? two.substr(1) : two; };
  return {iso, d + "." + m + "." + y, bare(d) + "." + bare(m) + "." + y};
}

// Refuses (400 personal_data) text that names the case's person or gives their birth date. Names
// are compared as the duplicate check compares them (matching_key: case, accents, umlauts), word
// by word, name particles ("al", "van", "de") left out.
void refuse_personal_data(const json& person, const char* field, const std::string& text) {
  if (!person.is_object()) return;
  const auto words = words_of(text);
  for (const char* part : {"given_names", "family_name"}) {
    const json& name = person[part];
    if (!name.is_string()) continue;
    for (const auto& word : name_words(name.get<std::string>())) {
      if (words.count(word)) {
        fail(Problem{400, "personal_data",
                     "must not contain personal data: the text names the case's person", field,
                     nullptr});
      }
    }
  }
  if (!person["date_of_birth"].is_string()) return;
  for (const auto& form : date_forms(person["date_of_birth"].get<std::string>())) {
    if (text.find(form) != std::string::npos) {
      fail(Problem{400, "personal_data",
                   "must not contain personal data: the text gives the person's date of birth",
                   field, nullptr});
    }
  }
}

// The person of the case a challenge was raised from (null when it has no case any more).
json person_of_case(Connection& db, const json& case_id) {
  if (!case_id.is_string()) return nullptr;
  auto rows = db.query(
      "SELECT p.given_names, p.family_name, p.date_of_birth FROM cases c JOIN persons p ON p.id = "
      "c.person_id WHERE c.id = ?",
      {case_id.get<std::string>()});
  return rows.empty() ? json(nullptr) : rows.front();
}

// A challenge's body as a query value (NULL when it has none).
SqlValue body_of(const json& row) {
  return row["body_id"].is_string() ? SqlValue(row["body_id"].get<std::string>())
                                    : SqlValue(nullptr);
}

// The case behind a challenge is shown only to those who may read that case.
bool may_read_case(Connection& db, const sdk::Principal& who, const json& case_id) {
  if (!case_id.is_string()) return false;
  auto rows = db.query(std::string("SELECT ") + cases::kOwnershipColumns +
                           " FROM cases c JOIN organisations o ON o.id = c.organisation_id WHERE "
                           "c.id = ?",
                       {case_id.get<std::string>()});
  return !rows.empty() &&
         cases::case_access(who, cases::ownership_of(rows.front())) != cases::Access::kNone;
}

json challenge_json(Connection& db, const sdk::Principal& who, const json& row) {
  const std::string status = row["status"];
  json challenge = {{"id", row["id"]},
                    {"topic", row["topic"]},
                    {"life_domain", row["life_domain"]},
                    {"town", row["town"]},
                    {"description", row["description"]},
                    {"status", status},
                    {"allowed_transitions", next_statuses(status)},
                    {"cluster", row["cluster"]},
                    {"body", body_ref(db, body_of(row))},
                    {"proposal", row["proposal"]},
                    {"outcome", row["outcome"]},
                    {"outcome_note", row["outcome_note"]},
                    {"created_at", row["created_at"]},
                    {"updated_at", row["updated_at"]}};
  // Nothing that identifies the case for anyone who may not read it: not even that there is one.
  if (may_read_case(db, who, row["case_id"])) challenge["case_ref"] = row["case_id"];
  return challenge;
}

// Case managers see the challenges they raised; coordinators and admins all (they hold no
// personal data); 404 otherwise.
json load_challenge(Connection& db, const Context& ctx, const std::string& id) {
  auto rows = db.query("SELECT * FROM challenges WHERE id = ?", {id});
  const auto& me = ctx.actor.principal;
  const bool visible =
      !rows.empty() && (me.role == "coordinator" || me.role == "admin" ||
                        rows.front()["raised_by"].get<std::int64_t>() == me.user_id);
  if (!visible) {
    audit::SecurityLog::note(ctx.actor, "challenge", id, "");
    fail(Problem::not_found("challenge " + id));
  }
  return rows.front();
}

void record_history(Change& change, const std::string& id, const SqlValue& from,
                    const std::string& to, const SqlValue& note) {
  change.db.execute(
      "INSERT INTO challenge_history(challenge_id, from_status, to_status, note, at, by_user) "
      "VALUES (?,?,?,?,?,?)",
      {id, from, to, note, change.env.timestamp(), change.ctx.actor.principal.user_id});
}

// The body a challenge goes to: one the caller runs (a body it does not see: 400; one it only
// reads: 403) and that is active.
json target_body(Connection& db, const Context& ctx, const std::string& id) {
  auto rows = db.query("SELECT * FROM bodies WHERE id = ?", {id});
  const auto access =
      rows.empty() ? BodyAccess::kNone : body_access(db, ctx.actor.principal, rows.front());
  if (access == BodyAccess::kNone) {
    fail(Problem::bad_request("body", "is not a body you may see"));
  }
  if (access != BodyAccess::kWrite) {
    audit::SecurityLog::note(ctx.actor, "body", id, "");
    fail(Problem::forbidden("only those who run a body assign or escalate challenges to it"));
  }
  if (rows.front()["active"].get<int>() != 1) {
    fail(Problem{409, "body_inactive", "the body is no longer active", "body", nullptr});
  }
  return rows.front();
}

// A challenge assigned to a body is moved only by those who run that body (403 otherwise, a
// security note; whoever does not see the body learns nothing more from the refusal).
void require_current_body(Connection& db, const Context& ctx, const json& row) {
  if (!row["body_id"].is_string()) return;
  const std::string id = row["body_id"];
  auto rows = db.query("SELECT * FROM bodies WHERE id = ?", {id});
  if (rows.empty() || body_access(db, ctx.actor.principal, rows.front()) != BodyAccess::kWrite) {
    audit::SecurityLog::note(ctx.actor, "body", id, "");
    fail(Problem::forbidden(
        "a challenge assigned to a body is moved only by those who run that body"));
  }
}

}  // namespace

Result<Reply> SteeringService::raise_challenge(const Context& ctx, const std::string& case_id,
                                               const json& body) {
  // Raised from the case by its case manager: a write of the case like its notes (access,
  // If-Match, the version moves), also from a closed case, where a gap is often noticed.
  const cases::CaseRule rule{nullptr, /*case_manager_only=*/true};
  return cases::write_case(tx_, ctx, case_id, rule, [&](Change& change, const cases::CaseRow&) {
    Connection& db = change.db;
    FieldReader in(body);
    auto topic = in.line("topic", kNameMax);
    auto life_domain = in.choice("life_domain", domain::life_domains());
    auto town = in.choice("town", domain::towns(), false);
    auto description = in.text("description", kTextMax);
    in.finish();
    check(in);
    const json person = person_of_case(db, case_id);
    refuse_personal_data(person, "topic", topic);
    refuse_personal_data(person, "description", description);
    const std::string where = town ? *town
                                   : db.query("SELECT town FROM cases WHERE id = ?", {case_id})
                                         .at(0)["town"]
                                         .get<std::string>();
    const std::string id = change.env.new_id("chl");
    const std::string now = change.env.timestamp();
    const auto& me = ctx.actor.principal;
    db.execute(
        "INSERT INTO challenges(id, topic, life_domain, town, description, status, case_id, "
        "raised_by, raised_org, created_at, updated_at) VALUES (?,?,?,?,?,'open',?,?,?,?,?)",
        {id, topic, *life_domain, where, description, case_id, me.user_id, me.organisation_id, now,
         now});
    record_history(change, id, nullptr, "open", nullptr);
    change.audit("create", "challenge", id, case_id);
    auto stored = db.query("SELECT * FROM challenges WHERE id = ?", {id}).at(0);
    return Reply{201, challenge_json(db, me, stored), std::nullopt};
  });
}

Result<Reply> SteeringService::list_challenges(const Context& ctx, const ChallengeFilter& filter) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    const auto& me = ctx.actor.principal;
    domain::SqlQuery query("SELECT * FROM challenges WHERE 1 = 1");
    if (me.role != "coordinator" && me.role != "admin") {
      query.add(" AND raised_by = ?", {me.user_id});
    }
    query.and_if(filter.status, "status = ?")
        .and_if(filter.body, "body_id = ?")
        .and_if(filter.cluster, "cluster = ?")
        .and_if(filter.town, "town = ?")
        .and_if(filter.life_domain, "life_domain = ?");
    json items = json::array();
    for (const auto& row : query.run(db, "created_at, id"))
      items.push_back(challenge_json(db, me, row));
    return Reply{200, {{"items", items}}, std::nullopt};
  });
}

Result<Reply> SteeringService::get_challenge(const Context& ctx, const std::string& id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    auto row = load_challenge(db, ctx, id);
    json challenge = challenge_json(db, ctx.actor.principal, row);
    challenge["history"] = db.query(
        "SELECT h.from_status, h.to_status, h.note, h.at, u.name AS by_user FROM "
        "challenge_history h JOIN users u ON u.id = h.by_user WHERE h.challenge_id = ? ORDER BY "
        "h.id",
        {id});
    // The raise is the case manager's: their name goes only to those who may read the case.
    if (!challenge.contains("case_ref")) {
      for (auto& entry : challenge["history"])
        if (entry["from_status"].is_null()) entry["by_user"] = nullptr;
    }
    return Reply{200, challenge, std::nullopt};
  });
}

Result<Reply> SteeringService::transition_challenge(const Context& ctx, const std::string& id,
                                                    const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    require_runner(ctx);
    Connection& db = change.db;
    auto row = load_challenge(db, ctx, id);
    require_current_body(db, ctx, row);
    FieldReader in(body);
    auto to = in.choice("to", challenge_statuses());
    auto cluster = in.optional_line("cluster", kNameMax);
    auto body_id = in.optional_line("body", 100);
    auto proposal = in.optional_text("proposal", kTextMax);
    auto outcome = in.choice("outcome", kOutcomes, false);
    auto note = in.optional_text("note", kTextMax);
    in.finish();
    check(in);
    const std::string from = row["status"];
    auto allowed = next_statuses(from);
    if (!domain::contains(allowed, *to)) {
      fail(Problem{409, "transition_not_allowed",
                   "a challenge that is " + from + " cannot become " + *to, "to",
                   json{{"allowed", allowed}}});
    }
    // Each step needs its own facts and takes no other's.
    auto only_for = [&](bool given, const char* key, const char* step) {
      if (given && *to != step) {
        fail(Problem::bad_request(key, std::string("is given only with to=") + step));
      }
      if (!given && *to == step) {
        fail(Problem::bad_request(key, std::string("is required with to=") + step));
      }
    };
    only_for(cluster.has_value(), "cluster", "clustered");
    only_for(proposal.has_value(), "proposal", "proposal");
    only_for(outcome.has_value(), "outcome", "closed");
    if (body_id && *to != "assigned" && *to != "escalated") {
      fail(Problem::bad_request("body", "is given only with to=assigned or to=escalated"));
    }
    // A challenge holds no personal data of its case's person. Checked for callers who may read
    // the case: for anyone else the refusal itself would answer guesses about the person (its
    // name, its birth date), and they have no data of it to write.
    if (may_read_case(db, ctx.actor.principal, row["case_id"])) {
      const json person = person_of_case(db, row["case_id"]);
      if (cluster) refuse_personal_data(person, "cluster", *cluster);
      if (proposal) refuse_personal_data(person, "proposal", *proposal);
      if (note) refuse_personal_data(person, "note", *note);
    }
    SqlValue new_body = body_of(row);
    if (*to == "assigned") {
      if (!body_id) fail(Problem::bad_request("body", "is required with to=assigned"));
      target_body(db, ctx, *body_id);
      new_body = *body_id;
    }
    if (*to == "escalated") {
      std::string steering;
      if (body_id) {
        steering = *body_id;
      } else {
        auto groups = db.query(
            "SELECT id FROM bodies WHERE kind = 'steering_group' AND active = 1 ORDER BY id");
        if (groups.size() != 1) {
          fail(Problem::bad_request("body", "name the steering group to escalate to"));
        }
        steering = groups.front()["id"];
      }
      if (target_body(db, ctx, steering)["kind"] != "steering_group") {
        fail(Problem::bad_request("body", "must be a steering group"));
      }
      new_body = steering;
    }
    db.execute(
        "UPDATE challenges SET status = ?, cluster = coalesce(?, cluster), body_id = ?, proposal "
        "= coalesce(?, proposal), outcome = ?, outcome_note = ?, updated_at = ? WHERE id = ?",
        {*to, optional_value(cluster), new_body, optional_value(proposal), optional_value(outcome),
         (*to == "closed" && note) ? SqlValue(*note) : SqlValue(nullptr), change.env.timestamp(),
         id});
    record_history(change, id, from, *to, optional_value(note));
    change.audit("transition", "challenge", id);
    auto stored = db.query("SELECT * FROM challenges WHERE id = ?", {id}).at(0);
    return Reply{200, challenge_json(db, ctx.actor.principal, stored), std::nullopt};
  });
}

Result<Reply> SteeringService::suggestions(const Context& ctx) {
  auto report = gaps_(ctx);
  if (!report) return report;
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    json items = json::array();
    for (const auto& gap : report.value().body["items"]) {
      const std::string service = gap["service"], kind = gap["partner_kind"], town = gap["town"];
      const std::string topic = "Gap in provision: " + service + " (" + kind + ")";
      const bool raised = !db.query(
                                 "SELECT 1 FROM challenges WHERE topic = ? AND town = ? AND status "
                                 "<> 'closed'",
                                 {topic, town})
                               .empty();
      json suggestion = {
          {"source", "referral_gaps"}, {"topic", topic},       {"town", town},
          {"service", service},        {"partner_kind", kind}, {"already_raised", raised}};
      // The report's counts as it gives them (small cells may come as "<5").
      for (const char* count : {"declined", "cancelled", "waiting_too_long"}) {
        if (gap.contains(count)) suggestion[count] = gap[count];
      }
      items.push_back(suggestion);
    }
    return Reply{
        200,
        {{"items", items}, {"generated_at", report.value().body.value("generated_at", json())}},
        std::nullopt};
  });
}

}  // namespace kim::steering
