#include "sessions/sessions.hpp"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

#include "audit/audit_log.hpp"
#include "auth/access.hpp"
#include "domain/env.hpp"
#include "domain/route_support.hpp"
#include "domain/validation.hpp"
#include "http/router.hpp"
#include "text/ascii.hpp"

namespace kim::sessions {

using domain::Problem;
using domain::Reply;
using nlohmann::json;

namespace {

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso_seconds(std::int64_t seconds) {
  std::time_t time = seconds;
  std::tm utc{};
  gmtime_r(&time, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

// 256 random bits as 64 hex digits (cookies, invite and CSRF tokens).
std::string random_hex() {
  unsigned char bytes[32];
  domain::Env::system().random_bytes(bytes, sizeof bytes);
  return text::to_hex(bytes, sizeof bytes);
}

bool is_secret_shape(std::string_view value) {
  return value.size() == 64 && std::all_of(value.begin(), value.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

sdk::HttpResponse problem_response(const Problem& problem) {
  return domain::to_response(problem);
}

sdk::HttpResponse too_many(int wait) {
  auto response = sdk::HttpResponse::error(
      429, "too_many_failed_sign_ins",
      "too many failed sign-ins; try again in " + std::to_string(wait) + " s");
  response.headers["retry-after"] = std::to_string(wait);
  return response;
}

json user_json(const sdk::Principal& principal) {
  return {{"id", principal.user_id},
          {"name", principal.user_name},
          {"role", principal.role},
          {"organisation",
           principal.organisation.empty() ? json(nullptr) : json(principal.organisation)}};
}

// The body of a public POST: a JSON object sent as application/json (a cross-site HTML form
// cannot send that type without the browser asking first).
std::optional<Problem> read_json_body(const sdk::HttpRequest& request, json& body) {
  const auto type = text::lower(request.header("content-type"));
  if (!type.starts_with("application/json")) {
    return Problem{415, "unsupported_media_type", "send the body as application/json", {}, nullptr};
  }
  auto parsed = domain::parse_object(request.body, domain::max_json_depth());
  if (!parsed) return parsed.problem();
  body = std::move(parsed.value());
  return std::nullopt;
}

std::optional<std::string> string_field(const json& body, const char* key, std::size_t max_bytes,
                                        std::optional<Problem>& problem) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    if (!problem) problem = Problem::bad_request(key, std::string(key) + " is required");
    return std::nullopt;
  }
  if (it->get_ref<const std::string&>().size() > max_bytes) {
    if (!problem) problem = Problem::bad_request(key, std::string(key) + " is too long");
    return std::nullopt;
  }
  return it->get<std::string>();
}

// libsodium must be initialised once before use (idempotent, thread-safe).
void require_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium could not be initialised");
}

}  // namespace

std::string hash_password(std::string_view password) {
  require_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("password hashing failed (out of memory)");
  }
  return out;
}

bool verify_password(const std::string& encoded, std::string_view password) {
  require_sodium();
  return crypto_pwhash_str_verify(encoded.c_str(), password.data(), password.size()) == 0;
}

std::string password_problem(std::string_view password, std::string_view user_name) {
  if (password.size() > kPasswordMaxBytes) {
    return "the password is longer than " + std::to_string(kPasswordMaxBytes) + " bytes";
  }
  if (!http::valid_utf8(password)) return "the password is not valid UTF-8";
  const auto characters = std::count_if(password.begin(), password.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  });
  if (text::lower(password) == text::lower(user_name))
    return "the password must not be the user name";
  if (characters < 12) return "the password must have at least 12 characters";
  return {};
}

std::string session_cookie(const sdk::HttpRequest& request) {
  const std::string header = request.header("cookie");
  std::string_view rest = header;
  while (!rest.empty()) {
    auto end = rest.find(';');
    auto pair = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ')
      pair.remove_prefix(1);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == kCookieName) {
      return std::string(pair.substr(eq + 1));
    }
  }
  return {};
}

SessionService::SessionService(store::Store& store, events::EventBus& events, domain::Env& env,
                               const config::SessionsConfig& config,
                               std::shared_ptr<spdlog::logger> logger)
    : store_(store),
      tx_(store, events, env),
      config_(config),
      logger_(std::move(logger)),
      per_account_(config.failures_per_account, config.failure_window, 65536),
      per_address_(config.failures_per_address, config.failure_window, 65536) {}

