// The case-management API over HTTP against the real kim binary: phase transitions and their
// preconditions, optimistic concurrency, the duplicate check across organisations, the rule
// against double funding, and the task and case lists. Refused requests must change nothing.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sqlite3.h>

#include "store/sqlite.hpp"
#include "support/http_client.hpp"
#include "support/kim_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

std::int64_t count_rows(const KimHost& host, const std::string& table,
                        const std::string& where = "1") {
  auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
  return db.query("SELECT count(*) AS n FROM " + table + " WHERE " + where)[0]["n"]
      .get<std::int64_t>();
}

std::string code_of(const HttpResult& response) {
  json body = json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("error")) return "<no error>";
  return body["error"].value("code", "<no code>");
}

std::string field_of(const HttpResult& response) {
  json body = json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("error")) return "<no error>";
  return body["error"].value("field", "<no field>");
}

std::string etag(std::int64_t version) {
  return "\"" + std::to_string(version) + "\"";
}

// A case manager's view of the API: paths relative to /api/v1.
class Session {
 public:
  Session(const KimHost& host, const std::string& user)
      : client_(host.client()), token_(host.token(user)) {}

  HttpResult get(const std::string& path) { return client_.get("/api/v1" + path, token_); }
  HttpResult post(const std::string& path, const json& body,
                  const std::map<std::string, std::string>& headers = {}) {
    return client_.request("POST", "/api/v1" + path, body.dump(), token_, headers);
  }
  HttpResult patch(const std::string& path, const json& body,
                   const std::map<std::string, std::string>& headers = {}) {
    return client_.request("PATCH", "/api/v1" + path, body.dump(), token_, headers);
  }
  HttpResult move(const std::string& case_id, const json& body) {
    return post("/cases/" + case_id + "/transitions", body);
  }

  json person(json overrides = json::object()) {
    json body = {{"given_names", "Person" + std::to_string(++counter_)},
                 {"family_name", "Test"},
                 {"date_of_birth", "1990-01-01"},
                 {"town", "Rheine"},
                 {"residence_status", "residence_permit"}};
    for (auto& [key, value] : overrides.items())
      body[key] = value;
    auto response = post("/persons", body);
    EXPECT_EQ(response.status, 201) << response.body;
    return response.status == 201 ? response.json() : json::object();
  }
  // A new person and a case for it; returns the case id ("" after a failure).
  std::string new_case(const std::string& phase = "intake") {
    json body = {{"person_id", person().value("id", "")}};
    if (phase == "access") body["phase"] = "access";
    auto response = post("/cases", body);
    EXPECT_EQ(response.status, 201) << response.body;
    return response.status == 201 ? response.json()["id"].get<std::string>() : "";
  }
  std::string add_task(const std::string& case_id, const std::string& due) {
    auto response = post("/cases/" + case_id + "/tasks",
                         {{"description", "Follow up " + due}, {"due_date", due}});
    EXPECT_EQ(response.status, 201) << response.body;
    return response.status == 201 ? response.json()["id"].get<std::string>() : "";
  }
  void assess(const std::string& case_id, const std::string& level = "high") {
    auto response = post("/cases/" + case_id + "/assessments",
                         {{"domains", {{{"life_domain", "language"}, {"need_level", level}}}}});
    EXPECT_EQ(response.status, 201) << response.body;
  }
  std::string add_goal(const std::string& case_id) {
    auto response = post("/cases/" + case_id + "/goals", {{"life_domain", "language"},
                                                          {"description", "B1 certificate"},
                                                          {"due_date", "2027-06-30"}});
    EXPECT_EQ(response.status, 201) << response.body;
    return response.status == 201 ? response.json()["id"].get<std::string>() : "";
  }
  // Takes an open case from intake (or access) to `phase` the regular way.
  void drive_to(const std::string& case_id, const std::string& phase) {
    static const std::vector<std::string> kPath = {
        "access", "intake", "assessment", "planning", "linking", "monitoring", "reassessment"};
    std::string current = get("/cases/" + case_id).json()["phase"];
    auto step = std::find(kPath.begin(), kPath.end(), current);
    ASSERT_NE(step, kPath.end()) << current;
    for (++step; current != phase && step != kPath.end(); ++step) {
      if (*step == "planning") assess(case_id);
      if (*step == "linking") add_goal(case_id);
      auto response = move(case_id, {{"to", *step}});
      ASSERT_EQ(response.status, 200) << current << " -> " << *step << ": " << response.body;
      current = *step;
    }
    ASSERT_EQ(current, phase);
  }

 private:
  HttpClient client_;
  std::string token_;
  static inline int counter_ = 0;
};

// ---- transitions ------------------------------------------------------------------------------

