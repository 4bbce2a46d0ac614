// Referrals (Verweisberatung) with data protection enforced by the software, over HTTP against
// the real kim binary and the partner network of the shipped config: a referral needs a signed,
// valid cooperation agreement covering the partner and the service, and a valid, unrevoked
// consent for every data category it passes on; what the partner receives holds only those
// categories; revoking a consent stops pending referrals at once; the results come back into the
// case timeline; refused and waiting referrals are reported as gaps without personal data.
// Every refusal is checked to leave the referrals, the case and its timeline as they were.
#include <chrono>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/kim_host.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kService = "sgb2_integration_services";

// What the case records about the person beyond the categories passed on: unique strings, so a
// leak is found wherever it appears in what the partner receives.
constexpr const char* kLanguageSummary = "Deutsch A2, Arabisch Muttersprache LQ-1187";
constexpr const char* kHealthSummary = "Traumatherapie beantragt HX-7731";
constexpr const char* kResidenceSummary = "Gestattung endet im Maerz RZ-4418";
constexpr const char* kFamilySummary = "Kita-Platz fehlt FC-9902";
constexpr const char* kSchoolSummary = "Abitur in Aleppo SE-5521";
constexpr const char* kArrival = "2016-03-14";
constexpr const char* kResidence = "aufenthaltsgestattung";

using Names = std::set<std::string>;

// A signed agreement between the coordinating office and `partner`, valid since 2024.
json signed_agreement(const std::string& partner = kJobcenter,
                      const std::string& service = kService,
                      json categories = {"identity", "contact", "language_level",
                                         "education_work"}) {
  return with(test::agreement_body(kOffice, partner, service, std::move(categories)),
              {{"status", "signed"}, {"signed_on", "2023-12-15"}});
}

// The consent the referral to the jobcenter needs.
json consent_body(json categories = {"identity", "contact", "language_level"},
                  const std::string& recipient = kJobcenter) {
  return {{"recipients", {recipient}},    {"purposes", {"referral"}},
          {"categories", categories},     {"form", "written"},
          {"given_on", date_in_days(-7)}, {"document_reference", "Einwilligung Akte 2026/118"}};
}

json referral_body(json categories = {"identity", "language_level"}) {
  return {{"partner", kJobcenter}, {"service", kService}, {"categories", categories}};
}

// What a refused request must leave alone.
struct CaseState {
  json referrals;
  json case_body;
  std::string etag;
  json notes;
};

// A case manager of Caritas Rheine with one person and case: the person has data of every
// category (household, residence status, arrival), the case is in the assessment phase with an
// assessment of language, health, residence, family and school needs.
class Scene {
 public:
  explicit Scene(KimHost& host, const std::string& user = "cm-rheine-1",
                 const std::string& town = "Rheine")
      : cm(host, user), co(host, "co-kreis") {
    // Each scene's person differs in name and birthday: no duplicate warning between scenes.
    static const char* const kFamilies[] = {"Qassab", "Haddad", "Nasser", "Khalil", "Darwish"};
    const int n = counter_++;
    auto person = cm.post("/persons", {{"given_names", "Leyla Amira"},
                                       {"family_name", kFamilies[n % 5]},
                                       {"date_of_birth", "1991-08-" + std::to_string(10 + n % 18)},
                                       {"gender", "female"},
                                       {"nationalities", {"SY"}},
                                       {"languages", {"ar", "de"}},
                                       {"town", town},
                                       {"residence_status", kResidence},
                                       {"arrival_date", kArrival},
                                       {"household",
                                        {{{"relation", "child"}, {"birth_year", 2015}},
                                         {{"relation", "spouse"}, {"birth_year", 1988}}}}});
    if (person.status != 201) {
      ADD_FAILURE() << "create person: " << person.status << " " << person.body;
      return;
    }
    person_ = person.json();
    person_id = person_["id"];
    json opened = host.open_case(user, person_id);
    if (!opened.is_object()) return;
    case_id = opened["id"];
    auto to_assessment = cm.post("/cases/" + case_id + "/transitions", {{"to", "assessment"}});
    EXPECT_EQ(to_assessment.status, 200) << to_assessment.body;
    auto assessed = cm.post(
        "/cases/" + case_id + "/assessments",
        {{"domains",
          {{{"life_domain", "language"}, {"need_level", "high"}, {"summary", kLanguageSummary}},
           {{"life_domain", "health"}, {"need_level", "high"}, {"summary", kHealthSummary}},
           {{"life_domain", "residence_status"},
            {"need_level", "medium"},
            {"summary", kResidenceSummary}},
           {{"life_domain", "family_childcare"},
            {"need_level", "low"},
            {"summary", kFamilySummary}},
           {{"life_domain", "school_education"},
            {"need_level", "medium"},
            {"summary", kSchoolSummary}}}}});
    EXPECT_EQ(assessed.status, 201) << assessed.body;
  }

  json person() const { return person_; }
  std::string base() const { return "/cases/" + case_id; }

  // A new agreement by the coordinator of the county; returns its id.
  std::string add_agreement(const json& body = signed_agreement()) {
    auto created = co.post("/agreements", body);
    EXPECT_EQ(created.status, 201) << created.body;
    return created.status == 201 ? created.json()["id"].get<std::string>() : "";
  }
  void set_agreement(const std::string& id, const json& change) {
    auto changed = co.patch("/agreements/" + id, change);
    EXPECT_EQ(changed.status, 200) << changed.body;
  }
  // A new consent of the person; returns its id.
  std::string add_consent(const json& body = consent_body()) {
    auto created = cm.post("/persons/" + person_id + "/consents", body);
    EXPECT_EQ(created.status, 201) << created.body;
    return created.status == 201 ? created.json()["id"].get<std::string>() : "";
  }
  HttpResult refer(const json& body = referral_body()) {
    return cm.post(base() + "/referrals", body);
  }
  // A referral that must be created; returns it (null after a failure).
  json create_referral(const json& body = referral_body()) {
    auto created = refer(body);
    EXPECT_EQ(created.status, 201) << created.body;
    return created.status == 201 ? created.json() : json::object();
  }
  // The id of a referral that must be created ("" after a failure).
  std::string create_referral_id(const json& body = referral_body()) {
    return create_referral(body).value("id", "");
  }
  HttpResult move(const std::string& referral_id, const json& body) {
    return cm.post(base() + "/referrals/" + referral_id + "/status", body);
  }
  json referral(const std::string& referral_id) {
    return cm.read(base() + "/referrals/" + referral_id);
  }
  json notes() { return cm.read(base() + "/notes")["items"]; }
  std::vector<json> referral_notes() {
    std::vector<json> found;
    for (auto& note : notes()) {
      if (note["kind"] == "referral") found.push_back(note);
    }
    return found;
  }

