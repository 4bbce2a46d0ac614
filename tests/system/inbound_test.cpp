// Partners' reports through the real kim: POST /api/v1/connectors/{instance}/inbound signed with
// HMAC-SHA512 (computed here with OpenSSL, not with kim's code), and acknowledgement files
// collected by the instance's job. The instance "jobcenter" is the real jobcenter plugin over
// the real file_drop transport; every refusal is checked to have changed nothing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/api.hpp"
#include "support/kim_host.hpp"
#include "support/paths.hpp"

namespace kim::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr const char* kKey = "test-key-0123456789abcdef-0123456789abcdef";
constexpr const char* kAgencyKey = "agency-key-fedcba9876543210-fedcba9876543210";
constexpr const char* kAgency = "agentur-fuer-arbeit-rheine";

std::string hmac_hex(const std::string& key, const std::string& text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha512(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &size);
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    static const char* kHex = "0123456789abcdef";
    hex += kHex[mac[i] >> 4];
    hex += kHex[mac[i] & 15];
  }
  return hex;
}

// One raw request on its own connection (for what the client cannot send, e.g. a chunked
// body); the status of the answer.
int raw_status(std::uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  int status = -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    std::string answer;
    char buffer[4096];
    ssize_t n = 0;
    while (answer.find("\r\n") == std::string::npos &&
           (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0)
      answer.append(buffer, static_cast<std::size_t>(n));
    if (answer.rfind("HTTP/1.1 ", 0) == 0) status = std::stoi(answer.substr(9, 3));
  }
  ::close(fd);
  return status;
}

long long unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json agreement_for(const std::string& partner, const std::string& service) {
  return {{"title", "KIM – " + partner},
          {"parties",
           {{{"partner", kOffice}, {"tasks", "KIM"}, {"responsibility_ends", "hand-over"}},
            {{"partner", partner}, {"tasks", "own law"}, {"responsibility_ends", "end"}}}},
          {"handover_rule", "joint first meeting"},
          {"services", {service}},
          {"valid_from", "2024-01-01"},
          {"status", "signed"},
          {"data_terms",
           {{{"partner", partner},
             {"categories", {"identity", "contact"}},
             {"purposes", {"referral"}}}}}};
}

class InboundTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new TempDir();
    const auto key_file = keys_->path() / "jobcenter.key";
    std::ofstream(key_file) << kKey << "\n";
    ::chmod(key_file.c_str(), 0600);
    const auto agency_key_file = keys_->path() / "agency.key";
    std::ofstream(agency_key_file) << kAgencyKey << "\n";
    ::chmod(agency_key_file.c_str(), 0600);
    auto partners = shipped_partners();
    for (auto& partner : partners) {
      if (partner["slug"] == kJobcenter) partner["connector"] = "jobcenter";
      if (partner["slug"] == kAgency) partner["connector"] = "agency";
    }
    json transport = {{"type", "file_drop"},
                      {"settings",
                       {{"outbox_dir", "exchange/jobcenter/outgoing"},
                        {"inbox_dir", "exchange/jobcenter/incoming"}}}};
    json connectors = json::object();
    connectors["jobcenter"] =
        json{{"type", "jobcenter"},
             {"settings", {{"transport", transport}}},
             {"inbound", {{"hmac_key_file", key_file.string()}, {"poll_seconds", 3600}}}};
    // Bound to the agency, with a key of its own.
    connectors["agency"] = json{{"type", "file_drop"},
                                {"settings", {{"outbox_dir", "exchange/agency"}}},
                                {"inbound", {{"hmac_key_file", agency_key_file.string()}}}};
    // A plugin's connector whose reader throws nlohmann's type_error for a bad "count".
    connectors["echo"] = json{{"type", "hello-echo"},
                              {"settings", {{"inbox_dir", "exchange/echo/incoming"}}},
                              {"inbound", {{"poll_seconds", 3600}}}};
    // No key: no endpoint.
    connectors["plain"] =
        json{{"type", "file_drop"}, {"settings", {{"outbox_dir", "exchange/plain"}}}};
    json plugins = {
        {"directories", {KIM_PLUGIN_DIR}},
        {"settings", {{"hello", {{"config", json::object()}}}, {"jobcenter", json::object()}}}};
    host_ = new KimHost(json::object(),
                        {{"partners", partners}, {"connectors", connectors}, {"plugins", plugins}});
    Api coordinator(*host_, "co-kreis");
    Api cm(*host_, "cm-rheine-1");
    ASSERT_EQ(
        coordinator.post("/agreements", agreement_for(kJobcenter, "sgb2_integration_services"))
            .status,
        201);
    ASSERT_EQ(coordinator.post("/agreements", agreement_for(kAgency, "sgb3_placement")).status,
              201);
    auto person = host_->create_person("cm-rheine-1");
    case_id_ = new std::string(host_->open_case("cm-rheine-1", person["id"])["id"]);
    auto consent = cm.post("/persons/" + person["id"].get<std::string>() + "/consents",
                           {{"recipients", {kJobcenter, kAgency}},
                            {"purposes", {"referral"}},
                            {"categories", {"identity", "contact"}},
                            {"form", "electronic"},
                            {"given_on", date_in_days(0)}});
    ASSERT_EQ(consent.status, 201) << consent.body;
  }
  static void TearDownTestSuite() {
    delete host_;
    delete keys_;
    delete case_id_;
  }

  // A referral sent now to `partner`; its id.
  std::string send_referral(const std::string& partner = kJobcenter) {
    Api cm(*host_, "cm-rheine-1");
    auto created = cm.post(
        "/cases/" + *case_id_ + "/referrals",
        {{"partner", partner},
         {"service", partner == kJobcenter ? "sgb2_integration_services" : "sgb3_placement"},
         {"categories", {"identity"}},
         {"send", true}});
    EXPECT_EQ(created.status, 201) << created.body;
    return created.json().value("id", "");
  }

  HttpResult post_signed(const std::string& instance, const std::string& body,
                         long long timestamp = 0, const std::string& key = kKey) {
    const auto stamp = std::to_string(timestamp ? timestamp : unix_now());
    return host_->client().request(
        "POST", "/api/v1/connectors/" + instance + "/inbound", body, {},
        {{"X-Kim-Timestamp", stamp}, {"X-Kim-Signature", hmac_hex(key, stamp + "." + body)}});
  }
  HttpResult report(const std::string& referral_id, const std::string& status,
                    const std::string& id, const std::string& instance = "jobcenter") {
    return post_signed(instance,
                       json{{"id", id}, {"referral_id", referral_id}, {"status", status}}.dump(), 0,
                       instance == "agency" ? kAgencyKey : kKey);
  }

  // Runs the job `name` now and waits (polling its run count) until it has run.
  void run_job(const std::string& name) {
    Api admin(*host_, "admin");
    auto runs = [&] {
      const auto jobs = admin.read("/jobs");
      for (const auto& item : jobs["items"])
        if (item["name"] == name) return item["runs"].get<int>();
      return -1;
    };
    const int before = runs();
    ASSERT_GE(before, 0) << "no job " << name;
    ASSERT_EQ(admin.post("/jobs/" + name + "/run", json::object()).status, 202);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (runs() == before && std::chrono::steady_clock::now() < deadline) {
    }
    ASSERT_GT(runs(), before);
  }

  // What a refused report must leave as it was: the referral, the case's timeline and the
  // changes audited for the case.
  json state_of(const std::string& referral_id) {
    Api cm(*host_, "cm-rheine-1");
    Api auditor(*host_, "auditor");
    auto referral = cm.read("/cases/" + *case_id_ + "/referrals/" + referral_id);
    int changes = 0;
    std::string cursor = "0";
    while (!cursor.empty()) {
      auto page =
          auditor.read("/audit?kind=access&limit=500&case_id=" + *case_id_ + "&cursor=" + cursor);
      for (const auto& item : page["items"])
        changes += item["action"] != "read" && item["action"] != "list";
      cursor = page.value("next_cursor", "");
    }
    return {{"status", referral["status"]},
            {"history", referral["history"].size()},
            {"notes", cm.read("/cases/" + *case_id_ + "/notes")["items"].size()},
            {"changes", changes}};
  }

  static TempDir* keys_;
  static KimHost* host_;
  static std::string* case_id_;
};
TempDir* InboundTest::keys_ = nullptr;
KimHost* InboundTest::host_ = nullptr;
std::string* InboundTest::case_id_ = nullptr;

