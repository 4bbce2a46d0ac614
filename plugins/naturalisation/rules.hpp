// Dated legal rule sets as data, and the advisory pre-check that applies them.
//
// A rule set (rules/*.json, see README.md) belongs to one check (e.g. "stag-10") and is in force
// for applications from `valid_from` to `valid_until`; the application date picks it. Its criteria
// are data too: conditions on facts, durations with alternative routes, age limits. The code here
// knows no law, only how to apply one.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kim/sdk/dates.hpp>
#include <kim/sdk/embedded.hpp>
#include <nlohmann/json.hpp>

namespace kim_naturalisation {

using kim::sdk::add_months;
using kim::sdk::Date;
using kim::sdk::days_from_epoch;
using kim::sdk::parse_date;
using kim::sdk::to_string;
using kim::sdk::today;
using RuleFile = kim::sdk::EmbeddedFile;

struct RuleSet {
  std::string file;
  nlohmann::json data;  // checked: the shape README.md describes
  Date valid_from;
  std::optional<Date> valid_until;  // empty: in force until a later file says otherwise
};

// A pre-check's input, checked: the application date and every fact of the check (null: unknown).
struct Facts {
  Date application_date;
  nlohmann::json values = nlohmann::json::object();
};

// A refused input, ready for HttpResponse::error(400, code, message, field).
struct InputProblem {
  std::string code;
  std::string message;
  std::string field;
};

class RuleBook {
 public:
  // Parses and checks every file: shape, fact types, and per check an unbroken chain of validity
  // periods (each starts the day after the previous one ends, only the last is open). Throws
  // std::runtime_error naming the file and the problem.
  explicit RuleBook(const std::vector<RuleFile>& files);

  std::vector<std::string> checks() const;
  const std::vector<RuleSet>& rule_sets(const std::string& check) const;
  // The rule set in force for an application on `date`, or null before the first one.
  const RuleSet* rule_set_for(const std::string& check, const Date& date) const;

  // The body of a pre-check request: only `application_date` (default: `today`) and the check's
  // declared facts; dates real and not after `today`. Either `facts` or `problem` is set.
  std::optional<InputProblem> read_facts(const std::string& check, const nlohmann::json& body,
                                         const Date& today, Facts& facts) const;

  // The advisory answer: the rule set used, every criterion with met / not_met / unknown, its text
  // and the facts used, the overall result and, when the residence time is not yet reached, the
  // earliest date under this and under later rule sets.
  nlohmann::json evaluate(const std::string& check, const Facts& facts) const;

 private:
  std::map<std::string, std::vector<RuleSet>> checks_;
  std::map<std::string, std::map<std::string, std::string>> fact_types_;  // check -> fact -> type
};

}  // namespace kim_naturalisation
