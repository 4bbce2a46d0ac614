// Integration chains over HTTP against the real kim binary: a template of service steps across
// legal domains, cases that follow it and are advanced by their referrals (accepted or completed,
// in the order of the steps), and the report per step with small cells suppressed. Refusals are
// checked to change nothing (templates, the case and its version).
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/shared_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kRecognition = "anerkennungsberatung-kreis-steinfurt";
constexpr const char* kAgency = "agentur-fuer-arbeit-rheine";
constexpr const char* kCaseManager = "cm-emsdetten-1";

json recognition_chain(const std::string& name) {
  return {{"name", name},
          {"description", "Anerkennung ausländischer Berufsabschlüsse"},
          {"steps",
           {{{"title", "Anerkennungsberatung"}, {"service", "recognition_counselling"}},
            {{"title", "Anpassungsqualifizierung"},
             {"service", "vocational_training"},
             {"partner_kind", "employment_agency"}},
            {{"title", "Vermittlung über das Jobcenter"},
             {"service", "sgb2_integration_services"},
             {"partner_kind", "jobcenter"}}}}};
}

class ChainTest : public SharedHost<> {
 protected:
  ChainTest() : co(*host_, "co-kreis"), cm(*host_, kCaseManager) {}

  static void SetUpTestSuite() {
    SharedHost<>::SetUpTestSuite();
    // Signed agreements of the county's office with the three partners of the chain.
    Api office(*host_, "co-kreis");
    const std::vector<std::pair<std::string, std::string>> covered = {
        {kRecognition, "recognition_counselling"},
        {kAgency, "vocational_training"},
        {kJobcenter, "sgb2_integration_services"}};
    for (const auto& [partner, service] : covered) {
      auto created =
          office.post("/agreements", with(agreement_body(kOffice, partner, service, {"identity"}),
                                          {{"status", "signed"}, {"signed_on", "2023-12-15"}}));
      EXPECT_EQ(created.status, 201) << created.body;
    }
  }

  // A case of the case manager with a consent for the three partners.
  std::string new_case() {
    json person = host_->create_person(kCaseManager, {{"town", "Emsdetten"}});
    if (!person.is_object()) return "";
    json opened = host_->open_case(kCaseManager, person["id"]);
    expect_status(cm.post("/persons/" + person["id"].get<std::string>() + "/consents",
                          {{"recipients", {kRecognition, kAgency, kJobcenter}},
                           {"purposes", {"referral"}},
                           {"categories", {"identity"}},
                           {"form", "written"},
                           {"given_on", date_in_days(-60)}}),
                  201);
    return opened.is_object() ? opened["id"].get<std::string>() : "";
  }

  // A referral of the case to `partner` for `service`, sent and then answered `status` on the
  // day `days` from today.
  std::string refer(const std::string& case_id, const std::string& partner,
                    const std::string& service, const std::string& status, int days) {
    auto referral =
        expect_status(cm.post("/cases/" + case_id + "/referrals", {{"partner", partner},
                                                                   {"service", service},
                                                                   {"categories", {"identity"}},
                                                                   {"send", true}}),
                      201);
    if (!referral.is_object()) return "";
    const std::string id = referral["id"];
    expect_status(cm.post("/cases/" + case_id + "/referrals/" + id + "/status",
                          {{"status", status}, {"occurred_on", date_in_days(days)}}),
                  200);
    return id;
  }

  std::string create_chain(const json& body) {
    auto created = expect_status(co.post("/chains", body), 201);
    return created.is_object() ? created["id"].get<std::string>() : "";
  }

  Api co, cm;
};

TEST_F(ChainTest, TemplatesAreValidated) {
  const std::string id = create_chain(recognition_chain("Anerkennung (Validierung)"));
  auto chain = co.read("/chains/" + id);
  ASSERT_EQ(chain["steps"].size(), 3u);
  EXPECT_EQ(chain["steps"][2]["partner_kind"], "jobcenter");
  EXPECT_EQ(chain["steps"][0]["partner_kind"], nullptr);
  EXPECT_EQ(cm.read("/chains/" + id), chain);  // templates hold nothing personal

  const json before = co.read("/chains");
  struct Row {
    json body;
    int status;
    std::string code, field;
  };
  json one_step = recognition_chain("Kurz");
  one_step["steps"] = json::array({one_step["steps"][0]});
  json bad_service = recognition_chain("Falsch");
  bad_service["steps"][1]["service"] = "fortune_telling";
  json bad_kind = recognition_chain("Falsch 2");
  bad_kind["steps"][2]["partner_kind"] = "bakery";
  json no_title = recognition_chain("Falsch 3");
  no_title["steps"][0].erase("title");
  const std::vector<Row> rows = {
      {recognition_chain("Anerkennung (Validierung)"), 409, "name_taken", "name"},
      {one_step, 400, "invalid_field", "steps"},
      {without(recognition_chain("x"), "steps"), 400, "invalid_field", "steps"},
      {bad_service, 400, "invalid_field", "steps[1].service"},
      {bad_kind, 400, "invalid_field", "steps[2].partner_kind"},
      {no_title, 400, "invalid_field", "steps[0].title"},
      {with(recognition_chain("y"), {{"owner", "x"}}), 400, kUnknownKey, "owner"},
  };
  for (const auto& row : rows) {
    auto response = co.post("/chains", row.body);
    EXPECT_EQ(response.status, row.status) << row.body.dump() << " " << response.body;
    EXPECT_EQ(code_of(response), row.code) << row.body.dump();
    EXPECT_EQ(field_of(response), row.field) << row.body.dump();
  }
  // Case managers follow chains; they do not define them.
  EXPECT_EQ(cm.post("/chains", recognition_chain("Fallmanager")).status, 403);
  EXPECT_EQ(cm.get("/chains/" + id + "/report").status, 403);
  EXPECT_EQ(co.read("/chains"), before);
  EXPECT_EQ(co.get("/chains/chain_unknown/report").status, 404);
}

