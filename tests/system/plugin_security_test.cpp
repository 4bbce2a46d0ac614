// The real kim binary with plugin files it must not trust: `kim plugins list` names each refusal
// and its reason and never loads what is not enabled; GET /api/v1/plugins shows absolute paths
// and reasons to admins only.
#include <cstdlib>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/kim_host.hpp"
#include "support/kim_process.hpp"
#include "support/paths.hpp"

namespace kim::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

nlohmann::json item_of(const nlohmann::json& items, const std::string& id) {
  for (const auto& item : items) {
    if (item["id"] == id) return item;
  }
  ADD_FAILURE() << id << " not listed in " << items.dump();
  return nlohmann::json::object();
}

TEST(PluginSecurityTest, PluginsListRefusesUntrustedFilesWithTheirReasonAndLoadsNothingDisabled) {
  TempDir dir;
  const auto plugins = dir.path() / "plugins";
  fs::create_directories(plugins);
  fs::permissions(plugins, fs::perms(0755));
  const auto copy = [&](const fs::path& from, const std::string& name, fs::perms mode) {
    fs::copy_file(from, plugins / name);
    fs::permissions(plugins / name, mode);
  };
  copy(fs::path(KIM_PLUGIN_DIR) / "kim-hello.so", "kim-hello.so", fs::perms(0666));
  copy(fs::path(KIM_FIXTURE_PLUGIN_DIR) / "kim-marker-on-load.so", "kim-marker-on-load.so",
       fs::perms(0644));
  fs::create_symlink(fs::path(KIM_FIXTURE_PLUGIN_DIR) / "kim-throws-on-load.so",
                     plugins / "kim-link.so");
  {
    std::ifstream in(fs::path(KIM_PLUGIN_DIR) / "kim-hello.so", std::ios::binary);
    std::string head(200, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(plugins / "kim-cut.so", std::ios::binary) << head;
  }
  nlohmann::json config = {
      {"plugins",
       {{"directories", {plugins.string()}},
        {"settings", {{"hello", {{"enabled", true}}}, {"throws-on-load", {{"enabled", true}}}}}}}};
  const auto path = (dir.path() / "kim.json").string();
  std::ofstream(path) << config.dump();
  // The marker plugin writes this file the moment its library is loaded; it is not enabled.
  const auto marker = dir.path() / "marker";
  ::setenv("KIM_TEST_PLUGIN_MARKER", marker.c_str(), 1);
  auto json = run_command(KIM_BINARY, {"plugins", "list", "--config", path, "--json"});
  auto table = run_command(KIM_BINARY, {"plugins", "list", "--config", path});
  ::unsetenv("KIM_TEST_PLUGIN_MARKER");
  // Enabled plugins that would not run: a problem, said by the exit code too.
  ASSERT_EQ(json.exit_code, 1) << json.err;
  EXPECT_EQ(table.exit_code, 1);
  EXPECT_THAT(table.err, HasSubstr("kim serve would start without it"));
  EXPECT_FALSE(fs::exists(marker)) << "kim loaded a plugin that is not enabled";

  auto items = nlohmann::json::parse(json.out);
  auto hello = item_of(items, "hello");
  EXPECT_EQ(hello["state"], "refused");
  EXPECT_EQ(hello["enabled"], true) << "refused, but enabled in the config";
  EXPECT_THAT(hello["reason"].get<std::string>(),
              HasSubstr("the file is writable by group or others (mode 0666)"));
  auto link = item_of(items, "kim-link");
  EXPECT_EQ(link["state"], "refused");
  EXPECT_THAT(link["reason"].get<std::string>(), HasSubstr("a symbolic link"));
  // The link's target is not followed, so the plugin it points to is not there.
  EXPECT_EQ(item_of(items, "throws-on-load")["state"], "missing");
  auto cut = item_of(items, "kim-cut");
  EXPECT_EQ(cut["state"], "refused");
  EXPECT_THAT(cut["reason"].get<std::string>(), HasSubstr("not a loadable library"));
  auto marker_item = item_of(items, "marker-on-load");
  EXPECT_EQ(marker_item["state"], "disabled");
  EXPECT_EQ(marker_item["version"], "0.1.0");

  EXPECT_THAT(table.out, HasSubstr("reason: the file is writable by group or others"));
  EXPECT_THAT(table.out, HasSubstr("reason: a symbolic link"));

  // The folder made writable by others refuses every plugin in it, and says so.
  fs::permissions(plugins / "kim-hello.so", fs::perms(0644));
  fs::permissions(plugins, fs::perms(0777));
  auto open_folder = run_command(KIM_BINARY, {"plugins", "list", "--config", path, "--json"});
  ASSERT_EQ(open_folder.exit_code, 1) << open_folder.err;
  hello = item_of(nlohmann::json::parse(open_folder.out), "hello");
  EXPECT_EQ(hello["state"], "refused");
  EXPECT_THAT(hello["reason"].get<std::string>(),
              HasSubstr("is writable by group or others (mode 0777)"));
}

TEST(PluginSecurityTest, PluginListShowsPathsAndReasonsToAdminsOnly) {
  KimHost host;
  auto client = host.client();
  auto admin = client.get("/api/v1/plugins", host.token("admin"));
  ASSERT_EQ(admin.status, 200) << admin.body;
  auto hello = item_of(admin.json()["items"], "hello");
  EXPECT_EQ(hello["file"], (fs::path(KIM_PLUGIN_DIR) / "kim-hello.so").string());

  for (const char* user : {"cm-rheine-1", "auditor", "co-kreis"}) {
    auto response = client.get("/api/v1/plugins", host.token(user));
    ASSERT_EQ(response.status, 200) << response.body;
    const auto items = response.json()["items"];
    for (const auto& item : items) {
      EXPECT_THAT(item["file"].get<std::string>(), Not(HasSubstr("/"))) << user;
      EXPECT_FALSE(item.contains("reason")) << user;
    }
    EXPECT_EQ(item_of(items, "hello")["file"], "kim-hello.so");
  }
}

}  // namespace
}  // namespace kim::test
