// The demo's data files: the shipped ones load and cover every vocabulary the seed draws from,
// and `kim demo seed` finds them beside the config, else beside the binary, else where told.
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/demo_data.hpp"
#include "domain/catalog.hpp"
#include "support/paths.hpp"

namespace kim::app {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kShipped = fs::path(KIM_SOURCE_DIR) / "config" / "demo";

class TempFolder {
 public:
  TempFolder()
      : path_(fs::temp_directory_path() /
              ("kim-demo-data-" + std::to_string(std::random_device{}()))) {
    fs::create_directories(path_);
  }
  ~TempFolder() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(DemoDataTest, ShippedFilesLoadAndCoverEveryVocabularyTheSeedDrawsFrom) {
  const DemoData data = load_demo_data(kShipped);
  EXPECT_GE(data.origins.size(), 5u);
  for (const auto& town : domain::towns())
    EXPECT_EQ(data.town_weights.count(town), 1u) << town;
  for (const auto& life_domain : domain::life_domains()) {
    ASSERT_EQ(data.life_domains.count(life_domain), 1u) << life_domain;
    EXPECT_EQ(data.life_domains.at(life_domain).summaries.size(), 3u) << life_domain;
  }
  for (const auto& reason : domain::closure_reasons())
    EXPECT_EQ(data.closure_notes.count(reason), 1u) << reason;
  // Coordinating offices first (they supervise the others), every served town taken on once.
  ASSERT_GE(data.organisations.size(), 2u);
  EXPECT_EQ(data.organisations[0].seed.slug, "ki-kreis-steinfurt");
  EXPECT_EQ(data.organisations[1].seed.slug, "stadt-rheine-ko");
  std::map<std::string, int> served;
  for (const auto& org : data.organisations) {
    for (const auto& town : org.serves)
      ++served[town];
  }
  for (const auto& [town, times] : served)
    EXPECT_EQ(times, 1) << town;
  EXPECT_EQ(data.hub, "ki-kreis-steinfurt");
  // The monthly working group, the steering group and one integration chain.
  ASSERT_EQ(data.bodies.size(), 2u);
  EXPECT_EQ(data.bodies[0]["kind"], "monthly_working_group");
  EXPECT_EQ(data.bodies[1]["kind"], "steering_group");
  ASSERT_EQ(data.chains.size(), 1u);
  EXPECT_EQ(data.chains[0]["steps"].size(), 3u);
}

TEST(DemoDataTest, FoundBesideTheConfigElseBesideTheBinaryElseWhereTold) {
  TempFolder dir;
  const fs::path config = dir.path() / "kim.json";
  // Nothing beside the config: the copy the build puts beside the binary (share/kim/demo).
  const fs::path installed = find_demo_data(std::nullopt, config);
  EXPECT_EQ(installed.filename(), "demo");
  EXPECT_EQ(installed.parent_path().filename(), "kim");
  EXPECT_NO_THROW(load_demo_data(installed));

  fs::create_directories(dir.path() / "demo");
  for (const auto& entry : fs::directory_iterator(kShipped))
    fs::copy_file(entry.path(), dir.path() / "demo" / entry.path().filename());
  EXPECT_EQ(find_demo_data(std::nullopt, config), dir.path() / "demo");
  EXPECT_EQ(find_demo_data(kShipped, config), kShipped);

  try {
    find_demo_data(dir.path() / "elsewhere", config);
    FAIL() << "a folder without data files was accepted";
  } catch (const DemoDataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("elsewhere: holds no demo data files"));
  }
}

TEST(DemoDataTest, AMalformedFileNamesFileAndPath) {
  TempFolder dir;
  for (const auto& entry : fs::directory_iterator(kShipped))
    fs::copy_file(entry.path(), dir.path() / entry.path().filename());
  std::ofstream(dir.path() / "organisations.json")
      << R"({"organisations": [{"slug": "x-office", "name": "X", "kind": "castle"}],
             "other_towns_to": "x-office", "auditor": "a"})";
  try {
    load_demo_data(dir.path());
    FAIL() << "an unknown organisation kind was accepted";
  } catch (const DemoDataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("organisations.json: organisations[0].kind: must be one of"));
  }
}

TEST(DemoDataTest, AMalformedSteeringFileNamesFileAndPath) {
  TempFolder dir;
  for (const auto& entry : fs::directory_iterator(kShipped))
    fs::copy_file(entry.path(), dir.path() / entry.path().filename());
  std::ofstream(dir.path() / "steering.json")
      << R"({"bodies": [], "chains": [{"name": "K", "steps": [{"title": "A", "service": "magic"}]}]})";
  try {
    load_demo_data(dir.path());
    FAIL() << "a malformed steering.json was accepted";
  } catch (const DemoDataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("steering.json: bodies: must be a non-empty array"));
  }
  std::ofstream(dir.path() / "steering.json")
      << R"({"bodies": [{"name": "AK", "kind": "monthly_working_group", "members": [{"user": "x"}]}],
             "chains": [{"name": "K", "steps": [{"title": "A", "service": "magic"}]}]})";
  try {
    load_demo_data(dir.path());
    FAIL() << "an unknown service was accepted";
  } catch (const DemoDataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("steering.json: chains[0].steps[0].service: must be one of"));
  }
  // Without the file (a data folder of an older release) there are no bodies and chains.
  fs::remove(dir.path() / "steering.json");
  EXPECT_TRUE(load_demo_data(dir.path()).bodies.empty());
}

}  // namespace
}  // namespace kim::app
