// Calendar dates as the legal rules count them: YYYY-MM-DD, whole days, no time zone.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kim_naturalisation {

struct Date {
  int year = 0;
  int month = 0;
  int day = 0;

  friend auto operator<=>(const Date&, const Date&) = default;
};

// Only YYYY-MM-DD of a real calendar day (2025-02-29 is refused).
std::optional<Date> parse_date(std::string_view text);
std::string to_string(const Date& date);
// `months` later; a day that month lacks becomes its last day (31.01. + 1 month = 28./29.02.),
// as § 188 (3) BGB counts periods.
Date add_months(const Date& date, int months);
// Days since 1970-01-01 (negative before).
long days_from_epoch(const Date& date);
// Today in the host's local time zone, as the API's calendar dates.
Date today();

}  // namespace kim_naturalisation
