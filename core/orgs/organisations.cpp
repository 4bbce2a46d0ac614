#include "orgs/organisations.hpp"

#include <regex>

#include "domain/catalog.hpp"
#include "domain/validation.hpp"

namespace kim::orgs {

using domain::FieldReader;
using domain::Problem;
using domain::Result;
using nlohmann::json;
using sdk::HttpMethod;
using sdk::HttpRequest;
using sdk::HttpResponse;

namespace {

const char* const kSelect =
    "SELECT o.id, o.slug, o.name, o.kind, o.town, s.slug AS supervisor, o.team_access = 1 AS "
    "team_access, o.created_at FROM organisations o LEFT JOIN organisations s ON s.id = "
    "o.supervisor_id";

json organisation_json(json row) {
  row["team_access"] = row["team_access"].get<std::int64_t>() == 1;
  return row;
}

}  // namespace

Result<json> create_organisation(store::Connection& db, const json& body) {
  FieldReader in(body);
  auto slug = in.text("slug", 63);
  auto name = in.text("name", 200);
  auto kind = in.choice("kind", domain::organisation_kinds());
  auto town = in.optional_text("town", 100);
  auto supervisor = in.optional_text("supervisor", 63);
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

void register_routes(http::Router& router, http::ApiDocs& docs, store::Store& store,
                     auth::AccessDirectory& access) {
  auto add = [&](HttpMethod method, std::string pattern, sdk::RouteHandler handler,
                 sdk::RouteOptions options, std::string summary, json example = nullptr) {
    docs.describe(method, pattern, {std::move(summary), "administration", std::move(example)});
    router.add({method, std::move(pattern), std::move(handler), std::move(options), "host"});
  };
  add(
      HttpMethod::kGet, "/api/v1/organisations",
      [&store](const HttpRequest&) {
        auto rows = store.read([](store::Connection& db) {
          return db.query(std::string(kSelect) + " ORDER BY o.slug");
        });
        json items = json::array();
        for (auto& row : rows)
          items.push_back(organisation_json(row));
        return HttpResponse::json(200, {{"items", items}});
      },
      sdk::RouteOptions::authenticated(), "List organisations");
  add(HttpMethod::kPost, "/api/v1/organisations",
      [&store](const HttpRequest& request) {
        auto body = domain::parse_object(request.body, domain::max_json_depth());
        if (!body) return domain::to_response(body.problem());
        try {
          auto created = store.write([&](store::Connection& db) {
            auto result = create_organisation(db, body.value());
            if (!result) throw domain::ProblemError(result.problem());
            return result.value();
          });
          return HttpResponse::json(201, created);
        } catch (const domain::ProblemError& e) {
          return domain::to_response(e.problem());
        }
      },
      sdk::RouteOptions::for_roles({"admin"}), "Create an organisation (admin)",
      {{"slug", "caritas-emsdetten"},
       {"name", "Caritasverband Emsdetten-Greven"},
       {"kind", "welfare_organisation"},
       {"town", "Emsdetten"},
       {"supervisor", "ki-kreis-steinfurt"}});
  add(
      HttpMethod::kGet, "/api/v1/users",
      [&store](const HttpRequest&) {
        auto rows = store.read([](store::Connection& db) {
          return db.query(
              "SELECT u.id, u.name, u.role, coalesce(o.slug, '') AS organisation, u.created_at, "
              "u.disabled_at FROM users u LEFT JOIN organisations o ON o.id = u.organisation_id "
              "ORDER BY u.name");
        });
        return HttpResponse::json(200, {{"items", rows}});
      },
      sdk::RouteOptions::for_roles({"admin"}), "List users (admin)");
  add(HttpMethod::kPost, "/api/v1/users",
      [&access](const HttpRequest& request) {
        auto body = domain::parse_object(request.body, domain::max_json_depth());
        if (!body) return domain::to_response(body.problem());
        FieldReader in(body.value());
        auto name = in.text("name", 64);
        auto role = in.choice("role", auth::known_roles());
        auto organisation = in.optional_text("organisation", 63);
        auto label = in.optional_text("label", 100);
        in.finish();
        if (in.problem()) return domain::to_response(*in.problem());
        try {
          auto issued =
              access.create_token(name, *role, organisation.value_or(""), label.value_or("api"));
          return HttpResponse::json(201, {{"id", issued.user_id},
                                          {"name", name},
                                          {"role", *role},
                                          {"organisation", organisation.value_or("")},
                                          {"token", issued.token}});
        } catch (const std::invalid_argument& e) {
          return domain::to_response(Problem::bad_request("", e.what()));
        }
      },
      sdk::RouteOptions::for_roles({"admin"}),
      "Create a user (or add a token to one); the token is shown only in this response",
      {{"name", "c.meyer"}, {"role", "case_manager"}, {"organisation", "caritas-rheine"}});
}

}  // namespace kim::orgs
