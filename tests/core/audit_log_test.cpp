// The audit trail across core migration 7: rows written before it (audit_log_v1) and after it
// (batches, objects, items) come back from audit::list in one shape, one order and one cursor.
#include "audit/audit_log.hpp"
#include "audit/security_log.hpp"
#include "store/core_migrations.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kim::audit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("kim_audit_log_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
            "_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    store::StoreOptions options;
    options.path = dir_ / "kim.sqlite3";
    options.synchronous = "OFF";
    store_ = std::make_unique<store::Store>(options);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
};

const Actor kCaseManager{{7, "c.meyer", "case_manager", 3, "caritas-rheine"}, "req-new"};

// A request id may be the client's own (X-Request-Id): two callers that send the same one at the
// same time keep their refusals apart, each written as its own caller with its own route; a
// request refused before it had a principal writes its notes as the actor they name.
TEST_F(AuditLogTest, RefusalsOfTwoCallersWithTheSameRequestIdStayTheirOwn) {
  store_->migrate("core", store::core_migrations());
  const Actor own{{7, "c.meyer", "case_manager", 3, "caritas-rheine"}, "same-id"};
  const Actor prober{{8, "p.probe", "case_manager", 4, "welfare-greven"}, "same-id"};
  const Actor partner{{9, "connector:jobcenter", "connector", 0, ""}, "unsigned"};
  SecurityLog log(*store_);
  SecurityLog::note(own, "case", "cas_own");
  SecurityLog::note(prober, "case", "cas_probed");
  const auto security = [&] { return list(*store_, {"", 0, "security", 0, 100})["items"]; };

  log.flush("same-id", &prober.principal, "GET /api/v1/cases/cas_probed");
  json items = security();
  ASSERT_EQ(items.size(), 1u) << items.dump();
  EXPECT_EQ(items[0]["user_name"], "p.probe");
  EXPECT_EQ(items[0]["object_id"], "cas_probed");
  EXPECT_EQ(items[0]["route"], "GET /api/v1/cases/cas_probed");

  log.flush("same-id", &own.principal, "GET /api/v1/cases/cas_own");
  items = security();
  ASSERT_EQ(items.size(), 2u) << items.dump();
  EXPECT_EQ(items[1]["user_name"], "c.meyer");
  EXPECT_EQ(items[1]["object_id"], "cas_own");
  EXPECT_EQ(items[1]["route"], "GET /api/v1/cases/cas_own");

  // Refused before admission: the request has no principal, the note names the instance's user.
  SecurityLog::note(partner, "connector_inbound", "jobcenter");
  // Another caller's request with that id by chance: written as that caller, not as the partner.
  SecurityLog::note({prober.principal, "unsigned"}, "case", "cas_other");
  // A note of another request id waits for its own flush.
  SecurityLog::note(prober, "case", "cas_again");
  log.flush("unsigned", nullptr, "POST /api/v1/connectors/jobcenter/inbound");
  items = security();
  ASSERT_EQ(items.size(), 4u) << items.dump();
  std::set<std::pair<std::string, std::string>> written;
  for (std::size_t i = 2; i < items.size(); ++i)
    written.insert(
        {items[i]["user_name"].get<std::string>(), items[i]["object_id"].get<std::string>()});
  EXPECT_EQ(written, (std::set<std::pair<std::string, std::string>>{
                         {"connector:jobcenter", "jobcenter"}, {"p.probe", "cas_other"}}))
      << "each entry as the caller it names";
  log.flush("same-id", &prober.principal, "GET /api/v1/cases/cas_again");
  EXPECT_EQ(security().size(), 5u);
  log.close();
}