TEST_F(InboundTest, ASignedReportMovesTheReferralLikeACaseManager) {
  const auto referral_id = send_referral();
  const auto before = state_of(referral_id);
  auto answer = report(referral_id, "accepted", "jc-accept-1");
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer.json()["referral_id"], referral_id);
  EXPECT_EQ(answer.json()["status"], "accepted");

  Api cm(*host_, "cm-rheine-1");
  auto referral = cm.read("/cases/" + *case_id_ + "/referrals/" + referral_id);
  EXPECT_EQ(referral["status"], "accepted");
  EXPECT_EQ(referral["history"].back()["by_user"], "connector:jobcenter");
  auto after = state_of(referral_id);
  EXPECT_EQ(after["notes"], before["notes"].get<int>() + 1);
  EXPECT_EQ(after["changes"], before["changes"].get<int>() + 1);
  auto notes = cm.read("/cases/" + *case_id_ + "/notes")["items"];
  EXPECT_THAT(notes.dump(),
              HasSubstr("Jobcenter Kreis Steinfurt (sgb2_integration_services): accepted"));

  // Replay: the same answer, nothing changed.
  auto again = report(referral_id, "accepted", "jc-accept-1");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json(), answer.json());
  EXPECT_EQ(state_of(referral_id), after);
  // The same id with other content is no repeat: 409, not the first answer, no change.
  auto reused = report(referral_id, "in_progress", "jc-accept-1");
  EXPECT_EQ(reused.status, 409) << reused.body;
  EXPECT_EQ(code_of(reused), "message_id_reused");
  EXPECT_EQ(state_of(referral_id), after);
  const auto other_referral = send_referral();
  const auto other_before = state_of(other_referral);
  after = state_of(referral_id);  // the case gained the other referral's note and change
  auto elsewhere = report(other_referral, "accepted", "jc-accept-1");
  EXPECT_EQ(elsewhere.status, 409) << elsewhere.body;
  EXPECT_EQ(code_of(elsewhere), "message_id_reused");
  EXPECT_EQ(state_of(other_referral), other_before);
  EXPECT_EQ(state_of(referral_id), after);

  // A step the rules do not allow: 409 with the steps a partner may take.
  auto skipped = report(referral_id, "completed", "jc-complete-early");
  EXPECT_EQ(skipped.status, 409) << skipped.body;
  EXPECT_EQ(code_of(skipped), "transition_not_allowed");
  EXPECT_EQ(error_of(skipped)["details"]["allowed"], json({"in_progress"}));
  EXPECT_EQ(state_of(referral_id), after);
  // A status a partner cannot report at all.
  auto cancel = report(referral_id, "cancelled", "jc-cancel");
  EXPECT_EQ(cancel.status, 400) << cancel.body;
  EXPECT_EQ(state_of(referral_id), after);

  ASSERT_EQ(report(referral_id, "in_progress", "jc-start").status, 200);
  auto done = post_signed("jobcenter", json{{"id", "jc-done"},
                                            {"referral_id", referral_id},
                                            {"status", "completed"},
                                            {"outcome", "Eingliederungsvereinbarung geschlossen"}}
                                           .dump());
  ASSERT_EQ(done.status, 200) << done.body;
  referral = cm.read("/cases/" + *case_id_ + "/referrals/" + referral_id);
  EXPECT_EQ(referral["status"], "completed");
  EXPECT_EQ(referral["outcome"], "Eingliederungsvereinbarung geschlossen");
}

