#include "chains/chains.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <vector>

#include "cases/records.hpp"
#include "domain/catalog.hpp"
#include "domain/prelude.hpp"
#include "domain/validation.hpp"
#include "reports/indicators.hpp"

namespace kim::chains {

using namespace domain::prelude;

namespace {

constexpr std::size_t kNameMax = 200;
constexpr std::size_t kTextMax = 4000;
constexpr std::size_t kMaxSteps = 20;
// Counts below this are shown as "<5", medians over fewer cases not at all: no person can be
// singled out of a report.
using reports::kSmallCell;

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

// Days from `from` to `to` (both dates as stored: YYYY-MM-DD).
std::int64_t days_between(const std::string& from, const std::string& to) {
  return reports::day_number(to).value() - reports::day_number(from).value();
}

// The report's counts and how they hang together: cases = not_started + reached[0], and
// reached[i] = reached[i + 1] + stopped[i] for every step but the last (completed is
// reached[n - 1]; nobody stops at the last step). Small cells (1-4) are shown as "<5"; so that none
// of them can be worked out from the shown counts (by subtraction, or because all its partners
// are small too), more counts are withheld (null): complementary suppression.
class ChainCounts {
 public:
  enum Cell : std::size_t { kCases = 0, kNotStarted = 1 };
  explicit ChainCounts(std::size_t steps) : steps_(steps), values_(2 + 2 * steps, 0) {
    relations_.push_back({kCases, kNotStarted, reached(0)});
    for (std::size_t i = 0; i + 1 < steps; ++i)
      relations_.push_back({reached(i), reached(i + 1), stopped(i)});
  }
  std::size_t reached(std::size_t step) const { return 2 + step; }
  std::size_t stopped(std::size_t step) const { return 2 + steps_ + step; }
  std::int64_t& operator[](std::size_t cell) { return values_[cell]; }
  std::size_t cells() const { return values_.size(); }

  // The published form of every cell: the count, "<5", or null; nullopt when no count may be
  // published at all (and no median either: a median tells its count is 5 or more).
  std::optional<std::vector<json>> published() const {
    const std::size_t n = values_.size();
    std::vector<Shown> shown(n, Shown::kCount);
    for (std::size_t c = 0; c < n; ++c)
      if (values_[c] > 0 && values_[c] < kSmallCell) shown[c] = Shown::kSmall;
    // Withhold one more count at a time next to a small or withheld count that could be worked
    // out, until none can. Withheld counts are never 0, so whoever reads the report knows of
    // each hidden count only that it is 1-4 ("<5") or 5 and more (null).
    for (std::size_t round = 0; round <= n; ++round) {
      const auto pinned = first_derivable(shown);
      if (!pinned) return render(shown);
      const auto extra = complement(shown, *pinned);
      if (!extra) break;
      shown[*extra] = Shown::kWithheld;
    }
    // Nothing left to withhold beside it: publish no count at all.
    return std::nullopt;
  }

 private:
  enum class Shown { kCount, kSmall, kWithheld };
  struct Relation {
    std::size_t total, part, other;  // total = part + other
  };
  struct Range {
    std::int64_t low, high;
  };
  static constexpr std::int64_t kUnbounded = std::numeric_limits<std::int64_t>::max() / 4;

  // A hidden cell whose value follows from what is published, if any. What a reader knows of a
  // cell is a range (a shown count exactly, "<5" 1-4, null 5 and more); narrowing the ranges
  // through the relations until nothing changes leaves, for relations that form a chain like
  // these, exactly the values each cell can still take: one value is a derived cell.
  std::optional<std::size_t> first_derivable(const std::vector<Shown>& shown) const {
    std::vector<Range> range(values_.size());
    for (std::size_t c = 0; c < values_.size(); ++c) {
      if (shown[c] == Shown::kCount) range[c] = {values_[c], values_[c]};
      if (shown[c] == Shown::kSmall) range[c] = {1, kSmallCell - 1};
      if (shown[c] == Shown::kWithheld) range[c] = {kSmallCell, kUnbounded};
    }
    // Ranges only narrow, and along a chain they settle within a few passes; the bound is a guard.
    bool changed = true;
    for (std::size_t pass = 0; changed && pass < 100 * relations_.size(); ++pass) {
      changed = false;
      auto narrow = [&](std::size_t c, std::int64_t low, std::int64_t high) {
        low = std::max(low, range[c].low);
        high = std::min(high, range[c].high);
        if (low != range[c].low || high != range[c].high) {
          range[c] = {low, high};
          changed = true;
        }
      };
      for (const auto& r : relations_) {
        const Range t = range[r.total], a = range[r.part], b = range[r.other];
        narrow(r.total, a.low + b.low, std::min(kUnbounded, a.high + b.high));
        narrow(r.part, t.low - b.high, t.high - b.low);
        narrow(r.other, t.low - a.high, t.high - a.low);
      }
    }
    for (std::size_t c = 0; c < values_.size(); ++c) {
      if (shown[c] != Shown::kCount && range[c].low == range[c].high) return c;
    }
    return std::nullopt;
  }

