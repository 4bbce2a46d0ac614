#include "cases/routes.hpp"

#include <charconv>

#include "domain/route_support.hpp"
#include "domain/validation.hpp"

namespace kim::cases {

using domain::param;
using domain::Problem;
using domain::reading;
using domain::Result;
using domain::writing;
using nlohmann::json;
using sdk::HttpMethod;
using sdk::HttpRequest;
using sdk::HttpResponse;

namespace {

const std::vector<std::string> kCaseWork = {"case_manager"};
const std::vector<std::string> kCaseReaders = {"case_manager", "coordinator"};

Result<CaseFilter> case_filter(const HttpRequest& request) {
  CaseFilter filter;
  domain::Paging paging;
  for (const auto& [key, value] : request.query) {
    if (key == "phase") {
      if (!domain::contains(domain::phases(), value)) {
        return Problem::bad_request("phase", "must be one of: " + domain::join(domain::phases()));
      }
      filter.phase = value;
    } else if (key == "town") {
      if (!domain::contains(domain::towns(), value)) {
        return Problem::bad_request("town", "is not a town of the county");
      }
      filter.town = value;
    } else if (key == "case_manager") {
      std::int64_t id = 0;
      auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), id);
      if (error != std::errc() || end != value.data() + value.size() || id < 1) {
        return Problem::bad_request("case_manager", "must be a user id");
      }
      filter.case_manager_id = id;
    } else if (key == "overdue") {
      if (value != "true" && value != "false") {
        return Problem::bad_request("overdue", "must be true or false");
      }
      filter.overdue_only = value == "true";
    } else if (std::optional<Problem> problem; paging.read(key, value, problem)) {
      if (problem) return *problem;
    } else {
      return Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr};
    }
  }
  filter.after = paging.after;
  filter.limit = paging.limit;
  return filter;
}

}  // namespace

