// The outbox end to end: the real kim delivers referrals through the `http` transport to real
// HTTP partner servers on 127.0.0.1 (tests/support/partner_server.hpp) that fail, hang, drop
// connections and answer Retry-After on command. Proves: a message per send and cancel with
// exactly the referral's payload and a stable idempotency key; retries with backoff; dead
// letters after the limit, inspected, re-run and discarded over the API and the CLI; the
// circuit breaker opening and closing; per-case order while other cases and partners flow; no
// message for refused referrals or partners without a connector; partner "connector" checked.
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/partner_server.hpp"
#include "support/paths.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kVhs = "vhs-rheine";
constexpr const char* kJobService = "sgb2_integration_services";
constexpr const char* kVhsService = "language_course";

json retry_policy(int max_attempts) {
  return {{"max_attempts", max_attempts}, {"initial_delay_ms", 40}, {"multiplier", 2},
          {"max_delay_ms", 300},          {"jitter", "full"},       {"max_age_hours", 0}};
}

class OutboxTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    jobcenter_ = std::make_unique<PartnerServer>();
    vhs_ = std::make_unique<PartnerServer>();
    // jobcenter: unlimited attempts, breaker after 3 failures for 1 s; vhs: 3 attempts, a
    // breaker that does not get in the way of dead-letter tests.
    json connectors = {{"jobcenter",
                        {{"type", "http"},
                         {"settings", {{"url", jobcenter_->url()}}},
                         {"timeout_seconds", 1},
                         {"retry", retry_policy(0)},
                         {"breaker", {{"failure_threshold", 3}, {"open_seconds", 1}}}}},
                       {"vhs",
                        {{"type", "http"},
                         {"settings", {{"url", vhs_->url()}}},
                         {"timeout_seconds", 1},
                         {"retry", retry_policy(3)},
                         {"breaker", {{"failure_threshold", 1000}, {"open_seconds", 1}}}}}};
    host_ = std::make_unique<KimHost>(
        json::object(),
        json{{"connectors", connectors}, {"outbox", {{"poll_ms", 50}, {"worker_threads", 2}}}});
    Api admin(*host_, "admin");
    for (const auto& [partner, instance] : std::vector<std::pair<std::string, std::string>>{
             {kJobcenter, "jobcenter"}, {kVhs, "vhs"}}) {
      auto bound = admin.patch("/partners/" + partner, {{"connector", instance}});
      ASSERT_EQ(bound.status, 200) << bound.body;
    }
    Api co(*host_, "co-kreis");
    for (const auto& [partner, service] : std::vector<std::pair<std::string, std::string>>{
             {kJobcenter, kJobService}, {kVhs, kVhsService}}) {
      auto agreement =
          co.post("/agreements",
                  with(agreement_body(kOffice, partner, service, {"identity", "language_level"}),
                       {{"status", "signed"}, {"signed_on", "2023-12-15"}}));
      ASSERT_EQ(agreement.status, 201) << agreement.body;
    }
  }
  static void TearDownTestSuite() {
    host_.reset();
    jobcenter_.reset();
    vhs_.reset();
  }
  void SetUp() override {
    jobcenter_->clear();
    vhs_->clear();
  }

  // A case of cm-rheine-1 whose person consented to referrals to both partners.
  struct Case {
    std::string id;
    std::string person_id;
    std::string consent_id;
  };
  Case new_case(bool with_consent = true) {
    static int n = 0;
    Api cm(*host_, "cm-rheine-1");
    auto person =
        host_->create_person("cm-rheine-1", {{"family_name", "Outbox" + std::to_string(++n)}});
    Case c{"", person.value("id", ""), ""};
    c.id = host_->open_case("cm-rheine-1", c.person_id).value("id", "");
    EXPECT_EQ(cm.post("/cases/" + c.id + "/transitions", {{"to", "assessment"}}).status, 200);
    if (with_consent) {
      auto consent = cm.post("/persons/" + c.person_id + "/consents",
                             {{"recipients", {kJobcenter, kVhs}},
                              {"purposes", {"referral"}},
                              {"categories", {"identity", "language_level"}},
                              {"form", "written"},
                              {"given_on", date_in_days(-3)},
                              {"document_reference", "Einwilligung Outbox"}});
      EXPECT_EQ(consent.status, 201) << consent.body;
      if (consent.status == 201) c.consent_id = consent.json()["id"];
    }
    return c;
  }
  // Sends a referral of the case to `partner` at once; returns the created referral.
  json send(const Case& c, const std::string& partner = kJobcenter, bool send_now = true) {
    Api cm(*host_, "cm-rheine-1");
    auto created = cm.post("/cases/" + c.id + "/referrals",
                           {{"partner", partner},
                            {"service", partner == kVhs ? kVhsService : kJobService},
                            {"categories", {"identity", "language_level"}},
                            {"send", send_now}});
    EXPECT_EQ(created.status, 201) << created.body;
    return created.status == 201 ? created.json() : json::object();
  }
  void move(const Case& c, const json& referral, const std::string& status) {
    Api cm(*host_, "cm-rheine-1");
    auto moved =
        cm.post("/cases/" + c.id + "/referrals/" + referral["id"].get<std::string>() + "/status",
                {{"status", status}});
    EXPECT_EQ(moved.status, 200) << moved.body;
  }
  // The outbox messages of a case, oldest first.
  static json messages(const std::string& case_id) {
    return Api(*host_, "admin").read("/outbox?case=" + case_id)["items"];
  }
  static json message(const std::string& id) { return Api(*host_, "admin").read("/outbox/" + id); }
  static bool state_is(const std::string& case_id, std::size_t index, const std::string& state) {
    auto items = messages(case_id);
    return items.size() > index && items[index]["state"] == state;
  }
  // What the partner applied about `case_id`, in order.
  static std::vector<json> applied_for(const PartnerServer& partner, const std::string& case_id) {
    std::vector<json> found;
    for (const auto& body : partner.applied()) {
      if (body.value("case_id", "") == case_id) found.push_back(body);
    }
    return found;
  }
  static json connector(const std::string& name) {
    const auto all = Api(*host_, "admin").read("/connectors");
    for (const auto& item : all["items"]) {
      if (item["name"] == name) return item;
    }
    return json();
  }

  static inline std::unique_ptr<PartnerServer> jobcenter_;
  static inline std::unique_ptr<PartnerServer> vhs_;
  static inline std::unique_ptr<KimHost> host_;
};

