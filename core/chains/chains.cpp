#include "chains/chains.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <vector>

#include "cases/records.hpp"
#include "domain/catalog.hpp"
#include "domain/validation.hpp"

namespace kim::chains {

using domain::check;
using domain::Context;
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
constexpr std::size_t kMaxSteps = 20;
// Counts below this are shown as "<5", medians over fewer cases not at all: no person can be
// singled out of a report.
constexpr std::int64_t kSmallCell = 5;

struct Step {
  std::string title, service;
  std::optional<std::string> partner_kind;
};

std::vector<Step> steps_of(Connection& db, const std::string& chain_id) {
  std::vector<Step> steps;
  for (const auto& row :
       db.query("SELECT title, service, partner_kind FROM chain_steps WHERE chain_id = ? ORDER BY "
                "position",
                {chain_id})) {
    steps.push_back({row["title"], row["service"],
                     row["partner_kind"].is_string()
                         ? std::optional<std::string>(row["partner_kind"].get<std::string>())
                         : std::nullopt});
  }
  return steps;
}

json steps_json(const std::vector<Step>& steps) {
  json items = json::array();
  for (std::size_t i = 0; i < steps.size(); ++i) {
    items.push_back(
        {{"position", i + 1},
         {"title", steps[i].title},
         {"service", steps[i].service},
         {"partner_kind", steps[i].partner_kind ? json(*steps[i].partner_kind) : json(nullptr)}});
  }
  return items;
}

json find_chain(Connection& db, const std::string& id) {
  auto rows = db.query("SELECT * FROM chain_templates WHERE id = ?", {id});
  if (rows.empty()) return nullptr;
  const auto& row = rows.front();
  return {{"id", row["id"]},
          {"name", row["name"]},
          {"description", row["description"]},
          {"steps", steps_json(steps_of(db, id))},
          {"created_at", row["created_at"]}};
}

// The date each step was reached (nullopt: not yet), walking the case's accepted and completed
// referrals since the chain started in the order they happened: each advances at most the next
// step, and only when it is for that step's service (and partner kind).
std::vector<std::optional<std::string>> progress(Connection& db, const std::string& case_id,
                                                 const std::string& started_on,
                                                 const std::vector<Step>& steps) {
  std::vector<std::optional<std::string>> reached(steps.size());
  std::size_t next = 0;
  std::set<std::string> used;
  for (const auto& row : db.query(
           "SELECT r.id, r.service, p.kind AS partner_kind, h.occurred_on FROM referral_history h "
           "JOIN referrals r ON r.id = h.referral_id JOIN partners p ON p.slug = r.partner WHERE "
           "r.case_id = ? AND h.to_status IN ('accepted', 'completed') AND h.occurred_on >= ? "
           "ORDER BY h.occurred_on, h.id",
           {case_id, started_on})) {
    if (next == steps.size()) break;
    const Step& step = steps[next];
    if (row["service"] != step.service) continue;
    if (step.partner_kind && row["partner_kind"] != *step.partner_kind) continue;
    if (!used.insert(row["id"].get<std::string>()).second) continue;  // one step per referral
    reached[next++] = row["occurred_on"].get<std::string>();
  }
  return reached;
}

std::chrono::sys_days day_of(const std::string& date) {
  using namespace std::chrono;
  return sys_days{year{std::stoi(date.substr(0, 4))} /
                  month{static_cast<unsigned>(std::stoi(date.substr(5, 2)))} /
                  day{static_cast<unsigned>(std::stoi(date.substr(8, 2)))}};
}

json small_cell(std::int64_t count) {
  if (count > 0 && count < kSmallCell) return "<5";
  return count;
}

json median_days(std::vector<std::int64_t> days) {
  if (static_cast<std::int64_t>(days.size()) < kSmallCell) return nullptr;
  std::sort(days.begin(), days.end());
  const std::size_t mid = days.size() / 2;
  if (days.size() % 2 == 1) return days[mid];
  return static_cast<double>(days[mid - 1] + days[mid]) / 2.0;
}

}  // namespace

