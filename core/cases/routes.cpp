#include "cases/routes.hpp"

#include <charconv>

#include "domain/route_support.hpp"
#include "domain/validation.hpp"

namespace kim::cases {

using domain::Problem;
using domain::Result;
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
    } else if (auto paged = paging.read(key, value); !paged) {
      return paged.problem();
    } else if (!paged.value()) {
      return Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr};
    }
  }
  filter.after = paging.after;
  filter.limit = paging.limit;
  return filter;
}

Result<Reply> list_tasks_due(CaseService& s, const domain::Call& call) {
  TaskQuery query{s.env().today(), std::nullopt, 200};
  for (const auto& [key, value] : call.request.query) {
    if (key == "due_before") {
      if (!domain::is_date(value)) {
        return Problem::bad_request("due_before", "must be a date YYYY-MM-DD");
      }
      query.due_before = value;
    } else if (key == "cursor") {
      query.after = TaskQuery::parse_cursor(value);
      if (!query.after) return Problem::bad_request(key, "is not a cursor this API gave out");
    } else if (key == "limit") {
      auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), query.limit);
      if (error != std::errc() || end != value.data() + value.size() || query.limit < 1 ||
          query.limit > TaskQuery::kMaxLimit) {
        return Problem::bad_request(key, "must be 1 to 1000");
      }
    } else {
      return Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr};
    }
  }
  return s.tasks_due(call.ctx, query);
}

Result<Reply> list_cases(CaseService& s, const domain::Call& call) {
  auto filter = case_filter(call.request);
  if (!filter) return filter.problem();
  return s.list_cases(call.ctx, filter.value());
}

using Call = domain::Call;
using Row = domain::Route<CaseService>;

