// The Stadt Rheine plugin (plugins/rheine) through the real kim: cases of residents of Rheine
// are supervised by Rheine's coordinating office instead of the county's (and move with the
// person), residence referrals of residents go to Rheine's foreigners authority and are judged
// by the normal rules there. Without the plugin nothing changes.
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include "store/sqlite.hpp"
#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/paths.hpp"

namespace kim::test {
namespace {

using nlohmann::json;

constexpr const char* kCountyAuthority = "auslaenderbehoerde-kreis-steinfurt";
constexpr const char* kRheineAuthority = "auslaenderbehoerde-stadt-rheine";

// The host config's "plugins" with the rheine plugin enabled (`config`: its block).
json plugins_with_rheine(json config = json::object()) {
  return {{"directories", {KIM_PLUGIN_DIR}},
          {"settings", {{"rheine", {{"enabled", true}, {"config", std::move(config)}}}}}};
}

// A person recorded by `user` living in `town`, with a case opened for them; the case's id.
std::string case_in(KimHost& host, const std::string& user, const std::string& town) {
  json person = host.create_person(user, {{"town", town}});
  if (!person.is_object()) return "";
  json opened = host.open_case(user, person["id"]);
  return opened.is_object() ? opened["id"].get<std::string>() : "";
}

std::string person_of(Api& reader, const std::string& case_id) {
  auto body = reader.read("/cases/" + case_id);
  return body.is_object() ? body["person"].value("id", "") : "";
}

// Whether `user` finds case `case_id` by id and in the list of cases.
struct Seen {
  int status;
  bool listed;
};
Seen seen_by(KimHost& host, const std::string& user, const std::string& case_id) {
  Api api(host, user);
  bool listed = false;
  std::string cursor;
  for (int page = 0; page < 100; ++page) {
    auto list = api.read("/cases?limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor));
    for (const auto& item : list.value("items", json::array()))
      listed = listed || item["id"] == case_id;
    if (!list.contains("next_cursor") || list["next_cursor"].is_null()) break;
    const auto& next = list["next_cursor"];
    cursor = next.is_string() ? next.get<std::string>() : next.dump();
  }
  return {api.get("/cases/" + case_id).status, listed};
}

void expect_supervised_by(KimHost& host, const std::string& case_id, const std::string& office,
                          const std::string& other) {
  auto in = seen_by(host, office, case_id);
  EXPECT_EQ(in.status, 200) << office;
  EXPECT_TRUE(in.listed) << office;
  auto out = seen_by(host, other, case_id);
  EXPECT_EQ(out.status, 404) << other;
  EXPECT_FALSE(out.listed) << other;
}

class RheinePluginTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host_ = std::make_unique<KimHost>(json::object(), json{{"plugins", plugins_with_rheine()}});
  }
  static void TearDownTestSuite() { host_.reset(); }
  static inline std::unique_ptr<KimHost> host_;
};

TEST_F(RheinePluginTest, RheineResidentsCaseIsSupervisedByRheineNotTheCounty) {
  // drk-greven is supervised by the county's office; its client lives in Rheine.
  const auto case_id = case_in(*host_, "cm-greven", "Rheine");
  ASSERT_FALSE(case_id.empty());
  expect_supervised_by(*host_, case_id, "co-rheine", "co-kreis");
  // Nor the person behind it.
  Api rheine(*host_, "co-rheine");
  const auto person_id = person_of(rheine, case_id);
  EXPECT_EQ(Api(*host_, "co-kreis").get("/persons/" + person_id).status, 404);
  EXPECT_EQ(rheine.get("/persons/" + person_id).status, 200);
  // The case manager keeps the case.
  EXPECT_EQ(Api(*host_, "cm-greven").get("/cases/" + case_id).status, 200);
}

TEST_F(RheinePluginTest, GrevenResidentsCaseStaysWithTheCounty) {
  const auto case_id = case_in(*host_, "cm-greven", "Greven");
  ASSERT_FALSE(case_id.empty());
  expect_supervised_by(*host_, case_id, "co-kreis", "co-rheine");
}

TEST_F(RheinePluginTest, SupervisionFollowsTheMove) {
  const auto case_id = case_in(*host_, "cm-greven", "Rheine");
  ASSERT_FALSE(case_id.empty());
  Api cm(*host_, "cm-greven");
  const auto person_id = person_of(cm, case_id);
  auto moved = cm.patch("/persons/" + person_id, {{"town", "Greven"}});
  ASSERT_EQ(moved.status, 200) << moved.body;
  expect_supervised_by(*host_, case_id, "co-kreis", "co-rheine");
  auto back = cm.patch("/persons/" + person_id, {{"town", "Rheine"}});
  ASSERT_EQ(back.status, 200) << back.body;
  expect_supervised_by(*host_, case_id, "co-rheine", "co-kreis");
}

// A signed agreement of the county's office with `authority` on residence matters and the
// person's consent to pass their identity to `consented`; the referral asks for the county's
// authority.
class ResidenceReferral {
 public:
  ResidenceReferral(KimHost& host, const std::string& town, const std::string& consented)
      : cm_(host, "cm-greven") {
    case_id = case_in(host, "cm-greven", town);
    person_id = person_of(cm_, case_id);
    auto consent = cm_.post("/persons/" + person_id + "/consents",
                            {{"recipients", {consented}},
                             {"purposes", {"referral"}},
                             {"categories", {"identity"}},
                             {"form", "written"},
                             {"given_on", date_in_days(-3)},
                             {"document_reference", "Einwilligung Akte R-7"}});
    EXPECT_EQ(consent.status, 201) << consent.body;
  }
  static void sign_agreements(KimHost& host) {
    Api co(host, "co-kreis");
    for (const char* authority : {kCountyAuthority, kRheineAuthority}) {
      auto created = co.post(
          "/agreements",
          with(agreement_body(kOffice, authority, "residence_matters", {"identity", "contact"}),
               {{"status", "signed"}, {"signed_on", "2023-12-15"}}));
      EXPECT_EQ(created.status, 201) << created.body;
    }
  }
  HttpResult refer() {
    return cm_.post("/cases/" + case_id + "/referrals", {{"partner", kCountyAuthority},
                                                         {"service", "residence_matters"},
                                                         {"categories", {"identity"}}});
  }
  json referrals() { return cm_.read("/cases/" + case_id + "/referrals")["items"]; }
  json notes() { return cm_.read("/cases/" + case_id + "/notes")["items"]; }

