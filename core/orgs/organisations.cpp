#include "orgs/organisations.hpp"

#include <charconv>
#include <regex>

#include "domain/catalog.hpp"
#include "domain/prelude.hpp"
#include "domain/route_support.hpp"
#include "domain/validation.hpp"

namespace kim::orgs {

using namespace domain::prelude;
using sdk::HttpMethod;

namespace {

const char* const kSelect =
    "SELECT o.id, o.slug, o.name, o.kind, o.town, s.slug AS supervisor, o.team_access = 1 AS "
    "team_access, o.created_at FROM organisations o LEFT JOIN organisations s ON s.id = "
    "o.supervisor_id";

const char* const kUserSelect =
    "SELECT u.id, u.name, u.role, coalesce(o.slug, '') AS organisation, u.created_at, "
    "u.disabled_at FROM users u LEFT JOIN organisations o ON o.id = u.organisation_id";

json organisation_json(json row) {
  row["team_access"] = row["team_access"].get<std::int64_t>() == 1;
  return row;
}

// A path id: a positive integer, else the resource is not there (404, as for an unknown id).
std::int64_t numeric_id(const std::string& text, const char* what) {
  std::int64_t id = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc() || end != text.data() + text.size() || id < 1) {
    fail(Problem::not_found(std::string(what) + " " + text));
  }
  return id;
}

json load_user(store::Connection& db, std::int64_t user_id) {
  auto rows = db.query(std::string(kUserSelect) + " WHERE u.id = ?", {user_id});
  if (rows.empty()) fail(Problem::not_found("user " + std::to_string(user_id)));
  return rows.front();
}

std::optional<std::string> optional_label(FieldReader& in) {
  return in.optional_line("label", 100);
}

}  // namespace

Result<json> create_organisation(store::Connection& db, const json& body) {
  FieldReader in(body);
  auto slug = in.line("slug", 63);
  auto name = in.line("name", 200);
  auto kind = in.choice("kind", domain::organisation_kinds());
  auto town = in.optional_line("town", 100);
  auto supervisor = in.optional_line("supervisor", 63);
  auto team_access = in.boolean("team_access", false);
  in.finish();
  if (in.problem()) return *in.problem();
  static const std::regex kSlug("[a-z0-9][a-z0-9-]{1,62}");
  if (!std::regex_match(slug, kSlug)) {
    return Problem::bad_request("slug", "must be 2-63 characters of a-z, 0-9 and '-'");
  }
  if (town && !town->empty() && !domain::contains(domain::towns(), *town)) {
    return Problem::bad_request(
        "town", "is not a town of the county (" + domain::join(domain::towns()) + ")");
  }
  if (!db.query("SELECT 1 FROM organisations WHERE slug = ?", {slug}).empty()) {
    return Problem::conflict("duplicate", "an organisation with slug " + slug + " exists");
  }
  store::SqlValue supervisor_id = nullptr;
  if (supervisor && !supervisor->empty()) {
    auto rows = db.query("SELECT id, kind FROM organisations WHERE slug = ?", {*supervisor});
    if (rows.empty())
      return Problem::bad_request("supervisor", "unknown organisation " + *supervisor);
    if (rows[0]["kind"] != "coordinating_office") {
      return Problem::bad_request("supervisor", "must be a coordinating office");
    }
    supervisor_id = rows[0]["id"].get<std::int64_t>();
  }
  auto id = db.execute(
                  "INSERT INTO organisations(slug, name, kind, town, supervisor_id, team_access) "
                  "VALUES (?,?,?,?,?,?)",
                  {slug, name, *kind, town.value_or(""), supervisor_id,
                   static_cast<std::int64_t>(team_access.value_or(false))})
                .last_insert_rowid;
  return organisation_json(db.query(std::string(kSelect) + " WHERE o.id = ?", {id})[0]);
}

int apply_seeds(store::Store& store, const std::vector<OrganisationSeed>& seeds) {
  return store.write([&](store::Connection& db) {
    int created = 0;
    for (std::size_t i = 0; i < seeds.size(); ++i) {
      const auto& seed = seeds[i];
      if (!db.query("SELECT 1 FROM organisations WHERE slug = ?", {seed.slug}).empty()) continue;
      auto result = create_organisation(db, {{"slug", seed.slug},
                                             {"name", seed.name},
                                             {"kind", seed.kind},
                                             {"town", seed.town},
                                             {"supervisor", seed.supervisor},
                                             {"team_access", seed.team_access}});
      if (!result) {
        throw std::invalid_argument("organisations[" + std::to_string(i) + "]." +
                                    result.problem().field + ": " + result.problem().message);
      }
      ++created;
    }
    return created;
  });
}

