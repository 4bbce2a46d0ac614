// `kim demo seed`: fills an EMPTY database with a fictional but plausible data set, so a new user
// sees a working system at once: organisations of the county, users with API tokens, a few
// hundred participants across the 24 towns with cases in every phase, assessments, goals, tasks,
// notes, programme participations and household members. When the deployment config seeds the
// partner network, the demo also shows it in use: cooperation agreements of the county's
// coordinating office (signed, expired, draft), written consents of participants and referrals
// in every status, with their history and timeline notes.
//
// Every name is a random combination from per-origin lists; no record describes a real person.
// The texts come from data files (demo_data.hpp); everything is written through the services the
// API uses, acting as the demo's users. The data is deterministic from the seed (same seed, same
// persons, phases and texts; ids are the services' own); dates are laid out relative to the day
// of seeding so that "overdue" and "due this week" mean something.
//
// A seeded database is recognisable: every person has persons.demo = 1, and the table
// demo_marker holds one row (seed, started_at, completed_at; completed_at stays NULL when seeding
// was interrupted). The seed never mixes into real data: see seed_demo().
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/demo_data.hpp"
#include "store/store.hpp"

namespace kim::app {

// The database is not empty: nothing was written. what() says why, for the user.
class DemoRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DemoUser {
  std::string name;
  std::string role;
  std::string organisation;  // slug, empty for admin and auditor
  std::string token;         // the secret, shown once
};

struct DemoSummary {
  std::uint64_t seed = 0;
  int organisations_created = 0;
  int organisations_reused = 0;  // same slug already known (e.g. from the deployment config)
  int persons = 0;
  int cases = 0;
  std::map<std::string, int> cases_by_phase;
  int assessments = 0;
  int goals = 0;
  int tasks = 0;
  int overdue_tasks = 0;
  int notes = 0;
  int participations = 0;
  int agreements = 0;  // none when the config seeds no partners
  int consents = 0;
  int consents_revoked = 0;
  int referrals = 0;
  std::map<std::string, int> referrals_by_status;
  int funding_records = 0;      // decisions, posts and forwarding contracts of funding.json
  std::vector<DemoUser> users;  // in creation order; includes "admin" only if the seed made it
};

// Seeds the database. Refuses with DemoRefused, writing nothing, unless the database holds no
// persons or cases, no users other than "admin", and no earlier demo marker. Organisations that
// already exist with a demo organisation's slug are reused as they are. Creates "admin" (with a
// token) when no such user exists, since a seeded database gets no bootstrap admin from serve.
DemoSummary seed_demo(store::Store& store, const DemoData& data, std::uint64_t seed);

}  // namespace kim::app
