// The naturalisation plugin's dated rule sets (plugins/naturalisation/rules/*.json, embedded at
// build time) applied around every threshold: each row asserts the rule set chosen and the result
// of each criterion it is about, not just the overall answer.
#include <gtest/gtest.h>

#include "rules.hpp"

namespace kim_naturalisation {
namespace {

using nlohmann::json;

const RuleBook& book() {
  static const RuleBook rules(kim::sdk::embedded_files());
  return rules;
}

const Date kToday{2026, 12, 2};  // fixed: the rows do not age

// Every § 10 StAG fact met, residence and language aside; rows override what they test.
json stag_facts(json changes) {
  json facts = {{"identity_clarified", true},
                {"qualifying_residence_title", true},
                {"naturalisation_test_passed", true},
                {"livelihood_secured", true},
                {"no_relevant_convictions", true},
                {"commitment_to_constitution", true},
                {"commitment_historical_responsibility", true},
                {"german_level", "B1"},
                {"integration_course_certificate", false},
                {"special_integration_achievements", false}};
  for (const auto& [key, value] : changes.items())
    facts[key] = value;
  return facts;
}

json run(const std::string& check, const json& body) {
  Facts facts;
  auto problem = book().read_facts(check, body, kToday, facts);
  EXPECT_FALSE(problem) << (problem ? problem->field + ": " + problem->message : "");
  return problem ? json() : book().evaluate(check, facts);
}

json criterion(const json& answer, const std::string& id) {
  for (const auto& c : answer.value("criteria", json::array()))
    if (c["id"] == id) return c;
  return json();
}

std::string result_of(const json& answer, const std::string& id) {
  const json c = criterion(answer, id);
  return c.is_null() ? "<absent>" : c["result"].get<std::string>();
}

TEST(NaturalisationRuleSets, EmbeddedFilesFormAnUnbrokenChainPerCheck) {
  EXPECT_EQ(book().checks(), (std::vector<std::string>{"aufenthg-25a", "aufenthg-25b", "stag-10"}));
  std::vector<std::string> stag;
  for (const auto& set : book().rule_sets("stag-10"))
    stag.push_back(set.data["id"]);
  EXPECT_EQ(stag, (std::vector<std::string>{"stag-10-from-2008-09-01", "stag-10-from-2024-06-27",
                                            "stag-10-from-2025-10-30"}));
  EXPECT_EQ(book().rule_set_for("stag-10", {2024, 6, 26})->data["id"], "stag-10-from-2008-09-01");
  EXPECT_EQ(book().rule_set_for("stag-10", {2024, 6, 27})->data["id"], "stag-10-from-2024-06-27");
  EXPECT_EQ(book().rule_set_for("stag-10", {2025, 10, 29})->data["id"], "stag-10-from-2024-06-27");
  EXPECT_EQ(book().rule_set_for("stag-10", {2025, 10, 30})->data["id"], "stag-10-from-2025-10-30");
  EXPECT_EQ(book().rule_set_for("stag-10", {2008, 8, 31}), nullptr);
  EXPECT_EQ(book().rule_set_for("aufenthg-25a", {2022, 12, 30})->data["id"],
            "aufenthg-25a-from-2015-08-01");
  EXPECT_EQ(book().rule_set_for("aufenthg-25b", {2022, 12, 31})->data["id"],
            "aufenthg-25b-from-2022-12-31");
}

TEST(NaturalisationRuleSets, BrokenRuleFilesAreRefusedNamingTheFile) {
  const std::string valid = R"({"id": "x-1", "check": "x", "title": "t", "legal_reference": "r",
    "valid_from": "2020-01-01", "valid_until": "2020-12-31",
    "facts": {"since": {"type": "date", "description": "d"}},
    "criteria": [{"id": "c", "text": "t", "duration": {"fact": "since", "routes": [{"id": "r", "text": "t", "years": 1}]}}]})";
  const std::string gap = R"({"id": "x-2", "check": "x", "title": "t", "legal_reference": "r",
    "valid_from": "2021-01-02", "facts": {}, "criteria": [{"id": "c", "text": "t",
    "any_of": [{"fact": "since", "is": true}]}]})";
  const std::string bad_level = R"({"id": "y", "check": "y", "title": "t", "legal_reference": "r",
    "valid_from": "2020-01-01", "facts": {"l": {"type": "level", "description": "d"}},
    "criteria": [{"id": "c", "text": "t", "any_of": [{"fact": "l", "at_least": "D1"}]}]})";
  EXPECT_NO_THROW(RuleBook({{"x-1.json", valid}}));
  for (const auto& [files, message] : std::vector<std::pair<std::vector<RuleFile>, std::string>>{
           {{{"x-1.json", valid}, {"x-2.json", gap}}, "x-2.json"},
           {{{"y.json", bad_level}}, "y.json: criteria[0].any_of[0]"},
           {{{"z.json", "{not json"}}, "z.json: not a JSON object"}}) {
    try {
      RuleBook rules(files);
      ADD_FAILURE() << "accepted: " << message;
    } catch (const std::runtime_error& error) {
      EXPECT_NE(std::string(error.what()).find(message), std::string::npos) << error.what();
    }
  }
}

