// The partner network (Schnittstellen) and the cooperation agreements over HTTP against the real
// kim binary, seeded with the network of the shipped config/kreis-steinfurt.json: the 24 towns
// and who serves a town, a seed that is re-applied on every start without duplicating, the admin
// API for partners and the agreement life cycle. Refused requests must change nothing.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/kim_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

const std::set<std::string> kTowns = {
    "Altenberge", "Emsdetten", "Greven",       "Hörstel",     "Hopsten",       "Horstmar",
    "Ibbenbüren", "Ladbergen", "Laer",         "Lengerich",   "Lienen",        "Lotte",
    "Metelen",    "Mettingen", "Neuenkirchen", "Nordwalde",   "Ochtrup",       "Recke",
    "Rheine",     "Saerbeck",  "Steinfurt",    "Tecklenburg", "Westerkappeln", "Wettringen"};

std::vector<std::string> slugs_of(json list) {
  std::vector<std::string> slugs;
  for (auto& item : list["items"])
    slugs.push_back(item["slug"]);
  return slugs;
}

bool own_case_management(const std::string& legal_domain) {
  return legal_domain == "sgb2" || legal_domain == "sgb3" || legal_domain == "sgb8";
}

// ---- the shipped network ------------------------------------------------------------------------

TEST(PartnerNetworkTest, ShippedSeedListsTheTownsAndWhoServesATownAndSurvivesARestart) {
  KimHost host;
  Api admin(host, "admin");

  // The 24 towns of the county, each a partner of kind town serving itself.
  json towns = admin.read("/partners?kind=town");
  ASSERT_EQ(towns["items"].size(), 24u) << towns.dump(1);
  std::set<std::string> served;
  for (auto& town : towns["items"]) {
    SCOPED_TRACE(town.dump());
    EXPECT_EQ(town["kind"], "town");
    EXPECT_EQ(town["county_wide"], false);
    ASSERT_EQ(town["towns"].size(), 1u);
    const std::string name = town["towns"][0];
    served.insert(name);
    EXPECT_THAT(town["name"].get<std::string>(), HasSubstr(name));
  }
  EXPECT_EQ(served, kTowns);
  EXPECT_THAT(slugs_of(towns), Contains("town-rheine"));
  EXPECT_THAT(slugs_of(towns), Contains("town-greven"));
  EXPECT_THAT(slugs_of(towns), Contains("town-hoerstel"));

  // The whole network: sorted by name, own case management exactly for SGB II, III and VIII.
  json all = admin.read("/partners");
  ASSERT_GT(all["items"].size(), 24u);
  std::vector<std::string> names;
  for (auto& partner : all["items"]) {
    SCOPED_TRACE(partner["slug"].get<std::string>());
    names.push_back(partner["name"]);
    EXPECT_EQ(partner["own_case_management"],
              own_case_management(partner["legal_domain"].get<std::string>()));
    EXPECT_EQ(partner["active"], true);
    EXPECT_FALSE(partner["services"].empty());
    if (partner["county_wide"] == true) {
      EXPECT_TRUE(!partner.contains("towns") || partner["towns"].empty()) << partner.dump();
    } else {
      EXPECT_FALSE(partner["towns"].empty()) << partner.dump();
    }
  }
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end())) << all.dump(1);

  json jobcenter = admin.read(std::string("/partners/") + kJobcenter);
  EXPECT_EQ(jobcenter["kind"], "jobcenter");
  EXPECT_EQ(jobcenter["legal_domain"], "sgb2");
  EXPECT_EQ(jobcenter["county_wide"], true);
  EXPECT_EQ(jobcenter["own_case_management"], true);
  EXPECT_THAT(jobcenter["services"], Contains("sgb2_integration_services"));
  json agency = admin.read("/partners/agentur-fuer-arbeit-rheine");
  EXPECT_EQ(agency["kind"], "employment_agency");
  EXPECT_EQ(agency["legal_domain"], "sgb3");
  EXPECT_EQ(agency["own_case_management"], true);
  EXPECT_THAT(agency["services"], Contains("sgb3_placement"));
  EXPECT_EQ(admin.read("/partners/auslaenderbehoerde-stadt-rheine")["towns"], json({"Rheine"}));
  json county_authority = admin.read("/partners/auslaenderbehoerde-kreis-steinfurt");
  EXPECT_EQ(county_authority["kind"], "foreigners_authority");
  EXPECT_EQ(as_set(county_authority["towns"]).size(), 23u);
  EXPECT_THAT(county_authority["towns"], Not(Contains("Rheine")));
  EXPECT_EQ(admin.read(std::string("/partners/") + kOffice)["kind"], "coordinating_office");
  EXPECT_EQ(admin.read("/partners/einbuergerung-kreis-steinfurt")["kind"],
            "naturalisation_authority");
  EXPECT_EQ(admin.read("/partners/jugendamt-kreis-steinfurt")["kind"], "youth_office");
  EXPECT_EQ(admin.read("/partners/ihk-nord-westfalen")["kind"], "chamber");

  // Who serves a town: the county-wide partners and those listing it.
  for (const std::string town : {"Rheine", "Greven"}) {
    SCOPED_TRACE(town);
    json list = admin.read("/partners?town=" + town);
    for (auto& partner : list["items"]) {
      EXPECT_TRUE(partner["county_wide"] == true || as_set(partner["towns"]).count(town))
          << partner.dump();
    }
    const auto slugs = slugs_of(list);
    EXPECT_THAT(slugs, Contains(kJobcenter));
    EXPECT_THAT(slugs, Contains(std::string("town-") + (town == "Rheine" ? "rheine" : "greven")));
    EXPECT_THAT(slugs,
                Not(Contains(std::string("town-") + (town == "Rheine" ? "greven" : "rheine"))));
    if (town == "Rheine") {
      EXPECT_THAT(slugs, Contains("auslaenderbehoerde-stadt-rheine"));
      EXPECT_THAT(slugs, Not(Contains("auslaenderbehoerde-kreis-steinfurt")));
    } else {
      EXPECT_THAT(slugs, Contains("auslaenderbehoerde-kreis-steinfurt"));
      EXPECT_THAT(slugs, Not(Contains("auslaenderbehoerde-stadt-rheine")));
    }
  }

  // The other filters, alone and combined.
  json courses = admin.read("/partners?kind=adult_education_centre&service=integration_course");
  EXPECT_FALSE(courses["items"].empty());
  for (auto& partner : courses["items"]) {
    EXPECT_EQ(partner["kind"], "adult_education_centre");
    EXPECT_THAT(partner["services"], Contains("integration_course"));
  }
  json sgb2 = admin.read("/partners?legal_domain=sgb2");
  EXPECT_THAT(slugs_of(sgb2), Contains(kJobcenter));
  for (auto& partner : sgb2["items"])
    EXPECT_EQ(partner["legal_domain"], "sgb2");
  EXPECT_THAT(slugs_of(admin.read("/partners?service=sgb3_placement")),
              Contains("agentur-fuer-arbeit-rheine"));

  // Any authenticated role reads the network; nobody without a token; unknown input is named.
  Api cm(host, "cm-rheine-1");
  EXPECT_EQ(cm.read("/partners?kind=town"), towns);
  EXPECT_EQ(cm.read(std::string("/partners/") + kJobcenter), jobcenter);
  EXPECT_EQ(host.client().get("/api/v1/partners").status, 401);
  auto missing = admin.get("/partners/no-such-partner");
  EXPECT_EQ(missing.status, 404) << missing.body;
  auto unknown_parameter = admin.get("/partners?colour=red");
  EXPECT_EQ(unknown_parameter.status, 400) << unknown_parameter.body;
  EXPECT_EQ(code_of(unknown_parameter), "unknown_parameter");

  // Seed re-applied at the next start: no duplicates, and rows changed meanwhile stay changed.
  auto renamed = admin.patch("/partners/ihk-nord-westfalen",
                             {{"name", "IHK Nord Westfalen, Geschäftsstelle Rheine"}});
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  auto created = admin.post("/partners", {{"slug", "sv-rheine-integration"},
                                          {"name", "Sportverein Rheine, Integration durch Sport"},
                                          {"kind", "sports"},
                                          {"towns", {"Rheine"}},
                                          {"services", {"sports_participation"}}});
  ASSERT_EQ(created.status, 201) << created.body;
  json before = admin.read("/partners");
  ASSERT_EQ(before["items"].size(), all["items"].size() + 1);

  ASSERT_TRUE(host.restart());
  Api again(host, "admin");
  EXPECT_EQ(again.read("/partners"), before);
  EXPECT_EQ(again.read("/partners?kind=town")["items"].size(), 24u);
  EXPECT_EQ(again.read("/partners/ihk-nord-westfalen")["name"],
            "IHK Nord Westfalen, Geschäftsstelle Rheine");
}

