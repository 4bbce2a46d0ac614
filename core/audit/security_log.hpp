// Refused accesses as security events in the audit trail: a case or person the caller may not
// see (404), a change they may only read (403), a route their role may not use (403). Visible to
// auditors in GET /api/v1/audit (kind=security), never to the caller, whose answer is unchanged.
//
// A refusal is usually found inside a transaction that rolls back (on the writer thread for
// writes), so it is only noted there (note()); the host writes the request's notes after its
// handler returned, as a separate deferred write that the answer waits for (flush()).
//
// Bounded: at most kPerMinute entries per principal and minute; further refusals in that minute
// are counted and written as one entry (action "suppressed", object_id = the count) when the
// principal's next refusal comes after the minute, at the next flush after it, or at close().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "store/store.hpp"

namespace kim::audit {

// Security entries per principal and minute before the rest is only counted.
inline constexpr int kSecurityEntriesPerMinute = 20;

class SecurityLog {
 public:
  static constexpr int kPerMinute = kSecurityEntriesPerMinute;
  static constexpr std::size_t kMaxPending = 10000;  // notes of requests never flushed
  static constexpr std::size_t kMaxObjectId = 100;   // probed ids are the caller's input

  // Becomes the log that note() feeds (one per process: the serving host's).
  explicit SecurityLog(store::Store& store);
  ~SecurityLog();
  SecurityLog(const SecurityLog&) = delete;
  SecurityLog& operator=(const SecurityLog&) = delete;

  // Notes a refused access of the actor's request; any thread, never writes. Without a log
  // (CLI, demo seed) it does nothing.
  static void note(const Actor& actor, const std::string& object_type, const std::string& object_id,
                   const std::string& case_id = {});

  // Writes what was noted for `request_id` by `principal` (and counts of suppressed refusals
  // whose minute ended) with Store::write_deferred: under a store::DeferredWrites the answer
  // waits for it. The id may be the client's own (X-Request-Id), so two callers may send the same
  // one at once: a flush takes only its principal's notes, and every entry is written as the
  // caller that was refused, never as another. Without a principal (a request refused before it
  // had one, noted under the actor it claimed) it takes every note of the id.
  void flush(const std::string& request_id, const sdk::Principal* principal,
             const std::string& route);
  // Nothing noted and no minute open: flush() would do nothing, so the request path can skip it
  // (and building its route) without taking the lock.
  bool idle() const { return idle_.load(std::memory_order_acquire); }
  // Writes the counts still open; call before the store closes.
  void close();

 private:
  using Clock = std::chrono::steady_clock;
  struct Noted {
    Actor actor;
    Entry entry;
  };
  struct Window {
    Clock::time_point start;
    int recorded = 0;
    std::int64_t suppressed = 0;
    Actor actor;  // the last suppressed request's, for the count's entry
    std::string route;
  };
  struct Batch {
    Actor actor;
    std::vector<Entry> entries;
    std::string route;
  };

  void add(Noted noted);
  // Moves the counts of windows that ended (all with `all`) into `out`; mutex_ held.
  void take_ended(Clock::time_point now, bool all, std::vector<Batch>& out);
  void write(std::vector<Batch> batches);
  // After every change of pending_ or windows_; mutex_ held.
  void settle() { idle_.store(pending_.empty() && windows_.empty(), std::memory_order_release); }

  store::Store& store_;
  std::mutex mutex_;
  std::map<std::string, std::vector<Noted>> pending_;  // by request id
  std::size_t pending_count_ = 0;
  std::map<std::int64_t, Window> windows_;  // by user id
  std::atomic<bool> idle_{true};
};

}  // namespace kim::audit
