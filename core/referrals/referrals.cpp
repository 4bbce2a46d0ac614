#include "referrals/referrals.hpp"

#include <algorithm>
#include <chrono>

#include "cases/records.hpp"
#include "consent/consent.hpp"
#include "domain/catalog.hpp"
#include "domain/prelude.hpp"
#include "domain/sql_query.hpp"
#include "domain/validation.hpp"
#include "outbox/outbox.hpp"
#include "partners/partners.hpp"
#include "referrals/routing.hpp"
#include "reports/reports.hpp"

namespace kim::referrals {

using namespace domain::prelude;

const char* const kWaitingTooLong =
    "(r.status IN ('sent', 'accepted') AND r.status_changed_at < ?)";

std::string waiting_since(domain::Env& env, int max_wait_days) {
  return domain::Env::format_timestamp(env.now() - std::chrono::days(max_wait_days));
}

namespace {

// The person part of what a partner receives: of the person only the fields, and of the case's
// latest assessment only the life domains, that `categories` release; empty values are left
// out. The one place that decides what a data category passes on.
json released_person_data(Connection& db, const std::string& case_id, const std::string& person_id,
                          const std::vector<std::string>& categories);
// The timeline note of one step of a referral.
std::string timeline_text(const std::string& partner_name, const std::string& service,
                          const std::string& status, bool own_case_management,
                          const std::string& detail);

constexpr std::size_t kMessageMax = 2000;
// The statuses a referral can still leave (see domain::next_referral_statuses).
const domain::Vocabulary kPending = {"draft", "sent", "accepted", "in_progress"};

bool is_final(const std::string& status) {
  return domain::next_referral_statuses(status).empty();
}

// Which parts of the person and of the latest assessment each data category releases. Anything
// not listed here is never passed on, whatever the consent says.
struct CategoryRelease {
  const char* category;
  std::vector<const char*> person_fields;
  std::vector<const char*> life_domains;
};
const std::vector<CategoryRelease>& releases() {
  static const std::vector<CategoryRelease> values = {
      {"identity", {"given_names", "family_name", "date_of_birth", "gender", "nationalities"}, {}},
      {"contact", {"town", "contact"}, {}},
      {"residence_status", {"residence_status", "arrival_date"}, {}},
      {"education_work", {}, {"school_education", "vocational_training_work", "recognition"}},
      {"language_level", {"languages"}, {"language"}},
      {"health", {}, {"health"}},
      {"family", {"household"}, {"family_childcare"}},
  };
  return values;
}

// Everything a hand-over needs, checked: the partner offers the service, an agreement covers it
// and permits the categories, the person's consent covers them. Fails with what is missing.
struct Handover {
  json partner;
  std::string agreement_id;
  std::vector<std::string> consent_ids;
};

Handover plan_handover(Connection& db, const std::string& today, const std::string& person_id,
                       const std::string& slug, const std::string& service,
                       const std::string& purpose, const std::vector<std::string>& categories) {
  auto partner = partners::find_partner(db, slug);
  if (!partner || (*partner)["active"] != true) {
    fail(Problem::bad_request("partner", "is not an active partner (see GET /api/v1/partners)"));
  }
  const auto& offered = (*partner)["services"];
  if (std::find(offered.begin(), offered.end(), service) == offered.end()) {
    fail(Problem{422, "service_not_offered", slug + " does not offer " + service, "service",
                 json{{"offered", offered}}});
  }
  auto coverage = partners::agreement_coverage(db, slug, service, purpose, today);
  if (!coverage) fail(coverage.problem());
  std::vector<std::string> not_permitted;
  for (const auto& category : categories) {
    if (!domain::contains(coverage.value().permitted_categories, category)) {
      not_permitted.push_back(category);
    }
  }
  if (!not_permitted.empty()) {
    fail(Problem{422, "category_not_permitted",
                 "the data-protection terms of agreement " + coverage.value().agreement_id +
                     " do not permit passing " + domain::join(not_permitted) + " to " + slug +
                     " for " + purpose,
                 "categories",
                 json{{"categories", not_permitted},
                      {"permitted", coverage.value().permitted_categories},
                      {"agreement_id", coverage.value().agreement_id}}});
  }
  auto consents = consent::consent_coverage(db, person_id, slug, purpose, categories, today);
  if (!consents) fail(consents.problem());
  return {*partner, coverage.value().agreement_id, consents.value()};
}

json build_payload(Connection& db, const Context& ctx, const std::string& referral_id,
                   const std::string& case_id, const std::string& person_id,
                   const std::string& service, const std::string& purpose,
                   const std::vector<std::string>& categories, const SqlValue& message) {
  const auto& me = ctx.actor.principal;
  return {{"referral_id", referral_id},
          {"service", service},
          {"purpose", purpose},
          {"message", std::holds_alternative<std::string>(message)
                          ? json(std::get<std::string>(message))
                          : json(nullptr)},
          {"from", {{"organisation", me.organisation}, {"case_manager", me.user_name}}},
          {"categories", categories},
          {"person", released_person_data(db, case_id, person_id, categories)}};
}

const char* const kReferralSelect =
    "SELECT r.rowid AS seq, r.*, p.name AS partner_name, p.kind AS partner_kind, p.legal_domain AS "
    "partner_legal_domain, (SELECT json_group_array(consent_id) FROM (SELECT consent_id FROM "
    "referral_consents WHERE referral_id = r.id ORDER BY consent_id)) AS consent_ids "
    "FROM referrals r JOIN partners p ON p.slug = r.partner ";

json referral_json(const json& row, bool with_payload) {
  const std::string status = row["status"];
  json referral = {{"id", row["id"]},
                   {"case_id", row["case_id"]},
                   {"partner",
                    {{"slug", row["partner"]},
                     {"name", row["partner_name"]},
                     {"kind", row["partner_kind"]},
                     {"legal_domain", row["partner_legal_domain"]}}},
                   {"service", row["service"]},
                   {"purpose", row["purpose"]},
                   {"categories", domain::json_column(row["categories"])},
                   {"status", status},
                   {"allowed_transitions", domain::next_referral_statuses(status)},
                   {"own_case_management", row["own_case_management"].get<int>() == 1},
                   {"agreement_id", row["agreement_id"]},
                   {"consent_ids", domain::json_column(row["consent_ids"])},
                   {"message", row["message"]},
                   {"outcome", row["outcome"]},
                   {"stopped_reason", row["stopped_reason"]},
                   {"created_at", row["created_at"]},
                   {"sent_at", row["sent_at"]},
                   {"status_changed_at", row["status_changed_at"]},
                   {"closed_at", row["closed_at"]},
                   {"routed_from", row.value("routed_from", json())}};
  if (with_payload) {
    referral["payload"] =
        row["payload"].is_string() ? json::parse(row["payload"].get<std::string>()) : json(nullptr);
  }
  return referral;
}

json load_referral(Connection& db, const std::string& case_id, const std::string& referral_id) {
  auto rows = db.query(std::string(kReferralSelect) + "WHERE r.id = ? AND r.case_id = ?",
                       {referral_id, case_id});
  if (rows.empty()) fail(Problem::not_found("referral " + referral_id));
  return rows.front();
}

void link_consents(Connection& db, const std::string& referral_id,
                   const std::vector<std::string>& consent_ids) {
  db.execute("DELETE FROM referral_consents WHERE referral_id = ?", {referral_id});
  for (const auto& consent_id : consent_ids) {
    db.execute("INSERT INTO referral_consents(referral_id, consent_id) VALUES (?, ?)",
               {referral_id, consent_id});
  }
}

void record_history(domain::Change& change, const std::string& referral_id, const SqlValue& from,
                    const std::string& to, const SqlValue& outcome, const SqlValue& reason,
                    const std::string& occurred_on) {
  change.db.execute(
      "INSERT INTO referral_history(referral_id, from_status, to_status, outcome, reason, "
      "occurred_on, at, by_user) VALUES (?,?,?,?,?,?,?,?)",
      {referral_id, from, to, outcome, reason, occurred_on, change.env.timestamp(),
       change.ctx.actor.principal.user_id});
}

// The partner's answer and every step of the hand-over are part of the case's story. `reason`: a
// code for a step kim takes itself (its English `detail` stays out of the event: a client words
// the code).
void note_on_timeline(domain::Change& change, const json& row, const std::string& to,
                      const std::string& detail, const std::string& occurred_on,
                      const std::string& reason = {}) {
  const bool own_case_management = row["own_case_management"].get<int>() == 1;
  json event = {{"type", "referral_status"},
                {"referral_id", row["id"]},
                {"partner", row["partner_name"]},
                {"service", row["service"]},
                {"status", to},
                {"own_case_management", own_case_management && to == "sent"}};
  if (!reason.empty()) {
    event["reason"] = reason;
  } else if (!detail.empty()) {
    event["detail"] = detail;
  }
  cases::add_timeline_note(
      change, row["case_id"], occurred_on, "referral",
      timeline_text(row["partner_name"], row["service"], to, own_case_management, detail), event);
}

json status_event(const json& row, const std::string& from, const std::string& to,
                  const std::string& reason) {
  json payload = {{"referral_id", row["id"]},
                  {"case_id", row["case_id"]},
                  {"partner", row["partner"]},
                  {"service", row["service"]},
                  {"from", from},
                  {"to", to}};
  if (!reason.empty()) payload["reason"] = reason;
  // Events carry identifiers, never personal data: what the partner receives stays in the
  // referral and in the outbox message written with it.
  return payload;
}

// The partner's message about this step, in the same transaction (outbox::enqueue): exactly the
// payload stored with the referral. A referral that was never sent (no payload) tells the
// partner nothing.
void tell_partner(domain::Change& change, const json& stored, const char* type) {
  if (!stored["payload"].is_string()) return;
  outbox::enqueue(change, stored["partner"], type, stored["case_id"], stored["id"],
                  stored["payload"]);
}

}  // namespace

namespace {

const char* const kStoppedByRevocation =
    "stopped because the participant revoked the consent; nothing further is passed on";

std::string timeline_text(const std::string& partner_name, const std::string& service,
                          const std::string& status, bool own_case_management,
                          const std::string& detail) {
  std::string text = "Referral to " + partner_name + " (" + service + "): " + status;
  // A hand-over into a legal domain with its own case management says so where it starts.
  if (status == "sent" && own_case_management) {
    text += " — legal domain with its own case management";
  }
  if (!detail.empty()) text += " — " + detail;
  return text;
}

json released_person_data(Connection& db, const std::string& case_id, const std::string& person_id,
                          const std::vector<std::string>& categories) {
  auto person = db.query("SELECT * FROM persons WHERE id = ?", {person_id}).at(0);
  for (const char* column : {"nationalities", "languages", "household"})
    person[column] = domain::json_column(person[column]);
  person["contact"] = json::parse(person["contact"].get<std::string>());
  json domains = json::object();
  for (const auto& row : db.query(
           "SELECT life_domain, need_level, summary FROM assessment_domains WHERE assessment_id = "
           "(SELECT id FROM assessments WHERE case_id = ? ORDER BY recorded_at DESC, rowid DESC "
           "LIMIT 1)",
           {case_id})) {
    domains[row["life_domain"].get<std::string>()] = {{"need_level", row["need_level"]},
                                                      {"summary", row["summary"]}};
  }
  json part = json::object();
  json assessment = json::object();
  for (const auto& release : releases()) {
    if (!domain::contains(categories, release.category)) continue;
    for (const char* field : release.person_fields) {
      if (person[field].is_null() || (person[field].is_object() && person[field].empty())) continue;
      part[field] = person[field];
    }
    for (const char* domain_name : release.life_domains) {
      if (domains.contains(domain_name)) assessment[domain_name] = domains[domain_name];
    }
  }
  if (!assessment.empty()) part["assessment"] = assessment;
  return part;
}

}  // namespace

Result<Reply> ReferralService::create(const Context& ctx, const std::string& case_id,
                                      const json& body) {
  const cases::CaseRule rule{"a referral", /*case_manager_only=*/true};
  return cases::write_case(
      tx_, ctx, case_id, rule, [&](domain::Change& change, const cases::CaseRow& row) {
        Connection& db = change.db;
        FieldReader in(body);
        auto slug = in.line("partner", 63);
        auto service = in.choice("service", domain::services());
        auto purpose = in.choice("purpose", domain::purposes(), false).value_or("referral");
        auto categories = in.choices("categories", domain::data_categories(), 10);
        auto message = in.optional_text("message", kMessageMax);
        auto send = in.boolean("send", false).value_or(false);
        in.finish();
        check(in);
        // Plugins' routers first, so every rule below judges the partner it is routed to.
        const auto routed_from = route_referral(change, case_id, row.person_id, slug, *service);
        auto handover = plan_handover(db, change.env.today(), row.person_id, slug, *service,
                                      purpose, categories);

        const std::string id = change.env.new_id("ref");
        const std::string now = change.env.timestamp();
        const std::string status = send ? "sent" : "draft";
        const SqlValue message_value = optional_value(message);
        // A draft holds no personal data yet: the payload is built when it is sent.
        const SqlValue payload =
            send ? SqlValue(build_payload(db, ctx, id, case_id, row.person_id, *service, purpose,
                                          categories, message_value)
                                .dump())
                 : SqlValue(nullptr);
        const std::string town =
            db.query("SELECT town FROM cases WHERE id = ?", {case_id}).at(0)["town"];
        const bool own_case_management = handover.partner["own_case_management"].get<bool>();
        db.execute(
            "INSERT INTO referrals(id, case_id, partner, service, purpose, categories, "
            "agreement_id, "
            "message, status, own_case_management, payload, town, created_by, created_at, sent_at, "
            "status_changed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            {id, case_id, slug, *service, purpose, json(categories).dump(), handover.agreement_id,
             message_value, status, own_case_management ? 1 : 0, payload, town,
             ctx.actor.principal.user_id, now, send ? SqlValue(now) : SqlValue(nullptr), now});
        link_consents(db, id, handover.consent_ids);
        if (routed_from) record_routing(change, id, case_id, *routed_from, slug);
        const std::string today = change.env.today();
        record_history(change, id, nullptr, status, nullptr, nullptr, today);
        auto stored = load_referral(db, case_id, id);
        if (send) {
          note_on_timeline(change, stored, "sent", "", today);
          tell_partner(change, stored, outbox::kReferralSent);
        }
        change.audit("create", "referral", id, case_id);
        change.publish("referral.created", {{"referral_id", id},
                                            {"case_id", case_id},
                                            {"partner", slug},
                                            {"service", *service},
                                            {"status", status}});
        if (send) {
          // The same veto as a later send.
          change.publish("referral.status_changed", status_event(stored, "draft", "sent", ""));
        }
        return Reply{201, referral_json(stored, true), std::nullopt};
      });
}

