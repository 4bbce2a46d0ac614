#include "domain/service_support.hpp"

#include <stdexcept>

namespace kim::domain {

std::string new_id(const char* prefix) {
  return Env::system().new_id(prefix);
}

void fail(Problem problem) {
  throw ProblemError(std::move(problem));
}

void check(const FieldReader& reader) {
  if (reader.problem()) fail(*reader.problem());
}

sdk::Event make_event(const std::string& type, nlohmann::json payload) {
  sdk::Event event;
  event.type = type;
  event.payload = std::move(payload);
  event.source = "host";
  return event;
}

void Change::publish(const std::string& type, nlohmann::json payload) {
  auto event = make_event(type, std::move(payload));
  auto verdict = bus_.run_hooks(event);
  if (!verdict.allowed) {
    fail(Problem{422, "vetoed", "refused by a plugin: " + verdict.reason, {}, nullptr});
  }
  events_.push_back(std::move(event));
}

void Change::announce(const std::string& type, nlohmann::json payload) {
  events_.push_back(make_event(type, std::move(payload)));
}

void Change::audit(std::string action, std::string object_type, std::string object_id,
                   std::string case_id) {
  audit::append(
      db, ctx.actor,
      {std::move(action), std::move(object_type), std::move(object_id), std::move(case_id)});
  audited_ = true;
}

void Transactions::require_audited(const Change& change) {
  if (!change.audited()) {
    // Not a Problem: no caller can cause this, only a change written without its audit entry.
    throw std::logic_error("a write left no audit entry; every change of social data is audited");
  }
}

nlohmann::json json_column(const nlohmann::json& value) {
  return value.is_string() ? nlohmann::json::parse(value.get<std::string>())
                           : nlohmann::json::array();
}

}  // namespace kim::domain
