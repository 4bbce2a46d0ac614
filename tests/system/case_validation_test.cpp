// Strict input validation of the case-management API over HTTP: every refused body or query names
// the offending input by its JSON path, and a refused request writes nothing.
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sqlite3.h>

#include "store/sqlite.hpp"
#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/kim_host.hpp"
#include "support/shared_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;

// Row counts of the tables a case-management request may write to.
std::map<std::string, std::int64_t> row_counts(const KimHost& host) {
  auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
  std::map<std::string, std::int64_t> counts;
  for (const char* table : {"persons", "person_duplicate_decisions", "programme_participations",
                            "funding_overrides", "cases", "case_transitions", "assessments",
                            "assessment_domains", "goals", "tasks", "notes"}) {
    counts[table] =
        db.query(std::string("SELECT count(*) AS n FROM ") + table)[0]["n"].get<std::int64_t>();
  }
  return counts;
}

// One refused request and the error it must produce. `field` empty: the error names no field.
struct Refusal {
  std::string name;
  std::string method;
  std::string target;  // absolute ("/api/...") or relative to the case ("/goals")
  std::string body;
  int status = 400;
  std::string code = "invalid_field";
  std::string field;
};

std::ostream& operator<<(std::ostream& out, const Refusal& refusal) {
  return out << refusal.name << ": " << refusal.method << " " << refusal.target << " "
             << refusal.body;
}

std::string refusal_name(const ::testing::TestParamInfo<Refusal>& info) {
  return info.param.name;
}

void expect_error(const HttpResult& response, const Refusal& refusal) {
  EXPECT_EQ(response.status, refusal.status) << response.body;
  json body = json::parse(response.body, nullptr, false);
  ASSERT_TRUE(body.is_object() && body.contains("error")) << response.body;
  EXPECT_EQ(body["error"].value("code", ""), refusal.code) << response.body;
  if (refusal.field.empty()) {
    EXPECT_FALSE(body["error"].contains("field")) << response.body;
  } else {
    EXPECT_EQ(body["error"].value("field", "<none>"), refusal.field) << response.body;
  }
}

// ---- POST /api/v1/persons ---------------------------------------------------------------------

json valid_person() {
  return {{"given_names", "Amina"},
          {"family_name", "Haddad"},
          {"date_of_birth", "1990-04-12"},
          {"town", "Rheine"},
          {"residence_status", "residence_permit"}};
}

Refusal person_with(std::string name, const std::string& key, json value, std::string field,
                    std::string code = "invalid_field") {
  json body = valid_person();
  body[key] = std::move(value);
  return {std::move(name), "POST",          "/api/v1/persons", body.dump(), 400,
          std::move(code), std::move(field)};
}

Refusal person_raw(std::string name, std::string body) {
  return {std::move(name), "POST", "/api/v1/persons", std::move(body), 400, "invalid_json", ""};
}

std::string repeat(const std::string& piece, int times) {
  std::string text;
  for (int i = 0; i < times; ++i)
    text += piece;
  return text;
}

