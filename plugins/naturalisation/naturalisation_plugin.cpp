// The naturalisation and residence office (Baustein 3): advisory pre-checks of § 10 StAG and
// §§ 25a, 25b AufenthG by dated rule sets (rules/*.json, embedded at build time), a register of
// naturalisation applications with its backlog figures, and a hint for case managers whether a
// referral to the office may be worth it. Written against the public SDK only.
#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "kim/sdk/sdk.hpp"
#include "rules.hpp"

namespace {

using kim::sdk::HttpMethod;
using kim::sdk::HttpRequest;
using kim::sdk::HttpResponse;
using kim::sdk::RouteOptions;
using kim_naturalisation::Date;
using kim_naturalisation::parse_date;
using kim_naturalisation::to_string;
using nlohmann::json;

constexpr const char* kConfigSchema = R"json({
  "type": "object",
  "properties": {
    "default_page_size": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50, "description": "Applications per page of GET /applications without a limit"},
    "age_bands_days": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 36500}, "minItems": 1, "maxItems": 10, "uniqueItems": true, "default": [90, 180, 365, 730], "description": "Upper bounds (days since receipt) of the backlog's age bands, ascending; the last band is open"}
  }
})json";

constexpr const char* kObjectType = "naturalisation.application";

// The register's statuses and the transitions the office works by. Terminal: the last three.
constexpr std::array<const char*, 8> kStatuses = {"received",
                                                  "documents_requested",
                                                  "documents_complete",
                                                  "checks_running",
                                                  "decision_pending",
                                                  "naturalised",
                                                  "refused",
                                                  "withdrawn"};

std::vector<std::string> next_statuses(const std::string& from) {
  if (from == "received") return {"documents_requested", "documents_complete", "withdrawn"};
  if (from == "documents_requested") return {"documents_complete", "withdrawn"};
  if (from == "documents_complete") return {"documents_requested", "checks_running", "withdrawn"};
  if (from == "checks_running") return {"documents_requested", "decision_pending", "withdrawn"};
  if (from == "decision_pending") return {"naturalised", "refused", "withdrawn"};
  return {};  // naturalised, refused, withdrawn: closed
}

bool is_open(const std::string& status) {
  return !next_statuses(status).empty();
}
bool is_decision(const std::string& status) {
  return status == "naturalised" || status == "refused";
}

