#include "jobs/scheduler.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

namespace kim::jobs {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Generous: only reached when something is broken.
constexpr auto kTimeout = 5s;

std::shared_ptr<spdlog::logger> test_logger() {
  static std::atomic<int> counter{0};
  return spdlog::null_logger_mt("scheduler_test_" + std::to_string(counter++));
}

// Counts job runs; tests wait on it with a bounded timeout instead of sleeping.
class Probe {
 public:
  void hit() {
    std::lock_guard lock(mutex_);
    ++hits_;
    changed_.notify_all();
  }
  // True once at least n hits happened within the timeout.
  bool wait_for(int n, std::chrono::milliseconds timeout = kTimeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return hits_ >= n; });
  }
  int hits() const {
    std::lock_guard lock(mutex_);
    return hits_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int hits_ = 0;
};

// A gate a job waits at until the test opens it (bounded, so a broken test cannot hang).
class Gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  bool wait() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kTimeout, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
};

JobStatus status_of(const Scheduler& scheduler, const std::string& name) {
  for (const auto& status : scheduler.jobs()) {
    if (status.name == name) return status;
  }
  ADD_FAILURE() << "no job " << name;
  return {};
}

// For state without a notification (the scheduler's own status): polls, yielding, until pred
// holds or the timeout passed.
template <class Pred>
bool poll_until(Pred pred, std::chrono::milliseconds timeout = kTimeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(SchedulerTest, JobRunsRepeatedlyAtItsInterval) {
  Probe probe;
  Scheduler scheduler(test_logger());
  scheduler.add("test", "tick", 20ms, [&] { probe.hit(); });
  scheduler.start();
  EXPECT_TRUE(probe.wait_for(3)) << "ran " << probe.hits() << " times";
  scheduler.stop();

  const JobStatus status = status_of(scheduler, "test.tick");
  EXPECT_EQ(status.owner, "test");
  EXPECT_EQ(status.interval, 20ms);
  EXPECT_GE(status.runs, 3u);
  EXPECT_EQ(status.runs, static_cast<std::uint64_t>(probe.hits()));  // stop() waited for the last
  EXPECT_EQ(status.failures, 0u);
  EXPECT_TRUE(status.last_error.empty());
  EXPECT_TRUE(status.last_run.has_value());
}

TEST(SchedulerTest, NothingRunsBeforeStart) {
  Probe probe;
  Scheduler scheduler(test_logger());
  scheduler.add("test", "tick", 10ms, [&] { probe.hit(); });
  EXPECT_FALSE(probe.wait_for(1, 100ms));
  const JobStatus status = status_of(scheduler, "test.tick");
  EXPECT_EQ(status.runs, 0u);
  EXPECT_FALSE(status.last_run.has_value());
}

TEST(SchedulerTest, ThrowingJobIsCountedAndKeepsRunning) {
  Probe probe;
  Scheduler scheduler(test_logger());
  scheduler.add("test", "broken", 20ms, [&] {
    probe.hit();
    throw std::runtime_error("boom");
  });
  scheduler.start();
  EXPECT_TRUE(probe.wait_for(3)) << "ran " << probe.hits() << " times";
  scheduler.stop();

  const JobStatus status = status_of(scheduler, "test.broken");
  EXPECT_GE(status.runs, 3u);
  EXPECT_EQ(status.failures, status.runs);
  EXPECT_EQ(status.last_error, "boom");
}

TEST(SchedulerTest, NonStandardExceptionIsCounted) {
  Probe probe;
  Scheduler scheduler(test_logger());
  scheduler.add("test", "odd", 10ms, [&] {
    probe.hit();
    throw 42;
  });
  scheduler.start();
  EXPECT_TRUE(probe.wait_for(2));
  scheduler.stop();
  const JobStatus status = status_of(scheduler, "test.odd");
  EXPECT_GE(status.failures, 2u);
  EXPECT_FALSE(status.last_error.empty());
}

TEST(SchedulerTest, SuccessfulRunClearsLastError) {
  Probe probe;
  std::atomic<bool> fail_next{true};
  Scheduler scheduler(test_logger());
  scheduler.add("test", "flaky", 10ms, [&] {
    probe.hit();
    if (fail_next.exchange(false)) throw std::runtime_error("first run fails");
  });
  scheduler.start();
  EXPECT_TRUE(probe.wait_for(2));
  scheduler.stop();
  const JobStatus status = status_of(scheduler, "test.flaky");
  EXPECT_EQ(status.failures, 1u);
  EXPECT_GE(status.runs, 2u);
  EXPECT_TRUE(status.last_error.empty()) << status.last_error;
}

TEST(SchedulerTest, TriggerRunsALongIntervalJobPromptly) {
  Probe probe;
  Scheduler scheduler(test_logger());
  scheduler.add("test", "hourly", 1h, [&] { probe.hit(); });
  scheduler.start();
  EXPECT_TRUE(scheduler.trigger("test.hourly"));
  EXPECT_TRUE(probe.wait_for(1));
  // Once the run is recorded, a second trigger runs it again (a trigger that arrives during a
  // run is covered by TriggerDuringRunIsNotLost).
  EXPECT_TRUE(poll_until([&] { return status_of(scheduler, "test.hourly").runs == 1; }));
  EXPECT_TRUE(scheduler.trigger("test.hourly"));
  EXPECT_TRUE(probe.wait_for(2));
  scheduler.stop();
  EXPECT_EQ(status_of(scheduler, "test.hourly").runs, 2u);
}

TEST(SchedulerTest, TriggerBeforeStartRunsOnStart) {
  Probe probe;
  Scheduler scheduler(test_logger());
  scheduler.add("test", "hourly", 1h, [&] { probe.hit(); });
  EXPECT_TRUE(scheduler.trigger("test.hourly"));
  scheduler.start();
  EXPECT_TRUE(probe.wait_for(1));
}

TEST(SchedulerTest, TriggerOfUnknownJobReturnsFalse) {
  Scheduler scheduler(test_logger());
  scheduler.add("test", "hourly", 1h, [] {});
  EXPECT_FALSE(scheduler.trigger("test.other"));
  EXPECT_FALSE(scheduler.trigger("hourly"));  // the full name is "<owner>.<name>"
  EXPECT_FALSE(scheduler.trigger(""));
  EXPECT_TRUE(scheduler.trigger("test.hourly"));
}

// Regression: a trigger() that arrived while the job was running set `due` to now, but after the
// run the loop overwrote `due` with now + interval, so the trigger was lost although trigger()
// returned true ("runs the job as soon as possible").
TEST(SchedulerTest, TriggerDuringRunIsNotLost) {
  Probe started;
  Gate gate;
  std::atomic<int> calls{0};
  Scheduler scheduler(test_logger());
  scheduler.add("test", "hourly", 1h, [&] {
    started.hit();
    if (calls++ == 0) gate.wait();  // hold the first run until the test triggered again
  });
  scheduler.start();
  ASSERT_TRUE(scheduler.trigger("test.hourly"));
  ASSERT_TRUE(started.wait_for(1));
  EXPECT_TRUE(scheduler.trigger("test.hourly"));  // while the first run is still going
  gate.open();
  EXPECT_TRUE(started.wait_for(2, 3s)) << "the trigger during the run was dropped";
  scheduler.stop();
}

TEST(SchedulerTest, DuplicateNameIsRefused) {
  Scheduler scheduler(test_logger());
  scheduler.add("hello", "sweep", 1h, [] {});
  EXPECT_THROW(scheduler.add("hello", "sweep", 2h, [] {}), std::invalid_argument);
  scheduler.add("other", "sweep", 1h, [] {});  // another owner: another full name
  EXPECT_TRUE(scheduler.contains("hello", "sweep"));
  EXPECT_TRUE(scheduler.contains("other", "sweep"));
  EXPECT_FALSE(scheduler.contains("hello", "other"));
  EXPECT_EQ(scheduler.jobs().size(), 2u);
  EXPECT_EQ(status_of(scheduler, "hello.sweep").interval, 1h);  // the first one stays
}

TEST(SchedulerTest, IntervalBelowTenMillisecondsIsRefused) {
  Scheduler scheduler(test_logger());
  EXPECT_THROW(scheduler.add("test", "busy", 9ms, [] {}), std::invalid_argument);
  EXPECT_THROW(scheduler.add("test", "zero", 0ms, [] {}), std::invalid_argument);
  EXPECT_THROW(scheduler.add("test", "negative", -5ms, [] {}), std::invalid_argument);
  EXPECT_THAT(scheduler.jobs(), IsEmpty());
  scheduler.add("test", "fastest", 10ms, [] {});
  EXPECT_EQ(scheduler.jobs().size(), 1u);
}

TEST(SchedulerTest, NamesOfOwner) {
  Scheduler scheduler(test_logger());
  scheduler.add("hello", "b", 1h, [] {});
  scheduler.add("hello", "a", 1h, [] {});
  scheduler.add("host", "vacuum", 1h, [] {});
  EXPECT_THAT(scheduler.names_of("hello"), ElementsAre("hello.a", "hello.b"));
  EXPECT_THAT(scheduler.names_of("host"), ElementsAre("host.vacuum"));
  EXPECT_THAT(scheduler.names_of("nobody"), IsEmpty());
}

TEST(SchedulerTest, NothingRunsAfterStop) {
  Probe probe;
  Scheduler scheduler(test_logger());
  scheduler.add("test", "tick", 10ms, [&] { probe.hit(); });
  scheduler.start();
  ASSERT_TRUE(probe.wait_for(2));
  scheduler.stop();
  const int after_stop = probe.hits();
  EXPECT_EQ(status_of(scheduler, "test.tick").runs, static_cast<std::uint64_t>(after_stop));

  EXPECT_TRUE(scheduler.trigger("test.tick"));  // the job is still registered ...
  // ... but must not run: a 10 ms job would have had many chances within this bounded wait.
  EXPECT_FALSE(probe.wait_for(after_stop + 1, 200ms));
  EXPECT_EQ(probe.hits(), after_stop);
  scheduler.stop();  // idempotent
}

TEST(SchedulerTest, StopWaitsForTheRunningJob) {
  Probe started;
  Gate gate;
  std::atomic<bool> finished{false};
  Scheduler scheduler(test_logger());
  scheduler.add("test", "slow", 1h, [&] {
    started.hit();
    gate.wait();
    finished = true;
  });
  scheduler.start();
  ASSERT_TRUE(scheduler.trigger("test.slow"));
  ASSERT_TRUE(started.wait_for(1));

  auto stopped = std::async(std::launch::async, [&] { scheduler.stop(); });
  EXPECT_EQ(stopped.wait_for(100ms), std::future_status::timeout) << "stop() did not wait";
  gate.open();
  ASSERT_EQ(stopped.wait_for(kTimeout), std::future_status::ready);
  stopped.get();
  EXPECT_TRUE(finished);
  EXPECT_EQ(status_of(scheduler, "test.slow").runs, 1u);
}

TEST(SchedulerTest, ClearDropsEveryJob) {
  Probe probe;
  Scheduler scheduler(test_logger());
  scheduler.add("test", "tick", 10ms, [&] { probe.hit(); });
  scheduler.start();
  ASSERT_TRUE(probe.wait_for(1));
  scheduler.clear();
  EXPECT_THAT(scheduler.jobs(), IsEmpty());
  EXPECT_FALSE(scheduler.trigger("test.tick"));
  EXPECT_FALSE(scheduler.contains("test", "tick"));
  scheduler.add("test", "tick", 10ms, [] {});  // the name is free again
}

TEST(SchedulerTest, StopWithoutStartAndDestructorWhileRunningAreSafe) {
  {
    Scheduler idle(test_logger());
    idle.stop();
  }
  Probe probe;
  {
    Scheduler running(test_logger());
    running.add("test", "tick", 10ms, [&] { probe.hit(); });
    running.start();
    ASSERT_TRUE(probe.wait_for(1));
  }  // the destructor stops the thread before probe goes away
  const int hits = probe.hits();
  EXPECT_FALSE(probe.wait_for(hits + 1, 50ms));
}

}  // namespace
}  // namespace kim::jobs
