// The jobcenter plugin (plugins/jobcenter, the real .so) loaded by the real plugin manager: its
// connector over the host's file_drop transport writes hand-over files that meet the shipped
// schema and carry nothing but the referral's payload and references; it reads the jobcenter's
// feedback format.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "config/json_schema.hpp"
#include "connectors/instances.hpp"
#include "kim/sdk/version.hpp"
#include "plugins/plugin_manager.hpp"
#include "store/core_migrations.hpp"
#include "support/paths.hpp"

namespace kim::plugins {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

json read_json(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

json with_key(json document, const char* key, json value) {
  document[key] = std::move(value);
  return document;
}

class JobcenterPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() / ("kim-jobcenter-test-" + std::to_string(counter++) + "-" +
                                        std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    connectors::register_builtin_types(connectors_);
    config::PluginsConfig config;
    config.settings["jobcenter"] = config::PluginSetting{true, json::object()};
    store_ = std::make_unique<store::Store>(store::StoreOptions{dir_ / "kim.sqlite3"});
    store_->migrate("core", store::core_migrations());
    HostServices services{
        router_,    events_,      connectors_,
        scheduler_, store_.get(), sdk::HostInfo{"test", KIM_SDK_VERSION_STRING, "Test County"},
        nullptr};
    manager_ = std::make_unique<PluginManager>(config, std::vector<fs::path>{KIM_PLUGIN_DIR},
                                               services, logger_);
    manager_->load_all();
    manager_->start_all();
    context_.instance = "jobcenter";
    context_.data_dir = dir_;
  }
  void TearDown() override {
    connector_.reset();
    manager_->stop_all();
    scheduler_.clear();
    connectors_.clear();
    events_.clear();
    router_.clear();
    manager_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  sdk::Connector& make(json settings) {
    connector_ =
        connectors::make_connector(connectors_, "jobcenter", std::move(settings), context_);
    return *connector_;
  }
  static json file_drop_settings() {
    return {{"transport",
             {{"type", "file_drop"}, {"settings", {{"outbox_dir", "out"}, {"inbox_dir", "in"}}}}}};
  }

  static sdk::OutboundMessage sent_referral() {
    sdk::OutboundMessage m;
    m.id = "msg_1";
    m.idempotency_key = "ref_1-sent";
    m.partner = "jobcenter-kreis-steinfurt";
    m.type = "referral.sent";
    m.case_id = "case_1";
    m.subject_id = "ref_1";
    m.created_at = "2025-03-01T09:00:00Z";
    m.attempt = 2;
    m.payload = {
        {"referral_id", "ref_1"},
        {"service", "sgb2_integration_services"},
        {"purpose", "referral"},
        {"message", "Bitte Termin zur gemeinsamen Übergabe"},
        {"from", {{"organisation", "caritas-rheine"}, {"case_manager", "cm-rheine-1"}}},
        {"categories", {"identity", "contact"}},
        {"person", {{"given_names", "Amina"}, {"family_name", "Haddad"}, {"town", "Rheine"}}}};
    return m;
  }

  fs::path dir_;
  http::Router router_;
  std::shared_ptr<spdlog::logger> logger_ =
      spdlog::null_logger_mt("jobcenter_test_" + std::to_string(std::random_device{}()));
  events::EventBus events_{logger_};
  connectors::TypeRegistry connectors_{"connector type"};
  jobs::Scheduler scheduler_{logger_};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<PluginManager> manager_;
  sdk::ConnectorContext context_;
  std::unique_ptr<sdk::Connector> connector_;
};

TEST_F(JobcenterPluginTest, RegistersItsConnectorType) {
  auto type = connectors_.find("jobcenter");
  ASSERT_TRUE(type);
  EXPECT_EQ(connectors_.owner_of("jobcenter"), "jobcenter");
  // Its settings are checked with paths (what kim config check reports).
  json bad = {{"transport", {{"type", "ftp"}}}, {"towns_served", "Rheine"}};
  auto errors = config::validate(type->settings_schema, bad, true);
  std::vector<std::string> paths;
  for (const auto& error : errors)
    paths.push_back(error.path);
  EXPECT_THAT(paths, ::testing::UnorderedElementsAre("transport.type", "towns_served"));
}

TEST_F(JobcenterPluginTest, DeliverWritesAHandoverFileThatMeetsTheSchema) {
  auto& connector = make(file_drop_settings());
  auto result = connector.deliver(sent_referral());
  ASSERT_EQ(result.status, sdk::DeliveryResult::Status::kDelivered) << result.detail;
  auto written = read_json(dir_ / "out" / "ref_1-sent.json");
  auto schema =
      read_json(fs::path(KIM_SOURCE_DIR) / "plugins" / "jobcenter" / "handover-v1.schema.json");
  auto checked = written;
  EXPECT_THAT(config::validate(schema, checked, false), ::testing::IsEmpty()) << written.dump(2);
  EXPECT_EQ(written["format"], "kim.jobcenter.handover");
  EXPECT_EQ(written["format_version"], 1);
  EXPECT_EQ(written["idempotency_key"], "ref_1-sent");
  EXPECT_EQ(written["referral"]["id"], "ref_1");
  EXPECT_EQ(written["referral"]["case_id"], "case_1");
  // The person exactly as the payload released it, nothing more.
  EXPECT_EQ(written["person"], sent_referral().payload["person"]);
  EXPECT_FALSE(written.contains("attempt"));

  // A cancellation carries no person data.
  auto cancelled = sent_referral();
  cancelled.type = "referral.cancelled";
  cancelled.idempotency_key = "ref_1-cancelled";
  ASSERT_EQ(connector.deliver(cancelled).status, sdk::DeliveryResult::Status::kDelivered);
  auto cancel_file = read_json(dir_ / "out" / "ref_1-cancelled.json");
  EXPECT_FALSE(cancel_file.contains("person"));
  auto cancel_checked = cancel_file;
  EXPECT_THAT(config::validate(schema, cancel_checked, false), ::testing::IsEmpty());
}

TEST_F(JobcenterPluginTest, AReferralFromATownNotServedIsRefusedForGood) {
  auto settings = file_drop_settings();
  settings["towns_served"] = {"Greven", "Emsdetten"};
  auto& connector = make(settings);
  auto result = connector.deliver(sent_referral());
  EXPECT_EQ(result.status, sdk::DeliveryResult::Status::kFailed);
  EXPECT_THAT(result.detail, HasSubstr("towns_served"));
  EXPECT_FALSE(fs::exists(dir_ / "out" / "ref_1-sent.json"));
}

TEST_F(JobcenterPluginTest, BadTransportSettingsAreRefusedWhenBuilt) {
  auto settings = file_drop_settings();
  settings["transport"]["settings"] = {{"inbox_dir", "in"}};  // outbox_dir missing
  EXPECT_THROW(make(settings), std::invalid_argument);
}

TEST_F(JobcenterPluginTest, ReadsTheJobcentersFeedback) {
  auto& connector = make(file_drop_settings());
  auto feedback = [](const std::string& event) {
    return json{{"format", "kim.jobcenter.feedback"},
                {"format_version", 1},
                {"feedback_id", "jc-" + event},
                {"referral_id", "ref_1"},
                {"event", event},
                {"jobcenter_reference", "JC-4711"}};
  };
  const std::map<std::string, std::string> expected = {
      {"received", "accepted"},   {"accepted", "accepted"},       {"declined", "declined"},
      {"started", "in_progress"}, {"in_progress", "in_progress"}, {"completed", "completed"}};
  for (const auto& [event, status] : expected) {
    auto report = connector.read_inbound(feedback(event));
    EXPECT_EQ(report.status, status) << event;
    EXPECT_EQ(report.message_id, "jc-" + event);
    EXPECT_EQ(report.referral_id, "ref_1");
  }
  auto done = feedback("completed");
  done["outcome"] = "Maßnahme abgeschlossen";
  EXPECT_EQ(connector.read_inbound(done).outcome, "Maßnahme abgeschlossen");
  // The host's own format still works.
  EXPECT_EQ(
      connector.read_inbound({{"id", "1"}, {"referral_id", "r"}, {"status", "declined"}}).status,
      "declined");
  for (auto bad : {with_key(feedback("lost"), "event", "lost"),
                   with_key(feedback("received"), "format_version", 2),
                   with_key(feedback("received"), "format", "other"),
                   with_key(feedback("received"), "feedback_id", nullptr),
                   with_key(feedback("received"), "referral_id", 7)}) {
    EXPECT_THROW(connector.read_inbound(bad), std::invalid_argument) << bad.dump();
  }
}

TEST_F(JobcenterPluginTest, CollectsFeedbackFilesThroughItsTransport) {
  auto& connector = make(file_drop_settings());
  std::ofstream(dir_ / "in" / "a.json") << R"({"format": "kim.jobcenter.feedback",
    "format_version": 1, "feedback_id": "f1", "referral_id": "ref_1", "event": "received"})";
  std::vector<std::string> statuses;
  connector.collect_inbound([&](const json& document) {
    statuses.push_back(connector.read_inbound(document).status);
    return sdk::InboundAnswer{true, {}};
  });
  EXPECT_EQ(statuses, std::vector<std::string>{"accepted"});
  EXPECT_TRUE(fs::exists(dir_ / "in" / "processed" / "a.json"));
}

}  // namespace
}  // namespace kim::plugins