TEST(CaseApiTest, TransitionNotAllowedListsTheAllowedPhases) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  const std::string id = cm.new_case();
  auto before = cm.get("/cases/" + id);
  EXPECT_EQ(before.json()["allowed_transitions"], json({"assessment", "closed"}));

  for (const char* to : {"planning", "intake", "reassessment", "access"}) {
    SCOPED_TRACE(to);
    auto refused = cm.move(id, {{"to", to}});
    EXPECT_EQ(refused.status, 409) << refused.body;
    EXPECT_EQ(code_of(refused), "transition_not_allowed");
    EXPECT_EQ(field_of(refused), "to");
    EXPECT_EQ(refused.json()["error"]["details"]["allowed"], json({"assessment", "closed"}));
  }
  EXPECT_EQ(cm.get("/cases/" + id).json(), before.json());
  EXPECT_EQ(count_rows(host, "case_transitions"), 0);

  const std::string from_access = cm.new_case("access");
  auto early = cm.move(from_access, {{"to", "assessment"}});
  EXPECT_EQ(early.status, 409) << early.body;
  EXPECT_EQ(early.json()["error"]["details"]["allowed"], json({"intake", "closed"}));

  ASSERT_EQ(cm.move(id, {{"to", "closed"}, {"reason", "no_contact"}}).status, 200);
  auto from_closed = cm.move(id, {{"to", "planning"}});
  EXPECT_EQ(from_closed.status, 409) << from_closed.body;
  EXPECT_EQ(from_closed.json()["error"]["details"]["allowed"], json({"assessment"}));
  EXPECT_EQ(cm.get("/cases/" + id).json()["phase"], "closed");
}

TEST(CaseApiTest, PlanningNeedsAnAssessment) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  const std::string id = cm.new_case();
  cm.drive_to(id, "assessment");
  auto before = cm.get("/cases/" + id);

  auto refused = cm.move(id, {{"to", "planning"}});
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_EQ(code_of(refused), "assessment_missing");
  auto after = cm.get("/cases/" + id);
  EXPECT_EQ(after.headers["etag"], before.headers["etag"]);
  EXPECT_EQ(after.json(), before.json());

  cm.assess(id);
  auto planned = cm.move(id, {{"to", "planning"}});
  EXPECT_EQ(planned.status, 200) << planned.body;
  EXPECT_EQ(planned.json()["phase"], "planning");
}

TEST(CaseApiTest, MonitoringNeedsAGoalThatIsNotDropped) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  const std::string id = cm.new_case();
  cm.drive_to(id, "planning");

  auto refused = cm.move(id, {{"to", "monitoring"}});
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_EQ(code_of(refused), "goal_missing");

  const std::string goal = cm.add_goal(id);
  auto dropped = cm.patch("/cases/" + id + "/goals/" + goal, {{"status", "dropped"}});
  ASSERT_EQ(dropped.status, 200) << dropped.body;
  auto before = cm.get("/cases/" + id);
  auto still_refused = cm.move(id, {{"to", "monitoring"}});
  EXPECT_EQ(still_refused.status, 422) << still_refused.body;
  EXPECT_EQ(code_of(still_refused), "goal_missing");
  EXPECT_EQ(cm.get("/cases/" + id).json(), before.json());

  cm.add_goal(id);
  auto monitoring = cm.move(id, {{"to", "monitoring"}});
  EXPECT_EQ(monitoring.status, 200) << monitoring.body;
  EXPECT_EQ(monitoring.json()["phase"], "monitoring");
}

TEST(CaseApiTest, ClosingWorksFromEveryOpenPhaseWithAReason) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  const std::vector<std::string> kOpenPhases = {"access",  "intake",     "assessment",  "planning",
                                                "linking", "monitoring", "reassessment"};
  for (const auto& phase : kOpenPhases) {
    SCOPED_TRACE(phase);
    const std::string id = cm.new_case(phase == "access" ? "access" : "intake");
    cm.drive_to(id, phase);
    auto closed = cm.move(id, {{"to", "closed"}, {"reason", "moved_away"}, {"note", "to Köln"}});
    ASSERT_EQ(closed.status, 200) << closed.body;
    EXPECT_EQ(closed.json()["phase"], "closed");
    EXPECT_EQ(closed.json()["closure_reason"], "moved_away");
    EXPECT_EQ(closed.json()["closure_note"], "to Köln");
    EXPECT_TRUE(closed.json()["closed_on"].is_string());
    EXPECT_EQ(closed.json()["allowed_transitions"], json({"assessment"}));
    EXPECT_EQ(closed.headers["etag"], etag(closed.json()["version"]));
  }
  EXPECT_EQ(count_rows(host, "cases", "phase = 'closed' AND closure_reason = 'moved_away'"),
            static_cast<std::int64_t>(kOpenPhases.size()));
}

