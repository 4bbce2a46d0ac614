// The outbox row is part of the write that causes it (a real SQLite file, the real write path):
// committed with it, gone with it when the change fails after the insert (a Problem, or a
// plugin's hook veto), and never written for a partner without a connector instance.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "domain/service_support.hpp"
#include "log/logging.hpp"
#include "orgs/organisations.hpp"
#include "outbox/outbox.hpp"
#include "partners/partners.hpp"
#include "store/core_migrations.hpp"
#include "store/store.hpp"
#include "support/core_store.hpp"

namespace kim::outbox {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class OutboxAtomicityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = test::open_migrated_store(dir_, "kim_outbox_test");
    partners::apply_seeds(*store_, {seed("bound", "jobcenter"), seed("unbound", "")});
    events_ = std::make_unique<events::EventBus>(log::get("events"));
    tx_ = std::make_unique<domain::Transactions>(*store_, *events_, domain::Env::system());
  }
  void TearDown() override {
    tx_.reset();
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  static json seed(const std::string& slug, const std::string& connector) {
    json partner = {{"slug", slug},
                    {"name", "Partner " + slug},
                    {"kind", "counselling_service"},
                    {"towns", {"Rheine"}},
                    {"services", {"migration_counselling"}}};
    if (!connector.empty()) partner["connector"] = connector;
    return partner;
  }
  json rows() {
    return store_->read(
        [](store::Connection& db) { return json(db.query("SELECT * FROM outbox")); });
  }
  // A change that writes a message for `partner`, then does `after` (which may fail).
  template <class After>
  domain::Result<domain::Reply> change(const std::string& partner, After after) {
    return tx_->write(orgs::cli_context(), [&](domain::Change& change) {
      enqueue(change, partner, kReferralSent, "case_1", "ref_1", R"({"referral_id":"ref_1"})");
      change.audit("update", "referral", "ref_1", "case_1");
      after(change);
      return domain::Reply{};
    });
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<events::EventBus> events_;
  std::unique_ptr<domain::Transactions> tx_;
};

TEST_F(OutboxAtomicityTest, AMessageCommitsWithItsChangeWithTheGivenPayload) {
  ASSERT_TRUE(change("bound", [](domain::Change&) {}));
  auto written = rows();
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0]["connector"], "jobcenter");
  EXPECT_EQ(written[0]["state"], "pending");
  EXPECT_EQ(written[0]["payload"], R"({"referral_id":"ref_1"})");
  EXPECT_EQ(written[0]["idempotency_key"], "kim-" + written[0]["id"].get<std::string>());
}

TEST_F(OutboxAtomicityTest, AChangeThatFailsAfterTheInsertLeavesNoMessage) {
  auto failed = change("bound", [](domain::Change&) {
    domain::fail(domain::Problem::conflict("later_rule", "a rule checked after the insert"));
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.problem().code, "later_rule");
  EXPECT_TRUE(rows().empty());
}

TEST_F(OutboxAtomicityTest, APluginVetoAfterTheInsertLeavesNoMessage) {
  events_->add_hook(
      "referral.status_changed",
      [](const sdk::Event&) { return sdk::HookResult::veto("no referrals today"); }, "vetoer");
  auto vetoed = change("bound", [](domain::Change& change) {
    change.publish("referral.status_changed", {{"referral_id", "ref_1"}});
  });
  ASSERT_FALSE(vetoed);
  EXPECT_EQ(vetoed.problem().status, 422);
  EXPECT_TRUE(rows().empty());
}

TEST_F(OutboxAtomicityTest, APartnerWithoutConnectorGetsNoMessage) {
  std::optional<std::string> id = "unset";
  ASSERT_TRUE(tx_->write(orgs::cli_context(), [&](domain::Change& change) {
    id = enqueue(change, "unbound", kReferralSent, "case_1", "ref_1", "{}");
    change.audit("update", "referral", "ref_1", "case_1");
    return domain::Reply{};
  }));
  EXPECT_FALSE(id.has_value());
  EXPECT_TRUE(rows().empty());
}

}  // namespace
}  // namespace kim::outbox
