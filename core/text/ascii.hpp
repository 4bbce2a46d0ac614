// ASCII text for protocol tokens: header names, auth schemes, SQL identifiers, hex secrets.
// Text people write (names, notes) is Unicode and goes through ICU (domain/validation.hpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace kim::text {

// Only A-Z become a-z; every other byte stays, so UTF-8 passes through unchanged.
std::string lower(std::string_view text);

// Two lowercase hex digits per byte: the form of our token hashes, ids and signatures.
std::string to_hex(std::string_view bytes);
std::string to_hex(const unsigned char* bytes, std::size_t size);

// The value of one hex digit of either case, or -1 for any other character.
constexpr int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The bytes that `hex` spells (either case); nothing for an odd length or a non-digit.
std::optional<std::string> from_hex(std::string_view hex);

}  // namespace kim::text
