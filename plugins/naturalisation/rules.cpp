#include "rules.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace kim_naturalisation {

namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 6> kLevels = {"A1", "A2", "B1", "B2", "C1", "C2"};
constexpr std::array<std::string_view, 4> kFactTypes = {"date", "level", "boolean", "count"};

int level_rank(std::string_view level) {
  auto it = std::find(kLevels.begin(), kLevels.end(), level);
  return it == kLevels.end() ? -1 : static_cast<int>(it - kLevels.begin());
}

[[noreturn]] void refuse(const std::string& file, const std::string& problem) {
  throw std::runtime_error("rule file " + file + ": " + problem);
}

std::string text_of(const json& object, const char* key, const std::string& file,
                    const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string() || it->get<std::string>().empty())
    refuse(file, (where.empty() ? "" : where + ".") + key + " must be a non-empty string");
  return it->get<std::string>();
}

Date date_of(const json& object, const char* key, const std::string& file) {
  auto it = object.find(key);
  std::optional<Date> date;
  if (it != object.end() && it->is_string()) date = parse_date(it->get<std::string>());
  if (!date) refuse(file, std::string(key) + " must be a date YYYY-MM-DD");
  return *date;
}

// A condition on one fact: {"fact", "is": <bool>} or {"fact", "at_least": <level|count>}.
void check_condition(const json& condition, const std::map<std::string, std::string>& facts,
                     const std::string& file, const std::string& where) {
  if (!condition.is_object()) refuse(file, where + " must be an object");
  const std::string fact = text_of(condition, "fact", file, where);
  auto type = facts.find(fact);
  if (type == facts.end()) refuse(file, where + " uses the undeclared fact " + fact);
  if (condition.contains("is") == condition.contains("at_least") || condition.size() != 2)
    refuse(file, where + " needs \"fact\" and exactly one of \"is\", \"at_least\"");
  if (condition.contains("is") && !(type->second == "boolean" && condition["is"].is_boolean()))
    refuse(file, where + ": \"is\" takes a boolean fact and true or false");
  if (condition.contains("at_least")) {
    const json& bound = condition["at_least"];
    const bool level =
        type->second == "level" && bound.is_string() && level_rank(bound.get<std::string>()) >= 0;
    const bool count =
        type->second == "count" && bound.is_number_integer() && bound.get<std::int64_t>() >= 0;
    if (!level && !count)
      refuse(file,
             where + ": \"at_least\" takes a level fact and A1…C2, or a count fact and a number");
  }
}

void check_criterion(const json& criterion, const std::map<std::string, std::string>& facts,
                     const std::string& file, const std::string& where) {
  if (!criterion.is_object()) refuse(file, where + " must be an object");
  text_of(criterion, "id", file, where);
  text_of(criterion, "text", file, where);
  const int kinds = static_cast<int>(criterion.contains("any_of")) +
                    static_cast<int>(criterion.contains("duration")) +
                    static_cast<int>(criterion.contains("before_birthday"));
  if (kinds != 1)
    refuse(file, where + " needs exactly one of \"any_of\", \"duration\", \"before_birthday\"");
  auto date_fact = [&](const json& spec, const std::string& at) {
    const std::string fact = text_of(spec, "fact", file, at);
    auto type = facts.find(fact);
    if (type == facts.end() || type->second != "date")
      refuse(file, at + ".fact must be a declared date fact");
  };
  if (criterion.contains("any_of")) {
    const json& any = criterion["any_of"];
    if (!any.is_array() || any.empty()) refuse(file, where + ".any_of must be a non-empty array");
    for (std::size_t i = 0; i < any.size(); ++i)
      check_condition(any[i], facts, file, where + ".any_of[" + std::to_string(i) + "]");
  } else if (criterion.contains("duration")) {
    const json& duration = criterion["duration"];
    const std::string at = where + ".duration";
    if (!duration.is_object()) refuse(file, at + " must be an object");
    date_fact(duration, at);
    const auto routes = duration.find("routes");
    if (routes == duration.end() || !routes->is_array() || routes->empty())
      refuse(file, at + ".routes must be a non-empty array");
    for (std::size_t i = 0; i < routes->size(); ++i) {
      const json& route = (*routes)[i];
      const std::string route_at = at + ".routes[" + std::to_string(i) + "]";
      if (!route.is_object()) refuse(file, route_at + " must be an object");
      text_of(route, "id", file, route_at);
      text_of(route, "text", file, route_at);
      const int years = route.value("years", 0), months = route.value("months", 0);
      if (years < 0 || months < 0 || years * 12 + months <= 0)
        refuse(file, route_at + " needs a positive \"years\" and/or \"months\"");
      const json requires_ = route.value("requires", json::array());
      if (!requires_.is_array()) refuse(file, route_at + ".requires must be an array");
      for (std::size_t j = 0; j < requires_.size(); ++j)
        check_condition(requires_[j], facts, file,
                        route_at + ".requires[" + std::to_string(j) + "]");
    }
  } else {
    const json& limit = criterion["before_birthday"];
    const std::string at = where + ".before_birthday";
    if (!limit.is_object()) refuse(file, at + " must be an object");
    date_fact(limit, at);
    if (!limit.contains("age") || !limit["age"].is_number_integer() || limit["age"] <= 0 ||
        limit["age"] > 150)
      refuse(file, at + ".age must be a positive integer");
  }
}