  CaseState state() {
    auto case_response = cm.get(base());
    EXPECT_EQ(case_response.status, 200) << case_response.body;
    return {cm.read(base() + "/referrals"), json::parse(case_response.body, nullptr, false),
            case_response.headers["etag"], cm.read(base() + "/notes")};
  }
  // The request was refused with `status` and `code`, and nothing was written.
  json expect_refused(const HttpResult& response, int status, const std::string& code,
                      const CaseState& before) {
    EXPECT_EQ(response.status, status) << response.body;
    EXPECT_EQ(code_of(response), code) << response.body;
    const CaseState after = state();
    EXPECT_EQ(after.referrals, before.referrals) << "a refused request changed the referrals";
    EXPECT_EQ(after.etag, before.etag) << "a refused request changed the case version";
    EXPECT_EQ(after.case_body, before.case_body) << "a refused request changed the case";
    EXPECT_EQ(after.notes, before.notes) << "a refused request changed the timeline";
    return error_of(response);
  }

  Api cm;  // the case manager of the case
  Api co;  // the coordinator of the county, who signs agreements
  std::string person_id;
  std::string case_id;

 private:
  json person_;
  static inline int counter_ = 0;
};

// ---- the agreement ------------------------------------------------------------------------------

TEST(ReferralTest, RefusedWithoutASignedValidAgreementAndNothingIsWritten) {
  KimHost host;
  Scene scene(host);
  ASSERT_FALSE(::testing::Test::HasFailure()) << "setup failed";
  scene.add_consent();
  CaseState before = scene.state();
  EXPECT_TRUE(before.referrals["items"].empty());

  auto unknown_partner = scene.refer(with(referral_body(), {{"partner", "no-such-partner"}}));
  scene.expect_refused(unknown_partner, 400, "invalid_field", before);
  EXPECT_EQ(field_of(unknown_partner), "partner");

  // A service the jobcenter does not offer.
  json jobcenter = scene.cm.read(std::string("/partners/") + kJobcenter);
  std::string not_offered;
  for (const std::string service : {"naturalisation", "childcare_place", "sports_participation",
                                    "school_enrolment", "integration_course"}) {
    if (!as_set(jobcenter["services"]).count(service)) {
      not_offered = service;
      break;
    }
  }
  ASSERT_FALSE(not_offered.empty()) << jobcenter.dump();
  scene.expect_refused(scene.refer(with(referral_body(), {{"service", not_offered}})), 422,
                       "service_not_offered", before);

  auto none = scene.refer();
  json error = scene.expect_refused(none, 422, "no_agreement", before);
  EXPECT_EQ(error["details"]["partner"], kJobcenter) << none.body;
  EXPECT_EQ(error["details"]["service"], kService) << none.body;

  // Signed and valid, but not for this service, or not with this partner.
  scene.add_agreement(signed_agreement(kJobcenter, "sgb2_benefits"));
  scene.add_agreement(signed_agreement("agentur-fuer-arbeit-rheine", kService));
  scene.expect_refused(scene.refer(), 422, "no_agreement", before);

  const std::string draft =
      scene.add_agreement(without(without(signed_agreement(), "status"), "signed_on"));
  scene.expect_refused(scene.refer(), 422, "agreement_not_signed", before);

  scene.set_agreement(draft, {{"status", "terminated"}, {"terminated_on", date_in_days(0)}});
  auto terminated = scene.refer();
  error = scene.expect_refused(terminated, 422, "agreement_expired", before);
  EXPECT_EQ(error["details"]["partner"], kJobcenter) << terminated.body;

  const std::string lapsed =
      scene.add_agreement(with(signed_agreement(), {{"valid_to", "2025-12-31"}}));
  auto expired = scene.refer();
  error = scene.expect_refused(expired, 422, "agreement_expired", before);
  EXPECT_EQ(error["details"]["service"], kService) << expired.body;
  EXPECT_EQ(scene.co.read("/agreements/" + lapsed)["effective_status"], "expired");

  // Signed and valid: the same request now passes.
  const std::string valid = scene.add_agreement();
  json created = scene.create_referral();
  EXPECT_EQ(created["agreement_id"], valid);
  before = scene.state();
  ASSERT_EQ(before.referrals["items"].size(), 1u);

  // Once the agreement has expired, it blocks new referrals.
  scene.set_agreement(valid, {{"status", "expired"}});
  scene.expect_refused(scene.refer(), 422, "agreement_expired", before);
  const std::string renewed = scene.add_agreement();
  scene.create_referral();
  scene.set_agreement(renewed, {{"status", "terminated"}, {"terminated_on", date_in_days(0)}});
  before = scene.state();
  scene.expect_refused(scene.refer(), 422, "agreement_expired", before);
  scene.add_agreement(with(signed_agreement(), {{"valid_to", date_in_days(-1)}}));
  scene.expect_refused(scene.refer(), 422, "agreement_expired", before);
  // Signed, but in force only from next month: not yet.
  scene.add_agreement(with(signed_agreement(), {{"valid_from", date_in_days(30)}}));
  error = scene.expect_refused(scene.refer(), 422, "agreement_not_yet_valid", before);
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("not yet in force"));

  // No referral from a closed case, and a draft made before the closure is not sent from it.
  Scene closed(host, "cm-rheine-2");
  ASSERT_FALSE(closed.case_id.empty());
  closed.add_consent();
  closed.add_agreement();
  const std::string unsent = closed.create_referral_id();
  auto closing =
      closed.cm.post(closed.base() + "/transitions", {{"to", "closed"}, {"reason", "moved_away"}});
  ASSERT_EQ(closing.status, 200) << closing.body;
  const CaseState closed_before = closed.state();
  closed.expect_refused(closed.refer(), 409, "case_closed", closed_before);
  closed.expect_refused(closed.move(unsent, {{"status", "sent"}}), 409, "case_closed",
                        closed_before);
  EXPECT_TRUE(closed.referral(unsent)["payload"].is_null());
  // Cancelling it is still possible: nothing leaves by that.
  EXPECT_EQ(closed.move(unsent, {{"status", "cancelled"}}).status, 200);
}

// ---- consent ------------------------------------------------------------------------------------

