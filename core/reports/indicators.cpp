#include "reports/indicators.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "kim/sdk/dates.hpp"

namespace kim::reports {

using nlohmann::json;

namespace {

constexpr char kSeparator = '\x1f';

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string csv_value(const json& value) {
  if (value.is_string()) return csv_field(value.get<std::string>());
  if (value.is_number_integer()) return std::to_string(value.get<std::int64_t>());
  if (value.is_number()) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1f", value.get<double>());
    return buffer;
  }
  return "";
}

std::string text_of(const json& value) {
  return value.is_string() ? value.get<std::string>() : std::string(kAll);
}

}  // namespace

json suppressed(std::int64_t count) {
  if (count > 0 && count < kSmallCell) return kSuppressed;
  return count;
}

std::optional<std::int64_t> day_number(std::string_view date) {
  const auto day = sdk::parse_date(date.substr(0, 10), 0, 9999);
  if (!day) return std::nullopt;
  return sdk::days_from_epoch(*day);
}

std::string next_day(const std::string& date) {
  const auto day = day_number(date);
  if (!day) return date;
  const std::chrono::year_month_day ymd{std::chrono::sys_days(std::chrono::days(*day + 1))};
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buffer;
}

std::string age_band(std::int64_t birth_year, std::int64_t reference_year) {
  if (birth_year <= 0 || birth_year > reference_year) return "unknown";
  const auto age = reference_year - birth_year;
  if (age < 18) return "0-17";
  if (age < 27) return "18-26";
  if (age < 45) return "27-44";
  if (age < 65) return "45-64";
  return "65+";
}

std::optional<double> median(std::vector<std::int64_t>& values) {
  if (values.empty()) return std::nullopt;
  const std::size_t middle = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<long>(middle), values.end());
  const double upper = static_cast<double>(values[middle]);
  if (values.size() % 2 == 1) return upper;
  const double lower = static_cast<double>(
      *std::max_element(values.begin(), values.begin() + static_cast<long>(middle)));
  return (lower + upper) / 2;
}

IndicatorTable::IndicatorTable(std::string from, std::string to)
    : from_(std::move(from)), to_(std::move(to)) {
  from_day_ = day_number(from_).value_or(0);
  to_day_ = day_number(to_).value_or(0);
  reference_year_ = std::stoll(to_.substr(0, 4));
}

void IndicatorTable::Group::count(const std::string& indicator, const std::string& category,
                                  std::int64_t n) {
  // One buffer for the key: this runs several times for each of a year's cases.
  key.assign(indicator).append(1, kSeparator).append(category);
  counts[key] += n;
}

void IndicatorTable::Group::merge(const Group& other) {
  opened += other.opened;
  active += other.active;
  closed += other.closed;
  for (const auto& [key, n] : other.counts)
    counts[key] += n;
  days_to_intake.insert(days_to_intake.end(), other.days_to_intake.begin(),
                        other.days_to_intake.end());
  days_to_first_goal.insert(days_to_first_goal.end(), other.days_to_first_goal.begin(),
                            other.days_to_first_goal.end());
  duration.insert(duration.end(), other.duration.begin(), other.duration.end());
}

IndicatorTable::Group& IndicatorTable::group(const std::string& town,
                                             std::int64_t organisation_id) {
  return groups_[{town, organisation_id}];
}

void IndicatorTable::add_case(const CaseFact& fact) {
  const auto opened = day_number(fact.opened_on);
  if (!opened || *opened > to_day_) return;
  const std::int64_t closed = day_number(fact.closed_on).value_or(to_day_ + 1);  // open: later
  if (closed < from_day_) return;
  Group& g = group(fact.town, fact.organisation_id);
  ++g.active;
  g.count("active_by_phase", fact.phase);
  g.count("active_by_age_band", age_band(fact.birth_year, reference_year_));
  g.count("active_by_gender", fact.gender.empty() ? "unknown" : fact.gender);
  g.count("active_by_residence_status",
          fact.residence_status.empty() ? "unknown" : fact.residence_status);
  if (*opened >= from_day_) {
    ++g.opened;
    if (auto intake = day_number(fact.intake_on)) g.days_to_intake.push_back(*intake - *opened);
    if (auto goal = day_number(fact.first_goal_on)) g.days_to_first_goal.push_back(*goal - *opened);
  }
  if (closed <= to_day_) {
    ++g.closed;
    g.count("closed_by_reason", fact.closure_reason.empty() ? "unknown" : fact.closure_reason);
    g.duration.push_back(closed - *opened);
  }
}

