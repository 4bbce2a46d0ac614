// The audit trail of personal data, the OpenAPI document against the routes the host really
// serves, and the administration API (organisations, users), over HTTP against the real kim.
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/sqlite.hpp"
#include "support/kim_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

std::string error_code(const HttpResult& response) {
  try {
    return response.json().at("error").at("code").get<std::string>();
  } catch (const std::exception&) {
    return "<no error code in " + response.body + ">";
  }
}

std::string error_field(const HttpResult& response) {
  try {
    return response.json().at("error").value("field", "");
  } catch (const std::exception&) {
    return "<no error in " + response.body + ">";
  }
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

json audit_rows_of_request(const KimHost& host, const std::string& request_id) {
  auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
  return db.query("SELECT * FROM audit_log WHERE request_id = ? ORDER BY id", {request_id});
}

std::map<std::string, std::int64_t> organisation_ids(KimHost& host) {
  auto response = host.client().get("/api/v1/organisations", host.token("admin"));
  std::map<std::string, std::int64_t> ids;
  if (response.status != 200) {
    ADD_FAILURE() << "GET /api/v1/organisations: " << response.status << " " << response.body;
    return ids;
  }
  for (const json body = response.json(); const auto& item : body["items"])
    ids[item["slug"]] = item["id"];
  return ids;
}

// User ids by name, read here rather than through KimHost::user_id(): KimHost fills that map by
// iterating over a member of a temporary JSON value (tests/support/kim_host.cpp), which dangles.
std::map<std::string, std::int64_t> user_ids(KimHost& host) {
  auto response = host.client().get("/api/v1/users", host.token("admin"));
  std::map<std::string, std::int64_t> ids;
  if (response.status != 200) {
    ADD_FAILURE() << "GET /api/v1/users: " << response.status << " " << response.body;
    return ids;
  }
  for (const json body = response.json(); const auto& item : body["items"]) {
    ids[item["name"]] = item["id"];
  }
  return ids;
}

// ---- audit -------------------------------------------------------------------------------------

struct Expected {
  std::string what;  // for messages
  std::string request_id;
  std::string user;
  std::string action;
  std::string object_type;
  std::string object_id;
  std::string case_id;  // empty: the entry belongs to no case
};

TEST(AuditOpenApiTest, EveryAccessToACaseIsAuditedWithWhoWhatAndRequestId) {
  KimHost host;
  auto client = host.client();
  const auto org_ids = organisation_ids(host);
  const auto ids = user_ids(host);
  const std::string cm = "cm-rheine-1";
  const auto& token = host.token(cm);
  std::vector<Expected> expected;

  auto call = [&](const std::string& what, const std::string& user, const std::string& method,
                  const std::string& target, const json& body, int status) {
    auto response = client.request(method, target, body.is_null() ? std::string() : body.dump(),
                                   host.token(user));
    EXPECT_EQ(response.status, status) << what << ": " << response.body;
    EXPECT_FALSE(response.headers["x-request-id"].empty()) << what;
    return response;
  };

  auto person = call("create person", cm, "POST", "/api/v1/persons",
                     {{"given_names", "Theodolinde"},
                      {"family_name", "Quastenberg"},
                      {"date_of_birth", "1987-05-06"},
                      {"town", "Rheine"},
                      {"residence_status", "duldung"}},
                     201);
  ASSERT_EQ(person.status, 201);
  const std::string person_id = person.json()["id"];
  expected.push_back(
      {"create person", person.headers["x-request-id"], cm, "create", "person", person_id, ""});

  auto opened = call("open case", cm, "POST", "/api/v1/cases", {{"person_id", person_id}}, 201);
  ASSERT_EQ(opened.status, 201);
  const std::string case_id = opened.json()["id"];
  const std::string base = "/api/v1/cases/" + case_id;
  expected.push_back(
      {"open case", opened.headers["x-request-id"], cm, "create", "case", case_id, case_id});

  // Each step: request, then the one entry it must leave. object_id "" = the id in the response.
  struct Step {
    std::string what, user, method, path;
    json body;
    int status;
    std::string action, object_type, object_id;
  };
  const std::vector<Step> steps = {
      {"read case", cm, "GET", base, nullptr, 200, "read", "case", case_id},
      {"to assessment",
       cm,
       "POST",
       base + "/transitions",
       {{"to", "assessment"}},
       200,
       "transition",
       "case",
       case_id},
      {"record assessment",
       cm,
       "POST",
       base + "/assessments",
       {{"domains", {{{"life_domain", "housing"}, {"need_level", "medium"}}}}},
       201,
       "create",
       "assessment",
       ""},
      {"list assessments", cm, "GET", base + "/assessments", nullptr, 200, "list", "assessment",
       case_id},
      {"to planning",
       cm,
       "POST",
       base + "/transitions",
       {{"to", "planning"}},
       200,
       "transition",
       "case",
       case_id},
      {"add goal",
       cm,
       "POST",
       base + "/goals",
       {{"life_domain", "housing"}, {"description", "Own flat"}, {"due_date", "2027-03-31"}},
       201,
       "create",
       "goal",
       ""},
      {"list goals", cm, "GET", base + "/goals", nullptr, 200, "list", "goal", case_id},
      {"add task",
       cm,
       "POST",
       base + "/tasks",
       {{"description", "Call the housing office"}, {"due_date", "2026-12-01"}},
       201,
       "create",
       "task",
       ""},
      {"list tasks", cm, "GET", base + "/tasks", nullptr, 200, "list", "task", case_id},
      {"add note",
       cm,
       "POST",
       base + "/notes",
       {{"occurred_on", "2025-02-03"}, {"kind", "meeting"}, {"text", "First meeting"}},
       201,
       "create",
       "note",
       ""},
      {"list notes", cm, "GET", base + "/notes", nullptr, 200, "list", "note", case_id},
      {"coordinator reads case", "co-rheine", "GET", base, nullptr, 200, "read", "case", case_id},
      {"coordinator lists notes", "co-rheine", "GET", base + "/notes", nullptr, 200, "list", "note",
       case_id},
  };
  std::string goal_id;
  std::string task_id;
  for (const auto& step : steps) {
    auto response = call(step.what, step.user, step.method, step.path, step.body, step.status);
    std::string object_id = step.object_id;
    if (object_id.empty() && response.status < 300) object_id = response.json().value("id", "");
    if (step.object_type == "goal" && step.action == "create") goal_id = object_id;
    if (step.object_type == "task" && step.action == "create") task_id = object_id;
    expected.push_back({step.what, response.headers["x-request-id"], step.user, step.action,
                        step.object_type, object_id, case_id});
  }
  auto patched_goal = call("update goal", cm, "PATCH", base + "/goals/" + goal_id,
                           {{"status", "partly_achieved"}}, 200);
  expected.push_back({"update goal", patched_goal.headers["x-request-id"], cm, "update", "goal",
                      goal_id, case_id});
  auto patched_task =
      call("update task", cm, "PATCH", base + "/tasks/" + task_id, {{"done", true}}, 200);
  expected.push_back({"update task", patched_task.headers["x-request-id"], cm, "update", "task",
                      task_id, case_id});
  auto read_person = call("read person", cm, "GET", "/api/v1/persons/" + person_id, nullptr, 200);
  expected.push_back(
      {"read person", read_person.headers["x-request-id"], cm, "read", "person", person_id, ""});

  // A request id the client chose is kept and recorded.
  auto tagged = client.request("GET", base, {}, token, {{"X-Request-Id", "audit-probe-42"}});
  EXPECT_EQ(tagged.status, 200);
  EXPECT_EQ(tagged.headers["x-request-id"], "audit-probe-42");
  expected.push_back(
      {"read case with own request id", "audit-probe-42", cm, "read", "case", case_id, case_id});

  // Only auditors read the trail.
  for (const std::string user : {"cm-rheine-1", "co-rheine", "officer", "admin"}) {
    SCOPED_TRACE(user);
    auto refused = client.get("/api/v1/audit?case_id=" + case_id, host.token(user));
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(error_code(refused), "forbidden");
  }

  auto trail = client.get("/api/v1/audit?limit=1000&case_id=" + case_id, host.token("auditor"));
  ASSERT_EQ(trail.status, 200) << trail.body;
  auto by_user = client.get("/api/v1/audit?limit=1000&user_id=" + std::to_string(ids.at(cm)),
                            host.token("auditor"));
  ASSERT_EQ(by_user.status, 200) << by_user.body;
  const json case_items = trail.json()["items"];
  const json user_items = by_user.json()["items"];
  std::size_t with_case = 0;
  for (const auto& want : expected) {
    SCOPED_TRACE(want.what + " (request " + want.request_id + ")");
    if (!want.case_id.empty()) ++with_case;
    const json& items = want.case_id.empty() ? user_items : case_items;
    std::vector<json> found;
    for (const auto& item : items) {
      if (item["request_id"] == want.request_id) found.push_back(item);
    }
    ASSERT_EQ(found.size(), 1u) << "exactly one entry per request";
    const auto& entry = found[0];
    EXPECT_EQ(entry["user_id"], ids.at(want.user));
    EXPECT_EQ(entry["user_name"], want.user);
    EXPECT_EQ(entry["role"], want.user.rfind("co-", 0) == 0 ? "coordinator" : "case_manager");
    EXPECT_EQ(entry["organisation_id"],
              org_ids.at(want.user == "co-rheine" ? "stadt-rheine-ko" : "caritas-rheine"));
    EXPECT_EQ(entry["action"], want.action);
    EXPECT_EQ(entry["object_type"], want.object_type);
    EXPECT_EQ(entry["object_id"], want.object_id);
    EXPECT_EQ(entry["case_id"], want.case_id.empty() ? json(nullptr) : json(want.case_id));
    EXPECT_FALSE(entry["at"].get<std::string>().empty());
  }
  // Nothing else is recorded for the case.
  EXPECT_EQ(case_items.size(), with_case);

  // Refused requests (the case does not exist for them) leave no access entry, only one
  // security entry each (issue 9: refusals are visible to auditors).
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"cm-greven", "GET"}, {"cm-rheine-2", "GET"}, {"co-kreis", "GET"}, {"cm-greven", "POST"}};
  for (const auto& [user, method] : refused) {
    SCOPED_TRACE(user + " " + method);
    auto response =
        method == "GET"
            ? client.get(base, host.token(user))
            : client.post(base + "/notes",
                          {{"occurred_on", "2025-02-03"}, {"kind", "phone"}, {"text", "x"}},
                          host.token(user));
    EXPECT_EQ(response.status, 404) << response.body;
    const auto rows = audit_rows_of_request(host, response.headers["x-request-id"]);
    ASSERT_EQ(rows.size(), 1u) << rows.dump();
    EXPECT_EQ(rows[0]["kind"], "security");
    EXPECT_EQ(rows[0]["action"], "refused");
    EXPECT_EQ(rows[0]["user_name"], user);
    EXPECT_EQ(rows[0]["object_id"], case_id);
  }
  auto again =
      client.get("/api/v1/audit?limit=1000&kind=access&case_id=" + case_id, host.token("auditor"));
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.json()["items"], case_items);
}

