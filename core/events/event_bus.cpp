#include "events/event_bus.hpp"

#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>

namespace kim::events {

void EventBus::subscribe(const std::string& type, sdk::EventHandler handler,
                         const std::string& owner) {
  std::unique_lock lock(mutex_);
  by_type_[type].push_back({owner, std::make_shared<const sdk::EventHandler>(std::move(handler))});
}

int EventBus::publish(const sdk::Event& event) const {
  std::vector<Subscription> subscribers;
  {
    std::shared_lock lock(mutex_);
    auto it = by_type_.find(event.type);
    if (it == by_type_.end()) return 0;
    subscribers = it->second;  // run handlers without the lock: they may publish in turn
  }
  int delivered = 0;
  for (const auto& subscription : subscribers) {
    try {
      (*subscription.handler)(event);
      ++delivered;
    } catch (const std::exception& e) {
      logger_->error("event handler of {} for {} failed: {}", subscription.owner, event.type,
                     e.what());
    } catch (...) {
      logger_->error("event handler of {} for {} failed with a non-standard exception",
                     subscription.owner, event.type);
    }
  }
  return delivered;
}

void EventBus::add_hook(const std::string& type, sdk::HookHandler hook, const std::string& owner) {
  std::unique_lock lock(mutex_);
  hooks_by_type_[type].push_back(
      {owner, std::make_shared<const sdk::HookHandler>(std::move(hook))});
}

sdk::HookResult EventBus::run_hooks(const sdk::Event& event) const {
  std::vector<Hook> hooks;
  {
    std::shared_lock lock(mutex_);
    auto it = hooks_by_type_.find(event.type);
    if (it == hooks_by_type_.end()) return sdk::HookResult::allow();
    hooks = it->second;
  }
  for (const auto& hook : hooks) {
    sdk::HookResult result;
    try {
      result = (*hook.handler)(event);
    } catch (const std::exception& e) {
      logger_->error("hook of {} for {} threw: {}", hook.owner, event.type, e.what());
      result = sdk::HookResult::veto("check failed");
    } catch (...) {
      logger_->error("hook of {} for {} threw a non-standard exception", hook.owner, event.type);
      result = sdk::HookResult::veto("check failed");
    }
    if (!result.allowed) return sdk::HookResult::veto(hook.owner + ": " + result.reason);
  }
  return sdk::HookResult::allow();
}

namespace {

// The event types under which `owner` registered anything in `by_type` (hooks or subscriptions).
template <class ByType>
std::vector<std::string> types_of(const ByType& by_type, const std::string& owner) {
  std::vector<std::string> types;
  for (const auto& [type, entries] : by_type) {
    if (std::any_of(entries.begin(), entries.end(),
                    [&](const auto& entry) { return entry.owner == owner; })) {
      types.push_back(type);
    }
  }
  return types;
}

}  // namespace

std::vector<std::string> EventBus::hooks_of(const std::string& owner) const {
  std::shared_lock lock(mutex_);
  return types_of(hooks_by_type_, owner);
}

std::vector<std::string> EventBus::subscriptions_of(const std::string& owner) const {
  std::shared_lock lock(mutex_);
  return types_of(by_type_, owner);
}

void EventBus::clear() {
  std::unique_lock lock(mutex_);
  by_type_.clear();
  hooks_by_type_.clear();
  supervision_.clear();
  routers_.clear();
}

namespace {

// Asks each rule in order; copies them under the lock first so a rule runs without it.
template <class Answer, class Rule, class Facts>
std::optional<EventBus::Decision<Answer>> first_answer(
    std::shared_mutex& mutex,
    const std::vector<std::pair<std::string, std::shared_ptr<const Rule>>>& registered,
    const Facts& facts, const char* what) {
  std::vector<std::pair<std::string, std::shared_ptr<const Rule>>> rules;
  {
    std::shared_lock lock(mutex);
    rules = registered;
  }
  for (const auto& [owner, rule] : rules) {
    std::optional<Answer> answer;
    try {
      answer = (*rule)(facts);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(what) + " of plugin " + owner + " failed: " + e.what());
    } catch (...) {
      throw std::runtime_error(std::string(what) + " of plugin " + owner + " failed");
    }
    if (answer) return EventBus::Decision<Answer>{std::move(*answer), owner};
  }
  return std::nullopt;
}

}  // namespace

void EventBus::add_supervision_rule(sdk::SupervisionRule rule, const std::string& owner) {
  std::unique_lock lock(mutex_);
  supervision_.emplace_back(owner, std::make_shared<const sdk::SupervisionRule>(std::move(rule)));
}

std::optional<EventBus::Decision<sdk::Supervision>> EventBus::supervise(
    const sdk::SupervisionFacts& facts) const {
  return first_answer<sdk::Supervision>(mutex_, supervision_, facts, "the supervision rule");
}

void EventBus::suspend_supervision(std::string reason) {
  std::unique_lock lock(mutex_);
  supervision_suspended_ = std::move(reason);
}

std::optional<std::string> EventBus::supervision_suspended() const {
  std::shared_lock lock(mutex_);
  return supervision_suspended_;
}

bool EventBus::has_supervision_rules() const {
  std::shared_lock lock(mutex_);
  return !supervision_.empty();
}

void EventBus::add_referral_router(sdk::ReferralRouter router, const std::string& owner) {
  std::unique_lock lock(mutex_);
  routers_.emplace_back(owner, std::make_shared<const sdk::ReferralRouter>(std::move(router)));
}

std::optional<EventBus::Decision<std::string>> EventBus::route_referral(
    const sdk::ReferralFacts& facts) const {
  return first_answer<std::string>(mutex_, routers_, facts, "the referral router");
}

}  // namespace kim::events
