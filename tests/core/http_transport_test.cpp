// The shipped `http` connector type against a real HTTP server on 127.0.0.1
// (tests/support/partner_server.hpp): the message body and headers, credentials from secret
// files (and the mode check), how each answer is judged, the deadline, and the settings schema.
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "config/json_schema.hpp"
#include "connectors/http_transport.hpp"
#include "connectors/instances.hpp"
#include "support/kim_process.hpp"
#include "support/partner_server.hpp"

namespace kim::connectors {
namespace {

using nlohmann::json;
using Status = sdk::DeliveryResult::Status;
using namespace std::chrono_literals;

class HttpTransportTest : public ::testing::Test {
 protected:
  HttpTransportTest() { register_builtin_types(types_); }

  std::unique_ptr<sdk::Connector> make(json settings, std::chrono::milliseconds timeout = 2s) {
    sdk::ConnectorContext context;
    context.instance = "test";
    context.timeout = timeout;
    auto base = dir_.path();
    context.read_secret = [base](const std::string& path) { return read_secret_file(base / path); };
    return make_connector(types_, "http", std::move(settings), context);
  }
  std::string secret(const std::string& name, const std::string& text, mode_t mode = 0600) {
    std::ofstream(dir_.path() / name) << text << "\n";
    ::chmod((dir_.path() / name).c_str(), mode);
    return name;
  }
  static sdk::OutboundMessage message() {
    return {"msg_1",
            "kim-msg_1",
            "jobcenter",
            "referral.sent",
            "case_1",
            "ref_1",
            "2026-12-02T05:00:00.000Z",
            2,
            json{{"referral_id", "ref_1"}}};
  }

  test::TempDir dir_;
  TypeRegistry types_{"connector type"};
  test::PartnerServer partner_;
};

TEST_F(HttpTransportTest, PostsTheMessageWithItsKeyAndBearerTokenFromASecretFile) {
  auto connector =
      make({{"url", partner_.url("/in")}, {"bearer_token_file", secret("token", "s3cret")}});
  auto result = connector->deliver(message());
  EXPECT_EQ(result.status, Status::kDelivered) << result.detail;
  auto received = partner_.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].idempotency_key, "kim-msg_1");
  EXPECT_EQ(received[0].authorization, "Bearer s3cret");
  EXPECT_EQ(received[0].body, http_message_body(message()));
  EXPECT_EQ(received[0].body["attempt"], 2);
  EXPECT_EQ(received[0].body["payload"], json({{"referral_id", "ref_1"}}));
}

TEST_F(HttpTransportTest, BasicCredentialsComeFromTheirSecretFile) {
  auto connector = make({{"url", partner_.url()},
                         {"basic_user", "kim"},
                         {"basic_password_file", secret("password", "pw")}});
  EXPECT_EQ(connector->deliver(message()).status, Status::kDelivered);
  EXPECT_EQ(partner_.received().at(0).authorization, "Basic a2ltOnB3");  // kim:pw
}

TEST_F(HttpTransportTest, ASecretFileOthersMayReadIsRefused) {
  const auto file = secret("token", "s3cret", 0644);
  try {
    make({{"url", partner_.url()}, {"bearer_token_file", file}});
    FAIL() << "a group- and world-readable secret file was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << "the secret leaked";
  }
}

TEST_F(HttpTransportTest, AnswersAreJudgedByStatus) {
  auto connector = make({{"url", partner_.url()}});
  partner_.fail_next(1, 503);
  auto unavailable = connector->deliver(message());
  EXPECT_EQ(unavailable.status, Status::kRetry);
  EXPECT_EQ(unavailable.detail, "HTTP 503");
  partner_.fail_next(1, 429, 7);
  auto throttled = connector->deliver(message());
  EXPECT_EQ(throttled.status, Status::kRetry);
  EXPECT_EQ(throttled.retry_after_seconds, 7);
  partner_.fail_next(1, 408);
  EXPECT_EQ(connector->deliver(message()).status, Status::kRetry);
  partner_.fail_next(1, 404);
  auto refused = connector->deliver(message());
  EXPECT_EQ(refused.status, Status::kFailed);
  EXPECT_EQ(refused.detail, "HTTP 404 (not retried)");
  partner_.fail_next(1, 302);
  EXPECT_EQ(connector->deliver(message()).status, Status::kFailed) << "redirects not followed";
  partner_.fail_next(1, 201);
  EXPECT_EQ(connector->deliver(message()).status, Status::kDelivered);
}

TEST_F(HttpTransportTest, NetworkErrorsAndTheDeadlineAreRetried) {
  auto connector = make({{"url", partner_.url()}}, 300ms);
  partner_.drop_next(1);
  auto dropped = connector->deliver(message());
  EXPECT_EQ(dropped.status, Status::kRetry);
  EXPECT_NE(dropped.detail.find("network error"), std::string::npos) << dropped.detail;

  partner_.hang_next(1, 3s);
  const auto started = std::chrono::steady_clock::now();
  auto hung = connector->deliver(message());
  EXPECT_EQ(hung.status, Status::kRetry);
  EXPECT_NE(hung.detail.find("timed out"), std::string::npos) << hung.detail;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << "the deadline was not kept";

  // Nobody listens: connection refused.
  auto closed = make({{"url", "http://127.0.0.1:" + std::to_string(test::free_port()) + "/"}});
  auto refused = closed->deliver(message());
  EXPECT_EQ(refused.status, Status::kRetry);
  EXPECT_NE(refused.detail.find("network error"), std::string::npos) << refused.detail;
}

TEST_F(HttpTransportTest, HttpsToAServerWithoutTlsPostsNothing) {
  // A plain HTTP server behind an https:// address: no handshake, nothing is posted, retried.
  auto connector =
      make({{"url", "https://127.0.0.1:" + std::to_string(partner_.port()) + "/"}}, 500ms);
  EXPECT_EQ(connector->deliver(message()).status, Status::kRetry);
  for (const auto& request : partner_.received())
    EXPECT_TRUE(request.body.is_discarded()) << "a message left over a failed handshake";
}

TEST_F(HttpTransportTest, SettingsAreCheckedAgainstTheTypesSchema) {
  const auto schema = types_.find("http")->settings_schema;
  auto problems = [&](json settings) { return config::validate(schema, settings, true).size(); };
  EXPECT_EQ(problems({{"url", "https://jobcenter.example/api"}}), 0u);
  EXPECT_GT(problems(json::object()), 0u) << "url is required";
  EXPECT_GT(problems({{"url", "ftp://jobcenter.example/"}}), 0u);
  EXPECT_GT(problems({{"url", "https://user:pw@jobcenter.example/"}}), 0u) << "no user info";
  EXPECT_GT(problems({{"url", "https://jobcenter.example/"}, {"ca_file", "relative.pem"}}), 0u);
  EXPECT_GT(problems({{"url", "https://jobcenter.example/"}, {"token", "inline"}}), 0u)
      << "no secrets in the config itself";
  EXPECT_THROW(make({{"url", partner_.url()}, {"basic_user", "kim"}}), std::invalid_argument);
}

}  // namespace
}  // namespace kim::connectors
