#include "outbox/dispatcher.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include <boost/asio/post.hpp>

#include "domain/env.hpp"
#include "domain/service_support.hpp"

namespace kim::outbox {

using nlohmann::json;
using store::SqlValue;
using Clock = std::chrono::system_clock;

namespace {

std::int64_t unix_ms(Clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

// Due for its instance: pending, its time has come, and nothing earlier for the same partner and
// case is still pending or in flight (per-case order; other cases are not held back).
const char* const kDueMessages =
    "SELECT o.* FROM outbox o WHERE o.connector = ? AND o.state = 'pending' AND "
    "o.next_attempt_ms <= ? AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.partner = o.partner "
    "AND e.case_id = o.case_id AND e.seq < o.seq AND e.state IN ('pending', 'in_flight')) ";
// A half-open circuit's one trial goes to the message tried least: a message that keeps failing
// must not be the probe every time while fresh messages of other cases wait behind it.
const char* const kInOrder = "ORDER BY o.seq LIMIT ?";
const char* const kTrialOrder = "ORDER BY o.attempts, o.seq LIMIT ?";

constexpr std::size_t kErrorMax = 500;

std::string clip(std::string text) {
  if (text.size() > kErrorMax) text.resize(kErrorMax);
  return text;
}

}  // namespace

std::chrono::milliseconds backoff(const config::RetryPolicy& policy, int attempts) {
  const double base = static_cast<double>(policy.initial_delay.count()) *
                      std::pow(policy.multiplier, std::max(0, attempts - 1));
  const double capped = std::min(base, static_cast<double>(policy.max_delay.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(capped));
}

// What became of one message in a turn.
struct Dispatcher::Outcome {
  std::string id;
  std::string case_id;
  std::string partner;
  std::string type;
  int attempt = 0;     // 0: not called (back to pending as it was)
  std::string result;  // delivered | retry | failed
  std::string error;
  bool dead = false;
  std::int64_t next_attempt_ms = 0;
};

Dispatcher::Dispatcher(store::Store& store, events::EventBus& events,
                       connectors::Instances& instances, config::OutboxConfig config,
                       std::shared_ptr<spdlog::logger> logger)
    : store_(store),
      events_(events),
      instances_(instances),
      config_(config),
      logger_(std::move(logger)) {
  for (const auto& [name, instance] : instances_.all())
    lanes_[name];
}

Dispatcher::~Dispatcher() {
  stop();
}

void Dispatcher::start() {
  auto reset = store_.write([](store::Connection& db) {
    return db.execute("UPDATE outbox SET state = 'pending' WHERE state = 'in_flight'").changes;
  });
  if (reset > 0) {
    logger_->info("outbox: {} message(s) in flight at the last stop go out again", reset);
  }
  pool_ = std::make_unique<boost::asio::thread_pool>(config_.worker_threads);
  started_ = true;
  loop_ = std::thread([this] { run(); });
}

void Dispatcher::stop() {
  if (!started_) return;
  started_ = false;
  stopping_ = true;
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  pool_->join();
}

void Dispatcher::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_all();
}

InstanceStatus Dispatcher::status(const std::string& instance) const {
  std::lock_guard lock(mutex_);
  InstanceStatus status;
  auto it = lanes_.find(instance);
  if (it == lanes_.end()) return status;
  status.consecutive_failures = it->second.failures;
  if (it->second.open_until) {
    status.breaker = Clock::now() < *it->second.open_until ? "open" : "half_open";
    status.open_until = domain::Env::format_timestamp(*it->second.open_until);
  }
  return status;
}

void Dispatcher::run() {
  while (!stopping_) {
    try {
      turn();
    } catch (const std::exception& e) {
      logger_->error("outbox: dispatcher turn failed: {}", e.what());
    }
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, config_.poll, [this] { return woken_ || stopping_; });
    woken_ = false;
  }
}

bool Dispatcher::may_call(const std::string& instance, bool& trial) {
  std::lock_guard lock(mutex_);
  auto& lane = lanes_[instance];
  trial = false;
  if (!lane.open_until) return true;
  if (Clock::now() < *lane.open_until) return false;
  trial = true;  // half open: this one call decides
  return true;
}

void Dispatcher::record_call(const std::string& instance, bool failure, bool trial) {
  const auto* found = instances_.find(instance);
  std::lock_guard lock(mutex_);
  auto& lane = lanes_[instance];
  if (!failure) {
    if (lane.open_until) logger_->info("outbox: circuit of {} closed again", instance);
    lane.failures = 0;
    lane.open_until.reset();
    return;
  }
  ++lane.failures;
  const auto& policy = found->config.breaker;
  if (trial || lane.failures >= policy.failure_threshold) {
    if (!lane.open_until || trial) {
      logger_->warn("outbox: circuit of {} open for {} s after {} failure(s)", instance,
                    policy.open_for.count(), lane.failures);
    }
    lane.open_until = Clock::now() + policy.open_for;
  }
}

void Dispatcher::turn() {
  const auto now = unix_ms(Clock::now());
  // Instances free to take a turn, and how many messages each may take.
  std::vector<std::pair<std::string, bool>> free;  // instance, half open
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, lane] : lanes_) {
      if (lane.busy) continue;
      if (lane.open_until && Clock::now() < *lane.open_until) continue;
      free.emplace_back(name, lane.open_until.has_value());
    }
  }
  if (free.empty()) return;
  auto due = store_.read([&](store::Connection& db) {
    std::vector<std::pair<std::string, json>> found;
    for (const auto& [name, trial] : free) {
      auto rows = db.query(std::string(kDueMessages) + (trial ? kTrialOrder : kInOrder),
                           {name, now, static_cast<std::int64_t>(trial ? 1 : config_.batch)});
      if (!rows.empty()) found.emplace_back(name, std::move(rows));
    }
    return found;
  });
  for (auto& [name, rows] : due) {
    // Taken durably before any call: a crash from here on sends them again after the restart.
    auto taken = store_.write([&rows](store::Connection& db) {
      std::vector<json> mine;
      for (const auto& row : rows) {
        if (db.execute("UPDATE outbox SET state = 'in_flight' WHERE id = ? AND state = 'pending'",
                       {row["id"].get<std::string>()})
                .changes == 1) {
          mine.push_back(row);
        }
      }
      return mine;
    });
    if (taken.empty()) continue;
    {
      std::lock_guard lock(mutex_);
      lanes_[name].busy = true;
    }
    boost::asio::post(*pool_, [this, name = name, taken = std::move(taken)]() mutable {
      try {
        deliver_turn(name, taken);
      } catch (const std::exception& e) {
        logger_->error("outbox: a turn of {} failed: {}", name, e.what());
        release(taken);
      }
      {
        std::lock_guard lock(mutex_);
        lanes_[name].busy = false;
      }
      wake();
    });
  }
}