Result<Reply> AdminService::list_organisations(const Context& ctx) {
  return tx_.read(ctx, [](store::Connection& db, std::vector<audit::Entry>&) {
    json items = json::array();
    for (auto& row : db.query(std::string(kSelect) + " ORDER BY o.slug"))
      items.push_back(organisation_json(row));
    return Reply{200, {{"items", items}}, std::nullopt};
  });
}

Result<Reply> AdminService::create_organisation(const Context& ctx, const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    auto created = orgs::create_organisation(change.db, body);
    if (!created) fail(created.problem());
    change.audit("create", "organisation",
                 std::to_string(created.value()["id"].get<std::int64_t>()));
    return Reply{201, created.value(), std::nullopt};
  });
}

Result<Reply> AdminService::list_users(const Context& ctx) {
  return tx_.read(ctx, [](store::Connection& db, std::vector<audit::Entry>&) {
    return Reply{
        200, {{"items", db.query(std::string(kUserSelect) + " ORDER BY u.name")}}, std::nullopt};
  });
}

namespace {

// A user with a token, as POST /api/v1/users, `kim token create`, the bootstrap admin and the
// demo seed ask for it: the fields checked once, here.
struct UserGrant {
  std::string name, role, organisation, label;
};

Result<UserGrant> read_grant(const json& body, const char* default_label) {
  FieldReader in(body);
  UserGrant grant;
  grant.name = in.line("name", 64);
  auto role = in.choice("role", auth::known_roles());
  grant.organisation = in.optional_line("organisation", 63).value_or("");
  grant.label = optional_label(in).value_or(default_label);
  in.finish();
  if (in.problem()) return *in.problem();
  if (auto problem = auth::user_name_problem(grant.name); !problem.empty()) {
    return Problem::bad_request("name", problem);
  }
  grant.role = *role;
  if (auth::role_needs_organisation(grant.role) && grant.organisation.empty()) {
    return Problem::bad_request("organisation", "role " + grant.role + " needs an organisation");
  }
  return grant;
}

// Creates the user (or, with `add_to_existing`, takes the existing one of the same role and
// organisation) and a token for it, inside the caller's change; audited.
Reply write_grant(Change& change, const UserGrant& grant, bool add_to_existing) {
  auto& db = change.db;
  store::SqlValue organisation_id = nullptr;
  if (!grant.organisation.empty()) {
    auto found = db.query("SELECT id FROM organisations WHERE slug = ?", {grant.organisation});
    if (found.empty()) {
      std::string known;
      for (const auto& row : db.query("SELECT slug FROM organisations ORDER BY slug")) {
        known += (known.empty() ? "" : ", ") + row["slug"].get<std::string>();
      }
      fail(Problem::bad_request("organisation",
                                "unknown organisation \"" + grant.organisation +
                                    "\" (known: " + (known.empty() ? "none" : known) + ")"));
    }
    organisation_id = found[0]["id"].get<std::int64_t>();
  }
  auto existing = db.query(std::string(kUserSelect) + " WHERE u.name = ?", {grant.name});
  std::int64_t user_id = 0;
  if (existing.empty()) {
    user_id = db.execute("INSERT INTO users(name, role, organisation_id) VALUES (?, ?, ?)",
                         {grant.name, grant.role, organisation_id})
                  .last_insert_rowid;
    change.audit("create", "user", std::to_string(user_id));
  } else {
    const auto& user = existing.front();
    if (!add_to_existing) {
      fail({409, "user_exists",
            "a user named " + grant.name +
                " exists; POST /api/v1/users/{id}/tokens issues another token for it",
            "name", json{{"id", user["id"]}}});
    }
    if (user["role"] != grant.role || user["organisation"] != grant.organisation) {
      fail({409, "user_differs",
            "user \"" + grant.name + "\" exists with role \"" + user["role"].get<std::string>() +
                "\" and organisation \"" + user["organisation"].get<std::string>() +
                "\"; give the same role and organisation to add a token",
            "role", json{{"id", user["id"]}}});
    }
    if (!user["disabled_at"].is_null()) {
      fail(Problem::conflict("user_disabled", "the user is disabled; enable it first"));
    }
    user_id = user["id"].get<std::int64_t>();
  }
  auto issued = auth::insert_token(db, user_id, grant.label);
  change.audit("create", "token", std::to_string(issued.token_id));
  return Reply{201,
               {{"id", user_id},
                {"name", grant.name},
                {"role", grant.role},
                {"organisation", grant.organisation},
                {"token_id", issued.token_id},
                {"token", issued.token}},
               std::nullopt};
}

}  // namespace