  // A shown, non-zero count to withhold beside `cell`: in a relation with it, preferring one
  // that is in no other relation, then a part over a total.
  std::optional<std::size_t> complement(const std::vector<Shown>& shown, std::size_t cell) const {
    std::optional<std::size_t> best;
    std::pair<std::size_t, int> best_rank{};
    for (const auto& r : relations_) {
      if (r.total != cell && r.part != cell && r.other != cell) continue;
      for (std::size_t c : {r.part, r.other, r.total}) {
        if (c == cell || shown[c] != Shown::kCount || values_[c] == 0) continue;
        const std::pair<std::size_t, int> rank{relations_of(c), c == r.total ? 1 : 0};
        if (!best || rank < best_rank) {
          best = c;
          best_rank = rank;
        }
      }
    }
    return best;
  }

  std::size_t relations_of(std::size_t cell) const {
    return static_cast<std::size_t>(std::count_if(
        relations_.begin(), relations_.end(),
        [&](const Relation& r) { return r.total == cell || r.part == cell || r.other == cell; }));
  }

  std::vector<json> render(const std::vector<Shown>& shown) const {
    std::vector<json> out;
    for (std::size_t c = 0; c < values_.size(); ++c) {
      if (shown[c] == Shown::kCount) out.emplace_back(values_[c]);
      if (shown[c] == Shown::kSmall) out.emplace_back(reports::kSuppressed);
      if (shown[c] == Shown::kWithheld) out.emplace_back(nullptr);
    }
    return out;
  }

  std::size_t steps_;
  std::vector<std::int64_t> values_;
  std::vector<Relation> relations_;
};

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
        {id, name, optional_value(description), ctx.actor.principal.user_id,
         change.env.timestamp()});
    for (std::size_t i = 0; i < steps.size(); ++i) {
      db.execute(
          "INSERT INTO chain_steps(chain_id, position, title, service, partner_kind) VALUES "
          "(?,?,?,?,?)",
          {id, static_cast<std::int64_t>(i + 1), steps[i].title, steps[i].service,
           optional_value(steps[i].partner_kind)});
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
    ChainCounts counts(n);
    std::vector<std::vector<std::int64_t>> days(n);
    for (const auto& followed :
         db.query("SELECT case_id, started_on FROM case_chains WHERE chain_id = ?", {id})) {
      ++counts[ChainCounts::kCases];
      const std::string started_on = followed["started_on"];
      const auto dates = progress(db, followed["case_id"], started_on, steps);
      std::size_t furthest = 0;
      std::string previous = started_on;
      for (std::size_t i = 0; i < n && dates[i]; ++i) {
        ++counts[counts.reached(i)];
        days[i].push_back(days_between(previous, *dates[i]));
        previous = *dates[i];
        furthest = i + 1;
      }
      if (furthest == 0) {
        ++counts[ChainCounts::kNotStarted];
      } else if (furthest < n) {
        ++counts[counts.stopped(furthest - 1)];
      }
    }
    const auto published = counts.published();
    const std::vector<json> shown = published.value_or(std::vector<json>(counts.cells(), nullptr));
    json step_items = steps_json(steps);
    for (std::size_t i = 0; i < n; ++i) {
      step_items[i]["reached"] = shown[counts.reached(i)];
      step_items[i]["stopped_here"] = shown[counts.stopped(i)];
      step_items[i]["median_days"] = published ? median_days(days[i]) : json(nullptr);
    }
    return Reply{200,
                 {{"chain", {{"id", id}, {"name", chain["name"]}}},
                  {"generated_at", tx_.env().timestamp()},
                  {"cases", shown[ChainCounts::kCases]},
                  {"not_started", shown[ChainCounts::kNotStarted]},
                  {"completed", shown[counts.reached(n - 1)]},
                  {"steps", step_items},
                  {"suppression",
                   "counts from 1 to 4 are shown as \"<5\"; counts from which one of them could be "
                   "worked out are null (5 or more); medians over fewer than 5 cases are null"}},
                 std::nullopt};
  });
}

}  // namespace kim::chains
