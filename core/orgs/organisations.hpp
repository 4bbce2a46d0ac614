// Organisations (coordinating offices, welfare organisations hosting case managers, towns,
// authorities) and their users. Seeded from the deployment config and managed over the API.
#pragma once

#include <string>
#include <vector>

#include "auth/access.hpp"
#include "domain/problem.hpp"
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

void register_routes(http::Router& router, http::ApiDocs& docs, store::Store& store,
                     auth::AccessDirectory& access);

}  // namespace kim::orgs