TEST_F(ChainTest, FollowingAChainIsACaseChange) {
  const std::string chain = create_chain(recognition_chain("Anerkennung (Fall)"));
  const std::string case_id = new_case();
  ASSERT_FALSE(case_id.empty());
  const std::string path = "/cases/" + case_id + "/chains";
  auto state = [&] {
    auto response = cm.get("/cases/" + case_id);
    return std::make_pair(response.headers["etag"], cm.read(path));
  };
  const auto before = state();
  struct Row {
    json body;
    int status;
    std::string code, field;
  };
  const std::vector<Row> rows = {
      {{{"chain", "chain_unknown"}}, 400, "invalid_field", "chain"},
      {json::object(), 400, "invalid_field", "chain"},
      {{{"chain", chain}, {"started_on", date_in_days(3)}}, 400, "invalid_field", "started_on"},
      {{{"chain", chain}, {"started_on", "2026-13-01"}}, 400, "invalid_field", "started_on"},
  };
  for (const auto& row : rows) {
    auto response = cm.post(path, row.body);
    EXPECT_EQ(response.status, row.status) << row.body.dump() << " " << response.body;
    EXPECT_EQ(code_of(response), row.code);
    EXPECT_EQ(field_of(response), row.field);
    EXPECT_EQ(state(), before) << row.body.dump();
  }
  // Coordinators and other case managers do not put a case on a chain.
  EXPECT_EQ(co.post(path, {{"chain", chain}}).status, 403);
  Api stranger(*host_, "cm-greven");
  EXPECT_EQ(stranger.post(path, {{"chain", chain}}).status, 404);
  EXPECT_EQ(stranger.get(path).status, 404);
  EXPECT_EQ(state(), before);

  auto followed = cm.post(path, {{"chain", chain}});
  ASSERT_EQ(followed.status, 201) << followed.body;
  EXPECT_NE(followed.headers["etag"], before.first);  // the case's version moved
  auto again = cm.post(path, {{"chain", chain}});
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(code_of(again), "already_following");
  auto listed = cm.read(path)["items"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["next_step"], 1);
  EXPECT_EQ(listed[0]["completed"], false);
  // The supervising coordinator reads it.
  EXPECT_EQ(co.read(path)["items"].size(), 1u);
}

