// Object-level authorization of cases and persons over HTTP (OWASP API1), and plugin hooks that
// veto a case change. Expectations follow core/cases/policy.hpp: the case manager of a case (or a
// colleague when the organisation works with team access) reads and writes it, a coordinator of
// the organisation or of its supervising office reads it, and for everybody else the case does
// not exist (404, never 403).
#include <sqlite3.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/sqlite.hpp"
#include "support/kim_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;

const char* const kUnknownCase = "case_00000000000000000000000000000000";

enum class Access { kNone, kRead, kWrite };

const char* name_of(Access access) {
  switch (access) {
    case Access::kNone:
      return "none";
    case Access::kRead:
      return "read";
    case Access::kWrite:
      return "write";
  }
  return "?";
}

const std::map<std::string, std::string>& roles() {
  static const std::map<std::string, std::string> kRoles = {{"cm-rheine-1", "case_manager"},
                                                            {"cm-rheine-2", "case_manager"},
                                                            {"cm-greven", "case_manager"},
                                                            {"cm-emsdetten-1", "case_manager"},
                                                            {"cm-emsdetten-2", "case_manager"},
                                                            {"co-kreis", "coordinator"},
                                                            {"co-rheine", "coordinator"},
                                                            {"officer", "authority_officer"},
                                                            {"auditor", "auditor"},
                                                            {"admin", "admin"}};
  return kRoles;
}

// Reads the stored row of a case straight from the database file (read-only), so checking a
// version leaves no audit entry and does not depend on the API under test.
json stored_case(const KimHost& host, const std::string& case_id) {
  auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
  auto rows = db.query("SELECT phase, version FROM cases WHERE id = ?", {case_id});
  return rows.empty() ? json() : rows[0];
}

std::int64_t stored_version(const KimHost& host, const std::string& case_id) {
  auto row = stored_case(host, case_id);
  return row.is_null() ? -1 : row["version"].get<std::int64_t>();
}

// A phase the case may go to next without preconditions beyond those the setup fulfilled.
std::string next_phase(const std::string& phase) {
  if (phase == "planning") return "linking";
  if (phase == "linking") return "monitoring";
  if (phase == "monitoring") return "linking";
  return "unexpected-phase-" + phase;
}

struct PreparedCase {
  std::string id;
  std::string person_id;
  std::string goal_id;
  std::string task_id;  // overdue, assigned to the case manager
};

// A case of `owner` in phase planning with one assessment, one goal and one overdue task.
PreparedCase prepare_case(KimHost& host, const std::string& owner, const std::string& town) {
  auto client = host.client();
  const auto& token = host.token(owner);
  auto person = host.create_person(owner, {{"town", town}});
  auto opened = host.open_case(owner, person["id"]);
  PreparedCase prepared{opened["id"], person["id"], "", ""};
  const std::string base = "/api/v1/cases/" + prepared.id;
  auto must = [&](const std::string& path, const json& body) {
    auto response = client.post(base + path, body, token);
    EXPECT_LT(response.status, 300) << owner << " " << path << ": " << response.body;
    return response.status < 300 ? response.json() : json::object();
  };
  must("/transitions", {{"to", "assessment"}});
  must("/assessments", {{"domains", {{{"life_domain", "language"}, {"need_level", "high"}}}}});
  must("/transitions", {{"to", "planning"}});
  prepared.goal_id = must("/goals", {{"life_domain", "language"},
                                     {"description", "B1 certificate"},
                                     {"due_date", "2027-06-30"}})
                         .value("id", "");
  prepared.task_id =
      must("/tasks", {{"description", "Ask for a place"}, {"due_date", "2025-01-15"}})
          .value("id", "");
  return prepared;
}

struct Action {
  std::string name;
  std::string method;
  // The target for a case id and a goal id.
  std::function<std::string(const std::string&, const std::string&)> target;
  bool write;
  // The body for a case in the given phase; a valid one, so only authorization can refuse it.
  std::function<json(const std::string&)> body;
  int success;
};

