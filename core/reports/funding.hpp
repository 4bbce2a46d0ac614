// Funding and staff for the proof of use of funds (Verwendungsnachweis): the state's funding
// decisions per building block (1 coordination, 2 case management, 3 immigration and
// naturalisation authorities), the posts they pay for (FTE per organisation, funding per FTE and
// year) and the forwarding contracts (Weiterleitungsverträge) that pass funds on to welfare
// organisations and towns. Money is stored in cents and FTE in hundredths, so sums are exact.
//
// Written by admins and by coordinators of the county's coordinating office (the coordinating
// office that is also a county-wide partner of kind coordinating_office: the grant's recipient);
// read by coordinators, auditors and admins. Every write goes through the write path (audited).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "domain/service_support.hpp"
#include "http/api_docs.hpp"
#include "http/router.hpp"

namespace kim::reports {

// The funding report's format version (JSON field format_version).
constexpr int kFundingFormatVersion = 1;

class FundingService {
 public:
  FundingService(store::Store& store, events::EventBus& events, domain::Env& env)
      : tx_(store, events, env) {}

  domain::Result<domain::Reply> create_decision(const domain::Context& ctx,
                                                const nlohmann::json& body);
  domain::Result<domain::Reply> create_post(const domain::Context& ctx, const nlohmann::json& body);
  domain::Result<domain::Reply> create_forwarding(const domain::Context& ctx,
                                                  const nlohmann::json& body);
  // kind: "decisions", "posts" or "forwardings"; oldest first.
  domain::Result<domain::Reply> list(const domain::Context& ctx, const std::string& kind);
  // Per building block for calendar year `year`: posts planned vs filled (average FTE over the
  // year), the posts' funding, funds granted vs forwarded (each pro rata of its period's days
  // in the year).
  domain::Result<domain::Reply> report(const domain::Context& ctx, int year);

 private:
  domain::Transactions tx_;
};

void register_funding_routes(http::Router& router, http::ApiDocs& docs, FundingService& service);

}  // namespace kim::reports