// ---- partner administration ---------------------------------------------------------------------

TEST(PartnerNetworkTest, AdminCreatesAndChangesPartnersOnlyWhenValid) {
  KimHost host;
  Api admin(host, "admin");
  Api cm(host, "cm-rheine-1");
  json before = admin.read("/partners");
  ASSERT_FALSE(before["items"].empty());

  json valid = {{"slug", "awo-migration-rheine"},
                {"name", "AWO Rheine, Migrationsdienst"},
                {"kind", "counselling_service"},
                {"legal_domain", "none"},
                {"towns", {"Rheine", "Neuenkirchen"}},
                {"contact",
                 {{"address", "Lingener Str. 11, 48429 Rheine"},
                  {"phone", "05971 862-0"},
                  {"email", "migration@awo-rheine.example"}}},
                {"services", {"migration_counselling", "recognition_counselling"}}};

  struct Row {
    std::string what;
    std::string user;
    json body;
    int status;
    std::string code;
    std::string field;  // empty: not checked
  };
  const std::vector<Row> rows = {
      {"unknown kind", "admin", with(valid, {{"kind", "church"}}), 400, "invalid_field", "kind"},
      {"unknown legal domain", "admin", with(valid, {{"legal_domain", "sgb9"}}), 400,
       "invalid_field", "legal_domain"},
      {"town outside the county", "admin", with(valid, {{"towns", {"Rheine", "Münster"}}}), 400,
       "invalid_field", "towns[1]"},
      {"county-wide with towns", "admin", with(valid, {{"county_wide", true}}), 400,
       "invalid_field", "towns"},
      {"no towns and not county-wide", "admin", without(valid, "towns"), 400, "invalid_field",
       "towns"},
      {"empty towns and not county-wide", "admin", with(valid, {{"towns", json::array()}}), 400,
       "invalid_field", "towns"},
      {"unknown service", "admin",
       with(valid, {{"services", {"migration_counselling", "astrology"}}}), 400, "invalid_field",
       "services[1]"},
      {"empty services", "admin", with(valid, {{"services", json::array()}}), 400, "invalid_field",
       "services"},
      {"no services", "admin", without(valid, "services"), 400, "invalid_field", "services"},
      {"service twice", "admin",
       with(valid, {{"services", {"migration_counselling", "migration_counselling"}}}), 400,
       "invalid_field", "services[1]"},
      {"upper-case slug", "admin", with(valid, {{"slug", "MBE-Caritas"}}), 400, "invalid_field",
       "slug"},
      {"slug with a space", "admin", with(valid, {{"slug", "mbe caritas"}}), 400, "invalid_field",
       "slug"},
      {"one-character slug", "admin", with(valid, {{"slug", "m"}}), 400, "invalid_field", "slug"},
      {"slug starting with '-'", "admin", with(valid, {{"slug", "-mbe"}}), 400, "invalid_field",
       "slug"},
      {"empty name", "admin", with(valid, {{"name", ""}}), 400, "invalid_field", "name"},
      {"name of 201 characters", "admin", with(valid, {{"name", std::string(201, 'n')}}), 400,
       "invalid_field", "name"},
      {"unknown contact key", "admin", with(valid, {{"contact", {{"fax", "05971 1"}}}}), 400,
       kUnknownKey, "contact.fax"},
      {"contact e-mail of 201 characters", "admin",
       with(valid, {{"contact", {{"email", std::string(201, 'e')}}}}), 400, "invalid_field",
       "contact.email"},
      {"active as a string", "admin", with(valid, {{"active", "yes"}}), 400, "invalid_field",
       "active"},
      {"unknown key", "admin", with(valid, {{"founded", 1990}}), 400, kUnknownKey, "founded"},
      {"duplicate slug", "admin", with(valid, {{"slug", kJobcenter}}), 409, "slug_taken", ""},
      {"case manager", "cm-rheine-1", valid, 403, "forbidden", ""},
      {"coordinator", "co-kreis", valid, 403, "forbidden", ""},
      {"auditor", "auditor", valid, 403, "forbidden", ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.what);
    auto response = host.client().post("/api/v1/partners", row.body, host.token(row.user));
    EXPECT_EQ(response.status, row.status) << response.body;
    EXPECT_EQ(code_of(response), row.code) << response.body;
    if (!row.field.empty()) {
      EXPECT_EQ(field_of(response), row.field) << response.body;
    }
    EXPECT_EQ(admin.read("/partners"), before) << "a refused creation changed the partners";
  }
  EXPECT_EQ(admin.read(std::string("/partners/") + kJobcenter)["kind"], "jobcenter");

  auto created = admin.post("/partners", valid);
  ASSERT_EQ(created.status, 201) << created.body;
  json partner = created.json();
  EXPECT_EQ(partner["slug"], "awo-migration-rheine");
  EXPECT_EQ(partner["name"], valid["name"]);
  EXPECT_EQ(partner["kind"], "counselling_service");
  EXPECT_EQ(partner["legal_domain"], "none");
  EXPECT_EQ(partner["county_wide"], false);
  EXPECT_EQ(as_set(partner["towns"]), (std::set<std::string>{"Rheine", "Neuenkirchen"}));
  EXPECT_EQ(partner["contact"]["phone"], "05971 862-0");
  EXPECT_EQ(partner["services"], valid["services"]);
  EXPECT_EQ(partner["active"], true);
  EXPECT_EQ(partner["own_case_management"], false);
  EXPECT_EQ(admin.read("/partners/awo-migration-rheine"), partner);
  EXPECT_EQ(cm.read("/partners/awo-migration-rheine"), partner);
  EXPECT_EQ(admin.read("/partners")["items"].size(), before["items"].size() + 1);
  EXPECT_THAT(slugs_of(admin.read("/partners?town=Neuenkirchen")),
              Contains("awo-migration-rheine"));
  EXPECT_THAT(slugs_of(admin.read("/partners?town=Greven")), Not(Contains("awo-migration-rheine")));
  auto again = admin.post("/partners", valid);
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(code_of(again), "slug_taken");

  // Defaults: county-wide only when asked; the legal domain "none".
  auto minimal = admin.post("/partners", {{"slug", "ehrenamt-greven"},
                                          {"name", "Ehrenamtsinitiative Greven"},
                                          {"kind", "volunteers"},
                                          {"towns", {"Greven"}},
                                          {"services", {"volunteer_mentoring"}}});
  ASSERT_EQ(minimal.status, 201) << minimal.body;
  EXPECT_EQ(minimal.json()["legal_domain"], "none");
  EXPECT_EQ(minimal.json()["county_wide"], false);
  EXPECT_EQ(minimal.json()["active"], true);

  // PATCH changes what it names and keeps the rest.
  auto changed = admin.patch(
      "/partners/awo-migration-rheine",
      {{"towns", {"Rheine"}}, {"services", {"migration_counselling", "refugee_counselling"}}});
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(changed.json()["towns"], json({"Rheine"}));
  EXPECT_EQ(changed.json()["services"], json({"migration_counselling", "refugee_counselling"}));
  EXPECT_EQ(changed.json()["name"], valid["name"]);
  EXPECT_EQ(changed.json()["contact"], partner["contact"]);
  EXPECT_EQ(admin.read("/partners/awo-migration-rheine"), changed.json());
  EXPECT_THAT(slugs_of(admin.read("/partners?town=Neuenkirchen")),
              Not(Contains("awo-migration-rheine")));

  auto county_wide = admin.patch("/partners/awo-migration-rheine",
                                 {{"county_wide", true}, {"towns", json::array()}});
  ASSERT_EQ(county_wide.status, 200) << county_wide.body;
  EXPECT_EQ(county_wide.json()["county_wide"], true);
  EXPECT_THAT(slugs_of(admin.read("/partners?town=Greven")), Contains("awo-migration-rheine"));
  auto youth = admin.patch("/partners/awo-migration-rheine", {{"legal_domain", "sgb8"}});
  ASSERT_EQ(youth.status, 200) << youth.body;
  EXPECT_EQ(youth.json()["own_case_management"], true);
  json current = youth.json();

  const std::vector<Row> bad_changes = {
      {"unknown kind", "admin", {{"kind", "church"}}, 400, "invalid_field", "kind"},
      {"empty services", "admin", {{"services", json::array()}}, 400, "invalid_field", "services"},
      {"unknown service",
       "admin",
       {{"services", {"astrology"}}},
       400,
       "invalid_field",
       "services[0]"},
      {"town outside the county",
       "admin",
       {{"county_wide", false}, {"towns", {"Osnabrück"}}},
       400,
       "invalid_field",
       "towns[0]"},
      {"county-wide with towns", "admin", {{"towns", {"Rheine"}}}, 400, "invalid_field", "towns"},
      {"slug is not changeable", "admin", {{"slug", "awo-rheine"}}, 400, "invalid_field", "slug"},
      {"unknown key", "admin", {{"founded", 1990}}, 400, kUnknownKey, "founded"},
      // null would silently mean the default (e.g. a retired partner active again): refused.
      {"null active", "admin", {{"active", nullptr}}, 400, "invalid_field", "active"},
      {"null legal domain",
       "admin",
       {{"legal_domain", nullptr}},
       400,
       "invalid_field",
       "legal_domain"},
      {"case manager", "cm-rheine-1", {{"name", "Umbenannt"}}, 403, "forbidden", ""},
      {"coordinator", "co-kreis", {{"name", "Umbenannt"}}, 403, "forbidden", ""},
  };
  for (const auto& row : bad_changes) {
    SCOPED_TRACE(row.what);
    auto response = host.client().request("PATCH", "/api/v1/partners/awo-migration-rheine",
                                          row.body.dump(), host.token(row.user));
    EXPECT_EQ(response.status, row.status) << response.body;
    EXPECT_EQ(code_of(response), row.code) << response.body;
    if (!row.field.empty()) {
      EXPECT_EQ(field_of(response), row.field) << response.body;
    }
    EXPECT_EQ(admin.read("/partners/awo-migration-rheine"), current);
  }
  auto unknown = admin.patch("/partners/no-such-partner", {{"name", "Niemand"}});
  EXPECT_EQ(unknown.status, 404) << unknown.body;

  auto deactivated = admin.patch("/partners/awo-migration-rheine", {{"active", false}});
  ASSERT_EQ(deactivated.status, 200) << deactivated.body;
  EXPECT_EQ(deactivated.json()["active"], false);
  EXPECT_EQ(admin.read("/partners")["items"].size(), before["items"].size() + 2);

  // Every accepted change is on the audit trail, the refused ones are not.
  auto trail = host.client().get("/api/v1/audit?limit=1000", host.token("auditor"));
  ASSERT_EQ(trail.status, 200) << trail.body;
  std::vector<std::string> actions;
  for (json items = trail.json()["items"]; auto& entry : items) {
    if (entry["object_type"] == "partner" && entry["object_id"] == "awo-migration-rheine") {
      EXPECT_EQ(entry["user_name"], "admin");
      actions.push_back(entry["action"]);
    }
  }
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(actions.front(), "create");
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "create"), 1);
  EXPECT_EQ(actions.back(), "update");
}

