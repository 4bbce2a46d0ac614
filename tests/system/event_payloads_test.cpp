// sdk/EVENTS.md against a real run: every event the host publishes, caused through the API, as
// the example plugin (hello) received it after the commit — exact keys, JSON types, id formats —
// and what does not publish (reopening is no case.opened, a refused change publishes nothing).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <set>

#include "support/api.hpp"
#include "support/kim_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items())
    keys.insert(key);
  return keys;
}

bool id_of(const json& value, const std::string& prefix) {
  return value.is_string() &&
         std::regex_match(value.get<std::string>(), std::regex(prefix + "_[0-9a-f]{32}"));
}

class EventPayloads {
 public:
  explicit EventPayloads(KimHost& host) : reader_(host, "cm-rheine-1") {}
  // The last payload of `type`, checking that exactly `count` of them have been published so far.
  json last(const std::string& type, int count) {
    auto seen = reader_.read("/plugins/hello/stats")["payloads_seen"];
    EXPECT_TRUE(seen.contains(type)) << type << " not seen: " << seen.dump();
    if (!seen.contains(type)) return json::object();
    EXPECT_EQ(seen[type]["count"], count) << type;
    EXPECT_EQ(seen[type]["source"], "host") << type;
    return seen[type]["last"];
  }
  int count(const std::string& type) {
    auto seen = reader_.read("/plugins/hello/stats")["payloads_seen"];
    return seen.contains(type) ? seen[type]["count"].get<int>() : 0;
  }

 private:
  Api reader_;
};

