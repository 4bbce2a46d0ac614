// Referral routing by plugins (PluginHost::add_referral_router): a referral may go to another
// partner than the one asked for (e.g. a town's own foreigners authority for its residents).
// Applied in ReferralService::create before any check, so the normal rules judge the partner
// the referral is routed to.
#pragma once

#include <optional>
#include <string>

#include "domain/service_support.hpp"

namespace kim::referrals {

// Asks the routers about a referral of case `case_id` (person `person_id`) to `partner` for
// `service`. When one redirects it, `partner` becomes the new slug and the slug asked for is
// returned; otherwise nothing. A router that throws fails the change.
std::optional<std::string> route_referral(domain::Change& change, const std::string& case_id,
                                          const std::string& person_id, std::string& partner,
                                          const std::string& service);

// Records a routed referral: `referrals.routed_from` and a note on the case's timeline.
void record_routing(domain::Change& change, const std::string& referral_id,
                    const std::string& case_id, const std::string& routed_from,
                    const std::string& partner);

}  // namespace kim::referrals
