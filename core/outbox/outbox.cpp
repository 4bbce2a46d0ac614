#include "outbox/outbox.hpp"

#include <algorithm>
#include <chrono>

#include "domain/prelude.hpp"
#include "domain/sql_query.hpp"
#include "domain/validation.hpp"

namespace kim::outbox {

using namespace domain::prelude;

namespace {

constexpr std::size_t kReasonMax = 500;

std::int64_t unix_ms(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

// Everything but the payload: lists and the operator's overview carry no personal data.
const char* const kMessageColumns =
    "seq, id, idempotency_key, partner, connector, type, case_id, subject_id, created_at, state, "
    "attempts, next_attempt_ms, last_error, delivered_at, dead_at, discarded_at, discard_reason";

json message_json(const json& row) {
  json message = row;
  message.erase("seq");
  message.erase("next_attempt_ms");
  message.erase("payload");
  message.erase("created_ms");
  const auto next = row.value("next_attempt_ms", std::int64_t{0});
  message["next_attempt_at"] =
      row["state"] == "pending"
          ? json(domain::Env::format_timestamp(
                std::chrono::system_clock::time_point(std::chrono::milliseconds(next))))
          : json(nullptr);
  return message;
}

json load_message(Connection& db, const std::string& id) {
  auto rows = db.query("SELECT * FROM outbox WHERE id = ?", {id});
  if (rows.empty()) fail(Problem::not_found("outbox message " + id));
  return rows.front();
}

// Back to pending with a fresh attempt budget and age: an operator's re-run starts over.
void requeue(domain::Change& change, const std::string& id) {
  const auto now = unix_ms(change.env.now());
  change.db.execute(
      "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_ms = ?, created_ms = ?, "
      "dead_at = NULL, discarded_at = NULL, discard_reason = NULL WHERE id = ?",
      {now, now, id});
}

}  // namespace

std::optional<std::string> enqueue(domain::Change& change, const std::string& partner,
                                   const std::string& type, const std::string& case_id,
                                   const std::string& subject_id, const std::string& payload) {
  auto rows = change.db.query("SELECT connector FROM partners WHERE slug = ?", {partner});
  if (rows.empty() || !rows[0]["connector"].is_string()) return std::nullopt;
  const std::string id = change.env.new_id("msg");
  const auto now = change.env.now();
  change.db.execute(
      "INSERT INTO outbox(id, idempotency_key, partner, connector, type, case_id, subject_id, "
      "payload, created_at, created_ms, next_attempt_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
      {id, "kim-" + id, partner, rows[0]["connector"].get<std::string>(), type, case_id, subject_id,
       payload, domain::Env::format_timestamp(now), unix_ms(now), unix_ms(now)});
  return id;
}

std::vector<std::string> instance_names(const std::vector<config::ConnectorInstanceConfig>& list) {
  std::vector<std::string> names;
  for (const auto& instance : list)
    names.push_back(instance.name);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> OutboxService::instance_names() const {
  return outbox::instance_names(instances_);
}

Result<Reply> OutboxService::connectors(const Context& ctx) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    const auto now = tx_.env().now();
    const std::string hour_ago = domain::Env::format_timestamp(now - std::chrono::hours(1));
    json items = json::array();
    for (const auto& instance : instances_) {
      auto partners =
          db.query("SELECT slug FROM partners WHERE connector = ? ORDER BY slug", {instance.name});
      json slugs = json::array();
      for (const auto& row : partners)
        slugs.push_back(row["slug"]);
      auto figures =
          db.query(
                "SELECT sum(state IN ('pending', 'in_flight')) AS queued, "
                "min(CASE WHEN state IN ('pending', 'in_flight') THEN created_ms END) AS oldest, "
                "sum(state = 'dead') AS dead, "
                "sum(state = 'delivered' AND delivered_at >= ?) AS delivered_last_hour, "
                "max(delivered_at) AS last_success FROM outbox WHERE connector = ?",
                {hour_ago, instance.name})
              .at(0);
      auto last_error = db.query(
          "SELECT a.at, a.error FROM outbox_attempts a JOIN outbox o ON o.id = a.message_id "
          "WHERE o.connector = ? AND a.result != 'delivered' ORDER BY a.at DESC LIMIT 1",
          {instance.name});
      const auto status = status_of_ ? status_of_(instance.name) : InstanceStatus{};
      json item = {
          {"name", instance.name},
          {"type", instance.type},
          {"description", instance.description},
          {"partners", slugs},
          {"breaker",
           {{"state", status.breaker},
            {"consecutive_failures", status.consecutive_failures},
            {"open_until", status.open_until ? json(*status.open_until) : json(nullptr)}}},
          {"queue_depth", figures["queued"].is_null() ? json(0) : figures["queued"]},
          {"oldest_pending_age_seconds",
           figures["oldest"].is_null()
               ? json(nullptr)
               : json((unix_ms(now) - figures["oldest"].get<std::int64_t>()) / 1000)},
          {"delivered_last_hour",
           figures["delivered_last_hour"].is_null() ? json(0) : figures["delivered_last_hour"]},
          {"last_success", figures["last_success"]},
          {"last_error", last_error.empty() ? json(nullptr) : last_error[0]},
          {"dead_letters", figures["dead"].is_null() ? json(0) : figures["dead"]}};
      items.push_back(item);
    }
    return Reply{200, {{"items", items}}, std::nullopt};
  });
}