TEST(ReferralTest, RefusedWithoutConsentForEveryCategoryAndNothingIsWritten) {
  KimHost host;
  Scene scene(host);
  ASSERT_FALSE(::testing::Test::HasFailure()) << "setup failed";
  scene.add_agreement();
  const CaseState before = scene.state();

  auto none = scene.refer();
  json error = scene.expect_refused(none, 422, "consent_missing", before);
  EXPECT_EQ(as_set(error["details"]["categories"]), (Names{"identity", "language_level"}))
      << none.body;
  EXPECT_THAT(error.value("message", ""), HasSubstr("identity"));
  EXPECT_THAT(error.value("message", ""), HasSubstr("language_level"));

  const std::string identity = scene.add_consent(consent_body({"identity"}));
  auto partly = scene.refer();
  error = scene.expect_refused(partly, 422, "consent_missing", before);
  EXPECT_EQ(as_set(error["details"]["categories"]), (Names{"language_level"})) << partly.body;
  EXPECT_THAT(error.value("message", ""), HasSubstr("language_level"));

  // Consents that do not match: another recipient, another purpose, expired.
  scene.add_consent(consent_body({"language_level"}, "agentur-fuer-arbeit-rheine"));
  scene.add_consent(with(consent_body({"language_level"}), {{"purposes", {"outcome_feedback"}}}));
  auto unmatched = scene.refer();
  error = scene.expect_refused(unmatched, 422, "consent_missing", before);
  EXPECT_EQ(as_set(error["details"]["categories"]), (Names{"language_level"})) << unmatched.body;
  const std::string lapsed =
      scene.add_consent(with(consent_body({"language_level"}),
                             {{"given_on", "2025-01-10"}, {"valid_until", "2025-06-30"}}));
  scene.expect_refused(scene.refer(), 422, "consent_expired", before);

  // The agreement's data terms come first: a category they do not permit is never passed on,
  // whatever the consent says.
  auto residence = scene.refer(referral_body({"identity", "residence_status"}));
  error = scene.expect_refused(residence, 422, "category_not_permitted", before);
  EXPECT_EQ(as_set(error["details"]["categories"]), (Names{"residence_status"})) << residence.body;
  auto health = scene.refer(referral_body({"health"}));
  error = scene.expect_refused(health, 422, "category_not_permitted", before);
  EXPECT_EQ(as_set(error["details"]["categories"]), (Names{"health"})) << health.body;
  auto other_purpose = scene.refer(with(referral_body(), {{"purpose", "joint_case_planning"}}));
  error = scene.expect_refused(other_purpose, 422, "category_not_permitted", before);
  EXPECT_EQ(as_set(error["details"]["categories"]), (Names{"identity", "language_level"}))
      << other_purpose.body;

  // Malformed referrals are named by field.
  for (const auto& [body, field] : std::vector<std::pair<json, std::string>>{
           {with(referral_body(), {{"categories", json::array()}}), "categories"},
           {with(referral_body(), {{"categories", {"identity", "religion"}}}), "categories[1]"},
           {with(referral_body(), {{"service", "astrology"}}), "service"},
           {with(referral_body(), {{"purpose", "marketing"}}), "purpose"},
           {with(referral_body(), {{"message", std::string(2001, 'm')}}), "message"},
           {without(referral_body(), "partner"), "partner"},
           {with(referral_body(), {{"urgent", true}}), "urgent"}}) {
    SCOPED_TRACE(body.dump().substr(0, 200));
    auto refused = scene.refer(body);
    scene.expect_refused(refused, 400, field == "urgent" ? kUnknownKey : "invalid_field", before);
    EXPECT_EQ(field_of(refused), field);
  }

  // With a valid consent for the last category the referral passes, naming the consents used.
  const std::string language = scene.add_consent(consent_body({"language_level"}));
  json created = scene.create_referral();
  EXPECT_EQ(as_set(created["consent_ids"]), (Names{identity, language})) << created.dump();
  EXPECT_THAT(created["consent_ids"], Not(Contains(lapsed)));
}

TEST(ReferralTest, ConsentIsSpecificNeverBlanketAndOnlyForThoseWhoMayReadThePerson) {
  KimHost host;
  Scene scene(host);
  ASSERT_FALSE(::testing::Test::HasFailure()) << "setup failed";
  const std::string consents = "/persons/" + scene.person_id + "/consents";
  json before = scene.cm.read(consents);
  EXPECT_TRUE(before["items"].empty());

  json valid = {{"recipients", {kJobcenter}},
                {"purposes", {"referral"}},
                {"categories", {"identity"}},
                {"form", "written"},
                {"given_on", date_in_days(-1)}};
  struct Row {
    std::string what;
    json body;
    std::string code;  // empty: not checked
    std::string field;
  };
  const std::vector<Row> rows = {
      {"no recipients", without(valid, "recipients"), "blanket_consent", "recipients"},
      {"empty recipients", with(valid, {{"recipients", json::array()}}), "blanket_consent",
       "recipients"},
      {"no purposes", without(valid, "purposes"), "blanket_consent", "purposes"},
      {"empty purposes", with(valid, {{"purposes", json::array()}}), "blanket_consent", "purposes"},
      {"no categories", without(valid, "categories"), "blanket_consent", "categories"},
      {"empty categories", with(valid, {{"categories", json::array()}}), "blanket_consent",
       "categories"},
      {"health together with identity",
       with(valid, {{"categories", {"identity", "health"}}, {"explicit_special_category", true}}),
       "", "categories"},
      {"health without explicit consent", with(valid, {{"categories", {"health"}}}), "",
       "explicit_special_category"},
      {"health with explicit_special_category false",
       with(valid, {{"categories", {"health"}}, {"explicit_special_category", false}}), "",
       "explicit_special_category"},
      {"unknown recipient", with(valid, {{"recipients", {"no-such-partner"}}}), "invalid_field",
       "recipients[0]"},
      {"second recipient unknown", with(valid, {{"recipients", {kJobcenter, "nobody"}}}),
       "invalid_field", "recipients[1]"},
      {"unknown category", with(valid, {{"categories", {"religion"}}}), "invalid_field",
       "categories[0]"},
      {"unknown purpose", with(valid, {{"purposes", {"marketing"}}}), "invalid_field",
       "purposes[0]"},
      {"oral form", with(valid, {{"form", "oral"}}), "invalid_field", "form"},
      {"no form", without(valid, "form"), "invalid_field", "form"},
      {"given tomorrow", with(valid, {{"given_on", date_in_days(1)}}), "invalid_field", "given_on"},
      {"no given_on", without(valid, "given_on"), "invalid_field", "given_on"},
      {"valid until before given", with(valid, {{"valid_until", date_in_days(-2)}}),
       "invalid_field", "valid_until"},
      {"document reference of 201 characters",
       with(valid, {{"document_reference", std::string(201, 'd')}}), "invalid_field",
       "document_reference"},
      {"unknown key", with(valid, {{"scope", "all"}}), kUnknownKey, "scope"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.what);
    auto refused = scene.cm.post(consents, row.body);
    EXPECT_EQ(refused.status, 400) << refused.body;
    if (!row.code.empty()) {
      EXPECT_EQ(code_of(refused), row.code) << refused.body;
    }
    EXPECT_EQ(field_of(refused), row.field) << refused.body;
    EXPECT_EQ(scene.cm.read(consents), before) << "a refused consent was stored";
  }

  auto granted = scene.cm.post(consents, valid);
  ASSERT_EQ(granted.status, 201) << granted.body;
  json consent = granted.json();
  EXPECT_EQ(consent["id"].get<std::string>().rfind("con_", 0), 0u) << granted.body;
  EXPECT_EQ(consent["person_id"], scene.person_id);
  EXPECT_EQ(consent["recipients"], json({kJobcenter}));
  EXPECT_EQ(consent["purposes"], json({"referral"}));
  EXPECT_EQ(consent["categories"], json({"identity"}));
  EXPECT_EQ(consent["form"], "written");
  EXPECT_EQ(consent["given_on"], date_in_days(-1));
  EXPECT_TRUE(consent["valid_until"].is_null());
  EXPECT_TRUE(consent["revoked_at"].is_null());
  EXPECT_EQ(consent["status"], "valid");

  auto special = scene.cm.post(consents, with(valid, {{"categories", {"health"}},
                                                      {"explicit_special_category", true},
                                                      {"form", "electronic"},
                                                      {"valid_until", date_in_days(30)}}));
  ASSERT_EQ(special.status, 201) << special.body;
  EXPECT_EQ(special.json()["status"], "valid");
  auto lapsed = scene.cm.post(
      consents, with(valid, {{"given_on", "2025-01-10"}, {"valid_until", "2025-06-30"}}));
  ASSERT_EQ(lapsed.status, 201) << lapsed.body;
  EXPECT_EQ(lapsed.json()["status"], "expired");
  json listed = scene.cm.read(consents);
  ASSERT_EQ(listed["items"].size(), 3u);
  EXPECT_THAT(listed["items"], Contains(consent));

  // The supervising coordinator reads, but does not write; other organisations see nothing.
  Api supervisor(host, "co-rheine");
  EXPECT_EQ(supervisor.read(consents), listed);
  auto by_supervisor = supervisor.post(consents, valid);
  EXPECT_EQ(by_supervisor.status, 403) << by_supervisor.body;
  Api greven(host, "cm-greven");
  EXPECT_EQ(greven.get(consents).status, 404);
  EXPECT_EQ(greven.post(consents, valid).status, 404);
  EXPECT_EQ(
      greven.post(consents + "/" + consent["id"].get<std::string>() + "/revoke", json::object())
          .status,
      404);
  EXPECT_EQ(greven.get(scene.base() + "/referrals").status, 404);
  EXPECT_EQ(greven.post(scene.base() + "/referrals", referral_body()).status, 404);
  Api county(host, "co-kreis");  // does not supervise Caritas Rheine
  EXPECT_EQ(county.get(consents).status, 404);
  EXPECT_EQ(scene.cm.read(consents), listed);
  EXPECT_EQ(scene.cm.get("/persons/p_missing/consents").status, 404);
}