TEST(AuditOpenApiTest, ListReadsAreAuditedPerCaseReturned) {
  KimHost host;
  auto client = host.client();
  std::vector<std::string> mine;
  for (int i = 0; i < 3; ++i) {
    auto person = host.create_person("cm-rheine-1");
    mine.push_back(host.open_case("cm-rheine-1", person["id"])["id"]);
  }
  auto other =
      host.open_case("cm-greven", host.create_person("cm-greven", {{"town", "Greven"}})["id"]);
  ASSERT_FALSE(::testing::Test::HasFailure()) << "setup failed";

  struct Row {
    std::string user;
    std::string query;
    std::size_t count;  // cases in the answer
  };
  const std::vector<Row> rows = {
      {"cm-rheine-1", "", 3},
      {"cm-rheine-1", "?limit=2", 2},
      {"co-rheine", "", 3},
      {"co-kreis", "", 1},
      {"cm-rheine-2", "", 0},
      {"cm-rheine-1", "?phase=closed", 0},
      {"cm-greven", "?town=Greven", 1},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.user + " GET /api/v1/cases" + row.query);
    auto response = client.get("/api/v1/cases" + row.query, host.token(row.user));
    ASSERT_EQ(response.status, 200) << response.body;
    std::multiset<std::string> listed;
    for (const json body = response.json(); const auto& item : body["items"])
      listed.insert(item["id"].get<std::string>());
    EXPECT_EQ(listed.size(), row.count);
    std::multiset<std::string> audited;
    for (const auto& entry : audit_rows_of_request(host, response.headers["x-request-id"])) {
      EXPECT_EQ(entry["action"], "list");
      EXPECT_EQ(entry["object_type"], "case");
      EXPECT_EQ(entry["case_id"], entry["object_id"]);
      EXPECT_EQ(entry["user_name"], row.user);
      audited.insert(entry["object_id"].get<std::string>());
    }
    EXPECT_EQ(audited, listed) << "one entry per case returned, none for others";
  }
  // The other organisation's case never appears in a trail of a list by caritas-rheine users.
  auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
  EXPECT_EQ(db.query("SELECT count(*) AS n FROM audit_log WHERE case_id = ? AND user_name <> "
                     "'cm-greven' AND user_name <> 'co-kreis'",
                     {other["id"].get<std::string>()})[0]["n"],
            0);
}