std::vector<Refusal> person_refusals() {
  json no_family = valid_person();
  no_family.erase("family_name");
  return {
      person_with("UnknownField", "nickname", "Mina", "nickname", "unknown_field"),
      person_with("GivenNamesNumber", "given_names", 42, "given_names"),
      person_with("FamilyNameArray", "family_name", {"Haddad"}, "family_name"),
      person_with("DateOfBirthNumber", "date_of_birth", 19900412, "date_of_birth"),
      person_with("NationalitiesString", "nationalities", "SY", "nationalities"),
      person_with("HouseholdObject", "household", {{"relation", "child"}}, "household"),
      person_with("ConfirmNewPersonString", "confirm_new_person", "yes", "confirm_new_person"),
      person_with("DateFebruary30", "date_of_birth", "1990-02-30", "date_of_birth"),
      person_with("DateGermanNotation", "date_of_birth", "12.04.1990", "date_of_birth"),
      person_with("DateMonth13", "date_of_birth", "1990-13-01", "date_of_birth"),
      person_with("DateOfBirthInFuture", "date_of_birth", date_in_days(2), "date_of_birth"),
      person_with("GivenNames101Chars", "given_names", std::string(101, 'a'), "given_names"),
      person_with("FamilyName101Umlauts", "family_name", repeat("ü", 101), "family_name"),
      person_with("GivenNamesEmpty", "given_names", "", "given_names"),
      person_with("GivenNamesBlank", "given_names", "   ", "given_names"),
      person_with("GivenNamesNull", "given_names", nullptr, "given_names"),
      {"FamilyNameMissing", "POST", "/api/v1/persons", no_family.dump(), 400, "invalid_field",
       "family_name"},
      // Control characters, bidi overrides and invisible-only names (issue 9, item 7).
      person_with("GivenNamesNul", "given_names", std::string("Ami\0na", 6), "given_names"),
      person_with("FamilyNameEscape", "family_name", "Haddad\x1b[31m", "family_name"),
      person_with("FamilyNameC1Control", "family_name",
                  "Had\xc2\x85"
                  "dad",
                  "family_name"),
      person_with("GivenNamesDelete", "given_names", "Amina\x7f", "given_names"),
      person_with("GivenNamesBidiOverride", "given_names",
                  "\xe2\x80\xae"
                  "anima",
                  "given_names"),
      person_with("FamilyNameBidiIsolate", "family_name", "\xe2\x81\xa6Haddad\xe2\x81\xa9",
                  "family_name"),
      person_with("GivenNamesLineBreak", "given_names", "Amina\nHaddad", "given_names"),
      person_with("GivenNamesTab", "given_names", "Amina\tX", "given_names"),
      person_with("GivenNamesOnlyInvisible", "given_names", "\xe2\x80\x8b\xc2\xad", "given_names"),
      person_with("FamilyNameOnlyUnicodeSpace", "family_name", "\xc2\xa0\xe3\x80\x80",
                  "family_name"),
      person_with("ContactPhoneNul", "contact", {{"phone", std::string("05971\0", 6)}},
                  "contact.phone"),
      person_with("ContactAddressBidi", "contact", {{"address", "Markt 1\xe2\x80\xae"}},
                  "contact.address"),
      person_with("TownMuenster", "town", "Münster", "town"),
      person_with("TownLowerCase", "town", "rheine", "town"),
      person_with("ResidenceStatusUnknown", "residence_status", "tourist", "residence_status"),
      person_with("GenderUnknown", "gender", "m", "gender"),
      person_with("NationalityLowerCaseAlpha3", "nationalities", {"syr"}, "nationalities[0]"),
      person_with("NationalityWithDigit", "nationalities", {"SY", "XX1"}, "nationalities[1]"),
      person_with("NationalityTwice", "nationalities", {"SY", "SY"}, "nationalities[1]"),
      person_with("NationalityNumber", "nationalities", {7}, "nationalities[0]"),
      person_with("LanguageName", "languages", {"Arabic"}, "languages[0]"),
      person_with("HouseholdBadRelation", "household",
                  json::array({{{"relation", "cousin"}, {"birth_year", 2010}}}),
                  "household[0].relation"),
      person_with("HouseholdBirthYearString", "household",
                  json::array({{{"relation", "child"}, {"birth_year", 2012}},
                               {{"relation", "child"}, {"birth_year", "2015"}}}),
                  "household[1].birth_year"),
      person_with("HouseholdBirthYearOutOfRange", "household",
                  json::array({{{"relation", "parent"}, {"birth_year", 1850}}}),
                  "household[0].birth_year"),
      person_with("HouseholdMemberUnknownField", "household",
                  json::array({{{"relation", "spouse"}, {"birth_year", 1989}, {"name", "Omar"}}}),
                  "household[0].name", "unknown_field"),
      person_with("HouseholdMemberNotObject", "household", json::array({"spouse"}), "household[0]"),
      person_with("ArrivalBeforeBirth", "arrival_date", "1989-12-31", "arrival_date"),
      person_raw("InvalidJson", R"({"given_names": "Amina", )"),
      person_raw("EmptyBody", ""),
      person_raw("BodyArray", valid_person().dump().insert(0, "[") + "]"),
      person_raw("BodyString", R"("Amina Haddad")"),
  };
}

