// Connector instances from the config: checked against the registered types' schemas (every
// problem at once, with its path), built with their context, secret files read only when private.
#include "connectors/instances.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kim::connectors {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// What a test type saw when the host built it.
struct Seen {
  json settings;
  sdk::ConnectorContext context;
};

class Recorder final : public sdk::Connector {
 public:
  sdk::DeliveryResult deliver(const sdk::OutboundMessage& message) override {
    return sdk::DeliveryResult::delivered(message.id);
  }
};

class ConnectorInstancesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kim-instances-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    register_builtin_types(types_);
    types_.add("recorder",
               {"recorder", json::parse(R"({"type": "object", "required": ["url"], "properties": {
                   "url": {"type": "string", "pattern": "^https?://"},
                   "retries_hint": {"type": "integer", "minimum": 0, "default": 3},
                   "token_file": {"type": "string"}}})"),
                "records what it was built with",
                [this](const json& settings, const sdk::ConnectorContext& context) {
                  seen_.push_back({settings, context});
                  if (settings.value("url", "") == "https://refuse.example") {
                    throw std::invalid_argument("the partner refuses this url");
                  }
                  if (settings.contains("token_file")) {
                    token_ = context.read_secret(settings["token_file"].get<std::string>());
                  }
                  return std::make_unique<Recorder>();
                }},
               "test");
  }
  void TearDown() override { fs::remove_all(dir_); }

  config::HostConfig parse(const json& document) {
    return config::parse_host_config(document, dir_, "test.json");
  }
  std::vector<std::string> problems_building(const json& document) {
    try {
      Instances instances(parse(document), types_);
    } catch (const config::ConfigError& e) {
      return e.problems();
    }
    return {};
  }
  fs::path write_secret(const std::string& name, const std::string& content, mode_t mode) {
    auto path = dir_ / name;
    std::ofstream(path) << content;
    ::chmod(path.c_str(), mode);
    return path;
  }

  fs::path dir_;
  TypeRegistry types_{"connector type"};
  std::vector<Seen> seen_;
  std::string token_;
};

TEST_F(ConnectorInstancesTest, RetryAndBreakerDefaultsAreFilledIn) {
  auto config = parse({{"connectors", {{"a", {{"type", "recorder"}}}}}});
  ASSERT_EQ(config.connectors.size(), 1u);
  const auto& a = config.connectors[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.timeout, std::chrono::seconds(30));
  EXPECT_EQ(a.retry.max_attempts, 12);
  EXPECT_EQ(a.retry.initial_delay, std::chrono::milliseconds(2000));
  EXPECT_DOUBLE_EQ(a.retry.multiplier, 2.0);
  EXPECT_TRUE(a.retry.full_jitter);
  EXPECT_EQ(a.retry.max_age, std::chrono::hours(72));
  EXPECT_EQ(a.breaker.failure_threshold, 5);
  EXPECT_EQ(a.breaker.open_for, std::chrono::seconds(60));
  EXPECT_FALSE(a.inbound_key_file.has_value());
}

TEST_F(ConnectorInstancesTest, AnInstanceNameMustBeSafeForUrlsAndFiles) {
  for (const char* name : {"Jobcenter", "../x", "a b", "1abc"}) {
    try {
      parse({{"connectors", {{name, {{"type", "recorder"}}}}}});
      ADD_FAILURE() << name << " was accepted";
    } catch (const config::ConfigError& e) {
      EXPECT_THAT(e.problems(), Contains(HasSubstr("an instance name must match"))) << name;
    }
  }
}

TEST_F(ConnectorInstancesTest, EveryProblemIsReportedAtOnceWithItsPath) {
  auto problems = problems_building(json::parse(R"({
    "connectors": {
      "a": {"type": "no-such-type"},
      "b": {"type": "recorder", "settings": {"url": "ftp://x", "retries_hint": -1}},
      "c": {"type": "recorder", "settings": {}}
    },
    "partners": [{"slug": "p", "name": "P", "kind": "other", "services": [], "connector": "zzz"}]
  })"));
  EXPECT_THAT(problems, Contains(AllOf(HasSubstr("connectors.a.type"),
                                       HasSubstr("no connector type \"no-such-type\""))));
  EXPECT_THAT(problems, Contains(HasSubstr("connectors.b.settings.url")));
  EXPECT_THAT(problems, Contains(HasSubstr("connectors.b.settings.retries_hint")));
  EXPECT_THAT(problems, Contains(AllOf(HasSubstr("connectors.c.settings"), HasSubstr("url"))));
  EXPECT_THAT(problems, Contains(AllOf(HasSubstr("partners[0].connector"), HasSubstr("zzz"))));
  EXPECT_TRUE(seen_.empty()) << "nothing is built while the config has problems";
}