TEST(CaseApiTest, ReopenedCaseIsOpenAgainAndStartsANewAssessmentRound) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  const std::string id = cm.new_case();
  cm.drive_to(id, "assessment");
  cm.assess(id);
  ASSERT_EQ(cm.move(id, {{"to", "closed"}, {"reason", "declined"}}).status, 200);
  const std::string person_id = cm.get("/cases/" + id).json()["person"]["id"];

  auto reopened = cm.move(id, {{"to", "assessment"}});
  ASSERT_EQ(reopened.status, 200) << reopened.body;
  EXPECT_EQ(reopened.json()["phase"], "assessment");
  EXPECT_TRUE(reopened.json()["closed_on"].is_null());
  EXPECT_TRUE(reopened.json()["closure_reason"].is_null());
  EXPECT_EQ(reopened.json()["allowed_transitions"], json({"planning", "closed"}));
  auto listed = cm.get("/cases?phase=assessment").json()["items"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["id"], id);
  EXPECT_TRUE(cm.get("/cases?phase=closed").json()["items"].empty());

  // Open again: no second case for the person, and the earlier round's assessment does not count.
  auto second = cm.post("/cases", {{"person_id", person_id}});
  EXPECT_EQ(second.status, 409) << second.body;
  EXPECT_EQ(code_of(second), "case_already_open");
  auto planning = cm.move(id, {{"to", "planning"}});
  EXPECT_EQ(planning.status, 422) << planning.body;
  EXPECT_EQ(code_of(planning), "assessment_missing");
  cm.assess(id, "medium");
  EXPECT_EQ(cm.move(id, {{"to", "planning"}}).status, 200);
}

TEST(CaseApiTest, ReassessmentRoundKeepsTheEarlierAssessment) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  const std::string id = cm.new_case();
  cm.drive_to(id, "monitoring");  // records a first assessment: language high
  ASSERT_EQ(cm.move(id, {{"to", "reassessment"}}).status, 200);

  auto too_early = cm.move(id, {{"to", "planning"}});
  EXPECT_EQ(too_early.status, 422) << too_early.body;
  EXPECT_EQ(code_of(too_early), "assessment_missing");

  auto recorded =
      cm.post("/cases/" + id + "/assessments",
              {{"domains",
                {{{"life_domain", "language"}, {"need_level", "low"}, {"summary", "B1 reached"}},
                 {{"life_domain", "housing"}, {"need_level", "medium"}}}}});
  ASSERT_EQ(recorded.status, 201) << recorded.body;
  EXPECT_EQ(recorded.json()["kind"], "reassessment");
  EXPECT_EQ(cm.move(id, {{"to", "planning"}}).status, 200);

  auto listed = cm.get("/cases/" + id + "/assessments");
  ASSERT_EQ(listed.status, 200) << listed.body;
  auto items = listed.json()["items"];
  ASSERT_EQ(items.size(), 2u) << listed.body;
  EXPECT_EQ(items[0]["kind"], "assessment");
  ASSERT_EQ(items[0]["domains"].size(), 1u);
  EXPECT_EQ(items[0]["domains"][0]["need_level"], "high");
  EXPECT_EQ(items[1]["id"], recorded.json()["id"]);
  EXPECT_EQ(items[1]["kind"], "reassessment");
  ASSERT_EQ(items[1]["domains"].size(), 2u);
  EXPECT_EQ(items[1]["domains"][1]["life_domain"], "language");
  EXPECT_EQ(items[1]["domains"][1]["summary"], "B1 reached");
}

// The rule "one open KIM case per person" also holds when a closed case is reopened.
TEST(CaseApiTest, ReopenIsRefusedWhileThePersonHasAnotherOpenCase) {
  KimHost host;
  Session rheine(host, "cm-rheine-1");
  Session greven(host, "cm-greven");
  const std::string first = rheine.new_case();
  const std::string person_id = rheine.get("/cases/" + first).json()["person"]["id"];
  ASSERT_EQ(rheine.move(first, {{"to", "closed"}, {"reason", "moved_away"}}).status, 200);
  ASSERT_TRUE(host.link_person("co-kreis", "drk-greven", person_id, "cm-rheine-1"));
  auto second = greven.post("/cases", {{"person_id", person_id}});
  ASSERT_EQ(second.status, 201) << second.body;
  auto before = rheine.get("/cases/" + first);

  auto reopened = rheine.move(first, {{"to", "assessment"}});
  EXPECT_EQ(reopened.status, 409) << reopened.body;
  EXPECT_EQ(code_of(reopened), "case_already_open");
  EXPECT_EQ(rheine.get("/cases/" + first).json(), before.json());
  EXPECT_EQ(count_rows(host, "cases", "person_id = '" + person_id + "' AND phase <> 'closed'"), 1);
}

