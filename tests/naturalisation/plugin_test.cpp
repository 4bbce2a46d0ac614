// The naturalisation plugin's routes through the SDK's test kit (FakeHost): role rules, refused
// input with nothing stored or audited, the register's transitions and audit, the backlog's
// figures, and the case hint reading core through read_api as the caller.
#include <gtest/gtest.h>

#include <kim/sdk/testing.hpp>

namespace {

using kim::sdk::HttpMethod;
using kim::sdk::testing::FakeHost;
using nlohmann::json;

json body_of(const kim::sdk::HttpResponse& response) {
  return json::parse(response.body);
}

class NaturalisationWithFakeHost : public ::testing::Test {
 protected:
  void SetUp() override { host.start(*plugin); }
  void TearDown() override {
    host.stop();
    EXPECT_TRUE(host.errors().empty()) << host.errors().front();
  }

  kim::sdk::HttpResponse as(const std::string& role, HttpMethod method, const std::string& path,
                            const std::string& body = {}) {
    return host.call(method, path, FakeHost::request_as(role, body));
  }
  kim::sdk::HttpResponse officer(HttpMethod method, const std::string& path,
                                 const json& body = nullptr) {
    return as("authority_officer", method, path, body.is_null() ? std::string() : body.dump());
  }
  int stored() {
    return host.database()
        .query(
            "SELECT (SELECT count(*) FROM naturalisation_applications) + "
            "(SELECT count(*) FROM naturalisation_status_changes) AS n")
        .at(0)
        .at("n")
        .get<int>();
  }
  // An application received on `received`, moved through `steps` ({status, on}).
  std::int64_t application(const std::string& received,
                           const std::vector<std::pair<std::string, std::string>>& steps) {
    auto created = officer(HttpMethod::kPost, "/applications", {{"received_on", received}});
    EXPECT_EQ(created.status, 201) << created.body;
    const auto id = body_of(created)["id"].get<std::int64_t>();
    for (const auto& [status, on] : steps) {
      auto changed = officer(HttpMethod::kPost, "/applications/" + std::to_string(id) + "/status",
                             {{"status", status}, {"on", on}});
      EXPECT_EQ(changed.status, 200) << changed.body;
    }
    return id;
  }

