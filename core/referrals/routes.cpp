#include "domain/catalog.hpp"
#include "domain/route_support.hpp"
#include "referrals/referrals.hpp"

namespace kim::referrals {

using domain::Context;
using domain::param;
using domain::reading;
using domain::Reply;
using domain::Result;
using domain::writing;
using nlohmann::json;
using sdk::HttpMethod;
using sdk::HttpRequest;

namespace {

Result<ReferralFilter> referral_filter(const HttpRequest& request) {
  ReferralFilter filter;
  domain::Paging paging;
  for (const auto& [key, value] : request.query) {
    if (key == "status") {
      if (!domain::contains(domain::referral_statuses(), value)) {
        return domain::Problem::bad_request(
            key, "must be one of: " + domain::join(domain::referral_statuses()));
      }
      filter.status = value;
    } else if (key == "partner") {
      filter.partner = value;
    } else if (key == "waiting") {
      if (value != "true" && value != "false") {
        return domain::Problem::bad_request(key, "must be true or false");
      }
      filter.waiting_only = value == "true";
    } else if (std::optional<domain::Problem> problem; paging.read(key, value, problem)) {
      if (problem) return *problem;
    } else {
      return domain::Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr};
    }
  }
  filter.after = paging.after;
  filter.limit = paging.limit;
  return filter;
}

}  // namespace

void register_routes(http::Router& router, http::ApiDocs& docs, ReferralService& service) {
  domain::RouteTable table(router, docs);
  ReferralService* s = &service;
  const std::vector<std::string> kCaseWork = {"case_manager"};
  const std::vector<std::string> kCaseReaders = {"case_manager", "coordinator"};

  table.add(HttpMethod::kPost, "/api/v1/cases/{id}/referrals",
            writing([s](const Context& c, const HttpRequest& r, const json& b) {
              return s->create(c, param(r, "id"), b);
            }),
            kCaseWork,
            "Refer the case to a partner for a service (needs a signed agreement and the "
            "person's consent for every category passed on; 422 names what is missing)",
            "referrals",
            {{"partner", "jobcenter-kreis-steinfurt"},
             {"service", "sgb2_integration_services"},
             {"purpose", "referral"},
             {"categories", {"identity", "contact", "language_level"}},
             {"message", "Please invite to a first meeting; interpreter Arabic needed"},
             {"send", true}});
  table.add(HttpMethod::kGet, "/api/v1/referrals",
            reading([s](const Context& c, const HttpRequest& r) -> Result<Reply> {
              auto filter = referral_filter(r);
              if (!filter) return filter.problem();
              return s->worklist(c, filter.value());
            }),
            kCaseReaders,
            "Worklist: referrals of the cases you may read; filters status, partner, "
            "waiting=true (no answer for longer than referrals.max_wait_days); cursor pagination",
            "referrals");
  table.add(
      HttpMethod::kGet, "/api/v1/cases/{id}/referrals",
      reading([s](const Context& c, const HttpRequest& r) { return s->list(c, param(r, "id")); }),
      kCaseReaders, "Referrals of a case", "referrals");
  table.add(HttpMethod::kGet, "/api/v1/cases/{id}/referrals/{referral_id}",
            reading([s](const Context& c, const HttpRequest& r) {
              return s->get(c, param(r, "id"), param(r, "referral_id"));
            }),
            kCaseReaders, "A referral with what the partner receives (payload) and its history",
            "referrals");
  table.add(HttpMethod::kPost, "/api/v1/cases/{id}/referrals/{referral_id}/status",
            writing([s](const Context& c, const HttpRequest& r, const json& b) {
              return s->change_status(c, param(r, "id"), param(r, "referral_id"), b);
            }),
            kCaseWork,
            "Send a referral or record the partner's answer (accepted, declined, in_progress, "
            "completed) or cancel it; the step goes into the case timeline",
            "referrals",
            {{"status", "accepted"},
             {"outcome", "First meeting on 2026-12-03"},
             {"occurred_on", "2026-11-26"}});
  table.add(HttpMethod::kGet, "/api/v1/reports/referral-gaps",
            reading([s](const Context& c, const HttpRequest& r) -> Result<Reply> {
              if (auto problem = domain::unknown_parameter(r, {})) return *problem;
              return s->gaps_report(c);
            }),
            {"coordinator", "admin"},
            "Possible gaps in provision: declined, broken-off and long-waiting referrals by "
            "partner kind, service and town (counts only)",
            "reports");
}

}  // namespace kim::referrals