const std::vector<Action>& case_actions() {
  static const std::vector<Action> kActions = {
      {"GET case", "GET",
       [](const std::string& c, const std::string&) { return "/api/v1/cases/" + c; }, false,
       nullptr, 200},
      {"GET assessments", "GET",
       [](const std::string& c, const std::string&) {
         return "/api/v1/cases/" + c + "/assessments";
       },
       false, nullptr, 200},
      {"GET goals", "GET",
       [](const std::string& c, const std::string&) { return "/api/v1/cases/" + c + "/goals"; },
       false, nullptr, 200},
      {"GET tasks", "GET",
       [](const std::string& c, const std::string&) { return "/api/v1/cases/" + c + "/tasks"; },
       false, nullptr, 200},
      {"GET notes", "GET",
       [](const std::string& c, const std::string&) { return "/api/v1/cases/" + c + "/notes"; },
       false, nullptr, 200},
      {"POST transition", "POST",
       [](const std::string& c, const std::string&) {
         return "/api/v1/cases/" + c + "/transitions";
       },
       true,
       [](const std::string& phase) {
         return json{{"to", next_phase(phase)}};
       },
       200},
      {"POST note", "POST",
       [](const std::string& c, const std::string&) { return "/api/v1/cases/" + c + "/notes"; },
       true,
       [](const std::string&) {
         return json{{"occurred_on", "2025-03-01"}, {"kind", "phone"}, {"text", "Called back"}};
       },
       201},
      {"POST goal", "POST",
       [](const std::string& c, const std::string&) { return "/api/v1/cases/" + c + "/goals"; },
       true,
       [](const std::string&) {
         return json{
             {"life_domain", "housing"}, {"description", "Own flat"}, {"due_date", "2027-01-31"}};
       },
       201},
      {"PATCH goal", "PATCH",
       [](const std::string& c, const std::string& g) {
         return "/api/v1/cases/" + c + "/goals/" + g;
       },
       true,
       [](const std::string&) {
         return json{{"description", "B1 certificate, revised"}};
       },
       200},
  };
  return kActions;
}

bool route_allows(const Action& action, const std::string& role) {
  if (action.write) return role == "case_manager";
  return role == "case_manager" || role == "coordinator";
}

std::string error_code(const HttpResult& response) {
  try {
    return response.json().at("error").at("code").get<std::string>();
  } catch (const std::exception&) {
    return "<no error code in " + response.body + ">";
  }
}