TEST(AuditOpenApiTest, AuditLogIsAppendOnlyAndLogsHoldNoPersonalData) {
  KimHost host;
  auto client = host.client();
  const std::string given = "Kunigundis";
  const std::string family = "Wrzesniewska-Obiorah";
  auto person = host.create_person(
      "cm-rheine-1",
      {{"given_names", given}, {"family_name", family}, {"date_of_birth", "1979-11-23"}});
  ASSERT_TRUE(person.contains("id"));
  auto opened = host.open_case("cm-rheine-1", person["id"]);
  ASSERT_TRUE(opened.contains("id"));
  const std::string case_id = opened["id"];
  // Requests that carry the name in the body, the query and the answer.
  EXPECT_EQ(client.get("/api/v1/cases/" + case_id, host.token("cm-rheine-1")).status, 200);
  EXPECT_EQ(client.get("/api/v1/cases?limit=5", host.token("co-rheine")).status, 200);
  auto duplicate = client.post("/api/v1/persons",
                               {{"given_names", given},
                                {"family_name", family},
                                {"date_of_birth", "1979-11-23"},
                                {"town", "Rheine"},
                                {"residence_status", "duldung"}},
                               host.token("cm-rheine-2"));
  EXPECT_EQ(duplicate.status, 409) << duplicate.body;
  auto bad = client.post("/api/v1/persons",
                         {{"given_names", given},
                          {"family_name", family},
                          {"date_of_birth", "not-a-date"},
                          {"town", "Rheine"},
                          {"residence_status", "duldung"}},
                         host.token("cm-rheine-1"));
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(
      client.get("/api/v1/audit?case_id=" + case_id + "&q=" + family, host.token("auditor")).status,
      400);

  ASSERT_EQ(host.stop(), 0);
  const std::string log = host.log();
  EXPECT_THAT(log, HasSubstr("/api/v1/cases/" + case_id)) << "requests are logged";
  EXPECT_THAT(log, Not(HasSubstr(given)));
  EXPECT_THAT(log, Not(HasSubstr(family)));
  EXPECT_THAT(log, Not(HasSubstr("1979-11-23")));
  for (const std::string user : {"cm-rheine-1", "cm-rheine-2", "co-rheine", "auditor", "admin"}) {
    EXPECT_THAT(log, Not(HasSubstr(host.token(user)))) << user;
  }

  auto db = store::Connection::open(host.database(), SQLITE_OPEN_READWRITE);
  const auto count = [&] {
    return db.query("SELECT count(*) AS n FROM audit_log")[0]["n"].get<std::int64_t>();
  };
  const auto entries = count();
  ASSERT_GE(entries, 4);
  const std::vector<std::string> tampering = {
      "UPDATE audit_log SET user_name = 'someone-else'",
      "UPDATE audit_log SET action = 'nothing' WHERE case_id = '" + case_id + "'",
      "DELETE FROM audit_log",
      "DELETE FROM audit_log WHERE case_id = '" + case_id + "'",
  };
  for (const auto& sql : tampering) {
    SCOPED_TRACE(sql);
    try {
      db.execute(sql);
      ADD_FAILURE() << "the statement succeeded";
    } catch (const store::SqliteError& e) {
      EXPECT_THAT(e.what(), HasSubstr("append-only"));
    }
  }
  EXPECT_EQ(count(), entries);
  EXPECT_EQ(db.query("SELECT count(*) AS n FROM audit_log WHERE user_name = 'someone-else' OR "
                     "action = 'nothing'")[0]["n"],
            0);
  // Appending still works.
  EXPECT_NO_THROW(db.execute(
      "INSERT INTO audit_log(at, user_id, user_name, role, action, object_type, object_id, "
      "request_id) VALUES ('2026-01-01T00:00:00Z', 1, 'test', 'admin', 'read', 'case', 'x', 'r')"));
  EXPECT_EQ(count(), entries + 1);
}

