// The jobcenter connector: turns a referral to Jobcenter Kreis Steinfurt (zugelassener kommunaler
// Träger, SGB II) into our versioned hand-over message (handover-v1.schema.json), leaves the
// moving to a transport that ships with the host ("file_drop" or "http", built with
// ConnectorContext::make) and reads the jobcenter's feedback (format kim.jobcenter.feedback).
// Only the public SDK. See README.md.
#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "kim/sdk/sdk.hpp"

namespace {

using nlohmann::json;

constexpr const char* kHandoverFormat = "kim.jobcenter.handover";
constexpr const char* kFeedbackFormat = "kim.jobcenter.feedback";

constexpr const char* kSettingsSchema = R"json({
  "type": "object",
  "required": ["transport"],
  "properties": {
    "transport": {
      "type": "object",
      "required": ["type"],
      "description": "How hand-over messages travel: a transport that ships with the host and its settings (checked against that type's schema when the host starts).",
      "properties": {
        "type": {"enum": ["file_drop", "http"]},
        "settings": {"type": "object", "default": {}, "additionalProperties": true}
      }
    },
    "format_version": {"enum": [1], "default": 1, "description": "Version of the hand-over message (handover-v1.schema.json)."},
    "towns_served": {
      "type": "array", "maxItems": 100, "uniqueItems": true, "default": [],
      "items": {"type": "string", "minLength": 1, "maxLength": 100},
      "description": "Towns this jobcenter serves; a referral of a participant living elsewhere is refused (dead letter). Empty: every town."
    }
  }
})json";

// The jobcenter's feedback events and the referral status each one means.
const std::map<std::string, std::string>& feedback_events() {
  static const std::map<std::string, std::string> events = {
      {"received", "accepted"},   {"accepted", "accepted"},       {"declined", "declined"},
      {"started", "in_progress"}, {"in_progress", "in_progress"}, {"completed", "completed"}};
  return events;
}

// The hand-over document: the referral's minimised payload as the host stored it (nothing is
// added from elsewhere), plus the references the jobcenter needs to answer.
json handover_of(const kim::sdk::OutboundMessage& message, int format_version) {
  const json& payload = message.payload.is_object() ? message.payload : json::object();
  json referral = {{"id", payload.value("referral_id", message.subject_id)},
                   {"case_id", message.case_id}};
  for (const char* key : {"service", "purpose", "message", "categories", "from"}) {
    if (payload.contains(key)) referral[key] = payload[key];
  }
  json document = {{"format", kHandoverFormat}, {"format_version", format_version},
                   {"message_id", message.id},  {"idempotency_key", message.idempotency_key},
                   {"type", message.type},      {"created_at", message.created_at},
                   {"referral", referral}};
  // Who the participant is travels with the hand-over only: a cancellation needs no person data.
  if (message.type == "referral.sent" && payload.contains("person")) {
    document["person"] = payload["person"];
  }
  return document;
}

std::string text_of(const json& document, const char* key, bool required) {
  auto it = document.find(key);
  if (it == document.end() || it->is_null()) {
    if (required) throw std::invalid_argument(std::string("missing \"") + key + "\"");
    return {};
  }
  if (!it->is_string()) throw std::invalid_argument(std::string("\"") + key + "\" must be text");
  return it->get<std::string>();
}

class JobcenterConnector final : public kim::sdk::Connector {
 public:
  JobcenterConnector(std::unique_ptr<kim::sdk::Connector> transport, int format_version,
                     std::vector<std::string> towns)
      : transport_(std::move(transport)),
        format_version_(format_version),
        towns_(std::move(towns)) {}

  kim::sdk::DeliveryResult deliver(const kim::sdk::OutboundMessage& message) override {
    if (!towns_.empty() && message.type == "referral.sent") {
      const json& person = message.payload.is_object() && message.payload.contains("person")
                               ? message.payload["person"]
                               : json::object();
      const std::string town = person.is_object() ? person.value("town", "") : "";
      if (!town.empty() && std::find(towns_.begin(), towns_.end(), town) == towns_.end()) {
        return kim::sdk::DeliveryResult::failed(
            "the participant's town is not among towns_served of this jobcenter instance");
      }
    }
    auto shaped = message;
    shaped.payload = handover_of(message, format_version_);
    return transport_->deliver(shaped);
  }

  kim::sdk::InboundStatus read_inbound(const json& document) const override {
    if (!document.is_object()) throw std::invalid_argument("feedback must be a JSON object");
    // Without "format": the host's own report format, for tests and simple partners.
    if (!document.contains("format")) return kim::sdk::read_default_inbound(document);
    if (text_of(document, "format", true) != kFeedbackFormat) {
      throw std::invalid_argument(std::string("\"format\" must be \"") + kFeedbackFormat + "\"");
    }
    auto version = document.find("format_version");
    if (version == document.end() || !version->is_number_integer() || *version != 1) {
      throw std::invalid_argument("\"format_version\" must be 1");
    }
    const auto event = text_of(document, "event", true);
    auto mapped = feedback_events().find(event);
    if (mapped == feedback_events().end()) {
      throw std::invalid_argument(
          "\"event\" must be one of received, accepted, declined, "
          "started, in_progress, completed");
    }
    return {text_of(document, "feedback_id", true), text_of(document, "referral_id", true),
            mapped->second, text_of(document, "outcome", false)};
  }

  void collect_inbound(const kim::sdk::InboundSink& sink) override {
    transport_->collect_inbound(sink);
  }

 private:
  std::unique_ptr<kim::sdk::Connector> transport_;
  int format_version_;
  std::vector<std::string> towns_;
};

std::unique_ptr<kim::sdk::Connector> create(const json& settings,
                                            const kim::sdk::ConnectorContext& context) {
  const auto& transport = settings.at("transport");
  const auto type = transport.at("type").get<std::string>();
  json inner = transport.value("settings", json::object());
  // Over file_drop each file is the hand-over document itself, not the host's envelope.
  if (type == "file_drop" && !inner.contains("content")) inner["content"] = "payload";
  if (!context.make) throw std::invalid_argument("the host offers no transports to build");
  return std::make_unique<JobcenterConnector>(
      context.make(type, inner), settings.value("format_version", 1),
      settings.value("towns_served", std::vector<std::string>{}));
}

class JobcenterPlugin final : public kim::sdk::Plugin {
 public:
  void load(kim::sdk::PluginHost& host) override {
    host.register_connector({"jobcenter", json::parse(kSettingsSchema),
                             "Jobcenter Kreis Steinfurt: hand-over messages (format "
                             "kim.jobcenter.handover v1) over file_drop or http, feedback back",
                             create});
  }
};

}  // namespace

KIM_PLUGIN(JobcenterPlugin, "jobcenter", "1.0.0",
           "Jobcenter hand-over connector: versioned hand-over messages, feedback onto referrals",
           nullptr)