  std::string case_id, person_id;

 private:
  Api cm_;
};

class RheineRoutingTest : public RheinePluginTest {
 protected:
  static void SetUpTestSuite() {
    RheinePluginTest::SetUpTestSuite();
    ResidenceReferral::sign_agreements(*host_);
  }
};

TEST_F(RheineRoutingTest, ResidenceReferralOfRheineResidentGoesToRheinesAuthority) {
  ResidenceReferral scene(*host_, "Rheine", kRheineAuthority);
  auto created = scene.refer();
  ASSERT_EQ(created.status, 201) << created.body;
  const auto body = created.json();
  EXPECT_EQ(body["partner"]["slug"], kRheineAuthority);
  EXPECT_EQ(body["routed_from"], kCountyAuthority);
  auto stored = scene.referrals();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0]["partner"]["slug"], kRheineAuthority);
  EXPECT_EQ(stored[0]["routed_from"], kCountyAuthority);
  bool noted = false;
  for (const auto& note : scene.notes()) {
    const std::string text = note.value("text", "");
    noted = noted || (text.find(kRheineAuthority) != std::string::npos &&
                      text.find(kCountyAuthority) != std::string::npos);
  }
  EXPECT_TRUE(noted) << scene.notes().dump();
  // The same as data, for a client that words it in its own language.
  const json routed = {{"type", "referral_routed"},
                       {"referral_id", body["id"]},
                       {"partner", kRheineAuthority},
                       {"instead_of", kCountyAuthority}};
  bool as_event = false;
  for (const auto& note : scene.notes())
    as_event = as_event || note["event"] == routed;
  EXPECT_TRUE(as_event) << scene.notes().dump();
}

TEST_F(RheineRoutingTest, RoutedReferralIsJudgedByTheNormalRules) {
  // The consent names the county's authority only: Rheine's may receive nothing.
  ResidenceReferral scene(*host_, "Rheine", kCountyAuthority);
  const auto notes_before = scene.notes();
  auto refused = scene.refer();
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(refused.body.find(kRheineAuthority), std::string::npos) << refused.body;
  EXPECT_TRUE(scene.referrals().empty());
  EXPECT_EQ(scene.notes(), notes_before);
}