Result<Reply> AdminService::create_user(const Context& ctx, const json& body) {
  auto grant = read_grant(body, "api");
  if (!grant) return grant.problem();
  return tx_.write(ctx, [&](Change& change) { return write_grant(change, grant.value(), false); });
}

Result<Reply> AdminService::grant_token(const Context& ctx, const json& body) {
  auto grant = read_grant(body, "cli");
  if (!grant) return grant.problem();
  return tx_.write(ctx, [&](Change& change) { return write_grant(change, grant.value(), true); });
}

std::optional<std::filesystem::path> AdminService::bootstrap_admin(
    const std::filesystem::path& data_dir) {
  auto path = data_dir / "bootstrap-admin.token";
  const Context ctx{
      audit::Actor{sdk::Principal{0, "bootstrap", "system", 0, ""}, domain::new_id("boot")},
      std::nullopt};
  const bool has_users = store_.read(
      [](store::Connection& db) { return !db.query("SELECT 1 FROM users LIMIT 1").empty(); });
  if (has_users) return std::nullopt;
  bool created = false;
  try {
    auto result = tx_.write(ctx, [&](Change& change) -> Reply {
      // A token file left from an earlier, deleted database names a token that no longer exists.
      std::filesystem::remove(path);
      auto reply = write_grant(change, {"admin", "admin", "", "bootstrap"}, false);
      // Inside the change: a file that cannot be written leaves no admin whose token nobody knows.
      auth::write_secret_file(path, reply.body["token"].get<std::string>());
      created = true;
      return reply;
    });
    if (!result) throw std::runtime_error("bootstrap admin refused: " + result.problem().message);
  } catch (...) {
    if (created) std::filesystem::remove(path);
    throw;
  }
  return path;
}

Result<Reply> AdminService::issue_token(const Context& ctx, const std::string& user_id,
                                        const json& body) {
  FieldReader in(body);
  auto label = optional_label(in);
  in.finish();
  if (in.problem()) return *in.problem();
  return tx_.write(ctx, [&](Change& change) {
    auto user = load_user(change.db, numeric_id(user_id, "user"));
    if (!user["disabled_at"].is_null()) {
      fail(Problem::conflict("user_disabled", "the user is disabled; enable it first"));
    }
    auto issued =
        auth::insert_token(change.db, user["id"].get<std::int64_t>(), label.value_or("api"));
    change.audit("create", "token", std::to_string(issued.token_id));
    return Reply{201,
                 {{"id", issued.token_id},
                  {"user_id", issued.user_id},
                  {"label", label.value_or("api")},
                  {"token", issued.token}},
                 std::nullopt};
  });
}

Result<Reply> AdminService::list_tokens(const Context& ctx, const std::string& user_id) {
  return tx_.read(ctx, [&](store::Connection& db, std::vector<audit::Entry>&) {
    auto user = load_user(db, numeric_id(user_id, "user"));
    return Reply{200,
                 {{"items", db.query("SELECT id, user_id, token_prefix, label, created_at, "
                                     "revoked_at FROM api_tokens WHERE user_id = ? ORDER BY id",
                                     {user["id"].get<std::int64_t>()})}},
                 std::nullopt};
  });
}

Result<Reply> AdminService::revoke_token(const Context& ctx, const std::string& token_id) {
  return tx_.write(ctx, [&](Change& change) {
    const auto id = numeric_id(token_id, "token");
    auto rows = change.db.query("SELECT revoked_at FROM api_tokens WHERE id = ?", {id});
    if (rows.empty()) fail(Problem::not_found("token " + token_id));
    if (!rows[0]["revoked_at"].is_null()) {
      fail(Problem::conflict("already_revoked", "the token was revoked at " +
                                                    rows[0]["revoked_at"].get<std::string>()));
    }
    const auto at = change.env.timestamp();
    change.db.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", {at, id});
    change.audit("revoke", "token", std::to_string(id));
    return Reply{200, {{"id", id}, {"revoked_at", at}}, std::nullopt};
  });
}

