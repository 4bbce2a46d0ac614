// Issue 10's promise end to end, on the shipped connector setup (config/kreis-steinfurt.json's
// "connectors" block and jobcenter plugin, taken from the file): a referral sent to the jobcenter
// becomes a hand-over file through the outbox, the dispatcher, the real jobcenter plugin and the
// real file_drop transport; the jobcenter's acknowledgement and "completed" feedback files are
// collected and show on the referral and the case timeline.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/paths.hpp"

namespace kim::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

json shipped_config() {
  std::ifstream in(fs::path(KIM_SOURCE_DIR) / "config" / "kreis-steinfurt.json");
  return json::parse(in);
}

std::vector<fs::path> files_in(const fs::path& folder) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      found.push_back(entry.path());
    }
  }
  return found;
}

TEST(JobcenterDeliveryTest, AReferralBecomesAHandOverFileAndTheJobcentersFeedbackReachesTheCase) {
  const json shipped = shipped_config();
  auto partners = shipped_partners();
  for (auto& partner : partners) {
    if (partner["slug"] == kJobcenter) {
      ASSERT_EQ(partner.value("connector", "jobcenter"), "jobcenter");
      partner["connector"] = "jobcenter";
    }
  }
  json plugins = {{"directories", {KIM_PLUGIN_DIR}},
                  {"settings", {{"jobcenter", shipped["plugins"]["settings"]["jobcenter"]}}}};
  KimHost host(
      json::object(),
      {{"partners", partners}, {"connectors", shipped["connectors"]}, {"plugins", plugins}});
  Api coordinator(host, "co-kreis");
  Api cm(host, "cm-rheine-1");
  Api admin(host, "admin");
  ASSERT_EQ(coordinator.post("/agreements", with(agreement_body(), {{"status", "signed"}})).status,
            201);
  auto person = host.create_person("cm-rheine-1");
  const std::string case_id = host.open_case("cm-rheine-1", person["id"])["id"];
  ASSERT_EQ(cm.post("/persons/" + person["id"].get<std::string>() + "/consents",
                    {{"recipients", {kJobcenter}},
                     {"purposes", {"referral"}},
                     {"categories", {"identity"}},
                     {"form", "electronic"},
                     {"given_on", date_in_days(0)}})
                .status,
            201);

  auto sent = cm.post("/cases/" + case_id + "/referrals", {{"partner", kJobcenter},
                                                           {"service", "sgb2_integration_services"},
                                                           {"categories", {"identity"}},
                                                           {"send", true}});
  ASSERT_EQ(sent.status, 201) << sent.body;
  const std::string referral_id = sent.json()["id"];

  // The hand-over file appears: the jobcenter's format, the referral's references and payload.
  const fs::path exchange = host.dir() / "data" / "exchange" / "jobcenter";
  ASSERT_TRUE(eventually([&] { return files_in(exchange / "outgoing").size() == 1; }))
      << "no hand-over file in " << (exchange / "outgoing");
  std::ifstream file(files_in(exchange / "outgoing").front());
  const json handover = json::parse(file);
  EXPECT_EQ(handover["format"], "kim.jobcenter.handover");
  EXPECT_THAT(handover.dump(), HasSubstr(referral_id));
  EXPECT_THAT(handover.dump(), HasSubstr(case_id));
  // The file is written before the dispatcher records the delivery.
  json outbox;
  EXPECT_TRUE(eventually([&] {
    outbox = admin.read("/outbox?case=" + case_id);
    return outbox["items"].size() == 1 && outbox["items"][0]["state"] == "delivered";
  })) << outbox.dump();

  // The jobcenter answers with files; the collection job (run now instead of waiting for its
  // poll) applies them.
  fs::create_directories(exchange / "incoming");
  auto feedback = [&](const std::string& id, const std::string& event, const std::string& name,
                      const json& extra = json::object()) {
    json body = {{"format", "kim.jobcenter.feedback"},
                 {"format_version", 1},
                 {"feedback_id", id},
                 {"referral_id", referral_id},
                 {"event", event}};
    body.update(extra);
    // Written under a dot name, then renamed: the collector never sees half a file.
    std::ofstream(exchange / "incoming" / ("." + name)) << body.dump();
    fs::rename(exchange / "incoming" / ("." + name), exchange / "incoming" / name);
  };
  const std::string job = "connectors.jobcenter.inbound";
  auto runs = [&] {
    const json jobs = admin.read("/jobs");
    for (const auto& item : jobs["items"])
      if (item["name"] == job) return item["runs"].get<int>();
    return -1;
  };
  auto run_collection = [&] {
    const int before = runs();
    ASSERT_GE(before, 0) << "no job " << job;
    ASSERT_EQ(admin.post("/jobs/" + job + "/run", json::object()).status, 202);
    ASSERT_TRUE(eventually([&] { return runs() > before; }));
  };
  const std::string referral_path = "/cases/" + case_id + "/referrals/" + referral_id;

  feedback("jc-1", "accepted", "001-accepted.json");
  run_collection();
  EXPECT_EQ(cm.read(referral_path)["status"], "accepted");

  feedback("jc-2", "started", "002-started.json");
  run_collection();
  EXPECT_EQ(cm.read(referral_path)["status"], "in_progress");

  feedback("jc-3", "completed", "003-completed.json", {{"outcome", "placed in a job"}});
  run_collection();
  auto referral = cm.read(referral_path);
  EXPECT_EQ(referral["status"], "completed");
  EXPECT_EQ(referral["history"].back()["by_user"], "connector:jobcenter");
  const auto timeline = cm.read("/cases/" + case_id + "/notes")["items"].dump();
  EXPECT_THAT(timeline, HasSubstr("accepted"));
  EXPECT_THAT(timeline, HasSubstr("completed"));
  EXPECT_THAT(timeline, HasSubstr("placed in a job"));
  EXPECT_TRUE(fs::exists(exchange / "incoming" / "processed" / "003-completed.json"));
}

}  // namespace
}  // namespace kim::test