Result<Reply> ChainService::list(const Context& ctx) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    json items = json::array();
    for (const auto& row : db.query("SELECT id FROM chain_templates ORDER BY name"))
      items.push_back(find_chain(db, row["id"]));
    return Reply{200, {{"items", items}}, std::nullopt};
  });
}

Result<Reply> ChainService::get(const Context& ctx, const std::string& id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    auto chain = find_chain(db, id);
    if (chain.is_null()) fail(Problem::not_found("chain " + id));
    return Reply{200, chain, std::nullopt};
  });
}

Result<Reply> ChainService::create(const Context& ctx, const json& body) {
  return tx_.write(ctx, [&](domain::Change& change) {
    Connection& db = change.db;
    FieldReader in(body);
    auto name = in.line("name", kNameMax);
    auto description = in.optional_text("description", kTextMax);
    std::vector<Step> steps;
    in.objects(
        "steps", kMaxSteps,
        [&](FieldReader& step) {
          Step read;
          read.title = step.line("title", kNameMax);
          read.service = step.choice("service", domain::services()).value_or("");
          read.partner_kind = step.choice("partner_kind", domain::partner_kinds(), false);
          steps.push_back(read);
        },
        true);
    in.finish();
    check(in);
    if (steps.size() < 2) {
      fail(Problem::bad_request("steps", "a chain has at least two steps"));
    }
    if (!db.query("SELECT 1 FROM chain_templates WHERE name = ?", {name}).empty()) {
      fail(Problem{409, "name_taken", "a chain with this name exists", "name", nullptr});
    }
    const std::string id = change.env.new_id("chain");
    db.execute(
        "INSERT INTO chain_templates(id, name, description, created_by, created_at) VALUES "
        "(?,?,?,?,?)",
        {id, name, description ? SqlValue(*description) : SqlValue(nullptr),
         ctx.actor.principal.user_id, change.env.timestamp()});
    for (std::size_t i = 0; i < steps.size(); ++i) {
      db.execute(
          "INSERT INTO chain_steps(chain_id, position, title, service, partner_kind) VALUES "
          "(?,?,?,?,?)",
          {id, static_cast<std::int64_t>(i + 1), steps[i].title, steps[i].service,
           steps[i].partner_kind ? SqlValue(*steps[i].partner_kind) : SqlValue(nullptr)});
    }
    change.audit("create", "chain", id);
    return Reply{201, find_chain(db, id), std::nullopt};
  });
}

Result<Reply> ChainService::follow(const Context& ctx, const std::string& case_id,
                                   const json& body) {
  const cases::CaseRule rule{"following a chain", /*case_manager_only=*/true};
  return cases::write_case(
      tx_, ctx, case_id, rule, [&](domain::Change& change, const cases::CaseRow&) {
        Connection& db = change.db;
        FieldReader in(body);
        auto chain_id = in.line("chain", 100);
        auto started_on = in.date("started_on", false).value_or(change.env.today());
        in.finish();
        check(in);
        if (started_on > change.env.today()) {
          fail(Problem::bad_request("started_on", "is in the future"));
        }
        if (find_chain(db, chain_id).is_null()) {
          fail(Problem::bad_request("chain", "is not a chain (see GET /api/v1/chains)"));
        }
        if (!db.query("SELECT 1 FROM case_chains WHERE case_id = ? AND chain_id = ?",
                      {case_id, chain_id})
                 .empty()) {
          fail(Problem{409, "already_following", "the case follows this chain already", "chain",
                       nullptr});
        }
        const std::string id = change.env.new_id("cch");
        db.execute(
            "INSERT INTO case_chains(id, case_id, chain_id, started_on, created_by, created_at) "
            "VALUES (?,?,?,?,?,?)",
            {id, case_id, chain_id, started_on, ctx.actor.principal.user_id,
             change.env.timestamp()});
        change.audit("create", "case_chain", id, case_id);
        auto steps = steps_of(db, chain_id);
        json reached = json::array();
        for (const auto& date : progress(db, case_id, started_on, steps))
          reached.push_back(date ? json(*date) : json(nullptr));
        return Reply{201,
                     {{"id", id},
                      {"case_id", case_id},
                      {"chain", chain_id},
                      {"started_on", started_on},
                      {"reached_on", reached}},
                     std::nullopt};
      });
}

