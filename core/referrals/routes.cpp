#include "domain/catalog.hpp"
#include "domain/route_support.hpp"
#include "referrals/referrals.hpp"

namespace kim::referrals {

using domain::Call;
using domain::Reply;
using domain::Result;
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
    } else if (auto paged = paging.read(key, value); !paged) {
      return paged.problem();
    } else if (!paged.value()) {
      return domain::Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr};
    }
  }
  filter.after = paging.after;
  filter.limit = paging.limit;
  return filter;
}

Result<Reply> worklist(ReferralService& s, const Call& call) {
  auto filter = referral_filter(call.request);
  if (!filter) return filter.problem();
  return s.worklist(call.ctx, filter.value());
}

const std::vector<domain::Route<ReferralService>>& referral_routes() {
  const std::vector<std::string> kCaseWork = {"case_manager"};
  const std::vector<std::string> kCaseReaders = {"case_manager", "coordinator"};
  static const std::vector<domain::Route<ReferralService>> routes = {
      {HttpMethod::kPost,
       "/api/v1/cases/{id}/referrals",
       kCaseWork,
       [](ReferralService& s, const Call& c) { return s.create(c.ctx, c.param("id"), c.body); },
       "Refer the case to a partner for a service (needs a signed agreement and the "
       "person's consent for every category passed on; 422 names what is missing)",
       "referrals",
       {{"partner", "jobcenter-kreis-steinfurt"},
        {"service", "sgb2_integration_services"},
        {"purpose", "referral"},
        {"categories", {"identity", "contact", "language_level"}},
        {"message", "Please invite to a first meeting; interpreter Arabic needed"},
        {"send", true}}},
      {HttpMethod::kGet, "/api/v1/referrals", kCaseReaders, worklist,
       "Worklist: referrals of the cases you may read; filters status, partner, "
       "waiting=true (no answer for longer than referrals.max_wait_days); cursor pagination",
       "referrals"},
      {HttpMethod::kGet, "/api/v1/cases/{id}/referrals", kCaseReaders,
       [](ReferralService& s, const Call& c) { return s.list(c.ctx, c.param("id")); },
       "Referrals of a case", "referrals"},
      {HttpMethod::kGet, "/api/v1/cases/{id}/referrals/{referral_id}", kCaseReaders,
       [](ReferralService& s, const Call& c) {
         return s.get(c.ctx, c.param("id"), c.param("referral_id"));
       },
       "A referral with what the partner receives (payload) and its history", "referrals"},
      {HttpMethod::kPost,
       "/api/v1/cases/{id}/referrals/{referral_id}/status",
       kCaseWork,
       [](ReferralService& s, const Call& c) {
         return s.change_status(c.ctx, c.param("id"), c.param("referral_id"), c.body);
       },
       "Send a referral or record the partner's answer (accepted, declined, in_progress, "
       "completed) or cancel it; the step goes into the case timeline",
       "referrals",
       {{"status", "accepted"},
        {"outcome", "First meeting on 2026-12-03"},
        {"occurred_on", "2026-11-26"}}},
  };
  return routes;
}

}  // namespace

void register_routes(http::Router& router, http::ApiDocs& docs, ReferralService& service) {
  domain::add_routes(router, docs, service, referral_routes(), domain::Writes::kWriterBatch);
}

}  // namespace kim::referrals
