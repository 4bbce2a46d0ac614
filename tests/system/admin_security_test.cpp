// Token revocation and user disabling over the admin API and the CLI (issue 9, item 8), refused
// accesses as security events for auditors (item 12), the size of the audit trail per listed
// item (item 13), and the user API's 409 for a taken name (item 15): the real kim over HTTP.
#include <sqlite3.h>

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "audit/security_log.hpp"
#include "store/sqlite.hpp"
#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/shared_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// Every entry of the audit trail the auditor sees for `query` (all pages).
json audit_entries(const KimHost& host, const std::string& query = "") {
  json all = json::array();
  std::string cursor;
  auto client = host.client();
  for (int page = 0; page < 100; ++page) {
    std::string target = "/api/v1/audit?limit=1000" + query;
    if (!cursor.empty()) target += "&cursor=" + cursor;
    auto response = client.get(target, host.token("auditor"));
    EXPECT_EQ(response.status, 200) << target << ": " << response.body;
    if (response.status != 200) break;
    const json body = response.json();
    for (const auto& item : body["items"])
      all.push_back(item);
    if (!body.contains("next_cursor")) break;
    cursor = body["next_cursor"];
  }
  return all;
}

// Entries by `user_name` with `action` (and object type, when given).
std::vector<json> entries_of(const json& entries, const std::string& user_name,
                             const std::string& action, const std::string& object_type = "") {
  std::vector<json> found;
  for (const auto& entry : entries) {
    if (entry["user_name"] == user_name && entry["action"] == action &&
        (object_type.empty() || entry["object_type"] == object_type)) {
      found.push_back(entry);
    }
  }
  return found;
}

bool has_entry(const json& entries, const std::string& user_name, const std::string& action,
               const std::string& object_type, const std::string& object_id) {
  for (const auto& entry : entries_of(entries, user_name, action, object_type)) {
    if (entry["object_id"] == object_id) return true;
  }
  return false;
}

json tokens_of(const KimHost& host, std::int64_t user_id) {
  auto response = host.client().get("/api/v1/users/" + std::to_string(user_id) + "/tokens",
                                    host.token("admin"));
  EXPECT_EQ(response.status, 200) << response.body;
  return response.status == 200 ? response.json()["items"] : json();
}

json users(const KimHost& host) {
  auto response = host.client().get("/api/v1/users", host.token("admin"));
  EXPECT_EQ(response.status, 200) << response.body;
  return response.status == 200 ? response.json()["items"] : json();
}

struct NewUser {
  std::int64_t id = 0;
  std::int64_t token_id = 0;
  std::string token;
};

NewUser create_user(const KimHost& host, const std::string& name) {
  auto response = host.client().post(
      "/api/v1/users",
      {{"name", name}, {"role", "case_manager"}, {"organisation", "caritas-rheine"}},
      host.token("admin"));
  EXPECT_EQ(response.status, 201) << response.body;
  if (response.status != 201) return {};
  const json body = response.json();
  return {body["id"], body["token_id"], body["token"]};
}

int status_with(const KimHost& host, const std::string& token) {
  return host.client().get("/api/v1/cases", token).status;
}

// ---- item 8: revocation and disabling ------------------------------------------------------

class TokenRevocationTest : public SharedHost<> {};

