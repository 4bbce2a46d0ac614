// domain::clean_text (how names and free text are stored) and domain::matching_key (how names
// are compared by the duplicate check), without a server.
#include <string>

#include <gtest/gtest.h>

#include "cases/service.hpp"
#include "domain/validation.hpp"

namespace kim::domain {
namespace {

std::string problem_of(const std::string& text, bool multiline) {
  std::string problem;
  auto cleaned = clean_text(text, multiline, problem);
  return cleaned ? "" : problem;
}

std::string cleaned(const std::string& text, bool multiline = false) {
  std::string problem;
  return clean_text(text, multiline, problem).value_or("<refused: " + problem + ">");
}

TEST(TextNormalisationTest, RefusesControlsBidiOverridesNoncharactersAndBrokenUtf8) {
  for (const std::string& text :
       {std::string("a\0b", 3), std::string("\x1b[31m"), std::string("a\x7f"),
        std::string("a\xc2\x85"), std::string("a\xc2\x9f"),
        std::string("\xe2\x80\xaa"
                    "a"),
        std::string("\xe2\x80\xae"
                    "a"),
        std::string("\xe2\x81\xa6"
                    "a"),
        std::string("\xe2\x81\xa9"
                    "a"),
        std::string("a\xef\xbf\xbf"), std::string("a\xef\xb7\x90"), std::string("\xc0\xaf"),
        std::string("\xed\xa0\x80"), std::string("a\xe2\x82")}) {
    SCOPED_TRACE(text);
    EXPECT_NE(problem_of(text, false), "");
    EXPECT_NE(problem_of(text, true), "");
  }
  // Line breaks and tabs: only in multi-line text.
  for (const std::string text : {"a\nb", "a\r\nb", "a\tb",
                                 "a\xe2\x80\xa8"
                                 "b"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(problem_of(text, false), "must be one line (no line breaks or tabs)");
    EXPECT_EQ(problem_of(text, true), "");
  }
  // Invisible only: refused; empty after trimming: accepted as empty (the reader decides).
  for (const std::string text :
       {"\xe2\x80\x8b", "\xc2\xad\xe2\x80\x8c", "\xcc\x81", "\xe2\x81\xa0 "}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(problem_of(text, false), "must contain a visible character");
  }
  EXPECT_EQ(cleaned(" \xc2\xa0\xe3\x80\x80\xe2\x80\x83"), "");
  // Right-to-left marks are allowed (mixed Arabic and Latin text needs them).
  EXPECT_EQ(cleaned("\xd8\xb9\xd9\x84\xd9\x8a\xe2\x80\x8f 2"),
            "\xd8\xb9\xd9\x84\xd9\x8a\xe2\x80\x8f 2");
}

TEST(TextNormalisationTest, StoresNfcTrimmed) {
  EXPECT_EQ(cleaned("  Jose\xcc\x81 "), "Jos\xc3\xa9");
  EXPECT_EQ(cleaned("\xc2\xa0O\xcc\x88zdemir\xe3\x80\x80"), "\xc3\x96zdemir");
  EXPECT_EQ(cleaned("Ali  Reza"), "Ali  Reza");  // inner spaces are the user's
  EXPECT_EQ(cleaned(" Zeile 1\n\tZeile 2\n ", true), "Zeile 1\n\tZeile 2");
}

TEST(TextNormalisationTest, MatchingKeyFoldsWhatLooksAlike) {
  const std::string key = matching_key("Ali Reza \xc3\x96zdemir");
  EXPECT_EQ(key, "ali oezdemir reza");
  for (const std::string text :
       {"ALI REZA OEZDEMIR", "\xc3\x96zdemir, Ali-Reza", "Ali Reza O\xcc\x88zdemir",
        "Ali\xe2\x80\x8b Reza \xc3\x96zdemir", "Ali Re\xc2\xadza \xc3\x96zdemir\xc2\xa0",
        "Ali\xc2\xa0Reza \xc3\x96zdemir", "\xef\xbc\xa1li Reza \xc3\x96zdemir",
        "Ali Reza \xc3\x96zdemir\xe2\x80\x8d", "ali reza \xc3\xb6zdemir"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(matching_key(text), key);
  }
  EXPECT_EQ(matching_key("Stra\xc3\x9f"
                         "e"),
            matching_key("STRASSE"));
  EXPECT_EQ(matching_key("\xc4\xb0lhan Y\xc4\xb1lmaz"), matching_key("Ilhan Yilmaz"));
  EXPECT_EQ(matching_key("Jos\xc3\xa9 Garc\xc3\xad"
                         "a"),
            matching_key("jose garcia"));
  EXPECT_NE(matching_key("Ali Reza"), matching_key("Ali Rezaa"));
  // The service's key is the same function over both names.
  EXPECT_EQ(cases::CaseService::name_key("Ali-Reza", "\xc3\x96zdemir"), key);
}

}  // namespace
}  // namespace kim::domain
