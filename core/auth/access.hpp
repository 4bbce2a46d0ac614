// Users and API tokens. A token is random, shown once when it is made, and stored only as its
// SHA-256 hash; requests present it as "Authorization: Bearer <token>".
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kim/sdk/http.hpp"
#include "store/store.hpp"

namespace kim::auth {

// The roles of DOMAIN.md. Access rules per object are enforced by the domain services.
const std::vector<std::string>& known_roles();
bool is_known_role(std::string_view role);
// Case managers, coordinators and authority officers always act for an organisation.
bool role_needs_organisation(std::string_view role);

std::string sha256_hex(std::string_view data);
// "kim_" followed by 64 hex digits of cryptographic randomness.
std::string generate_token();

struct IssuedToken {
  std::int64_t user_id = 0;
  std::int64_t token_id = 0;
  std::string token;  // the secret: show it once, never store or log it
};

// Checks a user name (1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit); the
// reason it is refused, or empty.
std::string user_name_problem(const std::string& name);

// A new token for an existing user, inside the caller's write (API, CLI and bootstrap share it).
IssuedToken insert_token(store::Connection& db, std::int64_t user_id, const std::string& label);

class AccessDirectory {
 public:
  explicit AccessDirectory(store::Store& store) : store_(store) {}

  // Creates the user when missing, then a new token for it. `organisation` is an organisation's
  // slug, or empty. Refuses (std::invalid_argument, nothing written) an unknown role, a malformed
  // user name, an unknown organisation, a missing one where the role needs it, or an existing
  // user whose role or organisation differ.
  IssuedToken create_token(const std::string& user_name, const std::string& role,
                           const std::string& organisation, const std::string& label);

  // The principal a token belongs to, or nothing when the token is unknown, revoked or its user
  // disabled.
  std::optional<sdk::Principal> authenticate(std::string_view token) const;

  bool has_users() const;

  // On a database without users: creates user "admin" (role admin) and writes its token to
  // <data_dir>/bootstrap-admin.token with mode 0600. Returns that path, or nothing when users
  // existed already. Never logs the token.
  std::optional<std::filesystem::path> bootstrap_admin(const std::filesystem::path& data_dir);

 private:
  IssuedToken store_token(const std::string& user_name, const std::string& role,
                          const std::string& organisation, const std::string& label,
                          std::string token);

  store::Store& store_;
};

}  // namespace kim::auth