std::string error_message(const HttpResult& response) {
  try {
    return response.json().at("error").at("message").get<std::string>();
  } catch (const std::exception&) {
    return "<no error message in " + response.body + ">";
  }
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

struct MatrixRow {
  std::string user;
  std::string case_key;
  Access access;      // what policy.hpp grants on the case
  bool reads_person;  // whether the person of the case is readable
};

TEST(CaseAccessTest, AuthorizationMatrixOverUsersActionsAndOwnership) {
  KimHost host;
  auto client = host.client();
  // rheine: caritas-rheine (no team access, supervised by stadt-rheine-ko);
  // greven: drk-greven (no team access, supervised by ki-kreis-steinfurt);
  // emsdetten: diakonie-emsdetten (team access, supervised by ki-kreis-steinfurt).
  std::map<std::string, PreparedCase> cases = {
      {"rheine", prepare_case(host, "cm-rheine-1", "Rheine")},
      {"greven", prepare_case(host, "cm-greven", "Greven")},
      {"emsdetten", prepare_case(host, "cm-emsdetten-1", "Emsdetten")},
  };
  ASSERT_FALSE(::testing::Test::HasFailure()) << "setup failed";

  auto owner_of = [](const MatrixRow& row) -> std::string {
    if (row.case_key == "rheine") return "cm-rheine-1";
    if (row.case_key == "greven") return "cm-greven";
    return "cm-emsdetten-1";
  };
  using A = Access;
  const std::vector<MatrixRow> rows = {
      // The case of cm-rheine-1 at caritas-rheine.
      {"cm-rheine-1", "rheine", A::kWrite, true},     // owner
      {"cm-rheine-2", "rheine", A::kNone, true},      // colleague, no team access; same org person
      {"cm-greven", "rheine", A::kNone, false},       // other organisation
      {"cm-emsdetten-1", "rheine", A::kNone, false},  // other organisation
      {"co-rheine", "rheine", A::kRead, true},        // supervising coordinator
      {"co-kreis", "rheine", A::kNone, false},        // coordinator not supervising caritas
      {"officer", "rheine", A::kNone, false},
      {"auditor", "rheine", A::kNone, false},
      {"admin", "rheine", A::kNone, false},
      // The case of cm-greven at drk-greven.
      {"cm-greven", "greven", A::kWrite, true},
      {"cm-rheine-1", "greven", A::kNone, false},
      {"cm-emsdetten-2", "greven", A::kNone, false},
      {"co-kreis", "greven", A::kRead, true},
      {"co-rheine", "greven", A::kNone, false},
      {"officer", "greven", A::kNone, false},
      {"auditor", "greven", A::kNone, false},
      {"admin", "greven", A::kNone, false},
      // The case of cm-emsdetten-1 at diakonie-emsdetten, which works with team access.
      {"cm-emsdetten-1", "emsdetten", A::kWrite, true},
      {"cm-emsdetten-2", "emsdetten", A::kWrite, true},  // colleague with team access
      {"cm-rheine-1", "emsdetten", A::kNone, false},
      {"cm-greven", "emsdetten", A::kNone, false},
      {"co-kreis", "emsdetten", A::kRead, true},
      {"co-rheine", "emsdetten", A::kNone, false},
      {"officer", "emsdetten", A::kNone, false},
      {"auditor", "emsdetten", A::kNone, false},
      {"admin", "emsdetten", A::kNone, false},
  };

  for (const auto& row : rows) {
    const auto& prepared = cases.at(row.case_key);
    const std::string& role = roles().at(row.user);
    const std::string& token = host.token(row.user);
    SCOPED_TRACE(row.user + " (" + role + ") on the " + row.case_key + " case " + prepared.id +
                 ", expected access " + name_of(row.access));

    for (const auto& action : case_actions()) {
      SCOPED_TRACE(action.name);
      const auto before = stored_case(host, prepared.id);
      ASSERT_FALSE(before.is_null());
      const std::string body =
          action.body ? action.body(before["phase"].get<std::string>()).dump() : std::string();
      auto response =
          client.request(action.method, action.target(prepared.id, prepared.goal_id), body, token);
      const auto version_after = stored_version(host, prepared.id);
      const auto version_before = before["version"].get<std::int64_t>();

      if (!route_allows(action, role)) {
        EXPECT_EQ(response.status, 403) << response.body;
        EXPECT_EQ(error_code(response), "forbidden");
      } else if (row.access == Access::kNone) {
        EXPECT_EQ(response.status, 404) << response.body;
        EXPECT_EQ(error_code(response), "not_found");
        // Indistinguishable from an id that does not exist.
        auto unknown = client.request(action.method, action.target(kUnknownCase, prepared.goal_id),
                                      body, token);
        EXPECT_EQ(unknown.status, response.status);
        EXPECT_EQ(error_code(unknown), error_code(response));
        EXPECT_EQ(replace_all(error_message(unknown), kUnknownCase, prepared.id),
                  error_message(response));
      } else if (action.write && row.access == Access::kRead) {
        EXPECT_EQ(response.status, 403) << response.body;
      } else {
        EXPECT_EQ(response.status, action.success) << response.body;
      }

      const bool changed = response.status < 300;
      if (action.write && changed) {
        EXPECT_EQ(version_after, version_before + 1) << "a successful write bumps the version";
      } else {
        EXPECT_EQ(version_after, version_before) << "a refused write or a read changed the case";
      }
    }

    // The person of the case.
    {
      SCOPED_TRACE("GET person");
      auto response = client.get("/api/v1/persons/" + prepared.person_id, token);
      if (role != "case_manager" && role != "coordinator") {
        EXPECT_EQ(response.status, 403) << response.body;
      } else if (row.reads_person) {
        EXPECT_EQ(response.status, 200) << response.body;
        if (response.status == 200) {
          EXPECT_EQ(response.json()["id"], prepared.person_id);
        }
      } else {
        EXPECT_EQ(response.status, 404) << response.body;
        EXPECT_EQ(error_code(response), "not_found");
      }
    }

    // The list of cases.
    {
      SCOPED_TRACE("GET /api/v1/cases");
      auto response = client.get("/api/v1/cases?limit=200", token);
      if (role != "case_manager" && role != "coordinator") {
        EXPECT_EQ(response.status, 403) << response.body;
        EXPECT_EQ(error_code(response), "forbidden");
      } else {
        ASSERT_EQ(response.status, 200) << response.body;
        std::vector<std::string> ids;
        for (const json body = response.json(); const auto& item : body["items"])
          ids.push_back(item["id"]);
        if (row.access == Access::kNone) {
          EXPECT_THAT(ids, ::testing::Not(::testing::Contains(prepared.id)));
        } else {
          EXPECT_THAT(ids, ::testing::Contains(prepared.id)) << response.body;
        }
      }
    }

    // Tasks across cases: coordinators see those of the cases they read, case managers those
    // assigned to them (the case manager of the case) among the cases they read.
    const bool sees_task =
        row.access != Access::kNone && (role == "coordinator" || row.user == owner_of(row));
    for (const std::string target :
         {"/api/v1/tasks?due_before=2100-01-01", "/api/v1/tasks/overdue"}) {
      SCOPED_TRACE("GET " + target);
      auto response = client.get(target, token);
      if (role != "case_manager" && role != "coordinator") {
        EXPECT_EQ(response.status, 403) << response.body;
        continue;
      }
      ASSERT_EQ(response.status, 200) << response.body;
      EXPECT_EQ(response.body.find(prepared.task_id) != std::string::npos, sees_task)
          << response.body;
      EXPECT_EQ(response.body.find(prepared.id) != std::string::npos, sees_task) << response.body;
    }
  }
}

TEST(CaseAccessTest, GuessedIdsAreNotFoundAndRouteRolesAreChecked) {
  KimHost host;
  auto client = host.client();
  auto prepared = prepare_case(host, "cm-rheine-1", "Rheine");
  ASSERT_FALSE(::testing::Test::HasFailure()) << "setup failed";

  // A guessed case id does not exist, for the owner of other cases too.
  for (const auto& action : case_actions()) {
    SCOPED_TRACE(action.name);
    const std::string body = action.body ? action.body("planning").dump() : std::string();
    auto response = client.request(action.method, action.target(kUnknownCase, prepared.goal_id),
                                   body, host.token("cm-rheine-1"));
    EXPECT_EQ(response.status, 404) << response.body;
    EXPECT_EQ(error_code(response), "not_found");
  }
  // A goal of another case (or a guessed goal) is not found under this case.
  auto other = prepare_case(host, "cm-rheine-1", "Rheine");
  auto before = stored_version(host, prepared.id);
  for (const std::string& goal :
       {other.goal_id, std::string("goal_00000000000000000000000000000000")}) {
    SCOPED_TRACE("PATCH goal " + goal);
    auto response = client.request("PATCH", "/api/v1/cases/" + prepared.id + "/goals/" + goal,
                                   json{{"status", "dropped"}}.dump(), host.token("cm-rheine-1"));
    EXPECT_EQ(response.status, 404) << response.body;
    EXPECT_EQ(error_code(response), "not_found");
  }
  EXPECT_EQ(stored_version(host, prepared.id), before);

  // Routes a role may not use at all answer 403 whatever the object.
  struct RoleRow {
    std::string user;
    std::string method;
    std::string target;
    json body;
  };
  const std::vector<RoleRow> refused = {
      {"auditor", "POST", "/api/v1/cases", {{"person_id", prepared.person_id}}},
      {"admin", "POST", "/api/v1/cases", {{"person_id", prepared.person_id}}},
      {"officer", "POST", "/api/v1/cases", {{"person_id", prepared.person_id}}},
      {"co-rheine", "POST", "/api/v1/cases", {{"person_id", prepared.person_id}}},
      {"auditor",
       "POST",
       "/api/v1/persons",
       {{"given_names", "Nour"},
        {"family_name", "Haddad"},
        {"date_of_birth", "1991-02-03"},
        {"town", "Rheine"},
        {"residence_status", "residence_permit"}}},
      {"co-rheine", "POST", "/api/v1/cases/" + prepared.id + "/transitions", {{"to", "linking"}}},
      {"co-rheine",
       "POST",
       "/api/v1/cases/" + prepared.id + "/notes",
       {{"occurred_on", "2025-03-01"}, {"kind", "phone"}, {"text", "x"}}},
      {"auditor", "GET", "/api/v1/cases/" + prepared.id, nullptr},
      {"admin", "GET", "/api/v1/cases", nullptr},
      {"officer", "GET", "/api/v1/tasks", nullptr},
      {"cm-rheine-1", "GET", "/api/v1/audit?case_id=" + prepared.id, nullptr},
      {"co-rheine", "GET", "/api/v1/audit", nullptr},
      {"cm-rheine-1",
       "POST",
       "/api/v1/organisations",
       {{"slug", "x-org"}, {"name", "X"}, {"kind", "other"}}},
  };
  std::int64_t cases_before = 0;
  {
    auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
    cases_before = db.query("SELECT count(*) AS n FROM cases")[0]["n"].get<std::int64_t>();
  }
  for (const auto& row : refused) {
    SCOPED_TRACE(row.user + " " + row.method + " " + row.target);
    auto response =
        client.request(row.method, row.target, row.body.is_null() ? std::string() : row.body.dump(),
                       host.token(row.user));
    EXPECT_EQ(response.status, 403) << response.body;
    EXPECT_EQ(error_code(response), "forbidden");
  }
  auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
  EXPECT_EQ(db.query("SELECT count(*) AS n FROM cases")[0]["n"].get<std::int64_t>(), cases_before);
  EXPECT_EQ(stored_version(host, prepared.id), before);
}

TEST(CaseAccessTest, PersonsAreReadableWithinTheOrganisationAndItsSupervisor) {
  KimHost host;
  auto client = host.client();
  auto person =
      host.create_person("cm-rheine-1", {{"given_names", "Leyla"}, {"family_name", "Öztürk"}});
  ASSERT_TRUE(person.contains("id"));
  const std::string path = "/api/v1/persons/" + person["id"].get<std::string>();

  struct Row {
    std::string user;
    int status;
  };
  const std::vector<Row> rows = {
      {"cm-rheine-1", 200},  // recorded it
      {"cm-rheine-2", 200},  // same organisation
      {"co-rheine", 200},    // supervises caritas-rheine
      {"cm-greven", 404},   {"cm-emsdetten-2", 404}, {"co-kreis", 404},
      {"officer", 403},     {"auditor", 403},        {"admin", 403},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.user);
    auto response = client.get(path, host.token(row.user));
    EXPECT_EQ(response.status, row.status) << response.body;
    if (response.status == 200) {
      EXPECT_EQ(response.json()["family_name"], "Öztürk");
      EXPECT_EQ(response.json()["organisation"], "caritas-rheine");
    } else if (row.status == 404) {
      EXPECT_EQ(error_code(response), "not_found");
      EXPECT_EQ(response.body.find("Öztürk"), std::string::npos);
      // Same answer as for a person that does not exist.
      auto unknown =
          client.get("/api/v1/persons/per_00000000000000000000000000000000", host.token(row.user));
      EXPECT_EQ(unknown.status, 404);
      EXPECT_EQ(error_code(unknown), "not_found");
    }
    // Participations follow the same rule.
    auto participations = client.get(path + "/participations", host.token(row.user));
    EXPECT_EQ(participations.status, row.status) << participations.body;
  }

  // Writes about the person follow the same visibility; refused ones store nothing.
  struct WriteRow {
    std::string user;
    std::string what;
    int status;
  };
  const json participation = {{"programme", "migration_counselling_adults"},
                              {"started_on", "2025-01-06"}};
  const json override_body = {{"justification", "Participation ends this month, hand-over agreed"}};
  const std::vector<WriteRow> writes = {
      {"cm-greven", "participations", 404},    {"cm-emsdetten-1", "participations", 404},
      {"co-rheine", "participations", 403},    {"cm-rheine-2", "participations", 201},
      {"co-kreis", "funding-overrides", 404},  {"cm-rheine-1", "funding-overrides", 403},
      {"co-rheine", "funding-overrides", 201},
  };
  for (const auto& row : writes) {
    SCOPED_TRACE(row.user + " POST " + row.what);
    auto response = client.post(path + "/" + row.what,
                                row.what == "participations" ? participation : override_body,
                                host.token(row.user));
    EXPECT_EQ(response.status, row.status) << response.body;
  }
  auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
  const std::string person_id = person["id"];
  EXPECT_EQ(db.query("SELECT count(*) AS n FROM programme_participations WHERE person_id = ?",
                     {person_id})[0]["n"],
            1);
  EXPECT_EQ(db.query("SELECT count(*) AS n FROM funding_overrides WHERE person_id = ?",
                     {person_id})[0]["n"],
            1);
}

