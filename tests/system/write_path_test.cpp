// The one write path of a case, seen through the API: every route that changes a case or one of
// its parts refuses a stale If-Match with 412 and changes nothing, a closed case takes no new or
// changed parts, tasks and notes are told to plugins like every other change, and revoking a
// consent stops the referrals that rely on it in every open status. The route table below is
// compared with the API's own list, so a new case write route cannot escape these checks.
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/kim_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;

constexpr const char* kService = "sgb2_integration_services";
constexpr const char* kCaseManager = "cm-rheine-1";

json signed_agreement() {
  return {{"title", "KIM – Jobcenter"},
          {"parties",
           {{{"partner", kOffice}, {"tasks", "KIM"}, {"responsibility_ends", "hand-over"}},
            {{"partner", kJobcenter},
             {"tasks", "SGB II"},
             {"responsibility_ends", "end of benefits"}}}},
          {"handover_rule", "joint first meeting"},
          {"services", {kService}},
          {"valid_from", "2026-01-01"},
          {"status", "signed"},
          {"data_terms",
           {{{"partner", kJobcenter}, {"categories", {"identity"}}, {"purposes", {"referral"}}}}}};
}

json identity_consent() {
  return {{"recipients", {kJobcenter}},
          {"purposes", {"referral"}},
          {"categories", {"identity"}},
          {"form", "written"},
          {"given_on", date_in_days(-1)}};
}

json referral_body(bool send) {
  return {
      {"partner", kJobcenter}, {"service", kService}, {"categories", {"identity"}}, {"send", send}};
}

std::string etag(std::int64_t version) {
  return "\"" + std::to_string(version) + "\"";
}

// Everything a case write may touch, to compare before and after a refused request.
struct CaseSnapshot {
  json case_body, assessments, goals, tasks, notes, referrals;
  std::string etag;
  bool operator==(const CaseSnapshot&) const = default;
};

CaseSnapshot snapshot(Api& api, const std::string& base) {
  auto current = api.get(base);
  EXPECT_EQ(current.status, 200) << current.body;
  return {json::parse(current.body, nullptr, false),
          api.read(base + "/assessments"),
          api.read(base + "/goals"),
          api.read(base + "/tasks"),
          api.read(base + "/notes"),
          api.read(base + "/referrals"),
          current.headers["etag"]};
}

// One write route of a case, with a body that is valid at its place in the table's order.
struct CaseWrite {
  std::string method;
  std::string pattern;  // as the API documents it
  std::function<std::string()> path;
  json body;
  std::function<void(const json&)> remember;  // keeps an id the later rows need
};