class CaseValidationPersonTest : public SharedHost<::testing::TestWithParam<Refusal>> {};

TEST_P(CaseValidationPersonTest, RefusedWithFieldPathAndNothingWritten) {
  const Refusal& refusal = GetParam();
  auto client = host_->client();
  auto before = row_counts(*host_);
  auto response =
      client.request(refusal.method, refusal.target, refusal.body, host_->token("cm-rheine-1"));
  expect_error(response, refusal);
  EXPECT_EQ(row_counts(*host_), before);
}

INSTANTIATE_TEST_SUITE_P(CaseValidation, CaseValidationPersonTest,
                         ::testing::ValuesIn(person_refusals()), refusal_name);

// The limits themselves are accepted: 100 characters (not bytes), a leap day, today.
TEST(CaseValidationTest, PersonAtTheLimitsIsAccepted) {
  KimHost host;
  auto client = host.client();
  json body = valid_person();
  body["given_names"] = repeat("Ä", 100);
  body["family_name"] = std::string(100, 'z');
  body["date_of_birth"] = "2000-02-29";
  body["arrival_date"] = "2000-02-29";
  body["nationalities"] = {"SY", "DE"};
  body["languages"] = {"ar", "prs"};
  body["household"] = json::array({{{"relation", "child"}, {"birth_year", 2020}}});
  auto created = client.post("/api/v1/persons", body, host.token("cm-rheine-1"));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["given_names"], body["given_names"]);
  EXPECT_EQ(created.json()["household"], body["household"]);

  json born_today = valid_person();
  born_today["given_names"] = "Neugeboren";
  born_today["date_of_birth"] = date_in_days(0);
  auto newborn = client.post("/api/v1/persons", born_today, host.token("cm-rheine-1"));
  // Near midnight UTC the host's "today" may already be tomorrow; never earlier.
  EXPECT_EQ(newborn.status, 201) << newborn.body;
  EXPECT_EQ(row_counts(host)["persons"], 2);
}

// ---- requests on a case -----------------------------------------------------------------------

