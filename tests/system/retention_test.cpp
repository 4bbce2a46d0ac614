// Retention and erasure in the real kim (core/retention): the retention job run by
// `kim retention run --as-of` (a moved clock) on the data folder of a running host anonymises a
// closed case past its period — no personal field of its person is left anywhere in the database
// file or its WAL (names, notes, referral message, consent document, outbox payload, the audit
// trail once its own period passed, the naturalisation plugin's table), the counts the
// indicators are built from are unchanged —;
// a person recorded without a case is anonymised after its own period; anonymised persons and
// cases take no change; legal holds stop anonymisation and erasure; erasure requests with review
// (erase, restrict, reject) and their refusals; a restricted person is seen by the auditor only;
// `kim backup` writes a copy without free-page remnants.
#include <sqlite3.h>
#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <iterator>
#include <map>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/sqlite.hpp"
#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/kim_process.hpp"
#include "support/paths.hpp"

namespace kim::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kService = "sgb2_integration_services";
constexpr int kClosedCasesDays = 2192;  // the default: 6 years

std::string file_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The markers found in the database file or its WAL.
std::vector<std::string> found_in_files(const fs::path& database,
                                        const std::vector<std::string>& markers) {
  const std::string bytes = file_bytes(database) + file_bytes(database.string() + "-wal");
  std::vector<std::string> found;
  for (const auto& marker : markers) {
    // Names are kept a second time as a lower-case matching key.
    std::string lower = marker;
    for (char& c : lower)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (bytes.find(marker) != std::string::npos || bytes.find(lower) != std::string::npos) {
      found.push_back(marker);
    }
  }
  return found;
}