TEST(WritePathTest, StaleIfMatchIsRefusedByEveryCaseWriteAndChangesNothing) {
  KimHost host;
  Api cm(host, kCaseManager);
  Api co(host, "co-kreis");
  auto person = host.create_person(kCaseManager);
  auto opened = host.open_case(kCaseManager, person["id"]);
  ASSERT_TRUE(opened.is_object());
  const std::string base = "/cases/" + opened["id"].get<std::string>();
  ASSERT_EQ(co.post("/agreements", signed_agreement()).status, 201);
  ASSERT_EQ(cm.post("/persons/" + person["id"].get<std::string>() + "/consents", identity_consent())
                .status,
            201);

  auto chain =
      co.post("/chains", {{"name", "Anerkennung"},
                          {"steps",
                           {{{"title", "Beratung"}, {"service", "recognition_counselling"}},
                            {{"title", "Qualifizierung"}, {"service", "vocational_training"}}}}});
  ASSERT_EQ(chain.status, 201) << chain.body;

  std::string goal_id, task_id, referral_id;
  const std::vector<CaseWrite> writes = {
      {"POST",
       "/api/v1/cases/{id}/transitions",
       [&] { return base + "/transitions"; },
       {{"to", "assessment"}},
       nullptr},
      {"POST",
       "/api/v1/cases/{id}/assessments",
       [&] { return base + "/assessments"; },
       {{"domains", {{{"life_domain", "language"}, {"need_level", "high"}}}}},
       nullptr},
      {"POST",
       "/api/v1/cases/{id}/goals",
       [&] { return base + "/goals"; },
       {{"life_domain", "language"}, {"description", "B1"}, {"due_date", date_in_days(90)}},
       [&](const json& created) { goal_id = created["id"]; }},
      {"PATCH",
       "/api/v1/cases/{id}/goals/{goal_id}",
       [&] { return base + "/goals/" + goal_id; },
       {{"status", "partly_achieved"}},
       nullptr},
      {"POST",
       "/api/v1/cases/{id}/tasks",
       [&] { return base + "/tasks"; },
       {{"description", "Call the school"}, {"due_date", date_in_days(7)}},
       [&](const json& created) { task_id = created["id"]; }},
      {"PATCH",
       "/api/v1/cases/{id}/tasks/{task_id}",
       [&] { return base + "/tasks/" + task_id; },
       {{"done", true}},
       nullptr},
      {"POST",
       "/api/v1/cases/{id}/notes",
       [&] { return base + "/notes"; },
       {{"occurred_on", date_in_days(0)}, {"kind", "phone"}, {"text", "Called"}},
       nullptr},
      {"POST", "/api/v1/cases/{id}/referrals", [&] { return base + "/referrals"; },
       referral_body(false), [&](const json& created) { referral_id = created["id"]; }},
      {"POST",
       "/api/v1/cases/{id}/referrals/{referral_id}/status",
       [&] { return base + "/referrals/" + referral_id + "/status"; },
       {{"status", "sent"}},
       nullptr},
      {"POST",
       "/api/v1/cases/{id}/challenges",
       [&] { return base + "/challenges"; },
       {{"topic", "Kein Kurs"}, {"life_domain", "language"}, {"description", "Kein B2-Kurs"}},
       nullptr},
      {"POST",
       "/api/v1/cases/{id}/chains",
       [&] { return base + "/chains"; },
       {{"chain", chain.json()["id"]}},
       nullptr},
  };

  // The table holds every documented write below /cases/{id}: a new one must join it.
  std::set<std::string> documented, tested;
  const json spec = cm.read("/openapi.json");
  for (const auto& [path, operations] : spec["paths"].items()) {
    if (path.rfind("/api/v1/cases/{id}", 0) != 0) continue;
    // A legal hold is a coordinator's note beside the case (core/retention), not a change of it:
    // the case's version stays, so there is no If-Match to check.
    if (path == "/api/v1/cases/{id}/legal-holds") continue;
    for (const auto& [method, operation] : operations.items()) {
      if (method == "post" || method == "patch" || method == "put" || method == "delete") {
        documented.insert(method + " " + path);
      }
    }
  }
  for (const auto& write : writes) {
    std::string method = write.method;
    for (auto& c : method)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    tested.insert(method + " " + write.pattern);
  }
  EXPECT_EQ(tested, documented);

  // The phase a goal needs: assessment → planning happens between the table's rows.
  for (const auto& write : writes) {
    SCOPED_TRACE(write.method + " " + write.pattern);
    if (write.pattern == "/api/v1/cases/{id}/goals") {
      ASSERT_EQ(cm.post(base + "/transitions", {{"to", "planning"}}).status, 200);
    }
    const CaseSnapshot before = snapshot(cm, base);
    const std::int64_t version = before.case_body["version"];
    std::vector<std::string> stale_tags = {etag(version + 1), "W/" + etag(version + 7)};
    if (version > 1) stale_tags.push_back(etag(version - 1));
    for (const std::string& stale : stale_tags) {
      auto refused = cm.send(write.method, write.path(), write.body, {{"If-Match", stale}});
      EXPECT_EQ(refused.status, 412) << stale << ": " << refused.body;
      EXPECT_EQ(code_of(refused), "precondition_failed") << refused.body;
      EXPECT_EQ(error_of(refused)["details"]["current_version"], version) << refused.body;
      EXPECT_TRUE(snapshot(cm, base) == before) << "a stale write changed the case";
    }
    // The same request with the current version goes through and moves the version on.
    auto done = cm.send(write.method, write.path(), write.body, {{"If-Match", etag(version)}});
    ASSERT_TRUE(done.status == 200 || done.status == 201) << done.body;
    EXPECT_EQ(done.headers["etag"], etag(version + 1));
    if (write.remember) write.remember(done.json());
  }
}

TEST(WritePathTest, AClosedCaseTakesNoNewOrChangedTasksAndGoals) {
  KimHost host;
  Api cm(host, kCaseManager);
  auto person = host.create_person(kCaseManager);
  auto opened = host.open_case(kCaseManager, person["id"]);
  ASSERT_TRUE(opened.is_object());
  const std::string base = "/cases/" + opened["id"].get<std::string>();
  for (const char* phase : {"assessment"}) {
    ASSERT_EQ(cm.post(base + "/transitions", {{"to", phase}}).status, 200);
  }
  ASSERT_EQ(cm.post(base + "/assessments",
                    {{"domains", {{{"life_domain", "language"}, {"need_level", "high"}}}}})
                .status,
            201);
  ASSERT_EQ(cm.post(base + "/transitions", {{"to", "planning"}}).status, 200);
  auto goal =
      cm.post(base + "/goals",
              {{"life_domain", "language"}, {"description", "B1"}, {"due_date", date_in_days(90)}});
  ASSERT_EQ(goal.status, 201) << goal.body;
  auto task = cm.post(base + "/tasks", {{"description", "Call"}, {"due_date", date_in_days(3)}});
  ASSERT_EQ(task.status, 201) << task.body;
  ASSERT_EQ(cm.post(base + "/transitions", {{"to", "closed"}, {"reason", "goals_reached"}}).status,
            200);

  const CaseSnapshot before = snapshot(cm, base);
  const std::vector<std::pair<std::string, std::pair<std::string, json>>> refused = {
      {"PATCH", {base + "/tasks/" + task.json()["id"].get<std::string>(), {{"done", true}}}},
      {"POST", {base + "/tasks", {{"description", "Late"}, {"due_date", date_in_days(3)}}}},
      {"PATCH",
       {base + "/goals/" + goal.json()["id"].get<std::string>(), {{"status", "achieved"}}}},
  };
  for (const auto& [method, request] : refused) {
    SCOPED_TRACE(method + " " + request.first);
    auto response = cm.send(method, request.first, request.second, {});
    EXPECT_EQ(response.status, 409) << response.body;
    EXPECT_EQ(code_of(response), "case_closed") << response.body;
    EXPECT_TRUE(snapshot(cm, base) == before) << "a refused write changed the closed case";
  }
}

