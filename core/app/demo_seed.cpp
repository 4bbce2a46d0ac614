#include "app/demo_seed.hpp"

#include <chrono>
#include <optional>

#include "app/demo_population.hpp"
#include "auth/access.hpp"
#include "chains/chains.hpp"
#include "domain/validation.hpp"
#include "log/logging.hpp"
#include "orgs/organisations.hpp"
#include "partners/partners.hpp"
#include "reports/funding.hpp"
#include "steering/steering.hpp"

namespace kim::app {

namespace {

using std::chrono::days;
using store::Connection;

// ---- refusal ----------------------------------------------------------------------------------

std::int64_t count(Connection& db, const char* sql) {
  return db.query(sql)[0]["n"].get<std::int64_t>();
}

// Throws DemoRefused unless the database is empty: the demo never mixes into real data, and a
// demo database is seeded only once.
void require_empty(Connection& db, const std::string& path) {
  if (!db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'demo_marker'")
           .empty()) {
    auto rows = db.query("SELECT seed, started_at, completed_at FROM demo_marker LIMIT 1");
    if (!rows.empty() && rows[0]["completed_at"].is_null()) {
      throw DemoRefused("the database " + path +
                        " holds an incomplete demo data set (seeding was interrupted); delete "
                        "the database file and seed again");
    }
    std::string when = rows.empty() ? ""
                                    : " (seed " + rows[0]["seed"].get<std::string>() + ", " +
                                          rows[0]["started_at"].get<std::string>() + ")";
    throw DemoRefused("the database " + path + " already holds demo data" + when +
                      "; to start over, delete the database file and seed again");
  }
  const auto persons = count(db, "SELECT count(*) AS n FROM persons");
  const auto cases = count(db, "SELECT count(*) AS n FROM cases");
  const auto users =
      count(db, "SELECT count(*) AS n FROM users WHERE NOT (name = 'admin' AND role = 'admin')");
  if (persons || cases || users) {
    throw DemoRefused("the database " + path + " holds real data (" + std::to_string(persons) +
                      " persons, " + std::to_string(cases) + " cases, " + std::to_string(users) +
                      " users besides admin); the demo never mixes into it. Seed a new, empty "
                      "database instead (another data_dir or database.file)");
  }
}

// The county's funding (funding.json) as its coordinating office records it through the API's
// service. An office the service does not take for the county's (a config without the partner
// network) writes none of it, as the network's parts are left out then.
void write_funding(const DemoData& data, store::Store& store, const demo::Staff& office,
                   DemoSummary& summary) {
  events::EventBus events(log::get("events"));
  reports::FundingService funding(store, events, domain::Env::system());
  std::vector<std::string> decisions;
  for (const auto& body : data.funding_decisions) {
    auto result = funding.create_decision(office.ctx, body);
    if (!result && result.problem().status == 403) return;
    decisions.push_back(demo::accepted(result, "funding decision")["id"]);
    ++summary.funding_records;
  }
  for (const auto& body : data.funding_posts) {
    demo::accepted(funding.create_post(office.ctx, body), "funded post");
    ++summary.funding_records;
  }
  for (auto body : data.funding_forwardings) {
    body["decision"] = decisions.at(body["decision"].get<std::size_t>());
    demo::accepted(funding.create_forwarding(office.ctx, body), "forwarding contract");
    ++summary.funding_records;
  }
}

// The bodies and chains of steering.json, set up by the hub's coordinator through the services
// the API uses. Partner members the config does not seed are left out (like the agreements).
void seed_steering(const DemoData& data, store::Store& store, demo::Services& services,
                   const demo::Staff& coordinator) {
  steering::SteeringService steering(
      store, services.events,
      [&services](const domain::Context& ctx) { return services.referrals.gaps_report(ctx); });
  chains::ChainService chains(store, services.events);
  for (nlohmann::json body : data.bodies) {
    nlohmann::json members = nlohmann::json::array();
    for (const auto& member : body["members"]) {
      const bool known = !member.contains("partner") || store.read([&](Connection& db) {
        return partners::find_partner(db, member["partner"]).has_value();
      });
      if (known) members.push_back(member);
    }
    body["members"] = members;
    demo::accepted(steering.create_body(coordinator.ctx, body), "body " + body["name"].dump());
  }
  for (const auto& chain : data.chains)
    demo::accepted(chains.create(coordinator.ctx, chain), "chain " + chain["name"].dump());
}

}  // namespace

DemoSummary seed_demo(store::Store& store, const DemoData& data, std::uint64_t seed) {
  using namespace demo;  // the seed's own parts
  DemoSummary summary;
  summary.seed = seed;
  const std::string path = store.path().string();

  // 1. Check and claim the database in one transaction (BEGIN IMMEDIATE): from here on it is
  //    recognisable as a demo database, even if a later step fails.
  store.write([&](Connection& db) {
    require_empty(db, path);
    db.exec(
        "CREATE TABLE IF NOT EXISTS demo_marker (seed TEXT NOT NULL, started_at TEXT NOT NULL, "
        "completed_at TEXT)");
    db.execute("INSERT INTO demo_marker(seed, started_at) VALUES (?, ?)",
               {std::to_string(seed), domain::now_timestamp()});
  });

  // 2. Organisations as the config's are seeded; those already known are reused as they are.
  std::vector<orgs::OrganisationSeed> seeds;
  for (const auto& org : data.organisations)
    seeds.push_back(org.seed);
  summary.organisations_created = orgs::apply_seeds(store, seeds);
  summary.organisations_reused = static_cast<int>(seeds.size()) - summary.organisations_created;

  // 3. Users and tokens as `kim token create` makes them; the seed then acts as these users.
  auth::AccessDirectory access(store);
  events::EventBus admin_events(log::get("events"));
  orgs::AdminService admin(store, admin_events, domain::Env::system());
  const domain::Context seeder{
      audit::Actor{sdk::Principal{0, "demo-seed", "system", 0, ""}, domain::new_id("demo")},
      std::nullopt};
  auto issue = [&](const std::string& name, const std::string& role, const std::string& org) {
    nlohmann::json body{{"name", name}, {"role", role}, {"label", "demo"}};
    if (!org.empty()) body["organisation"] = org;
    const std::string token = accepted(admin.grant_token(seeder, body), "user " + name)["token"];
    summary.users.push_back({name, role, org, token});
    return Staff{name, domain::Context{audit::Actor{*access.authenticate(token), "demo-seed"},
                                       std::nullopt}};
  };
  const bool has_admin = store.read(
      [](Connection& db) { return !db.query("SELECT 1 FROM users WHERE name = 'admin'").empty(); });
  // `kim serve` creates the bootstrap admin only on a database without users.
  if (!has_admin) issue("admin", "admin", "");
  std::optional<Staff> hub_coordinator;  // records the hub's agreements
  for (const auto& org : data.organisations) {
    if (org.coordinator.empty()) continue;
    auto staff = issue(org.coordinator, "coordinator", org.seed.slug);
    if (!hub_coordinator) hub_coordinator = staff;
  }
  std::map<std::string, Office> offices;
  const auto team_access = store.read([](Connection& db) {
    std::map<std::string, bool> found;
    for (const auto& row : db.query("SELECT slug, team_access FROM organisations"))
      found[row["slug"].get<std::string>()] = row["team_access"].get<std::int64_t>() == 1;
    return found;
  });
  for (const auto& org : data.organisations) {
    auto& office = offices[org.seed.slug];
    office.team_access = team_access.at(org.seed.slug);
    for (const auto& name : org.case_managers)
      office.case_managers.push_back(issue(name, "case_manager", org.seed.slug));
  }
  issue(data.auditor, "auditor", "");

  // 4. The partner network's agreements, then the participants and their cases (with referrals
  //    where the network allows them), all through the services the API uses.
  const sys_days today = std::chrono::floor<days>(std::chrono::system_clock::now());
  Services services(store);
  Network network(data, store, services, seed, summary, today);
  if (hub_coordinator) network.create_agreements(*hub_coordinator);
  if (hub_coordinator) seed_steering(data, store, services, *hub_coordinator);
  write_population(data, store, services, network, offices, seed, summary, today);
  if (hub_coordinator) write_funding(data, store, *hub_coordinator, summary);

  // 5. Mark the seed complete (each person was marked demo = 1 with its first stamps).
  store.write([&](Connection& db) {
    db.execute("UPDATE demo_marker SET completed_at = ?", {domain::now_timestamp()});
  });
  return summary;
}

}  // namespace kim::app
