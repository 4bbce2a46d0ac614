// `kim demo seed`: fills an empty database with consistent fictional data whose printed tokens
// work against `kim serve`, and never touches a database that holds data.
#include <signal.h>

#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sqlite3.h>

#include "cases/service.hpp"
#include "domain/catalog.hpp"
#include "store/sqlite.hpp"
#include "support/http_client.hpp"
#include "support/kim_process.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

// A deployment config in `dir` with data in dir/data.
std::string write_config(const TempDir& dir, std::uint16_t port,
                         const json& organisations = json::array(),
                         const json& partners = json::array()) {
  json config = {{"data_dir", "data"},
                 {"server", {{"listen", "127.0.0.1:" + std::to_string(port)}}},
                 {"plugins", {{"directories", {KIM_PLUGIN_DIR}}}}};
  if (!organisations.empty()) config["organisations"] = organisations;
  if (!partners.empty()) config["partners"] = partners;
  auto path = (dir.path() / "kim.json").string();
  std::ofstream(path) << config.dump(2);
  return path;
}

// The partner network the shipped deployment config seeds, or its organisations.
json shipped(const char* key) {
  return json::parse(read_file(std::string(KIM_SOURCE_DIR) + "/config/kreis-steinfurt.json"))
      .at(key);
}

std::filesystem::path database(const TempDir& dir) {
  return dir.path() / "data" / "kim.sqlite3";
}

store::Connection open_read_only(const std::filesystem::path& path) {
  return store::Connection::open(path, SQLITE_OPEN_READONLY);
}

std::int64_t scalar(store::Connection& db, const std::string& sql) {
  return db.query(sql)[0]["n"].get<std::int64_t>();
}

// Row counts of every table the demo writes to.
std::map<std::string, std::int64_t> row_counts(const std::filesystem::path& path) {
  auto db = open_read_only(path);
  std::map<std::string, std::int64_t> counts;
  for (const char* table :
       {"organisations", "users", "api_tokens", "persons", "programme_participations", "cases",
        "case_transitions", "assessments", "assessment_domains", "goals", "tasks", "notes",
        "agreements", "consents", "referrals", "referral_history"}) {
    counts[table] = scalar(db, std::string("SELECT count(*) AS n FROM ") + table);
  }
  return counts;
}

struct PrintedUser {
  std::string role;
  std::string organisation;
  std::string token;
};

// The user table `kim demo seed` prints: name -> role, organisation, token.
std::map<std::string, PrintedUser> printed_users(const std::string& out) {
  static const std::regex kLine(R"(^\s+(\S+)\s+(\S+)\s+(\S+)\s+(kim_[0-9a-f]{64})\s*$)");
  std::map<std::string, PrintedUser> users;
  std::istringstream lines(out);
  std::string line;
  std::smatch match;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, match, kLine)) {
      users[match[1]] = {match[2], match[3] == "-" ? "" : std::string(match[3]), match[4]};
    }
  }
  return users;
}

// Cases whose version does not count every change the services would have made: each
// transition, assessment, goal (and its status change), task (and its completion) and note —
// referral steps included, since each one writes a timeline note of kind "referral".
constexpr const char* kVersionMismatches = R"(SELECT count(*) AS n FROM cases c WHERE version <> 1
    + (SELECT count(*) FROM case_transitions WHERE case_id = c.id)
    + (SELECT count(*) FROM assessments WHERE case_id = c.id)
    + (SELECT count(*) FROM goals WHERE case_id = c.id)
    + (SELECT count(*) FROM goals WHERE case_id = c.id AND status <> 'open')
    + (SELECT count(*) FROM tasks WHERE case_id = c.id)
    + (SELECT count(*) FROM tasks WHERE case_id = c.id AND done_on IS NOT NULL)
    + (SELECT count(*) FROM notes WHERE case_id = c.id))";

CommandResult seed(const std::string& config, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"demo", "seed", "--config", config};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_command(KIM_BINARY, args);
}

TEST(DemoTest, HelpNamesTheCommand) {
  auto help = run_command(KIM_BINARY, {"--help"});
  EXPECT_THAT(help.out, HasSubstr("demo seed"));
  auto own = run_command(KIM_BINARY, {"demo", "seed", "--help"});
  EXPECT_EQ(own.exit_code, 0);
  EXPECT_THAT(own.out, HasSubstr("--config"));
  EXPECT_THAT(own.out, HasSubstr("--seed"));
  EXPECT_THAT(own.out, HasSubstr("Refuses"));
}