// The rule against double funding also holds when a closed case is reopened.
TEST(CaseApiTest, ReopenIsRefusedDuringAnExcludingProgramme) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  const std::string id = cm.new_case();
  const std::string person_id = cm.get("/cases/" + id).json()["person"]["id"];
  ASSERT_EQ(cm.move(id, {{"to", "closed"}, {"reason", "referred_to_other_case_management"}}).status,
            200);
  auto participation = cm.post("/persons/" + person_id + "/participations",
                               {{"programme", "gemeinsam_klappts"}, {"started_on", "2024-01-08"}});
  ASSERT_EQ(participation.status, 201) << participation.body;
  auto before = cm.get("/cases/" + id);

  auto reopened = cm.move(id, {{"to", "assessment"}});
  EXPECT_EQ(reopened.status, 422) << reopened.body;
  EXPECT_EQ(code_of(reopened), "double_funding");
  EXPECT_EQ(cm.get("/cases/" + id).json(), before.json());
}

// ---- optimistic concurrency -------------------------------------------------------------------

TEST(CaseApiTest, IfMatchGuardsEveryCaseWrite) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  const std::string id = cm.new_case();
  const std::string base = "/cases/" + id;
  const json note = {{"occurred_on", "2024-05-02"}, {"kind", "phone"}, {"text", "Called"}};

  auto first = cm.get(base);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.headers["etag"], etag(1));
  EXPECT_EQ(first.json()["version"], 1);

  auto written = cm.post(base + "/notes", note, {{"If-Match", etag(1)}});
  ASSERT_EQ(written.status, 201) << written.body;
  EXPECT_EQ(written.headers["etag"], etag(2));
  auto current = cm.get(base);
  EXPECT_EQ(current.headers["etag"], etag(2));
  EXPECT_EQ(current.json()["version"], 2);

  // Stale: nothing changes, whichever write it is.
  for (const auto& [path, body] : std::vector<std::pair<std::string, json>>{
           {base + "/notes", note},
           {base + "/transitions", {{"to", "assessment"}}},
           {base + "/tasks", {{"description", "Call back"}, {"due_date", "2027-01-01"}}}}) {
    SCOPED_TRACE(path);
    auto stale = cm.post(path, body, {{"If-Match", etag(1)}});
    EXPECT_EQ(stale.status, 412) << stale.body;
    EXPECT_EQ(code_of(stale), "precondition_failed");
    EXPECT_EQ(stale.json()["error"]["details"]["current_version"], 2);
  }
  // Malformed: refused before anything is read.
  for (const char* tag : {"abc", "\"0\"", "\"-1\"", "\"2", "\"2\", \"3\"", "\"\""}) {
    SCOPED_TRACE(tag);
    auto malformed = cm.post(base + "/notes", note, {{"If-Match", tag}});
    EXPECT_EQ(malformed.status, 400) << malformed.body;
    EXPECT_EQ(code_of(malformed), "invalid_header");
    EXPECT_EQ(field_of(malformed), "If-Match");
  }
  auto after = cm.get(base);
  EXPECT_EQ(after.headers["etag"], etag(2));
  EXPECT_EQ(after.json(), current.json());
  EXPECT_EQ(cm.get(base + "/notes").json()["items"].size(), 1u);
  EXPECT_EQ(count_rows(host, "tasks"), 0);

  // The current version, also as a weak tag, lets the write through and bumps the tag.
  auto moved = cm.post(base + "/transitions", {{"to", "assessment"}}, {{"If-Match", "W/\"2\""}});
  EXPECT_EQ(moved.status, 200) << moved.body;
  EXPECT_EQ(moved.headers["etag"], etag(3));
  EXPECT_EQ(cm.get(base).headers["etag"], etag(3));
}

// ---- duplicate check --------------------------------------------------------------------------

json ozdemir(const std::string& given, const std::string& family, const std::string& town) {
  return {{"given_names", given},
          {"family_name", family},
          {"date_of_birth", "1985-07-01"},
          {"town", town},
          {"residence_status", "aufenthaltsgestattung"}};
}