// ---- cooperation agreements ---------------------------------------------------------------------

TEST(PartnerNetworkTest, CoordinatorTakesAnAgreementFromDraftToSignedToTerminated) {
  KimHost host;
  Api coordinator(host, "co-kreis");
  Api cm(host, "cm-rheine-1");
  Api admin(host, "admin");
  EXPECT_TRUE(coordinator.read("/agreements")["items"].empty());

  auto by_case_manager = cm.post("/agreements", agreement_body());
  EXPECT_EQ(by_case_manager.status, 403) << by_case_manager.body;
  EXPECT_EQ(code_of(by_case_manager), "forbidden");
  auto by_officer =
      host.client().post("/api/v1/agreements", agreement_body(), host.token("officer"));
  EXPECT_EQ(by_officer.status, 403) << by_officer.body;
  EXPECT_TRUE(coordinator.read("/agreements")["items"].empty());

  auto created = coordinator.post("/agreements", agreement_body());
  ASSERT_EQ(created.status, 201) << created.body;
  json agreement = created.json();
  const std::string id = agreement["id"];
  const std::string path = "/agreements/" + id;
  EXPECT_EQ(id.rfind("agr_", 0), 0u) << id;
  EXPECT_EQ(agreement["status"], "draft");
  EXPECT_EQ(agreement["effective_status"], "draft");
  EXPECT_EQ(agreement["title"], agreement_body()["title"]);
  EXPECT_EQ(agreement["services"], json({"sgb2_integration_services"}));
  EXPECT_EQ(agreement["valid_from"], "2024-01-01");
  ASSERT_EQ(agreement["parties"].size(), 2u);
  EXPECT_EQ(agreement["parties"][1]["partner"], kJobcenter);
  EXPECT_EQ(agreement["parties"][1]["responsibility_ends"],
            agreement_body()["parties"][1]["responsibility_ends"]);
  EXPECT_EQ(agreement["handover_rule"], "Warme Übergabe in einem gemeinsamen Termin");
  ASSERT_EQ(agreement["data_terms"].size(), 1u);
  EXPECT_EQ(as_set(agreement["data_terms"][0]["categories"]),
            (std::set<std::string>{"identity", "contact", "language_level", "education_work"}));
  EXPECT_EQ(coordinator.read(path), agreement);
  EXPECT_EQ(cm.read(path), agreement) << "any authenticated role reads agreements";

  auto ids = [](json list) {
    std::vector<std::string> result;
    for (auto& item : list["items"])
      result.push_back(item["id"]);
    return result;
  };
  EXPECT_THAT(ids(coordinator.read("/agreements?partner=jobcenter-kreis-steinfurt")), Contains(id));
  EXPECT_THAT(ids(coordinator.read("/agreements?partner=town-greven")), Not(Contains(id)));
  EXPECT_THAT(ids(coordinator.read("/agreements?status=draft")), Contains(id));
  EXPECT_THAT(ids(coordinator.read("/agreements?status=signed")), Not(Contains(id)));

  // A draft's content may still change.
  auto retitled = coordinator.patch(path, {{"title", "Kooperationsvereinbarung SGB II"}});
  ASSERT_EQ(retitled.status, 200) << retitled.body;
  EXPECT_EQ(retitled.json()["title"], "Kooperationsvereinbarung SGB II");
  auto by_case_manager_patch = cm.patch(path, {{"status", "signed"}, {"signed_on", "2024-01-15"}});
  EXPECT_EQ(by_case_manager_patch.status, 403) << by_case_manager_patch.body;
  EXPECT_EQ(coordinator.read(path)["status"], "draft");

  auto signed_ = coordinator.patch(path, {{"status", "signed"}, {"signed_on", "2024-01-15"}});
  ASSERT_EQ(signed_.status, 200) << signed_.body;
  EXPECT_EQ(signed_.json()["status"], "signed");
  EXPECT_EQ(signed_.json()["effective_status"], "signed");
  EXPECT_EQ(signed_.json()["signed_on"], "2024-01-15");
  EXPECT_THAT(ids(coordinator.read("/agreements?status=signed")), Contains(id));
  agreement = coordinator.read(path);

  // Signed: the content is fixed; only the allowed status changes.
  for (json change :
       {json{{"title", "Neuer Titel"}}, json{{"services", {"sgb2_benefits"}}},
        json{{"handover_rule", "Formlos"}}, json{{"valid_from", "2023-01-01"}},
        json{{"data_terms", json::array()}},
        json{{"parties",
              {agreement_body()["parties"][0],
               with(agreement_body()["parties"][1], {{"partner", "town-rheine"}})}}}}) {
    SCOPED_TRACE(change.dump());
    auto refused = coordinator.patch(path, change);
    EXPECT_EQ(refused.status, 409) << refused.body;
    EXPECT_EQ(code_of(refused), "agreement_signed");
    EXPECT_EQ(coordinator.read(path), agreement);
  }
  auto back_to_draft = coordinator.patch(path, {{"status", "draft"}});
  EXPECT_EQ(back_to_draft.status, 409) << back_to_draft.body;
  EXPECT_EQ(code_of(back_to_draft), "transition_not_allowed");
  if (back_to_draft.status == 409) {
    EXPECT_EQ(as_set(back_to_draft.json()["error"]["details"]["allowed"]),
              (std::set<std::string>{"terminated", "expired"}));
  }
  EXPECT_EQ(coordinator.read(path), agreement);

  // A date of a status change goes only with that change.
  for (const json& change : {json{{"signed_on", "2024-01-20"}},
                             json{{"status", "terminated"}, {"signed_on", "2024-01-20"}},
                             json{{"terminated_on", date_in_days(0)}}}) {
    SCOPED_TRACE(change.dump());
    auto refused = coordinator.patch(path, change);
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(coordinator.read(path), agreement);
  }
  // Termination takes effect at once; a date before the signature or in the future is refused.
  for (const std::string& when : {std::string("2024-01-01"), date_in_days(1)}) {
    auto refused = coordinator.patch(path, {{"status", "terminated"}, {"terminated_on", when}});
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(field_of(refused), "terminated_on") << refused.body;
    EXPECT_EQ(coordinator.read(path), agreement);
  }
  auto terminated =
      coordinator.patch(path, {{"status", "terminated"}, {"terminated_on", date_in_days(0)}});
  ASSERT_EQ(terminated.status, 200) << terminated.body;
  EXPECT_EQ(terminated.json()["status"], "terminated");
  EXPECT_EQ(terminated.json()["effective_status"], "terminated");
  agreement = coordinator.read(path);
  auto resigned = coordinator.patch(path, {{"status", "signed"}, {"signed_on", "2024-02-01"}});
  EXPECT_EQ(resigned.status, 409) << resigned.body;
  EXPECT_EQ(code_of(resigned), "transition_not_allowed");
  if (resigned.status == 409) {
    EXPECT_TRUE(resigned.json()["error"]["details"]["allowed"].empty()) << resigned.body;
  }
  EXPECT_EQ(coordinator.read(path), agreement);

  // The effective status follows the dates; the status filter uses it.
  auto expired = admin.post("/agreements", with(agreement_body(), {{"status", "signed"},
                                                                   {"signed_on", "2023-12-15"},
                                                                   {"valid_to", "2025-12-31"}}));
  ASSERT_EQ(expired.status, 201) << expired.body;
  EXPECT_EQ(expired.json()["status"], "signed");
  EXPECT_EQ(expired.json()["effective_status"], "expired");
  const std::string expired_id = expired.json()["id"];
  EXPECT_THAT(ids(coordinator.read("/agreements?status=expired")), Contains(expired_id));
  EXPECT_THAT(ids(coordinator.read("/agreements?status=signed")), Not(Contains(expired_id)));
  // A lapsed agreement is not revived by moving its end: a new one is recorded instead.
  const json lapsed = coordinator.read("/agreements/" + expired_id);
  auto revived = coordinator.patch("/agreements/" + expired_id, {{"valid_to", "2030-12-31"}});
  EXPECT_EQ(revived.status, 409) << revived.body;
  EXPECT_EQ(code_of(revived), "agreement_ended");
  EXPECT_EQ(coordinator.read("/agreements/" + expired_id), lapsed);

  auto future =
      coordinator.post("/agreements", with(agreement_body(), {{"status", "signed"},
                                                              {"signed_on", date_in_days(0)},
                                                              {"valid_from", date_in_days(30)}}));
  ASSERT_EQ(future.status, 201) << future.body;
  EXPECT_EQ(future.json()["effective_status"], "not_yet_valid");

  auto current = coordinator.post(
      "/agreements", with(agreement_body(), {{"status", "signed"}, {"signed_on", "2024-01-10"}}));
  ASSERT_EQ(current.status, 201) << current.body;
  EXPECT_EQ(current.json()["effective_status"], "signed");
  const std::string current_id = current.json()["id"];
  EXPECT_THAT(ids(coordinator.read("/agreements?status=signed")), Contains(current_id));
  auto ended = coordinator.patch("/agreements/" + current_id, {{"status", "expired"}});
  ASSERT_EQ(ended.status, 200) << ended.body;
  EXPECT_EQ(ended.json()["status"], "expired");
  EXPECT_EQ(ended.json()["effective_status"], "expired");
  EXPECT_EQ(coordinator.read("/agreements")["items"].size(), 4u);
  EXPECT_EQ(coordinator.get("/agreements/agr_missing").status, 404);

  // Who recorded, signed and ended the data-protection terms is on the audit trail; refused
  // changes left nothing there.
  auto trail = host.client().get("/api/v1/audit?limit=1000", host.token("auditor"));
  ASSERT_EQ(trail.status, 200) << trail.body;
  std::vector<std::string> actions;
  for (json items = trail.json()["items"]; auto& entry : items) {
    if (entry["object_type"] == "agreement" && entry["object_id"] == id) {
      EXPECT_EQ(entry["user_name"], "co-kreis");
      actions.push_back(entry["action"]);
    }
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"create", "update", "signed", "terminated"}));
}

