#include "reports/reports.hpp"

#include <algorithm>

#include "domain/catalog.hpp"
#include "domain/prelude.hpp"
#include "domain/validation.hpp"
#include "referrals/referrals.hpp"
#include "reports/indicators.hpp"

namespace kim::reports {

using namespace domain::prelude;

const char* const IndicatorSql::kCases =
    "SELECT town, organisation_id, phase, opened_on, closed_on, closure_reason, birth_year, "
    "gender, residence_status, intake_on, first_goal_on FROM report_case_facts "
    "WHERE opened_on <= ? AND (closed_on IS NULL OR closed_on >= ?)";
const char* const IndicatorSql::kGoalsSet =
    "SELECT f.town, f.organisation_id, g.life_domain, count(*) AS n FROM goals g "
    "JOIN report_case_facts f ON f.case_id = g.case_id "
    "WHERE g.created_at >= ? AND g.created_at < ?";
const char* const IndicatorSql::kGoalsAchieved =
    "SELECT f.town, f.organisation_id, g.life_domain, count(*) AS n FROM goals g "
    "JOIN report_case_facts f ON f.case_id = g.case_id "
    "WHERE g.status = 'achieved' AND g.updated_at >= ? AND g.updated_at < ?";
const char* const IndicatorSql::kReferrals =
    "SELECT f.town, f.organisation_id, p.kind, r.service, r.status, count(*) AS n "
    "FROM referrals r JOIN report_case_facts f ON f.case_id = r.case_id "
    "JOIN partners p ON p.slug = r.partner WHERE r.created_at >= ? AND r.created_at < ?";

Result<IndicatorQuery> indicator_query(const std::map<std::string, std::string>& params) {
  IndicatorQuery query;
  for (const auto& [key, value] : params) {
    if (key == "from" || key == "to") {
      if (!domain::is_date(value)) return Problem::bad_request(key, "must be a date YYYY-MM-DD");
      (key == "from" ? query.from : query.to) = value;
    } else if (key == "town") {
      if (!domain::contains(domain::towns(), value)) {
        return Problem{400, "unknown_town", "\"" + value + "\" is not a town of the county", key,
                       json{{"towns", domain::towns()}}};
      }
      query.town = value;
    } else if (key == "organisation") {
      if (value.empty()) return Problem::bad_request(key, "must name an organisation");
      query.organisation = value;
    } else if (key == "format") {
      if (value != "json" && value != "csv")
        return Problem::bad_request(key, "must be json or csv");
      query.format = value;
    } else {
      return Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr};
    }
  }
  if (query.from.empty()) return Problem::bad_request("from", "is required (YYYY-MM-DD)");
  if (query.to.empty()) return Problem::bad_request("to", "is required (YYYY-MM-DD)");
  const auto from = *day_number(query.from);
  const auto to = *day_number(query.to);
  if (from > to) return Problem::bad_request("to", "must not be before from");
  if (to - from + 1 > kMaxPeriodDays) {
    return Problem::bad_request(
        "to", "the period may cover at most " + std::to_string(kMaxPeriodDays) + " days");
  }
  return query;
}

std::optional<std::vector<std::int64_t>> visible_organisations(Connection& db,
                                                               const sdk::Principal& principal) {
  if (principal.role == "admin" || principal.role == "auditor" || principal.role == "cli") {
    return std::nullopt;
  }
  std::vector<std::int64_t> ids;
  if (principal.role != "coordinator" || principal.organisation_id == 0) return ids;
  for (const auto& row : db.query("SELECT id FROM organisations WHERE id = ? OR supervisor_id = ? "
                                  "ORDER BY id",
                                  {principal.organisation_id, principal.organisation_id})) {
    ids.push_back(row["id"].get<std::int64_t>());
  }
  return ids;
}

namespace {

// " AND <column> IN (?,?,…)" for `ids`, or nothing when every organisation may be read.
void restrict_to(std::string& sql, std::vector<SqlValue>& params, const char* column,
                 const std::optional<std::vector<std::int64_t>>& ids) {
  if (!ids) return;
  sql += std::string(" AND ") + column + " IN (";
  for (std::size_t i = 0; i < ids->size(); ++i) {
    sql += i == 0 ? "?" : ",?";
    params.push_back((*ids)[i]);
  }
  sql += ids->empty() ? "NULL)" : ")";
}

constexpr std::int64_t kProgressEvery = 100000;

}  // namespace

