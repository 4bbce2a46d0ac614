// The naturalisation plugin (plugins/naturalisation, a real .so built with kim_add_plugin) in the
// real kim: the pre-check example, roles, the register's transitions and audit trail,
// the backlog's figures, the case hint through the caller's access policy, and that a disabled
// plugin leaves no route behind.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/kim_process.hpp"
#include "support/paths.hpp"

namespace kim::test {
namespace {

using nlohmann::json;

json enabled() {
  return {{"plugins",
           {{"directories", {KIM_PLUGIN_DIR}},
            {"settings",
             {{"hello", {{"config", json::object()}}}, {"naturalisation", {{"enabled", true}}}}}}}};
}

class NaturalisationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { host_ = std::make_unique<KimHost>(json::object(), enabled()); }
  static void TearDownTestSuite() { host_.reset(); }
  static inline std::unique_ptr<KimHost> host_;

  // Audit entries of one request.
  static std::vector<json> audited(const HttpResult& response) {
    Api auditor(*host_, "auditor");
    auto trail = auditor.read("/audit?limit=1000");
    std::vector<json> entries;
    for (const auto& entry : trail["items"])
      if (entry["request_id"] == response.headers.at("x-request-id")) entries.push_back(entry);
    return entries;
  }
};

json all_other_facts(json facts) {
  const json others = {{"identity_clarified", true},
                       {"qualifying_residence_title", true},
                       {"naturalisation_test_passed", true},
                       {"livelihood_secured", true},
                       {"no_relevant_convictions", true},
                       {"commitment_to_constitution", true},
                       {"commitment_historical_responsibility", true},
                       {"german_level", "C1"},
                       {"special_integration_achievements", true}};
  for (const auto& [key, value] : others.items())
    facts[key] = value;
  return facts;
}

std::string residence_result(const json& answer) {
  for (const auto& criterion : answer["criteria"])
    if (criterion["id"] == "residence_time") return criterion["result"];
  return "<absent>";
}

TEST_F(NaturalisationTest, FourYearsC1AndSpecialAchievementsAnswerByApplicationDate) {
  Api cm(*host_, "cm-rheine-1");
  auto in_2021 = cm.post("/plugins/naturalisation/pre-checks",
                         all_other_facts({{"application_date", "2021-06-01"},
                                          {"lawful_residence_since", "2017-06-01"}}));
  ASSERT_EQ(in_2021.status, 200) << in_2021.body;
  EXPECT_EQ(in_2021.json()["result"], "not_yet");
  EXPECT_EQ(residence_result(in_2021.json()), "not_met");
  EXPECT_EQ(in_2021.json()["later_rule_sets"][0]["earliest_application_date"], "2024-06-27");

  auto in_2025 = cm.post("/plugins/naturalisation/pre-checks",
                         all_other_facts({{"application_date", "2025-08-15"},
                                          {"lawful_residence_since", "2021-08-15"}}));
  ASSERT_EQ(in_2025.status, 200) << in_2025.body;
  EXPECT_EQ(in_2025.json()["result"], "likely_eligible");
  EXPECT_EQ(residence_result(in_2025.json()), "met");
  EXPECT_EQ(in_2025.json()["advisory"], true);

  auto in_2026 = cm.post("/plugins/naturalisation/pre-checks",
                         all_other_facts({{"application_date", "2026-03-01"},
                                          {"lawful_residence_since", "2022-03-01"}}));
  ASSERT_EQ(in_2026.status, 200) << in_2026.body;
  EXPECT_EQ(in_2026.json()["result"], "not_yet");
  EXPECT_EQ(in_2026.json()["rule_set"]["id"], "stag-10-from-2025-10-30");
  EXPECT_EQ(in_2026.json()["earliest_residence_date"], "2027-03-01");

  // Bad input: 400 with the field, nothing audited (a pre-check stores nothing).
  auto bad = cm.post("/plugins/naturalisation/pre-checks", {{"german_level", "C3"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(field_of(bad), "german_level");
  EXPECT_TRUE(audited(bad).empty());
  EXPECT_EQ(
      Api(*host_, "co-kreis").post("/plugins/naturalisation/pre-checks", json::object()).status,
      403);
}

TEST_F(NaturalisationTest, RegisterIsForOfficersAuditedAndRefusesJumps) {
  Api officer(*host_, "officer");
  EXPECT_EQ(Api(*host_, "cm-rheine-1")
                .post("/plugins/naturalisation/applications", json::object())
                .status,
            403);
  EXPECT_EQ(Api(*host_, "co-kreis").get("/plugins/naturalisation/applications").status, 403);

  auto created = officer.post("/plugins/naturalisation/applications",
                              {{"received_on", "2026-01-10"}, {"external_reference", "XE-1"}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = std::to_string(created.json()["id"].get<std::int64_t>());
  EXPECT_EQ(created.json()["responsible_officer"], "officer");
  auto create_audit = audited(created);
  ASSERT_EQ(create_audit.size(), 1u);
  EXPECT_EQ(create_audit[0]["user_name"], "officer");
  EXPECT_EQ(create_audit[0]["action"], "create");
  EXPECT_EQ(create_audit[0]["object_type"], "naturalisation.application");
  EXPECT_EQ(create_audit[0]["object_id"], id);

  auto jump = officer.post("/plugins/naturalisation/applications/" + id + "/status",
                           {{"status", "naturalised"}});
  EXPECT_EQ(jump.status, 409);
  EXPECT_EQ(code_of(jump), "invalid_transition");
  EXPECT_TRUE(audited(jump).empty());
  auto unchanged = officer.get("/plugins/naturalisation/applications/" + id);
  ASSERT_EQ(unchanged.status, 200);
  EXPECT_EQ(unchanged.json()["status"], "received");
  EXPECT_EQ(unchanged.json()["history"].size(), 1u);
  ASSERT_EQ(audited(unchanged).size(), 1u);
  EXPECT_EQ(audited(unchanged)[0]["action"], "read");

  auto moved = officer.post("/plugins/naturalisation/applications/" + id + "/status",
                            {{"status", "documents_requested"}, {"on", "2026-01-15"}});
  ASSERT_EQ(moved.status, 200) << moved.body;
  ASSERT_EQ(audited(moved).size(), 1u);
  EXPECT_EQ(audited(moved)[0]["action"], "update");

  auto listed = officer.get("/plugins/naturalisation/applications?limit=500");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(audited(listed).size(), listed.json()["items"].size());
}

TEST(NaturalisationBacklogTest, ReportsTheFiguresOfStoredApplications) {
  KimHost host(json::object(), enabled());
  Api officer(host, "officer");
  auto make = [&](const std::string& received,
                  const std::vector<std::pair<std::string, std::string>>& steps) {
    auto created =
        officer.post("/plugins/naturalisation/applications", {{"received_on", received}});
    ASSERT_EQ(created.status, 201) << created.body;
    const auto id = std::to_string(created.json()["id"].get<std::int64_t>());
    for (const auto& [status, on] : steps) {
      auto changed = officer.post("/plugins/naturalisation/applications/" + id + "/status",
                                  {{"status", status}, {"on", on}});
      ASSERT_EQ(changed.status, 200) << changed.body;
    }
  };
  make("2026-01-10", {{"documents_complete", "2026-02-01"},
                      {"checks_running", "2026-03-01"},
                      {"decision_pending", "2026-04-01"},
                      {"naturalised", "2026-05-10"}});  // 120 days
  make("2026-03-01", {{"withdrawn", "2026-03-05"}});
  make("2026-11-01", {});
  make("2025-06-01", {{"documents_requested", "2025-07-01"}});

  auto response = Api(host, "co-kreis").get("/plugins/naturalisation/backlog?as_of=2026-12-01");
  ASSERT_EQ(response.status, 200) << response.body;
  const json backlog = response.json();
  EXPECT_EQ(backlog["open_total"], 2);
  EXPECT_EQ(backlog["open_by_status"]["received"], 1);
  EXPECT_EQ(backlog["open_by_status"]["documents_requested"], 1);
  EXPECT_EQ(backlog["oldest_open_days"], 548);
  EXPECT_EQ(backlog["open_by_age_band"][0]["count"], 1);  // 30 days
  EXPECT_EQ(backlog["open_by_age_band"][3]["count"], 1);  // 548 days: 366-730
  EXPECT_EQ(backlog["median_processing_days"], 120);
  EXPECT_EQ(backlog["decided_total"], 1);
  EXPECT_EQ(Api(host, "cm-rheine-1").get("/plugins/naturalisation/backlog").status, 403);
  // The same route at the plugin's short mount, as the issue names it.
  auto short_path = Api(host, "co-kreis").get("/naturalisation/backlog?as_of=2026-12-01");
  ASSERT_EQ(short_path.status, 200) << short_path.body;
  EXPECT_EQ(short_path.json(), backlog);
  EXPECT_EQ(Api(host, "cm-rheine-1").get("/naturalisation/backlog").status, 403);
}

TEST_F(NaturalisationTest, CaseHintReadsTheCaseAsTheCaller) {
  auto person = host_->create_person("cm-rheine-1", {{"arrival_date", "2015-03-01"},
                                                     {"residence_status", "duldung"},
                                                     {"date_of_birth", "2002-05-01"}});
  auto opened = host_->open_case("cm-rheine-1", person["id"]);
  const std::string case_id = opened["id"];

  auto hint = Api(*host_, "cm-rheine-1").get("/plugins/naturalisation/cases/" + case_id + "/hint");
  ASSERT_EQ(hint.status, 200) << hint.body;
  EXPECT_EQ(hint.json()["advisory"], true);
  EXPECT_EQ(hint.json()["referral_worth_considering"], true);
  ASSERT_EQ(hint.json()["checks"].size(), 3u);
  EXPECT_EQ(hint.json()["checks"][0]["facts_used"]["lawful_residence_since"], "2015-03-01");
  EXPECT_EQ(hint.body.find(person["family_name"].get<std::string>()), std::string::npos);
  // Read under the caller, through the host's policy and audit.
  bool read_audited = false;
  for (const auto& entry : audited(hint))
    read_audited =
        read_audited || (entry["user_name"] == "cm-rheine-1" && entry["action"] == "read");
  EXPECT_TRUE(read_audited);

  // Another organisation's case manager gets what the API gives: 404, nothing of the case.
  auto stranger =
      Api(*host_, "cm-greven").get("/plugins/naturalisation/cases/" + case_id + "/hint");
  EXPECT_EQ(stranger.status, 404);
  EXPECT_EQ(stranger.body.find("2015-03-01"), std::string::npos);
}

// The plugin's config block is checked like serve checks it: by its schema (kim config check,
// exit 2 naming the path) and by load() (age bands out of order: kim plugins list, exit 1).
TEST(NaturalisationConfigTest, ABadConfigBlockIsFoundBeforeServing) {
  TempDir dir;
  const auto path = (dir.path() / "kim.json").string();
  auto write = [&](const json& block) {
    std::ofstream(path) << json({{"data_dir", "var"},
                                 {"plugins",
                                  {{"directories", {KIM_PLUGIN_DIR}},
                                   {"settings", {{"naturalisation", {{"config", block}}}}}}}})
                               .dump();
  };
  write({{"default_page_size", 0}});
  auto check = run_command(KIM_BINARY, {"config", "check", "--config", path});
  EXPECT_EQ(check.exit_code, 2) << check.out << check.err;
  EXPECT_NE(check.err.find("plugins.settings.naturalisation.config.default_page_size"),
            std::string::npos)
      << check.err;

  write({{"age_bands_days", {365, 90}}});
  auto list = run_command(KIM_BINARY, {"plugins", "list", "--config", path});
  EXPECT_EQ(list.exit_code, 1) << list.out << list.err;
  EXPECT_NE((list.out + list.err).find("age_bands_days must be ascending"), std::string::npos)
      << list.out << list.err;

  write(json::object());
  list = run_command(KIM_BINARY, {"plugins", "list", "--config", path});
  EXPECT_EQ(list.exit_code, 0) << list.out << list.err;
}

TEST(NaturalisationDisabledTest, ADisabledPluginLeavesNoRoute) {
  KimHost host;  // hello only
  EXPECT_EQ(Api(host, "co-kreis").get("/plugins/naturalisation/backlog").status, 404);
  EXPECT_EQ(Api(host, "co-kreis").get("/naturalisation/backlog").status, 404);
  EXPECT_EQ(
      Api(host, "officer").post("/plugins/naturalisation/applications", json::object()).status,
      404);
}

}  // namespace
}  // namespace kim::test