// Every audit entry, page by page.
std::vector<json> audit_trail(Api& auditor) {
  std::vector<json> entries;
  std::string cursor;
  for (;;) {
    auto page = auditor.read("/audit?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
    for (const auto& entry : page["items"])
      entries.push_back(entry);
    if (!page.contains("next_cursor") || page["next_cursor"].is_null()) return entries;
    cursor = page["next_cursor"].is_string() ? page["next_cursor"].get<std::string>()
                                             : page["next_cursor"].dump();
  }
}

class RetentionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A jobcenter nobody answers (port 1): its messages stay in the outbox with their payload.
    const json connectors = {{"jobcenter",
                              {{"type", "http"},
                               {"settings", {{"url", "http://127.0.0.1:1/referrals"}}},
                               {"timeout_seconds", 1},
                               {"retry",
                                {{"max_attempts", 1},
                                 {"initial_delay_ms", 40},
                                 {"multiplier", 2},
                                 {"max_delay_ms", 300},
                                 {"jitter", "full"},
                                 {"max_age_hours", 0}}}}}};
    host_ = std::make_unique<KimHost>(json::object(),
                                      json{{"connectors", connectors},
                                           {"plugins",
                                            {{"directories", {KIM_PLUGIN_DIR}},
                                             {"settings",
                                              {{"hello", {{"config", json::object()}}},
                                               {"naturalisation", {{"enabled", true}}}}}}}});
    Api admin(*host_, "admin");
    auto bound = admin.patch(std::string("/partners/") + kJobcenter, {{"connector", "jobcenter"}});
    ASSERT_EQ(bound.status, 200) << bound.body;
    Api co(*host_, "co-kreis");
    auto agreement =
        co.post("/agreements",
                with(agreement_body(kOffice, kJobcenter, kService, {"identity", "language_level"}),
                     {{"status", "signed"}, {"signed_on", "2023-12-15"}}));
    ASSERT_EQ(agreement.status, 201) << agreement.body;
  }
  static void TearDownTestSuite() { host_.reset(); }
  static inline std::unique_ptr<KimHost> host_;

  // `kim retention run` on the host's data folder, as of `days` from today.
  static json run_retention(int days) {
    auto result =
        run_command(KIM_BINARY, {"retention", "run", "--config", host_->config_path(), "--data-dir",
                                 (host_->dir() / "data").string(), "--as-of", date_in_days(days)});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return json::parse(result.out, nullptr, false);
  }

  // A person of caritas-rheine (case manager `user`) with a case; names carry `marker`.
  struct Record {
    std::string person_id, case_id;
  };
  static Record record(const std::string& user, const std::string& marker, int day) {
    Api cm(*host_, user);
    auto person =
        host_->create_person(user, {{"given_names", marker + "given"},
                                    {"family_name", marker + "family"},
                                    {"date_of_birth", "1987-05-" + std::to_string(10 + day)},
                                    {"town", "Rheine"},
                                    {"contact", {{"phone", marker + "phone"}}}});
    if (!person.is_object()) return {};
    auto opened = host_->open_case(user, person["id"]);
    if (!opened.is_object()) return {};
    return {person["id"], opened["id"]};
  }
  // A person of caritas-rheine without a case; names carry `marker`.
  static json record_without_case(const std::string& marker, const std::string& born) {
    return host_->create_person("cm-rheine-1", {{"given_names", marker + "given"},
                                                {"family_name", marker + "family"},
                                                {"date_of_birth", born},
                                                {"town", "Rheine"}});
  }
  static void add_note(const std::string& user, const Record& r, const std::string& text) {
    auto note = Api(*host_, user)
                    .post("/cases/" + r.case_id + "/notes",
                          {{"occurred_on", date_in_days(-1)}, {"kind", "meeting"}, {"text", text}});
    EXPECT_EQ(note.status, 201) << note.body;
  }
  static void close_case(const std::string& user, const Record& r) {
    auto closed = Api(*host_, user)
                      .post("/cases/" + r.case_id + "/transitions",
                            {{"to", "closed"}, {"reason", "goals_reached"}});
    EXPECT_EQ(closed.status, 200) << closed.body;
  }

  // What the indicators count, read through the API by the supervising coordinator: cases by
  // phase, town and the person's year of birth.
  static std::map<std::tuple<std::string, std::string, std::string>, int> counts() {
    Api co(*host_, "co-rheine");
    std::map<std::tuple<std::string, std::string, std::string>, int> by;
    auto cases = co.read("/cases?limit=200");
    for (const auto& c : cases["items"]) {
      auto person = co.read("/persons/" + c["person"]["id"].get<std::string>());
      by[{c["phase"], c["town"], person["date_of_birth"].get<std::string>().substr(0, 4)}]++;
    }
    return by;
  }
  // The indicator report itself (its rows) for the last year, as the auditor gets it.
  static json indicator_rows() {
    auto report =
        Api(*host_, "auditor")
            .read("/reports/indicators?from=" + date_in_days(-365) + "&to=" + date_in_days(0));
    return report.is_object() ? report["rows"] : json();
  }
};

