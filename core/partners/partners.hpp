// The partner network (Schnittstellen) and the cooperation agreements with it (agreements.cpp).
// Partners are the towns, authorities, counselling services and providers a case can be referred
// to; an agreement says which party does what, how a person is handed over, which services it
// covers, and — its data-protection terms — which data categories may go to which party for which
// purposes. Neither holds personal data of participants.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/service_support.hpp"
#include "http/api_docs.hpp"
#include "http/router.hpp"
#include "store/store.hpp"

namespace kim::partners {

// Inserts the partners whose slug is not yet known, validated by the rules of the API; existing
// partners are left as they are (the API may have changed them), so re-applying never
// duplicates. Throws std::invalid_argument naming "partners[i].field" at fault; nothing is
// written then. Returns how many were inserted.
int apply_seeds(store::Store& store, const std::vector<nlohmann::json>& seeds);
// Every problem of the seeds ("partners[3].kind: must be one of: …", repeated slugs), for
// `kim config check` and the start, before anything is written.
std::vector<std::string> seed_problems(const std::vector<nlohmann::json>& seeds);

// A partner as the API shows it, or nullopt when the slug is unknown.
std::optional<nlohmann::json> find_partner(store::Connection& db, const std::string& slug);

// What the agreements allow for one hand-over: the covering agreement, and the categories its
// data-protection terms permit for the partner and purpose.
struct Coverage {
  std::string agreement_id;
  std::vector<std::string> permitted_categories;
};
// A signed agreement valid on `today` with `partner` as a party that covers `service`; otherwise
// the Problem (422 no_agreement / agreement_not_signed / agreement_expired) saying what is missing.
domain::Result<Coverage> agreement_coverage(store::Connection& db, const std::string& partner,
                                            const std::string& service, const std::string& purpose,
                                            const std::string& today);

struct PartnerFilter {
  std::optional<std::string> kind, town, service, legal_domain;
};

class PartnerService {
 public:
  // `connectors`: the names of the configured connector instances; a partner's "connector"
  // must name one of them (400 naming them otherwise).
  PartnerService(store::Store& store, events::EventBus& events,
                 domain::Env& env = domain::Env::system(), std::vector<std::string> connectors = {})
      : tx_(store, events, env), connectors_(std::move(connectors)) {}

  domain::Result<domain::Reply> list_partners(const domain::Context& ctx,
                                              const PartnerFilter& filter);
  domain::Result<domain::Reply> get_partner(const domain::Context& ctx, const std::string& slug);
  // Changes to partners and agreements are audited too: the data-protection terms decide what
  // may leave, so who set them is part of the record.
  domain::Result<domain::Reply> create_partner(const domain::Context& ctx,
                                               const nlohmann::json& body);
  domain::Result<domain::Reply> update_partner(const domain::Context& ctx, const std::string& slug,
                                               const nlohmann::json& body);

  domain::Result<domain::Reply> list_agreements(const domain::Context& ctx,
                                                const std::optional<std::string>& partner,
                                                const std::optional<std::string>& status);
  domain::Result<domain::Reply> get_agreement(const domain::Context& ctx, const std::string& id);
  domain::Result<domain::Reply> create_agreement(const domain::Context& ctx,
                                                 const nlohmann::json& body);
  domain::Result<domain::Reply> update_agreement(const domain::Context& ctx, const std::string& id,
                                                 const nlohmann::json& body);

 private:
  // Fails with 400 unless `connector` is unset or names a configured instance.
  void check_connector(const std::optional<std::string>& connector) const;

  domain::Transactions tx_;
  std::vector<std::string> connectors_;
};

void register_routes(http::Router& router, http::ApiDocs& docs, PartnerService& service);

}  // namespace kim::partners
