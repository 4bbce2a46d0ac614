// The web console's sign-in (issue 13): invites, passwords, session cookies, CSRF, the sign-in
// throttle and the console's static files with their headers — the real kim over loopback HTTP.
#include <sqlite3.h>

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/sqlite.hpp"
#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/paths.hpp"
#include "support/shared_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kPassword = "Kaffee-und-Kuchen-42";

class ConsoleSessionTest : public SharedHost<> {
 protected:
  // An invite for `user` made by the admin; its token.
  std::string invite(const std::string& user) {
    auto client = host_->client();
    auto response = client.post("/api/v1/users/" + std::to_string(host_->user_id(user)) + "/invite",
                                json::object(), host_->token("admin"));
    EXPECT_EQ(response.status, 201) << response.body;
    if (response.status != 201) return {};
    const auto body = response.json();
    EXPECT_EQ(body["path"], "/#/invite/" + body["token"].get<std::string>());
    return body["token"];
  }

  HttpResult set_password(const std::string& token, const std::string& password) {
    auto client = host_->client();
    return client.post("/api/v1/invites/" + token + "/password", {{"password", password}});
  }

  HttpResult sign_in(const std::string& user, const std::string& password) {
    auto client = host_->client();
    return client.post("/api/v1/session", {{"name", user}, {"password", password}});
  }

  struct Session {
    std::string cookie;  // "kim_session=…"
    std::string csrf;
  };

  // Invite, set the password, sign in.
  Session signed_in(const std::string& user) {
    EXPECT_EQ(set_password(invite(user), kPassword).status, 200);
    auto response = sign_in(user, kPassword);
    EXPECT_EQ(response.status, 200) << response.body;
    if (response.status != 200) return {};
    const auto& set_cookie = response.headers["set-cookie"];
    return {set_cookie.substr(0, set_cookie.find(';')), response.json()["csrf_token"]};
  }

  HttpResult with_cookie(const std::string& method, const std::string& target,
                         const Session& session, const std::string& body = {}, bool csrf = true) {
    std::map<std::string, std::string> headers = {{"cookie", "theme=dark; " + session.cookie}};
    if (csrf) headers["x-csrf-token"] = session.csrf;
    auto client = host_->client();
    return client.request(method, target, body, {}, headers);
  }
};

json person(const std::string& family_name) {
  return {{"given_names", "Samira"},
          {"family_name", family_name},
          {"date_of_birth", "1991-04-12"},
          {"town", "Rheine"},
          {"residence_status", "residence_permit"}};
}