TEST(DemoTest, SeedsAnEmptyDatabaseWithConsistentDataAndWorkingTokens) {
  TempDir dir;
  const auto port = free_port();
  // One organisation of the demo is already configured: it is reused, not duplicated.
  auto config = write_config(dir, port,
                             {{{"slug", "ki-kreis-steinfurt"},
                               {"name", "KI Kreis Steinfurt"},
                               {"kind", "coordinating_office"},
                               {"town", "Steinfurt"}}});
  auto result = seed(config);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("Demo data written"));
  EXPECT_THAT(result.out, HasSubstr("curl -H \"Authorization: Bearer kim_"));
  EXPECT_THAT(result.out, HasSubstr("no agreements, consents or referrals"));

  {
    auto db = open_read_only(database(dir));
    EXPECT_GE(scalar(db, "SELECT count(*) AS n FROM persons"), 200);
    EXPECT_EQ(scalar(db, "SELECT count(*) AS n FROM persons WHERE demo <> 1"), 0);
    EXPECT_EQ(scalar(db, "SELECT count(DISTINCT town) AS n FROM persons"), 24);
    EXPECT_EQ(scalar(db, "SELECT count(DISTINCT town) AS n FROM cases"), 24);
    for (const auto& phase : domain::phases()) {
      EXPECT_GT(scalar(db, "SELECT count(*) AS n FROM cases WHERE phase = '" + phase + "'"), 0)
          << phase;
    }
    EXPECT_GT(scalar(db, "SELECT count(DISTINCT closure_reason) AS n FROM cases"), 2);
    EXPECT_GT(scalar(db, "SELECT count(*) AS n FROM assessment_domains"), 0);
    EXPECT_GT(scalar(db, "SELECT count(*) AS n FROM goals"), 0);
    EXPECT_GT(scalar(db, "SELECT count(*) AS n FROM notes"), 0);
    EXPECT_GT(scalar(db, "SELECT count(*) AS n FROM tasks WHERE done_on IS NOT NULL"), 0);
    EXPECT_GT(scalar(db,
                     "SELECT count(*) AS n FROM tasks WHERE done_on IS NULL AND due_date < "
                     "date('now')"),
              0);
    EXPECT_GT(scalar(db, "SELECT count(*) AS n FROM persons WHERE household <> '[]'"), 0);
    EXPECT_GT(scalar(db,
                     "SELECT count(*) AS n FROM programme_participations WHERE programme = "
                     "'gemeinsam_klappts'"),
              0);
    EXPECT_EQ(scalar(db, "SELECT count(*) AS n FROM demo_marker WHERE completed_at IS NOT NULL"),
              1);
    // The config seeds no partners: no agreements, consents or referrals, the rest as ever.
    EXPECT_EQ(scalar(db, "SELECT count(*) AS n FROM partners"), 0);
    EXPECT_EQ(scalar(db, "SELECT count(*) AS n FROM agreements"), 0);
    EXPECT_EQ(scalar(db, "SELECT count(*) AS n FROM consents"), 0);
    EXPECT_EQ(scalar(db, "SELECT count(*) AS n FROM referrals"), 0);
    EXPECT_EQ(scalar(db, "SELECT count(*) AS n FROM notes WHERE kind = 'referral'"), 0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM organisations WHERE slug = "
                     "'ki-kreis-steinfurt'"),
              1);
    // Rheine's organisation is supervised by Rheine's coordinating office, the others by the
    // county's; one works with team access.
    EXPECT_EQ(db.query("SELECT s.slug FROM organisations o JOIN organisations s ON s.id = "
                       "o.supervisor_id WHERE o.slug = 'caritas-rheine'")[0]["slug"],
              "stadt-rheine-ko");
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM organisations WHERE kind = "
                     "'welfare_organisation' AND team_access = 1"),
              1);

    // The data obeys the rules the case service enforces.
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM persons p JOIN programme_participations pp ON "
                     "pp.person_id = p.id AND pp.programme = 'gemeinsam_klappts' AND "
                     "pp.ended_on IS NULL JOIN cases c ON c.person_id = p.id AND c.phase <> "
                     "'closed'"),
              0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM (SELECT person_id FROM cases WHERE phase <> "
                     "'closed' GROUP BY person_id HAVING count(*) > 1)"),
              0);
    // The transitions form a chain from the opening phase to the current one.
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM (SELECT from_phase, lag(to_phase) OVER "
                     "(PARTITION BY case_id ORDER BY id) AS previous FROM case_transitions) "
                     "WHERE previous IS NOT NULL AND previous <> from_phase"),
              0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM cases c WHERE c.phase <> coalesce((SELECT "
                     "to_phase FROM case_transitions t WHERE t.case_id = c.id ORDER BY id "
                     "DESC LIMIT 1), c.phase)"),
              0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM cases c WHERE NOT EXISTS (SELECT 1 FROM "
                     "case_transitions t WHERE t.case_id = c.id) AND c.phase NOT IN "
                     "('access', 'intake')"),
              0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM case_transitions t WHERE t.from_phase NOT IN "
                     "('closed') AND t.to_phase <> 'closed' AND NOT (t.from_phase || '>' || "
                     "t.to_phase IN ('access>intake', 'intake>assessment', "
                     "'assessment>planning', 'planning>linking', 'planning>monitoring', "
                     "'linking>monitoring', 'monitoring>reassessment', 'monitoring>linking', "
                     "'reassessment>planning'))"),
              0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM case_transitions WHERE from_phase = 'closed' "
                     "AND to_phase <> 'assessment'"),
              0);
    // Planning only after an assessment of the current round; monitoring only with a goal.
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM case_transitions t WHERE t.to_phase = "
                     "'planning' AND NOT EXISTS (SELECT 1 FROM assessments a WHERE a.case_id "
                     "= t.case_id AND a.recorded_at <= t.at AND a.recorded_at >= (SELECT "
                     "max(at) FROM case_transitions r WHERE r.case_id = t.case_id AND r.id < "
                     "t.id AND r.to_phase IN ('assessment', 'reassessment')))"),
              0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM case_transitions t WHERE t.to_phase = "
                     "'monitoring' AND NOT EXISTS (SELECT 1 FROM goals g WHERE g.case_id = "
                     "t.case_id AND g.created_at <= t.at)"),
              0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM cases WHERE (phase = 'closed') <> "
                     "(closed_on IS NOT NULL AND closure_reason IS NOT NULL)"),
              0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM tasks t JOIN cases c ON c.id = t.case_id "
                     "WHERE c.phase = 'closed' AND t.done_on IS NULL"),
              0);
    // Every change of a case counted in its version, as the service counts them.
    EXPECT_EQ(scalar(db, kVersionMismatches), 0);
    // Nothing lies in the future.
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM case_transitions WHERE at > strftime('%Y-%m-"
                     "%dT%H:%M:%fZ', 'now')"),
              0);
    EXPECT_EQ(scalar(db, "SELECT count(*) AS n FROM notes WHERE occurred_on > date('now')"), 0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM persons WHERE date_of_birth > date('now') OR "
                     "arrival_date > date('now') OR arrival_date < date_of_birth"),
              0);
    for (const auto& person : db.query("SELECT given_names, family_name, name_key FROM persons")) {
      ASSERT_EQ(person["name_key"],
                cases::CaseService::name_key(person["given_names"], person["family_name"]));
    }
  }

  auto users = printed_users(result.out);
  ASSERT_GE(users.size(), 12u) << result.out;
  EXPECT_EQ(users.count("admin"), 1u);
  int coordinators = 0, auditors = 0;
  for (const auto& [name, user] : users) {
    coordinators += user.role == "coordinator";
    auditors += user.role == "auditor";
  }
  EXPECT_EQ(coordinators, 2);
  EXPECT_EQ(auditors, 1);

  // The printed tokens work against the served database, and the data passes the service's rules.
  KimProcess server(KIM_BINARY, {"serve", "--config", config}, dir.path() / "kim.log");
  ASSERT_TRUE(server.wait_ready(port)) << server.log();
  HttpClient client("127.0.0.1", port);
  std::string manager;
  std::string case_id;
  {
    auto db = open_read_only(database(dir));
    auto rows = db.query(
        "SELECT c.id, u.name FROM cases c JOIN users u ON u.id = c.case_manager_id WHERE c.phase "
        "= 'assessment' AND EXISTS (SELECT 1 FROM assessments a WHERE a.case_id = c.id AND "
        "a.recorded_at >= (SELECT max(at) FROM case_transitions t WHERE t.case_id = c.id AND "
        "t.to_phase = 'assessment')) ORDER BY c.rowid LIMIT 1");
    ASSERT_EQ(rows.size(), 1u);
    case_id = rows[0]["id"];
    manager = rows[0]["name"];
  }
  ASSERT_EQ(users.count(manager), 1u);
  const auto& token = users[manager].token;
  auto listed = client.get("/api/v1/cases?limit=100", token);
  ASSERT_EQ(listed.status, 200) << listed.body;
  const auto items = listed.json()["items"];
  ASSERT_FALSE(items.empty());
  for (const auto& item : items) {
    EXPECT_EQ(item["organisation"], users[manager].organisation);
  }
  auto planned =
      client.post("/api/v1/cases/" + case_id + "/transitions", {{"to", "planning"}}, token);
  EXPECT_EQ(planned.status, 200) << planned.body;
  auto goal = client.post("/api/v1/cases/" + case_id + "/goals",
                          {{"life_domain", "housing"},
                           {"description", "Eigene Wohnung finden"},
                           {"due_date", "2099-12-31"}},
                          token);
  EXPECT_EQ(goal.status, 201) << goal.body;
  EXPECT_EQ(client.get("/api/v1/tasks/overdue", token).status, 200);
  auto coordinated = client.get("/api/v1/cases", users["s.lammers"].token);
  EXPECT_EQ(coordinated.status, 200);
  EXPECT_FALSE(coordinated.json()["items"].empty());
  auto admin = client.get("/api/v1/users", users["admin"].token);
  EXPECT_EQ(admin.status, 200);
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0);
}

