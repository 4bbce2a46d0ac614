// `kim config check` on the shipped config with the jobcenter plugin: the shipped connector
// instance passes; bad settings of connectors.jobcenter are refused, each with its path.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/kim_process.hpp"
#include "support/paths.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

json shipped_config() {
  std::ifstream in(std::filesystem::path(KIM_SOURCE_DIR) / "config" / "kreis-steinfurt.json");
  return json::parse(in);
}

CommandResult check(const TempDir& dir, json config) {
  config["data_dir"] = (dir.path() / "data").string();
  config["plugins"]["directories"] = {KIM_PLUGIN_DIR};
  const auto file = dir.path() / "kim.json";
  std::ofstream(file) << config.dump(2);
  return run_command(KIM_BINARY, {"config", "check", "--config", file.string()});
}

TEST(JobcenterConfigTest, TheShippedInstancePasses) {
  TempDir dir;
  auto result = check(dir, shipped_config());
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("connector:   jobcenter (jobcenter)"));
}

TEST(JobcenterConfigTest, BadSettingsAreRefusedWithTheirPaths) {
  TempDir dir;
  auto config = shipped_config();
  auto& settings = config["connectors"]["jobcenter"]["settings"];
  settings["transport"]["type"] = "ftp";
  settings["towns_served"] = "Rheine";
  settings["format_version"] = 2;
  settings["colour"] = "blue";
  auto result = check(dir, config);
  EXPECT_NE(result.exit_code, 0);
  for (const char* path :
       {"connectors.jobcenter.settings.transport.type",
        "connectors.jobcenter.settings.towns_served",
        "connectors.jobcenter.settings.format_version", "connectors.jobcenter.settings.colour"}) {
    EXPECT_THAT(result.err + result.out, HasSubstr(path));
  }
  // Nothing was created by the check.
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "data"));

  // Without the plugin the type is unknown.
  auto without = shipped_config();
  without["plugins"]["settings"]["jobcenter"]["enabled"] = false;
  auto unknown = check(dir, without);
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.err + unknown.out,
              HasSubstr("connectors.jobcenter.type: no connector type \"jobcenter\""));
}

}  // namespace
}  // namespace kim::test
