// Small helpers for system tests that talk to the API as one user: paths relative to /api/v1,
// the parts of the API's one error shape, dates relative to today, JSON edits.
#pragma once

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/kim_host.hpp"

namespace kim::test {

// Partners of the shipped network the tests rely on.
inline constexpr const char* kJobcenter = "jobcenter-kreis-steinfurt";
inline constexpr const char* kOffice = "ki-kreis-steinfurt";  // the county's coordinating office
// The code of an unknown body key (domain::FieldReader, the same for every resource).
inline constexpr const char* kUnknownKey = "unknown_field";

// A date `days` from today in kim's zone (deployment.time_zone, by default Europe/Berlin, which the
// test hosts keep), YYYY-MM-DD, also in the hours when the machine's (UTC) date differs. The
// first call switches the test process's C time functions to that zone.
inline std::string date_in_days(int days) {
  static const bool in_kims_zone = [] {
    ::setenv("TZ", "Europe/Berlin", 1);
    ::tzset();
    return true;
  }();
  (void)in_kims_zone;
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() +
                                                std::chrono::hours(24 * days));
  std::tm local{};
  localtime_r(&t, &local);
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d", &local);
  return buffer;
}

// `error` of an error response ({"code": "<no error>"} when the body is not one).
inline nlohmann::json error_of(const HttpResult& response) {
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object()) {
    return {{"code", "<no error>"}};
  }
  return body["error"];
}
inline std::string code_of(const HttpResult& response) {
  return error_of(response).value("code", "<no code>");
}
inline std::string field_of(const HttpResult& response) {
  return error_of(response).value("field", "<no field>");
}

// The body of a response that must have `status` (null after a failure, which is reported).
inline nlohmann::json expect_status(const HttpResult& response, int status) {
  EXPECT_EQ(response.status, status) << response.body;
  return response.status == status ? response.json() : nlohmann::json();
}

inline std::set<std::string> as_set(const nlohmann::json& array) {
  std::set<std::string> values;
  if (!array.is_array()) return values;
  for (const auto& value : array)
    values.insert(value.is_string() ? value.get<std::string>() : value.dump());
  return values;
}

inline nlohmann::json with(nlohmann::json body, const nlohmann::json& changes) {
  for (const auto& [key, value] : changes.items())
    body[key] = value;
  return body;
}
inline nlohmann::json without(nlohmann::json body, const std::string& key) {
  body.erase(key);
  return body;
}

// A draft cooperation agreement between `office` and `partner` for `service`, valid since 2024;
// the partner may receive `categories` for referrals. Tests change what they test with `with`.
inline nlohmann::json agreement_body(
    const std::string& office = kOffice, const std::string& partner = kJobcenter,
    const std::string& service = "sgb2_integration_services",
    nlohmann::json categories = {"identity", "contact", "language_level", "education_work"}) {
  return {{"title", "Kooperationsvereinbarung " + office + " und " + partner},
          {"parties",
           {{{"partner", office},
             {"tasks", "Clearing, Begleitung, Vorbereitung der Übergabe"},
             {"responsibility_ends", "mit dem gemeinsamen Übergabetermin"}},
            {{"partner", partner},
             {"tasks", "Leistung nach eigenem Recht"},
             {"responsibility_ends", "mit dem Abschluss der Leistung"}}}},
          {"handover_rule", "Warme Übergabe in einem gemeinsamen Termin"},
          {"services", {service}},
          {"valid_from", "2024-01-01"},
          {"data_terms",
           {{{"partner", partner}, {"categories", categories}, {"purposes", {"referral"}}}}}};
}

// Polls `condition` until it holds or `timeout` passes: for what the host does in the background
// (deliveries, jobs). No fixed sleeps: a short wait per round.
template <class F>
bool eventually(F condition, std::chrono::milliseconds timeout = std::chrono::milliseconds(30000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

// One user's view of the API: paths relative to /api/v1.
class Api {
 public:
  Api(const KimHost& host, const std::string& user)
      : client_(host.client()), token_(host.token(user)) {}

  HttpResult get(const std::string& path) { return client_.get("/api/v1" + path, token_); }
  HttpResult post(const std::string& path, const nlohmann::json& body) {
    return client_.request("POST", "/api/v1" + path, body.dump(), token_);
  }
  HttpResult patch(const std::string& path, const nlohmann::json& body) {
    return client_.request("PATCH", "/api/v1" + path, body.dump(), token_);
  }
  // Any method, with extra headers (e.g. If-Match).
  HttpResult send(const std::string& method, const std::string& path, const nlohmann::json& body,
                  const std::map<std::string, std::string>& headers) {
    return client_.request(method, "/api/v1" + path, body.dump(), token_, headers);
  }
  // The body of a GET that must answer 200 (null after a failure).
  nlohmann::json read(const std::string& path) {
    auto response = get(path);
    EXPECT_EQ(response.status, 200) << path << ": " << response.body;
    return response.status == 200 ? response.json() : nlohmann::json();
  }

 private:
  HttpClient client_;
  std::string token_;
};

}  // namespace kim::test