Result<Reply> ReferralService::list(const Context& ctx, const std::string& case_id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    auto row = cases::load_case(db, ctx, case_id, cases::Access::kRead);
    json items = json::array();
    for (const auto& referral :
         db.query(std::string(kReferralSelect) + "WHERE r.case_id = ? ORDER BY r.created_at",
                  {case_id})) {
      items.push_back(referral_json(referral, false));
    }
    audit.push_back({"list", "referral", case_id, case_id});
    return Reply{200, {{"items", items}}, row.version};
  });
}

Result<Reply> ReferralService::worklist(const Context& ctx, const ReferralFilter& filter) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    auto access = cases::readable_cases(ctx.actor.principal);
    domain::SqlQuery query(std::string(kReferralSelect) +
                               "JOIN cases c ON c.id = r.case_id JOIN organisations o ON o.id = "
                               "c.organisation_id WHERE " +
                               access.sql,
                           access.params);
    query.add(" AND r.rowid > ?", {filter.after})
        .and_if(filter.status, "r.status = ?")
        .and_if(filter.partner, "r.partner = ?");
    if (filter.waiting_only) {
      query.add(" AND " + std::string(kWaitingTooLong), {waiting_since(tx_.env(), max_wait_days_)});
    }
    auto page = query.page(db, "r.rowid", filter.limit);
    json items = json::array();
    for (const auto& row : page.rows) {
      items.push_back(referral_json(row, false));
      audit.push_back({"list", "referral", row["id"], row["case_id"]});
    }
    json body = {{"items", items}, {"max_wait_days", max_wait_days_}};
    if (page.next_cursor) body["next_cursor"] = *page.next_cursor;
    return Reply{200, body, std::nullopt};
  });
}