json with(json body, const json& changes) {
  for (const auto& [key, value] : changes.items())
    body[key] = value;
  return body;
}

// The issue's example: 4 years' lawful residence, C1, special integration achievements.
TEST(NaturalisationRuleSets, FourYearsWithC1AndSpecialAchievementsDependOnTheApplicationDate) {
  const json strong =
      stag_facts({{"german_level", "C1"}, {"special_integration_achievements", true}});

  // 2021: 8 years, 6 with special achievements: not yet, earliest at 6 years; the later laws noted.
  auto in_2021 = run("stag-10", with(strong, {{"application_date", "2021-06-01"},
                                              {"lawful_residence_since", "2017-06-01"}}));
  EXPECT_EQ(in_2021["rule_set"]["id"], "stag-10-from-2008-09-01");
  EXPECT_EQ(in_2021["result"], "not_yet");
  EXPECT_EQ(result_of(in_2021, "residence_time"), "not_met");
  EXPECT_EQ(criterion(in_2021, "residence_time")["facts_used"]["lawful_residence_since"],
            "2017-06-01");
  EXPECT_EQ(criterion(in_2021, "residence_time")["routes"][2]["id"], "special_integration");
  EXPECT_EQ(criterion(in_2021, "residence_time")["routes"][2]["reached_on"], "2023-06-01");
  EXPECT_EQ(result_of(in_2021, "german_language"), "met");
  EXPECT_EQ(result_of(in_2021, "historical_responsibility"), "<absent>");  // not a criterion yet
  EXPECT_EQ(in_2021["earliest_residence_date"], "2023-06-01");
  ASSERT_EQ(in_2021["later_rule_sets"].size(), 2u);
  EXPECT_EQ(in_2021["later_rule_sets"][0]["id"], "stag-10-from-2024-06-27");
  EXPECT_EQ(in_2021["later_rule_sets"][0]["residence_reached_on"], "2020-06-01");
  EXPECT_EQ(in_2021["later_rule_sets"][0]["earliest_application_date"], "2024-06-27");
  EXPECT_EQ(in_2021["later_rule_sets"][1]["earliest_application_date"], "2025-10-30");
  EXPECT_EQ(in_2021["advisory"], true);

  // August 2025: 3 years with special achievements and C1.
  auto in_2025 = run("stag-10", with(strong, {{"application_date", "2025-08-15"},
                                              {"lawful_residence_since", "2021-08-15"}}));
  EXPECT_EQ(in_2025["rule_set"]["id"], "stag-10-from-2024-06-27");
  EXPECT_EQ(in_2025["result"], "likely_eligible");
  EXPECT_EQ(result_of(in_2025, "residence_time"), "met");
  EXPECT_EQ(criterion(in_2025, "residence_time")["routes"][0]["result"], "not_met");
  EXPECT_EQ(criterion(in_2025, "residence_time")["routes"][1]["result"], "met");
  EXPECT_EQ(result_of(in_2025, "historical_responsibility"), "met");
  for (const auto& c : in_2025["criteria"])
    EXPECT_EQ(c["result"], "met") << c.dump();

  // 2026: the 3-year route is gone: not yet, earliest at 5 years, no later law.
  auto in_2026 = run("stag-10", with(strong, {{"application_date", "2026-03-01"},
                                              {"lawful_residence_since", "2022-03-01"}}));
  EXPECT_EQ(in_2026["rule_set"]["id"], "stag-10-from-2025-10-30");
  EXPECT_EQ(in_2026["result"], "not_yet");
  EXPECT_EQ(result_of(in_2026, "residence_time"), "not_met");
  EXPECT_EQ(criterion(in_2026, "residence_time")["routes"].size(), 1u);
  EXPECT_EQ(in_2026["earliest_residence_date"], "2027-03-01");
  EXPECT_TRUE(in_2026["later_rule_sets"].empty());
  EXPECT_EQ(result_of(in_2026, "german_language"), "met");
}

