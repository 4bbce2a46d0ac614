// The transactional outbox: every message for a partner is written in the same transaction as
// the change that caused it (a referral sent, cancelled or stopped by a consent revocation), so
// there is no message without its change and no change without its message. The dispatcher
// (dispatcher.hpp) delivers them through the partner's connector instance; operators inspect,
// re-run and discard them over the API (routes.cpp) and `kim outbox …`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/host_config.hpp"
#include "domain/service_support.hpp"
#include "http/api_docs.hpp"
#include "http/router.hpp"

namespace kim::outbox {

// Message types written by the core.
inline constexpr const char* kReferralSent = "referral.sent";
inline constexpr const char* kReferralCancelled = "referral.cancelled";
// A consent revocation stopped the referral: the partner must stop using what it received.
inline constexpr const char* kReferralConsentRevoked = "referral.consent_revoked";

// Writes one message for `partner` inside `change` (the caller's transaction), when the partner
// is bound to a connector instance ("connector" set); a partner without one gets no message
// (its referrals are handed over by other means, as before). `payload` is stored as given:
// callers pass exactly the referral's stored, minimised payload. Returns the message id, or
// nullopt when the partner has no connector.
std::optional<std::string> enqueue(domain::Change& change, const std::string& partner,
                                   const std::string& type, const std::string& case_id,
                                   const std::string& subject_id, const std::string& payload);

// Live figures of one instance that only the dispatcher knows (the rest comes from the table).
struct InstanceStatus {
  std::string breaker = "closed";  // closed | open | half_open
  std::optional<std::string> open_until;
  int consecutive_failures = 0;
};

struct OutboxFilter {
  std::optional<std::string> state, partner, case_id, connector, type;
  std::optional<std::string> from, to;  // created_at range, inclusive, ISO 8601
  std::int64_t after = 0;               // cursor (seq)
  int limit = 50;
};

// The operator's view and controls (admin; the CLI with its own context). Every change is
// audited through the write path. Payloads are never listed: they are personal data; one
// message with its payload is read (and audited) by get().
class OutboxService {
 public:
  // `status_of` answers the dispatcher's live figures per instance (closed breaker without one);
  // `wake` nudges the dispatcher after a re-queue (nothing without one, e.g. in the CLI).
  using StatusOf = std::function<InstanceStatus(const std::string& instance)>;
  OutboxService(store::Store& store, events::EventBus& events, domain::Env& env,
                std::vector<config::ConnectorInstanceConfig> instances, StatusOf status_of = {},
                std::function<void()> wake = {})
      : tx_(store, events, env),
        instances_(std::move(instances)),
        status_of_(std::move(status_of)),
        wake_(std::move(wake)) {}

  domain::Result<domain::Reply> connectors(const domain::Context& ctx);
  domain::Result<domain::Reply> list(const domain::Context& ctx, const OutboxFilter& filter);
  domain::Result<domain::Reply> get(const domain::Context& ctx, const std::string& id);
  // A dead (or discarded) message goes back to pending with a fresh attempt budget; 409 for
  // pending, in-flight and delivered messages.
  domain::Result<domain::Reply> retry(const domain::Context& ctx, const std::string& id);
  // A dead or pending message is set aside for good with the operator's reason (required).
  domain::Result<domain::Reply> discard(const domain::Context& ctx, const std::string& id,
                                        const nlohmann::json& body);
  // Every dead letter matching partner, type and created_at range (from/to) back to pending;
  // answers {"requeued": n, "ids": [...]}.
  domain::Result<domain::Reply> retry_dead_letters(const domain::Context& ctx,
                                                   const nlohmann::json& body);

  // The names of the configured instances ("connector" of a partner must name one of them).
  std::vector<std::string> instance_names() const;

 private:
  void wake() const {
    if (wake_) wake_();
  }

  domain::Transactions tx_;
  std::vector<config::ConnectorInstanceConfig> instances_;
  StatusOf status_of_;
  std::function<void()> wake_;
};

// The names of the configured instances, sorted, for messages ("known: a, b").
std::vector<std::string> instance_names(const std::vector<config::ConnectorInstanceConfig>& list);

void register_routes(http::Router& router, http::ApiDocs& docs, OutboxService& service);

}  // namespace kim::outbox
