// Delivers domain events to subscribers (host parts and plugins) after the change committed.
#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "kim/sdk/events.hpp"

namespace kim::events {

class EventBus {
 public:
  explicit EventBus(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}

  // `owner` is "host" or a plugin id; it appears in listings and in error logs.
  void subscribe(const std::string& type, sdk::EventHandler handler, const std::string& owner);

  // Calls every subscriber of event.type on this thread, in subscription order. A subscriber that
  // throws is logged and skipped. Returns how many subscribers ran without error.
  int publish(const sdk::Event& event) const;

  // "type" -> owners, for /api/v1/plugins.
  std::vector<std::string> subscriptions_of(const std::string& owner) const;

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
};

}  // namespace kim::events