struct Row {
  const char* name;
  std::string check;
  json body;
  std::string rule_set;
  std::string criterion;
  std::string expected;  // the criterion's result
  std::string overall;
};

class NaturalisationThresholds : public ::testing::TestWithParam<Row> {};

TEST_P(NaturalisationThresholds, EachCriterionAtItsThreshold) {
  const Row& row = GetParam();
  auto answer = run(row.check, row.body);
  EXPECT_EQ(answer["rule_set"]["id"], row.rule_set);
  EXPECT_EQ(result_of(answer, row.criterion), row.expected) << answer.dump(2);
  EXPECT_EQ(answer["result"], row.overall);
}

json b25(json changes) {
  return with({{"tolerated", true},
               {"minor_child_in_household", false},
               {"commitment_and_basic_knowledge", true},
               {"livelihood_mainly_own_work", true},
               {"german_oral_level", "A2"},
               {"children_attend_school", true}},
              changes);
}
json a25(json changes) {
  return with({{"school_years", 4},
               {"recognised_qualification", false},
               {"positive_integration_prognosis", true},
               {"tolerated_since", "2020-01-01"},
               {"residence_since", "2015-01-01"},
               {"date_of_birth", "2002-01-01"}},
              changes);
}
json old_a25(json changes) {  // before 31.12.2022 there was no Duldung period of 12 months
  json body = a25(changes);
  body.erase("tolerated_since");
  return body;
}