TEST_F(AuditLogTest, RowsFromBeforeAndAfterTheMigrationShareShapeOrderAndCursor) {
  auto migrations = store::core_migrations();
  ASSERT_GE(migrations.size(), 7u);
  // A database of kim 0.1.0 (migration 6) with entries written the old way.
  store_->migrate("core", {migrations.begin(), migrations.begin() + 6});
  store_->write([](store::Connection& db) {
    for (int i = 0; i < 3; ++i) {
      db.execute(
          "INSERT INTO audit_log(at, user_id, user_name, role, organisation_id, action, "
          "object_type, object_id, case_id, request_id) VALUES "
          "('2026-01-01T00:00:00.000Z', 7, 'c.meyer', 'case_manager', 3, 'list', 'case', ?, ?, "
          "'req-old')",
          {"cas_" + std::to_string(i), "cas_" + std::to_string(i)});
    }
  });
  store_->migrate("core", migrations);
  store_->write([](store::Connection& db) {
    append_all(db, kCaseManager,
               {{"list", "case", "cas_0", "cas_0"},
                {"list", "case", "cas_9", "cas_9"},
                {"read", "person", "per_1", ""}});
    append(db, kCaseManager, {"read", "case", "cas_0", "cas_0"});
    append_all(db, {{8, "x", "case_manager", 4, "drk"}, "req-probe"},
               {{"refused", "case", "cas_0", "cas_0"}}, Kind::kSecurity, "GET /api/v1/cases/cas_0");
  });

  const json all = list(*store_, {});
  ASSERT_EQ(all["items"].size(), 8u) << all.dump();
  std::int64_t last = 0;
  std::set<std::string> keys;
  for (const auto& item : all["items"]) {
    EXPECT_GT(item["id"].get<std::int64_t>(), last);
    last = item["id"];
    std::set<std::string> these;
    for (const auto& [key, value] : item.items())
      these.insert(key);
    if (keys.empty()) keys = these;
    EXPECT_EQ(these, keys) << item.dump();
  }
  EXPECT_EQ(keys, (std::set<std::string>{"id", "at", "user_id", "user_name", "role",
                                         "organisation_id", "action", "object_type", "object_id",
                                         "case_id", "request_id", "kind", "route"}));
  EXPECT_EQ(all["items"][0]["request_id"], "req-old");
  EXPECT_EQ(all["items"][3]["request_id"], "req-new");
  EXPECT_EQ(all["items"][5]["case_id"], nullptr) << "no case: null, as before";
  EXPECT_EQ(all["items"][5]["object_id"], "per_1");
  EXPECT_EQ(all["items"][7]["kind"], "security");
  EXPECT_EQ(all["items"][7]["route"], "GET /api/v1/cases/cas_0");

  // One cursor walks from the old rows into the new ones.
  json page = list(*store_, {"", 0, "", 0, 2});
  std::vector<std::string> walked;
  for (int guard = 0; guard < 10; ++guard) {
    for (const auto& item : page["items"])
      walked.push_back(item["object_id"]);
    if (!page.contains("next_cursor")) break;
    page = list(*store_, {"", 0, "", std::stoll(page["next_cursor"].get<std::string>()), 2});
  }
  EXPECT_EQ(walked, (std::vector<std::string>{"cas_0", "cas_1", "cas_2", "cas_0", "cas_9", "per_1",
                                              "cas_0", "cas_0"}));

  // Filters reach both.
  EXPECT_EQ(list(*store_, {"cas_0", 0, "", 0, 100})["items"].size(), 4u);
  EXPECT_EQ(list(*store_, {"", 7, "", 0, 100})["items"].size(), 7u);
  EXPECT_EQ(list(*store_, {"", 0, "security", 0, 100})["items"].size(), 1u);
  EXPECT_EQ(list(*store_, {"", 0, "access", 0, 100})["items"].size(), 7u);
  EXPECT_EQ(list(*store_, {"cas_0", 8, "", 0, 100})["items"].size(), 1u);

  // Append-only, the old rows and the new alike.
  for (const char* sql : {"UPDATE audit_log SET user_name = 'y'", "DELETE FROM audit_log",
                          "UPDATE audit_items SET action = 'y'", "DELETE FROM audit_batches",
                          "UPDATE audit_objects SET object_id = 'y'", "DELETE FROM audit_log_v1"}) {
    SCOPED_TRACE(sql);
    EXPECT_THROW(store_->write([&](store::Connection& db) { db.execute(sql); }),
                 store::SqliteError);
  }
  EXPECT_EQ(list(*store_, {})["items"], all["items"]);
}

}  // namespace
}  // namespace kim::audit
