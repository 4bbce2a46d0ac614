// The case-management cycle as a service: participants (persons), cases and their phases,
// assessments, goals, tasks and notes, programme participations and funding overrides.
// Every operation checks object-level access first (see policy.hpp), validates its input fully
// before writing, writes in one transaction together with its audit entry, and returns expected
// outcomes (bad input, not found, transition not allowed, stale version) as a Problem.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "audit/audit_log.hpp"
#include "domain/problem.hpp"
#include "domain/service_support.hpp"
#include "events/event_bus.hpp"
#include "store/store.hpp"

namespace kim::cases {

using domain::Context;
using domain::Reply;

struct CaseFilter {
  std::optional<std::string> phase;
  std::optional<std::string> town;
  std::optional<std::int64_t> case_manager_id;
  bool overdue_only = false;
  std::int64_t after = 0;  // cursor
  int limit = 50;
};

// Open tasks due before a date, a page at a time (ordered by due date).
struct TaskQuery {
  static constexpr int kMaxLimit = 1000;
  struct Position {
    std::string due_date;
    std::int64_t row = 0;
  };
  std::string due_before;         // YYYY-MM-DD
  std::optional<Position> after;  // the cursor: where the previous page ended
  int limit = 200;                // 1..kMaxLimit
  // Reads a "next_cursor" this API gave out; nullopt if it is not one.
  static std::optional<Position> parse_cursor(const std::string& text);
};

class CaseService {
 public:
  CaseService(store::Store& store, events::EventBus& events,
              domain::Env& env = domain::Env::system())
      : tx_(store, events, env), events_(events) {}

  domain::Result<Reply> create_person(const Context& ctx, const nlohmann::json& body);
  domain::Result<Reply> get_person(const Context& ctx, const std::string& person_id);
  // Corrects a participant's record (fields as for create; null clears gender or arrival_date).
  // Changed names or birth date run the duplicate check again.
  domain::Result<Reply> update_person(const Context& ctx, const std::string& person_id,
                                      const nlohmann::json& body);
  domain::Result<Reply> add_participation(const Context& ctx, const std::string& person_id,
                                          const nlohmann::json& body);
  domain::Result<Reply> list_participations(const Context& ctx, const std::string& person_id);
  domain::Result<Reply> grant_funding_override(const Context& ctx, const std::string& person_id,
                                               const nlohmann::json& body);
  // A coordinator links the persons another organisation recorded under the given names and
  // date of birth to an organisation it is or supervises, which may then open a case for them
  // (POST /cases); 404 when no such person is recorded elsewhere. Recorded and audited.
  domain::Result<Reply> link_person(const Context& ctx, const nlohmann::json& body);
  // The links of the caller's organisation (coordinators: and of those it supervises).
  domain::Result<Reply> list_person_links(const Context& ctx);

  domain::Result<Reply> open_case(const Context& ctx, const nlohmann::json& body);
  domain::Result<Reply> get_case(const Context& ctx, const std::string& case_id);
  domain::Result<Reply> list_cases(const Context& ctx, const CaseFilter& filter);
  domain::Result<Reply> transition(const Context& ctx, const std::string& case_id,
                                   const nlohmann::json& body);

  domain::Result<Reply> record_assessment(const Context& ctx, const std::string& case_id,
                                          const nlohmann::json& body);
  domain::Result<Reply> list_assessments(const Context& ctx, const std::string& case_id);
  domain::Result<Reply> add_goal(const Context& ctx, const std::string& case_id,
                                 const nlohmann::json& body);
  domain::Result<Reply> update_goal(const Context& ctx, const std::string& case_id,
                                    const std::string& goal_id, const nlohmann::json& body);
  domain::Result<Reply> list_goals(const Context& ctx, const std::string& case_id);
  domain::Result<Reply> add_task(const Context& ctx, const std::string& case_id,
                                 const nlohmann::json& body);
  domain::Result<Reply> update_task(const Context& ctx, const std::string& case_id,
                                    const std::string& task_id, const nlohmann::json& body);
  domain::Result<Reply> list_tasks(const Context& ctx, const std::string& case_id);
  domain::Result<Reply> add_note(const Context& ctx, const std::string& case_id,
                                 const nlohmann::json& body);
  domain::Result<Reply> list_notes(const Context& ctx, const std::string& case_id);

  // Open tasks of readable cases due before `due_before` (YYYY-MM-DD); a case manager sees their
  // own, a coordinator those of the cases it supervises.
  domain::Result<Reply> tasks_due(const Context& ctx, const TaskQuery& query);
  // Overdue open tasks grouped by case manager.
  domain::Result<Reply> overdue_by_case_manager(const Context& ctx);

  domain::Env& env() { return tx_.env(); }

  // The duplicate key (domain::matching_key of both names): "Özdemir, Ali-Reza" and
  // "ali reza OEZDEMIR" give the same key.
  static std::string name_key(const std::string& given_names, const std::string& family_name);
  // The version of name_key stored with every person; a change of the key's rules bumps it.
  static constexpr std::int64_t kNameKeyVersion = 1;
  // Recomputes the stored keys of persons with an older version (at start, after migrating);
  // returns how many keys changed.
  static int refresh_name_keys(store::Store& store);
  // Decides the supervision of every person and case again with the rules registered now (at
  // start, once the plugins run: enabling, disabling or reconfiguring a rule plugin takes effect
  // on what is stored). Each change is audited ("supervise", user "supervision"), the run as a
  // whole too; returns how many records changed, or the Problem (e.g. 503 while suspended).
  domain::Result<Reply> resupervise_all();

 private:
  // Rows of one part of a case (goals, tasks, notes) with the case's version; audited as a list.
  domain::Result<Reply> list_part(const Context& ctx, const std::string& case_id,
                                  const char* object_type, const std::string& sql);

  domain::Transactions tx_;
  events::EventBus& events_;  // the plugins' rules, asked outside a write by resupervise_all()
};

}  // namespace kim::cases
