#include "events/event_bus.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>

namespace kim::events {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string unique_logger_name() {
  static std::atomic<int> counter{0};
  return "event_bus_test_" + std::to_string(counter++);
}

std::shared_ptr<spdlog::logger> null_logger() {
  return spdlog::null_logger_mt(unique_logger_name());
}

sdk::Event event(std::string type, nlohmann::json payload = nlohmann::json::object()) {
  sdk::Event e;
  e.type = std::move(type);
  e.payload = std::move(payload);
  e.source = "host";
  return e;
}

// Handlers append here; all calls happen on the publishing thread.
struct Record {
  std::vector<std::string> calls;
  sdk::EventHandler note(std::string tag) {
    return
        [this, tag = std::move(tag)](const sdk::Event& e) { calls.push_back(tag + ":" + e.type); };
  }
};

TEST(EventBusTest, DeliversInSubscriptionOrderToTheRightTypeOnly) {
  EventBus bus(null_logger());
  Record record;
  bus.subscribe("case.opened", record.note("first"), "host");
  bus.subscribe("case.closed", record.note("closer"), "host");
  bus.subscribe("case.opened", record.note("second"), "hello");
  bus.subscribe("case.opened", record.note("third"), "host");

  EXPECT_EQ(bus.publish(event("case.opened")), 3);
  EXPECT_THAT(record.calls,
              ElementsAre("first:case.opened", "second:case.opened", "third:case.opened"));

  record.calls.clear();
  EXPECT_EQ(bus.publish(event("case.closed")), 1);
  EXPECT_THAT(record.calls, ElementsAre("closer:case.closed"));

  record.calls.clear();
  EXPECT_EQ(bus.publish(event("case")), 0);  // no prefix or wildcard matching
  EXPECT_EQ(bus.publish(event("case.opened.extra")), 0);
  EXPECT_EQ(bus.publish(event("nobody.listens")), 0);
  EXPECT_THAT(record.calls, IsEmpty());
}

TEST(EventBusTest, HandlerSeesTheEventAsPublished) {
  EventBus bus(null_logger());
  sdk::Event seen;
  bus.subscribe(
      "hello.greeted", [&](const sdk::Event& e) { seen = e; }, "host");
  sdk::Event sent = event("hello.greeted", {{"case_id", 7}});
  sent.source = "hello";
  ASSERT_EQ(bus.publish(sent), 1);
  EXPECT_EQ(seen.type, "hello.greeted");
  EXPECT_EQ(seen.payload, (nlohmann::json{{"case_id", 7}}));
  EXPECT_EQ(seen.source, "hello");
  EXPECT_EQ(seen.occurred_at, sent.occurred_at);
}

TEST(EventBusTest, ThrowingSubscriberDoesNotStopTheOthers) {
  std::ostringstream log;
  auto logger = std::make_shared<spdlog::logger>(
      unique_logger_name(), std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  EventBus bus(logger);
  Record record;
  bus.subscribe("case.opened", record.note("a"), "host");
  bus.subscribe(
      "case.opened", [](const sdk::Event&) { throw std::runtime_error("boom"); }, "faulty");
  bus.subscribe("case.opened", record.note("b"), "host");
  bus.subscribe(
      "case.opened", [](const sdk::Event&) { throw 42; }, "odd");
  bus.subscribe("case.opened", record.note("c"), "host");

  EXPECT_EQ(bus.publish(event("case.opened")), 3);
  EXPECT_THAT(record.calls, ElementsAre("a:case.opened", "b:case.opened", "c:case.opened"));
  logger->flush();
  EXPECT_THAT(log.str(), HasSubstr("faulty"));
  EXPECT_THAT(log.str(), HasSubstr("boom"));
  EXPECT_THAT(log.str(), HasSubstr("odd"));
}

TEST(EventBusTest, OnlyThrowingSubscribersGiveZero) {
  EventBus bus(null_logger());
  bus.subscribe(
      "x.y", [](const sdk::Event&) { throw std::logic_error("no"); }, "a");
  bus.subscribe(
      "x.y", [](const sdk::Event&) { throw std::logic_error("no"); }, "b");
  EXPECT_EQ(bus.publish(event("x.y")), 0);
}

TEST(EventBusTest, SubscriptionsOfOwner) {
  EventBus bus(null_logger());
  bus.subscribe(
      "host.started", [](const sdk::Event&) {}, "hello");
  bus.subscribe(
      "host.started", [](const sdk::Event&) {}, "hello");  // twice: listed once
  bus.subscribe(
      "hello.greeted", [](const sdk::Event&) {}, "hello");
  bus.subscribe(
      "host.stopping", [](const sdk::Event&) {}, "host");
  bus.subscribe(
      "host.started", [](const sdk::Event&) {}, "host");

  EXPECT_THAT(bus.subscriptions_of("hello"), ElementsAre("hello.greeted", "host.started"));
  EXPECT_THAT(bus.subscriptions_of("host"), ElementsAre("host.started", "host.stopping"));
  EXPECT_THAT(bus.subscriptions_of("nobody"), IsEmpty());
}

TEST(EventBusTest, ClearDropsEveryHandler) {
  EventBus bus(null_logger());
  Record record;
  bus.subscribe("a.b", record.note("old"), "hello");
  bus.subscribe("c.d", record.note("old"), "host");
  bus.clear();
  EXPECT_EQ(bus.publish(event("a.b")), 0);
  EXPECT_EQ(bus.publish(event("c.d")), 0);
  EXPECT_THAT(bus.subscriptions_of("hello"), IsEmpty());
  EXPECT_THAT(record.calls, IsEmpty());

  bus.subscribe("a.b", record.note("new"), "hello");  // usable again
  EXPECT_EQ(bus.publish(event("a.b")), 1);
  EXPECT_THAT(record.calls, ElementsAre("new:a.b"));
}

// Runs fn on its own thread and reports whether it finished within the timeout, so a deadlock
// fails the test instead of hanging it. Everything fn touches must be owned by `state`.
template <class State, class F>
bool finishes_within(std::shared_ptr<State> state, F fn, std::chrono::seconds timeout) {
  struct Done {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
  };
  auto done = std::make_shared<Done>();
  std::thread thread([state, done, fn] {
    fn(*state);
    std::lock_guard lock(done->mutex);
    done->done = true;
    done->cv.notify_all();
  });
  bool finished = false;
  {
    std::unique_lock lock(done->mutex);
    finished = done->cv.wait_for(lock, timeout, [&] { return done->done; });
  }
  if (finished) {
    thread.join();
  } else {
    thread.detach();  // stuck for good; it owns what it uses, the test fails
  }
  return finished;
}

struct Nested {
  explicit Nested(std::shared_ptr<spdlog::logger> logger) : bus(std::move(logger)) {}
  EventBus bus;
  std::vector<std::string> calls;
  int outer_result = -1;
  int inner_result = -1;
};

TEST(EventBusTest, HandlerMayPublishAnotherEvent) {
  auto state = std::make_shared<Nested>(null_logger());
  Nested* s = state.get();  // handlers live in the bus inside *state
  s->bus.subscribe(
      "case.closed",
      [s](const sdk::Event& e) {
        s->calls.push_back("closed");
        s->inner_result = s->bus.publish(event("case.archived", e.payload));
        s->calls.push_back("after inner publish");
      },
      "host");
  s->bus.subscribe(
      "case.archived", [s](const sdk::Event&) { s->calls.push_back("archived"); }, "hello");

  ASSERT_TRUE(finishes_within(
      state, [](Nested& n) { n.outer_result = n.bus.publish(event("case.closed")); }, 5s))
      << "publishing from inside a handler deadlocked";
  EXPECT_EQ(s->outer_result, 1);
  EXPECT_EQ(s->inner_result, 1);
  EXPECT_THAT(s->calls, ElementsAre("closed", "archived", "after inner publish"));
}

TEST(EventBusTest, HandlerMaySubscribeAndTheNewHandlerSeesOnlyLaterEvents) {
  auto state = std::make_shared<Nested>(null_logger());
  Nested* s = state.get();
  s->bus.subscribe(
      "host.started",
      [s](const sdk::Event&) {
        s->calls.push_back("starter");
        s->bus.subscribe(
            "host.started", [s](const sdk::Event&) { s->calls.push_back("late"); }, "hello");
      },
      "host");

  ASSERT_TRUE(finishes_within(
      state, [](Nested& n) { n.outer_result = n.bus.publish(event("host.started")); }, 5s))
      << "subscribing from inside a handler deadlocked";
  EXPECT_EQ(s->outer_result, 1);
  EXPECT_THAT(s->calls, ElementsAre("starter"));
}

TEST(EventBusTest, ConcurrentPublishersReachEverySubscriber) {
  EventBus bus(null_logger());
  std::atomic<int> received{0};
  bus.subscribe(
      "tick", [&](const sdk::Event&) { ++received; }, "host");
  bus.subscribe(
      "tick", [&](const sdk::Event&) { ++received; }, "hello");
  constexpr int kThreads = 4;
  constexpr int kEvents = 500;
  std::atomic<int> delivered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEvents; ++i)
        delivered += bus.publish(event("tick"));
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(delivered.load(), 2 * kThreads * kEvents);
  EXPECT_EQ(received.load(), 2 * kThreads * kEvents);
}

// ---- hooks (asked before a change commits) ------------------------------------------------------

TEST(EventBusHooks, NoHookAllows) {
  EventBus bus(null_logger());
  bus.subscribe(
      "case.closing", [](const sdk::Event&) {}, "host");  // subscribers are not hooks
  const sdk::HookResult result = bus.run_hooks(event("case.closing"));
  EXPECT_TRUE(result.allowed);
  EXPECT_EQ(result.reason, "");
}

TEST(EventBusHooks, AllAllowingHooksRunInOrder) {
  EventBus bus(null_logger());
  std::vector<std::string> calls;
  for (const char* owner : {"a", "b", "c"}) {
    bus.add_hook(
        "case.closing",
        [&calls, owner](const sdk::Event&) {
          calls.push_back(owner);
          return sdk::HookResult::allow();
        },
        owner);
  }
  EXPECT_TRUE(bus.run_hooks(event("case.closing")).allowed);
  EXPECT_THAT(calls, ElementsAre("a", "b", "c"));
  EXPECT_TRUE(bus.run_hooks(event("case.opened")).allowed);  // other type: none asked
  EXPECT_EQ(calls.size(), 3u);
}

TEST(EventBusHooks, FirstVetoWinsWithOwnerPrefixAndStopsTheRest) {
  EventBus bus(null_logger());
  std::vector<std::string> calls;
  bus.add_hook(
      "case.closing",
      [&](const sdk::Event&) {
        calls.push_back("first");
        return sdk::HookResult::allow();
      },
      "host");
  bus.add_hook(
      "case.closing",
      [&](const sdk::Event&) {
        calls.push_back("rheine");
        return sdk::HookResult::veto("open goals remain");
      },
      "rheine");
  bus.add_hook(
      "case.closing",
      [&](const sdk::Event&) {
        calls.push_back("later");
        return sdk::HookResult::veto("never asked");
      },
      "later");
  const sdk::HookResult result = bus.run_hooks(event("case.closing"));
  EXPECT_FALSE(result.allowed);
  EXPECT_EQ(result.reason, "rheine: open goals remain");
  EXPECT_THAT(calls, ElementsAre("first", "rheine"));
}

TEST(EventBusHooks, ThrowingHookVetoes) {
  EventBus bus(null_logger());
  bus.add_hook(
      "case.closing", [](const sdk::Event&) -> sdk::HookResult { throw std::runtime_error("db"); },
      "faulty");
  sdk::HookResult result = bus.run_hooks(event("case.closing"));
  EXPECT_FALSE(result.allowed);
  EXPECT_THAT(result.reason, ::testing::StartsWith("faulty: "));

  EventBus odd_bus(null_logger());
  odd_bus.add_hook(
      "case.closing", [](const sdk::Event&) -> sdk::HookResult { throw 42; }, "odd");
  result = odd_bus.run_hooks(event("case.closing"));
  EXPECT_FALSE(result.allowed);
  EXPECT_THAT(result.reason, ::testing::StartsWith("odd: "));
}

TEST(EventBusHooks, HooksOfOwnerAndClear) {
  EventBus bus(null_logger());
  auto allow = [](const sdk::Event&) { return sdk::HookResult::allow(); };
  bus.add_hook("case.closing", allow, "rheine");
  bus.add_hook("case.closing", allow, "rheine");
  bus.add_hook("goal.created", allow, "rheine");
  bus.add_hook("case.closing", allow, "host");
  bus.subscribe(
      "case.closed", [](const sdk::Event&) {}, "rheine");
  EXPECT_THAT(bus.hooks_of("rheine"), ElementsAre("case.closing", "goal.created"));
  EXPECT_THAT(bus.hooks_of("host"), ElementsAre("case.closing"));
  EXPECT_THAT(bus.hooks_of("nobody"), IsEmpty());
  EXPECT_THAT(bus.subscriptions_of("rheine"), ElementsAre("case.closed"));  // kept apart

  bus.add_hook(
      "case.closing", [](const sdk::Event&) { return sdk::HookResult::veto("no"); }, "strict");
  EXPECT_FALSE(bus.run_hooks(event("case.closing")).allowed);
  bus.clear();
  EXPECT_THAT(bus.hooks_of("rheine"), IsEmpty());
  EXPECT_TRUE(bus.run_hooks(event("case.closing")).allowed);
}

}  // namespace
}  // namespace kim::events