TEST_F(TokenRevocationTest, RevokedTokenAnswers401OnTheNextRequestAndOnlyAnAdminRevokes) {
  auto& host = *host_;
  auto client = host.client();
  const auto user = create_user(host, "cm-revoke");
  ASSERT_FALSE(user.token.empty());
  EXPECT_EQ(status_with(host, user.token), 200);
  const std::string revoke = "/api/v1/tokens/" + std::to_string(user.token_id) + "/revoke";

  // Nobody but an admin revokes; nothing changes then.
  for (const std::string other : {"cm-rheine-1", "co-kreis", "auditor", "officer"}) {
    SCOPED_TRACE(other);
    auto refused = client.post(revoke, json::object(), host.token(other));
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(code_of(refused), "forbidden");
  }
  auto own = client.post(revoke, json::object(), user.token);
  EXPECT_EQ(own.status, 403) << own.body;
  EXPECT_EQ(tokens_of(host, user.id)[0]["revoked_at"], nullptr);
  EXPECT_EQ(status_with(host, user.token), 200);

  // Unknown ids.
  EXPECT_EQ(client.post("/api/v1/tokens/999999/revoke", json::object(), host.token("admin")).status,
            404);
  EXPECT_EQ(client.post("/api/v1/tokens/abc/revoke", json::object(), host.token("admin")).status,
            404);

  auto revoked = client.post(revoke, json::object(), host.token("admin"));
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_FALSE(revoked.json()["revoked_at"].is_null());
  // At once: the very next request.
  auto after = client.get("/api/v1/cases", user.token);
  EXPECT_EQ(after.status, 401) << after.body;
  EXPECT_EQ(code_of(after), "unauthenticated");
  auto again = client.post(revoke, json::object(), host.token("admin"));
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(code_of(again), "already_revoked");

  // Each step is in the trail, by the admin.
  const auto trail = audit_entries(host);
  EXPECT_TRUE(has_entry(trail, "admin", "create", "user", std::to_string(user.id)));
  EXPECT_TRUE(has_entry(trail, "admin", "create", "token", std::to_string(user.token_id)));
  EXPECT_TRUE(has_entry(trail, "admin", "revoke", "token", std::to_string(user.token_id)));
  EXPECT_EQ(entries_of(trail, "admin", "revoke", "token").size(), 1u) << "the 409 wrote nothing";
  // The refused attempts are security events of their callers.
  EXPECT_TRUE(has_entry(trail, "cm-rheine-1", "refused", "route", "/api/v1/tokens/{id}/revoke"));
}

TEST_F(TokenRevocationTest, DisabledUsersTokensStopWorkingUntilEnabled) {
  auto& host = *host_;
  auto client = host.client();
  const auto user = create_user(host, "cm-disable");
  ASSERT_FALSE(user.token.empty());
  const std::string base = "/api/v1/users/" + std::to_string(user.id);
  // A second token only through the explicit route.
  auto second = client.post(base + "/tokens", {{"label", "laptop"}}, host.token("admin"));
  ASSERT_EQ(second.status, 201) << second.body;
  const std::string second_token = second.json()["token"];
  EXPECT_EQ(status_with(host, user.token), 200);
  EXPECT_EQ(status_with(host, second_token), 200);
  EXPECT_EQ(tokens_of(host, user.id).size(), 2u);

  auto refused = client.post(base + "/disable", json::object(), host.token("co-kreis"));
  EXPECT_EQ(refused.status, 403) << refused.body;
  auto refused_token = client.post(base + "/tokens", json::object(), host.token("cm-rheine-1"));
  EXPECT_EQ(refused_token.status, 403) << refused_token.body;
  EXPECT_EQ(tokens_of(host, user.id).size(), 2u);
  EXPECT_EQ(status_with(host, user.token), 200);

  auto disabled = client.post(base + "/disable", json::object(), host.token("admin"));
  ASSERT_EQ(disabled.status, 200) << disabled.body;
  EXPECT_FALSE(disabled.json()["disabled_at"].is_null());
  EXPECT_EQ(status_with(host, user.token), 401);
  EXPECT_EQ(status_with(host, second_token), 401);
  EXPECT_EQ(client.post(base + "/disable", json::object(), host.token("admin")).status, 409);
  // No new token for a disabled user.
  auto no_token = client.post(base + "/tokens", json::object(), host.token("admin"));
  EXPECT_EQ(no_token.status, 409) << no_token.body;
  EXPECT_EQ(tokens_of(host, user.id).size(), 2u);

  auto enabled = client.post(base + "/enable", json::object(), host.token("admin"));
  ASSERT_EQ(enabled.status, 200) << enabled.body;
  EXPECT_EQ(status_with(host, user.token), 200);
  EXPECT_EQ(status_with(host, second_token), 200);

  // The last enabled admin stays.
  std::int64_t admin_id = 0;
  for (const auto& item : users(host))
    if (item["name"] == "admin") admin_id = item["id"];
  auto last = client.post("/api/v1/users/" + std::to_string(admin_id) + "/disable", json::object(),
                          host.token("admin"));
  EXPECT_EQ(last.status, 409) << last.body;
  EXPECT_EQ(code_of(last), "last_admin");
  EXPECT_EQ(status_with(host, host.token("admin")), 403) << "admin still authenticates";

  const auto trail = audit_entries(host);
  const auto id = std::to_string(user.id);
  EXPECT_TRUE(has_entry(trail, "admin", "create", "token",
                        std::to_string(second.json()["id"].get<std::int64_t>())));
  EXPECT_TRUE(has_entry(trail, "admin", "disable", "user", id));
  EXPECT_TRUE(has_entry(trail, "admin", "enable", "user", id));
  EXPECT_EQ(entries_of(trail, "admin", "disable", "user").size(), 1u);
}

