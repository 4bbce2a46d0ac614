// Request bodies nested deeper than server.max_json_depth against the real kim: a PATCH body
// nested 150,000 levels (300 KB, under the body limit) used to kill the process with a stack
// overflow while the service copied it. Every route now answers 400 json_too_deep before a tree
// is built, the process lives on, and nothing changed.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/kim_process.hpp"

namespace kim::test {
namespace {

using nlohmann::json;

// {"<field>": [[[ … ]]]} with `depth` levels in all (the outer object is level 1).
std::string nested_body(const std::string& field, std::size_t depth) {
  const std::size_t arrays = depth - 1;
  return "{\"" + field + "\":" + std::string(arrays, '[') + std::string(arrays, ']') + "}";
}

TEST(DeepJsonTest, DeepBodiesAreRefusedOnEveryRouteAndTheHostLivesOn) {
  KimHost host;
  Api coordinator(host, "co-kreis");
  Api cm(host, "cm-rheine-1");
  Api admin(host, "admin");
  auto person = host.create_person("cm-rheine-1");
  ASSERT_TRUE(person.is_object());
  auto created = coordinator.post("/agreements", agreement_body());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string agreement = "/agreements/" + created.json()["id"].get<std::string>();
  const std::string person_path = "/persons/" + person["id"].get<std::string>();
  const std::string partner = std::string("/partners/") + kJobcenter;

  struct Row {
    const char* method;
    std::string path;
    std::string token_of;
    std::string field;
    std::string read_back;  // what must not change ("" for a POST that creates)
  };
  const std::vector<Row> rows = {
      {"PATCH", agreement, "co-kreis", "title", agreement},
      {"PATCH", person_path, "cm-rheine-1", "contact", person_path},
      {"PATCH", partner, "admin", "contact", partner},
      {"POST", "/persons", "cm-rheine-1", "contact", ""},
      {"POST", "/agreements", "co-kreis", "parties", ""},
      {"POST", "/plugins/hello/greetings", "cm-rheine-1", "to", ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(std::string(row.method) + " " + row.path);
    json before = row.read_back.empty() ? json() : Api(host, row.token_of).read(row.read_back);
    for (std::size_t depth : {std::size_t{65}, std::size_t{150000}}) {
      SCOPED_TRACE("depth " + std::to_string(depth));
      auto refused = host.client().request(row.method, "/api/v1" + row.path,
                                           nested_body(row.field, depth), host.token(row.token_of));
      EXPECT_EQ(refused.status, 400) << refused.body.substr(0, 300);
      EXPECT_EQ(code_of(refused), "json_too_deep") << refused.body.substr(0, 300);
      EXPECT_NE(error_of(refused).value("message", "").find("64 levels"), std::string::npos)
          << refused.body.substr(0, 300);
      ASSERT_EQ(host.client().get("/health").status, 200) << "kim died";
    }
    if (!row.read_back.empty()) {
      EXPECT_EQ(Api(host, row.token_of).read(row.read_back), before);
    }
  }
  // Within the limit the body parses and the field rules speak (64 levels in all).
  auto at_limit = cm.patch(person_path, json::parse(nested_body("contact", 64)));
  EXPECT_EQ(at_limit.status, 400) << at_limit.body;
  EXPECT_EQ(code_of(at_limit), "invalid_field") << at_limit.body;
  EXPECT_EQ(field_of(at_limit), "contact") << at_limit.body;
  // Nothing was created by the refused POSTs.
  EXPECT_EQ(coordinator.read("/agreements")["items"].size(), 1u);
  EXPECT_EQ(admin.read("/plugins/hello/stats")["greetings_stored"], 0);

  // The bound is the config's server.max_json_depth.
  json config = json::parse(read_file(host.config_path()));
  config["server"]["max_json_depth"] = 8;
  std::ofstream(host.config_path()) << config.dump();
  ASSERT_TRUE(host.restart());
  Api restarted(host, "cm-rheine-1");
  auto at_eight = restarted.patch(person_path, json::parse(nested_body("contact", 8)));
  EXPECT_EQ(code_of(at_eight), "invalid_field") << at_eight.body;
  auto at_nine = restarted.patch(person_path, json::parse(nested_body("contact", 9)));
  EXPECT_EQ(at_nine.status, 400) << at_nine.body;
  EXPECT_EQ(code_of(at_nine), "json_too_deep") << at_nine.body;
  EXPECT_NE(error_of(at_nine).value("message", "").find("8 levels"), std::string::npos)
      << at_nine.body;
}

}  // namespace
}  // namespace kim::test