TEST_F(ConsoleSessionTest, InviteSetsPasswordOnceThenTheCookieActsAsTheUser) {
  const auto token = invite("cm-rheine-1");
  ASSERT_EQ(token.size(), 64u);
  // Before a password is set, nobody signs in as the user.
  EXPECT_EQ(sign_in("cm-rheine-1", kPassword).status, 401);

  auto short_one = set_password(token, "kurz");
  EXPECT_EQ(short_one.status, 400);
  EXPECT_EQ(short_one.json()["error"]["code"], "weak_password");
  EXPECT_EQ(short_one.json()["error"]["field"], "password");
  auto own_name = set_password(token, "CM-RHEINE-1");
  EXPECT_EQ(own_name.status, 400);
  EXPECT_THAT(own_name.json()["error"]["message"].get<std::string>(), HasSubstr("user name"));
  // Refused passwords changed nothing: no sign-in, and the invite still works.
  EXPECT_EQ(sign_in("cm-rheine-1", "CM-RHEINE-1").status, 401);
  ASSERT_EQ(set_password(token, kPassword).status, 200);
  // Once only.
  auto again = set_password(token, "Noch-ein-Passwort-99");
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.json()["error"]["code"], "invite_invalid");
  EXPECT_EQ(sign_in("cm-rheine-1", "Noch-ein-Passwort-99").status, 401);

  // Only JSON: a cross-site HTML form cannot send it without the browser asking first.
  auto form_post =
      host_->client().request("POST", "/api/v1/session", {}, {}, {{"content-type", "text/plain"}});
  EXPECT_EQ(form_post.status, 415);
  EXPECT_EQ(form_post.headers.count("set-cookie"), 0u);

  auto wrong = sign_in("cm-rheine-1", "Falsches-Passwort-1");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.json()["error"]["code"], "sign_in_failed");
  EXPECT_EQ(wrong.headers.count("set-cookie"), 0u);
  EXPECT_THAT(host_->log(), Not(HasSubstr("Falsches-Passwort-1")));

  auto ok = sign_in("cm-rheine-1", kPassword);
  ASSERT_EQ(ok.status, 200) << ok.body;
  const auto& cookie = ok.headers["set-cookie"];
  EXPECT_THAT(cookie, HasSubstr("kim_session="));
  EXPECT_THAT(cookie, HasSubstr("HttpOnly"));
  EXPECT_THAT(cookie, HasSubstr("SameSite=Strict"));
  EXPECT_THAT(cookie, HasSubstr("Path=/"));
  EXPECT_THAT(cookie, Not(HasSubstr("Secure")));  // plain HTTP without a TLS proxy
  EXPECT_EQ(ok.json()["user"]["name"], "cm-rheine-1");
  EXPECT_EQ(ok.json()["user"]["role"], "case_manager");
  EXPECT_EQ(ok.json()["csrf_token"].get<std::string>().size(), 64u);
  EXPECT_THAT(host_->log(), Not(HasSubstr(kPassword)));

  const Session session{cookie.substr(0, cookie.find(';')), ok.json()["csrf_token"]};
  auto me = with_cookie("GET", "/api/v1/session", session);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.json()["csrf_token"], session.csrf);
  // The same routes and policy as the user's token: their caseload, not another organisation's.
  auto cases = with_cookie("GET", "/api/v1/cases", session);
  EXPECT_EQ(cases.status, 200) << cases.body;
  auto by_token = host_->client().get("/api/v1/cases", host_->token("cm-rheine-1"));
  EXPECT_EQ(cases.json()["items"], by_token.json()["items"]);
  EXPECT_EQ(with_cookie("GET", "/api/v1/users", session).status, 403);
  // A different Secure flag behind a TLS proxy.
  auto client = host_->client();
  auto proxied = client.request("POST", "/api/v1/session",
                                json{{"name", "cm-rheine-1"}, {"password", kPassword}}.dump(), {},
                                {{"x-forwarded-proto", "https"}});
  EXPECT_THAT(proxied.headers["set-cookie"], HasSubstr("; Secure"));

  // Signing in again from the same browser ends the session it had.
  auto again_in = client.request("POST", "/api/v1/session",
                                 json{{"name", "cm-rheine-1"}, {"password", kPassword}}.dump(), {},
                                 {{"cookie", session.cookie}});
  ASSERT_EQ(again_in.status, 200);
  EXPECT_EQ(with_cookie("GET", "/api/v1/session", session).status, 401);
}

TEST_F(ConsoleSessionTest, ChangesByCookieNeedTheCsrfTokenBearerTokensDoNot) {
  const auto session = signed_in("cm-rheine-2");
  const auto body = person("Csrf-Probe").dump();
  auto missing = with_cookie("POST", "/api/v1/persons", session, body, false);
  EXPECT_EQ(missing.status, 403);
  EXPECT_EQ(missing.json()["error"]["code"], "csrf_token_invalid");
  Session forged = session;
  forged.csrf = std::string(64, 'a');
  EXPECT_EQ(with_cookie("POST", "/api/v1/persons", forged, body).status, 403);
  // Nothing was written: the same person is new (201, not a 409 possible_duplicate).
  auto created = with_cookie("POST", "/api/v1/persons", session, body);
  EXPECT_EQ(created.status, 201) << created.body;
  // A bearer token needs no CSRF token.
  auto client = host_->client();
  EXPECT_EQ(
      client.post("/api/v1/persons", person("Csrf-Bearer"), host_->token("cm-rheine-2")).status,
      201);
  // Reads need none either.
  EXPECT_EQ(with_cookie("GET", "/api/v1/session", session, {}, false).status, 200);
}

TEST_F(ConsoleSessionTest, SignOutEndsTheSessionOnTheServer) {
  const auto session = signed_in("cm-greven");
  ASSERT_EQ(with_cookie("GET", "/api/v1/cases", session).status, 200);
  EXPECT_EQ(with_cookie("DELETE", "/api/v1/session", session, {}, false).status, 403);
  auto out = with_cookie("DELETE", "/api/v1/session", session);
  EXPECT_EQ(out.status, 204);
  EXPECT_THAT(out.headers["set-cookie"], HasSubstr("Max-Age=0"));
  // The cookie kept (or stolen) after sign-out is refused, with a console's words.
  auto after = with_cookie("GET", "/api/v1/cases", session);
  EXPECT_EQ(after.status, 401);
  EXPECT_THAT(after.json()["error"]["message"].get<std::string>(), HasSubstr("sign in again"));
  EXPECT_THAT(after.json()["error"]["message"].get<std::string>(), Not(HasSubstr("API token")));
  EXPECT_EQ(with_cookie("GET", "/api/v1/session", session).status, 401);
  EXPECT_EQ(with_cookie("POST", "/api/v1/persons", session, person("Nach-Abmeldung").dump()).status,
            401);
}

