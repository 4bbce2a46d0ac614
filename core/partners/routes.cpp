#include "domain/catalog.hpp"
#include "domain/route_support.hpp"
#include "partners/partners.hpp"

namespace kim::partners {

using domain::param;
using domain::Problem;
using domain::reading;
using domain::Reply;
using domain::Result;
using domain::writing;
using nlohmann::json;
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

}  // namespace

void register_routes(http::Router& router, http::ApiDocs& docs, PartnerService& service) {
  domain::RouteTable table(router, docs);
  PartnerService* s = &service;
  const std::vector<std::string> kAnyone;  // every authenticated user: no personal data here
  const std::vector<std::string> kAdmin = {"admin"};
  const std::vector<std::string> kAgreementWriters = {"coordinator", "admin"};

  table.add(HttpMethod::kGet, "/api/v1/partners",
            reading([s](const domain::Context& c, const HttpRequest& r) -> Result<Reply> {
              auto filter = partner_filter(r);
              if (!filter) return filter.problem();
              return s->list_partners(c, filter.value());
            }),
            kAnyone,
            "Partner network; filters kind, town (partners serving it), service, legal_domain",
            "partners");
  table.add(HttpMethod::kGet, "/api/v1/partners/{slug}",
            reading([s](const domain::Context& c, const HttpRequest& r) {
              return s->get_partner(c, param(r, "slug"));
            }),
            kAnyone, "Read a partner", "partners");
  table.add(HttpMethod::kPost, "/api/v1/partners",
            writing([s](const domain::Context& c, const HttpRequest&, const json& b) {
              return s->create_partner(c, b);
            }),
            kAdmin, "Add a partner (admin)", "partners",
            {{"slug", "jobcenter-kreis-steinfurt"},
             {"name", "Jobcenter Kreis Steinfurt"},
             {"kind", "jobcenter"},
             {"legal_domain", "sgb2"},
             {"county_wide", true},
             {"services", {"sgb2_integration_services", "sgb2_benefits"}}});
  table.add(HttpMethod::kPatch, "/api/v1/partners/{slug}",
            writing([s](const domain::Context& c, const HttpRequest& r, const json& b) {
              return s->update_partner(c, param(r, "slug"), b);
            }),
            kAdmin, "Change a partner (admin); active:false retires it", "partners",
            {{"services", {"sgb2_integration_services"}}});

  table.add(HttpMethod::kGet, "/api/v1/agreements",
            reading([s](const domain::Context& c, const HttpRequest& r) -> Result<Reply> {
              std::optional<std::string> partner, status;
              for (const auto& [key, value] : r.query) {
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
              return s->list_agreements(c, partner, status);
            }),
            kAnyone, "Cooperation agreements; filters partner, status (effective)", "agreements");
  table.add(HttpMethod::kGet, "/api/v1/agreements/{id}",
            reading([s](const domain::Context& c, const HttpRequest& r) {
              return s->get_agreement(c, param(r, "id"));
            }),
            kAnyone, "Read a cooperation agreement with its data-protection terms", "agreements");
  table.add(HttpMethod::kPost, "/api/v1/agreements",
            writing([s](const domain::Context& c, const HttpRequest&, const json& b) {
              return s->create_agreement(c, b);
            }),
            kAgreementWriters, "Record a cooperation agreement (draft or signed)", "agreements",
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
                {"purposes", {"referral"}}}}}});
  table.add(HttpMethod::kPatch, "/api/v1/agreements/{id}",
            writing([s](const domain::Context& c, const HttpRequest& r, const json& b) {
              return s->update_agreement(c, param(r, "id"), b);
            }),
            kAgreementWriters,
            "Sign, terminate or prolong an agreement; content changes only while draft",
            "agreements", {{"status", "signed"}, {"signed_on", "2026-11-20"}});
}

}  // namespace kim::partners
