#include "app/demo_plan.hpp"

#include <algorithm>
#include <cstdio>

#include "domain/catalog.hpp"

namespace kim::app {

int Random::between(int lo, int hi) {
  const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
  return lo + static_cast<int>(engine_() % span);
}

bool Random::chance(double p) {
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53 < p;
}

std::size_t Random::weighted(const std::vector<int>& weights) {
  int total = 0;
  for (int w : weights)
    total += w;
  int draw = between(0, total - 1);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (draw < weights[i]) return i;
    draw -= weights[i];
  }
  return weights.size() - 1;
}

std::string date_text(sys_days day) {
  const std::chrono::year_month_day ymd{day};
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buffer;
}

std::string stamp_text(sys_days day, int second_of_day, int millis) {
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%sT%02d:%02d:%02d.%03dZ", date_text(day).c_str(),
                second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60, millis);
  return buffer;
}

std::string Timeline::at(sys_days day) {
  if (day != day_) {
    day_ = day;
    second_ = rng_.between(8 * 3600, 10 * 3600);
  } else {
    second_ = std::min(second_ + rng_.between(300, 2400), 86399);
  }
  return stamp_text(day, second_, ++millis_ % 1000);
}

namespace {

// The phases a case went through to reach `target`, all allowed moves of the cycle.
Strings path_to(const std::string& target, Random& rng, bool reopened, bool second_round) {
  Strings path;
  path.push_back(target == "access" || rng.chance(0.35) ? "access" : "intake");
  if (target == "access") return path;
  if (path.back() == "access") path.push_back("intake");
  if (target == "intake") return path;
  if (reopened) path.push_back("closed");  // contact lost once, then reopened into assessment
  path.push_back("assessment");
  if (target == "assessment") return path;
  path.push_back("planning");
  if (target == "planning" && !second_round) return path;
  if (target == "linking") {
    path.push_back("linking");
    return path;
  }
  if (rng.chance(0.6)) path.push_back("linking");
  path.push_back("monitoring");
  if (second_round) {
    path.push_back("reassessment");
    path.push_back("planning");
    if (target == "planning") return path;
    if (rng.chance(0.3)) path.push_back("linking");
    path.push_back("monitoring");
  }
  if (target == "monitoring") {
    if (rng.chance(0.15)) {
      path.push_back("linking");
      path.push_back("monitoring");
    }
    return path;
  }
  path.push_back("reassessment");
  return path;
}

class CasePlanner {
 public:
  CasePlanner(const DemoData& data, Random& rng) : data_(data), rng_(rng) {}

  CasePlan plan(const std::string& target) {
    Strings path;
    std::string closure_reason;
    if (target == "closed") {
      static const Strings before = {"access",  "intake",     "assessment",  "planning",
                                     "linking", "monitoring", "reassessment"};
      const auto& last = before[rng_.weighted({6, 10, 8, 6, 8, 20, 6})];
      path = path_to(last, rng_, false, false);
      closure_reason = closing_reason(path.back());
      path.push_back("closed");
    } else {
      const bool later = target != "access" && target != "intake";
      const bool round_two =
          (target == "planning" || target == "monitoring" || target == "reassessment") &&
          rng_.chance(0.25);
      path = path_to(target, rng_, later && rng_.chance(0.05), round_two);
    }
    for (std::size_t i = 0; i < path.size(); ++i) {
      const bool final = i + 1 == path.size();
      const std::string next = final ? "" : path[i + 1];
      activity(path[i], next, final);
      if (final) break;
      plan_.day += rng_.between(2, 21);
      PlannedTransition transition{path[i], next, "", "", plan_.day};
      if (next == "closed") {
        transition.reason = i + 2 == path.size() ? closure_reason : "no_contact";
        transition.note = data_.closure_notes.at(transition.reason);
      } else if (path[i] == "closed") {
        transition.note = data_.reopen_note;
      }
      plan_.transitions.push_back(transition);
      plan_.order.emplace_back(CasePlan::Step::kTransition, plan_.transitions.size() - 1);
    }
    plan_.phase = path.back();
    settle();
    return std::move(plan_);
  }

 private:
  const DomainTexts& texts_for(const std::string& life_domain) const {
    return data_.life_domains.at(life_domain);
  }

  std::string closing_reason(const std::string& phase) {
    if (phase == "access" || phase == "intake") {
      return rng_.pick(Strings{"no_contact", "no_contact", "declined", "moved_away", "other"});
    }
    if (phase == "assessment" || phase == "planning") {
      return rng_.pick(
          Strings{"declined", "moved_away", "referred_to_other_case_management", "no_contact"});
    }
    return rng_.pick(Strings{"goals_reached", "goals_reached", "goals_reached", "moved_away",
                             "referred_to_other_case_management", "no_contact", "other"});
  }

  void note(const std::string& phase, double probability) {
    if (!rng_.chance(probability)) return;
    const auto& text = rng_.pick(data_.phase_notes.at(phase));
    plan_.notes.push_back({text.kind, text.text, plan_.day});
    plan_.order.emplace_back(CasePlan::Step::kNote, plan_.notes.size() - 1);
  }

  void task(const std::string& description, int goal, bool final) {
    plan_.tasks.push_back({goal, description, plan_.day, rng_.between(7, 42), -1, final});
    plan_.order.emplace_back(CasePlan::Step::kTask, plan_.tasks.size() - 1);
  }

