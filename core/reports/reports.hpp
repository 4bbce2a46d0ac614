// Reports for steering and the state's controlling: aggregated figures only, never a person.
// Every count published here goes through small-cell suppression (indicators.hpp: 1-4 become
// "<5"), so no participant of a small town can be singled out.
//
// Who sees which figures (one rule for every report that reaches cases; see README.md):
// admins, auditors and the CLI see every organisation; a coordinator sees its own organisation
// and the organisations its office supervises (organisations.supervisor_id); nobody else.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "domain/service_support.hpp"
#include "http/api_docs.hpp"
#include "http/router.hpp"

namespace kim::reports {

// The longest period one indicator report covers: five years (with leap days).
constexpr int kMaxPeriodDays = 1827;

struct IndicatorQuery {
  std::string from;  // inclusive, YYYY-MM-DD
  std::string to;    // inclusive, YYYY-MM-DD
  std::optional<std::string> town;
  std::optional<std::string> organisation;  // slug
  std::string format = "json";              // json or csv
};

// The statements of the indicator report before its filters (town, organisations) are
// appended; bench/ prints their query plans.
struct IndicatorSql {
  // Cases open on some day of the period: ?1 the period's last day, ?2 its first.
  static const char* const kCases;
  // Goals set / achieved in the period: ?1 first day, ?2 the day after the last; GROUP BY
  // appended after the filters.
  static const char* const kGoalsSet;
  static const char* const kGoalsAchieved;
  // Referrals made in the period: as goals.
  static const char* const kReferrals;
};

// Reads and checks the query parameters of the indicator report (API and CLI alike): from and
// to required real dates, from <= to, at most kMaxPeriodDays days; town one of the county's;
// format json or csv; nothing else. 400 with the parameter at fault.
domain::Result<IndicatorQuery> indicator_query(const std::map<std::string, std::string>& params);

// Called while a long report runs: what it is reading and how many rows it has read so far.
using Progress = std::function<void(const std::string& stage, std::int64_t rows)>;

class ReportService {
 public:
  ReportService(store::Store& store, events::EventBus& events, domain::Env& env, int max_wait_days)
      : tx_(store, events, env), max_wait_days_(max_wait_days) {}

  // Indicators of a period per town and organisation (README.md lists them). 403 for an
  // organisation the caller may not see, 400 for one that does not exist. Audited (action
  // "report", object "indicators").
  domain::Result<domain::Reply> indicators(const domain::Context& ctx, const IndicatorQuery& query,
                                           const Progress& progress = {});

  // Declined, broken-off and long-waiting referrals by partner kind, service and town; counts
  // only, suppressed below 5.
  domain::Result<domain::Reply> referral_gaps(const domain::Context& ctx);

  int max_wait_days() const { return max_wait_days_; }

 private:
  domain::Transactions tx_;
  int max_wait_days_;
};

// The gaps report on any connection (ReferralService::gaps_report forwards here).
nlohmann::json referral_gaps(store::Connection& db, domain::Env& env, int max_wait_days);

// The organisations whose figures `principal` may see: nullopt for all of them, else their ids.
std::optional<std::vector<std::int64_t>> visible_organisations(store::Connection& db,
                                                               const sdk::Principal& principal);

void register_routes(http::Router& router, http::ApiDocs& docs, ReportService& service);

}  // namespace kim::reports