// ---- OpenAPI -----------------------------------------------------------------------------------

struct RouteSpec {
  std::string method;
  std::string pattern;
  bool is_public;
};

// Every route, written down from core/cases/routes.cpp, core/orgs/organisations.cpp,
// core/app/host.cpp, plugins/hello/hello_plugin.cpp and the partner/referral API of issue 4.
const std::vector<RouteSpec>& known_routes() {
  static const std::vector<RouteSpec> kRoutes = {
      {"POST", "/api/v1/persons", false},
      {"GET", "/api/v1/persons/{id}", false},
      {"GET", "/api/v1/persons/{id}/participations", false},
      {"POST", "/api/v1/persons/{id}/participations", false},
      {"POST", "/api/v1/persons/{id}/funding-overrides", false},
      {"POST", "/api/v1/cases", false},
      {"GET", "/api/v1/cases", false},
      {"GET", "/api/v1/cases/{id}", false},
      {"POST", "/api/v1/cases/{id}/transitions", false},
      {"GET", "/api/v1/cases/{id}/assessments", false},
      {"POST", "/api/v1/cases/{id}/assessments", false},
      {"GET", "/api/v1/cases/{id}/goals", false},
      {"POST", "/api/v1/cases/{id}/goals", false},
      {"PATCH", "/api/v1/cases/{id}/goals/{goal_id}", false},
      {"GET", "/api/v1/cases/{id}/tasks", false},
      {"POST", "/api/v1/cases/{id}/tasks", false},
      {"PATCH", "/api/v1/cases/{id}/tasks/{task_id}", false},
      {"GET", "/api/v1/cases/{id}/notes", false},
      {"POST", "/api/v1/cases/{id}/notes", false},
      {"GET", "/api/v1/tasks", false},
      {"GET", "/api/v1/tasks/overdue", false},
      {"GET", "/api/v1/audit", false},
      {"GET", "/api/v1/partners", false},
      {"POST", "/api/v1/partners", false},
      {"GET", "/api/v1/partners/{slug}", false},
      {"PATCH", "/api/v1/partners/{slug}", false},
      {"GET", "/api/v1/agreements", false},
      {"POST", "/api/v1/agreements", false},
      {"GET", "/api/v1/agreements/{id}", false},
      {"PATCH", "/api/v1/agreements/{id}", false},
      {"GET", "/api/v1/persons/{id}/consents", false},
      {"POST", "/api/v1/persons/{id}/consents", false},
      {"POST", "/api/v1/persons/{id}/consents/{consent_id}/revoke", false},
      {"GET", "/api/v1/cases/{id}/referrals", false},
      {"POST", "/api/v1/cases/{id}/referrals", false},
      {"GET", "/api/v1/cases/{id}/referrals/{referral_id}", false},
      {"POST", "/api/v1/cases/{id}/referrals/{referral_id}/status", false},
      {"GET", "/api/v1/reports/referral-gaps", false},
      {"GET", "/api/v1/reports/indicators", false},
      {"GET", "/api/v1/reports/funding", false},
      {"GET", "/api/v1/funding/decisions", false},
      {"POST", "/api/v1/funding/decisions", false},
      {"GET", "/api/v1/funding/posts", false},
      {"POST", "/api/v1/funding/posts", false},
      {"GET", "/api/v1/funding/forwardings", false},
      {"POST", "/api/v1/funding/forwardings", false},
      {"GET", "/api/v1/referrals", false},
      {"PATCH", "/api/v1/persons/{id}", false},
      {"GET", "/api/v1/organisations", false},
      {"POST", "/api/v1/organisations", false},
      {"GET", "/api/v1/users", false},
      {"POST", "/api/v1/users", false},
      {"GET", "/api/v1/users/{id}/tokens", false},
      {"POST", "/api/v1/users/{id}/tokens", false},
      {"POST", "/api/v1/users/{id}/disable", false},
      {"POST", "/api/v1/users/{id}/enable", false},
      {"POST", "/api/v1/tokens/{id}/revoke", false},
      {"GET", "/health", true},
      {"GET", "/api/v1/openapi.json", true},
      {"GET", "/api/v1/plugins", false},
      {"GET", "/api/v1/jobs", false},
      {"POST", "/api/v1/jobs/{name}/run", false},
      {"POST", "/api/v1/connectors/{instance}/inbound", true},  // signed, see inbound_test.cpp
      {"GET", "/api/v1/plugins/hello/ping", true},
      {"GET", "/api/v1/plugins/hello/greetings/{name}", false},
      {"POST", "/api/v1/plugins/hello/greetings", false},
      {"GET", "/api/v1/plugins/hello/stats", false},
  };
  return kRoutes;
}