TEST_F(ConnectorInstancesTest, BuildsEachInstanceWithDefaultsAndItsContext) {
  auto document = json::parse(R"({
    "data_dir": "var",
    "connectors": {"jc": {"type": "recorder", "timeout_seconds": 7,
                          "settings": {"url": "https://jobcenter.example"}}},
    "partners": [{"slug": "p", "name": "P", "kind": "other", "services": [], "connector": "jc"}]
  })");
  Instances instances(parse(document), types_);
  ASSERT_NE(instances.find("jc"), nullptr);
  EXPECT_EQ(instances.find("jc")->owner, "test");
  EXPECT_EQ(instances.find("nope"), nullptr);
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].settings["retries_hint"], 3) << "the type's defaults are applied";
  EXPECT_EQ(seen_[0].context.instance, "jc");
  EXPECT_EQ(seen_[0].context.timeout, std::chrono::seconds(7));
  EXPECT_EQ(seen_[0].context.data_dir, dir_ / "var");
  sdk::OutboundMessage message;
  message.id = "m1";
  auto result = instances.find("jc")->connector->deliver(message);
  EXPECT_EQ(result.status, sdk::DeliveryResult::Status::kDelivered);
}

TEST_F(ConnectorInstancesTest, AFailingCreateIsAConfigProblemOfThatInstance) {
  auto problems = problems_building(
      {{"connectors",
        {{"x", {{"type", "recorder"}, {"settings", {{"url", "https://refuse.example"}}}}}}}});
  EXPECT_THAT(problems, ElementsAre("connectors.x: the partner refuses this url"));
}

TEST_F(ConnectorInstancesTest, SecretFilesAreReadOnlyWhenPrivate) {
  write_secret("open.key", "s3cr3t-open\n", 0644);
  write_secret("private.key", "s3cr3t-private\n", 0600);
  auto build = [&](const std::string& file) {
    return problems_building(
        {{"connectors",
          {{"x",
            {{"type", "recorder"},
             {"settings", {{"url", "https://a.example"}, {"token_file", file}}}}}}}});
  };
  auto problems = build("open.key");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], AllOf(HasSubstr("group or others"), HasSubstr("chmod 600"),
                                 Not(HasSubstr("s3cr3t"))));
  EXPECT_THAT(build("missing.key"), ElementsAre(HasSubstr("does not exist")));
  EXPECT_TRUE(build("private.key").empty()) << "relative to the config's folder";
  EXPECT_EQ(token_, "s3cr3t-private") << "the trailing line break is dropped";
  EXPECT_THAT(build((dir_ / "private.key").string()), ElementsAre()) << "absolute paths too";
  fs::create_directories(dir_ / "folder.key");
  ::chmod((dir_ / "folder.key").c_str(), 0700);
  EXPECT_THAT(build("folder.key"), ElementsAre(HasSubstr("not a regular file")));
  write_secret("empty.key", "\n", 0600);
  EXPECT_THAT(build("empty.key"), ElementsAre(HasSubstr("is empty")));
}

TEST_F(ConnectorInstancesTest, MakeBuildsAnotherTypeWithItsSchemaChecked) {
  Instances instances(
      parse({{"connectors",
              {{"x", {{"type", "recorder"}, {"settings", {{"url", "https://a.example"}}}}}}}}),
      types_);
  ASSERT_EQ(seen_.size(), 1u);
  auto make = seen_[0].context.make;
  ASSERT_TRUE(make);
  auto inner = make("recorder", {{"url", "http://inner.example"}});
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(seen_.back().settings["retries_hint"], 3);
  EXPECT_EQ(seen_.back().context.instance, "x")
      << "a composed connector belongs to the same instance";
  try {
    make("recorder", {{"url", "gopher://inner"}});
    ADD_FAILURE() << "bad settings were accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("recorder.url"));
  }
  EXPECT_THROW(make("no-such-type", json::object()), std::invalid_argument);
}

}  // namespace
}  // namespace kim::connectors