  FakeHost host{"naturalisation",
                {{"default_page_size", 2}, {"age_bands_days", {90, 180, 365, 730}}}};
  std::unique_ptr<kim::sdk::Plugin> plugin = kim::sdk::testing::exported_plugin();
};

TEST_F(NaturalisationWithFakeHost, PreChecksAreForOfficersAndCaseManagers) {
  const std::string body = R"({"application_date": "2025-08-15", "german_level": "C1"})";
  EXPECT_EQ(as("case_manager", HttpMethod::kPost, "/pre-checks", body).status, 200);
  auto answer = as("authority_officer", HttpMethod::kPost, "/pre-checks", body);
  ASSERT_EQ(answer.status, 200);
  EXPECT_EQ(body_of(answer)["rule_set"]["id"], "stag-10-from-2024-06-27");
  EXPECT_EQ(body_of(answer)["result"], "cannot_tell");  // residence and the rest unknown
  EXPECT_EQ(as("coordinator", HttpMethod::kPost, "/pre-checks", body).status, 403);
  EXPECT_EQ(as("auditor", HttpMethod::kPost, "/residence-pre-checks/25a", "{}").status, 403);
  EXPECT_EQ(as("case_manager", HttpMethod::kPost, "/residence-pre-checks/25a", "{}").status, 200);
  EXPECT_EQ(as("case_manager", HttpMethod::kPost, "/residence-pre-checks/25c", "{}").status, 404);
  auto sets = as("case_manager", HttpMethod::kGet, "/rule-sets");
  ASSERT_EQ(sets.status, 200);
  EXPECT_EQ(body_of(sets)["checks"]["stag-10"].size(), 3u);
}

TEST_F(NaturalisationWithFakeHost, BadPreCheckInputIsRefusedWithItsFieldAndNothingStored) {
  std::string deep = R"({"german_level": )";
  for (int i = 0; i < 100; ++i)
    deep += "[";
  for (int i = 0; i < 100; ++i)
    deep += "]";
  deep += "}";
  struct Bad {
    std::string path, body, code, field;
  };
  for (const auto& bad : std::vector<Bad>{
           {"/pre-checks", R"({"german_level": "D2"})", "invalid_field", "german_level"},
           {"/pre-checks", R"({"application_date": "15.08.2025"})", "invalid_field",
            "application_date"},
           {"/pre-checks", R"({"lawful_residence_since": "2999-01-01"})", "invalid_field",
            "lawful_residence_since"},
           {"/pre-checks", R"({"name": "Ada"})", "unknown_field", "name"},
           {"/pre-checks", "[1]", "invalid_json", ""},
           {"/pre-checks", deep, "json_too_deep", ""},
           {"/residence-pre-checks/25a", R"({"school_years": -1})", "invalid_field",
            "school_years"},
           {"/residence-pre-checks/25b", R"({"german_oral_level": 2})", "invalid_field",
            "german_oral_level"}}) {
    auto response = as("case_manager", HttpMethod::kPost, bad.path, bad.body);
    EXPECT_EQ(response.status, 400) << bad.body.substr(0, 60);
    const auto error = body_of(response)["error"];
    EXPECT_EQ(error["code"], bad.code) << response.body;
    EXPECT_EQ(error.value("field", ""), bad.field) << response.body;
  }
  EXPECT_EQ(stored(), 0);
  EXPECT_TRUE(host.audited().empty());
}

TEST_F(NaturalisationWithFakeHost, TheRegisterFollowsItsTransitionsAndAuditsEveryReadAndWrite) {
  EXPECT_EQ(as("case_manager", HttpMethod::kPost, "/applications", "{}").status, 403);
  EXPECT_EQ(as("coordinator", HttpMethod::kGet, "/applications").status, 403);
  EXPECT_EQ(stored(), 0);

  auto created = officer(HttpMethod::kPost, "/applications",
                         {{"received_on", "2026-01-10"},
                          {"external_reference", "XEINB-2026-0001"},
                          {"case_id", "case_0123456789abcdef0123456789abcdef"}});
  ASSERT_EQ(created.status, 201) << created.body;
  const json application = body_of(created);
  const std::string id = std::to_string(application["id"].get<std::int64_t>());
  EXPECT_EQ(application["status"], "received");
  EXPECT_EQ(application["responsible_officer"],
            FakeHost::request_as("authority_officer").principal->user_name);
  EXPECT_EQ(application["next_statuses"],
            json({"documents_requested", "documents_complete", "withdrawn"}));

  // A jump the office does not make: 409, nothing changed, nothing audited.
  const auto before = stored();
  const auto audited_before = host.audited().size();
  auto jump =
      officer(HttpMethod::kPost, "/applications/" + id + "/status", {{"status", "naturalised"}});
  EXPECT_EQ(jump.status, 409);
  EXPECT_EQ(body_of(jump)["error"]["code"], "invalid_transition");
  EXPECT_EQ(stored(), before);
  EXPECT_EQ(host.audited().size(), audited_before);
  // Bad bodies: 400 with the field, nothing changed.
  for (const auto& [body, field] : std::vector<std::pair<json, std::string>>{
           {{{"status", "approved"}}, "status"},
           {{{"status", "withdrawn"}, {"on", "2026-01-09"}}, "on"},
           {{{"status", "withdrawn"}, {"on", "2999-01-01"}}, "on"},
           {{{"status", "withdrawn"}, {"why", "x"}}, "why"},
           {json::object(), "status"}}) {
    auto refused = officer(HttpMethod::kPost, "/applications/" + id + "/status", body);
    EXPECT_EQ(refused.status, 400) << body.dump();
    EXPECT_EQ(body_of(refused)["error"]["field"], field) << refused.body;
  }
  for (const auto& [body, field] :
       std::vector<std::pair<json, std::string>>{{{{"received_on", "2999-01-01"}}, "received_on"},
                                                 {{{"case_id", "case_1"}}, "case_id"},
                                                 {{{"applicant", "Ada"}}, "applicant"}}) {
    auto refused = officer(HttpMethod::kPost, "/applications", body);
    EXPECT_EQ(refused.status, 400) << body.dump();
    EXPECT_EQ(body_of(refused)["error"]["field"], field) << refused.body;
  }
  EXPECT_EQ(stored(), before);
  EXPECT_EQ(host.audited().size(), audited_before);

  auto moved = officer(HttpMethod::kPost, "/applications/" + id + "/status",
                       {{"status", "documents_requested"}, {"on", "2026-01-20"}});
  ASSERT_EQ(moved.status, 200) << moved.body;
  EXPECT_EQ(body_of(moved)["status"], "documents_requested");
  auto read = officer(HttpMethod::kGet, "/applications/" + id);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(body_of(read)["history"].size(), 2u);
  EXPECT_EQ(officer(HttpMethod::kGet, "/applications/999").status, 404);
  EXPECT_EQ(officer(HttpMethod::kGet, "/applications/x1").status, 404);

  std::vector<std::string> actions;
  for (const auto& entry : host.audited()) {
    EXPECT_EQ(entry.object_type, "naturalisation.application");
    EXPECT_EQ(entry.object_id, id);
    actions.push_back(entry.action);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"create", "update", "read"}));
}