void IndicatorTable::add_goals(const std::string& town, std::int64_t organisation_id,
                               const std::string& life_domain, bool achieved, std::int64_t count) {
  group(town, organisation_id).count(achieved ? "goals_achieved" : "goals_set", life_domain, count);
}

void IndicatorTable::add_referrals(const std::string& town, std::int64_t organisation_id,
                                   const std::string& partner_kind, const std::string& service,
                                   const std::string& status, std::int64_t count) {
  group(town, organisation_id)
      .count("referrals", partner_kind + "/" + service + "/" + status, count);
}

void IndicatorTable::emit(json& out, const std::string& town, const std::string& organisation,
                          const Group& group) {
  auto row = [&](const std::string& indicator, const std::string& category, json value) {
    out.push_back({{"town", town},
                   {"organisation", organisation},
                   {"indicator", indicator},
                   {"category", category},
                   {"value", std::move(value)}});
  };
  // Counts as they are: suppress_small_cells() decides once every row is there.
  row("cases_opened", "", group.opened);
  row("cases_active", "", group.active);
  row("cases_closed", "", group.closed);
  for (const auto& [key, n] : group.counts) {
    const auto cut = key.find(kSeparator);
    row(key.substr(0, cut), key.substr(cut + 1), n);
  }
  // A median over fewer than kSmallCell cases would describe those few: suppressed as well.
  auto median_row = [&](const char* indicator, std::vector<std::int64_t> values) {
    if (values.empty()) return;
    const auto n = static_cast<std::int64_t>(values.size());
    if (n < kSmallCell) return row(indicator, "", kSuppressed);
    row(indicator, "", *median(values));
  };
  median_row("median_days_to_intake", group.days_to_intake);
  median_row("median_days_to_first_goal", group.days_to_first_goal);
  median_row("median_case_duration_days", group.duration);
}