namespace {

// Verified against for unknown users, so timing does not tell whether a name exists. Made at the
// first sign-in, not by every command that builds the routes (Argon2id takes ~0.1 s).
const std::string& dummy_hash() {
  static const std::string hash = hash_password(random_hex());
  return hash;
}

}  // namespace

std::optional<sdk::HttpResponse> SessionService::admit(sdk::HttpRequest& request,
                                                       std::string_view cookie,
                                                       bool public_route) const {
  if (!is_secret_shape(cookie)) return std::nullopt;
  const auto now = now_seconds();
  const auto idle = std::chrono::duration_cast<std::chrono::seconds>(config_.idle_timeout).count();
  auto rows = store_.read([&](store::Connection& db) {
    return db.query(
        "SELECT s.id AS session_id, s.csrf_token, s.last_seen_at, u.id, u.name, u.role, "
        "coalesce(u.organisation_id, 0) AS organisation_id, coalesce(o.slug, '') AS organisation "
        "FROM sessions s JOIN users u ON u.id = s.user_id "
        "LEFT JOIN organisations o ON o.id = u.organisation_id "
        "WHERE s.token_hash = ? AND s.expires_at > ? AND s.last_seen_at > ? "
        "AND u.disabled_at IS NULL",
        {auth::sha256_hex(cookie), now, now - idle});
  });
  if (rows.empty()) return std::nullopt;
  const auto& row = rows.front();
  if (request.method != sdk::HttpMethod::kGet &&
      !same_secret(request.header(kCsrfHeader), row["csrf_token"].get<std::string>())) {
    // A public route (signing in, a plugin's public POST) is answered as for a visitor: the
    // cookie alone never acts for the user across sites.
    if (public_route) return std::nullopt;
    return sdk::HttpResponse::error(403, "csrf_token_invalid",
                                    "a change from the console needs the session's X-CSRF-Token");
  }
  request.principal = sdk::Principal{
      row["id"].get<std::int64_t>(), row["name"].get<std::string>(), row["role"].get<std::string>(),
      row["organisation_id"].get<std::int64_t>(), row["organisation"].get<std::string>()};
  request.headers[kSessionHeader] = std::to_string(row["session_id"].get<std::int64_t>());
  // Idle time counts in minutes: store the last use only when it moved on by a minute.
  if (now - row["last_seen_at"].get<std::int64_t>() >= std::min<std::int64_t>(60, idle / 4)) {
    request.headers[kTouchHeader] = "1";
  }
  return std::nullopt;
}

void SessionService::touch(const sdk::HttpRequest& request) {
  if (request.header(kTouchHeader).empty()) return;
  const std::int64_t id = std::stoll(request.header(kSessionHeader));
  const auto now = now_seconds();
  store_.write_deferred([id, now](store::Connection& db) {
    db.execute("UPDATE sessions SET last_seen_at = ? WHERE id = ?", {now, id});
  });
}

std::string SessionService::cookie_header(const sdk::HttpRequest& request, const std::string& value,
                                          std::int64_t max_age) const {
  std::string cookie = std::string(kCookieName) + "=" + value +
                       "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age);
  if (config_.secure_cookie || config_.public_url.starts_with("https://") ||
      text::lower(request.header("x-forwarded-proto")) == "https") {
    cookie += "; Secure";
  }
  return cookie;
}