void register_routes(http::Router& router, http::ApiDocs& docs, CaseService& service,
                     store::Store& store) {
  domain::RouteTable table(router, docs);
  CaseService* s = &service;

  // Persons
  table.add(HttpMethod::kPost, "/api/v1/persons",
            writing([s](const Context& c, const HttpRequest&, const json& b) {
              return s->create_person(c, b);
            }),
            kCaseWork, "Record a participant (duplicate check across organisations)", "persons",
            {{"given_names", "Amina"},
             {"family_name", "Haddad"},
             {"date_of_birth", "1990-04-12"},
             {"nationalities", {"SY"}},
             {"languages", {"ar", "de"}},
             {"town", "Rheine"},
             {"residence_status", "residence_permit"},
             {"arrival_date", "2023-09-01"}});
  table.add(HttpMethod::kGet, "/api/v1/persons/{id}",
            reading([s](const Context& c, const HttpRequest& r) {
              return s->get_person(c, param(r, "id"));
            }),
            kCaseReaders, "Read a participant", "persons");
  table.add(
      HttpMethod::kPatch, "/api/v1/persons/{id}",
      writing([s](const Context& c, const HttpRequest& r, const json& b) {
        return s->update_person(c, param(r, "id"), b);
      }),
      kCaseWork,
      "Correct a participant's record (recording organisation or case manager of an open "
      "case); changed names or birth date are checked for duplicates again",
      "persons",
      {{"contact", {{"phone", "+49 5971 000000"}}}, {"residence_status", "settlement_permit"}});
  table.add(HttpMethod::kGet, "/api/v1/persons/{id}/participations",
            reading([s](const Context& c, const HttpRequest& r) {
              return s->list_participations(c, param(r, "id"));
            }),
            kCaseReaders, "Programme participations of a participant", "persons");
  table.add(HttpMethod::kPost, "/api/v1/persons/{id}/participations",
            writing([s](const Context& c, const HttpRequest& r, const json& b) {
              return s->add_participation(c, param(r, "id"), b);
            }),
            kCaseWork, "Record a programme participation (double-funding check)", "persons",
            {{"programme", "gemeinsam_klappts"}, {"started_on", "2026-01-05"}});
  table.add(HttpMethod::kPost, "/api/v1/persons/{id}/funding-overrides",
            writing([s](const Context& c, const HttpRequest& r, const json& b) {
              return s->grant_funding_override(c, param(r, "id"), b);
            }),
            {"coordinator"}, "Coordinator override of the double-funding rule, with justification",
            "persons",
            {{"justification", "Participation management ends this month; hand-over agreed"}});

  // Cases
  table.add(HttpMethod::kPost, "/api/v1/cases",
            writing([s](const Context& c, const HttpRequest&, const json& b) {
              return s->open_case(c, b);
            }),
            kCaseWork, "Open a case for a participant", "cases", {{"person_id", "per_…"}});
  table.add(HttpMethod::kGet, "/api/v1/cases",
            reading([s](const Context& c, const HttpRequest& r) -> Result<Reply> {
              auto filter = case_filter(r);
              if (!filter) return filter.problem();
              return s->list_cases(c, filter.value());
            }),
            kCaseReaders,
            "List readable cases; filters phase, town, case_manager, overdue; cursor pagination",
            "cases");
  table.add(HttpMethod::kGet, "/api/v1/cases/{id}",
            reading([s](const Context& c, const HttpRequest& r) {
              return s->get_case(c, param(r, "id"));
            }),
            kCaseReaders, "Read a case (ETag = version)", "cases");
  table.add(HttpMethod::kPost, "/api/v1/cases/{id}/transitions",
            writing([s](const Context& c, const HttpRequest& r, const json& b) {
              return s->transition(c, param(r, "id"), b);
            }),
            kCaseWork, "Move a case to another phase (409 lists the allowed ones)", "cases",
            {{"to", "assessment"}});
  table.add(HttpMethod::kGet, "/api/v1/cases/{id}/assessments",
            reading([s](const Context& c, const HttpRequest& r) {
              return s->list_assessments(c, param(r, "id"));
            }),
            kCaseReaders, "Assessments and re-assessments of a case, oldest first", "cases");
  table.add(
      HttpMethod::kPost, "/api/v1/cases/{id}/assessments",
      writing([s](const Context& c, const HttpRequest& r, const json& b) {
        return s->record_assessment(c, param(r, "id"), b);
      }),
      kCaseWork, "Record an assessment over the life domains", "cases",
      {{"domains", {{{"life_domain", "language"}, {"need_level", "high"}, {"summary", "A1"}}}}});
  table.add(HttpMethod::kGet, "/api/v1/cases/{id}/goals",
            reading([s](const Context& c, const HttpRequest& r) {
              return s->list_goals(c, param(r, "id"));
            }),
            kCaseReaders, "Goals of the integration agreement", "cases");
  table.add(
      HttpMethod::kPost, "/api/v1/cases/{id}/goals",
      writing([s](const Context& c, const HttpRequest& r, const json& b) {
        return s->add_goal(c, param(r, "id"), b);
      }),
      kCaseWork, "Agree a goal", "cases",
      {{"life_domain", "language"}, {"description", "B1 certificate"}, {"due_date", "2027-06-30"}});
  table.add(HttpMethod::kPatch, "/api/v1/cases/{id}/goals/{goal_id}",
            writing([s](const Context& c, const HttpRequest& r, const json& b) {
              return s->update_goal(c, param(r, "id"), param(r, "goal_id"), b);
            }),
            kCaseWork, "Change a goal's status, description or due date", "cases",
            {{"status", "achieved"}});
  table.add(HttpMethod::kGet, "/api/v1/cases/{id}/tasks",
            reading([s](const Context& c, const HttpRequest& r) {
              return s->list_tasks(c, param(r, "id"));
            }),
            kCaseReaders, "Follow-up tasks of a case", "cases");
  table.add(HttpMethod::kPost, "/api/v1/cases/{id}/tasks",
            writing([s](const Context& c, const HttpRequest& r, const json& b) {
              return s->add_task(c, param(r, "id"), b);
            }),
            kCaseWork, "Add a follow-up task", "cases",
            {{"description", "Ask the language school for a place"}, {"due_date", "2026-12-15"}});
  table.add(HttpMethod::kPatch, "/api/v1/cases/{id}/tasks/{task_id}",
            writing([s](const Context& c, const HttpRequest& r, const json& b) {
              return s->update_task(c, param(r, "id"), param(r, "task_id"), b);
            }),
            kCaseWork, "Mark a task done or open", "cases", {{"done", true}});
  table.add(HttpMethod::kGet, "/api/v1/cases/{id}/notes",
            reading([s](const Context& c, const HttpRequest& r) {
              return s->list_notes(c, param(r, "id"));
            }),
            kCaseReaders, "Timeline of notes and contacts", "cases");
  table.add(HttpMethod::kPost, "/api/v1/cases/{id}/notes",
            writing([s](const Context& c, const HttpRequest& r, const json& b) {
              return s->add_note(c, param(r, "id"), b);
            }),
            kCaseWork, "Add a note or contact to the timeline", "cases",
            {{"occurred_on", "2026-11-20"}, {"kind", "meeting"}, {"text", "First meeting"}});

  // Tasks across cases
  table.add(HttpMethod::kGet, "/api/v1/tasks",
            reading([s](const Context& c, const HttpRequest& r) -> Result<Reply> {
              std::string due_before = domain::today();
              for (const auto& [key, value] : r.query) {
                if (key != "due_before") {
                  return Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr};
                }
                if (!domain::is_date(value)) {
                  return Problem::bad_request("due_before", "must be a date YYYY-MM-DD");
                }
                due_before = value;
              }
              return s->tasks_due(c, due_before);
            }),
            kCaseReaders, "Open tasks due before a date (default today)", "tasks");
  table.add(
      HttpMethod::kGet, "/api/v1/tasks/overdue",
      reading([s](const Context& c, const HttpRequest&) { return s->overdue_by_case_manager(c); }),
      kCaseReaders, "Overdue tasks grouped by case manager", "tasks");

  // Audit
  table.add(
      HttpMethod::kGet, "/api/v1/audit",
      [&store](const HttpRequest& r) -> HttpResponse {
        audit::Query query;
        for (const auto& [key, value] : r.query) {
          if (key == "case_id") {
            query.case_id = value;
          } else if (key == "user_id" || key == "cursor" || key == "limit") {
            std::int64_t number = 0;
            auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
            if (error != std::errc() || end != value.data() + value.size() || number < 0 ||
                (key == "limit" && (number < 1 || number > 1000))) {
              return domain::to_response(Problem::bad_request(key, "must be a number in range"));
            }
            if (key == "user_id") query.user_id = number;
            if (key == "cursor") query.after_id = number;
            if (key == "limit") query.limit = static_cast<int>(number);
          } else {
            return domain::to_response(
                Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr});
          }
        }
        return HttpResponse::json(200, audit::list(store, query));
      },
      {"auditor"}, "Audit trail: who read or changed what (auditors)", "audit");
}

}  // namespace kim::cases
