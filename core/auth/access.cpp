#include "auth/access.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <stdexcept>
#include <system_error>

#include <openssl/evp.h>

#include "domain/env.hpp"

namespace kim::auth {

namespace {

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    hex.push_back(kDigits[data[i] >> 4]);
    hex.push_back(kDigits[data[i] & 0xf]);
  }
  return hex;
}

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

}  // namespace

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
  return to_hex(digest, size);
}

std::string generate_token() {
  unsigned char bytes[32];
  domain::Env::system().random_bytes(bytes, sizeof bytes);  // the one secure source, like ids
  return "kim_" + to_hex(bytes, sizeof bytes);
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

IssuedToken AccessDirectory::create_token(const std::string& user_name, const std::string& role,
                                          const std::string& organisation,
                                          const std::string& label) {
  return store_token(user_name, role, organisation, label, generate_token());
}

IssuedToken AccessDirectory::store_token(const std::string& user_name, const std::string& role,
                                         const std::string& organisation, const std::string& label,
                                         std::string token) {
  if (auto problem = user_name_problem(user_name); !problem.empty()) {
    throw std::invalid_argument(problem);
  }
  if (!is_known_role(role)) {
    std::string allowed;
    for (const auto& r : known_roles())
      allowed += (allowed.empty() ? "" : ", ") + r;
    throw std::invalid_argument("unknown role \"" + role + "\" (allowed: " + allowed + ")");
  }
  if (role_needs_organisation(role) && organisation.empty()) {
    throw std::invalid_argument("role " + role + " needs an organisation (--org SLUG)");
  }
  IssuedToken issued;
  issued.token = std::move(token);
  const std::string hash = sha256_hex(issued.token);
  issued.user_id = store_.write([&](store::Connection& db) -> std::int64_t {
    store::SqlValue organisation_id = nullptr;
    if (!organisation.empty()) {
      auto found = db.query("SELECT id FROM organisations WHERE slug = ?", {organisation});
      if (found.empty()) {
        std::string known;
        for (const auto& row : db.query("SELECT slug FROM organisations ORDER BY slug")) {
          known += (known.empty() ? "" : ", ") + row["slug"].get<std::string>();
        }
        throw std::invalid_argument("unknown organisation \"" + organisation +
                                    "\" (known: " + (known.empty() ? "none" : known) + ")");
      }
      organisation_id = found.front()["id"].get<std::int64_t>();
    }
    auto existing = db.query(
        "SELECT u.id, u.role, coalesce(o.slug, '') AS organisation FROM users u "
        "LEFT JOIN organisations o ON o.id = u.organisation_id WHERE u.name = ?",
        {user_name});
    std::int64_t user_id = 0;
    if (existing.empty()) {
      user_id = db.execute("INSERT INTO users(name, role, organisation_id) VALUES (?, ?, ?)",
                           {user_name, role, organisation_id})
                    .last_insert_rowid;
    } else {
      const auto& row = existing.front();
      if (row["role"] != role || row["organisation"] != organisation) {
        throw std::invalid_argument("user \"" + user_name + "\" exists with role \"" +
                                    row["role"].get<std::string>() + "\" and organisation \"" +
                                    row["organisation"].get<std::string>() +
                                    "\"; give the same role and organisation to add a token");
      }
      user_id = row["id"].get<std::int64_t>();
    }
    issued.token_id = db.execute(
                            "INSERT INTO api_tokens(user_id, token_hash, token_prefix, label) "
                            "VALUES (?, ?, ?, ?)",
                            {user_id, hash, issued.token.substr(0, 8), label})
                          .last_insert_rowid;
    return user_id;
  });
  return issued;
}

std::optional<sdk::Principal> AccessDirectory::authenticate(std::string_view token) const {
  if (token.size() < 8 || token.size() > 200) return std::nullopt;
  const std::string hash = sha256_hex(token);
  auto rows = store_.read([&](store::Connection& db) {
    return db.query(
        "SELECT u.id, u.name, u.role, coalesce(u.organisation_id, 0) AS organisation_id, "
        "coalesce(o.slug, '') AS organisation FROM api_tokens t JOIN users u ON u.id = t.user_id "
        "LEFT JOIN organisations o ON o.id = u.organisation_id "
        "WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.disabled_at IS NULL",
        {hash});
  });
  if (rows.empty()) return std::nullopt;
  const auto& row = rows.front();
  return sdk::Principal{row["id"].get<std::int64_t>(), row["name"].get<std::string>(),
                        row["role"].get<std::string>(), row["organisation_id"].get<std::int64_t>(),
                        row["organisation"].get<std::string>()};
}

bool AccessDirectory::has_users() const {
  return store_.read(
      [](store::Connection& db) { return !db.query("SELECT 1 FROM users LIMIT 1").empty(); });
}

std::optional<std::filesystem::path> AccessDirectory::bootstrap_admin(
    const std::filesystem::path& data_dir) {
  if (has_users()) return std::nullopt;
  auto path = data_dir / "bootstrap-admin.token";
  // A token file left from an earlier, deleted database names a token that no longer exists.
  std::filesystem::remove(path);
  // File first, then the user: a failure on either side leaves neither, never an admin whose
  // token nobody knows.
  const std::string token = generate_token();
  write_secret_file(path, token);
  try {
    store_token("admin", "admin", "", "bootstrap", token);
  } catch (...) {
    std::filesystem::remove(path);
    throw;
  }
  return path;
}

}  // namespace kim::auth