// ---- evaluation ----

const char* kMet = "met";
const char* kNotMet = "not_met";
const char* kUnknown = "unknown";

std::optional<Date> date_fact(const Facts& facts, const std::string& name) {
  auto it = facts.values.find(name);
  if (it == facts.values.end() || !it->is_string()) return std::nullopt;
  return parse_date(it->get<std::string>());
}

json fact_value(const Facts& facts, const std::string& name) {
  auto it = facts.values.find(name);
  return it == facts.values.end() ? json(nullptr) : *it;
}

std::string condition_result(const json& condition, const Facts& facts) {
  const json value = fact_value(facts, condition["fact"].get<std::string>());
  if (value.is_null()) return kUnknown;
  if (condition.contains("is")) return value == condition["is"] ? kMet : kNotMet;
  const json& bound = condition["at_least"];
  if (bound.is_string())
    return level_rank(value.get<std::string>()) >= level_rank(bound.get<std::string>()) ? kMet
                                                                                        : kNotMet;
  return value.get<std::int64_t>() >= bound.get<std::int64_t>() ? kMet : kNotMet;
}

// met if any is met; not_met if all are not met; unknown otherwise.
std::string any_of(const std::vector<std::string>& results) {
  if (std::find(results.begin(), results.end(), kMet) != results.end()) return kMet;
  if (std::all_of(results.begin(), results.end(), [](const auto& r) { return r == kNotMet; }))
    return kNotMet;
  return kUnknown;
}
// met if all are met; not_met if any is not met; unknown otherwise.
std::string all_of(const std::vector<std::string>& results) {
  if (std::find(results.begin(), results.end(), kNotMet) != results.end()) return kNotMet;
  if (std::all_of(results.begin(), results.end(), [](const auto& r) { return r == kMet; }))
    return kMet;
  return kUnknown;
}

int months_of(const json& route) {
  return route.value("years", 0) * 12 + route.value("months", 0);
}

struct Evaluated {
  json criterion;
  std::string result;
  std::optional<Date> reached_on;  // durations: the earliest day a route open to the facts is met
};

Evaluated evaluate_criterion(const json& rule, const Facts& facts) {
  json out = {{"id", rule["id"]}, {"text", rule["text"]}};
  json used = json::object();
  auto use = [&](const std::string& name) { used[name] = fact_value(facts, name); };
  Evaluated evaluated;
  if (rule.contains("any_of")) {
    std::vector<std::string> results;
    json conditions = json::array();
    for (const auto& condition : rule["any_of"]) {
      use(condition["fact"]);
      results.push_back(condition_result(condition, facts));
      json entry = condition;
      entry["result"] = results.back();
      conditions.push_back(std::move(entry));
    }
    evaluated.result = any_of(results);
    out["conditions"] = conditions;
  } else if (rule.contains("duration")) {
    const std::string fact = rule["duration"]["fact"];
    use(fact);
    const auto since = date_fact(facts, fact);
    std::vector<std::string> results;
    json routes = json::array();
    for (const auto& route : rule["duration"]["routes"]) {
      std::vector<std::string> required;
      json requirements = json::array();
      for (const auto& condition : route.value("requires", json::array())) {
        use(condition["fact"]);
        required.push_back(condition_result(condition, facts));
        json requirement = condition;
        requirement["result"] = required.back();
        requirements.push_back(std::move(requirement));
      }
      const std::string open = all_of(required);
      json entry = {{"id", route["id"]},
                    {"text", route["text"]},
                    {"months_required", months_of(route)},
                    {"requires", requirements},
                    {"reached_on", nullptr}};
      std::string result = kUnknown;
      if (open == kNotMet) {
        result = kNotMet;
      } else if (since) {
        const Date reached = add_months(*since, months_of(route));
        entry["reached_on"] = to_string(reached);
        if (reached > facts.application_date)
          result = kNotMet;
        else
          result = open == kMet ? kMet : kUnknown;
        if (open == kMet && (!evaluated.reached_on || reached < *evaluated.reached_on))
          evaluated.reached_on = reached;
      }
      entry["result"] = result;
      results.push_back(result);
      routes.push_back(entry);
    }
    evaluated.result = any_of(results);
    out["routes"] = routes;
    out["reached_on"] = evaluated.reached_on ? json(to_string(*evaluated.reached_on)) : json();
  } else {
    const std::string fact = rule["before_birthday"]["fact"];
    const int age = rule["before_birthday"]["age"];
    use(fact);
    evaluated.result = kUnknown;
    if (const auto born = date_fact(facts, fact)) {
      const Date birthday = add_months(*born, age * 12);
      out["birthday"] = to_string(birthday);
      evaluated.result = facts.application_date < birthday ? kMet : kNotMet;
    }
  }
  out["result"] = evaluated.result;
  out["facts_used"] = used;
  evaluated.criterion = std::move(out);
  return evaluated;
}

