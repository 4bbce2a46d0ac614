#include "auth/access.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <stdexcept>
#include <system_error>

#include <openssl/evp.h>

#include "domain/env.hpp"
#include "text/ascii.hpp"

namespace kim::auth {

void write_secret_file(const std::filesystem::path& path, const std::string& content) {
  // O_EXCL: never overwrite a token file someone else may rely on; 0600: only the service user.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "cannot create " + path.string());
  }
  std::string line = content + "\n";
  ssize_t written = ::write(fd, line.data(), line.size());
  bool ok = written == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    std::filesystem::remove(path);
    throw std::runtime_error("cannot write " + path.string());
  }
}

const std::vector<std::string>& known_roles() {
  static const std::vector<std::string> roles = {"admin", "case_manager", "coordinator",
                                                 "authority_officer", "auditor"};
  return roles;
}

bool is_known_role(std::string_view role) {
  const auto& roles = known_roles();
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

bool role_needs_organisation(std::string_view role) {
  return role == "case_manager" || role == "coordinator" || role == "authority_officer";
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return text::to_hex(digest, size);
}

std::string generate_token() {
  unsigned char bytes[32];
  domain::Env::system().random_bytes(bytes, sizeof bytes);  // the one secure source, like ids
  return "kim_" + text::to_hex(bytes, sizeof bytes);
}

std::string user_name_problem(const std::string& name) {
  static const std::regex kUserName("[a-z0-9][a-z0-9._-]{0,63}");
  if (std::regex_match(name, kUserName)) return {};
  return "user name \"" + name +
         "\" must be 1-64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit";
}

IssuedToken insert_token(store::Connection& db, std::int64_t user_id, const std::string& label) {
  IssuedToken issued;
  issued.user_id = user_id;
  issued.token = generate_token();
  issued.token_id =
      db.execute(
            "INSERT INTO api_tokens(user_id, token_hash, token_prefix, label) VALUES (?, ?, ?, ?)",
            {user_id, sha256_hex(issued.token), issued.token.substr(0, 8), label})
          .last_insert_rowid;
  return issued;
}

namespace {
// A bound on memory, far above the tokens of a county; when full, the cache starts afresh.
constexpr std::size_t kMaxCachedTokens = 10000;

// -1 when the row is missing (then nothing is cached).
std::int64_t read_epoch(store::Connection& db) {
  store::Statement stmt = db.prepare("SELECT value FROM auth_epoch WHERE id = 1");
  return stmt.step() ? stmt.column_int64(0) : -1;
}
}  // namespace

std::optional<sdk::Principal> AccessDirectory::authenticate(std::string_view token) const {
  if (token.size() < 8 || token.size() > 200) return std::nullopt;
  std::string hash = sha256_hex(token);
  return store_.read([&](store::Connection& db) -> std::optional<sdk::Principal> {
    const std::int64_t epoch = read_epoch(db);
    {
      std::lock_guard lock(mutex_);
      if (epoch > epoch_) {
        cache_.clear();
        epoch_ = epoch;
      } else if (epoch == epoch_) {
        if (auto it = cache_.find(hash); it != cache_.end()) return it->second;
      }
      // epoch < epoch_: an older snapshot than the cache's; look up without the cache.
    }
    store::Statement stmt = db.prepare(
        "SELECT u.id, u.name, u.role, coalesce(u.organisation_id, 0), coalesce(o.slug, '') "
        "FROM api_tokens t JOIN users u ON u.id = t.user_id "
        "LEFT JOIN organisations o ON o.id = u.organisation_id "
        "WHERE t.token_hash = ?1 AND t.revoked_at IS NULL AND u.disabled_at IS NULL");
    stmt.bind(1, hash);
    if (!stmt.step()) return std::nullopt;
    sdk::Principal principal{stmt.column_int64(0), stmt.column_text(1), stmt.column_text(2),
                             stmt.column_int64(3), stmt.column_text(4)};
    std::lock_guard lock(mutex_);
    if (epoch == epoch_ && epoch >= 0) {
      if (cache_.size() >= kMaxCachedTokens) cache_.clear();
      cache_.emplace(std::move(hash), principal);
    }
    return principal;
  });
}

std::optional<AccessDirectory::Provisional> AccessDirectory::cached(std::string_view token) const {
  if (token.size() < 8 || token.size() > 200) return std::nullopt;
  const std::string hash = sha256_hex(token);
  std::lock_guard lock(mutex_);
  auto it = cache_.find(hash);
  if (it == cache_.end()) return std::nullopt;
  return Provisional{it->second, epoch_};
}

bool AccessDirectory::current(std::int64_t epoch) const {
  const std::int64_t now = store_.read([](store::Connection& db) { return read_epoch(db); });
  std::lock_guard lock(mutex_);
  if (now > epoch_) {  // a change: nothing cached holds any longer
    cache_.clear();
    epoch_ = now;
  }
  return now == epoch && now >= 0;
}

std::size_t AccessDirectory::cached_tokens() const {
  std::lock_guard lock(mutex_);
  return cache_.size();
}

}  // namespace kim::auth