std::string with_dummy_ids(const std::string& pattern) {
  static const std::regex kParameter("\\{[^}/]+\\}");
  return std::regex_replace(pattern, kParameter, "x");
}

bool is_plugin_route(const std::string& pattern) {
  return pattern.rfind("/api/v1/plugins/", 0) == 0;
}

bool signature_challenge(const HttpResult& response) {
  auto it = response.headers.find("www-authenticate");
  return it != response.headers.end() && it->second == "KIM-HMAC-SHA512";
}

// Whether the router knows method + path: neither its 404 ("no resource at") nor its 405.
::testing::AssertionResult served(HttpClient& client, const std::string& method,
                                  const std::string& pattern, const std::string& token) {
  const bool has_body = method == "POST" || method == "PATCH" || method == "PUT";
  auto response = client.request(method, with_dummy_ids(pattern), has_body ? "{}" : "", token);
  if (response.status == 405) {
    return ::testing::AssertionFailure() << method << " " << pattern << ": 405 " << response.body;
  }
  if (response.status == 404 && error_code(response) == "not_found" &&
      response.json()["error"].value("message", "").rfind("no resource at", 0) == 0) {
    return ::testing::AssertionFailure()
           << method << " " << pattern << ": router 404 " << response.body;
  }
  // The signed inbound route answers every unsigned request (any instance, known or not) with
  // its own 401 challenge: served, not the token check's 401.
  if (response.status == 401 && !signature_challenge(response)) {
    return ::testing::AssertionFailure() << method << " " << pattern << ": 401 " << response.body;
  }
  return ::testing::AssertionSuccess();
}

