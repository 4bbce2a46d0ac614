#include "audit/security_log.hpp"
#include "steering/internal.hpp"
#include "steering/steering.hpp"

namespace kim::steering {

namespace {

const domain::Vocabulary kActionStatuses = {"open", "done", "dropped"};

// An open action item is done or dropped; both are final.
domain::Vocabulary next_action_statuses(const std::string& from) {
  if (from == "open") return {"done", "dropped"};
  return {};
}

// Challenges still being worked on (assigned to a body, at a proposal, escalated).
const char* const kOpenAssigned = "status IN ('assigned', 'proposal', 'escalated')";

// The agenda items or decisions of a meeting in their order (`table`, `text_column`: fixed names).
json items_of(Connection& db, const std::string& table, const std::string& text_column,
              const std::string& meeting_id) {
  json items = json::array();
  for (const auto& item : db.query("SELECT id, position, " + text_column + ", challenge_id FROM " +
                                       table + " WHERE meeting_id = ? ORDER BY position",
                                   {meeting_id})) {
    items.push_back(item);
  }
  return items;
}

json meeting_json(Connection& db, const json& row, const std::string& today) {
  const std::string id = row["id"];
  json agenda = items_of(db, "meeting_agenda_items", "title", id);
  json decisions = items_of(db, "meeting_decisions", "text", id);
  json actions = json::array();
  for (auto item : db.query(
           "SELECT a.id, a.title, u.name AS owner, a.due_on, a.status, a.created_at, a.updated_at "
           "FROM action_items a JOIN users u ON u.id = a.owner_id WHERE a.meeting_id = ? ORDER BY "
           "a.due_on, a.created_at, a.id",
           {id})) {
    item["overdue"] = item["status"] == "open" && item["due_on"].get<std::string>() < today;
    item["allowed_transitions"] = next_action_statuses(item["status"]);
    actions.push_back(item);
  }
  return {{"id", id},
          {"body", body_ref(db, row["body_id"].get<std::string>())},
          {"date", row["held_on"]},
          {"title", row["title"]},
          {"agenda", agenda},
          {"minutes", row["minutes"]},
          {"decisions", decisions},
          {"action_items", actions},
          {"created_at", row["created_at"]},
          {"updated_at", row["updated_at"]}};
}

json find_meeting(Connection& db, const std::string& id) {
  auto rows = db.query("SELECT * FROM meetings WHERE id = ?", {id});
  return rows.empty() ? json(nullptr) : rows.front();
}

// The meeting and its body, checked like the body: 404 unseen, 403 read-only for writes.
json load_meeting(Connection& db, const Context& ctx, const std::string& id, bool write) {
  auto row = find_meeting(db, id);
  if (row.is_null()) {
    audit::SecurityLog::note(ctx.actor, "meeting", id, "");
    fail(Problem::not_found("meeting " + id));
  }
  try {
    load_body(db, ctx, row["body_id"], write);
  } catch (const domain::ProblemError& e) {
    // Whatever hides the body hides its meetings: the same 404 names the meeting.
    if (e.problem().status == 404) fail(Problem::not_found("meeting " + id));
    throw;
  }
  return row;
}

// A field given with a value: absent and null both mean "not given".
bool given(const json& body, const char* key) {
  return body.contains(key) && !body[key].is_null();
}

bool challenge_exists(Connection& db, const std::string& id) {
  return !db.query("SELECT 1 FROM challenges WHERE id = ?", {id}).empty();
}

// An agenda or decisions list: [{"title"|"text", "challenge_id"?}], replacing the old one.
struct Item {
  std::string text;
  std::optional<std::string> challenge_id;
};
std::vector<Item> read_items(Connection& db, FieldReader& in, const char* key, const char* text_key,
                             std::size_t max_length) {
  std::vector<Item> items;
  in.objects(key, 100, [&](FieldReader& item) {
    Item read;
    read.text = std::string(text_key) == "title" ? item.line(text_key, max_length)
                                                 : item.text(text_key, max_length);
    read.challenge_id = item.optional_line("challenge_id", 100);
    if (!item.problem() && read.challenge_id && !challenge_exists(db, *read.challenge_id)) {
      item.fail("challenge_id", "is not a challenge");
    }
    items.push_back(read);
  });
  return items;
}

// Replaces the agenda items or decisions of a meeting (`table`, `text_column`: fixed names).
void replace_items(Change& change, const std::string& table, const std::string& text_column,
                   const std::string& meeting_id, const std::vector<Item>& items) {
  change.db.execute("DELETE FROM " + table + " WHERE meeting_id = ?", {meeting_id});
  for (std::size_t i = 0; i < items.size(); ++i) {
    change.db.execute("INSERT INTO " + table + "(id, meeting_id, position, " + text_column +
                          ", challenge_id) VALUES (?,?,?,?,?)",
                      {change.env.new_id("item"), meeting_id, static_cast<std::int64_t>(i + 1),
                       items[i].text, optional_value(items[i].challenge_id)});
  }
}

// Appends the body's open challenges that are not on the agenda yet; returns how many.
int prefill(Change& change, const std::string& meeting_id, const std::string& body_id) {
  Connection& db = change.db;
  auto open = db.query(
      std::string("SELECT id, topic, town FROM challenges WHERE body_id = ? AND ") + kOpenAssigned +
          " AND id NOT IN (SELECT challenge_id FROM meeting_agenda_items WHERE "
          "meeting_id = ? AND challenge_id IS NOT NULL) ORDER BY created_at, id",
      {body_id, meeting_id});
  std::int64_t position =
      db.query(
            "SELECT coalesce(max(position), 0) AS n FROM meeting_agenda_items WHERE "
            "meeting_id = ?",
            {meeting_id})
          .at(0)["n"];
  for (const auto& challenge : open) {
    const std::string title = "Challenge: " + challenge["topic"].get<std::string>() + " (" +
                              challenge["town"].get<std::string>() + ")";
    db.execute(
        "INSERT INTO meeting_agenda_items(id, meeting_id, position, title, challenge_id) VALUES "
        "(?,?,?,?,?)",
        {change.env.new_id("agi"), meeting_id, ++position, title,
         challenge["id"].get<std::string>()});
  }
  return static_cast<int>(open.size());
}

}  // namespace

Result<Reply> SteeringService::list_meetings(const Context& ctx,
                                             const std::optional<std::string>& body) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    if (body) load_body(db, ctx, *body, false);
    std::vector<SqlValue> params;
    std::string sql = "SELECT * FROM meetings";
    if (body) {
      sql += " WHERE body_id = ?";
      params.emplace_back(*body);
    }
    const std::string today = tx_.env().today();
    json items = json::array();
    for (const auto& row : db.query(sql + " ORDER BY held_on DESC, id", params)) {
      auto bodies =
          db.query("SELECT b.* FROM bodies b WHERE b.id = ?", {row["body_id"].get<std::string>()});
      if (body_access(db, ctx.actor.principal, bodies.at(0)) == BodyAccess::kNone) continue;
      items.push_back(meeting_json(db, row, today));
    }
    return Reply{200, {{"items", items}}, std::nullopt};
  });
}