Result<Reply> OutboxService::list(const Context& ctx, const OutboxFilter& filter) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    domain::SqlQuery query(std::string("SELECT ") + kMessageColumns + " FROM outbox WHERE seq > ?",
                           {filter.after});
    query.and_if(filter.state, "state = ?")
        .and_if(filter.partner, "partner = ?")
        .and_if(filter.case_id, "case_id = ?")
        .and_if(filter.connector, "connector = ?")
        .and_if(filter.type, "type = ?")
        .and_if(filter.from, "created_at >= ?")
        .and_if(filter.to, "created_at <= ?");
    auto page = query.page(db, "seq", filter.limit);
    json items = json::array();
    for (const auto& row : page.rows)
      items.push_back(message_json(row));
    json body = {{"items", items}};
    if (page.next_cursor) body["next_cursor"] = *page.next_cursor;
    return Reply{200, body, std::nullopt};
  });
}

Result<Reply> OutboxService::get(const Context& ctx, const std::string& id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    auto row = load_message(db, id);
    json body = message_json(row);
    body["payload"] = json::parse(row["payload"].get<std::string>());
    body["attempts_made"] = db.query(
        "SELECT attempt, at, result, error FROM outbox_attempts WHERE message_id = ? ORDER BY "
        "attempt",
        {id});
    // The payload is what the partner receives about a person: reading it is audited.
    audit.push_back({"read", "outbox_message", id, row["case_id"]});
    return Reply{200, body, std::nullopt};
  });
}

Result<Reply> OutboxService::retry(const Context& ctx, const std::string& id) {
  auto result = tx_.write(ctx, [&](domain::Change& change) {
    auto row = load_message(change.db, id);
    const std::string state = row["state"];
    if (state != "dead" && state != "discarded") {
      fail(Problem{409, "not_dead",
                   "only dead or discarded messages can be re-run; this one is " + state, "state",
                   json{{"state", state}}});
    }
    requeue(change, id);
    change.audit("retry", "outbox_message", id, row["case_id"]);
    return Reply{200, message_json(load_message(change.db, id)), std::nullopt};
  });
  if (result) wake();
  return result;
}

Result<Reply> OutboxService::discard(const Context& ctx, const std::string& id, const json& body) {
  return tx_.write(ctx, [&](domain::Change& change) {
    domain::FieldReader in(body);
    auto reason = in.text("reason", kReasonMax);
    in.finish();
    domain::check(in);
    auto row = load_message(change.db, id);
    const std::string state = row["state"];
    if (state != "dead" && state != "pending") {
      fail(Problem{409, "cannot_discard",
                   "only dead or pending messages can be discarded; this one is " + state, "state",
                   json{{"state", state}}});
    }
    change.db.execute(
        "UPDATE outbox SET state = 'discarded', discarded_at = ?, discard_reason = ? WHERE id = ?",
        {change.env.timestamp(), reason, id});
    change.audit("discard", "outbox_message", id, row["case_id"]);
    return Reply{200, message_json(load_message(change.db, id)), std::nullopt};
  });
}

Result<Reply> OutboxService::retry_dead_letters(const Context& ctx, const json& body) {
  auto result = tx_.write(ctx, [&](domain::Change& change) {
    domain::FieldReader in(body);
    auto partner = in.optional_line("partner", 63);
    auto type = in.optional_line("type", 100);
    auto from = in.optional_line("from", 40);
    auto to = in.optional_line("to", 40);
    in.finish();
    domain::check(in);
    domain::SqlQuery query("SELECT id, case_id FROM outbox WHERE state = 'dead'");
    query.and_if(partner, "partner = ?")
        .and_if(type, "type = ?")
        .and_if(from, "created_at >= ?")
        .and_if(to, "created_at <= ?");
    json ids = json::array();
    for (const auto& row : query.run(change.db, "seq")) {
      requeue(change, row["id"]);
      change.audit("retry", "outbox_message", row["id"], row["case_id"]);
      ids.push_back(row["id"]);
    }
    // Re-running nothing is an answer too; the request itself is on the record.
    if (ids.empty()) change.audit("retry", "outbox_dead_letters", "none");
    return Reply{200, {{"requeued", ids.size()}, {"ids", ids}}, std::nullopt};
  });
  if (result) wake();
  return result;
}

}  // namespace kim::outbox
