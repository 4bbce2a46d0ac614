#include "reports/funding.hpp"

#include <algorithm>
#include <cmath>

#include "audit/security_log.hpp"
#include "domain/prelude.hpp"
#include "domain/route_support.hpp"
#include "domain/validation.hpp"
#include "reports/indicators.hpp"

namespace kim::reports {

using domain::Call;
using namespace domain::prelude;

namespace {

constexpr std::int64_t kMaxAmountCents = 100'000'000'000;  // one billion euros
constexpr std::int64_t kMaxFteCenti = 10000;               // 100 FTE in one post line

const domain::Vocabulary& post_functions() {
  static const domain::Vocabulary values = {"coordination", "case_management", "administration",
                                            "authority_casework", "other"};
  return values;
}

// Organisations funds may be forwarded to: welfare organisations and towns (their offices).
const domain::Vocabulary& forwarding_recipients() {
  static const domain::Vocabulary values = {"welfare_organisation", "municipality",
                                            "coordinating_office"};
  return values;
}

void require_writer(Connection& db, const Context& ctx) {
  const auto& principal = ctx.actor.principal;
  if (principal.role == "admin") return;
  // The county's office: the coordinating office that is a county-wide coordinating partner.
  if (principal.role == "coordinator" &&
      !db.query("SELECT 1 FROM organisations o JOIN partners p ON p.slug = o.slug WHERE o.id = ? "
                "AND o.kind = 'coordinating_office' AND p.kind = 'coordinating_office' AND "
                "p.county_wide = 1",
                {principal.organisation_id})
           .empty()) {
    return;
  }
  audit::SecurityLog::note(ctx.actor, "funding", "");
  fail(Problem::forbidden("only admins and the county's coordinating office record funding"));
}

// A number of full-time equivalents with at most two decimals, as hundredths.
std::int64_t read_fte(FieldReader& in, const json& body, const char* key, std::int64_t min_centi) {
  in.skip(key);
  if (in.problem()) return 0;
  if (!body.contains(key)) {
    in.fail(key, "is required");
    return 0;
  }
  const json& value = body[key];
  if (!value.is_number()) {
    in.fail(key, "must be a number of full-time equivalents, e.g. 2.25");
    return 0;
  }
  const double fte = value.get<double>();
  const double centi = std::round(fte * 100);
  if (!std::isfinite(fte) || std::fabs(fte * 100 - centi) > 1e-6) {
    in.fail(key, "must have at most two decimals");
    return 0;
  }
  if (centi < static_cast<double>(min_centi) || centi > static_cast<double>(kMaxFteCenti)) {
    in.fail(key, "must be from " + std::string(min_centi == 0 ? "0" : "0.01") + " to 100");
    return 0;
  }
  return static_cast<std::int64_t>(centi);
}

struct Period {
  std::string from, to;
};

Period read_period(FieldReader& in) {
  auto from = in.date("period_from");
  auto to = in.date("period_to");
  if (from && to && *to < *from) in.fail("period_to", "must not be before period_from");
  return {from.value_or(""), to.value_or("")};
}

std::int64_t organisation_id(Connection& db, const std::string& slug,
                             const domain::Vocabulary* kinds) {
  auto rows = db.query("SELECT id, kind FROM organisations WHERE slug = ?", {slug});
  if (rows.empty()) {
    fail(Problem{400, "unknown_organisation", "no organisation \"" + slug + "\"", "organisation",
                 nullptr});
  }
  if (kinds && !domain::contains(*kinds, rows[0]["kind"].get<std::string>())) {
    fail(Problem::bad_request("organisation", "funds are forwarded only to organisations of kind " +
                                                  domain::join(*kinds)));
  }
  return rows[0]["id"].get<std::int64_t>();
}

double fte_of(std::int64_t centi) {
  return static_cast<double>(centi) / 100;
}

// The days of [from, to] within [year_from, year_to], and the days of [from, to].
std::pair<std::int64_t, std::int64_t> overlap(const std::string& from, const std::string& to,
                                              std::int64_t year_from, std::int64_t year_to) {
  const auto start = *day_number(from);
  const auto end = *day_number(to);
  const auto days =
      std::max<std::int64_t>(0, std::min(end, year_to) - std::max(start, year_from) + 1);
  return {days, end - start + 1};
}

std::int64_t pro_rata(std::int64_t value, std::int64_t part, std::int64_t whole) {
  return static_cast<std::int64_t>(
      std::llround(static_cast<long double>(value) * part / static_cast<long double>(whole)));
}

const char* const kDecisionSelect =
    "SELECT id, building_block, purpose, amount_cents, period_from, period_to, decided_on, "
    "reference, created_at FROM funding_decisions";
const char* const kPostSelect =
    "SELECT f.id, f.building_block, o.slug AS organisation, f.function, f.fte_planned_centi, "
    "f.fte_filled_centi, f.funding_per_fte_cents, f.period_from, f.period_to, f.created_at "
    "FROM funding_posts f JOIN organisations o ON o.id = f.organisation_id";
const char* const kForwardingSelect =
    "SELECT f.id, f.decision_id, d.building_block, o.slug AS organisation, f.amount_cents, "
    "f.period_from, f.period_to, f.signed_on, f.created_at FROM funding_forwardings f "
    "JOIN organisations o ON o.id = f.organisation_id JOIN funding_decisions d ON d.id = "
    "f.decision_id";

json post_json(json row) {
  row["fte_planned"] = fte_of(row["fte_planned_centi"].get<std::int64_t>());
  row["fte_filled"] = fte_of(row["fte_filled_centi"].get<std::int64_t>());
  row.erase("fte_planned_centi");
  row.erase("fte_filled_centi");
  return row;
}

}  // namespace

Result<Reply> FundingService::create_decision(const Context& ctx, const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    require_writer(change.db, ctx);
    FieldReader in(body);
    auto block = in.integer("building_block", 1, 3);
    auto purpose = in.line("purpose", 200);
    auto amount = in.integer("amount_cents", 0, kMaxAmountCents);
    auto period = read_period(in);
    auto decided_on = in.date("decided_on");
    auto reference = in.optional_line("reference", 200);
    in.finish();
    check(in);
    const std::string id = change.env.new_id("fdec");
    change.db.execute(
        "INSERT INTO funding_decisions(id, building_block, purpose, amount_cents, period_from, "
        "period_to, decided_on, reference, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        {id, *block, purpose, *amount, period.from, period.to, *decided_on, reference.value_or(""),
         ctx.actor.principal.user_id, change.env.timestamp()});
    change.audit("create", "funding_decision", id);
    return Reply{201, change.db.query(std::string(kDecisionSelect) + " WHERE id = ?", {id})[0],
                 std::nullopt};
  });
}

