// The indicator report over a million cases: generates N synthetic cases (persons, cases,
// intake transitions, goals, referrals) into a real SQLite file with fast bulk inserts (plain
// prepared statements in large transactions, straight into the tables: the triggers of migration
// 0013 fill the report's facts as they would for the services), then times
// ReportService::indicators for one year R times and prints each run, the median and the query
// plans of the report's statements. See bench/README.md.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "domain/catalog.hpp"
#include "events/event_bus.hpp"
#include "orgs/organisations.hpp"
#include "reports/indicators.hpp"
#include "reports/reports.hpp"
#include "store/core_migrations.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace {

namespace fs = std::filesystem;
using kim::store::Connection;
using kim::store::SqlValue;
using Clock = std::chrono::steady_clock;

struct Options {
  std::int64_t cases = 1000000;
  int runs = 5;
  int year = 2021;
  fs::path path;
  bool keep = false;
  std::int64_t reader_mmap = -1;  // -1: the store's default
};

std::string date_of(std::int64_t day) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days(std::chrono::days(day))};
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buffer;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

template <class T>
const T& pick(std::mt19937_64& random, const std::vector<T>& values) {
  return values[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(random)];
}

// Cases opened evenly over ten years (2016-2025); most of them closed after 1-30 months.
void generate(const fs::path& database, std::int64_t cases) {
  auto db = Connection::open(database, SQLITE_OPEN_READWRITE);
  db.exec("PRAGMA synchronous=OFF");
  db.exec("PRAGMA cache_size=-262144");
  db.exec(
      "INSERT INTO organisations(id, slug, name, kind) VALUES (1, 'ki-bench', 'KI', "
      "'coordinating_office')");
  std::vector<std::int64_t> organisations;
  for (int i = 0; i < 8; ++i) {
    db.execute(
        "INSERT INTO organisations(slug, name, kind, supervisor_id) VALUES (?, ?, "
        "'welfare_organisation', 1)",
        {"welfare-" + std::to_string(i), "Welfare " + std::to_string(i)});
    organisations.push_back(2 + i);
  }
  db.exec("INSERT INTO users(id, name, role, organisation_id) VALUES (1, 'cm', 'case_manager', 2)");
  const std::vector<std::string> partner_kinds = {"jobcenter", "employment_agency",
                                                  "language_course_provider", "counselling_service",
                                                  "youth_office"};
  std::vector<std::string> partners;
  for (const auto& kind : partner_kinds) {
    db.execute(
        "INSERT INTO partners(slug, name, kind, legal_domain, county_wide, created_at, "
        "updated_at) VALUES (?, ?, ?, 'none', 1, '2016-01-01', '2016-01-01')",
        {"p-" + kind, kind, kind});
    partners.push_back("p-" + kind);
  }
  db.exec(
      "INSERT INTO agreements(id, title, parties, handover_rule, services, valid_from, status, "
      "created_by, created_at, updated_at) VALUES ('agr-bench', 'bench', '[]', 'x', '[]', "
      "'2016-01-01', 'signed', 1, '2016-01-01', '2016-01-01')");

  const auto& towns = kim::domain::towns();
  const auto& statuses = kim::domain::residence_statuses();
  const auto& genders = kim::domain::genders();
  const auto& domains = kim::domain::life_domains();
  const auto& reasons = kim::domain::closure_reasons();
  const std::vector<std::string> open_phases = {"intake",  "assessment", "planning",
                                                "linking", "monitoring", "reassessment"};
  const std::vector<std::string> services = {"sgb2_integration_services", "language_course",
                                             "recognition_counselling", "sgb3_placement",
                                             "youth_welfare_support"};
  const std::vector<std::string> referral_statuses = {"sent",        "accepted",  "declined",
                                                      "in_progress", "completed", "cancelled"};
  const std::vector<std::string> goal_statuses = {"open", "achieved", "achieved", "partly_achieved",
                                                  "dropped"};
  const auto first_day = *kim::reports::day_number("2016-01-01");
  const auto last_day = *kim::reports::day_number("2025-12-31");
  const auto today = *kim::reports::day_number("2026-12-01");
  std::mt19937_64 random(20211231);
  auto between = [&](std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(random);
  };

  auto person = db.prepare(
      "INSERT INTO persons(id, given_names, family_name, name_key, date_of_birth, gender, town, "
      "residence_status, organisation_id, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,1,?)");
  auto kase = db.prepare(
      "INSERT INTO cases(id, person_id, town, organisation_id, case_manager_id, phase, opened_on, "
      "closed_on, closure_reason, created_at, updated_at) VALUES (?,?,?,?,1,?,?,?,?,?,?)");
  auto transition = db.prepare(
      "INSERT INTO case_transitions(case_id, from_phase, to_phase, at, by_user) VALUES "
      "(?, 'access', 'intake', ?, 1)");
  auto goal = db.prepare(
      "INSERT INTO goals(id, case_id, life_domain, description, due_date, status, created_at, "
      "updated_at) VALUES (?,?,?,'goal',?,?,?,?)");
  auto referral = db.prepare(
      "INSERT INTO referrals(id, case_id, partner, service, purpose, categories, agreement_id, "
      "status, own_case_management, town, created_by, created_at, status_changed_at) VALUES "
      "(?,?,?,?,'referral','[]','agr-bench',?,0,?,1,?,?)");
  auto run = [](kim::store::Statement& statement, const std::vector<SqlValue>& values) {
    statement.bind_all(values);
    statement.step();
    statement.reset();
  };
  const auto start = Clock::now();
  constexpr std::int64_t kBatch = 50000;
  std::int64_t goals = 0, referrals = 0;
  for (std::int64_t i = 0; i < cases; ++i) {
    if (i % kBatch == 0) db.exec(i == 0 ? "BEGIN" : "COMMIT; BEGIN");
    const std::string n = std::to_string(i);
    const std::string town = pick(random, towns);
    const std::int64_t organisation = pick(random, organisations);
    const std::int64_t opened = between(first_day, last_day);
    const std::string opened_on = date_of(opened);
    const std::string stamp = opened_on + "T09:00:00.000Z";
    run(person, {"prs_" + n, "Given" + n, "Family" + n, "family" + n + " given" + n,
                 date_of(between(*kim::reports::day_number("1950-01-01"),
                                 *kim::reports::day_number("2012-12-31"))),
                 pick(random, genders), town, pick(random, statuses), organisation, stamp});
    const bool in_access = between(0, 9) < 4;
    std::int64_t closed = between(0, 9) < 7 ? opened + between(30, 900) : 0;
    if (closed >= today) closed = 0;
    const std::string phase = closed                            ? "closed"
                              : in_access && between(0, 3) == 0 ? "access"
                                                                : pick(random, open_phases);
    run(kase, {"case_" + n, "prs_" + n, town, organisation, phase, opened_on,
               closed ? SqlValue(date_of(closed)) : SqlValue(nullptr),
               closed ? SqlValue(pick(random, reasons)) : SqlValue(nullptr), stamp, stamp});
    if (in_access && phase != "access") {
      run(transition, {"case_" + n, date_of(opened + between(0, 60)) + "T10:00:00.000Z"});
    }
    const std::int64_t goal_count = between(0, 3);
    for (std::int64_t g = 0; g < goal_count; ++g) {
      const std::int64_t set = opened + between(10, 120);
      const std::string status = pick(random, goal_statuses);
      const std::int64_t changed = status == "open" ? set : set + between(20, 300);
      run(goal, {"goal_" + n + "_" + std::to_string(g), "case_" + n, pick(random, domains),
                 date_of(set + 180), status, date_of(set) + "T11:00:00.000Z",
                 date_of(changed) + "T11:00:00.000Z"});
      ++goals;
    }
    const std::int64_t referral_count = between(0, 2);
    for (std::int64_t r = 0; r < referral_count; ++r) {
      const std::string made = date_of(opened + between(20, 200)) + "T12:00:00.000Z";
      run(referral, {"ref_" + n + "_" + std::to_string(r), "case_" + n, pick(random, partners),
                     pick(random, services), pick(random, referral_statuses), town, made, made});
      ++referrals;
    }
    if ((i + 1) % 100000 == 0) {
      std::fprintf(stderr, "\rgenerated %lld cases (%.0f s)", static_cast<long long>(i + 1),
                   seconds_since(start));
    }
  }
  db.exec("COMMIT");
  std::fprintf(stderr, "\n");
  std::printf("generated %lld cases, %lld goals, %lld referrals in %.1f s\n",
              static_cast<long long>(cases), static_cast<long long>(goals),
              static_cast<long long>(referrals), seconds_since(start));
}