TEST_F(OutboxTest, SentAndCancelledReferralsReachThePartnerWithTheirPayloadAndKey) {
  auto c = new_case();
  auto referral = send(c);
  ASSERT_TRUE(jobcenter_->wait_for([&] { return applied_for(*jobcenter_, c.id).size() == 1; }));
  auto body = applied_for(*jobcenter_, c.id)[0];
  EXPECT_EQ(body["type"], "referral.sent");
  EXPECT_EQ(body["subject_id"], referral["id"]);
  EXPECT_EQ(body["attempt"], 1);
  // Exactly what the referral says the partner receives: nothing more leaves.
  EXPECT_EQ(body["payload"], referral["payload"]);
  bool key_in_header = false;
  for (const auto& request : jobcenter_->received()) {
    if (request.body == body) key_in_header = request.idempotency_key == body["idempotency_key"];
  }
  EXPECT_TRUE(key_in_header) << "the Idempotency-Key header carries the message's key";

  move(c, referral, "cancelled");
  ASSERT_TRUE(jobcenter_->wait_for([&] { return applied_for(*jobcenter_, c.id).size() == 2; }));
  EXPECT_EQ(applied_for(*jobcenter_, c.id)[1]["type"], "referral.cancelled");
  EXPECT_EQ(applied_for(*jobcenter_, c.id)[1]["payload"], referral["payload"]);

  ASSERT_TRUE(eventually([&] { return state_is(c.id, 1, "delivered"); }));
  auto items = messages(c.id);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0]["state"], "delivered");
  EXPECT_EQ(items[0]["attempts"], 1);
  EXPECT_FALSE(items[0].contains("payload")) << "lists carry no personal data";
  auto one = message(items[0]["id"]);
  EXPECT_EQ(one["payload"], referral["payload"]);
  ASSERT_EQ(one["attempts_made"].size(), 1u);
  EXPECT_EQ(one["attempts_made"][0]["result"], "delivered");
}

