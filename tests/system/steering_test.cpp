// Strategic steering over HTTP against the real kim binary: the monthly working group run from
// the API (agenda prefilled from open challenges, minutes, decisions, action items), the
// steering group, challenges raised from cases without personal data and carried through their
// status machine, and who may do what. Every refused request is checked to change nothing.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sqlite3.h>

#include "store/sqlite.hpp"
#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/shared_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kRheineOffice = "stadt-rheine-ko";

json challenge_body(const std::string& description =
                        "Im Norden des Kreises fehlt ein B2-Kurs "
                        "mit Kinderbetreuung.") {
  return {{"topic", "Kein B2-Kurs mit Kinderbetreuung"},
          {"life_domain", "language"},
          {"description", description}};
}

class SteeringTest : public SharedHost<> {
 protected:
  SteeringTest() : co(*host_, "co-kreis"), co_rheine(*host_, "co-rheine"), admin(*host_, "admin") {}

  // A case of `user` (DRK Greven: supervised by the county's office) and its person.
  struct Case {
    std::string id;
    json person;
  };
  Case open_case(const std::string& user = "cm-greven", json person_fields = json::object()) {
    person_fields["town"] = "Greven";
    json person = host_->create_person(user, person_fields);
    if (!person.is_object()) return {};
    json opened = host_->open_case(user, person["id"]);
    return {opened.is_object() ? opened["id"].get<std::string>() : "", person};
  }

  std::string raise(const std::string& case_id, const std::string& user = "cm-greven",
                    const json& body = challenge_body()) {
    Api cm(*host_, user);
    auto raised = expect_status(cm.post("/cases/" + case_id + "/challenges", body), 201);
    return raised.is_object() ? raised["id"].get<std::string>() : "";
  }

  json move(const std::string& id, const json& body, int status = 200) {
    return expect_status(co.post("/challenges/" + id + "/transitions", body), status);
  }

  std::string create_body(const json& body, Api* as = nullptr) {
    auto created = expect_status((as ? *as : co).post("/bodies", body), 201);
    return created.is_object() ? created["id"].get<std::string>() : "";
  }

  // The county's monthly working group (Rheine's office and the jobcenter are members) and one
  // steering group, made once per suite.
  std::string monthly() {
    static std::string id;
    if (id.empty()) {
      id = create_body({{"name", "Arbeitskreis KIM"},
                        {"kind", "monthly_working_group"},
                        {"members",
                         {{{"partner", kRheineOffice}},
                          {{"partner", kJobcenter}},
                          {{"user", "cm-emsdetten-1"}}}}});
    }
    return id;
  }
  std::string steering_group() {
    static std::string id;
    if (id.empty()) {
      id = create_body({{"name", "Lenkungskreis KIM"},
                        {"kind", "steering_group"},
                        {"members", {{{"partner", kJobcenter}}, {{"partner", kRheineOffice}}}}});
    }
    return id;
  }

  Api co, co_rheine, admin;
};

