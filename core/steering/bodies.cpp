#include "audit/security_log.hpp"
#include "partners/partners.hpp"
#include "steering/internal.hpp"
#include "steering/steering.hpp"

namespace kim::steering {

const domain::Vocabulary& body_kinds() {
  static const domain::Vocabulary values = {"monthly_working_group", "steering_group",
                                            "thematic_working_group"};
  return values;
}

namespace {

const char* cadence_of(const std::string& kind) {
  if (kind == "monthly_working_group") return "monthly";
  if (kind == "steering_group") return "quarterly";
  return "as_needed";
}

bool member_partner(Connection& db, const std::string& body_id, const std::string& slug) {
  return !slug.empty() &&
         !db.query("SELECT 1 FROM body_members WHERE body_id = ? AND partner = ?", {body_id, slug})
              .empty();
}

bool member_user(Connection& db, const std::string& body_id, std::int64_t user_id) {
  return !db.query("SELECT 1 FROM body_members WHERE body_id = ? AND user_id = ?",
                   {body_id, user_id})
              .empty();
}

json members_of(Connection& db, const std::string& body_id) {
  json members = json::array();
  for (const auto& row : db.query(
           "SELECT m.id, m.partner, p.name AS partner_name, p.kind AS partner_kind, u.name AS "
           "user_name, u.role AS user_role, m.added_at FROM body_members m LEFT JOIN partners p ON "
           "p.slug = m.partner LEFT JOIN users u ON u.id = m.user_id WHERE m.body_id = ? ORDER BY "
           "m.added_at, m.id",
           {body_id})) {
    json member = {{"id", row["id"]}, {"added_at", row["added_at"]}};
    if (row["partner"].is_string()) {
      member["partner"] = {
          {"slug", row["partner"]}, {"name", row["partner_name"]}, {"kind", row["partner_kind"]}};
    } else {
      member["user"] = {{"name", row["user_name"]}, {"role", row["user_role"]}};
    }
    members.push_back(member);
  }
  return members;
}

const char* const kBodySelect =
    "SELECT b.*, o.slug AS organisation FROM bodies b JOIN organisations o ON o.id = "
    "b.organisation_id ";

json body_json(Connection& db, const json& row, BodyAccess access) {
  const std::string kind = row["kind"];
  return {{"id", row["id"]},
          {"name", row["name"]},
          {"kind", kind},
          {"cadence", cadence_of(kind)},
          {"topic", row["topic"]},
          {"organisation", row["organisation"]},
          {"active", row["active"].get<int>() == 1},
          {"members", members_of(db, row["id"])},
          {"may_write", access == BodyAccess::kWrite},
          {"created_at", row["created_at"]},
          {"updated_at", row["updated_at"]}};
}

// A member to add: {"partner": slug} or {"user": name}, exactly one.
struct MemberInput {
  std::optional<std::string> partner, user;
  std::int64_t user_id = 0;  // set by resolve_member
};

// The member's fields, checked in form only (problems recorded in `in`, which is finished).
MemberInput read_member(FieldReader& in) {
  MemberInput member;
  member.partner = in.optional_line("partner", 63);
  member.user = in.optional_line("user", 64);
  in.finish();
  if (!in.problem() && member.partner.has_value() == member.user.has_value()) {
    in.fail("partner", "name exactly one of partner (a slug) or user (a name)");
  }
  return member;
}

// Checks the member against the partners and users (400 naming `prefix`.partner or .user).
void resolve_member(Connection& db, MemberInput& member, const std::string& prefix = "") {
  auto at = [&](const char* key) -> std::string {
    return prefix.empty() ? key : prefix + "." + key;
  };
  if (member.partner && !partners::find_partner(db, *member.partner)) {
    fail(Problem::bad_request(at("partner"), "is not a partner of the network"));
  }
  if (member.user) {
    member.user_id = enabled_user(db, *member.user);
    if (member.user_id == 0) fail(Problem::bad_request(at("user"), "is not an enabled user"));
  }
}

// The body as stored after a change by one who runs it.
Reply written_body(Connection& db, const std::string& id, int status) {
  auto row = db.query(std::string(kBodySelect) + "WHERE b.id = ?", {id}).at(0);
  return Reply{status, body_json(db, row, BodyAccess::kWrite), std::nullopt};
}

void insert_member(Change& change, const std::string& body_id, const MemberInput& member,
                   const std::string& where) {
  Connection& db = change.db;
  const bool taken = member.partner ? member_partner(db, body_id, *member.partner)
                                    : member_user(db, body_id, member.user_id);
  if (taken) {
    fail(Problem{409, "already_member", "already a member of this body", where, nullptr});
  }
  const std::string id = change.env.new_id("mbr");
  db.execute(
      "INSERT INTO body_members(id, body_id, partner, user_id, added_by, added_at) VALUES "
      "(?,?,?,?,?,?)",
      {id, body_id, optional_value(member.partner),
       member.partner ? SqlValue(nullptr) : SqlValue(member.user_id),
       change.ctx.actor.principal.user_id, change.env.timestamp()});
  change.audit("add_member", "body", body_id);
}

}  // namespace

void require_runner(const Context& ctx) {
  const auto& role = ctx.actor.principal.role;
  if (role != "coordinator" && role != "admin") {
    audit::SecurityLog::note(ctx.actor, "role", "coordinator", "");
    fail(Problem::forbidden("only coordinators and admins run bodies, meetings and challenges"));
  }
}

BodyAccess body_access(Connection& db, const sdk::Principal& who, const json& row) {
  if (who.role == "admin") return BodyAccess::kWrite;
  const std::string id = row["id"];
  if (who.role == "coordinator" && who.organisation_id != 0 &&
      (row["organisation_id"].get<std::int64_t>() == who.organisation_id ||
       member_partner(db, id, who.organisation))) {
    return BodyAccess::kWrite;
  }
  if (member_user(db, id, who.user_id) || member_partner(db, id, who.organisation)) {
    return BodyAccess::kRead;
  }
  return BodyAccess::kNone;
}

json load_body(Connection& db, const Context& ctx, const std::string& id, bool write) {
  auto rows = db.query(std::string(kBodySelect) + "WHERE b.id = ?", {id});
  const auto access =
      rows.empty() ? BodyAccess::kNone : body_access(db, ctx.actor.principal, rows.front());
  if (access == BodyAccess::kNone) {
    audit::SecurityLog::note(ctx.actor, "body", id, "");
    fail(Problem::not_found("body " + id));
  }
  if (write && access != BodyAccess::kWrite) {
    audit::SecurityLog::note(ctx.actor, "body", id, "");
    fail(Problem::forbidden(
        "only coordinators of the convening office or of a member office run this body"));
  }
  return rows.front();
}

json body_ref(Connection& db, const SqlValue& body_id) {
  if (!std::holds_alternative<std::string>(body_id)) return nullptr;
  auto rows = db.query("SELECT id, name, kind FROM bodies WHERE id = ?", {body_id});
  return rows.empty() ? json(nullptr) : rows.front();
}

std::int64_t enabled_user(Connection& db, const std::string& name) {
  auto rows = db.query("SELECT id FROM users WHERE name = ? AND disabled_at IS NULL", {name});
  return rows.empty() ? 0 : rows.front()["id"].get<std::int64_t>();
}

Result<Reply> SteeringService::list_bodies(const Context& ctx) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    json items = json::array();
    for (const auto& row : db.query(std::string(kBodySelect) + "ORDER BY b.kind, b.name")) {
      auto access = body_access(db, ctx.actor.principal, row);
      if (access != BodyAccess::kNone) items.push_back(body_json(db, row, access));
    }
    return Reply{200, {{"items", items}}, std::nullopt};
  });
}

