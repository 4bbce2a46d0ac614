#include "app/demo_population.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include "domain/catalog.hpp"

namespace kim::app::demo {

namespace {

using nlohmann::json;
using std::chrono::days;

class Population {
 public:
  Population(const DemoData& data, store::Store& store, Services& services, Network& network,
             std::map<std::string, Office>& offices, std::uint64_t seed, DemoSummary& summary,
             sys_days today)
      : data_(data),
        store_(store),
        services_(services),
        network_(network),
        offices_(offices),
        rng_(seed),
        summary_(summary),
        today_(today) {
    for (const auto& org : data_.organisations) {
      for (const auto& town : org.serves)
        serving_[town] = org.seed.slug;
    }
  }

  void run() {
    const auto& towns = domain::towns();
    std::vector<int> town_weights;
    for (const auto& town : towns) {
      auto weight = data_.town_weights.find(town);
      town_weights.push_back(weight != data_.town_weights.end() ? weight->second : 8);
    }
    // Every phase and every town at least once, whatever the seed; the rest by weight.
    const auto& phases = domain::phases();
    constexpr int kWithCase = 300;
    constexpr int kProgrammeOnly = 12;
    for (int i = 0; i < kWithCase + kProgrammeOnly; ++i) {
      const auto index = static_cast<std::size_t>(i);
      const std::string& town =
          index < towns.size() ? towns[index] : towns[rng_.weighted(town_weights)];
      if (i >= kWithCase) {
        programme_only_person(town);
        continue;
      }
      static const std::vector<int> phase_weights = {6, 10, 12, 12, 11, 22, 7, 20};
      person_with_case(
          town, index < phases.size() ? phases[index] : phases[rng_.weighted(phase_weights)]);
    }
  }

 private:
  struct Person {
    std::string id;
    int age = 0;
  };

  Office& office_for(const std::string& town) {
    auto serving = serving_.find(town);
    return offices_.at(serving != serving_.end() ? serving->second : data_.other_towns_to);
  }

  // Records the person as `manager`; `recorded` is the day the organisation recorded them.
  Person person(const std::string& town, const Staff& manager, sys_days recorded,
                const std::string& created_at, CaseStory& story) {
    std::vector<int> weights;
    for (const auto& origin : data_.origins)
      weights.push_back(origin.weight);
    const DemoOrigin& origin = data_.origins[rng_.weighted(weights)];
    Person person;
    const std::size_t band = rng_.weighted({15, 60, 25});
    person.age = band == 0   ? rng_.between(17, 24)
                 : band == 1 ? rng_.between(25, 44)
                             : rng_.between(45, 66);
    const sys_days birth = today_ - days(person.age * 365 + rng_.between(0, 364));
    const std::string gender = domain::genders()[rng_.weighted({46, 52, 1, 1})];
    const bool female = gender == "female" || (gender != "male" && rng_.chance(0.5));
    json body = {{"given_names", rng_.pick(female ? origin.female : origin.male)},
                 {"family_name", rng_.pick(origin.family)},
                 {"date_of_birth", date_text(birth)},
                 {"gender", gender},
                 {"town", town}};

    // Arrival: after the origin's main migration year began, before the person was recorded.
    const sys_days earliest = std::max(
        sys_days(std::chrono::year(origin.earliest_arrival_year) / 1 / 1), birth + days(365));
    sys_days arrived = recorded - days(rng_.between(30, 2800));
    if (arrived < earliest) {
      const int room = static_cast<int>((recorded - earliest).count()) - 30;
      arrived = earliest + days(rng_.between(0, std::max(0, room)));
    }
    const std::string status = rng_.pick(origin.statuses);
    body["residence_status"] = status;
    if (arrived < recorded && (status != "eu_free_movement" || rng_.chance(0.7))) {
      body["arrival_date"] = date_text(arrived);
    }
    json nationalities = json::array();
    if (status == "naturalised") nationalities.push_back("DE");
    nationalities.push_back(origin.nationality);
    body["nationalities"] = nationalities;
    json languages = rng_.pick(origin.languages);
    if ((today_ - arrived).count() > 3 * 365 && rng_.chance(0.6)) languages.push_back("de");
    if (rng_.chance(0.2)) languages.push_back("en");
    body["languages"] = languages;

    json household = json::array();
    const int born = static_cast<int>(std::chrono::year_month_day{birth}.year());
    if (person.age >= 22 && rng_.chance(0.55)) {
      household.push_back({{"relation", "spouse"}, {"birth_year", born + rng_.between(-6, 4)}});
    }
    if (person.age >= 22) {
      const int children = static_cast<int>(rng_.weighted({35, 20, 25, 12, 8}));
      const int this_year = static_cast<int>(std::chrono::year_month_day{today_}.year());
      const int last = std::max(born + 20, std::min(born + 42, this_year));
      for (int c = 0; c < children; ++c) {
        household.push_back({{"relation", "child"}, {"birth_year", rng_.between(born + 20, last)}});
      }
    }
    if (rng_.chance(0.05)) {
      household.push_back({{"relation", "parent"}, {"birth_year", born - rng_.between(20, 35)}});
    }
    if (person.age < 27 && rng_.chance(0.2)) {
      household.push_back({{"relation", "sibling"}, {"birth_year", born + rng_.between(-5, 5)}});
    }
    body["household"] = household;

    auto created = services_.cases.create_person(manager.ctx, body);
    if (!created && created.problem().code == "possible_duplicate") {
      // Invented names meet now and then: the case manager confirms it is someone else.
      body["confirm_new_person"] = true;
      created = services_.cases.create_person(manager.ctx, body);
    }
    person.id = accepted(created, "person")["id"].get<std::string>();
    // Marked with its first stamp: a seed cut short leaves no fictional person looking real.
    story.rows.push_back(
        row_with_id("persons", person.id, {{"created_at", created_at}, {"demo", 1}}));
    ++summary_.persons;
    return person;
  }

