#include "domain/catalog.hpp"
#include "domain/route_support.hpp"
#include "partners/partners.hpp"

namespace kim::partners {

using domain::Call;
using domain::Problem;
using domain::Reply;
using domain::Result;
using sdk::HttpMethod;
using sdk::HttpRequest;

namespace {

// A query value that must come from a vocabulary.
std::optional<Problem> vocabulary_value(const std::string& key, const std::string& value,
                                        const domain::Vocabulary& allowed,
                                        std::optional<std::string>& target) {
  if (!domain::contains(allowed, value)) {
    return Problem::bad_request(key, "must be one of: " + domain::join(allowed));
  }
  target = value;
  return std::nullopt;
}

Result<PartnerFilter> partner_filter(const HttpRequest& request) {
  PartnerFilter filter;
  for (const auto& [key, value] : request.query) {
    std::optional<Problem> problem;
    if (key == "kind") {
      problem = vocabulary_value(key, value, domain::partner_kinds(), filter.kind);
    } else if (key == "town") {
      problem = vocabulary_value(key, value, domain::towns(), filter.town);
    } else if (key == "service") {
      problem = vocabulary_value(key, value, domain::services(), filter.service);
    } else if (key == "legal_domain") {
      problem = vocabulary_value(key, value, domain::legal_domains(), filter.legal_domain);
    } else {
      problem = Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr};
    }
    if (problem) return *problem;
  }
  return filter;
}

Result<Reply> list_partners(PartnerService& s, const Call& call) {
  auto filter = partner_filter(call.request);
  if (!filter) return filter.problem();
  return s.list_partners(call.ctx, filter.value());
}

Result<Reply> list_agreements(PartnerService& s, const Call& call) {
  std::optional<std::string> partner, status;
  for (const auto& [key, value] : call.request.query) {
    if (key == "partner") {
      partner = value;
    } else if (key == "status") {
      auto statuses = domain::agreement_statuses();
      statuses.push_back("not_yet_valid");
      if (!domain::contains(statuses, value)) {
        return Problem::bad_request(key, "must be one of: " + domain::join(statuses));
      }
      status = value;
    } else {
      return Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr};
    }
  }
  return s.list_agreements(call.ctx, partner, status);
}

const std::vector<domain::Route<PartnerService>>& partner_routes() {
  const std::vector<std::string> kAnyone;  // every authenticated user: no personal data here
  const std::vector<std::string> kAdmin = {"admin"};
  const std::vector<std::string> kAgreementWriters = {"coordinator", "admin"};
  static const std::vector<domain::Route<PartnerService>> routes = {
      {HttpMethod::kGet, "/api/v1/partners", kAnyone, list_partners,
       "Partner network; filters kind, town (partners serving it), service, legal_domain",
       "partners"},
      {HttpMethod::kGet, "/api/v1/partners/{slug}", kAnyone,
       [](PartnerService& s, const Call& c) { return s.get_partner(c.ctx, c.param("slug")); },
       "Read a partner", "partners"},
      {HttpMethod::kPost,
       "/api/v1/partners",
       kAdmin,
       [](PartnerService& s, const Call& c) { return s.create_partner(c.ctx, c.body); },
       "Add a partner (admin)",
       "partners",
       {{"slug", "jobcenter-kreis-steinfurt"},
        {"name", "Jobcenter Kreis Steinfurt"},
        {"kind", "jobcenter"},
        {"legal_domain", "sgb2"},
        {"county_wide", true},
        {"services", {"sgb2_integration_services", "sgb2_benefits"}}}},
      {HttpMethod::kPatch,
       "/api/v1/partners/{slug}",
       kAdmin,
       [](PartnerService& s, const Call& c) {
         return s.update_partner(c.ctx, c.param("slug"), c.body);
       },
       "Change a partner (admin); active:false retires it",
       "partners",
       {{"services", {"sgb2_integration_services"}}}},
      {HttpMethod::kGet, "/api/v1/agreements", kAnyone, list_agreements,
       "Cooperation agreements; filters partner, status (effective)", "agreements"},
      {HttpMethod::kGet, "/api/v1/agreements/{id}", kAnyone,
       [](PartnerService& s, const Call& c) { return s.get_agreement(c.ctx, c.param("id")); },
       "Read a cooperation agreement with its data-protection terms", "agreements"},
      {HttpMethod::kPost,
       "/api/v1/agreements",
       kAgreementWriters,
       [](PartnerService& s, const Call& c) { return s.create_agreement(c.ctx, c.body); },
       "Record a cooperation agreement (draft or signed)",
       "agreements",
       {{"title", "Kooperationsvereinbarung KIM – Jobcenter"},
        {"parties",
         {{{"partner", "ki-kreis-steinfurt"},
           {"tasks", "Case management across legal domains"},
           {"responsibility_ends", "when the jobcenter's case management takes over"}},
          {{"partner", "jobcenter-kreis-steinfurt"},
           {"tasks", "SGB II integration services"},
           {"responsibility_ends", "at the end of benefit entitlement"}}}},
        {"handover_rule", "Joint first meeting within 14 days of the referral"},
        {"services", {"sgb2_integration_services"}},
        {"valid_from", "2026-01-01"},
        {"status", "signed"},
        {"data_terms",
         {{{"partner", "jobcenter-kreis-steinfurt"},
           {"categories", {"identity", "contact", "language_level"}},
           {"purposes", {"referral"}}}}}}},
      {HttpMethod::kPatch,
       "/api/v1/agreements/{id}",
       kAgreementWriters,
       [](PartnerService& s, const Call& c) {
         return s.update_agreement(c.ctx, c.param("id"), c.body);
       },
       "Sign, terminate or prolong an agreement; content changes only while draft",
       "agreements",
       {{"status", "signed"}, {"signed_on", "2026-11-20"}}},
  };
  return routes;
}

}  // namespace

void register_routes(http::Router& router, http::ApiDocs& docs, PartnerService& service) {
  domain::add_routes(router, docs, service, partner_routes(), domain::Writes::kWriterBatch);
}

}  // namespace kim::partners
