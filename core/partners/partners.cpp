#include "partners/partners.hpp"

#include <algorithm>
#include <map>
#include <regex>
#include <stdexcept>

#include "domain/catalog.hpp"
#include "domain/sql_query.hpp"
#include "domain/validation.hpp"
#include "partners/internal.hpp"

namespace kim::partners {

namespace {

const char* const kSlugPattern = "^[a-z0-9][a-z0-9-]{1,62}$";

bool is_slug(const std::string& text) {
  if (text.size() < 2 || text.size() > 63) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!ok(text[0])) return false;
  return std::all_of(text.begin() + 1, text.end(), [&](char c) { return ok(c) || c == '-'; });
}

// An absolute http(s) URL with a host: scheme (any case), "://", then no white space.
bool is_web_address(const std::string& text) {
  static const std::regex kShape(
      "^[hH][tT][tT][pP][sS]?://[A-Za-z0-9._~%-]+(:[0-9]{1,5})?([/?#][^\\s]*)?$");
  return std::regex_match(text, kShape);
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
Result<PartnerFields> read_partner(const json& body) {
  FieldReader in(body);
  PartnerFields p;
  p.slug = in.line("slug", 63);
  if (!in.problem() && !is_slug(p.slug)) {
    in.fail("slug", std::string("must match ") + kSlugPattern + " (lowercase letters, digits, -)");
  }
  p.name = in.line("name", kNameMax);
  auto kind = in.choice("kind", domain::partner_kinds());
  auto legal = in.choice("legal_domain", domain::legal_domains(), false);
  p.county_wide = in.boolean("county_wide", false).value_or(false);
  p.towns = in.choices("towns", domain::towns(), domain::towns().size(), false);
  in.object("contact", [&](FieldReader& contact) {
    for (const char* key : {"address", "phone", "email", "website", "contact_person"}) {
      if (auto value = contact.optional_line(key, kNameMax)) p.contact[key] = *value;
    }
    // Shown to users as a link: javascript:, data: and the like would run or carry content.
    if (p.contact.contains("website") && !is_web_address(p.contact["website"])) {
      contact.fail("website", "must be an http:// or https:// address");
    }
  });
  p.services = in.choices("services", domain::services(), domain::services().size());
  p.connector = in.optional_line("connector", 100);
  p.active = in.boolean("active", false).value_or(true);
  in.finish();
  if (!in.problem()) {
    if (p.county_wide && !p.towns.empty()) {
      in.fail("towns", "must be left out when county_wide is true (the partner serves all towns)");
    } else if (!p.county_wide && p.towns.empty()) {
      in.fail("towns", "must name the towns served, or set county_wide to true");
    }
  }
  if (in.problem()) return *in.problem();
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

void insert_partner(Connection& db, const PartnerFields& p, const std::string& now) {
  db.execute(
      "INSERT INTO partners(slug, name, kind, legal_domain, county_wide, towns, contact, "
      "services, connector, active, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
      {p.slug, p.name, p.kind, p.legal_domain, p.county_wide ? 1 : 0, json(p.towns).dump(),
       p.contact.dump(), json(p.services).dump(), optional_value(p.connector), p.active ? 1 : 0,
       now, now});
}

}  // namespace

bool partner_exists(Connection& db, const std::string& slug) {
  return !db.query("SELECT 1 FROM partners WHERE slug = ?", {slug}).empty();
}

namespace {

// The seeds read by the partner rules; every problem (and repeated slug) lands in `problems`.
std::vector<PartnerFields> read_seeds(const std::vector<json>& seeds,
                                      std::vector<std::string>& problems) {
  std::vector<PartnerFields> partners;
  std::map<std::string, std::size_t> first_index;
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    const std::string where = "partners[" + std::to_string(i) + "]";
    auto partner = read_partner(seeds[i]);
    if (!partner) {
      problems.push_back(where + "." + partner.problem().field + ": " + partner.problem().message);
      continue;
    }
    const std::string& slug = partner.value().slug;
    auto [it, fresh] = first_index.emplace(slug, i);
    if (!fresh) {
      problems.push_back(where + ".slug: \"" + slug + "\" is already used by partners[" +
                         std::to_string(it->second) + "]");
    }
    partners.push_back(std::move(partner.value()));
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
      insert_partner(db, partner, domain::now_timestamp());
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

Result<Reply> PartnerService::list_partners(const domain::Context& ctx,
                                            const PartnerFilter& filter) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    domain::SqlQuery query("SELECT * FROM partners p WHERE 1 = 1");
    query.and_if(filter.kind, "p.kind = ?")
        .and_if(filter.legal_domain, "p.legal_domain = ?")
        .and_if(filter.town,
                "(p.county_wide = 1 OR EXISTS (SELECT 1 FROM json_each(p.towns) WHERE value = ?))")
        .and_if(filter.service, "EXISTS (SELECT 1 FROM json_each(p.services) WHERE value = ?)");
    json items = json::array();
    for (const auto& row : query.run(db, "p.name, p.slug"))
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

void PartnerService::check_connector(const std::optional<std::string>& connector) const {
  if (!connector || domain::contains(connectors_, *connector)) return;
  // Free text here would leave the partner's messages in the outbox with nowhere to go.
  fail(Problem{400, "unknown_connector",
               "no connector instance \"" + *connector + "\" is configured (known: " +
                   (connectors_.empty() ? std::string("none") : domain::join(connectors_)) + ")",
               "connector", json{{"known", connectors_}}});
}

Result<Reply> PartnerService::create_partner(const domain::Context& ctx, const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
    auto read = read_partner(body);
    if (!read) fail(read.problem());
    const PartnerFields* partner = &read.value();
    check_connector(partner->connector);
    if (partner_exists(db, partner->slug)) {
      fail(Problem{409, "slug_taken", "a partner with slug " + partner->slug + " exists", "slug",
                   nullptr});
    }
    insert_partner(db, *partner, change.env.timestamp());
    change.audit("create", "partner", partner->slug);
    return Reply{201, *find_partner(db, partner->slug), std::nullopt};
  });
}

Result<Reply> PartnerService::update_partner(const domain::Context& ctx, const std::string& slug,
                                             const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    Connection& db = change.db;
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
    auto read = read_partner(merged);
    if (!read) fail(read.problem());
    const PartnerFields* partner = &read.value();
    if (body.contains("connector")) check_connector(partner->connector);
    db.execute(
        "UPDATE partners SET name = ?, kind = ?, legal_domain = ?, county_wide = ?, towns = ?, "
        "contact = ?, services = ?, connector = ?, active = ?, updated_at = ? WHERE slug = ?",
        {partner->name, partner->kind, partner->legal_domain, partner->county_wide ? 1 : 0,
         json(partner->towns).dump(), partner->contact.dump(), json(partner->services).dump(),
         optional_value(partner->connector), partner->active ? 1 : 0, change.env.timestamp(),
         slug});
    change.audit("update", "partner", slug);
    return Reply{200, *find_partner(db, slug), std::nullopt};
  });
}

}  // namespace kim::partners