// Done when: a coordinator runs the monthly working group from the API.
TEST_F(SteeringTest, CoordinatorRunsTheMonthlyWorkingGroup) {
  const std::string group = monthly();
  const std::string steering = steering_group();
  auto body = co.read("/bodies/" + group);
  EXPECT_EQ(body["kind"], "monthly_working_group");
  EXPECT_EQ(body["cadence"], "monthly");
  EXPECT_EQ(body["organisation"], kOffice);
  EXPECT_EQ(body["members"].size(), 3u);
  EXPECT_EQ(co.read("/bodies/" + steering)["cadence"], "quarterly");

  // Two challenges from cases, clustered and assigned to the group; a third stays open.
  const Case first = open_case();
  const std::string a = raise(first.id);
  const std::string b = raise(open_case("cm-emsdetten-1").id, "cm-emsdetten-1",
                              {{"topic", "Keine Anerkennungsberatung vor Ort"},
                               {"life_domain", "recognition"},
                               {"town", "Emsdetten"},
                               {"description", "Beratung nur in Rheine, Anfahrt 1 Stunde."}});
  const std::string unassigned = raise(open_case().id);
  move(a, {{"to", "clustered"}, {"cluster", "Sprachkurse"}});
  move(a, {{"to", "assigned"}, {"body", group}});
  move(b, {{"to", "assigned"}, {"body", group}});

  auto meeting = expect_status(co.post("/meetings", {{"body", group},
                                                     {"date", date_in_days(7)},
                                                     {"title", "Arbeitskreis Dezember"},
                                                     {"agenda", {{{"title", "Begrüßung"}}}},
                                                     {"prefill_agenda", true}}),
                               201);
  ASSERT_TRUE(meeting.is_object());
  const std::string id = meeting["id"];
  ASSERT_EQ(meeting["agenda"].size(), 3u) << meeting.dump();
  EXPECT_EQ(meeting["agenda"][0]["title"], "Begrüßung");
  EXPECT_EQ(meeting["agenda"][1]["challenge_id"], a);
  EXPECT_EQ(meeting["agenda"][2]["challenge_id"], b);
  EXPECT_THAT(meeting["agenda"][1]["title"].get<std::string>(),
              HasSubstr("Kein B2-Kurs mit Kinderbetreuung"));
  EXPECT_THAT(meeting.dump(), Not(HasSubstr(unassigned)));

  // Prefilling again adds nothing twice; a newly assigned challenge is added.
  auto again = expect_status(co.post("/meetings/" + id + "/agenda/prefill", json::object()), 200);
  EXPECT_EQ(again["prefilled"], 0);
  move(unassigned, {{"to", "assigned"}, {"body", group}});
  again = expect_status(co.post("/meetings/" + id + "/agenda/prefill", json::object()), 200);
  EXPECT_EQ(again["prefilled"], 1);
  EXPECT_EQ(again["agenda"].size(), 4u);

  // Minutes, decisions, action items.
  auto minuted = expect_status(
      co.patch(
          "/meetings/" + id,
          {{"minutes",
            "Anwesend: Koordinierungsstellen Kreis und Rheine, Jobcenter.\n"
            "B2-Kurse: Bedarf im Norden bestätigt."},
           {"decisions", {{{"text", "Bedarf an den Lenkungskreis geben"}, {"challenge_id", a}}}}}),
      200);
  EXPECT_THAT(minuted["minutes"].get<std::string>(), HasSubstr("Bedarf im Norden"));
  EXPECT_EQ(minuted["decisions"][0]["challenge_id"], a);
  auto with_item = expect_status(
      co.post("/meetings/" + id + "/action-items", {{"title",
                                                     "Träger für B2-Kurs mit Kinderbetreuung "
                                                     "anfragen"},
                                                    {"owner", "co-rheine"},
                                                    {"due_on", date_in_days(30)}}),
      201);
  ASSERT_EQ(with_item["action_items"].size(), 1u);
  const std::string item = with_item["action_items"][0]["id"];
  EXPECT_EQ(with_item["action_items"][0]["owner"], "co-rheine");
  EXPECT_EQ(with_item["action_items"][0]["status"], "open");
  auto done = expect_status(
      co.patch("/meetings/" + id + "/action-items/" + item, {{"status", "done"}}), 200);
  EXPECT_EQ(done["action_items"][0]["status"], "done");

  // The next step of the challenge: a proposal, escalated to the steering group.
  move(a, {{"to", "proposal"}, {"proposal", "Kurs mit Kinderbetreuung in Ochtrup ab März"}});
  auto escalated = move(a, {{"to", "escalated"}, {"body", steering}});
  EXPECT_EQ(escalated["body"]["id"], steering);

  // Members read: Rheine's office (a member partner) and a member user.
  auto read = co_rheine.read("/meetings/" + id);
  EXPECT_EQ(read["action_items"][0]["status"], "done");
  Api member(*host_, "cm-emsdetten-1");
  EXPECT_EQ(member.read("/meetings/" + id)["id"], id);
  EXPECT_EQ(member.read("/bodies/" + group + "/meetings")["items"].size(), 1u);
}

TEST_F(SteeringTest, ChallengeHoldsNoPersonalData) {
  const Case c = open_case();
  ASSERT_FALSE(c.id.empty());
  Api cm(*host_, "cm-greven");
  const std::string given = c.person["given_names"], family = c.person["family_name"];
  const std::vector<std::pair<json, std::string>> refused = {
      {challenge_body("Frau " + family + " findet keinen Kurs."), "description"},
      {challenge_body("Für " + given + " gibt es keinen Kurs."), "description"},
      {with(challenge_body(), {{"topic", "Kurs für " + family}}), "topic"},
      {challenge_body("Kein Kurs (Teilnehmerin geb. 01.01.1990)"), "description"},
      {challenge_body("Kein Kurs (geb. 1.1.1990)"), "description"},
      {challenge_body("Kein Kurs für Jahrgang 1990-01-01"), "description"},
  };
  auto before = cm.read("/challenges")["items"].size();
  for (const auto& [body, field] : refused) {
    auto response = cm.post("/cases/" + c.id + "/challenges", body);
    EXPECT_EQ(response.status, 400) << body.dump() << " " << response.body;
    EXPECT_EQ(code_of(response), "personal_data");
    EXPECT_EQ(field_of(response), field);
  }
  // The name in other spelling (case, umlauts) is the same name.
  auto upper =
      cm.post("/cases/" + c.id + "/challenges", challenge_body("KEIN KURS FÜR " + family + "."));
  EXPECT_EQ(upper.status, 400) << upper.body;
  EXPECT_EQ(cm.read("/challenges")["items"].size(), before);

  const std::string id = raise(c.id);
  auto own = cm.read("/challenges/" + id);
  EXPECT_EQ(own["case_ref"], c.id);
  EXPECT_EQ(own["town"], "Greven");  // the case's town by default
  // The county's office supervises DRK Greven and reads the case: it sees the reference.
  EXPECT_EQ(co.read("/challenges/" + id)["case_ref"], c.id);
  // Rheine's office may not read the case: nothing in the challenge identifies it.
  auto other = co_rheine.read("/challenges/" + id);
  EXPECT_FALSE(other.contains("case_ref"));
  EXPECT_THAT(other.dump(), Not(HasSubstr(c.id)));
  // Nor who raised it: the case manager's name is shown only beside the case reference.
  ASSERT_EQ(other["history"].size(), 1u);
  EXPECT_EQ(other["history"][0]["by_user"], nullptr);
  EXPECT_THAT(other.dump(), Not(HasSubstr("cm-greven")));
  EXPECT_EQ(co.read("/challenges/" + id)["history"][0]["by_user"], "cm-greven");
  EXPECT_EQ(cm.read("/challenges/" + id)["history"][0]["by_user"], "cm-greven");
  EXPECT_THAT(co_rheine.get("/challenges").body, Not(HasSubstr(c.id)));
  // Another case manager does not see it at all; nor can they raise one from a case not theirs.
  Api stranger(*host_, "cm-rheine-1");
  EXPECT_EQ(stranger.get("/challenges/" + id).status, 404);
  EXPECT_EQ(stranger.post("/cases/" + c.id + "/challenges", challenge_body()).status, 404);
  // Coordinators do not raise challenges from cases.
  EXPECT_EQ(co.post("/cases/" + c.id + "/challenges", challenge_body()).status, 403);
}