Result<Reply> ReferralService::get(const Context& ctx, const std::string& case_id,
                                   const std::string& referral_id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    auto row = cases::load_case(db, ctx, case_id, cases::Access::kRead);
    auto referral = load_referral(db, case_id, referral_id);
    json body = referral_json(referral, true);
    body["history"] = db.query(
        "SELECT h.from_status, h.to_status, h.outcome, h.reason, h.occurred_on, h.at, u.name AS "
        "by_user FROM referral_history h JOIN users u ON u.id = h.by_user WHERE h.referral_id = ? "
        "ORDER BY h.id",
        {referral_id});
    audit.push_back({"read", "referral", referral_id, case_id});
    return Reply{200, body, row.version};
  });
}

Result<Reply> ReferralService::change_status(const Context& ctx, const std::string& case_id,
                                             const std::string& referral_id, const json& body) {
  // Not `needs_open`: answers of the partner may still come in after closure; only sending
  // needs an open case (below).
  const cases::CaseRule rule{nullptr, /*case_manager_only=*/true};
  return cases::write_case(
      tx_, ctx, case_id, rule, [&](domain::Change& change, const cases::CaseRow& row) {
        Connection& db = change.db;
        auto referral = load_referral(db, case_id, referral_id);
        FieldReader in(body);
        auto to = in.choice("status", domain::referral_statuses());
        auto outcome = in.optional_text("outcome", kMessageMax);
        auto occurred_on = in.date("occurred_on", false).value_or(change.env.today());
        in.finish();
        check(in);
        if (occurred_on > change.env.today()) {
          fail(Problem::bad_request("occurred_on", "is in the future"));
        }
        const std::string from = referral["status"];
        auto allowed = domain::next_referral_statuses(from);
        if (!domain::contains(allowed, *to)) {
          fail(Problem{409, "transition_not_allowed",
                       "a referral in status " + from + " cannot become " + *to, "status",
                       json{{"allowed", allowed}}});
        }
        const std::string now = change.env.timestamp();
        if (*to == "sent") cases::require_open(row, "sending a referral");
        if (*to == "sent") {
          // Nothing leaves on the strength of yesterday's checks: agreement and consent again, and
          // the payload built from today's data.
          auto categories =
              domain::json_column(referral["categories"]).get<std::vector<std::string>>();
          auto handover = plan_handover(db, change.env.today(), row.person_id, referral["partner"],
                                        referral["service"], referral["purpose"], categories);
          const SqlValue message = referral["message"].is_string()
                                       ? SqlValue(referral["message"].get<std::string>())
                                       : SqlValue(nullptr);
          json payload =
              build_payload(db, ctx, referral_id, case_id, row.person_id, referral["service"],
                            referral["purpose"], categories, message);
          db.execute("UPDATE referrals SET payload = ?, agreement_id = ?, sent_at = ? WHERE id = ?",
                     {payload.dump(), handover.agreement_id, now, referral_id});
          link_consents(db, referral_id, handover.consent_ids);
        }
        db.execute(
            "UPDATE referrals SET status = ?, outcome = coalesce(?, outcome), status_changed_at = "
            "?, "
            "closed_at = ? WHERE id = ?",
            {*to, optional_value(outcome), now, is_final(*to) ? SqlValue(now) : SqlValue(nullptr),
             referral_id});
        const SqlValue outcome_value = optional_value(outcome);
        record_history(change, referral_id, from, *to, outcome_value, nullptr, occurred_on);
        auto stored = load_referral(db, case_id, referral_id);
        note_on_timeline(change, stored, *to, outcome.value_or(""), occurred_on);
        if (*to == "sent") tell_partner(change, stored, outbox::kReferralSent);
        if (*to == "cancelled") tell_partner(change, stored, outbox::kReferralCancelled);
        change.audit("update", "referral", referral_id, case_id);
        change.publish("referral.status_changed", status_event(stored, from, *to, ""));
        return Reply{200, referral_json(stored, true), std::nullopt};
      });
}

