#include "domain/service_support.hpp"

#include <random>

namespace kim::domain {

std::string new_id(const char* prefix) {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string id = prefix;
  id += '_';
  for (int half = 0; half < 2; ++half) {
    std::uint64_t value = generator();
    for (int i = 0; i < 16; ++i, value >>= 4)
      id.push_back(kDigits[value & 0xf]);
  }
  return id;
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

void run_hooks(events::EventBus& bus, const sdk::Event& event) {
  auto verdict = bus.run_hooks(event);
  if (!verdict.allowed) {
    fail(Problem{422, "vetoed", "refused by a plugin: " + verdict.reason, {}, nullptr});
  }
}

nlohmann::json json_column(const nlohmann::json& value) {
  return value.is_string() ? nlohmann::json::parse(value.get<std::string>())
                           : nlohmann::json::array();
}

}  // namespace kim::domain