// What each data category releases of a person (README, "Referrals"): fields of the person and
// life domains of the latest assessment. Nothing else may appear in a payload.
struct Release {
  std::vector<std::string> fields;
  std::vector<std::string> life_domains;
};
const std::map<std::string, Release>& releases() {
  static const std::map<std::string, Release> values = {
      {"identity",
       {{"given_names", "family_name", "date_of_birth", "gender", "nationalities"}, {}}},
      {"contact", {{"town", "contact"}, {}}},
      {"residence_status", {{"residence_status", "arrival_date"}, {}}},
      {"education_work", {{}, {"school_education", "vocational_training_work", "recognition"}}},
      {"language_level", {{"languages"}, {"language"}}},
      {"health", {{}, {"health"}}},
      {"family", {{"household"}, {"family_childcare"}}},
  };
  return values;
}

bool lists(const json& array, const std::string& value) {
  return std::find(array.begin(), array.end(), value) != array.end();
}

TEST(DemoTest, ShowsThePartnerNetworkInUseWhenTheConfigHasPartners) {
  TempDir dir, same_dir;
  const auto port = free_port();
  // As on the shipped config: its coordinating offices are reused, the demo adds the rest.
  // The shipped jobcenter binding names an instance of the shipped config, not of this one.
  json partners = shipped("partners");
  for (auto& partner : partners)
    partner.erase("connector");
  const json organisations = shipped("organisations");
  auto config = write_config(dir, port, organisations, partners);
  auto result = seed(config, {"--seed", "5"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("agreements:"));
  EXPECT_THAT(result.out, HasSubstr("reports/referral-gaps"));
  EXPECT_THAT(result.out, HasSubstr("organisations: 6 created, 2 already known"));

  json referrals;
  {
    auto db = open_read_only(database(dir));
    // Four signed agreements in force, one expired, one draft; all with the county's office.
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM agreements WHERE status = 'signed' AND valid_from "
                     "<= date('now') AND (valid_to IS NULL OR valid_to >= date('now'))"),
              4);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM agreements WHERE status = 'signed' AND valid_to < "
                     "date('now')"),
              1);
    EXPECT_EQ(scalar(db, "SELECT count(*) AS n FROM agreements WHERE status = 'draft'"), 1);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM agreements a WHERE NOT EXISTS (SELECT 1 FROM "
                     "agreement_parties p WHERE p.agreement_id = a.id AND p.partner = "
                     "'ki-kreis-steinfurt')"),
              0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM agreement_parties ap WHERE NOT EXISTS (SELECT 1 "
                     "FROM partners p WHERE p.slug = ap.partner)"),
              0);
    // Health data is never part of the demo's hand-overs.
    EXPECT_EQ(scalar(db, "SELECT count(*) AS n FROM agreements WHERE data_terms LIKE '%health%'"),
              0);
    EXPECT_EQ(scalar(db, "SELECT count(*) AS n FROM consents WHERE categories LIKE '%health%'"), 0);
    EXPECT_GT(scalar(db, "SELECT count(*) AS n FROM consents"), 0);
    EXPECT_GT(scalar(db, "SELECT count(*) AS n FROM referrals"), 0);
    EXPECT_GT(scalar(db, "SELECT count(*) AS n FROM notes WHERE kind = 'referral'"), 0);
    for (const char* status : {"sent", "accepted", "in_progress", "completed", "declined"}) {
      EXPECT_GT(scalar(db, std::string("SELECT count(*) AS n FROM referrals WHERE status = '") +
                               status + "'"),
                0)
          << status;
    }
    EXPECT_GT(scalar(db,
                     "SELECT count(*) AS n FROM referrals WHERE status = 'cancelled' AND "
                     "stopped_reason IS NULL"),
              0);
    // Only cases that reached linking or monitoring, and nothing pending on a closed case.
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM referrals r JOIN cases c ON c.id = r.case_id "
                     "WHERE c.phase NOT IN ('linking', 'monitoring', 'reassessment', 'closed')"),
              0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM referrals r JOIN cases c ON c.id = r.case_id "
                     "WHERE c.phase = 'closed' AND (r.status IN ('sent', 'accepted', "
                     "'in_progress') OR r.status_changed_at >= c.closed_on)"),
              0);
    // One consent revoked; the referral relying on it was stopped.
    auto revoked = db.query(
        "SELECT r.status, r.stopped_reason, r.closed_at, k.revoked_at FROM consents k JOIN "
        "referral_consents rc ON rc.consent_id = k.id JOIN referrals r ON r.id = rc.referral_id "
        "WHERE k.revoked_at IS NOT NULL");
    ASSERT_EQ(revoked.size(), 1u);
    EXPECT_EQ(revoked[0]["status"], "cancelled");
    EXPECT_EQ(revoked[0]["stopped_reason"], "consent_revoked");
    EXPECT_EQ(revoked[0]["closed_at"], revoked[0]["revoked_at"]);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM referrals WHERE stopped_reason = "
                     "'consent_revoked'"),
              1);
    // History and timeline: one history row and one referral note per step, a chain from
    // "sent" to the current status.
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM referrals r WHERE (SELECT to_status FROM "
                     "referral_history h WHERE h.referral_id = r.id ORDER BY id LIMIT 1) <> "
                     "'sent' OR (SELECT to_status FROM referral_history h WHERE h.referral_id = "
                     "r.id ORDER BY id DESC LIMIT 1) <> r.status"),
              0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM (SELECT from_status, lag(to_status) OVER "
                     "(PARTITION BY referral_id ORDER BY id) AS previous FROM referral_history) "
                     "WHERE previous IS NOT NULL AND previous <> from_status"),
              0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM cases c WHERE (SELECT count(*) FROM notes WHERE "
                     "case_id = c.id AND kind = 'referral') <> (SELECT count(*) FROM "
                     "referral_history h JOIN referrals r ON r.id = h.referral_id WHERE "
                     "r.case_id = c.id)"),
              0);
    EXPECT_EQ(scalar(db, kVersionMismatches), 0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) AS n FROM referrals WHERE status_changed_at > "
                     "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"),
              0);

    referrals = db.query(
        "SELECT r.id, r.partner, r.categories, r.payload, r.sent_at, a.status AS agreement_status, "
        "a.valid_from, a.data_terms, k.categories AS consent_categories, k.recipients, k.purposes, "
        "k.given_on FROM referrals r JOIN agreements a ON a.id = r.agreement_id JOIN "
        "referral_consents rc ON rc.referral_id = r.id JOIN consents k ON k.id = rc.consent_id");
    ASSERT_EQ(referrals.size(),
              static_cast<std::size_t>(scalar(db, "SELECT count(*) AS n FROM referrals")));
  }

  // Every hand-over rests on a signed agreement and a consent covering partner, purpose and
  // categories, and the payload carries only what those categories release.
  for (const auto& r : referrals) {
    SCOPED_TRACE(r["id"].get<std::string>());
    const auto categories = json::parse(r["categories"].get<std::string>());
    const auto payload = json::parse(r["payload"].get<std::string>());
    EXPECT_EQ(r["agreement_status"], "signed");
    EXPECT_LE(r["valid_from"].get<std::string>(), r["sent_at"].get<std::string>().substr(0, 10));
    EXPECT_LE(r["given_on"].get<std::string>(), r["sent_at"].get<std::string>().substr(0, 10));
    const auto consent_categories = json::parse(r["consent_categories"].get<std::string>());
    EXPECT_EQ(json::parse(r["recipients"].get<std::string>()), json::array({r["partner"]}));
    EXPECT_EQ(json::parse(r["purposes"].get<std::string>()), json::array({"referral"}));
    json permitted = json::array();
    for (const auto& term : json::parse(r["data_terms"].get<std::string>())) {
      if (term["partner"] == r["partner"] && lists(term["purposes"], "referral")) {
        permitted = term["categories"];
      }
    }
    std::set<std::string> fields, life_domains;
    for (const auto& category : categories) {
      EXPECT_TRUE(lists(consent_categories, category)) << category;
      EXPECT_TRUE(lists(permitted, category)) << category;
      const auto& release = releases().at(category);
      fields.insert(release.fields.begin(), release.fields.end());
      life_domains.insert(release.life_domains.begin(), release.life_domains.end());
    }
    EXPECT_EQ(payload["referral_id"], r["id"]);
    EXPECT_EQ(payload["categories"], categories);
    EXPECT_EQ(payload["purpose"], "referral");
    for (const auto& [key, value] : payload["person"].items()) {
      if (key == "assessment") {
        for (const auto& [life_domain, need] : value.items()) {
          EXPECT_TRUE(life_domains.count(life_domain)) << "assessment." << life_domain;
        }
      } else {
        EXPECT_TRUE(fields.count(key)) << key;
      }
    }
    if (!lists(categories, "family")) {
      EXPECT_FALSE(payload["person"].contains("household"));
    }
    if (!lists(categories, "residence_status")) {
      EXPECT_FALSE(payload["person"].contains("residence_status"));
    }
  }

  // The same seed gives the same network (the ids are the services' own, random ones).
  ASSERT_EQ(
      seed(write_config(same_dir, free_port(), organisations, partners), {"--seed", "5"}).exit_code,
      0);
  auto network = [](const TempDir& in) {
    auto db = open_read_only(database(in));
    return std::vector<json>{
        db.query("SELECT title, status, valid_from, valid_to, parties, data_terms, created_at FROM "
                 "agreements ORDER BY rowid"),
        db.query("SELECT recipients, purposes, categories, form, given_on, valid_until, "
                 "document_reference, created_at, revoked_at, revoke_reason FROM consents ORDER "
                 "BY rowid"),
        db.query("SELECT partner, service, categories, message, status, outcome, stopped_reason, "
                 "town, created_at, sent_at, status_changed_at, closed_at FROM referrals ORDER BY "
                 "rowid"),
        db.query("SELECT from_status, to_status, outcome, occurred_on, at FROM referral_history "
                 "ORDER BY rowid")};
  };
  EXPECT_EQ(network(dir), network(same_dir));

  // Served: the report shows long waits and refusals, the API shows what the demo wrote, and a
  // referral the service builds now for the same hand-over carries the same person data.
  auto users = printed_users(result.out);
  ASSERT_EQ(users.count("s.lammers"), 1u) << result.out;
  KimProcess server(KIM_BINARY, {"serve", "--config", config}, dir.path() / "kim.log");
  ASSERT_TRUE(server.wait_ready(port)) << server.log();
  HttpClient client("127.0.0.1", port);
  auto gaps = client.get("/api/v1/reports/referral-gaps", users["s.lammers"].token);
  ASSERT_EQ(gaps.status, 200) << gaps.body;
  int waiting = 0, declined = 0;
  const json report = gaps.json();
  for (const auto& item : report["items"]) {
    // A count is a number, or "<5" for 1-4 (small-cell suppression).
    waiting += item["waiting_too_long"] != 0;
    declined += item["declined"] != 0;
  }
  EXPECT_GE(waiting, 1) << gaps.body;
  EXPECT_GE(declined, 1) << gaps.body;
  // The funding report reproduces the county's figures of the shipped demo data (funding.json).
  auto funding = client.get("/api/v1/reports/funding?year=2021", users["s.lammers"].token);
  ASSERT_EQ(funding.status, 200) << funding.body;
  const json figures = funding.json();
  ASSERT_EQ(figures["building_blocks"].size(), 3u) << funding.body;
  const json& coordination = figures["building_blocks"][0];
  const json& case_management = figures["building_blocks"][1];
  const json& authorities = figures["building_blocks"][2];
  EXPECT_EQ(case_management["granted_cents"], 22000000) << "220,000 EUR: " << funding.body;
  EXPECT_EQ(case_management["fte_planned"], 9.0) << funding.body;
  EXPECT_EQ(authorities["fte_planned"], 3.0) << "2.25 county + 0.75 Rheine: " << funding.body;
  EXPECT_EQ(figures["decisions"][0]["decided_on"], "2020-06-09");
  EXPECT_EQ(figures["decisions"][0]["amount_cents"], 22000000);
  std::map<std::string, json> posts;
  for (const auto& post : figures["posts"]) {
    posts[std::to_string(post["building_block"].get<int>()) + " " +
          post["organisation"].get<std::string>() + " " + post["function"].get<std::string>()] =
        post;
  }
  EXPECT_EQ(posts["3 ki-kreis-steinfurt authority_casework"]["fte_planned"], 2.25);
  EXPECT_EQ(posts["3 stadt-rheine-ko authority_casework"]["fte_planned"], 0.75);
  EXPECT_EQ(posts["1 ki-kreis-steinfurt coordination"]["funding_per_fte_cents"], 5700000);
  EXPECT_EQ(posts["1 ki-kreis-steinfurt administration"]["fte_planned"], 0.5);
  EXPECT_EQ(posts["1 ki-kreis-steinfurt administration"]["funding_in_year_cents"], 2250000);
  EXPECT_EQ(coordination["post_funding_cents"], 2 * 5700000 + 2250000) << funding.body;
  EXPECT_LE(case_management["forwarded_cents"], case_management["granted_cents"]);

  for (const auto& [status, expected] : std::vector<std::pair<std::string, std::size_t>>{
           {"signed", 4}, {"expired", 1}, {"draft", 1}}) {
    auto listed = client.get("/api/v1/agreements?status=" + status, users["s.lammers"].token);
    ASSERT_EQ(listed.status, 200) << listed.body;
    EXPECT_EQ(listed.json()["items"].size(), expected) << status;
  }
  // steering.json: the monthly working group and the steering group, convened by the county's
  // office with Rheine's as a member (so its coordinator runs them too), and one chain.
  for (const char* coordinator : {"s.lammers", "j.overesch"}) {
    auto bodies = client.get("/api/v1/bodies", users[coordinator].token);
    ASSERT_EQ(bodies.status, 200) << bodies.body;
    std::set<std::string> kinds;
    const json listed = bodies.json();
    for (const auto& body : listed["items"]) {
      kinds.insert(body["kind"].get<std::string>());
      EXPECT_EQ(body["organisation"], "ki-kreis-steinfurt");
      EXPECT_EQ(body["members"].size(), 6u) << body.dump();
      EXPECT_EQ(body["may_write"], true) << coordinator;
    }
    EXPECT_EQ(kinds, (std::set<std::string>{"monthly_working_group", "steering_group"}));
  }
  auto chains = client.get("/api/v1/chains", users["s.lammers"].token);
  ASSERT_EQ(chains.status, 200) << chains.body;
  ASSERT_EQ(chains.json()["items"].size(), 1u);
  EXPECT_EQ(chains.json()["items"][0]["steps"].size(), 3u);

  json sample;
  {
    auto db = open_read_only(database(dir));
    auto rows = db.query(
        "SELECT r.id, r.case_id, r.partner, r.service, r.categories, r.payload, c.person_id, "
        "u.name AS manager FROM referrals r JOIN cases c ON c.id = r.case_id JOIN users u ON "
        "u.id = c.case_manager_id JOIN referral_consents rc ON rc.referral_id = r.id JOIN "
        "consents k ON k.id = rc.consent_id WHERE c.phase <> 'closed' AND k.revoked_at IS NULL "
        "AND (k.valid_until IS NULL OR k.valid_until >= date('now')) AND NOT EXISTS (SELECT 1 "
        "FROM assessments a WHERE a.case_id = r.case_id AND a.recorded_at > r.sent_at) ORDER BY "
        "r.id LIMIT 1");
    ASSERT_EQ(rows.size(), 1u);
    sample = rows[0];
  }
  const auto& token = users[sample["manager"].get<std::string>()].token;
  const std::string case_path = "/api/v1/cases/" + sample["case_id"].get<std::string>();
  auto shown = client.get(case_path + "/referrals/" + sample["id"].get<std::string>(), token);
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(shown.json()["payload"], json::parse(sample["payload"].get<std::string>()));
  EXPECT_FALSE(shown.json()["history"].empty());
  auto consents =
      client.get("/api/v1/persons/" + sample["person_id"].get<std::string>() + "/consents", token);
  ASSERT_EQ(consents.status, 200) << consents.body;
  EXPECT_FALSE(consents.json()["items"].empty());
  auto rebuilt = client.post(case_path + "/referrals",
                             {{"partner", sample["partner"]},
                              {"service", sample["service"]},
                              {"categories", json::parse(sample["categories"].get<std::string>())},
                              {"send", true}},
                             token);
  ASSERT_EQ(rebuilt.status, 201) << rebuilt.body;
  const auto demo_payload = json::parse(sample["payload"].get<std::string>());
  const auto service_payload = rebuilt.json()["payload"];
  EXPECT_EQ(service_payload["person"], demo_payload["person"]);
  for (const auto& [key, value] : service_payload.items()) {
    EXPECT_TRUE(demo_payload.contains(key)) << key;
  }
  EXPECT_EQ(service_payload.size(), demo_payload.size());
  EXPECT_EQ(service_payload["from"], demo_payload["from"]);
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0);
}