Result<Reply> FundingService::create_post(const Context& ctx, const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    require_writer(change.db, ctx);
    FieldReader in(body);
    auto block = in.integer("building_block", 1, 3);
    auto organisation = in.line("organisation", 100);
    auto function = in.choice("function", post_functions());
    const auto planned = read_fte(in, body, "fte_planned", 1);
    const auto filled = read_fte(in, body, "fte_filled", 0);
    auto per_fte = in.integer("funding_per_fte_cents", 0, kMaxAmountCents, false);
    auto period = read_period(in);
    in.finish();
    check(in);
    const auto org = organisation_id(change.db, organisation, nullptr);
    const std::string id = change.env.new_id("fpost");
    change.db.execute(
        "INSERT INTO funding_posts(id, building_block, organisation_id, function, "
        "fte_planned_centi, fte_filled_centi, funding_per_fte_cents, period_from, period_to, "
        "created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        {id, *block, org, *function, planned, filled, optional_value(per_fte), period.from,
         period.to, ctx.actor.principal.user_id, change.env.timestamp()});
    change.audit("create", "funding_post", id);
    return Reply{201,
                 post_json(change.db.query(std::string(kPostSelect) + " WHERE f.id = ?", {id})[0]),
                 std::nullopt};
  });
}

Result<Reply> FundingService::create_forwarding(const Context& ctx, const json& body) {
  return tx_.write(ctx, [&](Change& change) {
    require_writer(change.db, ctx);
    FieldReader in(body);
    auto decision = in.line("decision", 100);
    auto organisation = in.line("organisation", 100);
    auto amount = in.integer("amount_cents", 1, kMaxAmountCents);  // a contract passes money on
    auto period = read_period(in);
    auto signed_on = in.date("signed_on");
    in.finish();
    check(in);
    auto decisions = change.db.query(
        "SELECT amount_cents, period_from, period_to, (SELECT coalesce(sum(amount_cents), 0) FROM "
        "funding_forwardings WHERE decision_id = d.id) AS forwarded FROM "
        "funding_decisions d WHERE id = ?",
        {decision});
    if (decisions.empty()) {
      fail(Problem{400, "unknown_decision", "no funding decision \"" + decision + "\"", "decision",
                   nullptr});
    }
    // Funds are passed on only for the time they are granted for.
    const std::string granted_from = decisions[0]["period_from"],
                      granted_to = decisions[0]["period_to"];
    if (period.from < granted_from) {
      fail(Problem::bad_request(
          "period_from", "must not be before the decision's period (from " + granted_from + ")"));
    }
    if (period.to > granted_to) {
      fail(Problem::bad_request("period_to",
                                "must not be after the decision's period (to " + granted_to + ")"));
    }
    const auto org = organisation_id(change.db, organisation, &forwarding_recipients());
    const auto granted = decisions[0]["amount_cents"].get<std::int64_t>();
    const auto forwarded = decisions[0]["forwarded"].get<std::int64_t>();
    if (forwarded + *amount > granted) {
      fail(Problem{422, "exceeds_grant",
                   "the decision grants " + std::to_string(granted) + " cents, " +
                       std::to_string(forwarded) + " of them forwarded already",
                   "amount_cents", json{{"available_cents", granted - forwarded}}});
    }
    const std::string id = change.env.new_id("ffwd");
    change.db.execute(
        "INSERT INTO funding_forwardings(id, decision_id, organisation_id, amount_cents, "
        "period_from, period_to, signed_on, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
        {id, decision, org, *amount, period.from, period.to, *signed_on,
         ctx.actor.principal.user_id, change.env.timestamp()});
    change.audit("create", "funding_forwarding", id);
    return Reply{201, change.db.query(std::string(kForwardingSelect) + " WHERE f.id = ?", {id})[0],
                 std::nullopt};
  });
}

