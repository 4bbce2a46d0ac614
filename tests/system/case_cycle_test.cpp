// A case taken through the whole cycle over HTTP by a case manager, as in the "done when".
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/kim_host.hpp"

namespace kim::test {
namespace {

TEST(CaseCycleTest, IntakeToClosureOverHttp) {
  KimHost host;
  auto client = host.client();
  const auto& cm = host.token("cm-rheine-1");
  auto person = host.create_person("cm-rheine-1");
  auto opened = host.open_case("cm-rheine-1", person["id"]);
  const std::string id = opened["id"];
  const std::string base = "/api/v1/cases/" + id;
  EXPECT_EQ(opened["phase"], "intake");

  auto step = [&](const nlohmann::json& body, const std::string& path = "/transitions") {
    auto response = client.post(base + path, body, cm);
    EXPECT_LT(response.status, 300) << path << " " << body.dump() << ": " << response.body;
    return response;
  };
  step({{"to", "assessment"}});
  step({{"domains", {{{"life_domain", "language"}, {"need_level", "high"}}}}}, "/assessments");
  step({{"to", "planning"}});
  auto goal = step({{"life_domain", "language"}, {"description", "B1"}, {"due_date", "2027-06-30"}},
                   "/goals");
  step({{"to", "linking"}});
  step({{"to", "monitoring"}});
  auto closed = step({{"to", "closed"}, {"reason", "goals_reached"}});
  EXPECT_EQ(closed.json()["phase"], "closed");
  EXPECT_EQ(closed.json()["closure_reason"], "goals_reached");
  EXPECT_EQ(closed.headers["etag"],
            "\"" + std::to_string(closed.json()["version"].get<int>()) + "\"");

  // Another organisation's case manager cannot see it; the auditor sees every access.
  EXPECT_EQ(client.get(base, host.token("cm-greven")).status, 404);
  auto audit = client.get("/api/v1/audit?case_id=" + id, host.token("auditor"));
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_GE(audit.json()["items"].size(), 8u);
}

}  // namespace
}  // namespace kim::test
