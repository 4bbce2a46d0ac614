// The test host itself (support/kim_host.*): every KimHost runs kim on a database of its own,
// seeded as a deployment is, also when it starts on the copy the first host of the process kept.
// Suites rely on this to let each case start from the same state without seeding again.
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sqlite3.h>

#include "store/sqlite.hpp"
#include "support/api.hpp"
#include "support/kim_host.hpp"

namespace kim::test {
namespace {

// Rows of every table of the host's database.
std::map<std::string, std::int64_t> table_counts(const KimHost& host) {
  auto db = store::Connection::open(host.database(), SQLITE_OPEN_READONLY);
  std::map<std::string, std::int64_t> counts;
  const auto tables =
      db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  for (const auto& table : tables) {
    const std::string name = table["name"];
    counts[name] =
        db.query("SELECT count(*) AS n FROM \"" + name + "\"")[0]["n"].get<std::int64_t>();
  }
  return counts;
}

TEST(KimHostTest, EveryHostStartsOnItsOwnFreshlySeededDatabase) {
  KimHost first;
  const auto seeded = table_counts(first);
  ASSERT_GT(seeded.at("users"), 1) << "seeded with the users of kim_host.hpp";
  ASSERT_GT(seeded.at("partners"), 0) << "seeded with the shipped partner network";
  ASSERT_EQ(seeded.at("persons"), 0);
  const auto person = first.create_person("cm-rheine-1");
  ASSERT_TRUE(person.contains("id"));
  const std::string person_path = "/persons/" + person["id"].get<std::string>();

  KimHost second;  // the same config: starts on a copy of the first host's seeded database
  EXPECT_NE(second.database(), first.database());
  EXPECT_NE(second.port(), first.port());
  EXPECT_EQ(table_counts(second), seeded) << "nothing of the first host's later writes";
  EXPECT_EQ(Api(second, "cm-rheine-1").get(person_path).status, 404);
  EXPECT_EQ(Api(first, "cm-rheine-1").get(person_path).status, 200);
  // The same users, whose tokens work on the copy.
  for (const std::string user : {"cm-rheine-1", "co-kreis", "auditor", "admin"}) {
    SCOPED_TRACE(user);
    EXPECT_EQ(second.user_id(user), first.user_id(user));
  }
  EXPECT_EQ(Api(second, "cm-rheine-1").get("/cases").status, 200);
  EXPECT_EQ(Api(second, "admin").read("/users")["items"].size(),
            static_cast<std::size_t>(seeded.at("users")));

  // Writes on the copy stay there too.
  const auto other = second.create_person("cm-greven");
  ASSERT_TRUE(other.contains("id"));
  EXPECT_EQ(table_counts(first).at("persons"), 1);
  EXPECT_EQ(table_counts(second).at("persons"), 1);
  EXPECT_EQ(Api(first, "cm-greven").get("/persons/" + other["id"].get<std::string>()).status, 404);

  // Another config is seeded on its own: the hello plugin's settings differ.
  KimHost vetoing(nlohmann::json{{"veto_phase", "closed"}});
  EXPECT_EQ(table_counts(vetoing), seeded);
}

}  // namespace
}  // namespace kim::test
