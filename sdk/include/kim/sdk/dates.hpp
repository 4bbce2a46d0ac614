// Calendar dates as the API and legal rules count them: "YYYY-MM-DD", whole days, no time zone.
// Header-only, so a plugin gets them without an ABI of their own.
#pragma once

#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace kim::sdk {

struct Date {
  int year = 0;
  int month = 0;
  int day = 0;

  friend auto operator<=>(const Date&, const Date&) = default;
};

inline bool is_leap_year(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

inline int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[month - 1];
}

// Only "YYYY-MM-DD" of a real calendar day (2025-02-29 and 2025-2-1 are refused) whose year lies
// in [first_year, last_year] (first_year >= 0): for a rule that needs other years than
// parse_date(text) allows.
inline std::optional<Date> parse_date(std::string_view text, int first_year, int last_year) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto number = [&](std::size_t from, std::size_t length) {
    int value = 0;
    for (std::size_t i = from; i < from + length; ++i) {
      if (text[i] < '0' || text[i] > '9') return -1;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  const Date date{number(0, 4), number(5, 2), number(8, 2)};
  if (date.year < first_year || date.year > last_year || date.month < 1 || date.month > 12 ||
      date.day < 1 || date.day > days_in_month(date.year, date.month)) {
    return std::nullopt;
  }
  return date;
}

// A date of the API: "YYYY-MM-DD" of a real calendar day from 1900 on.
inline std::optional<Date> parse_date(std::string_view text) {
  return parse_date(text, 1900, 9999);
}

inline std::string to_string(const Date& date) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", date.year % 10000, date.month % 100,
                date.day % 100);
  return buffer;
}

// `months` later (or earlier, when negative); a day that month lacks becomes its last day
// (31.01. + 1 month = 28./29.02.), as § 188 (3) BGB counts periods.
inline Date add_months(const Date& date, int months) {
  const int index = date.year * 12 + (date.month - 1) + months;
  Date result{index / 12, index % 12 + 1, date.day};
  if (result.day > days_in_month(result.year, result.month))
    result.day = days_in_month(result.year, result.month);
  return result;
}

inline Date add_years(const Date& date, int years) {
  return add_months(date, years * 12);
}

// Days since 1970-01-01 (negative before); the difference of two is the days between them.
inline long days_from_epoch(const Date& date) {
  // Howard Hinnant's days_from_civil.
  const int y = date.year - (date.month <= 2 ? 1 : 0);
  const long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned mp = static_cast<unsigned>(date.month + (date.month > 2 ? -3 : 9));
  const unsigned doy = (153 * mp + 2) / 5 + static_cast<unsigned>(date.day) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long>(doe) - 719468;
}

inline long days_between(const Date& from, const Date& to) {
  return days_from_epoch(to) - days_from_epoch(from);
}

// Today in the host's local time zone, as the API's calendar dates are.
inline Date today() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  return {local.tm_year + 1900, local.tm_mon + 1, local.tm_mday};
}

}  // namespace kim::sdk
