#include "consent/consent.hpp"
#include "domain/route_support.hpp"

namespace kim::consent {

void register_routes(http::Router& router, http::ApiDocs& docs, ConsentService& service) {
  using domain::Call;
  using sdk::HttpMethod;
  static const std::vector<domain::Route<ConsentService>> routes = {
      {HttpMethod::kGet,
       "/api/v1/persons/{id}/consents",
       {"case_manager", "coordinator"},
       [](ConsentService& s, const Call& c) { return s.list(c.ctx, c.param("id")); },
       "Consents of a participant, with their status",
       "consent"},
      {HttpMethod::kPost,
       "/api/v1/persons/{id}/consents",
       {"case_manager"},
       [](ConsentService& s, const Call& c) { return s.grant(c.ctx, c.param("id"), c.body); },
       "Record a consent: recipients, purposes and data categories are required (no blanket "
       "consent); health needs its own explicit consent",
       "consent",
       {{"recipients", {"jobcenter-kreis-steinfurt"}},
        {"purposes", {"referral"}},
        {"categories", {"identity", "contact", "language_level"}},
        {"form", "written"},
        {"given_on", "2026-11-20"},
        {"valid_until", "2027-11-19"}}},
      {HttpMethod::kPost,
       "/api/v1/persons/{id}/consents/{consent_id}/revoke",
       {"case_manager"},
       [](ConsentService& s, const Call& c) {
         return s.revoke(c.ctx, c.param("id"), c.param("consent_id"), c.body);
       },
       "Revoke a consent at once; pending referrals that depend on it are stopped",
       "consent",
       {{"reason", "Revoked by the participant in the meeting of 2026-11-25"}}},
  };
  domain::add_routes(router, docs, service, routes, domain::Writes::kWriterBatch);
}

}  // namespace kim::consent
