// Audit entries are deleted only through retention::prune_audit (core migration 0016): the
// append-only triggers still refuse every other DELETE and UPDATE; a prune removes what is older
// than its cutoff (old rows of audit_log_v1 too), keeps the newest item so ids never restart,
// and records what it removed in audit_prunes, which is append-only itself.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "audit/audit_log.hpp"
#include "retention/retention.hpp"
#include "support/core_store.hpp"

namespace kim::retention {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class AuditPruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = test::open_migrated_store(dir_, "kim_audit_prune_test");
    // Three old entries (2016, one of them the pre-0007 shape) and two of today.
    store_->write([](store::Connection& db) {
      db.execute(
          "INSERT INTO audit_log_v1(at, user_id, user_name, role, organisation_id, action, "
          "object_type, object_id, case_id, request_id) VALUES ('2016-01-01T00:00:00.000Z', 7, "
          "'c.meyer', 'case_manager', 3, 'read', 'case', 'case_v1', 'case_v1', 'req-v1')");
      // The view's INSERT keeps the given time (audit::append stamps now).
      for (int i = 0; i < 2; ++i) {
        db.execute(
            "INSERT INTO audit_log(at, user_id, user_name, role, organisation_id, action, "
            "object_type, object_id, case_id, request_id) VALUES ('2016-06-01T00:00:00.000Z', 7, "
            "'c.meyer', 'case_manager', 3, 'read', 'case', ?, NULL, 'req-old')",
            {"case_old" + std::to_string(i)});
      }
      for (int i = 0; i < 2; ++i) {
        audit::append(db, kActor, {"read", "case", "case_new" + std::to_string(i), ""});
      }
    });
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::int64_t count(const std::string& table) {
    return store_->read([&](store::Connection& db) {
      return db.query("SELECT count(*) AS n FROM " + table).at(0)["n"].get<std::int64_t>();
    });
  }

  static inline const audit::Actor kActor{{7, "c.meyer", "case_manager", 3, "caritas-rheine"},
                                          "req-1"};
  fs::path dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(AuditPruneTest, EveryOtherDeleteOrUpdateIsStillRefused) {
  for (const char* sql :
       {"DELETE FROM audit_items", "DELETE FROM audit_batches", "DELETE FROM audit_objects",
        "DELETE FROM audit_log_v1", "DELETE FROM audit_log", "UPDATE audit_items SET action = 'x'",
        "UPDATE audit_batches SET user_name = 'x'"}) {
    EXPECT_THROW(store_->write([&](store::Connection& db) { db.execute(sql); }), store::SqliteError)
        << sql;
  }
  EXPECT_EQ(count("audit_log"), 5);
  EXPECT_EQ(count("audit_prunes"), 0);
  EXPECT_EQ(count("audit_prune_permit"), 0);
}

TEST_F(AuditPruneTest, PruneRemovesOldEntriesOnlyAndRecordsIt) {
  const auto pruned = store_->write([](store::Connection& db) {
    return prune_audit(db, "2020-01-01", "2026-12-02T08:00:00.000Z");
  });
  EXPECT_EQ(pruned, 2);
  auto left = store_->read([](store::Connection& db) {
    return db.query("SELECT object_id FROM audit_log ORDER BY id");
  });
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0]["object_id"], "case_new0");
  EXPECT_EQ(left[1]["object_id"], "case_new1");
  auto record = store_->read(
      [](store::Connection& db) { return db.query("SELECT * FROM audit_prunes").at(0); });
  EXPECT_EQ(record["cutoff"], "2020-01-01");
  EXPECT_EQ(record["items"], 2);
  EXPECT_EQ(record["v1_rows"], 1);
  EXPECT_EQ(record["pruned_at"], "2026-12-02T08:00:00.000Z");
  EXPECT_EQ(count("audit_prune_permit"), 0) << "the permit outlived the prune";
  // The record of a prune is append-only.
  EXPECT_THROW(store_->write([](store::Connection& db) { db.execute("DELETE FROM audit_prunes"); }),
               store::SqliteError);
  EXPECT_THROW(
      store_->write([](store::Connection& db) { db.execute("UPDATE audit_prunes SET items = 0"); }),
      store::SqliteError);
  // After the prune, the triggers refuse deletes again.
  EXPECT_THROW(store_->write([](store::Connection& db) { db.execute("DELETE FROM audit_items"); }),
               store::SqliteError);
}

TEST_F(AuditPruneTest, NewestItemIsKeptSoIdsNeverRestart) {
  const auto last_id = store_->read([](store::Connection& db) {
    return db.query("SELECT max(id) AS id FROM audit_items").at(0)["id"].get<std::int64_t>();
  });
  // A cutoff after everything: all but the newest item go.
  store_->write([](store::Connection& db) {
    return prune_audit(db, "2999-01-01", "2026-12-02T08:00:00.000Z");
  });
  EXPECT_EQ(count("audit_items"), 1);
  store_->write([](store::Connection& db) {
    audit::append(db, kActor, {"read", "case", "case_after", ""});
  });
  const auto next_id = store_->read([](store::Connection& db) {
    return db.query("SELECT max(id) AS id FROM audit_items").at(0)["id"].get<std::int64_t>();
  });
  EXPECT_GT(next_id, last_id);
}

}  // namespace
}  // namespace kim::retention