std::vector<Refusal> case_refusals() {
  auto post = [](std::string name, std::string target, const json& body, std::string field,
                 std::string code = "invalid_field") {
    return Refusal{std::move(name), "POST",          std::move(target), body.dump(), 400,
                   std::move(code), std::move(field)};
  };
  auto patch = [](std::string name, std::string target, const json& body, std::string field,
                  std::string code = "invalid_field") {
    return Refusal{std::move(name), "PATCH",         std::move(target), body.dump(), 400,
                   std::move(code), std::move(field)};
  };
  auto get = [](std::string name, std::string target, std::string field,
                std::string code = "invalid_field") {
    return Refusal{std::move(name), "GET",           std::move(target), "", 400,
                   std::move(code), std::move(field)};
  };
  const json goal = {
      {"life_domain", "language"}, {"description", "B1"}, {"due_date", "2027-06-30"}};
  auto goal_with = [&](const char* key, json value) {
    json body = goal;
    body[key] = std::move(value);
    return body;
  };
  const json task = {{"description", "Call the school"}, {"due_date", "2027-01-15"}};
  const json note = {{"occurred_on", "2024-05-02"}, {"kind", "meeting"}, {"text", "First talk"}};
  auto note_with = [&](const char* key, json value) {
    json body = note;
    body[key] = std::move(value);
    return body;
  };
  return {
      // transitions (the case is in planning: linking, monitoring and closed are allowed)
      post("TransitionUnknownPhase", "/transitions", {{"to", "done"}}, "to"),
      post("TransitionMissingTo", "/transitions", json::object(), "to"),
      post("TransitionToNumber", "/transitions", {{"to", 3}}, "to"),
      post("TransitionCloseWithoutReason", "/transitions", {{"to", "closed"}}, "reason"),
      post("TransitionCloseUnknownReason", "/transitions", {{"to", "closed"}, {"reason", "bored"}},
           "reason"),
      post("TransitionReasonWhenNotClosing", "/transitions",
           {{"to", "linking"}, {"reason", "other"}}, "reason"),
      post("TransitionUnknownField", "/transitions", {{"to", "linking"}, {"by", "me"}}, "by",
           "unknown_field"),
      post("TransitionNoteTooLong", "/transitions",
           {{"to", "closed"}, {"reason", "other"}, {"note", std::string(2001, 'n')}}, "note"),
      Refusal{"TransitionInvalidJson", "POST", "/transitions", "{\"to\":", 400, "invalid_json", ""},
      // assessments
      post("AssessmentNoDomains", "/assessments", {{"domains", json::array()}}, "domains"),
      post("AssessmentDomainsMissing", "/assessments", json::object(), "domains"),
      post("AssessmentDomainTwice", "/assessments",
           {{"domains",
             {{{"life_domain", "language"}, {"need_level", "high"}},
              {{"life_domain", "housing"}, {"need_level", "low"}},
              {{"life_domain", "language"}, {"need_level", "low"}}}}},
           "domains[2].life_domain"),
      post("AssessmentBadNeedLevel", "/assessments",
           {{"domains", {{{"life_domain", "language"}, {"need_level", "urgent"}}}}},
           "domains[0].need_level"),
      post("AssessmentUnknownLifeDomain", "/assessments",
           {{"domains", {{{"life_domain", "hobbies"}, {"need_level", "low"}}}}},
           "domains[0].life_domain"),
      post("AssessmentSummaryTooLong", "/assessments",
           {{"domains",
             {{{"life_domain", "health"},
               {"need_level", "low"},
               {"summary", std::string(2001, 's')}}}}},
           "domains[0].summary"),
      // goals
      post("GoalUnknownLifeDomain", "/goals", goal_with("life_domain", "hobbies"), "life_domain"),
      post("GoalEmptyDescription", "/goals", goal_with("description", ""), "description"),
      post("GoalBadDueDate", "/goals", goal_with("due_date", "2027-06-31"), "due_date"),
      post("GoalUnknownField", "/goals", goal_with("status", "open"), "status", "unknown_field"),
      patch("GoalPatchUnknownStatus", "/goals/{goal}", {{"status", "finished"}}, "status"),
      patch("GoalPatchBlankDescription", "/goals/{goal}", {{"description", "  "}}, "description"),
      patch("GoalPatchBadDate", "/goals/{goal}", {{"due_date", "30.06.2027"}}, "due_date"),
      patch("GoalPatchUnknownField", "/goals/{goal}", {{"life_domain", "health"}}, "life_domain",
            "unknown_field"),
      // tasks
      post("TaskMissingDueDate", "/tasks", {{"description", "Call"}}, "due_date"),
      post("TaskDescriptionTooLong", "/tasks",
           {{"description", std::string(2001, 'd')}, {"due_date", "2027-01-15"}}, "description"),
      post("TaskForeignGoal", "/tasks",
           {{"description", "Call"}, {"due_date", "2027-01-15"}, {"goal_id", "goal_0000"}},
           "goal_id"),
      patch("TaskPatchDoneString", "/tasks/{task}", {{"done", "yes"}}, "done"),
      patch("TaskPatchEmpty", "/tasks/{task}", json::object(), "done"),
      // notes
      post("NoteInFuture", "/notes", note_with("occurred_on", date_in_days(2)), "occurred_on"),
      post("NoteTextTooLong", "/notes", note_with("text", std::string(10001, 't')), "text"),
      post("NoteUnknownKind", "/notes", note_with("kind", "email"), "kind"),
      post("NoteBadDate", "/notes", note_with("occurred_on", "2024-02-30"), "occurred_on"),
      // control characters and bidi overrides in free text; line breaks are fine (issue 9, 7)
      post("NoteTextNul", "/notes", note_with("text", std::string("First\0talk", 10)), "text"),
      post("NoteTextEscape", "/notes", note_with("text", "line\n\x1b[2J"), "text"),
      post("NoteTextBidiOverride", "/notes",
           note_with("text",
                     "invoice \xe2\x80\xae"
                     "fdp.exe"),
           "text"),
      post("NoteTextOnlyInvisible", "/notes", note_with("text", "\xe2\x80\x8b\n\xe2\x81\xa0"),
           "text"),
      post("GoalDescriptionC1", "/goals", goal_with("description", "B1\xc2\x9b"), "description"),
      post("TaskDescriptionBell", "/tasks",
           {{"description", "Call\x07"}, {"due_date", "2027-01-15"}}, "description"),
      post("TransitionNoteBidi", "/transitions",
           {{"to", "closed"}, {"reason", "other"}, {"note", "\xe2\x81\xa7x"}}, "note"),
      post("AssessmentSummaryNul", "/assessments",
           {{"domains",
             {{{"life_domain", "health"},
               {"need_level", "low"},
               {"summary", std::string("a\0", 2)}}}}},
           "domains[0].summary"),
      // query parameters
      get("ListPhaseFoo", "/api/v1/cases?phase=foo", "phase"),
      get("ListLimitZero", "/api/v1/cases?limit=0", "limit"),
      get("ListLimit201", "/api/v1/cases?limit=201", "limit"),
      get("ListLimitNotNumber", "/api/v1/cases?limit=3x", "limit"),
      get("ListCursorAbc", "/api/v1/cases?cursor=abc", "cursor"),
      get("ListCursorNegative", "/api/v1/cases?cursor=-1", "cursor"),
      get("ListTownUnknown", "/api/v1/cases?town=M%C3%BCnster", "town"),
      get("ListOverdueYes", "/api/v1/cases?overdue=yes", "overdue"),
      get("ListCaseManagerName", "/api/v1/cases?case_manager=cm-rheine-1", "case_manager"),
      get("ListUnknownParameter", "/api/v1/cases?sort=name", "sort", "unknown_parameter"),
      get("TasksDueBeforeBadDate", "/api/v1/tasks?due_before=2027-02-30", "due_before"),
      get("TasksUnknownParameter", "/api/v1/tasks?assignee=1", "assignee", "unknown_parameter"),
  };
}

