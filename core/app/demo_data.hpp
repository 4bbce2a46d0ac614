// The text tables of `kim demo seed` — names, organisations, case texts, the partner network in
// use — as data files (config/demo/*.json, described in config/demo/README.md), loaded and checked
// before anything is written. Code decides how a demo case runs; these files say what it reads.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orgs/organisations.hpp"

namespace kim::app {

using Strings = std::vector<std::string>;

// A data file is missing or malformed. what() names the file and the JSON path at fault.
class DemoDataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// population.json: where the fictional participants come from and where they live.
struct DemoOrigin {
  std::string nationality;  // ISO 3166-1 alpha-2
  int weight = 0;
  Strings male, female, family;
  std::vector<Strings> languages;  // alternatives, ISO 639
  Strings statuses;                // residence statuses; repeated entries weigh more
  int earliest_arrival_year = 0;
};

// organisations.json: the organisations (seeded like the config's), their staff and the towns
// whose participants each welfare organisation takes on.
struct DemoOrganisation {
  orgs::OrganisationSeed seed;
  Strings serves;
  Strings case_managers;    // user names
  std::string coordinator;  // user name, coordinating offices only
};

// case_texts.json
struct DemoNote {
  std::string kind;
  std::string text;
};
struct DomainTexts {
  std::map<std::string, std::string> summaries;  // by need level: high, medium, low
  Strings goals;
  Strings tasks;
};

// partner_network.json
struct DemoAgreement {
  std::string partner;
  std::string validity;  // "valid", "expired" (valid_to in the past) or "draft"
  int from_month = 1;
  bool open_ended = false;  // no valid_to
  std::string title;
  Strings services;
  Strings categories;  // what may go to the partner for the purpose "referral"
  std::string hub_tasks, hub_ends, partner_tasks, partner_ends, handover_rule;
};
struct DemoService {
  Strings fits;      // life domains whose goals make the service the obvious next step
  Strings messages;  // the case manager's message with a referral
  std::map<std::string, Strings> outcomes;  // partner's answer by status; "{date}" is replaced
};

struct DemoData {
  std::vector<DemoOrigin> origins;
  std::map<std::string, int> town_weights;  // rough population in thousands

  std::vector<DemoOrganisation> organisations;  // coordinating offices first
  std::string other_towns_to;                   // organisation for towns no organisation serves
  std::string auditor;

  std::map<std::string, DomainTexts> life_domains;  // one for every life domain
  std::string no_need_summary;
  std::map<std::string, std::vector<DemoNote>> phase_notes;  // every phase but closed
  std::map<std::string, std::string> closure_notes;          // every closure reason
  std::string reopen_note;
  Strings intake_tasks, monitoring_tasks;

  std::string hub;  // the partner every demo agreement is made with
  std::vector<DemoAgreement> agreements;
  std::map<std::string, DemoService> services;
  Strings cancelled_outcomes;
  std::string consent_document;  // "{date}": the day the consent was given
  std::string revocation_reason;

  // funding.json (optional): the county's funding in the API's shape (POST /api/v1/funding/…);
  // a forwarding's "decision" is the index of its decision here. Dates are the real ones.
  std::vector<nlohmann::json> funding_decisions, funding_posts, funding_forwardings;
  // steering.json (optional): the bodies of the network and integration chains, in the shapes of
  // POST /api/v1/bodies and POST /api/v1/chains (their structure checked when loaded).
  std::vector<nlohmann::json> bodies;
  std::vector<nlohmann::json> chains;
};

// Reads and checks every file of `folder`; throws DemoDataError naming file and path.
DemoData load_demo_data(const std::filesystem::path& folder);

// Where the data files are: `explicit_folder` when given; else the folder "demo" beside the
// deployment config (config/demo for the shipped config); else the installed copy beside the
// binary (<prefix>/share/kim/demo, which the build tree mirrors). Throws DemoDataError when none
// holds the files.
std::filesystem::path find_demo_data(const std::optional<std::filesystem::path>& explicit_folder,
                                     const std::filesystem::path& config_file);

}  // namespace kim::app