TEST_F(RheineRoutingTest, GrevenResidentsReferralStaysWithTheCounty) {
  ResidenceReferral scene(*host_, "Greven", kCountyAuthority);
  auto created = scene.refer();
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["partner"]["slug"], kCountyAuthority);
  EXPECT_TRUE(created.json()["routed_from"].is_null());
}

TEST_F(RheinePluginTest, LocalOffersJoinThePartnerNetworkOnce) {
  Api co(*host_, "co-kreis");
  auto council = co.read("/partners/integrationsrat-rheine");
  EXPECT_EQ(council["kind"], "migrant_organisation");
  EXPECT_EQ(as_set(council["services"]), (std::set<std::string>{"migrant_community_support"}));
  EXPECT_EQ(co.read("/partners/integrationslotsen-rheine")["kind"], "volunteers");
  // A restart seeds again: nothing is added twice and the plugin starts as before.
  ASSERT_TRUE(host_->restart());
  EXPECT_EQ(co.read("/partners/integrationsrat-rheine"), council);
  EXPECT_EQ(Api(*host_, "co-rheine").get("/plugins/rheine/reports").status, 200);
}

TEST(RheinePluginOffersTest, AnInvalidOfferRefusesThePluginAndAddsNothing) {
  json offers = json::array({{{"slug", "sprachcafe-rheine"},
                              {"name", "Sprachcafé Rheine"},
                              {"kind", "cafe"},  // not a partner kind of the catalogue
                              {"legal_domain", "none"},
                              {"county_wide", false},
                              {"towns", {"Rheine"}},
                              {"services", {"language_course"}}}});
  KimHost host(json::object(), json{{"plugins", plugins_with_rheine({{"local_offers", offers}})}});
  Api co(host, "co-kreis");
  EXPECT_EQ(co.get("/partners/sprachcafe-rheine").status, 404);
  EXPECT_EQ(Api(host, "co-rheine").get("/plugins/rheine/reports").status, 404);
  EXPECT_NE(host.log().find("kind"), std::string::npos) << host.log();
  // Nor its rules — and without them no person goes to an office they would not choose: the
  // host fails closed (503) until the plugin runs or is disabled, and records nothing.
  auto refused = Api(host, "cm-greven")
                     .post("/persons", {{"given_names", "Amina"},
                                        {"family_name", "Refused"},
                                        {"date_of_birth", "1990-01-01"},
                                        {"town", "Rheine"},
                                        {"residence_status", "residence_permit"}});
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.json()["error"]["code"], "supervision_unavailable");
  EXPECT_NE(refused.json()["error"]["message"].get<std::string>().find("rheine"),
            std::string::npos);
  auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
  EXPECT_EQ(db.query("SELECT count(*) AS n FROM persons WHERE family_name = 'Refused'")[0]["n"], 0);
  EXPECT_EQ(host.client().get("/health").json()["supervision"], "suspended");
}