Result<Reply> SteeringService::get_meeting(const Context& ctx, const std::string& id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    auto row = load_meeting(db, ctx, id, false);
    return Reply{200, meeting_json(db, row, tx_.env().today()), std::nullopt};
  });
}

Result<Reply> SteeringService::create_meeting(const Context& ctx, const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    require_runner(ctx);
    Connection& db = change.db;
    FieldReader in(body);
    auto body_id = in.line("body", 100);
    // The body first, as for a case: who may not run it learns nothing from the rest (404, 403).
    if (!in.problem()) {
      auto body_row = load_body(db, ctx, body_id, true);
      if (body_row["active"].get<int>() != 1) {
        fail(Problem{409, "body_inactive", "the body is no longer active", "body", nullptr});
      }
    }
    auto date = in.date("date");
    auto title = in.optional_line("title", kNameMax);
    auto agenda = read_items(db, in, "agenda", "title", kNameMax);
    auto minutes = in.optional_text("minutes", kMinutesMax);
    auto with_prefill = in.boolean("prefill_agenda", false).value_or(false);
    in.finish();
    check(in);
    const std::string id = change.env.new_id("mtg");
    const std::string now = change.env.timestamp();
    db.execute(
        "INSERT INTO meetings(id, body_id, held_on, title, minutes, created_by, created_at, "
        "updated_at) VALUES (?,?,?,?,?,?,?,?)",
        {id, body_id, *date, optional_value(title), optional_value(minutes),
         ctx.actor.principal.user_id, now, now});
    replace_items(change, "meeting_agenda_items", "title", id, agenda);
    if (with_prefill) prefill(change, id, body_id);
    change.audit("create", "meeting", id);
    return Reply{201, meeting_json(db, find_meeting(db, id), change.env.today()), std::nullopt};
  });
}