TEST(EventPayloadsTest, EveryHostEventAsEventsMdDescribesIt) {
  KimHost host;
  Api cm(host, "cm-rheine-1");
  Api coordinator(host, "co-kreis");
  EventPayloads events(host);

  // host.started: the port it listens on, an integer; plugin.started: the plugin's id.
  EXPECT_EQ(events.last("host.started", 1), json({{"port", host.port()}}));
  EXPECT_EQ(events.last("plugin.started", 1), json({{"plugin", "hello"}}));

  auto person = host.create_person("cm-rheine-1");
  const std::string person_id = person["id"];
  auto opened = host.open_case("cm-rheine-1", person_id);
  const std::string case_id = opened["id"];
  const std::string case_path = "/cases/" + case_id;
  auto payload = events.last("case.opened", 1);
  EXPECT_EQ(keys_of(payload), (std::set<std::string>{"case_id", "organisation_id", "phase"}));
  EXPECT_TRUE(id_of(payload["case_id"], "case")) << payload;
  EXPECT_EQ(payload["case_id"], case_id);
  ASSERT_TRUE(payload["organisation_id"].is_number_integer()) << payload;
  const auto organisation_id = payload["organisation_id"].get<std::int64_t>();
  EXPECT_GT(organisation_id, 0);
  EXPECT_EQ(payload["phase"], "intake");

  ASSERT_EQ(cm.post(case_path + "/transitions", {{"to", "assessment"}}).status, 200);
  EXPECT_EQ(events.last("case.phase_changed", 1), json({{"case_id", case_id},
                                                        {"from", "intake"},
                                                        {"to", "assessment"},
                                                        {"organisation_id", organisation_id}}));

  auto assessment = cm.post(case_path + "/assessments",
                            {{"domains", {{{"life_domain", "language"}, {"need_level", "high"}}}}});
  ASSERT_EQ(assessment.status, 201) << assessment.body;
  payload = events.last("case.assessment_recorded", 1);
  EXPECT_EQ(keys_of(payload), (std::set<std::string>{"case_id", "assessment_id", "kind"}));
  EXPECT_TRUE(id_of(payload["assessment_id"], "asm")) << payload;
  EXPECT_EQ(payload["kind"], "assessment");

  ASSERT_EQ(cm.post(case_path + "/transitions", {{"to", "planning"}}).status, 200);
  auto goal = cm.post(case_path + "/goals", {{"life_domain", "language"},
                                             {"description", "B1 certificate"},
                                             {"due_date", date_in_days(200)}});
  ASSERT_EQ(goal.status, 201) << goal.body;
  const std::string goal_id = goal.json()["id"];
  EXPECT_TRUE(id_of(goal_id, "goal"));
  EXPECT_EQ(events.last("case.goal_set", 1),
            json({{"case_id", case_id}, {"goal_id", goal_id}, {"life_domain", "language"}}));
  // A change of the description alone still names the (unchanged) status.
  ASSERT_EQ(cm.patch(case_path + "/goals/" + goal_id, {{"description", "B1, written"}}).status,
            200);
  EXPECT_EQ(events.last("case.goal_changed", 1),
            json({{"case_id", case_id}, {"goal_id", goal_id}, {"status", "open"}}));

  auto task = cm.post(case_path + "/tasks",
                      {{"description", "Ask for a course place"}, {"due_date", date_in_days(10)}});
  ASSERT_EQ(task.status, 201) << task.body;
  const std::string task_id = task.json()["id"];
  EXPECT_TRUE(id_of(task_id, "task"));
  EXPECT_EQ(events.last("case.task_added", 1),
            json({{"case_id", case_id}, {"task_id", task_id}, {"due_date", date_in_days(10)}}));
  ASSERT_EQ(cm.patch(case_path + "/tasks/" + task_id, {{"done", true}}).status, 200);
  EXPECT_EQ(events.last("case.task_changed", 1),
            json({{"case_id", case_id}, {"task_id", task_id}, {"done", true}}));

  auto note = cm.post(
      case_path + "/notes",
      {{"occurred_on", date_in_days(0)}, {"kind", "phone"}, {"text", "Called about the course"}});
  ASSERT_EQ(note.status, 201) << note.body;
  payload = events.last("case.note_added", 1);
  EXPECT_EQ(payload,
            json({{"case_id", case_id}, {"note_id", note.json()["id"]}, {"kind", "phone"}}));
  EXPECT_TRUE(id_of(payload["note_id"], "note"));

  // Closing publishes case.phase_changed and case.closed; reopening only case.phase_changed.
  ASSERT_EQ(
      cm.post(case_path + "/transitions", {{"to", "closed"}, {"reason", "moved_away"}}).status,
      200);
  EXPECT_EQ(events.last("case.closed", 1), json({{"case_id", case_id}, {"reason", "moved_away"}}));
  EXPECT_EQ(events.last("case.phase_changed", 3)["from"], "planning");
  ASSERT_EQ(cm.post(case_path + "/transitions", {{"to", "assessment"}}).status, 200);
  EXPECT_EQ(events.last("case.phase_changed", 4), json({{"case_id", case_id},
                                                        {"from", "closed"},
                                                        {"to", "assessment"},
                                                        {"organisation_id", organisation_id}}));
  EXPECT_EQ(events.count("case.opened"), 1);
  EXPECT_EQ(events.count("case.closed"), 1);

  // A refused change publishes nothing.
  ASSERT_EQ(cm.post(case_path + "/transitions", {{"to", "monitoring"}}).status, 409);
  EXPECT_EQ(events.count("case.phase_changed"), 4);

  // Consent and referral.
  ASSERT_EQ(coordinator.post("/agreements", with(agreement_body(), {{"status", "signed"}})).status,
            201);
  auto consent =
      cm.post("/persons/" + person_id + "/consents", {{"recipients", {kJobcenter}},
                                                      {"purposes", {"referral"}},
                                                      {"categories", {"identity", "contact"}},
                                                      {"form", "written"},
                                                      {"given_on", date_in_days(0)}});
  ASSERT_EQ(consent.status, 201) << consent.body;
  const std::string consent_id = consent.json()["id"];
  EXPECT_TRUE(id_of(consent_id, "con"));
  EXPECT_TRUE(id_of(person_id, "per"));
  EXPECT_EQ(events.last("consent.granted", 1), json({{"consent_id", consent_id},
                                                     {"person_id", person_id},
                                                     {"recipients", {kJobcenter}},
                                                     {"purposes", {"referral"}},
                                                     {"categories", {"identity", "contact"}}}));

  auto referral = cm.post(case_path + "/referrals", {{"partner", kJobcenter},
                                                     {"service", "sgb2_integration_services"},
                                                     {"categories", {"identity"}},
                                                     {"send", true}});
  ASSERT_EQ(referral.status, 201) << referral.body;
  const std::string referral_id = referral.json()["id"];
  EXPECT_TRUE(id_of(referral_id, "ref"));
  const json about = {{"referral_id", referral_id},
                      {"case_id", case_id},
                      {"partner", kJobcenter},
                      {"service", "sgb2_integration_services"}};
  EXPECT_EQ(events.last("referral.created", 1), with(about, {{"status", "sent"}}));
  // Created with send: true also publishes the step draft -> sent.
  EXPECT_EQ(events.last("referral.status_changed", 1),
            with(about, {{"from", "draft"}, {"to", "sent"}}));
  ASSERT_EQ(
      cm.post(case_path + "/referrals/" + referral_id + "/status", {{"status", "accepted"}}).status,
      200);
  EXPECT_EQ(events.last("referral.status_changed", 2),
            with(about, {{"from", "sent"}, {"to", "accepted"}}));

  // Revoking stops the referral: its step carries a reason; consent.revoked names what stopped.
  auto revoked =
      cm.post("/persons/" + person_id + "/consents/" + consent_id + "/revoke", json::object());
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(
      events.last("referral.status_changed", 3),
      with(about, {{"from", "accepted"}, {"to", "cancelled"}, {"reason", "consent_revoked"}}));
  EXPECT_EQ(events.last("consent.revoked", 1), json({{"consent_id", consent_id},
                                                     {"person_id", person_id},
                                                     {"stopped_referrals", {referral_id}}}));
}

}  // namespace
}  // namespace kim::test