Result<Reply> SteeringService::get_body(const Context& ctx, const std::string& id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    auto row = load_body(db, ctx, id, false);
    return Reply{200, body_json(db, row, body_access(db, ctx.actor.principal, row)), std::nullopt};
  });
}

Result<Reply> SteeringService::create_body(const Context& ctx, const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    require_runner(ctx);
    Connection& db = change.db;
    const auto& me = ctx.actor.principal;
    FieldReader in(body);
    auto name = in.line("name", kNameMax);
    auto kind = in.choice("kind", body_kinds());
    auto topic = in.optional_line("topic", kNameMax);
    auto organisation = in.optional_line("organisation", 63);
    std::vector<MemberInput> members;
    in.objects("members", 200,
               [&](FieldReader& member) { members.push_back(read_member(member)); });
    in.finish();
    check(in);
    if (*kind == "thematic_working_group" && !topic) {
      fail(Problem::bad_request("topic", "a thematic working group needs a topic"));
    }
    // The convening office: a coordinator's own; an admin names one.
    std::int64_t organisation_id = me.organisation_id;
    if (organisation) {
      auto rows = db.query("SELECT id, kind FROM organisations WHERE slug = ?", {*organisation});
      if (rows.empty() || rows.front()["kind"] != "coordinating_office") {
        fail(Problem::bad_request("organisation", "is not a coordinating office"));
      }
      organisation_id = rows.front()["id"];
    }
    if (organisation_id == 0) {
      fail(Problem::bad_request("organisation", "name the convening coordinating office"));
    }
    if (me.role == "coordinator" && organisation_id != me.organisation_id) {
      audit::SecurityLog::note(ctx.actor, "organisation", *organisation, "");
      fail(Problem::forbidden("coordinators convene bodies of their own office"));
    }
    for (std::size_t i = 0; i < members.size(); ++i)
      resolve_member(db, members[i], "members[" + std::to_string(i) + "]");
    const std::string id = change.env.new_id("body");
    const std::string now = change.env.timestamp();
    db.execute(
        "INSERT INTO bodies(id, name, kind, topic, organisation_id, active, created_by, "
        "created_at, updated_at) VALUES (?,?,?,?,?,1,?,?,?)",
        {id, name, *kind, optional_value(topic), organisation_id, me.user_id, now, now});
    change.audit("create", "body", id);
    for (std::size_t i = 0; i < members.size(); ++i) {
      insert_member(change, id, members[i], "members[" + std::to_string(i) + "]");
    }
    return written_body(db, id, 201);
  });
}

