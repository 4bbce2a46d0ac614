// Restart safety of the outbox: the real kim sends referrals to a slow partner (a real HTTP
// server on 127.0.0.1) and is killed with SIGKILL several times while messages are in flight.
// After the last restart every acknowledged referral's message arrives, the partner applied each
// idempotency key once (re-sent ones are answered, not applied again), nothing is left in flight
// and the database passes PRAGMA integrity_check.
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include "store/sqlite.hpp"
#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/partner_server.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST(OutboxCrashTest, NothingAcknowledgedIsLostAcrossKillsAndEachKeyIsAppliedOnce) {
  PartnerServer partner;
  partner.set_delay(150ms);  // slow: messages are in flight when the host dies
  KimHost host(
      json::object(),
      {{"connectors",
        {{"jobcenter",
          {{"type", "http"},
           {"settings", {{"url", partner.url()}}},
           {"timeout_seconds", 5},
           {"retry", {{"max_attempts", 0}, {"initial_delay_ms", 20}, {"max_delay_ms", 100}}}}}}},
       {"outbox", {{"poll_ms", 20}}}});
  ASSERT_EQ(Api(host, "admin")
                .patch(std::string("/partners/") + kJobcenter, {{"connector", "jobcenter"}})
                .status,
            200);
  ASSERT_EQ(Api(host, "co-kreis")
                .post("/agreements", with(agreement_body(kOffice, kJobcenter,
                                                         "sgb2_integration_services", {"identity"}),
                                          {{"status", "signed"}, {"signed_on", "2023-12-15"}}))
                .status,
            201);
  // Three cases, so that deliveries of different cases interleave.
  std::vector<std::string> cases;
  for (int i = 0; i < 3; ++i) {
    auto person = host.create_person("cm-rheine-1", {{"family_name", "Crash" + std::to_string(i)}});
    auto opened = host.open_case("cm-rheine-1", person["id"]);
    Api cm(host, "cm-rheine-1");
    ASSERT_EQ(cm.post("/cases/" + opened["id"].get<std::string>() + "/transitions",
                      {{"to", "assessment"}})
                  .status,
              200);
    ASSERT_EQ(cm.post("/persons/" + person["id"].get<std::string>() + "/consents",
                      {{"recipients", {kJobcenter}},
                       {"purposes", {"referral"}},
                       {"categories", {"identity"}},
                       {"form", "written"},
                       {"given_on", date_in_days(-2)},
                       {"document_reference", "Einwilligung Crash"}})
                  .status,
              201);
    cases.push_back(opened["id"]);
  }

  std::set<std::string> acknowledged;  // referral ids answered 201
  for (int round = 0; round < 3; ++round) {
    Api cm(host, "cm-rheine-1");
    for (int i = 0; i < 6; ++i) {
      auto created = cm.post("/cases/" + cases[i % 3] + "/referrals",
                             {{"partner", kJobcenter},
                              {"service", "sgb2_integration_services"},
                              {"categories", {"identity"}},
                              {"send", true}});
      ASSERT_EQ(created.status, 201) << created.body;
      acknowledged.insert(created.json()["id"].get<std::string>());
    }
    const auto seen = partner.received().size();
    // Killed while the partner works on a message.
    ASSERT_TRUE(partner.wait_for([&] { return partner.received().size() > seen; }, 30s));
    host.kill();
    ASSERT_TRUE(host.restart());
  }
  partner.set_delay(0ms);
  auto arrived = [&] {
    std::set<std::string> subjects;
    for (const auto& body : partner.applied())
      subjects.insert(body.value("subject_id", ""));
    return subjects;
  };
  ASSERT_TRUE(partner.wait_for([&] { return arrived() == acknowledged; }, 60s))
      << arrived().size() << " of " << acknowledged.size();
  // Each key applied once: one applied message per referral.
  EXPECT_EQ(partner.applied().size(), acknowledged.size());
  // The kills hit messages in flight: they were sent again with the same key, not applied again.
  EXPECT_GE(partner.repeats(), 1);
  // Nothing left pending or in flight.
  Api admin(host, "admin");
  ASSERT_TRUE(partner.wait_for(
      [&] {
        return admin.read("/outbox?state=in_flight")["items"].empty() &&
               admin.read("/outbox?state=pending")["items"].empty();
      },
      30s));
  EXPECT_EQ(host.stop(), 0);
  auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
  EXPECT_EQ(db.query("PRAGMA integrity_check")[0]["integrity_check"], "ok");
}

}  // namespace
}  // namespace kim::test