void print_plans(Connection& db, const std::string& from, const std::string& to,
                 const std::string& end) {
  const std::vector<std::pair<std::string, std::vector<SqlValue>>> statements = {
      {kim::reports::IndicatorSql::kCases, {to, from}},
      {std::string(kim::reports::IndicatorSql::kGoalsSet) + " GROUP BY 1, 2, 3", {from, end}},
      {std::string(kim::reports::IndicatorSql::kGoalsAchieved) + " GROUP BY 1, 2, 3", {from, end}},
      {std::string(kim::reports::IndicatorSql::kReferrals) + " GROUP BY 1, 2, 3, 4, 5",
       {from, end}},
  };
  for (const auto& [sql, params] : statements) {
    std::printf("\n%s\n", sql.c_str());
    for (const auto& row : db.query("EXPLAIN QUERY PLAN " + sql, params))
      std::printf("  %s\n", row["detail"].get<std::string>().c_str());
  }
}

int usage() {
  std::cerr << "usage: kim_report_bench [--cases N] [--runs R] [--year Y] [--path DIR] [--keep] "
               "[--reader-mmap BYTES]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--cases") {
      options.cases = std::stoll(next());
    } else if (arg == "--runs") {
      options.runs = std::stoi(next());
    } else if (arg == "--year") {
      options.year = std::stoi(next());
    } else if (arg == "--path") {
      options.path = next();
    } else if (arg == "--keep") {
      options.keep = true;
    } else if (arg == "--reader-mmap") {
      options.reader_mmap = std::stoll(next());
    } else {
      return usage();
    }
  }
  if (options.cases < 1 || options.runs < 1) return usage();
  spdlog::set_level(spdlog::level::warn);
  const fs::path dir = options.path.empty() ? fs::temp_directory_path() /
                                                  ("kim_report_bench_" + std::to_string(::getpid()))
                                            : options.path;
  fs::create_directories(dir);
  const fs::path database = dir / "bench.sqlite3";
  const bool exists = fs::exists(database);
  kim::store::StoreOptions store_options;
  store_options.path = database;
  store_options.synchronous = "NORMAL";
  {
    kim::store::Store store(store_options);
    store.migrate("core", kim::store::core_migrations());
  }
  if (!exists) generate(database, options.cases);

  if (options.reader_mmap >= 0) store_options.reader_mmap_bytes = options.reader_mmap;
  kim::store::Store store(store_options);
  kim::events::EventBus events(spdlog::null_logger_mt("bench-events"));
  kim::reports::ReportService reports(store, events, kim::domain::Env::system(), 14);
  kim::reports::IndicatorQuery query;
  query.from = std::to_string(options.year) + "-01-01";
  query.to = std::to_string(options.year) + "-12-31";
  std::vector<double> times;
  std::size_t rows = 0;
  for (int run = 0; run < options.runs; ++run) {
    const auto start = Clock::now();
    auto result = reports.indicators(kim::orgs::cli_context(), query);
    times.push_back(seconds_since(start));
    if (!result) {
      std::cerr << "report failed: " << result.problem().message << "\n";
      return 1;
    }
    rows = result.value().body["rows"].size();
    std::printf("run %d: %.3f s (%zu rows)\n", run + 1, times.back(), rows);
  }
  std::sort(times.begin(), times.end());
  std::printf(
      "indicator report %s..%s over %lld cases: median %.3f s of %d runs (min %.3f, "
      "max %.3f)\n",
      query.from.c_str(), query.to.c_str(), static_cast<long long>(options.cases),
      times[times.size() / 2], options.runs, times.front(), times.back());
  store.read([&](Connection& db) {
    print_plans(db, query.from, query.to, kim::reports::next_day(query.to));
    return 0;
  });
  if (!options.keep && options.path.empty()) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  return 0;
}
