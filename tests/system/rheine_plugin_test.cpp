// The Stadt Rheine plugin (plugins/rheine) through the real kim: cases of residents of Rheine
// are supervised by Rheine's coordinating office instead of the county's (and move with the
// person), residence referrals of residents go to Rheine's foreigners authority and are judged
// by the normal rules there. Without the plugin nothing changes.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/paths.hpp"

namespace kim::test {
namespace {

using nlohmann::json;

constexpr const char* kCountyAuthority = "auslaenderbehoerde-kreis-steinfurt";
constexpr const char* kRheineAuthority = "auslaenderbehoerde-stadt-rheine";

// The host config's "plugins" with the rheine plugin enabled (`config`: its block).
json plugins_with_rheine(json config = json::object()) {
  return {{"directories", {KIM_PLUGIN_DIR}},
          {"settings", {{"rheine", {{"enabled", true}, {"config", std::move(config)}}}}}};
}

// A person recorded by `user` living in `town`, with a case opened for them; the case's id.
std::string case_in(KimHost& host, const std::string& user, const std::string& town) {
  json person = host.create_person(user, {{"town", town}});
  if (!person.is_object()) return "";
  json opened = host.open_case(user, person["id"]);
  return opened.is_object() ? opened["id"].get<std::string>() : "";
}

std::string person_of(Api& reader, const std::string& case_id) {
  auto body = reader.read("/cases/" + case_id);
  return body.is_object() ? body["person"].value("id", "") : "";
}

// Whether `user` finds case `case_id` by id and in the list of cases.
struct Seen {
  int status;
  bool listed;
};
Seen seen_by(KimHost& host, const std::string& user, const std::string& case_id) {
  Api api(host, user);
  bool listed = false;
  std::string cursor;
  for (int page = 0; page < 100; ++page) {
    auto list = api.read("/cases?limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor));
    for (const auto& item : list.value("items", json::array()))
      listed = listed || item["id"] == case_id;
    if (!list.contains("next_cursor") || list["next_cursor"].is_null()) break;
    const auto& next = list["next_cursor"];
    cursor = next.is_string() ? next.get<std::string>() : next.dump();
  }
  return {api.get("/cases/" + case_id).status, listed};
}

void expect_supervised_by(KimHost& host, const std::string& case_id, const std::string& office,
                          const std::string& other) {
  auto in = seen_by(host, office, case_id);
  EXPECT_EQ(in.status, 200) << office;
  EXPECT_TRUE(in.listed) << office;
  auto out = seen_by(host, other, case_id);
  EXPECT_EQ(out.status, 404) << other;
  EXPECT_FALSE(out.listed) << other;
}

class RheinePluginTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host_ = std::make_unique<KimHost>(json::object(), json{{"plugins", plugins_with_rheine()}});
  }
  static void TearDownTestSuite() { host_.reset(); }
  static inline std::unique_ptr<KimHost> host_;
};

TEST_F(RheinePluginTest, RheineResidentsCaseIsSupervisedByRheineNotTheCounty) {
  // drk-greven is supervised by the county's office; its client lives in Rheine.
  const auto case_id = case_in(*host_, "cm-greven", "Rheine");
  ASSERT_FALSE(case_id.empty());
  expect_supervised_by(*host_, case_id, "co-rheine", "co-kreis");
  // Nor the person behind it.
  Api rheine(*host_, "co-rheine");
  const auto person_id = person_of(rheine, case_id);
  EXPECT_EQ(Api(*host_, "co-kreis").get("/persons/" + person_id).status, 404);
  EXPECT_EQ(rheine.get("/persons/" + person_id).status, 200);
  // The case manager keeps the case.
  EXPECT_EQ(Api(*host_, "cm-greven").get("/cases/" + case_id).status, 200);
}

TEST_F(RheinePluginTest, GrevenResidentsCaseStaysWithTheCounty) {
  const auto case_id = case_in(*host_, "cm-greven", "Greven");
  ASSERT_FALSE(case_id.empty());
  expect_supervised_by(*host_, case_id, "co-kreis", "co-rheine");
}

TEST_F(RheinePluginTest, SupervisionFollowsTheMove) {
  const auto case_id = case_in(*host_, "cm-greven", "Rheine");
  ASSERT_FALSE(case_id.empty());
  Api cm(*host_, "cm-greven");
  const auto person_id = person_of(cm, case_id);
  auto moved = cm.patch("/persons/" + person_id, {{"town", "Greven"}});
  ASSERT_EQ(moved.status, 200) << moved.body;
  expect_supervised_by(*host_, case_id, "co-kreis", "co-rheine");
  auto back = cm.patch("/persons/" + person_id, {{"town", "Rheine"}});
  ASSERT_EQ(back.status, 200) << back.body;
  expect_supervised_by(*host_, case_id, "co-rheine", "co-kreis");
}

TEST(RheinePluginSharedTest, ShareWithCountyKeepsTheCountyReading) {
  KimHost host(json::object(),
               json{{"plugins", plugins_with_rheine({{"share_with_county", true}})}});
  const auto case_id = case_in(host, "cm-greven", "Rheine");
  ASSERT_FALSE(case_id.empty());
  for (const char* office : {"co-rheine", "co-kreis"}) {
    auto seen = seen_by(host, office, case_id);
    EXPECT_EQ(seen.status, 200) << office;
    EXPECT_TRUE(seen.listed) << office;
  }
  // Read only, as every coordinator.
  EXPECT_EQ(Api(host, "co-rheine")
                .post("/cases/" + case_id + "/transitions", {{"to", "assessment"}})
                .status,
            403);
}

TEST(RheinePluginDisabledTest, WithoutThePluginTheCountySupervisesRheineResidents) {
  KimHost host;  // the test config does not enable rheine
  const auto case_id = case_in(host, "cm-greven", "Rheine");
  ASSERT_FALSE(case_id.empty());
  expect_supervised_by(host, case_id, "co-kreis", "co-rheine");
}

}  // namespace
}  // namespace kim::test