TEST(CaseApiTest, DuplicateFromAnotherOrganisationIsRefusedUntilConfirmed) {
  KimHost host;
  Session rheine(host, "cm-rheine-1");
  Session greven(host, "cm-greven");
  auto first = rheine.post("/persons", ozdemir("Ali Reza", "Özdemir", "Rheine"));
  ASSERT_EQ(first.status, 201) << first.body;
  const std::string first_id = first.json()["id"];

  for (const auto& [given, family] :
       std::vector<std::pair<std::string, std::string>>{{"ALI REZA", "OEZDEMIR"},
                                                        {"ali reza", "özdemir"},
                                                        {"Özdemir", "Ali-Reza"},
                                                        {"Reza  Ali", "ÖZDEMIR"}}) {
    SCOPED_TRACE(given + " / " + family);
    auto refused = greven.post("/persons", ozdemir(given, family, "Greven"));
    EXPECT_EQ(refused.status, 409) << refused.body;
    EXPECT_EQ(code_of(refused), "possible_duplicate");
    // Recorded by another organisation: neither its id nor the organisation is named.
    EXPECT_EQ(refused.json()["error"]["details"]["candidates"], json::array()) << refused.body;
    EXPECT_EQ(refused.json()["error"]["details"]["known_elsewhere"], true);
    EXPECT_EQ(refused.body.find(first_id), std::string::npos);
  }
  EXPECT_EQ(count_rows(host, "persons"), 1);

  json confirmed = ozdemir("ALI REZA", "OEZDEMIR", "Greven");
  confirmed["confirm_new_person"] = true;
  auto second = greven.post("/persons", confirmed);
  ASSERT_EQ(second.status, 201) << second.body;
  EXPECT_NE(second.json()["id"], first_id);
  EXPECT_EQ(count_rows(host, "persons"), 2);
  EXPECT_EQ(count_rows(host, "person_duplicate_decisions",
                       "person_id = '" + second.json()["id"].get<std::string>() +
                           "' AND other_person_id = '" + first_id + "'"),
            1);

  // Now both are candidates, Rheine's own named; a different date of birth is nobody's duplicate.
  auto third = rheine.post("/persons", ozdemir("Ali Reza", "Oezdemir", "Rheine"));
  EXPECT_EQ(third.status, 409) << third.body;
  EXPECT_EQ(third.json()["error"]["details"]["candidates"].size(), 1u);
  EXPECT_EQ(third.json()["error"]["details"]["candidates"][0]["id"], first_id);
  EXPECT_EQ(third.json()["error"]["details"]["known_elsewhere"], true);
  json other_birthday = ozdemir("Ali Reza", "Özdemir", "Rheine");
  other_birthday["date_of_birth"] = "1985-07-02";
  EXPECT_EQ(rheine.post("/persons", other_birthday).status, 201);
  EXPECT_EQ(count_rows(host, "persons"), 3);
}

TEST(CaseApiTest, DuplicateCheckFoldsDecomposedUmlauts) {
  KimHost host;
  Session rheine(host, "cm-rheine-1");
  Session greven(host, "cm-greven");
  // "Özdemir" precomposed (U+00D6) and decomposed (O + U+0308), as macOS keyboards send it.
  ASSERT_EQ(rheine.post("/persons", ozdemir("Ali", "\xC3\x96zdemir", "Rheine")).status, 201);
  auto refused = greven.post("/persons", ozdemir("Ali", "O\xCC\x88zdemir", "Greven"));
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(code_of(refused), "possible_duplicate");
  EXPECT_EQ(count_rows(host, "persons"), 1);
}

TEST(CaseApiTest, OtherOrganisationLinksTheExistingPersonAndThenReadsIt) {
  KimHost host;
  Session rheine(host, "cm-rheine-1");
  Session greven(host, "cm-greven");
  Session emsdetten(host, "cm-emsdetten-1");
  auto first = rheine.post("/persons", ozdemir("Ali Reza", "Özdemir", "Rheine"));
  ASSERT_EQ(first.status, 201) << first.body;
  const std::string person_id = first.json()["id"];
  EXPECT_EQ(greven.get("/persons/" + person_id).status, 404);

  auto warned = greven.post("/persons", ozdemir("Ali Reza", "Oezdemir", "Greven"));
  ASSERT_EQ(warned.status, 409) << warned.body;
  ASSERT_EQ(warned.json()["error"]["details"]["known_elsewhere"], true);
  EXPECT_EQ(greven.post("/cases", {{"person_id", person_id}}).status, 404);

  // The county's coordinating office (supervising Greven) links the record after checking.
  ASSERT_TRUE(host.link_person("co-kreis", "drk-greven", person_id, "cm-rheine-1"));
  auto linked = greven.post("/cases", {{"person_id", person_id}, {"town", "Greven"}});
  ASSERT_EQ(linked.status, 201) << linked.body;
  EXPECT_EQ(linked.json()["person"]["id"], person_id);
  EXPECT_EQ(linked.json()["organisation"], "drk-greven");
  EXPECT_EQ(linked.json()["town"], "Greven");
  auto read = greven.get("/persons/" + person_id);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.json()["family_name"], "Özdemir");
  EXPECT_EQ(read.json()["organisation"], "caritas-rheine");
  EXPECT_EQ(emsdetten.get("/persons/" + person_id).status, 404);
  EXPECT_EQ(count_rows(host, "persons"), 1);
}

// ---- double funding ---------------------------------------------------------------------------

