#include <algorithm>

#include "domain/catalog.hpp"
#include "domain/validation.hpp"
#include "partners/internal.hpp"
#include "partners/partners.hpp"

// Cooperation agreements: parties, hand-over rule, covered services, validity and the
// data-protection terms that decide which categories may go to which party for which purposes.
namespace kim::partners {

namespace {

// ---- agreements --------------------------------------------------------------------------------

struct AgreementFields {
  std::string title, handover_rule, valid_from;
  std::optional<std::string> valid_to, signed_on;
  std::string status = "draft";
  json parties = json::array(), data_terms = json::array();
  std::vector<std::string> services;
};

AgreementFields read_agreement(Connection& db, const json& body, const std::string& today) {
  FieldReader in(body);
  AgreementFields a;
  a.title = in.line("title", kNameMax);
  std::vector<std::string> party_slugs;
  in.objects(
      "parties", 20,
      [&](FieldReader& party) {
        auto slug = party.line("partner", 63);
        auto tasks = party.text("tasks", kTextMax);
        auto ends = party.text("responsibility_ends", kTextMax);
        if (party.problem()) return;
        if (!partner_exists(db, slug)) {
          party.fail("partner", "is not a known partner (see GET /api/v1/partners)");
        } else if (domain::contains(party_slugs, slug)) {
          party.fail("partner", "is listed twice");
        } else {
          party_slugs.push_back(slug);
          a.parties.push_back({{"partner", slug}, {"tasks", tasks}, {"responsibility_ends", ends}});
        }
      },
      true);
  if (!in.problem() && party_slugs.size() < 2) {
    in.fail("parties", "must name at least two parties");
  }
  a.handover_rule = in.text("handover_rule", kTextMax);
  a.services = in.choices("services", domain::services(), domain::services().size());
  auto from = in.date("valid_from");
  a.valid_to = in.date("valid_to", false);
  auto status = in.choice("status", {"draft", "signed"}, false);
  a.signed_on = in.date("signed_on", false);
  in.objects("data_terms", 20, [&](FieldReader& term) {
    auto slug = term.line("partner", 63);
    auto categories = term.choices("categories", domain::data_categories(), 10);
    auto purposes = term.choices("purposes", domain::purposes(), 10);
    if (term.problem()) return;
    if (!domain::contains(party_slugs, slug)) {
      term.fail("partner", "must be one of the agreement's parties");
      return;
    }
    a.data_terms.push_back({{"partner", slug}, {"categories", categories}, {"purposes", purposes}});
  });
  in.finish();
  check(in);
  a.valid_from = *from;
  if (a.valid_to && *a.valid_to < a.valid_from) {
    fail(Problem::bad_request("valid_to", "is before valid_from"));
  }
  a.status = status.value_or("draft");
  if (a.signed_on && a.status != "signed") {
    fail(Problem::bad_request("signed_on", "only goes with status \"signed\""));
  }
  if (a.status == "signed" && !a.signed_on) a.signed_on = today;
  if (a.signed_on && *a.signed_on > today) {
    fail(Problem::bad_request("signed_on", "is in the future"));
  }
  return a;
}

// expired when signed and past valid_to; not_yet_valid when signed before valid_from.
std::string effective_status(const json& row, const std::string& today) {
  const std::string status = row["status"];
  if (status != "signed") return status;
  if (row["valid_to"].is_string() && row["valid_to"].get<std::string>() < today) return "expired";
  if (row["valid_from"].get<std::string>() > today) return "not_yet_valid";
  return status;
}

json agreement_json(const json& row, const std::string& today) {
  return {{"id", row["id"]},
          {"title", row["title"]},
          {"parties", json::parse(row["parties"].get<std::string>())},
          {"handover_rule", row["handover_rule"]},
          {"services", domain::json_column(row["services"])},
          {"data_terms", domain::json_column(row["data_terms"])},
          {"valid_from", row["valid_from"]},
          {"valid_to", row["valid_to"]},
          {"status", row["status"]},
          {"effective_status", effective_status(row, today)},
          {"signed_on", row["signed_on"]},
          {"terminated_on", row["terminated_on"]},
          {"created_at", row["created_at"]},
          {"updated_at", row["updated_at"]}};
}

json load_agreement(Connection& db, const std::string& id) {
  auto rows = db.query("SELECT * FROM agreements WHERE id = ?", {id});
  if (rows.empty()) fail(Problem::not_found("agreement " + id));
  return rows.front();
}

void store_parties(Connection& db, const std::string& id, const json& parties) {
  db.execute("DELETE FROM agreement_parties WHERE agreement_id = ?", {id});
  for (const auto& party : parties) {
    db.execute("INSERT INTO agreement_parties(agreement_id, partner) VALUES (?, ?)",
               {id, party["partner"].get<std::string>()});
  }
}

// A coordinator writes only agreements its own office is a party to (coordinating offices carry
// their organisation's slug as partner slug); admins write every agreement. 403 otherwise.
void require_party(Connection& db, const domain::Context& ctx, const json& parties) {
  const auto& me = ctx.actor.principal;
  if (me.role == "admin") return;
  auto own = db.query("SELECT slug FROM organisations WHERE id = ?", {me.organisation_id});
  if (!own.empty()) {
    for (const auto& party : parties) {
      if (party["partner"] == own[0]["slug"]) return;
    }
  }
  fail(Problem::forbidden(
      "a coordinator records and changes only agreements its own office is a party to"));
}

std::vector<std::string> agreement_transitions(const std::string& status) {
  if (status == "draft") return {"signed", "terminated"};
  if (status == "signed") return {"terminated", "expired"};
  return {};
}

}  // namespace

Result<Coverage> agreement_coverage(Connection& db, const std::string& partner,
                                    const std::string& service, const std::string& purpose,
                                    const std::string& today) {
  auto rows = db.query(
      "SELECT a.* FROM agreements a JOIN agreement_parties p ON p.agreement_id = a.id "
      "WHERE p.partner = ? AND EXISTS (SELECT 1 FROM json_each(a.services) WHERE value = ?) "
      "ORDER BY a.valid_from DESC",
      {partner, service});
  const json details = {{"partner", partner}, {"service", service}};
  bool draft = false, ended = false, upcoming = false;
  for (const auto& row : rows) {
    const std::string status = effective_status(row, today);
    if (status == "draft") draft = true;
    if (status == "expired" || status == "terminated") ended = true;
    if (status == "not_yet_valid") upcoming = true;
    if (status != "signed") continue;
    Coverage coverage{row["id"], {}};
    for (const auto& term : domain::json_column(row["data_terms"])) {
      if (term["partner"] != partner) continue;
      const auto& purposes = term["purposes"];
      if (std::find(purposes.begin(), purposes.end(), purpose) == purposes.end()) continue;
      for (const auto& category : term["categories"]) {
        if (!domain::contains(coverage.permitted_categories, category.get<std::string>())) {
          coverage.permitted_categories.push_back(category);
        }
      }
    }
    return coverage;
  }
  if (upcoming) {
    return Problem{422, "agreement_not_yet_valid",
                   "the cooperation agreement with " + partner + " covering " + service +
                       " is signed but not yet in force (valid_from)",
                   "partner", details};
  }
  if (ended) {
    return Problem{422, "agreement_expired",
                   "the cooperation agreement with " + partner + " covering " + service +
                       " is expired or terminated; renew it before referring",
                   "partner", details};
  }
  if (draft) {
    return Problem{422, "agreement_not_signed",
                   "the cooperation agreement with " + partner + " covering " + service +
                       " is still a draft; it must be signed before referring",
                   "partner", details};
  }
  return Problem{422, "no_agreement",
                 "there is no cooperation agreement with " + partner + " that covers " + service +
                     "; a coordinator records one under /api/v1/agreements",
                 "partner", details};
}

Result<Reply> PartnerService::list_agreements(const domain::Context& ctx,
                                              const std::optional<std::string>& partner,
                                              const std::optional<std::string>& status) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    std::string sql = "SELECT a.* FROM agreements a";
    std::vector<SqlValue> params;
    if (partner) {
      sql += " JOIN agreement_parties p ON p.agreement_id = a.id AND p.partner = ?";
      params.emplace_back(*partner);
    }
    sql += " ORDER BY a.valid_from, a.created_at";
    json items = json::array();
    for (const auto& row : db.query(sql, params)) {
      json agreement = agreement_json(row, tx_.env().today());
      if (status && agreement["effective_status"] != *status) continue;
      items.push_back(agreement);
    }
    return Reply{200, {{"items", items}}, std::nullopt};
  });
}