// Names of two letters are names; name particles ("da") are not checked on their own. What a
// coordinator writes into a challenge raised from a case (theme, proposal, note) is checked as
// the case manager's text is.
TEST_F(SteeringTest, ChallengeTextsOfEveryStepHoldNoPersonalData) {
  const std::string group = monthly();
  const Case c = open_case("cm-greven", {{"given_names", "Maria da Qzlu"}, {"family_name", "Li"}});
  ASSERT_FALSE(c.id.empty());
  Api cm(*host_, "cm-greven");
  const auto before = cm.read("/challenges");
  auto two_letters = cm.post("/cases/" + c.id + "/challenges",
                             challenge_body("Frau Li findet keinen Kurs in der Nähe."));
  EXPECT_EQ(two_letters.status, 400) << two_letters.body;
  EXPECT_EQ(code_of(two_letters), "personal_data");
  EXPECT_EQ(field_of(two_letters), "description");
  EXPECT_EQ(cm.read("/challenges"), before);
  // "da" is a particle of her name and a common word: not a reason to refuse.
  const std::string id =
      raise(c.id, "cm-greven", challenge_body("Kein B2-Kurs, da die Kinderbetreuung fehlt."));
  ASSERT_FALSE(id.empty());

  struct Row {
    json body;
    std::string field;
  };
  auto refuse_all = [&](const std::vector<Row>& rows) {
    for (const auto& row : rows) {
      const json unchanged = co.read("/challenges/" + id);
      auto response = co.post("/challenges/" + id + "/transitions", row.body);
      EXPECT_EQ(response.status, 400) << row.body.dump() << " " << response.body;
      EXPECT_EQ(code_of(response), "personal_data") << row.body.dump();
      EXPECT_EQ(field_of(response), row.field) << row.body.dump();
      EXPECT_EQ(co.read("/challenges/" + id), unchanged) << row.body.dump();
    }
  };
  refuse_all({
      {{{"to", "clustered"}, {"cluster", "Kurse für Frau Li"}}, "cluster"},
      {{{"to", "clustered"}, {"cluster", "Sprache"}, {"note", "Qzlu wartet"}}, "note"},
      {{{"to", "assigned"}, {"body", group}, {"note", "geb. 1.1.1990"}}, "note"},
  });
  move(id, {{"to", "assigned"}, {"body", group}});
  refuse_all({
      {{{"to", "proposal"}, {"proposal", "Kurs für Maria ab März"}}, "proposal"},
      {{{"to", "proposal"}, {"proposal", "Kurs ab März"}, {"note", "LI fragt nach"}}, "note"},
  });
  move(id, {{"to", "proposal"}, {"proposal", "Kurs ab März, da Bedarf besteht"}});
  refuse_all({
      {{{"to", "closed"}, {"outcome", "resolved"}, {"note", "Für 1990-01-01 gelöst"}}, "note"},
  });
  EXPECT_EQ(move(id, {{"to", "closed"}, {"outcome", "resolved"}, {"note", "Kurs läuft"}})["status"],
            "closed");
}