TEST(CaseAccessTest, PluginHookVetoesClosingAndLeavesTheCaseUnchanged) {
  KimHost host(json{{"veto_phase", "closed"}});
  auto client = host.client();
  const auto& token = host.token("cm-rheine-1");
  auto prepared = prepare_case(host, "cm-rheine-1", "Rheine");
  ASSERT_FALSE(::testing::Test::HasFailure()) << "setup failed";
  const std::string base = "/api/v1/cases/" + prepared.id;

  // From several phases: closing is vetoed, the case stays as it was.
  for (const std::string& next :
       {std::string(), std::string("linking"), std::string("monitoring")}) {
    SCOPED_TRACE("closing from the phase after " + (next.empty() ? "planning" : next));
    if (!next.empty()) {
      auto moved = client.post(base + "/transitions", {{"to", next}}, token);
      ASSERT_EQ(moved.status, 200) << "other transitions still work: " << moved.body;
      EXPECT_EQ(moved.json()["phase"], next);
    }
    const auto before = stored_case(host, prepared.id);
    auto closed =
        client.post(base + "/transitions", {{"to", "closed"}, {"reason", "goals_reached"}}, token);
    EXPECT_EQ(closed.status, 422) << closed.body;
    EXPECT_EQ(error_code(closed), "vetoed");
    EXPECT_THAT(error_message(closed), ::testing::HasSubstr("hello"));
    EXPECT_EQ(stored_case(host, prepared.id), before);

    auto read = client.get(base, token);
    ASSERT_EQ(read.status, 200) << read.body;
    EXPECT_NE(read.json()["phase"], "closed");
    EXPECT_EQ(read.json()["closed_on"], nullptr);
    EXPECT_EQ(read.json()["version"], before["version"]);
    EXPECT_EQ(read.headers["etag"], "\"" + std::to_string(before["version"].get<int>()) + "\"");

    // Nothing of the vetoed change is stored: no transition row, no audit entry.
    auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
    EXPECT_EQ(db.query("SELECT count(*) AS n FROM case_transitions WHERE case_id = ? AND "
                       "to_phase = 'closed'",
                       {prepared.id})[0]["n"],
              0);
    EXPECT_EQ(db.query("SELECT count(*) AS n FROM audit_log WHERE request_id = ?",
                       {closed.headers["x-request-id"]})[0]["n"],
              0);
  }
  // Writes that raise no phase_changed into "closed" are unaffected.
  auto note = client.post(
      base + "/notes", {{"occurred_on", "2025-03-01"}, {"kind", "meeting"}, {"text", "ok"}}, token);
  EXPECT_EQ(note.status, 201) << note.body;
}

}  // namespace
}  // namespace kim::test
