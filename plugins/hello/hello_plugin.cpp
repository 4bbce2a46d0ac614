// The example plugin: uses every extension point of the SDK once, so it doubles as living
// documentation and as the plugin the host's tests load.
#include <atomic>
#include <map>
#include <mutex>

#include "kim/sdk/sdk.hpp"

namespace {

constexpr const char* kConfigSchema = R"json({
  "type": "object",
  "properties": {
    "greeting": {"type": "string", "minLength": 1, "maxLength": 100, "default": "Hallo"},
    "heartbeat_interval_ms": {"type": "integer", "minimum": 10, "maximum": 86400000, "default": 60000},
    "veto_phase": {"type": "string", "maxLength": 40, "default": "", "description": "Veto case transitions into this phase (empty: none). Shows hooks."}
  }
})json";

using kim::sdk::HttpMethod;
using kim::sdk::HttpRequest;
using kim::sdk::HttpResponse;

// Accepts every message; a real connector would call a partner's API here. With "inbox_dir" it
// collects reports from that folder over the host's file_drop transport, and its reader is a
// careless one: a "count" that is not a number throws nlohmann's type_error, not the
// std::invalid_argument the SDK asks for (what the host must survive from a plugin).
class EchoConnector final : public kim::sdk::Connector {
 public:
  EchoConnector(const nlohmann::json& settings, const kim::sdk::ConnectorContext& context) {
    if (settings.contains("inbox_dir")) {
      if (!context.make) throw std::invalid_argument("the host offers no transports to build");
      inbox_ = context.make(
          "file_drop", {{"outbox_dir", settings["inbox_dir"].get<std::string>() + "/unused-outbox"},
                        {"inbox_dir", settings["inbox_dir"]}});
    }
  }
  kim::sdk::DeliveryResult deliver(const kim::sdk::OutboundMessage& message) override {
    return kim::sdk::DeliveryResult::delivered("echoed " + message.id);
  }
  kim::sdk::InboundStatus read_inbound(const nlohmann::json& document) const override {
    if (document.is_object() && document.contains("count")) (void)document["count"].get<int>();
    return kim::sdk::read_default_inbound(document);
  }
  void collect_inbound(const kim::sdk::InboundSink& sink) override {
    if (inbox_) inbox_->collect_inbound(sink);
  }

 private:
  std::unique_ptr<kim::sdk::Connector> inbox_;
};

class HelloPlugin final : public kim::sdk::Plugin {
 public:
  void load(kim::sdk::PluginHost& host) override {
    host_ = &host;
    greeting_ = host.config().at("greeting").get<std::string>();

    host.add_migration(1, "greetings table", R"sql(
      CREATE TABLE hello_greetings (
        id         INTEGER PRIMARY KEY,
        recipient  TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
      );)sql");

    // Public: no token needed. Only for data that is no one's business to protect.
    host.add_route(
        HttpMethod::kGet, "/ping",
        [](const HttpRequest&) {
          return HttpResponse::json(200, {{"pong", true}});
        },
        kim::sdk::RouteOptions::public_access());

    host.add_route(HttpMethod::kGet, "/greetings/{name}", [this](const HttpRequest& request) {
      return HttpResponse::json(200, {{"text", greeting_ + ", " + request.path_params.at("name")}});
    });

    host.add_route(
        HttpMethod::kPost, "/greetings",
        [this](const HttpRequest& request) { return store_greeting(request); },
        kim::sdk::RouteOptions::for_roles({"admin", "case_manager"}));

    host.add_route(HttpMethod::kGet, "/stats", [this](const HttpRequest&) {
      auto rows = host_->database().query("SELECT count(*) AS n FROM hello_greetings");
      return HttpResponse::json(200, {{"greetings_stored", rows.at(0).at("n")},
                                      {"greeted_events_seen", greeted_events_.load()},
                                      {"plugins_started_seen", plugins_started_.load()},
                                      {"heartbeats", heartbeats_.load()},
                                      {"domain_events_seen", domain_events_seen()},
                                      {"payloads_seen", payloads_seen()}});
    });

    // Core's data as the caller sees it: the host answers as GET /api/v1/cases/{id} would (404
    // for a case the caller may not read) and audits the read under the caller's name. The
    // plugin passes on only what it needs: the phase.
    host.add_route(HttpMethod::kGet, "/cases/{id}/phase", [this](const HttpRequest& request) {
      // Path parameters arrive decoded: an id with "/" or "?" would read another path of the
      // host. Only what a case id may hold goes into the path.
      const std::string& id = request.path_params.at("id");
      if (id.empty() || id.size() > 64 ||
          id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
        return HttpResponse::error(404, "not_found", "no such case");
      }
      auto answer = host_->read_api(request, "/api/v1/cases/" + id);
      if (answer.status != 200) return answer;
      auto found = kim::sdk::parse_json_object(answer.body);
      return HttpResponse::json(
          200, {{"case_id", found.value.at("id")}, {"phase", found.value.at("phase")}});
    });

    host.subscribe("hello.greeted", [this](const kim::sdk::Event&) { ++greeted_events_; });
    host.subscribe("plugin.started", [this](const kim::sdk::Event&) { ++plugins_started_; });
    // Notifications after commit: a connector plugin would deliver a sent referral's payload.
    for (const char* type :
         {"referral.created", "referral.status_changed", "consent.granted", "consent.revoked",
          "case.task_added", "case.task_changed", "case.note_added"}) {
      host.subscribe(type, [this](const kim::sdk::Event& event) {
        std::lock_guard lock(seen_mutex_);
        ++seen_[event.type];
      });
    }
    // Every event the host publishes, counted with its last payload: what sdk/EVENTS.md says
    // of them is checked against a real run through this (tests/system/event_payloads_test.cpp).
    for (const char* type :
         {"host.started", "plugin.started", "case.opened", "case.phase_changed", "case.closed",
          "case.assessment_recorded", "case.goal_set", "case.goal_changed", "case.task_added",
          "case.task_changed", "case.note_added", "referral.created", "referral.status_changed",
          "consent.granted", "consent.revoked"}) {
      host.subscribe(type, [this](const kim::sdk::Event& event) {
        std::lock_guard lock(seen_mutex_);
        auto& entry = payloads_[event.type];
        entry["count"] = entry.is_object() ? entry["count"].get<int>() + 1 : 1;
        entry["last"] = event.payload;
        entry["source"] = event.source;
      });
    }

    // A synchronous hook: runs inside the case's write transaction and may veto the change.
    veto_phase_ = host.config().at("veto_phase").get<std::string>();
    host.add_hook("case.phase_changed", [this](const kim::sdk::Event& event) {
      if (!veto_phase_.empty() && event.payload.value("to", "") == veto_phase_) {
        return kim::sdk::HookResult::veto("transitions into " + veto_phase_ +
                                          " are switched off (config veto_phase)");
      }
      return kim::sdk::HookResult::allow();
    });

    host.register_connector(
        {"hello-echo",
         nlohmann::json{{"type", "object"},
                        {"additionalProperties", false},
                        {"properties",
                         {{"inbox_dir",
                           {{"type", "string"},
                            {"minLength", 1},
                            {"description", "Collect reports from this folder (file_drop)"}}}}}},
         "accepts every message (an example)",
         [](const nlohmann::json& settings, const kim::sdk::ConnectorContext& context) {
           return std::make_unique<EchoConnector>(settings, context);
         }});

    host.schedule("heartbeat",
                  std::chrono::milliseconds(host.config().at("heartbeat_interval_ms").get<int>()),
                  [this] { ++heartbeats_; });
  }