TEST_F(InboundTest, BadSignaturesAndTimestampsAreRefusedAndChangeNothing) {
  const auto referral_id = send_referral();
  const auto before = state_of(referral_id);
  const auto body =
      json{{"id", "jc-x"}, {"referral_id", referral_id}, {"status", "accepted"}}.dump();
  const auto path = "/api/v1/connectors/jobcenter/inbound";
  auto client = host_->client();

  auto wrong_key = post_signed("jobcenter", body, 0, "another key");
  EXPECT_EQ(wrong_key.status, 401);
  EXPECT_EQ(code_of(wrong_key), "bad_signature");
  // Signed, then changed on the way.
  const auto stamp = std::to_string(unix_now());
  auto tampered = client.request(
      "POST", path, body, {},
      {{"X-Kim-Timestamp", stamp}, {"X-Kim-Signature", hmac_hex(kKey, stamp + "." + body + " ")}});
  EXPECT_EQ(code_of(tampered), "bad_signature");
  auto old = post_signed("jobcenter", body, unix_now() - 301);
  EXPECT_EQ(old.status, 401);
  EXPECT_EQ(code_of(old), "stale_timestamp");
  auto future = post_signed("jobcenter", body, unix_now() + 301);
  EXPECT_EQ(code_of(future), "stale_timestamp");
  auto no_headers = client.request("POST", path, body);
  EXPECT_EQ(no_headers.status, 401);
  EXPECT_EQ(code_of(no_headers), "signature_required");
  auto no_signature = client.request("POST", path, body, {}, {{"X-Kim-Timestamp", stamp}});
  EXPECT_EQ(code_of(no_signature), "signature_required");
  auto not_a_number = client.request(
      "POST", path, body, {},
      {{"X-Kim-Timestamp", "soon"}, {"X-Kim-Signature", hmac_hex(kKey, "soon." + body)}});
  EXPECT_EQ(code_of(not_a_number), "stale_timestamp");
  // A bearer token does not replace the signature.
  auto with_token = client.request("POST", path, body, host_->token("admin"));
  EXPECT_EQ(with_token.status, 401);

  EXPECT_EQ(state_of(referral_id), before);
  // The bad signatures are security entries of the instance's user.
  Api auditor(*host_, "auditor");
  auto security = auditor.read("/audit?kind=security&limit=500")["items"];
  int entries = 0;
  for (const auto& item : security)
    entries += item["user_name"] == "connector:jobcenter" && item["object_id"] == "jobcenter";
  EXPECT_GE(entries, 2);
  // The report itself, signed correctly, still applies (the refused ones left no trace).
  EXPECT_EQ(post_signed("jobcenter", body).status, 200);
}