sdk::HttpResponse SessionService::sign_in(const sdk::HttpRequest& request) {
  json body;
  if (auto problem = read_json_body(request, body)) return problem_response(*problem);
  std::optional<Problem> problem;
  auto name = string_field(body, "name", 64, problem);
  auto password = string_field(body, "password", kPasswordMaxBytes, problem);
  for (const auto& [key, value] : body.items()) {
    if (key != "name" && key != "password" && !problem) {
      problem = Problem{400, "unknown_field", "unknown field " + key, key, nullptr};
    }
  }
  if (problem) return problem_response(*problem);
  const std::string client = request.header(kClientHeader);
  const std::string account = text::lower(*name);
  // Checked before the password: a throttled guesser learns nothing, valid or not.
  const int wait =
      std::max(per_address_.retry_after(client), per_account_.retry_after("user:" + account));
  if (wait > 0) return too_many(wait);

  auto rows = store_.read([&](store::Connection& db) {
    return db.query(
        "SELECT u.id, u.name, u.role, coalesce(u.organisation_id, 0) AS organisation_id, "
        "coalesce(o.slug, '') AS organisation, p.hash FROM users u "
        "JOIN user_passwords p ON p.user_id = u.id "
        "LEFT JOIN organisations o ON o.id = u.organisation_id "
        "WHERE u.name = ? AND u.disabled_at IS NULL",
        {account});
  });
  const bool known = !rows.empty();
  // An unknown name costs as much as a wrong password, so timing does not tell which.
  const bool ok =
      verify_password(known ? rows[0]["hash"].get<std::string>() : dummy_hash(), *password) &&
      known;
  if (!ok) {
    per_address_.record_failure(client);
    // Unknown names count too: else a 429 after a few tries would tell that an account exists.
    per_account_.record_failure("user:" + account);
    // Never the name or password typed: the account's id when it exists.
    if (known) {
      const std::int64_t user_id = rows[0]["id"];
      logger_->warn("sign-in failed: wrong password for user id {} (request {})", user_id,
                    request.request_id);
      // For the auditors, as a security entry on the account (bounded by the throttle above:
      // a few per account and window). Who tried is not known: nobody signed in.
      const audit::Actor nobody{sdk::Principal{0, "anonymous", "none", 0, ""}, request.request_id};
      store_.write([&](store::Connection& db) {
        audit::append_all(db, nobody, {{"sign_in_failed", "user", std::to_string(user_id), ""}},
                          audit::Kind::kSecurity, "POST /api/v1/session");
      });
    } else {
      logger_->warn("sign-in failed: unknown or disabled user or no password set (request {})",
                    request.request_id);
    }
    return sdk::HttpResponse::error(401, "sign_in_failed", "user name or password is wrong");
  }
  const auto& row = rows[0];
  const sdk::Principal principal{
      row["id"].get<std::int64_t>(), row["name"].get<std::string>(), row["role"].get<std::string>(),
      row["organisation_id"].get<std::int64_t>(), row["organisation"].get<std::string>()};
  const std::string secret = random_hex();
  const std::string csrf = random_hex();
  const auto now = now_seconds();
  const auto lifetime = std::chrono::duration_cast<std::chrono::seconds>(config_.lifetime).count();
  const auto idle = std::chrono::duration_cast<std::chrono::seconds>(config_.idle_timeout).count();
  const std::string replaced = session_cookie(request);
  store_.write([&](store::Connection& db) {
    // Ended sessions say nothing: drop them while we are here.
    db.execute("DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?",
               {now, now - idle});
    // The browser's earlier session ends with the new one (its cookie is overwritten anyway).
    if (is_secret_shape(replaced)) {
      db.execute("DELETE FROM sessions WHERE token_hash = ?", {auth::sha256_hex(replaced)});
    }
    db.execute(
        "INSERT INTO sessions(user_id, token_hash, csrf_token, created_at, last_seen_at, "
        "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        {principal.user_id, auth::sha256_hex(secret), csrf, now, now, now + lifetime});
    audit::append(db, {principal, request.request_id},
                  {"sign_in", "user", std::to_string(principal.user_id), ""});
  });
  logger_->info("user id {} signed in (request {})", principal.user_id, request.request_id);
  auto response = sdk::HttpResponse::json(200, {{"user", user_json(principal)},
                                                {"csrf_token", csrf},
                                                {"expires_at", iso_seconds(now + lifetime)},
                                                {"idle_timeout_seconds", idle}});
  response.headers["set-cookie"] = cookie_header(request, secret, lifetime);
  return response;
}

sdk::HttpResponse SessionService::current(const sdk::HttpRequest& request) {
  json body = {{"user", user_json(*request.principal)}, {"csrf_token", nullptr}};
  if (!request.header(kSessionHeader).empty()) {
    const std::int64_t id = std::stoll(request.header(kSessionHeader));
    auto rows = store_.read([&](store::Connection& db) {
      return db.query("SELECT csrf_token, expires_at FROM sessions WHERE id = ?", {id});
    });
    if (!rows.empty()) {
      body["csrf_token"] = rows[0]["csrf_token"];
      body["expires_at"] = iso_seconds(rows[0]["expires_at"].get<std::int64_t>());
    }
  }
  return sdk::HttpResponse::json(200, body);
}

sdk::HttpResponse SessionService::sign_out(const sdk::HttpRequest& request) {
  if (request.header(kSessionHeader).empty()) {
    return sdk::HttpResponse::error(409, "no_session",
                                    "signed in with an API token: revoke the token instead");
  }
  const std::int64_t id = std::stoll(request.header(kSessionHeader));
  store_.write([&](store::Connection& db) {
    db.execute("DELETE FROM sessions WHERE id = ?", {id});
    audit::append(db, {*request.principal, request.request_id},
                  {"sign_out", "user", std::to_string(request.principal->user_id), ""});
  });
  logger_->info("user id {} signed out (request {})", request.principal->user_id,
                request.request_id);
  sdk::HttpResponse response;
  response.status = 204;
  response.headers["set-cookie"] = cookie_header(request, "", 0);
  return response;
}

std::string SessionService::invite_path(const std::string& token) {
  return "/#/invite/" + token;
}

domain::Result<Reply> SessionService::invite(const domain::Context& ctx,
                                             const std::string& user_id) {
  std::int64_t id = 0;
  try {
    std::size_t used = 0;
    id = std::stoll(user_id, &used);
    if (used != user_id.size()) id = 0;
  } catch (const std::exception&) {
    id = 0;
  }
  if (id <= 0) return Problem::not_found("user " + user_id);
  const std::string token = random_hex();
  const auto now = now_seconds();
  const auto expires =
      now + std::chrono::duration_cast<std::chrono::seconds>(config_.invite_valid).count();
  return tx_.write(ctx, [&](domain::Change& change) {
    auto users = change.db.query("SELECT id, name, disabled_at FROM users WHERE id = ?", {id});
    if (users.empty()) domain::fail(Problem::not_found("user " + user_id));
    if (!users[0]["disabled_at"].is_null()) {
      domain::fail(Problem::conflict("user_disabled", "the user is disabled; enable it first"));
    }
    // Only the newest link works: an older one may have gone astray.
    change.db.execute(
        "UPDATE user_invites SET expires_at = ? WHERE user_id = ? AND used_at IS NULL AND "
        "expires_at > ?",
        {now, id, now});
    change.db.execute(
        "INSERT INTO user_invites(user_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)",
        {id, auth::sha256_hex(token), now, expires});
    change.audit("invite", "user", std::to_string(id));
    return Reply{201,
                 {{"user_id", id},
                  {"user_name", users[0]["name"]},
                  {"token", token},
                  {"path", invite_path(token)},
                  {"expires_at", iso_seconds(expires)}},
                 std::nullopt};
  });
}

sdk::HttpResponse SessionService::set_password(const sdk::HttpRequest& request) {
  json body;
  if (auto problem = read_json_body(request, body)) return problem_response(*problem);
  std::optional<Problem> problem;
  auto password = string_field(body, "password", kPasswordMaxBytes, problem);
  for (const auto& [key, value] : body.items()) {
    if (key != "password" && !problem) {
      problem = Problem{400, "unknown_field", "unknown field " + key, key, nullptr};
    }
  }
  if (problem) return problem_response(*problem);
  const auto invalid = Problem{404,
                               "invite_invalid",
                               "the invite link is unknown, used or expired; ask your admin "
                               "for a new one",
                               {},
                               nullptr};
  const std::string token = request.path_params.at("token");
  if (!is_secret_shape(token)) return problem_response(invalid);
  const std::string hash = auth::sha256_hex(token);
  const auto now = now_seconds();
  const std::string valid_sql =
      "SELECT i.id, u.id AS user_id, u.name, u.role, coalesce(u.organisation_id, 0) AS "
      "organisation_id FROM user_invites i JOIN users u ON u.id = i.user_id "
      "WHERE i.token_hash = ? AND i.used_at IS NULL AND i.expires_at > ? AND u.disabled_at IS NULL";
  auto rows = store_.read([&](store::Connection& db) { return db.query(valid_sql, {hash, now}); });
  if (rows.empty()) return problem_response(invalid);
  const std::string user_name = rows[0]["name"].get<std::string>();
  if (auto reason = password_problem(*password, user_name); !reason.empty()) {
    return problem_response(Problem{400, "weak_password", reason, "password", nullptr});
  }
  // Hashed outside the writer's transaction: Argon2 takes its time and memory on purpose.
  const std::string encoded = hash_password(*password);
  const domain::Context ctx{
      audit::Actor{sdk::Principal{rows[0]["user_id"].get<std::int64_t>(), user_name,
                                  rows[0]["role"].get<std::string>(),
                                  rows[0]["organisation_id"].get<std::int64_t>(), ""},
                   request.request_id},
      std::nullopt};
  auto result = tx_.write(ctx, [&](domain::Change& change) {
    auto again = change.db.query(valid_sql, {hash, now});
    if (again.empty()) domain::fail(invalid);  // used by a concurrent request meanwhile
    const auto user_id = again[0]["user_id"].get<std::int64_t>();
    change.db.execute(
        "INSERT INTO user_passwords(user_id, hash, set_at) VALUES (?, ?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET hash = excluded.hash, set_at = excluded.set_at",
        {user_id, encoded, change.env.timestamp()});
    change.db.execute("UPDATE user_invites SET used_at = ? WHERE id = ?",
                      {now, again[0]["id"].get<std::int64_t>()});
    // A new password ends every session signed in with the old one.
    change.db.execute("DELETE FROM sessions WHERE user_id = ?", {user_id});
    change.audit("set_password", "user", std::to_string(user_id));
    return Reply{200, {{"user", user_name}, {"password_set", true}}, std::nullopt};
  });
  return domain::respond(result);
}

void SessionService::register_routes(http::Router& router, http::ApiDocs& docs) {
  using sdk::HttpMethod;
  docs.describe(HttpMethod::kPost, "/api/v1/session",
                {"Sign in to the console: {name, password} sets the session cookie and returns "
                 "the CSRF token (no bearer token; throttled per account and address)",
                 "sessions", json{{"name", "c.meyer"}, {"password", "…"}}});
  docs.describe(HttpMethod::kGet, "/api/v1/session",
                {"The signed-in user and the session's CSRF token", "sessions", nullptr});
  docs.describe(HttpMethod::kDelete, "/api/v1/session",
                {"Sign out: ends the session on the server", "sessions", nullptr});
  docs.describe(HttpMethod::kPost, "/api/v1/invites/{token}/password",
                {"Set one's password with a one-time invite (no bearer token)", "sessions",
                 json{{"password", "…"}}});
  docs.describe(HttpMethod::kPost, "/api/v1/users/{id}/invite",
                {"Create a one-time invite link for a user to set a password (admin)",
                 "administration", json::object()});
  router.add({HttpMethod::kPost, "/api/v1/session",
              [this](const sdk::HttpRequest& request) { return sign_in(request); },
              sdk::RouteOptions::public_access(), "host"});
  router.add({HttpMethod::kGet, "/api/v1/session",
              [this](const sdk::HttpRequest& request) { return current(request); },
              sdk::RouteOptions::authenticated(), "host"});
  router.add({HttpMethod::kDelete, "/api/v1/session",
              [this](const sdk::HttpRequest& request) { return sign_out(request); },
              sdk::RouteOptions::authenticated(), "host"});
  router.add({HttpMethod::kPost, "/api/v1/invites/{token}/password",
              [this](const sdk::HttpRequest& request) { return set_password(request); },
              sdk::RouteOptions::public_access(), "host"});
  router.add({HttpMethod::kPost, "/api/v1/users/{id}/invite",
              [this](const sdk::HttpRequest& request) {
                auto ctx = domain::context_of(request);
                if (!ctx) return domain::to_response(ctx.problem());
                return domain::respond(invite(ctx.value(), request.path_params.at("id")));
              },
              sdk::RouteOptions::for_roles({"admin"}), "host"});
}

}  // namespace kim::sessions
