#include "consent/consent.hpp"

#include <algorithm>

#include "cases/records.hpp"
#include "domain/catalog.hpp"
#include "domain/prelude.hpp"
#include "domain/validation.hpp"

namespace kim::consent {

using namespace domain::prelude;

namespace {

constexpr std::size_t kReasonMax = 2000;

std::string status_of(const json& row, const std::string& today) {
  if (row["revoked_at"].is_string()) return "revoked";
  if (row["given_on"].get<std::string>() > today) return "not_yet_valid";
  if (row["valid_until"].is_string() && row["valid_until"].get<std::string>() < today) {
    return "expired";
  }
  return "valid";
}

json consent_json(const json& row, const std::string& today) {
  return {{"id", row["id"]},
          {"person_id", row["person_id"]},
          {"recipients", domain::json_column(row["recipients"])},
          {"purposes", domain::json_column(row["purposes"])},
          {"categories", domain::json_column(row["categories"])},
          {"form", row["form"]},
          {"given_on", row["given_on"]},
          {"valid_until", row["valid_until"]},
          {"explicit_special_category", row["explicit_special_category"].get<int>() == 1},
          {"document_reference", row["document_reference"]},
          {"status", status_of(row, today)},
          {"created_at", row["created_at"]},
          {"revoked_at", row["revoked_at"]},
          {"revoke_reason", row["revoke_reason"]}};
}

bool lists(const json& array, const std::string& value) {
  return std::find(array.begin(), array.end(), value) != array.end();
}

// A consent without recipient, purpose or categories is a blanket consent: refused.
void require_named(const json& body, const char* key, const char* what) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null() || (it->is_array() && it->empty())) {
    fail(Problem{400, "blanket_consent",
                 std::string("a consent must name ") + what +
                     "; blanket consent is not valid (§ 67b SGB X, Art. 7 GDPR)",
                 key, nullptr});
  }
}

}  // namespace

Result<std::vector<std::string>> consent_coverage(Connection& db, const std::string& person_id,
                                                  const std::string& partner,
                                                  const std::string& purpose,
                                                  const std::vector<std::string>& categories,
                                                  const std::string& today) {
  // The person's consents naming this recipient and purpose, newest first.
  struct Candidate {
    std::string id, status;
    json categories;
  };
  std::vector<Candidate> candidates;
  for (const auto& row :
       db.query("SELECT * FROM consents c WHERE c.person_id = ? AND EXISTS (SELECT 1 FROM "
                "json_each(c.recipients) WHERE value = ?) AND EXISTS (SELECT 1 FROM "
                "json_each(c.purposes) WHERE value = ?) ORDER BY c.given_on DESC",
                {person_id, partner, purpose})) {
    candidates.push_back(
        {row["id"], status_of(row, today), domain::json_column(row["categories"])});
  }
  std::vector<std::string> used, missing, revoked, expired;
  for (const auto& category : categories) {
    std::string covering, blocked;
    for (const auto& candidate : candidates) {
      if (!lists(candidate.categories, category)) continue;
      if (candidate.status == "valid") {
        covering = candidate.id;
        break;
      }
      if (blocked.empty()) blocked = candidate.status;
    }
    if (!covering.empty()) {
      if (!domain::contains(used, covering)) used.push_back(covering);
    } else if (blocked == "revoked") {
      revoked.push_back(category);
    } else if (!blocked.empty()) {
      expired.push_back(category);
    } else {
      missing.push_back(category);
    }
  }
  auto refuse = [&](const char* code, const std::string& why, const std::vector<std::string>& of) {
    return Problem{
        422, code,
        why + " for " + domain::join(of) + " (recipient " + partner + ", purpose " + purpose +
            "); nothing was passed on. Record a new consent of the person "
            "naming this recipient, purpose and categories first",
        "categories", json{{"categories", of}, {"partner", partner}, {"purpose", purpose}}};
  };
  if (!missing.empty()) return refuse("consent_missing", "no consent of the person", missing);
  if (!revoked.empty()) return refuse("consent_revoked", "the person revoked the consent", revoked);
  if (!expired.empty()) {
    return refuse("consent_expired", "the consent is expired or not yet valid", expired);
  }
  return used;
}

Result<Reply> ConsentService::list(const Context& ctx, const std::string& person_id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    cases::load_person(db, ctx, person_id);
    json items = json::array();
    for (const auto& row :
         db.query("SELECT * FROM consents WHERE person_id = ? ORDER BY given_on, created_at",
                  {person_id})) {
      items.push_back(consent_json(row, tx_.env().today()));
    }
    audit.push_back({"list", "consent", person_id, ""});
    return Reply{200, {{"items", items}}, std::nullopt};
  });
}

