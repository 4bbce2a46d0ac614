// The one check of dates of social data (domain::parse_date, is_date: 1900-2200) and the reports'
// day arithmetic, which reads any year. The config schema's "date" format: json_schema_test.
#include <gtest/gtest.h>

#include "domain/validation.hpp"
#include "reports/indicators.hpp"

namespace kim {
namespace {

TEST(DateValidationTest, SocialDataDatesLieBetween1900And2200) {
  EXPECT_EQ(domain::parse_date("1900-01-01"), (sdk::Date{1900, 1, 1}));
  EXPECT_TRUE(domain::is_date("2200-12-31"));
  EXPECT_TRUE(domain::is_date("2024-02-29"));
  for (const char* bad : {"1899-12-31", "2201-01-01", "2025-02-29", "2025-2-01", "2025-13-01",
                          "2025-01-00", "2025-01-01T00:00", " 2025-01-01", "", "0199-01-01"}) {
    EXPECT_FALSE(domain::is_date(bad)) << bad;
  }
}

TEST(DateValidationTest, DayArithmeticReadsAnyYearAndTheDateOfATimestamp) {
  EXPECT_EQ(reports::day_number("1970-01-02"), 1);
  EXPECT_EQ(reports::day_number("1969-12-31T23:59:59Z"), -1);
  EXPECT_EQ(reports::day_number("1800-03-01"), -62032);
  EXPECT_FALSE(reports::day_number("2025-02-29"));
  EXPECT_FALSE(reports::day_number("2025-01"));
  EXPECT_EQ(reports::next_day("2024-02-28"), "2024-02-29");
  EXPECT_EQ(reports::next_day("2024-12-31"), "2025-01-01");
}

}  // namespace
}  // namespace kim
