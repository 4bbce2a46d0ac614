// Browser sign-in for the web console: local passwords (Argon2id, libsodium), set by the user
// through a one-time invite an admin creates, and sessions carried by a cookie. A session resolves
// to the same sdk::Principal as an API token, so the console uses the same /api/v1 routes and the
// same access policy; it is a second credential in Host::admit, not a second authorization path.
//
// Secrets (session cookies, invite tokens) are 256 random bits, stored only as SHA-256 hashes.
// Every state-changing request authenticated by the cookie must carry `X-CSRF-Token` equal to the
// session's token (403 otherwise); bearer tokens are unaffected.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "config/host_config.hpp"
#include "domain/service_support.hpp"
#include "http/api_docs.hpp"
#include "http/auth_throttle.hpp"
#include "http/router.hpp"
#include "kim/sdk/http.hpp"
#include "store/store.hpp"

namespace kim::sessions {

inline constexpr const char* kCookieName = "kim_session";
inline constexpr const char* kCsrfHeader = "x-csrf-token";
// Notes of Host::admit for later stages of the same request, under names no client can send
// (':' is not allowed in a header name); admit erases them from what a client sent all the same.
inline constexpr const char* kClientHeader = ":kim-client";    // the peer's address key
inline constexpr const char* kSessionHeader = ":kim-session";  // id of the session that signed in
inline constexpr const char* kTouchHeader = ":kim-touch";      // its last use is to be stored

inline constexpr std::size_t kPasswordMaxBytes = 1024;

// Argon2id with libsodium's interactive limits; the encoded string carries salt and parameters.
std::string hash_password(std::string_view password);
bool verify_password(const std::string& encoded, std::string_view password);
// Why a new password is refused, or empty: at least 12 characters, at most 1024 bytes, valid
// UTF-8, not the user name (ignoring case).
std::string password_problem(std::string_view password, std::string_view user_name);
// The value of the session cookie in the request's Cookie header, or empty.
std::string session_cookie(const sdk::HttpRequest& request);

class SessionService {
 public:
  SessionService(store::Store& store, events::EventBus& events, domain::Env& env,
                 const config::SessionsConfig& config, std::shared_ptr<spdlog::logger> logger);

  // Host::admit's part for a request with the session cookie and no bearer token: fills in
  // request.principal for a live session; refuses (403 csrf_token_invalid) a state-changing
  // request to a non-public route without the session's CSRF token. Nothing for an unknown or
  // ended session (the caller answers 401 as for no credential).
  std::optional<sdk::HttpResponse> admit(sdk::HttpRequest& request, std::string_view cookie,
                                         bool public_route) const;
  // After the request was handled: stores the session's last use when admit noted it was due
  // (at most once a minute per session; deferred with the request's other writes).
  void touch(const sdk::HttpRequest& request);

  // One-time invite for a user to set their password (admin API and `kim user invite`). A new
  // invite voids the user's earlier unused ones. Audited.
  domain::Result<domain::Reply> invite(const domain::Context& ctx, const std::string& user_id);
  // Where the console takes an invite token ("/#/invite/<token>"), relative to its address.
  static std::string invite_path(const std::string& token);

  void register_routes(http::Router& router, http::ApiDocs& docs);

 private:
  sdk::HttpResponse sign_in(const sdk::HttpRequest& request);
  sdk::HttpResponse current(const sdk::HttpRequest& request);
  sdk::HttpResponse sign_out(const sdk::HttpRequest& request);
  sdk::HttpResponse set_password(const sdk::HttpRequest& request);
  std::string cookie_header(const sdk::HttpRequest& request, const std::string& value,
                            std::int64_t max_age) const;

  store::Store& store_;
  domain::Transactions tx_;
  const config::SessionsConfig config_;
  std::shared_ptr<spdlog::logger> logger_;
  http::AuthThrottle per_account_;
  http::AuthThrottle per_address_;
};

}  // namespace kim::sessions