Result<Reply> ChainService::of_case(const Context& ctx, const std::string& case_id) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>& audit) {
    auto row = cases::load_case(db, ctx, case_id, cases::Access::kRead);
    json items = json::array();
    for (const auto& followed :
         db.query("SELECT cc.id, cc.chain_id, cc.started_on, t.name FROM case_chains cc JOIN "
                  "chain_templates t ON t.id = cc.chain_id WHERE cc.case_id = ? ORDER BY "
                  "cc.created_at, cc.id",
                  {case_id})) {
      const auto steps = steps_of(db, followed["chain_id"]);
      const auto reached = progress(db, case_id, followed["started_on"], steps);
      json step_items = steps_json(steps);
      std::optional<std::int64_t> current;
      for (std::size_t i = 0; i < steps.size(); ++i) {
        step_items[i]["reached_on"] = reached[i] ? json(*reached[i]) : json(nullptr);
        if (!reached[i] && !current) current = static_cast<std::int64_t>(i + 1);
      }
      items.push_back({{"id", followed["id"]},
                       {"chain", {{"id", followed["chain_id"]}, {"name", followed["name"]}}},
                       {"started_on", followed["started_on"]},
                       {"steps", step_items},
                       {"next_step", current ? json(*current) : json(nullptr)},
                       {"completed", !current.has_value()}});
    }
    audit.push_back({"list", "case_chain", case_id, case_id});
    return Reply{200, {{"items", items}}, row.version};
  });
}

Result<Reply> ChainService::report(const Context& ctx, const std::string& id) {
  // Counts only, suppressed below five: nothing personal leaves, so nothing to audit.
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    auto chain = find_chain(db, id);
    if (chain.is_null()) fail(Problem::not_found("chain " + id));
    const auto steps = steps_of(db, id);
    const std::size_t n = steps.size();
    std::vector<std::int64_t> reached(n, 0), stopped(n, 0);
    std::vector<std::vector<std::int64_t>> days(n);
    std::int64_t cases = 0, not_started = 0, completed = 0;
    for (const auto& followed :
         db.query("SELECT case_id, started_on FROM case_chains WHERE chain_id = ?", {id})) {
      ++cases;
      const std::string started_on = followed["started_on"];
      const auto dates = progress(db, followed["case_id"], started_on, steps);
      std::size_t furthest = 0;
      std::string previous = started_on;
      for (std::size_t i = 0; i < n && dates[i]; ++i) {
        ++reached[i];
        days[i].push_back((day_of(*dates[i]) - day_of(previous)).count());
        previous = *dates[i];
        furthest = i + 1;
      }
      if (furthest == 0) {
        ++not_started;
      } else if (furthest == n) {
        ++completed;
      } else {
        ++stopped[furthest - 1];
      }
    }
    json step_items = steps_json(steps);
    for (std::size_t i = 0; i < n; ++i) {
      step_items[i]["reached"] = small_cell(reached[i]);
      step_items[i]["stopped_here"] = small_cell(stopped[i]);
      step_items[i]["median_days"] = median_days(days[i]);
    }
    return Reply{200,
                 {{"chain", {{"id", id}, {"name", chain["name"]}}},
                  {"generated_at", tx_.env().timestamp()},
                  {"cases", small_cell(cases)},
                  {"not_started", small_cell(not_started)},
                  {"completed", small_cell(completed)},
                  {"steps", step_items},
                  {"suppression",
                   "counts from 1 to 4 are shown as \"<5\"; medians over fewer than 5 cases are "
                   "null"}},
                 std::nullopt};
  });
}

}  // namespace kim::chains
