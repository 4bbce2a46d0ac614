// Consent of a participant to pass data on (§ 67b SGB X, Art. 7 and 9 GDPR): always for named
// recipients, purposes and data categories — a blanket consent is refused — written or
// electronic, revocable with effect at once, and for special-category data (health) its own
// explicit consent. Referrals check it before anything leaves (see referrals/).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/service_support.hpp"
#include "http/api_docs.hpp"
#include "http/router.hpp"

namespace kim::consent {

// The consents that together cover passing `categories` of a person to `partner` for
// `purpose` on `today` (one per category, deduplicated); otherwise 422 consent_missing /
// consent_revoked / consent_expired naming the categories without cover.
domain::Result<std::vector<std::string>> consent_coverage(
    store::Connection& db, const std::string& person_id, const std::string& partner,
    const std::string& purpose, const std::vector<std::string>& categories,
    const std::string& today);

// What depends on a consent reacts to its revocation inside the same transaction (the referral
// service stops pending referrals); returns a JSON array describing what it stopped.
using RevocationHandler =
    std::function<nlohmann::json(domain::Change& change, const std::string& consent_id)>;

class ConsentService {
 public:
  ConsentService(store::Store& store, events::EventBus& events, RevocationHandler on_revoked,
                 domain::Env& env = domain::Env::system())
      : tx_(store, events, env), on_revoked_(std::move(on_revoked)) {}

  domain::Result<domain::Reply> list(const domain::Context& ctx, const std::string& person_id);
  domain::Result<domain::Reply> grant(const domain::Context& ctx, const std::string& person_id,
                                      const nlohmann::json& body);
  domain::Result<domain::Reply> revoke(const domain::Context& ctx, const std::string& person_id,
                                       const std::string& consent_id, const nlohmann::json& body);

 private:
  domain::Transactions tx_;
  RevocationHandler on_revoked_;
};

void register_routes(http::Router& router, http::ApiDocs& docs, ConsentService& service);

}  // namespace kim::consent