TEST(CaseApiTest, DoubleFundingBlocksTheCaseUntilTheSupervisorOverridesOnce) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  Session supervisor(host, "co-rheine");
  Session other_coordinator(host, "co-kreis");
  const std::string person_id = cm.person()["id"];
  auto participation = cm.post("/persons/" + person_id + "/participations",
                               {{"programme", "gemeinsam_klappts"}, {"started_on", "2024-01-08"}});
  ASSERT_EQ(participation.status, 201) << participation.body;
  EXPECT_EQ(participation.json()["excludes_kim_case"], true);

  auto blocked = cm.post("/cases", {{"person_id", person_id}});
  EXPECT_EQ(blocked.status, 422) << blocked.body;
  EXPECT_EQ(code_of(blocked), "double_funding");
  EXPECT_EQ(count_rows(host, "cases"), 0);

  const json justification = {{"justification", "Participation management ends this month"}};
  auto by_case_manager = cm.post("/persons/" + person_id + "/funding-overrides", justification);
  EXPECT_EQ(by_case_manager.status, 403) << by_case_manager.body;
  auto by_other =
      other_coordinator.post("/persons/" + person_id + "/funding-overrides", justification);
  EXPECT_EQ(by_other.status, 404) << by_other.body;
  EXPECT_EQ(count_rows(host, "funding_overrides"), 0);
  EXPECT_EQ(cm.post("/cases", {{"person_id", person_id}}).status, 422);

  auto granted = supervisor.post("/persons/" + person_id + "/funding-overrides", justification);
  ASSERT_EQ(granted.status, 201) << granted.body;
  auto opened = cm.post("/cases", {{"person_id", person_id}});
  ASSERT_EQ(opened.status, 201) << opened.body;
  EXPECT_EQ(opened.json()["funding_override"], granted.json()["id"]);

  // Used once: after closure the next case needs a new override.
  const std::string case_id = opened.json()["id"];
  ASSERT_EQ(cm.move(case_id, {{"to", "closed"}, {"reason", "goals_reached"}}).status, 200);
  auto again = cm.post("/cases", {{"person_id", person_id}});
  EXPECT_EQ(again.status, 422) << again.body;
  EXPECT_EQ(code_of(again), "double_funding");
  EXPECT_EQ(count_rows(host, "cases"), 1);
  auto regranted =
      supervisor.post("/persons/" + person_id + "/funding-overrides",
                      {{"justification", "Second hand-over agreed with the Jobcenter"}});
  ASSERT_EQ(regranted.status, 201) << regranted.body;
  auto reopened_case = cm.post("/cases", {{"person_id", person_id}});
  ASSERT_EQ(reopened_case.status, 201) << reopened_case.body;
  EXPECT_EQ(reopened_case.json()["funding_override"], regranted.json()["id"]);
}

TEST(CaseApiTest, OnlyACurrentExcludingParticipationBlocksTheCase) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  for (const json& participation :
       {json{{"programme", "gemeinsam_klappts"},
             {"started_on", "2023-01-09"},
             {"ended_on", "2024-06-30"}},
        json{{"programme", "gemeinsam_klappts"}, {"started_on", "2199-01-05"}},
        json{{"programme", "sgb2_case_management"}, {"started_on", "2024-01-08"}}}) {
    SCOPED_TRACE(participation.dump());
    const std::string person_id = cm.person()["id"];
    auto recorded = cm.post("/persons/" + person_id + "/participations", participation);
    ASSERT_EQ(recorded.status, 201) << recorded.body;
    auto opened = cm.post("/cases", {{"person_id", person_id}});
    EXPECT_EQ(opened.status, 201) << opened.body;
    if (opened.status == 201) {
      EXPECT_TRUE(opened.json()["funding_override"].is_null());
    }
  }
}

TEST(CaseApiTest, FundingOverrideNeedsAJustification) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  Session supervisor(host, "co-rheine");
  const std::string person_id = cm.person()["id"];
  for (const auto& [body, field] : std::vector<std::pair<json, std::string>>{
           {{{"justification", "ok"}}, "justification"},
           {{{"justification", ""}}, "justification"},
           {json::object(), "justification"},
           {{{"justification", "Hand-over agreed with the Jobcenter"}, {"until", "2027-01-01"}},
            "until"}}) {
    SCOPED_TRACE(body.dump());
    auto refused = supervisor.post("/persons/" + person_id + "/funding-overrides", body);
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(field_of(refused), field);
  }
  EXPECT_EQ(count_rows(host, "funding_overrides"), 0);
}

// "at least 10 letters": spaces between short words are not letters.
TEST(CaseApiTest, FundingOverrideJustificationCountsLettersNotSpaces) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  Session supervisor(host, "co-rheine");
  const std::string person_id = cm.person()["id"];
  auto refused = supervisor.post("/persons/" + person_id + "/funding-overrides",
                                 {{"justification", "ok ok ok ok"}});
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(field_of(refused), "justification");
  EXPECT_EQ(count_rows(host, "funding_overrides"), 0);
}

