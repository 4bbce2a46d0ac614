// The SDK's header-only helpers as a plugin uses them: calendar dates (kim/sdk/dates.hpp), report
// helpers (kim/sdk/reports.hpp) and files embedded by kim_embed_files (kim/sdk/embedded.hpp).
#include <gtest/gtest.h>

#include <kim/sdk/embedded.hpp>
#include <kim/sdk/sdk.hpp>
#include <kim/sdk/testing.hpp>

namespace {

using kim::sdk::Date;
using kim::sdk::HttpResponse;
using nlohmann::json;

TEST(SdkDates, OnlyRealCalendarDaysInTheApisFormParse) {
  EXPECT_EQ(kim::sdk::parse_date("2024-02-29"), (Date{2024, 2, 29}));
  for (const char* bad : {"2025-02-29", "2025-2-01", "2025-13-01", "2025-00-10", "1899-12-31",
                          "2025-01-32", "20250101", "2025-01-01T00:00", "２０２５-01-01", ""}) {
    EXPECT_FALSE(kim::sdk::parse_date(bad)) << bad;
  }
  EXPECT_EQ(kim::sdk::to_string(Date{2021, 7, 1}), "2021-07-01");
}

TEST(SdkDates, ARuleMayNameItsOwnYears) {
  EXPECT_EQ(kim::sdk::parse_date("0001-01-01", 0, 9999), (Date{1, 1, 1}));
  EXPECT_EQ(kim::sdk::parse_date("2200-12-31", 1900, 2200), (Date{2200, 12, 31}));
  EXPECT_FALSE(kim::sdk::parse_date("2201-01-01", 1900, 2200));
  EXPECT_FALSE(kim::sdk::parse_date("1899-12-31", 1900, 2200));
  EXPECT_FALSE(kim::sdk::parse_date("-001-01-01", 0, 9999));
  EXPECT_EQ(kim::sdk::parse_date("9999-12-31"), (Date{9999, 12, 31}));
}

TEST(SdkDates, PeriodsEndOnTheLastDayOfAShorterMonth) {
  EXPECT_EQ(kim::sdk::add_months(Date{2024, 1, 31}, 1), (Date{2024, 2, 29}));
  EXPECT_EQ(kim::sdk::add_months(Date{2025, 1, 31}, 1), (Date{2025, 2, 28}));
  EXPECT_EQ(kim::sdk::add_months(Date{2025, 3, 15}, -3), (Date{2024, 12, 15}));
  EXPECT_EQ(kim::sdk::add_years(Date{2024, 2, 29}, 1), (Date{2025, 2, 28}));
  EXPECT_EQ(kim::sdk::days_from_epoch(Date{1970, 1, 1}), 0);
  EXPECT_EQ(kim::sdk::days_between(Date{2024, 6, 26}, Date{2024, 6, 27}), 1);
  EXPECT_EQ(kim::sdk::days_between(Date{2024, 1, 1}, Date{2025, 1, 1}), 366);
}

TEST(SdkReports, SmallCountsSingleOutNobody) {
  EXPECT_EQ(kim::sdk::small_count(0), json(0));
  EXPECT_EQ(kim::sdk::small_count(1), json("<5"));
  EXPECT_EQ(kim::sdk::small_count(4), json("<5"));
  EXPECT_EQ(kim::sdk::small_count(5), json(5));
  EXPECT_EQ(kim::sdk::small_count(2, 3), json("<3"));
  EXPECT_EQ(kim::sdk::small_count(3, 3), json(3));
}

class SdkPagedReads : public ::testing::Test {
 protected:
  void SetUp() override { host.start(*plugin); }
  void TearDown() override { host.stop(); }
  kim::sdk::testing::FakeHost host{
      "hello", {{"greeting", "Moin"}, {"heartbeat_interval_ms", 60000}, {"veto_phase", "closed"}}};
  std::unique_ptr<kim::sdk::Plugin> plugin = kim::sdk::testing::exported_plugin();
};

TEST_F(SdkPagedReads, EveryPageIsReadAsTheCallerWithItsCursor) {
  host.answer_reads([](const kim::sdk::HttpRequest& request) {
    const auto cursor = request.query.count("cursor") ? request.query.at("cursor") : "";
    if (cursor.empty()) {
      return HttpResponse::json(200,
                                {{"items", {{{"id", "a"}}, {{"id", "b"}}}}, {"next_cursor", "p2"}});
    }
    if (cursor == "p2") {
      return HttpResponse::json(200, {{"items", {{{"id", "c"}}}}, {"next_cursor", 17}});
    }
    return HttpResponse::json(200, {{"items", json::array()}, {"next_cursor", nullptr}});
  });
  std::vector<std::string> ids;
  auto caller = kim::sdk::testing::FakeHost::request_as("coordinator");
  auto failed = kim::sdk::for_each_item(
      host, caller, "/api/v1/cases", {{"town", "Rheine"}},
      [&](const json& item) { ids.push_back(item["id"]); }, 50);
  EXPECT_FALSE(failed);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c"}));
  const auto reads = host.reads();
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_EQ(reads[0].query.at("limit"), "50");
  EXPECT_EQ(reads[0].query.at("town"), "Rheine");
  EXPECT_EQ(reads[1].query.at("cursor"), "p2");
  EXPECT_EQ(reads[2].query.at("cursor"), "17");
  EXPECT_EQ(reads[2].principal->role, "coordinator");
}

TEST_F(SdkPagedReads, ARefusalOrAStrangeAnswerStopsTheReadAndIsPassedOn) {
  host.answer_reads([](const kim::sdk::HttpRequest&) {
    return HttpResponse::error(403, "forbidden", "not for this role");
  });
  int seen = 0;
  auto caller = kim::sdk::testing::FakeHost::request_as("case_manager");
  auto failed =
      kim::sdk::for_each_item(host, caller, "/api/v1/referrals", {}, [&](const json&) { ++seen; });
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, 403);
  host.answer_reads([](const kim::sdk::HttpRequest&) {
    return HttpResponse::json(200, {{"rows", 1}});
  });
  failed =
      kim::sdk::for_each_item(host, caller, "/api/v1/referrals", {}, [&](const json&) { ++seen; });
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, 502);
  EXPECT_EQ(seen, 0);
}

// tests/CMakeLists.txt embeds tests/sdk/data/greeting.txt into this binary, as kim_add_plugin's
// DATA_FILES does into a plugin: the bytes exactly (non-ASCII, quotes, backslashes).
TEST(SdkEmbeddedFiles, TheFilesBytesAreThereByName) {
  ASSERT_EQ(kim::sdk::embedded_files().size(), 1u);
  auto greeting = kim::sdk::embedded_file("greeting.txt");
  ASSERT_TRUE(greeting);
  EXPECT_EQ(*greeting, "Moin, Grüße aus Rheine\n\"quoted\" \\ backslash\n");
  EXPECT_FALSE(kim::sdk::embedded_file("missing.txt"));
}

}  // namespace