TEST(DemoTest, SecondSeedIsRefusedAndTheSameSeedGivesTheSameData) {
  TempDir first_dir, same_dir, other_dir;
  auto first = write_config(first_dir, free_port());
  ASSERT_EQ(seed(first, {"--seed", "7"}).exit_code, 0);
  auto before = row_counts(database(first_dir));

  auto again = seed(first, {"--seed", "7"});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.err, HasSubstr("already holds demo data"));
  EXPECT_THAT(again.out, Not(HasSubstr("kim_")));
  EXPECT_EQ(row_counts(database(first_dir)), before);

  ASSERT_EQ(seed(write_config(same_dir, free_port()), {"--seed", "7"}).exit_code, 0);
  ASSERT_EQ(seed(write_config(other_dir, free_port()), {"--seed", "8"}).exit_code, 0);
  // The same persons and courses; ids are the services' own (random, as for real data).
  auto persons = [](const TempDir& dir) {
    auto db = open_read_only(database(dir));
    return std::vector<json>{
        db.query("SELECT given_names, family_name, date_of_birth, gender, p.town, household, "
                 "p.created_at, c.phase, c.opened_on, c.version FROM persons p LEFT JOIN cases c "
                 "ON c.person_id = p.id ORDER BY p.rowid"),
        db.query("SELECT occurred_on, kind, text, created_at FROM notes ORDER BY rowid")};
  };
  EXPECT_EQ(persons(first_dir), persons(same_dir));
  EXPECT_NE(persons(first_dir), persons(other_dir));
}