// ---- what the partner receives ------------------------------------------------------------------

TEST(ReferralTest, PayloadHoldsOnlyTheCategoriesPassedOn) {
  KimHost host;
  Scene scene(host);
  ASSERT_FALSE(::testing::Test::HasFailure()) << "setup failed";
  const std::string agreement = scene.add_agreement();
  const std::string consent = scene.add_consent();  // identity, contact, language_level
  json person = scene.cm.read("/persons/" + scene.person_id);
  ASSERT_FALSE(person["household"].empty()) << person.dump();
  ASSERT_EQ(person["residence_status"], kResidence);

  // A draft holds no personal data yet: the payload is built when the referral is sent.
  auto draft = scene.refer(referral_body());
  ASSERT_EQ(draft.status, 201) << draft.body;
  EXPECT_TRUE(draft.json()["payload"].is_null()) << draft.body;
  EXPECT_TRUE(scene.referral(draft.json()["id"])["payload"].is_null());

  auto response = scene.refer(
      with(referral_body(), {{"message", "Bitte um Termin zur Beratung"}, {"send", true}}));
  ASSERT_EQ(response.status, 201) << response.body;
  const std::string request_id = response.headers["x-request-id"];
  json referral = response.json();
  const std::string id = referral["id"];
  EXPECT_EQ(id.rfind("ref_", 0), 0u) << id;
  EXPECT_EQ(referral["case_id"], scene.case_id);
  EXPECT_EQ(referral["partner"]["slug"], kJobcenter);
  EXPECT_EQ(referral["partner"]["kind"], "jobcenter");
  EXPECT_EQ(referral["partner"]["legal_domain"], "sgb2");
  EXPECT_FALSE(referral["partner"].value("name", "").empty());
  EXPECT_EQ(referral["service"], kService);
  EXPECT_EQ(referral["purpose"], "referral");
  EXPECT_EQ(as_set(referral["categories"]), (Names{"identity", "language_level"}));
  EXPECT_EQ(referral["status"], "sent");
  EXPECT_EQ(referral["own_case_management"], true) << "SGB II has its own case management";
  EXPECT_EQ(referral["agreement_id"], agreement);
  EXPECT_EQ(referral["consent_ids"], json({consent}));
  EXPECT_EQ(referral["message"], "Bitte um Termin zur Beratung");
  EXPECT_TRUE(referral["outcome"].is_null());
  EXPECT_TRUE(referral["sent_at"].is_string());
  EXPECT_TRUE(referral["closed_at"].is_null());
  EXPECT_TRUE(referral["stopped_reason"].is_null());
  EXPECT_TRUE(referral["created_at"].is_string());

  // The payload: identity and language level, nothing else, although the consent also covers
  // contact and the case records residence, family, health and school.
  json& payload = referral["payload"];
  EXPECT_EQ(payload["referral_id"], id);
  EXPECT_EQ(payload["service"], kService);
  EXPECT_EQ(payload["purpose"], "referral");
  EXPECT_EQ(payload["message"], "Bitte um Termin zur Beratung");
  EXPECT_TRUE(payload["from"].contains("organisation")) << payload.dump();
  EXPECT_TRUE(payload["from"].contains("case_manager")) << payload.dump();
  EXPECT_EQ(as_set(payload["categories"]), (Names{"identity", "language_level"}));
  json& shared = payload["person"];
  EXPECT_EQ(shared["given_names"], person["given_names"]);
  EXPECT_EQ(shared["family_name"], person["family_name"]);
  EXPECT_EQ(shared["date_of_birth"], person["date_of_birth"]);
  EXPECT_EQ(shared["languages"], json({"ar", "de"}));
  const Names allowed = {"given_names",   "family_name", "date_of_birth", "gender",
                         "nationalities", "languages",   "assessment"};
  for (const auto& [key, value] : shared.items()) {
    EXPECT_TRUE(allowed.count(key)) << "passed on without permission: " << key;
  }
  for (const char* key :
       {"residence_status", "arrival_date", "household", "town", "contact", "id", "organisation"}) {
    EXPECT_FALSE(shared.contains(key)) << key << " was passed on: " << shared.dump();
  }
  ASSERT_TRUE(shared.contains("assessment")) << shared.dump();
  ASSERT_EQ(shared["assessment"].size(), 1u) << shared["assessment"].dump();
  EXPECT_EQ(shared["assessment"]["language"]["need_level"], "high");
  EXPECT_EQ(shared["assessment"]["language"]["summary"], kLanguageSummary);

  // What the case manager reads back is the same; no recorded field outside the categories
  // appears anywhere in it.
  json read = scene.referral(id);
  EXPECT_EQ(read["payload"], payload);
  for (const std::string& text : {response.body, read.dump()}) {
    for (const char* secret : {kHealthSummary, kResidenceSummary, kFamilySummary, kSchoolSummary,
                               kArrival, kResidence}) {
      EXPECT_THAT(text, Not(HasSubstr(secret)));
    }
  }
  json listed = scene.cm.read(scene.base() + "/referrals");
  ASSERT_EQ(listed["items"].size(), 2u);  // the draft and the sent one
  EXPECT_EQ(listed["items"][1]["id"], id);
  for (const auto& item : listed["items"])
    EXPECT_FALSE(item.contains("payload")) << "lists carry no payload";

  // Contact, when asked for and consented to, adds the town; still nothing else.
  json with_contact =
      scene.create_referral(with(referral_body({"identity", "contact"}), {{"send", true}}));
  json& contact_person = with_contact["payload"]["person"];
  EXPECT_EQ(contact_person["town"], "Rheine");
  EXPECT_FALSE(contact_person.contains("languages")) << contact_person.dump();
  EXPECT_FALSE(contact_person.contains("assessment")) << contact_person.dump();
  EXPECT_FALSE(contact_person.contains("residence_status")) << contact_person.dump();

  // A partner without its own case management is not marked as one.
  json centres = scene.cm.read("/partners?kind=adult_education_centre&service=integration_course");
  ASSERT_FALSE(centres["items"].empty());
  json centre = centres["items"][0];
  const std::string centre_slug = centre["slug"];
  scene.add_agreement(
      signed_agreement(centre_slug, "integration_course", {"identity", "language_level"}));
  scene.add_consent(consent_body({"identity", "language_level"}, centre_slug));
  json course = scene.create_referral({{"partner", centre_slug},
                                       {"service", "integration_course"},
                                       {"categories", {"identity", "language_level"}},
                                       {"send", true}});
  EXPECT_EQ(course["status"], "sent");
  EXPECT_TRUE(course["sent_at"].is_string());
  EXPECT_EQ(course["own_case_management"], centre["legal_domain"] == "sgb2" ||
                                               centre["legal_domain"] == "sgb3" ||
                                               centre["legal_domain"] == "sgb8");
  EXPECT_EQ(scene.cm.read(scene.base() + "/referrals")["items"].size(), 4u);

  // Each category alone carries exactly its fields (README, referrals): to the employment agency,
  // whose agreement and the person's consents cover every category.
  const std::string agency = "agentur-fuer-arbeit-rheine";
  const json every_category = {"identity",       "contact",        "residence_status",
                               "education_work", "language_level", "health",
                               "family"};
  scene.add_agreement(signed_agreement(agency, "sgb3_placement", every_category));
  scene.add_consent(consent_body(
      {"identity", "contact", "residence_status", "education_work", "language_level", "family"},
      agency));
  scene.add_consent(with(consent_body({"health"}, agency), {{"explicit_special_category", true}}));
  struct Minimised {
    std::string category;
    Names fields;      // besides "assessment" (and "contact", passed only if recorded)
    Names assessment;  // life domains under person.assessment
  };
  const std::vector<Minimised> categories = {
      {"identity", {"given_names", "family_name", "date_of_birth", "gender", "nationalities"}, {}},
      {"contact", {"town"}, {}},
      {"residence_status", {"residence_status", "arrival_date"}, {}},
      {"language_level", {"languages"}, {"language"}},
      {"education_work", {}, {"school_education"}},
      {"health", {}, {"health"}},
      {"family", {"household"}, {"family_childcare"}},
  };
  for (const auto& expected : categories) {
    SCOPED_TRACE(expected.category);
    json single = scene.create_referral({{"partner", agency},
                                         {"service", "sgb3_placement"},
                                         {"categories", {expected.category}},
                                         {"send", true}});
    json& passed = single["payload"]["person"];
    Names fields;
    for (auto& [key, value] : passed.items()) {
      if (key != "assessment" && !(key == "contact" && expected.category == "contact")) {
        fields.insert(key);
      }
    }
    EXPECT_EQ(fields, expected.fields) << passed.dump();
    Names domains;
    if (passed.contains("assessment")) {
      for (auto& [key, value] : passed["assessment"].items())
        domains.insert(key);
    }
    EXPECT_EQ(domains, expected.assessment) << passed.dump();
    if (expected.category != "health") {
      EXPECT_THAT(single.dump(), Not(HasSubstr(kHealthSummary)));
    }
  }

  // Other organisations see nothing of it.
  Api greven(host, "cm-greven");
  EXPECT_EQ(greven.get(scene.base() + "/referrals/" + id).status, 404);
  EXPECT_EQ(greven.post(scene.base() + "/referrals/" + id + "/status", {{"status", "sent"}}).status,
            404);
  EXPECT_EQ(scene.referral(id), read);

  // Audited: the creation and the read, with the case.
  auto trail =
      host.client().get("/api/v1/audit?limit=1000&case_id=" + scene.case_id, host.token("auditor"));
  ASSERT_EQ(trail.status, 200) << trail.body;
  bool created_entry = false;
  bool read_entry = false;
  for (json items = trail.json()["items"]; auto& entry : items) {
    if (entry["object_type"] != "referral" || entry["object_id"] != id) continue;
    EXPECT_EQ(entry["case_id"], scene.case_id);
    if (entry["action"] == "create") {
      created_entry = true;
      EXPECT_EQ(entry["request_id"], request_id);
      EXPECT_EQ(entry["user_name"], "cm-rheine-1");
    }
    if (entry["action"] == "read") read_entry = true;
  }
  EXPECT_TRUE(created_entry) << trail.body;
  EXPECT_TRUE(read_entry) << trail.body;
  auto users = host.client().get("/api/v1/users", host.token("admin"));
  ASSERT_EQ(users.status, 200);
  std::int64_t cm_id = 0;
  for (json items = users.json()["items"]; auto& user : items) {
    if (user["name"] == "cm-rheine-1") cm_id = user["id"];
  }
  auto by_user = host.client().get("/api/v1/audit?limit=1000&user_id=" + std::to_string(cm_id),
                                   host.token("auditor"));
  ASSERT_EQ(by_user.status, 200) << by_user.body;
  bool consent_entry = false;
  for (json items = by_user.json()["items"]; auto& entry : items) {
    if (entry["object_type"] == "consent" && entry["object_id"] == consent &&
        entry["action"] == "create") {
      consent_entry = true;
    }
  }
  EXPECT_TRUE(consent_entry) << by_user.body;
}

