#include "text/ascii.hpp"

#include <string>

#include <gtest/gtest.h>

namespace kim::text {
namespace {

TEST(AsciiTest, LowerChangesOnlyAsciiLetters) {
  EXPECT_EQ(lower("Bearer X-Kim-Signature"), "bearer x-kim-signature");
  EXPECT_EQ(lower("SQLITE_MASTER 09[]@"), "sqlite_master 09[]@");
  // UTF-8 bytes pass unchanged: "ÄÖÜ" is not ASCII and must stay as it was written.
  EXPECT_EQ(lower("\xc3\x84\xc3\x96\xc3\x9c"), "\xc3\x84\xc3\x96\xc3\x9c");
  EXPECT_EQ(lower(""), "");
}

TEST(AsciiTest, ToHexWritesTwoLowercaseDigitsPerByte) {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(to_hex(bytes, sizeof bytes), "000fa0ff");
  EXPECT_EQ(to_hex(std::string("\x01\xab", 2)), "01ab");
  EXPECT_EQ(to_hex(std::string_view()), "");
}

TEST(AsciiTest, HexDigitValueReadsBothCases) {
  EXPECT_EQ(hex_digit_value('0'), 0);
  EXPECT_EQ(hex_digit_value('9'), 9);
  EXPECT_EQ(hex_digit_value('a'), 10);
  EXPECT_EQ(hex_digit_value('F'), 15);
  EXPECT_EQ(hex_digit_value('g'), -1);
  EXPECT_EQ(hex_digit_value('%'), -1);
  EXPECT_EQ(hex_digit_value('\0'), -1);
}

TEST(AsciiTest, FromHexRoundTripsAndRefusesMalformedInput) {
  const std::string bytes("\x00\x7f\x80\xff", 4);
  EXPECT_EQ(from_hex(to_hex(bytes)), bytes);
  EXPECT_EQ(from_hex("AbCd"), std::string("\xab\xcd"));
  EXPECT_EQ(from_hex(""), std::string());
  EXPECT_FALSE(from_hex("abc"));  // odd length
  EXPECT_FALSE(from_hex("zz"));
}

}  // namespace
}  // namespace kim::text
