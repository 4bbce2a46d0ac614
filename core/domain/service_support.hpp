// What every domain service (cases, partners, consent, referrals) shares: the call context, the
// reply, and the two ways to touch the store — a write (a Change: one transaction whose Problem
// rolls it back, whose events are published only after commit and which must leave an audit
// entry) and a read whose audit entries are stored durably before any personal data leaves.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_log.hpp"
#include "domain/env.hpp"
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

// Ends the current write job with `problem` (its savepoint rolls back) or read with it.
[[noreturn]] void fail(Problem problem);
// Fails with the reader's first problem, if it has one.
void check(const FieldReader& reader);

sdk::Event make_event(const std::string& type, nlohmann::json payload);

// Reads a JSON array stored as text ("[]" when NULL).
nlohmann::json json_column(const nlohmann::json& value);

// One write in progress, as the write path hands it to the code that makes the change: the
// writer's connection, the caller, the clock and ids, and what the change reports. Everything a
// change records here is applied by the write path, the same way for every change.
class Change {
 public:
  Change(store::Connection& db, const Context& ctx, Env& env, events::EventBus& bus)
      : db(db), ctx(ctx), env(env), bus_(bus) {}

  store::Connection& db;
  const Context& ctx;
  Env& env;

  // Runs the plugins' hooks now, inside the transaction (a veto fails the change with 422
  // vetoed), and publishes the event after the commit.
  void publish(const std::string& type, nlohmann::json payload);
  // Publishes after the commit without asking the hooks: for consequences that must happen
  // whatever a plugin says (a revoked consent stops referrals everywhere).
  void announce(const std::string& type, nlohmann::json payload);
  // The audit entry of this change, written in the same transaction.
  void audit(std::string action, std::string object_type, std::string object_id,
             std::string case_id = "");

  const std::vector<sdk::Event>& events() const { return events_; }
  bool audited() const { return audited_; }
  // The plugins' decisions (supervision rules, referral routers) for this change to ask.
  const events::EventBus& bus() const { return bus_; }

 private:
  events::EventBus& bus_;
  std::vector<sdk::Event> events_;
  bool audited_ = false;
};

class Transactions {
 public:
  Transactions(store::Store& store, events::EventBus& events, Env& env)
      : store_(store), events_(events), env_(env) {}

  // The write path: `work(Change&) -> Reply` runs in the writer's transaction; a Problem it
  // fails with rolls everything back; a change that leaves no audit entry is a bug and fails
  // (500) instead of committing; its events are published after the commit only (see
  // Store::after_commit).
  template <class Work>
  Result<Reply> write(const Context& ctx, Work&& work) {
    std::vector<sdk::Event> published;
    try {
      Reply reply = store_.write([&](store::Connection& db) {
        Change change(db, ctx, env_, events_);
        Reply result = work(change);
        require_audited(change);
        published = change.events();
        return result;
      });
      // After the commit only: at once here, or, when the writer runs the whole request in its
      // batch (store::Store::write_then), once that batch committed.
      if (!published.empty()) {
        store_.after_commit([&events = events_, published = std::move(published)] {
          for (const auto& event : published)
            events.publish(event);
        });
      }
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
    return read_audited(ctx, std::forward<Work>(work), /*bulk=*/false);
  }
  // read() over much of the database (reports): see store::Store::read_bulk.
  template <class Work>
  Result<Reply> read_bulk(const Context& ctx, Work&& work) {
    return read_audited(ctx, std::forward<Work>(work), /*bulk=*/true);
  }

  Env& env() { return env_; }

 private:
  static void require_audited(const Change& change);

  template <class Work>
  Result<Reply> read_audited(const Context& ctx, Work&& work, bool bulk) {
    std::vector<audit::Entry> entries;
    Reply reply;
    try {
      const auto run = [&](store::Connection& db) { return work(db, entries); };
      reply = bulk ? store_.read_bulk(run) : store_.read(run);
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

  store::Store& store_;
  events::EventBus& events_;
  Env& env_;
};

// For code outside the services (CLI, demo bookkeeping): the system Env's date, time and ids.
std::string new_id(const char* prefix);

}  // namespace kim::domain