TEST_F(OutboxTest, ARevokedConsentTellsThePartnerOfEverySentReferralItStopped) {
  auto c = new_case();
  auto sent = send(c);
  auto draft = send(c, kVhs, false);
  ASSERT_TRUE(jobcenter_->wait_for([&] { return applied_for(*jobcenter_, c.id).size() == 1; }));
  Api cm(*host_, "cm-rheine-1");
  auto revoked = cm.post("/persons/" + c.person_id + "/consents/" + c.consent_id + "/revoke",
                         {{"reason", "withdrawn in the consultation"}});
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  ASSERT_TRUE(jobcenter_->wait_for([&] { return applied_for(*jobcenter_, c.id).size() == 2; }));
  auto stopped = applied_for(*jobcenter_, c.id)[1];
  EXPECT_EQ(stopped["type"], "referral.consent_revoked");
  EXPECT_EQ(stopped["subject_id"], sent["id"]);
  EXPECT_EQ(stopped["payload"], sent["payload"]);
  // The draft was stopped too, but it never left: its partner hears nothing.
  auto items = messages(c.id);
  ASSERT_EQ(items.size(), 2u) << items.dump();
  for (const auto& item : items)
    EXPECT_EQ(item["partner"], kJobcenter);
  EXPECT_TRUE(applied_for(*vhs_, c.id).empty());
  (void)draft;
}

TEST_F(OutboxTest, DraftsRefusalsAndPartnersWithoutConnectorWriteNoMessage) {
  auto c = new_case();
  // A draft tells the partner nothing, and cancelling it neither.
  auto draft = send(c, kJobcenter, false);
  move(c, draft, "cancelled");
  // Refused (no consent for this person): no referral, no message.
  auto without_consent = new_case(false);
  Api cm(*host_, "cm-rheine-1");
  auto refused =
      cm.post("/cases/" + without_consent.id + "/referrals", {{"partner", kJobcenter},
                                                              {"service", kJobService},
                                                              {"categories", {"identity"}},
                                                              {"send", true}});
  EXPECT_EQ(refused.status, 422) << refused.body;
  // A partner without a connector: referred as before, no outbox row.
  Api co(*host_, "co-kreis");
  ASSERT_EQ(co.post("/agreements", with(agreement_body(kOffice, "vhs-emsdetten-greven-saerbeck",
                                                       kVhsService, {"identity"}),
                                        {{"status", "signed"}, {"signed_on", "2023-12-15"}}))
                .status,
            201);
  auto other = new_case(false);
  ASSERT_EQ(cm.post("/persons/" + other.person_id + "/consents",
                    {{"recipients", {"vhs-emsdetten-greven-saerbeck"}},
                     {"purposes", {"referral"}},
                     {"categories", {"identity"}},
                     {"form", "written"},
                     {"given_on", date_in_days(-3)},
                     {"document_reference", "Einwilligung ohne Connector"}})
                .status,
            201);
  auto unbound =
      cm.post("/cases/" + other.id + "/referrals", {{"partner", "vhs-emsdetten-greven-saerbeck"},
                                                    {"service", kVhsService},
                                                    {"categories", {"identity"}},
                                                    {"send", true}});
  EXPECT_EQ(unbound.status, 201) << unbound.body;
  EXPECT_EQ(messages(c.id).size(), 0u);
  EXPECT_EQ(messages(without_consent.id).size(), 0u);
  EXPECT_EQ(messages(other.id).size(), 0u);
}