TEST_F(InboundTest, UnknownInstancesAndInstancesWithoutKeyLookLikeABadSignature) {
  const auto referral_id = send_referral();
  const auto agency_referral = send_referral(kAgency);
  const auto before = state_of(referral_id);
  const auto agency_before = state_of(agency_referral);

  // Nothing tells which instances exist: without headers all answer signature_required, with
  // them an unknown or keyless instance answers like a known one given a wrong signature.
  auto client = host_->client();
  for (const std::string instance : {"jobcenter", "nowhere", "plain"}) {
    auto bare = client.request("POST", "/api/v1/connectors/" + instance + "/inbound", "{}");
    EXPECT_EQ(bare.status, 401) << instance;
    EXPECT_EQ(code_of(bare), "signature_required") << instance;
  }
  auto wrong = post_signed(
      "jobcenter", json{{"id", "u-0"}, {"referral_id", referral_id}, {"status", "accepted"}}.dump(),
      0, "not the key");
  EXPECT_EQ(wrong.status, 401);
  auto unknown = report(referral_id, "accepted", "u-1", "nowhere");
  EXPECT_EQ(unknown.status, 401) << unknown.body;
  EXPECT_EQ(unknown.json(), wrong.json());
  EXPECT_EQ(unknown.headers["www-authenticate"], "KIM-HMAC-SHA512");
  auto keyless = report(referral_id, "accepted", "u-2", "plain");
  EXPECT_EQ(keyless.status, 401) << keyless.body;
  EXPECT_EQ(keyless.json(), wrong.json());
  // The agency's endpoint takes the agency's key only.
  auto jobcenter_key = post_signed(
      "agency",
      json{{"id", "u-6"}, {"referral_id", agency_referral}, {"status", "accepted"}}.dump());
  EXPECT_EQ(jobcenter_key.status, 401) << jobcenter_key.body;
  EXPECT_EQ(code_of(jobcenter_key), "bad_signature");
  auto no_referral = report("ref_does_not_exist", "accepted", "u-3");
  EXPECT_EQ(no_referral.status, 404) << no_referral.body;
  // The agency's referral through the jobcenter's instance, and the reverse.
  auto foreign = report(agency_referral, "accepted", "u-4");
  EXPECT_EQ(foreign.status, 404) << foreign.body;
  auto reverse = report(referral_id, "accepted", "u-5", "agency");
  EXPECT_EQ(reverse.status, 404) << reverse.body;
  EXPECT_EQ(code_of(reverse), code_of(no_referral));

  EXPECT_EQ(state_of(referral_id), before);
  EXPECT_EQ(state_of(agency_referral), agency_before);
  // The agency may report on its own.
  EXPECT_EQ(report(agency_referral, "declined", "a-1", "agency").status, 200);
}

TEST_F(InboundTest, UnreadableReportsAreRefused) {
  const auto referral_id = send_referral();
  const auto before = state_of(referral_id);
  EXPECT_EQ(post_signed("jobcenter", "{not json").status, 400);
  EXPECT_EQ(post_signed("jobcenter", R"({"referral_id": "x"})").status, 400);
  auto unknown_event = post_signed("jobcenter", json{{"format", "kim.jobcenter.feedback"},
                                                     {"format_version", 1},
                                                     {"feedback_id", "f"},
                                                     {"referral_id", referral_id},
                                                     {"event", "lost"}}
                                                    .dump());
  EXPECT_EQ(unknown_event.status, 400);
  EXPECT_EQ(code_of(unknown_event), "invalid_report");
  auto large = post_signed("jobcenter", std::string(70 * 1024, ' ') + "{}");
  EXPECT_EQ(large.status, 413);
  EXPECT_EQ(state_of(referral_id), before);
}

// The 64 KiB limit is decided before the body is read: a chunked body has no length to judge,
// so a report must come with a Content-Length.
TEST_F(InboundTest, AReportWithoutContentLengthIsRefusedBeforeItsBody) {
  const auto referral_id = send_referral();
  const auto before = state_of(referral_id);
  const auto body =
      json{{"id", "jc-chunked"}, {"referral_id", referral_id}, {"status", "accepted"}}.dump();
  const auto stamp = std::to_string(unix_now());
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  for (const std::string path :
       {"/api/v1/connectors/jobcenter/inbound", "/api/v1/connectors/jobcenter/inbound/"}) {
    EXPECT_EQ(raw_status(host_->port(),
                         "POST " + path +
                             " HTTP/1.1\r\nHost: kim\r\nConnection: close\r\n"
                             "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                             "X-Kim-Timestamp: " +
                             stamp + "\r\nX-Kim-Signature: " + hmac_hex(kKey, stamp + "." + body) +
                             "\r\n\r\n" + size + "\r\n" + body + "\r\n0\r\n\r\n"),
              411)
        << path;
  }
  EXPECT_EQ(state_of(referral_id), before);
  // The same report with its length applies.
  EXPECT_EQ(post_signed("jobcenter", body).status, 200);
}

