// The indicator report's arithmetic (reports/indicators.*) alone, then the report over a real
// SQLite file whose cases were written by the services with a fixed clock in 2021 (the facts
// table kept by migration 0014's triggers), its access rule and audit entry, and the funding
// report's sums.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <random>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "auth/access.hpp"
#include "cases/service.hpp"
#include "domain/env.hpp"
#include "events/event_bus.hpp"
#include "orgs/organisations.hpp"
#include "partners/partners.hpp"
#include "reports/funding.hpp"
#include "reports/indicators.hpp"
#include "reports/reports.hpp"
#include "store/core_migrations.hpp"
#include "store/store.hpp"
#include "support/core_store.hpp"

namespace kim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using reports::CaseFact;
using reports::IndicatorTable;

// The value of one row of a report, or null when there is no such row.
json value_of(const json& rows, const std::string& town, const std::string& organisation,
              const std::string& indicator, const std::string& category = "") {
  for (const auto& row : rows) {
    if (row["town"] == town && row["organisation"] == organisation &&
        row["indicator"] == indicator && row["category"] == category) {
      return row["value"];
    }
  }
  return nullptr;
}

std::string slug(std::int64_t id) {
  return "org" + std::to_string(id);
}

CaseFact fact(const std::string& town, const std::string& opened, const std::string& closed = "") {
  CaseFact f;
  f.town = town;
  f.organisation_id = 1;
  f.phase = closed.empty() ? "monitoring" : "closed";
  f.opened_on = opened;
  f.closed_on = closed;
  f.closure_reason = closed.empty() ? "" : "goals_reached";
  f.birth_year = 1990;
  f.gender = "female";
  f.residence_status = "residence_permit";
  return f;
}

TEST(IndicatorArithmeticTest, CountsBelowFiveAreShownAsLessThanFive) {
  EXPECT_EQ(reports::suppressed(0), json(0));
  for (int n = 1; n < 5; ++n)
    EXPECT_EQ(reports::suppressed(n), json("<5")) << n;
  EXPECT_EQ(reports::suppressed(5), json(5));
  EXPECT_EQ(reports::suppressed(1234), json(1234));
}

TEST(IndicatorArithmeticTest, DatesBandsAndMedians) {
  EXPECT_EQ(reports::day_number("1970-01-02"), 1);
  EXPECT_EQ(*reports::day_number("2021-12-31") - *reports::day_number("2021-07-01"), 183);
  EXPECT_FALSE(reports::day_number("2021-02-30"));
  EXPECT_FALSE(reports::day_number("2021-7-1"));
  EXPECT_EQ(reports::next_day("2021-12-31"), "2022-01-01");
  EXPECT_EQ(reports::next_day("2024-02-28"), "2024-02-29");
  EXPECT_EQ(reports::age_band(2004, 2021), "0-17");
  EXPECT_EQ(reports::age_band(2003, 2021), "18-26");
  EXPECT_EQ(reports::age_band(1995, 2021), "18-26");
  EXPECT_EQ(reports::age_band(1994, 2021), "27-44");
  EXPECT_EQ(reports::age_band(1957, 2021), "45-64");
  EXPECT_EQ(reports::age_band(1956, 2021), "65+");
  EXPECT_EQ(reports::age_band(0, 2021), "unknown");
  std::vector<std::int64_t> odd = {9, 1, 5}, even = {4, 1, 10, 2}, none;
  EXPECT_EQ(reports::median(odd), 5.0);
  EXPECT_EQ(reports::median(even), 3.0);
  EXPECT_FALSE(reports::median(none));
}

TEST(IndicatorArithmeticTest, APeriodCountsOpenedActiveAndClosedCasesAtItsBoundaries) {
  IndicatorTable table("2021-07-01", "2021-12-31");
  table.add_case(fact("Greven", "2021-01-01", "2021-06-30"));  // closed the day before: out
  table.add_case(fact("Greven", "2022-01-01"));                // opened the day after: out
  for (int i = 0; i < 6; ++i)
    table.add_case(fact("Greven", "2021-07-01", "2021-12-31"));  // first and last day
  table.add_case(fact("Greven", "2020-05-01"));                  // open throughout: active only
  const json rows = table.rows(slug);
  EXPECT_EQ(value_of(rows, "Greven", "org1", "cases_opened"), 6);
  EXPECT_EQ(value_of(rows, "Greven", "org1", "cases_active"), 7);
  EXPECT_EQ(value_of(rows, "Greven", "org1", "cases_closed"), 6);
  EXPECT_EQ(value_of(rows, "Greven", "org1", "closed_by_reason", "goals_reached"), 6);
  EXPECT_EQ(value_of(rows, "Greven", "org1", "median_case_duration_days"), 183.0);
  // 7 active = 6 closed + "<5" monitoring: the 6 would give the 1 away, so it is withheld.
  EXPECT_EQ(value_of(rows, "Greven", "org1", "active_by_phase", "closed"), "x");
  EXPECT_EQ(value_of(rows, "Greven", "org1", "active_by_phase", "monitoring"), "<5");
  EXPECT_EQ(value_of(rows, "Greven", "org1", "active_by_age_band", "27-44"), 7);
}