// The shipped data files in a folder of their own, with one file's JSON changed by `change` (or
// the file removed, or replaced by `text`).
std::filesystem::path demo_data_with(const TempDir& dir, const std::string& file,
                                     const std::function<void(json&)>& change,
                                     const std::string& text = "") {
  const auto data = dir.path() / "demo";
  std::filesystem::create_directories(data);
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(KIM_SOURCE_DIR) / "config/demo")) {
    std::filesystem::copy_file(entry.path(), data / entry.path().filename());
  }
  if (!text.empty()) {
    std::ofstream(data / file) << text;
  } else if (!change) {
    std::filesystem::remove(data / file);
  } else {
    auto document = json::parse(read_file((data / file).string()));
    change(document);
    std::ofstream(data / file) << document.dump(2);
  }
  return data;
}

TEST(DemoTest, MalformedDataFilesAreRefusedNamingFileAndPathBeforeAnythingIsWritten) {
  struct Case {
    std::string file;
    std::function<void(json&)> change;
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"case_texts.json", [](json& d) { d["phase_notes"]["intake"][1]["kind"] = "telegram"; }, "",
       "case_texts.json: phase_notes.intake[1].kind: must be one of"},
      {"case_texts.json", [](json& d) { d["life_domains"].erase("housing"); }, "",
       "case_texts.json: life_domains.housing: is missing"},
      {"organisations.json", [](json& d) { d["organisations"][2].erase("name"); }, "",
       "organisations.json: organisations[2].name: is missing"},
      {"organisations.json", [](json& d) { d["organisations"][2]["supervisor"] = "drk-greven"; },
       "", "organisations.json: organisations[2].supervisor: must name an organisation listed"},
      {"population.json", [](json& d) { d["town_weights"]["Münster"] = 300; }, "",
       "population.json: town_weights.Münster: is not one of"},
      {"population.json", [](json& d) { d["origins"][0]["male"] = json::array(); }, "",
       "population.json: origins[0].male: must be a non-empty array of texts"},
      {"partner_network.json",
       [](json& d) { d["agreements"][0]["categories"].push_back("health"); }, "",
       "partner_network.json: agreements[0].categories: must not name health"},
      {"partner_network.json", nullptr, "{ \"hub\": ", "partner_network.json: not valid JSON"},
      {"partner_network.json", nullptr, "", "partner_network.json: cannot be read"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.expected);
    TempDir dir;
    const auto data = demo_data_with(dir, c.file, c.change, c.text);
    auto refused = seed(write_config(dir, free_port()), {"--demo-data", data.string()});
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_THAT(refused.err, HasSubstr(c.expected));
    EXPECT_FALSE(std::filesystem::exists(database(dir)));
  }

  TempDir dir;
  auto missing = seed(write_config(dir, free_port()), {"--demo-data", dir.path().string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("holds no demo data files"));
  EXPECT_FALSE(std::filesystem::exists(database(dir)));
}

