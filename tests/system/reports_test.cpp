// The indicator report and the funding records over the real binary: cases created through the
// API and then laid out in 2021 (their dates moved in the database, as the demo seed moves its
// own; the report's facts follow through migration 0014's triggers), the 2021 H2 report as CSV
// from the API and from `kim report indicators` against counts computed here, small cells
// suppressed, who may see which figures, parameter checks, and the funding routes' validation.
#include <sqlite3.h>

#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/sqlite.hpp"
#include "support/api.hpp"
#include "support/paths.hpp"
#include "support/shared_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kIndicators = "/api/v1/reports/indicators";
constexpr const char* kH2 = "?from=2021-07-01&to=2021-12-31";

class ReportsTest : public SharedHost<> {
 protected:
  std::int64_t count(const std::string& sql) {
    auto db = store::Connection::open(host_->database(), SQLITE_OPEN_READONLY);
    return db.query(sql)[0]["n"].get<std::int64_t>();
  }
  HttpResult get(const std::string& target, const std::string& user) {
    return host_->client().get(target, host_->token(user));
  }
  HttpResult post(const std::string& target, const json& body, const std::string& user) {
    return host_->client().post(target, body, host_->token(user));
  }
};

// One case as this test lays it out.
struct Planned {
  std::string user, town, organisation, opened, closed;  // closed empty: open
  std::string id;
};

// What the report must say for a group, computed from the plan alone.
struct Expected {
  int opened = 0, active = 0, closed = 0;
};

std::string shown(int n) {
  return n > 0 && n < 5 ? "<5" : std::to_string(n);
}