TEST(AuditOpenApiTest, DocumentListsEveryServedRouteAndServesEveryListedOne) {
  KimHost host;
  auto client = host.client();
  const auto& admin = host.token("admin");
  auto response = client.get("/api/v1/openapi.json");  // no token
  ASSERT_EQ(response.status, 200) << response.body;
  const auto doc = response.json();
  ASSERT_TRUE(doc.contains("openapi"));
  EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  EXPECT_TRUE(doc["info"].contains("title"));
  EXPECT_TRUE(doc["info"].contains("version"));
  ASSERT_TRUE(doc["paths"].is_object());
  EXPECT_EQ(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");

  // Our list is real (the host serves each route) and each is in the document.
  for (const auto& route : known_routes()) {
    SCOPED_TRACE(route.method + " " + route.pattern);
    EXPECT_TRUE(served(client, route.method, route.pattern, admin));
    const auto path = doc["paths"].find(route.pattern);
    ASSERT_NE(path, doc["paths"].end()) << "path missing from the document";
    const auto operation = path->find(lower(route.method));
    ASSERT_NE(operation, path->end()) << "method missing from the document";
    const std::string summary = operation->value("summary", "");
    EXPECT_FALSE(summary.empty());
    if (!is_plugin_route(route.pattern)) {
      EXPECT_THAT(summary, Not(HasSubstr("Route of plugin"))) << "host routes are described";
    }
    EXPECT_EQ(operation->contains("security"), !route.is_public);
  }

  // Every documented operation is served, with its path parameters and security as documented.
  std::size_t operations = 0;
  for (const auto& [pattern, methods] : doc["paths"].items()) {
    for (const auto& [method, operation] : methods.items()) {
      ++operations;
      std::string upper = method;
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      SCOPED_TRACE(upper + " " + pattern);
      EXPECT_TRUE(served(client, upper, pattern, admin));
      std::set<std::string> in_path;
      static const std::regex kParameter("\\{([^}/]+)\\}");
      for (std::sregex_iterator it(pattern.begin(), pattern.end(), kParameter), end; it != end;
           ++it) {
        in_path.insert((*it)[1]);
      }
      std::set<std::string> documented;
      for (const auto& parameter : operation.value("parameters", json::array())) {
        EXPECT_EQ(parameter["in"], "path");
        documented.insert(parameter["name"].get<std::string>());
      }
      EXPECT_EQ(documented, in_path);
      // Documented as public exactly when it answers without a token.
      const bool has_body = upper == "POST" || upper == "PATCH";
      auto anonymous = client.request(upper, with_dummy_ids(pattern), has_body ? "{}" : "");
      if (operation.contains("security")) {
        EXPECT_EQ(anonymous.status, 401) << anonymous.body;
      } else {
        EXPECT_TRUE(anonymous.status != 401 || signature_challenge(anonymous)) << anonymous.body;
      }
    }
  }
  EXPECT_GE(operations, known_routes().size());

  // Unknown paths and methods are told apart from handler answers.
  auto unknown = client.get("/api/v1/no-such-thing", admin);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_FALSE(served(client, "GET", "/api/v1/no-such-thing", admin));
  EXPECT_FALSE(served(client, "DELETE", "/api/v1/cases/{id}", admin));
}

// ---- administration ----------------------------------------------------------------------------

TEST(AuditOpenApiTest, AdminCreatesOrganisationsOnlyWhenValid) {
  KimHost host;
  auto client = host.client();
  const auto& admin = host.token("admin");
  auto list = [&] {
    auto response = client.get("/api/v1/organisations", admin);
    EXPECT_EQ(response.status, 200) << response.body;
    return response.status == 200 ? response.json() : json();
  };
  const auto before = list();
  ASSERT_EQ(before["items"].size(), 5u);

  const json valid = {{"slug", "caritas-emsdetten"},
                      {"name", "Caritasverband Emsdetten-Greven"},
                      {"kind", "welfare_organisation"},
                      {"town", "Emsdetten"},
                      {"supervisor", "ki-kreis-steinfurt"}};
  auto with = [&](const json& changes) {
    json body = valid;
    for (const auto& [key, value] : changes.items())
      body[key] = value;
    return body;
  };
  struct Row {
    std::string what;
    std::string user;
    json body;
    int status;
    std::string code;
    std::string field;
  };
  const std::vector<Row> rows = {
      {"upper-case slug", "admin", with({{"slug", "Caritas-Emsdetten"}}), 400, "invalid_field",
       "slug"},
      {"slug with a space", "admin", with({{"slug", "caritas emsdetten"}}), 400, "invalid_field",
       "slug"},
      {"one-character slug", "admin", with({{"slug", "c"}}), 400, "invalid_field", "slug"},
      {"slug starting with '-'", "admin", with({{"slug", "-caritas"}}), 400, "invalid_field",
       "slug"},
      {"town outside the county", "admin", with({{"town", "Berlin"}}), 400, "invalid_field",
       "town"},
      {"unknown supervisor", "admin", with({{"supervisor", "no-such-office"}}), 400,
       "invalid_field", "supervisor"},
      {"supervisor is not a coordinating office", "admin", with({{"supervisor", "caritas-rheine"}}),
       400, "invalid_field", "supervisor"},
      {"duplicate slug", "admin", with({{"slug", "drk-greven"}}), 409, "duplicate", ""},
      {"unknown kind", "admin", with({{"kind", "church"}}), 400, "invalid_field", "kind"},
      {"case manager", "cm-rheine-1", valid, 403, "forbidden", ""},
      {"coordinator", "co-kreis", valid, 403, "forbidden", ""},
      {"auditor", "auditor", valid, 403, "forbidden", ""},
      {"authority officer", "officer", valid, 403, "forbidden", ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.what);
    auto response = client.post("/api/v1/organisations", row.body, host.token(row.user));
    EXPECT_EQ(response.status, row.status) << response.body;
    EXPECT_EQ(error_code(response), row.code);
    if (!row.field.empty()) {
      EXPECT_EQ(error_field(response), row.field);
    }
    EXPECT_EQ(list(), before) << "a refused creation changed the organisations";
  }

  auto created = client.post("/api/v1/organisations", valid, admin);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["slug"], "caritas-emsdetten");
  EXPECT_EQ(created.json()["supervisor"], "ki-kreis-steinfurt");
  EXPECT_EQ(created.json()["team_access"], false);
  auto after = list();
  EXPECT_EQ(after["items"].size(), before["items"].size() + 1);
  auto again = client.post("/api/v1/organisations", valid, admin);
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(error_code(again), "duplicate");
  EXPECT_EQ(list(), after);
  // Audited: who created which organisation.
  auto trail = client.get("/api/v1/audit?limit=1000", host.token("auditor"));
  ASSERT_EQ(trail.status, 200) << trail.body;
  int entries = 0;
  for (const json body = trail.json(); const auto& entry : body["items"]) {
    if (entry["object_type"] == "organisation") {
      EXPECT_EQ(entry["user_name"], "admin");
      EXPECT_EQ(entry["action"], "create");
      EXPECT_EQ(entry["object_id"], std::to_string(created.json()["id"].get<std::int64_t>()));
      ++entries;
    }
  }
  EXPECT_EQ(entries, 1) << "one entry, none for the refused attempts";
}