json IndicatorTable::rows(const std::function<std::string(std::int64_t)>& slug_of) const {
  json out = json::array();
  Group everything;
  std::map<std::string, Group> per_town;
  std::vector<std::pair<std::pair<std::string, std::string>, const Group*>> named;
  for (const auto& [key, group] : groups_) {
    named.push_back({{key.first, slug_of(key.second)}, &group});
    per_town[key.first].merge(group);
    everything.merge(group);
  }
  std::sort(named.begin(), named.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  // "*" sorts before letters: each town's total comes first, the county's before every town.
  emit(out, kAll, kAll, everything);
  for (const auto& [town, total] : per_town) {
    emit(out, town, kAll, total);
    for (const auto& [names, group] : named) {
      if (names.first == town) emit(out, town, names.second, *group);
    }
  }
  suppress_small_cells(out);
  return out;
}

void suppress_small_cells(json& rows) {
  struct Cell {
    std::int64_t n = 0;
    bool hidden = false;
    bool small = false;
  };
  // The count rows (medians decide for themselves) and the sums they are parts of: a town's row
  // is the sum of its organisations', the county's the sum of the towns', cases_active the sum
  // of each active_by_* indicator's categories and cases_closed of closed_by_reason's.
  std::vector<Cell> cells(rows.size());
  std::vector<bool> counted(rows.size(), false);
  std::map<std::string, std::size_t> by_key;
  // (key of the sum's row, name of the breakdown) -> the rows that add up to it.
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> parts;
  const auto key = [](const std::string& town, const std::string& organisation,
                      const std::string& indicator, const std::string& category) {
    return town + kSeparator + organisation + kSeparator + indicator + kSeparator + category;
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const json& row = rows[i];
    if (!row["value"].is_number_integer()) continue;
    counted[i] = true;
    const std::int64_t n = row["value"];
    const bool small = n > 0 && n < kSmallCell;  // hidden from the start (primary)
    cells[i] = {n, small, small};
    const std::string town = row["town"], organisation = row["organisation"],
                      indicator = row["indicator"], category = row["category"];
    by_key[key(town, organisation, indicator, category)] = i;
    if (organisation != kAll) {
      parts[{key(town, kAll, indicator, category), "organisations"}].push_back(i);
    } else if (town != kAll) {
      parts[{key(kAll, kAll, indicator, category), "towns"}].push_back(i);
    }
    if (indicator.starts_with("active_by_")) {
      parts[{key(town, organisation, "cases_active", ""), indicator}].push_back(i);
    } else if (indicator == "closed_by_reason") {
      parts[{key(town, organisation, "cases_closed", ""), indicator}].push_back(i);
    }
  }
  std::vector<std::pair<std::size_t, std::vector<std::size_t>>> sums;
  for (auto& [sum, members] : parts) {
    if (auto found = by_key.find(sum.first); found != by_key.end()) {
      sums.emplace_back(found->second, std::move(members));
    }
  }
  // Secondary suppression. A reader knows each shown count, that "<5" is 1-4 and "x" at least 5,
  // and that every sum is its parts. Narrowing each hidden count's range by all sums in turn
  // (until nothing moves) shows what a reader can work out; while some hidden count comes out
  // exact, the smallest shown non-zero part of such a sum is withheld as well (else the sum) and
  // the ranges are worked out again. Each round hides a cell: it ends.
  constexpr std::int64_t kUnbounded = std::int64_t{1} << 40;
  struct Range {
    std::int64_t lo, hi;
  };
  const auto known = [&](std::size_t i) -> Range {
    if (!cells[i].hidden) return {cells[i].n, cells[i].n};
    return cells[i].small ? Range{1, kSmallCell - 1} : Range{kSmallCell, kUnbounded};
  };
  for (;;) {
    std::vector<Range> range(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (counted[i]) range[i] = known(i);
    // sum = Σ parts, so each member lies within what the others leave. Bounded passes: ranges
    // only shrink, and a handful of passes settles the tree of sums a report has.
    std::vector<std::size_t> exact_in;  // indexes into `sums` where a hidden count came out exact
    for (int pass = 0, moved = 1; moved && pass < 64; ++pass) {
      moved = 0;
      exact_in.clear();
      for (std::size_t r = 0; r < sums.size(); ++r) {
        const auto& [sum, members] = sums[r];
        auto unbounded = [&](std::size_t i) { return range[i].hi >= kUnbounded; };
        std::int64_t lo = 0, finite_hi = 0, open = 0;
        for (std::size_t i : members) {
          lo += range[i].lo;
          if (unbounded(i)) {
            ++open;
          } else {
            finite_hi += range[i].hi;
          }
        }
        auto narrow = [&](std::size_t i, std::int64_t at_least, std::int64_t at_most) {
          if (at_least > range[i].lo) range[i].lo = at_least, moved = 1;
          if (at_most < range[i].hi) range[i].hi = at_most, moved = 1;
          if (cells[i].hidden && range[i].lo >= range[i].hi &&
              (exact_in.empty() || exact_in.back() != r)) {
            exact_in.push_back(r);
          }
        };
        narrow(sum, lo, open ? kUnbounded : finite_hi);
        for (std::size_t i : members) {
          const std::int64_t others_lo = lo - range[i].lo;
          const bool others_open = open - (unbounded(i) ? 1 : 0) > 0;
          const std::int64_t others_hi =
              others_open ? kUnbounded : finite_hi - (unbounded(i) ? 0 : range[i].hi);
          narrow(i, range[sum].lo - others_hi, range[sum].hi - others_lo);
        }
      }
    }
    if (exact_in.empty()) break;
    // Parts first: withholding a sum hides more than needed where withholding a part would do.
    bool hid = false;
    for (bool sums_too : {false, true}) {
      for (std::size_t r : exact_in) {
        const auto& [sum, members] = sums[r];
        std::optional<std::size_t> pick;
        for (std::size_t i : members) {
          if (!cells[i].hidden && cells[i].n > 0 && (!pick || cells[i].n < cells[*pick].n)) {
            pick = i;
          }
        }
        if (!pick && sums_too && !cells[sum].hidden && cells[sum].n > 0) pick = sum;
        if (pick) cells[*pick].hidden = hid = true;
      }
      if (hid) break;
    }
    if (!hid) break;  // everything of those sums is hidden already: nothing more to withhold
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (counted[i] && cells[i].hidden) rows[i]["value"] = cells[i].small ? kSuppressed : kWithheld;
  }
}

std::string indicators_csv(const json& report) {
  std::string csv = "# kim-indicators format_version=" +
                    std::to_string(report.value("format_version", kIndicatorFormatVersion)) +
                    " from=" + text_of(report["from"]) + " to=" + text_of(report["to"]) +
                    " town=" + text_of(report["town"]) +
                    " organisation=" + text_of(report["organisation"]) +
                    " suppressed_below=" + std::to_string(kSmallCell) + "\r\n";
  csv += "town,organisation,indicator,category,value\r\n";
  for (const auto& row : report["rows"]) {
    csv += csv_field(row["town"]) + "," + csv_field(row["organisation"]) + "," +
           csv_field(row["indicator"]) + "," + csv_field(row["category"]) + "," +
           csv_value(row["value"]) + "\r\n";
  }
  return csv;
}

}  // namespace kim::reports