TEST_F(TokenRevocationTest, TakenNameIsRefusedWithoutASecondToken) {
  auto& host = *host_;
  auto client = host.client();
  const auto user = create_user(host, "cm-taken");
  ASSERT_FALSE(user.token.empty());
  for (const json& body :
       {json{{"name", "cm-taken"}, {"role", "case_manager"}, {"organisation", "caritas-rheine"}},
        json{{"name", "cm-taken"}, {"role", "auditor"}}}) {
    auto again = client.post("/api/v1/users", body, host.token("admin"));
    EXPECT_EQ(again.status, 409) << again.body;
    EXPECT_EQ(code_of(again), "user_exists");
    EXPECT_EQ(error_of(again)["details"]["id"], user.id);
    EXPECT_FALSE(again.json().contains("token"));
  }
  EXPECT_EQ(tokens_of(host, user.id).size(), 1u);
}

TEST_F(TokenRevocationTest, CliRevokesAndDisablesWhileTheHostServes) {
  auto& host = *host_;
  const auto user = create_user(host, "cm-cli");
  ASSERT_FALSE(user.token.empty());
  EXPECT_EQ(status_with(host, user.token), 200);
  const std::string data_dir = (host.dir() / "data").string();
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--config", host.config_path(), "--data-dir", data_dir});
    return run_command(KIM_BINARY, args);
  };

  auto listed = cli({"token", "list", "--user", "cm-cli"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr(user.token.substr(0, 8)));
  EXPECT_THAT(listed.out, ::testing::Not(HasSubstr(user.token)));

  // A second token from the CLI, in the host's data folder.
  auto created = cli(
      {"token", "create", "--user", "cm-cli", "--role", "case_manager", "--org", "caritas-rheine"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string cli_token = created.out.substr(0, created.out.find('\n'));
  EXPECT_EQ(status_with(host, cli_token), 200);

  auto unknown = cli({"token", "revoke", "--id", "999999"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("not found"));

  auto revoked = cli({"token", "revoke", "--id", std::to_string(user.token_id)});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_EQ(status_with(host, user.token), 401);
  EXPECT_EQ(status_with(host, cli_token), 200);

  auto disabled = cli({"user", "disable", "--user", "cm-cli"});
  ASSERT_EQ(disabled.exit_code, 0) << disabled.err;
  // The token was cached by the host: a write (authenticated before its body) and a read
  // (confirmed in its own snapshot) are both refused at once.
  EXPECT_EQ(host.client().post("/api/v1/persons", json::object(), cli_token).status, 401);
  EXPECT_EQ(status_with(host, cli_token), 401);
  auto nobody = cli({"user", "disable", "--user", "no-such-user"});
  EXPECT_EQ(nobody.exit_code, 2);
  auto enabled = cli({"user", "enable", "--user", "cm-cli"});
  ASSERT_EQ(enabled.exit_code, 0) << enabled.err;
  EXPECT_EQ(status_with(host, cli_token), 200);
  EXPECT_EQ(status_with(host, user.token), 401) << "a revoked token stays revoked";

  const auto trail = audit_entries(host);
  EXPECT_TRUE(has_entry(trail, "cli", "revoke", "token", std::to_string(user.token_id)));
  EXPECT_TRUE(has_entry(trail, "cli", "disable", "user", std::to_string(user.id)));
  EXPECT_TRUE(has_entry(trail, "cli", "enable", "user", std::to_string(user.id)));
}

// ---- item 12: refused accesses --------------------------------------------------------------

class RefusalAuditTest : public SharedHost<> {};

TEST_F(RefusalAuditTest, ProbingAnotherOrganisationsCasesLeavesSecurityEntriesForAuditorsOnly) {
  auto& host = *host_;
  auto client = host.client();
  const auto person = host.create_person("cm-rheine-1");
  const auto opened = host.open_case("cm-rheine-1", person["id"]);
  ASSERT_TRUE(opened.contains("id"));
  const std::string case_id = opened["id"];
  const std::string person_id = person["id"];
  const auto& prober = host.token("cm-greven");

  // The prober's answers are the same for another organisation's case and for no case at all.
  auto seen = client.get("/api/v1/cases/" + case_id, prober);
  auto none = client.get("/api/v1/cases/cas_does_not_exist", prober);
  EXPECT_EQ(seen.status, 404);
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(code_of(seen), code_of(none));
  EXPECT_EQ(seen.body.find("security"), std::string::npos);
  // A write: its transaction rolls back, the refusal is written apart from it.
  auto note =
      client.post("/api/v1/cases/" + case_id + "/notes",
                  {{"occurred_on", date_in_days(0)}, {"kind", "contact"}, {"text", "x"}}, prober);
  EXPECT_EQ(note.status, 404) << note.body;
  auto read_person = client.get("/api/v1/persons/" + person_id, prober);
  EXPECT_EQ(read_person.status, 404);
  // A role refusal.
  auto users_route = client.get("/api/v1/users", prober);
  EXPECT_EQ(users_route.status, 403);
  // The caller cannot read the trail.
  EXPECT_EQ(client.get("/api/v1/audit?kind=security", prober).status, 403);

  const auto security = audit_entries(host, "&kind=security");
  auto by_request = [&](const HttpResult& response) {
    json found = json::array();
    for (const auto& entry : security)
      if (entry["request_id"] == response.headers.at("x-request-id")) found.push_back(entry);
    return found;
  };
  struct Expected {
    const HttpResult& response;
    std::string object_type, object_id, route;
  };
  const std::vector<Expected> expected = {
      {seen, "case", case_id, "GET /api/v1/cases/" + case_id},
      {none, "case", "cas_does_not_exist", "GET /api/v1/cases/cas_does_not_exist"},
      {note, "case", case_id, "POST /api/v1/cases/" + case_id + "/notes"},
      {read_person, "person", person_id, "GET /api/v1/persons/" + person_id},
      {users_route, "route", "/api/v1/users", "GET /api/v1/users"},
  };
  for (const auto& e : expected) {
    SCOPED_TRACE(e.route);
    const auto found = by_request(e.response);
    ASSERT_EQ(found.size(), 1u) << security.dump();
    EXPECT_EQ(found[0]["kind"], "security");
    EXPECT_EQ(found[0]["action"], "refused");
    EXPECT_EQ(found[0]["user_name"], "cm-greven");
    EXPECT_EQ(found[0]["role"], "case_manager");
    EXPECT_EQ(found[0]["object_type"], e.object_type);
    EXPECT_EQ(found[0]["object_id"], e.object_id);
    EXPECT_EQ(found[0]["route"], e.route);
    EXPECT_FALSE(found[0]["at"].get<std::string>().empty());
  }
  // Probes of a case are found with the case; access entries are not security entries.
  const auto of_case = audit_entries(host, "&case_id=" + case_id);
  EXPECT_EQ(entries_of(of_case, "cm-greven", "refused", "case").size(), 2u);
  for (const auto& entry : audit_entries(host, "&kind=access"))
    EXPECT_EQ(entry["kind"], "access");
  EXPECT_TRUE(entries_of(audit_entries(host, "&kind=access"), "cm-greven", "refused").empty());
  auto bad_kind = client.get("/api/v1/audit?kind=everything", host.token("auditor"));
  EXPECT_EQ(bad_kind.status, 400);
  // The case itself is unchanged by the refused note.
  auto read = client.get("/api/v1/cases/" + case_id, host.token("cm-rheine-1"));
  EXPECT_EQ(read.json()["version"], opened["version"]);
}

TEST_F(RefusalAuditTest, RefusalsOfOnePrincipalAreCappedAndTheRestCounted) {
  auto& host = *host_;
  auto client = host.client();
  const int probes = audit::kSecurityEntriesPerMinute + 5;
  const auto before =
      entries_of(audit_entries(host, "&kind=security"), "cm-emsdetten-1", "refused");
  ASSERT_TRUE(before.empty());
  for (int i = 0; i < probes; ++i) {
    auto response =
        client.get("/api/v1/cases/cas_probe_" + std::to_string(i), host.token("cm-emsdetten-1"));
    EXPECT_EQ(response.status, 404);
  }
  // Another principal is not affected by the first one's flood.
  EXPECT_EQ(client.get("/api/v1/cases/cas_other", host.token("cm-emsdetten-2")).status, 404);
  auto security = audit_entries(host, "&kind=security");
  EXPECT_EQ(entries_of(security, "cm-emsdetten-1", "refused").size(),
            static_cast<std::size_t>(audit::kSecurityEntriesPerMinute));
  EXPECT_EQ(entries_of(security, "cm-emsdetten-2", "refused").size(), 1u);
  EXPECT_TRUE(entries_of(security, "cm-emsdetten-1", "suppressed").empty());

  // The count of the rest is written when the minute ends, at the latest when the host stops.
  ASSERT_TRUE(host.restart());
  security = audit_entries(host, "&kind=security");
  const auto counted = entries_of(security, "cm-emsdetten-1", "suppressed", "refusal");
  ASSERT_EQ(counted.size(), 1u) << security.dump();
  EXPECT_EQ(counted[0]["object_id"], "5");
  EXPECT_EQ(entries_of(security, "cm-emsdetten-1", "refused").size(),
            static_cast<std::size_t>(audit::kSecurityEntriesPerMinute));
}

// ---- item 13: size of the trail ---------------------------------------------------------------

TEST(AuditVolumeTest, AListPageOfFiftyCasesAddsAFewBytesPerCase) {
  KimHost host;
  for (int i = 0; i < 50; ++i) {
    auto person = host.create_person(
        "cm-emsdetten-1",
        {{"family_name", "Volumen" + std::string(1, 'a' + i % 26) + std::string(1, 'a' + i / 26)}});
    host.open_case("cm-emsdetten-1", person["id"]);
  }
  ASSERT_FALSE(::testing::Test::HasFailure()) << "setup failed";
  auto client = host.client();
  const auto& token = host.token("cm-emsdetten-1");
  // The first page creates the audit objects of the 50 cases once; later pages add items only.
  ASSERT_EQ(client.get("/api/v1/cases?limit=50", token).status, 200);
  auto bytes = [&] {
    auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
    return db.query("PRAGMA page_count")[0]["page_count"].get<std::int64_t>() *
           db.query("PRAGMA page_size")[0]["page_size"].get<std::int64_t>();
  };
  const auto before = bytes();
  constexpr int kPages = 100;
  for (int i = 0; i < kPages; ++i) {
    auto response = client.get("/api/v1/cases?limit=50", token);
    ASSERT_EQ(response.status, 200);
    ASSERT_EQ(response.json()["items"].size(), 50u);
  }
  const double per_request = static_cast<double>(bytes() - before) / kPages;
  std::cout << "audit growth: " << per_request << " bytes per list request of 50 cases ("
            << per_request / 50 << " per case)\n";
  RecordProperty("bytes_per_list_request", std::to_string(per_request));
  // One row per listed case stays (the legal record), in about 1/5 of the former 12 KB.
  EXPECT_LT(per_request, 3000.0);
  // Still one entry per case and request.
  std::int64_t user_id = 0;
  for (const auto& item : users(host))
    if (item["name"] == "cm-emsdetten-1") user_id = item["id"];
  auto entries = audit_entries(host, "&user_id=" + std::to_string(user_id));
  EXPECT_EQ(entries_of(entries, "cm-emsdetten-1", "list", "case").size(), 50u * (kPages + 1));
}

}  // namespace
}  // namespace kim::test
