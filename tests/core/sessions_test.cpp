// The console's password and cookie rules (core/sessions): Argon2id hashes, the password policy,
// the session cookie read from a Cookie header among others.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sessions/sessions.hpp"

namespace kim::sessions {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(SessionsTest, PasswordsAreHashedWithArgon2idAndSalted) {
  const auto first = hash_password("Kaffee-und-Kuchen-42");
  const auto second = hash_password("Kaffee-und-Kuchen-42");
  EXPECT_THAT(first, StartsWith("$argon2id$"));
  EXPECT_NE(first, second);  // a salt of its own each time
  EXPECT_THAT(first, ::testing::Not(HasSubstr("Kaffee")));
  EXPECT_TRUE(verify_password(first, "Kaffee-und-Kuchen-42"));
  EXPECT_TRUE(verify_password(second, "Kaffee-und-Kuchen-42"));
  EXPECT_FALSE(verify_password(first, "Kaffee-und-Kuchen-43"));
  EXPECT_FALSE(verify_password(first, ""));
  EXPECT_FALSE(verify_password("not a hash", "Kaffee-und-Kuchen-42"));
}

TEST(SessionsTest, PasswordPolicy) {
  EXPECT_EQ(password_problem("Kaffee-und-Kuchen-42", "c.meyer"), "");
  EXPECT_THAT(password_problem("elf-Zeichen", "c.meyer"), HasSubstr("12 characters"));
  // Characters, not bytes: twelve umlauts are enough, eleven are not.
  EXPECT_EQ(password_problem("ääääääääääää", "c.meyer"), "");
  EXPECT_THAT(password_problem("äääääääääää", "c.meyer"), HasSubstr("12 characters"));
  EXPECT_THAT(password_problem("Anna.Schmidt-1", "anna.schmidt-1"), HasSubstr("user name"));
  EXPECT_THAT(password_problem(std::string(1025, 'x'), "c.meyer"), HasSubstr("1024"));
  EXPECT_THAT(password_problem("\xff\xfe-ungueltig-utf8", "c.meyer"), HasSubstr("UTF-8"));
}

TEST(SessionsTest, TheSessionCookieIsFoundAmongOthers) {
  sdk::HttpRequest request;
  EXPECT_EQ(session_cookie(request), "");
  request.headers["cookie"] = "theme=dark; kim_session=abc123; lang=de";
  EXPECT_EQ(session_cookie(request), "abc123");
  request.headers["cookie"] = "kim_session=first";
  EXPECT_EQ(session_cookie(request), "first");
  // A cookie whose name merely ends or starts alike is another cookie.
  request.headers["cookie"] = "old_kim_session=x; kim_session_2=y";
  EXPECT_EQ(session_cookie(request), "");
}

}  // namespace
}  // namespace kim::sessions
