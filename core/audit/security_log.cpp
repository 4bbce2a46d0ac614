#include "audit/security_log.hpp"

#include <algorithm>
#include <atomic>
#include <iterator>

namespace kim::audit {

namespace {

std::atomic<SecurityLog*> g_log{nullptr};

Entry suppressed_entry(std::int64_t count) {
  return {"suppressed", "refusal", std::to_string(count), ""};
}

}  // namespace

SecurityLog::SecurityLog(store::Store& store) : store_(store) {
  g_log.store(this);
}

SecurityLog::~SecurityLog() {
  SecurityLog* self = this;
  g_log.compare_exchange_strong(self, nullptr);
}

namespace {

// Whether a note is the flushing caller's: the same user, role and organisation.
bool same_caller(const sdk::Principal& a, const sdk::Principal& b) {
  return a.user_id == b.user_id && a.role == b.role && a.organisation_id == b.organisation_id;
}

}  // namespace

void SecurityLog::note(const Actor& actor, const std::string& object_type,
                       const std::string& object_id, const std::string& case_id) {
  SecurityLog* log = g_log.load();
  if (log == nullptr) return;
  log->add({actor,
            {"refused", object_type, object_id.substr(0, kMaxObjectId),
             case_id.substr(0, kMaxObjectId)}});
}

void SecurityLog::add(Noted noted) {
  std::lock_guard lock(mutex_);
  if (pending_count_ >= kMaxPending) {
    // Requests that were never flushed (not served by the host): count, do not grow.
    auto& window = windows_[noted.actor.principal.user_id];
    if (window.start == Clock::time_point{}) window.start = Clock::now();
    window.suppressed += 1;
    window.actor = std::move(noted.actor);
    settle();
    return;
  }
  pending_[noted.actor.request_id].push_back(std::move(noted));
  ++pending_count_;
  settle();
}

void SecurityLog::take_ended(Clock::time_point now, bool all, std::vector<Batch>& out) {
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (!all && now - it->second.start < std::chrono::minutes(1)) {
      ++it;
      continue;
    }
    if (it->second.suppressed > 0) {
      out.push_back(
          {it->second.actor, {suppressed_entry(it->second.suppressed)}, it->second.route});
    }
    it = windows_.erase(it);
  }
}

void SecurityLog::flush(const std::string& request_id, const sdk::Principal* principal,
                        const std::string& route) {
  std::vector<Batch> batches;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    auto found = pending_.find(request_id);
    // Most requests are refused nothing and no minute has ended: nothing to do.
    if (found == pending_.end() && windows_.empty()) return;
    take_ended(now, false, batches);
    if (found != pending_.end()) {
      auto& notes = found->second;
      // The caller's own notes; a request without a principal (refused before it had one, as a
      // partner's report with a bad signature) takes every note of its id.
      const auto others = std::stable_partition(notes.begin(), notes.end(), [&](const Noted& n) {
        return principal == nullptr || same_caller(n.actor.principal, *principal);
      });
      std::vector<Batch> taken;  // one per caller: each entry is written as its own caller's
      for (auto it = notes.begin(); it != others; ++it) {
        auto& noted = *it;
        auto [window, is_new] = windows_.try_emplace(noted.actor.principal.user_id);
        if (is_new) window->second.start = now;
        if (window->second.recorded < kPerMinute) {
          ++window->second.recorded;
          auto batch = std::find_if(taken.begin(), taken.end(), [&](const Batch& b) {
            return same_caller(b.actor.principal, noted.actor.principal);
          });
          if (batch == taken.end()) batch = taken.insert(taken.end(), {noted.actor, {}, route});
          batch->entries.push_back(std::move(noted.entry));
        } else {
          ++window->second.suppressed;
          window->second.actor = noted.actor;
          window->second.route = route;
        }
      }
      pending_count_ -= static_cast<std::size_t>(others - notes.begin());
      notes.erase(notes.begin(), others);
      if (notes.empty()) pending_.erase(found);
      std::move(taken.begin(), taken.end(), std::back_inserter(batches));
    }
    settle();
  }
  write(std::move(batches));
}

void SecurityLog::close() {
  std::vector<Batch> batches;
  {
    std::lock_guard lock(mutex_);
    take_ended(Clock::now(), true, batches);
    settle();
  }
  write(std::move(batches));
}

void SecurityLog::write(std::vector<Batch> batches) {
  if (batches.empty()) return;
  store_.write_deferred([batches = std::move(batches)](store::Connection& db) {
    for (const auto& batch : batches)
      append_all(db, batch.actor, batch.entries, Kind::kSecurity, batch.route);
  });
}

}  // namespace kim::audit