TEST(PartnerNetworkTest, InvalidAgreementsAreRefusedAndNothingIsStored) {
  KimHost host;
  Api coordinator(host, "co-kreis");
  auto existing = coordinator.post("/agreements", agreement_body());
  ASSERT_EQ(existing.status, 201) << existing.body;
  json before = coordinator.read("/agreements");
  ASSERT_EQ(before["items"].size(), 1u);

  auto parties = [](json list) { return with(agreement_body(), {{"parties", std::move(list)}}); };
  json office = agreement_body()["parties"][0];
  json jobcenter = agreement_body()["parties"][1];
  auto terms = [](json categories, json purposes, std::string partner = kJobcenter) {
    return with(agreement_body(),
                {{"data_terms",
                  {{{"partner", partner}, {"categories", categories}, {"purposes", purposes}}}}});
  };
  struct Row {
    std::string what;
    json body;
    std::string field;
  };
  const std::vector<Row> rows = {
      {"one party only", parties({office}), "parties"},
      {"no parties", without(agreement_body(), "parties"), "parties"},
      {"unknown partner in the parties",
       parties({office, with(jobcenter, {{"partner", "no-such-partner"}})}), "parties[1].partner"},
      {"same party twice", parties({office, office}), "parties[1].partner"},
      {"data terms for a partner who is no party",
       terms({"identity"}, {"referral"}, "agentur-fuer-arbeit-rheine"), "data_terms[0].partner"},
      {"data terms with an unknown category", terms({"identity", "religion"}, {"referral"}),
       "data_terms[0].categories[1]"},
      {"data terms without categories", terms(json::array(), {"referral"}),
       "data_terms[0].categories"},
      {"data terms with an unknown purpose", terms({"identity"}, {"marketing"}),
       "data_terms[0].purposes[0]"},
      {"data terms without purposes", terms({"identity"}, json::array()), "data_terms[0].purposes"},
      {"valid_to before valid_from", with(agreement_body(), {{"valid_to", "2023-12-31"}}),
       "valid_to"},
      {"valid_from in German notation", with(agreement_body(), {{"valid_from", "01.01.2024"}}),
       "valid_from"},
      {"no valid_from", without(agreement_body(), "valid_from"), "valid_from"},
      {"unknown service",
       with(agreement_body(), {{"services", {"sgb2_integration_services", "astrology"}}}),
       "services[1]"},
      {"no services", with(agreement_body(), {{"services", json::array()}}), "services"},
      {"no title", without(agreement_body(), "title"), "title"},
      {"created as expired", with(agreement_body(), {{"status", "expired"}}), "status"},
      {"unknown key", with(agreement_body(), {{"budget", 10000}}), "budget"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.what);
    auto refused = coordinator.post("/agreements", row.body);
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(code_of(refused), row.field == "budget" ? kUnknownKey : "invalid_field")
        << refused.body;
    EXPECT_EQ(field_of(refused), row.field) << refused.body;
    EXPECT_EQ(coordinator.read("/agreements"), before) << "a refused agreement was stored";
  }
}

}  // namespace
}  // namespace kim::test