TEST_F(RetentionTest, ClosedCasePastItsPeriodIsAnonymisedAndNoPersonalFieldSurvives) {
  const std::string m = "Qzvretm";  // markers: unique, survive normalisation
  const Record gone = record("cm-rheine-1", m + "a", 0);
  const Record kept = record("cm-rheine-1", "Qzvkeep", 1);
  ASSERT_FALSE(gone.case_id.empty());
  ASSERT_FALSE(kept.case_id.empty());
  Api cm(*host_, "cm-rheine-1");
  add_note("cm-rheine-1", gone, m + "note text");
  add_note("cm-rheine-1", kept, "Qzvkeepnote");
  auto consent = cm.post("/persons/" + gone.person_id + "/consents",
                         {{"recipients", {kJobcenter}},
                          {"purposes", {"referral"}},
                          {"categories", {"identity", "language_level"}},
                          {"form", "written"},
                          {"given_on", date_in_days(-3)},
                          {"document_reference", m + "consentdoc"}});
  ASSERT_EQ(consent.status, 201) << consent.body;
  auto referral = cm.post("/cases/" + gone.case_id + "/referrals",
                          {{"partner", kJobcenter},
                           {"service", kService},
                           {"categories", {"identity", "language_level"}},
                           {"message", m + "referral message"}});
  ASSERT_EQ(referral.status, 201) << referral.body;
  auto sent = cm.post("/cases/" + gone.case_id + "/referrals/" +
                          referral.json()["id"].get<std::string>() + "/status",
                      {{"status", "sent"}});
  ASSERT_EQ(sent.status, 200) << sent.body;
  Api officer(*host_, "officer");
  auto application = officer.post("/plugins/naturalisation/applications",
                                  {{"received_on", date_in_days(-2)},
                                   {"external_reference", m + "xeinbuergerung"},
                                   {"case_id", gone.case_id}});
  ASSERT_EQ(application.status, 201) << application.body;
  // A client's request id is kept in the audit trail: it goes when the audit entries do.
  auto tagged =
      host_->client().request("GET", "/api/v1/persons/" + gone.person_id, "",
                              host_->token("cm-rheine-1"), {{"X-Request-Id", m + "auditreq"}});
  ASSERT_EQ(tagged.status, 200) << tagged.body;
  close_case("cm-rheine-1", gone);

  const std::vector<std::string> markers = {m + "agiven", m + "afamily",    m + "aphone",
                                            m + "note",   m + "consentdoc", m + "referral",
                                            m + "xeinbue"};
  // The search sees what is there: every marker before, the kept person's after.
  ASSERT_EQ(found_in_files(host_->database(), markers).size(), markers.size());
  const auto before = counts();
  const json indicators_before = indicator_rows();
  ASSERT_FALSE(indicators_before.empty());

  // One day short of the period: nothing happens.
  auto early = run_retention(kClosedCasesDays - 1);
  EXPECT_EQ(early["cases"], 0) << early.dump();
  EXPECT_EQ(found_in_files(host_->database(), markers).size(), markers.size());

  auto report = run_retention(kClosedCasesDays + 1);
  EXPECT_GE(report["cases"].get<int>(), 1) << report.dump();
  EXPECT_GE(report["persons"].get<int>(), 1) << report.dump();

  EXPECT_EQ(found_in_files(host_->database(), markers), std::vector<std::string>{});
  EXPECT_EQ(found_in_files(host_->database(), {"Qzvkeepgiven", "Qzvkeepnote"}).size(), 2u)
      << "the open case's person must be untouched";
  EXPECT_EQ(counts(), before) << "the indicators' counts changed";
  EXPECT_EQ(indicator_rows(), indicators_before) << "the indicator report changed";

  // Statistical fields stay; personal ones are gone.
  Api co(*host_, "co-rheine");
  auto person = co.read("/persons/" + gone.person_id);
  EXPECT_EQ(person["date_of_birth"], "1987");
  EXPECT_EQ(person["town"], "Rheine");
  EXPECT_EQ(person["given_names"], "");
  auto closed = co.read("/cases/" + gone.case_id);
  EXPECT_EQ(closed["phase"], "closed");
  EXPECT_EQ(closed["closure_reason"], "goals_reached");
  auto app = officer.read("/plugins/naturalisation/applications/" +
                          std::to_string(application.json()["id"].get<int>()));
  EXPECT_TRUE(app["external_reference"].is_null()) << app.dump();
  EXPECT_EQ(app["status"], "received");

  // One audit entry per anonymised object, by the retention job, without personal data.
  Api auditor(*host_, "auditor");
  std::set<std::string> anonymised;
  for (const auto& entry : audit_trail(auditor)) {
    if (entry["action"] == "anonymise") {
      EXPECT_EQ(entry["user_name"], "retention");
      anonymised.insert(entry["object_type"].get<std::string>() + ":" +
                        entry["object_id"].get<std::string>());
    }
  }
  EXPECT_TRUE(anonymised.count("case:" + gone.case_id));
  EXPECT_TRUE(anonymised.count("person:" + gone.person_id));
  EXPECT_TRUE(anonymised.count("consent:" + consent.json()["id"].get<std::string>()));
  EXPECT_TRUE(anonymised.count("referral:" + referral.json()["id"].get<std::string>()));

  // A second run finds nothing more to do.
  auto again = run_retention(kClosedCasesDays + 1);
  EXPECT_EQ(again["cases"], 0) << again.dump();
  EXPECT_EQ(again["persons"], 0) << again.dump();

  // The backup holds no marker either, and only live pages.
  const fs::path out = host_->dir() / "backup.sqlite3";
  auto backup = run_command(KIM_BINARY, {"backup", "--data-dir", (host_->dir() / "data").string(),
                                         "--out", out.string()});
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  struct stat info {};
  ASSERT_EQ(::stat(out.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const std::string copy = file_bytes(out);
  EXPECT_EQ(copy.rfind("SQLite format 3", 0), 0u);
  for (const auto& marker : markers)
    EXPECT_EQ(copy.find(marker), std::string::npos) << marker;
  EXPECT_NE(copy.find("Qzvkeepgiven"), std::string::npos);
  // A backup never overwrites.
  auto twice = run_command(KIM_BINARY, {"backup", "--data-dir", (host_->dir() / "data").string(),
                                        "--out", out.string()});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_EQ(file_bytes(out), copy);

  // Audit entries older than retention.audit_days (10 years) are pruned, the client's request id
  // with them; the trail goes on after the newest kept entry.
  ASSERT_EQ(found_in_files(host_->database(), {m + "auditreq"}).size(), 1u);
  auto pruned = run_retention(3653 + 1);
  EXPECT_GT(pruned["audit_items_pruned"].get<int>(), 0) << pruned.dump();
  EXPECT_EQ(found_in_files(host_->database(), {m + "auditreq"}), std::vector<std::string>{});
  const auto trail = audit_trail(auditor);
  ASSERT_FALSE(trail.empty());
  for (const auto& entry : trail)
    EXPECT_NE(entry["request_id"], m + "auditreq");
}

TEST_F(RetentionTest, LegalHoldStopsAnonymisationAndErasure) {
  const Record held = record("cm-rheine-2", "Qzvhold", 2);
  ASSERT_FALSE(held.case_id.empty());
  add_note("cm-rheine-2", held, "Qzvholdnote");
  close_case("cm-rheine-2", held);
  Api co(*host_, "co-rheine");
  auto hold = co.post("/cases/" + held.case_id + "/legal-holds", {{"reason", "Klage 3 K 12/26"}});
  ASSERT_EQ(hold.status, 201) << hold.body;

  run_retention(kClosedCasesDays + 1);
  EXPECT_EQ(found_in_files(host_->database(), {"Qzvholdgiven", "Qzvholdnote"}).size(), 2u)
      << "a held case was anonymised";

  Api cm(*host_, "cm-rheine-2");
  auto request = cm.post("/persons/" + held.person_id + "/erasure-requests",
                         {{"received_on", date_in_days(0)}});
  ASSERT_EQ(request.status, 201) << request.body;
  const std::string request_id = request.json()["id"];
  auto refused = co.post("/erasure-requests/" + request_id + "/decision",
                         {{"decision", "erase"}, {"reason", "Art. 17"}});
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(code_of(refused), "legal_hold");
  EXPECT_EQ(co.read("/persons/" + held.person_id)["family_name"], "Qzvholdfamily");
  auto pending = co.read("/erasure-requests?status=pending");
  bool still_pending = false;
  for (const auto& item : pending["items"])
    still_pending = still_pending || item["id"] == request_id;
  EXPECT_TRUE(still_pending);

  auto released = co.post("/legal-holds/" + hold.json()["id"].get<std::string>() + "/release",
                          {{"reason", "Verfahren beendet"}});
  ASSERT_EQ(released.status, 200) << released.body;
  auto erased = co.post("/erasure-requests/" + request_id + "/decision",
                        {{"decision", "erase"}, {"reason", "Art. 17, no retention duty"}});
  ASSERT_EQ(erased.status, 200) << erased.body;
  EXPECT_EQ(erased.json()["status"], "erased");
  EXPECT_EQ(co.read("/persons/" + held.person_id)["family_name"], "");
  // Erased in the serving host, and at once: no older version of its pages stays in the WAL.
  EXPECT_EQ(found_in_files(host_->database(), {"Qzvholdgiven", "Qzvholdnote"}),
            std::vector<std::string>{});
  auto twice = co.post("/erasure-requests/" + request_id + "/decision",
                       {{"decision", "reject"}, {"reason", "again"}});
  EXPECT_EQ(twice.status, 409);
}

TEST_F(RetentionTest, ErasureRequestsAreRefusedToWrongRolesAndOtherOrganisations) {
  const Record r = record("cm-rheine-1", "Qzvrefuse", 3);
  ASSERT_FALSE(r.person_id.empty());
  Api auditor(*host_, "auditor");
  const auto before = auditor.read("/erasure-requests");
  const json body = {{"received_on", date_in_days(0)}};
  // Wrong role: 403; another organisation's case manager or another office's coordinator: 404.
  EXPECT_EQ(
      Api(*host_, "officer").post("/persons/" + r.person_id + "/erasure-requests", body).status,
      403);
  EXPECT_EQ(
      Api(*host_, "cm-greven").post("/persons/" + r.person_id + "/erasure-requests", body).status,
      404);
  EXPECT_EQ(
      Api(*host_, "co-kreis").post("/persons/" + r.person_id + "/erasure-requests", body).status,
      404);
  auto future = Api(*host_, "cm-rheine-1")
                    .post("/persons/" + r.person_id + "/erasure-requests",
                          {{"received_on", date_in_days(3)}});
  EXPECT_EQ(future.status, 400);
  EXPECT_EQ(field_of(future), "received_on");
  EXPECT_EQ(auditor.read("/erasure-requests"), before) << "a refused request was recorded";

  auto request =
      Api(*host_, "cm-rheine-1").post("/persons/" + r.person_id + "/erasure-requests", body);
  ASSERT_EQ(request.status, 201) << request.body;
  const json listed = auditor.read("/erasure-requests");
  auto second =
      Api(*host_, "cm-rheine-1").post("/persons/" + r.person_id + "/erasure-requests", body);
  EXPECT_EQ(second.status, 409);
  EXPECT_EQ(code_of(second), "request_pending");
  EXPECT_EQ(auditor.read("/erasure-requests"), listed);
  auto bogus = auditor.get("/erasure-requests?status=forgotten");
  EXPECT_EQ(bogus.status, 400);
  EXPECT_EQ(field_of(bogus), "status");
  const std::string path =
      "/erasure-requests/" + request.json()["id"].get<std::string>() + "/decision";
  // The person's case is open: neither erased nor restricted (nobody could close it then).
  for (const char* decision : {"erase", "restrict"}) {
    auto refused = Api(*host_, "co-rheine")
                       .post(path, {{"decision", decision}, {"reason", "Art. 17 request"}});
    EXPECT_EQ(refused.status, 409) << decision;
    EXPECT_EQ(code_of(refused), "case_open") << decision;
  }
  EXPECT_EQ(auditor.read("/erasure-requests"), listed) << "a refused decision changed the request";
  EXPECT_EQ(Api(*host_, "co-rheine").read("/persons/" + r.person_id)["family_name"],
            "Qzvrefusefamily");
  const json reject = {{"decision", "reject"}, {"reason", "Retention duty of § 50 SGB X"}};
  EXPECT_EQ(Api(*host_, "cm-rheine-1").post(path, reject).status, 403);
  EXPECT_EQ(Api(*host_, "co-kreis").post(path, reject).status, 404);
  EXPECT_EQ(Api(*host_, "co-rheine").post(path, {{"decision", "forget"}, {"reason", "x"}}).status,
            400);
  EXPECT_EQ(Api(*host_, "co-rheine").post(path, {{"decision", "reject"}}).status, 400);
  // Holds: only coordinators who may read the person, and admins.
  EXPECT_EQ(Api(*host_, "cm-rheine-1")
                .post("/persons/" + r.person_id + "/legal-holds", {{"reason", "x"}})
                .status,
            403);
  EXPECT_EQ(Api(*host_, "co-kreis")
                .post("/persons/" + r.person_id + "/legal-holds", {{"reason", "x"}})
                .status,
            404);
  // A hold needs its reason; a released hold is not released twice.
  Api co(*host_, "co-rheine");
  auto unreasoned = co.post("/persons/" + r.person_id + "/legal-holds", json::object());
  EXPECT_EQ(unreasoned.status, 400);
  EXPECT_EQ(field_of(unreasoned), "reason");
  auto hold = co.post("/persons/" + r.person_id + "/legal-holds", {{"reason", "Klage 1 K 1/26"}});
  ASSERT_EQ(hold.status, 201) << hold.body;
  const std::string release = "/legal-holds/" + hold.json()["id"].get<std::string>() + "/release";
  ASSERT_EQ(co.post(release, {{"reason", "Verfahren beendet"}}).status, 200);
  auto twice = co.post(release, {{"reason", "noch einmal"}});
  EXPECT_EQ(twice.status, 409);
  EXPECT_EQ(code_of(twice), "already_released");
  EXPECT_EQ(co.read("/persons/" + r.person_id)["family_name"], "Qzvrefusefamily");
  auto decided = Api(*host_, "co-rheine").post(path, reject);
  ASSERT_EQ(decided.status, 200) << decided.body;
  EXPECT_EQ(decided.json()["status"], "rejected");
  EXPECT_EQ(decided.json()["decision_reason"], "Retention duty of § 50 SGB X");
  EXPECT_EQ(Api(*host_, "co-rheine").read("/persons/" + r.person_id)["family_name"],
            "Qzvrefusefamily");
}

TEST_F(RetentionTest, RestrictedPersonIsSeenByTheAuditorOnly) {
  const Record r = record("cm-rheine-1", "Qzvrestrict", 4);
  ASSERT_FALSE(r.case_id.empty());
  Api cm(*host_, "cm-rheine-1");
  Api co(*host_, "co-rheine");
  auto request =
      cm.post("/persons/" + r.person_id + "/erasure-requests", {{"received_on", date_in_days(0)}});
  ASSERT_EQ(request.status, 201) << request.body;
  close_case("cm-rheine-1", r);
  auto decided =
      co.post("/erasure-requests/" + request.json()["id"].get<std::string>() + "/decision",
              {{"decision", "restrict"}, {"reason", "Aufbewahrungspflicht bis 2030"}});
  ASSERT_EQ(decided.status, 200) << decided.body;
  EXPECT_EQ(decided.json()["status"], "restricted");

  for (const char* user : {"cm-rheine-1", "co-rheine"}) {
    Api api(*host_, user);
    EXPECT_EQ(api.get("/persons/" + r.person_id).status, 404) << user;
    EXPECT_EQ(api.get("/cases/" + r.case_id).status, 404) << user;
    const auto cases = api.read("/cases?limit=200");
    for (const auto& c : cases["items"])
      EXPECT_NE(c["id"], r.case_id) << user;
  }
  EXPECT_EQ(cm.post("/cases/" + r.case_id + "/notes",
                    {{"occurred_on", date_in_days(0)}, {"kind", "meeting"}, {"text", "x"}})
                .status,
            404);
  bool seen = false;
  const auto restricted = Api(*host_, "auditor").read("/restricted-persons");
  for (const auto& person : restricted["items"]) {
    if (person["id"] != r.person_id) continue;
    seen = true;
    EXPECT_EQ(person["family_name"], "Qzvrestrictfamily");
    EXPECT_EQ(person["cases"][0]["id"], r.case_id);
    EXPECT_EQ(person["erasure_requests"][0]["decision_reason"], "Aufbewahrungspflicht bis 2030");
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(co.get("/restricted-persons").status, 403);
}

TEST_F(RetentionTest, PersonWithoutCaseIsAnonymisedAndAnonymisedRecordsTakeNoChange) {
  Api cm(*host_, "cm-rheine-1");
  auto lone = record_without_case("Qzvlone", "1990-02-03");
  ASSERT_TRUE(lone.is_object());
  const std::string lone_id = lone["id"];
  const Record done = record("cm-rheine-1", "Qzvdone", 6);
  ASSERT_FALSE(done.case_id.empty());
  close_case("cm-rheine-1", done);

  // retention.persons_without_case_days (1 year by default), counted from the record.
  auto early = run_retention(364);
  EXPECT_EQ(found_in_files(host_->database(), {"Qzvlonegiven"}).size(), 1u) << early.dump();
  auto due = run_retention(366);
  EXPECT_GE(due["persons"].get<int>(), 1) << due.dump();
  EXPECT_EQ(found_in_files(host_->database(), {"Qzvlonegiven", "Qzvlonefamily"}),
            std::vector<std::string>{});
  EXPECT_EQ(found_in_files(host_->database(), {"Qzvdonegiven"}).size(), 1u)
      << "a person with a case waits for the case's period";
  const json anonymised = cm.read("/persons/" + lone_id);
  EXPECT_EQ(anonymised["family_name"], "");
  EXPECT_EQ(anonymised["date_of_birth"], "1990");

  // An anonymised person takes no change, no case, no consent, no erasure request.
  Api auditor(*host_, "auditor");
  const json requests_before = auditor.read("/erasure-requests");
  auto patched = cm.patch("/persons/" + lone_id, {{"family_name", "Qzvlonenew"}});
  EXPECT_EQ(patched.status, 409) << patched.body;
  EXPECT_EQ(code_of(patched), "anonymised");
  auto opened = cm.post("/cases", {{"person_id", lone_id}});
  EXPECT_EQ(opened.status, 409) << opened.body;
  EXPECT_EQ(code_of(opened), "anonymised");
  auto consent = cm.post("/persons/" + lone_id + "/consents", {{"recipients", {kJobcenter}},
                                                               {"purposes", {"referral"}},
                                                               {"categories", {"identity"}},
                                                               {"form", "written"},
                                                               {"given_on", date_in_days(0)}});
  EXPECT_EQ(consent.status, 409) << consent.body;
  auto erasure =
      cm.post("/persons/" + lone_id + "/erasure-requests", {{"received_on", date_in_days(0)}});
  EXPECT_EQ(erasure.status, 409) << erasure.body;
  EXPECT_EQ(cm.read("/persons/" + lone_id), anonymised) << "an anonymised person changed";
  EXPECT_TRUE(cm.read("/persons/" + lone_id + "/consents")["items"].empty());
  const json all_cases = cm.read("/cases?limit=200");
  for (const auto& c : all_cases["items"])
    EXPECT_NE(c["person"]["id"], lone_id) << "a case was opened for an anonymised person";
  EXPECT_EQ(auditor.read("/erasure-requests"), requests_before);

  // An anonymised case is not reopened, and takes no note; its person takes no change.
  run_retention(kClosedCasesDays + 1);
  const json case_before = cm.read("/cases/" + done.case_id);
  auto reopened = cm.post("/cases/" + done.case_id + "/transitions", {{"to", "assessment"}});
  EXPECT_EQ(reopened.status, 409) << reopened.body;
  EXPECT_EQ(code_of(reopened), "anonymised");
  auto note = cm.post("/cases/" + done.case_id + "/notes",
                      {{"occurred_on", date_in_days(0)}, {"kind", "meeting"}, {"text", "x"}});
  EXPECT_EQ(code_of(note), "anonymised") << note.body;
  EXPECT_EQ(cm.read("/cases/" + done.case_id), case_before) << "an anonymised case changed";
  EXPECT_EQ(code_of(cm.patch("/persons/" + done.person_id, {{"family_name", "Qzvdonenew"}})),
            "anonymised");
}

TEST_F(RetentionTest, NothingIsAnonymisedWhileAPluginHoldingPersonalDataIsAbsent) {
  Api cm(*host_, "cm-rheine-1");
  auto lone = record_without_case("Qzvwait", "1991-03-04");
  ASSERT_TRUE(lone.is_object());
  // The host's config with one more enabled plugin that is nowhere to be found.
  json config = json::parse(file_bytes(host_->config_path()));
  config["plugins"]["settings"]["ghost-plugin"] = {{"enabled", true}};
  const fs::path with_ghost = host_->dir() / "with-ghost.json";
  std::ofstream(with_ghost) << config.dump();
  auto waiting =
      run_command(KIM_BINARY, {"retention", "run", "--config", with_ghost.string(), "--data-dir",
                               (host_->dir() / "data").string(), "--as-of", date_in_days(366)});
  EXPECT_EQ(waiting.exit_code, 1) << waiting.err;
  EXPECT_NE(waiting.err.find("ghost-plugin"), std::string::npos) << waiting.err;
  const json report = json::parse(waiting.out, nullptr, false);
  EXPECT_EQ(report["waiting_for_plugins"], json::array({"ghost-plugin"})) << waiting.out;
  EXPECT_EQ(report["persons"], 0);
  EXPECT_EQ(found_in_files(host_->database(), {"Qzvwaitgiven"}).size(), 1u);
  EXPECT_EQ(cm.read("/persons/" + lone["id"].get<std::string>())["family_name"], "Qzvwaitfamily");
  // With every enabled plugin running, the same run anonymises it.
  auto done = run_retention(366);
  EXPECT_GE(done["persons"].get<int>(), 1) << done.dump();
  EXPECT_EQ(found_in_files(host_->database(), {"Qzvwaitgiven"}), std::vector<std::string>{});
}

TEST_F(RetentionTest, EndedSessionsAndSpentInvitesAreDeleted) {
  auto client = host_->client();
  const std::string user = std::to_string(host_->user_id("cm-greven"));
  auto first =
      client.post("/api/v1/users/" + user + "/invite", json::object(), host_->token("admin"));
  ASSERT_EQ(first.status, 201) << first.body;
  const std::string password = "Herbstlaub-im-Garten-9";
  ASSERT_EQ(client
                .post("/api/v1/invites/" + first.json()["token"].get<std::string>() + "/password",
                      {{"password", password}})
                .status,
            200);
  ASSERT_EQ(client.post("/api/v1/session", {{"name", "cm-greven"}, {"password", password}}).status,
            200);
  auto unused =
      client.post("/api/v1/users/" + std::to_string(host_->user_id("cm-rheine-2")) + "/invite",
                  json::object(), host_->token("admin"));
  ASSERT_EQ(unused.status, 201) << unused.body;
  auto count = [&](const char* table) {
    auto db = store::Connection::open(host_->database(), SQLITE_OPEN_READONLY);
    return db.query(std::string("SELECT count(*) AS n FROM ") + table).at(0)["n"].get<int>();
  };
  ASSERT_GE(count("sessions"), 1);
  ASSERT_GE(count("user_invites"), 2);
  // The next day the session's lifetime (12 h) is over; the unused invite (72 h) is still valid.
  run_retention(1);
  EXPECT_EQ(count("sessions"), 0);
  EXPECT_EQ(count("user_invites"), 1) << "the used invite stays or the valid one went";
  run_retention(4);
  EXPECT_EQ(count("user_invites"), 0);
}

TEST_F(RetentionTest, ServeRunsTheRetentionJobWhenAsked) {
  Api admin(*host_, "admin");
  auto state = [&] {
    const auto jobs = admin.read("/jobs");
    for (const auto& item : jobs["items"])
      if (item["name"] == "host.retention") return item;
    return json();
  };
  const json before = state();
  ASSERT_TRUE(before.is_object()) << "no job host.retention";
  EXPECT_EQ(before["interval_ms"], 1440 * 60 * 1000);
  // Something written since the last checkpoint.
  ASSERT_FALSE(record("cm-greven", "Qzvserve", 5).case_id.empty());
  ASSERT_EQ(admin.post("/jobs/host.retention/run", json::object()).status, 202);
  ASSERT_TRUE(eventually([&] { return state()["runs"] > before["runs"]; }));
  const json after = state();
  EXPECT_EQ(after["failures"], before["failures"]) << after.dump();
  EXPECT_EQ(after["last_error"], "");
}

}  // namespace
}  // namespace kim::test