Result<Reply> PartnerService::get_agreement(const domain::Context& ctx, const std::string& id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    return Reply{200, agreement_json(load_agreement(db, id), tx_.env().today()), std::nullopt};
  });
}

Result<Reply> PartnerService::create_agreement(const domain::Context& ctx, const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
    auto a = read_agreement(db, body, change.env.today());
    require_party(db, ctx, a.parties);
    const std::string id = change.env.new_id("agr");
    const std::string now = change.env.timestamp();
    db.execute(
        "INSERT INTO agreements(id, title, parties, handover_rule, services, data_terms, "
        "valid_from, valid_to, status, signed_on, created_by, created_at, updated_at) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,?,?,?)",
        {id, a.title, a.parties.dump(), a.handover_rule, json(a.services).dump(),
         a.data_terms.dump(), a.valid_from, optional_value(a.valid_to), a.status,
         optional_value(a.signed_on), ctx.actor.principal.user_id, now, now});
    store_parties(db, id, a.parties);
    change.audit("create", "agreement", id);
    return Reply{201, agreement_json(load_agreement(db, id), change.env.today()), std::nullopt};
  });
}

Result<Reply> PartnerService::update_agreement(const domain::Context& ctx, const std::string& id,
                                               const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
    auto row = load_agreement(db, id);
    require_party(db, ctx, json::parse(row["parties"].get<std::string>()));
    const std::string status = row["status"];
    static const domain::Vocabulary kContent = {"title",    "parties",    "handover_rule",
                                                "services", "valid_from", "data_terms"};
    json content = json::object();
    for (const auto& [key, value] : body.items()) {
      if (domain::contains(kContent, key)) content[key] = value;
    }
    if (!content.empty() && status != "draft") {
      fail(Problem::conflict("agreement_signed",
                             "the agreement is " + status +
                                 "; its content no longer changes. Record a new agreement"));
    }
    FieldReader in(body);
    for (const auto& key : kContent)
      in.skip(key.c_str());  // checked below, as part of the whole changed agreement
    auto next = in.choice("status", domain::agreement_statuses(), false);
    auto signed_on = in.date("signed_on", false);
    auto terminated_on = in.date("terminated_on", false);
    auto valid_to = in.date("valid_to", false);
    in.finish();
    check(in);
    const bool changes_status = next && *next != status;
    if (signed_on && !(changes_status && *next == "signed")) {
      fail(Problem::bad_request("signed_on", "only goes with the change to status \"signed\""));
    }
    if (terminated_on && !(changes_status && *next == "terminated")) {
      fail(Problem::bad_request("terminated_on",
                                "only goes with the change to status \"terminated\""));
    }

    if (!content.empty()) {
      json merged = agreement_json(row, change.env.today());
      for (const char* key : {"id", "effective_status", "created_at", "updated_at", "status",
                              "signed_on", "terminated_on"})
        merged.erase(key);
      for (const auto& [key, value] : content.items())
        merged[key] = value;
      if (valid_to) merged["valid_to"] = *valid_to;
      if (merged["valid_to"].is_null()) merged.erase("valid_to");
      auto a = read_agreement(db, merged, change.env.today());
      require_party(db, ctx, a.parties);  // nor hands it over to others
      db.execute(
          "UPDATE agreements SET title = ?, parties = ?, handover_rule = ?, services = ?, "
          "data_terms = ?, valid_from = ?, valid_to = ? WHERE id = ?",
          {a.title, a.parties.dump(), a.handover_rule, json(a.services).dump(), a.data_terms.dump(),
           a.valid_from, optional_value(a.valid_to), id});
      store_parties(db, id, a.parties);
    } else if (valid_to) {
      if (status == "terminated" || status == "expired" ||
          effective_status(row, change.env.today()) == "expired") {
        fail(Problem::conflict("agreement_ended",
                               "the agreement is " + status + "; record a new agreement instead"));
      }
      if (*valid_to < row["valid_from"].get<std::string>()) {
        fail(Problem::bad_request("valid_to", "is before valid_from"));
      }
      db.execute("UPDATE agreements SET valid_to = ? WHERE id = ?", {*valid_to, id});
    }

    if (changes_status) {
      auto allowed = agreement_transitions(status);
      if (!domain::contains(allowed, *next)) {
        fail(Problem{409, "transition_not_allowed",
                     "an agreement in status " + status + " cannot become " + *next, "status",
                     json{{"allowed", allowed}}});
      }
      const std::string today = change.env.today();
      if (*next == "signed") {
        const std::string on = signed_on.value_or(today);
        if (on > today) fail(Problem::bad_request("signed_on", "is in the future"));
        db.execute("UPDATE agreements SET status = 'signed', signed_on = ? WHERE id = ?", {on, id});
      } else if (*next == "terminated") {
        const std::string on = terminated_on.value_or(today);
        // Termination takes effect at once: a future date would look valid until then.
        if (on > today) fail(Problem::bad_request("terminated_on", "is in the future"));
        if (row["signed_on"].is_string() && on < row["signed_on"].get<std::string>()) {
          fail(Problem::bad_request("terminated_on", "is before the agreement was signed"));
        }
        db.execute("UPDATE agreements SET status = 'terminated', terminated_on = ? WHERE id = ?",
                   {on, id});
      } else {
        db.execute("UPDATE agreements SET status = ? WHERE id = ?", {*next, id});
      }
    }
    if (content.empty() && !valid_to && !changes_status) {
      fail({400, "nothing_to_change", "give a field to change or a new status", {}, nullptr});
    }
    db.execute("UPDATE agreements SET updated_at = ? WHERE id = ?", {change.env.timestamp(), id});
    change.audit(changes_status ? *next : "update", "agreement", id);
    return Reply{200, agreement_json(load_agreement(db, id), change.env.today()), std::nullopt};
  });
}

}  // namespace kim::partners
