#include "domain/route_support.hpp"
#include "outbox/outbox.hpp"

namespace kim::outbox {

using domain::Call;
using domain::Reply;
using domain::Result;
using sdk::HttpMethod;

namespace {

const domain::Vocabulary kStates = {"pending", "in_flight", "delivered", "dead", "discarded"};

Result<OutboxFilter> outbox_filter(const sdk::HttpRequest& request, bool dead_only) {
  OutboxFilter filter;
  domain::Paging paging;
  for (const auto& [key, value] : request.query) {
    if (key == "state" && !dead_only) {
      if (!domain::contains(kStates, value)) {
        return domain::Problem::bad_request(key, "must be one of: " + domain::join(kStates));
      }
      filter.state = value;
    } else if (key == "partner") {
      filter.partner = value;
    } else if (key == "case") {
      filter.case_id = value;
    } else if (key == "connector") {
      filter.connector = value;
    } else if (key == "type") {
      filter.type = value;
    } else if (auto paged = paging.read(key, value); !paged) {
      return paged.problem();
    } else if (!paged.value()) {
      return domain::Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr};
    }
  }
  if (dead_only) filter.state = "dead";
  filter.after = paging.after;
  filter.limit = paging.limit;
  return filter;
}

template <bool kDeadOnly>
Result<Reply> list(OutboxService& s, const Call& call) {
  auto filter = outbox_filter(call.request, kDeadOnly);
  if (!filter) return filter.problem();
  return s.list(call.ctx, filter.value());
}

const std::vector<domain::Route<OutboxService>>& outbox_routes() {
  const std::vector<std::string> kAdmin = {"admin"};
  static const std::vector<domain::Route<OutboxService>> routes = {
      {HttpMethod::kGet, "/api/v1/connectors", kAdmin,
       [](OutboxService& s, const Call& c) -> Result<Reply> {
         if (auto problem = domain::unknown_parameter(c.request, {})) return *problem;
         return s.connectors(c.ctx);
       },
       "Connector instances: type, partners, circuit breaker, queue depth, oldest pending age, "
       "delivered in the last hour, last success and error, dead letters (admin)",
       "outbox"},
      {HttpMethod::kGet, "/api/v1/outbox", kAdmin, list<false>,
       "Outbox messages without payload; filters state, partner, case, connector, type; cursor "
       "pagination (admin)",
       "outbox"},
      {HttpMethod::kGet, "/api/v1/outbox/dead-letters", kAdmin, list<true>,
       "Dead letters; filters partner, case, connector, type; cursor pagination (admin)", "outbox"},
      {HttpMethod::kGet, "/api/v1/outbox/{id}", kAdmin,
       [](OutboxService& s, const Call& c) { return s.get(c.ctx, c.param("id")); },
       "One message with its payload and every attempt (admin; audited)", "outbox"},
      {HttpMethod::kPost, "/api/v1/outbox/{id}/retry", kAdmin,
       [](OutboxService& s, const Call& c) { return s.retry(c.ctx, c.param("id")); },
       "Re-run a dead (or discarded) message with a fresh attempt budget (admin)", "outbox"},
      {HttpMethod::kPost,
       "/api/v1/outbox/{id}/discard",
       kAdmin,
       [](OutboxService& s, const Call& c) { return s.discard(c.ctx, c.param("id"), c.body); },
       "Set a dead or pending message aside for good, with a reason (admin)",
       "outbox",
       {{"reason", "partner confirmed receipt by phone"}}},
      {HttpMethod::kPost,
       "/api/v1/outbox/dead-letters/retry",
       kAdmin,
       [](OutboxService& s, const Call& c) { return s.retry_dead_letters(c.ctx, c.body); },
       "Re-run every dead letter matching partner, type and created_at range (from, to); "
       "answers the count re-queued (admin)",
       "outbox",
       {{"partner", "jobcenter-kreis-steinfurt"},
        {"type", "referral.sent"},
        {"from", "2026-11-01T00:00:00.000Z"}}},
  };
  return routes;
}

}  // namespace

void register_routes(http::Router& router, http::ApiDocs& docs, OutboxService& service) {
  domain::add_routes(router, docs, service, outbox_routes());
}

}  // namespace kim::outbox