json ReferralService::stop_for_revoked_consent(domain::Change& change,
                                               const std::string& consent_id) {
  json stopped = json::array();
  // Every status that is not final: what is still pending stops.
  std::vector<SqlValue> params{consent_id};
  std::string pending;
  for (const auto& status : kPending) {
    pending += pending.empty() ? "?" : ", ?";
    params.emplace_back(status);
  }
  auto rows = change.db.query(std::string(kReferralSelect) +
                                  "JOIN referral_consents rc ON rc.referral_id = r.id WHERE "
                                  "rc.consent_id = ? AND r.status IN (" +
                                  pending + ") ORDER BY r.created_at",
                              params);
  const std::string now = change.env.timestamp();
  const std::string today = change.env.today();
  // Revocation takes effect in every case that relied on the consent, whoever revokes it.
  const cases::CaseRule everywhere{nullptr, false, cases::Access::kNone};
  for (const auto& referral : rows) {
    const std::string id = referral["id"];
    const std::string case_id = referral["case_id"];
    cases::change_case(change, case_id, everywhere, [&](const cases::CaseRow&) {
      change.db.execute(
          "UPDATE referrals SET status = 'cancelled', stopped_reason = 'consent_revoked', "
          "status_changed_at = ?, closed_at = ? WHERE id = ?",
          {now, now, id});
      record_history(change, id, referral["status"].get<std::string>(), "cancelled", nullptr,
                     "consent_revoked", today);
      note_on_timeline(change, referral, "cancelled", kStoppedByRevocation, today,
                       "consent_revoked");
      tell_partner(change, referral, outbox::kReferralConsentRevoked);
      change.audit("update", "referral", id, case_id);
      change.announce("referral.status_changed",
                      status_event(referral, referral["status"], "cancelled", "consent_revoked"));
      return Reply{};
    });
    stopped.push_back(id);
  }
  return stopped;
}

