// Retention and erasure of personal data (core migration 0016):
// - the retention job (`host.retention`): anonymises what passed its period (config "retention"):
//   closed cases and, once all their cases are, their persons; persons recorded without ever
//   getting a case; declined or cancelled referrals;
//   revoked consents; settled outbox messages. Personal fields are removed, statistical ones
//   (year of birth, town, residence status, gender, dates, phases, outcomes) kept, so indicators
//   stay right. One audit entry per anonymised object ("anonymise"), never personal data in it.
//   It prunes audit entries older than retention.audit_days (the only path that deletes them; see
//   prune_audit), deletes ended console sessions and used or expired invites, and ends with a
//   WAL checkpoint(TRUNCATE), so no old page version survives in the WAL; the writer runs with
//   secure_delete, so none survives in free pages either.
// - erasure requests (GDPR Art. 17) with a coordinator's or admin's decision: erase (the same
//   anonymisation at once), restrict processing (Art. 18: the person and their cases hidden from
//   everyone but the auditor) or reject, each with its reason;
// - legal holds on a person or a case, which stop both anonymisation and erasure.
// Plugins' declared personal columns (PersonalDataRegistry) are cleared in the same transaction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/host_config.hpp"
#include "domain/service_support.hpp"
#include "events/event_bus.hpp"
#include "http/api_docs.hpp"
#include "http/router.hpp"
#include "retention/personal_data.hpp"
#include "store/store.hpp"

namespace kim::retention {

struct RunReport {
  std::int64_t cases = 0, persons = 0, referrals = 0, consents = 0, outbox = 0;
  std::int64_t audit_items_pruned = 0;
  // False when readers kept the closing WAL checkpoint from completing (the next run tries again).
  bool checkpointed = false;
  // Enabled plugins that may hold personal data but are not running: cases and persons are not
  // anonymised until they run (or are disabled), else their columns would stay behind for good.
  std::vector<std::string> waiting_for_plugins;
  nlohmann::json to_json() const;
};

class RetentionService {
 public:
  // `absent_plugins`: the enabled plugins that may hold personal data and are not running.
  using AbsentPlugins = std::function<std::vector<std::string>()>;
  RetentionService(store::Store& store, events::EventBus& events, domain::Env& env,
                   config::RetentionConfig config, const PersonalDataRegistry& personal_data,
                   AbsentPlugins absent_plugins);

  // The retention job: anonymises and prunes what passed its period as of env.today(), then
  // checkpoints the WAL (TRUNCATE). Audited as user "retention" (role "system").
  RunReport run();

  using Result = domain::Result<domain::Reply>;
  using Context = domain::Context;
  // POST /api/v1/persons/{id}/erasure-requests: a case manager of the person's organisation or a
  // coordinator who may read the person. Body: {"received_on": date}.
  Result request_erasure(const Context& ctx, const std::string& person_id,
                         const nlohmann::json& body);
  // POST /api/v1/erasure-requests/{id}/decision: coordinator (who may read the person) or admin.
  // Body: {"decision": "erase"|"restrict"|"reject", "reason": text}.
  Result decide_erasure(const Context& ctx, const std::string& request_id,
                        const nlohmann::json& body);
  // GET /api/v1/erasure-requests?status=: coordinators (persons they may read), admins, auditors.
  Result list_erasure_requests(const Context& ctx, const sdk::HttpRequest& request);
  // POST /api/v1/{persons|cases}/{id}/legal-holds {"reason"}; POST /api/v1/legal-holds/{id}/release
  // {"reason"}: coordinator (who may read it) or admin.
  Result place_hold(const Context& ctx, const std::string& object_type,
                    const std::string& object_id, const nlohmann::json& body);
  Result release_hold(const Context& ctx, const std::string& hold_id, const nlohmann::json& body);
  // GET /api/v1/restricted-persons: the auditor's view of restricted persons with their cases.
  Result restricted_persons(const Context& ctx);

 private:
  domain::Context system_context();
  std::int64_t anonymise_due_cases(const domain::Context& ctx, const std::string& cutoff,
                                   const std::string& caseless_cutoff, RunReport& report);

  store::Store& store_;
  domain::Transactions tx_;
  domain::Env& env_;
  events::EventBus& events_;
  config::RetentionConfig config_;
  const PersonalDataRegistry& personal_data_;
  AbsentPlugins absent_plugins_;
};

void register_routes(http::Router& router, http::ApiDocs& docs, RetentionService& service);

// Prunes audit entries older than `cutoff` (an ISO timestamp or date) inside the caller's write:
// the one path that deletes audit rows (migration 0016's permit row lets the triggers stand aside
// for this transaction only) and records the prune in audit_prunes. The newest item is always
// kept, so item ids never restart. Returns how many items were pruned.
std::int64_t prune_audit(store::Connection& db, const std::string& cutoff, const std::string& now);

// PRAGMA wal_checkpoint(TRUNCATE) on a connection of its own: copies every page back into the
// database file and empties the WAL, so old versions of changed pages are gone from it. False when
// readers kept it from completing (the next run tries again).
bool checkpoint(const std::filesystem::path& database);

// `kim backup`: a consistent copy of the database at `out` (must not exist) made with VACUUM INTO,
// which writes only live rows into fresh pages (no free pages, no WAL), so nothing deleted or
// overwritten survives in it; the copy is given mode 0600 and synced.
void backup(const std::filesystem::path& database, const std::filesystem::path& out);

}  // namespace kim::retention