bool valid_case_id(const std::string& id) {
  if (id.size() != 37 || id.rfind("case_", 0) != 0) return false;
  return std::all_of(id.begin() + 5, id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

HttpResponse problem(const kim_naturalisation::InputProblem& p) {
  return HttpResponse::error(400, p.code, p.message, p.field);
}

class NaturalisationPlugin final : public kim::sdk::Plugin {
 public:
  void load(kim::sdk::PluginHost& host) override {
    host_ = &host;
    // A broken rule file refuses the plugin at start with the file and the problem named.
    rules_ = std::make_unique<kim_naturalisation::RuleBook>(kim::sdk::embedded_files());
    page_size_ = host.config().at("default_page_size").get<int>();
    bands_ = host.config().at("age_bands_days").get<std::vector<int>>();
    if (!std::is_sorted(bands_.begin(), bands_.end()))
      throw std::invalid_argument("age_bands_days must be ascending");

    host.add_migration(1, "naturalisation applications and their status changes", R"sql(
      CREATE TABLE naturalisation_applications (
        id                  INTEGER PRIMARY KEY,
        status              TEXT NOT NULL CHECK (status IN ('received', 'documents_requested',
                              'documents_complete', 'checks_running', 'decision_pending',
                              'naturalised', 'refused', 'withdrawn')),
        received_on         TEXT NOT NULL,
        decided_on          TEXT,
        responsible_officer TEXT NOT NULL,
        external_reference  TEXT,
        case_id             TEXT,
        created_by          INTEGER NOT NULL,
        created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE INDEX naturalisation_applications_status ON naturalisation_applications(status);
      CREATE TABLE naturalisation_status_changes (
        id             INTEGER PRIMARY KEY,
        application_id INTEGER NOT NULL REFERENCES naturalisation_applications(id),
        from_status    TEXT,
        to_status      TEXT NOT NULL,
        changed_on     TEXT NOT NULL,
        changed_by     INTEGER NOT NULL,
        created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );)sql");
    // The XEinbürgerung reference identifies the applicant: cleared when the linked case is
    // anonymised after its retention period or the person is erased. Status and dates stay, so
    // the backlog figures stay right.
    host.declare_personal_data(
        {"naturalisation_applications", "case_id", "case", {"external_reference"}}, nullptr);

    const auto checkers = RouteOptions::for_roles({"authority_officer", "case_manager"});
    host.add_route(
        HttpMethod::kPost, "/pre-checks",
        [this](const HttpRequest& request) { return pre_check("stag-10", request); }, checkers);
    host.add_route(
        HttpMethod::kPost, "/residence-pre-checks/{paragraph}",
        [this](const HttpRequest& request) {
          const std::string paragraph = request.path_params.at("paragraph");
          if (paragraph != "25a" && paragraph != "25b")
            return HttpResponse::error(404, "not_found", "no residence pre-check " + paragraph);
          return pre_check("aufenthg-" + paragraph, request);
        },
        checkers);
    host.add_route(
        HttpMethod::kGet, "/rule-sets", [this](const HttpRequest&) { return rule_sets(); },
        checkers);

    const auto officers = RouteOptions::for_roles({"authority_officer"});
    host.add_route(
        HttpMethod::kPost, "/applications",
        [this](const HttpRequest& request) { return create(request); }, officers);
    host.add_route(
        HttpMethod::kGet, "/applications",
        [this](const HttpRequest& request) { return list(request); }, officers);
    host.add_route(
        HttpMethod::kGet, "/applications/{id}",
        [this](const HttpRequest& request) { return get(request); }, officers);
    host.add_route(
        HttpMethod::kPost, "/applications/{id}/status",
        [this](const HttpRequest& request) { return change_status(request); }, officers);
    host.add_route(
        HttpMethod::kGet, "/backlog",
        [this](const HttpRequest& request) { return backlog(request); },
        RouteOptions::for_roles({"authority_officer", "coordinator"}));
    host.add_route(
        HttpMethod::kGet, "/cases/{id}/hint",
        [this](const HttpRequest& request) { return hint(request); },
        RouteOptions::for_roles({"case_manager"}));
  }

  void start() override {
    std::size_t sets = 0;
    for (const auto& check : rules_->checks())
      sets += rules_->rule_sets(check).size();
    host_->logger()->info("ready with {} rule sets", sets);
  }

 private:
  // ---- pre-checks: nothing is stored, nothing audited (no person is named) ----

  HttpResponse pre_check(const std::string& check, const HttpRequest& request) {
    auto parsed = kim::sdk::parse_json_object(request.body);
    if (!parsed) return HttpResponse::error(400, parsed.code, parsed.message);
    kim_naturalisation::Facts facts;
    if (auto refused = rules_->read_facts(check, parsed.value, kim_naturalisation::today(), facts))
      return problem(*refused);
    return HttpResponse::json(200, rules_->evaluate(check, facts));
  }

  HttpResponse rule_sets() {
    json checks = json::object();
    for (const auto& check : rules_->checks()) {
      for (const auto& set : rules_->rule_sets(check)) {
        checks[check].push_back(
            {{"id", set.data["id"]},
             {"file", set.file},
             {"title", set.data["title"]},
             {"legal_reference", set.data["legal_reference"]},
             {"valid_from", to_string(set.valid_from)},
             {"valid_until", set.valid_until ? json(to_string(*set.valid_until)) : json()},
             {"facts", set.data["facts"]},
             {"criteria", set.data["criteria"]}});
      }
    }
    return HttpResponse::json(200, {{"advisory", true}, {"checks", checks}});
  }

  // ---- the register: every read and write audited with it, under the caller ----

  static json application_json(const json& row) {
    return {{"id", row["id"]},
            {"status", row["status"]},
            {"next_statuses", next_statuses(row["status"].get<std::string>())},
            {"received_on", row["received_on"]},
            {"decided_on", row["decided_on"]},
            {"responsible_officer", row["responsible_officer"]},
            {"external_reference", row["external_reference"]},
            {"case_id", row["case_id"]},
            {"created_at", row["created_at"]},
            {"updated_at", row["updated_at"]}};
  }

  static constexpr const char* kSelect =
      "SELECT id, status, received_on, decided_on, responsible_officer, external_reference, "
      "case_id, created_at, updated_at FROM naturalisation_applications ";

  HttpResponse create(const HttpRequest& request) {
    auto parsed = kim::sdk::parse_json_object(request.body);
    if (!parsed) return HttpResponse::error(400, parsed.code, parsed.message);
    const json& body = parsed.value;
    const Date today = kim_naturalisation::today();
    std::string received = to_string(today), officer = request.principal->user_name;
    kim::sdk::SqlValue reference = nullptr, case_id = nullptr;
    for (const auto& [key, value] : body.items()) {
      if (key == "received_on") {
        const auto date = value.is_string() ? parse_date(value.get<std::string>()) : std::nullopt;
        if (!date)
          return HttpResponse::error(400, "invalid_field", "must be a date YYYY-MM-DD", key);
        if (*date > today)
          return HttpResponse::error(400, "invalid_field", "must not be in the future", key);
        received = to_string(*date);
      } else if (key == "responsible_officer") {
        if (!value.is_string() || value.get<std::string>().empty() ||
            value.get<std::string>().size() > 100)
          return HttpResponse::error(400, "invalid_field", "must be a string of 1-100 bytes", key);
        officer = value.get<std::string>();
      } else if (key == "external_reference") {
        // The XEinbürgerung reference of the state's online service; not imported here.
        if (value.is_null()) continue;
        if (!value.is_string() || value.get<std::string>().empty() ||
            value.get<std::string>().size() > 100)
          return HttpResponse::error(400, "invalid_field",
                                     "must be a string of 1-100 bytes or null", key);
        reference = value.get<std::string>();
      } else if (key == "case_id") {
        if (value.is_null()) continue;
        if (!value.is_string() || !valid_case_id(value.get<std::string>()))
          return HttpResponse::error(400, "invalid_field",
                                     "must be a case id case_<32 hex> or null", key);
        case_id = value.get<std::string>();
      } else {
        return HttpResponse::error(400, "unknown_field", "unknown field", key);
      }
    }
    json created;
    host_->database().transaction([&](kim::sdk::Transaction& tx) {
      tx.execute(
          "INSERT INTO naturalisation_applications(status, received_on, responsible_officer, "
          "external_reference, case_id, created_by) VALUES ('received', ?, ?, ?, ?, ?)",
          {received, officer, reference, case_id, request.principal->user_id});
      const auto id = tx.last_insert_rowid();
      tx.execute(
          "INSERT INTO naturalisation_status_changes(application_id, from_status, to_status, "
          "changed_on, changed_by) VALUES (?, NULL, 'received', ?, ?)",
          {id, received, request.principal->user_id});
      tx.audit(request, "create", kObjectType, std::to_string(id));
      created = tx.query(std::string(kSelect) + "WHERE id = ?", {id}).at(0);
    });
    return HttpResponse::json(201, application_json(created));
  }

  static std::optional<std::int64_t> id_of(const HttpRequest& request) {
    const std::string& text = request.path_params.at("id");
    if (text.empty() || text.size() > 18 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    return std::stoll(text);
  }

  HttpResponse get(const HttpRequest& request) {
    const auto id = id_of(request);
    if (!id) return HttpResponse::error(404, "not_found", "no such application");
    json found;
    host_->database().transaction([&](kim::sdk::Transaction& tx) {
      auto rows = tx.query(std::string(kSelect) + "WHERE id = ?", {*id});
      if (rows.empty()) return;
      found = application_json(rows.at(0));
      found["history"] = tx.query(
          "SELECT from_status, to_status, changed_on, changed_by, created_at FROM "
          "naturalisation_status_changes WHERE application_id = ? ORDER BY id",
          {*id});
      tx.audit(request, "read", kObjectType, std::to_string(*id));
    });
    if (found.is_null()) return HttpResponse::error(404, "not_found", "no such application");
    return HttpResponse::json(200, found);
  }

  HttpResponse list(const HttpRequest& request) {
    std::int64_t limit = page_size_, offset = 0;
    for (const auto& [key, value] : request.query) {
      if (key != "limit" && key != "offset" && key != "status")
        return HttpResponse::error(400, "unknown_parameter", "unknown query parameter", key);
    }
    auto number = [&](const char* key, std::int64_t min, std::int64_t max,
                      std::int64_t& out) -> bool {
      auto it = request.query.find(key);
      if (it == request.query.end()) return true;
      const std::string& text = it->second;
      if (text.empty() || text.size() > 9 ||
          !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
      out = std::stoll(text);
      return out >= min && out <= max;
    };
    if (!number("limit", 1, 500, limit))
      return HttpResponse::error(400, "invalid_parameter", "must be an integer 1-500", "limit");
    if (!number("offset", 0, 100000000, offset))
      return HttpResponse::error(400, "invalid_parameter", "must be a non-negative integer",
                                 "offset");
    std::string where;
    std::vector<kim::sdk::SqlValue> params;
    if (auto status = request.query.find("status"); status != request.query.end()) {
      if (std::find(kStatuses.begin(), kStatuses.end(), status->second) == kStatuses.end())
        return HttpResponse::error(400, "invalid_parameter", "unknown status", "status");
      where = "WHERE status = ? ";
      params.push_back(status->second);
    }
    json page = {{"items", json::array()}, {"limit", limit}, {"offset", offset}};
    host_->database().transaction([&](kim::sdk::Transaction& tx) {
      page["total"] =
          tx.query("SELECT count(*) AS n FROM naturalisation_applications " + where, params)
              .at(0)
              .at("n");
      auto paged = params;
      paged.push_back(limit);
      paged.push_back(offset);
      for (const auto& row :
           tx.query(std::string(kSelect) + where + "ORDER BY id LIMIT ? OFFSET ?", paged)) {
        // Each application shown is a read of it.
        tx.audit(request, "read", kObjectType, std::to_string(row["id"].get<std::int64_t>()));
        page["items"].push_back(application_json(row));
      }
    });
    return HttpResponse::json(200, page);
  }

  HttpResponse change_status(const HttpRequest& request) {
    const auto id = id_of(request);
    if (!id) return HttpResponse::error(404, "not_found", "no such application");
    auto parsed = kim::sdk::parse_json_object(request.body);
    if (!parsed) return HttpResponse::error(400, parsed.code, parsed.message);
    const json& body = parsed.value;
    const Date today = kim_naturalisation::today();
    std::string status;
    Date on = today;
    for (const auto& [key, value] : body.items()) {
      if (key == "status") {
        if (!value.is_string() || std::find(kStatuses.begin(), kStatuses.end(),
                                            value.get<std::string>()) == kStatuses.end())
          return HttpResponse::error(400, "invalid_field",
                                     "must be one of received, documents_requested, "
                                     "documents_complete, checks_running, decision_pending, "
                                     "naturalised, refused, withdrawn",
                                     key);
        status = value.get<std::string>();
      } else if (key == "on") {
        const auto date = value.is_string() ? parse_date(value.get<std::string>()) : std::nullopt;
        if (!date)
          return HttpResponse::error(400, "invalid_field", "must be a date YYYY-MM-DD", key);
        if (*date > today)
          return HttpResponse::error(400, "invalid_field", "must not be in the future", key);
        on = *date;
      } else {
        return HttpResponse::error(400, "unknown_field", "unknown field", key);
      }
    }
    if (status.empty()) return HttpResponse::error(400, "invalid_field", "is required", "status");

    // Checked and written in one transaction: a concurrent change cannot slip in between.
    std::optional<HttpResponse> refused;
    json changed;
    host_->database().transaction([&](kim::sdk::Transaction& tx) {
      auto rows = tx.query(std::string(kSelect) + "WHERE id = ?", {*id});
      if (rows.empty()) {
        refused = HttpResponse::error(404, "not_found", "no such application");
        return;
      }
      const std::string from = rows[0]["status"];
      const auto allowed = next_statuses(from);
      if (std::find(allowed.begin(), allowed.end(), status) == allowed.end()) {
        std::string list;
        for (const auto& next : allowed)
          list += (list.empty() ? "" : ", ") + next;
        refused =
            HttpResponse::error(409, "invalid_transition",
                                "cannot change from " + from + " to " + status +
                                    (allowed.empty() ? " (closed)" : " (allowed: " + list + ")"),
                                "status");
        return;
      }
      if (to_string(on) < rows[0]["received_on"].get<std::string>()) {
        refused = HttpResponse::error(400, "invalid_field", "must not be before received_on", "on");
        return;
      }
      const kim::sdk::SqlValue decided =
          is_open(status) ? kim::sdk::SqlValue(nullptr) : kim::sdk::SqlValue(to_string(on));
      tx.execute(
          "UPDATE naturalisation_applications SET status = ?, decided_on = ?, updated_at = "
          "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ? AND status = ?",
          {status, decided, *id, from});
      tx.execute(
          "INSERT INTO naturalisation_status_changes(application_id, from_status, to_status, "
          "changed_on, changed_by) VALUES (?, ?, ?, ?, ?)",
          {*id, from, status, to_string(on), request.principal->user_id});
      tx.audit(request, "update", kObjectType, std::to_string(*id));
      changed = application_json(tx.query(std::string(kSelect) + "WHERE id = ?", {*id}).at(0));
    });
    if (refused) return *refused;
    return HttpResponse::json(200, changed);
  }

  // ---- backlog: aggregates only, no application or person is named ----

  HttpResponse backlog(const HttpRequest& request) {
    Date as_of = kim_naturalisation::today();
    for (const auto& [key, value] : request.query) {
      if (key != "as_of")
        return HttpResponse::error(400, "unknown_parameter", "unknown query parameter", key);
      const auto date = parse_date(value);
      if (!date)
        return HttpResponse::error(400, "invalid_parameter", "must be a date YYYY-MM-DD", key);
      as_of = *date;
    }
    const auto rows = host_->database().query(
        "SELECT status, received_on, decided_on FROM naturalisation_applications");
    const long today = kim_naturalisation::days_from_epoch(as_of);
    json by_status = json::object();
    for (const char* status : kStatuses)
      if (is_open(status)) by_status[status] = 0;
    std::vector<int> band_counts(bands_.size() + 1, 0);
    std::map<std::string, json> months;
    auto month = [&](const std::string& key) -> json& {
      auto& entry = months[key];
      if (entry.is_null())
        entry = {{"month", key},     {"received", 0}, {"decided", 0},
                 {"naturalised", 0}, {"refused", 0},  {"withdrawn", 0}};
      return entry;
    };
    std::optional<long> oldest;
    std::vector<long> processing;
    int open_total = 0;
    for (const auto& row : rows) {
      const std::string status = row["status"];
      const std::string received_text = row["received_on"];
      const auto received = parse_date(received_text);
      if (!received) continue;
      month(received_text.substr(0, 7))["received"] =
          month(received_text.substr(0, 7))["received"].get<int>() + 1;
      if (is_open(status)) {
        ++open_total;
        by_status[status] = by_status[status].get<int>() + 1;
        const long age = std::max(0L, today - kim_naturalisation::days_from_epoch(*received));
        const auto band = std::lower_bound(bands_.begin(), bands_.end(), age) - bands_.begin();
        ++band_counts[static_cast<std::size_t>(band)];
        if (!oldest || age > *oldest) oldest = age;
        continue;
      }
      if (!row["decided_on"].is_string()) continue;
      const std::string decided_text = row["decided_on"];
      const auto decided = parse_date(decided_text);
      if (!decided) continue;
      json& entry = month(decided_text.substr(0, 7));
      entry[status] = entry[status].get<int>() + 1;
      if (is_decision(status)) {
        entry["decided"] = entry["decided"].get<int>() + 1;
        processing.push_back(kim_naturalisation::days_from_epoch(*decided) -
                             kim_naturalisation::days_from_epoch(*received));
      }
    }
    json bands = json::array();
    for (std::size_t i = 0; i <= bands_.size(); ++i) {
      const int from = i == 0 ? 0 : bands_[i - 1] + 1;
      json band = {{"from_days", from},
                   {"to_days", i < bands_.size() ? json(bands_[i]) : json()},
                   {"count", band_counts[i]}};
      band["band"] = i < bands_.size()
                         ? std::to_string(from) + "-" + std::to_string(bands_[i]) + " days"
                         : "over " + std::to_string(bands_.back()) + " days";
      bands.push_back(band);
    }
    json median = nullptr;
    if (!processing.empty()) {
      std::sort(processing.begin(), processing.end());
      const std::size_t n = processing.size();
      median =
          n % 2 ? json(processing[n / 2]) : json((processing[n / 2 - 1] + processing[n / 2]) / 2.0);
    }
    json per_month = json::array();
    for (auto& [key, entry] : months)
      per_month.push_back(entry);
    return HttpResponse::json(200, {{"as_of", to_string(as_of)},
                                    {"open_total", open_total},
                                    {"open_by_status", by_status},
                                    {"open_by_age_band", bands},
                                    {"oldest_open_days", oldest ? json(*oldest) : json()},
                                    {"per_month", per_month},
                                    {"decided_total", processing.size()},
                                    {"median_processing_days", median}});
  }

  // ---- hint for a case manager: the case and person as the caller may see them ----

  HttpResponse hint(const HttpRequest& request) {
    const std::string case_id = request.path_params.at("id");
    // Path parameters arrive decoded: "case_x%2Fnotes" must not become another path of the host.
    if (!valid_case_id(case_id)) return HttpResponse::error(404, "not_found", "no such case");
    auto found = host_->read_api(request, "/api/v1/cases/" + case_id);
    if (found.status != 200)
      return found;  // 404 stays 404: nothing of a case the caller may not see
    auto the_case = kim::sdk::parse_json_object(found.body);
    if (!the_case || !the_case.value.contains("person"))
      return HttpResponse::error(502, "bad_gateway", "unexpected answer for the case");
    const std::string person_id = the_case.value["person"].value("id", "");
    auto person_answer = host_->read_api(request, "/api/v1/persons/" + person_id);
    if (person_answer.status != 200) return person_answer;
    auto person = kim::sdk::parse_json_object(person_answer.body);
    if (!person) return HttpResponse::error(502, "bad_gateway", "unexpected answer for the person");
    const json& p = person.value;
    const Date today = kim_naturalisation::today();
    auto date_or_null = [&](const char* key) -> json {
      if (!p.contains(key) || !p[key].is_string()) return nullptr;
      const auto date = parse_date(p[key].get<std::string>());
      return date && *date <= today ? json(to_string(*date)) : json();
    };
    const std::string status = p.value("residence_status", "");
    // What the case holds: the arrival date stands in for the start of residence (lawful
    // residence may have begun later; the office checks it), the date of birth for age limits.
    // Levels of German and the other facts are not in a case: they stay unknown.
    json checks = json::array();
    auto run = [&](const std::string& check, json body) {
      kim_naturalisation::Facts facts;
      if (rules_->read_facts(check, body, today, facts)) return;
      auto answer = rules_->evaluate(check, facts);
      json unknown = json::array(), not_met = json::array();
      for (const auto& criterion : answer["criteria"]) {
        if (criterion["result"] == "unknown") unknown.push_back(criterion["id"]);
        if (criterion["result"] == "not_met") not_met.push_back(criterion["id"]);
      }
      checks.push_back({{"check", check},
                        {"rule_set", answer["rule_set"]["id"]},
                        {"result", answer["result"]},
                        {"criteria_not_met", not_met},
                        {"criteria_unknown", unknown},
                        {"earliest_residence_date", answer["earliest_residence_date"]},
                        {"facts_used", body}});
    };
    run("stag-10", {{"lawful_residence_since", date_or_null("arrival_date")}});
    if (status == "duldung") {
      run("aufenthg-25a", {{"residence_since", date_or_null("arrival_date")},
                           {"date_of_birth", date_or_null("date_of_birth")}});
      run("aufenthg-25b", {{"residence_since", date_or_null("arrival_date")}, {"tolerated", true}});
    }
    // Worth a look when no check already fails on what the case holds.
    bool worth = false;
    for (const auto& check : checks)
      worth = worth || check["result"] != "not_yet";
    return HttpResponse::json(
        200, {{"advisory", true},
              {"case_id", case_id},
              {"referral_worth_considering", worth},
              {"checks", checks},
              {"notice",
               "Advisory hint from the case's arrival date and residence status only; the "
               "criteria listed as unknown need the person's documents. A referral to the "
               "naturalisation office goes the normal way (consent and agreements apply)."}});
  }

  kim::sdk::PluginHost* host_ = nullptr;
  std::unique_ptr<kim_naturalisation::RuleBook> rules_;  // read-only after load(): thread-safe
  std::int64_t page_size_ = 50;
  std::vector<int> bands_;
};

}  // namespace

KIM_PLUGIN(NaturalisationPlugin, "naturalisation", "1.0.0",
           "Naturalisation and residence office: dated pre-checks (§ 10 StAG, §§ 25a/25b "
           "AufenthG), applications register, backlog, case hints",
           kConfigSchema)
