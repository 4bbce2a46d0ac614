// Date rules of the services, in-process with a fixed clock (domain::FixedClockEnv): overdue
// tasks, "not in the future", consent and agreement validity and the referral that depends on
// them. The services run against a real SQLite file; only time is fixed.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "auth/access.hpp"
#include "cases/service.hpp"
#include "consent/consent.hpp"
#include "domain/env.hpp"
#include "events/event_bus.hpp"
#include "orgs/organisations.hpp"
#include "partners/partners.hpp"
#include "referrals/referrals.hpp"
#include "store/core_migrations.hpp"
#include "store/store.hpp"
#include "support/core_store.hpp"

namespace kim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::hours;

constexpr const char* kToday = "2027-03-10";
constexpr const char* kPartner = "bench-jobcenter";
constexpr const char* kOffice = "ki-test";
constexpr const char* kService = "sgb2_integration_services";

class DateRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};  // each fixture's logger has a name of its own
    store_ = test::open_migrated_store(dir_, "kim_date_rules_test");
    orgs::apply_seeds(
        *store_, {{kOffice, "KI Test", "coordinating_office", "", "", false},
                  {"welfare-test", "Welfare", "welfare_organisation", "Rheine", kOffice, false}});
    partners::apply_seeds(*store_, {partner(kOffice, "coordinating_office", "integration_agency"),
                                    partner(kPartner, "jobcenter", kService)});
    events_ = std::make_unique<events::EventBus>(
        spdlog::null_logger_mt("date_rules_" + std::to_string(counter++)));
    case_manager_ = user("cm", "case_manager", "welfare-test");
    coordinator_ = user("co", "coordinator", kOffice);
    cases_ = std::make_unique<cases::CaseService>(*store_, *events_, env_);
    partners_ = std::make_unique<partners::PartnerService>(*store_, *events_, env_);
    referrals_ = std::make_unique<referrals::ReferralService>(*store_, *events_, 14, env_);
    consent_ = std::make_unique<consent::ConsentService>(
        *store_, *events_,
        [this](domain::Change& change, const std::string& id) {
          return referrals_->stop_for_revoked_consent(change, id);
        },
        env_);
  }
  void TearDown() override {
    consent_.reset();
    referrals_.reset();
    partners_.reset();
    cases_.reset();
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  static json partner(const std::string& slug, const std::string& kind,
                      const std::string& service) {
    return {{"slug", slug},
            {"name", slug},
            {"kind", kind},
            {"county_wide", true},
            {"services", {service}}};
  }
  sdk::Principal user(const std::string& name, const std::string& role,
                      const std::string& organisation) {
    return test::make_user(*store_, *events_, env_, name, role, organisation);
  }
  static domain::Context as(const sdk::Principal& who) { return test::as(who); }

  // A reply that must have succeeded with `status`.
  json expect_ok(const domain::Result<domain::Reply>& result, int status) {
    if (!result) {
      ADD_FAILURE() << result.problem().code << ": " << result.problem().message;
      return json();
    }
    EXPECT_EQ(result.value().status, status) << result.value().body.dump();
    return result.value().body;
  }
  std::string expect_refused(const domain::Result<domain::Reply>& result, int status) {
    if (result) {
      ADD_FAILURE() << "not refused: " << result.value().body.dump();
      return "";
    }
    EXPECT_EQ(result.problem().status, status) << result.problem().message;
    return result.problem().code;
  }

  std::string new_case() {
    json person = expect_ok(
        cases_->create_person(as(case_manager_), {{"given_names", "Amal"},
                                                  {"family_name", "Test" + std::to_string(n_++)},
                                                  {"date_of_birth", "1990-01-01"},
                                                  {"town", "Rheine"},
                                                  {"residence_status", "residence_permit"}}),
        201);
    person_id_ = person["id"];
    return expect_ok(cases_->open_case(as(case_manager_), {{"person_id", person_id_}}), 201)["id"];
  }

  static std::set<std::string> ids(const json& items) {
    std::set<std::string> found;
    for (const auto& item : items)
      found.insert(item["id"].get<std::string>());
    return found;
  }

  fs::path dir_;
  domain::FixedClockEnv env_ = domain::FixedClockEnv::at_local_noon(kToday);
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<events::EventBus> events_;
  std::unique_ptr<cases::CaseService> cases_;
  std::unique_ptr<partners::PartnerService> partners_;
  std::unique_ptr<referrals::ReferralService> referrals_;
  std::unique_ptr<consent::ConsentService> consent_;
  sdk::Principal case_manager_, coordinator_;
  std::string person_id_;
  int n_ = 0;
};