TEST_F(ConsoleSessionTest, IdleAndDisabledSessionsEnd) {
  const auto session = signed_in("cm-emsdetten-2");
  ASSERT_EQ(with_cookie("GET", "/api/v1/cases", session).status, 200);
  {
    // Unused for longer than sessions.idle_timeout_minutes (30).
    auto db = store::Connection::open(host_->database(), SQLITE_OPEN_READWRITE);
    db.execute("UPDATE sessions SET last_seen_at = last_seen_at - 31 * 60 WHERE user_id = ?",
               {host_->user_id("cm-emsdetten-2")});
  }
  EXPECT_EQ(with_cookie("GET", "/api/v1/cases", session).status, 401);

  auto fresh = sign_in("cm-emsdetten-2", kPassword);
  ASSERT_EQ(fresh.status, 200);
  const Session second{fresh.headers["set-cookie"].substr(0, fresh.headers["set-cookie"].find(';')),
                       fresh.json()["csrf_token"]};
  ASSERT_EQ(with_cookie("GET", "/api/v1/cases", second).status, 200);
  auto client = host_->client();
  const auto id = std::to_string(host_->user_id("cm-emsdetten-2"));
  ASSERT_EQ(
      client.post("/api/v1/users/" + id + "/disable", json::object(), host_->token("admin")).status,
      200);
  EXPECT_EQ(with_cookie("GET", "/api/v1/cases", second).status, 401);
  EXPECT_EQ(sign_in("cm-emsdetten-2", kPassword).status, 401);
  // An invite for a disabled user is refused.
  auto refused =
      client.post("/api/v1/users/" + id + "/invite", json::object(), host_->token("admin"));
  EXPECT_EQ(refused.status, 409);
  ASSERT_EQ(
      client.post("/api/v1/users/" + id + "/enable", json::object(), host_->token("admin")).status,
      200);
  // Disabling ended the sessions: enabling the user again does not bring the cookie back.
  EXPECT_EQ(with_cookie("GET", "/api/v1/cases", second).status, 401);
}

TEST_F(ConsoleSessionTest, SignInsFailedSignInsAndSignOutsAreAudited) {
  const auto session = signed_in("cm-emsdetten-1");
  const auto id = std::to_string(host_->user_id("cm-emsdetten-1"));
  ASSERT_EQ(sign_in("cm-emsdetten-1", "Falsch-aber-lang-genug").status, 401);
  ASSERT_EQ(sign_in("kein-solcher-name", "Falsch-aber-lang-genug").status, 401);
  ASSERT_EQ(with_cookie("DELETE", "/api/v1/session", session).status, 204);
  auto client = host_->client();
  auto actions_of = [&](const std::string& filter) {
    std::vector<std::string> found;
    auto trail = client.get("/api/v1/audit?limit=1000&" + filter, host_->token("auditor"));
    EXPECT_EQ(trail.status, 200) << trail.body;
    const json body = trail.json();
    for (const auto& entry : body["items"]) {
      if (entry["object_type"] == "user" && entry["object_id"] == id) {
        found.push_back(entry["user_name"].get<std::string>() + " " +
                        entry["action"].get<std::string>());
      }
    }
    return found;
  };
  EXPECT_THAT(actions_of("user_id=" + id),
              ::testing::IsSupersetOf({"cm-emsdetten-1 sign_in", "cm-emsdetten-1 sign_out"}));
  // A wrong password is a security entry on the account; nobody is signed in to name.
  EXPECT_THAT(actions_of("kind=security"), ::testing::Contains("anonymous sign_in_failed"));
  // Never the name typed for an unknown account, nor a password.
  auto all = client.get("/api/v1/audit?limit=1000&kind=security", host_->token("auditor"));
  EXPECT_THAT(all.body, Not(HasSubstr("kein-solcher-name")));
  EXPECT_THAT(all.body, Not(HasSubstr("Falsch-aber")));
}

TEST_F(ConsoleSessionTest, WrongPasswordsAreThrottledPerAccount) {
  ASSERT_EQ(set_password(invite("co-rheine"), kPassword).status, 200);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(sign_in("co-rheine", "Falsch-Falsch-" + std::to_string(i)).status, 401);
  }
  // Now even the right password waits, and says how long.
  auto throttled = sign_in("co-rheine", kPassword);
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(throttled.json()["error"]["code"], "too_many_failed_sign_ins");
  EXPECT_FALSE(throttled.headers["retry-after"].empty());
  EXPECT_EQ(throttled.headers.count("set-cookie"), 0u);
  // Other accounts are not affected.
  ASSERT_EQ(set_password(invite("co-kreis"), kPassword).status, 200);
  EXPECT_EQ(sign_in("co-kreis", kPassword).status, 200);
}