Result<Reply> ReportService::indicators(const Context& ctx, const IndicatorQuery& query,
                                        const Progress& progress) {
  const auto& principal = ctx.actor.principal;
  return tx_.read_bulk(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    std::map<std::int64_t, std::string> slugs;
    for (const auto& row : db.query("SELECT id, slug FROM organisations"))
      slugs[row["id"].get<std::int64_t>()] = row["slug"].get<std::string>();
    auto visible = visible_organisations(db, principal);
    // A town or organisation is a filter of the rows, not of the table: the cells are suppressed
    // over everything the caller sees, so a filtered report shows what the whole one shows (else
    // its figures, beside the whole report's, would give suppressed counts away).
    if (query.organisation) {
      auto found = std::find_if(slugs.begin(), slugs.end(), [&](const auto& entry) {
        return entry.second == *query.organisation;
      });
      if (found == slugs.end()) {
        fail(Problem{400, "unknown_organisation", "no organisation \"" + *query.organisation + "\"",
                     "organisation", nullptr});
      }
      if (visible && std::find(visible->begin(), visible->end(), found->first) == visible->end()) {
        fail(Problem::forbidden("you may not see the figures of organisation " +
                                *query.organisation));
      }
    }
    // Who asked for which figures: no person is in them, but the state's export is on record.
    audit.push_back({"report", "indicators", query.from + ".." + query.to, ""});

    const std::string end = next_day(query.to);  // timestamps of the last day are before it
    IndicatorTable table(query.from, query.to);
    auto filtered = [&](std::string sql, std::vector<SqlValue> params,
                        const char* organisation_column) {
      restrict_to(sql, params, organisation_column, visible);
      return std::make_pair(sql, params);
    };

    // Cases open on some day of the period: one pass over the narrow facts table.
    auto [case_sql, case_params] =
        filtered(IndicatorSql::kCases, {query.to, query.from}, "organisation_id");
    auto cases = db.prepare(case_sql);
    cases.bind_all(case_params);
    std::int64_t read = 0;
    CaseFact fact;
    while (cases.step()) {
      fact.town = cases.column_text(0);
      fact.organisation_id = cases.column_int64(1);
      fact.phase = cases.column_text(2);
      fact.opened_on = cases.column_text(3);
      fact.closed_on = cases.column_text(4);
      fact.closure_reason = cases.column_text(5);
      fact.birth_year = cases.column_int64(6);
      fact.gender = cases.column_text(7);
      fact.residence_status = cases.column_text(8);
      fact.intake_on = cases.column_text(9);
      fact.first_goal_on = cases.column_text(10);
      table.add_case(fact);
      if (progress && ++read % kProgressEvery == 0) progress("cases", read);
    }
    if (progress) progress("cases", read);

    // Goals set and achieved in the period, grouped by SQL (the index finds the period).
    for (bool achieved : {false, true}) {
      auto [sql, params] =
          filtered(achieved ? IndicatorSql::kGoalsAchieved : IndicatorSql::kGoalsSet,
                   {query.from, end}, "f.organisation_id");
      auto goals = db.prepare(sql + " GROUP BY 1, 2, 3");
      goals.bind_all(params);
      while (goals.step()) {
        table.add_goals(goals.column_text(0), goals.column_int64(1), goals.column_text(2), achieved,
                        goals.column_int64(3));
      }
    }
    if (progress) progress("goals", 0);

    auto [referral_sql, referral_params] =
        filtered(IndicatorSql::kReferrals, {query.from, end}, "f.organisation_id");
    auto referrals = db.prepare(referral_sql + " GROUP BY 1, 2, 3, 4, 5");
    referrals.bind_all(referral_params);
    while (referrals.step()) {
      table.add_referrals(referrals.column_text(0), referrals.column_int64(1),
                          referrals.column_text(2), referrals.column_text(3),
                          referrals.column_text(4), referrals.column_int64(5));
    }
    if (progress) progress("referrals", 0);

    json body = {{"format", "kim-indicators"},
                 {"format_version", kIndicatorFormatVersion},
                 {"from", query.from},
                 {"to", query.to},
                 {"town", query.town ? json(*query.town) : json(nullptr)},
                 {"organisation", query.organisation ? json(*query.organisation) : json(nullptr)},
                 {"generated_at", tx_.env().timestamp()},
                 {"suppression",
                  {{"below", kSmallCell}, {"shown_as", kSuppressed}, {"withheld_as", kWithheld}}},
                 {"age_reference_year", std::stoll(query.to.substr(0, 4))},
                 {"rows", json::array()}};
    for (auto& row : table.rows([&](std::int64_t id) {
           auto found = slugs.find(id);
           return found == slugs.end() ? std::to_string(id) : found->second;
         })) {
      if (query.town && row["town"] != *query.town) continue;
      if (query.organisation && row["organisation"] != *query.organisation) continue;
      body["rows"].push_back(std::move(row));
    }
    return Reply{200, std::move(body), std::nullopt};
  });
}

json referral_gaps(Connection& db, domain::Env& env, int max_wait_days) {
  auto rows =
      db.query(std::string("SELECT p.kind AS partner_kind, r.service, r.town, "
                           "sum(r.status = 'declined') AS declined, "
                           "sum(r.status = 'cancelled' AND r.stopped_reason IS NULL) AS cancelled, "
                           "sum(") +
                   referrals::kWaitingTooLong +
                   ") AS waiting_too_long FROM referrals r JOIN partners p ON p.slug = r.partner "
                   "GROUP BY 1, 2, 3 HAVING declined + cancelled + waiting_too_long > 0 "
                   "ORDER BY 1, 2, 3",
               {referrals::waiting_since(env, max_wait_days)});
  // A town's single refusal would point at one participant: small counts are suppressed.
  for (auto& row : rows) {
    for (const char* count : {"declined", "cancelled", "waiting_too_long"})
      row[count] = suppressed(row[count].get<std::int64_t>());
  }
  return {{"max_wait_days", max_wait_days},
          {"generated_at", env.timestamp()},
          {"suppression", {{"below", kSmallCell}, {"shown_as", kSuppressed}}},
          {"items", rows}};
}

Result<Reply> ReportService::referral_gaps(const Context& ctx) {
  // Counts only: nothing personal is read, so nothing to audit.
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    return Reply{200, reports::referral_gaps(db, tx_.env(), max_wait_days_), std::nullopt};
  });
}

}  // namespace kim::reports