TEST_F(NaturalisationWithFakeHost, ListIsPagedAndEveryListedApplicationIsAuditedAsRead) {
  for (const char* received : {"2026-01-01", "2026-02-01", "2026-03-01"})
    application(received, {});
  const auto audited_before = host.audited().size();
  auto first = officer(HttpMethod::kGet, "/applications");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(body_of(first)["items"].size(), 2u);  // default_page_size
  EXPECT_EQ(body_of(first)["total"], 3);
  auto rest = host.call(HttpMethod::kGet, "/applications", [] {
    auto request = FakeHost::request_as("authority_officer");
    request.query = {{"offset", "2"}, {"limit", "10"}};
    return request;
  }());
  EXPECT_EQ(body_of(rest)["items"].size(), 1u);
  EXPECT_EQ(host.audited().size(), audited_before + 3);
  auto bad = host.call(HttpMethod::kGet, "/applications", [] {
    auto request = FakeHost::request_as("authority_officer");
    request.query = {{"limit", "0"}};
    return request;
  }());
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(body_of(bad)["error"]["field"], "limit");
}

TEST_F(NaturalisationWithFakeHost, BacklogReportsTheRealFiguresWithoutPersonalData) {
  const std::vector<std::pair<std::string, std::string>> to_decision = {
      {"documents_complete", "2026-02-20"},
      {"checks_running", "2026-03-01"},
      {"decision_pending", "2026-04-01"}};
  auto decided = [&](std::string status, std::string on) {
    auto steps = to_decision;
    steps.emplace_back(status, on);
    return steps;
  };
  application("2026-01-10", decided("naturalised", "2026-05-10"));     // 120 days
  application("2026-02-15", decided("refused", "2026-05-20"));         // 94 days
  application("2026-01-31", decided("naturalised", "2026-08-01"));     // 182 days
  application("2026-11-20", {});                                       // open, 11 days
  application("2026-06-01", {{"documents_requested", "2026-06-10"}});  // open, 183 days
  application("2024-10-01", {{"withdrawn", "2025-01-10"}});            // closed, no decision
  application("2024-11-15", {{"documents_complete", "2024-12-01"},
                             {"checks_running", "2025-01-01"}});  // open, 746 days

  auto request = FakeHost::request_as("coordinator");
  request.query = {{"as_of", "2026-12-01"}};
  auto response = host.call(HttpMethod::kGet, "/backlog", request);
  ASSERT_EQ(response.status, 200) << response.body;
  const json backlog = body_of(response);
  EXPECT_EQ(backlog["open_total"], 3);
  EXPECT_EQ(backlog["open_by_status"], json({{"received", 1},
                                             {"documents_requested", 1},
                                             {"documents_complete", 0},
                                             {"checks_running", 1},
                                             {"decision_pending", 0}}));
  std::vector<int> bands;
  for (const auto& band : backlog["open_by_age_band"])
    bands.push_back(band["count"]);
  EXPECT_EQ(bands, (std::vector<int>{1, 0, 1, 0, 1}));
  EXPECT_EQ(backlog["open_by_age_band"][2]["band"], "181-365 days");
  EXPECT_EQ(backlog["oldest_open_days"], 746);
  EXPECT_EQ(backlog["decided_total"], 3);
  EXPECT_EQ(backlog["median_processing_days"], 120);
  json may, january_2025;
  for (const auto& month : backlog["per_month"]) {
    if (month["month"] == "2026-05") may = month;
    if (month["month"] == "2025-01") january_2025 = month;
  }
  EXPECT_EQ(may, json({{"month", "2026-05"},
                       {"received", 0},
                       {"decided", 2},
                       {"naturalised", 1},
                       {"refused", 1},
                       {"withdrawn", 0}}));
  EXPECT_EQ(january_2025["withdrawn"], 1);
  EXPECT_EQ(january_2025["decided"], 0);
  EXPECT_EQ(response.body.find("XEINB"), std::string::npos);
  EXPECT_EQ(response.body.find("responsible"), std::string::npos);

  EXPECT_EQ(as("case_manager", HttpMethod::kGet, "/backlog").status, 403);
}