  void assessment() {
    PlannedAssessment assessment{plan_.day, {}};
    Strings domains = domain::life_domains();
    rng_.shuffle(domains);
    static const Strings levels = {"high", "medium", "low", "none"};
    const int count = rng_.between(3, 6);
    for (int i = 0; i < count; ++i) {
      const auto& life_domain = domains[static_cast<std::size_t>(i)];
      const std::string& level = levels[rng_.weighted({30, 35, 25, 10})];
      std::string summary =
          level == "none" ? data_.no_need_summary : texts_for(life_domain).summaries.at(level);
      assessment.domains.emplace_back(life_domain, level, summary);
    }
    plan_.assessments.push_back(assessment);
    plan_.order.emplace_back(CasePlan::Step::kAssessment, plan_.assessments.size() - 1);
  }

  void goals(int count, bool final) {
    // Goals follow the needs of the latest assessment, the highest first.
    Strings needs;
    if (!plan_.assessments.empty()) {
      for (const char* level : {"high", "medium"}) {
        for (const auto& [life_domain, need, summary] : plan_.assessments.back().domains) {
          if (need == level) needs.push_back(life_domain);
        }
      }
      if (needs.empty()) needs.push_back(std::get<0>(plan_.assessments.back().domains.front()));
    } else {
      needs.push_back("language");
    }
    count = std::min(count, static_cast<int>(needs.size()));
    for (int i = 0; i < count; ++i) {
      const auto& life_domain = needs[static_cast<std::size_t>(i)];
      const auto& texts = texts_for(life_domain);
      plan_.goals.push_back({life_domain, rng_.pick(texts.goals), plan_.day, rng_.between(90, 365),
                             "open", -1, i == 0});
      plan_.order.emplace_back(CasePlan::Step::kGoal, plan_.goals.size() - 1);
      const int goal_index = static_cast<int>(plan_.goals.size()) - 1;
      const int tasks = rng_.between(0, 2);
      for (int t = 0; t < tasks; ++t)
        task(rng_.pick(texts.tasks), goal_index, final);
      plan_.day += rng_.between(0, 2);
    }
  }

  // What happens while the case is in `phase` before it moves on to `next` (or stays there).
  void activity(const std::string& phase, const std::string& next, bool final) {
    if (phase == "closed") return;
    if (phase == "access") {
      plan_.day += rng_.between(0, 3);
      note(phase, 0.7);
    } else if (phase == "intake") {
      plan_.day += rng_.between(1, 10);
      note(phase, 0.9);
      if (rng_.chance(0.5)) task(rng_.pick(data_.intake_tasks), -1, final);
    } else if (phase == "assessment" || phase == "reassessment") {
      plan_.day += rng_.between(2, 20);
      note(phase, 0.6);
      if (next == "planning" || (final && rng_.chance(0.5)) ||
          (next == "closed" && rng_.chance(0.4))) {
        plan_.day += rng_.between(0, 7);
        assessment();
      }
    } else if (phase == "planning") {
      plan_.day += rng_.between(1, 14);
      note(phase, 0.6);
      if (next == "linking" || next == "monitoring" || (final && rng_.chance(0.65)) ||
          (next == "closed" && rng_.chance(0.5))) {
        const bool round_two = !plan_.goals.empty();
        goals(rng_.between(1, round_two ? 2 : 3), final);
      }
    } else if (phase == "linking") {
      plan_.day += rng_.between(3, 20);
      const int count = rng_.between(1, 2);
      for (int i = 0; i < count && !plan_.goals.empty(); ++i) {
        const int goal = rng_.between(0, static_cast<int>(plan_.goals.size()) - 1);
        task(rng_.pick(texts_for(plan_.goals[static_cast<std::size_t>(goal)].life_domain).tasks),
             goal, final);
      }
      note(phase, 0.7);
    } else if (phase == "monitoring") {
      const int contacts = final ? rng_.between(1, 4) : rng_.between(1, 3);
      for (int i = 0; i < contacts; ++i) {
        plan_.day += rng_.between(14, 50);
        note(phase, 0.85);
        if (rng_.chance(0.25)) task(rng_.pick(data_.monitoring_tasks), -1, final);
      }
    }
  }

  // Outcomes decided once the whole course is known: which tasks were done and when, what became
  // of the goals. Nothing happens after the last planned day (for a closed case: its closure).
  void settle() {
    const int end = plan_.day;
    const bool closed = plan_.phase == "closed";
    const std::string reason = closed ? plan_.transitions.back().reason : "";
    for (auto& task : plan_.tasks) {
      if (task.day >= end) continue;
      const bool done = closed || (task.current_phase ? rng_.chance(0.5) : rng_.chance(0.95));
      if (done) task.done_day = std::min(task.day + rng_.between(1, task.due_in + 14), end);
    }
    for (auto& goal : plan_.goals) {
      // A goal changes before the case closes (changing a goal needs an open case).
      const int latest = closed ? end - 1 : end;
      if (latest < goal.day + 1) continue;
      std::string status = "open";
      if (reason == "goals_reached") {
        status = rng_.chance(0.7) ? "achieved" : "partly_achieved";
      } else if (closed) {
        status = rng_.pick(Strings{"open", "open", "dropped", "partly_achieved"});
      } else if (plan_.phase == "monitoring" || plan_.phase == "reassessment" ||
                 end - goal.day > 120) {
        status = rng_.pick(
            Strings{"open", "open", "open", "achieved", "achieved", "partly_achieved", "dropped"});
      }
      if (status == "dropped" && goal.keep) status = "open";
      if (status == "open") continue;
      goal.status = status;
      goal.status_day = std::min(goal.day + rng_.between(20, 200), latest);
    }
  }

  const DemoData& data_;
  Random& rng_;
  CasePlan plan_;
};

}  // namespace

CasePlan plan_case(const DemoData& data, Random& rng, const std::string& target) {
  return CasePlanner(data, rng).plan(target);
}

}  // namespace kim::app