TEST_F(ConsoleSessionTest, OnlyAdminsInviteAndInvitesAreSecretAndSingle) {
  auto client = host_->client();
  const auto id = std::to_string(host_->user_id("officer"));
  auto refused =
      client.post("/api/v1/users/" + id + "/invite", json::object(), host_->token("cm-rheine-1"));
  EXPECT_EQ(refused.status, 403);
  {
    auto db = store::Connection::open(host_->database(), SQLITE_OPEN_READONLY);
    EXPECT_TRUE(
        db.query("SELECT 1 FROM user_invites WHERE user_id = ?", {host_->user_id("officer")})
            .empty());
  }
  EXPECT_EQ(
      client.post("/api/v1/users/999999/invite", json::object(), host_->token("admin")).status,
      404);
  // A newer invite voids the older one.
  const auto first = invite("officer");
  const auto second = invite("officer");
  EXPECT_EQ(set_password(first, kPassword).status, 404);
  EXPECT_EQ(set_password("not-a-token", kPassword).status, 404);
  EXPECT_EQ(set_password(second, kPassword).status, 200);
  // Stored hashed only.
  auto db = store::Connection::open(host_->database(), SQLITE_OPEN_READONLY);
  EXPECT_TRUE(db.query("SELECT 1 FROM user_invites WHERE token_hash = ?", {second}).empty());
  auto hash =
      db.query("SELECT hash FROM user_passwords WHERE user_id = ?", {host_->user_id("officer")});
  ASSERT_EQ(hash.size(), 1u);
  EXPECT_THAT(hash[0]["hash"].get<std::string>(), HasSubstr("$argon2id$"));
}