// Whatever the figures, no shown sum has exactly one hidden part, and no hidden sum only shown
// parts: a suppressed count never comes back by subtraction.
void expect_no_cell_derivable(const json& rows) {
  std::map<std::string, json> by;
  auto key = [](const std::string& town, const std::string& org, const std::string& indicator,
                const std::string& category) {
    return town + "|" + org + "|" + indicator + "|" + category;
  };
  for (const auto& row : rows)
    by[key(row["town"], row["organisation"], row["indicator"], row["category"])] = row["value"];
  std::map<std::string, std::vector<json>> sums;  // sum's key (+ breakdown) -> parts' values
  for (const auto& row : rows) {
    const std::string town = row["town"], org = row["organisation"], ind = row["indicator"],
                      cat = row["category"];
    if (ind.rfind("median_", 0) == 0) continue;
    if (org != "*") sums[key(town, "*", ind, cat) + "#orgs"].push_back(row["value"]);
    if (org == "*" && town != "*") sums[key("*", "*", ind, cat) + "#towns"].push_back(row["value"]);
    if (ind.rfind("active_by_", 0) == 0)
      sums[key(town, org, "cases_active", "") + "#" + ind].push_back(row["value"]);
    if (ind == "closed_by_reason")
      sums[key(town, org, "cases_closed", "") + "#" + ind].push_back(row["value"]);
  }
  for (const auto& [sum_key, parts] : sums) {
    const json& total = by.at(sum_key.substr(0, sum_key.find('#')));
    const auto hidden =
        std::count_if(parts.begin(), parts.end(), [](const json& v) { return v.is_string(); });
    if (total.is_string()) {
      EXPECT_NE(hidden, 0) << sum_key << " hidden, but its parts add up to it";
    } else {
      EXPECT_NE(hidden, 1) << sum_key << " = " << total << " gives its one hidden part away";
    }
  }
}

TEST(IndicatorArithmeticTest, NoSuppressedCountComesBackBySubtraction) {
  IndicatorTable table("2021-01-01", "2021-12-31");
  auto add = [&](const std::string& town, std::int64_t organisation, const std::string& gender,
                 int count) {
    for (int i = 0; i < count; ++i) {
      CaseFact f = fact(town, "2021-03-01");
      f.organisation_id = organisation;
      f.gender = gender;
      table.add_case(f);
    }
  };
  // Greven: 12 active cases, 9 of organisation 1 and 3 of organisation 2.
  add("Greven", 1, "female", 9);
  add("Greven", 2, "female", 3);
  // Emsdetten: 38 active, 20 female, 17 male, 1 diverse.
  add("Emsdetten", 3, "female", 20);
  add("Emsdetten", 3, "male", 17);
  add("Emsdetten", 3, "diverse", 1);
  const json rows = table.rows(slug);
  EXPECT_EQ(value_of(rows, "Greven", "*", "cases_active"), 12);
  EXPECT_EQ(value_of(rows, "Greven", "org2", "cases_active"), "<5");
  EXPECT_EQ(value_of(rows, "Greven", "org1", "cases_active"), "x");
  EXPECT_EQ(value_of(rows, "Emsdetten", "org3", "cases_active"), 38);
  EXPECT_EQ(value_of(rows, "Emsdetten", "org3", "active_by_gender", "diverse"), "<5");
  EXPECT_EQ(value_of(rows, "Emsdetten", "org3", "active_by_gender", "male"), "x");
  EXPECT_EQ(value_of(rows, "Emsdetten", "org3", "active_by_gender", "female"), 20);
  expect_no_cell_derivable(rows);

  // Many random tables: the rule holds for each.
  std::mt19937 random(42);
  const std::vector<std::string> towns = {"Greven", "Rheine", "Metelen", "Ochtrup"};
  const std::vector<std::string> genders = {"female", "male", "diverse"};
  for (int round = 0; round < 50; ++round) {
    IndicatorTable many("2021-01-01", "2021-12-31");
    const int cases = 1 + static_cast<int>(random() % 60);
    for (int i = 0; i < cases; ++i) {
      CaseFact f =
          fact(towns[random() % towns.size()], "2021-03-01", random() % 3 == 0 ? "2021-09-01" : "");
      f.organisation_id = 1 + static_cast<std::int64_t>(random() % 3);
      f.gender = genders[random() % genders.size()];
      many.add_case(f);
    }
    expect_no_cell_derivable(many.rows(slug));
  }
}