void Dispatcher::release(const std::vector<json>& rows) {
  // Without its results stored, a turn's messages go out again (same keys), not stay in flight.
  try {
    store_.write([&rows](store::Connection& db) {
      for (const auto& row : rows) {
        db.execute("UPDATE outbox SET state = 'pending' WHERE id = ? AND state = 'in_flight'",
                   {row["id"].get<std::string>()});
      }
    });
  } catch (const std::exception& e) {
    logger_->error("outbox: messages stay in flight until the next start: {}", e.what());
  }
}

void Dispatcher::deliver_turn(const std::string& instance, const std::vector<json>& rows) {
  auto* target = instances_.find(instance);
  const auto& policy = target->config.retry;
  static thread_local std::mt19937_64 random{std::random_device{}()};
  std::vector<Outcome> outcomes;
  for (const auto& row : rows) {
    Outcome outcome;
    outcome.id = row["id"];
    outcome.case_id = row["case_id"];
    outcome.partner = row["partner"];
    outcome.type = row["type"];
    bool trial = false;
    if (stopping_ || !may_call(instance, trial)) {
      outcomes.push_back(outcome);  // not called: pending again, attempts unchanged
      continue;
    }
    const auto created_ms = row["created_ms"].get<std::int64_t>();
    outcome.attempt = row["attempts"].get<int>() + 1;
    const auto started = Clock::now();
    const bool too_old =
        policy.max_age.count() > 0 &&
        unix_ms(started) - created_ms >=
            std::chrono::duration_cast<std::chrono::milliseconds>(policy.max_age).count();
    sdk::DeliveryResult result;
    if (too_old) {
      outcome.attempt = 0;  // no call was made
      outcome.dead = true;
      outcome.error = "not delivered within retry.max_age_hours";
      outcomes.push_back(outcome);
      continue;
    }
    sdk::OutboundMessage message{
        row["id"],         row["idempotency_key"], row["partner"],
        row["type"],       row["case_id"],         row["subject_id"],
        row["created_at"], outcome.attempt,        json::parse(row["payload"].get<std::string>())};
    try {
      result = target->connector->deliver(message);
    } catch (const std::exception& e) {
      result = sdk::DeliveryResult::retry(std::string("the connector failed: ") + e.what());
    }
    const auto finished = Clock::now();
    outcome.error = clip(result.detail);
    switch (result.status) {
      case sdk::DeliveryResult::Status::kDelivered:
        outcome.result = "delivered";
        outcome.error.clear();
        record_call(instance, false, trial);
        break;
      case sdk::DeliveryResult::Status::kFailed:
        outcome.result = "failed";
        outcome.dead = true;
        // The partner answered: a refusal for good says nothing about its availability.
        record_call(instance, false, trial);
        break;
      case sdk::DeliveryResult::Status::kRetry: {
        outcome.result = "retry";
        record_call(instance, true, trial);
        auto wait = backoff(policy, outcome.attempt).count();
        if (policy.full_jitter && wait > 0) {
          wait = std::uniform_int_distribution<std::int64_t>(0, wait)(random);
        }
        wait = std::max<std::int64_t>(wait, std::int64_t{result.retry_after_seconds} * 1000);
        outcome.next_attempt_ms = unix_ms(finished) + wait;
        const bool out_of_attempts =
            policy.max_attempts > 0 && outcome.attempt >= policy.max_attempts;
        const bool out_of_age =
            policy.max_age.count() > 0 &&
            outcome.next_attempt_ms - created_ms >=
                std::chrono::duration_cast<std::chrono::milliseconds>(policy.max_age).count();
        outcome.dead = out_of_attempts || out_of_age;
        break;
      }
    }
    outcomes.push_back(outcome);
  }

  const std::string at = domain::Env::format_timestamp(Clock::now());
  store_.write([&](store::Connection& db) {
    for (const auto& o : outcomes) {
      if (o.attempt > 0) {
        // Numbered over the message's whole life: an operator's re-run continues the record.
        db.execute(
            "INSERT INTO outbox_attempts(message_id, attempt, at, result, error) SELECT ?, "
            "coalesce(max(attempt), 0) + 1, ?, ?, ? FROM outbox_attempts WHERE message_id = ?",
            {o.id, at, o.result, o.error.empty() ? SqlValue(nullptr) : SqlValue(o.error), o.id});
      }
      const SqlValue error = o.error.empty() ? SqlValue(nullptr) : SqlValue(o.error);
      if (o.result == "delivered") {
        db.execute(
            "UPDATE outbox SET state = 'delivered', attempts = ?, delivered_at = ? WHERE id = ?",
            {o.attempt, at, o.id});
      } else if (o.dead) {
        db.execute(
            "UPDATE outbox SET state = 'dead', attempts = attempts + ?, last_error = ?, "
            "dead_at = ? WHERE id = ?",
            {o.attempt > 0 ? 1 : 0, error, at, o.id});
      } else if (o.attempt > 0) {
        db.execute(
            "UPDATE outbox SET state = 'pending', attempts = ?, next_attempt_ms = ?, "
            "last_error = ? WHERE id = ?",
            {o.attempt, o.next_attempt_ms, error, o.id});
      } else {
        db.execute("UPDATE outbox SET state = 'pending' WHERE id = ?", {o.id});
      }
    }
  });
  for (const auto& o : outcomes) {
    if (!o.dead) continue;
    logger_->warn("outbox: message {} to {} is a dead letter: {}", o.id, o.partner, o.error);
    // Ids only: an operator plugin may forward it as an alert.
    events_.publish(domain::make_event("connector.dead_lettered", {{"message_id", o.id},
                                                                   {"connector", instance},
                                                                   {"partner", o.partner},
                                                                   {"type", o.type},
                                                                   {"case_id", o.case_id},
                                                                   {"error", o.error}}));
  }
}

}  // namespace kim::outbox
