// Strategic steering (building block 1 of KIM): the bodies of the network — the monthly working
// group, the quarterly steering group, thematic working groups — with their members (partners
// and users) and meetings (agenda, minutes, decisions, action items), and the challenges (gaps in
// provision, Versorgungslücken) case managers raise from cases and coordinators carry through
// the bodies to an outcome. A challenge holds no personal data: its case is a reference shown
// only to callers who may read that case.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "domain/service_support.hpp"
#include "http/api_docs.hpp"
#include "http/router.hpp"

namespace kim::steering {

// The referral-gaps report (counts by partner kind, service and town) the suggestions are built
// from; the host passes the report's public function.
using GapsReport = std::function<domain::Result<domain::Reply>(const domain::Context&)>;

struct ChallengeFilter {
  std::optional<std::string> status, body, cluster, town, life_domain;
};

class SteeringService {
 public:
  SteeringService(store::Store& store, events::EventBus& events, GapsReport gaps,
                  domain::Env& env = domain::Env::system())
      : tx_(store, events, env), gaps_(std::move(gaps)) {}

  // Bodies (bodies.cpp). Readers: admins, coordinators of the convening office or of a member
  // partner, and member users; everybody else gets 404. Writers: admins and those coordinators.
  domain::Result<domain::Reply> list_bodies(const domain::Context& ctx);
  domain::Result<domain::Reply> get_body(const domain::Context& ctx, const std::string& id);
  domain::Result<domain::Reply> create_body(const domain::Context& ctx, const nlohmann::json& in);
  domain::Result<domain::Reply> update_body(const domain::Context& ctx, const std::string& id,
                                            const nlohmann::json& in);
  domain::Result<domain::Reply> add_member(const domain::Context& ctx, const std::string& id,
                                           const nlohmann::json& in);
  domain::Result<domain::Reply> remove_member(const domain::Context& ctx, const std::string& id,
                                              const std::string& member_id);

  // Meetings (meetings.cpp), with the access of their body.
  domain::Result<domain::Reply> list_meetings(const domain::Context& ctx,
                                              const std::optional<std::string>& body);
  domain::Result<domain::Reply> get_meeting(const domain::Context& ctx, const std::string& id);
  domain::Result<domain::Reply> create_meeting(const domain::Context& ctx,
                                               const nlohmann::json& in);
  domain::Result<domain::Reply> update_meeting(const domain::Context& ctx, const std::string& id,
                                               const nlohmann::json& in);
  // Appends an agenda item for every open challenge assigned to the meeting's body that is not
  // on its agenda yet.
  domain::Result<domain::Reply> prefill_agenda(const domain::Context& ctx, const std::string& id);
  domain::Result<domain::Reply> add_action_item(const domain::Context& ctx, const std::string& id,
                                                const nlohmann::json& in);
  domain::Result<domain::Reply> update_action_item(const domain::Context& ctx,
                                                   const std::string& meeting_id,
                                                   const std::string& item_id,
                                                   const nlohmann::json& in);

  // Challenges (challenges.cpp).
  domain::Result<domain::Reply> raise_challenge(const domain::Context& ctx,
                                                const std::string& case_id,
                                                const nlohmann::json& in);
  domain::Result<domain::Reply> list_challenges(const domain::Context& ctx,
                                                const ChallengeFilter& filter);
  domain::Result<domain::Reply> get_challenge(const domain::Context& ctx, const std::string& id);
  domain::Result<domain::Reply> transition_challenge(const domain::Context& ctx,
                                                     const std::string& id,
                                                     const nlohmann::json& in);
  domain::Result<domain::Reply> suggestions(const domain::Context& ctx);

 private:
  domain::Transactions tx_;
  GapsReport gaps_;
};

void register_routes(http::Router& router, http::ApiDocs& docs, SteeringService& service);

}  // namespace kim::steering