TEST(IndicatorArithmeticTest, ASmallTownsSingleCaseIsNotShownAnywhere) {
  IndicatorTable table("2021-07-01", "2021-12-31");
  for (int i = 0; i < 5; ++i)
    table.add_case(fact("Greven", "2021-08-01"));
  CaseFact lone = fact("Metelen", "2021-08-01");
  lone.intake_on = "2021-08-11";
  table.add_case(lone);
  table.add_goals("Metelen", 1, "language", false, 1);
  table.add_referrals("Metelen", 1, "jobcenter", "sgb2_integration_services", "declined", 1);
  const json rows = table.rows(slug);
  for (const auto& row : rows) {
    if (row["town"] == "Metelen") {
      EXPECT_NE(row["value"], json(1)) << row.dump();
      // Counts of the town are "<5" (or 0: nothing closed); so is the median over its one case.
      EXPECT_TRUE(row["value"] == json("<5") || row["value"] == json(0)) << row.dump();
    }
  }
  EXPECT_EQ(value_of(rows, "Metelen", "org1", "median_days_to_intake"), "<5");
  EXPECT_EQ(value_of(rows, "Metelen", "*", "cases_opened"), "<5");
  // 6 - 5 would be Metelen's 1: Greven's 5 is withheld; and 6 = "x" + "<5" would still make the
  // x a 5 and the <5 a 1 (x is at least 5): the county's 6 is withheld too.
  EXPECT_EQ(value_of(rows, "Greven", "*", "cases_opened"), "x");
  EXPECT_EQ(value_of(rows, "*", "*", "cases_opened"), "x");
  const std::string csv = reports::indicators_csv({{"format_version", 1},
                                                   {"from", "2021-07-01"},
                                                   {"to", "2021-12-31"},
                                                   {"town", nullptr},
                                                   {"organisation", nullptr},
                                                   {"rows", rows}});
  EXPECT_EQ(csv.rfind("# kim-indicators format_version=1 from=2021-07-01 to=2021-12-31 ", 0), 0u)
      << csv;
  EXPECT_NE(csv.find("\r\ntown,organisation,indicator,category,value\r\n"), std::string::npos);
  EXPECT_NE(csv.find("\r\nMetelen,org1,cases_opened,,<5\r\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\r\nMetelen,org1,referrals,jobcenter/sgb2_integration_services/declined,<5"),
            std::string::npos)
      << csv;
  EXPECT_EQ(csv.find("Metelen,org1,cases_opened,,1"), std::string::npos) << csv;
}

// ---- the report over the database ------------------------------------------------------------

constexpr const char* kOffice = "ki-test";
constexpr const char* kOtherOffice = "other-office";

class IndicatorReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};  // each fixture's logger has a name of its own
    store_ = test::open_migrated_store(dir_, "kim_indicators_test");
    orgs::apply_seeds(
        *store_,
        {{kOffice, "KI Test", "coordinating_office", "", "", false},
         {kOtherOffice, "Other", "coordinating_office", "", "", false},
         {"welfare-test", "Welfare", "welfare_organisation", "Greven", kOffice, false},
         {"welfare-other", "Welfare 2", "welfare_organisation", "Rheine", kOtherOffice, false}});
    // The county's office is the county-wide coordinating partner of the same slug.
    partners::apply_seeds(*store_, {{{"slug", kOffice},
                                     {"name", "KI Test"},
                                     {"kind", "coordinating_office"},
                                     {"county_wide", true},
                                     {"services", {"integration_agency"}}}});
    events_ = std::make_unique<events::EventBus>(
        spdlog::null_logger_mt("indicators_" + std::to_string(counter++)));
    case_manager_ = user("cm", "case_manager", "welfare-test");
    coordinator_ = user("co", "coordinator", kOffice);
    other_coordinator_ = user("co-other", "coordinator", kOtherOffice);
    cases_ = std::make_unique<cases::CaseService>(*store_, *events_, env_);
    reports_ = std::make_unique<reports::ReportService>(*store_, *events_, env_, 14);
    funding_ = std::make_unique<reports::FundingService>(*store_, *events_, env_);
  }
  void TearDown() override {
    funding_.reset();
    reports_.reset();
    cases_.reset();
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  sdk::Principal user(const std::string& name, const std::string& role,
                      const std::string& organisation) {
    return test::make_user(*store_, *events_, env_, name, role, organisation);
  }
  static domain::Context as(const sdk::Principal& who) { return test::as(who); }
  void on(const std::string& date) { env_.set(domain::FixedClockEnv::at_local_noon(date).now()); }

  json ok(const domain::Result<domain::Reply>& result) {
    if (!result) {
      ADD_FAILURE() << result.problem().code << ": " << result.problem().message;
      return json();
    }
    return result.value().body;
  }
  std::string open(const std::string& town, const std::string& phase = "intake") {
    json person =
        ok(cases_->create_person(as(case_manager_), {{"given_names", "Amal"},
                                                     {"family_name", "Test" + std::to_string(n_++)},
                                                     {"date_of_birth", "1990-05-01"},
                                                     {"gender", "female"},
                                                     {"town", town},
                                                     {"residence_status", "residence_permit"}}));
    return ok(cases_->open_case(as(case_manager_),
                                {{"person_id", person["id"]}, {"phase", phase}}))["id"];
  }
  void to(const std::string& case_id, const std::string& phase, const std::string& reason = "") {
    json body = {{"to", phase}};
    if (!reason.empty()) body["reason"] = reason;
    ok(cases_->transition(as(case_manager_), case_id, body));
  }
  reports::IndicatorQuery period(const std::string& from, const std::string& to) {
    reports::IndicatorQuery query;
    query.from = from;
    query.to = to;
    return query;
  }

  fs::path dir_;
  domain::FixedClockEnv env_ = domain::FixedClockEnv::at_local_noon("2021-06-15");
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<events::EventBus> events_;
  std::unique_ptr<cases::CaseService> cases_;
  std::unique_ptr<reports::ReportService> reports_;
  std::unique_ptr<reports::FundingService> funding_;
  sdk::Principal case_manager_, coordinator_, other_coordinator_;
  int n_ = 0;
};