// One shared case in planning with one goal and one task; every request below is refused.
class CaseValidationCaseTest : public ::testing::TestWithParam<Refusal> {
 protected:
  static void SetUpTestSuite() {
    host_ = std::make_unique<KimHost>();
    auto client = host_->client();
    const auto& cm = host_->token("cm-rheine-1");
    auto person = host_->create_person("cm-rheine-1");
    ASSERT_TRUE(person.contains("id"));
    auto opened = host_->open_case("cm-rheine-1", person["id"]);
    ASSERT_TRUE(opened.contains("id"));
    case_id_ = opened["id"];
    const std::string base = "/api/v1/cases/" + case_id_;
    ASSERT_EQ(client.post(base + "/transitions", {{"to", "assessment"}}, cm).status, 200);
    ASSERT_EQ(client
                  .post(base + "/assessments",
                        {{"domains", {{{"life_domain", "language"}, {"need_level", "high"}}}}}, cm)
                  .status,
              201);
    ASSERT_EQ(client.post(base + "/transitions", {{"to", "planning"}}, cm).status, 200);
    auto goal = client.post(
        base + "/goals",
        {{"life_domain", "language"}, {"description", "B1"}, {"due_date", "2027-06-30"}}, cm);
    ASSERT_EQ(goal.status, 201) << goal.body;
    goal_id_ = goal.json()["id"];
    auto task =
        client.post(base + "/tasks", {{"description", "Call"}, {"due_date", "2027-01-15"}}, cm);
    ASSERT_EQ(task.status, 201) << task.body;
    task_id_ = task.json()["id"];
  }
  static void TearDownTestSuite() { host_.reset(); }