TEST(CaseApiTest, SecondOpenCaseForAPersonConflicts) {
  KimHost host;
  Session rheine(host, "cm-rheine-1");
  Session greven(host, "cm-greven");
  const std::string person_id = rheine.person()["id"];
  auto first = rheine.post("/cases", {{"person_id", person_id}});
  ASSERT_EQ(first.status, 201) << first.body;
  ASSERT_TRUE(host.link_person("co-kreis", "drk-greven", person_id, "cm-rheine-1"));
  for (Session* session : {&rheine, &greven}) {
    auto second = session->post("/cases", {{"person_id", person_id}});
    EXPECT_EQ(second.status, 409) << second.body;
    EXPECT_EQ(code_of(second), "case_already_open");
  }
  // Rheine learns where its own case is; Greven only that one exists elsewhere.
  EXPECT_NE(rheine.post("/cases", {{"person_id", person_id}}).body.find("Caritasverband Rheine"),
            std::string::npos);
  const std::string elsewhere = greven.post("/cases", {{"person_id", person_id}}).body;
  EXPECT_EQ(elsewhere.find("Caritasverband Rheine"), std::string::npos) << elsewhere;
  EXPECT_EQ(elsewhere.find("caritas-rheine"), std::string::npos) << elsewhere;
  EXPECT_EQ(count_rows(host, "cases"), 1);

  ASSERT_EQ(
      rheine
          .move(first.json()["id"].get<std::string>(), {{"to", "closed"}, {"reason", "moved_away"}})
          .status,
      200);
  auto after_closure = greven.post("/cases", {{"person_id", person_id}});
  EXPECT_EQ(after_closure.status, 201) << after_closure.body;
  EXPECT_EQ(count_rows(host, "cases"), 2);
}

// ---- tasks and lists --------------------------------------------------------------------------

// User ids by name, read as admin (independent of KimHost::user_id).
std::map<std::string, std::int64_t> user_ids(const KimHost& host) {
  auto client = host.client();
  auto response = client.get("/api/v1/users", host.token("admin"));
  EXPECT_EQ(response.status, 200) << response.body;
  std::map<std::string, std::int64_t> ids;
  const json users = response.json()["items"];
  for (const auto& user : users)
    ids[user["name"]] = user["id"];
  return ids;
}

std::vector<std::string> ids_of(const json& items) {
  std::vector<std::string> ids;
  for (const auto& item : items)
    ids.push_back(item["id"]);
  return ids;
}

TEST(CaseApiTest, TasksDueListsOnlyTheCaseManagersOwnOpenTasks) {
  KimHost host;
  // Diakonie Emsdetten works with team access: both case managers may read each other's cases.
  Session first(host, "cm-emsdetten-1");
  Session second(host, "cm-emsdetten-2");
  Session greven(host, "cm-greven");
  const std::string mine = first.new_case();
  const std::string overdue = first.add_task(mine, "2020-01-10");
  const std::string soon = first.add_task(mine, "2030-05-31");
  first.add_task(mine, "2030-06-01");  // not before the date
  first.add_task(mine, "2031-01-01");
  const std::string colleagues = second.new_case();
  const std::string colleague_task = second.add_task(colleagues, "2020-01-10");
  greven.add_task(greven.new_case(), "2020-01-10");
  ASSERT_EQ(first.get("/cases/" + colleagues).status, 200);  // readable, still not listed

  auto due = first.get("/tasks?due_before=2030-06-01");
  ASSERT_EQ(due.status, 200) << due.body;
  EXPECT_THAT(ids_of(due.json()["items"]), ElementsAre(overdue, soon));
  EXPECT_THAT(ids_of(first.get("/tasks").json()["items"]), ElementsAre(overdue));
  EXPECT_THAT(ids_of(second.get("/tasks?due_before=2030-06-01").json()["items"]),
              ElementsAre(colleague_task));

  auto done = first.patch("/cases/" + mine + "/tasks/" + overdue, {{"done", true}});
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_TRUE(done.json()["done_on"].is_string());
  EXPECT_THAT(ids_of(first.get("/tasks?due_before=2030-06-01").json()["items"]), ElementsAre(soon));
  EXPECT_TRUE(first.get("/tasks").json()["items"].empty());
}

