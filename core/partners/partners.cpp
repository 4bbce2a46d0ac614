#include "partners/partners.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "domain/catalog.hpp"
#include "domain/validation.hpp"

namespace kim::partners {

using domain::check;
using domain::fail;
using domain::FieldReader;
using domain::Problem;
using domain::Reply;
using domain::Result;
using nlohmann::json;
using store::Connection;
using store::SqlValue;

namespace {

constexpr std::size_t kNameMax = 200;
constexpr std::size_t kTextMax = 4000;
const char* const kSlugPattern = "^[a-z0-9][a-z0-9-]{1,62}$";

bool is_slug(const std::string& text) {
  if (text.size() < 2 || text.size() > 63) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!ok(text[0])) return false;
  return std::all_of(text.begin() + 1, text.end(), [&](char c) { return ok(c) || c == '-'; });
}

// ---- partners ----------------------------------------------------------------------------------

struct PartnerFields {
  std::string slug, name, kind, legal_domain;
  bool county_wide = false;
  std::vector<std::string> towns, services;
  json contact = json::object();
  std::optional<std::string> connector;
  bool active = true;
};

// One set of rules for the API (create and the merged result of a change) and the config seeds.
std::optional<PartnerFields> read_partner(const json& body, std::optional<Problem>& problem) {
  FieldReader in(body);
  PartnerFields p;
  p.slug = in.text("slug", 63);
  if (!in.problem() && !is_slug(p.slug)) {
    in.fail("slug", std::string("must match ") + kSlugPattern + " (lowercase letters, digits, -)");
  }
  p.name = in.text("name", kNameMax);
  auto kind = in.choice("kind", domain::partner_kinds());
  auto legal = in.choice("legal_domain", domain::legal_domains(), false);
  p.county_wide = in.boolean("county_wide", false).value_or(false);
  p.towns = in.choices("towns", domain::towns(), domain::towns().size(), false);
  in.object("contact", [&](FieldReader& contact) {
    for (const char* key : {"address", "phone", "email", "website", "contact_person"}) {
      if (auto value = contact.optional_text(key, kNameMax)) p.contact[key] = *value;
    }
  });
  p.services = in.choices("services", domain::services(), domain::services().size());
  p.connector = in.optional_text("connector", 100);
  p.active = in.boolean("active", false).value_or(true);
  in.finish();
  if (!in.problem()) {
    if (p.county_wide && !p.towns.empty()) {
      in.fail("towns", "must be left out when county_wide is true (the partner serves all towns)");
    } else if (!p.county_wide && p.towns.empty()) {
      in.fail("towns", "must name the towns served, or set county_wide to true");
    }
  }
  if (in.problem()) {
    problem = in.problem();
    return std::nullopt;
  }
  p.kind = *kind;
  p.legal_domain = legal.value_or("none");
  return p;
}

json partner_json(const json& row) {
  const std::string legal = row["legal_domain"];
  json partner = {{"slug", row["slug"]},
                  {"name", row["name"]},
                  {"kind", row["kind"]},
                  {"legal_domain", legal},
                  {"own_case_management", domain::has_own_case_management(legal)},
                  {"county_wide", row["county_wide"].get<int>() == 1},
                  {"towns", domain::json_column(row["towns"])},
                  {"contact", json::parse(row["contact"].get<std::string>())},
                  {"services", domain::json_column(row["services"])},
                  {"connector", row["connector"]},
                  {"active", row["active"].get<int>() == 1},
                  {"created_at", row["created_at"]},
                  {"updated_at", row["updated_at"]}};
  return partner;
}

void insert_partner(Connection& db, const PartnerFields& p) {
  const std::string now = domain::now_timestamp();
  db.execute(
      "INSERT INTO partners(slug, name, kind, legal_domain, county_wide, towns, contact, "
      "services, connector, active, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
      {p.slug, p.name, p.kind, p.legal_domain, p.county_wide ? 1 : 0, json(p.towns).dump(),
       p.contact.dump(), json(p.services).dump(),
       p.connector ? SqlValue(*p.connector) : SqlValue(nullptr), p.active ? 1 : 0, now, now});
}

bool partner_exists(Connection& db, const std::string& slug) {
  return !db.query("SELECT 1 FROM partners WHERE slug = ?", {slug}).empty();
}

// ---- agreements --------------------------------------------------------------------------------

struct AgreementFields {
  std::string title, handover_rule, valid_from;
  std::optional<std::string> valid_to, signed_on;
  std::string status = "draft";
  json parties = json::array(), data_terms = json::array();
  std::vector<std::string> services;
};

AgreementFields read_agreement(Connection& db, const json& body) {
  FieldReader in(body);
  AgreementFields a;
  a.title = in.text("title", kNameMax);
  std::vector<std::string> party_slugs;
  in.objects(
      "parties", 20,
      [&](FieldReader& party) {
        auto slug = party.text("partner", 63);
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
    auto slug = term.text("partner", 63);
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
  if (a.status == "signed" && !a.signed_on) a.signed_on = domain::today();
  if (a.signed_on && *a.signed_on > domain::today()) {
    fail(Problem::bad_request("signed_on", "is in the future"));
  }
  return a;
}

// expired when signed and past valid_to; not_yet_valid when signed before valid_from.
std::string effective_status(const json& row) {
  const std::string status = row["status"];
  if (status != "signed") return status;
  const std::string today = domain::today();
  if (row["valid_to"].is_string() && row["valid_to"].get<std::string>() < today) return "expired";
  if (row["valid_from"].get<std::string>() > today) return "not_yet_valid";
  return status;
}

json agreement_json(const json& row) {
  return {{"id", row["id"]},
          {"title", row["title"]},
          {"parties", json::parse(row["parties"].get<std::string>())},
          {"handover_rule", row["handover_rule"]},
          {"services", domain::json_column(row["services"])},
          {"data_terms", domain::json_column(row["data_terms"])},
          {"valid_from", row["valid_from"]},
          {"valid_to", row["valid_to"]},
          {"status", row["status"]},
          {"effective_status", effective_status(row)},
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

std::vector<std::string> agreement_transitions(const std::string& status) {
  if (status == "draft") return {"signed", "terminated"};
  if (status == "signed") return {"terminated", "expired"};
  return {};
}

}  // namespace

namespace {

// The seeds read by the partner rules; every problem (and repeated slug) lands in `problems`.
std::vector<PartnerFields> read_seeds(const std::vector<json>& seeds,
                                      std::vector<std::string>& problems) {
  std::vector<PartnerFields> partners;
  std::map<std::string, std::size_t> first_index;
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    const std::string where = "partners[" + std::to_string(i) + "]";
    std::optional<Problem> problem;
    auto partner = read_partner(seeds[i], problem);
    if (!partner) {
      problems.push_back(where + "." + problem->field + ": " + problem->message);
      continue;
    }
    auto [it, fresh] = first_index.emplace(partner->slug, i);
    if (!fresh) {
      problems.push_back(where + ".slug: \"" + partner->slug + "\" is already used by partners[" +
                         std::to_string(it->second) + "]");
    }
    partners.push_back(std::move(*partner));
  }
  return partners;
}

}  // namespace

std::vector<std::string> seed_problems(const std::vector<json>& seeds) {
  std::vector<std::string> problems;
  read_seeds(seeds, problems);
  return problems;
}

int apply_seeds(store::Store& store, const std::vector<json>& seeds) {
  std::vector<std::string> problems;
  const auto partners = read_seeds(seeds, problems);
  if (!problems.empty()) throw std::invalid_argument(problems.front());
  return store.write([&](Connection& db) {
    int inserted = 0;
    for (const auto& partner : partners) {
      if (partner_exists(db, partner.slug)) continue;
      insert_partner(db, partner);
      ++inserted;
    }
    return inserted;
  });
}

std::optional<json> find_partner(Connection& db, const std::string& slug) {
  auto rows = db.query("SELECT * FROM partners WHERE slug = ?", {slug});
  if (rows.empty()) return std::nullopt;
  return partner_json(rows.front());
}

Result<Coverage> agreement_coverage(Connection& db, const std::string& partner,
                                    const std::string& service, const std::string& purpose) {
  auto rows = db.query(
      "SELECT a.* FROM agreements a JOIN agreement_parties p ON p.agreement_id = a.id "
      "WHERE p.partner = ? AND EXISTS (SELECT 1 FROM json_each(a.services) WHERE value = ?) "
      "ORDER BY a.valid_from DESC",
      {partner, service});
  const json details = {{"partner", partner}, {"service", service}};
  bool draft = false, ended = false, upcoming = false;
  for (const auto& row : rows) {
    const std::string status = effective_status(row);
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

Result<Reply> PartnerService::list_partners(const domain::Context& ctx,
                                            const PartnerFilter& filter) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    std::string sql = "SELECT * FROM partners p WHERE 1 = 1";
    std::vector<SqlValue> params;
    if (filter.kind) {
      sql += " AND p.kind = ?";
      params.emplace_back(*filter.kind);
    }
    if (filter.legal_domain) {
      sql += " AND p.legal_domain = ?";
      params.emplace_back(*filter.legal_domain);
    }
    if (filter.town) {
      sql +=
          " AND (p.county_wide = 1 OR EXISTS (SELECT 1 FROM json_each(p.towns) WHERE value = "
          "?))";
      params.emplace_back(*filter.town);
    }
    if (filter.service) {
      sql += " AND EXISTS (SELECT 1 FROM json_each(p.services) WHERE value = ?)";
      params.emplace_back(*filter.service);
    }
    sql += " ORDER BY p.name, p.slug";
    json items = json::array();
    for (const auto& row : db.query(sql, params))
      items.push_back(partner_json(row));
    return Reply{200, {{"items", items}}, std::nullopt};
  });
}

Result<Reply> PartnerService::get_partner(const domain::Context& ctx, const std::string& slug) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    auto partner = find_partner(db, slug);
    if (!partner) fail(Problem::not_found("partner " + slug));
    return Reply{200, *partner, std::nullopt};
  });
}