TEST(WritePathTest, TasksAndNotesAreToldToPluginsAfterCommitOnly) {
  KimHost host;
  Api cm(host, kCaseManager);
  auto seen = [&] { return cm.read("/plugins/hello/stats")["domain_events_seen"]; };
  auto person = host.create_person(kCaseManager);
  auto opened = host.open_case(kCaseManager, person["id"]);
  ASSERT_TRUE(opened.is_object());
  const std::string base = "/cases/" + opened["id"].get<std::string>();

  // Refused (bad date): nothing is told.
  ASSERT_EQ(cm.post(base + "/tasks", {{"description", "Call"}, {"due_date", "2026-02-30"}}).status,
            400);
  ASSERT_EQ(cm.post(base + "/notes",
                    {{"occurred_on", date_in_days(2)}, {"kind", "phone"}, {"text", "tomorrow"}})
                .status,
            400);
  EXPECT_EQ(seen(), json::object());

  auto task = cm.post(base + "/tasks", {{"description", "Call"}, {"due_date", date_in_days(3)}});
  ASSERT_EQ(task.status, 201) << task.body;
  ASSERT_EQ(
      cm.patch(base + "/tasks/" + task.json()["id"].get<std::string>(), {{"done", true}}).status,
      200);
  ASSERT_EQ(cm.post(base + "/notes",
                    {{"occurred_on", date_in_days(0)}, {"kind", "phone"}, {"text", "Called"}})
                .status,
            201);
  EXPECT_EQ(seen(),
            json({{"case.task_added", 1}, {"case.task_changed", 1}, {"case.note_added", 1}}));
}

TEST(WritePathTest, RevokingAConsentStopsItsReferralsInEveryOpenStatus) {
  KimHost host;
  Api cm(host, kCaseManager);
  Api co(host, "co-kreis");
  auto person = host.create_person(kCaseManager);
  const std::string person_path = "/persons/" + person["id"].get<std::string>();
  auto opened = host.open_case(kCaseManager, person["id"]);
  ASSERT_TRUE(opened.is_object());
  const std::string base = "/cases/" + opened["id"].get<std::string>();
  ASSERT_EQ(co.post("/agreements", signed_agreement()).status, 201);
  auto consent = cm.post(person_path + "/consents", identity_consent());
  ASSERT_EQ(consent.status, 201) << consent.body;

  // One referral in each status, reached through the allowed steps.
  const std::map<std::string, std::vector<std::string>> steps = {
      {"draft", {}},
      {"sent", {"sent"}},
      {"accepted", {"sent", "accepted"}},
      {"in_progress", {"sent", "accepted", "in_progress"}},
      {"completed", {"sent", "accepted", "in_progress", "completed"}},
      {"declined", {"sent", "declined"}},
      {"cancelled", {"cancelled"}},
  };
  std::map<std::string, std::string> referral_of;  // status → id
  for (const auto& [status, path] : steps) {
    auto created = cm.post(base + "/referrals", referral_body(false));
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string id = created.json()["id"];
    for (const auto& step : path) {
      auto moved = cm.post(base + "/referrals/" + id + "/status", {{"status", step}});
      ASSERT_EQ(moved.status, 200) << status << " → " << step << ": " << moved.body;
    }
    referral_of[status] = id;
  }

  auto revoked =
      cm.post(person_path + "/consents/" + consent.json()["id"].get<std::string>() + "/revoke",
              json::object());
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  std::set<std::string> stopped;
  const json answer = revoked.json();
  for (const auto& id : answer["stopped_referrals"])
    stopped.insert(id.get<std::string>());
  const std::set<std::string> pending = {"draft", "sent", "accepted", "in_progress"};
  for (const auto& [status, id] : referral_of) {
    SCOPED_TRACE(status);
    json referral = cm.read(base + "/referrals/" + id);
    if (pending.count(status)) {
      EXPECT_TRUE(stopped.count(id)) << "not reported as stopped";
      EXPECT_EQ(referral["status"], "cancelled");
      EXPECT_EQ(referral["stopped_reason"], "consent_revoked");
    } else {
      EXPECT_FALSE(stopped.count(id)) << "a finished referral was stopped";
      EXPECT_EQ(referral["status"], status);
      EXPECT_TRUE(referral["stopped_reason"].is_null());
    }
  }
  EXPECT_EQ(stopped.size(), pending.size());
}

}  // namespace
}  // namespace kim::test