// Without demo data, the shipped config gives a new host the county's two coordinating offices
// as organisations: an admin adds a case manager to Rheine's office, who takes on a case at once.
TEST(DemoTest, ShippedConfigCreatesTheCoordinatingOfficesWithoutDemoData) {
  TempDir dir;
  const auto port = free_port();
  auto config =
      json::parse(read_file(std::string(KIM_SOURCE_DIR) + "/config/kreis-steinfurt.json"));
  config["data_dir"] = "data";
  config["server"]["listen"] = "127.0.0.1:" + std::to_string(port);
  config["plugins"]["directories"] = {KIM_PLUGIN_DIR};
  const auto path = (dir.path() / "kim.json").string();
  std::ofstream(path) << config.dump(2);

  KimProcess server(KIM_BINARY, {"serve", "--config", path}, dir.path() / "kim.log");
  ASSERT_TRUE(server.wait_ready(port)) << server.log();
  HttpClient client("127.0.0.1", port);
  std::string admin = read_file((dir.path() / "data" / "bootstrap-admin.token").string());
  admin.erase(admin.find_last_not_of(" \n") + 1);
  auto organisations = client.get("/api/v1/organisations", admin);
  ASSERT_EQ(organisations.status, 200) << organisations.body;
  std::map<std::string, std::string> kinds;
  const json listed = organisations.json();
  for (const auto& org : listed["items"])
    kinds[org["slug"].get<std::string>()] = org["kind"].get<std::string>();
  EXPECT_EQ(kinds["ki-kreis-steinfurt"], "coordinating_office");
  EXPECT_EQ(kinds["stadt-rheine-ko"], "coordinating_office");

  auto user = client.post(
      "/api/v1/users",
      {{"name", "r.neumann"}, {"role", "case_manager"}, {"organisation", "stadt-rheine-ko"}},
      admin);
  ASSERT_EQ(user.status, 201) << user.body;
  const std::string token = user.json()["token"];
  auto person = client.post("/api/v1/persons",
                            {{"given_names", "Erika"},
                             {"family_name", "Beispiel"},
                             {"date_of_birth", "1990-01-01"},
                             {"town", "Rheine"},
                             {"residence_status", "residence_permit"}},
                            token);
  ASSERT_EQ(person.status, 201) << person.body;
  auto opened = client.post("/api/v1/cases", {{"person_id", person.json()["id"]}}, token);
  ASSERT_EQ(opened.status, 201) << opened.body;
  EXPECT_EQ(opened.json()["organisation"], "stadt-rheine-ko");
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0);
}