Result<Reply> PartnerService::create_partner(const domain::Context& ctx, const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>&) {
    std::optional<Problem> problem;
    auto partner = read_partner(body, problem);
    if (!partner) fail(*problem);
    if (partner_exists(db, partner->slug)) {
      fail(Problem{409, "slug_taken", "a partner with slug " + partner->slug + " exists", "slug",
                   nullptr});
    }
    insert_partner(db, *partner);
    audit::append(db, ctx.actor, {"create", "partner", partner->slug, ""});
    return Reply{201, *find_partner(db, partner->slug), std::nullopt};
  });
}

Result<Reply> PartnerService::update_partner(const domain::Context& ctx, const std::string& slug,
                                             const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>&) {
    auto current = find_partner(db, slug);
    if (!current) fail(Problem::not_found("partner " + slug));
    if (body.contains("slug") && body["slug"] != slug) {
      fail(Problem::bad_request("slug", "cannot change; create a new partner instead"));
    }
    // The change is the current partner with the given fields replaced, checked as a whole.
    json merged = {{"slug", slug}};
    for (const char* key : {"name", "kind", "legal_domain", "county_wide", "towns", "contact",
                            "services", "connector", "active"}) {
      merged[key] = (*current)[key];
    }
    if ((*current)["county_wide"] == true) merged.erase("towns");
    for (const auto& [key, value] : body.items()) {
      // null clears only what may be empty; elsewhere it would silently mean the default.
      if (value.is_null() && key != "connector" && key != "contact") {
        fail(Problem::bad_request(key, "must not be null; leave the field out to keep it"));
      }
      merged[key] = value;
      // Switching to county-wide drops the town list, and back needs one.
      if (key == "county_wide" && value == true && !body.contains("towns")) merged.erase("towns");
    }
    std::optional<Problem> problem;
    auto partner = read_partner(merged, problem);
    if (!partner) fail(*problem);
    db.execute(
        "UPDATE partners SET name = ?, kind = ?, legal_domain = ?, county_wide = ?, towns = ?, "
        "contact = ?, services = ?, connector = ?, active = ?, updated_at = ? WHERE slug = ?",
        {partner->name, partner->kind, partner->legal_domain, partner->county_wide ? 1 : 0,
         json(partner->towns).dump(), partner->contact.dump(), json(partner->services).dump(),
         partner->connector ? SqlValue(*partner->connector) : SqlValue(nullptr),
         partner->active ? 1 : 0, domain::now_timestamp(), slug});
    audit::append(db, ctx.actor, {"update", "partner", slug, ""});
    return Reply{200, *find_partner(db, slug), std::nullopt};
  });
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
      json agreement = agreement_json(row);
      if (status && agreement["effective_status"] != *status) continue;
      items.push_back(agreement);
    }
    return Reply{200, {{"items", items}}, std::nullopt};
  });
}

