// The Stadt Rheine plugin's class through the SDK's test kit (kim/sdk/testing.hpp), without the
// host: its supervision rule, referral router, local offers and report. The same behaviour
// through the real kim is tested in tests/system/rheine_plugin_test.cpp.
#include <gtest/gtest.h>

#include <kim/sdk/testing.hpp>

namespace {

using kim::sdk::HttpMethod;
using kim::sdk::testing::FakeHost;
using nlohmann::json;

// As the host hands it over: validated, defaults filled in (the defaults of the schema).
json rheine_config(bool share = false) {
  return {{"town", "Rheine"},
          {"office", "stadt-rheine-ko"},
          {"share_with_county", share},
          {"authorities_by_town",
           {{"Rheine", "auslaenderbehoerde-stadt-rheine"},
            {"Emsdetten", "auslaenderbehoerde-emsdetten"}}},
          {"local_offers", json::array({{{"slug", "integrationsrat-rheine"}}})}};
}

class RheineWithFakeHost : public ::testing::Test {
 protected:
  void SetUp() override { host.start(*plugin); }
  FakeHost host{"rheine", rheine_config()};
  std::unique_ptr<kim::sdk::Plugin> plugin = kim::sdk::testing::exported_plugin();
};

TEST_F(RheineWithFakeHost, SupervisesResidentsOfRheineOnly) {
  auto rheine = host.supervise({"case_1", "drk-greven", "Rheine", "ki-kreis-steinfurt"});
  ASSERT_TRUE(rheine);
  EXPECT_EQ(rheine->office, "stadt-rheine-ko");
  EXPECT_FALSE(rheine->share_with_default);
  EXPECT_FALSE(host.supervise({"case_2", "drk-greven", "Greven", "ki-kreis-steinfurt"}));
}

TEST(RheineSharedWithFakeHost, ShareWithCountyKeepsTheDefaultSupervisor) {
  FakeHost host{"rheine", rheine_config(true)};
  auto plugin = kim::sdk::testing::exported_plugin();
  host.start(*plugin);
  auto rheine = host.supervise({"case_1", "drk-greven", "Rheine", "ki-kreis-steinfurt"});
  ASSERT_TRUE(rheine);
  EXPECT_TRUE(rheine->share_with_default);
}

TEST_F(RheineWithFakeHost, RoutesResidenceReferralsByTown) {
  const kim::sdk::ReferralFacts residence{"case_1",
                                          "Rheine",
                                          "auslaenderbehoerde-kreis-steinfurt",
                                          "residence_matters",
                                          "foreigners_authority",
                                          "aufenthg"};
  EXPECT_EQ(host.route_referral(residence), "auslaenderbehoerde-stadt-rheine");
  auto emsdetten = residence;
  emsdetten.town = "Emsdetten";  // another town with its own authority: one config line
  EXPECT_EQ(host.route_referral(emsdetten), "auslaenderbehoerde-emsdetten");
  auto greven = residence;
  greven.town = "Greven";
  EXPECT_FALSE(host.route_referral(greven));
  auto already = residence;
  already.partner = "auslaenderbehoerde-stadt-rheine";
  EXPECT_FALSE(host.route_referral(already));
  const kim::sdk::ReferralFacts jobcenter{"case_1",        "Rheine",    "jobcenter-kreis-steinfurt",
                                          "sgb2_benefits", "jobcenter", "sgb2"};
  EXPECT_FALSE(host.route_referral(jobcenter));
}

TEST_F(RheineWithFakeHost, SeedsItsLocalOffersAtStart) {
  EXPECT_EQ(host.seeded_partners().count("integrationsrat-rheine"), 1u);
}

TEST_F(RheineWithFakeHost, ReportCountsTheCallersCasesAndHidesSmallCounts) {
  host.answer_reads([](const kim::sdk::HttpRequest& request) {
    if (request.path == "/api/v1/cases") {
      EXPECT_EQ(request.query.at("town"), "Rheine");
      json items = json::array();
      for (int i = 0; i < 7; ++i)
        items.push_back(
            {{"id", "case_" + std::to_string(i)}, {"phase", i < 5 ? "intake" : "planning"}});
      return kim::sdk::HttpResponse::json(200, {{"items", items}});
    }
    if (request.path == "/api/v1/referrals") {
      return kim::sdk::HttpResponse::json(
          200,
          {{"items",
            {{{"case_id", "case_1"}, {"partner", {{"slug", "auslaenderbehoerde-stadt-rheine"}}}},
             {{"case_id", "case_elsewhere"}, {"partner", {{"slug", "jobcenter"}}}}}}});
    }
    return kim::sdk::HttpResponse::error(404, "not_found", "no");
  });
  auto response = host.call(HttpMethod::kGet, "/reports", FakeHost::request_as("coordinator"));
  ASSERT_EQ(response.status, 200) << response.body;
  auto report = json::parse(response.body);
  EXPECT_EQ(report["cases"], 7);
  EXPECT_EQ(report["cases_per_phase"], (json{{"intake", 5}, {"planning", "<5"}}));
  EXPECT_EQ(report["referrals_per_partner"], (json{{"auslaenderbehoerde-stadt-rheine", "<5"}}));
  // A refused read is passed on, not counted as zero.
  auto auditor = host.call(HttpMethod::kGet, "/reports", FakeHost::request_as("auditor"));
  EXPECT_EQ(auditor.status, 403);
}

}  // namespace
