// A person recorded by another organisation (issue 9, item 2): the duplicate warning names only
// what the caller may read, an id alone opens no case, and a coordinator of the caller's office
// links the record after matching names and date of birth (recorded and audited). One host.
#include <memory>
#include <string>

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

class PersonLinkTest : public SharedHost<> {
 protected:
  static std::int64_t count(const std::string& table, const std::string& where = "1") {
    auto db = store::Connection::open(host_->database(), SQLITE_OPEN_READONLY);
    return db.query("SELECT count(*) AS n FROM " + table + " WHERE " + where)[0]["n"]
        .get<std::int64_t>();
  }
  static json person(const std::string& given, const std::string& family, const std::string& born,
                     const std::string& town) {
    return {{"given_names", given},
            {"family_name", family},
            {"date_of_birth", born},
            {"town", town},
            {"residence_status", "duldung"}};
  }
};

TEST_F(PersonLinkTest, ForeignPersonIsNeitherNamedNorOpenedByItsId) {
  Api rheine(*host_, "cm-rheine-1");
  Api greven(*host_, "cm-greven");
  auto recorded = rheine.post("/persons", person("Samir", "Nouri", "1979-03-04", "Rheine"));
  ASSERT_EQ(recorded.status, 201) << recorded.body;
  const std::string id = recorded.json()["id"];

  // The duplicate warning: someone elsewhere, but neither the id nor the organisation.
  auto warned = greven.post("/persons", person("SAMIR", "Nouri", "1979-03-04", "Greven"));
  ASSERT_EQ(warned.status, 409) << warned.body;
  EXPECT_EQ(code_of(warned), "possible_duplicate");
  EXPECT_EQ(error_of(warned)["details"]["candidates"], json::array());
  EXPECT_EQ(error_of(warned)["details"]["known_elsewhere"], true);
  for (const char* secret : {id.c_str(), "caritas", "Caritas", "rheine"}) {
    EXPECT_EQ(warned.body.find(secret), std::string::npos) << secret << " in " << warned.body;
  }

  // Knowing the id opens nothing: answered like an unknown id, nothing written.
  const auto cases_before = count("cases");
  auto opened = greven.post("/cases", {{"person_id", id}});
  auto unknown = greven.post("/cases", {{"person_id", "per_doesnotexist"}});
  EXPECT_EQ(opened.status, 404) << opened.body;
  EXPECT_EQ(code_of(opened), code_of(unknown));
  EXPECT_EQ(field_of(opened), field_of(unknown));
  EXPECT_EQ(count("cases"), cases_before);
  EXPECT_EQ(greven.get("/persons/" + id).status, 404);
  EXPECT_EQ(greven.get("/persons/" + id + "/consents").status, 404);

  // The recording organisation still opens its own case, and sees its own candidate named.
  auto own = rheine.post("/persons", person("Samir", "Nouri", "1979-03-04", "Rheine"));
  ASSERT_EQ(own.status, 409);
  ASSERT_EQ(error_of(own)["details"]["candidates"].size(), 1u) << own.body;
  EXPECT_EQ(error_of(own)["details"]["candidates"][0]["id"], id);
  EXPECT_EQ(error_of(own)["details"]["candidates"][0]["organisation"], "caritas-rheine");
  EXPECT_EQ(rheine.post("/cases", {{"person_id", id}}).status, 201);
}

TEST_F(PersonLinkTest, CoordinatorOfTheSupervisingOfficeLinksAfterMatchingNamesAndBirthDate) {
  Api rheine(*host_, "cm-rheine-1");
  Api greven(*host_, "cm-greven");
  Api emsdetten(*host_, "cm-emsdetten-1");
  Api county(*host_, "co-kreis");          // supervises drk-greven
  Api rheine_office(*host_, "co-rheine");  // supervises caritas-rheine, not drk-greven
  auto recorded = rheine.post("/persons", person("Leyla", "Karimi", "1992-11-30", "Rheine"));
  ASSERT_EQ(recorded.status, 201) << recorded.body;
  const std::string id = recorded.json()["id"];
  const json link = {{"organisation", "drk-greven"},
                     {"given_names", "Leyla"},
                     {"family_name", "KARIMI"},
                     {"date_of_birth", "1992-11-30"},
                     {"justification", "Moved to Greven, confirmed with the person"}};
  const auto links_before = count("person_links");

  // Refused, nothing recorded: a case manager; a coordinator not supervising drk-greven; names
  // or birth date that do not match; no reason.
  EXPECT_EQ(greven.post("/person-links", link).status, 403);
  auto foreign_office = rheine_office.post("/person-links", link);
  EXPECT_EQ(foreign_office.status, 403) << foreign_office.body;
  auto wrong_birth = county.post("/person-links", with(link, {{"date_of_birth", "1992-11-29"}}));
  EXPECT_EQ(wrong_birth.status, 404) << wrong_birth.body;
  EXPECT_EQ(wrong_birth.body.find(id), std::string::npos);
  EXPECT_EQ(county.post("/person-links", with(link, {{"given_names", "Leila"}})).status, 404);
  EXPECT_EQ(field_of(county.post("/person-links", with(link, {{"justification", "ok"}}))),
            "justification");
  // Ten bytes are not ten letters: five umlauts are five.
  EXPECT_EQ(field_of(county.post("/person-links", with(link, {{"justification", "äöüäö"}}))),
            "justification");
  EXPECT_EQ(count("person_links"), links_before);
  EXPECT_EQ(greven.post("/cases", {{"person_id", id}}).status, 404);

  // The coordinator of the supervising office links it: recorded, audited, listed.
  auto linked = county.post("/person-links", link);
  ASSERT_EQ(linked.status, 201) << linked.body;
  ASSERT_EQ(linked.json()["items"].size(), 1u);
  const json granted = linked.json()["items"][0];
  EXPECT_EQ(granted["person_id"], id);
  EXPECT_EQ(granted["organisation"], "drk-greven");
  EXPECT_EQ(granted["granted_by"], host_->user_id("co-kreis"));
  EXPECT_EQ(count("person_links"), links_before + 1);
  const std::string link_id = granted["id"];
  EXPECT_EQ(
      count("audit_log",
            "action = 'create' AND object_type = 'person_link' AND object_id = '" + link_id + "'"),
      1);
  auto listed = greven.read("/person-links");
  ASSERT_TRUE(listed.is_object());
  bool found = false;
  for (const auto& item : listed["items"])
    found = found || item["id"] == link_id;
  EXPECT_TRUE(found) << listed.dump();
  EXPECT_EQ(emsdetten.read("/person-links")["items"].size(), 0u);

  // Now Greven opens the case and reads the person; Emsdetten still cannot.
  auto opened = greven.post("/cases", {{"person_id", id}, {"town", "Greven"}});
  ASSERT_EQ(opened.status, 201) << opened.body;
  EXPECT_EQ(opened.json()["organisation"], "drk-greven");
  EXPECT_EQ(greven.read("/persons/" + id)["family_name"], "Karimi");
  EXPECT_EQ(emsdetten.post("/cases", {{"person_id", id}}).status, 404);
}

}  // namespace
}  // namespace kim::test