TEST_F(IndicatorReportTest, TheSecondHalfOf2021MatchesTheCasesWritten) {
  on("2021-03-01");
  const auto early = open("Greven");
  on("2021-05-01");
  to(early, "closed", "moved_away");  // closed before the period: not in it
  on("2021-06-15");
  open("Rheine");  // opened before, open throughout: active
  on("2021-08-02");
  std::vector<std::string> greven;
  for (int i = 0; i < 6; ++i)
    greven.push_back(open("Greven"));
  on("2021-08-10");
  for (int i = 0; i < 5; ++i) {
    to(greven[i], "assessment");
    ok(cases_->record_assessment(
        as(case_manager_), greven[i],
        {{"domains", {{{"life_domain", "language"}, {"need_level", "high"}}}}}));
    to(greven[i], "planning");
  }
  on("2021-08-20");
  std::vector<std::string> goals;
  for (int i = 0; i < 5; ++i) {
    goals.push_back(ok(cases_->add_goal(as(case_manager_), greven[i],
                                        {{"life_domain", "language"},
                                         {"description", "B1 course"},
                                         {"due_date", "2021-12-01"}}))["id"]);
  }
  on("2021-09-01");
  const auto rheine = open("Rheine", "access");
  on("2021-09-11");
  to(rheine, "intake");  // ten days from first contact to intake
  on("2021-10-01");
  for (int i = 0; i < 5; ++i) {
    ok(cases_->update_goal(as(case_manager_), greven[i], goals[i], {{"status", "achieved"}}));
  }
  on("2021-11-30");
  for (int i = 0; i < 5; ++i)
    to(greven[i], "closed", "goals_reached");
  on("2022-01-05");
  open("Greven");  // after the period

  auto report = ok(reports_->indicators(as(coordinator_), period("2021-07-01", "2021-12-31")));
  const json& rows = report["rows"];
  EXPECT_EQ(report["format_version"], 1);
  const std::string org = "welfare-test";
  // The county's 7 opened = Greven's 6 + Rheine's "<5": Greven's figures that would give
  // Rheine's away are withheld, in Greven's own report (town=Greven) as well.
  EXPECT_EQ(value_of(rows, "Greven", org, "cases_opened"), "x") << rows.dump();
  EXPECT_EQ(value_of(rows, "Greven", org, "cases_active"), "x");
  auto greven_only = period("2021-07-01", "2021-12-31");
  greven_only.town = "Greven";
  const json greven_rows = ok(reports_->indicators(as(coordinator_), greven_only))["rows"];
  EXPECT_EQ(value_of(greven_rows, "Greven", org, "cases_opened"), "x") << greven_rows.dump();
  EXPECT_EQ(value_of(greven_rows, "Greven", org, "cases_closed"), 5);
  for (const auto& row : greven_rows)
    EXPECT_EQ(row["town"], "Greven") << row.dump();
  EXPECT_EQ(value_of(rows, "Greven", org, "cases_closed"), 5);
  EXPECT_EQ(value_of(rows, "Greven", org, "closed_by_reason", "goals_reached"), 5);
  EXPECT_EQ(value_of(rows, "Greven", org, "median_days_to_intake"), 0.0);
  EXPECT_EQ(value_of(rows, "Greven", org, "median_days_to_first_goal"), 18.0);
  EXPECT_EQ(value_of(rows, "Greven", org, "median_case_duration_days"), 120.0);
  EXPECT_EQ(value_of(rows, "Greven", org, "goals_set", "language"), 5);
  EXPECT_EQ(value_of(rows, "Greven", org, "goals_achieved", "language"), 5);
  EXPECT_EQ(value_of(rows, "Greven", org, "active_by_gender", "female"), "x");
  EXPECT_EQ(value_of(rows, "Greven", org, "active_by_age_band", "27-44"), "x");
  EXPECT_EQ(value_of(rows, "Rheine", org, "cases_opened"), "<5");
  EXPECT_EQ(value_of(rows, "Rheine", org, "cases_active"), "<5");
  EXPECT_EQ(value_of(rows, "Rheine", org, "median_days_to_intake"), "<5");
  EXPECT_EQ(value_of(rows, "*", "*", "cases_opened"), 7);
  EXPECT_EQ(value_of(rows, "*", "*", "cases_active"), 8);
  EXPECT_EQ(value_of(rows, "*", "*", "cases_closed"), 5);

  // The facts follow a later change of the person (the triggers of migration 0014).
  auto facts = store_->read([](store::Connection& db) {
    return db.query("SELECT count(*) AS n FROM report_case_facts");
  });
  EXPECT_EQ(facts[0]["n"], 10);

  // On record: who asked for which period's figures.
  auto audit = store_->read([](store::Connection& db) {
    return db.query(
        "SELECT user_name, object_type, object_id FROM audit_log WHERE action = "
        "'report'");
  });
  ASSERT_EQ(audit.size(), 2u);  // the county's report and Greven's
  EXPECT_EQ(audit[0]["user_name"], "co");
  EXPECT_EQ(audit[0]["object_type"], "indicators");
  EXPECT_EQ(audit[0]["object_id"], "2021-07-01..2021-12-31");
}

TEST_F(IndicatorReportTest, ACoordinatorSeesOnlyTheOrganisationsItsOfficeSupervises) {
  on("2021-08-02");
  for (int i = 0; i < 5; ++i)
    open("Greven");
  auto all = ok(reports_->indicators(as(coordinator_), period("2021-07-01", "2021-12-31")));
  EXPECT_EQ(value_of(all["rows"], "*", "*", "cases_opened"), 5);
  // The other office supervises welfare-other only: none of these cases is in its figures.
  auto other = ok(reports_->indicators(as(other_coordinator_), period("2021-07-01", "2021-12-31")));
  EXPECT_EQ(value_of(other["rows"], "*", "*", "cases_opened"), 0) << other.dump();
  auto query = period("2021-07-01", "2021-12-31");
  query.organisation = "welfare-test";
  auto refused = reports_->indicators(as(other_coordinator_), query);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.problem().status, 403);
  query.organisation = "no-such-org";
  auto unknown = reports_->indicators(as(coordinator_), query);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.problem().status, 400);
  EXPECT_EQ(unknown.problem().code, "unknown_organisation");
}

