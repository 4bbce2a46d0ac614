// Integration chains (Integrationsketten): templates of ordered service steps across legal
// domains (e.g. recognition counselling -> adaptation qualification -> job placement via the
// jobcenter). A case follows a chain; its referrals advance it: a step counts as reached when a
// referral of the case for the step's service (and partner kind, if the step names one) is
// accepted or completed, in the order of the steps. Progress is derived from the referral
// history when it is read, never stored beside it, so it cannot disagree with the referrals and
// partners' reports through connectors count like case managers' updates.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "domain/service_support.hpp"
#include "http/api_docs.hpp"
#include "http/router.hpp"

namespace kim::chains {

class ChainService {
 public:
  ChainService(store::Store& store, events::EventBus& events,
               domain::Env& env = domain::Env::system())
      : tx_(store, events, env) {}

  domain::Result<domain::Reply> list(const domain::Context& ctx);
  domain::Result<domain::Reply> get(const domain::Context& ctx, const std::string& id);
  domain::Result<domain::Reply> create(const domain::Context& ctx, const nlohmann::json& body);
  // Counts per step (reached, stopped there) and the median days per step over every case that
  // follows the chain; counts of 1-4 are shown as "<5", medians of fewer than 5 cases as null,
  // and counts from which a "<5" could be worked out as null too (complementary suppression).
  domain::Result<domain::Reply> report(const domain::Context& ctx, const std::string& id);

  // A case starts following a chain (a change of the case: its version moves).
  domain::Result<domain::Reply> follow(const domain::Context& ctx, const std::string& case_id,
                                       const nlohmann::json& body);
  // The chains a case follows with the steps it reached.
  domain::Result<domain::Reply> of_case(const domain::Context& ctx, const std::string& case_id);

 private:
  domain::Transactions tx_;
};

void register_routes(http::Router& router, http::ApiDocs& docs, ChainService& service);

}  // namespace kim::chains