// The day every duration criterion of `set` is met by a route the facts open (null: never).
std::optional<Date> durations_reached_on(const RuleSet& set, const Facts& facts) {
  std::optional<Date> latest;
  for (const auto& rule : set.data["criteria"]) {
    if (!rule.contains("duration")) continue;
    const auto evaluated = evaluate_criterion(rule, facts);
    if (!evaluated.reached_on) return std::nullopt;
    if (!latest || *evaluated.reached_on > *latest) latest = evaluated.reached_on;
  }
  return latest;
}

json describe(const RuleSet& set) {
  return {{"id", set.data["id"]},
          {"title", set.data["title"]},
          {"legal_reference", set.data["legal_reference"]},
          {"valid_from", to_string(set.valid_from)},
          {"valid_until", set.valid_until ? json(to_string(*set.valid_until)) : json()}};
}

}  // namespace

RuleBook::RuleBook(const std::vector<RuleFile>& files) {
  for (const auto& file : files) {
    const std::string name(file.name);
    json data = json::parse(file.content, nullptr, false);
    if (!data.is_object()) refuse(name, "not a JSON object");
    for (const char* key : {"id", "check", "title", "legal_reference"})
      text_of(data, key, name, "");
    RuleSet set{name, data, date_of(data, "valid_from", name), std::nullopt};
    if (data.contains("valid_until") && !data["valid_until"].is_null()) {
      set.valid_until = date_of(data, "valid_until", name);
      if (*set.valid_until < set.valid_from) refuse(name, "valid_until is before valid_from");
    }
    const std::string check = data["check"];
    auto& types = fact_types_[check];
    const auto facts = data.find("facts");
    if (facts == data.end() || !facts->is_object()) refuse(name, "facts must be an object");
    std::map<std::string, std::string> declared;
    for (const auto& [fact, spec] : facts->items()) {
      if (fact == "application_date") refuse(name, "application_date is given by every request");
      const std::string type = spec.is_object() ? spec.value("type", "") : "";
      if (std::find(kFactTypes.begin(), kFactTypes.end(), type) == kFactTypes.end())
        refuse(name, "facts." + fact + ".type must be date, level, boolean or count");
      text_of(spec, "description", name, "facts." + fact);
      if (auto known = types.find(fact); known != types.end() && known->second != type)
        refuse(name, "fact " + fact + " has another type in another rule set of " + check);
      types[fact] = type;
      declared[fact] = type;
    }
    const auto criteria = data.find("criteria");
    if (criteria == data.end() || !criteria->is_array() || criteria->empty())
      refuse(name, "criteria must be a non-empty array");
    for (std::size_t i = 0; i < criteria->size(); ++i)
      check_criterion((*criteria)[i], declared, name, "criteria[" + std::to_string(i) + "]");
    checks_[check].push_back(std::move(set));
  }
  if (checks_.empty()) throw std::runtime_error("no rule files");
  for (auto& [check, sets] : checks_) {
    std::sort(sets.begin(), sets.end(),
              [](const RuleSet& a, const RuleSet& b) { return a.valid_from < b.valid_from; });
    for (std::size_t i = 0; i < sets.size(); ++i) {
      const bool last = i + 1 == sets.size();
      if (!last && !sets[i].valid_until)
        refuse(sets[i].file, "only the latest rule set of " + check + " may be open-ended");
      if (!last) {
        const long gap =
            days_from_epoch(sets[i + 1].valid_from) - days_from_epoch(*sets[i].valid_until);
        if (gap != 1)
          refuse(sets[i + 1].file, "must start the day after " + sets[i].file + " ends (" +
                                       to_string(*sets[i].valid_until) + ")");
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (sets[j].data["id"] == sets[i].data["id"]) refuse(sets[i].file, "duplicate id");
      }
    }
  }
}

std::vector<std::string> RuleBook::checks() const {
  std::vector<std::string> names;
  for (const auto& [check, sets] : checks_)
    names.push_back(check);
  return names;
}