  void participation(const Staff& manager, const std::string& person_id,
                     const std::string& programme, sys_days started, std::optional<sys_days> ended,
                     const std::string& created_at, CaseStory& story) {
    json body = {{"programme", programme}, {"started_on", date_text(started)}};
    if (ended) body["ended_on"] = date_text(*ended);
    const json made =
        accepted(services_.cases.add_participation(manager.ctx, person_id, body), "participation");
    story.rows.push_back(
        row_with_id("programme_participations", made["id"], {{"created_at", created_at}}));
    ++summary_.participations;
  }

  // "Gemeinsam klappt's" participants: funded support that excludes a KIM case, so they have none.
  void programme_only_person(const std::string& town) {
    Office& office = office_for(town);
    const Staff& manager = office.case_managers[office.next++ % office.case_managers.size()];
    const sys_days recorded = today_ - days(rng_.between(10, 300));
    Timeline timeline(rng_);
    CaseStory story;
    const std::string created_at = timeline.at(recorded);
    auto who = person(town, manager, recorded, created_at, story);
    participation(manager, who.id, "gemeinsam_klappts", recorded, std::nullopt,
                  timeline.at(recorded), story);
    backdate(store_, story.rows);
  }

  void person_with_case(const std::string& town, const std::string& target) {
    const CasePlan plan = plan_case(data_, rng_, target);
    // Lay the course out on the calendar: an open case was last active within the last weeks,
    // a closed one may have closed long ago. Nothing lies in the future.
    const int slack = plan.phase == "closed" ? rng_.between(1, 400) : rng_.between(1, 45);
    const sys_days opened = today_ - days(slack + plan.day);
    auto day = [&](int relative) { return opened + days(relative); };

    Office& office = office_for(town);
    const Staff& manager = office.case_managers[office.next++ % office.case_managers.size()];
    // With team access colleagues step in now and then; otherwise only the case manager writes.
    auto actor = [&]() -> const domain::Context& {
      if (office.team_access && office.case_managers.size() > 1 && rng_.chance(0.2)) {
        return rng_.pick(office.case_managers).ctx;
      }
      return manager.ctx;
    };

    Timeline timeline(rng_);
    CaseStory story;
    const std::string person_created = timeline.at(opened);
    auto who = person(town, manager, opened, person_created, story);
    const std::string case_created = timeline.at(opened);

    // Other support the person receives or received; none of it excludes a KIM case.
    if (who.age < 27 && rng_.chance(0.35)) {
      const sys_days started = opened - days(rng_.between(30, 700));
      participation(manager, who.id, "youth_migration_service", started,
                    rng_.chance(0.5) ? std::optional<sys_days>(opened - days(rng_.between(1, 20)))
                                     : std::nullopt,
                    case_created, story);
    } else if (rng_.chance(0.15)) {
      const sys_days started = opened - days(rng_.between(60, 900));
      participation(manager, who.id, "migration_counselling_adults", started,
                    opened - days(rng_.between(1, 50)), case_created, story);
    }
    if (who.age >= 25 && rng_.chance(0.1)) {
      participation(manager, who.id, "sgb2_case_management", opened - days(rng_.between(0, 365)),
                    std::nullopt, case_created, story);
    }

    const std::string first_phase =
        plan.transitions.empty() ? plan.phase : plan.transitions.front().from;
    story.case_id = accepted(services_.cases.open_case(
                                 manager.ctx, {{"person_id", who.id}, {"phase", first_phase}}),
                             "case")["id"]
                        .get<std::string>();
    const std::string& case_id = story.case_id;
    story.stamped(case_created);

    // The course, in the order the case manager recorded it. Goals change and tasks are ticked
    // off at the end (before a closure), stamped with the days the plan gives them.
    std::vector<std::string> goal_ids, task_ids;
    std::int64_t transitions = 0;
    const bool closed = plan.phase == "closed";
    auto write_step = [&](CasePlan::Step kind, std::size_t index) {
      switch (kind) {
        case CasePlan::Step::kTransition: {
          const auto& t = plan.transitions[index];
          json body = {{"to", t.to}};
          if (!t.reason.empty()) body["reason"] = t.reason;
          if (!t.note.empty()) body["note"] = t.note;
          accepted(services_.cases.transition(actor(), case_id, body), "transition to " + t.to);
          const std::string at = timeline.at(day(t.day));
          story.rows.push_back(
              nth_row("case_transitions", "case_id", case_id, transitions++, {{"at", at}}));
          story.stamped(at);
          if (t.to == "closed" && index + 1 == plan.transitions.size()) {  // not a reopened one
            story.rows.push_back(
                row_with_id("cases", case_id, {{"closed_on", date_text(day(t.day))}}));
          }
          break;
        }
        case CasePlan::Step::kAssessment: {
          const auto& a = plan.assessments[index];
          json domains = json::array();
          for (const auto& [life_domain, level, summary] : a.domains) {
            domains.push_back(
                {{"life_domain", life_domain}, {"need_level", level}, {"summary", summary}});
          }
          const json made = accepted(
              services_.cases.record_assessment(manager.ctx, case_id, {{"domains", domains}}),
              "assessment");
          const std::string at = timeline.at(day(a.day));
          story.rows.push_back(row_with_id("assessments", made["id"], {{"recorded_at", at}}));
          story.stamped(at);
          ++summary_.assessments;
          break;
        }
        case CasePlan::Step::kGoal: {
          const auto& g = plan.goals[index];
          const json made =
              accepted(services_.cases.add_goal(manager.ctx, case_id,
                                                {{"life_domain", g.life_domain},
                                                 {"description", g.description},
                                                 {"due_date", date_text(day(g.day + g.due_in))}}),
                       "goal");
          const std::string at = timeline.at(day(g.day));
          goal_ids.push_back(made["id"].get<std::string>());
          story.rows.push_back(
              row_with_id("goals", made["id"], {{"created_at", at}, {"updated_at", at}}));
          story.stamped(at);
          ++summary_.goals;
          break;
        }
        case CasePlan::Step::kTask: {
          const auto& t = plan.tasks[index];
          const sys_days due = day(t.day + t.due_in);
          json body = {{"description", t.description}, {"due_date", date_text(due)}};
          if (t.goal >= 0) body["goal_id"] = goal_ids[static_cast<std::size_t>(t.goal)];
          const json made = accepted(services_.cases.add_task(manager.ctx, case_id, body), "task");
          const std::string at = timeline.at(day(t.day));
          task_ids.push_back(made["id"].get<std::string>());
          story.rows.push_back(row_with_id("tasks", made["id"], {{"created_at", at}}));
          story.stamped(at);
          ++summary_.tasks;
          if (t.done_day < 0 && due < today_) ++summary_.overdue_tasks;
          break;
        }
        case CasePlan::Step::kNote: {
          const auto& n = plan.notes[index];
          const json made = accepted(
              services_.cases.add_note(
                  actor(), case_id,
                  {{"occurred_on", date_text(day(n.day))}, {"kind", n.kind}, {"text", n.text}}),
              "note");
          const std::string at = timeline.at(day(n.day));
          story.rows.push_back(row_with_id("notes", made["id"], {{"created_at", at}}));
          story.stamped(at);
          ++summary_.notes;
          break;
        }
      }
    };
    const std::size_t before_closure = closed ? plan.order.size() - 1 : plan.order.size();
    for (std::size_t i = 0; i < before_closure; ++i)
      write_step(plan.order[i].first, plan.order[i].second);

    // Referrals fit from the first move into linking or monitoring (goals agreed) until
    // yesterday, or the day before the closure: never in the future, never after the case ended.
    const bool referable = plan.phase == "linking" || plan.phase == "monitoring" ||
                           plan.phase == "reassessment" || closed;
    auto linked = std::find_if(
        plan.transitions.begin(), plan.transitions.end(),
        [](const PlannedTransition& t) { return t.to == "linking" || t.to == "monitoring"; });
    const sys_days until = closed ? day(plan.transitions.back().day) - days(1) : today_ - days(1);
    if (referable && linked != plan.transitions.end() && day(linked->day) <= until) {
      Candidate candidate{case_id, who.id,           town,  plan.phase, &manager,
                          opened,  day(linked->day), until, {}};
      for (const auto& g : plan.goals)
        candidate.goal_domains.push_back(g.life_domain);
      network_.consider(candidate, story);
    }

    for (std::size_t i = 0; i < plan.goals.size(); ++i) {
      const auto& g = plan.goals[i];
      if (g.status_day < 0) continue;
      accepted(
          services_.cases.update_goal(manager.ctx, case_id, goal_ids[i], {{"status", g.status}}),
          "goal status");
      // Late in the afternoon: after the day's other writes, before a closure on a later day.
      const std::string at = stamp_text(day(g.status_day), rng_.between(16 * 3600, 17 * 3600), 999);
      story.rows.push_back(row_with_id("goals", goal_ids[i], {{"updated_at", at}}));
      story.stamped(at);
    }
    for (std::size_t i = 0; i < plan.tasks.size(); ++i) {
      const auto& t = plan.tasks[i];
      if (t.done_day < 0) continue;
      accepted(services_.cases.update_task(manager.ctx, case_id, task_ids[i], {{"done", true}}),
               "task done");
      story.rows.push_back(
          row_with_id("tasks", task_ids[i], {{"done_on", date_text(day(t.done_day))}}));
    }
    if (closed) write_step(plan.order.back().first, plan.order.back().second);

    story.rows.push_back(row_with_id("cases", case_id,
                                     {{"opened_on", date_text(opened)},
                                      {"created_at", case_created},
                                      {"updated_at", story.latest}}));
    backdate(store_, story.rows);
    ++summary_.cases;
    ++summary_.cases_by_phase[plan.phase];
  }

  const DemoData& data_;
  store::Store& store_;
  Services& services_;
  Network& network_;
  std::map<std::string, Office>& offices_;
  Random rng_;
  DemoSummary& summary_;
  sys_days today_;
  std::map<std::string, std::string> serving_;  // town -> organisation slug
};

}  // namespace

void write_population(const DemoData& data, store::Store& store, Services& services,
                      Network& network, std::map<std::string, Office>& offices, std::uint64_t seed,
                      DemoSummary& summary, sys_days today) {
  Population(data, store, services, network, offices, seed, summary, today).run();
}

}  // namespace kim::app::demo