TEST(DemoTest, RefusesADatabaseWithRealData) {
  // A person recorded over the API of a served host, as a case manager would.
  TempDir dir;
  const auto port = free_port();
  auto config = write_config(dir, port,
                             {{{"slug", "caritas-rheine"},
                               {"name", "Caritas Rheine"},
                               {"kind", "welfare_organisation"},
                               {"town", "Rheine"}}});
  auto token = run_command(KIM_BINARY, {"token", "create", "--config", config, "--user", "c.meyer",
                                        "--role", "case_manager", "--org", "caritas-rheine"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  {
    KimProcess server(KIM_BINARY, {"serve", "--config", config}, dir.path() / "kim.log");
    ASSERT_TRUE(server.wait_ready(port)) << server.log();
    auto created = HttpClient("127.0.0.1", port)
                       .post("/api/v1/persons",
                             {{"given_names", "Erika"},
                              {"family_name", "Beispiel"},
                              {"date_of_birth", "1990-01-01"},
                              {"town", "Rheine"},
                              {"residence_status", "residence_permit"}},
                             token.out.substr(0, token.out.find('\n')));
    ASSERT_EQ(created.status, 201) << created.body;
    server.send_signal(SIGTERM);
    ASSERT_EQ(server.wait_exit(), 0);
  }
  auto before = row_counts(database(dir));

  auto refused = seed(config);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("holds real data"));
  EXPECT_THAT(refused.err, HasSubstr("the demo never mixes into it"));
  EXPECT_EQ(row_counts(database(dir)), before);
  auto db = open_read_only(database(dir));
  EXPECT_TRUE(db.query("SELECT 1 FROM sqlite_master WHERE name = 'demo_marker'").empty());
}

TEST(DemoTest, UsersBesidesAdminCountAsRealDataButAdminAloneDoesNot) {
  const json caritas = {{{"slug", "caritas-rheine"},
                         {"name", "Caritas Rheine"},
                         {"kind", "welfare_organisation"},
                         {"town", "Rheine"}}};
  TempDir with_user;
  auto config = write_config(with_user, free_port(), caritas);
  ASSERT_EQ(run_command(KIM_BINARY, {"token", "create", "--config", config, "--user", "c.meyer",
                                     "--role", "case_manager", "--org", "caritas-rheine"})
                .exit_code,
            0);
  auto before = row_counts(database(with_user));
  auto refused = seed(config);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("holds real data"));
  EXPECT_EQ(row_counts(database(with_user)), before);

  // An admin (as `kim serve` bootstraps it on an empty database) is no data: the seed goes ahead,
  // keeps that admin and prints no token for it.
  TempDir with_admin;
  config = write_config(with_admin, free_port(), caritas);
  auto admin = run_command(
      KIM_BINARY, {"token", "create", "--config", config, "--user", "admin", "--role", "admin"});
  ASSERT_EQ(admin.exit_code, 0) << admin.err;
  auto seeded = seed(config);
  ASSERT_EQ(seeded.exit_code, 0) << seeded.err;
  EXPECT_EQ(printed_users(seeded.out).count("admin"), 0u);
  auto db = open_read_only(database(with_admin));
  EXPECT_EQ(scalar(db, "SELECT count(*) AS n FROM users WHERE role = 'admin'"), 1);
  // The configured caritas-rheine (without supervisor) is used as it is.
  EXPECT_EQ(scalar(db,
                   "SELECT count(*) AS n FROM organisations WHERE slug = 'caritas-rheine' AND "
                   "supervisor_id IS NULL"),
            1);
  EXPECT_GT(scalar(db,
                   "SELECT count(*) AS n FROM cases c JOIN organisations o ON o.id = "
                   "c.organisation_id WHERE o.slug = 'caritas-rheine'"),
            0);
}

}  // namespace
}  // namespace kim::test