// ---- status, timeline, revocation ---------------------------------------------------------------

TEST(ReferralTest, StatusFlowBringsThePartnersFeedbackIntoTheTimeline) {
  KimHost host;
  Scene scene(host);
  ASSERT_FALSE(::testing::Test::HasFailure()) << "setup failed";
  const std::string agreement = scene.add_agreement();
  scene.add_consent();
  const std::string partner_name =
      scene.cm.read(std::string("/partners/") + kJobcenter)["name"].get<std::string>();
  const std::string id = scene.create_referral_id();
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(scene.referral_notes().empty()) << "a draft is not yet in the timeline";

  auto refused_move = [&](const json& body, const Names& allowed) {
    SCOPED_TRACE(body.dump());
    json referral = scene.referral(id);
    const CaseState before = scene.state();
    auto refused = scene.move(id, body);
    json error = scene.expect_refused(refused, 409, "transition_not_allowed", before);
    EXPECT_EQ(as_set(error["details"]["allowed"]), allowed) << refused.body;
    EXPECT_EQ(scene.referral(id), referral);
  };
  refused_move({{"status", "completed"}, {"outcome", "Zu früh"}}, {"sent", "cancelled"});
  refused_move({{"status", "accepted"}}, {"sent", "cancelled"});
  {
    const CaseState before = scene.state();
    auto unknown = scene.move(id, {{"status", "archived"}});
    scene.expect_refused(unknown, 400, "invalid_field", before);
    EXPECT_EQ(field_of(unknown), "status");
  }

  struct Step {
    std::string status;
    std::string outcome;
  };
  const std::vector<Step> steps = {
      {"sent", ""},
      {"accepted", "Termin beim Jobcenter am 03.12."},
      {"in_progress", ""},
      {"completed", "Eingliederungsvereinbarung geschlossen, Sprachkurs ab Januar OC-3301"}};
  std::size_t notes = 0;
  for (const auto& step : steps) {
    SCOPED_TRACE(step.status);
    json body = {{"status", step.status}, {"occurred_on", date_in_days(0)}};
    if (!step.outcome.empty()) body["outcome"] = step.outcome;
    auto moved = scene.move(id, body);
    ASSERT_EQ(moved.status, 200) << moved.body;
    EXPECT_EQ(moved.json()["status"], step.status);
    EXPECT_EQ(scene.referral(id)["status"], step.status);
    const auto timeline = scene.referral_notes();
    ASSERT_EQ(timeline.size(), ++notes) << "every change after draft adds a note";
    const std::string text = timeline.back()["text"];
    EXPECT_THAT(text, HasSubstr(partner_name));
    EXPECT_THAT(text, HasSubstr(step.status));
    if (!step.outcome.empty()) {
      EXPECT_THAT(text, HasSubstr(step.outcome));
    }
    // The same step as data, for a client that words it in its own language.
    const json& event = timeline.back()["event"];
    EXPECT_EQ(event["type"], "referral_status");
    EXPECT_EQ(event["referral_id"], id);
    EXPECT_EQ(event["partner"], partner_name);
    EXPECT_EQ(event["status"], step.status);
    EXPECT_EQ(event.value("detail", ""), step.outcome);
  }
  json completed = scene.referral(id);
  EXPECT_EQ(completed["outcome"], steps.back().outcome);
  EXPECT_TRUE(completed["sent_at"].is_string());
  EXPECT_TRUE(completed["closed_at"].is_string());
  refused_move({{"status", "cancelled"}}, {});
  refused_move({{"status", "in_progress"}}, {});

  // Declined by the partner: final as well.
  const std::string declined = scene.create_referral_id(with(referral_body(), {{"send", true}}));
  ASSERT_FALSE(declined.empty());
  EXPECT_EQ(scene.referral(declined)["status"], "sent");
  auto refusal =
      scene.move(declined, {{"status", "declined"}, {"outcome", "Kein SGB-II-Anspruch"}});
  ASSERT_EQ(refusal.status, 200) << refusal.body;
  EXPECT_EQ(refusal.json()["outcome"], "Kein SGB-II-Anspruch");
  EXPECT_THAT(scene.referral_notes().back()["text"].get<std::string>(),
              HasSubstr("Kein SGB-II-Anspruch"));
  {
    const CaseState before = scene.state();
    auto again = scene.move(declined, {{"status", "accepted"}});
    json error = scene.expect_refused(again, 409, "transition_not_allowed", before);
    EXPECT_TRUE(error["details"]["allowed"].empty()) << again.body;
  }

  // Sending a draft re-runs the checks: after the agreement ended it stays a draft.
  const std::string pending = scene.create_referral_id();
  ASSERT_FALSE(pending.empty());
  scene.set_agreement(agreement, {{"status", "terminated"}, {"terminated_on", date_in_days(0)}});
  {
    json draft = scene.referral(pending);
    const CaseState before = scene.state();
    scene.expect_refused(scene.move(pending, {{"status", "sent"}}), 422, "agreement_expired",
                         before);
    EXPECT_EQ(scene.referral(pending), draft);
    EXPECT_EQ(draft["status"], "draft");
  }
  auto cancelled = scene.move(pending, {{"status", "cancelled"}});
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(cancelled.json()["status"], "cancelled");
  EXPECT_TRUE(cancelled.json()["stopped_reason"].is_null());

  // The supervisor reads the referrals of the case; a case manager of another organisation not.
  Api supervisor(host, "co-rheine");
  EXPECT_EQ(supervisor.read(scene.base() + "/referrals")["items"].size(), 3u);
  EXPECT_EQ(Api(host, "cm-greven").get(scene.base() + "/referrals").status, 404);

  // The declined and the cancelled referral are gaps; with the default of 14 days nobody has
  // waited too long yet.
  json gaps = scene.co.read("/reports/referral-gaps");
  EXPECT_EQ(gaps["max_wait_days"], 14);
  bool found = false;
  for (auto& item : gaps["items"]) {
    if (item["partner_kind"] != "jobcenter" || item["service"] != kService) continue;
    found = true;
    EXPECT_EQ(item["town"], "Rheine");
    // One of each: small cells are suppressed.
    EXPECT_EQ(item["declined"], "<5") << gaps.dump();
    EXPECT_EQ(item["cancelled"], "<5") << gaps.dump();
    EXPECT_EQ(item["waiting_too_long"], 0) << gaps.dump();
  }
  EXPECT_TRUE(found) << gaps.dump();
}