const std::vector<Row>& case_routes() {
  static const std::vector<Row> routes = {
      // Persons
      {HttpMethod::kPost,
       "/api/v1/persons",
       kCaseWork,
       [](CaseService& s, const Call& c) { return s.create_person(c.ctx, c.body); },
       "Record a participant (duplicate check across organisations)",
       "persons",
       {{"given_names", "Amina"},
        {"family_name", "Haddad"},
        {"date_of_birth", "1990-04-12"},
        {"nationalities", {"SY"}},
        {"languages", {"ar", "de"}},
        {"town", "Rheine"},
        {"residence_status", "residence_permit"},
        {"arrival_date", "2023-09-01"}}},
      {HttpMethod::kGet, "/api/v1/persons/{id}", kCaseReaders,
       [](CaseService& s, const Call& c) { return s.get_person(c.ctx, c.param("id")); },
       "Read a participant", "persons"},
      {HttpMethod::kPatch,
       "/api/v1/persons/{id}",
       kCaseWork,
       [](CaseService& s, const Call& c) { return s.update_person(c.ctx, c.param("id"), c.body); },
       "Correct a participant's record (recording organisation or case manager of an open "
       "case); changed names or birth date are checked for duplicates again",
       "persons",
       {{"contact", {{"phone", "+49 5971 000000"}}}, {"residence_status", "settlement_permit"}}},
      {HttpMethod::kGet, "/api/v1/persons/{id}/participations", kCaseReaders,
       [](CaseService& s, const Call& c) { return s.list_participations(c.ctx, c.param("id")); },
       "Programme participations of a participant", "persons"},
      {HttpMethod::kPost,
       "/api/v1/persons/{id}/participations",
       kCaseWork,
       [](CaseService& s, const Call& c) {
         return s.add_participation(c.ctx, c.param("id"), c.body);
       },
       "Record a programme participation (double-funding check)",
       "persons",
       {{"programme", "gemeinsam_klappts"}, {"started_on", "2026-01-05"}}},
      {HttpMethod::kPost,
       "/api/v1/persons/{id}/funding-overrides",
       {"coordinator"},
       [](CaseService& s, const Call& c) {
         return s.grant_funding_override(c.ctx, c.param("id"), c.body);
       },
       "Coordinator override of the double-funding rule, with justification",
       "persons",
       {{"justification", "Participation management ends this month; hand-over agreed"}}},

      {HttpMethod::kPost,
       "/api/v1/person-links",
       {"coordinator"},
       [](CaseService& s, const Call& c) { return s.link_person(c.ctx, c.body); },
       "Link the person another organisation recorded (names and date of birth must match) to "
       "an organisation the coordinator is or supervises, so that it may open a case",
       "persons",
       {{"organisation", "drk-greven"},
        {"given_names", "Amina"},
        {"family_name", "Haddad"},
        {"date_of_birth", "1990-04-12"},
        {"justification", "Moved to Greven; the Rheine case was closed"}}},
      {HttpMethod::kGet, "/api/v1/person-links", kCaseReaders,
       [](CaseService& s, const Call& c) { return s.list_person_links(c.ctx); },
       "Links of persons to your organisation (coordinators: and to those it supervises)",
       "persons"},

      // Cases
      {HttpMethod::kPost,
       "/api/v1/cases",
       kCaseWork,
       [](CaseService& s, const Call& c) { return s.open_case(c.ctx, c.body); },
       "Open a case for a participant",
       "cases",
       {{"person_id", "per_…"}}},
      {HttpMethod::kGet, "/api/v1/cases", kCaseReaders, list_cases,
       "List readable cases; filters phase, town, case_manager, overdue; cursor pagination",
       "cases"},
      {HttpMethod::kGet, "/api/v1/cases/{id}", kCaseReaders,
       [](CaseService& s, const Call& c) { return s.get_case(c.ctx, c.param("id")); },
       "Read a case (ETag = version)", "cases"},
      {HttpMethod::kPost,
       "/api/v1/cases/{id}/transitions",
       kCaseWork,
       [](CaseService& s, const Call& c) { return s.transition(c.ctx, c.param("id"), c.body); },
       "Move a case to another phase (409 lists the allowed ones)",
       "cases",
       {{"to", "assessment"}}},
      {HttpMethod::kGet, "/api/v1/cases/{id}/assessments", kCaseReaders,
       [](CaseService& s, const Call& c) { return s.list_assessments(c.ctx, c.param("id")); },
       "Assessments and re-assessments of a case, oldest first", "cases"},
      {HttpMethod::kPost,
       "/api/v1/cases/{id}/assessments",
       kCaseWork,
       [](CaseService& s, const Call& c) {
         return s.record_assessment(c.ctx, c.param("id"), c.body);
       },
       "Record an assessment over the life domains",
       "cases",
       {{"domains", {{{"life_domain", "language"}, {"need_level", "high"}, {"summary", "A1"}}}}}},
      {HttpMethod::kGet, "/api/v1/cases/{id}/goals", kCaseReaders,
       [](CaseService& s, const Call& c) { return s.list_goals(c.ctx, c.param("id")); },
       "Goals of the integration agreement", "cases"},
      {HttpMethod::kPost,
       "/api/v1/cases/{id}/goals",
       kCaseWork,
       [](CaseService& s, const Call& c) { return s.add_goal(c.ctx, c.param("id"), c.body); },
       "Agree a goal",
       "cases",
       {{"life_domain", "language"},
        {"description", "B1 certificate"},
        {"due_date", "2027-06-30"}}},
      {HttpMethod::kPatch,
       "/api/v1/cases/{id}/goals/{goal_id}",
       kCaseWork,
       [](CaseService& s, const Call& c) {
         return s.update_goal(c.ctx, c.param("id"), c.param("goal_id"), c.body);
       },
       "Change a goal's status, description or due date",
       "cases",
       {{"status", "achieved"}}},
      {HttpMethod::kGet, "/api/v1/cases/{id}/tasks", kCaseReaders,
       [](CaseService& s, const Call& c) { return s.list_tasks(c.ctx, c.param("id")); },
       "Follow-up tasks of a case", "cases"},
      {HttpMethod::kPost,
       "/api/v1/cases/{id}/tasks",
       kCaseWork,
       [](CaseService& s, const Call& c) { return s.add_task(c.ctx, c.param("id"), c.body); },
       "Add a follow-up task",
       "cases",
       {{"description", "Ask the language school for a place"}, {"due_date", "2026-12-15"}}},
      {HttpMethod::kPatch,
       "/api/v1/cases/{id}/tasks/{task_id}",
       kCaseWork,
       [](CaseService& s, const Call& c) {
         return s.update_task(c.ctx, c.param("id"), c.param("task_id"), c.body);
       },
       "Mark a task done or open",
       "cases",
       {{"done", true}}},
      {HttpMethod::kGet, "/api/v1/cases/{id}/notes", kCaseReaders,
       [](CaseService& s, const Call& c) { return s.list_notes(c.ctx, c.param("id")); },
       "Timeline of notes and contacts", "cases"},
      {HttpMethod::kPost,
       "/api/v1/cases/{id}/notes",
       kCaseWork,
       [](CaseService& s, const Call& c) { return s.add_note(c.ctx, c.param("id"), c.body); },
       "Add a note or contact to the timeline",
       "cases",
       {{"occurred_on", "2026-11-20"}, {"kind", "meeting"}, {"text", "First meeting"}}},

      // Tasks across cases
      {HttpMethod::kGet, "/api/v1/tasks", kCaseReaders, list_tasks_due,
       "Open tasks due before a date (default today), by due date; cursor and limit "
       "(default 200, at most 1000) page through them",
       "tasks"},
      {HttpMethod::kGet, "/api/v1/tasks/overdue", kCaseReaders,
       [](CaseService& s, const Call& c) { return s.overdue_by_case_manager(c.ctx); },
       "Overdue tasks grouped by case manager", "tasks"},
  };
  return routes;
}

}  // namespace

void register_routes(http::Router& router, http::ApiDocs& docs, CaseService& service,
                     store::Store& store) {
  domain::add_routes(router, docs, service, case_routes(), domain::Writes::kWriterBatch);
  domain::RouteTable table(router, docs);

  // Audit
  table.add(
      HttpMethod::kGet, "/api/v1/audit",
      [&store](const HttpRequest& r) -> HttpResponse {
        audit::Query query;
        for (const auto& [key, value] : r.query) {
          if (key == "case_id") {
            query.case_id = value;
          } else if (key == "kind") {
            if (value != "access" && value != "security") {
              return domain::to_response(Problem::bad_request(key, "must be access or security"));
            }
            query.kind = value;
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
      {"auditor"},
      "Audit trail: who read or changed what, and refused accesses (kind=security; auditors)",
      "audit");
}

}  // namespace kim::cases
