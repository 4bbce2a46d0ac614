// Referrals (Verweisberatung / Leistungssteuerung): a case handed to a partner for a service.
// Allowed only under a signed, valid cooperation agreement covering the partner and service and
// a valid consent covering the partner, the purpose and every data category passed on; what the
// partner receives is built from those categories only. The partner's feedback comes back into
// the case timeline; declined, broken-off and long-waiting referrals show gaps in provision.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/service_support.hpp"
#include "http/api_docs.hpp"
#include "http/router.hpp"
#include "kim/sdk/connector.hpp"

namespace kim::referrals {

// Sent or accepted and no further answer since a moment (bind waiting_since()); SQL over `r`.
extern const char* const kWaitingTooLong;
std::string waiting_since(domain::Env& env, int max_wait_days);

// The worklist across cases: referrals of the cases the caller may read.
struct ReferralFilter {
  std::optional<std::string> status;
  std::optional<std::string> partner;
  bool waiting_only = false;  // sent or accepted without an answer for longer than max_wait_days
  std::int64_t after = 0;     // cursor
  int limit = 50;
};

class ReferralService {
 public:
  ReferralService(store::Store& store, events::EventBus& events, int max_wait_days,
                  domain::Env& env = domain::Env::system())
      : tx_(store, events, env), max_wait_days_(max_wait_days) {}

  domain::Result<domain::Reply> create(const domain::Context& ctx, const std::string& case_id,
                                       const nlohmann::json& body);
  domain::Result<domain::Reply> list(const domain::Context& ctx, const std::string& case_id);
  domain::Result<domain::Reply> worklist(const domain::Context& ctx, const ReferralFilter& filter);
  domain::Result<domain::Reply> get(const domain::Context& ctx, const std::string& case_id,
                                    const std::string& referral_id);
  domain::Result<domain::Reply> change_status(const domain::Context& ctx,
                                              const std::string& case_id,
                                              const std::string& referral_id,
                                              const nlohmann::json& body);

  // Within the revoking transaction: every pending referral that used the consent is cancelled
  // with stopped_reason "consent_revoked" and a timeline note. Returns their ids.
  nlohmann::json stop_for_revoked_consent(domain::Change& change, const std::string& consent_id);

  // Declined, broken-off and long-waiting referrals by partner kind, service and town; counts
  // only, suppressed below 5. Forwards to reports::referral_gaps (core/reports), which also
  // serves the route GET /api/v1/reports/referral-gaps.
  domain::Result<domain::Reply> gaps_report(const domain::Context& ctx);

  // A partner's report on a referral, received through connector instance `instance` (its
  // inbound endpoint or its collected files), applied like a case manager's status update:
  // same status rules, history, timeline note, audit entry and events, by `ctx`'s actor (the
  // instance's system user). 404 unless the referral exists and its partner is bound to this
  // instance (a partner never learns of other partners' referrals); 409 with the allowed steps;
  // 400 for a status a partner cannot report. A report whose (instance, message id) was applied
  // before is answered as it was the first time and changes nothing.
  domain::Result<domain::Reply> apply_partner_report(const domain::Context& ctx,
                                                     const std::string& instance,
                                                     const sdk::InboundStatus& report);

 private:
  domain::Transactions tx_;
  int max_wait_days_;
};

void register_routes(http::Router& router, http::ApiDocs& docs, ReferralService& service);

}  // namespace kim::referrals
