#include "auth/access.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "events/event_bus.hpp"
#include "log/logging.hpp"
#include "orgs/organisations.hpp"
#include "store/core_migrations.hpp"
#include "store/store.hpp"

namespace kim::auth {
namespace {

namespace fs = std::filesystem;

// A real, migrated store in a fresh folder per test, removed afterwards.
class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    std::random_device random;
    dir_ = fs::temp_directory_path() / ("kim_access_test_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(counter++) + "_" + std::to_string(random()));
    fs::create_directories(dir_);
    store::StoreOptions options;
    options.path = dir_ / "kim.sqlite3";
    options.synchronous = "OFF";  // durability is not under test here
    store_ = std::make_unique<store::Store>(options);
    store_->migrate("core", store::core_migrations());
    directory_ = std::make_unique<AccessDirectory>(*store_);
    admin_ = std::make_unique<orgs::AdminService>(*store_, events_, domain::Env::system());
  }
  void TearDown() override {
    admin_.reset();
    directory_.reset();
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::int64_t count(const std::string& table) {
    return store_->read([&](store::Connection& db) {
      return db.query("SELECT COUNT(*) AS n FROM " + table)[0]["n"].get<std::int64_t>();
    });
  }

  void exec(const std::string& sql) {
    store_->write([&](store::Connection& db) { db.execute(sql); });
  }

  // Users and tokens are made as `kim token create` makes them (AdminService::grant_token); a
  // refusal throws std::invalid_argument with the problem's message.
  IssuedToken create_token(const std::string& name, const std::string& role,
                           const std::string& organisation, const std::string& label) {
    nlohmann::json body{{"name", name}, {"role", role}};
    if (!organisation.empty()) body["organisation"] = organisation;
    if (!label.empty()) body["label"] = label;
    auto result = admin_->grant_token(orgs::cli_context(), body);
    if (!result) throw std::invalid_argument(result.problem().message);
    const auto& reply = result.value().body;
    return {reply["id"].get<std::int64_t>(), reply["token_id"].get<std::int64_t>(),
            reply["token"].get<std::string>()};
  }
  bool has_users() { return count("users") > 0; }

  // Organisations are referenced by slug; the directory only looks them up.
  std::int64_t add_organisation(const std::string& slug, const std::string& kind = "authority") {
    return store_->write([&](store::Connection& db) {
      return db
          .execute("INSERT INTO organisations(slug, name, kind) VALUES (?, ?, ?)",
                   {slug, "Organisation " + slug, kind})
          .last_insert_rowid;
    });
  }

  static std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<AccessDirectory> directory_;
  events::EventBus events_{log::get("events")};
  std::unique_ptr<orgs::AdminService> admin_;
};

const std::regex kTokenFormat("kim_[0-9a-f]{64}");

TEST(AccessCrypto, Sha256HexKnownDigests) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(AccessCrypto, GeneratedTokensHaveTheFormatAndDiffer) {
  const std::string a = generate_token();
  const std::string b = generate_token();
  EXPECT_TRUE(std::regex_match(a, kTokenFormat)) << a;
  EXPECT_TRUE(std::regex_match(b, kTokenFormat)) << b;
  EXPECT_NE(a, b);
}

TEST(AccessCrypto, KnownRoles) {
  for (const char* role :
       {"admin", "case_manager", "coordinator", "authority_officer", "auditor"}) {
    EXPECT_TRUE(is_known_role(role)) << role;
  }
  for (const char* role : {"", "Admin", "root", "admin "}) {
    EXPECT_FALSE(is_known_role(role)) << role;
  }
  EXPECT_EQ(known_roles().size(), 5u);
}

TEST_F(AccessTest, CreateTokenIssuesDistinctWellFormedTokens) {
  add_organisation("jugendamt");
  const IssuedToken first = create_token("anna", "case_manager", "jugendamt", "laptop");
  const IssuedToken second = create_token("anna", "case_manager", "jugendamt", "phone");
  EXPECT_TRUE(std::regex_match(first.token, kTokenFormat)) << first.token;
  EXPECT_TRUE(std::regex_match(second.token, kTokenFormat)) << second.token;
  EXPECT_NE(first.token, second.token);
  EXPECT_EQ(first.user_id, second.user_id);  // same user, two tokens
  EXPECT_GT(first.user_id, 0);
  EXPECT_EQ(count("users"), 1);
  EXPECT_EQ(count("api_tokens"), 2);
}

TEST_F(AccessTest, OnlyTheHashOfATokenIsStored) {
  const IssuedToken issued = create_token("anna", "auditor", "", "laptop");
  const auto rows =
      store_->read([](store::Connection& db) { return db.query("SELECT * FROM api_tokens"); });
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["token_hash"], sha256_hex(issued.token));
  const std::string secret_part = issued.token.substr(4);  // the 64 random hex digits
  for (const auto& [column, value] : rows[0].items()) {
    const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
    EXPECT_EQ(text.find(issued.token), std::string::npos) << "column " << column;
    EXPECT_EQ(text.find(secret_part), std::string::npos) << "column " << column;
  }
  const auto users =
      store_->read([](store::Connection& db) { return db.query("SELECT * FROM users"); });
  EXPECT_EQ(users.dump().find(secret_part), std::string::npos);
}

TEST_F(AccessTest, AuthenticateReturnsThePrincipal) {
  add_organisation("caritas", "welfare_organisation");
  const std::int64_t organisation_id = add_organisation("kreis-steinfurt");
  const IssuedToken issued =
      create_token("kreis.jugendamt-01", "authority_officer", "kreis-steinfurt", "");
  const auto principal = directory_->authenticate(issued.token);
  ASSERT_TRUE(principal.has_value());
  EXPECT_EQ(principal->user_id, issued.user_id);
  EXPECT_EQ(principal->user_name, "kreis.jugendamt-01");
  EXPECT_EQ(principal->role, "authority_officer");
  EXPECT_EQ(principal->organisation_id, organisation_id);
  EXPECT_EQ(principal->organisation, "kreis-steinfurt");
}

TEST_F(AccessTest, UserWithoutOrganisationAuthenticatesWithNone) {
  const IssuedToken issued = create_token("pruefer", "auditor", "", "");
  const auto principal = directory_->authenticate(issued.token);
  ASSERT_TRUE(principal.has_value());
  EXPECT_EQ(principal->role, "auditor");
  EXPECT_EQ(principal->organisation_id, 0);
  EXPECT_EQ(principal->organisation, "");
}

TEST_F(AccessTest, EachTokenAuthenticatesItsOwnUser) {
  add_organisation("caritas", "welfare_organisation");
  const IssuedToken anna = create_token("anna", "case_manager", "caritas", "");
  const IssuedToken bert = create_token("bert", "auditor", "", "");
  EXPECT_NE(anna.user_id, bert.user_id);
  EXPECT_EQ(directory_->authenticate(anna.token)->user_name, "anna");
  EXPECT_EQ(directory_->authenticate(bert.token)->user_name, "bert");
  EXPECT_EQ(directory_->authenticate(bert.token)->role, "auditor");
}

TEST_F(AccessTest, UnknownOrMalformedTokensDoNotAuthenticate) {
  const IssuedToken issued = create_token("anna", "auditor", "", "");
  EXPECT_FALSE(directory_->authenticate(generate_token()).has_value());  // never issued
  EXPECT_FALSE(directory_->authenticate("").has_value());
  EXPECT_FALSE(directory_->authenticate("kim_").has_value());
  EXPECT_FALSE(directory_->authenticate(issued.token + " ").has_value());
  EXPECT_FALSE(
      directory_->authenticate(issued.token.substr(0, issued.token.size() - 1)).has_value());
  EXPECT_FALSE(directory_->authenticate(sha256_hex(issued.token)).has_value());  // the hash
  EXPECT_FALSE(directory_->authenticate(std::string(10000, 'a')).has_value());
  EXPECT_TRUE(directory_->authenticate(issued.token).has_value());  // still fine
}

TEST_F(AccessTest, RevokedTokenDoesNotAuthenticate) {
  const IssuedToken revoked = create_token("anna", "auditor", "", "old");
  const IssuedToken kept = create_token("anna", "auditor", "", "new");
  ASSERT_TRUE(directory_->authenticate(revoked.token).has_value());
  exec("UPDATE api_tokens SET revoked_at = '2024-01-01T00:00:00Z' WHERE label = 'old'");
  EXPECT_FALSE(directory_->authenticate(revoked.token).has_value());
  EXPECT_TRUE(directory_->authenticate(kept.token).has_value());
}

TEST_F(AccessTest, DisabledUserDoesNotAuthenticate) {
  const IssuedToken anna = create_token("anna", "auditor", "", "");
  const IssuedToken bert = create_token("bert", "auditor", "", "");
  exec("UPDATE users SET disabled_at = '2024-01-01T00:00:00Z' WHERE name = 'anna'");
  EXPECT_FALSE(directory_->authenticate(anna.token).has_value());
  EXPECT_TRUE(directory_->authenticate(bert.token).has_value());
}

// The token cache: a second lookup is served from memory, and any change to a token, user or
// organisation made through another connection (as `kim token revoke` in another process makes
// it) counts at the very next authenticate().
TEST_F(AccessTest, CachedTokensFollowChangesFromAnotherConnectionAtOnce) {
  add_organisation("caritas", "welfare_organisation");
  add_organisation("diakonie", "welfare_organisation");
  const IssuedToken anna = create_token("anna", "case_manager", "caritas", "a");
  const IssuedToken bert = create_token("bert", "case_manager", "caritas", "b");
  const IssuedToken carl = create_token("carl", "auditor", "", "c");
  ASSERT_TRUE(directory_->authenticate(anna.token).has_value());
  ASSERT_TRUE(directory_->authenticate(bert.token).has_value());
  ASSERT_TRUE(directory_->authenticate(carl.token).has_value());
  EXPECT_EQ(directory_->cached_tokens(), 3u);
  EXPECT_FALSE(directory_->authenticate(generate_token()).has_value());
  EXPECT_EQ(directory_->cached_tokens(), 3u) << "unknown tokens are not cached";
  EXPECT_EQ(directory_->authenticate(anna.token)->organisation, "caritas");  // from the cache

  auto other = store::Connection::open(dir_ / "kim.sqlite3", SQLITE_OPEN_READWRITE);
  const auto change = [&](const std::string& sql) {
    other.execute(sql);
    EXPECT_EQ(directory_->cached_tokens(), 3u) << "still cached before the next lookup: " << sql;
  };
  change("UPDATE organisations SET slug = 'caritas-rheine' WHERE slug = 'caritas'");
  EXPECT_EQ(directory_->authenticate(anna.token)->organisation, "caritas-rheine");
  ASSERT_TRUE(directory_->authenticate(bert.token).has_value());
  ASSERT_TRUE(directory_->authenticate(carl.token).has_value());
  change("UPDATE users SET role = 'coordinator' WHERE name = 'bert'");
  EXPECT_EQ(directory_->authenticate(bert.token)->role, "coordinator");
  ASSERT_TRUE(directory_->authenticate(anna.token).has_value());
  ASSERT_TRUE(directory_->authenticate(carl.token).has_value());
  change("UPDATE api_tokens SET revoked_at = '2024-01-01T00:00:00Z' WHERE label = 'a'");
  EXPECT_FALSE(directory_->authenticate(anna.token).has_value());
  ASSERT_TRUE(directory_->authenticate(bert.token).has_value());
  ASSERT_TRUE(directory_->authenticate(carl.token).has_value());
  EXPECT_EQ(directory_->cached_tokens(), 2u);
  other.execute("UPDATE users SET disabled_at = '2024-01-01T00:00:00Z' WHERE name = 'bert'");
  EXPECT_FALSE(directory_->authenticate(bert.token).has_value());
  ASSERT_TRUE(directory_->authenticate(carl.token).has_value());
  other.execute("DELETE FROM api_tokens WHERE label = 'c'");
  EXPECT_FALSE(directory_->authenticate(carl.token).has_value());
  EXPECT_EQ(directory_->cached_tokens(), 0u);
}

// cached() answers from memory only; current() tells whether its epoch still holds in the
// snapshot of the caller's reads, and empties the cache once it does not.
TEST_F(AccessTest, ProvisionalPrincipalHoldsOnlyWhileTheEpochIsCurrent) {
  const IssuedToken anna = create_token("anna", "auditor", "", "a");
  EXPECT_FALSE(directory_->cached(anna.token).has_value()) << "not looked up yet";
  ASSERT_TRUE(directory_->authenticate(anna.token).has_value());
  auto provisional = directory_->cached(anna.token);
  ASSERT_TRUE(provisional.has_value());
  EXPECT_EQ(provisional->principal.user_name, "anna");
  EXPECT_FALSE(directory_->cached(generate_token()).has_value());
  EXPECT_TRUE(directory_->current(provisional->epoch));

  auto other = store::Connection::open(dir_ / "kim.sqlite3", SQLITE_OPEN_READWRITE);
  other.execute("UPDATE api_tokens SET revoked_at = '2024-01-01T00:00:00Z' WHERE label = 'a'");
  EXPECT_FALSE(directory_->current(provisional->epoch));
  EXPECT_FALSE(directory_->cached(anna.token).has_value()) << "the cache was emptied";
  EXPECT_FALSE(directory_->authenticate(anna.token).has_value());
}

TEST_F(AccessTest, UnknownRoleIsRefusedAndNothingWritten) {
  create_token("anna", "auditor", "", "");
  EXPECT_THROW(create_token("bert", "superuser", "", ""), std::invalid_argument);
  EXPECT_THROW(create_token("bert", "", "", ""), std::invalid_argument);
  EXPECT_THROW(create_token("bert", "Admin", "", ""), std::invalid_argument);
  EXPECT_EQ(count("users"), 1);
  EXPECT_EQ(count("api_tokens"), 1);
}

TEST_F(AccessTest, MalformedUserNameIsRefusedAndNothingWritten) {
  for (const std::string& name :
       {std::string(""), std::string("Anna"), std::string("-anna"), std::string(".anna"),
        std::string("an na"), std::string("anna\n"), std::string("j\xc3\xbcrgen"),
        std::string("anna/x"), std::string(65, 'a')}) {
    EXPECT_THROW(create_token(name, "auditor", "", ""), std::invalid_argument)
        << '"' << name << '"';
  }
  EXPECT_EQ(count("users"), 0);
  EXPECT_EQ(count("api_tokens"), 0);
  // The limits themselves are fine.
  create_token(std::string(64, 'a'), "auditor", "", "");
  create_token("0", "auditor", "", "");
  EXPECT_EQ(count("users"), 2);
}

TEST_F(AccessTest, SameUserWithDifferentRoleOrOrganisationIsRefusedAndNothingWritten) {
  add_organisation("jugendamt");
  add_organisation("sozialamt");
  const IssuedToken first = create_token("anna", "case_manager", "jugendamt", "");
  EXPECT_THROW(create_token("anna", "coordinator", "jugendamt", ""), std::invalid_argument);
  EXPECT_THROW(create_token("anna", "case_manager", "sozialamt", ""), std::invalid_argument);
  EXPECT_EQ(count("users"), 1);
  EXPECT_EQ(count("api_tokens"), 1);
  const auto principal = directory_->authenticate(first.token);
  ASSERT_TRUE(principal.has_value());
  EXPECT_EQ(principal->role, "case_manager");  // unchanged
}

TEST_F(AccessTest, UnknownOrganisationIsRefusedAndNothingWritten) {
  add_organisation("caritas", "welfare_organisation");
  EXPECT_THROW(create_token("anna", "case_manager", "diakonie", ""), std::invalid_argument);
  EXPECT_THROW(create_token("anna", "case_manager", "Caritas", ""),
               std::invalid_argument);  // slugs are exact
  EXPECT_EQ(count("users"), 0);
  EXPECT_EQ(count("api_tokens"), 0);
}

TEST_F(AccessTest, RolesActingForAnOrganisationNeedOne) {
  for (const char* role : {"case_manager", "coordinator", "authority_officer"}) {
    EXPECT_TRUE(role_needs_organisation(role)) << role;
    EXPECT_THROW(create_token("anna", role, "", ""), std::invalid_argument) << role;
  }
  EXPECT_FALSE(role_needs_organisation("admin"));
  EXPECT_FALSE(role_needs_organisation("auditor"));
  EXPECT_EQ(count("users"), 0);
  EXPECT_EQ(count("api_tokens"), 0);
}

TEST_F(AccessTest, BootstrapAdminOnEmptyDatabaseWritesTokenFile) {
  ASSERT_FALSE(has_users());
  const auto path = admin_->bootstrap_admin(dir_);
  ASSERT_TRUE(path.has_value());
  EXPECT_EQ(*path, dir_ / "bootstrap-admin.token");
  ASSERT_TRUE(fs::is_regular_file(*path));
  EXPECT_EQ(fs::status(*path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  std::string token = read_file(*path);
  ASSERT_FALSE(token.empty());
  if (token.back() == '\n') token.pop_back();
  EXPECT_TRUE(std::regex_match(token, kTokenFormat)) << token;
  const auto principal = directory_->authenticate(token);
  ASSERT_TRUE(principal.has_value());
  EXPECT_EQ(principal->user_name, "admin");
  EXPECT_EQ(principal->role, "admin");
  EXPECT_TRUE(has_users());
  EXPECT_EQ(count("users"), 1);
  EXPECT_EQ(count("api_tokens"), 1);
}

TEST_F(AccessTest, BootstrapAdminDoesNothingWhenUsersExist) {
  const auto first = admin_->bootstrap_admin(dir_);
  ASSERT_TRUE(first.has_value());
  const std::string content = read_file(*first);

  EXPECT_FALSE(admin_->bootstrap_admin(dir_).has_value());
  EXPECT_EQ(read_file(*first), content);  // not rewritten
  EXPECT_EQ(count("users"), 1);
  EXPECT_EQ(count("api_tokens"), 1);
}

TEST_F(AccessTest, BootstrapAdminWritesNoFileWhenAnotherUserExists) {
  create_token("anna", "auditor", "", "");
  const fs::path other = dir_ / "other";
  fs::create_directories(other);
  EXPECT_FALSE(admin_->bootstrap_admin(other).has_value());
  EXPECT_FALSE(fs::exists(other / "bootstrap-admin.token"));
  EXPECT_EQ(count("users"), 1);
  EXPECT_EQ(count("api_tokens"), 1);
}

TEST_F(AccessTest, BootstrapAdminReplacesAStaleTokenFile) {
  const fs::path stale = dir_ / "bootstrap-admin.token";
  std::ofstream(stale) << "kim_stale\n";
  const auto path = admin_->bootstrap_admin(dir_);
  ASSERT_TRUE(path.has_value());
  std::string token = read_file(*path);
  if (!token.empty() && token.back() == '\n') token.pop_back();
  EXPECT_NE(token, "kim_stale");
  EXPECT_TRUE(directory_->authenticate(token).has_value());
  EXPECT_EQ(fs::status(*path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

}  // namespace
}  // namespace kim::auth
