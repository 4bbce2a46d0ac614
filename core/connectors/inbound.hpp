// Partners' reports on referrals, in two ways: pushed to POST /api/v1/connectors/{instance}/inbound
// (no bearer token: signed per instance with HMAC-SHA512 over "<timestamp>.<body>") and
// collected from the instance's connector on a schedule (collect_inbound, e.g. acknowledgement
// files). Both read the document through the instance's connector (read_inbound, so a plugin
// translates its partner's format) and apply it with ReferralService::apply_partner_report, as
// the instance's system user "connector:<instance>" (a disabled user without tokens, created on
// first use: history, timeline notes and audit entries need a user).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "config/host_config.hpp"
#include "connectors/instances.hpp"
#include "domain/service_support.hpp"
#include "http/api_docs.hpp"
#include "http/auth_throttle.hpp"
#include "http/router.hpp"
#include "jobs/scheduler.hpp"
#include "referrals/referrals.hpp"

namespace kim::connectors {

inline constexpr const char* kSignatureHeader = "x-kim-signature";  // hex HMAC-SHA512
inline constexpr const char* kTimestampHeader = "x-kim-timestamp";  // Unix seconds
inline constexpr int kMaxClockSkewSeconds = 300;
inline constexpr std::size_t kMaxInboundBody = 64 * 1024;
inline constexpr const char* kInboundPattern = "/api/v1/connectors/{instance}/inbound";
// Set by admit() only, under a name no HTTP client can send (':' cannot be in a field name):
// the client's address for the handler, and the proof that admission ran. Host::admit also
// erases it and the old "x-kim-peer" from every request.
inline constexpr const char* kPeerHeader = ":kim-peer";
inline constexpr const char* kLegacyPeerHeader = "x-kim-peer";

// Hex HMAC-SHA512 of `timestamp + "." + body` under `key` (what a partner sends).
std::string inbound_signature(const std::string& key, std::string_view timestamp,
                              std::string_view body);

class Inbound {
 public:
  // Reads every instance's HMAC key file (read_secret_file); throws config::ConfigError naming
  // the instance when one cannot be used.
  Inbound(const config::HostConfig& config, Instances& instances,
          referrals::ReferralService& referrals, store::Store& store, http::AuthThrottle& throttle,
          std::shared_ptr<spdlog::logger> logger);

  void register_route(http::Router& router, http::ApiDocs& docs);
  // One job per instance, "connectors.<instance>.inbound", every inbound.poll_seconds.
  void schedule(jobs::Scheduler& scheduler);

  // Whether a router match is the inbound endpoint (decided on the match, not on the raw path:
  // the router ignores empty segments, so "/api/v1/connectors/x/inbound/" is the same route).
  static bool handles(const http::RouteMatch& match);
  // Host::admit for the endpoint, before the body is read: the address must not be throttled
  // (429), both headers must be there and the timestamp fresh (401), the instance must exist
  // and have a key (else the 401 of a bad signature, charged to the address), the body must
  // have a Content-Length (411) of at most 64 KiB (413). Notes the peer for the handler, which
  // counts bad signatures against it.
  std::optional<sdk::HttpResponse> admit(sdk::HttpRequest& request, const std::string& instance,
                                         std::string_view peer);
  // The endpoint: refuses a request admit() did not see (401), checks again, verifies the
  // signature in constant time, reads the report through the connector and applies it.
  sdk::HttpResponse receive(const sdk::HttpRequest& request);

  // Runs the instance's collection once (the job's work).
  void collect(const std::string& instance);

 private:
  // The refusal of a request for `instance` before its body, if any; an unknown or keyless
  // instance is charged to `peer` (when given) like a bad signature.
  std::optional<sdk::HttpResponse> precheck(const sdk::HttpRequest& request,
                                            const std::string& instance,
                                            std::optional<std::string_view> peer);
  // Reads and applies one document of `instance`.
  domain::Result<domain::Reply> apply(Instance& instance, const nlohmann::json& document,
                                      const std::string& request_id);
  audit::Actor actor_of(const std::string& instance, const std::string& request_id);

  Instances& instances_;
  referrals::ReferralService& referrals_;
  store::Store& store_;
  http::AuthThrottle& throttle_;
  std::shared_ptr<spdlog::logger> logger_;
  std::map<std::string, std::string, std::less<>> keys_;  // by instance; never logged
  std::map<std::string, std::chrono::seconds> poll_;
  std::mutex users_mutex_;
  std::map<std::string, std::int64_t> user_ids_;  // the instances' system users
};

}  // namespace kim::connectors