TEST_F(ConsoleSessionTest, CliInvitePrintsAWorkingLink) {
  const std::string data_dir = (host_->dir() / "data").string();
  auto cli = run_command(KIM_BINARY, {"user", "invite", "--config", host_->config_path(),
                                      "--data-dir", data_dir, "--user", "auditor"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  const auto at = cli.out.find("/#/invite/");
  ASSERT_NE(at, std::string::npos) << cli.out;
  EXPECT_EQ(cli.out.rfind("http://127.0.0.1:", 0), 0u) << cli.out;
  const auto token = cli.out.substr(at + 10, 64);
  EXPECT_EQ(set_password(token, kPassword).status, 200);
  EXPECT_EQ(sign_in("auditor", kPassword).status, 200);
  auto unknown = run_command(KIM_BINARY, {"user", "invite", "--config", host_->config_path(),
                                          "--data-dir", data_dir, "--user", "nobody"});
  EXPECT_EQ(unknown.exit_code, 2);
}

TEST_F(ConsoleSessionTest, ConsoleFilesComeWithStrictHeaders) {
  auto client = host_->client();
  auto index = client.get("/");
  ASSERT_EQ(index.status, 200);
  EXPECT_THAT(index.headers["content-type"], HasSubstr("text/html"));
  const auto& csp = index.headers["content-security-policy"];
  EXPECT_THAT(csp, HasSubstr("default-src 'self'"));
  EXPECT_THAT(csp, HasSubstr("script-src 'self'"));
  EXPECT_THAT(csp, Not(HasSubstr("unsafe-inline")));
  EXPECT_THAT(csp, HasSubstr("frame-ancestors 'none'"));
  EXPECT_THAT(csp, HasSubstr("base-uri 'none'"));
  EXPECT_EQ(index.headers["x-content-type-options"], "nosniff");
  EXPECT_EQ(index.headers["referrer-policy"], "no-referrer");
  // No inline script in the page itself.
  EXPECT_THAT(index.body, Not(HasSubstr("<script>")));
  const auto etag = index.headers["etag"];
  ASSERT_FALSE(etag.empty());
  auto again = client.request("GET", "/", {}, {}, {{"if-none-match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());

  auto script = client.get("/console/app.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_THAT(script.headers["content-type"], HasSubstr("text/javascript"));
  auto catalogue = client.get("/console/de.json");
  EXPECT_EQ(catalogue.status, 200);
  EXPECT_NO_THROW((void)catalogue.json());
  EXPECT_EQ(client.get("/console/missing.js").status, 404);
  // The API keeps its own policy: no-store, and a token.
  EXPECT_EQ(client.get("/api/v1/cases").status, 401);
  EXPECT_EQ(client.get("/api/v1/cases").headers["cache-control"], "no-store");
}

// Failed sign-ins from one address, whatever accounts they name: a host of its own, since the
// address (loopback) is every test's.
TEST(ConsoleAddressThrottleTest, FailedSignInsAreThrottledPerAddressAcrossAccounts) {
  KimHost host(json::object(), {{"sessions", {{"failures_per_address", 3}}}});
  auto client = host.client();
  auto invite =
      client.post("/api/v1/users/" + std::to_string(host.user_id("cm-greven")) + "/invite",
                  json::object(), host.token("admin"));
  ASSERT_EQ(invite.status, 201);
  ASSERT_EQ(client
                .post("/api/v1/invites/" + invite.json()["token"].get<std::string>() + "/password",
                      {{"password", kPassword}})
                .status,
            200);
  for (const char* name : {"nobody", "cm-rheine-1", "co-kreis"}) {
    EXPECT_EQ(
        client.post("/api/v1/session", {{"name", name}, {"password", "Falsch-und-lang-1"}}).status,
        401)
        << name;
  }
  auto throttled = client.post("/api/v1/session", {{"name", "cm-greven"}, {"password", kPassword}});
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(throttled.headers.count("set-cookie"), 0u);
  // API tokens are another credential with a throttle of their own.
  EXPECT_EQ(client.get("/api/v1/cases", host.token("cm-greven")).status, 200);
}

// A plugin's route gets the caller, never the caller's credentials or the host's notes; a public
// route of a plugin does not take a cookie without the CSRF token as a signed-in user.
TEST(ConsolePluginRouteTest, PluginsSeeThePrincipalNeverTheCredentials) {
  KimHost host(json::object(), {{"plugins",
                                 {{"directories", {KIM_FIXTURE_PLUGIN_DIR}},
                                  {"settings", {{"echo-headers", {{"enabled", true}}}}}}}});
  auto client = host.client();
  auto invite =
      client.post("/api/v1/users/" + std::to_string(host.user_id("cm-greven")) + "/invite",
                  json::object(), host.token("admin"));
  ASSERT_EQ(invite.status, 201) << invite.body;
  ASSERT_EQ(client
                .post("/api/v1/invites/" + invite.json()["token"].get<std::string>() + "/password",
                      {{"password", kPassword}})
                .status,
            200);
  auto signed_in = client.post("/api/v1/session", {{"name", "cm-greven"}, {"password", kPassword}});
  ASSERT_EQ(signed_in.status, 200) << signed_in.body;
  const auto& set_cookie = signed_in.headers["set-cookie"];
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  const std::string csrf = signed_in.json()["csrf_token"];
  const std::map<std::string, std::string> by_cookie = {{"cookie", cookie}, {"x-csrf-token", csrf}};
  auto names_in = [](const HttpResult& response) {
    std::string names;
    const json body = response.json();
    for (const auto& name : body["headers"])
      names += name.get<std::string>() + " ";
    return names;
  };
  for (const char* method : {"GET", "POST"}) {
    auto seen = client.request(method, "/api/v1/plugins/echo-headers/headers",
                               method == std::string("GET") ? "" : "{}", {}, by_cookie);
    ASSERT_EQ(seen.status, 200) << method << " " << seen.body;
    EXPECT_EQ(seen.json()["user"], "cm-greven");
    for (const char* secret : {"cookie", "x-csrf-token", ":kim"}) {
      EXPECT_THAT(names_in(seen), Not(HasSubstr(secret))) << method;
    }
  }
  auto by_token = client.get("/api/v1/plugins/echo-headers/headers", host.token("cm-greven"));
  ASSERT_EQ(by_token.status, 200) << by_token.body;
  EXPECT_THAT(names_in(by_token), Not(HasSubstr("authorization")));
  // The session is still alive and usable after the plugin's requests.
  EXPECT_EQ(client.request("GET", "/api/v1/session", "", {}, by_cookie).status, 200);

  // A public POST: with the cookie alone (a cross-site form) the plugin sees no user.
  auto cross_site =
      client.request("POST", "/api/v1/plugins/echo-headers/public", "{}", {}, {{"cookie", cookie}});
  ASSERT_EQ(cross_site.status, 200) << cross_site.body;
  EXPECT_TRUE(cross_site.json()["user"].is_null());
  auto same_site =
      client.request("POST", "/api/v1/plugins/echo-headers/public", "{}", {}, by_cookie);
  ASSERT_EQ(same_site.status, 200) << same_site.body;
  EXPECT_EQ(same_site.json()["user"], "cm-greven");
}

}  // namespace
}  // namespace kim::test