TEST(IndicatorQueryTest, PeriodTownAndFormatAreChecked) {
  auto problem = [](std::map<std::string, std::string> params) {
    auto query = reports::indicator_query(params);
    return query ? std::string("accepted") : query.problem().field + " " + query.problem().code;
  };
  EXPECT_EQ(problem({{"from", "2021-07-01"}, {"to", "2021-12-31"}}), "accepted");
  EXPECT_EQ(problem({{"to", "2021-12-31"}}), "from invalid_field");
  EXPECT_EQ(problem({{"from", "2021-07-01"}}), "to invalid_field");
  EXPECT_EQ(problem({{"from", "2021-02-30"}, {"to", "2021-12-31"}}), "from invalid_field");
  EXPECT_EQ(problem({{"from", "2021-12-31"}, {"to", "2021-07-01"}}), "to invalid_field");
  EXPECT_EQ(problem({{"from", "2015-01-01"}, {"to", "2021-12-31"}}), "to invalid_field");
  EXPECT_EQ(problem({{"from", "2017-01-01"}, {"to", "2021-12-31"}}), "accepted");
  EXPECT_EQ(problem({{"from", "2021-07-01"}, {"to", "2021-12-31"}, {"town", "Berlin"}}),
            "town unknown_town");
  EXPECT_EQ(problem({{"from", "2021-07-01"}, {"to", "2021-12-31"}, {"format", "xml"}}),
            "format invalid_field");
  EXPECT_EQ(problem({{"from", "2021-07-01"}, {"to", "2021-12-31"}, {"person", "x"}}),
            "person unknown_parameter");
}

TEST_F(IndicatorReportTest, TheFundingReportSumsAYearPerBuildingBlock) {
  const auto county = as(coordinator_);
  json decision = ok(funding_->create_decision(county, {{"building_block", 2},
                                                        {"purpose", "Case management"},
                                                        {"amount_cents", 22000000},
                                                        {"period_from", "2021-01-01"},
                                                        {"period_to", "2021-12-31"},
                                                        {"decided_on", "2020-06-09"}}));
  ok(funding_->create_post(county, {{"building_block", 1},
                                    {"organisation", kOffice},
                                    {"function", "coordination"},
                                    {"fte_planned", 1.5},
                                    {"fte_filled", 1.0},
                                    {"funding_per_fte_cents", 5700000},
                                    {"period_from", "2021-01-01"},
                                    {"period_to", "2021-12-31"}}));
  // Half of 2021 only: counts half.
  ok(funding_->create_post(county, {{"building_block", 3},
                                    {"organisation", kOffice},
                                    {"function", "authority_casework"},
                                    {"fte_planned", 2.0},
                                    {"fte_filled", 2.0},
                                    {"period_from", "2021-07-02"},
                                    {"period_to", "2022-06-30"}}));
  ok(funding_->create_forwarding(county, {{"decision", decision["id"]},
                                          {"organisation", "welfare-test"},
                                          {"amount_cents", 12000000},
                                          {"period_from", "2021-01-01"},
                                          {"period_to", "2021-12-31"},
                                          {"signed_on", "2020-11-16"}}));
  // More than the decision grants is refused.
  auto over = funding_->create_forwarding(county, {{"decision", decision["id"]},
                                                   {"organisation", "welfare-other"},
                                                   {"amount_cents", 10000001},
                                                   {"period_from", "2021-01-01"},
                                                   {"period_to", "2021-12-31"},
                                                   {"signed_on", "2020-11-16"}});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.problem().code, "exceeds_grant");
  // Another office may read but not record the county's funding.
  auto refused = funding_->create_decision(as(other_coordinator_), {{"building_block", 1},
                                                                    {"purpose", "x"},
                                                                    {"amount_cents", 1},
                                                                    {"period_from", "2021-01-01"},
                                                                    {"period_to", "2021-12-31"},
                                                                    {"decided_on", "2020-06-09"}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.problem().status, 403);

  json report = ok(funding_->report(as(other_coordinator_), 2021));
  const json& blocks = report["building_blocks"];
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0]["fte_planned"], 1.5);
  EXPECT_EQ(blocks[0]["fte_filled"], 1.0);
  EXPECT_EQ(blocks[0]["post_funding_cents"], 8550000);  // 1.5 x 57,000 EUR
  EXPECT_EQ(blocks[1]["granted_cents"], 22000000);
  EXPECT_EQ(blocks[1]["forwarded_cents"], 12000000);
  EXPECT_EQ(blocks[2]["fte_planned"], 1.0);  // 2.0 FTE for 183 of 365 days, to two decimals
  EXPECT_EQ(report["totals"]["granted_cents"], 22000000);
  EXPECT_EQ(ok(funding_->report(as(coordinator_), 2023))["totals"]["granted_cents"], 0);
}

}  // namespace
}  // namespace kim
