// Who writes which agreement, and what a partner's contact may hold (issue 9, items 3, 7, 15):
// a coordinator writes only agreements its own office is a party to (partner slug = organisation
// slug of a coordinating office), admins every one; websites are http(s) addresses; names and
// texts refuse control characters and bidi overrides. Every refusal changes nothing. One host.
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/shared_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;

json agreement(const std::string& office, const std::string& status = "draft") {
  return with(agreement_body(office, kJobcenter, "sgb2_integration_services", {"identity"}),
              {{"status", status}, {"handover_rule", "Gemeinsamer Termin\nbinnen 14 Tagen"}});
}

class PartnerWriteScopeTest : public SharedHost<> {};

TEST_F(PartnerWriteScopeTest, RheineCoordinatorWritesNoAgreementOfTheCountysOffice) {
  Api county(*host_, "co-kreis");
  Api rheine(*host_, "co-rheine");
  Api admin(*host_, "admin");
  const auto all_before = county.read("/agreements");

  // Creating one between the county's office and the jobcenter, draft or signed: refused.
  for (const char* status : {"draft", "signed"}) {
    auto created = rheine.post("/agreements", agreement(kOffice, status));
    EXPECT_EQ(created.status, 403) << created.body;
    EXPECT_EQ(code_of(created), "forbidden");
  }
  EXPECT_EQ(county.read("/agreements"), all_before);

  // Existing county agreements: neither changed, signed, prolonged nor terminated by Rheine.
  auto draft = county.post("/agreements", agreement(kOffice));
  ASSERT_EQ(draft.status, 201) << draft.body;
  auto in_force = county.post("/agreements", agreement(kOffice, "signed"));
  ASSERT_EQ(in_force.status, 201) << in_force.body;
  const std::string draft_path = "/agreements/" + draft.json()["id"].get<std::string>();
  const std::string signed_path = "/agreements/" + in_force.json()["id"].get<std::string>();
  const json draft_before = county.read(draft_path), signed_before = county.read(signed_path);
  const std::vector<std::pair<std::string, json>> attempts = {
      {draft_path, {{"title", "Übernommen"}}},
      {draft_path, {{"parties", agreement("stadt-rheine-ko")["parties"]}}},
      {draft_path, {{"status", "signed"}}},
      {signed_path, {{"valid_to", "2099-12-31"}}},
      {signed_path, {{"status", "terminated"}}}};
  for (const auto& [path, body] : attempts) {
    SCOPED_TRACE(path + " " + body.dump());
    auto refused = rheine.patch(path, body);
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(code_of(refused), "forbidden");
  }
  EXPECT_EQ(county.read(draft_path), draft_before);
  EXPECT_EQ(county.read(signed_path), signed_before);

  // The county's office may not hand its draft over to a party set without itself either.
  auto handed_over =
      county.patch(draft_path, {{"parties", agreement("stadt-rheine-ko")["parties"]}});
  EXPECT_EQ(handed_over.status, 403) << handed_over.body;
  EXPECT_EQ(county.read(draft_path), draft_before);

  // A PATCH that changes nothing is a client's mistake (400), not a server error.
  for (const json& nothing : {json::object(), json{{"status", "draft"}}}) {
    SCOPED_TRACE(nothing.dump());
    auto refused = county.patch(draft_path, nothing);
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(code_of(refused), "nothing_to_change");
  }
  EXPECT_EQ(county.read(draft_path), draft_before);

  // Its own agreements Rheine writes; the admin writes every agreement.
  auto own = rheine.post("/agreements", agreement("stadt-rheine-ko"));
  ASSERT_EQ(own.status, 201) << own.body;
  const std::string own_path = "/agreements/" + own.json()["id"].get<std::string>();
  EXPECT_EQ(rheine.patch(own_path, {{"title", "Kooperation Rheine – Jobcenter"}}).status, 200);
  EXPECT_EQ(rheine.patch(own_path, {{"status", "signed"}}).status, 200);
  EXPECT_EQ(rheine.patch(own_path, {{"status", "terminated"}}).status, 200);
  EXPECT_EQ(county.patch(own_path, {{"valid_to", "2099-12-31"}}).status, 403);
  EXPECT_EQ(admin.patch(draft_path, {{"status", "signed"}}).status, 200);
  EXPECT_EQ(admin.post("/agreements", agreement("stadt-rheine-ko", "signed")).status, 201);
}