TEST(ReferralTest, RevokingConsentStopsPendingReferralsAtOnce) {
  KimHost host;
  Scene scene(host);
  ASSERT_FALSE(::testing::Test::HasFailure()) << "setup failed";
  scene.add_agreement();
  const std::string consent = scene.add_consent();
  const std::string consents = "/persons/" + scene.person_id + "/consents";

  const std::string sent = scene.create_referral_id(with(referral_body(), {{"send", true}}));
  const std::string draft = scene.create_referral_id();
  const std::string done = scene.create_referral_id(with(referral_body(), {{"send", true}}));
  for (const char* status : {"accepted", "in_progress", "completed"}) {
    ASSERT_EQ(scene.move(done, {{"status", status}}).status, 200) << status;
  }
  const std::string accepted = scene.create_referral_id(with(referral_body(), {{"send", true}}));
  ASSERT_EQ(scene.move(accepted, {{"status", "accepted"}}).status, 200);
  json completed = scene.referral(done);
  const std::size_t notes_before = scene.referral_notes().size();

  // Only the case manager's side may revoke.
  json listed = scene.cm.read(consents);
  const std::string revoke = consents + "/" + consent + "/revoke";
  EXPECT_EQ(Api(host, "co-rheine").post(revoke, json::object()).status, 403);
  EXPECT_EQ(Api(host, "cm-greven").post(revoke, json::object()).status, 404);
  EXPECT_EQ(scene.cm.post(consents + "/con_missing/revoke", json::object()).status, 404);
  EXPECT_EQ(scene.cm.read(consents), listed);
  EXPECT_EQ(scene.referral(sent)["status"], "sent");

  auto revoked = scene.cm.post(revoke, {{"reason", "Widerruf per Telefon"}});
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(revoked.json()["consent"]["id"], consent);
  EXPECT_EQ(revoked.json()["consent"]["status"], "revoked");
  EXPECT_TRUE(revoked.json()["consent"]["revoked_at"].is_string());
  EXPECT_EQ(as_set(revoked.json()["stopped_referrals"]), (Names{sent, draft, accepted}));

  for (const auto& stopped : {sent, draft, accepted}) {
    SCOPED_TRACE(stopped);
    json referral = scene.referral(stopped);
    EXPECT_EQ(referral["status"], "cancelled");
    EXPECT_EQ(referral["stopped_reason"], "consent_revoked");
  }
  EXPECT_EQ(scene.referral(done), completed) << "a completed referral stays as it was";
  EXPECT_EQ(scene.referral_notes().size(), notes_before + 3) << "each stop is in the timeline";
  // As data: a code a client words in its language, not the English sentence of the text.
  const json last = scene.referral_notes().back()["event"];
  EXPECT_EQ(last["status"], "cancelled");
  EXPECT_EQ(last["reason"], "consent_revoked");
  EXPECT_FALSE(last.contains("detail")) << last.dump();
  json stored = scene.cm.read(consents);
  ASSERT_EQ(stored["items"].size(), 1u);
  EXPECT_EQ(stored["items"][0]["status"], "revoked");

  // Stopped means stopped: no way back, and no new referral on the revoked consent.
  CaseState before = scene.state();
  auto resent = scene.move(sent, {{"status", "sent"}});
  scene.expect_refused(resent, 409, "transition_not_allowed", before);
  scene.expect_refused(scene.refer(), 422, "consent_revoked", before);
  scene.expect_refused(scene.refer(referral_body({"identity"})), 422, "consent_revoked", before);

  auto twice = scene.cm.post(revoke, json::object());
  EXPECT_EQ(twice.status, 409) << twice.body;
  EXPECT_EQ(code_of(twice), "already_revoked");
  EXPECT_EQ(scene.cm.read(consents), stored);

  // A new consent makes new referrals possible again; the stopped ones stay stopped.
  const std::string renewed = scene.add_consent();
  json fresh = scene.create_referral();
  EXPECT_EQ(fresh["consent_ids"], json({renewed}));
  EXPECT_EQ(scene.referral(sent)["status"], "cancelled");
}