TEST_F(OutboxTest, RetriesWithBackoffHonourRetryAfterTimeoutsAndDroppedConnections) {
  auto c = new_case();
  // 503, then 429 with Retry-After: 1, then a hang past the 1 s timeout, then a dropped
  // connection; the fifth attempt is delivered.
  jobcenter_->fail_next(1, 503);
  jobcenter_->fail_next(1, 429, 1);
  jobcenter_->hang_next(1, 2500ms);
  jobcenter_->drop_next(1);
  send(c);
  ASSERT_TRUE(eventually([&] { return state_is(c.id, 0, "delivered"); }, 60s))
      << messages(c.id).dump();
  auto one = message(messages(c.id)[0]["id"]);
  const auto& attempts = one["attempts_made"];
  ASSERT_EQ(attempts.size(), 5u) << one.dump();
  EXPECT_EQ(attempts[0]["error"], "HTTP 503");
  EXPECT_EQ(attempts[1]["error"], "HTTP 429");
  EXPECT_NE(attempts[2]["error"].get<std::string>().find("timed out"), std::string::npos);
  EXPECT_NE(attempts[3]["error"].get<std::string>().find("network error"), std::string::npos);
  EXPECT_EQ(attempts[4]["result"], "delivered");
  // Retry-After: 1 was waited for: the third request came at least a second after the second.
  std::vector<PartnerServer::Received> mine;
  for (const auto& request : jobcenter_->received()) {
    if (request.body.value("case_id", "") == c.id) mine.push_back(request);
  }
  ASSERT_EQ(mine.size(), 5u);
  EXPECT_GE(mine[2].at - mine[1].at, 950ms);
  // Every attempt carried the same idempotency key; the partner applied it once.
  for (const auto& request : mine)
    EXPECT_EQ(request.idempotency_key, mine[0].idempotency_key);
  EXPECT_EQ(applied_for(*jobcenter_, c.id).size(), 1u);
  // The breaker opened on the way (3 failures in a row) and is closed again.
  EXPECT_EQ(connector("jobcenter")["breaker"]["state"], "closed");
}

TEST_F(OutboxTest, CircuitBreakerOpensAfterConsecutiveFailuresAndClosesAfterATrial) {
  auto c = new_case();
  jobcenter_->fail_next(3, 500);
  send(c);
  ASSERT_TRUE(eventually([&] { return connector("jobcenter")["breaker"]["state"] == "open"; }))
      << connector("jobcenter").dump();
  const auto opened = std::chrono::steady_clock::now();
  EXPECT_EQ(connector("jobcenter")["breaker"]["consecutive_failures"], 3);
  ASSERT_TRUE(eventually([&] { return state_is(c.id, 0, "delivered"); }));
  // No call while open: the trial came only after open_seconds.
  auto received = jobcenter_->received();
  EXPECT_GE(received.back().at - received[received.size() - 2].at, 900ms);
  EXPECT_GE(std::chrono::steady_clock::now() - opened, 800ms);
  auto status = connector("jobcenter");
  EXPECT_EQ(status["breaker"]["state"], "closed");
  EXPECT_EQ(status["type"], "http");
  EXPECT_EQ(status["partners"], json({kJobcenter}));
  EXPECT_EQ(status["queue_depth"], 0);
  EXPECT_GE(status["delivered_last_hour"].get<int>(), 1);
  EXPECT_TRUE(status["last_success"].is_string());
  EXPECT_EQ(status["last_error"]["error"], "HTTP 500");
}

