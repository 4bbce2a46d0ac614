// The "file_drop" transport against real folders: atomic writes, repeats, acknowledgement files
// collected in name order, refused and oversized files, unsafe keys, settings checked by the
// registered type's schema.
#include "connectors/file_drop.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/json_schema.hpp"
#include "connectors/instances.hpp"

namespace kim::connectors {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> names_in(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class FileDropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("kim_file_drop_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
            "_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    context_.instance = "test";
    context_.data_dir = dir_;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // Built the way the host builds an instance: settings checked, defaults applied.
  std::unique_ptr<sdk::Connector> make(json settings) {
    TypeRegistry types("connector type");
    register_builtin_types(types);
    return make_connector(types, "file_drop", std::move(settings), context_);
  }

  static sdk::OutboundMessage message(const std::string& key) {
    sdk::OutboundMessage m;
    m.id = "msg_1";
    m.idempotency_key = key;
    m.partner = "jobcenter-kreis-steinfurt";
    m.type = "referral.sent";
    m.case_id = "case_1";
    m.subject_id = "ref_1";
    m.created_at = "2025-01-02T03:04:05Z";
    m.payload = {{"referral_id", "ref_1"}, {"service", "sgb2_integration_services"}};
    return m;
  }

  void drop(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / "in" / name) << text;
  }

  fs::path dir_;
  sdk::ConnectorContext context_;
};

TEST_F(FileDropTest, WritesTheMessageAsItsIdempotencyKeyInAPrivateFolder) {
  auto connector = make({{"outbox_dir", "out/partner"}});
  auto result = connector->deliver(message("key-1"));
  EXPECT_EQ(result.status, sdk::DeliveryResult::Status::kDelivered) << result.detail;
  // Only the message: the temp file was renamed, nothing else is left behind.
  EXPECT_THAT(names_in(dir_ / "out" / "partner"), ElementsAre("key-1.json"));
  auto written = json::parse(read_file(dir_ / "out" / "partner" / "key-1.json"));
  EXPECT_EQ(written["idempotency_key"], "key-1");
  EXPECT_EQ(written["type"], "referral.sent");
  EXPECT_EQ(written["payload"]["referral_id"], "ref_1");
  EXPECT_FALSE(written.contains("attempt"));
  struct stat info {};
  ASSERT_EQ(::stat((dir_ / "out" / "partner").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir_ / "out" / "partner" / "key-1.json").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(FileDropTest, ARepeatOverwritesTheSameFile) {
  auto connector = make({{"outbox_dir", (dir_ / "abs").string()}});
  auto first = message("key-1");
  ASSERT_EQ(connector->deliver(first).status, sdk::DeliveryResult::Status::kDelivered);
  const auto once = read_file(dir_ / "abs" / "key-1.json");
  first.attempt = 3;
  ASSERT_EQ(connector->deliver(first).status, sdk::DeliveryResult::Status::kDelivered);
  EXPECT_THAT(names_in(dir_ / "abs"), ElementsAre("key-1.json"));
  EXPECT_EQ(read_file(dir_ / "abs" / "key-1.json"), once);
}

TEST_F(FileDropTest, PayloadContentWritesThePayloadAlone) {
  auto connector = make({{"outbox_dir", "out"}, {"content", "payload"}});
  ASSERT_EQ(connector->deliver(message("k")).status, sdk::DeliveryResult::Status::kDelivered);
  EXPECT_EQ(json::parse(read_file(dir_ / "out" / "k.json")), message("k").payload);
}

TEST_F(FileDropTest, AnUnsafeKeyIsRefusedForGoodAndWritesNothing) {
  auto connector = make({{"outbox_dir", "out"}});
  for (const char* key : {"../escape", "a/b", ".hidden", "", "key with space", "ä"}) {
    auto result = connector->deliver(message(key));
    EXPECT_EQ(result.status, sdk::DeliveryResult::Status::kFailed) << key;
    EXPECT_THAT(result.detail, HasSubstr("not a safe file name"));
  }
  EXPECT_THAT(names_in(dir_ / "out"), IsEmpty());
  EXPECT_FALSE(fs::exists(dir_ / "escape.json"));
}

TEST_F(FileDropTest, SettingsAreCheckedByTheTypesSchema) {
  EXPECT_THROW(make(json::object()), std::invalid_argument);  // outbox_dir missing
  EXPECT_THROW(make({{"outbox_dir", "out"}, {"unknown_key", 1}}), std::invalid_argument);
  EXPECT_THROW(make({{"outbox_dir", "out"}, {"max_file_bytes", 1}}), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(FileDropTest, CollectsAcknowledgementsInNameOrderAndFilesThemAway) {
  auto connector = make({{"outbox_dir", "out"}, {"inbox_dir", "in"}});
  drop("b.json", R"({"id": "2", "status": "declined"})");
  drop("a.json", R"({"id": "1", "status": "accepted"})");
  drop("c.json", R"({"id": "3", "status": "accepted"})");
  drop(".d.json", R"({"id": "still being written"})");
  drop("e.json.tmp", R"({"id": "temp"})");
  drop("notes.txt", "not a report");
  std::vector<std::string> seen;
  connector->collect_inbound([&](const json& document) {
    seen.push_back(document["id"]);
    // The host refuses "2" (say, a step not allowed).
    return sdk::InboundAnswer{document["id"] != "2", "transition_not_allowed"};
  });
  EXPECT_THAT(seen, ElementsAre("1", "2", "3"));
  EXPECT_THAT(names_in(dir_ / "in" / "processed"), ElementsAre("a.json", "c.json"));
  EXPECT_THAT(names_in(dir_ / "in" / "rejected"), ElementsAre("b.json", "b.json.reason"));
  EXPECT_THAT(read_file(dir_ / "in" / "rejected" / "b.json.reason"),
              HasSubstr("transition_not_allowed"));
  EXPECT_THAT(names_in(dir_ / "in"),
              ElementsAre(".d.json", "e.json.tmp", "notes.txt", "processed", "rejected"));

  // Nothing left: a second run hands over nothing.
  seen.clear();
  connector->collect_inbound([&](const json&) {
    seen.push_back("again");
    return sdk::InboundAnswer{true, {}};
  });
  EXPECT_THAT(seen, IsEmpty());
}

TEST_F(FileDropTest, UnreadableOversizedAndTooDeepFilesAreRejectedUnread) {
  auto connector = make(
      {{"outbox_dir", "out"}, {"inbox_dir", "in"}, {"max_file_bytes", 100}, {"max_json_depth", 3}});
  drop("1-broken.json", "{not json");
  drop("2-large.json", R"({"id": ")" + std::string(200, 'x') + R"("})");
  drop("3-deep.json", R"({"a": {"b": {"c": {"d": 1}}}})");
  fs::create_symlink(dir_ / "elsewhere.json", dir_ / "in" / "4-link.json");
  std::ofstream(dir_ / "elsewhere.json") << R"({"id": "x"})";
  int handed = 0;
  connector->collect_inbound([&](const json&) {
    ++handed;
    return sdk::InboundAnswer{true, {}};
  });
  EXPECT_EQ(handed, 0);
  EXPECT_THAT(names_in(dir_ / "in" / "rejected"),
              ElementsAre("1-broken.json", "1-broken.json.reason", "2-large.json",
                          "2-large.json.reason", "3-deep.json", "3-deep.json.reason"));
  EXPECT_THAT(read_file(dir_ / "in" / "rejected" / "2-large.json.reason"),
              HasSubstr("larger than 100 bytes"));
  EXPECT_THAT(read_file(dir_ / "in" / "rejected" / "3-deep.json.reason"), HasSubstr("deeper"));
  // The symlink is never followed, nor moved.
  EXPECT_TRUE(fs::is_symlink(dir_ / "in" / "4-link.json"));
}

TEST_F(FileDropTest, AFileOfAnEarlierNameIsKeptNotOverwritten) {
  auto connector = make({{"outbox_dir", "out"}, {"inbox_dir", "in"}});
  auto accept = [](const json&) { return sdk::InboundAnswer{true, {}}; };
  drop("ack.json", R"({"id": "1"})");
  connector->collect_inbound(accept);
  drop("ack.json", R"({"id": "2"})");
  connector->collect_inbound(accept);
  EXPECT_THAT(names_in(dir_ / "in" / "processed"), ElementsAre("ack-2.json", "ack.json"));
}

TEST_F(FileDropTest, AHostFailureLeavesTheFileForTheNextRun) {
  auto connector = make({{"outbox_dir", "out"}, {"inbox_dir", "in"}});
  drop("a.json", R"({"id": "1"})");
  EXPECT_THROW(connector->collect_inbound([](const json&) -> sdk::InboundAnswer {
    throw std::runtime_error("database is locked");
  }),
               std::runtime_error);
  EXPECT_TRUE(fs::exists(dir_ / "in" / "a.json"));
  EXPECT_THAT(names_in(dir_ / "in" / "processed"), IsEmpty());
}

// A partner's account that may write the inbox could point processed/ or rejected/ (or the
// inbox) anywhere kim may write: such folders are refused, the files stay where they are.
TEST_F(FileDropTest, SymlinkedFoldersAndNonFoldersAreRefusedAndTheFilesStay) {
  auto accept = [](const json&) { return sdk::InboundAnswer{true, {}}; };
  auto refuse = [](const json&) { return sdk::InboundAnswer{false, "no"}; };
  fs::create_directories(dir_ / "elsewhere");
  for (const std::string folder : {"processed", "rejected"}) {
    auto connector = make({{"outbox_dir", "out"}, {"inbox_dir", "in"}});
    fs::remove(dir_ / "in" / folder);
    fs::create_directory_symlink(dir_ / "elsewhere", dir_ / "in" / folder);
    drop("a.json", R"({"id": "1"})");
    EXPECT_THROW(connector->collect_inbound(folder == "processed" ? sdk::InboundSink(accept)
                                                                  : sdk::InboundSink(refuse)),
                 std::runtime_error)
        << folder;
    EXPECT_TRUE(fs::exists(dir_ / "in" / "a.json")) << folder;
    EXPECT_THAT(names_in(dir_ / "elsewhere"), IsEmpty()) << folder;
    fs::remove(dir_ / "in" / folder);
    // Not a folder at all.
    std::ofstream(dir_ / "in" / folder) << "x";
    EXPECT_THROW(connector->collect_inbound(accept), std::runtime_error) << folder;
    EXPECT_TRUE(fs::exists(dir_ / "in" / "a.json")) << folder;
    fs::remove(dir_ / "in" / folder);
    fs::create_directory(dir_ / "in" / folder);
  }
  // The inbox itself a symlink.
  fs::create_directories(dir_ / "real" / "processed");
  fs::create_directories(dir_ / "real" / "rejected");
  fs::create_directory_symlink(dir_ / "real", dir_ / "linked");
  std::ofstream(dir_ / "real" / "b.json") << R"({"id": "2"})";
  auto linked = make({{"outbox_dir", "out"}, {"inbox_dir", "linked"}});
  EXPECT_THROW(linked->collect_inbound(accept), std::runtime_error);
  EXPECT_TRUE(fs::exists(dir_ / "real" / "b.json"));
  EXPECT_THAT(names_in(dir_ / "real" / "processed"), IsEmpty());
}

TEST_F(FileDropTest, AFolderSwappedForASymlinkDuringARunIsNotFollowed) {
  auto connector = make({{"outbox_dir", "out"}, {"inbox_dir", "in"}});
  fs::create_directories(dir_ / "elsewhere");
  drop("a.json", R"({"id": "1"})");
  connector->collect_inbound([&](const json&) {
    fs::rename(dir_ / "in" / "processed", dir_ / "in" / "processed-before");
    fs::create_directory_symlink(dir_ / "elsewhere", dir_ / "in" / "processed");
    return sdk::InboundAnswer{true, {}};
  });
  EXPECT_THAT(names_in(dir_ / "elsewhere"), IsEmpty());
  EXPECT_THAT(names_in(dir_ / "in" / "processed-before"), ElementsAre("a.json"));
}

// A symlink planted as a file's .reason (dangling or not) is never written through: the
// rejected file takes the next free name.
TEST_F(FileDropTest, APlantedReasonSymlinkIsNeverWrittenThrough) {
  auto connector = make({{"outbox_dir", "out"}, {"inbox_dir", "in"}});
  std::ofstream(dir_ / "victim") << "keep";
  fs::create_symlink(dir_ / "victim", dir_ / "in" / "rejected" / "b.json.reason");
  fs::create_symlink(dir_ / "created", dir_ / "in" / "rejected" / "c.json.reason");
  drop("b.json", R"({"id": "2"})");
  drop("c.json", R"({"id": "3"})");
  connector->collect_inbound([](const json&) { return sdk::InboundAnswer{false, "refused"}; });
  EXPECT_EQ(read_file(dir_ / "victim"), "keep");
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir_ / "created")));
  EXPECT_THAT(names_in(dir_ / "in" / "rejected"),
              ElementsAre("b-2.json", "b-2.json.reason", "b.json.reason", "c-2.json",
                          "c-2.json.reason", "c.json.reason"));
  EXPECT_THAT(read_file(dir_ / "in" / "rejected" / "b-2.json.reason"), HasSubstr("refused"));
  EXPECT_TRUE(fs::is_symlink(dir_ / "in" / "rejected" / "b.json.reason"));
}

// A FIFO is skipped; one swapped in after the listing is rejected, not waited on (a blocking
// open would hang the scheduler's thread for good).
TEST_F(FileDropTest, AFifoNeverHangsTheRun) {
  auto connector = make({{"outbox_dir", "out"}, {"inbox_dir", "in"}});
  ASSERT_EQ(::mkfifo((dir_ / "in" / "0-fifo.json").c_str(), 0600), 0);
  drop("a.json", R"({"id": "1"})");
  drop("b.json", R"({"id": "2"})");
  std::vector<std::string> seen;
  connector->collect_inbound([&](const json& document) {
    seen.push_back(document["id"]);
    fs::remove(dir_ / "in" / "b.json");
    EXPECT_EQ(::mkfifo((dir_ / "in" / "b.json").c_str(), 0600), 0);
    return sdk::InboundAnswer{true, {}};
  });
  EXPECT_THAT(seen, ElementsAre("1"));
  EXPECT_THAT(names_in(dir_ / "in" / "processed"), ElementsAre("a.json"));
  EXPECT_THAT(names_in(dir_ / "in" / "rejected"), ElementsAre("b.json", "b.json.reason"));
  EXPECT_THAT(read_file(dir_ / "in" / "rejected" / "b.json.reason"),
              HasSubstr("not a regular file"));
  EXPECT_TRUE(fs::is_fifo(dir_ / "in" / "0-fifo.json"));
}

}  // namespace
}  // namespace kim::connectors