// ---- gaps in provision --------------------------------------------------------------------------

TEST(ReferralTest, GapsReportAggregatesByPartnerKindServiceAndTownWithoutPersonalData) {
  KimHost host(json::object(), {{"referrals", {{"max_wait_days", 0}}}});
  Scene rheine(host);
  Scene greven(host, "cm-greven", "Greven");
  ASSERT_FALSE(::testing::Test::HasFailure()) << "setup failed";
  rheine.add_agreement();
  rheine.add_consent();
  greven.add_consent();

  // Rheine: one declined, one waiting (sent), one cancelled by the case manager, one stopped by
  // a revoked consent (not a gap), one completed (not a gap).
  const std::string declined = rheine.create_referral_id(with(referral_body(), {{"send", true}}));
  ASSERT_EQ(rheine.move(declined, {{"status", "declined"}, {"outcome", "Kein Anspruch"}}).status,
            200);
  const std::string waiting = rheine.create_referral_id(with(referral_body(), {{"send", true}}));
  const std::string cancelled = rheine.create_referral_id();
  ASSERT_EQ(rheine.move(cancelled, {{"status", "cancelled"}}).status, 200);
  const std::string done = rheine.create_referral_id(with(referral_body(), {{"send", true}}));
  for (const char* status : {"accepted", "in_progress", "completed"}) {
    ASSERT_EQ(rheine.move(done, {{"status", status}}).status, 200) << status;
  }
  // Greven: one declined.
  const std::string greven_declined =
      greven.create_referral_id(with(referral_body(), {{"send", true}}));
  ASSERT_EQ(greven.move(greven_declined, {{"status", "declined"}}).status, 200);
  // A consent revocation elsewhere: its stopped referral is no gap.
  Scene revoked(host, "cm-rheine-2");
  ASSERT_FALSE(revoked.case_id.empty());
  const std::string revoked_consent = revoked.add_consent();
  revoked.create_referral(with(referral_body(), {{"send", true}}));
  auto revocation = revoked.cm.post(
      "/persons/" + revoked.person_id + "/consents/" + revoked_consent + "/revoke", json::object());
  ASSERT_EQ(revocation.status, 200) << revocation.body;

  for (const char* user : {"co-kreis", "admin"}) {
    SCOPED_TRACE(user);
    auto response = host.client().get("/api/v1/reports/referral-gaps", host.token(user));
    ASSERT_EQ(response.status, 200) << response.body;
    json report = response.json();
    EXPECT_EQ(report["max_wait_days"], 0);
    std::map<std::string, json> by_town;
    for (auto& item : report["items"]) {
      EXPECT_EQ(item.size(), 6u) << item.dump();
      if (item["partner_kind"] == "jobcenter" && item["service"] == kService) {
        by_town[item["town"]] = item;
      }
    }
    ASSERT_TRUE(by_town.count("Rheine")) << response.body;
    // Counts of 1-4 would single out participants of a small town: shown as "<5", never 1.
    EXPECT_EQ(by_town["Rheine"]["declined"], "<5") << response.body;
    EXPECT_EQ(by_town["Rheine"]["cancelled"], "<5") << "revocations are no gap: " << response.body;
    EXPECT_EQ(by_town["Rheine"]["waiting_too_long"], "<5") << response.body;
    ASSERT_TRUE(by_town.count("Greven")) << response.body;
    EXPECT_EQ(by_town["Greven"]["declined"], "<5") << response.body;
    EXPECT_NE(by_town["Greven"]["declined"], 1) << response.body;
    EXPECT_EQ(report["suppression"]["shown_as"], "<5") << response.body;
    EXPECT_EQ(by_town["Greven"]["cancelled"], 0) << response.body;
    EXPECT_EQ(by_town["Greven"]["waiting_too_long"], 0) << response.body;

    // No personal data, no ids.
    for (const Scene* scene : {&rheine, &greven, &revoked}) {
      EXPECT_THAT(response.body, Not(HasSubstr(scene->person_id)));
      EXPECT_THAT(response.body, Not(HasSubstr(scene->case_id)));
      EXPECT_THAT(response.body, Not(HasSubstr(scene->person()["family_name"].get<std::string>())));
    }
    for (const auto& id : {declined, waiting, cancelled, done, greven_declined}) {
      EXPECT_THAT(response.body, Not(HasSubstr(id)));
    }
    EXPECT_THAT(response.body, Not(HasSubstr("Leyla")));
    EXPECT_THAT(response.body, Not(HasSubstr("cm-rheine")));
    EXPECT_THAT(response.body, Not(HasSubstr("Kein Anspruch")));
  }

  for (const char* user : {"cm-rheine-1", "cm-greven"}) {
    auto refused = host.client().get("/api/v1/reports/referral-gaps", host.token(user));
    EXPECT_EQ(refused.status, 403) << user << ": " << refused.body;
  }
  auto unknown =
      host.client().get("/api/v1/reports/referral-gaps?person=x", host.token("co-kreis"));
  EXPECT_EQ(unknown.status, 400) << unknown.body;
  EXPECT_EQ(code_of(unknown), "unknown_parameter");
}

