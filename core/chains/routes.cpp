#include "chains/chains.hpp"
#include "domain/route_support.hpp"

namespace kim::chains {

using domain::Call;
using sdk::HttpMethod;

namespace {

const std::vector<domain::Route<ChainService>>& chain_routes() {
  const std::vector<std::string> kAnyone;  // templates hold no personal data
  const std::vector<std::string> kRunners = {"coordinator", "admin"};
  static const std::vector<domain::Route<ChainService>> routes = {
      {HttpMethod::kGet, "/api/v1/chains", kAnyone,
       [](ChainService& s, const Call& c) { return s.list(c.ctx); }, "Integration chain templates",
       "chains"},
      {HttpMethod::kPost,
       "/api/v1/chains",
       kRunners,
       [](ChainService& s, const Call& c) { return s.create(c.ctx, c.body); },
       "Define an integration chain: ordered steps, each a service (and optionally a partner "
       "kind) of the catalogue",
       "chains",
       {{"name", "Anerkennung ausländischer Berufsabschlüsse"},
        {"steps",
         {{{"title", "Anerkennungsberatung"}, {"service", "recognition_counselling"}},
          {{"title", "Anpassungsqualifizierung"}, {"service", "vocational_training"}},
          {{"title", "Vermittlung über das Jobcenter"},
           {"service", "sgb2_integration_services"},
           {"partner_kind", "jobcenter"}}}}}},
      {HttpMethod::kGet, "/api/v1/chains/{id}", kAnyone,
       [](ChainService& s, const Call& c) { return s.get(c.ctx, c.param("id")); },
       "An integration chain with its steps", "chains"},
      {HttpMethod::kGet, "/api/v1/chains/{id}/report", kRunners,
       [](ChainService& s, const Call& c) { return s.report(c.ctx, c.param("id")); },
       "Per step: cases that reached it, stopped there, median days (small cells as \"<5\", "
       "counts that would give one away as null)",
       "chains"},
      {HttpMethod::kPost,
       "/api/v1/cases/{id}/chains",
       {"case_manager"},
       [](ChainService& s, const Call& c) { return s.follow(c.ctx, c.param("id"), c.body); },
       "The case follows a chain from started_on (default today); its accepted or completed "
       "referrals advance it",
       "chains",
       {{"chain", "chain_…"}}},
      {HttpMethod::kGet,
       "/api/v1/cases/{id}/chains",
       {"case_manager", "coordinator"},
       [](ChainService& s, const Call& c) { return s.of_case(c.ctx, c.param("id")); },
       "The chains a case follows with the date each step was reached",
       "chains"},
  };
  return routes;
}

}  // namespace

void register_routes(http::Router& router, http::ApiDocs& docs, ChainService& service) {
  domain::add_routes(router, docs, service, chain_routes(), domain::Writes::kWriterBatch);
}

}  // namespace kim::chains
