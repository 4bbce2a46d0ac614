#include "domain/catalog.hpp"
#include "domain/route_support.hpp"
#include "steering/internal.hpp"
#include "steering/steering.hpp"

namespace kim::steering {

using domain::Call;
using sdk::HttpMethod;

namespace {

Result<Reply> list_meetings(SteeringService& s, const Call& call) {
  std::optional<std::string> body;
  for (const auto& [key, value] : call.request.query) {
    if (key != "body")
      return Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr};
    body = value;
  }
  return s.list_meetings(call.ctx, body);
}

Result<Reply> list_challenges(SteeringService& s, const Call& call) {
  ChallengeFilter filter;
  for (const auto& [key, value] : call.request.query) {
    if (key == "status") {
      if (!domain::contains(challenge_statuses(), value)) {
        return Problem::bad_request(key, "must be one of: " + domain::join(challenge_statuses()));
      }
      filter.status = value;
    } else if (key == "town") {
      if (!domain::contains(domain::towns(), value)) {
        return Problem::bad_request(key, "must be a town of the county");
      }
      filter.town = value;
    } else if (key == "life_domain") {
      if (!domain::contains(domain::life_domains(), value)) {
        return Problem::bad_request(key, "must be one of: " + domain::join(domain::life_domains()));
      }
      filter.life_domain = value;
    } else if (key == "body") {
      filter.body = value;
    } else if (key == "cluster") {
      filter.cluster = value;
    } else {
      return Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr};
    }
  }
  return s.list_challenges(call.ctx, filter);
}

Result<Reply> suggestions(SteeringService& s, const Call& call) {
  if (auto problem = domain::unknown_parameter(call.request, {})) return *problem;
  return s.suggestions(call.ctx);
}