TEST_F(DateRulesTest, ATaskIsOverdueFromTheDayAfterItsDueDate) {
  const std::string case_id = new_case();
  json task = expect_ok(
      cases_->add_task(as(case_manager_), case_id, {{"description", "Call"}, {"due_date", kToday}}),
      201);
  auto overdue = [&] {
    return expect_ok(cases_->overdue_by_case_manager(as(case_manager_)), 200)["items"];
  };
  EXPECT_TRUE(overdue().empty()) << "due today is not overdue";
  env_.advance(hours(24));
  ASSERT_EQ(overdue().size(), 1u);
  EXPECT_EQ(overdue()[0]["tasks"][0]["id"], task["id"]);
  // Done on the (fixed) day: no longer overdue, and done_on is that day.
  json done =
      expect_ok(cases_->update_task(as(case_manager_), case_id, task["id"], {{"done", true}}), 200);
  EXPECT_EQ(done["done_on"], "2027-03-11");
  EXPECT_TRUE(overdue().empty());
}

TEST_F(DateRulesTest, TaskListsPageThroughEveryDueTask) {
  const std::string case_id = new_case();
  std::set<std::string> created;
  for (int i = 0; i < 7; ++i) {
    json task = expect_ok(cases_->add_task(as(case_manager_), case_id,
                                           {{"description", "Task " + std::to_string(i)},
                                            {"due_date", i % 2 ? "2027-03-01" : "2027-02-01"}}),
                          201);
    created.insert(task["id"].get<std::string>());
  }
  cases::TaskQuery query{kToday, std::nullopt, 3};
  std::set<std::string> seen;
  std::string last_due;
  for (int page = 0; page < 10; ++page) {
    json body = expect_ok(cases_->tasks_due(as(case_manager_), query), 200);
    EXPECT_LE(body["items"].size(), 3u);
    for (const auto& task : body["items"]) {
      EXPECT_TRUE(seen.insert(task["id"].get<std::string>()).second) << "seen twice";
      EXPECT_GE(task["due_date"].get<std::string>(), last_due) << "out of order";
      last_due = task["due_date"];
    }
    if (!body.contains("next_cursor")) break;
    query.after = cases::TaskQuery::parse_cursor(body["next_cursor"]);
    ASSERT_TRUE(query.after) << body["next_cursor"];
  }
  EXPECT_EQ(seen, created);
  // The overdue report is not cut at a page either.
  json report = expect_ok(cases_->overdue_by_case_manager(as(case_manager_)), 200);
  ASSERT_EQ(report["items"].size(), 1u);
  EXPECT_EQ(ids(report["items"][0]["tasks"]), created);
}

TEST_F(DateRulesTest, NotesAndBirthDatesMayNotLieInTheFixedFuture) {
  const std::string case_id = new_case();
  const json note = {{"occurred_on", "2027-03-11"}, {"kind", "phone"}, {"text", "Call"}};
  EXPECT_EQ(expect_refused(cases_->add_note(as(case_manager_), case_id, note), 400),
            "invalid_field");
  env_.advance(hours(24));
  expect_ok(cases_->add_note(as(case_manager_), case_id, note), 201);
  EXPECT_EQ(expect_refused(cases_->create_person(as(case_manager_),
                                                 {{"given_names", "Future"},
                                                  {"family_name", "Child"},
                                                  {"date_of_birth", "2027-03-12"},
                                                  {"town", "Rheine"},
                                                  {"residence_status", "residence_permit"}}),
                           400),
            "invalid_field");
}

