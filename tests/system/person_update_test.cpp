// Correcting a participant's record (PATCH /api/v1/persons/{id}) over HTTP against the real kim:
// who may change it, the same field rules as recording it, the duplicate check for changed names
// or birth dates, an audit entry per change; every refused change leaves the record as it was.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/kim_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;

TEST(PersonUpdateTest, CorrectionsFollowTheRecordingRulesAndChangeNothingWhenRefused) {
  KimHost host;
  Api cm(host, "cm-rheine-1");
  auto person = host.create_person("cm-rheine-1", {{"given_names", "Samira"},
                                                   {"family_name", "Yousef"},
                                                   {"date_of_birth", "1988-02-03"},
                                                   {"gender", "female"},
                                                   {"arrival_date", "2019-05-01"}});
  ASSERT_TRUE(person.is_object());
  const std::string path = "/persons/" + person["id"].get<std::string>();

  // Contact details and residence status change; the rest stays.
  auto changed = cm.patch(path, {{"contact", {{"phone", "+49 5971 123456"}}},
                                 {"residence_status", "settlement_permit"}});
  ASSERT_EQ(changed.status, 200) << changed.body;
  json current = cm.read(path);
  EXPECT_EQ(current["contact"], json({{"phone", "+49 5971 123456"}}));
  EXPECT_EQ(current["residence_status"], "settlement_permit");
  EXPECT_EQ(current["given_names"], "Samira");
  EXPECT_EQ(current["arrival_date"], "2019-05-01");
  // null clears what is optional.
  auto cleared = cm.patch(path, {{"arrival_date", nullptr}});
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  current = cm.read(path);
  EXPECT_TRUE(current["arrival_date"].is_null());

  struct Row {
    const char* what;
    json body;
    const char* code;
    const char* field;
  };
  const std::vector<Row> bad = {
      {"unknown field", {{"nickname", "Sami"}}, "unknown_field", "nickname"},
      {"id is not a field", {{"id", "per_other"}}, "unknown_field", "id"},
      {"town outside the county", {{"town", "Münster"}}, "invalid_field", "town"},
      {"birth in the future",
       {{"date_of_birth", date_in_days(2)}},
       "invalid_field",
       "date_of_birth"},
      {"arrival before birth", {{"arrival_date", "1980-01-01"}}, "invalid_field", "arrival_date"},
      {"household relation",
       {{"household", {{{"relation", "cousin"}, {"birth_year", 2010}}}}},
       "invalid_field",
       "household[0].relation"},
      {"null name", {{"family_name", nullptr}}, "invalid_field", "family_name"},
      {"empty name", {{"given_names", " "}}, "invalid_field", "given_names"},
      {"contact not an object", {{"contact", "0170"}}, "invalid_field", "contact"},
      {"contact unknown key", {{"contact", {{"fax", "1"}}}}, "unknown_field", "contact.fax"},
      {"nationality code", {{"nationalities", {"Syria"}}}, "invalid_field", "nationalities[0]"},
  };
  for (const auto& row : bad) {
    SCOPED_TRACE(row.what);
    auto refused = cm.patch(path, row.body);
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(code_of(refused), row.code) << refused.body;
    EXPECT_EQ(field_of(refused), row.field) << refused.body;
    EXPECT_EQ(cm.read(path), current);
  }

  // Who may change it: the recording organisation (also a colleague), or the case manager of an
  // open case; others do not see the person (404) or may not change records at all (403).
  Api colleague(host, "cm-rheine-2");
  auto by_colleague = colleague.patch(path, {{"languages", {"ar", "de"}}});
  EXPECT_EQ(by_colleague.status, 200) << by_colleague.body;
  current = cm.read(path);
  Api greven(host, "cm-greven");
  EXPECT_EQ(greven.patch(path, {{"languages", {"fa"}}}).status, 404);
  for (const char* user : {"co-rheine", "admin", "officer"}) {
    auto response = host.client().request("PATCH", "/api/v1" + path,
                                          json{{"languages", {"fa"}}}.dump(), host.token(user));
    EXPECT_EQ(response.status, 403) << user << ": " << response.body;
  }
  EXPECT_EQ(cm.read(path), current);

  // A person linked into another organisation's open case: its case manager may correct it; after
  // the case is closed, no longer (the record stays readable through the closed case).
  Api emsdetten(host, "cm-emsdetten-1");
  ASSERT_TRUE(host.link_person("co-kreis", "diakonie-emsdetten", person["id"], "cm-rheine-1"));
  auto linked = host.open_case("cm-emsdetten-1", person["id"]);
  // One open case per person: Rheine has none, so Emsdetten's is the open one.
  ASSERT_TRUE(linked.is_object());
  auto by_case_manager = emsdetten.patch(path, {{"town", "Emsdetten"}});
  EXPECT_EQ(by_case_manager.status, 200) << by_case_manager.body;
  auto closing = emsdetten.post("/cases/" + linked["id"].get<std::string>() + "/transitions",
                                {{"to", "closed"}, {"reason", "moved_away"}});
  ASSERT_EQ(closing.status, 200) << closing.body;
  current = cm.read(path);
  auto after_closure = emsdetten.patch(path, {{"town", "Greven"}});
  EXPECT_EQ(after_closure.status, 403) << after_closure.body;
  EXPECT_EQ(cm.read(path), current);
  // Another organisation's open case gives Emsdetten no right, and its id does not surface.
  ASSERT_TRUE(host.link_person("co-kreis", "drk-greven", person["id"], "cm-rheine-1"));
  auto elsewhere = host.open_case("cm-greven", person["id"]);
  ASSERT_TRUE(elsewhere.is_object());
  auto with_open_case_elsewhere = emsdetten.patch(path, {{"town", "Greven"}});
  EXPECT_EQ(with_open_case_elsewhere.status, 403) << with_open_case_elsewhere.body;
  EXPECT_EQ(with_open_case_elsewhere.body.find(elsewhere["id"].get<std::string>()),
            std::string::npos);
  current = cm.read(path);

  // Names changed to those of another known person: the duplicate warning again, unless confirmed.
  auto other = host.create_person(
      "cm-rheine-1",
      {{"given_names", "Amal"}, {"family_name", "Yousef"}, {"date_of_birth", "1988-02-03"}});
  ASSERT_TRUE(other.is_object());
  auto duplicate = cm.patch(path, {{"given_names", "Amal"}});
  EXPECT_EQ(duplicate.status, 409) << duplicate.body;
  EXPECT_EQ(code_of(duplicate), "possible_duplicate");
  EXPECT_EQ(error_of(duplicate)["details"]["candidates"][0]["id"], other["id"]);
  EXPECT_EQ(cm.read(path), current);
  auto confirmed = cm.patch(path, {{"given_names", "Amal"}, {"confirm_new_person", true}});
  EXPECT_EQ(confirmed.status, 200) << confirmed.body;
  EXPECT_EQ(cm.read(path)["given_names"], "Amal");

  // Every accepted change is audited; the refused ones are not.
  auto trail = host.client().get("/api/v1/audit?limit=1000", host.token("auditor"));
  ASSERT_EQ(trail.status, 200) << trail.body;
  int updates = 0;
  for (json items = trail.json()["items"]; auto& entry : items) {
    if (entry["object_type"] == "person" && entry["object_id"] == person["id"] &&
        entry["action"] == "update") {
      ++updates;
    }
  }
  EXPECT_EQ(updates, 5);  // contact, arrival cleared, colleague, Emsdetten, confirmed name
}

}  // namespace
}  // namespace kim::test
