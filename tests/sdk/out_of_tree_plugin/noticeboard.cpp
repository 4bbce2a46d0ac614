// The complete example of sdk/README.md ("3. The code"), kept here so the guide cannot rot:
// tests/sdk/out_of_tree_test.sh builds it against the installed SDK only, loads it into the real
// kim and drives its routes and job. Change the guide and this file together.
#include <kim/sdk/sdk.hpp>

#include <atomic>
#include <string>

namespace {

// JSON Schema of the plugin's config block (see "Config schema dialect"): unknown keys are
// refused, defaults are filled in before the plugin sees the block.
constexpr const char* kSchema = R"json({
  "type": "object",
  "properties": {
    "town": {"type": "string", "minLength": 1, "default": "Emsdetten"},
    "max_length": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 280},
    "tidy_interval_ms": {"type": "integer", "minimum": 10, "default": 3600000},
    "keep_days": {"type": "integer", "minimum": 1, "default": 30}
  }
})json";

using kim::sdk::HttpMethod;
using kim::sdk::HttpRequest;
using kim::sdk::HttpResponse;

class Noticeboard final : public kim::sdk::Plugin {
 public:
  // Registrations only: routes, events, job, migration. No database yet.
  void load(kim::sdk::PluginHost& host) override {
    host_ = &host;
    town_ = host.config().at("town").get<std::string>();
    max_length_ = host.config().at("max_length").get<std::size_t>();
    keep_days_ = host.config().at("keep_days").get<int>();

    // Tables start with the plugin id and an underscore. Never edit a shipped migration: add 2.
    host.add_migration(1, "notices", R"sql(
      CREATE TABLE noticeboard_notices (
        id         INTEGER PRIMARY KEY,
        text       TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );)sql");

    // GET /api/v1/plugins/noticeboard/notices: any signed-in user.
    host.add_route(HttpMethod::kGet, "/notices", [this](const HttpRequest&) { return list(); });
    // POST /api/v1/plugins/noticeboard/notices: only these roles (others get 403).
    host.add_route(
        HttpMethod::kPost, "/notices", [this](const HttpRequest& request) { return add(request); },
        kim::sdk::RouteOptions::for_roles({"admin", "case_manager", "coordinator"}));

    // After commit; identifiers only, never names.
    host.subscribe("case.opened", [this](const kim::sdk::Event&) { ++cases_opened_; });

    // Job "noticeboard.tidy": every interval, or now with POST /api/v1/jobs/noticeboard.tidy/run.
    host.schedule("tidy",
                  std::chrono::milliseconds(host.config().at("tidy_interval_ms").get<int>()),
                  [this] { tidy(); });
  }

  // The migrations have run: the database and publish() work from here on.
  void start() override {
    auto rows = host_->database().query("SELECT count(*) AS n FROM noticeboard_notices");
    host_->logger()->info("ready for {} with {} notices", town_, rows.at(0).at("n").get<int>());
  }

 private:
  HttpResponse list() {
    auto notices =
        host_->database().query("SELECT id, text, created_at FROM noticeboard_notices ORDER BY id");
    return HttpResponse::json(200, {{"town", town_},
                                    {"notices", notices},
                                    {"cases_opened_seen", cases_opened_.load()},
                                    {"tidy_runs", tidy_runs_.load()}});
  }

  HttpResponse add(const HttpRequest& request) {
    // Bounded parse: a deeply nested body cannot overflow the stack. 400 invalid_json otherwise.
    auto parsed = kim::sdk::parse_json_object(request.body);
    if (!parsed) return HttpResponse::error(400, parsed.code, parsed.message);
    const nlohmann::json& body = parsed.value;
    for (const auto& [key, value] : body.items()) {
      if (key != "text") return HttpResponse::error(400, "unknown_field", "unknown field", key);
    }
    const auto text = body.find("text");
    if (text == body.end() || !text->is_string() || text->get<std::string>().empty()) {
      return HttpResponse::error(400, "invalid_field", "must be a non-empty string", "text");
    }
    if (text->get<std::string>().size() > max_length_) {
      return HttpResponse::error(400, "invalid_field",
                                 "must be at most " + std::to_string(max_length_) + " bytes",
                                 "text");
    }
    std::int64_t id = 0;
    host_->database().transaction([&](kim::sdk::Transaction& tx) {
      tx.execute("INSERT INTO noticeboard_notices(text) VALUES (?)", {text->get<std::string>()});
      id = tx.last_insert_rowid();
    });
    kim::sdk::Event event;
    event.type = "noticeboard.posted";  // only "<id>." names
    event.payload = {{"notice_id", id}};
    host_->publish(std::move(event));
    return HttpResponse::json(201, {{"id", id}, {"text", *text}});
  }

  void tidy() {
    host_->database().execute(
        "DELETE FROM noticeboard_notices WHERE created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', "
        "?)",
        {"-" + std::to_string(keep_days_) + " days"});
    ++tidy_runs_;
  }

  kim::sdk::PluginHost* host_ = nullptr;
  std::string town_;
  std::size_t max_length_ = 280;
  int keep_days_ = 30;
  // Handlers and the job run on host threads, concurrently: shared state is atomic.
  std::atomic<int> cases_opened_{0};
  std::atomic<int> tidy_runs_{0};
};

}  // namespace

KIM_PLUGIN(Noticeboard, "noticeboard", "0.3.0", "A town noticeboard (the SDK guide's example)",
           kSchema)