// A person of whom only the birth year is known (as after anonymisation) has no birth date to
// look for: raising and moving a challenge from their case works, and the year is no date.
TEST_F(SteeringTest, ChallengeFromAPersonWithOnlyABirthYear) {
  const Case c = open_case();
  ASSERT_FALSE(c.id.empty());
  {
    auto db = store::Connection::open(host_->database(), SQLITE_OPEN_READWRITE);
    sqlite3_busy_timeout(db.raw(), 10000);
    db.execute("UPDATE persons SET date_of_birth = '1987' WHERE id = ?",
               {c.person["id"].get<std::string>()});
  }
  const std::string id = raise(c.id, "cm-greven", challenge_body("Kein Kurs für Jahrgang 1987."));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(
      move(id, {{"to", "clustered"}, {"cluster", "Sprache"}, {"note", "seit 1987"}})["status"],
      "clustered");
  // The name is still checked.
  Api cm(*host_, "cm-greven");
  auto named =
      cm.post("/cases/" + c.id + "/challenges",
              challenge_body("Kein Kurs für " + c.person["family_name"].get<std::string>()));
  EXPECT_EQ(named.status, 400) << named.body;
  EXPECT_EQ(code_of(named), "personal_data");
}

// Challenges go to and are moved in the bodies of those who run them: a coordinator who only
// reads a body (a member user) neither assigns nor escalates to it, and nobody moves a challenge
// assigned to a body they do not run. Meetings: the body is checked before the input.
TEST_F(SteeringTest, ChallengesMoveOnlyInBodiesTheCallerRuns) {
  const std::string group = monthly();  // Rheine's office is a member: co-rheine runs it
  const std::string county_only = create_body(
      {{"name", "AG Arbeit"}, {"kind", "thematic_working_group"}, {"topic", "Arbeitsmarkt"}});
  const std::string county_steering =
      create_body({{"name", "Lenkungskreis Kreis intern"}, {"kind", "steering_group"}});
  const Case c = open_case();
  const std::string hidden = raise(c.id);  // assigned to a body co-rheine does not see
  move(hidden, {{"to", "assigned"}, {"body", county_only}});
  const std::string open = raise(c.id);
  const std::string in_group = raise(c.id);
  expect_status(co_rheine.post("/challenges/" + in_group + "/transitions",
                               {{"to", "assigned"}, {"body", group}}),
                200);

  struct Row {
    std::string id;
    json body;
    int status;
  };
  auto refuse_all = [&](const std::vector<Row>& rows) {
    for (const auto& row : rows) {
      const json unchanged = co.read("/challenges/" + row.id);
      auto response = co_rheine.post("/challenges/" + row.id + "/transitions", row.body);
      EXPECT_EQ(response.status, row.status) << row.body.dump() << " " << response.body;
      EXPECT_EQ(co.read("/challenges/" + row.id), unchanged) << row.body.dump();
    }
  };
  // Not a member at all: the body is not one co-rheine may see (400); the challenge assigned to
  // it is not co-rheine's to move (403), whatever the input.
  refuse_all({
      {open, {{"to", "assigned"}, {"body", county_only}}, 400},
      {hidden, {{"to", "closed"}, {"outcome", "resolved"}}, 403},
      {hidden, {{"to", "reopened"}}, 403},
  });
  EXPECT_EQ(co_rheine.post("/meetings", {{"body", county_only}}).status, 404);

  // A member user reads the bodies but does not run them (403).
  for (const auto& body : {county_only, county_steering}) {
    expect_status(co.post("/bodies/" + body + "/members", {{"user", "co-rheine"}}), 201);
    EXPECT_EQ(co_rheine.read("/bodies/" + body)["may_write"], false);
  }
  refuse_all({
      {open, {{"to", "assigned"}, {"body", county_only}}, 403},
      {hidden, {{"to", "proposal"}, {"proposal", "Neuer Kurs"}}, 403},
      {in_group, {{"to", "escalated"}, {"body", county_steering}}, 403},
  });
  const json meetings = co.read("/meetings");
  for (const json& body : {json{{"body", county_only}}, json{{"body", county_only}, {"date", "x"}},
                           json{{"body", county_only},
                                {"date", "2026-12-10"},
                                {"agenda", {{{"title", "x"}, {"challenge_id", "chl_unknown"}}}}}}) {
    auto refused = co_rheine.post("/meetings", body);
    EXPECT_EQ(refused.status, 403) << body.dump() << " " << refused.body;
  }
  EXPECT_EQ(co.read("/meetings"), meetings);

  // Those who run the bodies do all of it.
  move(open, {{"to", "assigned"}, {"body", county_only}});
  move(in_group, {{"to", "escalated"}, {"body", county_steering}});
  move(hidden, {{"to", "closed"}, {"outcome", "resolved"}});
  // The county's steering group is retired again: other cases escalate to the only active one.
  expect_status(co.patch("/bodies/" + county_steering, {{"active", false}}), 200);
}

