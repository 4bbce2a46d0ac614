// Delivers domain events to subscribers (host parts and plugins) after the change committed.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "kim/sdk/events.hpp"
#include "kim/sdk/rules.hpp"

namespace kim::events {

class EventBus {
 public:
  explicit EventBus(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}

  // `owner` is "host" or a plugin id; it appears in listings and in error logs.
  void subscribe(const std::string& type, sdk::EventHandler handler, const std::string& owner);

  // Calls every subscriber of event.type on this thread, in subscription order. A subscriber that
  // throws is logged and skipped. Returns how many subscribers ran without error.
  int publish(const sdk::Event& event) const;

  // Registers a hook asked before changes of `type` commit.
  void add_hook(const std::string& type, sdk::HookHandler hook, const std::string& owner);

  // Asks every hook of event.type in registration order; the first veto wins and its reason is
  // prefixed with the owner ("rheine: ..."). A hook that throws vetoes too (fail closed).
  sdk::HookResult run_hooks(const sdk::Event& event) const;

  // Plugins' decisions for core (kim/sdk/rules.hpp), asked inside the write that needs them.
  // The first rule (router) in registration order that answers wins; the answer names its
  // owner. A rule that throws throws std::runtime_error naming its owner (the change fails).
  template <class Answer>
  struct Decision {
    Answer answer;
    std::string owner;
  };
  void add_supervision_rule(sdk::SupervisionRule rule, const std::string& owner);
  std::optional<Decision<sdk::Supervision>> supervise(const sdk::SupervisionFacts& facts) const;
  // While suspended, no supervision can be decided (cases::decide_supervision answers 503 with
  // `reason`): set at start when an enabled plugin that may hold a rule is not running.
  void suspend_supervision(std::string reason);
  std::optional<std::string> supervision_suspended() const;
  bool has_supervision_rules() const;
  void add_referral_router(sdk::ReferralRouter router, const std::string& owner);
  std::optional<Decision<std::string>> route_referral(const sdk::ReferralFacts& facts) const;

  // Event types the owner subscribed to, for /api/v1/plugins.
  std::vector<std::string> subscriptions_of(const std::string& owner) const;
  std::vector<std::string> hooks_of(const std::string& owner) const;

  // Drops every handler; called before plugin libraries are released.
  void clear();

 private:
  struct Subscription {
    std::string owner;
    std::shared_ptr<const sdk::EventHandler> handler;
  };
  std::shared_ptr<spdlog::logger> logger_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::vector<Subscription>> by_type_;
  struct Hook {
    std::string owner;
    std::shared_ptr<const sdk::HookHandler> handler;
  };
  std::map<std::string, std::vector<Hook>> hooks_by_type_;
  std::vector<std::pair<std::string, std::shared_ptr<const sdk::SupervisionRule>>> supervision_;
  std::vector<std::pair<std::string, std::shared_ptr<const sdk::ReferralRouter>>> routers_;
  std::optional<std::string> supervision_suspended_;
};

}  // namespace kim::events