  static std::string target_of(const Refusal& refusal) {
    if (refusal.target.rfind("/api/", 0) == 0) return refusal.target;
    std::string target = "/api/v1/cases/" + case_id_ + refusal.target;
    for (auto [placeholder, id] :
         {std::pair{std::string("{goal}"), goal_id_}, std::pair{std::string("{task}"), task_id_}}) {
      auto at = target.find(placeholder);
      if (at != std::string::npos) target.replace(at, placeholder.size(), id);
    }
    return target;
  }

  static inline std::unique_ptr<KimHost> host_;
  static inline std::string case_id_, goal_id_, task_id_;
};

TEST_P(CaseValidationCaseTest, RefusedWithFieldPathAndCaseUnchanged) {
  ASSERT_FALSE(case_id_.empty()) << "the shared case could not be set up";
  const Refusal& refusal = GetParam();
  auto client = host_->client();
  const auto& cm = host_->token("cm-rheine-1");
  const std::string case_path = "/api/v1/cases/" + case_id_;
  auto before = client.get(case_path, cm);
  ASSERT_EQ(before.status, 200) << before.body;
  auto counts = row_counts(*host_);

  auto response = client.request(refusal.method, target_of(refusal), refusal.body, cm);
  expect_error(response, refusal);

  auto after = client.get(case_path, cm);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.headers["etag"], before.headers["etag"]);
  EXPECT_EQ(after.json(), before.json());
  EXPECT_EQ(row_counts(*host_), counts);
}

INSTANTIATE_TEST_SUITE_P(CaseValidation, CaseValidationCaseTest,
                         ::testing::ValuesIn(case_refusals()), refusal_name);

// PATCH of a goal with nothing to change: refused, though no single field is at fault.
TEST(CaseValidationTest, GoalPatchWithoutAnyFieldIsRefused) {
  KimHost host;
  auto client = host.client();
  const auto& cm = host.token("cm-rheine-1");
  auto opened = host.open_case("cm-rheine-1", host.create_person("cm-rheine-1")["id"]);
  const std::string base = "/api/v1/cases/" + opened["id"].get<std::string>();
  ASSERT_EQ(client.post(base + "/transitions", {{"to", "assessment"}}, cm).status, 200);
  ASSERT_EQ(client
                .post(base + "/assessments",
                      {{"domains", {{{"life_domain", "housing"}, {"need_level", "low"}}}}}, cm)
                .status,
            201);
  ASSERT_EQ(client.post(base + "/transitions", {{"to", "planning"}}, cm).status, 200);
  auto goal = client.post(
      base + "/goals",
      {{"life_domain", "housing"}, {"description", "Own flat"}, {"due_date", "2027-03-31"}}, cm);
  ASSERT_EQ(goal.status, 201) << goal.body;
  const std::string goal_path = base + "/goals/" + goal.json()["id"].get<std::string>();
  auto before = client.get(base, cm);

  for (const char* body : {"{}", R"({"status": null, "description": null, "due_date": null})"}) {
    SCOPED_TRACE(body);
    auto response = client.request("PATCH", goal_path, body, cm);
    EXPECT_EQ(response.status, 400) << response.body;
    EXPECT_EQ(response.json()["error"]["code"], "invalid_field") << response.body;
  }
  auto after = client.get(base, cm);
  EXPECT_EQ(after.json(), before.json());
  auto goals = client.get(base + "/goals", cm).json()["items"];
  ASSERT_EQ(goals.size(), 1u);
  EXPECT_EQ(goals[0]["description"], "Own flat");
  EXPECT_EQ(goals[0]["status"], "open");
}

}  // namespace
}  // namespace kim::test