  void start() override { host_->logger()->info("ready, greeting with \"{}\"", greeting_); }

  void stop() override {
    host_->logger()->info("stopping after {} heartbeats", heartbeats_.load());
  }

 private:
  HttpResponse store_greeting(const HttpRequest& request) {
    // Bounded: a client's deeply nested body must not overflow the stack (kim/sdk/json.hpp).
    auto parsed = kim::sdk::parse_json_object(request.body);
    if (!parsed) return HttpResponse::error(400, parsed.code, parsed.message);
    const nlohmann::json& body = parsed.value;
    for (const auto& [key, value] : body.items()) {
      if (key != "to") return HttpResponse::error(400, "unknown_field", "unknown field", key);
    }
    if (!body.contains("to") || !body["to"].is_string() || body["to"].get<std::string>().empty() ||
        body["to"].get<std::string>().size() > 100) {
      return HttpResponse::error(400, "invalid_field", "must be a string of 1-100 characters",
                                 "to");
    }
    std::int64_t id = 0;
    host_->database().transaction([&](kim::sdk::Transaction& tx) {
      tx.execute("INSERT INTO hello_greetings(recipient) VALUES (?)",
                 {body["to"].get<std::string>()});
      id = tx.last_insert_rowid();
      // A recipient's name may be personal data: the write is in the audit trail, committed
      // with it.
      tx.audit(request, "create", "hello.greeting", std::to_string(id));
    });
    // After commit; identifiers only, never the recipient.
    kim::sdk::Event event;
    event.type = "hello.greeted";
    event.payload = {{"greeting_id", id}};
    host_->publish(std::move(event));
    return HttpResponse::json(
        201, {{"id", id}, {"text", greeting_ + ", " + body["to"].get<std::string>()}});
  }

  nlohmann::json domain_events_seen() {
    std::lock_guard lock(seen_mutex_);
    return seen_;
  }

  nlohmann::json payloads_seen() {
    std::lock_guard lock(seen_mutex_);
    return payloads_;
  }

  kim::sdk::PluginHost* host_ = nullptr;
  std::mutex seen_mutex_;
  std::map<std::string, int> seen_;
  nlohmann::json payloads_ = nlohmann::json::object();
  std::string greeting_;
  std::string veto_phase_;
  std::atomic<int> greeted_events_{0};
  std::atomic<int> plugins_started_{0};
  std::atomic<int> heartbeats_{0};
};

}  // namespace

KIM_PLUGIN(HelloPlugin, "hello", "1.0.0",
           "Example plugin: greets, counts, shows every extension point", kConfigSchema)