Result<Reply> ReferralService::gaps_report(const Context& ctx) {
  // The report lives in core/reports; kept here for callers of the referral service.
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    return Reply{200, reports::referral_gaps(db, tx_.env(), max_wait_days_), std::nullopt};
  });
}

Result<Reply> ReferralService::apply_partner_report(const Context& ctx, const std::string& instance,
                                                    const sdk::InboundStatus& report) {
  // What a partner may report: the steps after a hand-over, never sending or cancelling.
  static const domain::Vocabulary kPartnerSteps = {"accepted", "declined", "in_progress",
                                                   "completed"};
  const json fields = {{"id", report.message_id},
                       {"referral_id", report.referral_id},
                       {"status", report.status},
                       {"outcome", report.outcome.empty() ? json(nullptr) : json(report.outcome)}};
  FieldReader in(fields);
  auto message_id = in.line("id", 200);
  auto referral_id = in.line("referral_id", 100);
  auto to = in.choice("status", kPartnerSteps);
  auto outcome = in.optional_text("outcome", kMessageMax);
  in.finish();
  if (const auto& problem = in.problem()) return *problem;
  constexpr const char* kReplayed = "inbound_replayed";
  // A repeat is answered from what the first one stored: no write, no audit entry. The same id
  // with another referral or status is not a repeat but a partner's error: 409, never the
  // first answer as if this one had been applied.
  auto first_answer = [&]() -> Result<Reply> {
    return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
      auto rows = db.query(
          "SELECT answer, referral_id, status FROM inbound_reports WHERE instance = ? AND "
          "message_id = ?",
          {instance, message_id});
      if (rows.empty()) fail(Problem::not_found("report " + message_id));
      if (rows.front()["referral_id"] != referral_id || rows.front()["status"] != *to) {
        fail(Problem{409, "message_id_reused",
                     "report " + message_id +
                         " was applied before with other content; send a "
                         "new id",
                     "id", nullptr});
      }
      return Reply{200, json::parse(rows.front()["answer"].get<std::string>()), std::nullopt};
    });
  };
  if (auto answered = first_answer(); answered || answered.problem().status == 409) {
    return answered;
  }
  auto result = tx_.write(ctx, [&](domain::Change& change) {
    Connection& db = change.db;
    // Decided inside the single writer's transaction: two copies arriving at once apply once.
    if (!db.query("SELECT 1 FROM inbound_reports WHERE instance = ? AND message_id = ?",
                  {instance, message_id})
             .empty()) {
      fail(Problem::conflict(kReplayed, "report already applied"));
    }
    auto rows = db.query(std::string(kReferralSelect) + "WHERE r.id = ? AND p.connector = ?",
                         {referral_id, instance});
    if (rows.empty()) fail(Problem::not_found("referral " + referral_id));
    const json referral = rows.front();
    const std::string case_id = referral["case_id"];
    const std::string from = referral["status"];
    domain::Vocabulary allowed;
    for (const auto& step : domain::next_referral_statuses(from)) {
      if (domain::contains(kPartnerSteps, step)) allowed.push_back(step);
    }
    if (!domain::contains(allowed, *to)) {
      fail(Problem{409, "transition_not_allowed",
                   "a referral in status " + from + " cannot become " + *to, "status",
                   json{{"allowed", allowed}}});
    }
    // Whoever acts for the partner, the case is reached as the partner's answer reaches it.
    const cases::CaseRule answer_rule{nullptr, false, cases::Access::kNone};
    return cases::change_case(change, case_id, answer_rule, [&](const cases::CaseRow& row) {
      // Its free texts are gone for good: an answer would bring an outcome back.
      if (row.anonymised) fail(cases::anonymised_problem("case"));
      const std::string now = change.env.timestamp();
      const std::string today = change.env.today();
      const SqlValue outcome_value = optional_value(outcome);
      db.execute(
          "UPDATE referrals SET status = ?, outcome = coalesce(?, outcome), status_changed_at = "
          "?, closed_at = ? WHERE id = ?",
          {*to, outcome_value, now, is_final(*to) ? SqlValue(now) : SqlValue(nullptr),
           referral_id});
      record_history(change, referral_id, from, *to, outcome_value, nullptr, today);
      auto stored = load_referral(db, case_id, referral_id);
      note_on_timeline(change, stored, *to, outcome.value_or(""), today);
      change.audit("update", "referral", referral_id, case_id);
      // Not asked of the hooks: the partner's answer is a fact a plugin cannot veto (like a
      // revocation's consequences).
      change.announce("referral.status_changed", status_event(stored, from, *to, ""));
      // Identifiers only: the partner learns nothing it did not send.
      json answer = {{"message_id", message_id},
                     {"referral_id", referral_id},
                     {"status", *to},
                     {"applied_at", now}};
      db.execute(
          "INSERT INTO inbound_reports(instance, message_id, referral_id, status, answer, "
          "received_at) VALUES (?,?,?,?,?,?)",
          {instance, message_id, referral_id, *to, answer.dump(), now});
      return Reply{200, answer, std::nullopt};
    });
  });
  if (!result && result.problem().code == kReplayed) return first_answer();
  return result;
}

}  // namespace kim::referrals