Result<Reply> PartnerService::get_agreement(const domain::Context& ctx, const std::string& id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    return Reply{200, agreement_json(load_agreement(db, id)), std::nullopt};
  });
}

Result<Reply> PartnerService::create_agreement(const domain::Context& ctx, const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>&) {
    auto a = read_agreement(db, body);
    const std::string id = domain::new_id("agr");
    const std::string now = domain::now_timestamp();
    db.execute(
        "INSERT INTO agreements(id, title, parties, handover_rule, services, data_terms, "
        "valid_from, valid_to, status, signed_on, created_by, created_at, updated_at) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,?,?,?)",
        {id, a.title, a.parties.dump(), a.handover_rule, json(a.services).dump(),
         a.data_terms.dump(), a.valid_from, a.valid_to ? SqlValue(*a.valid_to) : SqlValue(nullptr),
         a.status, a.signed_on ? SqlValue(*a.signed_on) : SqlValue(nullptr),
         ctx.actor.principal.user_id, now, now});
    store_parties(db, id, a.parties);
    audit::append(db, ctx.actor, {"create", "agreement", id, ""});
    return Reply{201, agreement_json(load_agreement(db, id)), std::nullopt};
  });
}

Result<Reply> PartnerService::update_agreement(const domain::Context& ctx, const std::string& id,
                                               const json& body) {
  return tx_.write([&](Connection& db, std::vector<sdk::Event>&) {
    auto row = load_agreement(db, id);
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
      json merged = agreement_json(row);
      for (const char* key : {"id", "effective_status", "created_at", "updated_at", "status",
                              "signed_on", "terminated_on"})
        merged.erase(key);
      for (const auto& [key, value] : content.items())
        merged[key] = value;
      if (valid_to) merged["valid_to"] = *valid_to;
      if (merged["valid_to"].is_null()) merged.erase("valid_to");
      auto a = read_agreement(db, merged);
      db.execute(
          "UPDATE agreements SET title = ?, parties = ?, handover_rule = ?, services = ?, "
          "data_terms = ?, valid_from = ?, valid_to = ? WHERE id = ?",
          {a.title, a.parties.dump(), a.handover_rule, json(a.services).dump(), a.data_terms.dump(),
           a.valid_from, a.valid_to ? SqlValue(*a.valid_to) : SqlValue(nullptr), id});
      store_parties(db, id, a.parties);
    } else if (valid_to) {
      if (status == "terminated" || status == "expired" || effective_status(row) == "expired") {
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
      const std::string today = domain::today();
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
    if (!content.empty() || valid_to || changes_status) {
      db.execute("UPDATE agreements SET updated_at = ? WHERE id = ?",
                 {domain::now_timestamp(), id});
      audit::append(db, ctx.actor, {changes_status ? *next : "update", "agreement", id, ""});
    }
    return Reply{200, agreement_json(load_agreement(db, id)), std::nullopt};
  });
}

}  // namespace kim::partners