const std::vector<domain::Route<SteeringService>>& steering_routes() {
  // Members of any role read their bodies; only coordinators and admins run them.
  const std::vector<std::string> kReaders = {"coordinator", "admin", "case_manager",
                                             "authority_officer"};
  const std::vector<std::string> kRunners = {"coordinator", "admin"};
  static const std::vector<domain::Route<SteeringService>> routes = {
      {HttpMethod::kGet, "/api/v1/bodies", kReaders,
       [](SteeringService& s, const Call& c) { return s.list_bodies(c.ctx); },
       "Working groups and the steering group you run or are a member of", "steering"},
      {HttpMethod::kPost,
       "/api/v1/bodies",
       kRunners,
       [](SteeringService& s, const Call& c) { return s.create_body(c.ctx, c.body); },
       "Set up a body (monthly_working_group, steering_group, thematic_working_group) convened "
       "by your office; members are partners and users",
       "steering",
       {{"name", "Arbeitskreis KIM (monatlich)"},
        {"kind", "monthly_working_group"},
        {"members", {{{"partner", "stadt-rheine-ko"}}, {{"user", "co-rheine"}}}}}},
      {HttpMethod::kGet, "/api/v1/bodies/{id}", kReaders,
       [](SteeringService& s, const Call& c) { return s.get_body(c.ctx, c.param("id")); },
       "A body with its members", "steering"},
      {HttpMethod::kPatch,
       "/api/v1/bodies/{id}",
       kRunners,
       [](SteeringService& s, const Call& c) {
         return s.update_body(c.ctx, c.param("id"), c.body);
       },
       "Rename a body, change its topic, retire it (active: false)",
       "steering",
       {{"active", false}}},
      {HttpMethod::kPost,
       "/api/v1/bodies/{id}/members",
       kRunners,
       [](SteeringService& s, const Call& c) { return s.add_member(c.ctx, c.param("id"), c.body); },
       "Add a member: {\"partner\": slug} or {\"user\": name}",
       "steering",
       {{"partner", "jobcenter-kreis-steinfurt"}}},
      {HttpMethod::kDelete, "/api/v1/bodies/{id}/members/{member_id}", kRunners,
       [](SteeringService& s, const Call& c) {
         return s.remove_member(c.ctx, c.param("id"), c.param("member_id"));
       },
       "Remove a member", "steering"},
      {HttpMethod::kGet, "/api/v1/bodies/{id}/meetings", kReaders,
       [](SteeringService& s, const Call& c) { return s.list_meetings(c.ctx, c.param("id")); },
       "Meetings of a body, newest first", "steering"},
      {HttpMethod::kGet, "/api/v1/meetings", kReaders, list_meetings,
       "Meetings of the bodies you may read; filter body", "steering"},
      {HttpMethod::kPost,
       "/api/v1/meetings",
       kRunners,
       [](SteeringService& s, const Call& c) { return s.create_meeting(c.ctx, c.body); },
       "Schedule a meeting; prefill_agenda: true adds the body's open challenges to the agenda",
       "steering",
       {{"body", "body_…"},
        {"date", "2026-12-10"},
        {"agenda", {{{"title", "Bericht der Koordinierungsstellen"}}}},
        {"prefill_agenda", true}}},
      {HttpMethod::kGet, "/api/v1/meetings/{id}", kReaders,
       [](SteeringService& s, const Call& c) { return s.get_meeting(c.ctx, c.param("id")); },
       "A meeting: agenda, minutes, decisions, action items", "steering"},
      {HttpMethod::kPatch,
       "/api/v1/meetings/{id}",
       kRunners,
       [](SteeringService& s, const Call& c) {
         return s.update_meeting(c.ctx, c.param("id"), c.body);
       },
       "Record minutes and decisions, move the date, replace the agenda",
       "steering",
       {{"minutes", "Anwesend: …"},
        {"decisions",
         {{{"text", "Bedarf an B2-Kursen mit Kinderbetreuung an den Lenkungskreis"}}}}}},
      {HttpMethod::kPost, "/api/v1/meetings/{id}/agenda/prefill", kRunners,
       [](SteeringService& s, const Call& c) { return s.prefill_agenda(c.ctx, c.param("id")); },
       "Append the body's open challenges (assigned, proposal, escalated) not yet on the agenda",
       "steering"},
      {HttpMethod::kPost,
       "/api/v1/meetings/{id}/action-items",
       kRunners,
       [](SteeringService& s, const Call& c) {
         return s.add_action_item(c.ctx, c.param("id"), c.body);
       },
       "Add an action item (owner: a user name, due_on)",
       "steering",
       {{"title", "Träger für B2-Kurs mit Kinderbetreuung anfragen"},
        {"owner", "co-kreis"},
        {"due_on", "2027-01-15"}}},
      {HttpMethod::kPatch,
       "/api/v1/meetings/{id}/action-items/{item_id}",
       kRunners,
       [](SteeringService& s, const Call& c) {
         return s.update_action_item(c.ctx, c.param("id"), c.param("item_id"), c.body);
       },
       "Mark an action item done or dropped, or change it while open",
       "steering",
       {{"status", "done"}}},
      {HttpMethod::kPost,
       "/api/v1/cases/{id}/challenges",
       {"case_manager"},
       [](SteeringService& s, const Call& c) {
         return s.raise_challenge(c.ctx, c.param("id"), c.body);
       },
       "Raise a challenge (gap in provision) from a case; no personal data (names or the "
       "birth date of the case's person are refused)",
       "steering",
       {{"topic", "Kein B2-Kurs mit Kinderbetreuung"},
        {"life_domain", "language"},
        {"description", "Im Norden des Kreises gibt es keinen B2-Kurs mit Kinderbetreuung."}}},
      {HttpMethod::kGet,
       "/api/v1/challenges",
       {"coordinator", "admin", "case_manager"},
       list_challenges,
       "Challenges; filters status, body, cluster, town, life_domain (case managers: those "
       "they raised)",
       "steering"},
      {HttpMethod::kGet, "/api/v1/challenges/suggestions", kRunners, suggestions,
       "Suggested challenges from the referral-gaps report", "steering"},
      {HttpMethod::kGet,
       "/api/v1/challenges/{id}",
       {"coordinator", "admin", "case_manager"},
       [](SteeringService& s, const Call& c) { return s.get_challenge(c.ctx, c.param("id")); },
       "A challenge with its history; case_ref only if you may read the case",
       "steering"},
      {HttpMethod::kPost,
       "/api/v1/challenges/{id}/transitions",
       kRunners,
       [](SteeringService& s, const Call& c) {
         return s.transition_challenge(c.ctx, c.param("id"), c.body);
       },
       "Move a challenge: clustered (cluster), assigned (body), proposal (proposal), escalated "
       "(body: the steering group), closed (outcome); 409 with the allowed steps otherwise; only "
       "by those who run its body and the body it goes to",
       "steering",
       {{"to", "assigned"}, {"body", "body_…"}}},
  };
  return routes;
}

}  // namespace

void register_routes(http::Router& router, http::ApiDocs& docs, SteeringService& service) {
  domain::add_routes(router, docs, service, steering_routes(), domain::Writes::kWriterBatch);
}

}  // namespace kim::steering