// One document a plugin's reader cannot read (nlohmann's type_error here) is rejected with its
// reason; the run goes on with the next file, and no later run is blocked by it.
TEST_F(InboundTest, ADocumentAPluginCannotReadIsRejectedAndTheRunGoesOn) {
  const auto referral_id = send_referral();
  const auto before = state_of(referral_id);
  const auto inbox = host_->dir() / "data" / "exchange" / "echo" / "incoming";
  std::ofstream(inbox / "001-careless.json") << json{
      {"count", "many"},
      {"id", "e-1"},
      {"referral_id", referral_id},
      {"status", "accepted"}}.dump();
  std::ofstream(inbox / "002-unknown.json")
      << json{{"id", "e-2"}, {"referral_id", "ref_does_not_exist"}, {"status", "accepted"}}.dump();
  run_job("connectors.echo.inbound");
  EXPECT_TRUE(fs::exists(inbox / "rejected" / "001-careless.json"));
  EXPECT_THAT(read_file(inbox / "rejected" / "001-careless.json.reason"),
              HasSubstr("invalid_report"));
  EXPECT_THAT(read_file(inbox / "rejected" / "001-careless.json.reason"), HasSubstr("type_error"));
  EXPECT_TRUE(fs::exists(inbox / "rejected" / "002-unknown.json"));
  EXPECT_THAT(read_file(inbox / "rejected" / "002-unknown.json.reason"), HasSubstr("not_found"));
  EXPECT_FALSE(fs::exists(inbox / "001-careless.json"));
  EXPECT_EQ(state_of(referral_id), before);
}

TEST_F(InboundTest, AcknowledgementFilesAreCollectedByTheInstancesJob) {
  const auto received = send_referral();
  const auto declined = send_referral();
  const auto before = state_of(declined);
  const auto inbox = host_->dir() / "data" / "exchange" / "jobcenter" / "incoming";
  auto feedback = [](const std::string& id, const std::string& referral, const std::string& event) {
    return json{{"format", "kim.jobcenter.feedback"},
                {"format_version", 1},
                {"feedback_id", id},
                {"referral_id", referral},
                {"event", event}}
        .dump();
  };
  std::ofstream(inbox / "001-received.json") << feedback("jc-f1", received, "received");
  // Not allowed from "sent": refused, kept in rejected/ with the reason.
  std::ofstream(inbox / "002-started.json") << feedback("jc-f2", declined, "started");
  std::ofstream(inbox / ".003-partial.json") << "{";

  Api admin(*host_, "admin");
  const std::string job = "connectors.jobcenter.inbound";
  auto runs = [&] {
    const auto jobs = admin.read("/jobs");
    for (const auto& item : jobs["items"])
      if (item["name"] == job) return item["runs"].get<int>();
    return -1;
  };
  const int runs_before = runs();
  ASSERT_GE(runs_before, 0) << "no job " << job;
  ASSERT_EQ(admin.post("/jobs/" + job + "/run", json::object()).status, 202);
  // Readiness poll on the job's run count, not a timing assumption.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (runs() == runs_before && std::chrono::steady_clock::now() < deadline) {
  }
  ASSERT_GT(runs(), runs_before);

  Api cm(*host_, "cm-rheine-1");
  EXPECT_EQ(cm.read("/cases/" + *case_id_ + "/referrals/" + received)["status"], "accepted");
  EXPECT_TRUE(fs::exists(inbox / "processed" / "001-received.json"));
  EXPECT_TRUE(fs::exists(inbox / "rejected" / "002-started.json"));
  EXPECT_THAT(read_file(inbox / "rejected" / "002-started.json.reason"),
              HasSubstr("transition_not_allowed"));
  EXPECT_TRUE(fs::exists(inbox / ".003-partial.json"));
  // The refused file changed nothing: the case gained only the applied one's note and change.
  auto expected = before;
  expected["notes"] = before["notes"].get<int>() + 1;
  expected["changes"] = before["changes"].get<int>() + 1;
  EXPECT_EQ(state_of(declined), expected);

  // The same feedback again (a partner's retry): answered as applied, nothing changes.
  const auto after = state_of(received);
  std::ofstream(inbox / "004-received-again.json") << feedback("jc-f1", received, "received");
  const int runs_now = runs();
  ASSERT_EQ(admin.post("/jobs/" + job + "/run", json::object()).status, 202);
  while (runs() == runs_now && std::chrono::steady_clock::now() < deadline) {
  }
  EXPECT_TRUE(fs::exists(inbox / "processed" / "004-received-again.json"));
  EXPECT_EQ(state_of(received), after);
}