TEST(CaseApiTest, OverdueTasksAreGroupedByCaseManager) {
  KimHost host;
  Session greven(host, "cm-greven");
  Session emsdetten_1(host, "cm-emsdetten-1");
  Session emsdetten_2(host, "cm-emsdetten-2");
  Session rheine(host, "cm-rheine-1");
  Session kreis(host, "co-kreis");  // supervises drk-greven and diakonie-emsdetten
  const std::string greven_a = greven.new_case();
  const std::string greven_b = greven.new_case();
  const std::string g1 = greven.add_task(greven_a, "2021-03-01");
  const std::string g2 = greven.add_task(greven_b, "2022-03-01");
  greven.add_task(greven_b, "2031-03-01");
  const std::string e1 = emsdetten_1.add_task(emsdetten_1.new_case(), "2023-03-01");
  const std::string done_case = emsdetten_2.new_case();
  const std::string e2 = emsdetten_2.add_task(done_case, "2023-03-01");
  ASSERT_EQ(emsdetten_2.patch("/cases/" + done_case + "/tasks/" + e2, {{"done", true}}).status,
            200);
  rheine.add_task(rheine.new_case(), "2021-03-01");  // not supervised by co-kreis

  auto grouped = kreis.get("/tasks/overdue");
  ASSERT_EQ(grouped.status, 200) << grouped.body;
  std::map<std::string, std::vector<std::string>> by_manager;
  const auto ids = user_ids(host);
  const json groups = grouped.json()["items"];  // kept: a range over a temporary dangles
  for (const auto& group : groups) {
    const std::string name = group["case_manager"]["name"];
    EXPECT_EQ(group["case_manager"]["id"], ids.at(name));
    EXPECT_EQ(group["count"], group["tasks"].size());
    for (const auto& task : group["tasks"]) {
      EXPECT_EQ(task["assignee_id"], ids.at(name));
      by_manager[name].push_back(task["id"]);
    }
  }
  EXPECT_EQ(by_manager, (std::map<std::string, std::vector<std::string>>{
                            {"cm-greven", {g1, g2}}, {"cm-emsdetten-1", {e1}}}));

  auto own = greven.get("/tasks/overdue");
  ASSERT_EQ(own.status, 200) << own.body;
  ASSERT_EQ(own.json()["items"].size(), 1u);
  EXPECT_EQ(own.json()["items"][0]["case_manager"]["name"], "cm-greven");
  EXPECT_EQ(own.json()["items"][0]["count"], 2);
}

TEST(CaseApiTest, OverdueFilterListsOnlyCasesWithOverdueOpenTasks) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  const std::string late = cm.new_case();
  cm.add_task(late, "2022-05-01");
  cm.add_task(late, "2031-05-01");
  const std::string future = cm.new_case();
  cm.add_task(future, "2031-05-01");
  const std::string done = cm.new_case();
  const std::string done_task = cm.add_task(done, "2022-05-01");
  ASSERT_EQ(cm.patch("/cases/" + done + "/tasks/" + done_task, {{"done", true}}).status, 200);
  const std::string without_tasks = cm.new_case();

  auto overdue = cm.get("/cases?overdue=true");
  ASSERT_EQ(overdue.status, 200) << overdue.body;
  EXPECT_THAT(ids_of(overdue.json()["items"]), ElementsAre(late));
  EXPECT_THAT(ids_of(cm.get("/cases?overdue=false").json()["items"]),
              ElementsAre(late, future, done, without_tasks));
}

// Follows next_cursor from the first page; returns the pages' ids.
std::vector<std::vector<std::string>> all_pages(Session& session, const std::string& query) {
  std::vector<std::vector<std::string>> pages;
  std::string cursor;
  for (int guard = 0; guard < 20; ++guard) {
    auto page = session.get("/cases?" + query + (cursor.empty() ? "" : "&cursor=" + cursor));
    EXPECT_EQ(page.status, 200) << page.body;
    if (page.status != 200) break;
    pages.push_back(ids_of(page.json()["items"]));
    if (!page.json().contains("next_cursor")) break;
    cursor = page.json()["next_cursor"];
  }
  return pages;
}

TEST(CaseApiTest, CursorPaginationReturnsEveryCaseExactlyOnce) {
  KimHost host;
  Session cm(host, "cm-rheine-1");
  Session colleague(host, "cm-rheine-2");  // same organisation, no team access
  Session supervisor(host, "co-rheine");
  std::vector<std::string> mine, all;
  for (int i = 0; i < 7; ++i) {
    mine.push_back(cm.new_case());
    all.push_back(mine.back());
    if (i % 3 == 1) all.push_back(colleague.new_case());
  }
  ASSERT_EQ(all.size(), 9u);

  auto pages = all_pages(cm, "limit=3");
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[0].size(), 3u);
  EXPECT_EQ(pages[1].size(), 3u);
  EXPECT_EQ(pages[2].size(), 1u);
  std::vector<std::string> seen;
  for (const auto& page : pages)
    seen.insert(seen.end(), page.begin(), page.end());
  EXPECT_EQ(seen, mine);

  // Nine cases in pages of three: the third page is full and the last.
  auto supervised = all_pages(supervisor, "limit=3");
  ASSERT_EQ(supervised.size(), 3u);
  seen.clear();
  for (const auto& page : supervised)
    seen.insert(seen.end(), page.begin(), page.end());
  EXPECT_EQ(seen, all);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 9u);
}

}  // namespace
}  // namespace kim::test