TEST_F(NaturalisationWithFakeHost, CaseHintReadsTheCaseAsTheCallerAndKeeps404) {
  const std::string case_id = "case_0123456789abcdef0123456789abcdef";
  host.answer_reads([&](const kim::sdk::HttpRequest& request) {
    if (request.path == "/api/v1/cases/" + case_id)
      return kim::sdk::HttpResponse::json(200, {{"id", case_id}, {"person", {{"id", "per_1"}}}});
    if (request.path == "/api/v1/persons/per_1")
      return kim::sdk::HttpResponse::json(200, {{"id", "per_1"},
                                                {"given_names", "Ada"},
                                                {"date_of_birth", "2001-03-01"},
                                                {"arrival_date", "2015-01-01"},
                                                {"residence_status", "duldung"}});
    return kim::sdk::HttpResponse::error(404, "not_found", "case not found");
  });
  auto hint = as("case_manager", HttpMethod::kGet, "/cases/" + case_id + "/hint");
  ASSERT_EQ(hint.status, 200) << hint.body;
  const json answer = body_of(hint);
  EXPECT_EQ(answer["advisory"], true);
  ASSERT_EQ(answer["checks"].size(), 3u);
  EXPECT_EQ(answer["checks"][0]["check"], "stag-10");
  EXPECT_EQ(answer["checks"][0]["result"], "cannot_tell");  // residence met, the rest unknown
  EXPECT_EQ(answer["checks"][0]["facts_used"]["lawful_residence_since"], "2015-01-01");
  EXPECT_EQ(answer["referral_worth_considering"], true);
  EXPECT_EQ(hint.body.find("Ada"), std::string::npos);  // the name is not passed on
  EXPECT_EQ(host.reads().size(), 2u);

  auto missing =
      as("case_manager", HttpMethod::kGet, "/cases/case_ffffffffffffffffffffffffffffffff/hint");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(as("authority_officer", HttpMethod::kGet, "/cases/" + case_id + "/hint").status, 403);
}

}  // namespace
