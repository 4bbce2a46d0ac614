// Users and API tokens. A token is random, shown once when it is made, and stored only as its
// SHA-256 hash; requests present it as "Authorization: Bearer <token>".
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
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

// Creates `path` with mode 0600 (never overwriting a file) holding `content` and a line break,
// synced; throws and leaves no file when it cannot.
void write_secret_file(const std::filesystem::path& path, const std::string& content);

// Tokens found are cached in memory by their hash, together with the value of `auth_epoch` (core
// migration 12) they were found under. Triggers bump that counter on every update or delete of a
// token, user or organisation, by whichever process (the CLI's too), and every authenticate()
// reads it in the same snapshot as it would read the token: a changed counter empties the cache,
// so a revocation or a disabled user counts from the very next request. Unknown tokens are never
// cached.
class AccessDirectory {
 public:
  explicit AccessDirectory(store::Store& store) : store_(store) {}

  // The principal a token belongs to, or nothing when the token is unknown, revoked or its user
  // disabled.
  std::optional<sdk::Principal> authenticate(std::string_view token) const;

  // A principal from the cache alone, without reading the database, and the epoch it is valid
  // for; nothing when the token is not cached. It counts only once current(epoch) confirmed it,
  // in the snapshot the request's reads then use.
  struct Provisional {
    sdk::Principal principal;
    std::int64_t epoch = 0;
  };
  std::optional<Provisional> cached(std::string_view token) const;
  // Whether nothing changed tokens, users or organisations since `epoch` (reads auth_epoch).
  bool current(std::int64_t epoch) const;

  // Tokens in the cache now (for tests).
  std::size_t cached_tokens() const;

 private:
  store::Store& store_;
  mutable std::mutex mutex_;
  mutable std::int64_t epoch_ = -1;  // guarded by mutex_: the epoch cache_ is valid for
  mutable std::unordered_map<std::string, sdk::Principal> cache_;  // by token hash; mutex_
};

}  // namespace kim::auth
