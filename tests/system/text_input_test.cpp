// Names and free text over HTTP (issue 9, item 7): stored in NFC with surrounding Unicode white
// space trimmed; control characters and bidi overrides refused in every body reader (names also
// refuse line breaks, notes keep them); the duplicate check sees through case, NFC/NFD,
// invisible characters and no-break spaces, also for keys stored by an older kim. One host.
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

class TextInputTest : public SharedHost<> {
 protected:
  static std::int64_t count(const std::string& table) {
    auto db = store::Connection::open(host_->database(), SQLITE_OPEN_READONLY);
    return db.query("SELECT count(*) AS n FROM " + table)[0]["n"].get<std::int64_t>();
  }
  static json person(const std::string& given, const std::string& family, const std::string& born) {
    return {{"given_names", given},
            {"family_name", family},
            {"date_of_birth", born},
            {"town", "Rheine"},
            {"residence_status", "duldung"}};
  }
  // An open case of cm-rheine-1; returns its id.
  static std::string open_case(const std::string& born) {
    auto created = host_->create_person("cm-rheine-1", {{"date_of_birth", born}});
    EXPECT_TRUE(created.contains("id"));
    auto opened = host_->open_case("cm-rheine-1", created.value("id", ""));
    EXPECT_TRUE(opened.contains("id"));
    return opened.value("id", "");
  }
};

TEST_F(TextInputTest, DuplicateCheckSeesThroughInvisibleCharactersNfdCaseAndNoBreakSpaces) {
  Api rheine(*host_, "cm-rheine-1");
  Api greven(*host_, "cm-greven");
  auto first = rheine.post("/persons", person("Jos\xc3\xa9 Amina", "M\xc3\xbcller", "1987-05-06"));
  ASSERT_EQ(first.status, 201) << first.body;
  const auto persons = count("persons");
  for (const auto& [given, family] : std::vector<std::pair<std::string, std::string>>{
           {"Jos\xc3\xa9 Amina", "M\xc3\xbcller\xc2\xa0"},      // trailing U+00A0
           {"Jos\xc3\xa9 Ami\xe2\x80\x8bna", "M\xc3\xbcller"},  // U+200B inside
           {"Jos\xc3\xa9 Ami\xc2\xadna", "M\xc3\xbcller"},      // soft hyphen
           {"Jose\xcc\x81 Amina", "Mu\xcc\x88ller"},            // NFD
           {"JOS\xc3\x89\xc2\xa0"
            "AMINA",
            "M\xc3\x9c"
            "LLER"},  // case, nbsp between
           {"Jos\xc3\xa9\xe2\x80\x83 \xe2\x81\xa0"
            "Amina",
            "Mueller"},  // em space, U+2060
           {"\xef\xbc\xaa"
            "os\xc3\xa9 Amina",
            "M\xc3\xbcller\xe2\x80\x8d"}}) {  // fullwidth J, ZWJ
    SCOPED_TRACE(given + " / " + family);
    for (Api* api : {&rheine, &greven}) {
      auto refused = api->post("/persons", person(given, family, "1987-05-06"));
      EXPECT_EQ(refused.status, 409) << refused.body;
      EXPECT_EQ(code_of(refused), "possible_duplicate");
    }
  }
  EXPECT_EQ(count("persons"), persons);
}

TEST_F(TextInputTest, NamesAreStoredInNfcAndTrimmed) {
  Api rheine(*host_, "cm-rheine-1");
  auto created = rheine.post("/persons", with(person("\xc2\xa0 Jose\xcc\x81\xe3\x80\x80",
                                                     "Nou\xcc\x88ri\xe2\x80\x83", "1966-01-02"),
                                              {{"contact", {{"phone", " 05971 1234\xc2\xa0"}}}}));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["given_names"], "Jos\xc3\xa9");
  EXPECT_EQ(created.json()["family_name"], "No\xc3\xbcri");
  EXPECT_EQ(created.json()["contact"]["phone"], "05971 1234");
  // Persian names keep their zero-width non-joiner (stored), though the key ignores it.
  auto persian = rheine.post(
      "/persons", person("\xd9\x85\xd9\x87\xe2\x80\x8c\xd8\xb1\xd9\x88", "Ahmadi", "1970-03-03"));
  ASSERT_EQ(persian.status, 201) << persian.body;
  EXPECT_EQ(persian.json()["given_names"], "\xd9\x85\xd9\x87\xe2\x80\x8c\xd8\xb1\xd9\x88");
}

TEST_F(TextInputTest, NotesKeepLineBreaksButNoOtherControls) {
  Api rheine(*host_, "cm-rheine-1");
  const std::string base = "/cases/" + open_case("1975-07-08");
  auto kept = rheine.post(base + "/notes", {{"occurred_on", date_in_days(0)},
                                            {"kind", "meeting"},
                                            {"text",
                                             "Erstgespr\xc3\xa4"
                                             "ch\r\n\t- Sprache\n- Wohnung"}});
  ASSERT_EQ(kept.status, 201) << kept.body;
  EXPECT_EQ(kept.json()["text"],
            "Erstgespr\xc3\xa4"
            "ch\r\n\t- Sprache\n- Wohnung");
}

TEST_F(TextInputTest, ConsentAndReferralTextsRefuseControlsAndBidiOverrides) {
  Api rheine(*host_, "cm-rheine-1");
  const std::string case_id = open_case("1981-09-10");
  const std::string person_id = rheine.read("/cases/" + case_id)["person"]["id"];
  const json consent = {{"recipients", {kJobcenter}},
                        {"purposes", {"referral"}},
                        {"categories", {"identity"}},
                        {"form", "written"},
                        {"given_on", date_in_days(0)}};
  const auto consents = count("consents");
  for (const std::string& reference : {std::string("Akte\0 7", 7),
                                       std::string("Akte \xe2\x80\xae"
                                                   "7"),
                                       std::string("\x1b[0m")}) {
    auto refused = rheine.post("/persons/" + person_id + "/consents",
                               with(consent, {{"document_reference", reference}}));
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(field_of(refused), "document_reference");
  }
  EXPECT_EQ(count("consents"), consents);

  const auto referrals = count("referrals");
  auto refused = rheine.post("/cases/" + case_id + "/referrals",
                             {{"partner", kJobcenter},
                              {"service", "sgb2_integration_services"},
                              {"categories", {"identity"}},
                              {"message", "Bitte \xe2\x81\xa7melden\xe2\x81\xa9"}});
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(field_of(refused), "message");
  EXPECT_EQ(count("referrals"), referrals);
}

// Keys stored by an older kim (before this normalisation, or by another version of the rules)
// are recomputed at start, so the check finds those persons too.
TEST_F(TextInputTest, StaleStoredKeysAreRecomputedAtStart) {
  Api rheine(*host_, "cm-rheine-1");
  auto created = rheine.post("/persons", person("Hamid", "Rahimi", "1990-10-10"));
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(host_->stop(), 0);
  {
    auto db = store::Connection::open(host_->database(), SQLITE_OPEN_READWRITE);
    // What kim 0.1 stored for "Hamid\u00A0" / "Rahimi": the no-break space inside the key.
    db.execute("UPDATE persons SET name_key = ?, name_key_version = 0 WHERE id = ?",
               {std::string("hamid\xc2\xa0 rahimi"), created.json()["id"].get<std::string>()});
  }
  ASSERT_TRUE(host_->restart());
  Api again(*host_, "cm-greven");
  auto refused = again.post("/persons", person("hamid", "RAHIMI", "1990-10-10"));
  EXPECT_EQ(refused.status, 409) << refused.body;
}

}  // namespace
}  // namespace kim::test