INSTANTIATE_TEST_SUITE_P(
    Rows, NaturalisationThresholds,
    ::testing::Values(
        // 4 years 11 months vs 5 years (from 30.10.2025).
        Row{"four_years_eleven_months", "stag-10",
            stag_facts({{"application_date", "2026-01-15"},
                        {"lawful_residence_since", "2021-02-15"}}),
            "stag-10-from-2025-10-30", "residence_time", "not_met", "not_yet"},
        Row{"five_years", "stag-10",
            stag_facts({{"application_date", "2026-01-15"},
                        {"lawful_residence_since", "2021-01-15"}}),
            "stag-10-from-2025-10-30", "residence_time", "met", "likely_eligible"},
        // B1 vs A2.
        Row{"german_b1", "stag-10",
            stag_facts({{"application_date", "2026-01-15"},
                        {"lawful_residence_since", "2015-01-01"},
                        {"german_level", "B1"}}),
            "stag-10-from-2025-10-30", "german_language", "met", "likely_eligible"},
        Row{"german_a2", "stag-10",
            stag_facts({{"application_date", "2026-01-15"},
                        {"lawful_residence_since", "2015-01-01"},
                        {"german_level", "A2"}}),
            "stag-10-from-2025-10-30", "german_language", "not_met", "not_yet"},
        Row{"german_unknown", "stag-10",
            stag_facts({{"application_date", "2026-01-15"},
                        {"lawful_residence_since", "2015-01-01"},
                        {"german_level", nullptr}}),
            "stag-10-from-2025-10-30", "german_language", "unknown", "cannot_tell"},
        // 26.06.2024 vs 27.06.2024: exactly 5 years' residence.
        Row{"on_2024_06_26", "stag-10",
            stag_facts({{"application_date", "2024-06-26"},
                        {"lawful_residence_since", "2019-06-26"}}),
            "stag-10-from-2008-09-01", "residence_time", "not_met", "not_yet"},
        Row{"on_2024_06_27", "stag-10",
            stag_facts({{"application_date", "2024-06-27"},
                        {"lawful_residence_since", "2019-06-26"}}),
            "stag-10-from-2024-06-27", "residence_time", "met", "likely_eligible"},
        // Before 27.06.2024: 7 years with an integration course certificate.
        Row{"seven_years_with_course", "stag-10",
            stag_facts({{"application_date", "2021-01-01"},
                        {"lawful_residence_since", "2014-01-01"},
                        {"integration_course_certificate", true}}),
            "stag-10-from-2008-09-01", "residence_time", "met", "likely_eligible"},
        Row{"seven_years_without_course", "stag-10",
            stag_facts({{"application_date", "2021-01-01"},
                        {"lawful_residence_since", "2014-01-01"}}),
            "stag-10-from-2008-09-01", "residence_time", "not_met", "not_yet"},
        Row{"seven_years_course_unknown", "stag-10",
            stag_facts({{"application_date", "2021-01-01"},
                        {"lawful_residence_since", "2014-01-01"},
                        {"integration_course_certificate", nullptr}}),
            "stag-10-from-2008-09-01", "residence_time", "unknown", "cannot_tell"},
        // The 3-year route before and after 30.10.2025.
        Row{"three_years_on_2025_10_29", "stag-10",
            stag_facts({{"application_date", "2025-10-29"},
                        {"lawful_residence_since", "2022-10-01"},
                        {"german_level", "C1"},
                        {"special_integration_achievements", true}}),
            "stag-10-from-2024-06-27", "residence_time", "met", "likely_eligible"},
        Row{"three_years_on_2025_10_30", "stag-10",
            stag_facts({{"application_date", "2025-10-30"},
                        {"lawful_residence_since", "2022-10-01"},
                        {"german_level", "C1"},
                        {"special_integration_achievements", true}}),
            "stag-10-from-2025-10-30", "residence_time", "not_met", "not_yet"},
        Row{"three_years_with_b2_only", "stag-10",
            stag_facts({{"application_date", "2025-10-29"},
                        {"lawful_residence_since", "2022-10-01"},
                        {"german_level", "B2"},
                        {"special_integration_achievements", true}}),
            "stag-10-from-2024-06-27", "residence_time", "not_met", "not_yet"},
        Row{"residence_unknown", "stag-10", stag_facts({{"application_date", "2026-01-15"}}),
            "stag-10-from-2025-10-30", "residence_time", "unknown", "cannot_tell"},
        // § 25a: application before the 27th birthday (since 31.12.2022), before the 21st before.
        Row{"a25_age_26", "aufenthg-25a",
            a25({{"application_date", "2025-12-31"}, {"date_of_birth", "1999-01-01"}}),
            "aufenthg-25a-from-2022-12-31", "age_limit", "met", "likely_eligible"},
        Row{"a25_age_27", "aufenthg-25a",
            a25({{"application_date", "2026-01-01"}, {"date_of_birth", "1999-01-01"}}),
            "aufenthg-25a-from-2022-12-31", "age_limit", "not_met", "not_yet"},
        Row{"a25_age_20_old_law", "aufenthg-25a",
            old_a25({{"application_date", "2022-06-01"}, {"date_of_birth", "2001-06-02"}}),
            "aufenthg-25a-from-2015-08-01", "age_limit", "met", "likely_eligible"},
        Row{"a25_age_21_old_law", "aufenthg-25a",
            old_a25({{"application_date", "2022-06-01"}, {"date_of_birth", "2001-06-01"}}),
            "aufenthg-25a-from-2015-08-01", "age_limit", "not_met", "not_yet"},
        // § 25a: 3 years' residence since 31.12.2022, 4 before; 12 months' Duldung.
        Row{"a25_three_years_old_law", "aufenthg-25a",
            old_a25({{"application_date", "2022-12-30"}, {"residence_since", "2019-12-30"}}),
            "aufenthg-25a-from-2015-08-01", "residence_time", "not_met", "not_yet"},
        Row{"a25_three_years_new_law", "aufenthg-25a",
            a25({{"application_date", "2022-12-31"}, {"residence_since", "2019-12-31"}}),
            "aufenthg-25a-from-2022-12-31", "residence_time", "met", "likely_eligible"},
        Row{"a25_eleven_months_duldung", "aufenthg-25a",
            a25({{"application_date", "2024-06-01"}, {"tolerated_since", "2023-07-01"}}),
            "aufenthg-25a-from-2022-12-31", "toleration", "not_met", "not_yet"},
        Row{"a25_school_three_years", "aufenthg-25a",
            a25({{"application_date", "2024-06-01"}, {"school_years", 3}}),
            "aufenthg-25a-from-2022-12-31", "school_or_qualification", "met", "likely_eligible"},
        Row{"a25_school_two_years_qualification", "aufenthg-25a",
            a25({{"application_date", "2024-06-01"},
                 {"school_years", 2},
                 {"recognised_qualification", true}}),
            "aufenthg-25a-from-2022-12-31", "school_or_qualification", "met", "likely_eligible"},
        Row{"a25_school_two_years", "aufenthg-25a",
            a25({{"application_date", "2024-06-01"}, {"school_years", 2}}),
            "aufenthg-25a-from-2022-12-31", "school_or_qualification", "not_met", "not_yet"},
        // § 25b: 6 years (4 with a minor child) since 31.12.2022; 8 (6) before.
        Row{"b25_six_years_old_law", "aufenthg-25b",
            b25({{"application_date", "2022-12-30"}, {"residence_since", "2016-12-30"}}),
            "aufenthg-25b-from-2015-08-01", "residence_time", "not_met", "not_yet"},
        Row{"b25_six_years_new_law", "aufenthg-25b",
            b25({{"application_date", "2022-12-31"}, {"residence_since", "2016-12-31"}}),
            "aufenthg-25b-from-2022-12-31", "residence_time", "met", "likely_eligible"},
        Row{"b25_four_years_with_child", "aufenthg-25b",
            b25({{"application_date", "2024-01-01"},
                 {"residence_since", "2020-01-01"},
                 {"minor_child_in_household", true}}),
            "aufenthg-25b-from-2022-12-31", "residence_time", "met", "likely_eligible"},
        Row{"b25_four_years_without_child", "aufenthg-25b",
            b25({{"application_date", "2024-01-01"}, {"residence_since", "2020-01-01"}}),
            "aufenthg-25b-from-2022-12-31", "residence_time", "not_met", "not_yet"},
        Row{"b25_german_a1", "aufenthg-25b",
            b25({{"application_date", "2024-01-01"},
                 {"residence_since", "2010-01-01"},
                 {"german_oral_level", "A1"}}),
            "aufenthg-25b-from-2022-12-31", "german_language", "not_met", "not_yet"}),
    [](const ::testing::TestParamInfo<Row>& info) { return std::string(info.param.name); });

