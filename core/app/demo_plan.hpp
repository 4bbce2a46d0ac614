// How a demo case runs, decided before anything is written: the phases it went through, what
// happened in each (assessments, goals, tasks, notes) on which day relative to its opening, and
// how goals and tasks ended. Pure computation from a seeded generator; the seed (demo_seed.cpp)
// writes a plan through the case service.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "app/demo_data.hpp"

namespace kim::app {

// Draws are made from the raw engine output instead of std::uniform_*_distribution, whose results
// differ between standard libraries: the same seed must give the same data everywhere.
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  int between(int lo, int hi);  // inclusive
  bool chance(double p);
  std::size_t weighted(const std::vector<int>& weights);
  template <class T>
  const T& pick(const std::vector<T>& values) {
    return values[static_cast<std::size_t>(between(0, static_cast<int>(values.size()) - 1))];
  }
  template <class T>
  void shuffle(std::vector<T>& values) {
    for (std::size_t i = values.size(); i > 1; --i) {
      std::swap(values[i - 1],
                values[static_cast<std::size_t>(between(0, static_cast<int>(i) - 1))]);
    }
  }

 private:
  std::mt19937_64 engine_;
};

using std::chrono::sys_days;

std::string date_text(sys_days day);  // 2026-12-01
// The service's timestamp format (domain::now_timestamp), so string comparisons keep working.
std::string stamp_text(sys_days day, int second_of_day, int millis);

// Strictly increasing timestamps along one case, in office hours.
class Timeline {
 public:
  explicit Timeline(Random& rng) : rng_(rng) {}
  std::string at(sys_days day);

 private:
  Random& rng_;
  sys_days day_{};
  int second_ = 0;
  int millis_ = 0;
};

// ---- one case, planned on days relative to its opening ----------------------------------------

struct PlannedGoal {
  std::string life_domain;
  std::string description;
  int day = 0;
  int due_in = 0;
  std::string status = "open";
  int status_day = -1;
  bool keep = false;  // a goal that carried the case into monitoring is never dropped
};

struct PlannedTask {
  int goal = -1;  // index into goals
  std::string description;
  int day = 0;
  int due_in = 0;
  int done_day = -1;
  bool current_phase = false;
};

struct PlannedAssessment {
  int day = 0;
  std::vector<std::tuple<std::string, std::string, std::string>> domains;  // domain, need, text
};

struct PlannedNote {
  std::string kind;
  std::string text;
  int day = 0;
};

struct PlannedTransition {
  std::string from;
  std::string to;
  std::string reason;
  std::string note;
  int day = 0;
};

// Everything that happens in a case, in order: `order` interleaves the kinds as the case manager
// would have recorded them.
struct CasePlan {
  enum class Step { kTransition, kAssessment, kGoal, kTask, kNote };
  std::string phase;
  std::vector<PlannedTransition> transitions;
  std::vector<PlannedAssessment> assessments;
  std::vector<PlannedGoal> goals;
  std::vector<PlannedTask> tasks;
  std::vector<PlannedNote> notes;
  std::vector<std::pair<Step, std::size_t>> order;
  int day = 0;  // the last day of the course
};

// Plans a case that ends in phase `target` (any phase of the cycle, closed included).
CasePlan plan_case(const DemoData& data, Random& rng, const std::string& target);

}  // namespace kim::app