TEST_F(OutboxTest, AFailingCaseHoldsBackOnlyItsOwnLaterMessages) {
  auto poisoned = new_case();
  auto other = new_case();
  jobcenter_->fail_case(poisoned.id, 503);
  auto first = send(poisoned);
  move(poisoned, first, "cancelled");
  // Another case to the same partner, and another partner, are delivered meanwhile.
  send(other);
  send(other, kVhs);
  ASSERT_TRUE(jobcenter_->wait_for([&] { return applied_for(*jobcenter_, other.id).size() == 1; }));
  ASSERT_TRUE(vhs_->wait_for([&] { return applied_for(*vhs_, other.id).size() == 1; }));
  // The poisoned case's cancellation waits behind its sent message (never sent before it).
  ASSERT_TRUE(eventually([&] { return messages(poisoned.id)[0]["attempts"].get<int>() >= 2; }));
  for (const auto& request : jobcenter_->received()) {
    if (request.body.value("case_id", "") == poisoned.id) {
      EXPECT_EQ(request.body["type"], "referral.sent") << "sent out of order";
    }
  }
  EXPECT_EQ(messages(poisoned.id)[1]["state"], "pending");
  EXPECT_EQ(messages(poisoned.id)[1]["attempts"], 0);
  // The partner recovers: both arrive, in order.
  jobcenter_->clear();
  ASSERT_TRUE(
      jobcenter_->wait_for([&] { return applied_for(*jobcenter_, poisoned.id).size() == 2; }));
  auto applied = applied_for(*jobcenter_, poisoned.id);
  EXPECT_EQ(applied[0]["type"], "referral.sent");
  EXPECT_EQ(applied[1]["type"], "referral.cancelled");
}

TEST_F(OutboxTest, DeadLettersAreKeptInspectedRerunAndDiscardedOverApiAndCli) {
  Api admin(*host_, "admin");
  auto c = new_case();
  vhs_->fail_case(c.id, 502);
  send(c, kVhs);
  ASSERT_TRUE(eventually([&] { return state_is(c.id, 0, "dead"); })) << messages(c.id).dump();
  const std::string id = messages(c.id)[0]["id"];
  auto dead = admin.read("/outbox/dead-letters?partner=" + std::string(kVhs));
  bool listed = false;
  for (const auto& item : dead["items"])
    listed = listed || item["id"] == id;
  EXPECT_TRUE(listed) << dead.dump();
  auto one = message(id);
  ASSERT_EQ(one["attempts_made"].size(), 3u) << "max_attempts 3";
  for (const auto& attempt : one["attempts_made"]) {
    EXPECT_EQ(attempt["result"], "retry");
    EXPECT_EQ(attempt["error"], "HTTP 502");
    EXPECT_TRUE(attempt["at"].is_string());
  }
  EXPECT_GE(connector("vhs")["dead_letters"].get<int>(), 1);

  // Discard needs a reason; a refused discard changes nothing.
  auto no_reason = admin.post("/outbox/" + id + "/discard", json::object());
  EXPECT_EQ(no_reason.status, 400) << no_reason.body;
  EXPECT_EQ(message(id)["state"], "dead");
  // Only admins.
  EXPECT_EQ(Api(*host_, "co-kreis").post("/outbox/" + id + "/retry", json::object()).status, 403);
  EXPECT_EQ(message(id)["state"], "dead");
  // A delivered message is not re-run.
  auto delivered_case = new_case();
  send(delivered_case, kVhs);
  ASSERT_TRUE(eventually([&] { return state_is(delivered_case.id, 0, "delivered"); }));
  auto not_dead =
      admin.post("/outbox/" + messages(delivered_case.id)[0]["id"].get<std::string>() + "/retry",
                 json::object());
  EXPECT_EQ(not_dead.status, 409) << not_dead.body;

  // Re-run over the API once the partner is back: delivered.
  vhs_->clear();
  auto rerun = admin.post("/outbox/" + id + "/retry", json::object());
  ASSERT_EQ(rerun.status, 200) << rerun.body;
  ASSERT_TRUE(eventually([&] { return state_is(c.id, 0, "delivered"); }))
      << message(id).dump() << host_->log();
  EXPECT_EQ(applied_for(*vhs_, c.id).size(), 1u);

  // Another dead letter: bulk re-run by partner and type counts what it re-queued; the CLI
  // lists, re-runs and discards.
  auto d = new_case();
  vhs_->fail_case(d.id, 500);
  send(d, kVhs);
  ASSERT_TRUE(eventually([&] { return state_is(d.id, 0, "dead"); }));
  const std::string dead_id = messages(d.id)[0]["id"];
  auto bulk =
      admin.post("/outbox/dead-letters/retry", {{"partner", kVhs}, {"type", "referral.sent"}});
  ASSERT_EQ(bulk.status, 200) << bulk.body;
  EXPECT_GE(bulk.json()["requeued"].get<int>(), 1);
  ASSERT_TRUE(eventually([&] { return state_is(d.id, 0, "dead"); }));

  auto listed_cli = run_command(
      KIM_BINARY, {"outbox", "list", "--config", host_->config_path(), "--state", "dead"});
  ASSERT_EQ(listed_cli.exit_code, 0) << listed_cli.err;
  EXPECT_NE(listed_cli.out.find(dead_id), std::string::npos) << listed_cli.out;
  auto discard_without_reason = run_command(
      KIM_BINARY, {"outbox", "discard", "--config", host_->config_path(), "--id", dead_id});
  EXPECT_EQ(discard_without_reason.exit_code, 2);
  EXPECT_EQ(message(dead_id)["state"], "dead");
  auto discarded = run_command(KIM_BINARY, {"outbox", "discard", "--config", host_->config_path(),
                                            "--id", dead_id, "--reason", "sent by post"});
  ASSERT_EQ(discarded.exit_code, 0) << discarded.err;
  EXPECT_EQ(message(dead_id)["state"], "discarded");
  EXPECT_EQ(message(dead_id)["discard_reason"], "sent by post");
  vhs_->clear();
  auto retried = run_command(
      KIM_BINARY, {"outbox", "retry", "--config", host_->config_path(), "--id", dead_id});
  ASSERT_EQ(retried.exit_code, 0) << retried.err;
  // The running host's dispatcher finds it at its next poll.
  ASSERT_TRUE(eventually([&] { return state_is(d.id, 0, "delivered"); }));
  // Every operator change is in the audit trail.
  std::set<std::string> actions;
  const auto trail = Api(*host_, "auditor").read("/audit?case_id=" + d.id);
  for (const auto& entry : trail["items"]) {
    if (entry.value("object_type", "") == "outbox_message") actions.insert(entry["action"]);
  }
  EXPECT_EQ(actions, (std::set<std::string>{"retry", "discard", "read"}));
}