TEST(AuditOpenApiTest, AdminCreatesUsersWhoseTokensWorkAndAreNeverLogged) {
  KimHost host;
  auto client = host.client();
  const auto& admin = host.token("admin");
  auto user_names = [&] {
    std::set<std::string> names;
    auto response = client.get("/api/v1/users", admin);
    EXPECT_EQ(response.status, 200) << response.body;
    if (response.status == 200) {
      for (const json body = response.json(); const auto& item : body["items"])
        names.insert(item["name"]);
    }
    return names;
  };
  const auto before = user_names();

  struct Row {
    std::string what;
    std::string user;
    json body;
    int status;
    std::string code;
  };
  const std::vector<Row> refused = {
      {"unknown organisation",
       "admin",
       {{"name", "cm-new"}, {"role", "case_manager"}, {"organisation", "no-such-org"}},
       400,
       "invalid_field"},
      {"case manager without organisation",
       "admin",
       {{"name", "cm-new"}, {"role", "case_manager"}},
       400,
       "invalid_field"},
      {"unknown role",
       "admin",
       {{"name", "cm-new"}, {"role", "superuser"}, {"organisation", "caritas-rheine"}},
       400,
       "invalid_field"},
      {"malformed name",
       "admin",
       {{"name", "CM New"}, {"role", "case_manager"}, {"organisation", "caritas-rheine"}},
       400,
       "invalid_field"},
      {"not an admin",
       "co-kreis",
       {{"name", "cm-new"}, {"role", "case_manager"}, {"organisation", "caritas-rheine"}},
       403,
       "forbidden"},
  };
  for (const auto& row : refused) {
    SCOPED_TRACE(row.what);
    auto response = client.post("/api/v1/users", row.body, host.token(row.user));
    EXPECT_EQ(response.status, row.status) << response.body;
    EXPECT_EQ(error_code(response), row.code);
    EXPECT_EQ(user_names(), before);
  }

  auto created = client.post(
      "/api/v1/users",
      {{"name", "cm-rheine-3"}, {"role", "case_manager"}, {"organisation", "caritas-rheine"}},
      admin);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string token = created.json()["token"];
  EXPECT_TRUE(std::regex_match(token, std::regex("kim_[0-9a-f]{64}"))) << token;
  EXPECT_EQ(created.json()["role"], "case_manager");
  EXPECT_EQ(created.json()["organisation"], "caritas-rheine");
  EXPECT_TRUE(user_names().count("cm-rheine-3"));

  // The token works, with the role and organisation given.
  auto cases = client.get("/api/v1/cases", token);
  EXPECT_EQ(cases.status, 200) << cases.body;
  auto person = client.post("/api/v1/persons",
                            {{"given_names", "Mira"},
                             {"family_name", "Sadeghi"},
                             {"date_of_birth", "2001-07-08"},
                             {"town", "Rheine"},
                             {"residence_status", "residence_permit"}},
                            token);
  ASSERT_EQ(person.status, 201) << person.body;
  EXPECT_EQ(person.json()["organisation"], "caritas-rheine");
  EXPECT_EQ(client.get("/api/v1/users", token).status, 403);
  // Readable by a colleague of the same organisation, not by another one.
  const std::string person_path = "/api/v1/persons/" + person.json()["id"].get<std::string>();
  EXPECT_EQ(client.get(person_path, host.token("cm-rheine-1")).status, 200);
  EXPECT_EQ(client.get(person_path, host.token("cm-greven")).status, 404);

  // The same name again issues no second token (409); the explicit route does, and both work.
  auto taken = client.post(
      "/api/v1/users",
      {{"name", "cm-rheine-3"}, {"role", "case_manager"}, {"organisation", "caritas-rheine"}},
      admin);
  EXPECT_EQ(taken.status, 409) << taken.body;
  EXPECT_EQ(error_code(taken), "user_exists");
  EXPECT_THAT(taken.body, Not(HasSubstr("kim_")));
  const std::string user_path =
      "/api/v1/users/" + std::to_string(created.json()["id"].get<std::int64_t>());
  auto second = client.post(user_path + "/tokens", json::object(), admin);
  ASSERT_EQ(second.status, 201) << second.body;
  const std::string second_token = second.json()["token"];
  EXPECT_NE(second_token, token);
  EXPECT_EQ(second.json()["user_id"], created.json()["id"]);
  EXPECT_EQ(client.get("/api/v1/cases", second_token).status, 200);
  EXPECT_EQ(client.get("/api/v1/cases", token).status, 200);
  // Same name with another role is refused as well.
  auto clash = client.post("/api/v1/users", {{"name", "cm-rheine-3"}, {"role", "auditor"}}, admin);
  EXPECT_EQ(clash.status, 409) << clash.body;
  // Creating the user and its tokens is audited, never with the secret.
  auto trail = client.get("/api/v1/audit?limit=1000", host.token("auditor"));
  ASSERT_EQ(trail.status, 200);
  std::set<std::string> admin_entries;
  for (const json body = trail.json(); const auto& entry : body["items"]) {
    if (entry["user_name"] == "admin") {
      admin_entries.insert(entry["action"].get<std::string>() + " " +
                           entry["object_type"].get<std::string>() + " " +
                           entry["object_id"].get<std::string>());
    }
  }
  const std::string user_id = std::to_string(created.json()["id"].get<std::int64_t>());
  EXPECT_TRUE(admin_entries.count("create user " + user_id)) << trail.body;
  EXPECT_TRUE(admin_entries.count("create token " +
                                  std::to_string(second.json()["id"].get<std::int64_t>())));
  EXPECT_THAT(trail.body, Not(HasSubstr(second_token)));

  ASSERT_EQ(host.stop(), 0);
  const std::string log = host.log();
  EXPECT_THAT(log, HasSubstr("/api/v1/users")) << "requests are logged";
  EXPECT_THAT(log, Not(HasSubstr(token)));
  EXPECT_THAT(log, Not(HasSubstr(second_token)));
  EXPECT_THAT(log, Not(HasSubstr(token.substr(4, 32))));
  EXPECT_THAT(log, Not(HasSubstr("Sadeghi")));
}

}  // namespace
}  // namespace kim::test