TEST_F(PartnerWriteScopeTest, PartnerWebsiteIsAnHttpAddress) {
  Api admin(*host_, "admin");
  const json partner = {{"slug", "web-test-partner"},
                        {"name", "Beratungsstelle Web"},
                        {"kind", "counselling_service"},
                        {"county_wide", true},
                        {"services", {"migration_counselling"}}};
  for (const char* website :
       {"javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,<script>x</script>",
        "vbscript:msgbox", "file:///etc/passwd", "//evil.example", "https://", "www.example.de",
        "https://exa mple.de", "ftp://example.de"}) {
    SCOPED_TRACE(website);
    auto refused = admin.post("/partners", with(partner, {{"contact", {{"website", website}}}}));
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(field_of(refused), "contact.website");
  }
  EXPECT_EQ(admin.get("/partners/web-test-partner").status, 404);

  auto created = admin.post(
      "/partners",
      with(partner, {{"contact", {{"website", "https://www.example.de/beratung?x=1"}}}}));
  ASSERT_EQ(created.status, 201) << created.body;
  const json before = admin.read("/partners/web-test-partner");
  auto changed = admin.patch("/partners/web-test-partner",
                             {{"contact", {{"website", "javascript:alert(document.cookie)"}}}});
  EXPECT_EQ(changed.status, 400) << changed.body;
  EXPECT_EQ(field_of(changed), "contact.website");
  EXPECT_EQ(admin.read("/partners/web-test-partner"), before);
  EXPECT_EQ(
      admin.patch("/partners/web-test-partner", {{"contact", {{"website", "http://example.de"}}}})
          .status,
      200);
}

TEST_F(PartnerWriteScopeTest, PartnerAndAgreementTextsRefuseControlsAndBidiOverrides) {
  Api admin(*host_, "admin");
  Api county(*host_, "co-kreis");
  const json partner = {{"slug", "text-test-partner"},
                        {"name", "Beratung"},
                        {"kind", "counselling_service"},
                        {"county_wide", true},
                        {"services", {"migration_counselling"}}};
  const std::vector<std::pair<json, std::string>> partners = {
      {with(partner, {{"name", std::string("Bera\0tung", 9)}}), "name"},
      {with(partner, {{"name", "Beratung\x1b[2J"}}), "name"},
      {with(partner, {{"name",
                       "\xe2\x80\xae"
                       "gnutareB"}}),
       "name"},
      {with(partner, {{"name", "Beratung\nZwei"}}), "name"},
      {with(partner, {{"name", "\xe2\x80\x8b"}}), "name"},
      {with(partner, {{"contact", {{"contact_person", "Frau\xc2\x9b X"}}}}),
       "contact.contact_person"}};
  for (const auto& [body, field] : partners) {
    SCOPED_TRACE(body.dump());
    auto refused = admin.post("/partners", body);
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(field_of(refused), field);
  }
  EXPECT_EQ(admin.get("/partners/text-test-partner").status, 404);

  const auto all_before = county.read("/agreements");
  json bidi_party = agreement(kOffice);
  bidi_party["parties"][1]["tasks"] = "SGB II \xe2\x81\xa6x\xe2\x81\xa9";
  const std::vector<std::pair<json, std::string>> agreements = {
      {with(agreement(kOffice), {{"title", "Kooperation\tJobcenter"}}), "title"},
      {with(agreement(kOffice), {{"handover_rule", std::string("Termin\0", 7)}}), "handover_rule"},
      {bidi_party, "parties[1].tasks"}};
  for (const auto& [body, field] : agreements) {
    SCOPED_TRACE(body.dump());
    auto refused = county.post("/agreements", body);
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(field_of(refused), field);
  }
  EXPECT_EQ(county.read("/agreements"), all_before);

  // Normalised when accepted: NFC, surrounding Unicode white space trimmed, line breaks kept.
  auto created = admin.post("/partners", with(partner, {{"name",
                                                         "\xc2\xa0"
                                                         "Beratung Mu\xcc\x88nster "}}));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["name"], "Beratung M\xc3\xbcnster");
  auto kept = county.post("/agreements", agreement(kOffice));
  ASSERT_EQ(kept.status, 201) << kept.body;
  EXPECT_EQ(kept.json()["handover_rule"], "Gemeinsamer Termin\nbinnen 14 Tagen");
}

}  // namespace
}  // namespace kim::test