// ---- worklist
// -------------------------------------------------------------------------------------

TEST(ReferralTest, WorklistShowsTheReferralsOfReadableCasesOnly) {
  KimHost host(json::object(), {{"referrals", {{"max_wait_days", 0}}}});
  Scene rheine(host);                         // caritas-rheine, supervised by stadt-rheine-ko
  Scene greven(host, "cm-greven", "Greven");  // drk-greven, supervised by ki-kreis-steinfurt
  ASSERT_FALSE(::testing::Test::HasFailure()) << "setup failed";
  rheine.add_agreement();
  rheine.add_consent();
  greven.add_consent();
  const std::string rheine_sent =
      rheine.create_referral_id(with(referral_body(), {{"send", true}}));
  const std::string rheine_draft = rheine.create_referral_id();
  const std::string greven_sent =
      greven.create_referral_id(with(referral_body(), {{"send", true}}));
  ASSERT_EQ(greven.move(greven_sent, {{"status", "accepted"}}).status, 200);

  auto ids = [&](const std::string& user, const std::string& query) {
    std::set<std::string> found;
    auto response = host.client().get("/api/v1/referrals" + query, host.token(user));
    EXPECT_EQ(response.status, 200) << user << query << ": " << response.body;
    if (response.status != 200) return found;
    for (json items = response.json()["items"]; auto& item : items) {
      EXPECT_FALSE(item.contains("payload")) << "the worklist carries no payload";
      found.insert(item["id"].get<std::string>());
    }
    return found;
  };
  // Each sees the referrals of the cases they may read, and only those.
  EXPECT_EQ(ids("cm-rheine-1", ""), (Names{rheine_sent, rheine_draft}));
  EXPECT_EQ(ids("cm-greven", ""), (Names{greven_sent}));
  EXPECT_EQ(ids("co-rheine", ""), (Names{rheine_sent, rheine_draft}));
  EXPECT_EQ(ids("co-kreis", ""), (Names{greven_sent}));
  EXPECT_EQ(ids("cm-rheine-2", ""), Names{});  // colleague without team access
  for (const char* user : {"officer", "auditor", "admin"}) {
    EXPECT_EQ(host.client().get("/api/v1/referrals", host.token(user)).status, 403) << user;
  }

  // Filters: status, partner, waiting for an answer (max_wait_days 0: anything sent before now).
  EXPECT_EQ(ids("cm-rheine-1", "?status=draft"), (Names{rheine_draft}));
  EXPECT_EQ(ids("cm-rheine-1", "?waiting=true"), (Names{rheine_sent}));
  EXPECT_EQ(ids("co-kreis", "?waiting=true&status=accepted"), (Names{greven_sent}));
  EXPECT_EQ(ids("cm-rheine-1", "?partner=agentur-fuer-arbeit-rheine"), Names{});
  EXPECT_EQ(ids("cm-rheine-1", std::string("?partner=") + kJobcenter),
            (Names{rheine_sent, rheine_draft}));

  // Pages of one, following the cursor, give the same set.
  Names paged;
  std::string query = "?limit=1";
  for (int page = 0; page < 5; ++page) {
    auto response = host.client().get("/api/v1/referrals" + query, host.token("cm-rheine-1"));
    ASSERT_EQ(response.status, 200) << response.body;
    json body = response.json();
    ASSERT_LE(body["items"].size(), 1u);
    for (auto& item : body["items"])
      paged.insert(item["id"].get<std::string>());
    if (!body.contains("next_cursor")) break;
    query = "?limit=1&cursor=" + body["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(paged, (Names{rheine_sent, rheine_draft}));

  // Bad query strings: 400 naming the parameter.
  for (const auto& [bad, field] :
       std::vector<std::pair<std::string, std::string>>{{"?status=lost", "status"},
                                                        {"?waiting=yes", "waiting"},
                                                        {"?limit=0", "limit"},
                                                        {"?limit=201", "limit"},
                                                        {"?cursor=-1", "cursor"},
                                                        {"?sort=partner", "sort"}}) {
    auto response = host.client().get("/api/v1/referrals" + bad, host.token("cm-rheine-1"));
    EXPECT_EQ(response.status, 400) << bad << ": " << response.body;
    EXPECT_EQ(field_of(response), field) << bad;
  }

  // Listing is reading: one audit entry per referral shown, with its case.
  auto trail = host.client().get("/api/v1/audit?limit=1000&case_id=" + greven.case_id,
                                 host.token("auditor"));
  ASSERT_EQ(trail.status, 200) << trail.body;
  int listed = 0;
  for (json items = trail.json()["items"]; auto& entry : items) {
    if (entry["object_type"] == "referral" && entry["object_id"] == greven_sent &&
        entry["action"] == "list") {
      ++listed;
    }
  }
  EXPECT_GE(listed, 3) << trail.body;  // cm-greven and co-kreis listed it (more than once)
}

}  // namespace
}  // namespace kim::test