TEST_F(DateRulesTest, AReferralNeedsAnAgreementAndAConsentValidOnTheDay) {
  const std::string case_id = new_case();
  json agreement = expect_ok(
      partners_->create_agreement(
          as(coordinator_),
          {{"title", "KIM – Jobcenter"},
           {"parties",
            {{{"partner", kOffice}, {"tasks", "KIM"}, {"responsibility_ends", "hand-over"}},
             {{"partner", kPartner}, {"tasks", "SGB II"}, {"responsibility_ends", "end"}}}},
           {"handover_rule", "joint meeting"},
           {"services", {kService}},
           {"valid_from", "2027-03-11"},
           {"valid_to", "2027-03-20"},
           {"status", "signed"},
           {"data_terms",
            {{{"partner", kPartner}, {"categories", {"identity"}}, {"purposes", {"referral"}}}}}}),
      201);
  EXPECT_EQ(agreement["effective_status"], "not_yet_valid");
  json consent = expect_ok(consent_->grant(as(case_manager_), person_id_,
                                           {{"recipients", {kPartner}},
                                            {"purposes", {"referral"}},
                                            {"categories", {"identity"}},
                                            {"form", "written"},
                                            {"given_on", kToday},
                                            {"valid_until", "2027-03-15"}}),
                           201);
  EXPECT_EQ(consent["status"], "valid");
  const json referral = {
      {"partner", kPartner}, {"service", kService}, {"categories", {"identity"}}};

  EXPECT_EQ(expect_refused(referrals_->create(as(case_manager_), case_id, referral), 422),
            "agreement_not_yet_valid");
  env_.advance(hours(24));  // 2027-03-11: both valid
  expect_ok(referrals_->create(as(case_manager_), case_id, referral), 201);
  env_.advance(hours(24 * 5));  // 2027-03-16: the consent expired yesterday
  EXPECT_EQ(expect_refused(referrals_->create(as(case_manager_), case_id, referral), 422),
            "consent_expired");
  json consents = expect_ok(consent_->list(as(case_manager_), person_id_), 200);
  EXPECT_EQ(consents["items"][0]["status"], "expired");
  env_.advance(hours(24 * 5));  // 2027-03-21: the agreement ended yesterday
  json listed = expect_ok(partners_->get_agreement(as(coordinator_), agreement["id"]), 200);
  EXPECT_EQ(listed["effective_status"], "expired");
}

TEST_F(DateRulesTest, IdsComeFromTheSecureSourceAndDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::string id = env_.new_id("case");
    ASSERT_EQ(id.size(), 5u + 32u);
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef", 5), std::string::npos) << id;
    EXPECT_TRUE(seen.insert(id).second) << "repeated id " << id;
  }
  EXPECT_EQ(env_.today(), kToday);
  EXPECT_EQ(domain::Env::format_timestamp(std::chrono::system_clock::time_point{}),
            "1970-01-01T00:00:00.000Z");
}

// Ids of one run share their first 4 hex digits (index locality), the rest is random per id;
// a run ends after exactly kIdsPerRun ids and the next run's prefix differs.
TEST_F(DateRulesTest, IdsComeInRunsThatShareOnlyTheirFirstTwoBytes) {
  const int per_run = domain::Env::kIdsPerRun;
  std::vector<std::string> ids;
  for (int i = 0; i < 3 * per_run; ++i)
    ids.push_back(env_.new_id("p").substr(2));
  // Where the first run starts depends on ids made before: find the first change of prefix.
  std::size_t start = 1;
  while (start <= static_cast<std::size_t>(per_run) &&
         ids[start].substr(0, 4) == ids[start - 1].substr(0, 4))
    ++start;
  ASSERT_LE(start, static_cast<std::size_t>(per_run));
  const std::string run = ids[start].substr(0, 4);
  std::set<std::string> tails;
  for (int i = 0; i < per_run; ++i) {
    const std::string& id = ids[start + static_cast<std::size_t>(i)];
    ASSERT_EQ(id.substr(0, 4), run) << "id " << i << " of the run";
    tails.insert(id.substr(4, 6));
  }
  EXPECT_NE(ids[start + static_cast<std::size_t>(per_run)].substr(0, 4), run);
  // 24 random bits per id after the prefix: a counter or a copy would repeat or line up.
  EXPECT_GE(tails.size(), static_cast<std::size_t>(per_run - 2));
  EXPECT_NE(ids[start + 1].substr(4), ids[start].substr(4));
}

}  // namespace
}  // namespace kim