// Each allowed step of the status machine, from a fresh challenge along `path`.
TEST_F(SteeringTest, ChallengeTransitionsAllowed) {
  const std::string group = monthly();
  const std::string steering = steering_group();
  const json to_clustered = {{"to", "clustered"}, {"cluster", "Sprache"}};
  const json to_assigned = {{"to", "assigned"}, {"body", group}};
  const json to_proposal = {{"to", "proposal"}, {"proposal", "Neuer Kurs"}};
  const json to_escalated = {{"to", "escalated"}, {"body", steering}};
  const json to_closed = {{"to", "closed"}, {"outcome", "resolved"}, {"note", "Kurs läuft"}};
  const std::vector<std::vector<json>> paths = {
      {to_clustered, to_assigned, to_proposal, to_escalated, to_closed},
      {to_assigned, to_escalated, to_proposal, to_assigned, to_closed},
      {to_closed},
      {to_clustered, to_closed},
      {to_assigned, to_proposal, to_closed},
      {to_assigned,
       to_proposal,
       to_escalated,
       {{"to", "closed"}, {"outcome", "not_solvable_locally"}}},
      {to_assigned, to_escalated, {{"to", "closed"}, {"outcome", "structural_change_proposed"}}},
  };
  const Case c = open_case();
  std::vector<std::string> ids;
  for (const auto& path : paths) {
    const std::string id = raise(c.id);
    ids.push_back(id);
    for (const auto& step : path) {
      auto moved = move(id, step);
      ASSERT_EQ(moved["status"], step["to"]) << step.dump();
    }
    auto done = co.read("/challenges/" + id);
    EXPECT_EQ(done["history"].size(), path.size() + 1);
    EXPECT_EQ(done["allowed_transitions"], json::array());
  }
  // The first path's challenge as the closed ones are listed (other cases close theirs too).
  json first;
  const json closed = co.read("/challenges?status=closed");
  for (const auto& item : closed["items"])
    if (item["id"] == ids.front()) first = item;
  ASSERT_TRUE(first.is_object());
  EXPECT_EQ(first["outcome"], "resolved");
  EXPECT_EQ(first["outcome_note"], "Kurs läuft");
  EXPECT_EQ(first["cluster"], "Sprache");
}

TEST_F(SteeringTest, ChallengeTransitionsRefusedChangeNothing) {
  const std::string group = monthly();
  const std::string thematic = create_body(
      {{"name", "AG Wohnen"}, {"kind", "thematic_working_group"}, {"topic", "Wohnraum"}});
  const Case c = open_case();
  const std::string open = raise(c.id);
  const std::string closed = raise(c.id);
  move(closed, {{"to", "closed"}, {"outcome", "resolved"}});
  struct Row {
    std::string id;
    json body;
    int status;
    std::string code;
    std::string field;
  };
  const std::vector<Row> rows = {
      {open, {{"to", "proposal"}, {"proposal", "x"}}, 409, "transition_not_allowed", "to"},
      {open, {{"to", "escalated"}}, 409, "transition_not_allowed", "to"},
      {open, {{"to", "open"}}, 409, "transition_not_allowed", "to"},
      {closed, {{"to", "assigned"}, {"body", group}}, 409, "transition_not_allowed", "to"},
      {closed, {{"to", "open"}}, 409, "transition_not_allowed", "to"},
      {open, {{"to", "clustered"}}, 400, "invalid_field", "cluster"},
      // A theme is given when clustering, with no other step.
      {open,
       {{"to", "assigned"}, {"body", group}, {"cluster", "x"}},
       400,
       "invalid_field",
       "cluster"},
      {open,
       {{"to", "closed"}, {"outcome", "resolved"}, {"cluster", "x"}},
       400,
       "invalid_field",
       "cluster"},
      {open, {{"to", "assigned"}}, 400, "invalid_field", "body"},
      {open, {{"to", "assigned"}, {"body", "body_unknown"}}, 400, "invalid_field", "body"},
      {open, {{"to", "closed"}}, 400, "invalid_field", "outcome"},
      {open, {{"to", "closed"}, {"outcome", "solved"}}, 400, "invalid_field", "outcome"},
      {open,
       {{"to", "assigned"}, {"body", group}, {"outcome", "resolved"}},
       400,
       "invalid_field",
       "outcome"},
      {open, {{"to", "reopened"}}, 400, "invalid_field", "to"},
      {open,
       {{"to", "clustered"}, {"cluster", "x"}, {"colour", "red"}},
       400,
       kUnknownKey,
       "colour"},
  };
  for (const auto& row : rows) {
    const json before = co.read("/challenges/" + row.id);
    auto response = co.post("/challenges/" + row.id + "/transitions", row.body);
    EXPECT_EQ(response.status, row.status) << row.body.dump() << " " << response.body;
    EXPECT_EQ(code_of(response), row.code) << row.body.dump();
    EXPECT_EQ(field_of(response), row.field) << row.body.dump();
    EXPECT_EQ(co.read("/challenges/" + row.id), before) << row.body.dump();
  }
  // 409 names the allowed steps.
  auto refused = co.post("/challenges/" + open + "/transitions", {{"to", "proposal"}});
  EXPECT_EQ(error_of(refused)["details"]["allowed"], json({"clustered", "assigned", "closed"}));
  // Escalation goes to a steering group only.
  const std::string assigned = raise(c.id);
  move(assigned, {{"to", "assigned"}, {"body", group}});
  const json before = co.read("/challenges/" + assigned);
  auto wrong = co.post("/challenges/" + assigned + "/transitions",
                       {{"to", "escalated"}, {"body", thematic}});
  EXPECT_EQ(wrong.status, 400) << wrong.body;
  EXPECT_EQ(field_of(wrong), "body");
  EXPECT_EQ(co.read("/challenges/" + assigned), before);
  // Case managers do not move challenges.
  Api cm(*host_, "cm-greven");
  EXPECT_EQ(cm.post("/challenges/" + assigned + "/transitions", {{"to", "closed"}}).status, 403);
  EXPECT_EQ(co.read("/challenges/" + assigned), before);
}

