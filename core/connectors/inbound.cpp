#include "connectors/inbound.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <stdexcept>

#include "audit/security_log.hpp"
#include "domain/route_support.hpp"
#include "kim/sdk/json.hpp"
#include "text/ascii.hpp"

namespace kim::connectors {
namespace {

std::string instance_of(const sdk::HttpRequest& request) {
  auto it = request.path_params.find("instance");
  return it != request.path_params.end() ? it->second : std::string();
}

sdk::HttpResponse refused_signature(const std::string& code, const std::string& message) {
  auto response = sdk::HttpResponse::error(401, code, message);
  response.headers["www-authenticate"] = "KIM-HMAC-SHA512";
  return response;
}

sdk::HttpResponse bad_signature() {
  return refused_signature("bad_signature", "the signature does not match the body");
}

}  // namespace

std::string inbound_signature(const std::string& key, std::string_view timestamp,
                              std::string_view body) {
  std::string signed_text;
  signed_text.reserve(timestamp.size() + 1 + body.size());
  signed_text.append(timestamp).append(".").append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!HMAC(EVP_sha512(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac,
            &size)) {
    throw std::runtime_error("HMAC-SHA512 failed");
  }
  return text::to_hex(mac, size);
}

Inbound::Inbound(const config::HostConfig& config, Instances& instances,
                 referrals::ReferralService& referrals, store::Store& store,
                 http::AuthThrottle& throttle, std::shared_ptr<spdlog::logger> logger)
    : instances_(instances),
      referrals_(referrals),
      store_(store),
      throttle_(throttle),
      logger_(std::move(logger)) {
  std::vector<std::string> problems;
  for (const auto& instance : config.connectors) {
    poll_[instance.name] = instance.inbound_poll;
    if (!instance.inbound_key_file) continue;
    try {
      keys_[instance.name] = read_secret_file(*instance.inbound_key_file);
    } catch (const std::invalid_argument& e) {
      problems.push_back("connectors." + instance.name + ".inbound.hmac_key_file: " + e.what());
    }
  }
  if (!problems.empty()) throw config::ConfigError(config.source.string(), problems);
}

void Inbound::register_route(http::Router& router, http::ApiDocs& docs) {
  // Public for the token check only: admit() and receive() authenticate by signature.
  router.add({sdk::HttpMethod::kPost, kInboundPattern,
              [this](const sdk::HttpRequest& request) { return receive(request); },
              sdk::RouteOptions::public_access(), "host"});
  docs.describe(sdk::HttpMethod::kPost, kInboundPattern,
                {"A partner's report on a referral (no token: X-Kim-Timestamp and X-Kim-Signature, "
                 "hex HMAC-SHA512 over \"<timestamp>.<body>\")",
                 "connectors",
                 {{"id", "jc-2025-000123"},
                  {"referral_id", "ref_0123456789abcdef"},
                  {"status", "accepted"}}});
}

void Inbound::schedule(jobs::Scheduler& scheduler) {
  for (const auto& [name, instance] : instances_.all()) {
    const auto every = poll_.count(name) ? poll_[name] : std::chrono::seconds(30);
    scheduler.add("connectors", name + ".inbound", every, [this, name = name] { collect(name); });
  }
}

bool Inbound::handles(const http::RouteMatch& match) {
  return match.kind == http::RouteMatch::Kind::kFound && match.route->owner == "host" &&
         match.route->method == sdk::HttpMethod::kPost && match.route->pattern == kInboundPattern;
}

std::optional<sdk::HttpResponse> Inbound::precheck(const sdk::HttpRequest& request,
                                                   const std::string& instance,
                                                   std::optional<std::string_view> peer) {
  const auto timestamp = request.header(kTimestampHeader);
  const auto signature = request.header(kSignatureHeader);
  if (timestamp.empty() || signature.empty()) {
    return refused_signature("signature_required",
                             "send X-Kim-Timestamp (Unix seconds) and X-Kim-Signature (hex "
                             "HMAC-SHA512 over \"<timestamp>.<body>\")");
  }
  bool digits = timestamp.size() <= 12;
  for (char c : timestamp)
    digits = digits && c >= '0' && c <= '9';
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  if (!digits || std::llabs(std::stoll(timestamp) - now) > kMaxClockSkewSeconds) {
    return refused_signature("stale_timestamp",
                             "X-Kim-Timestamp must be the current Unix time (within " +
                                 std::to_string(kMaxClockSkewSeconds) + " seconds)");
  }
  // Checked after the headers, and answered like a bad signature: an unknown instance, one
  // without a key and a known one all look the same, so nothing tells which instances exist.
  if (!instances_.all().count(instance) || !keys_.count(instance)) {
    if (peer) throttle_.record_failure(*peer);  // a guess costs like a bad signature
    return bad_signature();
  }
  return std::nullopt;
}

std::optional<sdk::HttpResponse> Inbound::admit(sdk::HttpRequest& request,
                                                const std::string& instance,
                                                std::string_view peer) {
  request.headers[kPeerHeader] = text::to_hex(peer);
  if (const int wait = throttle_.retry_after(peer); wait > 0) {
    auto response = sdk::HttpResponse::error(
        429, "too_many_failed_sign_ins",
        "too many bad signatures or tokens from this address; try again in " +
            std::to_string(wait) + " s");
    response.headers["retry-after"] = std::to_string(wait);
    return response;
  }
  if (auto refusal = precheck(request, instance, peer)) return refusal;
  // The size is decided here, before the body is read: a chunked body has no length to judge.
  const auto length = request.header("content-length");
  if (length.empty()) {
    return sdk::HttpResponse::error(411, "length_required",
                                    "send the report with a Content-Length (at most " +
                                        std::to_string(kMaxInboundBody) + " bytes)");
  }
  if (length.size() > 9 || std::stoul(length) > kMaxInboundBody) {
    return sdk::HttpResponse::error(
        413, "payload_too_large",
        "a report may have at most " + std::to_string(kMaxInboundBody) + " bytes");
  }
  return std::nullopt;
}

sdk::HttpResponse Inbound::receive(const sdk::HttpRequest& request) {
  const std::string name = instance_of(request);
  // Without admission nothing checked the size before the body nor noted the peer to charge.
  if (!request.headers.count(kPeerHeader)) {
    return refused_signature("not_admitted", "this request did not pass the inbound admission");
  }
  if (auto refusal = precheck(request, name, std::nullopt)) return *refusal;
  if (request.body.size() > kMaxInboundBody) {
    return sdk::HttpResponse::error(
        413, "payload_too_large",
        "a report may have at most " + std::to_string(kMaxInboundBody) + " bytes");
  }
  const auto expected =
      inbound_signature(keys_.at(name), request.header(kTimestampHeader), request.body);
  const auto sent = request.header(kSignatureHeader);
  if (sent.size() != expected.size() ||
      CRYPTO_memcmp(sent.data(), expected.data(), expected.size()) != 0) {
    if (auto peer = text::from_hex(request.header(kPeerHeader)); peer && !peer->empty()) {
      throttle_.record_failure(*peer);
    }
    audit::SecurityLog::note(actor_of(name, request.request_id), "connector_inbound", name);
    return bad_signature();
  }
  auto parsed = sdk::parse_json(request.body, sdk::kDefaultMaxJsonDepth);
  if (!parsed) return sdk::HttpResponse::error(400, parsed.code, parsed.message);
  auto result = apply(*instances_.find(name), parsed.value, request.request_id);
  if (!result) return domain::to_response(result.problem());
  return sdk::HttpResponse::json(result.value().status, result.value().body);
}

domain::Result<domain::Reply> Inbound::apply(Instance& instance, const nlohmann::json& document,
                                             const std::string& request_id) {
  sdk::InboundStatus report;
  try {
    report = instance.connector->read_inbound(document);
  } catch (const std::exception& e) {
    // Whatever a plugin's reader throws is this document's fault (nlohmann's type_error, …):
    // refused alone, so one bad file cannot stop the run or block every later one.
    return domain::Problem{400, "invalid_report", e.what(), {}, nullptr};
  }
  const domain::Context ctx{actor_of(instance.config.name, request_id), std::nullopt};
  return referrals_.apply_partner_report(ctx, instance.config.name, report);
}

void Inbound::collect(const std::string& name) {
  auto* instance = instances_.find(name);
  if (!instance) return;
  const auto run_id = domain::new_id("job");
  int applied = 0, refused = 0;
  instance->connector->collect_inbound([&](const nlohmann::json& document) {
    auto result = apply(*instance, document, run_id);
    if (result) {
      ++applied;
      return sdk::InboundAnswer{true, {}};
    }
    ++refused;
    const auto& problem = result.problem();
    nlohmann::json reason = {
        {"status", problem.status}, {"code", problem.code}, {"message", problem.message}};
    if (!problem.details.is_null()) reason["details"] = problem.details;
    return sdk::InboundAnswer{false, reason.dump()};
  });
  if (applied + refused > 0) {
    logger_->info("connector {}: {} report(s) applied, {} refused", name, applied, refused);
  }
}

audit::Actor Inbound::actor_of(const std::string& instance, const std::string& request_id) {
  const std::string user = "connector:" + instance;
  std::int64_t id = 0;
  {
    std::lock_guard lock(users_mutex_);
    if (auto it = user_ids_.find(instance); it != user_ids_.end()) id = it->second;
  }
  if (id == 0) {
    // Disabled from the start and never given a token: it only signs what the partner reported.
    id = store_.write([&](store::Connection& db) {
      db.execute(
          "INSERT OR IGNORE INTO users(name, role, disabled_at) VALUES (?, 'case_manager', "
          "strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
          {user});
      auto rows =
          db.query("SELECT id FROM users WHERE name = ? AND disabled_at IS NOT NULL", {user});
      if (rows.empty()) {
        throw std::runtime_error("user " + user + " exists and is enabled: rename it");
      }
      return rows.front()["id"].get<std::int64_t>();
    });
    std::lock_guard lock(users_mutex_);
    user_ids_[instance] = id;
  }
  sdk::Principal principal;
  principal.user_id = id;
  principal.user_name = user;
  principal.role = "connector";
  return {principal, request_id};
}

}  // namespace kim::connectors