TEST_F(ReportsTest, IndicatorsFor2021SecondHalfAsCsvMatchTheStoredCases) {
  std::vector<Planned> plan;
  auto add = [&](const char* user, const char* town, const char* organisation, const char* opened,
                 const char* closed) {
    Planned c;
    c.user = user;
    c.town = town;
    c.organisation = organisation;
    c.opened = opened;
    c.closed = closed;
    plan.push_back(c);
  };
  for (int i = 0; i < 6; ++i)
    add("cm-greven", "Greven", "drk-greven", "2021-08-02", i < 3 ? "2021-11-30" : "");
  add("cm-greven", "Greven", "drk-greven", "2021-03-01", "");            // active throughout
  add("cm-greven", "Greven", "drk-greven", "2021-02-01", "2021-06-30");  // closed before
  add("cm-greven", "Greven", "drk-greven", "2022-01-01", "");            // opened after
  add("cm-rheine-1", "Rheine", "caritas-rheine", "2021-09-01", "");      // one alone
  for (auto& c : plan) {
    json person = host_->create_person(c.user, {{"town", c.town}});
    ASSERT_FALSE(person.is_null());
    json opened = host_->open_case(c.user, person["id"]);
    ASSERT_FALSE(opened.is_null());
    c.id = opened["id"];
    if (!c.closed.empty()) {
      auto closed = host_->client().post("/api/v1/cases/" + c.id + "/transitions",
                                         {{"to", "closed"}, {"reason", "goals_reached"}},
                                         host_->token(c.user));
      ASSERT_EQ(closed.status, 200) << closed.body;
    }
  }
  {
    // Lay the cases out in 2021, as the demo seed moves its stamps back.
    auto db = store::Connection::open(host_->database(), SQLITE_OPEN_READWRITE);
    sqlite3_busy_timeout(db.raw(), 10000);
    for (const auto& c : plan) {
      db.execute("UPDATE cases SET opened_on = ?, closed_on = ? WHERE id = ?",
                 {c.opened, c.closed.empty() ? store::SqlValue(nullptr) : store::SqlValue(c.closed),
                  c.id});
    }
  }
  std::map<std::pair<std::string, std::string>, Expected> expected;
  Expected county;
  for (const auto& c : plan) {
    if (c.opened > "2021-12-31" || (!c.closed.empty() && c.closed < "2021-07-01")) continue;
    for (Expected* e : {&expected[{c.town, c.organisation}], &expected[{c.town, "*"}], &county}) {
      ++e->active;
      e->opened += c.opened >= "2021-07-01";
      e->closed += !c.closed.empty() && c.closed <= "2021-12-31";
    }
  }
  expected[{"*", "*"}] = county;
  ASSERT_EQ(county.opened, 7);

  const auto audited_before = count("SELECT count(*) AS n FROM audit_log WHERE action = 'report'");
  auto response = get(std::string(kIndicators) + kH2 + "&format=csv", "admin");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_THAT(response.headers["content-type"], HasSubstr("text/csv"));
  const std::string& csv = response.body;
  EXPECT_EQ(csv.rfind("# kim-indicators format_version=1 from=2021-07-01 to=2021-12-31", 0), 0u)
      << csv;
  EXPECT_THAT(csv, HasSubstr("\r\ntown,organisation,indicator,category,value\r\n"));
  // Each group's counts: the county's from this report; Greven's 6 would give Rheine's "<5" away
  // from the county's 7 here (withheld, "x", also with town=Greven), so Greven's come from the
  // county office's report, whose table holds drk-greven only.
  auto expect_counts = [&](const std::string& body,
                           const std::pair<std::string, std::string>& group, const Expected& e) {
    SCOPED_TRACE(group.first + " " + group.second);
    const std::string prefix = "\r\n" + group.first + "," + group.second + ",";
    EXPECT_THAT(body, HasSubstr(prefix + "cases_opened,," + shown(e.opened) + "\r\n")) << body;
    EXPECT_THAT(body, HasSubstr(prefix + "cases_active,," + shown(e.active) + "\r\n")) << body;
    EXPECT_THAT(body, HasSubstr(prefix + "cases_closed,," + shown(e.closed) + "\r\n")) << body;
  };
  expect_counts(csv, {"*", "*"}, county);
  EXPECT_THAT(csv, HasSubstr("\r\nGreven,*,cases_opened,,x\r\n"));
  // Rheine's single case is never shown as 1.
  EXPECT_THAT(csv, HasSubstr("\r\nRheine,caritas-rheine,cases_opened,,<5\r\n"));
  EXPECT_THAT(csv, Not(HasSubstr("Rheine,caritas-rheine,cases_opened,,1")));
  EXPECT_THAT(csv, HasSubstr("\r\nGreven,drk-greven,closed_by_reason,goals_reached,<5\r\n"));
  for (const auto& c : plan)
    EXPECT_THAT(csv, Not(HasSubstr(c.id)));
  EXPECT_EQ(count("SELECT count(*) AS n FROM audit_log WHERE action = 'report' AND "
                  "object_type = 'indicators' AND user_name = 'admin'"),
            audited_before + 1);
  for (const auto& [group, e] : expected) {
    if (group.first == "*") continue;
    auto own = get(std::string(kIndicators) + kH2 + "&format=csv&town=" + group.first,
                   group.first == "Greven" ? "co-kreis" : "admin");
    ASSERT_EQ(own.status, 200) << own.body;
    expect_counts(own.body, group, e);
  }

  // JSON: the same figures, with the format's version.
  auto as_json = get(std::string(kIndicators) + kH2, "auditor");
  ASSERT_EQ(as_json.status, 200) << as_json.body;
  EXPECT_EQ(as_json.json()["format_version"], 1);
  EXPECT_EQ(as_json.json()["suppression"]["shown_as"], "<5");
  EXPECT_EQ(as_json.json()["suppression"]["withheld_as"], "x");

  // The command line: the same CSV, no progress line when stderr is no terminal, audited (cli).
  auto cli =
      run_command(KIM_BINARY, {"report", "indicators", "--config", host_->config_path(), "--from",
                               "2021-07-01", "--to", "2021-12-31", "--format", "csv"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(cli.out, csv);
  EXPECT_EQ(cli.err, "");
  EXPECT_EQ(count("SELECT count(*) AS n FROM audit_log WHERE action = 'report' AND "
                  "user_name = 'cli'"),
            1);
  auto town =
      run_command(KIM_BINARY, {"report", "indicators", "--config", host_->config_path(), "--from",
                               "2021-07-01", "--to", "2021-12-31", "--town", "Berlin"});
  EXPECT_EQ(town.exit_code, 2);
  EXPECT_THAT(town.err, HasSubstr("Berlin"));

  // A coordinator sees the organisations its office supervises: the county's office drk-greven,
  // not Rheine's caritas-rheine.
  auto kreis = get(std::string(kIndicators) + kH2 + "&format=csv", "co-kreis");
  ASSERT_EQ(kreis.status, 200) << kreis.body;
  EXPECT_THAT(kreis.body, HasSubstr("\r\nGreven,drk-greven,cases_opened,,6\r\n"));
  EXPECT_THAT(kreis.body, Not(HasSubstr("caritas-rheine")));
  auto town_only = get(std::string(kIndicators) + kH2 + "&town=Greven&format=csv", "admin");
  ASSERT_EQ(town_only.status, 200);
  EXPECT_THAT(town_only.body, Not(HasSubstr("Rheine")));
  // Only Greven's rows, as the whole report shows them (its 6 withheld there too).
  EXPECT_THAT(town_only.body, Not(HasSubstr("\r\n*,")));
  EXPECT_THAT(town_only.body, HasSubstr("\r\nGreven,*,cases_opened,,x\r\n"));
}

TEST_F(ReportsTest, TheCommandLineShowsProgressOnATerminalOnly) {
  const std::vector<std::string> args = {"report",   "indicators", "--config", host_->config_path(),
                                         "--from",   "2021-01-01", "--to",     "2021-12-31",
                                         "--format", "csv"};
  auto piped = run_command(KIM_BINARY, args);
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err, "");
  // script(1) (util-linux) runs it with a pseudo-terminal as stdout and stderr.
  std::string command = KIM_BINARY;
  for (const auto& arg : args)
    command += " '" + arg + "'";
  auto terminal = run_command("/usr/bin/script", {"-qec", command, "/dev/null"});
  ASSERT_EQ(terminal.exit_code, 0) << terminal.out << terminal.err;
  EXPECT_THAT(terminal.out, HasSubstr("kim report: reading cases"));
  EXPECT_THAT(terminal.out, HasSubstr("town,organisation,indicator,category,value"));
}

TEST_F(ReportsTest, IndicatorsAreRefusedToWhoMayNotSeeThem) {
  const auto audited = count("SELECT count(*) AS n FROM audit_log WHERE action = 'report'");
  for (const char* user : {"cm-greven", "officer"}) {
    auto refused = get(std::string(kIndicators) + kH2, user);
    EXPECT_EQ(refused.status, 403) << user << ": " << refused.body;
  }
  // An organisation another office supervises, and one that does not exist.
  auto other = get(std::string(kIndicators) + kH2 + "&organisation=caritas-rheine", "co-kreis");
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_EQ(get(std::string(kIndicators) + kH2 + "&organisation=drk-greven", "co-rheine").status,
            403);
  auto unknown = get(std::string(kIndicators) + kH2 + "&organisation=nobody", "admin");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(code_of(unknown), "unknown_organisation");
  EXPECT_EQ(get(std::string(kIndicators) + kH2 + "&organisation=drk-greven", "co-kreis").status,
            200);
  EXPECT_EQ(count("SELECT count(*) AS n FROM audit_log WHERE action = 'report'"), audited + 1)
      << "only the allowed report is on record";
}

TEST_F(ReportsTest, IndicatorParametersAreChecked) {
  const auto audited = count("SELECT count(*) AS n FROM audit_log WHERE action = 'report'");
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"?to=2021-12-31", "from", "invalid_field"},
      {"?from=2021-07-01", "to", "invalid_field"},
      {"?from=2021-13-01&to=2021-12-31", "from", "invalid_field"},
      {"?from=2021-12-31&to=2021-07-01", "to", "invalid_field"},
      {"?from=2010-01-01&to=2021-12-31", "to", "invalid_field"},
      {"?from=2021-07-01&to=2021-12-31&town=Berlin", "town", "unknown_town"},
      {"?from=2021-07-01&to=2021-12-31&format=xml", "format", "invalid_field"},
      {"?from=2021-07-01&to=2021-12-31&person=x", "person", "unknown_parameter"},
  };
  for (const auto& [query, field, code] : cases) {
    SCOPED_TRACE(query);
    auto response = get(std::string(kIndicators) + query, "admin");
    EXPECT_EQ(response.status, 400) << response.body;
    EXPECT_EQ(field_of(response), field);
    EXPECT_EQ(code_of(response), code);
  }
  EXPECT_EQ(count("SELECT count(*) AS n FROM audit_log WHERE action = 'report'"), audited);
}

