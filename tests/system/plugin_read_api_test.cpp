// PluginHost::read_api: a plugin reads core's data only as the caller of its route, through the
// host's own access policy and audit. The example plugin (hello, a real .so) serves
// GET /plugins/hello/cases/{id}/phase from GET /api/v1/cases/{id}.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/kim_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;

TEST(PluginReadApiTest, APluginSeesWhatItsCallerMaySeeAndTheReadIsAuditedUnderTheCaller) {
  KimHost host;
  Api owner(host, "cm-rheine-1");
  Api stranger(host, "cm-greven");
  Api auditor(host, "auditor");
  auto person = host.create_person("cm-rheine-1");
  auto opened = host.open_case("cm-rheine-1", person["id"]);
  const std::string case_id = opened["id"];

  auto mine = owner.get("/plugins/hello/cases/" + case_id + "/phase");
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(mine.json(), json({{"case_id", case_id}, {"phase", opened["phase"]}}));

  // Another organisation's case manager: the same answer the API gives, nothing of the case.
  auto direct = stranger.get("/cases/" + case_id);
  auto through_plugin = stranger.get("/plugins/hello/cases/" + case_id + "/phase");
  EXPECT_EQ(direct.status, 404);
  EXPECT_EQ(through_plugin.status, direct.status);
  EXPECT_EQ(through_plugin.body.find("phase"), std::string::npos) << through_plugin.body;

  // Path parameters arrive decoded: an encoded "/" or "?" must not reach another path of the host
  // (here the case's notes) under the caller's name.
  for (const std::string& probe : {case_id + "%2Fnotes", case_id + "%3Flimit=1"}) {
    auto injected = owner.get("/plugins/hello/cases/" + probe + "/phase");
    EXPECT_EQ(injected.status, 404) << probe << " " << injected.body;
    EXPECT_EQ(injected.body.find("items"), std::string::npos) << injected.body;
  }

  // The plugin's read is in the audit trail as the caller's read, under the plugin request's id.
  const std::string request_id = mine.headers["x-request-id"];
  auto trail = auditor.read("/audit?case_id=" + case_id + "&limit=100");
  bool found = false;
  for (const auto& entry : trail["items"]) {
    if (entry["request_id"] == request_id) {
      found = true;
      EXPECT_EQ(entry["user_name"], "cm-rheine-1");
      EXPECT_EQ(entry["action"], "read");
    }
  }
  EXPECT_TRUE(found) << trail.dump();
}

// Transaction::audit: a plugin's write of its own data is audited with it, under the caller.
TEST(PluginReadApiTest, APluginAuditsItsOwnWritesInTheSameTransaction) {
  KimHost host;
  Api cm(host, "cm-rheine-1");
  Api auditor(host, "auditor");
  auto greeting = cm.post("/plugins/hello/greetings", {{"to", "Steinfurt"}});
  ASSERT_EQ(greeting.status, 201) << greeting.body;
  const std::string request_id = greeting.headers["x-request-id"];
  auto trail = auditor.read("/audit?limit=1000");
  int entries = 0;
  for (const auto& entry : trail["items"]) {
    if (entry["request_id"] != request_id) continue;
    ++entries;
    EXPECT_EQ(entry["user_name"], "cm-rheine-1");
    EXPECT_EQ(entry["action"], "create");
    EXPECT_EQ(entry["object_type"], "hello.greeting");
    EXPECT_EQ(entry["object_id"], std::to_string(greeting.json()["id"].get<std::int64_t>()));
  }
  EXPECT_EQ(entries, 1) << trail.dump();
}

}  // namespace
}  // namespace kim::test