const std::vector<RuleSet>& RuleBook::rule_sets(const std::string& check) const {
  return checks_.at(check);
}

const RuleSet* RuleBook::rule_set_for(const std::string& check, const Date& date) const {
  for (const auto& set : checks_.at(check)) {
    if (set.valid_from <= date && (!set.valid_until || date <= *set.valid_until)) return &set;
  }
  return nullptr;
}

std::optional<InputProblem> RuleBook::read_facts(const std::string& check, const json& body,
                                                 const Date& today, Facts& facts) const {
  const auto& types = fact_types_.at(check);
  facts.application_date = today;
  facts.values = json::object();
  for (const auto& [fact, type] : types)
    facts.values[fact] = nullptr;
  for (const auto& [key, value] : body.items()) {
    if (key == "application_date") {
      const auto date = value.is_string() ? parse_date(value.get<std::string>()) : std::nullopt;
      if (!date) return InputProblem{"invalid_field", "must be a date YYYY-MM-DD", key};
      facts.application_date = *date;
      continue;
    }
    auto type = types.find(key);
    if (type == types.end()) return InputProblem{"unknown_field", "unknown field", key};
    if (value.is_null()) continue;  // explicitly unknown
    if (type->second == "date") {
      const auto date = value.is_string() ? parse_date(value.get<std::string>()) : std::nullopt;
      if (!date) return InputProblem{"invalid_field", "must be a date YYYY-MM-DD or null", key};
      if (*date > today) return InputProblem{"invalid_field", "must not be in the future", key};
    } else if (type->second == "level") {
      if (!value.is_string() || level_rank(value.get<std::string>()) < 0)
        return InputProblem{"invalid_field", "must be one of A1, A2, B1, B2, C1, C2 or null", key};
    } else if (type->second == "boolean") {
      if (!value.is_boolean())
        return InputProblem{"invalid_field", "must be true, false or null", key};
    } else if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
               value.get<std::int64_t>() > 100) {
      return InputProblem{"invalid_field", "must be an integer from 0 to 100 or null", key};
    }
    facts.values[key] = value;
  }
  if (!rule_set_for(check, facts.application_date)) {
    return InputProblem{"invalid_field",
                        "no rule set covers this date (the first is in force from " +
                            to_string(checks_.at(check).front().valid_from) + ")",
                        "application_date"};
  }
  return std::nullopt;
}

json RuleBook::evaluate(const std::string& check, const Facts& facts) const {
  const RuleSet* set = rule_set_for(check, facts.application_date);
  if (!set) throw std::logic_error("evaluate without a rule set; read_facts refuses that");
  json criteria = json::array();
  std::vector<std::string> results;
  bool duration_not_met = false;
  for (const auto& rule : set->data["criteria"]) {
    auto evaluated = evaluate_criterion(rule, facts);
    results.push_back(evaluated.result);
    if (rule.contains("duration") && evaluated.result == kNotMet) duration_not_met = true;
    criteria.push_back(std::move(evaluated.criterion));
  }
  const std::string overall = all_of(results);
  json answer = {{"advisory", true},
                 {"notice",
                  "Advisory pre-check on the facts given, not a decision and not legal advice; the "
                  "authority decides on the full application."},
                 {"check", check},
                 {"application_date", to_string(facts.application_date)},
                 {"rule_set", describe(*set)},
                 {"criteria", criteria},
                 {"result", overall == kMet      ? "likely_eligible"
                            : overall == kNotMet ? "not_yet"
                                                 : "cannot_tell"},
                 {"earliest_residence_date", nullptr},
                 {"later_rule_sets", json::array()}};
  if (duration_not_met) {
    if (const auto reached = durations_reached_on(*set, facts))
      answer["earliest_residence_date"] = to_string(*reached);
    // The application date picks the law: a later application may fall under a later rule set.
    for (const auto& later : checks_.at(check)) {
      if (later.valid_from <= facts.application_date) continue;
      json entry = describe(later);
      entry["residence_reached_on"] = nullptr;
      entry["earliest_application_date"] = nullptr;
      if (const auto reached = durations_reached_on(later, facts)) {
        entry["residence_reached_on"] = to_string(*reached);
        const Date earliest = std::max(*reached, later.valid_from);
        if (!later.valid_until || earliest <= *later.valid_until)
          entry["earliest_application_date"] = to_string(earliest);
      }
      entry["note"] = entry["earliest_application_date"].is_null()
                          ? "the residence time is not reached while this rule set is in force"
                          : "an application from earliest_application_date is judged by this "
                            "rule set and meets its residence time";
      answer["later_rule_sets"].push_back(entry);
    }
  }
  return answer;
}

}  // namespace kim_naturalisation
