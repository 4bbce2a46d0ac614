// What every domain service (cases, partners, consent, referrals) shares: the call context, the
// reply, ids, and the two ways to touch the store — a write job whose Problem rolls the job back
// and whose events are published only after commit, and a read whose audit entries are stored
// durably before any personal data leaves the host.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_log.hpp"
#include "domain/problem.hpp"
#include "domain/validation.hpp"
#include "events/event_bus.hpp"
#include "store/store.hpp"

namespace kim::domain {

struct Context {
  audit::Actor actor;
  std::optional<std::int64_t> if_match;  // the case version the caller last saw
};

struct Reply {
  int status = 200;
  nlohmann::json body;
  std::optional<std::int64_t> version;  // the case's version after the operation (ETag)
};

// "<prefix>_<32 hex>", random: ids of social data must not be guessable or countable.
std::string new_id(const char* prefix);

// Ends the current write job with `problem` (its savepoint rolls back) or read with it.
[[noreturn]] void fail(Problem problem);
// Fails with the reader's first problem, if it has one.
void check(const FieldReader& reader);

sdk::Event make_event(const std::string& type, nlohmann::json payload);
// Runs the plugins' hooks inside the write job; a veto fails the job with 422 vetoed.
void run_hooks(events::EventBus& bus, const sdk::Event& event);

// Reads a JSON array stored as text ("[]" when NULL).
nlohmann::json json_column(const nlohmann::json& value);

class Transactions {
 public:
  Transactions(store::Store& store, events::EventBus& events) : store_(store), events_(events) {}

  // `work(Connection&, std::vector<sdk::Event>&) -> Reply` runs in the writer's transaction; the
  // events it collects are published after the commit.
  template <class Work>
  Result<Reply> write(Work&& work) {
    std::vector<sdk::Event> events;
    try {
      Reply reply = store_.write([&](store::Connection& db) {
        events.clear();
        return work(db, events);
      });
      for (const auto& event : events)
        events_.publish(event);  // after commit only
      return reply;
    } catch (const ProblemError& e) {
      return e.problem();
    }
  }

  // `work(Connection&, std::vector<audit::Entry>&) -> Reply` runs on a read connection; the
  // entries it collects are appended durably before the reply is returned (or, under a
  // store::DeferredWrites, before the HTTP reply is sent).
  template <class Work>
  Result<Reply> read(const Context& ctx, Work&& work) {
    std::vector<audit::Entry> entries;
    Reply reply;
    try {
      reply = store_.read([&](store::Connection& db) { return work(db, entries); });
    } catch (const ProblemError& e) {
      return e.problem();
    }
    if (entries.empty()) return reply;
    // Under a store::DeferredWrites (the HTTP layer) the reply, not this thread, waits for it.
    store_.write_deferred([actor = ctx.actor, entries = std::move(entries)](store::Connection& db) {
      audit::append_all(db, actor, entries);
    });
    return reply;
  }

  events::EventBus& events() { return events_; }

 private:
  store::Store& store_;
  events::EventBus& events_;
};

}  // namespace kim::domain
