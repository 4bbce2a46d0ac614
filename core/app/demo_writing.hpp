// What the parts of `kim demo seed` share: acting as the demo's users through the services the
// API uses, and moving the stamps those services give to the days the demo's story gives them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/demo_plan.hpp"
#include "cases/service.hpp"
#include "consent/consent.hpp"
#include "domain/service_support.hpp"
#include "events/event_bus.hpp"
#include "partners/partners.hpp"
#include "referrals/referrals.hpp"
#include "store/store.hpp"

namespace kim::app::demo {

// The services stamp what they write with today's date and the current time, as they must for
// real work. A demo tells the story of past months, so once the services wrote a case, its
// stamps are moved to the days the story gives them. Only dates and times change here: every
// row was written, checked and counted by the service. (When the domain services take an
// injectable clock, the seed gives them the story's time instead and this goes away.)
struct Backdate {
  std::string table;
  std::string row;  // SQL condition selecting one row
  std::vector<store::SqlValue> keys;
  std::vector<std::pair<std::string, store::SqlValue>> columns;
};
Backdate row_with_id(std::string table, const std::string& id,
                     std::vector<std::pair<std::string, store::SqlValue>> columns);
// The n-th row (in the order written) of `table` whose `parent` column is `parent_id`, among
// those that also meet `also` (" AND …").
Backdate nth_row(const std::string& table, const std::string& parent, const std::string& parent_id,
                 std::int64_t n, std::vector<std::pair<std::string, store::SqlValue>> columns,
                 const std::string& also = "");
// In one transaction.
void backdate(store::Store& store, const std::vector<Backdate>& rows);

// The reply's body. A refusal by a service means the demo data or plan broke a rule of the
// domain: a bug, not an expected outcome, so it throws naming `what`.
nlohmann::json accepted(const domain::Result<domain::Reply>& result, const std::string& what);

// A demo user the seed acts as.
struct Staff {
  std::string name;
  domain::Context ctx;
};

// The case managers of one organisation.
struct Office {
  bool team_access = false;
  std::vector<Staff> case_managers;
  std::size_t next = 0;  // round robin: caseloads stay even
};

// The domain services, wired as the host wires them (revoking a consent stops its referrals);
// no plugin listens.
struct Services {
  explicit Services(store::Store& store);
  events::EventBus events;
  cases::CaseService cases;
  partners::PartnerService partners;
  referrals::ReferralService referrals;
  consent::ConsentService consents;
};

// What one case (or programme participant) wrote and when it should have happened.
struct CaseStory {
  std::string case_id;
  std::vector<Backdate> rows;
  std::int64_t referral_notes = 0;  // timeline notes the referral service wrote so far
  std::string latest;               // the last stamp: the case's updated_at

  void stamped(const std::string& stamp) { latest = std::max(latest, stamp); }
};

// A case that reached linking or monitoring: from then until yesterday (or the day before its
// closure) a referral may happen.
struct Candidate {
  std::string case_id, person_id, town, phase;
  const Staff* manager = nullptr;
  sys_days opened{}, from{}, until{};
  Strings goal_domains;
};

}  // namespace kim::app::demo