Result<Reply> SteeringService::update_body(const Context& ctx, const std::string& id,
                                           const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    require_runner(ctx);
    Connection& db = change.db;
    auto row = load_body(db, ctx, id, true);
    for (const char* fixed : {"kind", "organisation", "members", "id"}) {
      if (body.contains(fixed)) {
        fail(Problem::bad_request(fixed,
                                  "cannot be changed here (members: use "
                                  "/bodies/{id}/members)"));
      }
    }
    FieldReader in(body);
    auto name = in.optional_line("name", kNameMax);
    auto topic = in.optional_line("topic", kNameMax);
    auto active = in.boolean("active", false);
    in.finish();
    check(in);
    if (body.empty()) fail(Problem::bad_request("", "nothing to change"));
    if (row["kind"] == "thematic_working_group" && body.contains("topic") && !topic) {
      fail(Problem::bad_request("topic", "a thematic working group needs a topic"));
    }
    db.execute(
        "UPDATE bodies SET name = coalesce(?, name), topic = coalesce(?, topic), active = "
        "coalesce(?, active), updated_at = ? WHERE id = ?",
        {optional_value(name), optional_value(topic),
         active ? SqlValue(*active ? 1 : 0) : SqlValue(nullptr), change.env.timestamp(), id});
    change.audit("update", "body", id);
    return written_body(db, id, 200);
  });
}

Result<Reply> SteeringService::add_member(const Context& ctx, const std::string& id,
                                          const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    require_runner(ctx);
    Connection& db = change.db;
    load_body(db, ctx, id, true);
    FieldReader in(body);
    auto member = read_member(in);
    check(in);
    resolve_member(db, member);
    insert_member(change, id, member, member.partner ? "partner" : "user");
    return written_body(db, id, 201);
  });
}

Result<Reply> SteeringService::remove_member(const Context& ctx, const std::string& id,
                                             const std::string& member_id) {
  return tx_.write(ctx, [&](Change& change) {
    require_runner(ctx);
    Connection& db = change.db;
    load_body(db, ctx, id, true);
    if (db.query("SELECT 1 FROM body_members WHERE id = ? AND body_id = ?", {member_id, id})
            .empty()) {
      fail(Problem::not_found("member " + member_id));
    }
    db.execute("DELETE FROM body_members WHERE id = ?", {member_id});
    change.audit("remove_member", "body", id);
    return written_body(db, id, 200);
  });
}

}  // namespace kim::steering