TEST_F(OutboxTest, APermanentRefusalIsADeadLetterAtOnce) {
  auto c = new_case();
  vhs_->fail_next(1, 422);
  send(c, kVhs);
  ASSERT_TRUE(eventually([&] { return state_is(c.id, 0, "dead"); }));
  auto one = message(messages(c.id)[0]["id"]);
  ASSERT_EQ(one["attempts_made"].size(), 1u);
  EXPECT_EQ(one["attempts_made"][0]["result"], "failed");
  EXPECT_EQ(one["last_error"], "HTTP 422 (not retried)");
}

TEST_F(OutboxTest, APartnersConnectorMustNameAConfiguredInstance) {
  Api admin(*host_, "admin");
  const std::string path = "/partners/" + std::string(kJobcenter);
  auto before = admin.read(path);
  auto refused = admin.patch(path, {{"connector", "jobcentre"}});
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(code_of(refused), "unknown_connector");
  EXPECT_EQ(field_of(refused), "connector");
  EXPECT_NE(refused.body.find("jobcenter, vhs"), std::string::npos) << refused.body;
  EXPECT_EQ(admin.read(path), before);
  auto created = admin.post("/partners", {{"slug", "test-partner-outbox"},
                                          {"name", "Testpartner"},
                                          {"kind", "counselling_service"},
                                          {"county_wide", true},
                                          {"services", {kVhsService}},
                                          {"connector", "nowhere"}});
  EXPECT_EQ(created.status, 400) << created.body;
  EXPECT_EQ(code_of(created), "unknown_connector");
  EXPECT_EQ(admin.get("/partners/test-partner-outbox").status, 404);
}

}  // namespace
}  // namespace kim::test