TEST_F(ChainTest, ReferralsAdvanceTheChainAndTheReportSuppressesSmallCells) {
  const std::string chain = create_chain(recognition_chain("Anerkennung (Bericht)"));
  // Six cases start 40 days ago. All reach step 1 ten days later; five reach step 2 another ten
  // days later; two of them complete the chain.
  std::vector<std::string> cases;
  for (int i = 0; i < 6; ++i) {
    cases.push_back(new_case());
    ASSERT_FALSE(cases.back().empty());
    expect_status(cm.post("/cases/" + cases.back() + "/chains",
                          {{"chain", chain}, {"started_on", date_in_days(-40)}}),
                  201);
  }
  for (int i = 0; i < 6; ++i) {
    refer(cases[i], kRecognition, "recognition_counselling", "accepted", -30);
  }
  for (int i = 0; i < 5; ++i)
    refer(cases[i], kAgency, "vocational_training", "accepted", -20);
  refer(cases[0], kJobcenter, "sgb2_integration_services", "accepted", -5);
  refer(cases[1], kJobcenter, "sgb2_integration_services", "accepted", -3);
  // The last case goes to the jobcenter before the qualification: out of order, it counts for no
  // step; a declined referral counts for none either.
  refer(cases[5], kJobcenter, "sgb2_integration_services", "accepted", -4);
  refer(cases[4], kJobcenter, "sgb2_integration_services", "declined", -2);

  auto first = cm.read("/cases/" + cases[0] + "/chains")["items"][0];
  EXPECT_EQ(first["completed"], true);
  EXPECT_EQ(first["next_step"], nullptr);
  EXPECT_EQ(first["steps"][0]["reached_on"], date_in_days(-30));
  EXPECT_EQ(first["steps"][1]["reached_on"], date_in_days(-20));
  EXPECT_EQ(first["steps"][2]["reached_on"], date_in_days(-5));
  auto last = cm.read("/cases/" + cases[5] + "/chains")["items"][0];
  EXPECT_EQ(last["next_step"], 2);
  EXPECT_EQ(last["steps"][1]["reached_on"], nullptr);
  EXPECT_EQ(last["steps"][2]["reached_on"], nullptr);
  auto declined = cm.read("/cases/" + cases[4] + "/chains")["items"][0];
  EXPECT_EQ(declined["next_step"], 3);

  // A referral that completes later advances a step as well (completed after in progress).
  const std::string late = new_case();
  expect_status(cm.post("/cases/" + late + "/chains", {{"chain", chain}}), 201);
  auto referral = expect_status(
      cm.post("/cases/" + late + "/referrals", {{"partner", kRecognition},
                                                {"service", "recognition_counselling"},
                                                {"categories", {"identity"}},
                                                {"send", true}}),
      201);
  const std::string status_path =
      "/cases/" + late + "/referrals/" + referral["id"].get<std::string>() + "/status";
  EXPECT_EQ(cm.read("/cases/" + late + "/chains")["items"][0]["next_step"], 1);
  expect_status(cm.post(status_path, {{"status", "accepted"}}), 200);
  EXPECT_EQ(cm.read("/cases/" + late + "/chains")["items"][0]["next_step"], 2);

  auto report = co.read("/chains/" + chain + "/report");
  EXPECT_EQ(report["cases"], 7);
  EXPECT_EQ(report["not_started"], 0);
  EXPECT_EQ(report["completed"], "<5");
  ASSERT_EQ(report["steps"].size(), 3u);
  EXPECT_EQ(report["steps"][0]["reached"], 7);
  EXPECT_EQ(report["steps"][0]["stopped_here"], "<5");  // the late case and the out-of-order one
  EXPECT_EQ(report["steps"][0]["median_days"], 10);     // 6 x 10 days, 1 x 0 days
  // 7 reached step 1 and 5 step 2, so "<5" stopped at step 1 would be 2: the 5 is withheld
  // (null: 5 or more), and 7 = (5 or 6) + (1 or 2) gives nothing away.
  EXPECT_EQ(report["steps"][1]["reached"], nullptr);
  EXPECT_EQ(report["steps"][1]["stopped_here"], "<5");
  EXPECT_EQ(report["steps"][1]["median_days"], 10);
  EXPECT_EQ(report["steps"][2]["reached"], "<5");
  EXPECT_EQ(report["steps"][2]["stopped_here"], 0);
  EXPECT_EQ(report["steps"][2]["median_days"], nullptr);  // fewer than five cases
  EXPECT_THAT(report["suppression"].get<std::string>(), HasSubstr("null"));
  // Counts only: no case, person or referral in it.
  for (const auto& id : cases)
    EXPECT_THAT(report.dump(), Not(HasSubstr(id)));

  // A case that has not started yet: 8 cases = "<5" not started + 7 would give it away, so the
  // number of cases is withheld.
  const std::string idle = new_case();
  expect_status(cm.post("/cases/" + idle + "/chains", {{"chain", chain}}), 201);
  auto again = co.read("/chains/" + chain + "/report");
  EXPECT_EQ(again["cases"], nullptr);
  EXPECT_EQ(again["not_started"], "<5");
  EXPECT_EQ(again["steps"][0]["reached"], 7);
  EXPECT_EQ(again["steps"][1]["reached"], nullptr);
  EXPECT_EQ(again["completed"], "<5");

  // Four cases on another chain of the same steps: one not started, one stopped at each of the
  // first two steps, one completed. However they were shown, 4 cases = 1 + 1 + 1 + 1 would
  // follow from the ranges alone: no count and no median is published.
  const std::string small = create_chain(recognition_chain("Anerkennung (klein)"));
  for (const auto& id : {cases[0], cases[2], cases[5], idle}) {
    expect_status(
        cm.post("/cases/" + id + "/chains", {{"chain", small}, {"started_on", date_in_days(-40)}}),
        201);
  }
  auto tiny = co.read("/chains/" + small + "/report");
  EXPECT_EQ(tiny["cases"], nullptr);
  EXPECT_EQ(tiny["not_started"], nullptr);
  EXPECT_EQ(tiny["completed"], nullptr);
  ASSERT_EQ(tiny["steps"].size(), 3u);
  for (const auto& step : tiny["steps"]) {
    EXPECT_EQ(step["reached"], nullptr) << step.dump();
    EXPECT_EQ(step["stopped_here"], nullptr) << step.dump();
    EXPECT_EQ(step["median_days"], nullptr) << step.dump();
  }

  // The declined referral is a gap in provision, and so a suggested challenge.
  auto suggestions = co.read("/challenges/suggestions")["items"];
  bool found = false;
  for (const auto& item : suggestions) {
    if (item["service"] == "sgb2_integration_services" && item["town"] == "Emsdetten") {
      found = true;
      EXPECT_EQ(item["partner_kind"], "jobcenter");
      EXPECT_EQ(item["already_raised"], false);
      EXPECT_THAT(item["topic"].get<std::string>(), HasSubstr("sgb2_integration_services"));
    }
  }
  EXPECT_TRUE(found) << suggestions.dump();
}

}  // namespace
}  // namespace kim::test
