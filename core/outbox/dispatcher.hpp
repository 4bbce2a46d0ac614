// Delivers the outbox's messages through the partners' connector instances, off the request path
// and off the writer: one loop thread finds due messages through the read pool and hands each
// instance's turn to a bounded pool of worker threads (an instance is never called by two at
// once); the results of a turn are stored in one small durable write.
//
// Per instance: its retry policy (config::RetryPolicy: attempts or unlimited, exponential backoff
// with full jitter, the partner's Retry-After honoured, maximum age) and circuit breaker
// (config::BreakerPolicy: after N consecutive retryable failures no calls for open_seconds, then
// one trial). A message that runs out of attempts or age, or that the connector refuses for good,
// becomes a dead letter (kept with every attempt) and `connector.dead_lettered` is published.
//
// Order: a message is due only when no earlier message for the same partner and case is pending
// or in flight, so a failing message holds back its own case's later messages and nothing else.
// A dead letter no longer holds them back (an operator re-runs or discards it).
//
// Restart safety: a message is marked in_flight durably before the call and its result stored
// after it; at start every in_flight message goes back to pending and is sent again with the same
// idempotency key (at least once; the partner applies a key once).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>
#include <boost/asio/thread_pool.hpp>

#include "config/host_config.hpp"
#include "connectors/instances.hpp"
#include "events/event_bus.hpp"
#include "outbox/outbox.hpp"
#include "store/store.hpp"

namespace kim::outbox {

// The backoff before attempt `attempts + 1` after `attempts` failed ones (>= 1), without jitter:
// initial_delay * multiplier^(attempts - 1), at most max_delay.
std::chrono::milliseconds backoff(const config::RetryPolicy& policy, int attempts);

class Dispatcher {
 public:
  Dispatcher(store::Store& store, events::EventBus& events, connectors::Instances& instances,
             config::OutboxConfig config, std::shared_ptr<spdlog::logger> logger);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Puts in-flight messages of an earlier run back to pending, then starts the threads.
  void start();
  // Stops looking for messages and waits for the calls in progress (bounded by their timeouts).
  void stop();
  // Looks for due messages now (after a referral was sent or a message re-queued).
  void wake();

  InstanceStatus status(const std::string& instance) const;

 private:
  struct Lane {
    bool busy = false;
    int failures = 0;  // consecutive retryable failures
    std::optional<std::chrono::system_clock::time_point> open_until;
  };
  struct Outcome;

  void run();
  void turn();
  void deliver_turn(const std::string& instance, const std::vector<nlohmann::json>& rows);
  void release(const std::vector<nlohmann::json>& rows);
  // Whether the breaker lets a call through now (closed, or open and past its time: one trial).
  bool may_call(const std::string& instance, bool& trial);
  void record_call(const std::string& instance, bool failure, bool trial);

  store::Store& store_;
  events::EventBus& events_;
  connectors::Instances& instances_;
  config::OutboxConfig config_;
  std::shared_ptr<spdlog::logger> logger_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  std::map<std::string, Lane, std::less<>> lanes_;
  std::unique_ptr<boost::asio::thread_pool> pool_;
  std::thread loop_;
};

}  // namespace kim::outbox