Result<Reply> ConsentService::grant(const Context& ctx, const std::string& person_id,
                                    const json& body) {
  return tx_.write(ctx, [&](domain::Change& change) {
    Connection& db = change.db;
    cases::require_case_manager(ctx);
    cases::load_person_for_change(db, ctx, person_id);
    require_named(body, "recipients", "its recipients");
    require_named(body, "purposes", "its purposes");
    require_named(body, "categories", "the data categories");
    FieldReader in(body);
    auto recipients = in.codes("recipients", "[a-z0-9][a-z0-9-]{1,62}", "partner slugs", 50);
    auto purposes = in.choices("purposes", domain::purposes(), 10);
    auto categories = in.choices("categories", domain::data_categories(), 10);
    auto form = in.choice("form", domain::consent_forms());
    auto given_on = in.date("given_on");
    auto valid_until = in.date("valid_until", false);
    auto explicit_special = in.boolean("explicit_special_category", false);
    auto reference = in.optional_line("document_reference", 200);
    in.finish();
    check(in);
    for (std::size_t i = 0; i < recipients.size(); ++i) {
      if (db.query("SELECT 1 FROM partners WHERE slug = ?", {recipients[i]}).empty()) {
        fail(Problem::bad_request("recipients[" + std::to_string(i) + "]",
                                  "is not a known partner (see GET /api/v1/partners)"));
      }
    }
    if (*given_on > change.env.today()) fail(Problem::bad_request("given_on", "is in the future"));
    if (valid_until && *valid_until < *given_on) {
      fail(Problem::bad_request("valid_until", "is before given_on"));
    }
    const bool special = std::any_of(categories.begin(), categories.end(),
                                     [](const auto& c) { return domain::is_special_category(c); });
    if (special && categories.size() > 1) {
      fail(Problem::bad_request("categories",
                                "special category data (health, Art. 9 GDPR) needs its own "
                                "consent: record it separately from the other categories"));
    }
    if (special && !explicit_special.value_or(false)) {
      fail(Problem::bad_request("explicit_special_category",
                                "must be true: consent to health data must be given explicitly "
                                "(Art. 9(2)(a) GDPR)"));
    }
    if (!special && explicit_special.value_or(false)) {
      fail(Problem::bad_request("explicit_special_category",
                                "only goes with special category data (health)"));
    }
    const std::string id = change.env.new_id("con");
    db.execute(
        "INSERT INTO consents(id, person_id, recipients, purposes, categories, form, given_on, "
        "valid_until, explicit_special_category, document_reference, recorded_by, created_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        {id, person_id, json(recipients).dump(), json(purposes).dump(), json(categories).dump(),
         *form, *given_on, optional_value(valid_until), special ? 1 : 0, optional_value(reference),
         ctx.actor.principal.user_id, change.env.timestamp()});
    change.audit("create", "consent", id);
    change.publish("consent.granted", {{"consent_id", id},
                                       {"person_id", person_id},
                                       {"recipients", recipients},
                                       {"purposes", purposes},
                                       {"categories", categories}});
    return Reply{
        201,
        consent_json(db.query("SELECT * FROM consents WHERE id = ?", {id})[0], change.env.today()),
        std::nullopt};
  });
}

Result<Reply> ConsentService::revoke(const Context& ctx, const std::string& person_id,
                                     const std::string& consent_id, const json& body) {
  return tx_.write(ctx, [&](domain::Change& change) {
    Connection& db = change.db;
    cases::require_case_manager(ctx);
    cases::load_person_for_change(db, ctx, person_id);
    auto rows =
        db.query("SELECT * FROM consents WHERE id = ? AND person_id = ?", {consent_id, person_id});
    if (rows.empty()) fail(Problem::not_found("consent " + consent_id));
    FieldReader in(body);
    auto reason = in.optional_text("reason", kReasonMax);
    in.finish();
    check(in);
    if (rows[0]["revoked_at"].is_string()) {
      fail(Problem::conflict("already_revoked", "the consent was revoked at " +
                                                    rows[0]["revoked_at"].get<std::string>()));
    }
    db.execute(
        "UPDATE consents SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE id = ?",
        {change.env.timestamp(), ctx.actor.principal.user_id, optional_value(reason), consent_id});
    change.audit("revoke", "consent", consent_id);
    json stopped = on_revoked_ ? on_revoked_(change, consent_id) : json::array();
    // Announced, not offered to the hooks: no plugin can veto a revocation.
    change.announce(
        "consent.revoked",
        {{"consent_id", consent_id}, {"person_id", person_id}, {"stopped_referrals", stopped}});
    return Reply{
        200,
        {{"consent", consent_json(db.query("SELECT * FROM consents WHERE id = ?", {consent_id})[0],
                                  change.env.today())},
         {"stopped_referrals", stopped}},
        std::nullopt};
  });
}

}  // namespace kim::consent