TEST_F(SteeringTest, BodyAndMeetingValidationChangesNothing) {
  const std::string group = monthly();
  struct Row {
    std::string path;
    json body;
    int status;
    std::string code;
    std::string field;
  };
  const auto bodies_before = co.read("/bodies");
  const std::vector<Row> body_rows = {
      {"/bodies", {{"kind", "monthly_working_group"}}, 400, "invalid_field", "name"},
      {"/bodies", {{"name", "AK"}, {"kind", "book_club"}}, 400, "invalid_field", "kind"},
      {"/bodies",
       {{"name", "AG"}, {"kind", "thematic_working_group"}},
       400,
       "invalid_field",
       "topic"},
      {"/bodies",
       {{"name", "AK"}, {"kind", "steering_group"}, {"members", {{{"partner", "no-such"}}}}},
       400,
       "invalid_field",
       "members[0].partner"},
      {"/bodies",
       {{"name", "AK"}, {"kind", "steering_group"}, {"members", {{{"user", "nobody"}}}}},
       400,
       "invalid_field",
       "members[0].user"},
      {"/bodies",
       {{"name", "AK"},
        {"kind", "steering_group"},
        {"members", {{{"user", "co-rheine"}, {"partner", kJobcenter}}}}},
       400,
       "invalid_field",
       "members[0].partner"},
      {"/bodies",
       {{"name", "AK"},
        {"kind", "steering_group"},
        {"members", {{{"partner", kJobcenter}}, {{"partner", kJobcenter}}}}},
       409,
       "already_member",
       "members[1]"},
      {"/bodies",
       {{"name", "AK"}, {"kind", "steering_group"}, {"colour", "red"}},
       400,
       kUnknownKey,
       "colour"},
      {"/bodies",
       {{"name", "AK"}, {"kind", "steering_group"}, {"organisation", "drk-greven"}},
       400,
       "invalid_field",
       "organisation"},
      {"/bodies/" + group + "/members",
       {{"partner", kJobcenter}},
       409,
       "already_member",
       "partner"},
      {"/bodies/" + group + "/members", json::object(), 400, "invalid_field", "partner"},
  };
  for (const auto& row : body_rows) {
    auto response = co.post(row.path, row.body);
    EXPECT_EQ(response.status, row.status) << row.body.dump() << " " << response.body;
    EXPECT_EQ(code_of(response), row.code) << row.body.dump();
    EXPECT_EQ(field_of(response), row.field) << row.body.dump();
  }
  EXPECT_EQ(co.read("/bodies"), bodies_before);
  auto kind_change = co.patch("/bodies/" + group, {{"kind", "steering_group"}});
  EXPECT_EQ(kind_change.status, 400);
  EXPECT_EQ(field_of(kind_change), "kind");
  EXPECT_EQ(co.read("/bodies"), bodies_before);

  // Meetings.
  const auto meetings_before = co.read("/meetings");
  const std::vector<Row> meeting_rows = {
      {"/meetings", {{"body", group}}, 400, "invalid_field", "date"},
      {"/meetings", {{"body", group}, {"date", "2026-02-30"}}, 400, "invalid_field", "date"},
      {"/meetings", {{"body", "body_unknown"}, {"date", "2026-12-10"}}, 404, "not_found", ""},
      {"/meetings",
       {{"body", group}, {"date", "2026-12-10"}, {"agenda", {{{"title", ""}}}}},
       400,
       "invalid_field",
       "agenda[0].title"},
      {"/meetings",
       {{"body", group},
        {"date", "2026-12-10"},
        {"agenda", {{{"title", "x"}, {"challenge_id", "chl_unknown"}}}}},
       400,
       "invalid_field",
       "agenda[0].challenge_id"},
  };
  for (const auto& row : meeting_rows) {
    auto response = co.post(row.path, row.body);
    EXPECT_EQ(response.status, row.status) << row.body.dump() << " " << response.body;
    EXPECT_EQ(code_of(response), row.code) << row.body.dump();
    if (!row.field.empty()) {
      EXPECT_EQ(field_of(response), row.field) << row.body.dump();
    }
  }
  EXPECT_EQ(co.read("/meetings"), meetings_before);

  // An action item: unknown owner, bad date; a done item is final.
  auto meeting =
      expect_status(co.post("/meetings", {{"body", group}, {"date", "2026-12-10"}}), 201);
  const std::string id = meeting["id"];
  auto no_owner = co.post("/meetings/" + id + "/action-items",
                          {{"title", "x"}, {"owner", "nobody"}, {"due_on", "2027-01-01"}});
  EXPECT_EQ(no_owner.status, 400);
  EXPECT_EQ(field_of(no_owner), "owner");
  auto bad_due = co.post("/meetings/" + id + "/action-items",
                         {{"title", "x"}, {"owner", "co-kreis"}, {"due_on", "soon"}});
  EXPECT_EQ(bad_due.status, 400);
  EXPECT_EQ(field_of(bad_due), "due_on");
  EXPECT_EQ(co.read("/meetings/" + id)["action_items"], json::array());
  auto item =
      expect_status(co.post("/meetings/" + id + "/action-items",
                            {{"title", "x"}, {"owner", "co-kreis"}, {"due_on", "2027-01-01"}}),
                    201);
  const std::string item_id = item["action_items"][0]["id"];
  const std::string item_path = "/meetings/" + id + "/action-items/" + item_id;
  // A PATCH that gives nothing (null is "not given") changes nothing.
  const json open_item = co.read("/meetings/" + id);
  for (const json& change : {json::object(), json{{"title", nullptr}, {"owner", nullptr}},
                             json{{"status", nullptr}, {"due_on", nullptr}}}) {
    auto refused = co.patch(item_path, change);
    EXPECT_EQ(refused.status, 400) << change.dump() << " " << refused.body;
    EXPECT_EQ(code_of(refused), "invalid_field");
    EXPECT_EQ(co.read("/meetings/" + id), open_item) << change.dump();
  }
  expect_status(co.patch(item_path, {{"status", "dropped"}}), 200);
  const json dropped = co.read("/meetings/" + id);
  // Dropped is final: no change at all, not even to the status it has.
  for (const json& change :
       {json{{"status", "open"}}, json{{"status", "done"}}, json{{"status", "dropped"}},
        json{{"title", "y"}}, json{{"status", "dropped"}, {"due_on", "2027-02-01"}}}) {
    auto refused = co.patch(item_path, change);
    EXPECT_EQ(refused.status, 409) << change.dump() << " " << refused.body;
    EXPECT_EQ(code_of(refused), "action_item_closed") << change.dump();
  }
  auto bad_status = co.patch(item_path, {{"status", "finished"}});
  EXPECT_EQ(bad_status.status, 400);
  EXPECT_EQ(co.read("/meetings/" + id), dropped);

  // A meeting's lists are kept when a PATCH gives them as null; a PATCH that gives nothing is
  // refused.
  expect_status(co.patch("/meetings/" + id, {{"agenda", {{{"title", "Begrüßung"}}}},
                                             {"decisions", {{{"text", "Weiter so"}}}}}),
                200);
  const json listed = co.read("/meetings/" + id);
  for (const json& change :
       {json{{"agenda", nullptr}}, json{{"decisions", nullptr}},
        json{{"agenda", nullptr}, {"decisions", nullptr}, {"title", nullptr}}, json::object()}) {
    auto refused = co.patch("/meetings/" + id, change);
    EXPECT_EQ(refused.status, 400) << change.dump() << " " << refused.body;
    EXPECT_EQ(code_of(refused), "invalid_field");
    EXPECT_EQ(co.read("/meetings/" + id), listed) << change.dump();
  }
  auto minutes_only =
      expect_status(co.patch("/meetings/" + id, {{"agenda", nullptr}, {"minutes", "Kurz."}}), 200);
  EXPECT_EQ(minutes_only["agenda"], listed["agenda"]);
  EXPECT_EQ(minutes_only["decisions"], listed["decisions"]);
  EXPECT_EQ(minutes_only["minutes"], "Kurz.");

  // A retired body holds no new meetings.
  const std::string retired =
      create_body({{"name", "AG Alt"}, {"kind", "thematic_working_group"}, {"topic", "Alt"}});
  expect_status(co.patch("/bodies/" + retired, {{"active", false}}), 200);
  const auto before_retired = co.read("/meetings");
  auto inactive = co.post("/meetings", {{"body", retired}, {"date", "2026-12-10"}});
  EXPECT_EQ(inactive.status, 409);
  EXPECT_EQ(code_of(inactive), "body_inactive");
  EXPECT_EQ(co.read("/meetings"), before_retired);

  // A raised challenge: bad life domain or town, unknown key.
  const Case c = open_case();
  Api cm(*host_, "cm-greven");
  const auto challenges_before = cm.read("/challenges");
  for (const auto& [body, field] : std::vector<std::pair<json, std::string>>{
           {with(challenge_body(), {{"life_domain", "weather"}}), "life_domain"},
           {with(challenge_body(), {{"town", "Berlin"}}), "town"},
           {without(challenge_body(), "description"), "description"},
           {with(challenge_body(), {{"person", "x"}}), "person"}}) {
    auto response = cm.post("/cases/" + c.id + "/challenges", body);
    EXPECT_EQ(response.status, 400) << body.dump();
    EXPECT_EQ(field_of(response), field);
  }
  EXPECT_EQ(cm.read("/challenges"), challenges_before);
}