Result<Reply> AdminService::set_disabled(const Context& ctx, const std::string& user_id,
                                         bool disabled) {
  return tx_.write(ctx, [&](Change& change) {
    auto user = load_user(change.db, numeric_id(user_id, "user"));
    if (disabled == !user["disabled_at"].is_null()) {
      fail(disabled ? Problem::conflict("already_disabled", "the user is disabled already")
                    : Problem::conflict("not_disabled", "the user is not disabled"));
    }
    if (disabled && user["role"] == "admin" &&
        change.db.query("SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled_at IS "
                        "NULL")[0]["n"] == 1) {
      fail(Problem::conflict("last_admin", "the last enabled admin cannot be disabled"));
    }
    const json at = disabled ? json(change.env.timestamp()) : json(nullptr);
    change.db.execute("UPDATE users SET disabled_at = ? WHERE id = ?",
                      {disabled ? store::SqlValue(at.get<std::string>()) : store::SqlValue(nullptr),
                       user["id"].get<std::int64_t>()});
    // Its console sessions end with it: enabling it again must not bring old cookies back.
    if (disabled) {
      change.db.execute("DELETE FROM sessions WHERE user_id = ?", {user["id"].get<std::int64_t>()});
    }
    change.audit(disabled ? "disable" : "enable", "user",
                 std::to_string(user["id"].get<std::int64_t>()));
    user["disabled_at"] = at;
    return Reply{200, user, std::nullopt};
  });
}

std::optional<std::int64_t> AdminService::user_id_of(const std::string& name) {
  auto rows = store_.read([&](store::Connection& db) {
    return db.query("SELECT id FROM users WHERE name = ?", {name});
  });
  if (rows.empty()) return std::nullopt;
  return rows[0]["id"].get<std::int64_t>();
}

domain::Context cli_context() {
  return {audit::Actor{sdk::Principal{0, "cli", "cli", 0, ""}, domain::new_id("cli")},
          std::nullopt};
}

namespace {

using Call = domain::Call;
using Row = domain::Route<AdminService>;
const std::vector<std::string> kAdmin = {"admin"};

const std::vector<Row>& admin_routes() {
  static const std::vector<Row> routes = {
      {HttpMethod::kGet,
       "/api/v1/organisations",
       {},
       [](AdminService& s, const Call& c) { return s.list_organisations(c.ctx); },
       "List organisations",
       "administration"},
      {HttpMethod::kPost,
       "/api/v1/organisations",
       kAdmin,
       [](AdminService& s, const Call& c) { return s.create_organisation(c.ctx, c.body); },
       "Create an organisation (admin)",
       "administration",
       {{"slug", "caritas-emsdetten"},
        {"name", "Caritasverband Emsdetten-Greven"},
        {"kind", "welfare_organisation"},
        {"town", "Emsdetten"},
        {"supervisor", "ki-kreis-steinfurt"}}},
      {HttpMethod::kGet, "/api/v1/users", kAdmin,
       [](AdminService& s, const Call& c) { return s.list_users(c.ctx); }, "List users (admin)",
       "administration"},
      {HttpMethod::kPost,
       "/api/v1/users",
       kAdmin,
       [](AdminService& s, const Call& c) { return s.create_user(c.ctx, c.body); },
       "Create a user with a first token, shown only in this response (409 user_exists for a "
       "taken name)",
       "administration",
       {{"name", "c.meyer"}, {"role", "case_manager"}, {"organisation", "caritas-rheine"}}},
      {HttpMethod::kGet, "/api/v1/users/{id}/tokens", kAdmin,
       [](AdminService& s, const Call& c) { return s.list_tokens(c.ctx, c.param("id")); },
       "A user's tokens: id, prefix, label, created, revoked (admin)", "administration"},
      {HttpMethod::kPost,
       "/api/v1/users/{id}/tokens",
       kAdmin,
       [](AdminService& s, const Call& c) { return s.issue_token(c.ctx, c.param("id"), c.body); },
       "Issue another token for a user, shown only in this response (admin)",
       "administration",
       {{"label", "laptop"}}},
      {HttpMethod::kPost, "/api/v1/users/{id}/disable", kAdmin,
       [](AdminService& s, const Call& c) { return s.set_disabled(c.ctx, c.param("id"), true); },
       "Disable a user: none of its tokens works from the next request on (admin)",
       "administration", json::object()},
      {HttpMethod::kPost, "/api/v1/users/{id}/enable", kAdmin,
       [](AdminService& s, const Call& c) { return s.set_disabled(c.ctx, c.param("id"), false); },
       "Enable a disabled user again (admin)", "administration", json::object()},
      {HttpMethod::kPost, "/api/v1/tokens/{id}/revoke", kAdmin,
       [](AdminService& s, const Call& c) { return s.revoke_token(c.ctx, c.param("id")); },
       "Revoke a token: it answers 401 from the next request on (admin)", "administration",
       json::object()},
  };
  return routes;
}

}  // namespace

void register_routes(http::Router& router, http::ApiDocs& docs, AdminService& service) {
  domain::add_routes(router, docs, service, admin_routes());
}

}  // namespace kim::orgs