TEST(NaturalisationRuleSets, InputIsCheckedFieldByField) {
  struct Bad {
    json body;
    std::string field;
    std::string code;
  };
  for (const auto& bad : std::vector<Bad>{
           {{{"german_level", "D1"}}, "german_level", "invalid_field"},
           {{{"german_level", "b1"}}, "german_level", "invalid_field"},
           {{{"lawful_residence_since", "01.06.2020"}}, "lawful_residence_since", "invalid_field"},
           {{{"lawful_residence_since", "2021-02-29"}}, "lawful_residence_since", "invalid_field"},
           {{{"lawful_residence_since", "2026-12-03"}}, "lawful_residence_since", "invalid_field"},
           {{{"application_date", "2026-13-01"}}, "application_date", "invalid_field"},
           {{{"application_date", "2001-01-01"}}, "application_date", "invalid_field"},
           {{{"livelihood_secured", "yes"}}, "livelihood_secured", "invalid_field"},
           {{{"livelihood", true}}, "livelihood", "unknown_field"},
           {{{"school_years", 3}}, "school_years", "unknown_field"}}) {
    Facts facts;
    auto problem = book().read_facts("stag-10", bad.body, kToday, facts);
    ASSERT_TRUE(problem) << bad.body.dump();
    EXPECT_EQ(problem->field, bad.field) << bad.body.dump();
    EXPECT_EQ(problem->code, bad.code) << bad.body.dump();
  }
  // Today is not in the future; an application date may be (planning).
  Facts facts;
  EXPECT_FALSE(book().read_facts(
      "stag-10", {{"lawful_residence_since", "2026-12-02"}, {"application_date", "2030-01-01"}},
      kToday, facts));
}

}  // namespace
}  // namespace kim_naturalisation