TEST_F(SteeringTest, WhoMayRunAndReadBodies) {
  const std::string group = monthly();
  // A thematic group of the county without Rheine: Rheine's coordinator does not see it.
  const std::string county_only = create_body({{"name", "AG Gesundheit"},
                                               {"kind", "thematic_working_group"},
                                               {"topic", "Gesundheitsversorgung"}});
  auto meeting =
      expect_status(co.post("/meetings", {{"body", county_only}, {"date", "2026-12-11"}}), 201);
  const std::string meeting_id = meeting["id"];
  const json body_before = co.read("/bodies/" + county_only);
  const json meeting_before = co.read("/meetings/" + meeting_id);

  EXPECT_EQ(co_rheine.get("/bodies/" + county_only).status, 404);
  EXPECT_EQ(co_rheine.patch("/bodies/" + county_only, {{"name", "x"}}).status, 404);
  EXPECT_EQ(co_rheine.post("/bodies/" + county_only + "/members", {{"user", "co-rheine"}}).status,
            404);
  EXPECT_EQ(co_rheine.post("/meetings", {{"body", county_only}, {"date", "2026-12-12"}}).status,
            404);
  EXPECT_EQ(co_rheine.get("/meetings/" + meeting_id).status, 404);
  EXPECT_EQ(co_rheine.patch("/meetings/" + meeting_id, {{"minutes", "x"}}).status, 404);
  EXPECT_THAT(co_rheine.get("/bodies").body, Not(HasSubstr(county_only)));
  EXPECT_THAT(co_rheine.get("/meetings").body, Not(HasSubstr(meeting_id)));
  // Nor does it convene bodies for the county's office.
  auto foreign = co_rheine.post(
      "/bodies", {{"name", "AK"}, {"kind", "steering_group"}, {"organisation", kOffice}});
  EXPECT_EQ(foreign.status, 403);
  // Rheine's office is a member of the monthly group: it runs it with the county.
  EXPECT_EQ(co_rheine.read("/bodies/" + group)["may_write"], true);

  // A case manager who is a member reads, never runs; other case managers see nothing.
  Api member(*host_, "cm-emsdetten-1");
  auto read = member.read("/bodies/" + group);
  EXPECT_EQ(read["may_write"], false);
  EXPECT_EQ(member.patch("/bodies/" + group, {{"name", "x"}}).status, 403);
  EXPECT_EQ(member.post("/bodies", {{"name", "AK"}, {"kind", "steering_group"}}).status, 403);
  EXPECT_EQ(member.post("/meetings", {{"body", group}, {"date", "2026-12-12"}}).status, 403);
  EXPECT_EQ(member.post("/meetings/" + meeting_id + "/agenda/prefill", json::object()).status, 403);
  Api outsider(*host_, "cm-rheine-1");
  EXPECT_EQ(outsider.get("/bodies/" + group).status, 404);
  EXPECT_EQ(outsider.read("/bodies")["items"], json::array());
  EXPECT_EQ(co.read("/bodies/" + county_only), body_before);
  EXPECT_EQ(co.read("/meetings/" + meeting_id), meeting_before);

  // Members are added and removed by those who run the body; admins run every body.
  auto added =
      expect_status(co.post("/bodies/" + county_only + "/members", {{"user", "cm-rheine-1"}}), 201);
  EXPECT_EQ(outsider.read("/bodies/" + county_only)["id"], county_only);
  std::string member_id;
  for (const auto& m : added["members"])
    if (m.contains("user") && m["user"]["name"] == "cm-rheine-1") member_id = m["id"];
  ASSERT_FALSE(member_id.empty());
  EXPECT_EQ(
      co_rheine
          .send("DELETE", "/bodies/" + county_only + "/members/" + member_id, json::object(), {})
          .status,
      404);
  auto removed =
      admin.send("DELETE", "/bodies/" + county_only + "/members/" + member_id, json::object(), {});
  EXPECT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(outsider.get("/bodies/" + county_only).status, 404);
  EXPECT_EQ(
      admin.send("DELETE", "/bodies/" + county_only + "/members/" + member_id, json::object(), {})
          .status,
      404);
  // Auditors have no business here.
  Api auditor(*host_, "auditor");
  EXPECT_EQ(auditor.get("/bodies").status, 403);
}

TEST_F(SteeringTest, SuggestionsComeFromReferralGaps) {
  auto suggestions = co.read("/challenges/suggestions");
  ASSERT_TRUE(suggestions.contains("items"));
  EXPECT_TRUE(suggestions["items"].is_array());
  Api cm(*host_, "cm-greven");
  EXPECT_EQ(cm.get("/challenges/suggestions").status, 403);
  EXPECT_EQ(co.get("/challenges/suggestions?town=Greven").status, 400);
}

}  // namespace
}  // namespace kim::test
