// Plugins see the hand-over: the example plugin (hello, a real .so loaded by the real plugin
// manager) subscribes to referral.created, referral.status_changed, consent.granted and
// consent.revoked and counts what it got after each commit; refused requests publish nothing.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/kim_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;

TEST(ReferralEventsTest, PluginsAreToldOfConsentsAndReferralsAfterCommitOnly) {
  KimHost host;
  Api cm(host, "cm-rheine-1");
  Api coordinator(host, "co-kreis");
  auto seen = [&] { return cm.read("/plugins/hello/stats")["domain_events_seen"]; };
  auto person = host.create_person("cm-rheine-1");
  auto opened = host.open_case("cm-rheine-1", person["id"]);
  const std::string case_path = "/cases/" + opened["id"].get<std::string>();
  const std::string person_path = "/persons/" + person["id"].get<std::string>();
  const json referral = {{"partner", "jobcenter-kreis-steinfurt"},
                         {"service", "sgb2_integration_services"},
                         {"categories", {"identity"}},
                         {"send", true}};

  // Refused (no agreement, no consent): no event.
  ASSERT_EQ(cm.post(case_path + "/referrals", referral).status, 422);
  EXPECT_EQ(seen(), json::object());

  auto agreement =
      coordinator.post("/agreements", {{"title", "KIM – Jobcenter"},
                                       {"parties",
                                        {{{"partner", "ki-kreis-steinfurt"},
                                          {"tasks", "KIM"},
                                          {"responsibility_ends", "hand-over"}},
                                         {{"partner", "jobcenter-kreis-steinfurt"},
                                          {"tasks", "SGB II"},
                                          {"responsibility_ends", "end of benefits"}}}},
                                       {"handover_rule", "joint first meeting"},
                                       {"services", {"sgb2_integration_services"}},
                                       {"valid_from", "2026-01-01"},
                                       {"status", "signed"},
                                       {"data_terms",
                                        {{{"partner", "jobcenter-kreis-steinfurt"},
                                          {"categories", {"identity"}},
                                          {"purposes", {"referral"}}}}}});
  ASSERT_EQ(agreement.status, 201) << agreement.body;
  auto consent = cm.post(person_path + "/consents", {{"recipients", {"jobcenter-kreis-steinfurt"}},
                                                     {"purposes", {"referral"}},
                                                     {"categories", {"identity"}},
                                                     {"form", "electronic"},
                                                     {"given_on", date_in_days(0)}});
  ASSERT_EQ(consent.status, 201) << consent.body;
  EXPECT_EQ(seen(), json({{"consent.granted", 1}}));

  auto created = cm.post(case_path + "/referrals", referral);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(seen(), json({{"consent.granted", 1},
                          {"referral.created", 1},
                          {"referral.status_changed", 1}}));  // draft → sent

  const std::string referral_path =
      case_path + "/referrals/" + created.json()["id"].get<std::string>();
  ASSERT_EQ(cm.post(referral_path + "/status", {{"status", "completed"}}).status, 409);
  ASSERT_EQ(cm.post(referral_path + "/status", {{"status", "accepted"}}).status, 200);
  EXPECT_EQ(seen()["referral.status_changed"], 2);

  auto revoked =
      cm.post(person_path + "/consents/" + consent.json()["id"].get<std::string>() + "/revoke",
              json::object());
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(seen(), json({{"consent.granted", 1},
                          {"consent.revoked", 1},
                          {"referral.created", 1},
                          {"referral.status_changed", 3}}));  // accepted → cancelled (stopped)
}

}  // namespace
}  // namespace kim::test
