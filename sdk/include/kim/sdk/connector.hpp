// Connectors: how the host reaches a partner system (a jobcenter's interface, a town's file
// exchange). A connector *type* (registered by the host or a plugin) declares its name, the JSON
// Schema of its settings and a create function; the deployment config names connector
// *instances* ("connectors": {"<instance>": {"type": …, "settings": …}}) and a partner names the
// instance it is reached through. The host writes every message for a partner into its outbox in
// the same transaction as the change that caused it and delivers it through the instance, with
// retries, dead letters and a circuit breaker of its own; a connector only moves one message.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kim::sdk {

struct OutboundMessage {
  std::string id;               // host-assigned, unique
  std::string idempotency_key;  // stable across retries and restarts: the partner applies it once
  std::string partner;          // partner slug from the registry
  std::string type;             // e.g. "referral.sent", "referral.cancelled"
  std::string case_id;          // the case the message is about (the ordering key)
  std::string subject_id;       // the object the message is about, e.g. the referral id
  std::string created_at;       // when the change that caused it committed (UTC, ISO 8601)
  int attempt = 1;              // 1 on the first try
  nlohmann::json payload;       // already minimised to what the partner may receive
};

struct DeliveryResult {
  enum class Status {
    kDelivered,  // the partner confirmed receipt
    kRetry,      // temporary failure: the host retries later with backoff
    kFailed      // permanent failure: the host moves the message to the dead letters
  };
  Status status = Status::kDelivered;
  std::string detail;  // for operators; never personal data
  // For kRetry: the partner asked to wait this long (e.g. Retry-After); 0 = the host's backoff.
  int retry_after_seconds = 0;

  static DeliveryResult delivered(std::string detail = {}) {
    return {Status::kDelivered, std::move(detail), 0};
  }
  static DeliveryResult retry(std::string detail, int retry_after_seconds = 0) {
    return {Status::kRetry, std::move(detail), retry_after_seconds};
  }
  static DeliveryResult failed(std::string detail) {
    return {Status::kFailed, std::move(detail), 0};
  }
};

// A partner's report on a referral (inbound endpoint body or an acknowledgement file), in the
// host's terms. The host applies it through the referral's normal status rules.
struct InboundStatus {
  std::string message_id;   // the partner's id of this report: a repeat is answered, not reapplied
  std::string referral_id;  // the referral it is about
  std::string status;       // accepted | declined | in_progress | completed
  std::string outcome;      // free text for declined/completed (may be empty)
};

// Whether the host took an inbound document: kept (applied or a repeat) or refused for good
// (unknown referral, step not allowed, unreadable). A connector removes or moves the document
// in both cases; the detail says why it was refused (no personal data).
struct InboundAnswer {
  bool applied = false;
  std::string detail;
};
using InboundSink = std::function<InboundAnswer(const nlohmann::json& document)>;

// Reads the host's own inbound format (also usable by connectors that wrap it).
inline InboundStatus read_default_inbound(const nlohmann::json& document) {
  auto text = [&](const char* key, bool required) -> std::string {
    auto it = document.find(key);
    if (it == document.end() || it->is_null()) {
      if (required) throw std::invalid_argument(std::string("missing \"") + key + "\"");
      return {};
    }
    if (!it->is_string()) throw std::invalid_argument(std::string("\"") + key + "\" must be text");
    return it->get<std::string>();
  };
  if (!document.is_object()) throw std::invalid_argument("a report must be a JSON object");
  return {text("id", true), text("referral_id", true), text("status", true),
          text("outcome", false)};
}

class Connector {
 public:
  virtual ~Connector() = default;

  // Delivers one message. Called from a host dispatcher thread, never concurrently on the same
  // instance. Must return within the instance's timeout (the host does not cancel it).
  virtual DeliveryResult deliver(const OutboundMessage& message) = 0;

  // Translates a partner's report into the host's terms. The default reads the host's own
  // format: {"id", "referral_id", "status", "outcome"}. Throw std::invalid_argument with a clear
  // message when the document is unusable.
  virtual InboundStatus read_inbound(const nlohmann::json& document) const {
    return read_default_inbound(document);
  }

  // Hands reports the partner left for the host to fetch (e.g. acknowledgement files) to `sink`,
  // one document each. Called periodically from a dispatcher thread. The default has none.
  virtual void collect_inbound(const InboundSink& sink) { (void)sink; }
};

// What the host gives a connector when it builds an instance.
struct ConnectorContext {
  std::string instance;            // the instance's name in the config
  std::filesystem::path data_dir;  // the host's data folder (relative folders resolve here)
  // Longest one deliver() may take ("timeout_seconds" of the instance); the connector enforces
  // it on every call it makes (connect, write, read).
  std::chrono::milliseconds timeout{30000};
  // Reads a secret file named in the settings (a path relative to the config file's folder or
  // absolute). Refuses files that group or others may read, and missing files, with
  // std::invalid_argument. Never log what it returns.
  std::function<std::string(const std::string& path)> read_secret;
  // Builds an instance of another registered type (e.g. the host's "http" or "file_drop"
  // transports) with the given settings, checked against that type's schema; throws
  // std::invalid_argument with the problems. Lets a connector shape messages and leave the
  // moving to a shipped transport.
  std::function<std::unique_ptr<Connector>(const std::string& type, const nlohmann::json& settings)>
      make;
};

// A connector type: its name ("type" in the config), the JSON Schema its settings must meet
// (checked at start and by `kim config check`, every problem at once with its path) and the
// function that builds an instance from checked settings. `create` throws std::invalid_argument
// with a clear message when the settings are unusable (a secret file missing, …).
struct ConnectorType {
  std::string name;
  nlohmann::json settings_schema = nlohmann::json::object();
  std::string description;
  std::function<std::unique_ptr<Connector>(const nlohmann::json& settings,
                                           const ConnectorContext& context)>
      create;
};

}  // namespace kim::sdk
