// Connectors: how the host reaches a partner system (a jobcenter's interface, a town's mail
// gateway).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace kim::sdk {

struct OutboundMessage {
  std::string id;               // host-assigned, unique
  std::string idempotency_key;  // the partner should treat repeats of this key as one delivery
  std::string partner;          // partner id from the registry
  std::string type;             // e.g. "referral.sent"
  nlohmann::json payload;       // already minimised to what the partner may receive
};

struct DeliveryResult {
  enum class Status {
    kDelivered,  // the partner confirmed receipt
    kRetry,      // temporary failure: the host retries later with backoff
    kFailed      // permanent failure: the host moves the message to the dead-letter list
  };
  Status status = Status::kDelivered;
  std::string detail;  // for operators; no personal data

  static DeliveryResult delivered(std::string detail = {}) {
    return {Status::kDelivered, std::move(detail)};
  }
  static DeliveryResult retry(std::string detail) { return {Status::kRetry, std::move(detail)}; }
  static DeliveryResult failed(std::string detail) { return {Status::kFailed, std::move(detail)}; }
};

class Connector {
 public:
  virtual ~Connector() = default;
  // Called from a host dispatcher thread, never concurrently for the same partner.
  virtual DeliveryResult deliver(const OutboundMessage& message) = 0;
};

// Builds a connector instance from the settings of one partner's connector block in the config.
// Throw std::invalid_argument with a clear message when the settings are unusable.
using ConnectorFactory = std::function<std::unique_ptr<Connector>(const nlohmann::json& settings)>;

}  // namespace kim::sdk
