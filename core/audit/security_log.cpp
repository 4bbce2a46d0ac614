#include "audit/security_log.hpp"

#include <atomic>

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

// Who asked, as far as the trail tells callers apart: user, role and organisation.
std::string pending_key(const std::string& request_id, const sdk::Principal& principal) {
  return request_id + '\n' + std::to_string(principal.user_id) + '\n' + principal.role + '\n' +
         std::to_string(principal.organisation_id);
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
  pending_[pending_key(noted.actor.request_id, noted.actor.principal)].push_back(std::move(noted));
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
    auto found = principal ? pending_.find(pending_key(request_id, *principal)) : pending_.end();
    // Most requests are refused nothing and no minute has ended: nothing to do.
    if (found == pending_.end() && windows_.empty()) return;
    take_ended(now, false, batches);
    if (found != pending_.end()) {
      Batch batch;
      for (auto& noted : found->second) {
        auto [window, is_new] = windows_.try_emplace(noted.actor.principal.user_id);
        if (is_new) window->second.start = now;
        if (window->second.recorded < kPerMinute) {
          ++window->second.recorded;
          batch.actor = noted.actor;
          batch.entries.push_back(std::move(noted.entry));
        } else {
          ++window->second.suppressed;
          window->second.actor = noted.actor;
          window->second.route = route;
        }
      }
      pending_count_ -= found->second.size();
      pending_.erase(found);
      if (!batch.entries.empty()) {
        batch.route = route;
        batches.push_back(std::move(batch));
      }
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
