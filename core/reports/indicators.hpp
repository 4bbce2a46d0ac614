// The indicator report's arithmetic, apart from the database so it can be tested alone: cases,
// goals and referrals of a period are added one by one (or as counts), grouped per town and
// organisation, and come out as rows of one long format (town, organisation, indicator,
// category, value) with totals per town and for the whole county, every count below
// kSmallCell suppressed. Format: core/reports/README.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace kim::reports {

// The export format's version: bump it when a column, indicator or category changes meaning.
constexpr int kIndicatorFormatVersion = 1;
// Counts from 1 to kSmallCell - 1 are shown as kSuppressed (small-cell suppression).
constexpr std::int64_t kSmallCell = 5;
constexpr const char* kSuppressed = "<5";
// A count of 5 or more withheld so that no "<5" can be worked out from a sum it is part of
// (secondary suppression).
constexpr const char* kWithheld = "x";
// Totals over every town or organisation are labelled so.
constexpr const char* kAll = "*";

// A count as it may be published: 1-4 become "<5"; 0 and 5 or more are shown.
nlohmann::json suppressed(std::int64_t count);

// Days since 1970-01-01 of a date "YYYY-MM-DD" (only the first 10 characters are read); nullopt
// when it is not one.
std::optional<std::int64_t> day_number(std::string_view date);
// The date one day after `date` ("YYYY-MM-DD").
std::string next_day(const std::string& date);

// Small-cell suppression of report rows ({"town", "organisation", "indicator", "category",
// "value"}, integer values being counts): 1-4 become kSuppressed; then, wherever a shown sum (a
// town over its organisations, the county over its towns, cases_active over each active_by_*
// breakdown, cases_closed over closed_by_reason) has exactly one hidden part, or a hidden sum has
// none, its smallest shown part becomes kWithheld, until none is left. Each sum is protected on
// its own: comparing reports of overlapping periods is not guarded against.
void suppress_small_cells(nlohmann::json& rows);

// The age band of someone born in `birth_year`, by their age in `reference_year`.
std::string age_band(std::int64_t birth_year, std::int64_t reference_year);

// The median of `values` (the mean of the two middle ones for an even count); `values` is
// reordered. nullopt when empty.
std::optional<double> median(std::vector<std::int64_t>& values);

// One case as the report sees it (report_case_facts).
struct CaseFact {
  std::string town;
  std::int64_t organisation_id = 0;
  std::string phase;
  std::string opened_on;
  std::string closed_on;  // empty while open
  std::string closure_reason;
  std::int64_t birth_year = 0;  // 0: unknown
  std::string gender;
  std::string residence_status;
  std::string intake_on;      // empty: never reached intake
  std::string first_goal_on;  // empty: no goal yet
};

class IndicatorTable {
 public:
  // Inclusive dates "YYYY-MM-DD", from <= to.
  IndicatorTable(std::string from, std::string to);

  // A case that was open on some day of the period (others are ignored).
  void add_case(const CaseFact& fact);
  // `count` goals of `life_domain` set (or achieved) in the period.
  void add_goals(const std::string& town, std::int64_t organisation_id,
                 const std::string& life_domain, bool achieved, std::int64_t count);
  // `count` referrals made in the period, by the partner's kind, the service and the status now.
  void add_referrals(const std::string& town, std::int64_t organisation_id,
                     const std::string& partner_kind, const std::string& service,
                     const std::string& status, std::int64_t count);

  // Every row, suppressed: per town and organisation (by its slug), per town over all
  // organisations ("*") and over everything ("*", "*"). Sorted by town, organisation, indicator,
  // category. Each row: {"town", "organisation", "indicator", "category", "value"}.
  nlohmann::json rows(const std::function<std::string(std::int64_t)>& slug_of) const;

 private:
  struct Group {
    std::int64_t opened = 0, active = 0, closed = 0;
    std::map<std::string, std::int64_t> counts;  // "indicator\x1fcategory" -> count
    std::vector<std::int64_t> days_to_intake, days_to_first_goal, duration;
    std::string key;  // scratch for count()
    void count(const std::string& indicator, const std::string& category, std::int64_t n = 1);
    void merge(const Group& other);
  };
  Group& group(const std::string& town, std::int64_t organisation_id);
  static void emit(nlohmann::json& out, const std::string& town, const std::string& organisation,
                   const Group& group);

  std::string from_, to_;
  std::int64_t from_day_ = 0, to_day_ = 0, reference_year_ = 0;
  std::map<std::pair<std::string, std::int64_t>, Group> groups_;
};

// The rows of a report (its JSON "rows") as CSV: a comment line naming the format and its
// version and the report's parameters, a header line, one line per row; "\r\n" line ends (RFC
// 4180).
std::string indicators_csv(const nlohmann::json& report);

}  // namespace kim::reports