Result<Reply> FundingService::list(const Context& ctx, const std::string& kind) {
  // Figures of the county's budget, no personal data: nothing to audit.
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    json items = json::array();
    if (kind == "decisions") {
      items = db.query(std::string(kDecisionSelect) + " ORDER BY decided_on, id");
    } else if (kind == "posts") {
      for (auto& row : db.query(std::string(kPostSelect) + " ORDER BY f.period_from, f.id"))
        items.push_back(post_json(row));
    } else {
      items = db.query(std::string(kForwardingSelect) + " ORDER BY f.signed_on, f.id");
    }
    return Reply{200, {{"items", items}}, std::nullopt};
  });
}

Result<Reply> FundingService::report(const Context& ctx, int year) {
  return tx_.read(ctx, [&](Connection& db, std::vector<audit::Entry>&) {
    const std::string first = std::to_string(year) + "-01-01";
    const std::string last = std::to_string(year) + "-12-31";
    const auto year_from = *day_number(first);
    const auto year_to = *day_number(last);
    const auto year_days = year_to - year_from + 1;
    struct Block {
      std::int64_t planned = 0, filled = 0;  // FTE-days in hundredths
      std::int64_t post_funding = 0, granted = 0, forwarded = 0;
    };
    std::map<std::int64_t, Block> blocks = {{1, {}}, {2, {}}, {3, {}}};
    const std::vector<SqlValue> in_year = {last, first};

    json posts = json::array();
    for (const auto& row :
         db.query(std::string(kPostSelect) + " WHERE f.period_from <= ? AND f.period_to >= ? "
                                             "ORDER BY f.building_block, o.slug, f.function",
                  in_year)) {
      const auto [days, _] = overlap(row["period_from"], row["period_to"], year_from, year_to);
      Block& block = blocks[row["building_block"].get<std::int64_t>()];
      const auto planned = row["fte_planned_centi"].get<std::int64_t>();
      const auto filled = row["fte_filled_centi"].get<std::int64_t>();
      block.planned += planned * days;
      block.filled += filled * days;
      std::int64_t funding = 0;
      if (row["funding_per_fte_cents"].is_number_integer()) {
        // Per FTE and year: planned FTE times the rate, for the days of the year it runs.
        funding = pro_rata(planned * row["funding_per_fte_cents"].get<std::int64_t>(), days,
                           100 * year_days);
        block.post_funding += funding;
      }
      json post = post_json(row);
      post["days_in_year"] = days;
      post["funding_in_year_cents"] = funding;
      posts.push_back(std::move(post));
    }
    // Decisions and forwardings alike: an amount counts for its period's share of the year.
    auto amounts_in_year = [&](const std::string& sql, std::int64_t Block::*sum,
                               const char* share_key) {
      json items = json::array();
      for (const auto& row : db.query(sql, in_year)) {
        const auto [days, whole] =
            overlap(row["period_from"], row["period_to"], year_from, year_to);
        const auto share = pro_rata(row["amount_cents"].get<std::int64_t>(), days, whole);
        blocks[row["building_block"].get<std::int64_t>()].*sum += share;
        json item = row;
        item[share_key] = share;
        items.push_back(std::move(item));
      }
      return items;
    };
    const json decisions = amounts_in_year(
        std::string(kDecisionSelect) +
            " WHERE period_from <= ? AND period_to >= ? ORDER BY building_block, decided_on, id",
        &Block::granted, "granted_in_year_cents");
    const json forwardings = amounts_in_year(std::string(kForwardingSelect) +
                                                 " WHERE f.period_from <= ? AND f.period_to >= ? "
                                                 "ORDER BY d.building_block, o.slug, f.id",
                                             &Block::forwarded, "forwarded_in_year_cents");
    // Average FTE over the year, to two decimals.
    auto average = [&](std::int64_t fte_days) {
      return std::round(static_cast<double>(fte_days) / static_cast<double>(year_days)) / 100;
    };
    json per_block = json::array();
    Block total;
    for (const auto& [number, block] : blocks) {
      per_block.push_back({{"building_block", number},
                           {"fte_planned", average(block.planned)},
                           {"fte_filled", average(block.filled)},
                           {"post_funding_cents", block.post_funding},
                           {"granted_cents", block.granted},
                           {"forwarded_cents", block.forwarded}});
      total.planned += block.planned;
      total.filled += block.filled;
      total.post_funding += block.post_funding;
      total.granted += block.granted;
      total.forwarded += block.forwarded;
    }
    json body = {{"format", "kim-funding"},
                 {"format_version", kFundingFormatVersion},
                 {"year", year},
                 {"generated_at", tx_.env().timestamp()},
                 {"building_blocks", per_block},
                 {"totals",
                  {{"fte_planned", average(total.planned)},
                   {"fte_filled", average(total.filled)},
                   {"post_funding_cents", total.post_funding},
                   {"granted_cents", total.granted},
                   {"forwarded_cents", total.forwarded}}},
                 {"posts", posts},
                 {"decisions", decisions},
                 {"forwardings", forwardings}};
    return Reply{200, std::move(body), std::nullopt};
  });
}

}  // namespace kim::reports