Result<Reply> SteeringService::update_meeting(const Context& ctx, const std::string& id,
                                              const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    require_runner(ctx);
    Connection& db = change.db;
    auto row = load_meeting(db, ctx, id, true);
    if (body.contains("body")) fail(Problem::bad_request("body", "cannot be changed"));
    FieldReader in(body);
    auto date = in.date("date", false);
    auto title = in.optional_line("title", kNameMax);
    auto minutes = in.optional_text("minutes", kMinutesMax);
    auto agenda = read_items(db, in, "agenda", "title", kNameMax);
    auto decisions = read_items(db, in, "decisions", "text", kTextMax);
    in.finish();
    check(in);
    // Null is "not given", as everywhere: {"agenda": null} keeps the agenda.
    const bool new_agenda = given(body, "agenda"), new_decisions = given(body, "decisions");
    if (!date && !title && !minutes && !new_agenda && !new_decisions) {
      fail(Problem::bad_request("", "nothing to change"));
    }
    db.execute(
        "UPDATE meetings SET held_on = coalesce(?, held_on), title = coalesce(?, title), minutes "
        "= coalesce(?, minutes), updated_at = ? WHERE id = ?",
        {optional_value(date), optional_value(title), optional_value(minutes),
         change.env.timestamp(), id});
    if (new_agenda) replace_items(change, "meeting_agenda_items", "title", id, agenda);
    if (new_decisions) replace_items(change, "meeting_decisions", "text", id, decisions);
    change.audit("update", "meeting", id);
    return Reply{200, meeting_json(db, find_meeting(db, id), change.env.today()), std::nullopt};
  });
}

Result<Reply> SteeringService::prefill_agenda(const Context& ctx, const std::string& id) {
  return tx_.write(ctx, [&](Change& change) {
    require_runner(ctx);
    auto row = load_meeting(change.db, ctx, id, true);
    const int added = prefill(change, id, row["body_id"]);
    change.audit("prefill_agenda", "meeting", id);
    json meeting = meeting_json(change.db, find_meeting(change.db, id), change.env.today());
    meeting["prefilled"] = added;
    return Reply{200, meeting, std::nullopt};
  });
}

Result<Reply> SteeringService::add_action_item(const Context& ctx, const std::string& id,
                                               const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    require_runner(ctx);
    Connection& db = change.db;
    load_meeting(db, ctx, id, true);
    FieldReader in(body);
    auto title = in.line("title", kNameMax);
    auto owner = in.line("owner", 64);
    auto due_on = in.date("due_on");
    in.finish();
    check(in);
    const auto owner_id = enabled_user(db, owner);
    if (owner_id == 0) fail(Problem::bad_request("owner", "is not an enabled user"));
    const std::string item_id = change.env.new_id("act");
    const std::string now = change.env.timestamp();
    db.execute(
        "INSERT INTO action_items(id, meeting_id, title, owner_id, due_on, status, created_at, "
        "updated_at) VALUES (?,?,?,?,?,'open',?,?)",
        {item_id, id, title, owner_id, *due_on, now, now});
    change.db.execute("UPDATE meetings SET updated_at = ? WHERE id = ?", {now, id});
    change.audit("create", "action_item", item_id);
    return Reply{201, meeting_json(db, find_meeting(db, id), change.env.today()), std::nullopt};
  });
}

Result<Reply> SteeringService::update_action_item(const Context& ctx, const std::string& meeting_id,
                                                  const std::string& item_id, const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    require_runner(ctx);
    Connection& db = change.db;
    load_meeting(db, ctx, meeting_id, true);
    auto rows = db.query("SELECT * FROM action_items WHERE id = ? AND meeting_id = ?",
                         {item_id, meeting_id});
    if (rows.empty()) fail(Problem::not_found("action item " + item_id));
    const std::string from = rows.front()["status"];
    FieldReader in(body);
    auto status = in.choice("status", kActionStatuses, false);
    auto title = in.optional_line("title", kNameMax);
    auto owner = in.optional_line("owner", 64);
    auto due_on = in.date("due_on", false);
    in.finish();
    check(in);
    if (!status && !title && !owner && !due_on) {
      fail(Problem::bad_request("", "nothing to change"));
    }
    // Done and dropped are final: nothing of the item changes any more, its status included
    // (an open item may take any status: open stays, done and dropped close it).
    if (from != "open") {
      fail(Problem{409, "action_item_closed", "a " + from + " action item no longer changes", "",
                   nullptr});
    }
    std::int64_t owner_id = 0;
    if (owner) {
      owner_id = enabled_user(db, *owner);
      if (owner_id == 0) fail(Problem::bad_request("owner", "is not an enabled user"));
    }
    db.execute(
        "UPDATE action_items SET status = coalesce(?, status), title = coalesce(?, title), "
        "owner_id = coalesce(?, owner_id), due_on = coalesce(?, due_on), updated_at = ? WHERE id "
        "= ?",
        {optional_value(status), optional_value(title),
         owner ? SqlValue(owner_id) : SqlValue(nullptr), optional_value(due_on),
         change.env.timestamp(), item_id});
    change.audit("update", "action_item", item_id);
    return Reply{200, meeting_json(db, find_meeting(db, meeting_id), change.env.today()),
                 std::nullopt};
  });
}

}  // namespace kim::steering