// The offers are given in load(): the partner rules run before serving, in `kim config check`
// and `kim plugins list`, which also show what the plugin registers.
TEST(RheinePluginOffersTest, AnInvalidOfferIsFoundBeforeServing) {
  TempDir dir;
  const auto path = (dir.path() / "kim.json").string();
  auto write = [&](const json& rheine_config) {
    std::ofstream(path)
        << json({{"data_dir", "var"}, {"plugins", plugins_with_rheine(rheine_config)}}).dump();
  };
  write({{"local_offers", json::array({{{"slug", "sprachcafe-rheine"},
                                        {"name", "Sprachcafé Rheine"},
                                        {"kind", "cafe"},
                                        {"legal_domain", "none"},
                                        {"county_wide", false},
                                        {"towns", {"Rheine"}},
                                        {"services", {"language_course"}}}})}});
  auto check = run_command(KIM_BINARY, {"config", "check", "--config", path});
  EXPECT_NE(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE((check.out + check.err).find("partners[0].kind"), std::string::npos)
      << check.out << check.err;
  auto list = run_command(KIM_BINARY, {"plugins", "list", "--config", path});
  EXPECT_EQ(list.exit_code, 1) << list.out << list.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "var")) << "inspection wrote a data folder";

  write(json::object());
  list = run_command(KIM_BINARY, {"plugins", "list", "--config", path, "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.out << list.err;
  json rheine;
  for (const auto& item : json::parse(list.out))
    if (item["id"] == "rheine") rheine = item;
  ASSERT_TRUE(rheine.is_object()) << list.out;
  EXPECT_EQ(rheine["supervision_rules"], 1);
  EXPECT_EQ(rheine["referral_routers"], 1);
  EXPECT_EQ(as_set(rheine["partners"]),
            (std::set<std::string>{"integrationsrat-rheine", "integrationslotsen-rheine"}));
  list = run_command(KIM_BINARY, {"plugins", "list", "--config", path});
  EXPECT_NE(list.out.find("1 supervision rule, 1 referral router, 2 partners"), std::string::npos)
      << list.out;
}

TEST(RheinePluginReportTest, CountsWhatTheCallerMaySeeAndHidesSmallCounts) {
  KimHost host(json::object(), json{{"plugins", plugins_with_rheine()}});
  ResidenceReferral::sign_agreements(host);
  ResidenceReferral referred(host, "Rheine", kRheineAuthority);
  ASSERT_EQ(referred.refer().status, 201);
  for (int i = 0; i < 4; ++i)
    ASSERT_FALSE(case_in(host, "cm-greven", "Rheine").empty());
  ASSERT_FALSE(case_in(host, "cm-greven", "Greven").empty());

  auto report = Api(host, "co-rheine").read("/plugins/rheine/reports");
  EXPECT_EQ(report["town"], "Rheine");
  EXPECT_EQ(report["cases"], 5);
  EXPECT_EQ(report["cases_per_phase"], (json{{"intake", 5}}));
  EXPECT_EQ(report["referrals_per_partner"], (json{{kRheineAuthority, "<5"}}));
  EXPECT_EQ(report.dump().find("person"), std::string::npos) << report.dump();
  // The county's office sees none of these cases, so it counts none.
  auto county = Api(host, "co-kreis").read("/plugins/rheine/reports");
  EXPECT_EQ(county["cases"], 0);
  EXPECT_EQ(county["cases_per_phase"], json::object());
  // Not for everybody.
  EXPECT_EQ(Api(host, "auditor").get("/plugins/rheine/reports").status, 403);
}

TEST(RheinePluginSharedTest, ShareWithCountyKeepsTheCountyReading) {
  KimHost host(json::object(),
               json{{"plugins", plugins_with_rheine({{"share_with_county", true}})}});
  const auto case_id = case_in(host, "cm-greven", "Rheine");
  ASSERT_FALSE(case_id.empty());
  for (const char* office : {"co-rheine", "co-kreis"}) {
    auto seen = seen_by(host, office, case_id);
    EXPECT_EQ(seen.status, 200) << office;
    EXPECT_TRUE(seen.listed) << office;
  }
  // Read only, as every coordinator.
  EXPECT_EQ(Api(host, "co-rheine")
                .post("/cases/" + case_id + "/transitions", {{"to", "assessment"}})
                .status,
            403);
}

// A person recorded before any case is read by the office that will supervise the case.
TEST_F(RheinePluginTest, APersonWithoutACaseIsSupervisedByResidenceToo) {
  auto person = host_->create_person("cm-greven", {{"town", "Rheine"}});
  const std::string id = person["id"];
  EXPECT_EQ(Api(*host_, "co-rheine").get("/persons/" + id).status, 200);
  auto county = Api(*host_, "co-kreis").get("/persons/" + id);
  EXPECT_EQ(county.status, 404);
  EXPECT_EQ(county.body.find(person["family_name"].get<std::string>()), std::string::npos);
  EXPECT_EQ(Api(*host_, "co-kreis").get("/persons/" + id + "/consents").status, 404);
  // Moving to Greven hands the person to the county.
  ASSERT_EQ(Api(*host_, "cm-greven").patch("/persons/" + id, {{"town", "Greven"}}).status, 200);
  EXPECT_EQ(Api(*host_, "co-kreis").get("/persons/" + id).status, 200);
  EXPECT_EQ(Api(*host_, "co-rheine").get("/persons/" + id).status, 404);
}

// The county links persons to organisations it supervises, but lists such links only for
// persons it may read: not for a resident of Rheine, whom Rheine's office supervises.
TEST_F(RheinePluginTest, TheCountyListsLinksOnlyOfPersonsItMayRead) {
  auto in_rheine = host_->create_person("cm-greven", {{"town", "Rheine"}});
  auto in_greven = host_->create_person("cm-greven", {{"town", "Greven"}});
  ASSERT_TRUE(host_->link_person("co-kreis", "diakonie-emsdetten", in_rheine["id"], "cm-greven"));
  ASSERT_TRUE(host_->link_person("co-kreis", "diakonie-emsdetten", in_greven["id"], "cm-greven"));
  std::set<std::string> listed;
  const json links = Api(*host_, "co-kreis").read("/person-links");
  for (const auto& item : links["items"])
    listed.insert(item["person_id"].get<std::string>());
  EXPECT_EQ(listed.count(in_rheine["id"].get<std::string>()), 0u);
  EXPECT_EQ(listed.count(in_greven["id"].get<std::string>()), 1u);
}

// Rewrites the running host's config with `plugins` and restarts it on the same data.
void restart_with(KimHost& host, const json& plugins) {
  json config = json::parse(std::ifstream(host.config_path()));
  config["plugins"] = plugins;
  std::ofstream(host.config_path()) << config.dump();
  ASSERT_TRUE(host.restart());
}

// What is stored follows the rules that run now: enabling, reconfiguring or disabling the plugin
// takes effect at the next start on cases and persons recorded before, audited.
TEST(RheinePluginRestartTest, StoredSupervisionFollowsTheRulesOfTheLastStart) {
  KimHost host;  // without rheine: the county supervises
  const auto case_id = case_in(host, "cm-greven", "Rheine");
  ASSERT_FALSE(case_id.empty());
  Api owner(host, "cm-greven");
  const auto person_id = person_of(owner, case_id);
  expect_supervised_by(host, case_id, "co-kreis", "co-rheine");

  restart_with(host, plugins_with_rheine());
  expect_supervised_by(host, case_id, "co-rheine", "co-kreis");
  EXPECT_EQ(Api(host, "co-kreis").get("/persons/" + person_id).status, 404);
  EXPECT_EQ(Api(host, "co-rheine").get("/persons/" + person_id).status, 200);
  bool audited = false;
  const json trail = Api(host, "auditor").read("/audit?case_id=" + case_id);
  for (const auto& entry : trail["items"])
    audited = audited || (entry["action"] == "supervise" && entry["user_name"] == "supervision");
  EXPECT_TRUE(audited);

  restart_with(host, plugins_with_rheine({{"share_with_county", true}}));
  EXPECT_EQ(seen_by(host, "co-kreis", case_id).status, 200);
  restart_with(host, plugins_with_rheine());
  EXPECT_EQ(seen_by(host, "co-kreis", case_id).status, 404);

  restart_with(host, json{{"directories", {KIM_PLUGIN_DIR}}});
  expect_supervised_by(host, case_id, "co-kreis", "co-rheine");
  EXPECT_EQ(Api(host, "co-kreis").get("/persons/" + person_id).status, 200);
}

// A rule naming an organisation that is no coordinating office: a clear 503 and nothing
// written; records the rule does not concern go on.
TEST(RheinePluginMisconfiguredTest, AnOfficeThatIsNoCoordinatingOfficeFailsClosed) {
  KimHost host(json::object(), json{{"plugins", plugins_with_rheine({{"office", "drk-greven"}})}});
  auto refused = Api(host, "cm-greven")
                     .post("/persons", {{"given_names", "Amina"},
                                        {"family_name", "Misrouted"},
                                        {"date_of_birth", "1990-01-01"},
                                        {"town", "Rheine"},
                                        {"residence_status", "residence_permit"}});
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.json()["error"]["code"], "supervision_misconfigured");
  EXPECT_NE(refused.json()["error"]["message"].get<std::string>().find("drk-greven"),
            std::string::npos);
  auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
  EXPECT_EQ(db.query("SELECT count(*) AS n FROM persons WHERE family_name = 'Misrouted'")[0]["n"],
            0);
  EXPECT_FALSE(case_in(host, "cm-greven", "Greven").empty());
}

TEST(RheinePluginDisabledTest, WithoutThePluginTheCountySupervisesRheineResidents) {
  KimHost host;  // the test config does not enable rheine
  const auto case_id = case_in(host, "cm-greven", "Rheine");
  ASSERT_FALSE(case_id.empty());
  expect_supervised_by(host, case_id, "co-kreis", "co-rheine");
}

}  // namespace
}  // namespace kim::test