// Admission is decided on the router's match: the router ignores empty path segments, so these
// are the inbound route too and get its checks, and a client's X-Kim-Peer names no one. A host
// of its own: its address ends up throttled.
TEST(InboundAdmissionTest, PathVariantsAreAdmittedAsInboundAndAForgedPeerIsIgnored) {
  TempDir keys;
  const auto key_file = keys.path() / "jobcenter.key";
  std::ofstream(key_file) << kKey << "\n";
  ::chmod(key_file.c_str(), 0600);
  json connectors = json::object();
  connectors["jobcenter"] = json{{"type", "file_drop"},
                                 {"settings", {{"outbox_dir", "exchange/jobcenter"}}},
                                 {"inbound", {{"hmac_key_file", key_file.string()}}}};
  KimHost host(
      json::object(),
      {{"connectors", connectors},
       {"server", {{"auth_failures_per_address", 3}, {"auth_failure_window_seconds", 600}}}});
  auto client = host.client();
  const auto body = json{{"id", "v-1"}, {"referral_id", "ref_none"}, {"status", "accepted"}}.dump();
  const std::vector<std::string> variants = {"/api/v1/connectors/jobcenter/inbound/",
                                             "//api/v1/connectors/jobcenter/inbound",
                                             "/api/v1/connectors/jobcenter//inbound"};
  // Pre-body checks: a declared body over 64 KiB is refused before it is read.
  for (const auto& path : variants) {
    const auto stamp = std::to_string(unix_now());
    const std::string large(70 * 1024, ' ');
    auto answer = client.request(
        "POST", path, large, {},
        {{"X-Kim-Timestamp", stamp}, {"X-Kim-Signature", hmac_hex(kKey, stamp + "." + large)}});
    EXPECT_EQ(answer.status, 413) << path << ": " << answer.body;
  }
  // Bad signatures naming another address ("10.0.0.1" in hex): charged to the real peer.
  for (const auto& path : variants) {
    const auto stamp = std::to_string(unix_now());
    auto answer = client.request("POST", path, body, {},
                                 {{"X-Kim-Timestamp", stamp},
                                  {"X-Kim-Signature", hmac_hex("another key", stamp + "." + body)},
                                  {"X-Kim-Peer", "31302e302e302e31"}});
    EXPECT_EQ(answer.status, 401) << path << ": " << answer.body;
    EXPECT_EQ(code_of(answer), "bad_signature");
  }
  // The burst of 3 is used up: even a correctly signed report from this address waits.
  const auto stamp = std::to_string(unix_now());
  auto signed_report = client.request(
      "POST", "/api/v1/connectors/jobcenter/inbound", body, {},
      {{"X-Kim-Timestamp", stamp}, {"X-Kim-Signature", hmac_hex(kKey, stamp + "." + body)}});
  EXPECT_EQ(signed_report.status, 429) << signed_report.body;
  EXPECT_TRUE(signed_report.headers.count("retry-after"));
}

}  // namespace
}  // namespace kim::test
