// Partner seeds of the deployment config: the shipped Kreis Steinfurt network passes the partner
// rules, re-applying never duplicates or overwrites, and a bad seed writes nothing.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <stdexcept>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/host_config.hpp"
#include "domain/catalog.hpp"
#include "partners/partners.hpp"
#include "store/core_migrations.hpp"
#include "store/store.hpp"
#include "support/paths.hpp"

namespace kim::partners {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class PartnerSeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("kim_partner_seed_test_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter++) + "_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    store::StoreOptions options;
    options.path = dir_ / "kim.sqlite3";
    options.synchronous = "OFF";  // durability is not under test here
    store_ = std::make_unique<store::Store>(options);
    store_->migrate("core", store::core_migrations());
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  json query(const std::string& sql, std::vector<store::SqlValue> params = {}) {
    return store_->read([&](store::Connection& db) { return json(db.query(sql, params)); });
  }
  std::int64_t partner_count() {
    return query("SELECT count(*) AS n FROM partners")[0]["n"].get<std::int64_t>();
  }

  static std::vector<json> shipped_partners() {
    return config::load_host_config(fs::path(KIM_SOURCE_DIR) / "config" / "kreis-steinfurt.json")
        .partners;
  }

  static json valid_seed(const std::string& slug) {
    return {{"slug", slug},
            {"name", "Beratungsstelle " + slug},
            {"kind", "counselling_service"},
            {"towns", {"Rheine"}},
            {"services", {"migration_counselling"}}};
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(PartnerSeedTest, ShippedNetworkPassesTheRulesAndServesEveryTown) {
  auto seeds = shipped_partners();
  ASSERT_FALSE(seeds.empty());
  EXPECT_THAT(seed_problems(seeds), ::testing::IsEmpty());
  EXPECT_EQ(apply_seeds(*store_, seeds), static_cast<int>(seeds.size()));

  auto towns = query(
      "SELECT json_extract(towns, '$[0]') AS town FROM partners WHERE kind = "
      "'town' ORDER BY 1");
  ASSERT_EQ(towns.size(), domain::towns().size());
  // Every town has exactly one foreigners authority and one youth office responsible for it.
  for (const auto& town : domain::towns()) {
    for (const char* kind : {"foreigners_authority", "youth_office"}) {
      auto responsible = query(
          "SELECT slug FROM partners WHERE kind = ? AND (county_wide = 1 OR EXISTS (SELECT 1 "
          "FROM json_each(towns) WHERE value = ?))",
          {std::string(kind), town});
      EXPECT_EQ(responsible.size(), 1u) << kind << " for " << town << ": " << responsible;
    }
  }
  for (const char* slug :
       {"jobcenter-kreis-steinfurt", "agentur-fuer-arbeit-rheine",
        "auslaenderbehoerde-kreis-steinfurt", "auslaenderbehoerde-stadt-rheine"}) {
    EXPECT_EQ(query("SELECT 1 FROM partners WHERE slug = ?", {std::string(slug)}).size(), 1u)
        << slug;
  }
}

TEST_F(PartnerSeedTest, ReapplyingNeitherDuplicatesNorOverwritesChangesMadeSince) {
  auto seeds = shipped_partners();
  apply_seeds(*store_, seeds);
  const auto before = partner_count();
  store_->write([](store::Connection& db) {
    db.execute("UPDATE partners SET name = 'Renamed over the API' WHERE slug = ?",
               {std::string("jobcenter-kreis-steinfurt")});
  });

  seeds.push_back(valid_seed("neue-beratungsstelle"));
  EXPECT_EQ(apply_seeds(*store_, seeds), 1);  // only the new one
  EXPECT_EQ(partner_count(), before + 1);
  EXPECT_EQ(query("SELECT name FROM partners WHERE slug = 'jobcenter-kreis-steinfurt'")[0]["name"],
            "Renamed over the API");
}

TEST_F(PartnerSeedTest, BadSeedsAreAllReportedWithPathsAndNothingIsWritten) {
  std::vector<json> seeds = {valid_seed("fine-one"), valid_seed("fine-two")};
  seeds.push_back(valid_seed("fine-one"));  // [2] repeated slug
  seeds.push_back(valid_seed("bad-kind"));  // [3]
  seeds[3]["kind"] = "townhall";
  seeds.push_back(valid_seed("bad-town"));  // [4]
  seeds[4]["towns"] = {"Rheine", "Münster"};
  seeds.push_back(valid_seed("both"));  // [5] county-wide with towns
  seeds[5]["county_wide"] = true;
  seeds.push_back(valid_seed("no-services"));  // [6]
  seeds[6]["services"] = json::array();
  seeds.push_back(valid_seed("Bad Slug"));     // [7]
  seeds.push_back(valid_seed("unknown-key"));  // [8]
  seeds[8]["email"] = "info@example.org";
  seeds.push_back(valid_seed("no-towns"));  // [9]
  seeds[9].erase("towns");

  auto problems = seed_problems(seeds);
  ASSERT_EQ(problems.size(), 8u) << ::testing::PrintToString(problems);
  EXPECT_THAT(problems[0],
              HasSubstr("partners[2].slug: \"fine-one\" is already used by partners[0]"));
  EXPECT_THAT(problems[1], HasSubstr("partners[3].kind: must be one of"));
  EXPECT_THAT(problems[2], HasSubstr("partners[4].towns[1]: must be one of"));
  EXPECT_THAT(problems[3], HasSubstr("partners[5].towns: must be left out when county_wide"));
  EXPECT_THAT(problems[4], HasSubstr("partners[6].services: must not be empty"));
  EXPECT_THAT(problems[5], HasSubstr("partners[7].slug: must match"));
  EXPECT_THAT(problems[6], HasSubstr("partners[8].email: unknown field"));
  EXPECT_THAT(problems[7], HasSubstr("partners[9].towns: must name the towns served"));

  EXPECT_THROW(apply_seeds(*store_, seeds), std::invalid_argument);
  EXPECT_EQ(partner_count(), 0);
}

}  // namespace
}  // namespace kim::partners
