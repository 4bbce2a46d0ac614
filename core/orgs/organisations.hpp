// Organisations (coordinating offices, welfare organisations hosting case managers, towns,
// authorities) and their users and API tokens. Seeded from the deployment config and managed
// over the admin API and the CLI (`kim token revoke`, `kim user disable`); every change is
// audited through the write path (domain::Transactions).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "auth/access.hpp"
#include "domain/problem.hpp"
#include "domain/service_support.hpp"
#include "http/api_docs.hpp"
#include "http/router.hpp"
#include "store/store.hpp"

namespace kim::orgs {

struct OrganisationSeed {
  std::string slug;
  std::string name;
  std::string kind;
  std::string town;        // empty, or one of the county's towns
  std::string supervisor;  // slug of the coordinating office with technical supervision
  bool team_access = false;
};

// Inserts the organisations whose slug is not yet known, in order (a supervisor must come
// first or exist). Existing organisations are left as they are: the API may have changed them.
// Throws std::invalid_argument naming the seed at fault; nothing is written then.
int apply_seeds(store::Store& store, const std::vector<OrganisationSeed>& seeds);

// Validates and inserts one organisation (API and seeds share the rules).
domain::Result<nlohmann::json> create_organisation(store::Connection& db,
                                                   const nlohmann::json& body);

// Administration: organisations, users, tokens. Revoking a token or disabling a user takes
// effect with the next request (AccessDirectory::authenticate reads the database every time).
class AdminService {
 public:
  AdminService(store::Store& store, events::EventBus& events, domain::Env& env)
      : store_(store), tx_(store, events, env) {}

  domain::Result<domain::Reply> list_organisations(const domain::Context& ctx);
  domain::Result<domain::Reply> create_organisation(const domain::Context& ctx,
                                                    const nlohmann::json& body);
  domain::Result<domain::Reply> list_users(const domain::Context& ctx);
  // 409 user_exists for a taken name: a second token is only issued by issue_token.
  domain::Result<domain::Reply> create_user(const domain::Context& ctx, const nlohmann::json& body);
  // `kim token create` and the demo seed: like create_user, but a user of the same name, role
  // and organisation gets another token (409 user_differs when role or organisation differ,
  // user_disabled when disabled).
  domain::Result<domain::Reply> grant_token(const domain::Context& ctx, const nlohmann::json& body);
  // On a database without users: creates user "admin" (role admin, audited as "bootstrap") and
  // writes its token to <data_dir>/bootstrap-admin.token (mode 0600) in the same change, so a
  // file that cannot be written leaves no admin. Nothing when users exist. Never logs the token.
  std::optional<std::filesystem::path> bootstrap_admin(const std::filesystem::path& data_dir);
  domain::Result<domain::Reply> issue_token(const domain::Context& ctx, const std::string& user_id,
                                            const nlohmann::json& body);
  // Tokens of a user: id, prefix, label, created_at, revoked_at (never the secret or its hash).
  domain::Result<domain::Reply> list_tokens(const domain::Context& ctx, const std::string& user_id);
  // 409 already_revoked: nothing changes twice.
  domain::Result<domain::Reply> revoke_token(const domain::Context& ctx,
                                             const std::string& token_id);
  // 409 already_disabled / not_disabled; 409 last_admin: the last enabled admin stays.
  domain::Result<domain::Reply> set_disabled(const domain::Context& ctx, const std::string& user_id,
                                             bool disabled);

  // The id of the user with this name (for the CLI).
  std::optional<std::int64_t> user_id_of(const std::string& name);

 private:
  store::Store& store_;
  domain::Transactions tx_;
};

// The actor of changes made with the `kim` command line: user id 0, name "cli", role "cli".
domain::Context cli_context();

void register_routes(http::Router& router, http::ApiDocs& docs, AdminService& service);

}  // namespace kim::orgs