json decision() {
  return {{"building_block", 2},       {"purpose", "Case management"},
          {"amount_cents", 22000000},  {"period_from", "2021-01-01"},
          {"period_to", "2021-12-31"}, {"decided_on", "2020-06-09"}};
}
json post_body() {
  return {{"building_block", 3},
          {"organisation", "ki-kreis-steinfurt"},
          {"function", "authority_casework"},
          {"fte_planned", 2.25},
          {"fte_filled", 2.0},
          {"period_from", "2021-01-01"},
          {"period_to", "2021-12-31"}};
}

TEST_F(ReportsTest, FundingInputIsCheckedAndNothingIsWrittenWhenRefused) {
  const std::string rows =
      "SELECT (SELECT count(*) FROM funding_decisions) + (SELECT count(*) FROM funding_posts) + "
      "(SELECT count(*) FROM funding_forwardings) AS n";
  const auto before = count(rows);
  const std::vector<std::tuple<std::string, json, std::string, std::string>> bad = {
      {"/decisions", with(decision(), {{"amount_cents", -1}}), "amount_cents", "invalid_field"},
      {"/decisions", with(decision(), {{"period_to", "2020-12-31"}}), "period_to", "invalid_field"},
      {"/decisions", with(decision(), {{"building_block", 4}}), "building_block", "invalid_field"},
      {"/posts", with(post_body(), {{"organisation", "nobody"}}), "organisation",
       "unknown_organisation"},
      {"/posts", with(post_body(), {{"fte_planned", 0}}), "fte_planned", "invalid_field"},
      {"/posts", with(post_body(), {{"fte_planned", 100.5}}), "fte_planned", "invalid_field"},
      {"/posts", with(post_body(), {{"fte_filled", -0.5}}), "fte_filled", "invalid_field"},
      {"/posts", with(post_body(), {{"fte_planned", 1.234}}), "fte_planned", "invalid_field"},
      {"/posts", with(post_body(), {{"period_from", "2022-01-01"}}), "period_to", "invalid_field"},
      {"/forwardings",
       {{"decision", "fdec_nothing"},
        {"organisation", "drk-greven"},
        {"amount_cents", 100},
        {"period_from", "2021-01-01"},
        {"period_to", "2021-12-31"},
        {"signed_on", "2020-11-16"}},
       "decision",
       "unknown_decision"},
      {"/forwardings",
       {{"decision", "fdec_nothing"},
        {"organisation", "drk-greven"},
        {"amount_cents", 0},
        {"period_from", "2021-01-01"},
        {"period_to", "2021-12-31"},
        {"signed_on", "2020-11-16"}},
       "amount_cents",
       "invalid_field"},
  };
  for (const auto& [path, body, field, code] : bad) {
    SCOPED_TRACE(path + " " + body.dump());
    auto response = post("/api/v1/funding" + path, body, "co-kreis");
    EXPECT_EQ(response.status, 400) << response.body;
    EXPECT_EQ(field_of(response), field);
    EXPECT_EQ(code_of(response), code);
  }
  // Only admins and the county's office write; others may not even when the input is right.
  for (const char* user : {"co-rheine", "auditor", "cm-greven"}) {
    auto refused = post("/api/v1/funding/decisions", decision(), user);
    EXPECT_EQ(refused.status, 403) << user << ": " << refused.body;
  }
  EXPECT_EQ(count(rows), before);

  auto made = post("/api/v1/funding/decisions", decision(), "co-kreis");
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string id = made.json()["id"];
  EXPECT_EQ(count("SELECT count(*) AS n FROM audit_log WHERE action = 'create' AND object_type = "
                  "'funding_decision' AND object_id = '" +
                  id + "'"),
            1);
  auto over = post("/api/v1/funding/forwardings",
                   {{"decision", id},
                    {"organisation", "drk-greven"},
                    {"amount_cents", 22000001},
                    {"period_from", "2021-01-01"},
                    {"period_to", "2021-12-31"},
                    {"signed_on", "2020-11-16"}},
                   "admin");
  EXPECT_EQ(over.status, 422) << over.body;
  EXPECT_EQ(code_of(over), "exceeds_grant");
  EXPECT_EQ(count(rows), before + 1);
  // A contract passes funds on only within the decision's period (2021).
  const json forwarding = {{"decision", id},
                           {"organisation", "drk-greven"},
                           {"amount_cents", 100},
                           {"period_from", "2021-01-01"},
                           {"period_to", "2021-12-31"},
                           {"signed_on", "2020-11-16"}};
  for (const auto& [changes, field] : std::vector<std::pair<json, std::string>>{
           {{{"period_from", "2020-12-31"}}, "period_from"},
           {{{"period_to", "2022-01-01"}}, "period_to"},
           {{{"period_from", "2020-07-01"}, {"period_to", "2020-12-31"}}, "period_from"},
           {{{"period_from", "2022-01-01"}, {"period_to", "2022-12-31"}}, "period_to"},
           {{{"amount_cents", 0}}, "amount_cents"}}) {
    auto refused = post("/api/v1/funding/forwardings", with(forwarding, changes), "co-kreis");
    EXPECT_EQ(refused.status, 400) << changes.dump() << " " << refused.body;
    EXPECT_EQ(code_of(refused), "invalid_field") << changes.dump();
    EXPECT_EQ(field_of(refused), field) << changes.dump();
  }
  EXPECT_EQ(count(rows), before + 1);
  EXPECT_EQ(post("/api/v1/funding/forwardings", forwarding, "co-kreis").status, 201);
  EXPECT_EQ(count(rows), before + 2);
  auto listed = get("/api/v1/funding/decisions", "auditor");
  ASSERT_EQ(listed.status, 200);
  EXPECT_THAT(listed.body, HasSubstr(id));
  auto report = get("/api/v1/reports/funding?year=2021", "co-rheine");
  ASSERT_EQ(report.status, 200) << report.body;
  EXPECT_GE(report.json()["building_blocks"][1]["granted_cents"], 22000000);
  EXPECT_EQ(get("/api/v1/reports/funding?year=21x", "admin").status, 400);
  EXPECT_EQ(get("/api/v1/reports/funding", "admin").status, 400);
  EXPECT_EQ(get("/api/v1/reports/funding?year=2021", "cm-greven").status, 403);
}

}  // namespace
}  // namespace kim::test
